//! Cost of one 20 ms frame through the send path (encode, packetize) and the receive path
//! (depacketize, jitter buffer, decode or conceal), per codec. One call needs one of each per
//! 20 ms, so calls per core = 20 ms / (send + receive).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use softphone::media::jitter::{JitterBuffer, Playout};
use softphone::media::{Concealer, FRAME_SAMPLES, decode, encode};
use softphone::rtp::{RtpSender, parse};
use softphone::sdp::Codec;
use std::hint::black_box;

fn speech_like() -> Vec<i16> {
    (0..FRAME_SAMPLES)
        .map(|i| (((i as f32) * 0.07).sin() * 6000.0 + ((i as f32) * 0.31).sin() * 2000.0) as i16)
        .collect()
}

fn bench(c: &mut Criterion) {
    let pcm = speech_like();
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let mut g = c.benchmark_group(format!("frame/{}", codec.name()));
        g.bench_function("send (encode+packetize)", |b| {
            let mut sender = RtpSender::new(codec.payload_type(), 1, 2, 3);
            let mut payload = Vec::with_capacity(FRAME_SAMPLES);
            b.iter(|| {
                encode(codec, black_box(&pcm), &mut payload);
                black_box(sender.packetize(&payload, FRAME_SAMPLES as u32))
            })
        });
        g.bench_function("receive (depacketize+jitter+decode, 10% concealed)", |b| {
            let mut sender = RtpSender::new(codec.payload_type(), 1, 2, 3);
            let mut payload = Vec::new();
            encode(codec, &pcm, &mut payload);
            let mut jitter = JitterBuffer::new(3, 50);
            let mut conceal = Concealer::default();
            let mut out = Vec::with_capacity(FRAME_SAMPLES);
            let mut n = 0u32;
            // Packets are made in the untimed setup; every tenth is lost.
            b.iter_batched(
                || {
                    n += 1;
                    let packet = sender.packetize(&payload, FRAME_SAMPLES as u32);
                    (!n.is_multiple_of(10)).then_some(packet)
                },
                |packet| {
                    if let Some(packet) = packet {
                        let p = parse(black_box(&packet)).expect("parse");
                        jitter.push(p.seq, p.payload);
                    }
                    match jitter.pop() {
                        Playout::Frame(p) => {
                            decode(codec, &p, &mut out);
                            conceal.good(&out);
                        }
                        Playout::Missing => conceal.conceal(&mut out),
                        Playout::Buffering => {}
                    }
                    black_box(&out);
                },
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
