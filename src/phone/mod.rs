//! The phone's policy, sans-IO: what happens around calls once the SIP core has said what it
//! saw. Core events ([`UaEvent`]) and the user's line commands go in with the current
//! `Instant` (and the wall clock for records); [`Action`]s for the driver and typed
//! [`Event`]s for the faces come out of [`Phone::poll_action`]. The driver only carries them
//! out (sockets, devices, media tasks, the store), so every decision here is tested on a
//! virtual clock without any of them (`tests/integration/sim_phone.rs`).
//!
//! What is decided here: the current line and line switching (`autohold`/`automute`), mute by
//! direction (`defmute`), DTMF routing (`dtmfmode` and what the peer accepted), when to ring
//! and ring back (`playring`, `autoaccept`), when media starts, changes direction (early media,
//! `earlymedia`) and stops, answering automatically, the local conference's members
//! (`conference.rs`), and the call detail records.
//! `settings.rs` holds the other sans-IO decision, what a parameter change means.

mod cdr;
mod conference;
pub mod feature_codes;
mod recording;
mod report;
pub mod settings;

pub use recording::{RecordingNames, file_name as recording_file_name};

use crate::config::Settings;
use crate::model::{
    AutoMode, CallDirection, CallState, CurrentLineCause, DefaultMute, DtmfMode, Event,
    MuteDirection, NoticeKind,
};
use crate::sdp::Negotiated;
use crate::sip::ua::UaEvent;
use cdr::CdrTracker;
use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

/// Which local sound a line makes while it is not in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingKind {
    /// An incoming call rings on the ringer device(s).
    Ringer,
    /// An outgoing call hears a local ringback while the far end rings.
    Ringback,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Tell the faces.
    Report(Event),
    /// Answer the ringing call on `line` (`autoaccept`): bind its RTP and answer.
    Answer { line: u32 },
    /// Hold or resume `line` (line switching, `autohold`).
    Hold { line: u32, on: bool },
    /// Start the local ring of `line`.
    Ring { line: u32, kind: RingKind },
    /// Stop the local ring of `line` (and a ringback its media plays).
    StopRing { line: u32 },
    /// Start `line`'s media with this negotiation (its direction already says whether we send
    /// before the answer); a ringback playing on the call's speaker is handed over to it.
    StartMedia { line: u32, negotiated: Negotiated },
    /// The running media of `line` takes a new negotiation (re-INVITE, the answer).
    UpdateMedia { line: u32, negotiated: Negotiated },
    /// Stop `line`'s media (its statistics are reported).
    StopMedia { line: u32 },
    /// The call on `line` is over: stop its ring and media, free its sockets.
    EndLine { line: u32 },
    /// Mute `line`'s microphone and/or speaker (both given: the whole state).
    MuteMedia {
        line: u32,
        microphone: bool,
        speaker: bool,
    },
    /// Record `line` into `file` (a file name, for the recordings folder), or stop (`None`).
    Record { line: u32, file: Option<String> },
    /// Mix these lines together (the local conference; empty: no conference).
    Conference { lines: Vec<u32> },
    /// Stop the microphone level meter: a call needs the microphone.
    StopLevelMeter,
    /// Keep a finished call in the history (then report it).
    StoreCdr(crate::model::Cdr),
    /// Keep a chat message in the conversation with `peer` (one that came in, or one of ours
    /// that was delivered), at `at_ms` wall-clock milliseconds.
    StoreChat {
        peer: String,
        outgoing: bool,
        text: String,
        at_ms: i64,
    },
}

/// The call behaviour taken from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonePrefs {
    pub autoaccept: bool,
    pub default_mute: DefaultMute,
    pub auto_hold: AutoMode,
    pub auto_mute: AutoMode,
    pub dtmf_mode: DtmfMode,
    /// `playring`: 0 never, 1 incoming calls, 2 also ringback on outgoing calls.
    pub ring_mode: i64,
    /// `earlymedia` 5 and 6: our audio goes out before the call is answered.
    pub early_send: bool,
    /// `voicerecording` 1: every call is recorded from its answer.
    pub record_calls: bool,
    pub recording_names: RecordingNames,
}

impl PhonePrefs {
    /// Reads them from `settings`.
    pub fn from_settings(settings: &Settings) -> PhonePrefs {
        PhonePrefs {
            autoaccept: settings.bool("autoaccept"),
            default_mute: DefaultMute::from_param(settings.int("defmute")),
            auto_hold: AutoMode::from_param(settings.int("autohold")),
            auto_mute: AutoMode::from_param(settings.int("automute")),
            dtmf_mode: DtmfMode::from_param(settings.int("dtmfmode")),
            ring_mode: settings.int("playring"),
            early_send: settings.int("earlymedia") >= 5,
            record_calls: settings.int("voicerecording") == 1,
            recording_names: RecordingNames {
                format: settings.int("voicerecfilename"),
                prefix: settings.text("voicerecfilenameprefix"),
            },
        }
    }
}

/// What the policy knows of a line.
#[derive(Debug, Clone)]
struct LineInfo {
    state: CallState,
    held_by_us: bool,
    mic_muted: bool,
    speaker_muted: bool,
    /// What the line negotiated last (DTMF routing needs telephone-event).
    negotiated: Option<Negotiated>,
    /// Its media was started (and not stopped).
    media: bool,
    ring: Option<RingKind>,
    /// When it was answered (Unix milliseconds).
    answered_at_ms: Option<i64>,
    /// The far end's user part and the Call-ID (recordings are named after them).
    peer: String,
    call_id: String,
}

/// A command about a line that cannot be carried out, with what it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub kind: NoticeKind,
    pub message: String,
}

fn refused(kind: NoticeKind, message: String) -> Refused {
    Refused { kind, message }
}

/// The line policy.
#[derive(Debug)]
pub struct Phone {
    prefs: PhonePrefs,
    /// The account's user name (caller or called in the records).
    user: String,
    lines: BTreeMap<u32, LineInfo>,
    current: Option<u32>,
    /// Incoming calls answered without ringing: they replace a call of ours (RFC 3891), or
    /// the server asked for them to be answered at once.
    replacing: std::collections::BTreeSet<u32>,
    cdr: CdrTracker,
    conference: conference::Conference,
    actions: VecDeque<Action>,
}

impl Phone {
    /// A phone with no calls.
    pub fn new(prefs: PhonePrefs, user: &str) -> Phone {
        Phone {
            prefs,
            user: user.to_string(),
            lines: BTreeMap::new(),
            current: None,
            replacing: Default::default(),
            cdr: CdrTracker::default(),
            conference: Default::default(),
            actions: VecDeque::new(),
        }
    }

    /// New preferences (a parameter changed); calls in progress keep going.
    pub fn set_prefs(&mut self, prefs: PhonePrefs) {
        self.prefs = prefs;
    }

    /// The account's user name changed.
    pub fn set_user(&mut self, user: &str) {
        if self.user != user {
            self.user = user.to_string();
            self.report(Event::Account {
                user: user.to_string(),
            });
        }
    }

    /// The line the user works on.
    pub fn current_line(&self) -> Option<u32> {
        self.current
    }

    /// Whether any line has media running (the microphone is taken).
    pub fn media_running(&self) -> bool {
        self.lines.values().any(|l| l.media)
    }

    /// The next thing for the driver to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn report(&mut self, ev: Event) {
        self.actions.push_back(Action::Report(ev));
    }

    fn set_current(&mut self, line: Option<u32>, cause: CurrentLineCause) {
        if self.current != line || cause == CurrentLineCause::Selected {
            self.current = line;
            self.report(Event::CurrentLine { line, cause });
        }
    }

    /// Takes one event of the SIP core at `now` (`wall_ms`: the same moment in Unix
    /// milliseconds).
    pub fn on_ua_event(&mut self, now: Instant, wall_ms: i64, ev: &UaEvent) {
        match ev {
            UaEvent::Call {
                line,
                state,
                direction,
                peer,
                call_id,
                ..
            } => {
                let first_answer = *state == CallState::Connected
                    && self
                        .lines
                        .get(line)
                        .is_none_or(|i| i.answered_at_ms.is_none());
                let answered = self.track_call(*line, *state, wall_ms);
                if let Some(info) = self.lines.get_mut(line) {
                    info.peer.clone_from(peer);
                    info.call_id.clone_from(call_id);
                }
                if let Some(e) = report::call_event(ev, answered) {
                    self.report(e);
                }
                self.after_call_change(*line, *state, *direction);
                if first_answer {
                    self.record_on_answer(*line, wall_ms);
                }
                // A call needs the microphone.
                self.actions.push_back(Action::StopLevelMeter);
                if let Some(cdr) = self.cdr.on_event(ev, &self.user, now, wall_ms) {
                    self.actions.push_back(Action::StoreCdr(cdr));
                }
            }
            UaEvent::Media { line, negotiated } => {
                if let Some(e) = report::translate(ev) {
                    self.report(e);
                }
                match negotiated {
                    Some(n) => self.media_negotiated(*line, n),
                    None => self.stop_media(*line),
                }
            }
            UaEvent::MessageReceived { from, text, .. }
            | UaEvent::MessageDelivery {
                to: from,
                text,
                delivered: true,
                ..
            } => {
                if let Some(e) = report::translate(ev) {
                    self.report(e);
                }
                // One conversation per peer, however its address was written.
                self.actions.push_back(Action::StoreChat {
                    peer: crate::model::user_of(from).to_string(),
                    outgoing: matches!(ev, UaEvent::MessageDelivery { .. }),
                    text: text.clone(),
                    at_ms: wall_ms,
                });
            }
            UaEvent::Replacing { line } => {
                self.replacing.insert(*line);
            }
            // The server's auto-answer: a call already ringing is answered now; one not yet
            // reported is answered when it is, without ringing.
            UaEvent::AutoAnswer { line } => match self.lines.get(line) {
                Some(info) if info.state == CallState::Incoming => {
                    self.actions.push_back(Action::Answer { line: *line });
                }
                Some(_) => {}
                None => {
                    self.replacing.insert(*line);
                }
            },
            UaEvent::Hold { line, local, .. } => {
                if let Some(info) = self.lines.get_mut(line) {
                    info.held_by_us = *local;
                }
                if let Some(e) = report::translate(ev) {
                    self.report(e);
                }
            }
            _ => {
                if let Some(e) = report::translate(ev) {
                    self.report(e);
                }
            }
        }
    }

    /// Follows a line's state; gives when the call was answered.
    fn track_call(&mut self, line: u32, state: CallState, wall_ms: i64) -> Option<i64> {
        if state == CallState::Terminated {
            let answered = self.lines.remove(&line).and_then(|l| l.answered_at_ms);
            self.actions.push_back(Action::EndLine { line });
            self.leave_conference(line);
            return answered;
        }
        let info = self.lines.entry(line).or_insert(LineInfo {
            state,
            held_by_us: false,
            mic_muted: false,
            speaker_muted: false,
            negotiated: None,
            media: false,
            ring: None,
            answered_at_ms: None,
            peer: String::new(),
            call_id: String::new(),
        });
        if state == CallState::Connected && info.answered_at_ms.is_none() {
            info.answered_at_ms = Some(wall_ms);
        }
        info.answered_at_ms
    }

    /// The policy's reactions to a line's new state.
    fn after_call_change(&mut self, line: u32, state: CallState, direction: CallDirection) {
        if state == CallState::Terminated {
            if self.current == Some(line) {
                let next = self.lines.keys().next().copied();
                self.set_current(next, CurrentLineCause::Freed);
            }
            return;
        }
        let Some(info) = self.lines.get_mut(&line) else {
            return;
        };
        let before = std::mem::replace(&mut info.state, state);
        if state == CallState::Connected && before != CallState::Connected {
            self.new_call_up(line, direction == CallDirection::Incoming);
            // Answered: early media that was receive-only gets its real direction.
            if let Some(info) = self.lines.get(&line)
                && info.media
                && let Some(n) = info.negotiated.clone()
            {
                self.actions.push_back(Action::UpdateMedia {
                    line,
                    negotiated: n,
                });
            }
        } else if self.current.is_none() {
            self.set_current(Some(line), CurrentLineCause::NewCall);
        }
        let answer_now =
            state == CallState::Incoming && (self.prefs.autoaccept || self.replacing.remove(&line));
        self.ring_for(line, state, direction, answer_now);
        if answer_now {
            self.actions.push_back(Action::Answer { line });
        }
    }

    /// Starts or stops the local ring of `line` as its state says (an incoming call answered
    /// at once does not ring).
    fn ring_for(
        &mut self,
        line: u32,
        state: CallState,
        direction: CallDirection,
        answer_now: bool,
    ) {
        let wants = match state {
            CallState::Incoming => self.prefs.ring_mode >= 1 && !answer_now,
            CallState::Ringing => self.prefs.ring_mode == 2 && direction == CallDirection::Outgoing,
            _ => false,
        };
        let Some(info) = self.lines.get_mut(&line) else {
            return;
        };
        if !wants {
            if info.ring.take().is_some() {
                self.actions.push_back(Action::StopRing { line });
            }
            return;
        }
        if info.ring.is_some() {
            return;
        }
        let kind = if state == CallState::Incoming {
            RingKind::Ringer
        } else {
            RingKind::Ringback
        };
        info.ring = Some(kind);
        self.actions.push_back(Action::Ring { line, kind });
    }

    /// A call just connected: it becomes the current line; the others are held and/or muted
    /// when `autohold`/`automute` say so for this direction.
    fn new_call_up(&mut self, line: u32, incoming: bool) {
        if self.joins_conference_on_answer(line) {
            self.set_current(Some(line), CurrentLineCause::NewCall);
            return;
        }
        let others: Vec<(u32, bool, bool)> = self
            .lines
            .iter()
            .filter(|(l, i)| **l != line && i.state == CallState::Connected)
            .map(|(l, i)| (*l, i.held_by_us, i.mic_muted || i.speaker_muted))
            .collect();
        for (other, held, muted) in others {
            if self.prefs.auto_hold.on_answer(incoming) && !held {
                self.actions.push_back(Action::Hold {
                    line: other,
                    on: true,
                });
            }
            if self.prefs.auto_mute.on_answer(incoming) && !muted {
                let _ = self.mute(other, true, MuteDirection::Default);
            }
        }
        self.set_current(Some(line), CurrentLineCause::NewCall);
    }

    fn media_negotiated(&mut self, line: u32, n: &Negotiated) {
        let early_send = self.prefs.early_send;
        let Some(info) = self.lines.get_mut(&line) else {
            return;
        };
        info.negotiated = Some(n.clone());
        if info.media {
            self.actions.push_back(Action::UpdateMedia {
                line,
                negotiated: n.clone(),
            });
            return;
        }
        // Before the answer our audio goes out only when `earlymedia` says so.
        let mut start_as = n.clone();
        if !info.state.is_up() && !early_send {
            start_as.direction = start_as.direction.without_sending();
        }
        info.media = true;
        // The media takes the call's speaker over from a ringback (and the ringer stops).
        info.ring = None;
        self.actions.push_back(Action::StartMedia {
            line,
            negotiated: start_as,
        });
    }

    fn stop_media(&mut self, line: u32) {
        if let Some(info) = self.lines.get_mut(&line) {
            info.negotiated = None;
            if std::mem::take(&mut info.media) {
                self.actions.push_back(Action::StopMedia { line });
            }
        }
    }

    /// The user picks a line: with `autohold`/`automute` 4 the line left is held/muted and the
    /// line picked is resumed/unmuted.
    pub fn set_line(&mut self, line: u32) -> Result<(), Refused> {
        if !self.lines.contains_key(&line) {
            return Err(refused(NoticeKind::Call, format!("no call on line {line}")));
        }
        let previous = self.current;
        self.set_current(Some(line), CurrentLineCause::Selected);
        let Some(prev) = previous.filter(|p| *p != line && !self.both_in_conference(*p, line))
        else {
            return Ok(());
        };
        if self.prefs.auto_hold == AutoMode::OnLineSwitch {
            if self
                .lines
                .get(&prev)
                .is_some_and(|i| i.state == CallState::Connected && !i.held_by_us)
            {
                self.actions.push_back(Action::Hold {
                    line: prev,
                    on: true,
                });
            }
            if self.lines.get(&line).is_some_and(|i| i.held_by_us) {
                self.actions.push_back(Action::Hold { line, on: false });
            }
        }
        if self.prefs.auto_mute == AutoMode::OnLineSwitch {
            if self
                .lines
                .get(&prev)
                .is_some_and(|i| !(i.mic_muted || i.speaker_muted))
            {
                let _ = self.mute(prev, true, MuteDirection::Default);
            }
            if self
                .lines
                .get(&line)
                .is_some_and(|i| i.mic_muted || i.speaker_muted)
            {
                let _ = self.mute(line, false, MuteDirection::Default);
            }
        }
        Ok(())
    }

    /// Mutes or unmutes one direction of `line`; the other direction keeps its state.
    pub fn mute(&mut self, line: u32, on: bool, direction: MuteDirection) -> Result<(), Refused> {
        let direction = match direction {
            MuteDirection::Default => self.prefs.default_mute.direction(),
            d => d,
        };
        let Some(info) = self.lines.get_mut(&line).filter(|i| i.media) else {
            return Err(refused(
                NoticeKind::Call,
                format!("mute: no call with media on line {line}"),
            ));
        };
        if matches!(direction, MuteDirection::Both | MuteDirection::Microphone) {
            info.mic_muted = on;
        }
        if matches!(direction, MuteDirection::Both | MuteDirection::Speaker) {
            info.speaker_muted = on;
        }
        let (microphone, speaker) = (info.mic_muted, info.speaker_muted);
        self.actions.push_back(Action::MuteMedia {
            line,
            microphone,
            speaker,
        });
        self.report(Event::Mute {
            line,
            microphone,
            speaker,
        });
        Ok(())
    }

    /// How digits go out on `line`: (by RFC 4733 events, by SIP INFO), as `dtmfmode` and
    /// what the peer accepted allow.
    pub fn dtmf_routes(&self, line: u32) -> Result<(bool, bool), Refused> {
        let Some(info) = self.lines.get(&line) else {
            return Err(refused(NoticeKind::Call, format!("no call on line {line}")));
        };
        let takes_events = info
            .negotiated
            .as_ref()
            .is_some_and(|n| n.dtmf_pt.is_some());
        match self.prefs.dtmf_mode.routes(takes_events) {
            (false, false) => Err(refused(
                NoticeKind::Call,
                format!(
                    "DTMF on line {line}: the peer did not accept telephone-event and dtmfmode=4 forbids INFO"
                ),
            )),
            routes => Ok(routes),
        }
    }
}
