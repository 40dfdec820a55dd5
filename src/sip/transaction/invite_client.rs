//! The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with the Accepted state of
//! RFC 6026 so that 2xx retransmissions and forked 2xx reach the TU): timers A, B, D, M.

use super::TxOutput;
use super::timers::TimerConfig;
use crate::sip::builder::ack_for_non_2xx;
use crate::sip::message::SipMessage;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// States of Figure 5 plus RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IctState {
    Calling,
    Proceeding,
    Accepted,
    Completed,
    Terminated,
}

/// Sends an INVITE, retransmits it over UDP, ACKs non-2xx finals itself.
#[derive(Debug)]
pub struct InviteClientTransaction {
    state: IctState,
    request: SipMessage,
    request_bytes: Vec<u8>,
    ack: Option<Vec<u8>>,
    reliable: bool,
    timers: TimerConfig,
    a_interval: Duration,
    timer_a: Option<Instant>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    out: VecDeque<TxOutput>,
}

impl InviteClientTransaction {
    /// Starts the transaction: the INVITE goes out at once.
    pub fn new(now: Instant, request: SipMessage, reliable: bool, timers: TimerConfig) -> Self {
        let request_bytes = request.to_bytes();
        let mut out = VecDeque::new();
        out.push_back(TxOutput::Transmit(request_bytes.clone()));
        InviteClientTransaction {
            state: IctState::Calling,
            request,
            request_bytes,
            ack: None,
            reliable,
            timers,
            a_interval: timers.t1,
            timer_a: (!reliable).then(|| now + timers.t1),
            timer_b: Some(now + timers.t1x64()),
            timer_d: None,
            timer_m: None,
            out,
        }
    }

    /// The current state.
    pub fn state(&self) -> IctState {
        self.state
    }

    /// A response matched to this transaction.
    pub fn on_response(&mut self, now: Instant, response: SipMessage) {
        let code = response.status().unwrap_or(0);
        match (self.state, code) {
            (IctState::Calling | IctState::Proceeding, 100..=199) => {
                self.state = IctState::Proceeding;
                self.timer_a = None;
                // Timer B only runs in Calling (§17.1.1.2): a call may ring for as long as
                // the far end lets it; the TU's own ring timeout ends it (by CANCEL).
                self.timer_b = None;
                self.out.push_back(TxOutput::ToTu(response));
            }
            (IctState::Calling | IctState::Proceeding, 200..=299) => {
                self.state = IctState::Accepted;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_m = Some(now + self.timers.t1x64());
                self.out.push_back(TxOutput::ToTu(response));
            }
            (IctState::Accepted, 200..=299) => self.out.push_back(TxOutput::ToTu(response)),
            (IctState::Calling | IctState::Proceeding, _) => {
                self.state = IctState::Completed;
                self.timer_a = None;
                self.timer_b = None;
                let ack = ack_for_non_2xx(&self.request, &response).to_bytes();
                self.out.push_back(TxOutput::Transmit(ack.clone()));
                self.ack = Some(ack);
                let d = if self.reliable {
                    Duration::ZERO
                } else {
                    self.timers.t1x64()
                };
                self.timer_d = Some(now + d);
                self.out.push_back(TxOutput::ToTu(response));
            }
            (IctState::Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    self.out.push_back(TxOutput::Transmit(ack.clone()));
                }
            }
            _ => {}
        }
    }

    /// Fires the timers that are due.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.timer_b.is_some_and(|t| t <= now) {
            self.out.push_back(TxOutput::Timeout);
            self.terminate();
            return;
        }
        if let Some(t) = self.timer_a
            && t <= now
        {
            self.out
                .push_back(TxOutput::Transmit(self.request_bytes.clone()));
            self.a_interval *= 2;
            self.timer_a = Some(now + self.a_interval);
        }
        if self.timer_d.is_some_and(|t| t <= now) || self.timer_m.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }

    /// The transport reported that the INVITE could not be sent.
    pub fn on_transport_error(&mut self) {
        if matches!(self.state, IctState::Calling | IctState::Proceeding) {
            self.out.push_back(TxOutput::TransportError);
        }
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = IctState::Terminated;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
        self.out.push_back(TxOutput::Terminated);
    }

    /// The next instant a timer fires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timer_a, self.timer_b, self.timer_d, self.timer_m]
            .into_iter()
            .flatten()
            .min()
    }

    /// Takes the next output.
    pub fn poll_output(&mut self) -> Option<TxOutput> {
        self.out.pop_front()
    }
}
