//! The driver's per-call resources: RTP/RTCP sockets bound before the SDP names them, one
//! media task per line, the sound devices, the rings. The phone policy (`crate::phone`)
//! decides what happens; this carries it out.

use super::media::{MediaConfig, MediaEvent, MediaHandle, RtpSockets, bind_rtp};
use super::report::Reporter;
use super::ring::RingTask;
use super::setup::RingSettings;
use crate::audio::{AudioSink, AudioSource, open_sink, open_source};
use crate::config::Settings;
use crate::media::tone::ToneKind;
use crate::model::{Event, NoticeKind};
use crate::phone::RingKind;
use crate::sdp::Negotiated;
use std::collections::{HashMap, HashSet};
use tokio::sync::mpsc;

/// The sound devices and media settings calls use.
#[derive(Debug, Clone)]
pub(super) struct DevicePrefs {
    pub(super) record: String,
    pub(super) playback: String,
    pub(super) media_config: MediaConfig,
    pub(super) ring: RingSettings,
}

impl DevicePrefs {
    /// Reads them from `settings`, with the ringtone already loaded.
    pub(super) fn from_settings(settings: &Settings, ringtone: ToneKind) -> DevicePrefs {
        DevicePrefs {
            record: settings.text("recorddevice"),
            playback: settings.text("playbackdevice"),
            media_config: super::setup::media_config(settings),
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
    /// Running media, by line, with its codec's rate (a playback file records at it).
    pub(super) media: HashMap<u32, (MediaHandle, u32)>,
    pub(super) media_events: mpsc::UnboundedSender<MediaEvent>,
    /// Rings playing, by line.
    pub(super) rings: HashMap<u32, RingTask>,
    /// Lines whose ringer devices are being listed and opened (`ringerdevice=All`).
    pub(super) ringers_pending: HashSet<u32>,
}

impl CallResources {
    /// Binds the RTP/RTCP sockets of a new call; gives their port.
    pub(super) async fn bind(&self) -> anyhow::Result<(RtpSockets, u16)> {
        let socket = bind_rtp(self.ip, self.rtp_base).await?;
        let port = socket.rtp.local_addr().map(|a| a.port()).unwrap_or(0);
        Ok((socket, port))
    }

    /// Opens the call's devices; a playback file records at the codec's rate. A playback
    /// device already playing the ringback of `line` is taken over from the ring.
    async fn devices(
        &mut self,
        line: u32,
        codec_rate: u32,
    ) -> anyhow::Result<(Box<dyn AudioSource>, Box<dyn AudioSink>)> {
        self.ringers_pending.remove(&line);
        let ringing_sink = match self.rings.remove(&line) {
            Some(r) if r.ringback => r.stop().await.into_iter().next(),
            Some(r) => {
                // The ringer device is not the call's: it just stops.
                drop(r.stop().await);
                None
            }
            None => None,
        };
        let sink = match ringing_sink {
            Some(s) => s,
            None => open_sink(&self.prefs.playback, codec_rate)?,
        };
        Ok((open_source(&self.prefs.record)?, sink))
    }

    /// Starts `line`'s media on its bound sockets.
    pub(super) async fn start_media(&mut self, line: u32, n: Negotiated, reporter: &Reporter) {
        let Some(socket) = self.sockets.remove(&line) else {
            return;
        };
        let rate = n.codec.sample_rate();
        match self.devices(line, rate).await {
            Ok(devices) => {
                let handle = MediaHandle::start(
                    line,
                    socket,
                    n,
                    devices,
                    self.prefs.media_config.clone(),
                    self.media_events.clone(),
                );
                self.media.insert(line, (handle, rate));
            }
            Err(e) => reporter.error(NoticeKind::AudioDevice, format!("audio device: {e:#}")),
        }
    }

    /// The running media of `line` takes a new negotiation.
    pub(super) fn update_media(&mut self, line: u32, n: Negotiated) {
        if let Some((m, rate)) = self.media.get_mut(&line) {
            *rate = n.codec.sample_rate();
            m.update(n);
        }
    }

    /// Stops `line`'s media and reports its statistics.
    pub(super) async fn stop_media(&mut self, line: u32, reporter: &Reporter) {
        if let Some((m, _)) = self.media.remove(&line)
            && let Some(stats) = m.stop().await
        {
            reporter.send(Event::MediaStats { line, stats });
        }
    }

    /// The call on `line` is over: its ring, media and sockets go.
    pub(super) async fn end_line(&mut self, line: u32, reporter: &Reporter) {
        self.sockets.remove(&line);
        self.stop_ring(line).await;
        self.stop_media(line, reporter).await;
    }

    /// Stops every media task (playback files get their final headers).
    pub(super) async fn stop_all(&mut self, reporter: &Reporter) {
        let lines: Vec<u32> = self.media.keys().copied().collect();
        for line in lines {
            self.stop_media(line, reporter).await;
        }
    }

    /// Starts the local ring of `line`. The ringer's devices come in `sinks` (opened off the
    /// loop); a ringback plays in the call's media when that already runs, else on the
    /// call's speaker.
    pub(super) fn ring(&mut self, line: u32, kind: RingKind, sinks: Vec<Box<dyn AudioSink>>) {
        if self.rings.contains_key(&line) {
            return;
        }
        match kind {
            RingKind::Ringer => {
                let ring =
                    RingTask::start(sinks, self.prefs.ring.kind.clone(), self.prefs.ring.gain);
                self.rings.insert(line, ring);
            }
            RingKind::Ringback => {
                if let Some((m, _)) = self.media.get(&line) {
                    // Early media already runs: it rings back until the far end's audio arrives.
                    m.ringback(true);
                } else if let Ok(sink) = open_sink(&self.prefs.playback, self.prefs.ring.file_rate)
                {
                    let ring = RingTask::start(
                        vec![sink],
                        ToneKind::Ringback,
                        self.prefs.media_config.gain_out,
                    );
                    self.rings.insert(line, ring);
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
        if let Some(r) = self.rings.remove(&line) {
            drop(r.stop().await);
        }
        if let Some((m, _)) = self.media.get(&line) {
            m.ringback(false);
        }
    }

    /// Mutes `line`'s microphone and/or speaker.
    pub(super) fn mute(&self, line: u32, microphone: bool, speaker: bool) {
        if let Some((m, _)) = self.media.get(&line) {
            m.mute(microphone, speaker);
        }
    }

    /// Sends digits as RFC 4733 events on `line`.
    pub(super) fn dtmf(&self, line: u32, digits: &str) {
        if let Some((m, _)) = self.media.get(&line) {
            m.dtmf(digits);
        }
    }

    /// Moves every running call to the configured microphone and/or speaker
    /// (`changeaudiodevimmediate`); a device that cannot be opened leaves that call as it was.
    pub(super) fn switch_devices(&self, record: bool, playback: bool, reporter: &Reporter) {
        for (line, (m, rate)) in &self.media {
            let source = record.then(|| open_source(&self.prefs.record)).transpose();
            let sink = playback
                .then(|| open_sink(&self.prefs.playback, *rate))
                .transpose();
            match (source, sink) {
                (Ok(source), Ok(sink)) => {
                    m.switch_devices(source, sink);
                    reporter.send(Event::DevicesSwitched {
                        line: *line,
                        microphone: self.prefs.record.clone(),
                        speaker: self.prefs.playback.clone(),
                    });
                }
                (Err(e), _) | (_, Err(e)) => reporter.error(
                    NoticeKind::AudioDevice,
                    format!("line {line}: {e:#}; the call keeps its sound devices"),
                ),
            }
        }
    }

    /// Plays two seconds of the ring on the speaker, then closes it.
    pub(super) fn test_sound(&self, reporter: &Reporter) -> Result<(), String> {
        let sink =
            open_sink(&self.prefs.playback, 8000).map_err(|e| format!("test sound: {e:#}"))?;
        let ring = RingTask::start(vec![sink], ToneKind::Ring, self.prefs.media_config.gain_out);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            for mut sink in ring.stop().await {
                if let Err(e) = sink.finish() {
                    tracing::warn!("test sound: {e:#}");
                }
            }
        });
        reporter.send(Event::TestSound {
            speaker: self.prefs.playback.clone(),
        });
        Ok(())
    }
}
