//! Cost of one 20 ms frame through the send path (resample from a 48 kHz sound card, encode,
//! packetize) and the receive path (depacketize, jitter buffer, decode or conceal, resample to
//! the card), per codec. One call needs one of each per 20 ms, so calls per core =
//! 20 ms / (send + receive).

// Benchmarks and tests may unwrap (a failure there is a failed run, not bad input), and their
// helpers are pub for the modules of this one crate.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use softphone::media::pipeline::{ReceivePath, SendPath};
use softphone::rtp::{RtpSender, parse};
use softphone::sdp::{Codec, OpusParams};
use std::hint::black_box;

const DEVICE_RATE: u32 = 48_000;
const FRAME: usize = DEVICE_RATE as usize / 50;

fn speech_like() -> Vec<i16> {
    (0..FRAME)
        .map(|i| {
            let t = i as f32 / DEVICE_RATE as f32;
            ((t * 220.0 * std::f32::consts::TAU).sin() * 6000.0
                + (t * 1700.0 * std::f32::consts::TAU).sin() * 2000.0) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pcm = speech_like();
    let opus = OpusParams {
        max_rate: 48_000,
        fec: true,
        dtx: false,
    };
    for codec in [Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::Opus] {
        let pt = codec.payload_type();
        let mut g = c.benchmark_group(format!("frame/{}", codec.name()));
        g.bench_function("send (resample+encode+packetize)", |b| {
            let mut send = SendPath::new(codec, 20, DEVICE_RATE, &opus, &opus).expect("path");
            let mut sender = RtpSender::new(pt, 1, 2, 3);
            let mut payload = Vec::with_capacity(1500);
            b.iter(|| {
                send.encode(black_box(&pcm), &mut payload).expect("encode");
                black_box(sender.packetize(&payload, send.clock_samples))
            })
        });
        g.bench_function(
            "receive (depacketize+jitter+decode+resample, 10% concealed)",
            |b| {
                // Real payloads of the codec, made once.
                let mut send = SendPath::new(codec, 20, DEVICE_RATE, &opus, &opus).expect("path");
                let payloads: Vec<Vec<u8>> = (0..50)
                    .map(|_| {
                        let mut p = Vec::new();
                        send.encode(&pcm, &mut p).expect("encode");
                        p
                    })
                    .collect();
                let mut sender = RtpSender::new(pt, 1, 2, 3);
                let mut receive =
                    ReceivePath::new(&[(pt, codec)], 20, DEVICE_RATE, (3, 8)).expect("path");
                let mut out = vec![0i16; FRAME];
                let mut n = 0usize;
                // Packets are made in the untimed setup; every tenth is lost.
                b.iter_batched(
                    || {
                        n += 1;
                        let packet =
                            sender.packetize(&payloads[n % payloads.len()], send.clock_samples);
                        (!n.is_multiple_of(10)).then_some(packet)
                    },
                    |packet| {
                        if let Some(packet) = packet {
                            let p = parse(black_box(&packet)).expect("parse");
                            receive.push(p.seq, p.payload_type, p.payload);
                        }
                        black_box(receive.play(&mut out));
                    },
                    BatchSize::SmallInput,
                )
            },
        );
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
