//! The four RFC 3261 §17 transactions through the transaction layer, on a virtual clock: every
//! timer's schedule, ACK generation, absorption of retransmissions, RFC 2543 matching, CANCEL
//! and merged-request detection.

use softphone::sip::builder::response_to;
use softphone::sip::message::SipMessage;
use softphone::sip::parse::parse_message;
use softphone::sip::transaction::timers::TimerConfig;
use softphone::sip::transaction::{LayerEvent, TransactionLayer, TxKey, response_destination};
use softphone::sip::transport::{Destination, Transport};
use std::time::{Duration, Instant};

fn dest(transport: Transport) -> Destination {
    Destination {
        transport,
        addr: "127.0.0.1:5060".parse().expect("addr"),
    }
}

fn msg(text: &str) -> SipMessage {
    parse_message(text.replace('\n', "\r\n").as_bytes()).expect("test message parses")
}

fn request(method: &str, branch: &str, extra: &str) -> SipMessage {
    let via_branch = if branch.is_empty() {
        String::new()
    } else {
        format!(";branch={branch}")
    };
    msg(&format!(
        "{method} sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5060{via_branch}\nMax-Forwards: 70\n\
From: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>{extra}\nCall-ID: call-1\nCSeq: 1 {method}\n\
Content-Length: 0\n\n"
    ))
}

/// Runs the layer's timers until it is idle or `limit` passes; records (seconds, first line)
/// of every transmit and every event.
struct Run {
    t0: Instant,
    now: Instant,
    sent: Vec<(f64, String)>,
    events: Vec<(f64, LayerEvent)>,
}

impl Run {
    fn new() -> Run {
        let t0 = Instant::now();
        Run {
            t0,
            now: t0,
            sent: Vec::new(),
            events: Vec::new(),
        }
    }
    fn at(&self) -> f64 {
        (self.now - self.t0).as_secs_f64()
    }
    fn drain(&mut self, layer: &mut TransactionLayer) {
        while let Some(t) = layer.poll_transmit() {
            let first = String::from_utf8_lossy(&t.bytes)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            self.sent.push((self.at(), first));
        }
        while let Some(e) = layer.poll_event() {
            self.events.push((self.at(), e));
        }
    }
    fn advance(&mut self, layer: &mut TransactionLayer, limit: f64) {
        self.drain(layer);
        while let Some(d) = layer.poll_timeout() {
            if (d - self.t0).as_secs_f64() > limit {
                break;
            }
            self.now = self.now.max(d);
            layer.on_timeout(self.now);
            self.drain(layer);
        }
    }
    fn sent_times(&self, first_line_prefix: &str) -> Vec<f64> {
        self.sent
            .iter()
            .filter(|(_, l)| l.starts_with(first_line_prefix))
            .map(|(t, _)| *t)
            .collect()
    }
    fn event_time(&self, pred: impl Fn(&LayerEvent) -> bool) -> Option<f64> {
        self.events.iter().find(|(_, e)| pred(e)).map(|(t, _)| *t)
    }
}

#[test]
fn invite_client_timer_a_doubles_until_timer_b() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    layer
        .send_request(
            run.now,
            request("INVITE", "z9hG4bKa", ""),
            dest(Transport::Udp),
        )
        .expect("send");
    run.advance(&mut layer, 100.0);
    assert_eq!(
        run.sent_times("INVITE"),
        vec![0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    );
    assert_eq!(
        run.event_time(|e| matches!(e, LayerEvent::Timeout { .. })),
        Some(32.0)
    );
    assert!(layer.is_empty());
}

#[test]
fn invite_client_acks_non_2xx_and_absorbs_retransmissions() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    let invite = request("INVITE", "z9hG4bKb", "");
    layer
        .send_request(run.now, invite.clone(), dest(Transport::Udp))
        .expect("send");
    run.drain(&mut layer);
    let busy = response_to(&invite, 486, None, Some("bobtag"));
    let src = dest(Transport::Udp);
    layer.on_message(run.now, busy.clone(), src);
    run.drain(&mut layer);
    assert_eq!(run.sent_times("ACK"), vec![0.0]);
    // The ACK: same branch and Request-URI, CSeq 1 ACK, To with the response's tag.
    let ack_bytes = {
        let mut l2 = TransactionLayer::new(TimerConfig::default());
        l2.send_request(run.now, invite.clone(), src).expect("send");
        l2.on_message(run.now, busy.clone(), src);
        let mut last = None;
        while let Some(t) = l2.poll_transmit() {
            last = Some(t.bytes);
        }
        String::from_utf8(last.expect("ack")).expect("utf8")
    };
    assert!(ack_bytes.starts_with("ACK sip:bob@example.com SIP/2.0\r\n"));
    assert!(ack_bytes.contains(";branch=z9hG4bKb"));
    assert!(ack_bytes.contains("CSeq: 1 ACK\r\n"));
    assert!(ack_bytes.contains("To: <sip:bob@example.com>;tag=bobtag\r\n"));
    // The response reached the TU once; a retransmitted 486 gets the ACK again, not the TU.
    layer.on_message(run.now, busy, src);
    run.drain(&mut layer);
    assert_eq!(run.sent_times("ACK"), vec![0.0, 0.0]);
    let responses = run
        .events
        .iter()
        .filter(|(_, e)| matches!(e, LayerEvent::Response { .. }))
        .count();
    assert_eq!(responses, 1);
    // Timer D (32 s over UDP) ends it.
    run.advance(&mut layer, 100.0);
    assert_eq!(
        run.event_time(|e| matches!(e, LayerEvent::Terminated { .. })),
        Some(32.0)
    );
}

#[test]
fn invite_client_passes_every_2xx_to_the_tu() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    let invite = request("INVITE", "z9hG4bKc", "");
    layer
        .send_request(run.now, invite.clone(), dest(Transport::Udp))
        .expect("send");
    let ok = response_to(&invite, 200, None, Some("b1"));
    let fork = response_to(&invite, 200, None, Some("b2"));
    layer.on_message(run.now, ok, dest(Transport::Udp));
    layer.on_message(run.now, fork, dest(Transport::Udp));
    run.advance(&mut layer, 100.0);
    let oks = run
        .events
        .iter()
        .filter(|(_, e)| matches!(e, LayerEvent::Response { .. }))
        .count();
    assert_eq!(oks, 2, "RFC 6026: forked 2xx reach the TU");
    assert_eq!(
        run.sent_times("ACK"),
        Vec::<f64>::new(),
        "the TU ACKs a 2xx, not the transaction"
    );
    assert_eq!(
        run.event_time(|e| matches!(e, LayerEvent::Terminated { .. })),
        Some(32.0)
    );
}

#[test]
fn non_invite_client_over_tcp_never_retransmits() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    let options = request("OPTIONS", "z9hG4bKd", "");
    layer
        .send_request(run.now, options.clone(), dest(Transport::Tcp))
        .expect("send");
    run.advance(&mut layer, 100.0);
    assert_eq!(run.sent_times("OPTIONS"), vec![0.0]);
    assert_eq!(
        run.event_time(|e| matches!(e, LayerEvent::Timeout { .. })),
        Some(32.0)
    );
    // With a response, timer K is zero on a reliable transport.
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    layer
        .send_request(run.now, options.clone(), dest(Transport::Tcp))
        .expect("send");
    layer.on_message(
        run.now,
        response_to(&options, 200, None, Some("x")),
        dest(Transport::Tcp),
    );
    run.advance(&mut layer, 100.0);
    assert_eq!(
        run.event_time(|e| matches!(e, LayerEvent::Terminated { .. })),
        Some(0.0)
    );
}

#[test]
fn non_invite_client_timer_k_is_t4_over_udp_and_provisional_caps_e_at_t2() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    let reg = request("REGISTER", "z9hG4bKe", "");
    layer
        .send_request(run.now, reg.clone(), dest(Transport::Udp))
        .expect("send");
    run.advance(&mut layer, 1.0); // sent at 0 and 0.5
    layer.on_message(
        run.now,
        response_to(&reg, 100, None, None),
        dest(Transport::Udp),
    );
    run.advance(&mut layer, 10.0);
    // In Proceeding, E fires every T2 = 4 s.
    assert_eq!(run.sent_times("REGISTER"), vec![0.0, 0.5, 1.5, 5.5, 9.5]);
    layer.on_message(
        run.now,
        response_to(&reg, 200, None, Some("t")),
        dest(Transport::Udp),
    );
    let done = run.at();
    run.advance(&mut layer, 100.0);
    let term = run
        .event_time(|e| matches!(e, LayerEvent::Terminated { .. }))
        .expect("terminated");
    assert!((term - done - 5.0).abs() < 1e-9, "timer K = T4");
}

#[test]
fn invite_server_100_trying_timer_g_and_h() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    let invite = request("INVITE", "z9hG4bKf", "");
    layer.on_message(run.now, invite.clone(), dest(Transport::Udp));
    run.drain(&mut layer);
    assert_eq!(
        run.sent_times("SIP/2.0 100"),
        vec![0.0],
        "100 Trying at once"
    );
    let key = match &run.events[0].1 {
        LayerEvent::Request { key, .. } => key.clone(),
        e => panic!("{e:?}"),
    };
    // A retransmitted INVITE gets the last response again, not a new Request event.
    layer.on_message(run.now, invite.clone(), dest(Transport::Udp));
    run.drain(&mut layer);
    assert_eq!(run.sent_times("SIP/2.0 100").len(), 2);
    assert_eq!(run.events.len(), 1);
    layer
        .send_response(run.now, &key, &response_to(&invite, 486, None, Some("me")))
        .expect("respond");
    run.advance(&mut layer, 100.0);
    // Timer G: T1 doubling, capped at T2, until timer H = 64*T1 without an ACK.
    assert_eq!(
        run.sent_times("SIP/2.0 486"),
        vec![0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert_eq!(
        run.event_time(|e| matches!(e, LayerEvent::Timeout { .. })),
        Some(32.0)
    );
}

#[test]
fn invite_server_ack_stops_retransmission_and_timer_i_ends_it() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    let invite = request("INVITE", "z9hG4bKg", "");
    layer.on_message(run.now, invite.clone(), dest(Transport::Udp));
    run.drain(&mut layer);
    let key = match &run.events[0].1 {
        LayerEvent::Request { key, .. } => key.clone(),
        e => panic!("{e:?}"),
    };
    layer
        .send_response(run.now, &key, &response_to(&invite, 603, None, Some("me")))
        .expect("respond");
    run.advance(&mut layer, 1.0); // 603 at 0 and 0.5
    let ack = request("ACK", "z9hG4bKg", ";tag=me");
    layer.on_message(run.now, ack, dest(Transport::Udp));
    let acked = run.at();
    run.advance(&mut layer, 100.0);
    assert_eq!(run.sent_times("SIP/2.0 603"), vec![0.0, 0.5]);
    let end = run
        .event_time(|e| matches!(e, LayerEvent::Terminated { .. }))
        .expect("terminated");
    assert!((end - acked - 5.0).abs() < 1e-9, "timer I = T4");
    assert!(
        run.event_time(|e| matches!(e, LayerEvent::Ack { .. }))
            .is_none(),
        "ACK absorbed"
    );
}

#[test]
fn non_invite_server_repeats_final_until_timer_j() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    let options = request("OPTIONS", "z9hG4bKh", "");
    layer.on_message(run.now, options.clone(), dest(Transport::Udp));
    run.drain(&mut layer);
    let key = match &run.events[0].1 {
        LayerEvent::Request { key, .. } => key.clone(),
        e => panic!("{e:?}"),
    };
    // Retransmission before the TU answered: absorbed silently.
    layer.on_message(run.now, options.clone(), dest(Transport::Udp));
    run.drain(&mut layer);
    assert!(run.sent.is_empty());
    layer
        .send_response(run.now, &key, &response_to(&options, 200, None, Some("me")))
        .expect("respond");
    layer.on_message(run.now, options, dest(Transport::Udp));
    run.advance(&mut layer, 100.0);
    assert_eq!(run.sent_times("SIP/2.0 200"), vec![0.0, 0.0]);
    assert_eq!(
        run.event_time(|e| matches!(e, LayerEvent::Terminated { .. })),
        Some(32.0)
    );
}

#[test]
fn rfc2543_requests_match_without_branch() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    let invite = request("INVITE", "", "");
    layer.on_message(run.now, invite.clone(), dest(Transport::Udp));
    layer.on_message(run.now, invite.clone(), dest(Transport::Udp));
    run.drain(&mut layer);
    let requests: Vec<TxKey> = run
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            LayerEvent::Request { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        requests.len(),
        1,
        "retransmission matched by the 2543 rules"
    );
    layer
        .send_response(
            run.now,
            &requests[0],
            &response_to(&invite, 486, None, Some("me")),
        )
        .expect("respond");
    // The ACK carries our To tag but still matches the INVITE transaction.
    layer.on_message(run.now, request("ACK", "", ";tag=me"), dest(Transport::Udp));
    run.advance(&mut layer, 100.0);
    assert!(
        run.event_time(|e| matches!(e, LayerEvent::Ack { .. }))
            .is_none()
    );
    assert_eq!(
        run.sent_times("SIP/2.0 486").len(),
        1,
        "ACK stopped timer G"
    );
}

#[test]
fn cancel_finds_its_invite_and_merged_requests_are_detected() {
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut run = Run::new();
    let invite = request("INVITE", "z9hG4bKi", "");
    layer.on_message(run.now, invite.clone(), dest(Transport::Udp));
    layer.on_message(
        run.now,
        request("CANCEL", "z9hG4bKi", ""),
        dest(Transport::Udp),
    );
    run.drain(&mut layer);
    let keys = |run: &Run| -> Vec<TxKey> {
        run.events
            .iter()
            .filter_map(|(_, e)| match e {
                LayerEvent::Request { key, .. } => Some(key.clone()),
                _ => None,
            })
            .collect()
    };
    let k = keys(&run);
    assert_eq!(k.len(), 2);
    assert_eq!(layer.invite_for_cancel(&k[1]), Some(k[0].clone()));
    assert!(
        !layer.is_merged_request(&invite, &k[0]),
        "alone, it is not merged"
    );
    // The same request again by another path (new branch): merged.
    let merged = request("INVITE", "z9hG4bKj", "");
    layer.on_message(run.now, merged.clone(), dest(Transport::Udp));
    run.drain(&mut layer);
    let k = keys(&run);
    assert!(layer.is_merged_request(&merged, &k[2]));
    // A CANCEL with an unknown branch has no INVITE.
    layer.on_message(
        run.now,
        request("CANCEL", "z9hG4bKzz", ""),
        dest(Transport::Udp),
    );
    run.drain(&mut layer);
    assert_eq!(layer.invite_for_cancel(&keys(&run)[3]), None);
}

#[test]
fn responses_go_where_rfc_3581_says() {
    let via = |s: &str| softphone::sip::headers::Via::parse(s).expect("via");
    let src = Destination {
        transport: Transport::Udp,
        addr: "203.0.113.9:41000".parse().expect("addr"),
    };
    let d = response_destination(&via("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1"), src);
    assert_eq!(
        d.addr,
        "203.0.113.9:5062"
            .parse::<std::net::SocketAddr>()
            .expect("addr")
    );
    let d = response_destination(&via("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1;rport"), src);
    assert_eq!(d.addr, src.addr);
    let tcp = Destination {
        transport: Transport::Tcp,
        ..src
    };
    assert_eq!(
        response_destination(&via("SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1"), tcp),
        tcp
    );
}

#[test]
fn timers_scale_with_the_timer_parameter() {
    let t = TimerConfig::scaled(5);
    assert_eq!(t.t1, Duration::from_millis(250));
    assert_eq!(t.t2, Duration::from_secs(2));
    assert_eq!(t.t4, Duration::from_millis(2500));
    assert_eq!(TimerConfig::scaled(10), TimerConfig::default());
}
