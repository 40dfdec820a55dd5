//! What the window knows: the shared [`PhoneState`] (built by the model's one reducer from
//! engine events, the same state the control API and the tests read), plus the window's own
//! log of notification lines (formatted by the `api::notify` edge). Nothing here draws or
//! talks to the engine, and nothing reads display text: every rule is unit-tested without a
//! window.

use crate::api::notify::Notifier;
use crate::model::{CallState, Cdr, Event, LineStatus, PhoneState};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

pub use crate::model::Account;

/// How the window groups a line's call state for showing it.
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

impl LineState {
    /// The group of `line`'s state.
    pub fn of(line: &LineStatus) -> LineState {
        match line.state {
            CallState::Calling | CallState::Proceeding => LineState::Calling,
            CallState::Ringing => LineState::Ringing,
            CallState::Incoming => LineState::Incoming,
            CallState::Connecting | CallState::Connected => LineState::InCall,
            CallState::Terminating | CallState::Terminated => LineState::Ending,
        }
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

/// Now in Unix milliseconds, for call timers.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Log lines kept for the log window.
pub const LOG_LINES: usize = 2000;

/// The window's picture of the engine.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The state every face shares.
    pub phone: PhoneState,
    /// Notification lines, oldest first.
    pub log: VecDeque<String>,
    notifier: Notifier,
}

impl std::ops::Deref for AppState {
    type Target = PhoneState;
    fn deref(&self) -> &PhoneState {
        &self.phone
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut PhoneState {
        &mut self.phone
    }
}

impl AppState {
    /// The state at start: the effective settings and the stored history.
    pub fn new(params: BTreeMap<String, String>, history: Vec<Cdr>) -> AppState {
        AppState {
            phone: PhoneState::new(params, history),
            log: VecDeque::new(),
            notifier: Notifier::new(),
        }
    }

    /// A boolean parameter (true/1/yes/on).
    pub fn flag(&self, name: &str) -> bool {
        crate::config::params::parse_bool(self.param(name)).unwrap_or(false)
    }

    /// Adds a line to the log, dropping the oldest beyond [`LOG_LINES`].
    pub fn push_log(&mut self, line: String) {
        self.log.push_back(line);
        while self.log.len() > LOG_LINES {
            self.log.pop_front();
        }
    }

    /// Takes one engine event.
    pub fn apply(&mut self, ev: &Event) {
        // Ten meter readings a second would drown the log.
        if !matches!(ev, Event::InputLevel { .. }) {
            for line in self.notifier.lines(ev) {
                self.push_log(line);
            }
        }
        self.phone.apply(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallDirection, Registration};

    #[test]
    fn the_log_holds_the_notification_lines() {
        let mut s = AppState::new(BTreeMap::new(), Vec::new());
        s.apply(&Event::Started {
            user: "1001".into(),
        });
        s.apply(&Event::Registration(Registration::Registered {
            expires_s: 60,
        }));
        s.apply(&Event::InputLevel { level: 40 });
        assert_eq!(
            s.log.iter().map(String::as_str).collect::<Vec<_>>(),
            vec![
                "START,sip",
                "STATUS,-1,Ready,,1001,0,,",
                "STATUS,-1,Registered,,1001,0,,"
            ]
        );
        assert_eq!(s.account, Account::Registered);
        assert_eq!(s.input_level, Some(40));
        for i in 0..LOG_LINES + 5 {
            s.push_log(format!("line {i}"));
        }
        assert_eq!(s.log.len(), LOG_LINES);
    }

    #[test]
    fn lines_are_grouped_for_showing() {
        let mut s = AppState::new(BTreeMap::new(), Vec::new());
        let call = |state| Event::Call {
            line: 1,
            state,
            direction: CallDirection::Outgoing,
            peer: "1002".into(),
            peer_display: String::new(),
            peer_uri: String::new(),
            call_id: "c".into(),
            reason: String::new(),
            ended_by_us: false,
            answered_at_ms: (state == CallState::Connected).then_some(0),
        };
        for (state, shown) in [
            (CallState::Proceeding, LineState::Calling),
            (CallState::Ringing, LineState::Ringing),
            (CallState::Connected, LineState::InCall),
            (CallState::Terminating, LineState::Ending),
        ] {
            s.apply(&call(state));
            assert_eq!(LineState::of(&s.lines[&1]), shown);
        }
        assert_eq!(clock(Duration::from_secs(75)), "1:15");
        assert_eq!(clock(Duration::from_secs(3_725)), "1:02:05");
        assert_eq!(
            clock(Duration::from_millis(s.lines[&1].talk_ms(75_400))),
            "1:15"
        );
    }
}
