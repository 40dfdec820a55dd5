//! The audio engine's open devices and the bridge built for them: the microphone and the
//! speaker (or silence in place of one that cannot be opened), the capture chain, and the
//! resamplers between the devices' rates and the bridge's; and [`DeviceSetup`], what they are
//! opened from. Split from `engine` so that the engine file holds the ports and the clock.

use super::{AudioSink, AudioSource, Null, open_sink, open_source};
use crate::media::bridge::{Bridge, PortId};
use crate::media::processing::{VoiceProcessor, VoiceSettings};
use crate::media::resample::Resampler;
use crate::media::session::bridge_frame;
use tracing::warn;

/// The devices' names (as `recorddevice` / `playbackdevice` spell them) and levels.
#[derive(Debug, Clone)]
pub struct DeviceSetup {
    pub record: String,
    pub playback: String,
    /// `volumein` / `volumeout` as linear gains.
    pub gain_in: f32,
    pub gain_out: f32,
    /// `volumering` as a linear gain.
    pub gain_ring: f32,
    /// Echo cancellation, noise suppression and gain control for a live microphone (a WAV
    /// file or the null source is sent as it is: it has no room and no speaker to echo).
    pub voice: VoiceSettings,
}

impl DeviceSetup {
    /// Whether the microphone is a sound card (not `file:` or `null`).
    pub(super) fn live_microphone(&self) -> bool {
        let r = self.record.trim();
        !(r.starts_with("file:") || r.eq_ignore_ascii_case("null"))
    }
}

/// The open devices and the bridge built for them.
pub(super) struct Active {
    pub(super) rate: u32,
    pub(super) bridge: Bridge,
    pub(super) mic_port: PortId,
    pub(super) speaker_port: PortId,
    pub(super) source: Box<dyn AudioSource>,
    pub(super) sink: Box<dyn AudioSink>,
    /// The capture chain (echo canceller, noise suppression, gain control), for a live
    /// microphone when the settings ask for any of it.
    pub(super) voice: Option<VoiceProcessor>,
    /// Device rate → bridge rate and back, rebuilt when a device changes rate.
    pub(super) up: Resampler,
    pub(super) down: Resampler,
    pub(super) captured: Vec<i16>,
    pub(super) mic: Vec<i16>,
    pub(super) played: Vec<i16>,
    pub(super) frame: Vec<i16>,
}

pub(super) fn resampler(from: u32, to: u32) -> Resampler {
    Resampler::new(from, to).unwrap_or_else(|e| {
        warn!("{e}");
        Resampler::passthrough(from, to)
    })
}

/// The capture chain `setup` asks for at the bridge's `rate` (none for a file or null
/// microphone, or when it cannot be made: said in the log, the calls go on unprocessed).
pub(super) fn voice_processor(setup: &DeviceSetup, rate: u32) -> Option<VoiceProcessor> {
    if !setup.voice.any() || !setup.live_microphone() {
        return None;
    }
    let made = VoiceProcessor::new(setup.voice, rate)
        .map_err(|e| warn!("{e}"))
        .ok();
    if made.is_some() {
        tracing::info!("voice processing on the microphone: {:?}", setup.voice);
    }
    made
}

impl Active {
    /// Opens the named devices; one that cannot be opened is replaced by silence (the calls
    /// still flow) and said in `problems`.
    pub(super) fn open(setup: &DeviceSetup, rate_hint: u32, problems: &mut Vec<String>) -> Active {
        let source = open_source(&setup.record).unwrap_or_else(|e| {
            problems.push(format!("{e:#}; the calls go on without a microphone"));
            Box::new(Null { rate: rate_hint })
        });
        let sink = open_sink(&setup.playback, rate_hint).unwrap_or_else(|e| {
            problems.push(format!("{e:#}; the calls go on without a speaker"));
            Box::new(Null { rate: rate_hint })
        });
        Active::with_devices(source, sink, setup)
    }

    pub(super) fn with_devices(
        source: Box<dyn AudioSource>,
        sink: Box<dyn AudioSink>,
        setup: &DeviceSetup,
    ) -> Active {
        let rate = sink.sample_rate().max(8000);
        let frame = bridge_frame(rate);
        let mut bridge = Bridge::new(frame);
        let mic_port = bridge.add_port();
        let speaker_port = bridge.add_port();
        bridge.set_gain(mic_port, setup.gain_in, 1.0);
        bridge.set_gain(speaker_port, 1.0, setup.gain_out);
        Active {
            voice: voice_processor(setup, rate),
            up: resampler(source.sample_rate(), rate),
            down: resampler(rate, sink.sample_rate()),
            captured: vec![0; bridge_frame(source.sample_rate())],
            mic: vec![0; frame],
            played: vec![0; bridge_frame(sink.sample_rate())],
            frame: vec![0; frame],
            rate,
            bridge,
            mic_port,
            speaker_port,
            source,
            sink,
        }
    }

    /// Follows devices that came back at another rate.
    pub(super) fn follow_rates(&mut self) {
        let (s, k) = (self.source.sample_rate(), self.sink.sample_rate());
        if self.up.from != s {
            self.up = resampler(s, self.rate);
            self.captured = vec![0; bridge_frame(s)];
        }
        if self.down.to != k {
            self.down = resampler(self.rate, k);
            self.played = vec![0; bridge_frame(k)];
        }
    }

    pub(super) fn close(mut self) {
        if let Err(e) = self.sink.finish() {
            warn!("closing the playback device: {e:#}");
        }
    }
}
