//! Sample-rate conversion between a codec's rate and a device's rate, frame by frame. rubato's
//! FFT resampler does the work (exact rational ratio, good anti-aliasing); this stage adds the
//! FIFOs that turn its fixed chunks into whatever frame sizes the two sides use. Equal rates
//! pass through untouched. Buffers are allocated once, when the stage is built.

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Resampler as _};
use thiserror::Error;

/// Why a resampler could not be built.
#[derive(Debug, Error)]
#[error("cannot resample {from} Hz to {to} Hz: {reason}")]
pub struct ResampleError {
    pub from: u32,
    pub to: u32,
    reason: String,
}

/// Converts a mono stream from one rate to another.
pub struct Resampler {
    inner: Option<Fft<f32>>,
    /// Input not yet resampled.
    pending: Vec<f32>,
    /// Output not yet taken.
    ready: Vec<f32>,
    chunk_in: Vec<f32>,
    chunk_out: Vec<f32>,
    pub from: u32,
    pub to: u32,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resampler({} Hz -> {} Hz)", self.from, self.to)
    }
}

impl Resampler {
    /// A stage from `from` Hz to `to` Hz working on chunks of about 20 ms.
    pub fn new(from: u32, to: u32) -> Result<Resampler, ResampleError> {
        let err = |reason: String| ResampleError { from, to, reason };
        if from == 0 || to == 0 {
            return Err(err("zero rate".into()));
        }
        let inner = if from == to {
            None
        } else {
            let chunk = (from as usize / 50).max(1);
            Some(
                Fft::new(from as usize, to as usize, chunk, 1, FixedSync::Input)
                    .map_err(|e| err(e.to_string()))?,
            )
        };
        let (max_in, max_out) = inner
            .as_ref()
            .map(|r| (r.input_frames_max(), r.output_frames_max()))
            .unwrap_or((0, 0));
        Ok(Resampler {
            inner,
            pending: Vec::with_capacity(max_in * 3),
            ready: Vec::with_capacity(max_out * 3),
            chunk_in: vec![0.0; max_in],
            chunk_out: vec![0.0; max_out],
            from,
            to,
        })
    }

    /// A stage that converts nothing: for a pair of rates that cannot be resampled (the audio is
    /// then heard at the wrong pitch rather than not at all).
    pub fn passthrough(from: u32, to: u32) -> Resampler {
        Resampler {
            inner: None,
            pending: Vec::new(),
            ready: Vec::new(),
            chunk_in: Vec::new(),
            chunk_out: Vec::new(),
            from,
            to,
        }
    }

    /// Feeds `input` (at `from`) and fills `out` (at `to`) completely; while the resampler's
    /// delay has not filled yet the missing start is silence.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) {
        let Some(r) = self.inner.as_mut() else {
            let n = input.len().min(out.len());
            out[..n].copy_from_slice(&input[..n]);
            out[n..].fill(0);
            return;
        };
        self.pending.extend(input.iter().map(|&s| f32::from(s)));
        loop {
            let need = r.input_frames_next();
            if self.pending.len() < need {
                break;
            }
            self.chunk_in[..need].copy_from_slice(&self.pending[..need]);
            self.pending.drain(..need);
            let produced = r.output_frames_next();
            let (Ok(inp), Ok(mut outp)) = (
                SequentialSlice::new(&self.chunk_in[..need], 1, need),
                SequentialSlice::new_mut(&mut self.chunk_out[..produced], 1, produced),
            ) else {
                break;
            };
            match r.process_into_buffer(&inp, &mut outp, None) {
                Ok((_, written)) => self.ready.extend_from_slice(&self.chunk_out[..written]),
                Err(_) => break,
            }
        }
        let take = self.ready.len().min(out.len());
        let missing = out.len() - take;
        out[..missing].fill(0);
        for (o, s) in out[missing..].iter_mut().zip(self.ready.drain(..take)) {
            *o = s.round().clamp(-32768.0, 32767.0) as i16;
        }
        // A stream that produces more than it is asked for (never for fixed frame sizes) must
        // not grow without bound.
        let keep = self.chunk_out.len() * 2;
        if self.ready.len() > keep {
            let drop = self.ready.len() - keep;
            self.ready.drain(..drop);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| ((i as f32 * hz * std::f32::consts::TAU / rate as f32).sin() * 10000.0) as i16)
            .collect()
    }

    /// The strongest frequency by a direct DFT scan in 10 Hz steps.
    fn peak_hz(x: &[i16], rate: u32) -> f32 {
        (1..400)
            .map(|k| k as f32 * 10.0)
            .map(|f| {
                let (mut re, mut im) = (0.0f32, 0.0f32);
                for (i, &s) in x.iter().enumerate() {
                    let ph = i as f32 * f * std::f32::consts::TAU / rate as f32;
                    re += f32::from(s) * ph.cos();
                    im += f32::from(s) * ph.sin();
                }
                (f, re * re + im * im)
            })
            .fold((0.0, 0.0), |a, b| if b.1 > a.1 { b } else { a })
            .0
    }

    #[test]
    fn frames_keep_their_pitch_and_length_across_rates() {
        for (from, to) in [
            (8000u32, 48_000u32),
            (48_000, 8000),
            (16_000, 44_100),
            (44_100, 16_000),
        ] {
            let mut r = Resampler::new(from, to).unwrap();
            let input = tone(from, 440.0, from as usize); // one second
            let mut output = Vec::new();
            for chunk in input.chunks(from as usize / 50) {
                let mut out = vec![0i16; to as usize / 50];
                r.process(chunk, &mut out);
                output.extend_from_slice(&out);
            }
            assert_eq!(output.len(), to as usize);
            let tail = &output[output.len() / 2..];
            assert_eq!(peak_hz(tail, to), 440.0, "{from} -> {to}");
            let level = (tail.iter().map(|&s| f32::from(s).powi(2)).sum::<f32>()
                / tail.len() as f32)
                .sqrt();
            assert!(
                (level - 7071.0).abs() < 500.0,
                "{from} -> {to}: level {level}"
            );
        }
    }

    #[test]
    fn equal_rates_pass_through_and_bad_rates_are_refused() {
        let mut r = Resampler::new(8000, 8000).unwrap();
        let mut out = [0i16; 3];
        r.process(&[1, 2, 3], &mut out);
        assert_eq!(out, [1, 2, 3]);
        assert!(Resampler::new(0, 8000).is_err());
    }
}
