//! The driver's per-call resources: RTP/RTCP sockets bound before the SDP names them, one
//! media session per line as a port on the one audio engine (which owns the microphone and
//! the speaker), the ringer. The phone policy (`crate::phone`) decides what happens; this
//! carries it out.

use super::media::{MediaConfig, MediaEvent, MediaHandle, RtpSockets, bind_rtp};
use super::report::Reporter;
use super::setup::RingSettings;
use crate::audio::engine::{AudioEngine, AudioEvent, DeviceSetup};
use crate::audio::player::Sound;
use crate::audio::recorder::{RecordingOutcome, RecordingSpec};
use crate::audio::ringer::RingerId;
use crate::audio::{AudioSink, open_sink};
use crate::config::Settings;
use crate::model::{Event, NoticeKind, RecordingState};
use crate::phone::RingKind;
use crate::sdp::Negotiated;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The sound devices and media settings calls use.
#[derive(Debug, Clone)]
pub(super) struct DevicePrefs {
    pub(super) record: String,
    pub(super) playback: String,
    pub(super) media_config: MediaConfig,
    pub(super) ring: RingSettings,
    /// `aec`, `aec2`, `denoise`, `agc`.
    pub(super) voice: crate::media::processing::VoiceSettings,
}

impl DevicePrefs {
    /// The audio engine's devices and levels.
    pub(super) fn device_setup(&self) -> DeviceSetup {
        DeviceSetup {
            record: self.record.clone(),
            playback: self.playback.clone(),
            gain_in: self.media_config.gain_in,
            gain_out: self.media_config.gain_out,
            gain_ring: self.ring.gain,
            voice: self.voice,
        }
    }

    /// Reads them from `settings`, with the ringtone already loaded.
    pub(super) fn from_settings(settings: &Settings, ringtone: Arc<Sound>) -> DevicePrefs {
        DevicePrefs {
            record: settings.text("recorddevice"),
            playback: settings.text("playbackdevice"),
            media_config: super::setup::media_config(settings),
            voice: crate::media::processing::VoiceSettings::from_params(
                settings.int("aec"),
                settings.int("aec2"),
                settings.int("denoise"),
                settings.int("agc"),
            ),
            ring: super::setup::ring_settings(settings, ringtone),
        }
    }
}

/// What the driver holds for calls.
pub(super) struct CallResources {
    pub(super) ip: std::net::IpAddr,
    pub(super) rtp_base: u16,
    /// Sockets of calls whose media has not started yet, by line.
    pub(super) sockets: HashMap<u32, RtpSockets>,
    pub(super) prefs: DevicePrefs,
    /// The one owner of the microphone and the speaker; every call is a port on it.
    pub(super) audio: AudioEngine,
    /// Running media, by line.
    pub(super) media: HashMap<u32, MediaHandle>,
    pub(super) media_events: mpsc::UnboundedSender<MediaEvent>,
    /// Lines whose ring sounds on the ringer device(s) (the audio engine plays it).
    pub(super) rings: HashSet<u32>,
    /// Lines whose ringback plays on the speaker: as a tone port before their media starts,
    /// inside their media afterwards (until the far end's audio comes).
    pub(super) ringbacks: HashSet<u32>,
    /// Lines whose ringer devices are being listed and opened (`ringerdevice=All`).
    pub(super) ringers_pending: HashSet<u32>,
}

impl CallResources {
    /// The resources of a driver whose calls' RTP binds on `ip` from `rtp_base`; starts the
    /// audio engine, whose device reports join the calls' media events.
    pub(super) fn new(
        ip: std::net::IpAddr,
        rtp_base: u16,
        prefs: DevicePrefs,
        media_events: mpsc::UnboundedSender<MediaEvent>,
    ) -> CallResources {
        let (audio_tx, mut audio_rx) = mpsc::unbounded_channel();
        let audio = AudioEngine::start(prefs.device_setup(), audio_tx);
        let forward = media_events.clone();
        tokio::spawn(async move {
            while let Some(ev) = audio_rx.recv().await {
                let ev = match ev {
                    AudioEvent::Device(message) => MediaEvent::Device { message },
                    AudioEvent::PlayEnded => MediaEvent::PlayEnded,
                    AudioEvent::Recording {
                        line,
                        path,
                        outcome,
                    } => MediaEvent::Recording {
                        line,
                        state: recording_state(path, outcome),
                    },
                };
                if forward.send(ev).is_err() {
                    return;
                }
            }
        });
        CallResources {
            ip,
            rtp_base,
            sockets: HashMap::new(),
            prefs,
            audio,
            media: HashMap::new(),
            media_events,
            rings: HashSet::new(),
            ringbacks: HashSet::new(),
            ringers_pending: HashSet::new(),
        }
    }

    /// Binds the RTP/RTCP sockets of a new call; gives their port.
    pub(super) async fn bind(&self) -> anyhow::Result<(RtpSockets, u16)> {
        let socket = bind_rtp(self.ip, self.rtp_base).await?;
        let port = socket.rtp.local_addr().map(|a| a.port()).unwrap_or(0);
        Ok((socket, port))
    }

    /// Starts `line`'s media on its bound sockets as a port on the audio engine; a ringback
    /// playing for it goes on inside the media until the far end's audio comes.
    pub(super) async fn start_media(&mut self, line: u32, n: Negotiated, reporter: &Reporter) {
        let Some(socket) = self.sockets.remove(&line) else {
            return;
        };
        self.ringers_pending.remove(&line);
        if self.rings.remove(&line) {
            // The ringer device is not the call's: it just stops.
            self.audio.stop_ring(RingerId::Line(line)).await;
        }
        let rate = n.codec.sample_rate();
        match MediaHandle::start(
            line,
            socket,
            n,
            &self.prefs.media_config,
            self.media_events.clone(),
        ) {
            Ok((handle, port)) => {
                if self.ringbacks.contains(&line) {
                    handle.ringback(true);
                }
                self.audio.add_call(line, port, rate);
                self.media.insert(line, handle);
            }
            Err(e) => reporter.error(NoticeKind::Media, format!("media on line {line}: {e}")),
        }
    }

    /// The running media of `line` takes a new negotiation.
    pub(super) fn update_media(&mut self, line: u32, n: Negotiated) {
        if let Some(m) = self.media.get(&line) {
            m.update(n);
        }
    }

    /// Stops `line`'s media and reports its statistics.
    pub(super) async fn stop_media(&mut self, line: u32, reporter: &Reporter) {
        if let Some(m) = self.media.remove(&line) {
            self.audio.remove_call(line).await;
            if let Some(stats) = m.stop().await {
                reporter.send(Event::MediaStats { line, stats });
            }
        }
    }

    /// The call on `line` is over: its ring, media and sockets go.
    pub(super) async fn end_line(&mut self, line: u32, reporter: &Reporter) {
        self.sockets.remove(&line);
        self.stop_ring(line).await;
        self.stop_media(line, reporter).await;
        // A recording asked for before the call's media ran must not wait for the next call
        // on this line.
        self.audio.record(line, None);
    }

    /// Stops every call's media and the audio engine (playback files get their final
    /// headers).
    pub(super) async fn stop_all(&mut self, reporter: &Reporter) {
        let lines: Vec<u32> = self.media.keys().copied().collect();
        for line in lines {
            self.stop_media(line, reporter).await;
        }
        self.ringbacks.clear();
        self.audio.stop().await;
    }

    /// Starts recording `line` into `file` in `folder` (stops with `None`).
    pub(super) fn record(
        &self,
        line: u32,
        file: Option<String>,
        folder: PathBuf,
        max_seconds: u32,
    ) {
        let spec = file.map(|f| RecordingSpec {
            path: folder.join(f),
            max_seconds,
        });
        self.audio.record(line, spec);
    }

    /// Takes `line` out of the mix while we hold it (it hears nothing of ours and we hear
    /// nothing of it), or puts it back.
    pub(super) fn hold(&self, line: u32, on: bool) {
        self.audio.set_in_mix(line, !on);
    }

    /// Starts the local ring of `line`. The ringer's devices come in `sinks` (opened off the
    /// loop); a ringback plays in the call's media when that already runs, else on the
    /// call's speaker.
    pub(super) fn ring(&mut self, line: u32, kind: RingKind, sinks: Vec<Box<dyn AudioSink>>) {
        if self.rings.contains(&line) {
            return;
        }
        match kind {
            RingKind::Ringer => {
                let sound = self.prefs.ring.sound.clone();
                self.audio.ring(RingerId::Line(line), sinks, sound, true);
                self.rings.insert(line);
            }
            RingKind::Ringback => {
                self.ringbacks.insert(line);
                if let Some(m) = self.media.get(&line) {
                    // Early media already runs: it rings back until the far end's audio arrives.
                    m.ringback(true);
                } else {
                    self.audio.ringback(line, true, self.prefs.ring.file_rate);
                }
            }
        }
    }

    /// The ringer's sink for one named device (`ringerdevice` other than `All`).
    pub(super) fn ringer_sink(&self) -> Vec<Box<dyn AudioSink>> {
        open_sink(&self.prefs.ring.device, 8000)
            .into_iter()
            .collect()
    }

    /// Stops the local ring of `line` (and a ringback its media plays).
    pub(super) async fn stop_ring(&mut self, line: u32) {
        self.ringers_pending.remove(&line);
        if self.rings.remove(&line) {
            self.audio.stop_ring(RingerId::Line(line)).await;
        }
        if self.ringbacks.remove(&line) {
            match self.media.get(&line) {
                Some(m) => m.ringback(false),
                None => self.audio.ringback(line, false, self.prefs.ring.file_rate),
            }
        }
    }

    /// Mutes `line`'s microphone and/or speaker.
    pub(super) fn mute(&self, line: u32, microphone: bool, speaker: bool) {
        if let Some(m) = self.media.get(&line) {
            m.mute(microphone, speaker);
        }
    }

    /// Sends digits as RFC 4733 events on `line`.
    pub(super) fn dtmf(&self, line: u32, digits: &str) {
        if let Some(m) = self.media.get(&line) {
            m.dtmf(digits);
        }
    }

    /// Moves the audio engine, and so every running call, to the configured microphone
    /// and/or speaker (`changeaudiodevimmediate`); a device that cannot be opened leaves the
    /// old one in place, and the engine says so.
    pub(super) fn switch_devices(&self, record: bool, playback: bool, reporter: &Reporter) {
        self.audio
            .switch_devices(self.prefs.device_setup(), record, playback);
        for line in self.media.keys() {
            reporter.send(Event::DevicesSwitched {
                line: *line,
                microphone: self.prefs.record.clone(),
                speaker: self.prefs.playback.clone(),
            });
        }
    }

    /// `aec`, `aec2`, `denoise` or `agc` changed: the capture chain is rebuilt at once.
    pub(super) fn set_voice_processing(&self) {
        self.audio
            .switch_devices(self.prefs.device_setup(), false, false);
    }

    /// `volumein` / `volumeout` / `volumering` changed: the running calls and a sounding
    /// ring are heard at the new levels at once.
    pub(super) fn set_gains(&self) {
        let c = &self.prefs.media_config;
        self.audio
            .set_gains(c.gain_in, c.gain_out, self.prefs.ring.gain);
    }

    /// Plays the ring's first two seconds on the speaker (at the speaker's volume) through the
    /// audio engine's ringer, which closes the device when they are over; the microphone is
    /// not opened.
    pub(super) fn test_sound(&self, reporter: &Reporter) -> Result<(), String> {
        let sink =
            open_sink(&self.prefs.playback, 8000).map_err(|e| format!("test sound: {e:#}"))?;
        let mut sound = self.prefs.ring.sound.first_seconds(2);
        let gain = self.prefs.media_config.gain_out;
        for s in &mut sound.samples {
            *s = (f32::from(*s) * gain).clamp(-32768.0, 32767.0) as i16;
        }
        self.audio
            .ring(RingerId::TestSound, vec![sink], Arc::new(sound), false);
        reporter.send(Event::TestSound {
            speaker: self.prefs.playback.clone(),
        });
        Ok(())
    }
}

/// The engine's word on a recording, as the faces get it.
fn recording_state(path: PathBuf, outcome: RecordingOutcome) -> RecordingState {
    let path = path.display().to_string();
    match outcome {
        RecordingOutcome::Started => RecordingState::Started { path },
        RecordingOutcome::Stopped { seconds, limit } => RecordingState::Stopped {
            path,
            seconds,
            limit,
        },
        RecordingOutcome::Failed(reason) => RecordingState::Failed { path, reason },
    }
}
