//! Sound cards through cpal. Each stream lives on its own thread (cpal streams may not move
//! between threads); its callback only moves samples through a lock-free ring (rtrb) — no
//! locks, no allocation, no logging in it. The media task reads and writes the rings.
//!
//! A device that fails (unplugged headset, sound server gone) is not the end of the call: the
//! failure is noticed on the next frame, reported once, and the stream is reopened on the
//! default device; while nothing can be opened the call goes on with silence and a retry every
//! two seconds, so audio comes back when a device does.
//!
//! A stream opens at the device's own rate but mono where the device offers it (a sound
//! server mixes up for the speaker and down from the microphone): half the samples of a stereo
//! stream through the callbacks and the sound server's client library, and no per-sample
//! channel mixing here. Not at the call's rate, as baresip does: ALSA's PulseAudio plugin
//! at a rate other than the server's (16 kHz, say) keeps cpal's poll loop spinning on a whole
//! core (measured with `benches/compare_cpu.sh`), so the engine resamples instead.

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
/// A microphone that delivers nothing for this long has gone away even if its driver did not
/// say so (a sound server that died leaves ALSA capture streams silent, not failed).
const CAPTURE_STALL: Duration = Duration::from_millis(1500);
/// Some capture paths take a while to deliver the first samples (ALSA's PulseAudio plugin
/// about two seconds): a new stream gets this long before it counts as stalled.
const CAPTURE_START: Duration = Duration::from_secs(5);

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

/// The thread that owns a cpal stream. Dropping this closes the channel the thread waits on,
/// and the thread closes its stream; nobody waits for that (closing a stream on a device that
/// has gone can hang inside the driver, and that must not hang the call).
struct StreamThread {
    _stop: std::sync::mpsc::Sender<()>,
}

/// What a stream's error callback tells the media side.
#[derive(Default)]
struct Health {
    failed: AtomicBool,
    reason: std::sync::Mutex<Option<String>>,
}

impl Health {
    fn fail(&self, e: &cpal::Error) {
        // A glitch, not a lost device; real-time scheduling refused: audio still flows.
        if matches!(
            e.kind(),
            cpal::ErrorKind::Xrun
                | cpal::ErrorKind::RealtimeDenied
                | cpal::ErrorKind::DeviceChanged
        ) {
            return;
        }
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

/// The stream configuration: the device's default format with a 40 ms buffer where the
/// device allows one (a driver's default can be seconds long, far too late for a call). Not
/// 10 ms: ALSA's PulseAudio plugin, the path to the sound server on most desktops, stalls a
/// playback stream that small for seconds at a time now and then (see the sound-card test).
fn low_latency(supported: &cpal::SupportedStreamConfig) -> cpal::StreamConfig {
    let mut config = supported.config();
    let want = (config.sample_rate / 25).max(1);
    config.buffer_size = match supported.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => {
            cpal::BufferSize::Fixed(want.clamp(*min, (*max).max(*min)))
        }
        cpal::SupportedBufferSize::Unknown => cpal::BufferSize::Fixed(want),
    };
    config
}

/// Opening streams one at a time: ALSA's global configuration is loaded on first use and two
/// threads opening devices at once can both get broken streams.
static OPEN_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds a stream on its own thread; gives its sample rate once it plays.
fn spawn_stream<F>(build: F) -> anyhow::Result<(StreamThread, u32)>
where
    F: FnOnce() -> anyhow::Result<(cpal::Stream, u32)> + Send + 'static,
{
    let build = move || {
        // A poisoned lock only means another open panicked; the guard is still usable.
        let _guard = OPEN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        build()
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
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
    let thread = StreamThread { _stop: stop_tx };
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
            // In one chunk: one pair of atomic operations per callback, not per sample. A full
            // ring means the media side is behind: the rest is dropped, never waited for.
            let n = (data.len() / channels).min(ring.slots());
            if let Ok(chunk) = ring.write_chunk_uninit(n) {
                chunk.fill_from_iter(data.chunks_exact(channels).map(|frame| {
                    let sum: i32 = frame.iter().map(|s| i32::from(i16::from_sample(*s))).sum();
                    (sum / channels as i32) as i16
                }));
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
            let mut frames = data.chunks_mut(channels);
            let n = frames.len().min(ring.slots());
            if let Ok(chunk) = ring.read_chunk(n) {
                for (sample, frame) in chunk.into_iter().zip(&mut frames) {
                    frame.fill(T::from_sample(sample));
                }
            }
            // Running dry plays silence.
            for frame in frames {
                frame.fill(T::from_sample(0i16));
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
    /// When samples last arrived (or the stream opened).
    last_data: Instant,
    /// Whether any samples arrived yet.
    flowing: bool,
    health: Arc<Health>,
    _thread: StreamThread,
}

/// Opens `name` on its own thread: `build` makes the ring, sends the media side's end back
/// over the channel, keeps the other for the callback and builds the stream. Gives that end,
/// the rate, the health flag and the thread.
fn open_stream<E: Send + 'static>(
    name: &str,
    input: bool,
    build: StreamBuilder<E>,
) -> anyhow::Result<(E, u32, Arc<Health>, StreamThread)> {
    let name = name.to_string();
    let health = Arc::new(Health::default());
    let h = health.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let started = Instant::now();
    let label = name.clone();
    let (thread, rate) = spawn_stream(move || {
        let host = cpal::default_host();
        let device = find_device(&host, &name, input)?;
        let supported = fewest_channels(&device, input)?;
        let config = low_latency(&supported);
        let rate = config.sample_rate;
        let stream = build(&device, supported.sample_format(), config, h, &tx)?;
        Ok((stream, rate))
    })?;
    let end = rx.recv().context("audio thread ended")?;
    tracing::info!(
        "{} {label:?} open at {rate} Hz in {} ms",
        if input { "microphone" } else { "speaker" },
        started.elapsed().as_millis()
    );
    Ok((end, rate, health, thread))
}

/// The device's default format with the fewest channels it offers at that rate and sample
/// format (mono where it can), else the default as it is.
fn fewest_channels(
    device: &cpal::Device,
    input: bool,
) -> anyhow::Result<cpal::SupportedStreamConfig> {
    let default = if input {
        device.default_input_config()?
    } else {
        device.default_output_config()?
    };
    let ranges: Vec<cpal::SupportedStreamConfigRange> = if input {
        device.supported_input_configs()?.collect()
    } else {
        device.supported_output_configs()?.collect()
    };
    let fewer = ranges
        .into_iter()
        .filter(|r| r.sample_format() == default.sample_format())
        .filter(|r| r.channels() < default.channels())
        .filter_map(|r| r.try_with_sample_rate(default.sample_rate()))
        .min_by_key(|c| c.channels());
    Ok(fewer.unwrap_or(default))
}

/// Builds one direction's ring and stream (see [`open_stream`]).
type StreamBuilder<E> = fn(
    &cpal::Device,
    cpal::SampleFormat,
    cpal::StreamConfig,
    Arc<Health>,
    &std::sync::mpsc::SyncSender<E>,
) -> anyhow::Result<cpal::Stream>;

fn build_input(
    device: &cpal::Device,
    format: cpal::SampleFormat,
    config: cpal::StreamConfig,
    h: Arc<Health>,
    back: &std::sync::mpsc::SyncSender<rtrb::Consumer<i16>>,
) -> anyhow::Result<cpal::Stream> {
    let (producer, consumer) =
        rtrb::RingBuffer::new((config.sample_rate * RING_MS / 1000) as usize);
    let _ = back.send(consumer);
    Ok(match format {
        cpal::SampleFormat::I16 => input_stream::<i16>(device, config, producer, h)?,
        cpal::SampleFormat::I32 => input_stream::<i32>(device, config, producer, h)?,
        cpal::SampleFormat::F32 => input_stream::<f32>(device, config, producer, h)?,
        cpal::SampleFormat::U16 => input_stream::<u16>(device, config, producer, h)?,
        f => bail!("microphone sample format {f} is not supported"),
    })
}

fn build_output(
    device: &cpal::Device,
    format: cpal::SampleFormat,
    config: cpal::StreamConfig,
    h: Arc<Health>,
    back: &std::sync::mpsc::SyncSender<rtrb::Producer<i16>>,
) -> anyhow::Result<cpal::Stream> {
    let rate = config.sample_rate;
    let (mut producer, consumer) = rtrb::RingBuffer::new((rate * RING_MS / 1000) as usize);
    // 40 ms of silence as a cushion against the media task's timer jitter.
    for _ in 0..rate / 25 {
        let _ = producer.push(0);
    }
    let _ = back.send(producer);
    Ok(match format {
        cpal::SampleFormat::I16 => output_stream::<i16>(device, config, consumer, h)?,
        cpal::SampleFormat::I32 => output_stream::<i32>(device, config, consumer, h)?,
        cpal::SampleFormat::F32 => output_stream::<f32>(device, config, consumer, h)?,
        cpal::SampleFormat::U16 => output_stream::<u16>(device, config, consumer, h)?,
        f => bail!("speaker sample format {f} is not supported"),
    })
}

fn open_input(name: &str) -> anyhow::Result<OpenInput> {
    let (ring, rate, health, thread) = open_stream(name, true, build_input)?;
    Ok(OpenInput {
        ring,
        rate,
        last_data: Instant::now(),
        flowing: false,
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
    let (ring, rate, health, thread) = open_stream(name, false, build_output)?;
    Ok(OpenOutput {
        ring,
        rate,
        health,
        _thread: thread,
    })
}

/// Opening and reopening a stream off the media task (opening can take a while, and must
/// never stall the call), shared by both directions.
struct Recovery<T> {
    kind: &'static str,
    /// The device the user chose.
    wanted: String,
    opener: fn(&str) -> anyhow::Result<T>,
    /// An open in progress on its own thread: which name worked and the stream, or the error.
    pending: Option<std::sync::mpsc::Receiver<anyhow::Result<(String, T)>>>,
    /// When to try again after a failed attempt.
    retry_at: Option<Instant>,
    /// True once a stream was lost or could not be opened: the next success is news.
    troubled: bool,
    /// Whether the first attempt has ended.
    started: bool,
    notices: VecDeque<String>,
    /// The rate of the last open stream: kept while nothing is open so the call's
    /// resamplers need not change.
    rate: u32,
}

impl<T: Send + 'static> Recovery<T> {
    fn new(kind: &'static str, wanted: &str, opener: fn(&str) -> anyhow::Result<T>) -> Self {
        let mut r = Recovery {
            kind,
            wanted: wanted.to_string(),
            opener,
            pending: None,
            retry_at: None,
            troubled: false,
            started: false,
            notices: VecDeque::new(),
            rate: 48_000,
        };
        r.spawn();
        r
    }

    /// Starts an attempt: the chosen device, then (after a loss) the default one.
    fn spawn(&mut self) {
        let mut names = vec![self.wanted.clone()];
        if self.troubled && !is_default_name(&self.wanted) {
            names.push("Default".into());
        }
        let opener = self.opener;
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("audio-open".into())
            .spawn(move || {
                let mut last = anyhow!("no device");
                for name in names {
                    match opener(&name) {
                        Ok(s) => {
                            let _ = tx.send(Ok((name, s)));
                            return;
                        }
                        Err(e) => last = e,
                    }
                }
                let _ = tx.send(Err(last));
            });
        match spawned {
            Ok(_) => self.pending = Some(rx),
            Err(_) => self.retry_at = Some(Instant::now() + RETRY),
        }
    }

    /// The stream was lost: say so and start looking for another.
    fn lost(&mut self, why: &str) {
        self.notices.push_back(format!(
            "{} {:?} failed ({why}); switching to the default device",
            self.kind, self.wanted
        ));
        self.troubled = true;
        self.spawn();
    }

    /// A stream when an attempt has just succeeded; never waits.
    fn poll(&mut self) -> Option<T> {
        if let Some(rx) = &self.pending {
            match rx.try_recv() {
                Ok(Ok((name, s))) => {
                    self.pending = None;
                    if self.troubled {
                        self.notices
                            .push_back(format!("{} back on {name:?}", self.kind));
                    }
                    self.troubled = false;
                    self.started = true;
                    return Some(s);
                }
                Ok(Err(e)) => {
                    self.pending = None;
                    // Said once, for the first attempt; later retries fail quietly.
                    if !self.started {
                        self.notices.push_back(format!(
                            "{} {:?} unavailable ({e:#}); going on without it, retrying every {} s",
                            self.kind,
                            self.wanted,
                            RETRY.as_secs()
                        ));
                    }
                    self.started = true;
                    self.troubled = true;
                    self.retry_at = Some(Instant::now() + RETRY);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.pending = None;
                    self.retry_at = Some(Instant::now() + RETRY);
                }
            }
        } else if self.retry_at.is_some_and(|t| Instant::now() >= t) {
            self.retry_at = None;
            self.spawn();
        }
        None
    }
}

/// A cpal capture device that survives being unplugged.
pub struct CpalSource {
    open: Option<OpenInput>,
    recovery: Recovery<OpenInput>,
}

impl CpalSource {
    /// Starts opening the named device ("Default" or empty for the system default); until it
    /// is open (and whenever it is lost) the microphone gives silence. Trouble is reported
    /// through `take_notice`.
    pub fn open(name: &str) -> CpalSource {
        CpalSource {
            open: None,
            recovery: Recovery::new("microphone", name, open_input),
        }
    }
}

impl AudioSource for CpalSource {
    fn sample_rate(&self) -> u32 {
        self.open.as_ref().map_or(self.recovery.rate, |o| o.rate)
    }

    fn read(&mut self, frame: &mut [i16]) -> bool {
        if let Some(o) = &self.open {
            let failed = o.health.failed.load(Ordering::Acquire);
            let limit = if o.flowing {
                CAPTURE_STALL
            } else {
                CAPTURE_START
            };
            if failed || o.last_data.elapsed() > limit {
                let why = if failed {
                    o.health.reason()
                } else {
                    format!("no audio for {} ms", limit.as_millis())
                };
                self.open = None;
                self.recovery.lost(&why);
            }
        }
        if self.open.is_none()
            && let Some(mut o) = self.recovery.poll()
        {
            self.recovery.rate = o.rate;
            o.last_data = Instant::now();
            self.open = Some(o);
        }
        let Some(o) = self.open.as_mut() else {
            frame.fill(0);
            return true;
        };
        if o.ring.slots() > 0 {
            o.last_data = Instant::now();
            o.flowing = true;
        }
        // More than three frames waiting: the device runs fast or we were late; drop the
        // surplus so the delay stays short.
        let surplus = o.ring.slots().saturating_sub(frame.len() * 3);
        if let Ok(dropped) = o.ring.read_chunk(surplus) {
            dropped.commit_all();
        }
        let n = frame.len().min(o.ring.slots());
        if let Ok(chunk) = o.ring.read_chunk(n) {
            let (first, second) = chunk.as_slices();
            frame[..first.len()].copy_from_slice(first);
            frame[first.len()..n].copy_from_slice(second);
            chunk.commit_all();
        }
        frame[n..].fill(0);
        true
    }

    fn take_notice(&mut self) -> Option<String> {
        self.recovery.notices.pop_front()
    }
}

/// A cpal playback device that survives being unplugged.
pub struct CpalSink {
    open: Option<OpenOutput>,
    recovery: Recovery<OpenOutput>,
}

impl CpalSink {
    /// Starts opening the named device ("Default" or empty for the system default); until it
    /// is open (and whenever it is lost) what is played goes nowhere. Trouble is reported
    /// through `take_notice`.
    pub fn open(name: &str) -> CpalSink {
        CpalSink {
            open: None,
            recovery: Recovery::new("speaker", name, open_output),
        }
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
            self.recovery.lost(&why);
        }
        if self.open.is_none()
            && let Some(o) = self.recovery.poll()
        {
            self.recovery.rate = o.rate;
            self.open = Some(o);
        }
        if let Some(o) = self.open.as_mut() {
            // A full ring (the device runs slow): this frame is dropped rather than waited for.
            if let Ok(chunk) = o.ring.write_chunk_uninit(frame.len()) {
                chunk.fill_from_iter(frame.iter().copied());
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
