//! Sound devices behind one pair of traits, so that the media path does not know whether it
//! talks to a sound card or a file. This build has the WAV-file backend (tests, headless
//! recording and playback of prompts) and the null backend; device names other than
//! `file:PATH` and `null` are refused with a clear error.

pub mod wav;

use anyhow::{Context, bail};

/// Where microphone frames come from.
pub trait AudioSource: Send {
    /// Fills `frame` (8 kHz mono); gives false once the source is exhausted (the frame is then
    /// silence).
    fn read(&mut self, frame: &mut [i16]) -> bool;
}

/// Where speaker frames go.
pub trait AudioSink: Send {
    /// Takes one frame (8 kHz mono).
    fn write(&mut self, frame: &[i16]) -> anyhow::Result<()>;
    /// Flushes and closes (a WAV header gets its final length).
    fn finish(&mut self) -> anyhow::Result<()>;
}

/// Silence in, nothing out.
#[derive(Debug, Default)]
pub struct Null;

impl AudioSource for Null {
    fn read(&mut self, frame: &mut [i16]) -> bool {
        frame.fill(0);
        true
    }
}

impl AudioSink for Null {
    fn write(&mut self, _frame: &[i16]) -> anyhow::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Opens the capture side named by `recorddevice`.
pub fn open_source(name: &str) -> anyhow::Result<Box<dyn AudioSource>> {
    match name.trim() {
        "" | "null" => Ok(Box::new(Null)),
        n if n.starts_with("file:") => Ok(Box::new(
            wav::WavSource::open(&n[5..]).with_context(|| format!("recorddevice {n}"))?,
        )),
        n => bail!(
            "recorddevice {n:?}: sound cards are not available in this build; use file:PATH or null"
        ),
    }
}

/// Opens the playback side named by `playbackdevice`.
pub fn open_sink(name: &str) -> anyhow::Result<Box<dyn AudioSink>> {
    match name.trim() {
        "" | "null" => Ok(Box::new(Null)),
        n if n.starts_with("file:") => Ok(Box::new(
            wav::WavSink::create(&n[5..]).with_context(|| format!("playbackdevice {n}"))?,
        )),
        n => bail!(
            "playbackdevice {n:?}: sound cards are not available in this build; use file:PATH or null"
        ),
    }
}
