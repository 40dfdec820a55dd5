//! What the window knows, built only from engine events (and the settings and history it
//! started with). Drawing reads it; nothing here draws or talks to the engine, so every rule
//! is unit-tested without a window.

use crate::engine::{Cdr, Event};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// How the account stands with the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// Nothing tried yet (or no account configured).
    Idle,
    Connecting,
    Registered,
    /// The last attempt failed, with the server's or the network's reason.
    Failed(String),
    /// Unregistered on request.
    Disconnected,
}

/// Where a call on a line stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineState {
    /// Outgoing, not answered yet.
    Calling,
    /// Outgoing, the far end rings.
    Ringing,
    /// Incoming, ringing here.
    Incoming,
    /// Answered.
    InCall,
    /// Hanging up.
    Ending,
}

/// One line with a call on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub state: LineState,
    pub peer: String,
    pub peer_display: String,
    pub outgoing: bool,
    /// When the call was answered (for the call timer).
    pub connected_at: Option<Instant>,
    /// We hold the far end / it holds us.
    pub hold_local: bool,
    pub hold_remote: bool,
    pub muted: bool,
}

impl Line {
    /// The peer as people read it: the display name with the number, or the number.
    pub fn who(&self) -> String {
        if self.peer_display.is_empty() {
            self.peer.clone()
        } else {
            format!("{} ({})", self.peer_display, self.peer)
        }
    }

    /// How long the call has been up at `now` (zero before the answer).
    pub fn talk_time(&self, now: Instant) -> Duration {
        self.connected_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }
}

/// `m:ss`, or `h:mm:ss` from an hour on.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Log lines kept for the log window.
pub const LOG_LINES: usize = 2000;

/// The window's picture of the engine.
#[derive(Debug, Clone)]
pub struct AppState {
    pub account: Account,
    pub lines: BTreeMap<u32, Line>,
    /// The line the user works on.
    pub current_line: Option<u32>,
    /// Newest first.
    pub history: Vec<Cdr>,
    /// Notification lines, oldest first.
    pub log: VecDeque<String>,
    /// Effective parameter values (names from the registry).
    pub params: BTreeMap<String, String>,
    /// The engine has stopped.
    pub stopped: bool,
    /// The microphone level meter's last reading (0-100), while it runs.
    pub input_level: Option<u8>,
}

impl AppState {
    /// The state at start: the effective settings and the stored history.
    pub fn new(params: BTreeMap<String, String>, history: Vec<Cdr>) -> AppState {
        AppState {
            account: Account::Idle,
            lines: BTreeMap::new(),
            current_line: None,
            history,
            log: VecDeque::new(),
            params,
            stopped: false,
            input_level: None,
        }
    }

    /// A parameter's effective value.
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// A boolean parameter (true/1/yes/on).
    pub fn flag(&self, name: &str) -> bool {
        crate::config::params::parse_bool(self.param(name)).unwrap_or(false)
    }

    /// The ringing incoming call the popup is about: the lowest such line.
    pub fn incoming(&self) -> Option<(u32, &Line)> {
        self.lines
            .iter()
            .find(|(_, l)| l.state == LineState::Incoming)
            .map(|(n, l)| (*n, l))
    }

    /// The line call controls act on: the current one if it has a call, else the only or
    /// lowest line with a call.
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

    /// Adds a line to the log, dropping the oldest beyond [`LOG_LINES`].
    pub fn push_log(&mut self, line: String) {
        self.log.push_back(line);
        while self.log.len() > LOG_LINES {
            self.log.pop_front();
        }
    }

    /// Takes one engine event at `now`.
    pub fn apply(&mut self, ev: &Event, now: Instant) {
        // Ten meter readings a second would drown the log.
        if let Some(line) = ev
            .to_notification()
            .filter(|_| !matches!(ev, Event::InputLevel(_)))
        {
            self.push_log(line);
        }
        match ev {
            Event::Status { line: -1, text, .. } => match text.as_str() {
                "Registering..." => self.account = Account::Connecting,
                "Registered" => self.account = Account::Registered,
                // The reason follows in an `ERROR,Register failed: ...` line.
                "Register Failed" => self.account = Account::Failed(String::new()),
                _ => {}
            },
            Event::Status {
                line,
                text,
                peer,
                endpoint_type,
                peer_display,
                ..
            } => {
                let Ok(n) = u32::try_from(*line) else {
                    return;
                };
                let state = match text.as_str() {
                    "Setup" | "InProgress" => LineState::Calling,
                    "Ringing" if *endpoint_type == 2 => LineState::Incoming,
                    "Ringing" => LineState::Ringing,
                    "CallConnect" | "InCall" => LineState::InCall,
                    "Finishing" => LineState::Ending,
                    "Finished" => {
                        self.lines.remove(&n);
                        if self.current_line == Some(n) {
                            self.current_line = self.lines.keys().next().copied();
                        }
                        return;
                    }
                    _ => return,
                };
                let entry = self.lines.entry(n).or_insert_with(|| Line {
                    state,
                    peer: peer.clone(),
                    peer_display: peer_display.clone(),
                    outgoing: *endpoint_type != 2,
                    connected_at: None,
                    hold_local: false,
                    hold_remote: false,
                    muted: false,
                });
                entry.state = state;
                if state == LineState::InCall && entry.connected_at.is_none() {
                    entry.connected_at = Some(now);
                }
                if self
                    .current_line
                    .is_none_or(|c| !self.lines.contains_key(&c))
                {
                    self.current_line = Some(n);
                }
            }
            Event::Hold {
                line,
                local,
                remote,
            } => {
                if let Some(l) = self.lines.get_mut(line) {
                    (l.hold_local, l.hold_remote) = (*local, *remote);
                }
            }
            Event::Mute {
                line,
                microphone,
                speaker,
            } => {
                if let Some(l) = self.lines.get_mut(line) {
                    l.muted = *microphone || *speaker;
                }
            }
            Event::Info(text) if text == "Unregistered" => self.account = Account::Disconnected,
            Event::Info(text) => {
                if let Some(n) = text
                    .strip_prefix("Line ")
                    .and_then(|r| r.strip_suffix(" selected"))
                    .and_then(|n| n.parse().ok())
                {
                    self.current_line = Some(n);
                }
            }
            Event::Error(text) => {
                if let Some(reason) = text.strip_prefix("Register failed: ") {
                    self.account = Account::Failed(reason.to_string());
                }
            }
            Event::Cdr(c) => self.history.insert(0, c.clone()),
            Event::Parameter { name, value, .. } => {
                self.params.insert(name.clone(), value.clone());
            }
            Event::Stopped => self.stopped = true,
            Event::InputLevel(n) => self.input_level = Some(*n),
            Event::Start | Event::Warning(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(line: i32, text: &str, peer: &str, endpoint_type: u8) -> Event {
        Event::Status {
            line,
            text: text.into(),
            peer: peer.into(),
            local: "1001".into(),
            endpoint_type,
            peer_display: String::new(),
            call_id: "c".into(),
        }
    }

    #[test]
    fn registration_and_its_failure_reason() {
        let mut s = AppState::new(BTreeMap::new(), Vec::new());
        let now = Instant::now();
        s.apply(&Event::global_status("Registering...", "1001"), now);
        assert_eq!(s.account, Account::Connecting);
        // The engine's order: the status, then the reason.
        s.apply(&Event::global_status("Register Failed", "1001"), now);
        s.apply(
            &Event::Error("Register failed: 403 Forbidden; retrying in 5.0 s".into()),
            now,
        );
        assert_eq!(
            s.account,
            Account::Failed("403 Forbidden; retrying in 5.0 s".into())
        );
        s.apply(&Event::global_status("Registered", "1001"), now);
        assert_eq!(s.account, Account::Registered);
        s.apply(&Event::Info("Unregistered".into()), now);
        assert_eq!(s.account, Account::Disconnected);
        assert_eq!(s.log.len(), 5);
    }

    #[test]
    fn lines_follow_their_calls() {
        let mut s = AppState::new(BTreeMap::new(), Vec::new());
        let t0 = Instant::now();
        s.apply(&status(1, "Setup", "1002", 1), t0);
        assert_eq!(s.lines[&1].state, LineState::Calling);
        assert_eq!(s.current_line, Some(1));
        s.apply(&status(1, "Ringing", "1002", 1), t0);
        assert_eq!(s.lines[&1].state, LineState::Ringing);
        s.apply(&status(1, "InCall", "1002", 1), t0);
        assert_eq!(
            s.lines[&1].talk_time(t0 + Duration::from_secs(75)),
            Duration::from_secs(75)
        );
        assert_eq!(clock(Duration::from_secs(75)), "1:15");
        assert_eq!(clock(Duration::from_secs(3_725)), "1:02:05");
        s.apply(&status(2, "Ringing", "1003", 2), t0);
        assert_eq!(s.incoming().map(|(n, _)| n), Some(2));
        assert_eq!(
            s.current_line,
            Some(1),
            "a new call does not steal the line"
        );
        s.apply(
            &Event::Hold {
                line: 1,
                local: true,
                remote: false,
            },
            t0,
        );
        assert!(s.lines[&1].hold_local);
        s.apply(
            &Event::Mute {
                line: 1,
                microphone: true,
                speaker: false,
            },
            t0,
        );
        assert!(s.lines[&1].muted);
        s.apply(&Event::Info("Line 2 selected".into()), t0);
        assert_eq!(s.current_line, Some(2));
        s.apply(&status(2, "Finished", "1003", 2), t0);
        assert_eq!(s.current_line, Some(1));
        assert!(s.incoming().is_none());
        s.apply(&status(1, "Finished", "1002", 1), t0);
        assert!(s.lines.is_empty());
        assert_eq!(s.active_line(), None);
    }
}
