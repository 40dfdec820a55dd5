//! The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6): timers E, F, K.

use super::TxOutput;
use super::timers::TimerConfig;
use crate::sip::message::SipMessage;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// States of Figure 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NictState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Sends a non-INVITE request, retransmits it over UDP, and delivers the responses.
#[derive(Debug)]
pub struct NonInviteClientTransaction {
    state: NictState,
    request: Vec<u8>,
    reliable: bool,
    timers: TimerConfig,
    e_interval: Duration,
    timer_e: Option<Instant>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
    out: VecDeque<TxOutput>,
}

impl NonInviteClientTransaction {
    /// Starts the transaction: the request goes out at once.
    pub fn new(now: Instant, request: Vec<u8>, reliable: bool, timers: TimerConfig) -> Self {
        let mut out = VecDeque::new();
        out.push_back(TxOutput::Transmit(request.clone()));
        NonInviteClientTransaction {
            state: NictState::Trying,
            request,
            reliable,
            timers,
            e_interval: timers.t1,
            timer_e: (!reliable).then(|| now + timers.t1),
            timer_f: Some(now + timers.t1x64()),
            timer_k: None,
            out,
        }
    }

    /// The current state.
    pub fn state(&self) -> NictState {
        self.state
    }

    /// A response matched to this transaction.
    pub fn on_response(&mut self, now: Instant, response: SipMessage) {
        let code = response.status().unwrap_or(0);
        match self.state {
            NictState::Trying | NictState::Proceeding if code < 200 => {
                self.state = NictState::Proceeding;
                self.out.push_back(TxOutput::ToTu(response));
            }
            NictState::Trying | NictState::Proceeding => {
                self.state = NictState::Completed;
                self.timer_e = None;
                self.timer_f = None;
                let k = if self.reliable {
                    Duration::ZERO
                } else {
                    self.timers.t4
                };
                self.timer_k = Some(now + k);
                self.out.push_back(TxOutput::ToTu(response));
            }
            // Retransmitted finals are absorbed in Completed.
            NictState::Completed | NictState::Terminated => {}
        }
    }

    /// Fires the timers that are due.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.timer_f.is_some_and(|t| t <= now) {
            self.out.push_back(TxOutput::Timeout);
            self.terminate();
            return;
        }
        if let Some(t) = self.timer_e
            && t <= now
        {
            self.out.push_back(TxOutput::Transmit(self.request.clone()));
            self.e_interval = match self.state {
                NictState::Proceeding => self.timers.t2,
                _ => (self.e_interval * 2).min(self.timers.t2),
            };
            self.timer_e = Some(now + self.e_interval);
        }
        if self.timer_k.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }

    /// The transport reported that the request could not be sent.
    pub fn on_transport_error(&mut self) {
        if matches!(self.state, NictState::Trying | NictState::Proceeding) {
            self.out.push_back(TxOutput::TransportError);
        }
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = NictState::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
        self.out.push_back(TxOutput::Terminated);
    }

    /// The next instant a timer fires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timer_e, self.timer_f, self.timer_k]
            .into_iter()
            .flatten()
            .min()
    }

    /// Takes the next output.
    pub fn poll_output(&mut self) -> Option<TxOutput> {
        self.out.pop_front()
    }
}
