//! Early media against a hand-driven far end on the loopback (the softphone dials its SIP URI
//! directly): 180 without SDP makes us play the local ringback; 183 with SDP starts media that
//! only receives (`earlymedia` 2), with NAT opening packets towards the far end; the far end's
//! own early audio replaces our ringback; the 200 OK turns our sending on.

use crate::audio_compare::tone_share;
use crate::peers::Softphone;
use softphone::media::g711;
use softphone::rtp::{RtpSender, parse};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// The hand-driven far end's sockets: SIP and RTP on the loopback, and the `callto` for it.
struct FarEnd {
    sip: UdpSocket,
    rtp: UdpSocket,
    sip_port: u16,
    rtp_port: u16,
    callto: String,
}

impl FarEnd {
    fn bind() -> FarEnd {
        let sip = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
        sip.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp socket");
        rtp.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let sip_port = sip.local_addr().expect("addr").port();
        let rtp_port = rtp.local_addr().expect("addr").port();
        FarEnd {
            sip,
            rtp,
            sip_port,
            rtp_port,
            callto: format!("callto=sip:farend@127.0.0.1:{sip_port}"),
        }
    }
}

/// A header's value from a SIP message (first occurrence, full name).
fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in\n{msg}"))
}

/// Waits for a SIP request with `method` on `sock`, skipping anything else.
fn recv_request(sock: &UdpSocket, method: &str) -> (String, std::net::SocketAddr) {
    let end = Instant::now() + T;
    let mut buf = vec![0u8; 65535];
    while Instant::now() < end {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if text.starts_with(&format!("{method} ")) {
                return (text, from);
            }
        }
    }
    panic!("no {method} within {T:?}");
}

/// A response to `req` with our To tag, our Contact on `127.0.0.1:port` and an optional SDP body.
fn response(req: &str, code: &str, sdp: Option<&str>, port: u16) -> String {
    let body = sdp.unwrap_or("");
    let ctype = if sdp.is_some() {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    format!(
        "SIP/2.0 {code}\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=farend1\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Contact: <sip:farend@127.0.0.1:{}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        header(req, "Via"),
        header(req, "From"),
        header(req, "To"),
        header(req, "Call-ID"),
        header(req, "CSeq"),
        port,
        body.len()
    )
}

#[test]
fn ringback_then_early_media_then_answer() {
    let work = tempfile::tempdir().expect("tempdir");
    let (hello, _) = crate::peers::speech(work.path(), "ours", "Hello from the caller.", 0);
    // The microphone is live during the ringing too: the caller keeps talking.
    let ours = work.path().join("talk.wav");
    let ok = std::process::Command::new("sox")
        .arg(&hello)
        .arg(&ours)
        .args(["repeat", "8"])
        .status()
        .expect("sox");
    assert!(ok.success());
    let heard = work.path().join("heard.wav");
    let FarEnd {
        sip,
        rtp,
        sip_port,
        rtp_port,
        callto,
    } = FarEnd::bind();
    let mut sp = Softphone::start(&[
        &callto,
        "autocall=true",
        &format!("recorddevice=file:{}", ours.display()),
        &format!("playbackdevice=file:{}", heard.display()),
        "natopenpackets=3",
        "natopenpackettype=2",
    ]);
    let (invite, from) = recv_request(&sip, "INVITE");
    let our_rtp_port: u16 = invite
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("our RTP port in the offer");
    let send = |text: String| {
        sip.send_to(text.as_bytes(), from).expect("send");
    };
    send(response(&invite, "100 Trying", None, sip_port));
    send(response(&invite, "180 Ringing", None, sip_port));
    sp.wait_for(T, |l| l.starts_with("STATUS,1,Ringing,"));
    // Ringback for a second and a half.
    std::thread::sleep(Duration::from_millis(1500));

    // 183 with SDP: early media, receive only, NAT opening packets first.
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=rtcp-mux\r\n"
    );
    send(response(
        &invite,
        "183 Session Progress",
        Some(&sdp),
        sip_port,
    ));
    let mut buf = [0u8; 2048];
    let mut early_packets = Vec::new();
    let until = Instant::now() + Duration::from_millis(800);
    while Instant::now() < until {
        if let Ok((n, _)) = rtp.recv_from(&mut buf) {
            // RTCP (muxed: payload type byte 200-204) is not a NAT opening packet.
            if !(n >= 2 && (200..=204).contains(&buf[1])) {
                early_packets.push(buf[..n].to_vec());
            }
        }
    }
    assert_eq!(
        early_packets.len(),
        3,
        "natopenpackets=3 and nothing else before the answer"
    );
    for p in &early_packets {
        let p = parse(p).expect("natopenpackettype=2 sends RTP");
        assert!(
            p.payload
                .iter()
                .all(|&b| g711::ulaw_to_linear(b).abs() < 10),
            "silence"
        );
    }
    // The far end's early audio: a second of 1 kHz, which must replace our ringback.
    let to_us = std::net::SocketAddr::from(([127, 0, 0, 1], our_rtp_port));
    let mut sender = RtpSender::new(0, 7, 100, 1000);
    for k in 0..50 {
        let payload: Vec<u8> = (0..160)
            .map(|i| {
                let t = (k * 160 + i) as f32 / 8000.0;
                g711::linear_to_ulaw(((t * 1000.0 * std::f32::consts::TAU).sin() * 8000.0) as i16)
            })
            .collect();
        rtp.send_to(&sender.packetize(&payload, 160), to_us)
            .expect("rtp");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Answer: now our speech flows.
    send(response(&invite, "200 OK", Some(&sdp), sip_port));
    recv_request(&sip, "ACK");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,"));
    let (mut loud, mut rtcp) = (0, 0);
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let Ok((n, _)) = rtp.recv_from(&mut buf) else {
            continue;
        };
        if n >= 8 && (200..=204).contains(&buf[1]) {
            // The SDP said a=rtcp-mux: reports come on the RTP port.
            rtcp += 1;
        } else if let Ok(p) = parse(&buf[..n])
            && p.payload
                .iter()
                .any(|&b| g711::ulaw_to_linear(b).abs() > 1000)
        {
            loud += 1;
        }
    }
    assert!(
        loud > 10,
        "our speech after the answer: {loud} loud packets"
    );
    assert!(rtcp >= 1, "no RTCP on the RTP port with rtcp-mux");
    sp.send_line("hangup,1");
    let (bye, from) = recv_request(&sip, "BYE");
    sip.send_to(response(&bye, "200 OK", None, sip_port).as_bytes(), from)
        .expect("send");
    sp.wait_for(T, |l| l.contains("Finished"));

    // What we played: ringback (425 Hz) first, then the far end's 1 kHz, no ringback over it.
    let x = crate::audio_compare::read_wav(&heard);
    let second = |from_s: f32| &x[(from_s * 8000.0) as usize..((from_s + 0.5) * 8000.0) as usize];
    let ring = tone_share(second(0.2), 425.0);
    assert!(ring > 0.5, "ringback at the start: {ring:.2}");
    let far = x
        .chunks(4000)
        .position(|c| c.len() == 4000 && tone_share(c, 1000.0) > 0.5)
        .expect("the far end's early audio was played");
    let over = tone_share(&x[far * 4000..far * 4000 + 4000], 425.0);
    assert!(over < 0.05, "ringback stopped under early media: {over:.2}");
}

/// `changesptoring=0`: a 183 with SDP neither rings nor starts early media (no NAT opening
/// packets); the call still connects on the 200.
#[test]
fn session_progress_can_be_ignored() {
    let FarEnd {
        sip,
        rtp,
        sip_port,
        rtp_port,
        callto,
    } = FarEnd::bind();
    let mut sp = Softphone::start(&[&callto, "autocall=true", "changesptoring=0"]);
    let (invite, from) = recv_request(&sip, "INVITE");
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    );
    let reply = |code: &str, body: Option<&str>| {
        let text = response(&invite, code, body, sip_port);
        sip.send_to(text.as_bytes(), from).expect("send");
    };
    reply("183 Session Progress", Some(&sdp));
    let mut buf = [0u8; 2048];
    let until = Instant::now() + Duration::from_millis(800);
    while Instant::now() < until {
        assert!(
            rtp.recv_from(&mut buf).is_err(),
            "no media may start on an ignored 183"
        );
    }
    reply("200 OK", Some(&sdp));
    recv_request(&sip, "ACK");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,"));
    assert!(
        !sp.seen.iter().any(|l| l.starts_with("STATUS,1,Ringing,")),
        "{:?}",
        sp.seen
    );
    sp.send_line("hangup,1");
    let (bye, from) = recv_request(&sip, "BYE");
    sip.send_to(response(&bye, "200 OK", None, sip_port).as_bytes(), from)
        .expect("send");
}

/// An incoming call rings on the ringer device (here a file) with the built-in ring until it
/// is answered; the ringer then falls silent.
#[test]
fn incoming_call_rings_on_the_ringer_device_until_answered() {
    use crate::peers::{Baresip, Kamailio, KamailioOptions};
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (theirs, _) = crate::peers::speech(work.path(), "theirs", "Ring ring.", 3);
    let ring = work.path().join("ring.wav");
    let mut sp = Softphone::user_1001(&kam, &[&format!("ringerdevice=file:{}", ring.display())]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    let bs = Baresip::start(&kam, "1003", &theirs, "PCMU");
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    sp.wait_for(T, |l| l.starts_with("STATUS,1,Ringing,1003,"));
    let rang = Instant::now();
    std::thread::sleep(Duration::from_millis(2500));
    sp.send_line("accept,1");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1003,"));
    eprintln!("answered after {:?}", rang.elapsed());
    std::thread::sleep(Duration::from_millis(1000));
    sp.send_line("hangup,1");
    sp.wait_for(T, |l| l.contains("Finished"));
    let x = crate::audio_compare::read_wav(&ring);
    // The built-in ring is 440 + 480 Hz for its first two seconds.
    let start = &x[800..4800];
    let ring_share = tone_share(start, 440.0) + tone_share(start, 480.0);
    assert!(ring_share > 0.5, "the ring tones: {ring_share:.2}");
    // Answered after 2.5 s: the ringer got nothing after about that.
    let secs = x.len() as f32 / 8000.0;
    assert!(
        (2.0..3.5).contains(&secs),
        "the ringer stopped on answer: {secs:.2} s rung"
    );
}

/// A `ringtone` file of any PCM kind (here 32-bit float at 16 kHz, once refused) rings through
/// the audio engine's player on the ringer device, and a `volumering` set mid-ring is heard at
/// once.
#[test]
fn a_ringtone_file_rings_and_its_volume_changes_mid_ring() {
    use crate::peers::{Baresip, Kamailio, KamailioOptions};
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let tone = work.path().join("tone.wav");
    let ok = std::process::Command::new("sox")
        .args([
            "-n",
            "-r",
            "16000",
            "-e",
            "floating-point",
            "-b",
            "32",
            "-c",
            "1",
        ])
        .arg(&tone)
        .args(["synth", "1", "sine", "1000", "vol", "0.5"])
        .status()
        .expect("sox")
        .success();
    assert!(ok);
    let (theirs, _) = crate::peers::speech(work.path(), "theirs", "Ring ring.", 3);
    let ring = work.path().join("ring.wav");
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            &format!("ringerdevice=file:{}", ring.display()),
            &format!("ringtone={}", tone.display()),
        ],
    );
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    let bs = Baresip::start(&kam, "1003", &theirs, "PCMU");
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    sp.wait_for(T, |l| l.starts_with("STATUS,1,Ringing,1003,"));
    // The tone plays for 1 s, then 2 s of pause; in the second pass the volume drops.
    std::thread::sleep(Duration::from_millis(3200));
    sp.send_line("SetParameter,volumering,17");
    std::thread::sleep(Duration::from_millis(1200));
    sp.send_line("hangup,1");
    sp.wait_for(T, |l| l.contains("Finished") || l.contains("ended"));
    let x = crate::audio_compare::read_wav(&ring);
    let rms = |s: &[f32]| (s.iter().map(|v| v * v).sum::<f32>() / s.len().max(1) as f32).sqrt();
    // The file at 16 kHz came resampled to the ringer's 8 kHz: still a 1 kHz tone.
    let first = &x[800..6400];
    let share = tone_share(first, 1000.0);
    assert!(share > 0.8, "the ringtone's tone: {share:.2}");
    let pause = rms(&x[12_000..20_000]);
    assert!(pause < 50.0, "the pause after the ringtone: RMS {pause:.0}");
    assert!(x.len() > 31_200, "rang {} samples", x.len());
    // 17 is 33 steps of 0.3 dB below 50: about -10 dB, heard from the next frame on.
    let loud = rms(first);
    // The second pass sounds from 3 s to 4 s; the new volume from about 3.2 s on.
    let quiet = rms(&x[28_400..31_200]);
    let drop_db = 20.0 * (loud / quiet.max(1.0)).log10();
    assert!(
        (7.0..13.0).contains(&drop_db),
        "volumering mid-ring: {loud:.0} -> {quiet:.0} RMS ({drop_db:.1} dB)"
    );
}
