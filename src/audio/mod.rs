//! Sound devices behind one pair of traits, so that the media path does not know whether it
//! talks to a sound card or a file: cpal sound cards (`Default` or a device name), WAV files
//! (`file:PATH`, for tests and headless use) and `null`.

mod active;
pub mod device;
pub mod engine;
pub mod event;
pub mod player;
pub mod recorder;
pub mod ringer;
pub mod wav;

use anyhow::Context;

/// Where microphone frames come from.
pub trait AudioSource: Send {
    /// The rate of the samples `read` gives (the media path resamples to the codec's).
    fn sample_rate(&self) -> u32;
    /// Fills `frame` (mono); gives false once the source is exhausted (the frame is then
    /// silence).
    fn read(&mut self, frame: &mut [i16]) -> bool;
    /// Something the user should hear of (the device failed, came back).
    fn take_notice(&mut self) -> Option<String> {
        None
    }
}

/// Where speaker frames go.
pub trait AudioSink: Send {
    /// The rate `write` expects.
    fn sample_rate(&self) -> u32;
    /// Takes one frame (mono).
    fn write(&mut self, frame: &[i16]) -> anyhow::Result<()>;
    /// Flushes and closes (a WAV header gets its final length).
    fn finish(&mut self) -> anyhow::Result<()>;
    /// Something the user should hear of (the device failed, came back).
    fn take_notice(&mut self) -> Option<String> {
        None
    }
}

/// Silence in, nothing out, at any rate.
#[derive(Debug)]
pub struct Null {
    pub rate: u32,
}

impl Default for Null {
    fn default() -> Self {
        Null { rate: 8000 }
    }
}

impl AudioSource for Null {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn read(&mut self, frame: &mut [i16]) -> bool {
        frame.fill(0);
        true
    }
}

impl AudioSink for Null {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn write(&mut self, _frame: &[i16]) -> anyhow::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Opens the capture side named by `recorddevice`: empty or `Default` is the system's default
/// sound card, `file:PATH` a WAV file, `null` silence, anything else a sound card by name.
pub fn open_source(name: &str) -> anyhow::Result<Box<dyn AudioSource>> {
    match name.trim() {
        "null" => Ok(Box::new(Null::default())),
        n if n.starts_with("file:") => Ok(Box::new(
            wav::WavSource::open(&n[5..]).with_context(|| format!("recorddevice {n}"))?,
        )),
        n => Ok(Box::new(device::CpalSource::open(n))),
    }
}

/// Opens the playback side named by `playbackdevice` (names as for [`open_source`]); a WAV
/// file records at `rate` Hz (the call's codec rate, so nothing is resampled needlessly).
pub fn open_sink(name: &str, rate: u32) -> anyhow::Result<Box<dyn AudioSink>> {
    match name.trim() {
        "null" => Ok(Box::new(Null { rate })),
        n if n.starts_with("file:") => Ok(Box::new(
            wav::WavSink::create(&n[5..], rate).with_context(|| format!("playbackdevice {n}"))?,
        )),
        n => Ok(Box::new(device::CpalSink::open(n))),
    }
}
