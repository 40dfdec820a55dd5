//! The offer/answer state (RFC 3264, RFC 6337) between two simulated user agents: a new offer
//! while one is still unanswered is refused (500 while theirs waits for our answer, 491 while
//! ours waits for theirs), and the session goes on once the outstanding one is answered.

use super::*;

const SDP: &str = "v=0\r\no=- 9 9 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\n";

/// A request from `from` in the dialog that the message `dialog` (sent by the other side)
/// belongs to: its From and To swapped.
fn in_dialog(method: &str, from: &str, dialog: &str, cseq: u32, branch: &str, sdp: &str) -> String {
    let body = if sdp.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".to_string()
    };
    format!(
        "{method} sip:peer@{} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK{branch};rport\r\nMax-Forwards: 70\r\n\
From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\nContact: <sip:peer@{from}>\r\n\
{body}Content-Length: {}\r\n\r\n{sdp}",
        if from == A { B } else { A },
        header(dialog, "To"),
        header(dialog, "From"),
        header(dialog, "Call-ID"),
        sdp.len()
    )
}

fn deliver(w: &mut World, from: &'static str, text: &str) {
    let src = Destination {
        transport: Transport::Udp,
        addr: addr(from),
    };
    let to = if from == A { &mut w.b } else { &mut w.a };
    to.handle_datagram(w.now, src, text.as_bytes());
    w.pump();
}

/// The last response `from` sent whose CSeq line ends with `cseq_method`.
fn last_answer(w: &World, from: &str, cseq: &str) -> String {
    w.texts
        .iter()
        .rev()
        .find(|(f, t)| *f == from && t.starts_with("SIP/2.0") && t.contains(cseq))
        .map(|(_, t)| t.clone())
        .unwrap_or_default()
}

#[test]
fn an_offer_in_the_early_dialog_waits_for_our_answer_to_the_first() {
    let mut w = World::new(70);
    w.b_answers = false;
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(5, |w| matches!(
        World::last_state(&w.a_events),
        Some((CallState::Ringing, _))
    )));
    // B rings with A's offer unanswered: A's UPDATE with a new offer in the early dialog is
    // refused with 500 and Retry-After (RFC 3311 §5.2), and the call keeps ringing.
    let ringing = w.first_sent(B, "SIP/2.0 180", "");
    // A's UPDATE carries A's tags: From is our From, To is B's To (with its tag).
    let update = in_dialog("UPDATE", A, &swap(&ringing), 77, "ea1", SDP);
    deliver(&mut w, A, &update);
    let refused = last_answer(&w, B, "77 UPDATE");
    assert!(refused.starts_with("SIP/2.0 500"), "{refused}");
    assert!(refused.contains("Retry-After: "), "{refused}");
    assert_eq!(
        World::last_state(&w.b_events).map(|s| s.0),
        Some(CallState::Incoming)
    );
    // Negative control: the same UPDATE without an offer only refreshes the target: 200.
    let bare = in_dialog("UPDATE", A, &swap(&ringing), 78, "ea2", "");
    deliver(&mut w, A, &bare);
    assert!(last_answer(&w, B, "78 UPDATE").starts_with("SIP/2.0 200"));
    let b_line = match w.b_events.iter().find_map(|e| match e {
        UaEvent::Call {
            line,
            state: CallState::Incoming,
            ..
        } => Some(*line),
        _ => None,
    }) {
        Some(l) => l,
        None => panic!("B never rang: {:?}", w.b_events),
    };
    w.b.answer(w.now, b_line, 40_000).expect("answer");
    assert!(w.run(5, connected), "{:?}", w.a_events);
    w.a.hangup(w.now, line).expect("hangup");
    assert!(w.run(10, both_ended));
}

/// A response turned into the request view of its dialog: the 180 B sent has From = A's
/// address, To = B's; `in_dialog` swaps them back for a request from A.
fn swap(response: &str) -> String {
    response
        .lines()
        .map(|l| {
            if let Some(v) = l.strip_prefix("From: ") {
                format!("To: {v}")
            } else if let Some(v) = l.strip_prefix("To: ") {
                format!("From: {v}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn a_reinvite_while_our_late_offer_waits_for_its_ack_meets_glare() {
    let mut w = World::new(71);
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    let ok = ok_to_invite(&w);
    // B re-INVITEs without SDP: A's 200 offers, and the answer is due in B's ACK.
    let late = in_dialog("INVITE", B, &ok, 500, "lo1", "");
    deliver(&mut w, B, &late);
    let offer = last_answer(&w, A, "500 INVITE");
    assert!(offer.starts_with("SIP/2.0 200"), "{offer}");
    assert!(offer.contains("m=audio"), "{offer}");
    // Before that ACK, another re-INVITE with an offer: 491 (RFC 3261 §14.2).
    let second = in_dialog(
        "INVITE",
        B,
        &ok,
        501,
        "lo2",
        SDP.replace("10.0.0.1", "10.0.0.2").as_str(),
    );
    deliver(&mut w, B, &second);
    let glare = last_answer(&w, A, "501 INVITE");
    assert!(glare.starts_with("SIP/2.0 491"), "{glare}");
    // The ACK with the answer completes the late offer: media now goes to B's new port.
    let answer = SDP
        .replace("10.0.0.1", "10.0.0.2")
        .replace("41000", "42000");
    let ack = in_dialog("ACK", B, &ok, 500, "lo3", &answer);
    deliver(&mut w, B, &ack);
    let media = World::media(&w.a_events).expect("media");
    assert_eq!(media.remote.port(), 42000, "{media:?}");
    // Now a new offer is welcome again.
    let third = in_dialog("INVITE", B, &ok, 502, "lo4", &answer);
    deliver(&mut w, B, &third);
    assert!(last_answer(&w, A, "502 INVITE").starts_with("SIP/2.0 200"));
    w.a.hangup(w.now, line).expect("hangup");
    assert!(w.run(10, |w| {
        World::last_state(&w.a_events).is_some_and(|s| s.0 == CallState::Terminated)
    }));
}
