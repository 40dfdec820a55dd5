//! Reliable provisional responses (RFC 3262) between two simulated user agents: the 180 goes
//! out reliably only when asked, is PRACKed once, resent while the PRACK is lost, and the call
//! is refused with 500 when no PRACK ever comes.

use super::*;

fn reliable_180s(w: &World) -> Vec<String> {
    w.texts
        .iter()
        .filter(|(f, t)| *f == B && t.starts_with("SIP/2.0 180"))
        .map(|(_, t)| t.clone())
        .collect()
}

fn ringing_at_a(w: &World) -> bool {
    matches!(
        World::last_state(&w.a_events),
        Some((CallState::Ringing, _))
    )
}

#[test]
fn reliable_ringing_is_pracked_once_and_then_answered() {
    let mut w = World::new(40);
    w.a = ua_with(A, B, "alice", 81, |c| c.use_100rel = true);
    w.b = ua_with(B, A, "bob", 82, |c| c.use_100rel = true);
    w.b_answers = false;
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(5, ringing_at_a));
    // Let the resend timer run: an acknowledged 180 is not sent again.
    w.run(20, |_| false);
    let invite = &w.first_sent(A, "INVITE", "");
    assert!(
        invite.contains("Supported: 100rel, replaces, timer"),
        "{invite}"
    );
    let ringing = reliable_180s(&w);
    assert_eq!(ringing.len(), 1, "{ringing:?}");
    assert!(ringing[0].contains("Require: 100rel") && ringing[0].contains("RSeq: "));
    let rseq = ringing[0]
        .lines()
        .find_map(|l| l.strip_prefix("RSeq: "))
        .unwrap()
        .to_string();
    let prack = &w.first_sent(A, "PRACK", "");
    assert!(prack.contains(&format!("RAck: {rseq} ")), "{prack}");
    assert_eq!(w.count_sent(A, "PRACK"), 1);
    assert!(
        w.texts
            .iter()
            .any(|(f, t)| *f == B && t.starts_with("SIP/2.0 200") && t.contains(" PRACK\r\n")),
        "the PRACK got no 200"
    );
    w.b.answer(w.now, 1, 40_000).expect("answer");
    assert!(w.run(10, connected));
    w.a.hangup(w.now, line).expect("hangup");
    assert!(w.run(10, both_ended));
}

#[test]
fn a_lost_prack_is_recovered_and_a_missing_one_refuses_the_call() {
    let mut w = World::new(41);
    w.a = ua_with(A, B, "alice", 83, |c| c.use_100rel = true);
    w.b = ua_with(B, A, "bob", 84, |c| c.use_100rel = true);
    w.b_answers = false;
    w.drop_once = Some("PRACK");
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(5, ringing_at_a));
    w.run(20, |_| false);
    // The PRACK transaction resent it; the 180 resends stopped once it came, and a resent 180
    // (same RSeq) got no second PRACK transaction.
    let resent = reliable_180s(&w).len();
    assert!(resent >= 2, "{resent}");
    w.run(20, |_| false);
    assert_eq!(
        reliable_180s(&w).len(),
        resent,
        "180 still resent after the PRACK"
    );
    assert!(matches!(
        World::last_state(&w.b_events),
        Some((CallState::Incoming, _))
    ));

    // Every PRACK lost: after 64*T1 (32 s) the caller gets 500 and both calls end.
    let mut w = World::new(42);
    w.a = ua_with(A, B, "alice", 85, |c| c.use_100rel = true);
    w.b = ua_with(B, A, "bob", 86, |c| c.use_100rel = true);
    w.b_answers = false;
    w.drop_always = Some("PRACK");
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(60, both_ended), "{:?}", w.b_events);
    let (_, why_b) = World::last_state(&w.b_events).unwrap();
    assert_eq!(why_b, "no PRACK for our reliable ringing");
    let (_, why_a) = World::last_state(&w.a_events).unwrap();
    assert!(why_a.starts_with("500"), "{why_a} {:?}", w.sent);
    // Resent with T1 doubling: 0.5, 1, 2, 4, 8, 16 s.
    let n = reliable_180s(&w).len();
    assert!((6..=8).contains(&n), "{n}");
}

#[test]
fn ringing_is_reliable_only_when_the_caller_asks() {
    // Neither side asks: a plain 180, no PRACK.
    let mut w = World::new(43);
    w.b = ua_with(B, A, "bob", 87, |c| c.use_100rel = true);
    w.b_answers = false;
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(5, ringing_at_a));
    let ringing = reliable_180s(&w);
    assert!(!ringing[0].contains("100rel"), "{}", ringing[0]);
    assert_eq!(w.count_sent(A, "PRACK"), 0);
    let invite = &w.first_sent(A, "INVITE", "");
    assert!(
        invite.contains("Supported: replaces, timer\r\n"),
        "{invite}"
    );
}
