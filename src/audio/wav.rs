//! The WAV-file backend (hound): capture from a WAV file (16-bit, any rate, stereo mixed down
//! to mono), playback into a 16-bit mono WAV file at the rate the call asks for. Other sample
//! formats are refused with a clear error.

use super::{AudioSink, AudioSource};
use anyhow::{Context, bail};
use std::fs::File;
use std::io::BufWriter;

/// Plays a WAV file as the microphone, then silence.
#[derive(Debug)]
pub struct WavSource {
    samples: Vec<i16>,
    pos: usize,
    rate: u32,
}

impl WavSource {
    /// Loads the file.
    pub fn open(path: &str) -> anyhow::Result<WavSource> {
        let reader = hound::WavReader::open(path).with_context(|| format!("opening {path}"))?;
        let spec = reader.spec();
        if spec.bits_per_sample != 16
            || spec.sample_format != hound::SampleFormat::Int
            || spec.channels == 0
            || !(8000..=192_000).contains(&spec.sample_rate)
        {
            bail!(
                "{path} is {} Hz, {} channel(s), {} bit: 16-bit PCM at 8000-192000 Hz is needed",
                spec.sample_rate,
                spec.channels,
                spec.bits_per_sample
            );
        }
        let interleaved = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<i16>, _>>()
            .with_context(|| format!("reading {path}"))?;
        let channels = usize::from(spec.channels);
        let samples = interleaved
            .chunks(channels)
            .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16)
            .collect();
        Ok(WavSource {
            samples,
            pos: 0,
            rate: spec.sample_rate,
        })
    }
}

impl AudioSource for WavSource {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn read(&mut self, frame: &mut [i16]) -> bool {
        let left = self.samples.len().saturating_sub(self.pos);
        let n = left.min(frame.len());
        frame[..n].copy_from_slice(&self.samples[self.pos..self.pos + n]);
        frame[n..].fill(0);
        self.pos += n;
        n == frame.len()
    }
}

/// Records the speaker into a WAV file.
pub struct WavSink {
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    rate: u32,
}

impl WavSink {
    /// Creates (or truncates) the file, recording at `rate` Hz.
    pub fn create(path: &str, rate: u32) -> anyhow::Result<WavSink> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer =
            hound::WavWriter::create(path, spec).with_context(|| format!("creating {path}"))?;
        Ok(WavSink {
            writer: Some(writer),
            rate,
        })
    }
}

impl AudioSink for WavSink {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn write(&mut self, frame: &[i16]) -> anyhow::Result<()> {
        if let Some(w) = self.writer.as_mut() {
            let mut i16w = w.get_i16_writer(frame.len() as u32);
            for &s in frame {
                i16w.write_sample(s);
            }
            i16w.flush()?;
        }
        Ok(())
    }
    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(w) = self.writer.take() {
            w.finalize()?;
        }
        Ok(())
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_then_source_round_trip() {
        let dir = std::env::temp_dir().join(format!("wavtest{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.wav");
        let p = path.to_str().unwrap();
        let mut sink = WavSink::create(p, 8000).unwrap();
        let frame: Vec<i16> = (0..160).map(|i| i as i16 * 10).collect();
        sink.write(&frame).unwrap();
        sink.write(&frame).unwrap();
        sink.finish().unwrap();
        let mut src = WavSource::open(p).unwrap();
        assert_eq!(src.sample_rate(), 8000);
        let mut buf = [0i16; 160];
        assert!(src.read(&mut buf));
        assert_eq!(buf.to_vec(), frame);
        assert!(src.read(&mut buf));
        assert!(!src.read(&mut buf), "exhausted");
        assert_eq!(buf, [0i16; 160]);
        // Stereo is mixed down; 8-bit is refused with the reason.
        let stereo = dir.join("s.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&stereo, spec).unwrap();
        for _ in 0..320 {
            w.write_sample(1000i16).unwrap();
            w.write_sample(3000i16).unwrap();
        }
        w.finalize().unwrap();
        let mut src = WavSource::open(stereo.to_str().unwrap()).unwrap();
        assert_eq!(src.sample_rate(), 16_000);
        let mut buf = [0i16; 320];
        assert!(src.read(&mut buf));
        assert_eq!(buf[0], 2000);
        let eight = dir.join("e.wav");
        let spec = hound::WavSpec {
            bits_per_sample: 8,
            channels: 1,
            ..spec
        };
        let mut w = hound::WavWriter::create(&eight, spec).unwrap();
        w.write_sample(1i8).unwrap();
        w.finalize().unwrap();
        let err = WavSource::open(eight.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("16-bit"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
