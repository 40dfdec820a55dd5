//! Parse + transaction match of a typical INVITE and of a 200 OK, against rsip's raw parse of
//! the same bytes. Reported as messages per second on one core by criterion's throughput.

// Benchmarks and tests may unwrap (a failure there is a failed run, not bad input), and their
// helpers are pub for the modules of this one crate.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use softphone::sip::parse::parse_message;
use softphone::sip::transaction::timers::TimerConfig;
use softphone::sip::transaction::{TransactionLayer, client_key, server_key};
use softphone::sip::transport::{Destination, Transport};
use std::hint::black_box;
use std::time::Instant;

const INVITE: &str = "INVITE sip:1002@pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKnashds8;rport\r\n\
Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK77ef4c2312983.1\r\n\
Max-Forwards: 69\r\n\
Record-Route: <sip:pbx.example.com;lr>\r\n\
From: \"Front Desk\" <sip:1001@pbx.example.com>;tag=1928301774\r\n\
To: <sip:1002@pbx.example.com>\r\n\
Call-ID: a84b4c76e66710@192.0.2.10\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:1001@192.0.2.10:5070>\r\n\
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE\r\n\
Supported: replaces, timer\r\n\
User-Agent: softphone/0.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 229\r\n\r\n\
v=0\r\no=- 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 9 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n";

const OK: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKnashds8;rport=5070;received=192.0.2.10\r\n\
Record-Route: <sip:pbx.example.com;lr>\r\n\
From: \"Front Desk\" <sip:1001@pbx.example.com>;tag=1928301774\r\n\
To: <sip:1002@pbx.example.com>;tag=a6c85cf\r\n\
Call-ID: a84b4c76e66710@192.0.2.10\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:1002@192.0.2.30:5060>\r\n\
Content-Length: 0\r\n\r\n";

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Elements(1));
    let src = Destination {
        transport: Transport::Udp,
        addr: "192.0.2.10:5070".parse().expect("addr"),
    };
    let now = Instant::now();

    g.bench_function("invite parse+match (ours)", |b| {
        // A layer holding the transaction: each iteration matches a retransmission to it.
        let mut layer = TransactionLayer::new(TimerConfig::default());
        let first = parse_message(INVITE.as_bytes()).expect("parse");
        layer.on_message(now, first, src);
        while layer.poll_event().is_some() {}
        b.iter(|| {
            let m = parse_message(black_box(INVITE.as_bytes())).expect("parse");
            black_box(server_key(&m));
            layer.on_message(now, m, src);
            while layer.poll_transmit().is_some() {}
        })
    });
    g.bench_function("200 OK parse+match (ours)", |b| {
        b.iter(|| {
            let m = parse_message(black_box(OK.as_bytes())).expect("parse");
            black_box(client_key(&m))
        })
    });
    g.bench_function("invite raw parse (rsip 0.4)", |b| {
        b.iter(|| rsip::SipMessage::try_from(black_box(INVITE.as_bytes())).expect("rsip parse"))
    });
    g.bench_function("200 OK raw parse (rsip 0.4)", |b| {
        b.iter(|| rsip::SipMessage::try_from(black_box(OK.as_bytes())).expect("rsip parse"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
