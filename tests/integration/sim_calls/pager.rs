//! Instant messages between two simulated user agents: delivered through 30 % loss (the
//! MESSAGE is retransmitted until its 200), refused from a blacklisted sender, and a
//! MESSAGE nobody answers reported as failed after Timer F.

use super::*;

fn received(events: &[UaEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::MessageReceived { from, text, .. } => Some(format!("{from}: {text}")),
            _ => None,
        })
        .collect()
}

fn delivery(events: &[UaEvent]) -> Option<(u64, bool, u16)> {
    events.iter().find_map(|e| match e {
        UaEvent::MessageDelivery {
            tag,
            delivered,
            code,
            ..
        } => Some((*tag, *delivered, *code)),
        _ => None,
    })
}

#[test]
fn a_message_is_delivered_once_through_loss() {
    let mut w = World::new(80);
    w.loss = 0.3;
    w.a.send_message(w.now, 7, "bob", "ready when you are, Bob")
        .expect("send");
    assert!(w.run(40, |w| delivery(&w.a_events).is_some()));
    assert_eq!(delivery(&w.a_events), Some((7, true, 200)));
    // Retransmissions are absorbed by B's server transaction: shown once.
    assert_eq!(
        received(&w.b_events),
        vec!["alice: ready when you are, Bob"]
    );
}

#[test]
fn a_blacklisted_sender_gets_603_and_nothing_is_shown() {
    let mut w = World::new(81);
    w.b = ua_with(B, A, "bob", 163, |c| {
        c.incoming.blacklist = vec!["alice".into()]
    });
    w.a.send_message(w.now, 8, "bob", "buy now").expect("send");
    assert!(w.run(10, |w| delivery(&w.a_events).is_some()));
    assert_eq!(delivery(&w.a_events), Some((8, false, 603)));
    assert!(received(&w.b_events).is_empty());
}

#[test]
fn a_message_nobody_answers_fails_after_timer_f() {
    let mut w = World::new(82);
    w.drop_always = Some("MESSAGE");
    w.a.send_message(w.now, 9, "bob", "hello?").expect("send");
    assert!(!w.run(30, |w| delivery(&w.a_events).is_some()));
    assert!(w.run(5, |w| delivery(&w.a_events).is_some()));
    assert_eq!(delivery(&w.a_events), Some((9, false, 0)));
    // Empty and oversized texts are refused before anything is sent.
    assert!(w.a.send_message(w.now, 10, "bob", "  ").is_err());
    assert!(
        w.a.send_message(w.now, 11, "bob", &"x".repeat(5000))
            .is_err()
    );
}
