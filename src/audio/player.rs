//! Playing a sound file (API PlaySound): a WAV read off the audio clock (the driver's worker
//! thread decodes it), then played by the engine as one more bridge port, to the speaker, into
//! the calls (the far ends hear it mixed with the microphone), or both; once or looped.

use crate::media::resample::Resampler;
use crate::media::session::bridge_frame;
use std::path::Path;

/// Where a sound goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayTargets {
    /// The local speaker.
    pub speaker: bool,
    /// Into the calls: `Some(0)` every call in the mix, `Some(line)` that line's call.
    pub calls: Option<u32>,
}

impl PlayTargets {
    /// The local speaker only.
    pub const LOCAL: PlayTargets = PlayTargets {
        speaker: true,
        calls: None,
    };
}

/// A decoded sound, ready for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sound {
    /// Mono samples at `rate`.
    pub samples: Vec<i16>,
    pub rate: u32,
}

/// The longest sound accepted: ten minutes at 48 kHz (a prompt, not an album).
const MAX_SAMPLES: usize = 48_000 * 600;

impl Sound {
    /// Reads a PCM WAV file (8, 16, 24 or 32 bit integer, or 32-bit float; stereo is mixed
    /// down). Blocking: for a worker thread.
    pub fn load(path: &Path) -> Result<Sound, String> {
        let shown = path.display();
        let reader = hound::WavReader::open(path).map_err(|e| format!("{shown}: {e}"))?;
        let spec = reader.spec();
        let channels = usize::from(spec.channels.max(1));
        if spec.sample_rate < 4000 || spec.sample_rate > 192_000 {
            return Err(format!("{shown}: a rate of {} Hz", spec.sample_rate));
        }
        if reader.len() as usize / channels > MAX_SAMPLES {
            return Err(format!("{shown}: longer than ten minutes"));
        }
        let all: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => reader
                .into_samples::<f32>()
                .map(|s| s.map(|v| v * 32767.0))
                .collect::<Result<_, _>>(),
            hound::SampleFormat::Int => {
                let shift = i32::from(spec.bits_per_sample.max(8)) - 16;
                reader
                    .into_samples::<i32>()
                    .map(|s| {
                        s.map(|v| {
                            if shift >= 0 {
                                (v >> shift) as f32
                            } else {
                                (v << -shift) as f32
                            }
                        })
                    })
                    .collect::<Result<_, _>>()
            }
        }
        .map_err(|e| format!("{shown}: {e}"))?;
        let samples = all
            .chunks(channels)
            .map(|c| (c.iter().sum::<f32>() / c.len() as f32).clamp(-32768.0, 32767.0) as i16)
            .collect();
        Ok(Sound {
            samples,
            rate: spec.sample_rate,
        })
    }

    /// The same sound at `rate`.
    pub fn at_rate(&self, rate: u32) -> Vec<i16> {
        if rate == self.rate {
            return self.samples.clone();
        }
        let Ok(mut r) = Resampler::new(self.rate, rate) else {
            return self.samples.clone();
        };
        let (inn, out) = (bridge_frame(self.rate), bridge_frame(rate));
        let mut result = Vec::with_capacity(self.samples.len() / inn * out + out * 2);
        let mut chunk = vec![0; out];
        // One frame of silence more pushes the resampler's delay out.
        let tail = vec![0; inn];
        for input in self.samples.chunks(inn).chain(std::iter::once(&tail[..])) {
            r.process(input, &mut chunk);
            result.extend_from_slice(&chunk);
        }
        result
    }
}

/// A sound being played by the engine, one frame at a time.
#[derive(Debug)]
pub(super) struct Playing {
    samples: Vec<i16>,
    at: usize,
    looped: bool,
    pub(super) targets: PlayTargets,
}

impl Playing {
    /// `samples` already at the bridge's rate.
    pub(super) fn new(samples: Vec<i16>, looped: bool, targets: PlayTargets) -> Playing {
        Playing {
            samples,
            at: 0,
            looped,
            targets,
        }
    }

    /// The next frame; false once a sound played once is over (the frame is then silence).
    pub(super) fn fill(&mut self, out: &mut [i16]) -> bool {
        let mut filled = 0;
        while filled < out.len() {
            if self.at >= self.samples.len() {
                if !self.looped || self.samples.is_empty() {
                    out[filled..].fill(0);
                    return filled > 0;
                }
                self.at = 0;
            }
            let n = (out.len() - filled).min(self.samples.len() - self.at);
            out[filled..filled + n].copy_from_slice(&self.samples[self.at..self.at + n]);
            filled += n;
            self.at += n;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> PlayTargets {
        PlayTargets {
            speaker: true,
            calls: None,
        }
    }

    #[test]
    fn a_sound_plays_once_or_loops() {
        let mut once = Playing::new(vec![1, 2, 3], false, targets());
        let mut out = [9; 2];
        assert!(once.fill(&mut out));
        assert_eq!(out, [1, 2]);
        assert!(once.fill(&mut out));
        assert_eq!(out, [3, 0]);
        assert!(!once.fill(&mut out));
        assert_eq!(out, [0, 0]);
        let mut looped = Playing::new(vec![1, 2, 3], true, targets());
        let mut out = [0; 7];
        assert!(looped.fill(&mut out));
        assert_eq!(out, [1, 2, 3, 1, 2, 3, 1]);
        assert!(!Playing::new(Vec::new(), true, targets()).fill(&mut out));
    }

    #[test]
    fn wav_files_of_any_pcm_kind_load_and_bad_ones_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stereo24.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for _ in 0..320 {
            w.write_sample(1000 << 8).unwrap();
            w.write_sample(3000 << 8).unwrap();
        }
        w.finalize().unwrap();
        let sound = Sound::load(&path).unwrap();
        assert_eq!(sound.rate, 16_000);
        assert_eq!(sound.samples.len(), 320);
        assert!(sound.samples.iter().all(|s| *s == 2000));
        // At 8 kHz: half as many samples (and the resampler's delay flushed out).
        let narrow = sound.at_rate(8000);
        assert!(narrow.len() >= 160, "{}", narrow.len());
        assert!(Sound::load(&dir.path().join("missing.wav")).is_err());
        std::fs::write(dir.path().join("text.wav"), b"not a wav").unwrap();
        let e = Sound::load(&dir.path().join("text.wav")).unwrap_err();
        assert!(e.contains("text.wav"), "{e}");
    }
}
