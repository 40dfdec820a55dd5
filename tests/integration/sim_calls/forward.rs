//! Forwarding between two simulated user agents: B redirects (forwardall, the Forward
//! command) and A follows the 302; B's blacklist declines A; a redirect back to a target
//! already tried ends the call instead of looping.

use super::*;

fn refused(events: &[UaEvent]) -> Vec<u16> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::CallRefused { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}

fn peers_called(events: &[UaEvent]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if let UaEvent::Call {
            state: CallState::Calling,
            peer,
            ..
        } = e
            && out.last() != Some(peer)
        {
            out.push(peer.clone());
        }
    }
    out
}

#[test]
fn forward_all_is_followed_and_a_redirect_loop_ends_the_call() {
    let mut w = World::new(41);
    w.b = ua_with(B, A, "bob", 83, |c| {
        c.incoming = softphone::sip::ua::IncomingPolicy::from_params("carol", "", "", true);
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(
        w.run(60, |w| matches!(
            World::last_state(&w.a_events),
            Some((CallState::Terminated, _))
        )),
        "{:?}",
        w.a_events
    );
    // A went on to carol; B forwarded carol's call to carol again, which A does not follow.
    assert_eq!(peers_called(&w.a_events), ["bob", "carol"]);
    let (_, reason) = World::last_state(&w.a_events).expect("ended");
    assert!(reason.starts_with("302"), "{reason}");
    assert_eq!(refused(&w.b_events), [302, 302]);
    assert!(
        !w.b_events.iter().any(|e| matches!(
            e,
            UaEvent::Call {
                state: CallState::Incoming,
                ..
            }
        )),
        "nothing rang at B"
    );
    let invites = w
        .texts
        .iter()
        .filter(|(f, t)| *f == A && t.starts_with("INVITE sip:"))
        .count();
    assert_eq!(invites, 2);
}

#[test]
fn a_ringing_call_forwarded_by_the_user_reaches_the_target() {
    let mut w = World::new(42);
    w.b_answers = false;
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, |w| w.b_events.iter().any(|e| matches!(
        e,
        UaEvent::Call {
            state: CallState::Incoming,
            ..
        }
    ))));
    assert!(w.b.forward(w.now, 2, "carol").is_err(), "no call on line 2");
    w.b.forward(w.now, 1, "carol").expect("forward");
    w.b_answers = true;
    assert!(
        w.run(30, connected),
        "A: {:?}\nB: {:?}",
        w.a_events,
        w.b_events
    );
    assert_eq!(peers_called(&w.a_events), ["bob", "carol"]);
    let b_ended: Vec<String> = w
        .b_events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Call {
                state: CallState::Terminated,
                reason,
                ..
            } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(b_ended, ["forwarded to carol"]);
    // Forwarding a call that is up is refused.
    assert!(w.b.forward(w.now, 1, "dave").is_err());
}

#[test]
fn blacklisted_callers_are_declined_before_anything_rings() {
    let mut w = World::new(43);
    w.b = ua_with(B, A, "bob", 87, |c| {
        c.incoming = softphone::sip::ua::IncomingPolicy::from_params("", "", "eve, Alice", true);
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(30, |w| matches!(
        World::last_state(&w.a_events),
        Some((CallState::Terminated, _))
    )));
    let (_, reason) = World::last_state(&w.a_events).expect("ended");
    assert!(reason.starts_with("603"), "{reason}");
    assert_eq!(refused(&w.b_events), [603]);
    assert!(
        !w.b_events.iter().any(|e| matches!(e, UaEvent::Call { .. })),
        "{:?}",
        w.b_events
    );
}

/// The caller shown is the identity our server asserts (P-Asserted-Identity, else
/// Remote-Party-ID), but only when the INVITE comes from that server; the blacklist applies
/// to it too.
#[test]
fn asserted_caller_identity_is_trusted_from_the_server_only() {
    let mut w = World::new(44);
    w.b_answers = false;
    w.b = ua_with(B, A, "bob", 89, |c| {
        c.incoming = softphone::sip::ua::IncomingPolicy::from_params("", "", "0612345", true);
    });
    let invite = |n: u32, extra: &str| {
        format!(
            "INVITE sip:bob@{B} SIP/2.0\r\nVia: SIP/2.0/UDP {A};branch=z9hG4bKpai{n}\r\nMax-Forwards: 70\r\n\
From: \"Spoofed\" <sip:anon@example.com>;tag=f{n}\r\nTo: <sip:bob@{B}>\r\nCall-ID: pai-{n}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:anon@{A}>\r\n{extra}Content-Length: 0\r\n\r\n"
        )
    };
    let from = |a: &str| Destination {
        transport: Transport::Udp,
        addr: addr(a),
    };
    let shown = |w: &World, call_id: &str| {
        w.b_events.iter().find_map(|e| match e {
            UaEvent::Call {
                call_id: c,
                peer,
                peer_display,
                ..
            } if c == call_id => Some((peer.clone(), peer_display.clone())),
            _ => None,
        })
    };
    w.b.handle_datagram(
        w.now,
        from(A),
        invite(
            1,
            "P-Asserted-Identity: \"Front Desk\" <sip:1005@pbx>, <tel:+3611111>\r\n",
        )
        .as_bytes(),
    );
    w.pump();
    assert_eq!(
        shown(&w, "pai-1"),
        Some(("1005".into(), "Front Desk".into()))
    );
    w.b.handle_datagram(
        w.now,
        from(A),
        invite(
            2,
            "Remote-Party-ID: <tel:+3622222;phone-context=x>;party=calling\r\n",
        )
        .as_bytes(),
    );
    w.pump();
    assert_eq!(shown(&w, "pai-2"), Some(("+3622222".into(), String::new())));
    // From anyone but the server, the assertion is ignored.
    w.b.handle_datagram(
        w.now,
        from("10.0.0.9:5060"),
        invite(3, "P-Asserted-Identity: <sip:1005@pbx>\r\n").as_bytes(),
    );
    w.pump();
    assert_eq!(shown(&w, "pai-3"), Some(("anon".into(), "Spoofed".into())));
    // The blacklist sees the asserted number.
    w.b.handle_datagram(
        w.now,
        from(A),
        invite(4, "P-Asserted-Identity: <sip:0612345@pbx>\r\n").as_bytes(),
    );
    w.pump();
    assert_eq!(shown(&w, "pai-4"), None);
    assert_eq!(refused(&w.b_events), [603]);
}

/// An INVITE with Replaces (RFC 3891) naming B's call with A takes its place: answered, then
/// the old call is hung up; one naming no call, or asking for an early dialog only, is refused.
#[test]
fn an_invite_with_replaces_takes_the_place_of_our_call() {
    let mut w = World::new(45);
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    let ok = ok_to_invite(&w);
    let tag = |h: &str| {
        header(&ok, h)
            .split("tag=")
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    let (call_id, b_tag, a_tag) = (header(&ok, "Call-ID").to_string(), tag("To"), tag("From"));
    w.b_answers = false;
    let sdp = "v=0\r\no=- 7 7 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 30004 RTP/AVP 0\r\n";
    let src = Destination {
        transport: Transport::Udp,
        addr: addr(A),
    };
    let invite = |n: u32, replaces: &str| {
        format!(
            "INVITE sip:bob@{B} SIP/2.0\r\nVia: SIP/2.0/UDP {A};branch=z9hG4bKrep{n}\r\nMax-Forwards: 70\r\n\
From: <sip:carol@{A}>;tag=rep{n}\r\nTo: <sip:bob@{B}>\r\nCall-ID: rep-{n}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:carol@{A}>\r\nReplaces: {replaces}\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    };
    let answer_to = |w: &World, n: u32| {
        w.texts
            .iter()
            .rev()
            .find(|(f, t)| *f == B && t.contains(&format!("branch=z9hG4bKrep{n}")))
            .map(|(_, t)| t.lines().next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    for (n, replaces, code) in [
        (1, format!("nosuch;to-tag={b_tag};from-tag={a_tag}"), "481"),
        (
            2,
            format!("{call_id};to-tag={a_tag};from-tag={b_tag}"),
            "481",
        ),
        (
            3,
            format!("{call_id};to-tag={b_tag};from-tag={a_tag};early-only"),
            "486",
        ),
        (4, "garbage".to_string(), "400"),
    ] {
        w.b.handle_datagram(w.now, src, invite(n, &replaces).as_bytes());
        w.pump();
        assert!(
            answer_to(&w, n).starts_with(&format!("SIP/2.0 {code}")),
            "{n}: {}",
            answer_to(&w, n)
        );
    }
    w.b.handle_datagram(
        w.now,
        src,
        invite(5, &format!("{call_id};to-tag={b_tag};from-tag={a_tag}")).as_bytes(),
    );
    w.pump();
    assert!(
        w.b_events
            .iter()
            .any(|e| matches!(e, UaEvent::Replacing { line: 2 })),
        "{:?}",
        w.b_events
    );
    w.b.answer(w.now, 2, 40_004)
        .expect("answer the replacing call");
    w.pump();
    let ok2 = w
        .texts
        .iter()
        .rev()
        .find(|(f, t)| *f == B && t.starts_with("SIP/2.0 200") && t.contains("Call-ID: rep-5"))
        .map(|(_, t)| t.clone())
        .expect("200 for the replacing INVITE");
    let ack = format!(
        "ACK sip:bob@{B} SIP/2.0\r\nVia: SIP/2.0/UDP {A};branch=z9hG4bKrepack\r\nMax-Forwards: 70\r\n\
From: <sip:carol@{A}>;tag=rep5\r\nTo: {}\r\nCall-ID: rep-5\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        header(&ok2, "To")
    );
    w.b.handle_datagram(w.now, src, ack.as_bytes());
    assert!(
        w.run(10, |w| w.b_events.iter().any(|e| matches!(
            e,
            UaEvent::Call {
                line: 1,
                state: CallState::Terminated,
                reason,
                ..
            } if reason == "replaced"
        ))),
        "{:?}",
        w.b_events
    );
    assert_eq!(
        World::last_state(&w.a_events).map(|s| s.0),
        Some(CallState::Terminated),
        "A's call was hung up by B"
    );
    // With allowreplace=0 the same INVITE is refused.
    let mut w = World::new(46);
    w.b = ua_with(B, A, "bob", 93, |c| {
        c.incoming = softphone::sip::ua::IncomingPolicy::from_params("", "", "", false);
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    w.b.handle_datagram(w.now, src, invite(6, "x;to-tag=1;from-tag=2").as_bytes());
    w.pump();
    assert!(
        answer_to(&w, 6).starts_with("SIP/2.0 403"),
        "{}",
        answer_to(&w, 6)
    );
}

/// The server's auto-answer headers (intercom, paging): `P-Auto-Answer: normal` at once,
/// `Call-Info: ...;answer-after=2` two seconds later, and neither from anyone but the server.
#[test]
fn server_auto_answer_headers_are_honoured_from_the_server_only() {
    let mut w = World::new(47);
    w.b_answers = false;
    let invite = |n: u32, extra: &str| {
        format!(
            "INVITE sip:bob@{B} SIP/2.0\r\nVia: SIP/2.0/UDP {A};branch=z9hG4bKaa{n}\r\nMax-Forwards: 70\r\n\
From: <sip:pager@{A}>;tag=aa{n}\r\nTo: <sip:bob@{B}>\r\nCall-ID: aa-{n}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:pager@{A}>\r\n{extra}Content-Length: 0\r\n\r\n"
        )
    };
    let from = |a: &str| Destination {
        transport: Transport::Udp,
        addr: addr(a),
    };
    let auto = |w: &World| -> Vec<u32> {
        w.b_events
            .iter()
            .filter_map(|e| match e {
                UaEvent::AutoAnswer { line } => Some(*line),
                _ => None,
            })
            .collect()
    };
    w.b.handle_datagram(
        w.now,
        from(A),
        invite(1, "P-Auto-Answer: normal\r\n").as_bytes(),
    );
    w.pump();
    assert_eq!(auto(&w), [1]);
    // Reported before the call's first event, so the policy answers it without ringing.
    let first = w
        .b_events
        .iter()
        .position(|e| matches!(e, UaEvent::AutoAnswer { .. }));
    let call = w
        .b_events
        .iter()
        .position(|e| matches!(e, UaEvent::Call { .. }));
    assert!(first < call, "{:?}", w.b_events);
    w.b.handle_datagram(
        w.now,
        from(A),
        invite(2, "Call-Info: <sip:pbx>;answer-after=2\r\n").as_bytes(),
    );
    w.pump();
    assert_eq!(auto(&w), [1]);
    let t0 = w.now;
    assert!(w.run(5, |w| auto(w).len() == 2));
    assert_eq!(auto(&w), [1, 2]);
    assert!(w.now - t0 >= Duration::from_secs(2));
    w.b.handle_datagram(
        w.now,
        from("10.0.0.9:5060"),
        invite(
            3,
            "P-Auto-Answer: normal\r\nAlert-Info: <http://x>;info=alert-autoanswer\r\n",
        )
        .as_bytes(),
    );
    w.run(5, |_| false);
    assert_eq!(auto(&w), [1, 2], "a stranger cannot make us answer");
}

/// Do not disturb turns calls away with the configured code before anything rings;
/// forward-all still forwards.
#[test]
fn do_not_disturb_answers_486_or_480_without_ringing() {
    for code in [486u16, 480] {
        let mut w = World::new(48);
        w.b = ua_with(B, A, "bob", 95, |c| {
            c.incoming.dnd = Some(code);
        });
        w.a.dial(w.now, "bob", 30_000).expect("dial");
        assert!(w.run(30, |w| matches!(
            World::last_state(&w.a_events),
            Some((CallState::Terminated, _))
        )));
        let (_, reason) = World::last_state(&w.a_events).expect("ended");
        assert!(reason.starts_with(&code.to_string()), "{reason}");
        assert_eq!(refused(&w.b_events), [code]);
        assert!(!w.b_events.iter().any(|e| matches!(e, UaEvent::Call { .. })));
    }
    let mut w = World::new(49);
    w.b = ua_with(B, A, "bob", 97, |c| {
        c.incoming = softphone::sip::ua::IncomingPolicy {
            dnd: Some(486),
            ..softphone::sip::ua::IncomingPolicy::from_params("carol", "", "", true)
        };
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(30, |w| peers_called(&w.a_events).len() == 2));
    assert_eq!(refused(&w.b_events).first(), Some(&302));
}

#[test]
fn an_unanswered_call_is_forwarded_after_the_no_answer_time() {
    let mut w = World::new(44);
    w.b_answers = false;
    w.b = ua_with(B, A, "bob", 89, |c| {
        c.incoming.forward_no_answer = Some(("carol".into(), Duration::from_secs(15)));
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(5, |w| matches!(
        World::last_state(&w.b_events),
        Some((CallState::Incoming, _))
    )));
    let rang = w.now;
    // It rings for the no-answer time, then B redirects and A calls carol.
    assert!(
        w.run(30, |w| peers_called(&w.a_events).len() == 2),
        "{:?}",
        w.a_events
    );
    assert_eq!(peers_called(&w.a_events), ["bob", "carol"]);
    let waited = w.now - rang;
    assert!(
        waited >= Duration::from_secs(15) && waited < Duration::from_secs(16),
        "{waited:?}"
    );
    let (state, why) = World::last_state(&w.b_events).expect("b's call");
    assert_eq!(
        (state, why.as_str()),
        (CallState::Terminated, "forwarded to carol")
    );
    // Answered in time, the same call is not forwarded.
    let mut w = World::new(45);
    w.b = ua_with(B, A, "bob", 90, |c| {
        c.incoming.forward_no_answer = Some(("carol".into(), Duration::from_secs(15)));
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(5, connected));
    w.run(30, |_| false);
    assert!(connected(&w));
    assert_eq!(peers_called(&w.a_events), ["bob"]);
}

#[test]
fn ignoreincoming_refuses_with_480_but_forwardall_still_forwards() {
    let mut w = World::new(46);
    w.b = ua_with(B, A, "bob", 91, |c| c.incoming.ignore = true);
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, |w| matches!(
        World::last_state(&w.a_events),
        Some((CallState::Terminated, _))
    )));
    let (_, why) = World::last_state(&w.a_events).unwrap();
    assert!(why.starts_with("480"), "{why}");
    assert_eq!(refused(&w.b_events), [480]);
    assert!(!w.b_events.iter().any(|e| matches!(e, UaEvent::Call { .. })));
    let mut w = World::new(47);
    w.b = ua_with(B, A, "bob", 92, |c| {
        c.incoming = softphone::sip::ua::IncomingPolicy {
            ignore: true,
            ..softphone::sip::ua::IncomingPolicy::from_params("carol", "", "", true)
        };
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, |w| peers_called(&w.a_events).len() == 2));
    assert_eq!(refused(&w.b_events)[0], 302);
}

/// Directed pickup from dialog-info: the dialog of a ringing call, as the called side would
/// publish it (RFC 4235), makes an INVITE with `Replaces: ...;early-only` to the caller, whose
/// UA swaps its ringing call for ours and cancels the first one. (Here the called side picks
/// up its own ringing call; a colleague's phone sends the same INVITE.)
#[test]
fn a_ringing_call_is_picked_up_from_its_dialog_info() {
    let mut w = World::new(48);
    w.b_answers = false;
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(5, |w| matches!(
        World::last_state(&w.a_events),
        Some((CallState::Ringing, _))
    )));
    // B's view of the ringing dialog, as its dialog-info would say it.
    let invite = w
        .texts
        .iter()
        .find(|(f, t)| *f == A && t.starts_with("INVITE"))
        .unwrap()
        .1
        .clone();
    let ringing = w
        .texts
        .iter()
        .find(|(f, t)| *f == B && t.starts_with("SIP/2.0 180"))
        .unwrap()
        .1
        .clone();
    let header = |m: &str, h: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix(&format!("{h}: ")))
            .unwrap()
            .to_string()
    };
    let tag = |v: String| v.split(";tag=").nth(1).unwrap().to_string();
    let body = format!(
        "<?xml version=\"1.0\"?><dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"sip:bob@{B}\">\
<dialog id=\"1\" call-id=\"{}\" local-tag=\"{}\" remote-tag=\"{}\" direction=\"recipient\"><state>early</state>\
<remote><identity>sip:alice@{A}</identity><target uri=\"sip:alice@{A}\"/></remote></dialog></dialog-info>",
        header(&invite, "Call-ID"),
        tag(header(&ringing, "To")),
        tag(header(&invite, "From")),
    );
    let dialogs = softphone::sip::dialog_info::parse(&body);
    let pickup = dialogs[0]
        .pickup(&format!("sip:bob@{B}"))
        .expect("pickable");
    let line =
        w.b.pickup_dialog(w.now, &pickup, 41_000, None)
            .expect("pickup");
    assert_eq!(line, 2);
    // A gets the INVITE with Replaces; its phone answers such a call without ringing.
    assert!(w.run(5, |w| {
        w.a_events
            .iter()
            .any(|e| matches!(e, UaEvent::Replacing { .. }))
    }));
    let replacing = w
        .a_events
        .iter()
        .find_map(|e| match e {
            UaEvent::Replacing { line } => Some(*line),
            _ => None,
        })
        .unwrap();
    w.a.answer(w.now, replacing, 30_002)
        .expect("answer the pickup");
    // The picked-up call connects; the ringing one is cancelled on both sides.
    assert!(
        w.run(10, |w| {
            let b_first_gone = w.b_events.iter().any(|e| {
                matches!(
                    e,
                    UaEvent::Call {
                        line: 1,
                        state: CallState::Terminated,
                        ..
                    }
                )
            });
            let b_pickup_up = w.b_events.iter().any(|e| {
                matches!(
                    e,
                    UaEvent::Call {
                        line: 2,
                        state: CallState::Connected,
                        ..
                    }
                )
            });
            b_first_gone && b_pickup_up
        }),
        "{:?}",
        w.b_events
    );
    let sent_replaces = w
        .texts
        .iter()
        .filter(|(f, t)| *f == B && t.starts_with("INVITE"))
        .map(|(_, t)| header(t, "Replaces"))
        .next()
        .unwrap();
    assert!(sent_replaces.ends_with(";early-only"), "{sent_replaces}");
}

#[test]
fn transferall_sends_an_answered_call_on_at_once() {
    let mut w = World::new(49);
    w.b = ua_with(B, A, "bob", 93, |c| {
        c.incoming.transfer_all = "carol".into()
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    // B answers, and its REFER to carol follows the ACK.
    assert!(w.run(10, |w| w.count_sent(B, "REFER") > 0), "{:?}", w.sent);
    let refer = w.first_sent(B, "REFER", "");
    assert!(refer.contains("Refer-To: <sip:carol@"), "{refer}");
    assert!(w.run(5, |w| {
        w.a_events
            .iter()
            .any(|e| matches!(e, UaEvent::Referred { .. }))
    }));
}

#[test]
fn checktarget_refuses_what_its_level_forbids() {
    use softphone::sip::dial_check::TargetCheck;
    let mut w = World::new(50);
    w.a = ua_with(A, B, "alice", 94, |c| {
        c.check_target = TargetCheck::OwnDomain
    });
    let e = w.a.dial(w.now, "sip:eve@203.0.113.9", 30_000).unwrap_err();
    assert!(
        e.to_string().contains("only numbers and users on 10.0.0.2"),
        "{e}"
    );
    assert!(w.a.dial(w.now, "12-3x", 30_000).is_err());
    // What passes is called.
    w.a.dial(w.now, "bob", 30_000)
        .expect("bob is on our server");
    assert!(w.run(10, connected));
}
