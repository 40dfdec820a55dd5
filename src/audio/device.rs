//! Sound cards through cpal. Each stream lives on its own thread (cpal streams may not move
//! between threads); its callback only moves samples through a lock-free ring (rtrb) — no
//! locks, no allocation, no logging in it. The media task reads and writes the rings.
//!
//! A device that fails (unplugged headset, sound server gone) is not the end of the call: the
//! failure is noticed on the next frame, reported once, and the stream is reopened on the
//! default device; while nothing can be opened the call goes on with silence and a retry every
//! two seconds, so audio comes back when a device does.

use super::{AudioSink, AudioSource};
use anyhow::{Context, anyhow, bail};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SizedSample};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a failed device waits before the next attempt to open one.
const RETRY: Duration = Duration::from_secs(2);
/// The rings hold half a second.
const RING_MS: u32 = 500;

/// Names of the capture and playback devices cpal sees, for `--devices` and settings.
pub fn list_devices() -> (Vec<String>, Vec<String>) {
    let host = cpal::default_host();
    let names = |devs: Result<Vec<cpal::Device>, cpal::Error>| -> Vec<String> {
        devs.map(|d| {
            d.iter()
                .filter_map(|d| d.description().ok().map(|x| x.name().to_string()))
                .collect()
        })
        .unwrap_or_default()
    };
    (
        names(host.input_devices().map(|d| d.collect())),
        names(host.output_devices().map(|d| d.collect())),
    )
}

/// True for the names that mean the system's default device.
pub fn is_default_name(name: &str) -> bool {
    let n = name.trim();
    n.is_empty() || n.eq_ignore_ascii_case("default")
}

fn find_device(host: &cpal::Host, name: &str, input: bool) -> anyhow::Result<cpal::Device> {
    let kind = if input { "microphone" } else { "speaker" };
    if is_default_name(name) {
        let d = if input {
            host.default_input_device()
        } else {
            host.default_output_device()
        };
        return d.ok_or_else(|| anyhow!("no default {kind} device"));
    }
    let mut devices: Vec<cpal::Device> = if input {
        host.input_devices()?.collect()
    } else {
        host.output_devices()?.collect()
    };
    let wanted = name.trim().to_lowercase();
    let named = |d: &cpal::Device| d.description().map(|x| x.name().to_lowercase()).ok();
    // An exact name first, then a name that contains what was given.
    let pos = devices
        .iter()
        .position(|d| named(d).as_deref() == Some(wanted.as_str()))
        .or_else(|| {
            devices
                .iter()
                .position(|d| named(d).is_some_and(|n| n.contains(&wanted)))
        });
    match pos {
        Some(i) => Ok(devices.swap_remove(i)),
        None => bail!("{kind} {name:?} not found"),
    }
}

/// The thread that owns a cpal stream; dropping it stops the stream.
struct StreamThread {
    stop: Option<std::sync::mpsc::Sender<()>>,
    join: Option<std::thread::JoinHandle<()>>,
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// What a stream's error callback tells the media side.
#[derive(Default)]
struct Health {
    failed: AtomicBool,
    reason: std::sync::Mutex<Option<String>>,
}

impl Health {
    fn fail(&self, e: &cpal::Error) {
        // Not the data callback: a short lock here is fine, and try_lock never waits.
        if let Ok(mut r) = self.reason.try_lock() {
            *r = Some(e.to_string());
        }
        self.failed.store(true, Ordering::Release);
    }
    fn reason(&self) -> String {
        self.reason
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .unwrap_or_else(|| "stream error".into())
    }
}

/// Builds a stream on its own thread; gives its sample rate once it plays.
fn spawn_stream<F>(build: F) -> anyhow::Result<(StreamThread, u32)>
where
    F: FnOnce() -> anyhow::Result<(cpal::Stream, u32)> + Send + 'static,
{
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let join = std::thread::Builder::new()
        .name("audio-stream".into())
        .spawn(move || match build() {
            Ok((stream, rate)) => match stream.play() {
                Ok(()) => {
                    let _ = ready_tx.send(Ok(rate));
                    // Parked until the owner goes away.
                    let _ = stop_rx.recv();
                    drop(stream);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(anyhow!("starting the stream: {e}")));
                }
            },
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .context("starting the audio thread")?;
    let thread = StreamThread {
        stop: Some(stop_tx),
        join: Some(join),
    };
    match ready_rx.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(rate)) => Ok((thread, rate)),
        Ok(Err(e)) => Err(e),
        Err(_) => bail!("the sound device did not start within 5 s"),
    }
}

fn input_stream<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut ring: rtrb::Producer<i16>,
    health: Arc<Health>,
) -> anyhow::Result<cpal::Stream>
where
    T: SizedSample,
    i16: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    let stream = device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            for frame in data.chunks(channels) {
                let sum: i32 = frame.iter().map(|s| i32::from(i16::from_sample(*s))).sum();
                // A full ring means the media side is behind: drop, never block.
                let _ = ring.push((sum / channels as i32) as i16);
            }
        },
        move |e| health.fail(&e),
        None,
    )?;
    Ok(stream)
}

fn output_stream<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut ring: rtrb::Consumer<i16>,
    health: Arc<Health>,
) -> anyhow::Result<cpal::Stream>
where
    T: SizedSample + FromSample<i16>,
{
    let channels = usize::from(config.channels.max(1));
    let stream = device.build_output_stream::<T, _, _>(
        config,
        move |data: &mut [T], _| {
            for frame in data.chunks_mut(channels) {
                // Running dry plays silence.
                let v = T::from_sample(ring.pop().unwrap_or(0));
                frame.fill(v);
            }
        },
        move |e| health.fail(&e),
        None,
    )?;
    Ok(stream)
}

/// One open capture stream.
struct OpenInput {
    ring: rtrb::Consumer<i16>,
    rate: u32,
    health: Arc<Health>,
    _thread: StreamThread,
}

fn open_input(name: &str) -> anyhow::Result<OpenInput> {
    let name = name.to_string();
    let health = Arc::new(Health::default());
    let h = health.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let (thread, rate) = spawn_stream(move || {
        let host = cpal::default_host();
        let device = find_device(&host, &name, true)?;
        let supported = device.default_input_config()?;
        let config = supported.config();
        let rate = config.sample_rate;
        let (producer, consumer) = rtrb::RingBuffer::new((rate * RING_MS / 1000) as usize);
        let _ = tx.send(consumer);
        let stream = match supported.sample_format() {
            cpal::SampleFormat::I16 => input_stream::<i16>(&device, config, producer, h)?,
            cpal::SampleFormat::I32 => input_stream::<i32>(&device, config, producer, h)?,
            cpal::SampleFormat::F32 => input_stream::<f32>(&device, config, producer, h)?,
            cpal::SampleFormat::U16 => input_stream::<u16>(&device, config, producer, h)?,
            f => bail!("microphone sample format {f} is not supported"),
        };
        Ok((stream, rate))
    })?;
    let ring = rx.recv().context("audio thread ended")?;
    Ok(OpenInput {
        ring,
        rate,
        health,
        _thread: thread,
    })
}

/// One open playback stream.
struct OpenOutput {
    ring: rtrb::Producer<i16>,
    rate: u32,
    health: Arc<Health>,
    _thread: StreamThread,
}

fn open_output(name: &str) -> anyhow::Result<OpenOutput> {
    let name = name.to_string();
    let health = Arc::new(Health::default());
    let h = health.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let (thread, rate) = spawn_stream(move || {
        let host = cpal::default_host();
        let device = find_device(&host, &name, false)?;
        let supported = device.default_output_config()?;
        let config = supported.config();
        let rate = config.sample_rate;
        let (mut producer, consumer) = rtrb::RingBuffer::new((rate * RING_MS / 1000) as usize);
        // 40 ms of silence as a cushion against the media task's timer jitter.
        for _ in 0..rate / 25 {
            let _ = producer.push(0);
        }
        let _ = tx.send(producer);
        let stream = match supported.sample_format() {
            cpal::SampleFormat::I16 => output_stream::<i16>(&device, config, consumer, h)?,
            cpal::SampleFormat::I32 => output_stream::<i32>(&device, config, consumer, h)?,
            cpal::SampleFormat::F32 => output_stream::<f32>(&device, config, consumer, h)?,
            cpal::SampleFormat::U16 => output_stream::<u16>(&device, config, consumer, h)?,
            f => bail!("speaker sample format {f} is not supported"),
        };
        Ok((stream, rate))
    })?;
    let ring = rx.recv().context("audio thread ended")?;
    Ok(OpenOutput {
        ring,
        rate,
        health,
        _thread: thread,
    })
}

/// Reopening after failures, shared by both directions.
struct Recovery {
    /// The device the user chose.
    wanted: String,
    /// When to try again while nothing is open.
    retry_at: Option<Instant>,
    notices: VecDeque<String>,
    /// The rate of the last open stream: kept while nothing is open so the call's
    /// resamplers need not change.
    rate: u32,
}

impl Recovery {
    /// Tries the chosen device, then the default one; gives what opened.
    fn reopen<T>(&mut self, kind: &str, open: fn(&str) -> anyhow::Result<T>) -> Option<T> {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        let mut tried = vec![self.wanted.clone()];
        if !is_default_name(&self.wanted) {
            tried.push("Default".into());
        }
        for name in &tried {
            if let Ok(s) = open(name) {
                self.retry_at = None;
                self.notices.push_back(format!("{kind} back on {name:?}"));
                return Some(s);
            }
        }
        self.retry_at = Some(Instant::now() + RETRY);
        None
    }
}

/// A cpal capture device that survives being unplugged.
pub struct CpalSource {
    open: Option<OpenInput>,
    recovery: Recovery,
}

impl CpalSource {
    /// Opens the named device ("Default" or empty for the system default). A device that
    /// cannot be opened is reported (see `take_notice`) and retried; the call meanwhile
    /// goes on without it.
    pub fn open(name: &str) -> CpalSource {
        let mut recovery = Recovery {
            wanted: name.to_string(),
            retry_at: None,
            notices: VecDeque::new(),
            rate: 48_000,
        };
        let open = match open_input(name) {
            Ok(o) => {
                recovery.rate = o.rate;
                Some(o)
            }
            Err(e) => {
                recovery.notices.push_back(format!(
                    "microphone {name:?} unavailable ({e:#}); going on without it, retrying every {} s",
                    RETRY.as_secs()
                ));
                recovery.retry_at = Some(Instant::now() + RETRY);
                None
            }
        };
        CpalSource { open, recovery }
    }
}

impl AudioSource for CpalSource {
    fn sample_rate(&self) -> u32 {
        self.open.as_ref().map_or(self.recovery.rate, |o| o.rate)
    }

    fn read(&mut self, frame: &mut [i16]) -> bool {
        if let Some(o) = &self.open
            && o.health.failed.load(Ordering::Acquire)
        {
            let why = o.health.reason();
            self.open = None;
            self.recovery.notices.push_back(format!(
                "microphone {:?} failed ({why}); switching to the default device",
                self.recovery.wanted
            ));
        }
        if self.open.is_none() {
            self.open = self.recovery.reopen("microphone", open_input);
            if let Some(o) = &self.open {
                self.recovery.rate = o.rate;
            }
        }
        let Some(o) = self.open.as_mut() else {
            frame.fill(0);
            return true;
        };
        // More than three frames waiting: the device runs fast or we were late; drop the
        // surplus so the delay stays short.
        let surplus = o.ring.slots().saturating_sub(frame.len() * 3);
        for _ in 0..surplus {
            let _ = o.ring.pop();
        }
        for s in frame.iter_mut() {
            *s = o.ring.pop().unwrap_or(0);
        }
        true
    }

    fn take_notice(&mut self) -> Option<String> {
        self.recovery.notices.pop_front()
    }
}

/// A cpal playback device that survives being unplugged.
pub struct CpalSink {
    open: Option<OpenOutput>,
    recovery: Recovery,
}

impl CpalSink {
    /// Opens the named device ("Default" or empty for the system default). A device that
    /// cannot be opened is reported (see `take_notice`) and retried; the call meanwhile
    /// goes on without it.
    pub fn open(name: &str) -> CpalSink {
        let mut recovery = Recovery {
            wanted: name.to_string(),
            retry_at: None,
            notices: VecDeque::new(),
            rate: 48_000,
        };
        let open = match open_output(name) {
            Ok(o) => {
                recovery.rate = o.rate;
                Some(o)
            }
            Err(e) => {
                recovery.notices.push_back(format!(
                    "speaker {name:?} unavailable ({e:#}); going on without it, retrying every {} s",
                    RETRY.as_secs()
                ));
                recovery.retry_at = Some(Instant::now() + RETRY);
                None
            }
        };
        CpalSink { open, recovery }
    }
}

impl AudioSink for CpalSink {
    fn sample_rate(&self) -> u32 {
        self.open.as_ref().map_or(self.recovery.rate, |o| o.rate)
    }

    fn write(&mut self, frame: &[i16]) -> anyhow::Result<()> {
        if let Some(o) = &self.open
            && o.health.failed.load(Ordering::Acquire)
        {
            let why = o.health.reason();
            self.open = None;
            self.recovery.notices.push_back(format!(
                "speaker {:?} failed ({why}); switching to the default device",
                self.recovery.wanted
            ));
        }
        if self.open.is_none() {
            self.open = self.recovery.reopen("speaker", open_output);
            if let Some(o) = &self.open {
                self.recovery.rate = o.rate;
            }
        }
        if let Some(o) = self.open.as_mut() {
            // A full ring (the device runs slow): this frame is dropped rather than waited for.
            if o.ring.slots() >= frame.len() {
                for &s in frame {
                    let _ = o.ring.push(s);
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.open = None;
        Ok(())
    }

    fn take_notice(&mut self) -> Option<String> {
        self.recovery.notices.pop_front()
    }
}
