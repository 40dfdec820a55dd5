//! The control API's costs: one GetStatus request over HTTP on a kept-alive loopback
//! connection (the whole path: hyper, the checks, the verb table, the state), and one event
//! fanned out by the hub to 10 stream subscribers (reducer, notification lines, broadcast).
//! `benches/compare_api.sh` puts the HTTP figure beside baresip's own HTTP control.

// Benchmarks may unwrap (a failure there is a failed run, not bad input).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use softphone::api::control::guard::Policy;
use softphone::api::control::{ApiConfig, Confirm, Hub, start};
use softphone::engine::CommandSender;
use softphone::model::{CallDirection, CallState, Event, PhoneState};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn call_event(line: u32) -> Event {
    Event::Call {
        line,
        state: CallState::Connected,
        direction: CallDirection::Outgoing,
        peer: "1002".into(),
        peer_display: "Front desk".into(),
        peer_uri: "sip:1002@pbx".into(),
        call_id: "bench".into(),
        reason: String::new(),
        ended_by_us: false,
        answered_at_ms: Some(1),
    }
}

fn fan_out(c: &mut Criterion) {
    let (commands, _rx) = CommandSender::channel();
    let hub = Hub::new(commands, PhoneState::default());
    let mut subscribers: Vec<_> = (0..10).map(|_| hub.subscribe()).collect();
    let ev = call_event(1);
    let mut g = c.benchmark_group("control_api");
    g.throughput(Throughput::Elements(1));
    g.bench_function("event fan-out to 10 subscribers", |b| {
        b.iter(|| {
            hub.publish(&ev);
            for s in &mut subscribers {
                let got = s.try_recv().expect("event");
                std::hint::black_box(&got);
            }
        })
    });
    g.finish();
}

fn get_status(c: &mut Criterion) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "ab".repeat(32);
    let config = ApiConfig {
        tcp_port: port,
        udp_port: 0,
        token: softphone::api::control::token::Token::fixed(token.clone()),
        policy: Policy::default(),
        rate: 0,
        confirm: Confirm::Off,
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (commands, _rx) = CommandSender::channel();
            let hub = Hub::new(commands, PhoneState::default());
            hub.publish(&call_event(1));
            let _server = start(config, hub).unwrap();
            ready_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    ready_rx.recv().unwrap();
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let request = format!(
        "GET /API_GetStatus?line=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    let mut one = move || {
        writer.write_all(request.as_bytes()).unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        assert!(
            body.starts_with(b"{\"ok\":true"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    };
    let mut g = c.benchmark_group("control_api");
    g.throughput(Throughput::Elements(1));
    g.bench_function("GetStatus over HTTP (kept-alive connection)", |b| {
        b.iter(&mut one)
    });
    g.finish();
}

criterion_group!(benches, fan_out, get_status);
criterion_main!(benches);
