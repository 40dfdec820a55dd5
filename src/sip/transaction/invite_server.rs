//! The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, with RFC 6026's Accepted state):
//! 100 Trying at once, timers G, H, I, L.

use super::TxOutput;
use super::timers::TimerConfig;
use crate::sip::builder::response_to;
use crate::sip::message::SipMessage;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// States of Figure 7 plus Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IstState {
    Proceeding,
    Accepted,
    Completed,
    Confirmed,
    Terminated,
}

/// Answers an INVITE: repeats responses to retransmissions, retransmits a non-2xx final over
/// UDP until the ACK arrives.
#[derive(Debug)]
pub struct InviteServerTransaction {
    state: IstState,
    last_response: Vec<u8>,
    reliable: bool,
    timers: TimerConfig,
    g_interval: Duration,
    timer_g: Option<Instant>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
    out: VecDeque<TxOutput>,
}

impl InviteServerTransaction {
    /// A new transaction: sends 100 Trying at once, so that the client stops retransmitting.
    pub fn new(request: &SipMessage, reliable: bool, timers: TimerConfig) -> Self {
        let trying = response_to(request, 100, None, None).to_bytes();
        let mut out = VecDeque::new();
        out.push_back(TxOutput::Transmit(trying.clone()));
        InviteServerTransaction {
            state: IstState::Proceeding,
            last_response: trying,
            reliable,
            timers,
            g_interval: timers.t1,
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
            out,
        }
    }

    /// The current state.
    pub fn state(&self) -> IstState {
        self.state
    }

    /// A retransmitted INVITE.
    pub fn on_invite(&mut self) {
        if matches!(self.state, IstState::Proceeding | IstState::Completed) {
            self.out
                .push_back(TxOutput::Transmit(self.last_response.clone()));
        }
    }

    /// An ACK with this transaction's branch (the ACK for a non-2xx final).
    pub fn on_ack(&mut self, now: Instant) {
        if self.state == IstState::Completed {
            self.state = IstState::Confirmed;
            self.timer_g = None;
            self.timer_h = None;
            let i = if self.reliable {
                Duration::ZERO
            } else {
                self.timers.t4
            };
            self.timer_i = Some(now + i);
        }
    }

    /// The TU answers.
    pub fn send_response(&mut self, now: Instant, response: &SipMessage) {
        let code = response.status().unwrap_or(0);
        let bytes = response.to_bytes();
        match (self.state, code) {
            (IstState::Proceeding, 100..=199) => {}
            (IstState::Proceeding, 200..=299) => {
                self.state = IstState::Accepted;
                self.timer_l = Some(now + self.timers.t1x64());
            }
            (IstState::Accepted, 200..=299) => {}
            (IstState::Proceeding, _) => {
                self.state = IstState::Completed;
                self.timer_g = (!self.reliable).then(|| now + self.timers.t1);
                self.timer_h = Some(now + self.timers.t1x64());
            }
            _ => return,
        }
        self.out.push_back(TxOutput::Transmit(bytes.clone()));
        self.last_response = bytes;
    }

    /// Fires the timers that are due.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.timer_h.is_some_and(|t| t <= now) {
            // No ACK ever came.
            self.out.push_back(TxOutput::Timeout);
            self.terminate();
            return;
        }
        if let Some(t) = self.timer_g
            && t <= now
        {
            self.out
                .push_back(TxOutput::Transmit(self.last_response.clone()));
            self.g_interval = (self.g_interval * 2).min(self.timers.t2);
            self.timer_g = Some(now + self.g_interval);
        }
        if self.timer_i.is_some_and(|t| t <= now) || self.timer_l.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }

    /// A response could not be sent.
    pub fn on_transport_error(&mut self) {
        self.out.push_back(TxOutput::TransportError);
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = IstState::Terminated;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
        self.out.push_back(TxOutput::Terminated);
    }

    /// The next instant a timer fires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timer_g, self.timer_h, self.timer_i, self.timer_l]
            .into_iter()
            .flatten()
            .min()
    }

    /// Takes the next output.
    pub fn poll_output(&mut self) -> Option<TxOutput> {
        self.out.pop_front()
    }
}
