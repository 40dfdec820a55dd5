//! SDP from an untrusted peer, as an offer and as an answer: parse, answer it with each of our
//! codec lists, accept it as the answer to our offer, and start a media session on whatever is
//! agreed. None may panic or hang; an agreement must name a codec we offered or accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softphone::media::session::{MediaSession, SessionConfig, StreamStart};
use softphone::rtp::srtp::SrtpSuite;
use softphone::sdp::{self, Codec, Direction, LocalMedia, OpusParams};
use std::time::{Duration, Instant};

/// One DTLS certificate for every input (making one is slow).
fn identity() -> &'static softphone::rtp::dtls::DtlsIdentity {
    static ID: std::sync::OnceLock<softphone::rtp::dtls::DtlsIdentity> = std::sync::OnceLock::new();
    ID.get_or_init(|| softphone::rtp::dtls::DtlsIdentity::generate().expect("identity"))
}

fn local(codecs: &[Codec]) -> LocalMedia {
    LocalMedia {
        addr: "192.0.2.1".parse().expect("address"),
        port: 40000,
        offer: codecs.to_vec(),
        accept: codecs.to_vec(),
        dtmf_pt: Some(101),
        cn: false,
        ptime: 20,
        direction: Direction::SendRecv,
        opus: OpusParams::default(),
        final_codec_only: false,
        // Best-effort SRTP keyed both ways: a=crypto and a=fingerprint/a=setup lines of the
        // input are read and answered too.
        srtp: sdp::LocalSrtp::with_keying(
            sdp::MediaEncryption::Optional,
            &SrtpSuite::ALL,
            true,
            Some(identity().clone()),
        )
        .expect("keys"),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(remote) = sdp::parse(&text) else {
        return;
    };
    let config = SessionConfig {
        jitter: (2, 8),
        media_timeout: Duration::from_secs(3),
        opus: OpusParams::default(),
        nat_open: (2, true),
        silence: Default::default(),
    };
    let start = StreamStart {
        ssrc: 7,
        seq: 1,
        timestamp: 0,
    };
    for codecs in [
        &[Codec::Pcmu, Codec::Pcma][..],
        &[Codec::G722, Codec::Pcmu],
        &[Codec::Opus, Codec::Pcma],
    ] {
        let ours = local(codecs);
        let agreed = [
            sdp::answer(&remote, &ours, (1, 1)).map(|(_, n)| n),
            sdp::accept_answer(&remote, &ours),
        ];
        for n in agreed.into_iter().flatten() {
            assert!(codecs.contains(&n.codec), "agreed on {:?}", n.codec);
            if let Ok(mut s) = MediaSession::new(n, config.clone(), 48_000, start, Instant::now()) {
                let mut frame = vec![0i16; 960];
                s.put_frame(&frame);
                let _ = s.get_frame(&mut frame);
            }
        }
    }
});
