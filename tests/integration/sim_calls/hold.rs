//! Hold and resume between two simulated user agents: the directions offered, `holdtype`,
//! and re-INVITE glare.

use super::*;

pub(super) fn hold_state(events: &[UaEvent]) -> Option<(bool, bool)> {
    events.iter().rev().find_map(|e| match e {
        UaEvent::Hold { local, remote, .. } => Some((*local, *remote)),
        _ => None,
    })
}

#[test]
fn hold_and_resume_by_reinvite() {
    use softphone::sdp::Direction;
    let mut w = World::new(10);
    w.loss = 0.2;
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(60, connected));
    w.a.hold(w.now, line, true).expect("hold");
    assert!(
        w.run(60, |w| hold_state(&w.a_events) == Some((true, false))),
        "{:?}",
        w.a_events
    );
    assert!(
        w.run(5, |w| hold_state(&w.b_events) == Some((false, true))),
        "{:?}",
        w.b_events
    );
    assert_eq!(
        World::media(&w.a_events).map(|n| n.direction),
        Some(Direction::SendOnly)
    );
    assert_eq!(
        World::media(&w.b_events).map(|n| n.direction),
        Some(Direction::RecvOnly)
    );
    w.a.hold(w.now, line, false).expect("resume");
    assert!(w.run(60, |w| hold_state(&w.a_events) == Some((false, false))));
    assert!(w.run(5, |w| hold_state(&w.b_events) == Some((false, false))));
    assert_eq!(
        World::media(&w.a_events).map(|n| n.direction),
        Some(Direction::SendRecv)
    );
    assert_eq!(
        World::media(&w.b_events).map(|n| n.direction),
        Some(Direction::SendRecv)
    );
    // Hold on a line with no call is a clear error.
    assert!(w.a.hold(w.now, 3, true).is_err());
}

/// `holdtype` 4 offers inactive: neither side sends; 3 offers recvonly: only the far end does.
#[test]
fn hold_types_offer_their_direction() {
    use softphone::sdp::Direction;
    for (ours, theirs) in [
        (Direction::Inactive, Direction::Inactive),
        (Direction::RecvOnly, Direction::SendOnly),
    ] {
        let mut w = World::new(12);
        w.a = ua_with(A, B, "alice", 25, |c| c.media.hold = ours);
        let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
        assert!(w.run(20, connected));
        w.a.hold(w.now, line, true).expect("hold");
        assert!(w.run(20, |w| hold_state(&w.a_events) == Some((true, false))));
        assert_eq!(World::media(&w.a_events).map(|n| n.direction), Some(ours));
        assert_eq!(World::media(&w.b_events).map(|n| n.direction), Some(theirs));
    }
}

#[test]
fn glare_is_resolved_by_491_and_retry() {
    let mut w = World::new(11);
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(20, connected));
    // Both put the call on hold at the same instant: the re-INVITEs cross.
    w.a.hold(w.now, line, true).expect("a holds");
    w.b.hold(w.now, 1, true).expect("b holds");
    assert!(
        w.run(30, |w| hold_state(&w.a_events).is_some_and(|h| h.0)
            && hold_state(&w.b_events).is_some_and(|h| h.0)),
        "a {:?}\nb {:?}",
        w.a_events,
        w.b_events
    );
    assert!(
        w.sent.iter().any(|(_, _, l)| l.starts_with("SIP/2.0 491")),
        "glare answered 491"
    );
    // Both still in the call.
    assert!(connected(&w));
}
