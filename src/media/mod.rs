//! Media stages that work on 20 ms frames with no clock and no device: codecs, the jitter
//! buffer, loss concealment. The driver moves frames between them on its own timer.

pub mod dtmf;
pub mod g711;
pub mod jitter;

use crate::sdp::Codec;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// Encodes one frame of 16-bit samples.
pub fn encode(codec: Codec, pcm: &[i16], out: &mut Vec<u8>) {
    out.clear();
    match codec {
        Codec::Pcmu => out.extend(pcm.iter().map(|&s| g711::linear_to_ulaw(s))),
        Codec::Pcma => out.extend(pcm.iter().map(|&s| g711::linear_to_alaw(s))),
    }
}

/// Decodes one payload into 16-bit samples.
pub fn decode(codec: Codec, payload: &[u8], out: &mut Vec<i16>) {
    out.clear();
    match codec {
        Codec::Pcmu => out.extend(payload.iter().map(|&b| g711::ulaw_to_linear(b))),
        Codec::Pcma => out.extend(payload.iter().map(|&b| g711::alaw_to_linear(b))),
    }
}

/// Conceals lost G.711 frames by repeating the last good frame with a fade, reaching silence
/// after a few lost frames (a simplified form of G.711 Appendix I's waveform substitution).
#[derive(Debug, Default)]
pub struct Concealer {
    last: Vec<i16>,
    lost_in_row: u32,
}

impl Concealer {
    /// Remembers a good frame.
    pub fn good(&mut self, frame: &[i16]) {
        self.last.clear();
        self.last.extend_from_slice(frame);
        self.lost_in_row = 0;
    }

    /// A frame for a lost slot.
    pub fn conceal(&mut self, out: &mut Vec<i16>) {
        self.lost_in_row += 1;
        out.clear();
        // 100 %, 75 %, 50 %, 25 %, then silence.
        let gain = (4u32.saturating_sub(self.lost_in_row - 1)) as i32;
        if self.last.is_empty() {
            out.resize(FRAME_SAMPLES, 0);
            return;
        }
        out.extend(
            self.last
                .iter()
                .map(|&s| ((i32::from(s) * gain) / 4) as i16),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concealment_fades_to_silence() {
        let mut c = Concealer::default();
        c.good(&[1000; FRAME_SAMPLES]);
        let mut out = Vec::new();
        let levels: Vec<i16> = (0..6)
            .map(|_| {
                c.conceal(&mut out);
                out[0]
            })
            .collect();
        assert_eq!(levels, vec![1000, 750, 500, 250, 0, 0]);
    }

    #[test]
    fn codecs_round_trip_a_frame() {
        let pcm: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
            .collect();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let (mut enc, mut dec) = (Vec::new(), Vec::new());
            encode(codec, &pcm, &mut enc);
            assert_eq!(enc.len(), FRAME_SAMPLES);
            decode(codec, &enc, &mut dec);
            let err: i64 = pcm
                .iter()
                .zip(&dec)
                .map(|(a, b)| (i64::from(*a) - i64::from(*b)).abs())
                .sum();
            assert!(err / (FRAME_SAMPLES as i64) < 200, "{codec:?}");
        }
    }
}
