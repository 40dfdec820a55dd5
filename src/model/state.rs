//! The one reducer: [`PhoneState::apply`] takes each event in order and keeps the picture of
//! the phone that the window draws, the control API serves (`GET /state`) and the tests check.
//! It reads typed fields only.

use super::cdr::Cdr;
use super::contact::Contact;
use super::event::{
    CallDirection, CallState, Event, MediaDirection, MediaStats, MessageWaiting, RecordingState,
    Registration, Severity, TransferStep,
};
use super::modes::{LampState, PresenceStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// How the account stands with the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Account {
    /// Nothing tried yet (or no account configured).
    #[default]
    Idle,
    Connecting,
    Registered,
    /// The last attempt failed, with the server's or the network's reason.
    Failed {
        reason: String,
    },
    /// Unregistered on request.
    Disconnected,
}

/// What a line's media negotiated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineMedia {
    pub codec: String,
    pub remote: String,
    pub direction: MediaDirection,
    /// The SRTP suite when the media is encrypted.
    #[serde(default)]
    pub encryption: Option<String>,
}

/// One line with a call on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineStatus {
    pub state: CallState,
    pub direction: CallDirection,
    pub peer: String,
    pub peer_display: String,
    pub peer_uri: String,
    pub call_id: String,
    /// When the call was answered (Unix milliseconds), for the call timer.
    pub answered_at_ms: Option<i64>,
    /// We hold the far end / it holds us.
    pub hold_local: bool,
    pub hold_remote: bool,
    /// What is muted.
    pub mic_muted: bool,
    pub speaker_muted: bool,
    /// The media as negotiated, once it runs.
    pub media: Option<LineMedia>,
    /// The statistics of the media's last run.
    pub stats: Option<MediaStats>,
    /// The latest word on a transfer of this call (ours or the far end's).
    pub transfer: Option<TransferStep>,
    /// Incoming: who passed this call on to us, and why.
    pub diverted: Option<(String, super::DiversionReason)>,
    /// The file this call is being recorded into.
    #[serde(default)]
    pub recording: Option<String>,
}

impl LineStatus {
    /// The peer as people read it: the display name with the number, or the number.
    pub fn who(&self) -> String {
        if self.peer_display.is_empty() {
            self.peer.clone()
        } else {
            format!("{} ({})", self.peer_display, self.peer)
        }
    }

    /// Anything muted.
    pub fn muted(&self) -> bool {
        self.mic_muted || self.speaker_muted
    }

    /// Ringing here, waiting for the user to answer.
    pub fn is_incoming(&self) -> bool {
        self.state == CallState::Incoming
    }

    /// A line with a new call and nothing known of it yet.
    fn new(call_id: &str, state: CallState, direction: CallDirection) -> LineStatus {
        LineStatus {
            state,
            direction,
            peer: String::new(),
            peer_display: String::new(),
            peer_uri: String::new(),
            call_id: call_id.to_string(),
            answered_at_ms: None,
            hold_local: false,
            hold_remote: false,
            mic_muted: false,
            speaker_muted: false,
            media: None,
            stats: None,
            transfer: None,
            diverted: None,
            recording: None,
        }
    }

    /// How long the call has been up at `now_ms` (Unix milliseconds; zero before the answer).
    pub fn talk_ms(&self, now_ms: i64) -> u64 {
        self.answered_at_ms
            .map_or(0, |t| u64::try_from(now_ms.saturating_sub(t)).unwrap_or(0))
    }
}

/// A notice kept for the faces (the newest [`PhoneState::NOTICES`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptNotice {
    pub severity: Severity,
    pub kind: super::event::NoticeKind,
    pub text: String,
}

/// The picture of the phone built from events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhoneState {
    /// The account's user name.
    pub user: String,
    pub account: Account,
    pub lines: BTreeMap<u32, LineStatus>,
    /// The line the user works on.
    pub current_line: Option<u32>,
    /// The lines mixed in the local conference (empty: none).
    #[serde(default)]
    pub conference: Vec<u32>,
    /// The file PlaySound plays now.
    #[serde(default)]
    pub playing: Option<String>,
    /// Finished calls, newest first.
    pub history: Vec<Cdr>,
    /// Effective parameter values (names from the registry).
    pub params: BTreeMap<String, String>,
    /// The sound devices (microphones, speakers), once listed.
    pub devices: Option<(Vec<String>, Vec<String>)>,
    /// The microphone level meter's last reading (0-100).
    pub input_level: Option<u8>,
    /// Warnings and errors, oldest first.
    pub notices: VecDeque<KeptNotice>,
    /// The voicemail box, once the server told us.
    pub voicemail: Option<MessageWaiting>,
    /// The watched contacts' presence (status and note), by user as asked for.
    pub presence: BTreeMap<String, (PresenceStatus, String)>,
    /// The watched extensions' busy lamps, and whether the ringing call can be picked up.
    pub lamps: BTreeMap<String, (LampState, bool)>,
    /// The address book, by name (from the store, after every change).
    pub contacts: Vec<Contact>,
    /// Who watches our presence (the server's list, then our direct watchers).
    pub watchers: Vec<crate::model::Watcher>,
    /// Calls web pages asked for that wait for the user's click: ticket, then the page's
    /// origin and the target.
    pub dial_requests: BTreeMap<u64, (String, String)>,
    /// The SIP stack is up.
    pub started: bool,
    /// The engine has stopped.
    pub stopped: bool,
}

impl PhoneState {
    /// How many warnings and errors are kept.
    pub const NOTICES: usize = 200;
    /// How many finished calls are kept.
    pub const HISTORY: usize = 1000;

    /// The state at start: the effective settings and the stored history (newest first).
    pub fn new(params: BTreeMap<String, String>, history: Vec<Cdr>) -> PhoneState {
        PhoneState {
            params,
            history,
            ..PhoneState::default()
        }
    }

    /// A parameter's effective value.
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// The ringing incoming call a popup is about: the lowest such line.
    pub fn incoming(&self) -> Option<(u32, &LineStatus)> {
        self.lines
            .iter()
            .find(|(_, l)| l.is_incoming())
            .map(|(n, l)| (*n, l))
    }

    /// The line call controls act on: the current one if it has a call, else the lowest line
    /// with a call.
    pub fn active_line(&self) -> Option<u32> {
        self.current_line
            .filter(|l| self.lines.contains_key(l))
            .or_else(|| self.lines.keys().next().copied())
    }

    /// The number the last outgoing call went to (for Redial).
    pub fn last_dialled(&self) -> Option<&str> {
        self.history
            .iter()
            .find(|c| c.outgoing)
            .map(|c| c.peer.as_str())
    }

    /// Takes one event.
    pub fn apply(&mut self, ev: &Event) {
        match ev {
            Event::Started { user } => {
                self.started = true;
                self.user.clone_from(user);
            }
            Event::Account { user } => self.user.clone_from(user),
            Event::Registration(r) => {
                self.account = match r {
                    Registration::Registering => Account::Connecting,
                    Registration::Registered { .. } => Account::Registered,
                    Registration::Failed {
                        code,
                        reason,
                        retry_in_ms,
                    } => Account::Failed {
                        reason: Registration::failure_text(*code, reason, *retry_in_ms),
                    },
                    Registration::Unregistered => Account::Disconnected,
                }
            }
            Event::Call {
                line,
                state,
                direction,
                peer,
                peer_display,
                peer_uri,
                call_id,
                answered_at_ms,
                ..
            } => {
                if *state == CallState::Terminated {
                    self.lines.remove(line);
                    return;
                }
                let entry = self
                    .lines
                    .entry(*line)
                    .or_insert_with(|| LineStatus::new(call_id, *state, *direction));
                if entry.call_id != *call_id {
                    // Another call on the same line number: nothing of the last one carries over.
                    *entry = LineStatus::new(call_id, *state, *direction);
                }
                entry.state = *state;
                entry.direction = *direction;
                entry.peer.clone_from(peer);
                entry.peer_display.clone_from(peer_display);
                entry.peer_uri.clone_from(peer_uri);
                if answered_at_ms.is_some() {
                    entry.answered_at_ms = *answered_at_ms;
                }
            }
            Event::CurrentLine { line, .. } => self.current_line = *line,
            Event::Hold {
                line,
                local,
                remote,
            } => {
                if let Some(l) = self.lines.get_mut(line) {
                    (l.hold_local, l.hold_remote) = (*local, *remote);
                }
            }
            Event::Conference { lines } => self.conference = lines.clone(),
            Event::Recording { line, state } => {
                if let Some(l) = self.lines.get_mut(line) {
                    l.recording = match state {
                        RecordingState::Started { path } => Some(path.clone()),
                        _ => None,
                    };
                }
            }
            Event::Transfer { line, step } => {
                if let Some(l) = self.lines.get_mut(line) {
                    l.transfer = Some(step.clone());
                }
            }
            Event::CallDiverted { line, from, reason } => {
                if let Some(l) = self.lines.get_mut(line) {
                    l.diverted = Some((from.clone(), *reason));
                }
            }
            Event::Mute {
                line,
                microphone,
                speaker,
            } => {
                if let Some(l) = self.lines.get_mut(line) {
                    (l.mic_muted, l.speaker_muted) = (*microphone, *speaker);
                }
            }
            Event::Media {
                line,
                codec,
                remote,
                direction,
                encryption,
            } => {
                if let Some(l) = self.lines.get_mut(line) {
                    l.media = Some(LineMedia {
                        codec: codec.clone(),
                        remote: remote.clone(),
                        direction: *direction,
                        encryption: encryption.clone(),
                    });
                }
            }
            Event::MediaStats { line, stats } => {
                if let Some(l) = self.lines.get_mut(line) {
                    l.media = None;
                    l.stats = Some(stats.clone());
                }
            }
            Event::InputLevel { level } => self.input_level = Some(*level),
            Event::Devices {
                microphones,
                speakers,
            } => self.devices = Some((microphones.clone(), speakers.clone())),
            Event::Parameter { name, value, .. } => {
                self.params.insert(name.clone(), value.clone());
            }
            Event::Cdr(c) => {
                self.history.insert(0, c.clone());
                self.history.truncate(Self::HISTORY);
            }
            Event::Notice {
                severity,
                kind,
                text,
            } if *severity != Severity::Info => self.keep_notice(KeptNotice {
                severity: *severity,
                kind: *kind,
                text: text.clone(),
            }),
            Event::Reply {
                result: super::event::Reply::Failed { kind, message },
                ..
            } => self.keep_notice(KeptNotice {
                severity: Severity::Error,
                kind: *kind,
                text: message.clone(),
            }),
            Event::Stopped => {
                self.stopped = true;
                self.lines.clear();
                self.current_line = None;
            }
            // Conversations are kept by the store, not in the snapshot the faces draw.
            Event::Voicemail(summary) => self.voicemail = Some(*summary),
            // A question for the user, not state: the faces ask and answer with AllowWatcher.
            Event::WatcherRequest { .. } => {}
            Event::DialRequest {
                ticket,
                origin,
                target,
            } => {
                self.dial_requests
                    .insert(*ticket, (origin.clone(), target.clone()));
            }
            Event::DialDecision { ticket, .. } => {
                self.dial_requests.remove(ticket);
            }
            Event::BusyLamp {
                user,
                state,
                pickup,
            } => {
                self.lamps.insert(user.clone(), (*state, *pickup));
            }
            Event::Presence { user, status, note } => {
                self.presence.insert(user.clone(), (*status, note.clone()));
            }
            Event::Contacts { contacts } => self.contacts = contacts.clone(),
            Event::Watchers { watchers } => self.watchers = watchers.clone(),
            Event::Playback { file, playing, .. } => {
                self.playing = playing.then(|| file.clone());
            }
            Event::CapabilityResponse { .. }
            | Event::ChatReceived { .. }
            | Event::ChatDelivery { .. }
            | Event::ChatHistory { .. }
            | Event::ContactsFound { .. }
            | Event::ContactsImported { .. }
            | Event::ContactsExported { .. }
            | Event::PublicAddress { .. }
            | Event::DtmfReceived { .. }
            | Event::DevicesSwitched { .. }
            | Event::TestSound { .. }
            | Event::Notice { .. }
            | Event::Reply { .. } => {}
        }
    }

    fn keep_notice(&mut self, n: KeptNotice) {
        self.notices.push_back(n);
        while self.notices.len() > Self::NOTICES {
            self.notices.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CurrentLineCause, NoticeKind, Reply, RequestId};

    fn call(line: u32, state: CallState, direction: CallDirection, answered: Option<i64>) -> Event {
        Event::Call {
            line,
            state,
            direction,
            peer: format!("100{}", line + 1),
            peer_display: String::new(),
            peer_uri: String::new(),
            call_id: format!("c{line}"),
            reason: String::new(),
            ended_by_us: false,
            answered_at_ms: answered,
        }
    }

    #[test]
    fn registration_with_its_reason() {
        let mut s = PhoneState::default();
        s.apply(&Event::Registration(Registration::Registering));
        assert_eq!(s.account, Account::Connecting);
        s.apply(&Event::Registration(Registration::Failed {
            code: 403,
            reason: "Forbidden".into(),
            retry_in_ms: Some(5000),
        }));
        assert_eq!(
            s.account,
            Account::Failed {
                reason: "403 Forbidden; retrying in 5.0 s".into()
            }
        );
        s.apply(&Event::Registration(Registration::Registered {
            expires_s: 600,
        }));
        assert_eq!(s.account, Account::Registered);
        s.apply(&Event::Registration(Registration::Unregistered));
        assert_eq!(s.account, Account::Disconnected);
    }

    #[test]
    fn lines_follow_their_calls() {
        let mut s = PhoneState::default();
        s.apply(&call(1, CallState::Calling, CallDirection::Outgoing, None));
        s.apply(&Event::CurrentLine {
            line: Some(1),
            cause: CurrentLineCause::NewCall,
        });
        s.apply(&call(
            1,
            CallState::Connected,
            CallDirection::Outgoing,
            Some(1_000),
        ));
        assert_eq!(s.lines[&1].talk_ms(76_000), 75_000);
        s.apply(&call(2, CallState::Incoming, CallDirection::Incoming, None));
        assert_eq!(s.incoming().map(|(n, _)| n), Some(2));
        assert_eq!(s.active_line(), Some(1));
        s.apply(&Event::Mute {
            line: 1,
            microphone: true,
            speaker: false,
        });
        assert!(s.lines[&1].mic_muted && !s.lines[&1].speaker_muted);
        s.apply(&Event::Hold {
            line: 1,
            local: true,
            remote: false,
        });
        assert!(s.lines[&1].hold_local);
        s.apply(&Event::Conference { lines: vec![1, 2] });
        assert_eq!(s.conference, [1, 2]);
        s.apply(&Event::CurrentLine {
            line: Some(2),
            cause: CurrentLineCause::Selected,
        });
        assert_eq!(s.active_line(), Some(2));
        s.apply(&call(
            2,
            CallState::Terminated,
            CallDirection::Incoming,
            None,
        ));
        assert!(s.incoming().is_none());
        // Until the engine names the next current line, controls act on the lowest one.
        assert_eq!(s.active_line(), Some(1));
        s.apply(&Event::Reply {
            id: RequestId(3),
            result: Reply::Failed {
                kind: NoticeKind::Call,
                message: "no call on line 4".into(),
            },
        });
        assert_eq!(s.notices.len(), 1);
        s.apply(&Event::Stopped);
        assert!(s.lines.is_empty() && s.stopped);
    }
}
