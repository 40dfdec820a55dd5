//! The driver's per-call resources and policy: RTP/RTCP sockets bound before the SDP names
//! them, one media task per line, the audio devices, DTMF routing by `dtmfmode`, mute, and the
//! line policy (`autoaccept`, `autohold`, `automute`, the current line).

use super::driver::Reporter;
use super::event::Event;
use super::media::{MediaEvent, MediaHandle, RtpSockets, bind_rtp};
use super::ring::RingTask;
use crate::audio::{AudioSink, open_sink, open_source};
use crate::config::Settings;
use crate::media::tone::ToneKind;
use crate::sip::call::{CallDirection, CallState};
use crate::sip::ua::{UaEvent, UserAgent};
use std::collections::HashMap;
use std::time::Instant;
use tokio::sync::mpsc;

/// What the driver knows of a line for the line-switching policy.
#[derive(Debug, Clone, Copy)]
pub(super) struct LineInfo {
    pub(super) state: CallState,
    pub(super) held_by_us: bool,
    pub(super) muted: bool,
}

/// What the driver holds for calls: RTP sockets bound before the SDP names them, devices.
pub(super) struct CallResources {
    pub(super) ip: std::net::IpAddr,
    pub(super) rtp_base: u16,
    /// Sockets of calls whose media has not started yet, by line.
    pub(super) sockets: HashMap<u32, RtpSockets>,
    /// What the settings say about calls; replaced when a parameter changes at run time.
    pub(super) prefs: CallPrefs,
    /// The line the user works on, and what is known of every line.
    pub(super) current_line: Option<u32>,
    pub(super) lines: HashMap<u32, LineInfo>,
    /// Running media, by line.
    pub(super) media: HashMap<u32, MediaHandle>,
    /// What each line negotiated (DTMF routing needs to know about telephone-event).
    pub(super) negotiated: HashMap<u32, crate::sdp::Negotiated>,
    pub(super) media_events: mpsc::UnboundedSender<MediaEvent>,
    /// Rings playing, by line.
    pub(super) rings: HashMap<u32, RingTask>,
}

/// The call behaviour taken from the settings.
pub(super) struct CallPrefs {
    pub(super) autoaccept: bool,
    pub(super) record: String,
    pub(super) playback: String,
    pub(super) media_config: super::media::MediaConfig,
    /// `defmute`: what mute means by default (1 both, 2 speaker, 3 microphone).
    pub(super) default_mute: i64,
    /// `autohold` / `automute`: 0 no, 1 on incoming, 2 on outgoing, 3 both, 4 on line switch.
    pub(super) auto_hold: i64,
    pub(super) auto_mute: i64,
    /// `dtmfmode`: 1 INFO, 2 (and 0) RFC 4733 else INFO, 3 both, 4 RFC 4733 only.
    pub(super) dtmf_mode: i64,
    /// Local ring and ringback (`playring`, `ringerdevice`, `ringtone`, `volumering`).
    pub(super) ring: RingSettings,
    /// `earlymedia` 5 and 6: our audio goes out before the call is answered.
    pub(super) early_send: bool,
}

impl CallPrefs {
    /// Reads them from `settings` (a bad ringtone is reported and the built-in ring used).
    pub(super) fn from_settings(settings: &Settings, reporter: &mut Reporter) -> CallPrefs {
        CallPrefs {
            autoaccept: settings.bool("autoaccept"),
            record: settings.text("recorddevice"),
            playback: settings.text("playbackdevice"),
            media_config: super::setup::media_config(settings),
            default_mute: settings.int("defmute"),
            auto_hold: settings.int("autohold"),
            auto_mute: settings.int("automute"),
            dtmf_mode: settings.int("dtmfmode"),
            ring: super::setup::ring_settings(settings, reporter),
            early_send: settings.int("earlymedia") >= 5,
        }
    }
}

/// How calls ring here and there.
pub(super) struct RingSettings {
    /// `playring`: 0 never, 1 incoming calls, 2 also ringback on outgoing calls.
    pub(super) mode: i64,
    pub(super) device: String,
    pub(super) kind: ToneKind,
    pub(super) gain: f32,
    /// Rate of a ringback written to a playback file before the codec is known: that of the
    /// codec we offer first, which the call most likely gets.
    pub(super) file_rate: u32,
}

impl CallResources {
    pub(super) async fn place(
        &mut self,
        ua: &mut UserAgent,
        number: &str,
        reporter: &mut Reporter,
    ) {
        let socket = match bind_rtp(self.ip, self.rtp_base).await {
            Ok(s) => s,
            Err(e) => return reporter.send(Event::Error(format!("call {number}: {e:#}"))),
        };
        let port = socket.rtp.local_addr().map(|a| a.port()).unwrap_or(0);
        // No server and a SIP URI with a host name: resolve it here (the core does no I/O).
        let via = match ua.direct_host(number) {
            Some((host, port)) => {
                match super::setup::resolve_hostport(&format!("{host}:{port}"), 5060).await {
                    Ok(addr) => Some(crate::sip::transport::Destination {
                        transport: ua.transport(),
                        addr,
                    }),
                    Err(e) => return reporter.send(Event::Error(format!("call {number}: {e:#}"))),
                }
            }
            None => None,
        };
        match ua.dial_via(Instant::now(), number, port, via) {
            Ok(line) => {
                self.sockets.insert(line, socket);
            }
            Err(e) => reporter.send(Event::Error(e.to_string())),
        }
    }

    pub(super) async fn answer(&mut self, ua: &mut UserAgent, line: u32, reporter: &mut Reporter) {
        let socket = match bind_rtp(self.ip, self.rtp_base).await {
            Ok(s) => s,
            Err(e) => return reporter.send(Event::Error(format!("answer line {line}: {e:#}"))),
        };
        let port = socket.rtp.local_addr().map(|a| a.port()).unwrap_or(0);
        self.sockets.insert(line, socket);
        if let Err(e) = ua.answer(Instant::now(), line, port) {
            self.sockets.remove(&line);
            reporter.send(Event::Error(e.to_string()));
        }
    }

    /// Opens the call's devices; a playback file records at the codec's rate. A playback
    /// device already playing the ringback of `line` is taken over from the ring.
    pub(super) async fn devices(
        &mut self,
        line: u32,
        codec_rate: u32,
    ) -> anyhow::Result<(Box<dyn crate::audio::AudioSource>, Box<dyn AudioSink>)> {
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

    /// Moves every running call to the configured microphone and/or speaker
    /// (`changeaudiodevimmediate`); a device that cannot be opened leaves that call as it was.
    pub(super) fn switch_devices(&self, record: bool, playback: bool, reporter: &mut Reporter) {
        for (line, m) in &self.media {
            let rate = self
                .negotiated
                .get(line)
                .map_or(8000, |n| n.codec.sample_rate());
            let source = record.then(|| open_source(&self.prefs.record)).transpose();
            let sink = playback
                .then(|| open_sink(&self.prefs.playback, rate))
                .transpose();
            match (source, sink) {
                (Ok(source), Ok(sink)) => {
                    m.switch_devices(source, sink);
                    reporter.send(Event::Info(format!(
                        "Line {line} now uses microphone {:?} and speaker {:?}",
                        self.prefs.record, self.prefs.playback
                    )));
                }
                (Err(e), _) | (_, Err(e)) => reporter.send(Event::Error(format!(
                    "line {line}: {e:#}; the call keeps its sound devices"
                ))),
            }
        }
    }

    /// Plays two seconds of the ring on the speaker, then closes it.
    pub(super) fn test_sound(&self, reporter: &mut Reporter) {
        match open_sink(&self.prefs.playback, 8000) {
            Ok(sink) => {
                let ring =
                    RingTask::start(vec![sink], ToneKind::Ring, self.prefs.media_config.gain_out);
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    for mut sink in ring.stop().await {
                        if let Err(e) = sink.finish() {
                            tracing::warn!("test sound: {e:#}");
                        }
                    }
                });
                reporter.send(Event::Info(format!(
                    "Test sound on speaker {:?}",
                    self.prefs.playback
                )));
            }
            Err(e) => reporter.send(Event::Error(format!("test sound: {e:#}"))),
        }
    }

    /// The sinks incoming calls ring on: `ringerdevice`, where `All` is every sound card.
    fn ringer_sinks(&self) -> Vec<Box<dyn AudioSink>> {
        let names = if self.prefs.ring.device.trim().eq_ignore_ascii_case("all") {
            crate::audio::device::list_devices().1
        } else {
            vec![self.prefs.ring.device.clone()]
        };
        names
            .iter()
            .filter_map(|n| open_sink(n, 8000).ok())
            .collect()
    }

    /// Starts or stops the local ring of `line` as its state says.
    async fn ring_for(&mut self, line: u32, state: CallState, direction: CallDirection) {
        let wants = match state {
            CallState::Incoming => self.prefs.ring.mode >= 1 && !self.prefs.autoaccept,
            CallState::Ringing => self.prefs.ring.mode == 2 && direction == CallDirection::Outgoing,
            _ => false,
        };
        if !wants {
            if let Some(r) = self.rings.remove(&line) {
                drop(r.stop().await);
            }
            if let Some(m) = self.media.get(&line) {
                m.ringback(false);
            }
            return;
        }
        if self.rings.contains_key(&line) {
            return;
        }
        if state == CallState::Incoming {
            let sinks = self.ringer_sinks();
            let ring = RingTask::start(sinks, self.prefs.ring.kind.clone(), self.prefs.ring.gain);
            self.rings.insert(line, ring);
        } else if let Some(m) = self.media.get(&line) {
            // Early media already runs: it rings back until the far end's audio arrives.
            m.ringback(true);
        } else if let Ok(sink) = open_sink(&self.prefs.playback, self.prefs.ring.file_rate) {
            let ring = RingTask::start(
                vec![sink],
                ToneKind::Ringback,
                self.prefs.media_config.gain_out,
            );
            self.rings.insert(line, ring);
        }
    }

    /// Driver-side reactions to call events: answer (autoaccept), start, update and stop media,
    /// the line policy (`autohold`, `automute`).
    pub(super) async fn on_event(
        &mut self,
        ua: &mut UserAgent,
        ev: &UaEvent,
        reporter: &mut Reporter,
    ) {
        let was_connected = match ev {
            UaEvent::Call { line, .. } => self
                .lines
                .get(line)
                .is_some_and(|i| i.state == CallState::Connected),
            _ => false,
        };
        self.track_lines(ua, ev, reporter);
        if let UaEvent::Call {
            line,
            state,
            direction,
            ..
        } = ev
        {
            self.ring_for(*line, *state, *direction).await;
            // Answered: early media that was receive-only gets its real direction.
            if *state == CallState::Connected
                && !was_connected
                && let (Some(m), Some(n)) = (self.media.get(line), self.negotiated.get(line))
            {
                m.update(n.clone());
            }
        }
        match ev {
            UaEvent::Call {
                line,
                state: CallState::Incoming,
                ..
            } if self.prefs.autoaccept => self.answer(ua, *line, reporter).await,
            UaEvent::Media {
                line,
                negotiated: Some(n),
            } => {
                self.negotiated.insert(*line, n.clone());
                if let Some(m) = self.media.get(line) {
                    return m.update(n.clone());
                }
                let Some(socket) = self.sockets.remove(line) else {
                    return;
                };
                // Before the answer our audio goes out only when `earlymedia` says so.
                let early = !self.lines.get(line).is_some_and(|i| {
                    matches!(i.state, CallState::Connected | CallState::Connecting)
                });
                let mut start_as = n.clone();
                if early && !self.prefs.early_send {
                    start_as.direction = start_as.direction.without_sending();
                }
                match self.devices(*line, n.codec.sample_rate()).await {
                    Ok(devices) => {
                        let handle = MediaHandle::start(
                            *line,
                            socket,
                            start_as,
                            devices,
                            self.prefs.media_config.clone(),
                            self.media_events.clone(),
                        );
                        self.media.insert(*line, handle);
                    }
                    Err(e) => reporter.send(Event::Error(format!("audio device: {e:#}"))),
                }
            }
            UaEvent::Media {
                line,
                negotiated: None,
            } => self.stop(*line, reporter).await,
            UaEvent::Call {
                line,
                state: CallState::Terminated,
                ..
            } => {
                self.sockets.remove(line);
                self.stop(*line, reporter).await;
            }
            _ => {}
        }
    }

    pub(super) async fn stop(&mut self, line: u32, reporter: &mut Reporter) {
        self.negotiated.remove(&line);
        if let Some(m) = self.media.remove(&line)
            && let Some(st) = m.stop().await
        {
            let total = st.received + st.lost;
            let loss = if total == 0 {
                0.0
            } else {
                st.lost as f64 * 100.0 / total as f64
            };
            let rtt = st
                .rtt_ms
                .map_or("unknown".to_string(), |r| format!("{r:.1} ms"));
            reporter.send(Event::Info(format!(
                "RTP statistics on line {line}: sent {}; received {}; lost {} ({loss:.1}%); \
                 jitter {:.1} ms; concealed {}; round trip {rtt}",
                st.sent, st.received, st.lost, st.jitter_ms, st.concealed
            )));
        }
    }

    /// Stops every media task (playback files get their final headers).
    pub(super) async fn stop_all(&mut self, reporter: &mut Reporter) {
        let lines: Vec<u32> = self.media.keys().copied().collect();
        for line in lines {
            self.stop(line, reporter).await;
        }
    }

    pub(super) fn track_lines(
        &mut self,
        ua: &mut UserAgent,
        ev: &UaEvent,
        reporter: &mut Reporter,
    ) {
        match ev {
            UaEvent::Call {
                line,
                state,
                direction,
                ..
            } => {
                if *state == CallState::Terminated {
                    self.lines.remove(line);
                    if self.current_line == Some(*line) {
                        self.current_line = self.lines.keys().min().copied();
                    }
                    return;
                }
                let before = self.lines.get(line).map(|i| i.state);
                let info = self.lines.entry(*line).or_insert(LineInfo {
                    state: *state,
                    held_by_us: false,
                    muted: false,
                });
                info.state = *state;
                if *state == CallState::Connected && before != Some(CallState::Connected) {
                    let incoming = *direction == CallDirection::Incoming;
                    self.new_call_up(ua, *line, incoming, reporter);
                }
            }
            UaEvent::Hold { line, local, .. } => {
                if let Some(info) = self.lines.get_mut(line) {
                    info.held_by_us = *local;
                }
            }
            _ => {}
        }
    }

    /// A call just connected: it becomes the current line; the others are held and/or muted
    /// when `autohold`/`automute` say so for this direction.
    pub(super) fn new_call_up(
        &mut self,
        ua: &mut UserAgent,
        line: u32,
        incoming: bool,
        reporter: &mut Reporter,
    ) {
        let applies = |mode: i64| mode == 3 || mode == if incoming { 1 } else { 2 };
        let others: Vec<u32> = self
            .lines
            .iter()
            .filter(|(l, i)| **l != line && i.state == CallState::Connected)
            .map(|(l, _)| *l)
            .collect();
        for other in others {
            let held = self.lines.get(&other).is_some_and(|i| i.held_by_us);
            if applies(self.prefs.auto_hold)
                && !held
                && let Err(e) = ua.hold(Instant::now(), other, true)
            {
                reporter.send(Event::Error(e.to_string()));
            }
            if applies(self.prefs.auto_mute) && !self.lines.get(&other).is_some_and(|i| i.muted) {
                self.mute(other, true, 4, reporter);
            }
        }
        self.current_line = Some(line);
    }

    /// The user picks a line: with `autohold`/`automute` 4 the line left is held/muted and the
    /// line picked is resumed/unmuted.
    pub(super) fn set_line(&mut self, ua: &mut UserAgent, line: u32, reporter: &mut Reporter) {
        if !self.lines.contains_key(&line) {
            return reporter.send(Event::Error(format!("no call on line {line}")));
        }
        let previous = self.current_line.replace(line);
        reporter.send(Event::Info(format!("Line {line} selected")));
        let Some(prev) = previous.filter(|p| *p != line) else {
            return;
        };
        let now = Instant::now();
        if self.prefs.auto_hold == 4 {
            if self
                .lines
                .get(&prev)
                .is_some_and(|i| i.state == CallState::Connected && !i.held_by_us)
                && let Err(e) = ua.hold(now, prev, true)
            {
                reporter.send(Event::Error(e.to_string()));
            }
            if self.lines.get(&line).is_some_and(|i| i.held_by_us)
                && let Err(e) = ua.hold(now, line, false)
            {
                reporter.send(Event::Error(e.to_string()));
            }
        }
        if self.prefs.auto_mute == 4 {
            if self.lines.get(&prev).is_some_and(|i| !i.muted) {
                self.mute(prev, true, 4, reporter);
            }
            if self.lines.get(&line).is_some_and(|i| i.muted) {
                self.mute(line, false, 4, reporter);
            }
        }
    }

    /// Mutes or unmutes `line` (API_MuteEx directions: 0/3 both, 1 speaker, 2 mic, 4 defmute).
    pub(super) fn mute(&mut self, line: u32, on: bool, direction: u8, reporter: &mut Reporter) {
        let Some(m) = self.media.get(&line) else {
            return reporter.send(Event::Error(format!(
                "mute: no call with media on line {line}"
            )));
        };
        // defmute: 1 both, 2 speaker only, 3 microphone only.
        let direction = match (direction, self.prefs.default_mute) {
            (4, 1) => 0,
            (4, 2) => 1,
            (4, _) => 2,
            (d, _) => d,
        };
        let (mic, speaker) = match direction {
            1 => (false, on),
            2 => (on, false),
            _ => (on, on),
        };
        m.mute(mic, speaker);
        if let Some(info) = self.lines.get_mut(&line) {
            info.muted = mic || speaker;
        }
        reporter.send(Event::Mute {
            line,
            microphone: mic,
            speaker,
        });
        reporter.send(Event::Info(match (mic, speaker) {
            (false, false) => format!("Line {line} unmuted"),
            (true, false) => format!("Line {line} muted (microphone)"),
            (false, true) => format!("Line {line} muted (speaker)"),
            (true, true) => format!("Line {line} muted (microphone and speaker)"),
        }));
    }

    /// Sends digits by RFC 4733 events or SIP INFO, as `dtmfmode` and the negotiation allow.
    pub(super) fn dtmf(
        &mut self,
        ua: &mut UserAgent,
        line: u32,
        digits: &str,
        reporter: &mut Reporter,
    ) {
        let rfc4733 = self
            .negotiated
            .get(&line)
            .is_some_and(|n| n.dtmf_pt.is_some());
        let mode = self.prefs.dtmf_mode;
        let by_rtp = rfc4733 && mode != 1;
        let by_info = mode == 1 || mode == 3 || (!rfc4733 && mode != 4);
        if by_rtp && let Some(m) = self.media.get(&line) {
            m.dtmf(digits);
        }
        if by_info && let Err(e) = ua.send_dtmf_info(Instant::now(), line, digits) {
            reporter.send(Event::Error(e.to_string()));
        }
        if !by_rtp && !by_info {
            reporter.send(Event::Error(format!(
                "DTMF on line {line}: the peer did not accept telephone-event and dtmfmode=4 forbids INFO"
            )));
        }
    }
}
