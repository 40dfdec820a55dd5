//! Presence between two simulated user agents, peer to peer (B serves its own presence): A
//! watches B through 10 % loss for twenty minutes of virtual time with a two-minute
//! subscription, so that the subscription is refreshed again and again; every status B sets
//! reaches A, and the subscription never fails or lapses. (This test found our NOTIFYs
//! carrying Max-Forwards twice, which sipp had not minded.)

use super::*;
use softphone::model::PresenceStatus;
use softphone::sip::ua::WatcherPolicy;

fn statuses(events: &[UaEvent]) -> Vec<PresenceStatus> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Presence { user, status, .. } if user == "bob" => Some(*status),
            _ => None,
        })
        .collect()
}

#[test]
fn a_watched_status_follows_every_change_through_loss_and_refreshes() {
    let mut w = World::new(90);
    w.loss = 0.1;
    w.a = ua_with(A, B, "alice", 181, |c| c.presence_expires = 120);
    w.b = ua_with(B, A, "bob", 182, |c| {
        c.watcher_policy = WatcherPolicy::Everyone;
        c.presence_expires = 120;
    });
    w.a.watch_presence(w.now, &["bob".to_string()])
        .expect("watch");
    assert!(w.run(30, |w| statuses(&w.a_events).last()
        == Some(&PresenceStatus::Online)));
    w.b.set_presence(w.now, PresenceStatus::Away);
    assert!(w.run(30, |w| statuses(&w.a_events).last()
        == Some(&PresenceStatus::Away)));
    // Twenty minutes: the two-minute subscription is refreshed about ten times.
    let subscribes_before = w.count_sent(A, "SUBSCRIBE");
    assert!(!w.run(1200, |w| {
        w.a_events
            .iter()
            .any(|e| matches!(e, UaEvent::Subscription { .. }))
    }));
    let refreshes = w.count_sent(A, "SUBSCRIBE") - subscribes_before;
    assert!(refreshes >= 9, "only {refreshes} SUBSCRIBEs in 20 minutes");
    // Still alive: the next change arrives.
    w.b.set_presence(w.now, PresenceStatus::Dnd);
    assert!(w.run(30, |w| statuses(&w.a_events).last()
        == Some(&PresenceStatus::Dnd)));
    // Negative control: a watcher B refuses hears nothing and is told why.
    let mut w = World::new(91);
    w.b = ua_with(B, A, "bob", 183, |c| {
        c.watcher_policy = WatcherPolicy::Refuse
    });
    w.a.watch_presence(w.now, &["bob".to_string()])
        .expect("watch");
    assert!(w.run(30, |w| {
        w.a_events
            .iter()
            .any(|e| matches!(e, UaEvent::Subscription { .. }))
    }));
    assert!(statuses(&w.a_events).is_empty());
}
