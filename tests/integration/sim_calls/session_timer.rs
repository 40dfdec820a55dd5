//! Session timers (RFC 4028) between two simulated user agents: the interval and refresher
//! agreed, refreshes by UPDATE at half the interval, the BYE when refreshes stop, and the 422
//! retry when the interval asked is too small.

use super::*;
use softphone::sip::session_expires::SessionTimerPrefs;

fn asks(seconds: u32) -> impl FnOnce(&mut softphone::sip::ua::UaConfig) {
    move |c| {
        c.session_timer = SessionTimerPrefs {
            interval: Some(seconds),
        }
    }
}

#[test]
fn the_caller_refreshes_by_update_at_half_the_interval() {
    let mut w = World::new(50);
    w.a = ua_with(A, B, "alice", 91, asks(120));
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    let ok = &w.first_sent(B, "SIP/2.0 200", " INVITE\r\n");
    assert!(ok.contains("Session-Expires: 120;refresher=uac"), "{ok}");
    assert!(ok.contains("Require: timer"), "{ok}");
    let answered = w.now;
    // Five minutes: refreshes at 60, 120, 180, 240 and 300 s, every one answered, no re-INVITE.
    assert!(!w.run(305, |w| !connected(w)));
    assert_eq!(w.count_sent(A, "UPDATE"), 5, "{:?}", w.sent);
    assert_eq!(w.count_sent(A, "INVITE"), 1);
    let first = w
        .sent
        .iter()
        .find(|(_, from, l)| *from == A && l.starts_with("UPDATE"))
        .unwrap()
        .0;
    let since = first - (answered - w.t0);
    assert!(
        since >= Duration::from_secs(59) && since <= Duration::from_secs(61),
        "{since:?}"
    );
    w.a.hangup(w.now, line).expect("hangup");
    assert!(w.run(10, both_ended));
}

#[test]
fn a_far_end_that_stops_refreshing_is_hung_up() {
    let mut w = World::new(51);
    w.a = ua_with(A, B, "alice", 92, asks(90));
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    // The refresher's UPDATEs never arrive: B hangs up 90 - 30 = 60 s after the answer.
    w.drop_always = Some("UPDATE");
    let answered = w.now;
    assert!(w.run(120, both_ended), "{:?}", w.b_events);
    let (_, why) = World::last_state(&w.b_events).unwrap();
    assert_eq!(why, "session expired (the far end stopped refreshing it)");
    let bye = w
        .sent
        .iter()
        .find(|(_, from, l)| *from == B && l.starts_with("BYE"))
        .unwrap()
        .0;
    let after = bye - (answered - w.t0);
    assert!(
        after >= Duration::from_secs(59) && after <= Duration::from_secs(61),
        "{after:?}"
    );
}

#[test]
fn too_small_an_interval_gets_422_and_the_retry_succeeds() {
    let mut w = World::new(52);
    // Below the RFC minimum (the parameter cannot go there; the UA must still cope).
    w.a = ua_with(A, B, "alice", 93, asks(30));
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected), "{:?}", w.a_events);
    let refused = w.first_sent(B, "SIP/2.0 422", "");
    assert!(refused.contains("Min-SE: 90"), "{refused}");
    let invites: Vec<&String> = w
        .texts
        .iter()
        .filter(|(f, t)| *f == A && t.starts_with("INVITE"))
        .map(|(_, t)| t)
        .collect();
    assert_eq!(invites.len(), 2);
    assert!(
        invites[1].contains("Session-Expires: 90\r\n") && invites[1].contains("Min-SE: 90\r\n")
    );
    // B honoured the retried interval: the caller refreshes 45 s later.
    let before = w.count_sent(A, "UPDATE");
    w.run(50, |_| false);
    assert_eq!(w.count_sent(A, "UPDATE"), before + 1);
}

#[test]
fn the_called_side_refreshes_when_only_it_wants_a_timer() {
    let mut w = World::new(53);
    w.b = ua_with(B, A, "bob", 94, asks(100));
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    let ok = &w.first_sent(B, "SIP/2.0 200", " INVITE\r\n");
    assert!(ok.contains("Session-Expires: 100;refresher=uas"), "{ok}");
    assert!(!ok.contains("Require: timer"), "{ok}");
    w.run(55, |_| false);
    assert_eq!(w.count_sent(B, "UPDATE"), 1, "{:?}", w.sent);
    assert!(connected(&w));
}
