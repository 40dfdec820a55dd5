//! The media session on a virtual clock: frames to RTP and back, loss, timeouts, holds,
//! foreign sources, silence suppression and comfort noise.
use super::*;
use crate::media::g711;
use crate::sdp::Codec;

fn negotiated(remote: SocketAddr) -> Negotiated {
    Negotiated {
        codec: Codec::Pcmu,
        payload_type: 0,
        codecs: vec![(0, Codec::Pcmu)],
        opus: OpusParams::default(),
        rtcp_mux: true,
        remote,
        dtmf_pt: Some(101),
        cn_pt: None,
        direction: Direction::SendRecv,
        ptime: 20,
        srtp: None,
        dtls: None,
    }
}

fn config() -> SessionConfig {
    SessionConfig {
        jitter: (2, 8),
        media_timeout: Duration::from_secs(3),
        opus: OpusParams::default(),
        nat_open: (0, false),
        silence: Default::default(),
    }
}

fn start() -> StreamStart {
    StreamStart {
        ssrc: 1,
        seq: 10,
        timestamp: 100,
    }
}

/// A 500 Hz tone at 8 kHz, one 20 ms frame starting at sample `k * 160`.
fn frame(k: usize) -> Vec<i16> {
    (0..160)
        .map(|i| {
            let t = (k * 160 + i) as f32 / 8000.0;
            ((t * 500.0 * std::f32::consts::TAU).sin() * 8000.0) as i16
        })
        .collect()
}

#[test]
fn frames_in_become_rtp_out_and_rtp_in_becomes_frames_on_a_virtual_clock() {
    let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let t0 = crate::test_epoch();
    let mut s = MediaSession::new(negotiated(peer), config(), 8000, start(), t0).unwrap();
    // What we say: one packet per ptime, to the signalled address.
    for k in 0..5 {
        s.put_frame(&frame(k));
    }
    let sent: Vec<Transmit> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(sent.len(), 5);
    assert!(sent.iter().all(|t| t.to == peer && t.via == Via::Rtp));
    let p = parse(&sent[0].data).unwrap();
    assert_eq!((p.payload_type, p.ssrc, p.payload.len()), (0, 1, 160));

    // What the far end says, with 10 % seeded loss: played, the gaps concealed.
    let mut rng_state = 7u32;
    let mut sender = RtpSender::new(0, 99, 500, 8000);
    let mut energy = 0f64;
    let mut out = vec![0i16; 160];
    let mut audible = 0;
    for k in 0..100 {
        let now = t0 + Duration::from_millis(20 * k as u64);
        let payload: Vec<u8> = frame(k).iter().map(|&x| g711::linear_to_ulaw(x)).collect();
        let packet = sender.packetize(&payload, 160);
        rng_state = rng_state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        if !(rng_state >> 16).is_multiple_of(10) {
            s.on_rtp_datagram(now, 0, peer, &packet);
        }
        if s.get_frame(&mut out) {
            audible += 1;
        }
        energy += out.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
    }
    assert!(
        audible >= 99,
        "every frame after the first packet is heard: {audible}"
    );
    let rms = (energy / (100.0 * 160.0)).sqrt();
    assert!(
        rms > 3000.0,
        "the tone came through, gaps concealed: rms {rms:.0}"
    );
    let stats = s.stats();
    assert!(stats.lost >= 5 && stats.received >= 80, "{stats:?}");

    // The RTCP schedule: the first report after 1 s, over the RTP port (rtcp-mux).
    s.handle_timeout(t0 + Duration::from_secs(1), 0);
    let report = s.poll_transmit().expect("an RTCP report");
    assert_eq!((report.via, report.to), (Via::Rtp, peer));
    assert!((200..=204).contains(&report.data[1]));
    assert_eq!(
        s.poll_timeout(),
        t0 + Duration::from_secs(3) + Duration::from_millis(1980)
    );
}

#[test]
fn silence_times_out_held_calls_send_nothing_and_foreign_sources_are_dropped() {
    let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let t0 = crate::test_epoch();
    let mut s = MediaSession::new(negotiated(peer), config(), 8000, start(), t0).unwrap();
    s.handle_timeout(t0 + Duration::from_millis(2900), 0);
    assert_eq!(s.poll_event(), None);
    s.handle_timeout(t0 + Duration::from_secs(3), 0);
    assert_eq!(s.poll_event(), Some(SessionEvent::Timeout));
    // Said once.
    s.handle_timeout(t0 + Duration::from_secs(4), 0);
    assert_eq!(s.poll_event(), None);

    // We hold (sendonly towards a party that does not send): no audio goes out.
    while s.poll_transmit().is_some() {}
    let mut n = negotiated(peer);
    n.direction = Direction::Inactive;
    s.update(t0, n).unwrap();
    for k in 0..3 {
        s.put_frame(&frame(k));
    }
    assert_eq!(s.poll_transmit(), None);

    // Media latches on the first source; another one is dropped and said once.
    let mut n = negotiated(peer);
    n.direction = Direction::SendRecv;
    s.update(t0, n).unwrap();
    let mut a = RtpSender::new(0, 5, 1, 1);
    let payload = vec![0xffu8; 160];
    s.on_rtp_datagram(t0, 0, peer, &a.packetize(&payload, 160));
    let stranger: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let mut b = RtpSender::new(0, 6, 1, 1);
    for _ in 0..3 {
        s.on_rtp_datagram(t0, 0, stranger, &b.packetize(&payload, 160));
    }
    assert_eq!(s.poll_event(), Some(SessionEvent::Foreign(stranger)));
    assert_eq!(s.poll_event(), None);
    assert_eq!(s.stats().foreign_dropped, 3);
}

#[test]
fn a_30_ms_call_sits_on_the_20_ms_bridge() {
    let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let mut n = negotiated(peer);
    n.ptime = 30;
    let t0 = crate::test_epoch();
    let mut s = MediaSession::new(n, config(), 8000, start(), t0).unwrap();
    for k in 0..6 {
        s.put_frame(&frame(k));
    }
    // 120 ms of audio: four 30 ms packets of 240 samples.
    let sent: Vec<Transmit> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(sent.len(), 4);
    assert!(
        sent.iter()
            .all(|t| parse(&t.data).unwrap().payload.len() == 240)
    );
    let mut out = vec![0i16; 160];
    assert!(
        !s.get_frame(&mut out),
        "nothing received yet: made-up silence"
    );
}

/// A hiss (room noise) frame of 20 ms at 8 kHz.
fn hiss(k: usize) -> Vec<i16> {
    (0..160)
        .map(|i| (((i * 7919 + k * 104_729) % 61) as i16 - 30) * 2)
        .collect()
}

fn sent_rtp(s: &mut MediaSession) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.poll_transmit())
        .filter(|t| t.via == Via::Rtp)
        .map(|t| t.data)
        .collect()
}

#[test]
fn suppressed_silence_sends_one_comfort_noise_packet_and_speech_returns_marked() {
    let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let t0 = crate::test_epoch();
    let mut n = negotiated(peer);
    n.cn_pt = Some(13);
    let mut cfg = config();
    cfg.silence = SilenceSettings {
        suppress: true,
        vad_level: 2,
        send_on_mute: false,
        keepalive: None,
    };
    let mut s = MediaSession::new(n, cfg, 8000, start(), t0).unwrap();
    let mut phases = Vec::new();
    for (speech, frames) in [(true, 50), (false, 100), (true, 50)] {
        for k in 0..frames {
            s.put_frame(&if speech { frame(k) } else { hiss(k) });
        }
        phases.push(sent_rtp(&mut s));
    }
    assert_eq!(phases[0].len(), 50, "speech goes out");
    let silence: Vec<_> = phases[1].iter().map(|d| parse(d).unwrap()).collect();
    let audio = silence.iter().filter(|p| p.payload_type == 0).count();
    let sids: Vec<_> = silence.iter().filter(|p| p.payload_type == 13).collect();
    assert!(
        audio <= 20,
        "only the hangover goes out in 2 s of silence: {audio}"
    );
    assert_eq!(sids.len(), 1);
    assert!(sids[0].payload.len() == 1 && sids[0].payload[0] > 50);
    let back = parse(&phases[2][0]).unwrap();
    assert_eq!((back.payload_type, back.marker), (0, true));
    // Timestamps keep counting through the silence: 150 frames after the first packet.
    let first = parse(&phases[0][0]).unwrap();
    assert_eq!(back.timestamp.wrapping_sub(first.timestamp), 150 * 160);
    assert!(phases[2].len() >= 49);
}

#[test]
fn muted_sends_nothing_unless_asked_and_keepalives_hold_the_nat_open() {
    let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let t0 = crate::test_epoch();
    let mut cfg = config();
    cfg.silence.keepalive = Some(Duration::from_millis(500));
    let mut s = MediaSession::new(negotiated(peer), cfg, 8000, start(), t0).unwrap();
    s.mute(true, false);
    for k in 0..100 {
        s.put_frame(&frame(k));
    }
    let sent = sent_rtp(&mut s);
    assert_eq!(sent.len(), 4, "2 s muted: only a keep-alive every 500 ms");
    assert!(sent.iter().all(Vec::is_empty));
    // sendrtponmuted: silence keeps flowing.
    let mut cfg = config();
    cfg.silence.send_on_mute = true;
    let mut s = MediaSession::new(negotiated(peer), cfg, 8000, start(), t0).unwrap();
    s.mute(true, false);
    for k in 0..10 {
        s.put_frame(&frame(k));
    }
    let sent = sent_rtp(&mut s);
    assert_eq!(sent.len(), 10);
    let p = parse(&sent[3]).unwrap();
    assert!(
        p.payload
            .iter()
            .all(|&b| g711::ulaw_to_linear(b).abs() < 16)
    );
}

#[test]
fn the_far_ends_comfort_noise_is_played_and_its_reports_keep_the_call_alive() {
    let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let t0 = crate::test_epoch();
    let mut n = negotiated(peer);
    n.cn_pt = Some(13);
    let mut s = MediaSession::new(n, config(), 8000, start(), t0).unwrap();
    let mut sender = RtpSender::new(0, 99, 500, 8000);
    let mut out = vec![0i16; 160];
    // Speech for 200 ms, one SID at -40 dBov, then nothing for 2 s.
    for k in 0..10 {
        let payload: Vec<u8> = frame(k).iter().map(|&x| g711::linear_to_ulaw(x)).collect();
        let now = t0 + Duration::from_millis(20 * k as u64);
        s.on_rtp_datagram(now, 0, peer, &sender.packetize(&payload, 160));
        s.get_frame(&mut out);
    }
    let ts = sender.timestamp();
    s.on_rtp_datagram(
        t0 + Duration::from_millis(200),
        0,
        peer,
        &sender.event(13, &[40], ts, false),
    );
    let mut heard = Vec::new();
    for _ in 0..110 {
        s.get_frame(&mut out);
        heard.extend_from_slice(&out);
    }
    // After the speech still in the buffer: noise at the SID's level, never silence.
    let tail = &heard[160 * 10..];
    let level = crate::media::silence::noise_level(tail);
    assert!((38..=42).contains(&level), "comfort noise at -{level} dBov");
    assert!(tail.chunks(160).all(|c| c.iter().any(|&x| x != 0)));
    // No RTP for 4 s, but the far end's reports arrive: mediatimeout (3 s) does not fire.
    let mut rx = ReceptionStats::default();
    for sec in 1..=4u64 {
        let report = build_report(99, Some((10, 1600, 0)), &mut rx, sec << 32);
        let now = t0 + Duration::from_millis(200) + Duration::from_secs(sec);
        s.on_rtp_datagram(now, sec << 32, peer, &report);
        s.handle_timeout(now, sec << 32);
    }
    assert_eq!(s.poll_event(), None, "reports show the far end alive");
}

#[test]
fn an_encrypted_call_carries_its_audio_and_refuses_clear_or_forged_packets() {
    use crate::rtp::srtp::{SrtpKey, SrtpKeys, SrtpSuite};
    let (a, b) = (
        "127.0.0.1:4000".parse().unwrap(),
        "127.0.0.1:5000".parse().unwrap(),
    );
    let (ka, kb) = (
        SrtpKey::random(SrtpSuite::AesCm128HmacSha1_32).unwrap(),
        SrtpKey::random(SrtpSuite::AesCm128HmacSha1_32).unwrap(),
    );
    let mut na = negotiated(b);
    na.srtp = Some(SrtpKeys {
        send: ka.clone(),
        receive: kb.clone(),
    });
    let mut nb = negotiated(a);
    nb.srtp = Some(SrtpKeys {
        send: kb,
        receive: ka,
    });
    let t0 = crate::test_epoch();
    let mut ours = MediaSession::new(na, config(), 8000, start(), t0).unwrap();
    let mut theirs = MediaSession::new(nb, config(), 8000, start(), t0).unwrap();
    let mut out = vec![0i16; 160];
    let mut heard = Vec::new();
    for k in 0..50 {
        let now = t0 + Duration::from_millis(20 * k as u64);
        ours.put_frame(&frame(k));
        while let Some(t) = ours.poll_transmit() {
            // On the wire: the tag is there, the G.711 of the frame is not.
            let clear: Vec<u8> = frame(k).iter().map(|&x| g711::linear_to_ulaw(x)).collect();
            assert_eq!(t.data.len(), 12 + 160 + 4);
            assert_ne!(t.data[12..172], clear[..]);
            theirs.on_rtp_datagram(now, 0, a, &t.data);
        }
        theirs.get_frame(&mut out);
        heard.extend_from_slice(&out);
    }
    let played = heard.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / heard.len() as f64;
    assert!(
        played.sqrt() > 3000.0,
        "the tone came through: rms {:.0}",
        played.sqrt()
    );
    // Reports are SRTCP (E flag and index, 4-byte tag) and taken by the other side.
    ours.handle_timeout(t0 + Duration::from_secs(1), 0);
    let report = ours.poll_transmit().expect("a report");
    assert!(report.data.len() >= 8 + 24 + 4 + 4, "{}", report.data.len());
    theirs.on_rtp_datagram(t0 + Duration::from_secs(1), 0, a, &report.data);
    assert_eq!(theirs.stats().srtp_refused, 0);
    // Clear RTP (someone who knows the address but not the key) and a forged packet: dropped,
    // counted, and no latching on to the stranger.
    let mut stranger = RtpSender::new(0, 4242, 1, 1);
    let clear = stranger.packetize(&[0xff; 160], 160);
    let c: SocketAddr = "127.0.0.1:6000".parse().unwrap();
    theirs.on_rtp_datagram(t0 + Duration::from_secs(2), 0, c, &clear);
    ours.put_frame(&frame(60));
    let mut forged = ours.poll_transmit().unwrap().data;
    forged[30] ^= 0x40;
    theirs.on_rtp_datagram(t0 + Duration::from_secs(2), 0, a, &forged);
    let stats = theirs.stats();
    assert_eq!(
        (stats.srtp_refused, stats.foreign_dropped),
        (2, 0),
        "{stats:?}"
    );
    assert_eq!(stats.received, 50);
}

#[test]
fn a_dtls_srtp_call_sends_nothing_clear_until_its_handshake_keys_it() {
    use crate::rtp::dtls::{DtlsIdentity, DtlsRole, is_dtls};
    use crate::rtp::srtp::SrtpSuite;
    use crate::sdp::DtlsAgreement;
    let (a, b): (SocketAddr, SocketAddr) = (
        "127.0.0.1:4000".parse().unwrap(),
        "127.0.0.1:5000".parse().unwrap(),
    );
    let (ida, idb) = (
        DtlsIdentity::generate().unwrap(),
        DtlsIdentity::generate().unwrap(),
    );
    let agreement = |id: &DtlsIdentity, role, remote: &DtlsIdentity| DtlsAgreement {
        identity: id.clone(),
        role,
        remote: remote.fingerprint(),
        suites: vec![SrtpSuite::AesCm128HmacSha1_80],
    };
    let mut na = negotiated(b);
    na.dtls = Some(agreement(&ida, DtlsRole::Client, &idb));
    na.rtcp_mux = true;
    let mut nb = negotiated(a);
    nb.dtls = Some(agreement(&idb, DtlsRole::Server, &ida));
    nb.rtcp_mux = true;
    let t0 = crate::test_epoch();
    let mut ours = MediaSession::new(na, config(), 8000, start(), t0).unwrap();
    let mut theirs = MediaSession::new(nb, config(), 8000, start(), t0).unwrap();
    // Before the handshake: our audio is held back, only the ClientHello leaves; a clear
    // packet from the peer's address is not played.
    ours.put_frame(&frame(0));
    let hello: Vec<_> = std::iter::from_fn(|| ours.poll_transmit()).collect();
    assert!(!hello.is_empty() && hello.iter().all(|t| is_dtls(&t.data) && t.to == b));
    let mut clear = RtpSender::new(0, 77, 1, 1);
    ours.on_rtp_datagram(t0, 0, b, &clear.packetize(&[0x10; 160], 160));
    assert_eq!(ours.stats().received, 0);
    // The handshake, carried between the two.
    for t in hello {
        theirs.on_rtp_datagram(t0, 0, a, &t.data);
    }
    for _ in 0..10 {
        let mut moved = false;
        while let Some(t) = theirs.poll_transmit() {
            ours.on_rtp_datagram(t0, 0, b, &t.data);
            moved = true;
        }
        while let Some(t) = ours.poll_transmit() {
            theirs.on_rtp_datagram(t0, 0, a, &t.data);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    let secured = |s: &mut MediaSession| {
        std::iter::from_fn(|| s.poll_event()).find(|e| matches!(e, SessionEvent::Secured(_)))
    };
    assert_eq!(
        secured(&mut ours),
        Some(SessionEvent::Secured("AES_CM_128_HMAC_SHA1_80".into()))
    );
    assert!(secured(&mut theirs).is_some());
    // Now the audio flows, encrypted, and is heard.
    let mut out = vec![0i16; 160];
    let mut heard = Vec::new();
    for k in 0..30 {
        let now = t0 + Duration::from_millis(20 * k as u64);
        ours.put_frame(&frame(k));
        while let Some(t) = ours.poll_transmit() {
            let plain: Vec<u8> = frame(k).iter().map(|&x| g711::linear_to_ulaw(x)).collect();
            assert_eq!(t.data.len(), 12 + 160 + 10, "SRTP with an 80-bit tag");
            assert_ne!(t.data[12..172], plain[..]);
            theirs.on_rtp_datagram(now, 0, a, &t.data);
        }
        theirs.get_frame(&mut out);
        heard.extend_from_slice(&out);
    }
    let rms =
        (heard.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / heard.len() as f64).sqrt();
    assert!(rms > 3000.0, "rms {rms:.0}");
    assert_eq!(theirs.stats().srtp_refused, 0);
}
