//! The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8): timer J.

use super::TxOutput;
use super::timers::TimerConfig;
use crate::sip::message::SipMessage;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// States of Figure 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NistState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Absorbs request retransmissions and repeats the last response to them.
#[derive(Debug)]
pub struct NonInviteServerTransaction {
    state: NistState,
    last_response: Option<Vec<u8>>,
    reliable: bool,
    timers: TimerConfig,
    timer_j: Option<Instant>,
    out: VecDeque<TxOutput>,
}

impl NonInviteServerTransaction {
    /// A new transaction for a request that has just arrived.
    pub fn new(reliable: bool, timers: TimerConfig) -> Self {
        NonInviteServerTransaction {
            state: NistState::Trying,
            last_response: None,
            reliable,
            timers,
            timer_j: None,
            out: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> NistState {
        self.state
    }

    /// A retransmission of the request.
    pub fn on_request(&mut self) {
        if matches!(self.state, NistState::Proceeding | NistState::Completed)
            && let Some(r) = &self.last_response
        {
            self.out.push_back(TxOutput::Transmit(r.clone()));
        }
    }

    /// The TU answers.
    pub fn send_response(&mut self, now: Instant, response: &SipMessage) {
        let code = response.status().unwrap_or(0);
        if matches!(self.state, NistState::Completed | NistState::Terminated) {
            return;
        }
        let bytes = response.to_bytes();
        self.out.push_back(TxOutput::Transmit(bytes.clone()));
        self.last_response = Some(bytes);
        if code < 200 {
            self.state = NistState::Proceeding;
        } else {
            self.state = NistState::Completed;
            let j = if self.reliable {
                Duration::ZERO
            } else {
                self.timers.t1x64()
            };
            self.timer_j = Some(now + j);
        }
    }

    /// Fires timer J.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.timer_j.is_some_and(|t| t <= now) {
            self.timer_j = None;
            self.state = NistState::Terminated;
            self.out.push_back(TxOutput::Terminated);
        }
    }

    /// The response could not be sent.
    pub fn on_transport_error(&mut self) {
        self.timer_j = None;
        self.state = NistState::Terminated;
        self.out.push_back(TxOutput::TransportError);
        self.out.push_back(TxOutput::Terminated);
    }

    /// The next instant a timer fires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    /// Takes the next output.
    pub fn poll_output(&mut self) -> Option<TxOutput> {
        self.out.pop_front()
    }
}
