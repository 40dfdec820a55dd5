//! SIP over WebSocket (RFC 7118) against Kamailio's websocket module: registering, calling
//! and being called (the server reaches us over our own WebSocket: we listen on none), the
//! secure WebSocket with its certificate checked as for TLS and SRTP keys inside it, WSS with
//! DTLS-SRTP media (the WebRTC gateways' path), and a server that is no SIP WebSocket refused
//! in words.

use crate::audio_compare::{read_wav, similarity};
use crate::peers::{Baresip, BaresipSetup, Kamailio, KamailioOptions, Softphone, speech};
use crate::tls::Chain;
use std::io::{Read, Write};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// Us as 1001 over a WebSocket (`transport` 6 or 7) to `port` of 127.0.0.1.
fn over_websocket(port: u16, transport: &str, extra: &[&str]) -> Softphone {
    let server = format!("serveraddress=127.0.0.1:{port}");
    let transport = format!("transport={transport}");
    let mut p = vec![
        server.as_str(),
        "username=1001",
        "password=pw1001",
        transport.as_str(),
    ];
    p.extend_from_slice(extra);
    Softphone::start(&p)
}

/// Calls baresip (1002, playing its speech) from `sp` and gives the similarity of what each
/// side heard to what the other sent, once baresip has hung up.
fn call_and_compare(
    sp: &mut Softphone,
    bs: &Baresip,
    ours: &std::path::Path,
    theirs: &std::path::Path,
    heard: &std::path::Path,
) -> (f64, f64, String) {
    sp.send_line("call,1002");
    let media = sp.wait_for(T, |l| l.starts_with("EVENT,Media on line 1:"));
    sp.wait_for(Duration::from_secs(40), |l| {
        l.starts_with("EVENT,RTP statistics on line 1:")
    });
    let at_baresip = similarity(&read_wav(ours), &read_wav(&bs.received()));
    let at_us = similarity(&read_wav(theirs), &read_wav(heard));
    (at_baresip, at_us, media)
}

/// Kamailio taking WSS on its TLS port with the chain's `cert`.
fn wss_kamailio(chain: &Chain, cert: &str) -> Kamailio {
    Kamailio::start(KamailioOptions {
        websocket: true,
        tls: Some((
            chain.dir.join(format!("{cert}.pem")),
            chain.dir.join(format!("{cert}.key")),
        )),
        ..Default::default()
    })
}

/// A WSS call set up and registered: baresip (1002, `mediaenc`) playing its speech, us over
/// WSS trusting the chain's CA with `extra` parameters.
struct WssCall {
    sp: Softphone,
    bs: Baresip,
    ours: std::path::PathBuf,
    theirs: std::path::PathBuf,
    heard: std::path::PathBuf,
}

fn wss_call(
    work: &std::path::Path,
    chain: &Chain,
    kam: &Kamailio,
    mediaenc: &str,
    extra: &[&str],
) -> WssCall {
    let (ours, _) = speech(work, "ours", "The rain in Spain stays mainly.", 0);
    let (theirs, theirs_padded) = speech(work, "theirs", "Peter picked a peck.", 8);
    let heard = work.join("heard.wav");
    let setup = BaresipSetup {
        mediaenc,
        ..Default::default()
    };
    let bs = Baresip::start_setup(kam, "1002", &theirs_padded, "PCMU", &setup);
    let ca = format!("tlscafile={}", chain.ca.display());
    let mic = format!("recorddevice=file:{}", ours.display());
    let speaker = format!("playbackdevice=file:{}", heard.display());
    let mut params = vec![ca.as_str(), mic.as_str(), speaker.as_str()];
    params.extend_from_slice(extra);
    let mut sp = over_websocket(kam.tls_port, "7", &params);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    WssCall {
        sp,
        bs,
        ours,
        theirs,
        heard,
    }
}

#[test]
fn registers_calls_and_is_called_over_a_websocket() {
    let mut kam = Kamailio::start(KamailioOptions {
        websocket: true,
        ..Default::default()
    });
    let work = tempfile::tempdir().expect("tempdir");
    let (ours, _) = speech(work.path(), "ours", "Four score and seven years ago.", 0);
    let (theirs, theirs_padded) = speech(work.path(), "theirs", "A stitch in time saves nine.", 8);
    let heard = work.path().join("heard.wav");
    let bs = Baresip::start(&kam, "1002", &theirs_padded, "PCMU");
    let mic = format!("recorddevice=file:{}", ours.display());
    let speaker = format!("playbackdevice=file:{}", heard.display());
    let mut sp = over_websocket(
        kam.port,
        "6",
        &[
            &mic,
            &speaker,
            "autoaccept=true",
            // Keep-alives every half second through the whole test: WebSocket pings
            // (a CRLF means nothing inside a WebSocket).
            "keepaliveival=500",
        ],
    );
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    // Bound to our WebSocket at the server (not to an address it could open a connection to).
    let location = kam.location();
    assert!(location.contains("transport=ws"), "{location}");
    let sockets = kam.kamcmd(&["ws.dump"]);
    assert!(
        sockets.contains("127.0.0.1"),
        "no WebSocket at the server: {sockets}"
    );

    let (at_baresip, at_us, media) = call_and_compare(&mut sp, &bs, &ours, &theirs, &heard);
    eprintln!("over WS: ours at baresip {at_baresip:.3}, baresip's at us {at_us:.3}; {media}");
    assert!(
        at_baresip > 0.9 && at_us > 0.9,
        "{at_baresip:.3} {at_us:.3}"
    );

    let log = kam.log();
    assert!(!log.contains("ERROR: websocket"), "{log}");

    // Called: the INVITE and, later, baresip's BYE reach us over the same WebSocket.
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    // (Past the first call's last lines: each wait reads on from where the last one ended.)
    sp.wait_for(T, |l| {
        l.starts_with("STATUS,") && l.contains(",InCall,1002,")
    });
    std::thread::sleep(Duration::from_millis(500));
    bs.command("hangup", "");
    let ended = sp.wait_for(T, |l| {
        l.starts_with("EVENT,Call on line") && l.contains("with 1002 ended:")
    });
    assert!(ended.contains("hung up"), "{ended}");

    // The server restarts: the WebSocket drops, its binding is gone; a new WebSocket and a
    // new registration follow by themselves.
    kam.restart("1001");
    assert!(
        kam.wait_for_binding("1001", T),
        "not registered again: {:?}",
        sp.seen
    );
    assert!(kam.location().contains("transport=ws"));
}

#[test]
fn a_secure_websocket_checks_the_certificate_and_carries_srtp_keys() {
    let work = tempfile::tempdir().expect("tempdir");
    let chain = Chain::new(work.path());
    let kam = wss_kamailio(&chain, "good");
    // No srtpkeysinclear: a secure WebSocket is encrypted signalling, as TLS is.
    let call = wss_call(
        work.path(),
        &chain,
        &kam,
        "srtp-mand",
        &["mediaencryption=2"],
    );
    let (mut sp, bs) = (call.sp, call.bs);
    let location = kam.location();
    assert!(location.contains("transport=wss"), "{location}");
    let (at_baresip, at_us, media) =
        call_and_compare(&mut sp, &bs, &call.ours, &call.theirs, &call.heard);
    eprintln!("over WSS + SRTP: ours at baresip {at_baresip:.3}, baresip's at us {at_us:.3}");
    assert!(media.contains("SRTP AES_CM_128_HMAC_SHA1_80"), "{media}");
    assert!(
        at_baresip > 0.9 && at_us > 0.9,
        "{at_baresip:.3} {at_us:.3}"
    );
    drop(sp);

    // A certificate for another name: refused with the reason, nothing registered.
    let wrong = wss_kamailio(&chain, "wrong_name");
    let ca = format!("tlscafile={}", chain.ca.display());
    let mut sp = over_websocket(wrong.tls_port, "7", &[&ca]);
    let error = sp.wait_for(T, |l| {
        l.starts_with("ERROR,") && l.contains("WSS connection")
    });
    eprintln!("wrong name: {error}");
    assert!(error.contains("for another name"), "{error}");
    assert_eq!(
        sp.try_wait_for(Duration::from_secs(1), |l| l.contains(",Registered,")),
        None
    );
    assert!(wrong.bindings("1001").is_empty());
}

#[test]
fn a_server_that_is_no_sip_websocket_is_refused_in_words() {
    // An HTTP server that knows no WebSocket: it answers the upgrade with 404.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(T)).expect("timeout");
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        String::from_utf8_lossy(&request).into_owned()
    });
    let mut sp = over_websocket(port, "6", &["wspath=/sip/ws"]);
    let error = sp.wait_for(T, |l| {
        l.starts_with("ERROR,") && l.contains("WS connection")
    });
    eprintln!("no SIP WebSocket: {error}");
    assert!(
        error.contains("WebSocket handshake") && error.contains("404"),
        "{error}"
    );
    let request = server.join().expect("server");
    // The upgrade asked for the configured path and the sip subprotocol (RFC 7118 §4.1).
    assert!(request.starts_with("GET /sip/ws HTTP/1.1\r\n"), "{request}");
    assert!(
        request
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol: sip\r\n"),
        "{request}"
    );
    assert_eq!(
        sp.try_wait_for(Duration::from_secs(1), |l| l.contains(",Registered,")),
        None
    );
}

/// The browser-to-SIP path of WebRTC gateways: signalling over a secure WebSocket, media keyed
/// by DTLS-SRTP, to a baresip on UDP behind the server.
#[test]
fn over_wss_with_dtls_srtp_media_to_baresip() {
    let work = tempfile::tempdir().expect("tempdir");
    let chain = Chain::new(work.path());
    let kam = wss_kamailio(&chain, "good");
    let extra = ["mediaencryption=2", "srtpmode=1"];
    let call = wss_call(work.path(), &chain, &kam, "dtls_srtp", &extra);
    let (mut sp, bs) = (call.sp, call.bs);
    let (at_baresip, at_us, media) =
        call_and_compare(&mut sp, &bs, &call.ours, &call.theirs, &call.heard);
    eprintln!("over WSS + DTLS-SRTP: ours at baresip {at_baresip:.3}, baresip's at us {at_us:.3}");
    assert!(media.ends_with("SRTP keyed by DTLS"), "{media}");
    assert!(
        sp.seen.iter().any(|l| l.contains("secured: DTLS-SRTP")),
        "{:?}",
        sp.seen
    );
    assert!(bs.log().contains("DTLS-SRTP complete"), "{}", bs.log());
    assert!(
        at_baresip > 0.9 && at_us > 0.9,
        "{at_baresip:.3} {at_us:.3}"
    );
}
