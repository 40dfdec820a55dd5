//! What calls cost on the audio clock, per 20 ms tick at the sound card's 48 kHz:
//! - `chain/<backend>`: one call's whole chain: the microphone's echo cancellation, noise
//!   suppression and gain control (with the speaker's frame as the echo reference), then the
//!   send path (resample, PCMU, packetize) and the receive path (parse, jitter buffer, decode,
//!   resample). Calls per core = 20 ms / the time.
//! - `bridge/4 calls + recorder`: a four-party tick: four call media sessions (an incoming
//!   packet each, decoded into the bridge; the mix-minus each hears encoded and sent), the
//!   microphone through the voice processing, the speaker's mix, and a recorder taking both
//!   sides (its resampling and hand-off to its writer thread; the disk is that thread's).
//! - `srtp/<suite>`: one 20 ms PCMU packet SRTP-protected and checked/decrypted again.
//!
//! µs per 10 ms is half the reported time.

// Benchmarks may unwrap (a failure there is a failed run, not bad input).
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use criterion::{Criterion, criterion_group, criterion_main};
use softphone::audio::recorder::{Recorder, RecordingSpec};
use softphone::media::bridge::Bridge;
use softphone::media::pipeline::{ReceivePath, SendPath};
use softphone::media::processing::{Backend, VoiceProcessor, VoiceSettings};
use softphone::media::session::{MediaSession, SessionConfig, StreamStart};
use softphone::rtp::{RtpSender, parse};
use softphone::sdp::{Codec, Direction, Negotiated, OpusParams};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const RATE: u32 = 48_000;
const FRAME: usize = RATE as usize / 50;

/// The defaults of the reference: echo cancellation, strongest noise suppression, adaptive
/// gain with limiter.
const CHAIN: VoiceSettings = VoiceSettings {
    echo: 2,
    noise: 3,
    gain: 3,
};

fn speech_like(k: usize) -> Vec<i16> {
    (0..FRAME)
        .map(|i| {
            let t = (k * FRAME + i) as f32 / RATE as f32;
            ((t * 220.0 * std::f32::consts::TAU).sin() * 6000.0
                + (t * 1700.0 * std::f32::consts::TAU).sin() * 2000.0) as i16
        })
        .collect()
}

/// 50 PCMU packets' payloads of the speech-like signal.
fn pcmu_payloads() -> Vec<Vec<u8>> {
    let opus = OpusParams::default();
    let mut send = SendPath::new(Codec::Pcmu, 20, RATE, &opus, &opus).unwrap();
    (0..50)
        .map(|k| {
            let mut p = Vec::new();
            send.encode(&speech_like(k), &mut p).unwrap();
            p
        })
        .collect()
}

fn chain(c: &mut Criterion) {
    let payloads = pcmu_payloads();
    let opus = OpusParams::default();
    for &backend in Backend::all() {
        c.bench_function(
            &format!("chain/{backend:?} (AEC+NS+AGC, PCMU, jitter)"),
            |b| {
                let mut voice = VoiceProcessor::with_backend(CHAIN, RATE, backend).unwrap();
                let mut send = SendPath::new(Codec::Pcmu, 20, RATE, &opus, &opus).unwrap();
                let mut receive = ReceivePath::new(&[(0, Codec::Pcmu)], 20, RATE, (3, 8)).unwrap();
                let (mut out_rtp, mut in_rtp) =
                    (RtpSender::new(0, 1, 2, 3), RtpSender::new(0, 9, 8, 7));
                let mut payload = Vec::with_capacity(1500);
                let (mut speaker, mut k) = (vec![0i16; FRAME], 0usize);
                b.iter(|| {
                    k += 1;
                    let packet = in_rtp.packetize(&payloads[k % payloads.len()], 160);
                    let p = parse(&packet).unwrap();
                    receive.push(p.seq, p.payload_type, p.payload);
                    receive.play(&mut speaker);
                    voice.render(&speaker);
                    let mut mic = speech_like(k % 50);
                    voice.capture(&mut mic);
                    send.encode(&mic, &mut payload).unwrap();
                    black_box(out_rtp.packetize(&payload, 160))
                })
            },
        );
    }
}

fn negotiated(port: u16) -> Negotiated {
    Negotiated {
        codec: Codec::Pcmu,
        payload_type: 0,
        codecs: vec![(0, Codec::Pcmu)],
        opus: OpusParams::default(),
        rtcp_mux: true,
        remote: SocketAddr::from(([127, 0, 0, 1], port)),
        dtmf_pt: Some(101),
        cn_pt: None,
        direction: Direction::SendRecv,
        ptime: 20,
        srtp: None,
        dtls: None,
    }
}

fn bridge(c: &mut Criterion) {
    let payloads = pcmu_payloads();
    let dir = tempfile::tempdir().unwrap();
    c.bench_function("bridge/4 calls + recorder (AEC+NS+AGC, PCMU)", |b| {
        let t0 = Instant::now();
        let cfg = SessionConfig {
            jitter: (3, 8),
            media_timeout: Duration::ZERO,
            opus: OpusParams::default(),
            nat_open: (0, false),
            silence: Default::default(),
        };
        let mut sessions: Vec<(MediaSession, RtpSender, SocketAddr)> = (0..4u16)
            .map(|i| {
                let n = negotiated(4000 + i * 2);
                let start = StreamStart {
                    ssrc: u32::from(i) + 1,
                    seq: 1,
                    timestamp: 0,
                };
                let remote = n.remote;
                let s = MediaSession::new(n, cfg.clone(), RATE, start, t0).unwrap();
                (s, RtpSender::new(0, 100 + u32::from(i), 1, 0), remote)
            })
            .collect();
        let mut bridge = Bridge::new(FRAME);
        let mic = bridge.add_port();
        let speaker = bridge.add_port();
        let calls: Vec<_> = (0..4).map(|_| bridge.add_port()).collect();
        let everyone: Vec<_> = [mic, speaker].into_iter().chain(calls.clone()).collect();
        for &a in &everyone {
            for &z in &everyone {
                if a != z && a != speaker && z != mic && !(a == mic && z == speaker) {
                    bridge.connect(a, z);
                }
            }
        }
        let mut voice = VoiceProcessor::new(CHAIN, RATE).unwrap();
        let (events, _keep) = tokio::sync::mpsc::unbounded_channel();
        let spec = RecordingSpec {
            path: dir.path().join("bench.wav"),
            max_seconds: 0,
        };
        let mut recorder = Recorder::start(1, spec, RATE, events);
        let (mut frame, mut k) = (vec![0i16; FRAME], 0usize);
        b.iter(|| {
            k += 1;
            let now = t0 + Duration::from_millis(20 * k as u64);
            for ((s, far, from), &port) in sessions.iter_mut().zip(&calls) {
                let packet = far.packetize(&payloads[k % payloads.len()], 160);
                s.on_rtp_datagram(now, 0, *from, &packet);
                s.get_frame(&mut frame);
                bridge.put(port, &frame);
            }
            let mut said = speech_like(k % 50);
            voice.capture(&mut said);
            bridge.put(mic, &said);
            bridge.mix();
            voice.render(bridge.output(speaker));
            for ((s, _, _), &port) in sessions.iter_mut().zip(&calls) {
                s.put_frame(bridge.output(port));
                while let Some(t) = s.poll_transmit() {
                    black_box(t);
                }
            }
            black_box(recorder.push(&said, bridge.output(speaker)));
        })
    });
}

/// SRTP's share of a call: one 20 ms PCMU packet protected by us and checked and decrypted by
/// the far end, for the SDES suites (50 of these per second each way make one call's cost).
fn srtp(c: &mut Criterion) {
    use softphone::rtp::srtp::{SrtpKey, SrtpKeys, SrtpStage, SrtpSuite};
    let payload = pcmu_payloads().swap_remove(0);
    for suite in [SrtpSuite::AesCm128HmacSha1_80, SrtpSuite::AeadAes128Gcm] {
        let (a, b) = (
            SrtpKey::random(suite).unwrap(),
            SrtpKey::random(suite).unwrap(),
        );
        let mut ours = SrtpStage::new(SrtpKeys {
            send: a.clone(),
            receive: b.clone(),
        })
        .unwrap();
        let mut theirs = SrtpStage::new(SrtpKeys {
            send: b,
            receive: a,
        })
        .unwrap();
        let mut tx = RtpSender::new(0, 1, 0, 0);
        c.bench_function(
            &format!("srtp/protect+unprotect one PCMU packet ({})", suite.name()),
            |bench| {
                bench.iter(|| {
                    let wire = ours.protect_rtp(&tx.packetize(&payload, 160)).unwrap();
                    black_box(theirs.unprotect_rtp(&wire).unwrap());
                })
            },
        );
    }
}

criterion_group!(benches, chain, bridge, srtp);
criterion_main!(benches);
