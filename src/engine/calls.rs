//! The driver's per-call resources and policy: RTP/RTCP sockets bound before the SDP names
//! them, one media task per line, the audio devices, DTMF routing by `dtmfmode`, mute, and the
//! line policy (`autoaccept`, `autohold`, `automute`, the current line).

use super::driver::Reporter;
use super::event::Event;
use super::media::{MediaEvent, MediaHandle, RtpSockets, bind_rtp};
use crate::audio::{open_sink, open_source};
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
    pub(super) autoaccept: bool,
    pub(super) record: String,
    pub(super) playback: String,
    pub(super) media_config: super::media::MediaConfig,
    /// `defmute`: what mute means by default (1 both, 2 speaker, 3 microphone).
    pub(super) default_mute: i64,
    /// `autohold` / `automute`: 0 no, 1 on incoming, 2 on outgoing, 3 both, 4 on line switch.
    pub(super) auto_hold: i64,
    pub(super) auto_mute: i64,
    /// The line the user works on, and what is known of every line.
    pub(super) current_line: Option<u32>,
    pub(super) lines: HashMap<u32, LineInfo>,
    /// `dtmfmode`: 1 INFO, 2 (and 0) RFC 4733 else INFO, 3 both, 4 RFC 4733 only.
    pub(super) dtmf_mode: i64,
    /// Running media, by line.
    pub(super) media: HashMap<u32, MediaHandle>,
    /// What each line negotiated (DTMF routing needs to know about telephone-event).
    pub(super) negotiated: HashMap<u32, crate::sdp::Negotiated>,
    pub(super) media_events: mpsc::UnboundedSender<MediaEvent>,
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
        match ua.dial(Instant::now(), number, port) {
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

    /// Opens the call's devices; a playback file records at the codec's rate.
    pub(super) fn devices(
        &self,
        codec_rate: u32,
    ) -> anyhow::Result<(
        Box<dyn crate::audio::AudioSource>,
        Box<dyn crate::audio::AudioSink>,
    )> {
        Ok((
            open_source(&self.record)?,
            open_sink(&self.playback, codec_rate)?,
        ))
    }

    /// Driver-side reactions to call events: answer (autoaccept), start, update and stop media,
    /// the line policy (`autohold`, `automute`).
    pub(super) async fn on_event(
        &mut self,
        ua: &mut UserAgent,
        ev: &UaEvent,
        reporter: &mut Reporter,
    ) {
        self.track_lines(ua, ev, reporter);
        match ev {
            UaEvent::Call {
                line,
                state: CallState::Incoming,
                ..
            } if self.autoaccept => self.answer(ua, *line, reporter).await,
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
                match self.devices(n.codec.sample_rate()) {
                    Ok(devices) => {
                        let handle = MediaHandle::start(
                            *line,
                            socket,
                            n.clone(),
                            devices,
                            self.media_config.clone(),
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
            if applies(self.auto_hold)
                && !held
                && let Err(e) = ua.hold(Instant::now(), other, true)
            {
                reporter.send(Event::Error(e.to_string()));
            }
            if applies(self.auto_mute) && !self.lines.get(&other).is_some_and(|i| i.muted) {
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
        if self.auto_hold == 4 {
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
        if self.auto_mute == 4 {
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
        let direction = match (direction, self.default_mute) {
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
        let mode = self.dtmf_mode;
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
