//! Broken and odd requests sent to a running, registered softphone over UDP and TCP: it answers
//! what can be answered with the right status, drops the rest, never panics, and keeps its
//! registration.

use crate::peers::{Kamailio, KamailioOptions, Softphone};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// A well-formed OPTIONS to the softphone; cases break it in one place.
fn base(sp_port: u16, me: u16, transport: &str, case: usize) -> String {
    format!(
        "OPTIONS sip:1001@127.0.0.1:{sp_port} SIP/2.0\r\n\
Via: SIP/2.0/{transport} 127.0.0.1:{me};branch=z9hG4bK-case{case};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:tester@127.0.0.1>;tag=t{case}\r\n\
To: <sip:1001@127.0.0.1>\r\n\
Call-ID: malformed-{case}@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    )
}

/// (name, transform of the base message, expected status or None for "dropped").
type Case = (&'static str, fn(String) -> Vec<u8>, Option<u16>);

fn cases() -> Vec<Case> {
    vec![
        ("valid OPTIONS", |m| m.into_bytes(), Some(200)),
        (
            "bad start line (double space)",
            |m| m.replacen("OPTIONS sip", "OPTIONS  sip", 1).into_bytes(),
            Some(400),
        ),
        (
            "bad start line (no version)",
            |m| m.replacen(" SIP/2.0\r\n", "\r\n", 1).into_bytes(),
            Some(400),
        ),
        (
            "unsupported version",
            |m| m.replacen(" SIP/2.0\r\n", " SIP/7.0\r\n", 1).into_bytes(),
            Some(505),
        ),
        ("missing To", |m| remove_line(&m, "To:"), None),
        ("missing Call-ID", |m| remove_line(&m, "Call-ID:"), None),
        ("missing CSeq", |m| remove_line(&m, "CSeq:"), None),
        (
            "Content-Length larger than body",
            |m| {
                m.replace("Content-Length: 0", "Content-Length: 50")
                    .into_bytes()
            },
            Some(400),
        ),
        (
            "Content-Length not a number",
            |m| {
                m.replace("Content-Length: 0", "Content-Length: zero")
                    .into_bytes()
            },
            Some(400),
        ),
        (
            "two Content-Length headers",
            |m| {
                m.replace("Content-Length: 0", "Content-Length: 0\r\nl: 0")
                    .into_bytes()
            },
            Some(400),
        ),
        (
            "CSeq not a number",
            |m| {
                m.replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS")
                    .into_bytes()
            },
            Some(400),
        ),
        (
            "CSeq method mismatch",
            |m| m.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE").into_bytes(),
            Some(400),
        ),
        (
            "NUL byte in a header",
            |m| {
                m.replace("Max-Forwards: 70", "Subject: a\0b\r\nMax-Forwards: 70")
                    .into_bytes()
            },
            Some(400),
        ),
        (
            "unbalanced quotes in From",
            |m| {
                m.replace("From: <sip:tester", "From: \"Bad <sip:tester")
                    .into_bytes()
            },
            Some(400),
        ),
        (
            "space inside addr-spec",
            |m| {
                m.replace("To: <sip:1001@127.0.0.1>", "To: <sip:10 01@127.0.0.1>")
                    .into_bytes()
            },
            Some(400),
        ),
        (
            "header without colon",
            |m| {
                m.replace("Max-Forwards: 70", "Max-Forwards 70")
                    .into_bytes()
            },
            Some(400),
        ),
        (
            "unknown URI scheme",
            |m| {
                m.replacen("OPTIONS sip:1001@127.0.0.1", "OPTIONS kingdom:1001", 1)
                    .into_bytes()
            },
            Some(416),
        ),
        (
            "unknown method",
            |m| m.replace("OPTIONS", "NEWMETHOD").into_bytes(),
            Some(501),
        ),
        (
            "known but not allowed method",
            |m| m.replace("OPTIONS", "PUBLISH").into_bytes(),
            Some(405),
        ),
        (
            "Max-Forwards 0 on INFO",
            |m| {
                m.replace("OPTIONS", "INFO")
                    .replace("Max-Forwards: 70", "Max-Forwards: 0")
                    .into_bytes()
            },
            Some(483),
        ),
        (
            "unknown Proxy-Require",
            |m| {
                m.replace("Max-Forwards: 70", "Max-Forwards: 70\r\nProxy-Require: foo")
                    .into_bytes()
            },
            Some(420),
        ),
        (
            "BYE outside any dialog",
            |m| m.replace("OPTIONS", "BYE").into_bytes(),
            Some(481),
        ),
        (
            "folded headers and compact forms",
            |m| {
                m.replace("Max-Forwards: 70", "Max-Forwards:\r\n   70")
                    .replace("Call-ID:", "i:")
                    .into_bytes()
            },
            Some(200),
        ),
        (
            "very long header value",
            |m| {
                m.replace(
                    "Max-Forwards: 70",
                    &format!("Max-Forwards: 70\r\nX-Long: {}", "a".repeat(20_000)),
                )
                .into_bytes()
            },
            Some(200),
        ),
        (
            "garbage bytes",
            |_| (0u8..=255).cycle().take(700).collect(),
            None,
        ),
        ("only CRLFs", |_| b"\r\n\r\n\r\n".to_vec(), None),
        (
            "a response nobody asked for",
            |_| b"SIP/2.0 200 OK\r\nVia: garbage\r\n\r\n".to_vec(),
            None,
        ),
    ]
}

fn remove_line(m: &str, prefix: &str) -> Vec<u8> {
    m.split("\r\n")
        .filter(|l| !l.starts_with(prefix))
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes()
}

fn status_of(resp: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(resp);
    text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn registered_softphone() -> (Kamailio, Softphone) {
    let kam = Kamailio::start(KamailioOptions::default());
    let mut sp = Softphone::user_1001(&kam, &["registerinterval=10"]);
    sp.wait_line(Duration::from_secs(15), "STATUS,-1,Registered,,1001,0,,");
    (kam, sp)
}

/// After the barrage: still alive, no panic, and the registration is refreshed.
fn still_healthy(kam: &Kamailio, sp: &mut Softphone) {
    assert!(sp.is_running(), "softphone died; stderr:\n{}", sp.stderr());
    assert!(!sp.stderr().contains("panicked"), "{}", sp.stderr());
    let cseq = kam.bindings("1001").first().map(|b| b.1).unwrap_or(0);
    let end = Instant::now() + Duration::from_secs(15);
    while kam.bindings("1001").first().map(|b| b.1).unwrap_or(0) <= cseq {
        assert!(
            Instant::now() < end,
            "no refresh after bad input:\n{}",
            kam.location()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(sp.is_running());
}

#[test]
fn malformed_over_udp() {
    let (kam, mut sp) = registered_softphone();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = sock.local_addr().expect("addr").port();
    let mut failures = Vec::new();
    for (i, (name, make, expected)) in cases().into_iter().enumerate() {
        let msg = make(base(sp.port, me, "UDP", i));
        sock.send_to(&msg, ("127.0.0.1", sp.port)).expect("send");
        let wait = if expected.is_some() { 2000 } else { 400 };
        sock.set_read_timeout(Some(Duration::from_millis(wait)))
            .expect("timeout");
        let mut buf = vec![0u8; 65_536];
        let got = match sock.recv_from(&mut buf) {
            Ok((n, _)) => status_of(&buf[..n]),
            Err(_) => None,
        };
        if got != expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    still_healthy(&kam, &mut sp);
}

fn read_response(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(wait)).ok()?;
    let mut framer = softphone::sip::stream::StreamFramer::default();
    let mut buf = [0u8; 4096];
    let end = Instant::now() + wait;
    while Instant::now() < end {
        match framer.next_frame() {
            Ok(Some(softphone::sip::stream::Frame::Message(m))) => return Some(m),
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(_) => return None,
        }
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => framer.push(&buf[..n]),
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn malformed_over_tcp() {
    let (kam, mut sp) = registered_softphone();
    let mut stream = TcpStream::connect(("127.0.0.1", sp.port)).expect("connect");
    let me = stream.local_addr().expect("addr").port();
    let mut failures = Vec::new();
    // Over a stream, Content-Length frames the messages: the cases that break it are sent
    // last, on connections of their own.
    let framing_safe = |name: &str| {
        !name.contains("Content-Length")
            && name != "garbage bytes"
            && name != "a response nobody asked for"
    };
    for (i, (name, make, expected)) in cases().into_iter().enumerate() {
        if !framing_safe(name) {
            continue;
        }
        let msg = make(base(sp.port, me, "TCP", i));
        stream.write_all(&msg).expect("write");
        let wait = if expected.is_some() { 2000 } else { 400 };
        let got =
            read_response(&mut stream, Duration::from_millis(wait)).and_then(|r| status_of(&r));
        if got != expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    // CRLFCRLF ping gets a CRLF pong (RFC 5626).
    stream.write_all(b"\r\n\r\n").expect("ping");
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("t");
    let mut pong = [0u8; 2];
    stream.read_exact(&mut pong).expect("pong");
    assert_eq!(&pong, b"\r\n");
    // Unframeable input closes that connection only.
    for bad in [
        base(sp.port, me, "TCP", 900)
            .replace("Content-Length: 0", "Content-Length: zero")
            .into_bytes(),
        {
            let mut m = base(sp.port, me, "TCP", 901).into_bytes();
            m.splice(0..0, vec![b'x'; 200_000]);
            m
        },
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", sp.port)).expect("connect");
        let _ = s.write_all(&bad);
        s.set_read_timeout(Some(Duration::from_secs(3))).expect("t");
        let mut buf = [0u8; 16];
        let closed = matches!(s.read(&mut buf), Ok(0) | Err(_));
        if !closed {
            failures.push("unframeable stream was not closed".into());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    still_healthy(&kam, &mut sp);
}
