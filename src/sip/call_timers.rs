//! The named timers of one call, in one table. Each timer says what it is for; the call's next
//! deadline is the earliest entry, and the UA takes the due ones by name. A timer that carries
//! data (our 2xx and reliable 1xx retransmissions, the transfer's steps) keeps that data where
//! it belongs and only its instant here.

use std::time::Instant;

/// What a call's timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallTimer {
    /// Send our re-INVITE again after a 491 glare (RFC 3261 §14.1).
    GlareRetry,
    /// `ringtimeout`: an unanswered call (either way) gives up.
    RingTimeout,
    /// The server asked for this incoming call to be answered by itself (`answer-after=N`).
    AutoAnswer,
    /// Forward an incoming call nobody answered (`forwardonnoanswer`).
    ForwardNoAnswer,
    /// `calltimeout`: a connected call is hung up.
    CallLimit,
    /// Send our reliable provisional response again until it is PRACKed (RFC 3262 §3).
    ProvisionalResend,
    /// We are the refresher: refresh the session (RFC 4028 §10).
    SessionRefresh,
    /// The far end refreshes and has not: the session is over (RFC 4028 §10).
    SessionExpiry,
}

/// The running timers of a call; at most one of each name.
#[derive(Debug, Clone, Default)]
pub struct TimerTable {
    entries: Vec<(CallTimer, Instant)>,
}

impl TimerTable {
    /// Starts (or moves) timer `name` to fire at `at`.
    pub fn set(&mut self, name: CallTimer, at: Instant) {
        self.clear(name);
        self.entries.push((name, at));
    }

    /// As [`TimerTable::set`] when `at` is given, else clears the timer.
    pub fn set_opt(&mut self, name: CallTimer, at: Option<Instant>) {
        match at {
            Some(at) => self.set(name, at),
            None => self.clear(name),
        }
    }

    /// Stops timer `name`.
    pub fn clear(&mut self, name: CallTimer) {
        self.entries.retain(|(n, _)| *n != name);
    }

    /// When timer `name` fires, if it runs.
    pub fn get(&self, name: CallTimer) -> Option<Instant> {
        self.entries
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, at)| *at)
    }

    /// Whether timer `name` runs.
    pub fn is_set(&self, name: CallTimer) -> bool {
        self.get(name).is_some()
    }

    /// Whether timer `name` is due at `now` (it keeps running).
    pub fn is_due(&self, name: CallTimer, now: Instant) -> bool {
        self.get(name).is_some_and(|at| at <= now)
    }

    /// Stops timer `name` and says whether it was due at `now`; one not yet due keeps running.
    pub fn take_due(&mut self, name: CallTimer, now: Instant) -> bool {
        let due = self.is_due(name, now);
        if due {
            self.clear(name);
        }
        due
    }

    /// The earliest running timer.
    pub fn next(&self) -> Option<Instant> {
        self.entries.iter().map(|(_, at)| *at).min()
    }
}
