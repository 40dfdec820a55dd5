//! The WAV-file backend (hound): capture from a WAV file, playback into a WAV file. 8 kHz mono
//! 16-bit, the media path's native format; other formats are refused with a clear error.

use super::{AudioSink, AudioSource};
use anyhow::{Context, bail};
use std::fs::File;
use std::io::BufWriter;

/// Plays a WAV file as the microphone, then silence.
#[derive(Debug)]
pub struct WavSource {
    samples: Vec<i16>,
    pos: usize,
}

impl WavSource {
    /// Loads the file.
    pub fn open(path: &str) -> anyhow::Result<WavSource> {
        let reader = hound::WavReader::open(path).with_context(|| format!("opening {path}"))?;
        let spec = reader.spec();
        if spec.channels != 1 || spec.sample_rate != 8000 || spec.bits_per_sample != 16 {
            bail!(
                "{path} is {} Hz, {} channel(s), {} bit: 8000 Hz mono 16-bit is needed",
                spec.sample_rate,
                spec.channels,
                spec.bits_per_sample
            );
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<i16>, _>>()
            .with_context(|| format!("reading {path}"))?;
        Ok(WavSource { samples, pos: 0 })
    }
}

impl AudioSource for WavSource {
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
}

impl WavSink {
    /// Creates (or truncates) the file.
    pub fn create(path: &str) -> anyhow::Result<WavSink> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer =
            hound::WavWriter::create(path, spec).with_context(|| format!("creating {path}"))?;
        Ok(WavSink {
            writer: Some(writer),
        })
    }
}

impl AudioSink for WavSink {
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
        let mut sink = WavSink::create(p).unwrap();
        let frame: Vec<i16> = (0..160).map(|i| i as i16 * 10).collect();
        sink.write(&frame).unwrap();
        sink.write(&frame).unwrap();
        sink.finish().unwrap();
        let mut src = WavSource::open(p).unwrap();
        let mut buf = [0i16; 160];
        assert!(src.read(&mut buf));
        assert_eq!(buf.to_vec(), frame);
        assert!(src.read(&mut buf));
        assert!(!src.read(&mut buf), "exhausted");
        assert_eq!(buf, [0i16; 160]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
