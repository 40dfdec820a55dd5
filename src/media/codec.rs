//! Encoders and decoders for the negotiated codecs, one frame at a time at the codec's own
//! sample rate. G.711 is ours (`g711`), G.722 comes from the audio-codec crate, Opus from
//! libopus (in-band FEC and DTX on), GSM from libgsm (`gsm`), Speex from libspeex (`speex`),
//! G.729 from bcg729 (`g729`, only with the opt-in `g729` feature).
//! Lost frames are concealed by Opus itself (FEC from the next packet when it is there, else
//! its PLC), by libspeex for Speex, by bcg729 for G.729, or by the Appendix-I-style concealer for the others.

use super::g711;
use super::gsm::{GSM_FRAME_BYTES, GSM_FRAME_SAMPLES, GsmCoder};
use super::plc::WaveformPlc;
use super::speex::{SpeexBand, SpeexDecoder, SpeexEncoder};
use crate::sdp::{Codec, OpusParams};
use audio_codec::g722::{G722Decoder, G722Encoder};
use audio_codec::{Decoder as _, Encoder as _};
use thiserror::Error;

/// A codec failure (a payload that does not decode, a libopus error).
#[derive(Debug, Error)]
pub enum CodecError {
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    #[error("G.722: {0:?}")]
    G722(audio_codec::CodecError),
    #[error("no codec agreed")]
    NoCodec,
    /// The C library could not allocate its state.
    #[error("{0}: out of memory")]
    OutOfMemory(&'static str),
    /// A payload that is not what the agreed codec sends.
    #[error("{0}: corrupt payload")]
    Corrupt(&'static str),
    /// A codec this build does not contain (G.729 without the `g729` feature).
    #[error("{0} is not in this build")]
    NotBuilt(&'static str),
}

/// The Speex band of a Speex codec.
fn speex_band(codec: Codec) -> Option<SpeexBand> {
    match codec {
        Codec::Speex => Some(SpeexBand::Narrow),
        Codec::SpeexWb => Some(SpeexBand::Wide),
        Codec::SpeexUwb => Some(SpeexBand::UltraWide),
        _ => None,
    }
}

/// Samples in one frame of `ptime` ms at the codec's rate.
pub fn frame_samples(codec: Codec, ptime: u32) -> usize {
    (codec.sample_rate() * ptime / 1000) as usize
}

/// The widest Opus band worth encoding for a receiver that plays up to `rate` Hz.
fn opus_bandwidth(rate: u32) -> opus::Bandwidth {
    match rate {
        0..=8000 => opus::Bandwidth::Narrowband,
        8001..=12_000 => opus::Bandwidth::Mediumband,
        12_001..=16_000 => opus::Bandwidth::Wideband,
        16_001..=24_000 => opus::Bandwidth::Superwideband,
        _ => opus::Bandwidth::Fullband,
    }
}

enum EncoderKind {
    Ulaw,
    Alaw,
    G722(Box<G722Encoder>),
    Opus(Box<opus::Encoder>),
    Gsm(Box<GsmCoder>),
    Speex(Box<SpeexEncoder>),
    #[cfg(feature = "g729")]
    G729(Box<super::g729::G729Encoder>),
}

/// Turns frames of audio into RTP payloads.
pub struct Encoder {
    kind: EncoderKind,
    pub codec: Codec,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Encoder({:?})", self.codec)
    }
}

impl Encoder {
    /// An encoder for `codec`; `peer` is what the receiver asked for (Opus: band, FEC, DTX).
    pub fn new(codec: Codec, peer: &OpusParams, ours: &OpusParams) -> Result<Encoder, CodecError> {
        let kind = match codec {
            Codec::Pcmu => EncoderKind::Ulaw,
            Codec::Pcma => EncoderKind::Alaw,
            Codec::G722 => EncoderKind::G722(Box::new(G722Encoder::new())),
            Codec::Opus => {
                let mut e =
                    opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)?;
                // Never wider than what the receiver plays or what we capture.
                e.set_max_bandwidth(opus_bandwidth(peer.max_rate.min(ours.max_rate)))?;
                // FEC costs bits only when the encoder expects loss; 10 % keeps it ready.
                e.set_inband_fec(true)?;
                e.set_packet_loss_perc(10)?;
                e.set_dtx(ours.dtx)?;
                EncoderKind::Opus(Box::new(e))
            }
            Codec::Gsm => EncoderKind::Gsm(Box::new(
                GsmCoder::new().ok_or(CodecError::OutOfMemory("GSM"))?,
            )),
            Codec::Speex | Codec::SpeexWb | Codec::SpeexUwb => {
                let band = speex_band(codec).ok_or(CodecError::NoCodec)?;
                let e = SpeexEncoder::new(band).ok_or(CodecError::OutOfMemory("Speex"))?;
                EncoderKind::Speex(Box::new(e))
            }
            #[cfg(feature = "g729")]
            Codec::G729 => EncoderKind::G729(Box::new(
                super::g729::G729Encoder::new().ok_or(CodecError::OutOfMemory("G.729"))?,
            )),
            #[cfg(not(feature = "g729"))]
            Codec::G729 => return Err(CodecError::NotBuilt("G.729")),
        };
        Ok(Encoder { kind, codec })
    }

    /// Encodes one frame into `out`. An empty `out` means nothing needs sending (Opus DTX).
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.clear();
        match &mut self.kind {
            EncoderKind::Ulaw => out.extend(pcm.iter().map(|&s| g711::linear_to_ulaw(s))),
            EncoderKind::Alaw => out.extend(pcm.iter().map(|&s| g711::linear_to_alaw(s))),
            EncoderKind::G722(e) => {
                out.resize(pcm.len() / 2 + 1, 0);
                let n = e.encode_into(pcm, out).map_err(CodecError::G722)?;
                out.truncate(n);
            }
            EncoderKind::Opus(e) => {
                out.resize(1500, 0);
                let n = e.encode(pcm, out)?;
                // RFC 7587 §3.1.3: a DTX frame of at most 2 bytes need not be sent.
                out.truncate(if n <= 2 && e.get_in_dtx().unwrap_or(false) {
                    0
                } else {
                    n
                });
            }
            // RFC 3551 §4.5.8: a packet carries whole 20 ms frames back to back.
            EncoderKind::Gsm(e) => {
                let mut frame = [0u8; GSM_FRAME_BYTES];
                for chunk in pcm.chunks(GSM_FRAME_SAMPLES) {
                    e.encode(chunk, &mut frame);
                    out.extend_from_slice(&frame);
                }
            }
            EncoderKind::Speex(e) => e.encode(pcm, out),
            #[cfg(feature = "g729")]
            EncoderKind::G729(e) => e.encode(pcm, out),
        }
        Ok(())
    }
}

enum DecoderKind {
    Ulaw,
    Alaw,
    G722(Box<G722Decoder>),
    Opus(Box<opus::Decoder>),
    Gsm(Box<GsmCoder>),
    Speex(Box<SpeexDecoder>),
    #[cfg(feature = "g729")]
    G729(Box<super::g729::G729Decoder>),
}

/// Turns RTP payloads back into frames of audio, and conceals lost ones.
pub struct Decoder {
    kind: DecoderKind,
    plc: Option<WaveformPlc>,
    pub codec: Codec,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Decoder({:?})", self.codec)
    }
}

impl Decoder {
    /// A decoder for `codec` at its own sample rate.
    pub fn new(codec: Codec) -> Result<Decoder, CodecError> {
        let kind = match codec {
            Codec::Pcmu => DecoderKind::Ulaw,
            Codec::Pcma => DecoderKind::Alaw,
            Codec::G722 => DecoderKind::G722(Box::new(G722Decoder::new())),
            Codec::Opus => {
                DecoderKind::Opus(Box::new(opus::Decoder::new(48_000, opus::Channels::Mono)?))
            }
            Codec::Gsm => DecoderKind::Gsm(Box::new(
                GsmCoder::new().ok_or(CodecError::OutOfMemory("GSM"))?,
            )),
            Codec::Speex | Codec::SpeexWb | Codec::SpeexUwb => {
                let band = speex_band(codec).ok_or(CodecError::NoCodec)?;
                let d = SpeexDecoder::new(band).ok_or(CodecError::OutOfMemory("Speex"))?;
                DecoderKind::Speex(Box::new(d))
            }
            #[cfg(feature = "g729")]
            Codec::G729 => DecoderKind::G729(Box::new(
                super::g729::G729Decoder::new().ok_or(CodecError::OutOfMemory("G.729"))?,
            )),
            #[cfg(not(feature = "g729"))]
            Codec::G729 => return Err(CodecError::NotBuilt("G.729")),
        };
        // Opus, Speex and G.729 conceal with their own decoder's state; the others with ours.
        let plc = matches!(
            kind,
            DecoderKind::Ulaw | DecoderKind::Alaw | DecoderKind::G722(_) | DecoderKind::Gsm(_)
        )
        .then(|| WaveformPlc::new(codec.sample_rate()));
        Ok(Decoder { kind, plc, codec })
    }

    /// Decodes one payload into exactly `frame` samples (short payloads are padded with
    /// silence, long ones cut: the frame clock is ours).
    pub fn decode(
        &mut self,
        payload: &[u8],
        frame: usize,
        out: &mut Vec<i16>,
    ) -> Result<(), CodecError> {
        out.clear();
        match &mut self.kind {
            DecoderKind::Ulaw => out.extend(payload.iter().map(|&b| g711::ulaw_to_linear(b))),
            DecoderKind::Alaw => out.extend(payload.iter().map(|&b| g711::alaw_to_linear(b))),
            DecoderKind::G722(d) => {
                out.resize(payload.len() * 2, 0);
                let n = d.decode_into(payload, out).map_err(CodecError::G722)?;
                out.truncate(n);
            }
            DecoderKind::Opus(d) => {
                out.resize(5760, 0); // 120 ms, the longest Opus packet
                let n = d.decode(payload, out, false)?;
                out.truncate(n);
            }
            DecoderKind::Gsm(d) => {
                let mut pcm = [0i16; GSM_FRAME_SAMPLES];
                for chunk in payload.chunks_exact(GSM_FRAME_BYTES) {
                    if out.len() >= frame {
                        break;
                    }
                    if !d.decode(chunk, &mut pcm) {
                        return Err(CodecError::Corrupt("GSM"));
                    }
                    out.extend_from_slice(&pcm);
                }
            }
            DecoderKind::Speex(d) => {
                if !d.decode(payload, frame, out) {
                    return Err(CodecError::Corrupt("Speex"));
                }
            }
            #[cfg(feature = "g729")]
            DecoderKind::G729(d) => {
                if !d.decode(payload, frame, out) {
                    return Err(CodecError::Corrupt("G.729"));
                }
            }
        }
        out.resize(frame, 0);
        if let Some(plc) = &mut self.plc {
            plc.good(out);
        }
        Ok(())
    }

    /// A frame for a lost packet; `next` is the following packet when it has already arrived
    /// (Opus recovers the lost frame from its in-band FEC).
    pub fn conceal(&mut self, next: Option<&[u8]>, frame: usize, out: &mut Vec<i16>) {
        out.clear();
        out.resize(frame, 0);
        match (&mut self.kind, &mut self.plc) {
            (DecoderKind::Opus(d), _) => {
                let recovered = next.is_some_and(|p| d.decode(p, out, true).is_ok());
                if !recovered && d.decode(&[], out, false).is_err() {
                    out.fill(0);
                }
            }
            (DecoderKind::Speex(d), _) => {
                out.clear();
                while out.len() < frame {
                    d.conceal(out);
                }
                out.truncate(frame);
            }
            #[cfg(feature = "g729")]
            (DecoderKind::G729(d), _) => {
                out.clear();
                while out.len() < frame {
                    d.conceal(out);
                }
                out.truncate(frame);
            }
            (_, Some(plc)) => plc.conceal(out),
            (_, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speechlike(rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                let v = (t * 220.0 * std::f32::consts::TAU).sin() * 6000.0
                    + (t * 1250.0 * std::f32::consts::TAU).sin() * 3000.0;
                v as i16
            })
            .collect()
    }

    fn snr_db(a: &[i16], b: &[i16]) -> f64 {
        let (mut s, mut e) = (0f64, 0f64);
        for (x, y) in a.iter().zip(b) {
            s += f64::from(*x).powi(2);
            e += (f64::from(*x) - f64::from(*y)).powi(2);
        }
        10.0 * (s / e.max(1.0)).log10()
    }

    /// Encodes and decodes one second; gives the best SNR over small delays (codecs delay).
    fn round_trip(codec: Codec) -> f64 {
        let rate = codec.sample_rate();
        let frame = frame_samples(codec, 20);
        let ours = OpusParams {
            max_rate: 48_000,
            fec: true,
            dtx: false,
        };
        let mut enc = Encoder::new(codec, &OpusParams::default(), &ours).unwrap();
        let mut dec = Decoder::new(codec).unwrap();
        let input = speechlike(rate, rate as usize);
        let mut output = Vec::new();
        let (mut payload, mut pcm) = (Vec::new(), Vec::new());
        for chunk in input.chunks(frame) {
            enc.encode(chunk, &mut payload).unwrap();
            dec.decode(&payload, frame, &mut pcm).unwrap();
            output.extend_from_slice(&pcm);
        }
        let skip = rate as usize / 10;
        (0..400)
            .map(|d| snr_db(&input[skip..input.len() - 400], &output[skip + d..]))
            .fold(f64::MIN, f64::max)
    }

    #[test]
    fn every_codec_round_trips_speechlike_audio() {
        assert!(round_trip(Codec::Pcmu) > 30.0);
        assert!(round_trip(Codec::Pcma) > 30.0);
        assert!(
            round_trip(Codec::G722) > 15.0,
            "{}",
            round_trip(Codec::G722)
        );
        assert!(round_trip(Codec::Opus) > 8.0, "{}", round_trip(Codec::Opus));
        // The LPC coders do not keep the waveform: their figures are lower by design.
        for codec in [Codec::Gsm, Codec::Speex, Codec::SpeexWb, Codec::SpeexUwb] {
            let snr = round_trip(codec);
            assert!(snr > 3.0, "{codec:?}: {snr:.1} dB");
        }
        #[cfg(feature = "g729")]
        {
            let snr = round_trip(Codec::G729);
            assert!(snr > 3.0, "G.729: {snr:.1} dB");
        }
        #[cfg(not(feature = "g729"))]
        assert!(matches!(
            Decoder::new(Codec::G729),
            Err(CodecError::NotBuilt("G.729"))
        ));
        assert_eq!(frame_samples(Codec::SpeexUwb, 20), 640);
        assert_eq!(frame_samples(Codec::G722, 20), 320);
        assert_eq!(frame_samples(Codec::Opus, 20), 960);
    }

    #[test]
    fn opus_fec_recovers_a_lost_frame_better_than_plc() {
        let ours = OpusParams {
            max_rate: 48_000,
            fec: true,
            dtx: false,
        };
        let mut enc = Encoder::new(Codec::Opus, &ours, &ours).unwrap();
        let input = speechlike(48_000, 48_000);
        let packets: Vec<Vec<u8>> = input
            .chunks(960)
            .map(|c| {
                let mut p = Vec::new();
                enc.encode(c, &mut p).unwrap();
                p
            })
            .collect();
        let energy = |lost_with_next: bool| {
            let mut dec = Decoder::new(Codec::Opus).unwrap();
            let mut pcm = Vec::new();
            let mut out = Vec::new();
            for (i, p) in packets.iter().enumerate() {
                if i == 30 {
                    dec.conceal(
                        lost_with_next.then(|| packets[31].as_slice()),
                        960,
                        &mut pcm,
                    );
                    out = pcm.clone();
                } else {
                    dec.decode(p, 960, &mut pcm).unwrap();
                }
            }
            out.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
        };
        // Both give audio in the gap; garbage payloads never panic.
        assert!(energy(true) > 0.0 && energy(false) > 0.0);
        let mut dec = Decoder::new(Codec::Opus).unwrap();
        let mut pcm = Vec::new();
        assert!(dec.decode(&[0xff; 3], 960, &mut pcm).is_err() || pcm.len() == 960);
    }

    #[test]
    fn opus_dtx_sends_nothing_in_silence() {
        let ours = OpusParams {
            max_rate: 16_000,
            fec: true,
            dtx: true,
        };
        let mut enc = Encoder::new(Codec::Opus, &ours, &ours).unwrap();
        let mut p = Vec::new();
        let mut empty = 0;
        for _ in 0..50 {
            enc.encode(&[0; 960], &mut p).unwrap();
            empty += usize::from(p.is_empty());
        }
        assert!(empty > 30, "{empty} of 50 silent frames skipped");
    }
}
