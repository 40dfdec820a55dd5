//! RTP and RTCP datagrams from anyone who can reach a call's ports: the packet parser, then a
//! running PCMU/Opus/G.722 media session fed the input as a stream of datagrams (each
//! length-prefixed by one byte), on both sockets, with its clock running. None may panic,
//! hang or grow without bound. A third of the inputs run the session encrypted (SRTP, fixed
//! keys), so the datagrams also go through SRTP's checks, and a third as a DTLS-SRTP server
//! waiting for its handshake, so DTLS records reach rtc-dtls's parser and our stage.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softphone::media::session::{MediaSession, SessionConfig, StreamStart};
use softphone::rtp::dtls::{DtlsIdentity, DtlsRole, Fingerprint};
use softphone::rtp::srtp::{SrtpKey, SrtpKeys, SrtpSuite};
use softphone::sdp::{Codec, Direction, DtlsAgreement, Negotiated, OpusParams};
use std::time::{Duration, Instant};

/// One DTLS certificate for every input (making one is slow).
fn identity() -> &'static DtlsIdentity {
    static ID: std::sync::OnceLock<DtlsIdentity> = std::sync::OnceLock::new();
    ID.get_or_init(|| DtlsIdentity::generate().expect("identity"))
}

/// `keying`: 0 clear, 1 SDES keys, 2 DTLS-SRTP as the server (the input's DTLS records reach
/// the handshake).
fn negotiated(codec: Codec, pt: u8, keying: u8) -> Negotiated {
    let key = |b: u8| SrtpKey {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        material: vec![b; SrtpSuite::AesCm128HmacSha1_80.material_len()],
    };
    Negotiated {
        codec,
        payload_type: pt,
        codecs: vec![(pt, codec), (0, Codec::Pcmu)],
        opus: OpusParams::default(),
        rtcp_mux: false,
        remote: "192.0.2.9:4000".parse().expect("address"),
        dtmf_pt: Some(101),
        cn_pt: None,
        direction: Direction::SendRecv,
        ptime: 20,
        srtp: (keying == 1).then(|| SrtpKeys {
            send: key(1),
            receive: key(2),
        }),
        dtls: (keying == 2).then(|| DtlsAgreement {
            identity: identity().clone(),
            role: DtlsRole::Server,
            remote: Fingerprint([7; 32]),
            suites: SrtpSuite::ALL.to_vec(),
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = softphone::rtp::parse(data);
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let (codec, pt) = match pick % 7 {
        0 => (Codec::Pcmu, 0),
        1 => (Codec::G722, 9),
        2 => (Codec::Gsm, 3),
        3 => (Codec::Speex, 97),
        4 => (Codec::SpeexWb, 98),
        5 => (Codec::SpeexUwb, 99),
        _ => (Codec::Opus, 111),
    };
    let config = SessionConfig {
        jitter: (2, 8),
        media_timeout: Duration::from_secs(3),
        opus: OpusParams::default(),
        nat_open: (0, false),
        silence: Default::default(),
    };
    let start = StreamStart {
        ssrc: 1,
        seq: 1,
        timestamp: 0,
    };
    let t0 = Instant::now();
    let Ok(mut s) = MediaSession::new(
        negotiated(codec, pt, (pick >> 6) % 3),
        config,
        16_000,
        start,
        t0,
    ) else {
        return;
    };
    let from = "192.0.2.9:4000".parse().expect("address");
    let mut frame = vec![0i16; 320];
    let mut step = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (packet, next) = tail.split_at(n);
        rest = next;
        step += 1;
        let now = t0 + Duration::from_millis(step * 20);
        if len & 1 == 0 {
            s.on_rtp_datagram(now, step << 32, from, packet);
        } else {
            s.on_rtcp_datagram(now, step << 32, from, packet);
        }
        s.handle_timeout(now, step << 32);
        s.put_frame(&frame);
        let _ = s.get_frame(&mut frame);
        let mut sent = 0;
        while s.poll_transmit().is_some() {
            sent += 1;
            assert!(sent < 64, "a datagram made the session send without end");
        }
        while s.poll_event().is_some() {}
    }
});
