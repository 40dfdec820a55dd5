//! The window's address book, presence, busy lamps and chat, through egui_kittest over a
//! hand-fed engine link: what each click sends and what each event shows.

use crate::gui::{Fed, type_into};
use egui_kittest::kittest::Queryable;
use softphone::gui::contacts::{lamp_colour, presence_colour};
use softphone::model::{
    ChatMessage, Command, Contact, Event, LampState, PresenceStatus, RequestId, Watcher,
    WatcherStatus,
};

fn book() -> Vec<Contact> {
    let mut ada = Contact::new("Ada Lovelace", "sip:1001@pbx");
    ada.id = 1;
    ada.speed_dial = "1".into();
    let mut bob = Contact::new("Bob", "1003");
    bob.id = 2;
    vec![ada, bob]
}

/// The reference's colours, and a lamp that turns red for a call.
#[test]
fn presence_and_lamp_colours_are_the_reference_s() {
    let green = egui::Color32::from_rgb(0x2e, 0xa1, 0x5f);
    let red = egui::Color32::from_rgb(0xd0, 0x3a, 0x2f);
    let orange = egui::Color32::from_rgb(0xe0, 0x8a, 0x12);
    let grey = egui::Color32::from_rgb(0x90, 0x90, 0x90);
    assert_eq!(presence_colour(PresenceStatus::Online), green);
    assert_eq!(presence_colour(PresenceStatus::Dnd), red);
    for s in [
        PresenceStatus::Away,
        PresenceStatus::Speaking,
        PresenceStatus::Pending,
    ] {
        assert_eq!(presence_colour(s), orange);
    }
    for s in [
        PresenceStatus::Offline,
        PresenceStatus::Unknown,
        PresenceStatus::Invisible,
    ] {
        assert_eq!(presence_colour(s), grey);
    }
    assert_eq!(lamp_colour(LampState::Idle), green);
    assert_eq!(lamp_colour(LampState::Ringing), orange);
    assert_eq!(lamp_colour(LampState::InCall), red);
}

/// The book arrives: its addresses are watched (presence for all with `enablepresence`, a
/// lamp for each speed-dial contact), statuses and lamps show on the rows, a ringing lamp can
/// be picked up, and contacts are searched, added and deleted.
#[test]
fn the_address_book_shows_presence_and_lamps_and_edits_contacts() {
    let mut w = Fed::new(&[("enablepresence", "true")]);
    w.harness.run();
    w.sent();
    w.feed(Event::Contacts { contacts: book() });
    assert_eq!(
        w.sent(),
        vec![
            Command::CheckPresence {
                users: vec!["sip:1001@pbx".into(), "1003".into()]
            },
            Command::WatchBusyLamps {
                users: vec!["sip:1001@pbx".into()]
            },
        ]
    );
    w.harness.get_by_label("Contacts").click();
    w.harness.run();
    w.harness.get_by_label("Ada Lovelace");
    w.feed(Event::Presence {
        user: "sip:1001@pbx".into(),
        status: PresenceStatus::Away,
        note: String::new(),
    });
    w.harness.get_by_label("Ada Lovelace (Away)");
    w.feed(Event::Presence {
        user: "1003".into(),
        status: PresenceStatus::Dnd,
        note: String::new(),
    });
    w.harness.get_by_label("Bob (Busy (DND))");
    // The lamp rings: Pick up replaces that call.
    assert!(w.harness.query_by_label("Pick up").is_none());
    w.feed(Event::BusyLamp {
        user: "sip:1001@pbx".into(),
        state: LampState::Ringing,
        pickup: true,
    });
    w.harness.get_by_label("Ringing");
    w.harness.get_by_label("Pick up").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::Pickup {
            extension: "sip:1001@pbx".into()
        }]
    );
    // Answered: the lamp turns red and there is nothing to pick up.
    w.harness.get_by_label("Contacts").click();
    w.feed(Event::BusyLamp {
        user: "sip:1001@pbx".into(),
        state: LampState::InCall,
        pickup: false,
    });
    w.harness.get_by_label("In a call");
    assert!(w.harness.query_by_label("Ringing").is_none());
    assert!(w.harness.query_by_label("Pick up").is_none());
    // Search.
    type_into(&mut w.harness, "Search", "bob");
    assert!(w.harness.query_by_label("Ada Lovelace (Away)").is_none());
    w.harness.get_by_label("Bob (Busy (DND))");
    // Add one.
    w.harness.get_by_label("Add contact").click();
    w.harness.run();
    type_into(&mut w.harness, "Name", "Carol");
    type_into(&mut w.harness, "SIP address or number", "1004");
    w.harness.get_by_label("Save contact").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::SaveContact {
            contact: Contact::new("Carol", "1004")
        }]
    );
    assert!(w.harness.query_by_label("Save contact").is_none());
    // Delete the one row shown (Bob).
    w.harness.get_by_label("Delete").click();
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::DeleteContact { key: "2".into() }]);
    // Without enablepresence nobody's presence is asked for; the lamps still are.
    let mut quiet = Fed::new(&[]);
    quiet.harness.run();
    quiet.sent();
    quiet.feed(Event::Contacts { contacts: book() });
    assert_eq!(
        quiet.sent(),
        vec![Command::WatchBusyLamps {
            users: vec!["sip:1001@pbx".into()]
        }]
    );
}

/// A message comes in (unread counts on the tab and the contact), the conversation opens
/// with its stored history, and our replies show sending, delivered and failed.
#[test]
fn a_chat_exchange_with_history_unread_counts_and_delivery_marks() {
    let mut w = Fed::new(&[]);
    w.harness.run();
    w.feed(Event::Contacts { contacts: book() });
    w.sent();
    w.feed(Event::ChatReceived {
        line: None,
        from: "1001".into(),
        display: "Ada".into(),
        text: "Szia! Kész a jelentés?".into(),
    });
    w.harness.get_by_label("Contacts").click();
    w.harness.run();
    w.harness.get_by_label("Messages (1)");
    w.harness.get_by_label("Chat (1)").click();
    w.harness.run();
    w.harness.get_by_label("Ada Lovelace (1)").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::GetChatHistory {
            peer: "1001".into()
        }]
    );
    w.harness.get_by_label("Szia! Kész a jelentés?");
    w.harness.get_by_label("Chat");
    w.feed(Event::ChatHistory {
        peer: "1001".into(),
        messages: vec![ChatMessage {
            at_ms: 1_000,
            peer: "1001".into(),
            outgoing: true,
            text: "Yesterday's note".into(),
        }],
    });
    w.harness.get_by_label("Yesterday's note (delivered)");
    type_into(&mut w.harness, "Message", "Igen, küldöm");
    w.harness.get_by_label("Send").click();
    w.harness.run();
    let sent = w.sent_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].command,
        Command::SendChat {
            peer: "1001".into(),
            text: "Igen, küldöm".into()
        }
    );
    w.harness.get_by_label("Igen, küldöm (sending)");
    let delivery =
        |request: RequestId, delivered: bool, code: u16, reason: &str| Event::ChatDelivery {
            request,
            to: "1001".into(),
            delivered,
            code: Some(code),
            reason: reason.into(),
        };
    w.feed(delivery(sent[0].id, true, 200, "OK"));
    w.harness.get_by_label("Igen, küldöm (delivered)");
    type_into(&mut w.harness, "Message", "Még egy");
    w.harness.get_by_label("Send").click();
    w.harness.run();
    let second = w.sent_requests();
    w.feed(delivery(second[0].id, false, 404, "Not Found"));
    w.harness
        .get_by_label("Még egy (not delivered: 404 Not Found)");
    // For a colleague who is offline the server keeps it: stored, not failed.
    type_into(&mut w.harness, "Message", "Holnap?");
    w.harness.get_by_label("Send").click();
    w.harness.run();
    let third = w.sent_requests();
    w.feed(delivery(
        third[0].id,
        true,
        202,
        "Accepted for later delivery",
    ));
    w.harness
        .get_by_label("Holnap? (stored by the server, delivered later)");
    // A message while the conversation is open is read at once.
    w.feed(Event::ChatReceived {
        line: None,
        from: "1001".into(),
        display: "Ada".into(),
        text: "Köszi".into(),
    });
    w.harness.get_by_label("Köszi");
    assert!(w.harness.query_by_label("Chat (1)").is_none());
}

/// Someone asks to watch us: the window asks the user and sends the answer; our own status
/// is chosen on the contacts tab.
#[test]
fn watchers_are_asked_about_and_our_status_is_set() {
    let mut w = Fed::new(&[]);
    w.harness.run();
    w.sent();
    w.feed(Event::WatcherRequest {
        watcher: "sip:1002@pbx".into(),
    });
    w.harness
        .get_by_label("sip:1002@pbx asks to see your status");
    w.harness.get_by_label("Allow").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::AllowWatcher {
            watcher: "sip:1002@pbx".into(),
            allow: true
        }]
    );
    assert!(w.harness.query_by_label("Allow").is_none());
    w.harness.get_by_label("Contacts").click();
    w.harness.run();
    w.harness.get_by_label("My status").click();
    w.harness.run();
    w.harness.get_by_label("Away").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::SetPresenceStatus {
            status: PresenceStatus::Away
        }]
    );
    // Who watches us: one at the server (decided there: no buttons), one waiting here.
    assert!(
        w.harness
            .query_by_label_contains("Who sees your status")
            .is_none()
    );
    w.feed(Event::Watchers {
        watchers: vec![
            Watcher {
                address: "sip:1002@pbx".into(),
                display: "Front desk".into(),
                status: WatcherStatus::Pending,
                at_server: true,
            },
            Watcher {
                address: "sip:1009@10.0.0.9".into(),
                display: String::new(),
                status: WatcherStatus::Pending,
                at_server: false,
            },
        ],
    });
    w.harness.get_by_label("Who sees your status (2)").click();
    w.harness.run();
    w.harness.get_by_label("Front desk <sip:1002@pbx>");
    w.harness
        .get_by_label("waiting (the server decides), through the server");
    w.harness.get_by_label("waiting for your answer, directly");
    assert_eq!(w.harness.query_all_by_label("Refuse").count(), 1);
    w.harness.get_by_label("Refuse").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::AllowWatcher {
            watcher: "sip:1009@10.0.0.9".into(),
            allow: false
        }]
    );
}
