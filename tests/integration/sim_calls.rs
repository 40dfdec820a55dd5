//! Two real user agents calling each other directly over a simulated network (seeded loss,
//! delay, targeted drops) on a virtual clock: the dialog state machines, CANCEL, lost ACK and
//! BYE, busy lines, codec mismatch.

use crate::sim::{addr, ua_config};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use softphone::sdp::Codec;
use softphone::sip::call::CallState;
use softphone::sip::transport::{Destination, Transport};
use softphone::sip::ua::{UaEvent, UserAgent};
use std::time::{Duration, Instant};

const A: &str = "10.0.0.1:5060";
const B: &str = "10.0.0.2:5060";

fn ua(me: &str, peer: &str, user: &str, seed: u64) -> UserAgent {
    ua_with(me, peer, user, seed, |_| {})
}

fn ua_with(
    me: &str,
    peer: &str,
    user: &str,
    seed: u64,
    tweak: impl FnOnce(&mut softphone::sip::ua::UaConfig),
) -> UserAgent {
    let mut cfg = ua_config("pw");
    cfg.user = user.into();
    cfg.register = false;
    cfg.local = addr(me);
    cfg.domain = peer.into();
    cfg.first_hop = Some(Destination {
        transport: Transport::Udp,
        addr: addr(peer),
    });
    tweak(&mut cfg);
    UserAgent::new(cfg, seed)
}

mod forward;
mod hold;
mod offer_answer;
mod pager;
mod prack;
mod presence;
mod session_timer;
mod transfer;
use hold::hold_state;

struct World {
    t0: Instant,
    now: Instant,
    rng: StdRng,
    loss: f64,
    /// Drops the first datagram whose text starts with this (once).
    drop_once: Option<&'static str>,
    /// Drops every datagram whose text starts with this.
    drop_always: Option<&'static str>,
    flights: Vec<(Instant, u64, SocketPair, Vec<u8>)>,
    seq: u64,
    a: UserAgent,
    b: UserAgent,
    a_events: Vec<UaEvent>,
    b_events: Vec<UaEvent>,
    /// B answers incoming calls at once.
    b_answers: bool,
    sent: Vec<(Duration, &'static str, String)>,
    /// Every datagram sent, in full: (sender, text).
    texts: Vec<(&'static str, String)>,
}

type SocketPair = (&'static str, &'static str);

impl World {
    fn new(seed: u64) -> World {
        let t0 = Instant::now();
        World {
            t0,
            now: t0,
            rng: StdRng::seed_from_u64(seed),
            loss: 0.0,
            drop_once: None,
            drop_always: None,
            flights: Vec::new(),
            seq: 0,
            a: ua(A, B, "alice", seed * 2 + 1),
            b: ua(B, A, "bob", seed * 2 + 2),
            a_events: Vec::new(),
            b_events: Vec::new(),
            b_answers: true,
            sent: Vec::new(),
            texts: Vec::new(),
        }
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                self.send(A, t.dest.addr, t.bytes);
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                self.send(B, t.dest.addr, t.bytes);
            }
            while let Some(e) = self.a.poll_event() {
                moved = true;
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                moved = true;
                if let UaEvent::Call {
                    line,
                    state: CallState::Incoming,
                    ..
                } = &e
                    && self.b_answers
                {
                    let _ = self.b.answer(self.now, *line, 40_000);
                }
                self.b_events.push(e);
            }
            if !moved {
                return;
            }
        }
    }

    fn send(&mut self, from: &'static str, to: std::net::SocketAddr, bytes: Vec<u8>) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let first = text.lines().next().unwrap_or("").to_string();
        self.sent.push((self.now - self.t0, from, first));
        self.texts.push((from, text.clone()));
        if let Some(prefix) = self.drop_once
            && text.starts_with(prefix)
        {
            self.drop_once = None;
            return;
        }
        if self.drop_always.is_some_and(|p| text.starts_with(p)) || self.rng.random_bool(self.loss)
        {
            return;
        }
        let to = if to == addr(A) { A } else { B };
        self.seq += 1;
        let delay = Duration::from_millis(self.rng.random_range(5..60));
        self.flights
            .push((self.now + delay, self.seq, (from, to), bytes));
    }

    /// Runs until `done` or `secs` of virtual time.
    fn run(&mut self, secs: u64, done: impl Fn(&World) -> bool) -> bool {
        let limit = self.now + Duration::from_secs(secs);
        loop {
            self.pump();
            if done(self) {
                return true;
            }
            let next_flight = self.flights.iter().map(|f| (f.0, f.1)).min();
            let next_timer = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let next = [next_flight.map(|f| f.0), next_timer]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|n| *n <= limit) else {
                return done(self);
            };
            self.now = self.now.max(next);
            if let Some((at, seq)) = next_flight
                && at <= self.now
            {
                let i = self
                    .flights
                    .iter()
                    .position(|f| f.1 == seq)
                    .expect("flight");
                let (_, _, (from, to), bytes) = self.flights.remove(i);
                let src = Destination {
                    transport: Transport::Udp,
                    addr: addr(from),
                };
                let target = if to == A { &mut self.a } else { &mut self.b };
                target.handle_datagram(self.now, src, &bytes);
            }
            if next_timer.is_some_and(|t| t <= self.now) {
                self.a.handle_timeout(self.now);
                self.b.handle_timeout(self.now);
            }
        }
    }

    /// How many datagrams `from` sent whose text starts with `start`.
    fn count_sent(&self, from: &str, start: &str) -> usize {
        self.texts
            .iter()
            .filter(|(f, t)| *f == from && t.starts_with(start))
            .count()
    }

    /// The first datagram `from` sent that starts with `start` and contains `with`.
    fn first_sent(&self, from: &str, start: &str, with: &str) -> String {
        self.texts
            .iter()
            .find(|(f, t)| *f == from && t.starts_with(start) && t.contains(with))
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("{from} sent no {start} with {with:?}"))
    }

    fn last_state(events: &[UaEvent]) -> Option<(CallState, String)> {
        events.iter().rev().find_map(|e| match e {
            UaEvent::Call { state, reason, .. } => Some((*state, reason.clone())),
            _ => None,
        })
    }

    fn media(events: &[UaEvent]) -> Option<softphone::sdp::Negotiated> {
        events.iter().rev().find_map(|e| match e {
            UaEvent::Media { negotiated, .. } => Some(negotiated.clone()),
            _ => None,
        })?
    }
}

fn connected(w: &World) -> bool {
    matches!(
        World::last_state(&w.a_events),
        Some((CallState::Connected, _))
    ) && matches!(
        World::last_state(&w.b_events),
        Some((CallState::Connected, _))
    )
}

fn both_ended(w: &World) -> bool {
    matches!(
        World::last_state(&w.a_events),
        Some((CallState::Terminated, _))
    ) && matches!(
        World::last_state(&w.b_events),
        Some((CallState::Terminated, _))
    )
}

#[test]
fn call_and_hangup_through_30_percent_loss() {
    for seed in 1..=20 {
        let mut w = World::new(seed);
        w.loss = 0.3;
        let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
        assert!(
            w.run(120, connected),
            "seed {seed}: a {:?}\nb {:?}",
            w.a_events,
            w.b_events
        );
        // Each side sends RTP to the other's SDP port, with the same codec.
        let (ma, mb) = (
            World::media(&w.a_events).expect("a media"),
            World::media(&w.b_events).expect("b media"),
        );
        assert_eq!(ma.remote, addr("10.0.0.2:40000"), "seed {seed}");
        assert_eq!(mb.remote.port(), 30_000);
        assert_eq!(ma.codec, mb.codec);
        w.a.hangup(w.now, line).expect("hangup");
        assert!(
            w.run(120, both_ended),
            "seed {seed}: a {:?}\nb {:?}",
            w.a_events,
            w.b_events
        );
        assert_eq!(
            World::last_state(&w.b_events).map(|s| s.1),
            Some("remote hung up".into())
        );
        assert_eq!(World::media(&w.a_events), None, "media stopped");
    }
}

#[test]
fn cancel_while_ringing() {
    let mut w = World::new(3);
    w.b_answers = false;
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, |w| matches!(
        World::last_state(&w.a_events),
        Some((CallState::Ringing, _))
    )));
    w.a.hangup(w.now, line).expect("cancel");
    assert!(
        w.run(40, both_ended),
        "a {:?}\nb {:?}",
        w.a_events,
        w.b_events
    );
    assert_eq!(
        World::last_state(&w.b_events).map(|s| s.1),
        Some("caller cancelled".into())
    );
    assert_eq!(
        World::last_state(&w.a_events).map(|s| s.1),
        Some("cancelled".into())
    );
    assert!(
        w.sent
            .iter()
            .any(|(_, from, l)| *from == B && l.starts_with("SIP/2.0 487"))
    );
}

#[test]
fn hangup_before_any_provisional_waits_to_cancel() {
    let mut w = World::new(4);
    w.b_answers = false;
    // The INVITE and its first retransmissions are lost: no 1xx yet when the user hangs up.
    w.loss = 1.0;
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    w.a.hangup(w.now, line).expect("hangup");
    w.pump();
    assert!(
        !w.sent.iter().any(|(_, _, l)| l.starts_with("CANCEL")),
        "no CANCEL before a 1xx"
    );
    w.loss = 0.0;
    assert!(
        w.run(40, both_ended),
        "a {:?}\nb {:?}",
        w.a_events,
        w.b_events
    );
    assert!(
        w.sent
            .iter()
            .any(|(_, from, l)| *from == A && l.starts_with("CANCEL"))
    );
}

#[test]
fn lost_ack_is_recovered_by_2xx_retransmission() {
    let mut w = World::new(5);
    w.drop_once = Some("ACK ");
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(
        w.run(20, connected),
        "a {:?}\nb {:?}",
        w.a_events,
        w.b_events
    );
    let oks = w
        .sent
        .iter()
        .filter(|(_, from, l)| *from == B && l.starts_with("SIP/2.0 200"))
        .count();
    let acks = w
        .sent
        .iter()
        .filter(|(_, from, l)| *from == A && l.starts_with("ACK"))
        .count();
    assert!(
        oks >= 2 && acks >= 2,
        "200 retransmitted ({oks}) and ACK repeated ({acks})"
    );
}

#[test]
fn lost_bye_is_retransmitted() {
    let mut w = World::new(6);
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(20, connected));
    w.drop_once = Some("BYE ");
    w.a.hangup(w.now, line).expect("hangup");
    assert!(
        w.run(20, both_ended),
        "a {:?}\nb {:?}",
        w.a_events,
        w.b_events
    );
    let byes: Vec<Duration> = w
        .sent
        .iter()
        .filter(|(_, from, l)| *from == A && l.starts_with("BYE"))
        .map(|(t, _, _)| *t)
        .collect();
    assert_eq!(byes.len(), 2);
    assert_eq!(
        byes[1] - byes[0],
        Duration::from_millis(500),
        "timer E = T1"
    );
}

#[test]
fn busy_when_all_lines_are_taken_and_488_without_common_codec() {
    let mut w = World::new(7);
    // Bob has one line, already ringing.
    let mut cfg_b = ua_config("pw");
    cfg_b.user = "bob".into();
    cfg_b.register = false;
    cfg_b.local = addr(B);
    cfg_b.domain = A.into();
    cfg_b.max_lines = 1;
    cfg_b.first_hop = Some(Destination {
        transport: Transport::Udp,
        addr: addr(A),
    });
    w.b = UserAgent::new(cfg_b.clone(), 99);
    w.b_answers = false;
    w.a.dial(w.now, "bob", 30_000).expect("first");
    assert!(w.run(5, |w| matches!(
        World::last_state(&w.a_events),
        Some((CallState::Ringing, _))
    )));
    w.a.dial(w.now, "bob", 30_002).expect("second");
    assert!(w.run(5, |w| w.a_events.iter().any(|e| matches!(e, UaEvent::Call { line: 2, state: CallState::Terminated, reason, .. } if reason == "486 Busy Here"))), "{:?}", w.a_events);
    // A peer that only accepts A-law, called with μ-law only: 488.
    let mut w = World::new(8);
    cfg_b.max_lines = 4;
    cfg_b.media.accept = vec![Codec::Pcma];
    cfg_b.media.offer = vec![Codec::Pcma];
    w.b = UserAgent::new(cfg_b, 100);
    let mut cfg_a = ua_config("pw");
    cfg_a.user = "alice".into();
    cfg_a.register = false;
    cfg_a.local = addr(A);
    cfg_a.domain = B.into();
    cfg_a.first_hop = Some(Destination {
        transport: Transport::Udp,
        addr: addr(B),
    });
    cfg_a.media.offer = vec![Codec::Pcmu];
    cfg_a.media.accept = vec![Codec::Pcmu];
    w.a = UserAgent::new(cfg_a, 101);
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, |w| matches!(
        World::last_state(&w.a_events),
        Some((CallState::Terminated, _))
    )));
    assert_eq!(
        World::last_state(&w.a_events).map(|s| s.1),
        Some("488 Not Acceptable Here".into())
    );
}

#[test]
fn bad_dial_targets_are_refused_clearly() {
    let mut w = World::new(9);
    assert!(w.a.dial(w.now, "", 1).is_err());
    assert!(w.a.dial(w.now, "http://example.com/", 1).is_err());
    assert_eq!(
        w.a.dial_target("tel:+36-1-2345").expect("tel").to_string(),
        format!("sip:+3612345@{B}")
    );
    assert_eq!(
        w.a.dial_target("callto:1002").expect("callto").to_string(),
        format!("sip:1002@{B}")
    );
    assert!(w.a.dial(w.now, "sip:bob@exa mple.com", 1).is_err());
    let uri =
        w.a.dial_target("+36 (1) 234-5678")
            .expect("number with separators");
    assert_eq!(uri.to_string(), format!("sip:+3612345678@{B}"));
    assert_eq!(
        w.a.dial_target("bob@pbx.example.com")
            .expect("user@host")
            .to_string(),
        "sip:bob@pbx.example.com"
    );
}

fn ended_with(events: &[UaEvent]) -> Option<String> {
    match World::last_state(events) {
        Some((CallState::Terminated, reason)) => Some(reason),
        _ => None,
    }
}

/// Timer B guards only an INVITE nobody answered at all: a call that rings for a minute is
/// still ringing, and answered then it connects.
#[test]
fn a_call_may_ring_longer_than_timer_b() {
    let mut w = World::new(14);
    w.b_answers = false;
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    w.run(60, |_| false);
    assert!(
        matches!(
            World::last_state(&w.a_events),
            Some((CallState::Ringing, _))
        ),
        "{:?}",
        w.a_events
    );
    w.b.answer(w.now, 1, 40_000).expect("answer");
    assert!(w.run(10, connected));
}

#[test]
fn ring_timeout_ends_unanswered_calls_both_ways() {
    // The caller gives up after its ringtimeout (CANCEL)...
    let mut w = World::new(12);
    w.b_answers = false;
    w.a = ua_with(A, B, "alice", 1200, |c| {
        c.ring_timeout = Duration::from_secs(5)
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(20, |w| ended_with(&w.a_events).is_some()));
    assert_eq!(
        ended_with(&w.a_events).as_deref(),
        Some("no answer (ringtimeout)")
    );
    assert!(w.run(5, |w| ended_with(&w.b_events).is_some()));
    let cancel_at = w
        .sent
        .iter()
        .find(|(_, _, l)| l.starts_with("CANCEL"))
        .map(|(t, _, _)| *t);
    assert_eq!(cancel_at, Some(Duration::from_secs(5)));
    // ...and the callee stops ringing after its own (480 to the caller).
    let mut w = World::new(13);
    w.b_answers = false;
    w.b = ua_with(B, A, "bob", 1300, |c| {
        c.ring_timeout = Duration::from_secs(3)
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(20, |w| ended_with(&w.a_events).is_some()));
    assert_eq!(
        ended_with(&w.a_events).as_deref(),
        Some("480 Temporarily Unavailable")
    );
    assert_eq!(
        ended_with(&w.b_events).as_deref(),
        Some("not answered (ringtimeout)")
    );
}

#[test]
fn call_timeout_hangs_up_long_calls() {
    let mut w = World::new(14);
    w.a = ua_with(A, B, "alice", 1400, |c| {
        c.call_timeout = Duration::from_secs(60)
    });
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    // The limit counts from the caller's Connected (its 200 OK), not the callee's ACK.
    assert!(w.run(10, |w| matches!(
        World::last_state(&w.a_events),
        Some((CallState::Connected, _))
    )));
    let connected_at = w.now;
    assert!(w.run(120, both_ended));
    assert_eq!(
        ended_with(&w.a_events).as_deref(),
        Some("call time limit (calltimeout)")
    );
    let bye_at = w
        .sent
        .iter()
        .find(|(_, _, l)| l.starts_with("BYE"))
        .map(|(t, _, _)| *t)
        .expect("bye");
    let elapsed = (w.t0 + bye_at) - connected_at;
    assert_eq!(elapsed, Duration::from_secs(60));
}

#[test]
fn redial_and_dial_prefix() {
    let mut w = World::new(15);
    assert!(
        w.a.dial(w.now, "", 30_000).is_err(),
        "nothing to redial yet"
    );
    let line = w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    w.a.hangup(w.now, line).expect("hangup");
    assert!(w.run(10, both_ended));
    w.a.dial(w.now, " ", 30_002).expect("redial");
    assert!(w.run(10, connected));
    let invites: Vec<&String> = w
        .sent
        .iter()
        .filter(|(_, f, l)| *f == A && l.starts_with("INVITE"))
        .map(|(_, _, l)| l)
        .collect();
    assert_eq!(invites.first(), invites.last(), "the same target twice");
    // The prefix goes before numbers, not before names or URIs.
    let p = ua_with(A, B, "alice", 1500, |c| c.prefix = "9".into());
    assert_eq!(
        p.dial_target("0612345").expect("number").to_string(),
        format!("sip:90612345@{B}")
    );
    assert_eq!(
        p.dial_target("bob").expect("name").to_string(),
        format!("sip:bob@{B}")
    );
    assert_eq!(
        p.dial_target("sip:1234@host").expect("uri").to_string(),
        "sip:1234@host"
    );
}

#[test]
fn reject_on_busy_answers_486_while_a_call_is_up() {
    let mut w = World::new(16);
    w.b = ua_with(B, A, "bob", 1600, |c| c.reject_on_busy = true);
    w.a.dial(w.now, "bob", 30_000).expect("first");
    assert!(w.run(10, connected));
    w.a.dial(w.now, "bob", 30_002).expect("second");
    assert!(w.run(10, |w| w.a_events.iter().any(|e| matches!(e, UaEvent::Call { line: 2, state: CallState::Terminated, reason, .. } if reason == "486 Busy Here"))));
    // Without a call up, the same phone takes calls again.
    w.a.hangup(w.now, 1).expect("hangup");
    assert!(w.run(10, |w| {
        World::last_state(&w.b_events).is_some_and(|s| s.0 == CallState::Terminated)
    }));
    w.a.dial(w.now, "bob", 30_004).expect("third");
    assert!(w.run(10, |w| {
        w.b_events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    UaEvent::Call {
                        state: CallState::Connected,
                        ..
                    }
                )
            })
            .count()
            == 2
    }));
}

/// B's 200 OK to A's INVITE, as sent.
fn ok_to_invite(w: &World) -> String {
    w.texts
        .iter()
        .find(|(f, t)| *f == B && t.starts_with("SIP/2.0 200") && t.contains(" INVITE\r\n"))
        .map(|(_, t)| t.clone())
        .expect("200 to INVITE")
}

/// The value of header `name` in a message text.
fn header<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_default()
}

#[test]
fn update_with_sendonly_holds_us() {
    let mut w = World::new(17);
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    // B's 200 OK to A's INVITE gives the dialog: B's To (with tag) is the UPDATE's From.
    let ok = ok_to_invite(&w);
    let sdp = "v=0\r\no=- 9 9 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendonly\r\n";
    let update = format!(
        "UPDATE sip:alice@{A} SIP/2.0\r\nVia: SIP/2.0/UDP {B};branch=z9hG4bKupd1;rport\r\nMax-Forwards: 70\r\n\
From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 900 UPDATE\r\nContact: <sip:bob@{B}>\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        header(&ok, "To"),
        header(&ok, "From"),
        header(&ok, "Call-ID"),
        sdp.len()
    );
    let src = Destination {
        transport: Transport::Udp,
        addr: addr(B),
    };
    w.a.handle_datagram(w.now, src, update.as_bytes());
    w.pump();
    let answer = w
        .texts
        .iter()
        .rev()
        .find(|(f, t)| *f == A && t.contains(" UPDATE\r\n"))
        .map(|(_, t)| t.clone())
        .expect("answer");
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    assert!(answer.contains("a=recvonly"), "{answer}");
    assert_eq!(
        hold_state(&w.a_events),
        Some((false, true)),
        "A knows it is held"
    );
    // An UPDATE for a dialog that does not exist: 481.
    let stray = update
        .replace(header(&ok, "Call-ID"), "no-such-call")
        .replace("z9hG4bKupd1", "z9hG4bKupd2");
    w.a.handle_datagram(w.now, src, stray.as_bytes());
    w.pump();
    assert!(
        w.sent
            .iter()
            .any(|(_, f, l)| *f == A && l.starts_with("SIP/2.0 481"))
    );
}

#[test]
fn a_second_fork_answering_is_acked_and_hung_up() {
    let mut w = World::new(18);
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(10, connected));
    // The same 200 OK as if a second phone of Bob's answered too (another To tag).
    let ok = ok_to_invite(&w);
    let to = header(&ok, "To");
    let tag_at = to.find(";tag=").expect("tag");
    let fork = ok.replace(to, &format!("{};tag=otherfork", &to[..tag_at]));
    let src = Destination {
        transport: Transport::Udp,
        addr: addr(B),
    };
    w.a.handle_datagram(w.now, src, fork.as_bytes());
    w.pump();
    let acked = w
        .texts
        .iter()
        .any(|(f, t)| *f == A && t.starts_with("ACK ") && t.contains("tag=otherfork"));
    let byed = w
        .texts
        .iter()
        .any(|(f, t)| *f == A && t.starts_with("BYE ") && t.contains("tag=otherfork"));
    assert!(
        acked && byed,
        "the fork is ACKed ({acked}) and hung up ({byed})"
    );
    // The call that won goes on.
    assert!(matches!(
        World::last_state(&w.a_events),
        Some((CallState::Connected, _))
    ));
}

#[test]
fn no_ack_for_our_answer_ends_the_call_after_64_t1() {
    let mut w = World::new(19);
    w.drop_always = Some("ACK ");
    w.a.dial(w.now, "bob", 30_000).expect("dial");
    assert!(w.run(5, |w| matches!(
        World::last_state(&w.b_events),
        Some((CallState::Connecting, _))
    )));
    let answered = w.now;
    assert!(w.run(60, |w| {
        World::last_state(&w.b_events).is_some_and(|s| s.0 != CallState::Connecting)
    }));
    let oks = w
        .sent
        .iter()
        .filter(|(_, f, l)| *f == B && l.starts_with("SIP/2.0 200"))
        .count();
    assert!(
        oks >= 7,
        "the 200 was retransmitted (T1 doubling to T2): {oks}"
    );
    let bye = w
        .sent
        .iter()
        .find(|(_, f, l)| *f == B && l.starts_with("BYE"))
        .map(|(t, _, _)| *t)
        .expect("BYE");
    assert_eq!((w.t0 + bye) - answered, Duration::from_secs(32), "64*T1");
    assert!(w.run(10, |w| ended_with(&w.b_events).is_some()));
    assert_eq!(
        ended_with(&w.b_events).as_deref(),
        Some("no ACK for our answer")
    );
}
