//! The SDP offer/answer tests (kept apart: `mod.rs` is the code).
use super::*;

fn local(port: u16) -> LocalMedia {
    LocalMedia {
        addr: "192.0.2.1".parse().unwrap(),
        port,
        offer: vec![Codec::Pcma, Codec::Pcmu],
        accept: vec![Codec::Pcma, Codec::Pcmu],
        dtmf_pt: Some(101),
        cn: false,
        ptime: 20,
        direction: Direction::SendRecv,
        opus: OpusParams::default(),
        final_codec_only: true,
        srtp: LocalSrtp::off(),
    }
}

#[test]
fn offer_round_trips_through_the_parser() {
    let text = offer(&local(40000), (1, 1));
    assert!(text.contains("m=audio 40000 RTP/AVP 8 0 101\r\n"), "{text}");
    assert!(text.contains("c=IN IP4 192.0.2.1\r\n"));
    let r = parse(&text).unwrap();
    assert_eq!(r.rtp, Some("192.0.2.1:40000".parse().unwrap()));
    assert_eq!(r.codecs, vec![(8, Codec::Pcma), (0, Codec::Pcmu)]);
    assert_eq!(r.dtmf_pt, Some(101));
    assert_eq!(r.direction, Direction::SendRecv);
    assert_eq!(r.ptime, Some(20));
}

#[test]
fn comfort_noise_is_offered_with_suppression_and_always_answered() {
    let mut ours = local(40000);
    ours.cn = true;
    let text = offer(&ours, (1, 1));
    assert!(
        text.contains("m=audio 40000 RTP/AVP 8 0 13 101\r\n"),
        "{text}"
    );
    assert!(text.contains("a=rtpmap:13 CN/8000\r\n"));
    assert_eq!(parse(&text).unwrap().cn_pt, Some(13));
    // An offer with CN (static 13 without rtpmap, or a dynamic CN/8000) is answered
    // with it even when we do not suppress silence ourselves.
    for m in ["0 13", "0 96\r\na=rtpmap:96 CN/8000"] {
        let peer = format!(
            "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\n\
             t=0 0\r\nm=audio 5004 RTP/AVP {m}\r\n"
        );
        let (text, n) = answer(&parse(&peer).unwrap(), &local(40002), (5, 5)).unwrap();
        let pt = n.cn_pt.unwrap();
        assert!(text.contains(&format!("a=rtpmap:{pt} CN/8000")), "{text}");
    }
    // An answer may not add CN we did not offer.
    let ans = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 13\r\n";
    let r = parse(ans).unwrap();
    assert_eq!(accept_answer(&r, &local(40000)).unwrap().cn_pt, None);
    assert_eq!(accept_answer(&r, &ours).unwrap().cn_pt, Some(13));
}

#[test]
fn answer_picks_our_first_accepted_codec_and_mirrors_direction() {
    let peer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 0 8 96 97\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/8000\r\na=sendonly\r\n";
    let r = parse(peer).unwrap();
    assert_eq!(
        r.codecs,
        vec![(0, Codec::Pcmu), (8, Codec::Pcma), (96, Codec::Opus)]
    );
    let (text, n) = answer(&r, &local(40002), (5, 5)).unwrap();
    assert_eq!(n.codec, Codec::Pcma, "our order wins");
    assert_eq!(
        n.direction,
        Direction::RecvOnly,
        "peer holds us: we only receive"
    );
    assert_eq!(n.dtmf_pt, Some(97));
    assert!(text.contains("m=audio 40002 RTP/AVP 8 97\r\n"), "{text}");
    assert!(text.contains("a=recvonly\r\n"));
}

#[test]
fn opus_answer_echoes_the_offered_payload_type_and_reads_fmtp() {
    let peer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 98 9 0\r\na=rtpmap:98 opus/48000/2\r\na=fmtp:98 maxplaybackrate=16000;useinbandfec=1\r\n";
    let r = parse(peer).unwrap();
    assert_eq!(
        r.opus.map(|o| (o.max_rate, o.fec, o.dtx)),
        Some((16_000, true, false))
    );
    let mut ours = local(40004);
    ours.accept = vec![Codec::Opus, Codec::G722, Codec::Pcmu];
    ours.opus = OpusParams {
        max_rate: 48_000,
        fec: true,
        dtx: true,
    };
    let (text, n) = answer(&r, &ours, (1, 1)).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Opus, 98));
    assert!(text.contains("m=audio 40004 RTP/AVP 98\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:98 opus/48000/2\r\n"));
    assert!(
        text.contains(
            "a=fmtp:98 maxplaybackrate=48000;sprop-maxcapturerate=48000;useinbandfec=1;usedtx=1\r\n"
        ),
        "{text}"
    );
    // setfinalcodec=0: every common codec, in our order, on the offerer's types.
    ours.final_codec_only = false;
    let (text, n) = answer(&r, &ours, (1, 1)).unwrap();
    assert!(text.contains("m=audio 40004 RTP/AVP 98 9 0\r\n"), "{text}");
    assert_eq!(
        n.codecs,
        vec![(98, Codec::Opus), (9, Codec::G722), (0, Codec::Pcmu)]
    );
    assert_eq!(n.opus.max_rate, 16_000);
}

#[test]
fn other_streams_are_rejected_in_place_with_port_zero() {
    let peer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=video 5010 RTP/AVP 96 97\r\na=rtpmap:96 VP8/90000\r\nm=audio 5004 RTP/AVP 0\r\nm=text 5020 RTP/AVP 98\r\n";
    let r = parse(peer).unwrap();
    assert_eq!(r.rtp, Some("198.51.100.7:5004".parse().unwrap()));
    let (text, _) = answer(&r, &local(4002), (1, 1)).unwrap();
    let m_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        m_lines,
        vec![
            "m=video 0 RTP/AVP 96",
            "m=audio 4002 RTP/AVP 0",
            "m=text 0 RTP/AVP 98"
        ],
        "{text}"
    );
}

#[test]
fn rtcp_mux_is_offered_and_mirrored() {
    assert!(offer(&local(4000), (1, 1)).contains("a=rtcp-mux\r\n"));
    let plain = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n";
    let (text, n) = answer(&parse(plain).unwrap(), &local(4002), (1, 1)).unwrap();
    assert!(!text.contains("rtcp-mux") && !n.rtcp_mux, "{text}");
    let muxed = format!("{plain}a=rtcp-mux\r\n");
    let (text, n) = answer(&parse(&muxed).unwrap(), &local(4002), (1, 1)).unwrap();
    assert!(text.contains("a=rtcp-mux\r\n") && n.rtcp_mux, "{text}");
    assert!(
        accept_answer(&parse(&muxed).unwrap(), &local(1))
            .unwrap()
            .rtcp_mux
    );
    assert!(
        !accept_answer(&parse(plain).unwrap(), &local(1))
            .unwrap()
            .rtcp_mux
    );
}

#[test]
fn no_common_codec_and_rejected_streams() {
    let peer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18\r\n";
    assert_eq!(
        answer(&parse(peer).unwrap(), &local(1), (1, 1)).unwrap_err(),
        SdpError::NoCommonCodec
    );
    let rejected = peer.replace("5004", "0");
    assert_eq!(parse(&rejected).unwrap().rtp, None);
    assert!(parse("garbage").is_err());
    let video_only = peer.replace("m=audio", "m=video");
    assert_eq!(parse(&video_only).unwrap_err(), SdpError::NoAudio);
}

#[test]
fn answer_to_our_offer() {
    let ans = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";
    let n = accept_answer(&parse(ans).unwrap(), &local(1)).unwrap();
    assert_eq!(n.codec, Codec::Pcmu);
    assert_eq!(n.direction, Direction::SendOnly);
    assert_eq!(
        n.remote,
        "198.51.100.7:6000".parse::<std::net::SocketAddr>().unwrap()
    );
}

fn with_dtls(policy: MediaEncryption, sdes: bool) -> (LocalMedia, crate::rtp::dtls::DtlsIdentity) {
    use crate::rtp::srtp::SrtpSuite;
    let id = crate::rtp::dtls::DtlsIdentity::generate().unwrap();
    let mut ours = local(40000);
    ours.srtp = LocalSrtp::with_keying(
        policy,
        &[SrtpSuite::AesCm128HmacSha1_80],
        sdes,
        Some(id.clone()),
    )
    .unwrap();
    (ours, id)
}

#[test]
fn dtls_srtp_is_offered_with_our_fingerprint_and_the_answer_sets_the_roles() {
    let (ours, id) = with_dtls(MediaEncryption::Mandatory, false);
    let text = offer(&ours, (1, 1));
    assert!(
        text.contains("m=audio 40000 UDP/TLS/RTP/SAVP 8 0 101\r\n"),
        "{text}"
    );
    assert!(text.contains(&format!("a=fingerprint:sha-256 {}\r\n", id.fingerprint())));
    assert!(text.contains("a=setup:actpass\r\n"));
    assert!(!text.contains("a=crypto"), "no key in the SDP: {text}");
    let theirs = crate::rtp::dtls::Fingerprint::of(b"their certificate");
    let answer_with = |setup: &str| {
        format!(
            "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
             m=audio 6000 UDP/TLS/RTP/SAVP 0\r\na=fingerprint:sha-256 {theirs}\r\n{setup}"
        )
    };
    for (setup, role) in [
        ("a=setup:passive\r\n", crate::rtp::dtls::DtlsRole::Client),
        ("a=setup:active\r\n", crate::rtp::dtls::DtlsRole::Server),
        ("", crate::rtp::dtls::DtlsRole::Server),
    ] {
        let n = accept_answer(&parse(&answer_with(setup)).unwrap(), &ours).unwrap();
        let a = n.dtls.expect("DTLS agreed");
        assert_eq!((a.role, a.remote), (role, theirs), "{setup:?}");
        assert!(n.srtp.is_none());
    }
    // A clear answer to a mandatory offer ends the call.
    let clear = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
    assert_eq!(
        accept_answer(&parse(clear).unwrap(), &ours),
        Err(SdpError::Srtp(SrtpRefusal::NotEncrypted))
    );
}

#[test]
fn a_dtls_offer_is_answered_active_and_sdes_only_is_refused_when_dtls_is_all_we_take() {
    let (ours, id) = with_dtls(MediaEncryption::Mandatory, false);
    let theirs = crate::rtp::dtls::Fingerprint::of(b"baresip");
    // As baresip offers it: the profile with feedback, fingerprint and setup at session level.
    let offer_text = format!(
        "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
         a=setup:actpass\r\na=fingerprint:SHA-256 {theirs}\r\n\
         m=audio 6000 UDP/TLS/RTP/SAVPF 0\r\na=rtcp-mux\r\n"
    );
    let (text, n) = answer(&parse(&offer_text).unwrap(), &ours, (2, 2)).unwrap();
    assert!(text.contains("m=audio 40000 UDP/TLS/RTP/SAVPF 0"), "{text}");
    assert!(text.contains("a=setup:active\r\n"), "{text}");
    assert!(text.contains(&format!("a=fingerprint:sha-256 {}", id.fingerprint())));
    let a = n.dtls.expect("agreed");
    assert_eq!(
        (a.role, a.remote),
        (crate::rtp::dtls::DtlsRole::Client, theirs)
    );
    assert!(n.rtcp_mux && n.srtp.is_none());
    // An offer that wants to connect itself makes us wait.
    let active = offer_text.replace("a=setup:actpass", "a=setup:active");
    let (text, n) = answer(&parse(&active).unwrap(), &ours, (2, 2)).unwrap();
    assert!(text.contains("a=setup:passive\r\n"), "{text}");
    assert_eq!(n.dtls.unwrap().role, crate::rtp::dtls::DtlsRole::Server);
    // SDES keys only, DTLS all we take: refused with its own reason (a 488).
    let sdes = format!(
        "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
         m=audio 6000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
        "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
    );
    assert_eq!(
        answer(&parse(&sdes).unwrap(), &ours, (2, 2)).err(),
        Some(SdpError::Srtp(SrtpRefusal::NoDtls))
    );
    // Best effort: a clear offer is answered clear (negative control: no fingerprint).
    let (best, _) = with_dtls(MediaEncryption::Optional, false);
    let clear = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
    let (text, n) = answer(&parse(clear).unwrap(), &best, (2, 2)).unwrap();
    assert!(
        !text.contains("fingerprint") && n.dtls.is_none() && n.srtp.is_none(),
        "{text}"
    );
    // Both keyings offered: the answer's choice wins (here SDES, with our tag 1).
    let (both, _) = with_dtls(MediaEncryption::Optional, true);
    let text = offer(&both, (1, 1));
    assert!(
        text.contains("a=crypto:1 ") && text.contains("a=fingerprint:sha-256"),
        "{text}"
    );
}
