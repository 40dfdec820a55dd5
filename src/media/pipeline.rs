//! One call's audio stages chained, without clock or device: the send path (device-rate frame
//! → resample → encode) and the receive path (jitter buffer → decode or conceal → resample →
//! device-rate frame). The media task calls them once per ptime; the benchmarks call them in a
//! loop.

use super::codec::{CodecError, Decoder, Encoder, frame_samples};
use super::jitter::{JitterBuffer, JitterStats, Playout};
use super::resample::{ResampleError, Resampler};
use super::silence::ComfortNoise;
use crate::sdp::{Codec, OpusParams};
use thiserror::Error;

/// Why a path could not be built.
#[derive(Debug, Error)]
pub enum PipelineError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// Device frames → RTP payloads.
#[derive(Debug)]
pub struct SendPath {
    up: Resampler,
    encoder: Encoder,
    pcm: Vec<i16>,
    /// RTP timestamp units per frame.
    pub clock_samples: u32,
    /// Device samples per frame.
    pub device_samples: usize,
}

impl SendPath {
    /// Encodes `codec` every `ptime` ms from a device at `device_rate`.
    pub fn new(
        codec: Codec,
        ptime: u32,
        device_rate: u32,
        peer_opus: &OpusParams,
        our_opus: &OpusParams,
    ) -> Result<SendPath, PipelineError> {
        Ok(SendPath {
            up: Resampler::new(device_rate, codec.sample_rate())?,
            encoder: Encoder::new(codec, peer_opus, our_opus)?,
            pcm: vec![0; frame_samples(codec, ptime)],
            clock_samples: codec.clock_rate() * ptime / 1000,
            device_samples: (device_rate * ptime / 1000) as usize,
        })
    }

    /// The codec this path encodes.
    pub fn codec(&self) -> Codec {
        self.encoder.codec
    }

    /// One captured frame into one payload (empty: nothing to send, Opus DTX).
    pub fn encode(&mut self, captured: &[i16], payload: &mut Vec<u8>) -> Result<(), CodecError> {
        self.up.process(captured, &mut self.pcm);
        self.encoder.encode(&self.pcm, payload)
    }
}

/// What the receive path played for one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Played {
    /// A received frame.
    Frame,
    /// A concealed one (loss, or the buffer ran dry).
    Concealed,
    /// Silence while the buffer fills.
    Buffering,
    /// Comfort noise for the peer's silence (RFC 3389).
    Comfort,
}

/// RTP payloads → device frames.
#[derive(Debug)]
pub struct ReceivePath {
    jitter: JitterBuffer<(u8, Vec<u8>)>,
    /// The agreed codecs by payload type; the peer may switch between them.
    agreed: Vec<(u8, Codec)>,
    decoder: Decoder,
    decoder_pt: u8,
    down: Resampler,
    ptime: u32,
    device_rate: u32,
    pcm: Vec<i16>,
    /// The agreed comfort-noise payload type, and the noise of the peer's last SID while its
    /// silence lasts.
    cn_pt: Option<u8>,
    comfort: Option<ComfortNoise>,
}

impl ReceivePath {
    /// Plays the peer's stream (any of `agreed`, first expected) to a device at `device_rate`,
    /// with a jitter buffer adapting between `jitter` frames of delay.
    pub fn new(
        agreed: &[(u8, Codec)],
        ptime: u32,
        device_rate: u32,
        jitter: (usize, usize),
    ) -> Result<ReceivePath, PipelineError> {
        let &(pt, codec) = agreed
            .first()
            .ok_or(PipelineError::Codec(CodecError::NoCodec))?;
        Ok(ReceivePath {
            jitter: JitterBuffer::new(jitter.0, jitter.1),
            agreed: agreed.to_vec(),
            decoder: Decoder::new(codec)?,
            decoder_pt: pt,
            down: Resampler::new(codec.sample_rate(), device_rate)?,
            ptime,
            device_rate,
            pcm: Vec::with_capacity(5760),
            cn_pt: None,
            comfort: None,
        })
    }

    /// Plays comfort-noise packets on `pt` (RFC 3389) for the peer's silences.
    pub fn with_comfort_noise(mut self, pt: Option<u8>) -> ReceivePath {
        self.cn_pt = pt;
        self
    }

    /// True when `pt` is one of the agreed audio payload types.
    pub fn accepts(&self, pt: u8) -> bool {
        self.agreed.iter().any(|(p, _)| *p == pt) || Some(pt) == self.cn_pt
    }

    /// A received packet (payload types outside the agreement are ignored).
    pub fn push(&mut self, seq: u16, pt: u8, payload: Vec<u8>) {
        if self.accepts(pt) {
            self.jitter.push(seq, (pt, payload));
        }
    }

    /// Forgets the stream position (a new SSRC).
    pub fn reset(&mut self) {
        self.jitter.reset();
    }

    /// Counters of the jitter buffer.
    pub fn stats(&self) -> JitterStats {
        self.jitter.stats
    }

    /// The jitter buffer's current delay target in frames.
    pub fn target(&self) -> usize {
        self.jitter.target()
    }

    /// Switches the decoder when the peer changes codec; a failure keeps the old one.
    fn select(&mut self, pt: u8) {
        if pt == self.decoder_pt {
            return;
        }
        let Some(&(_, codec)) = self.agreed.iter().find(|(p, _)| *p == pt) else {
            return;
        };
        if codec != self.decoder.codec {
            match (
                Decoder::new(codec),
                Resampler::new(codec.sample_rate(), self.device_rate),
            ) {
                (Ok(d), Ok(r)) => {
                    self.decoder = d;
                    self.down = r;
                }
                _ => return,
            }
        }
        self.decoder_pt = pt;
    }

    /// Fills `out` (one frame at the device rate) for the next slot.
    pub fn play(&mut self, out: &mut [i16]) -> Played {
        let frame = frame_samples(self.decoder.codec, self.ptime);
        let played = match self.jitter.pop() {
            Playout::Frame((pt, payload)) if Some(pt) == self.cn_pt => {
                let mut noise = ComfortNoise::from_sid(&payload);
                self.pcm.clear();
                self.pcm.resize(frame, 0);
                noise.fill(&mut self.pcm);
                self.comfort = Some(noise);
                Played::Comfort
            }
            // The peer's silence goes on (it sends nothing until it speaks again).
            Playout::Missing | Playout::Buffering if self.comfort.is_some() => {
                self.pcm.clear();
                self.pcm.resize(frame, 0);
                if let Some(noise) = self.comfort.as_mut() {
                    noise.fill(&mut self.pcm);
                }
                Played::Comfort
            }
            Playout::Frame((pt, payload)) => {
                self.comfort = None;
                self.select(pt);
                let frame = frame_samples(self.decoder.codec, self.ptime);
                match self.decoder.decode(&payload, frame, &mut self.pcm) {
                    Ok(()) => Played::Frame,
                    Err(_) => {
                        self.decoder.conceal(None, frame, &mut self.pcm);
                        Played::Concealed
                    }
                }
            }
            Playout::Missing => {
                let next = self
                    .jitter
                    .peek_next()
                    .filter(|(pt, _)| *pt == self.decoder_pt)
                    .map(|(_, p)| p.as_slice());
                self.decoder.conceal(next, frame, &mut self.pcm);
                Played::Concealed
            }
            Playout::Buffering => {
                self.pcm.clear();
                self.pcm.resize(frame, 0);
                Played::Buffering
            }
        };
        self.down.process(&self.pcm, out);
        played
    }
}
