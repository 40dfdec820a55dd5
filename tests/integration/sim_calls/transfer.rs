//! Transfers between two simulated user agents (RFC 3515 REFER, NOTIFY with sipfrag): A
//! transfers its call with B to "carol", a target that is A itself on a second line (B's
//! only route is A), so that every step of both sides runs through the real state machines.

use super::*;
use softphone::model::{TransferRole, TransferState};

fn transfers(events: &[UaEvent]) -> Vec<(TransferRole, TransferState, Option<u16>)> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Transfer { step, .. } => Some((step.role, step.state, step.code)),
            _ => None,
        })
        .collect()
}

fn ended_lines(events: &[UaEvent]) -> Vec<(u32, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Call {
                line,
                state: CallState::Terminated,
                reason,
                ..
            } => Some((*line, reason.clone())),
            _ => None,
        })
        .collect()
}

/// Runs until B asked to follow a REFER, and follows it.
fn follow(w: &mut World) -> u32 {
    assert!(
        w.run(30, |w| w
            .b_events
            .iter()
            .any(|e| matches!(e, UaEvent::Referred { .. }))),
        "B was never referred: {:?}",
        w.b_events
    );
    let line = w
        .b_events
        .iter()
        .find_map(|e| match e {
            UaEvent::Referred { line } => Some(*line),
            _ => None,
        })
        .expect("referred");
    w.b.follow_refer(w.now, line, 40_002, None).expect("follow")
}

/// Runs until A rings on line 2 (the transfer target).
fn target_rings(w: &mut World) {
    assert!(
        w.run(30, |w| w.a_events.iter().any(|e| matches!(
            e,
            UaEvent::Call {
                line: 2,
                state: CallState::Incoming,
                ..
            }
        ))),
        "{:?}",
        w.a_events
    );
}

#[test]
fn blind_transfer_holds_refers_and_hangs_up_once_the_target_answered() {
    let mut w = World::new(31);
    w.loss = 0.1;
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(60, connected));
    w.a.transfer(w.now, line, "carol").expect("transfer");
    follow(&mut w);
    target_rings(&mut w);
    w.a.answer(w.now, 2, 30_002)
        .expect("answer the target call");
    assert!(
        w.run(120, |w| ended_lines(&w.a_events)
            .iter()
            .any(|(l, _)| *l == 1)
            && ended_lines(&w.b_events).iter().any(|(l, _)| *l == 1)),
        "A: {:?}\nB: {:?}",
        w.a_events,
        w.b_events
    );
    let a = transfers(&w.a_events);
    use TransferRole::*;
    use TransferState::*;
    assert_eq!(a.first(), Some(&(Transferor, Requested, None)), "{a:?}");
    // Accepted once, by the 202 or (when loss took it) by the first NOTIFY.
    assert_eq!(a.iter().filter(|t| t.1 == Accepted).count(), 1, "{a:?}");
    assert_eq!(a.last(), Some(&(Transferor, Succeeded, None)), "{a:?}");
    let b = transfers(&w.b_events);
    assert_eq!(b.first(), Some(&(Transferee, Accepted, Some(202))), "{b:?}");
    assert_eq!(b.last(), Some(&(Transferee, Succeeded, Some(200))), "{b:?}");
    // The hold went out before the REFER, and the REFER named the dialled target.
    let a_sent: Vec<&String> = w
        .texts
        .iter()
        .filter(|(f, _)| *f == A)
        .map(|(_, t)| t)
        .collect();
    let hold = a_sent
        .iter()
        .position(|t| t.starts_with("INVITE") && t.contains("a=sendonly"))
        .expect("hold re-INVITE");
    let refer = a_sent
        .iter()
        .position(|t| t.starts_with("REFER"))
        .expect("REFER");
    assert!(hold < refer);
    assert!(header(a_sent[refer], "Refer-To").starts_with("<sip:carol@"));
    // The first call is over on both sides; the new one (A line 2, B line 2) stays up.
    assert!(
        ended_lines(&w.a_events)
            .iter()
            .any(|(l, r)| *l == 1 && r == "transferred"),
        "{:?}",
        ended_lines(&w.a_events)
    );
    assert!(!ended_lines(&w.a_events).iter().any(|(l, _)| *l == 2));
    assert!(!ended_lines(&w.b_events).iter().any(|(l, _)| *l == 2));
    // B's NOTIFYs went out with the sipfrag of each step, the last ending the subscription.
    let notifies: Vec<&String> = w
        .texts
        .iter()
        .filter(|(f, t)| *f == B && t.starts_with("NOTIFY"))
        .map(|(_, t)| t)
        .collect();
    assert!(
        notifies
            .first()
            .is_some_and(|n| n.contains("SIP/2.0 100 Trying"))
    );
    let last = notifies.last().expect("NOTIFY");
    assert!(last.contains("SIP/2.0 200 OK"), "{last}");
    assert!(header(last, "Subscription-State").starts_with("terminated"));
}

#[test]
fn a_refused_transfer_resumes_the_held_call() {
    let mut w = World::new(32);
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(60, connected));
    w.a.transfer(w.now, line, "carol").expect("transfer");
    assert!(
        w.a.transfer(w.now, line, "dave").is_err(),
        "one transfer at a time"
    );
    follow(&mut w);
    target_rings(&mut w);
    // The target is busy.
    w.a.hangup(w.now, 2).expect("reject");
    assert!(
        w.run(60, |w| transfers(&w.a_events)
            .last()
            .is_some_and(|t| t.1 == TransferState::Failed)
            && hold_state(&w.a_events) == Some((false, false))),
        "{:?}",
        w.a_events
    );
    assert_eq!(
        transfers(&w.a_events).last(),
        Some(&(TransferRole::Transferor, TransferState::Failed, Some(486)))
    );
    // The call with B goes on.
    assert!(!ended_lines(&w.a_events).iter().any(|(l, _)| *l == 1));
    assert!(!ended_lines(&w.b_events).iter().any(|(l, _)| *l == 1));
}

#[test]
fn unattended_transfer_is_done_on_the_202() {
    let mut w = World::new(33);
    w.a = ua_with(A, B, "alice", 67, |c| {
        c.transfer = softphone::sip::refer::TransferPrefs::from_params(1, true, 400, false);
    });
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(60, connected));
    w.a.transfer(w.now, line, "carol").expect("transfer");
    assert!(w.run(30, |w| {
        ended_lines(&w.a_events).iter().any(|(l, _)| *l == 1)
    }));
    // No hold was asked for.
    assert!(
        !w.texts
            .iter()
            .any(|(f, t)| *f == A && t.contains("a=sendonly"))
    );
    // Transfers can be turned off.
    let mut w = World::new(34);
    w.a = ua_with(A, B, "alice", 69, |c| {
        c.transfer = softphone::sip::refer::TransferPrefs::from_params(0, true, 400, false);
    });
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(60, connected));
    assert!(w.a.transfer(w.now, line, "carol").is_err());
    // Connecting two calls needs a second one.
    let mut w = World::new(35);
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(60, connected));
    let err = w.a.transfer(w.now, line, "").expect_err("no other call");
    assert!(err.to_string().contains("exactly one other call"), "{err}");
}

/// Requests in B's dialog with A, written by hand: the REFERs and NOTIFYs a careless or
/// hostile peer could send.
#[test]
fn bad_refers_and_notifies_get_precise_answers() {
    let mut w = World::new(36);
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    let ok = ok_to_invite(&w);
    let src = Destination {
        transport: Transport::Udp,
        addr: addr(B),
    };
    let mut n = 0;
    let mut send = |w: &mut World, method: &str, extra: &str, body: &str, call_id: &str| {
        n += 1;
        let to = if method == "REFER-OUTSIDE" {
            "<sip:alice@10.0.0.1>".to_string()
        } else {
            header(&ok, "From").to_string()
        };
        let method = method.trim_end_matches("-OUTSIDE");
        let msg = format!(
            "{method} sip:alice@{A} SIP/2.0\r\nVia: SIP/2.0/UDP {B};branch=z9hG4bKbad{n};rport\r\nMax-Forwards: 70\r\n\
From: {}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {} {method}\r\nContact: <sip:bob@{B}>\r\n{extra}\
Content-Length: {}\r\n\r\n{body}",
            header(&ok, "To"),
            900 + n,
            body.len()
        );
        w.a.handle_datagram(w.now, src, msg.as_bytes());
        w.pump();
        w.texts
            .iter()
            .rev()
            .find(|(f, t)| *f == A && t.contains(&format!("branch=z9hG4bKbad{n};")))
            .map(|(_, t)| t.lines().next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let call_id = header(&ok, "Call-ID").to_string();
    let answer = send(&mut w, "REFER", "", "", &call_id);
    assert!(answer.starts_with("SIP/2.0 400"), "no Refer-To: {answer}");
    let answer = send(
        &mut w,
        "REFER",
        "Refer-To: <http://evil.example/>\r\n",
        "",
        &call_id,
    );
    assert!(answer.starts_with("SIP/2.0 403"), "http target: {answer}");
    let answer = send(
        &mut w,
        "REFER",
        "Refer-To: <sip:x@y>\r\nRefer-To: <sip:z@y>\r\n",
        "",
        &call_id,
    );
    assert!(answer.starts_with("SIP/2.0 400"), "two targets: {answer}");
    let answer = send(
        &mut w,
        "REFER",
        "Refer-To: <sip:carol@10.0.0.2>\r\n",
        "",
        "no-such-call",
    );
    assert!(
        answer.starts_with("SIP/2.0 481"),
        "unknown dialog: {answer}"
    );
    let answer = send(
        &mut w,
        "REFER-OUTSIDE",
        "Refer-To: <sip:carol@10.0.0.2>\r\n",
        "",
        "other",
    );
    assert!(
        answer.starts_with("SIP/2.0 403"),
        "outside a dialog: {answer}"
    );
    let frag = "Event: refer\r\nSubscription-State: active\r\nContent-Type: message/sipfrag\r\n";
    let answer = send(&mut w, "NOTIFY", frag, "SIP/2.0 180 Ringing\r\n", &call_id);
    assert!(answer.starts_with("SIP/2.0 481"), "no transfer: {answer}");
    let answer = send(
        &mut w,
        "NOTIFY",
        "Event: presence\r\nSubscription-State: active\r\n",
        "",
        &call_id,
    );
    assert!(
        answer.starts_with("SIP/2.0 489"),
        "unknown package: {answer}"
    );
    assert!(
        !w.a_events
            .iter()
            .any(|e| matches!(e, UaEvent::Referred { .. } | UaEvent::Transfer { .. })),
        "{:?}",
        w.a_events
    );
    // A storm of progress NOTIFYs during a real transfer: each answered, reported once.
    let line = 1;
    w.b_answers = false;
    w.a.transfer(w.now, line, "carol").expect("transfer");
    assert!(w.run(30, |w| {
        transfers(&w.a_events)
            .iter()
            .any(|t| t.1 == TransferState::Accepted)
    }));
    for _ in 0..200 {
        let answer = send(&mut w, "NOTIFY", frag, "SIP/2.0 180 Ringing\r\n", &call_id);
        assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    }
    let answer = send(&mut w, "NOTIFY", frag, "not a status line", &call_id);
    assert!(answer.starts_with("SIP/2.0 400"), "{answer}");
    let progress = transfers(&w.a_events)
        .iter()
        .filter(|t| t.1 == TransferState::Progress)
        .count();
    assert_eq!(progress, 1);
}

/// A call the user had put on hold before transferring stays on hold when the transfer fails:
/// only a hold the transfer made itself is undone.
#[test]
fn a_failed_transfer_leaves_the_users_own_hold_alone() {
    let mut w = World::new(37);
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(60, connected));
    w.a.hold(w.now, line, true).expect("hold");
    assert!(w.run(30, |w| hold_state(&w.a_events) == Some((true, false))));
    w.a.transfer(w.now, line, "carol").expect("transfer");
    follow(&mut w);
    target_rings(&mut w);
    w.a.hangup(w.now, 2).expect("reject");
    assert!(w.run(30, |w| {
        transfers(&w.a_events)
            .last()
            .is_some_and(|t| t.1 == TransferState::Failed)
    }));
    w.run(10, |_| false);
    assert_eq!(hold_state(&w.a_events), Some((true, false)), "still held");
    // No re-INVITE went out after the REFER.
    let sent: Vec<&String> = w
        .texts
        .iter()
        .filter(|(f, _)| *f == A)
        .map(|(_, t)| t)
        .collect();
    let refer = sent
        .iter()
        .position(|t| t.starts_with("REFER"))
        .expect("REFER");
    assert!(
        !sent[refer..]
            .iter()
            .any(|t| t.starts_with("INVITE sip:bob")),
        "a resume after the failed transfer"
    );
}
