//! The window as a person uses it, through egui_kittest (controls found by their labels, as a
//! screen reader sees them): first over a hand-fed engine link (what each click sends, what
//! each event shows), then over the real engine on the loopback with Kamailio and baresip.

use crate::peers::{Baresip, Kamailio, KamailioOptions, speech};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use softphone::engine::CommandSender;
use softphone::gui::{EngineLink, SoftphoneApp};
use softphone::model::{
    CallDirection, CallState, Command, ConferenceOp, Event, MuteDirection, ParamValue,
    RecordingState, Registration, TransferRole, TransferState, TransferStep,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The registry's defaults with `overrides`, as the window receives them.
pub fn params(overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut p: BTreeMap<String, String> = softphone::config::Settings::default()
        .effective()
        .into_iter()
        .map(|(k, v, _)| (k.to_string(), v))
        .collect();
    for (k, v) in overrides {
        p.insert(k.to_string(), v.to_string());
    }
    p
}

/// A window over channels the test holds: it feeds events and reads the commands.
pub struct Fed {
    pub harness: Harness<'static, SoftphoneApp>,
    events: std::sync::mpsc::Sender<Event>,
    commands: mpsc::UnboundedReceiver<softphone::model::Request>,
}

impl Fed {
    pub fn new(overrides: &[(&str, &str)]) -> Fed {
        let (cmd_tx, commands) = CommandSender::channel();
        let (events, ev_rx) = std::sync::mpsc::channel();
        let link = EngineLink {
            commands: cmd_tx,
            events: ev_rx,
        };
        let app = SoftphoneApp::new(link, params(overrides), Vec::new(), None, None);
        let harness = Harness::builder()
            .with_size(egui::vec2(420.0, 640.0))
            .with_max_steps(64)
            .with_context_setup(softphone::gui::install_fonts)
            .build_ui_state(|ui, app: &mut SoftphoneApp| app.draw(ui), app);
        Fed {
            harness,
            events,
            commands,
        }
    }

    pub fn feed(&mut self, ev: Event) {
        self.events.send(ev).expect("window gone");
        self.harness.run();
    }

    /// The requests sent since the last look, with their ids.
    pub fn sent_requests(&mut self) -> Vec<softphone::model::Request> {
        let mut out = Vec::new();
        while let Ok(r) = self.commands.try_recv() {
            out.push(r);
        }
        out
    }

    pub fn sent(&mut self) -> Vec<Command> {
        let mut out = Vec::new();
        while let Ok(r) = self.commands.try_recv() {
            out.push(r.command);
        }
        out
    }
}

/// Focuses the text field labelled `label` and types `text` into it.
pub fn type_into(h: &mut Harness<'static, SoftphoneApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.run();
    h.get_by_label(label).type_text(text);
    h.run();
}

/// A line's call in `state`, as the engine reports it.
fn call(line: u32, state: CallState, incoming: bool, peer: &str, display: &str) -> Event {
    Event::Call {
        line,
        state,
        direction: if incoming {
            CallDirection::Incoming
        } else {
            CallDirection::Outgoing
        },
        peer: peer.into(),
        peer_display: display.into(),
        peer_uri: format!("sip:{peer}@pbx"),
        call_id: format!("c{line}"),
        reason: String::new(),
        ended_by_us: false,
        answered_at_ms: (state == CallState::Connected).then_some(0),
    }
}

#[test]
fn dialling_answering_and_the_call_controls() {
    let mut w = Fed::new(&[]);
    w.harness.run();
    // A pasted number loses its spaces and dashes; Call dials it.
    type_into(&mut w.harness, "Number to call", "06 30-123 45 67");
    w.harness.get_by_label("Call").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::Call {
            number: "06301234567".into()
        }]
    );
    // The dial pad types digits while no call is up.
    w.harness.get_by_label("Delete").click();
    w.harness.run();
    w.harness.get_by_label("5").click();
    w.harness.run();
    w.feed(Event::Registration(Registration::Registered {
        expires_s: 600,
    }));
    assert!(w.harness.query_by_label("Registered").is_some());
    // An incoming call: the popup names the caller; Accept answers that line.
    w.feed(call(2, CallState::Incoming, true, "1002", "Alice"));
    assert!(w.harness.query_by_label("Incoming call").is_some());
    assert!(w.harness.query_by_label("Alice (1002)").is_some());
    w.harness.get_by_label("Accept").click();
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::Accept { line: 2 }]);
    w.feed(call(2, CallState::Connected, true, "1002", "Alice"));
    assert!(w.harness.query_by_label("Incoming call").is_none());
    assert!(
        w.harness
            .query_by_label_contains("In call with Alice (1002)")
            .is_some()
    );
    // In a call: hold, mute, and the keypad sends DTMF.
    w.harness.get_by_label("Hold").click();
    w.harness.run();
    w.harness.get_by_label("Mute").click();
    w.harness.run();
    w.harness.get_by_label("Keypad").click();
    w.harness.run();
    w.harness.get_by_label("#").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![
            Command::Hold { line: 2, on: true },
            Command::Mute {
                line: 2,
                on: true,
                direction: MuteDirection::Default
            },
            Command::Dtmf {
                line: 2,
                digits: "#".into()
            }
        ]
    );
    w.feed(Event::Hold {
        line: 2,
        local: true,
        remote: false,
    });
    assert!(w.harness.query_by_label("Resume").is_some());
    // Escape hangs up the active line.
    w.harness.key_press(egui::Key::Escape);
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::Hangup { line: 2 }]);
    w.feed(call(2, CallState::Terminated, true, "1002", "Alice"));
    assert!(w.harness.query_by_label("Hang up").is_some());
    assert!(w.harness.query_by_label("Hold").is_none());
}

#[test]
fn lines_switch_and_hidden_controls_stay_hidden() {
    let mut w = Fed::new(&[
        ("maxlines", "3"),
        ("hashold", "false"),
        ("hasredial", "false"),
    ]);
    w.feed(call(1, CallState::Connected, false, "1002", ""));
    w.feed(call(2, CallState::Connected, false, "1003", ""));
    assert!(w.harness.query_by_label_contains("Line 3 (free)").is_some());
    assert!(w.harness.query_by_label("Hold").is_none(), "hashold=false");
    assert!(
        w.harness.query_by_label("Redial").is_none(),
        "hasredial=false"
    );
    w.harness
        .get_by_label_contains("Line 2: In call with 1003")
        .click();
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::SetLine { line: 2 }]);
}

#[test]
fn transfer_blind_or_by_connecting_the_two_calls() {
    let mut w = Fed::new(&[]);
    w.feed(call(1, CallState::Connected, false, "1002", ""));
    // One call: the transfer row offers a target only.
    w.harness.get_by_label("Transfer").click();
    w.harness.run();
    assert!(w.harness.query_by_label("Connect the calls").is_none());
    type_into(&mut w.harness, "Transfer to", "1003");
    w.harness.get_by_label("Blind transfer").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::Transfer {
            line: 1,
            target: "1003".into()
        }]
    );
    w.feed(Event::Transfer {
        line: 1,
        step: TransferStep {
            role: TransferRole::Transferor,
            target: "1003".into(),
            state: TransferState::Failed,
            code: Some(486),
            reason: "486 Busy Here".into(),
        },
    });
    assert!(
        w.harness
            .query_by_label("Transfer to 1003 failed: 486 Busy Here")
            .is_some()
    );
    // A second call up: Connect the calls transfers the active line to it (empty target).
    w.feed(call(2, CallState::Connected, false, "1004", ""));
    w.harness.get_by_label("Transfer").click();
    w.harness.run();
    w.harness.get_by_label("Connect the calls").click();
    w.harness.run();
    let sent = w.sent();
    assert!(
        matches!(sent.as_slice(), [Command::Transfer { target, .. }] if target.is_empty()),
        "{sent:?}"
    );
}

#[test]
fn a_ringing_call_is_forwarded_from_the_popup() {
    let mut w = Fed::new(&[]);
    w.feed(call(1, CallState::Incoming, true, "1002", "Alice"));
    assert!(w.harness.query_by_label("Forward to").is_none());
    // Who passed the call on to us is shown with the caller.
    w.feed(Event::CallDiverted {
        line: 1,
        from: "1005".into(),
        reason: softphone::model::DiversionReason::NoAnswer,
    });
    assert!(
        w.harness
            .query_by_label("Forwarded by 1005: no answer")
            .is_some()
    );
    w.harness.get_by_label("Forward").click();
    w.harness.run();
    type_into(&mut w.harness, "Forward to", "1004");
    w.harness.get_by_label("Forward the call").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::Forward {
            line: 1,
            target: "1004".into()
        }]
    );
    // The row closes once the call is sent on.
    assert!(w.harness.query_by_label("Forward to").is_none());
}

#[test]
fn park_retrieve_and_pickup_appear_with_their_codes() {
    let mut w = Fed::new(&[]);
    w.harness.run();
    assert!(w.harness.query_by_label("Pick up").is_none());
    assert!(w.harness.query_by_label("Park").is_none());
    for (name, value) in [("pickupcode", "*8"), ("parkcode", "*59")] {
        w.feed(Event::Parameter {
            name: name.into(),
            value: value.into(),
            source: softphone::model::Source::Runtime,
        });
    }
    // Nothing typed: the group pickup.
    w.harness.get_by_label("Pick up").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::Pickup {
            extension: String::new()
        }]
    );
    // The orbit typed is retrieved.
    type_into(&mut w.harness, "Number to call", "5");
    w.harness.get_by_label("Retrieve parked").click();
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::Unpark { orbit: "5".into() }]);
    // In a call, Park parks it.
    w.feed(call(1, CallState::Connected, false, "1002", ""));
    w.harness.get_by_label("Park").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::Park {
            line: 1,
            orbit: String::new()
        }]
    );
}

#[test]
fn the_do_not_disturb_toggle_keeps_the_setting() {
    let mut w = Fed::new(&[]);
    w.harness.run();
    w.harness.get_by_label("Do not disturb").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::SetParameters {
            values: vec![ParamValue::new("dnd", "true")],
            persist: true
        }]
    );
    // The engine reports the new value; the toggle then turns it off again.
    w.feed(Event::Parameter {
        name: "dnd".into(),
        value: "true".into(),
        source: softphone::model::Source::Runtime,
    });
    w.harness.get_by_label("Do not disturb").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::SetParameters {
            values: vec![ParamValue::new("dnd", "false")],
            persist: true
        }]
    );
}

#[test]
fn compact_mode_and_languages() {
    let mut w = Fed::new(&[("compact", "true"), ("callto", "1002")]);
    w.harness.run();
    assert!(w.harness.query_by_label("Number to call").is_none());
    assert!(w.harness.query_by_label("History").is_none());
    w.harness.get_by_label("Call").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::Call {
            number: "1002".into()
        }]
    );
    // The language follows its parameter at once, whoever changed it.
    let mut w = Fed::new(&[]);
    for (lang, call, tab) in [
        ("de", "Anrufen", "Einstellungen"),
        ("ru", "Позвонить", "Настройки"),
        ("ja", "発信", "設定"),
        ("en", "Call", "Settings"),
    ] {
        w.feed(Event::Parameter {
            name: "language".into(),
            value: lang.into(),
            source: softphone::config::Source::Runtime,
        });
        assert!(w.harness.query_by_label(call).is_some(), "{lang}: {call}");
        assert!(w.harness.query_by_label(tab).is_some(), "{lang}: {tab}");
    }
    // The settings screen's language picker sends the change to the engine to keep.
    w.harness.get_by_label("Settings").click();
    w.harness.run();
    w.harness.get_by_label("Language").click();
    w.harness.run();
    w.harness.get_by_label("Magyar").click();
    w.harness.run();
    assert!(w.sent().contains(&Command::SetParameters {
        values: vec![ParamValue::new("language", "hu")],
        persist: true
    }));
}

#[test]
fn settings_are_checked_before_they_are_saved() {
    let mut w = Fed::new(&[]);
    w.harness.get_by_label("Settings").click();
    w.harness.run();
    w.harness.get_by_label("Calls").click();
    w.harness.run();
    type_into(&mut w.harness, "ringtimeout", "x");
    assert!(
        w.harness
            .query_by_label_contains("is not a whole number from 0 to 3600000")
            .is_some()
    );
    w.harness.get_by_label("Save").click();
    w.harness.run();
    assert!(
        w.harness
            .query_by_label_contains("Not saved: ringtimeout")
            .is_some()
    );
    assert!(w.sent().is_empty());
    w.harness.get_by_label("ringtimeout").focus();
    w.harness.run();
    w.harness.key_press(egui::Key::End);
    w.harness.key_press(egui::Key::Backspace);
    w.harness.run();
    w.harness.get_by_label("ringtimeout").type_text("0");
    w.harness.run();
    w.harness.get_by_label("Save").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::SetParameters {
            values: vec![ParamValue::new("ringtimeout", "900000")],
            persist: true
        }]
    );
}

#[test]
fn the_audio_screen_meters_the_microphone_and_plays_a_test_sound() {
    let mut w = Fed::new(&[]);
    w.harness.get_by_label("Audio").click();
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::InputLevel { on: true }]);
    w.feed(Event::InputLevel { level: 73 });
    assert!(w.harness.query_by_label_contains("73 %").is_some());
    assert!(
        w.harness.state().state.log.is_empty(),
        "meter readings stay out of the log"
    );
    w.harness.get_by_label("Play a test sound").click();
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::TestSound]);
    w.harness.get_by_label("Phone").click();
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::InputLevel { on: false }]);
}

/// Tab walks through the controls: the account, the number, the pad, Call, the lines.
#[test]
fn every_control_is_reachable_by_keyboard() {
    let mut w = Fed::new(&[]);
    w.harness.run();
    let mut reached = Vec::new();
    for _ in 0..60 {
        w.harness.key_press(egui::Key::Tab);
        w.harness.run();
        let focused = w
            .harness
            .query_all(egui_kittest::kittest::By::new().predicate(|n| n.is_focused()))
            .filter_map(|n| n.accesskit_node().label())
            .collect::<Vec<_>>();
        reached.extend(focused);
    }
    for label in [
        "Connect",
        "Server",
        "Number to call",
        "5",
        "#",
        "Call",
        "Line 2 (free)",
        "Settings",
    ] {
        assert!(
            reached.iter().any(|r| r == label),
            "{label} never took the focus: {reached:?}"
        );
    }
}

/// Steps the window until `pred` holds (the engine works in real time).
fn run_until(
    h: &mut Harness<'static, SoftphoneApp>,
    limit: Duration,
    what: &str,
    pred: impl Fn(&Harness<'static, SoftphoneApp>) -> bool,
) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        h.run();
        if pred(h) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "the window never showed {what}; log:\n{}",
        h.state()
            .state
            .log
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_window_calls_and_answers_through_kamailio_and_baresip() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, theirs) = speech(work.path(), "theirs", "Hello from baresip.", 3);
    let bs = Baresip::start(&kam, "1002", &theirs, "PCMU");
    let port = crate::peers::free_port();
    let mut settings = softphone::config::Settings::default();
    for (k, v) in [
        ("serveraddress", kam.addr()),
        ("username", "1001".into()),
        ("password", "pw1001".into()),
        ("signalingport", port.to_string()),
        ("recorddevice", "null".into()),
        ("playbackdevice", "null".into()),
        ("ringerdevice", "null".into()),
    ] {
        settings.set(k, &v).expect("setting");
    }
    let p = settings
        .effective()
        .into_iter()
        .map(|(k, v, _)| (k.to_string(), v))
        .collect();
    let repaint = std::sync::Arc::new(std::sync::OnceLock::new());
    let (link, engine) =
        softphone::gui::spawn_engine(settings, None, repaint, |_| Default::default())
            .expect("engine");
    let app = SoftphoneApp::new(link, p, Vec::new(), None, None);
    let mut h = Harness::builder()
        .with_size(egui::vec2(420.0, 640.0))
        .with_max_steps(64)
        .with_context_setup(softphone::gui::install_fonts)
        .build_ui_state(|ui, app: &mut SoftphoneApp| app.draw(ui), app);
    let t = Duration::from_secs(20);
    run_until(&mut h, t, "Registered", |h| {
        h.query_by_label("Registered").is_some()
    });
    // Outgoing: type the number, click Call; baresip answers by itself.
    type_into(&mut h, "Number to call", "1002");
    h.get_by_label("Call").click();
    run_until(&mut h, t, "the call up", |h| {
        h.query_by_label_contains("In call with 1002").is_some()
    });
    h.get_by_label("Hang up").click();
    run_until(&mut h, t, "the line free again", |h| {
        h.query_by_label_contains("Line 1 (free)").is_some()
    });
    // The call is in the history.
    h.get_by_label("History").click();
    run_until(&mut h, t, "the call in the history", |h| {
        h.query_by_label("Outgoing").is_some()
    });
    h.get_by_label("Phone").click();
    h.run();
    // Incoming: baresip calls us; the popup answers it.
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    run_until(&mut h, t, "the incoming popup", |h| {
        h.query_by_label("Incoming call").is_some()
    });
    h.get_by_label("Accept").click();
    run_until(&mut h, t, "the answered call", |h| {
        h.query_by_label_contains("In call with 1002").is_some()
    });
    h.key_press(egui::Key::Escape);
    run_until(&mut h, t, "the hung-up call", |h| {
        h.query_by_label_contains("Line 1 (free)").is_some()
    });
    // A language switch goes through the engine and comes back as its parameter event.
    h.get_by_label("Settings").click();
    h.run();
    h.get_by_label("Language").click();
    h.run();
    h.get_by_label("Deutsch").click();
    run_until(&mut h, t, "the German labels", |h| {
        h.query_by_label("Telefon").is_some() && h.query_by_label("Einstellungen").is_some()
    });
    h.state().send(Command::Exit);
    let _ = engine.join();
    h.run();
    let log: Vec<String> = h.state().state.log.iter().cloned().collect();
    eprintln!("{}", log.join("\n"));
    // Both calls went through the engine and ended there.
    assert_eq!(
        log.iter().filter(|l| l.starts_with("CDR,1,1002,")).count(),
        2,
        "{log:?}"
    );
}

/// The voicemail button: absent with no box to call and no word from the server, then it
/// shows the new messages the server reports and calls the box.
#[test]
fn the_voicemail_button_shows_new_messages_and_calls_the_box() {
    let mut w = Fed::new(&[]);
    w.harness.run();
    assert!(w.harness.query_by_label("Voicemail").is_none());
    w.feed(Event::Voicemail(softphone::model::MessageWaiting {
        waiting: true,
        new: 2,
        old: 8,
        urgent_new: 0,
        urgent_old: 0,
    }));
    w.harness.get_by_label("Voicemail (2 new)").click();
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::CheckVoicemail]);
    // Emptied: the button stays for the configured box, without a count.
    let mut w = Fed::new(&[("voicemailnum", "*97")]);
    w.feed(Event::Voicemail(softphone::model::MessageWaiting::default()));
    w.harness.get_by_label("Voicemail").click();
    w.harness.run();
    assert_eq!(w.sent(), vec![Command::CheckVoicemail]);
}

/// The conference row and the Record button: what each click sends, what each event shows.
#[test]
fn conference_and_recording_from_the_window() {
    let mut w = Fed::new(&[]);
    w.feed(call(1, CallState::Connected, false, "1002", ""));
    // One call: nothing to merge yet; it can be recorded.
    assert!(w.harness.query_by_label("Conference").is_none());
    w.harness.get_by_label("Record").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::Record {
            line: 1,
            on: true,
            name: String::new()
        }]
    );
    w.feed(Event::Recording {
        line: 1,
        state: RecordingState::Started {
            path: "/tmp/rec/20261207120000_1002.wav".into(),
        },
    });
    assert!(w.harness.query_by_label("Recording").is_some());
    w.harness.get_by_label("Stop recording").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::Record {
            line: 1,
            on: false,
            name: String::new()
        }]
    );
    // A second answered call: Conference merges them.
    w.feed(call(2, CallState::Connected, false, "1003", ""));
    w.harness.get_by_label("Conference").click();
    w.harness.run();
    let merge = |op| Command::Conference { op };
    assert_eq!(w.sent(), vec![merge(ConferenceOp::Merge)]);
    w.feed(Event::Conference { lines: vec![1, 2] });
    assert!(
        w.harness
            .query_by_label("Conference: you and 2 others")
            .is_some()
    );
    assert!(
        w.harness.query_by_label("Conference").is_none(),
        "all merged"
    );
    assert_eq!(w.harness.query_all_by_label("Remove").count(), 2);
    // A number typed while the conference runs can be called into it.
    type_into(&mut w.harness, "Number to call", "1004");
    w.harness.get_by_label("Add 1004 to the conference").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![merge(ConferenceOp::Add {
            number: "1004".into()
        })]
    );
    w.harness.get_by_label("Hold conference").click();
    w.harness.run();
    w.harness.get_by_label("Split").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![
            merge(ConferenceOp::Hold { on: true }),
            merge(ConferenceOp::Split)
        ]
    );
    // The participants' Remove takes one out; the conference hidden, the row goes.
    w.harness
        .query_all_by_label("Remove")
        .last()
        .unwrap()
        .click();
    w.harness.run();
    assert_eq!(w.sent(), vec![merge(ConferenceOp::Remove { line: 2 })]);
    w.feed(Event::Conference { lines: vec![] });
    assert!(w.harness.query_by_label("Remove").is_none());
    let mut hidden = Fed::new(&[("hasconference", "false")]);
    hidden.feed(call(1, CallState::Connected, false, "1002", ""));
    hidden.feed(call(2, CallState::Connected, false, "1003", ""));
    assert!(hidden.harness.query_by_label("Conference").is_none());
}
