//! Ending a call (the "close" of libre's sipsess): hang up by CANCEL before the answer (held
//! back until a provisional response, RFC 3261 §9.1), by BYE after it, by rejecting a call
//! that rings here; and the end of a call whatever ended it.

use super::UserAgent;
use super::calls::CallError;
use super::owners::SessionTx;
use crate::sip::call::CallState;
use crate::sip::headers::CSeq;
use crate::sip::message::{Method, SipMessage};
use crate::sip::session_state::{Progress, SessionState, Terminating};
use std::time::Instant;

impl UserAgent {
    /// Hangs up the call on `line`: cancels it, rejects it (486) or says BYE, as its phase asks.
    pub fn hangup(&mut self, now: Instant, line: u32) -> Result<(), CallError> {
        let idx = self.line_index(line)?;
        self.calls[idx].ended_by_us = true;
        match self.calls[idx].state() {
            CallState::Incoming => self.reject_with(now, idx, 486, "rejected"),
            CallState::Calling | CallState::Proceeding | CallState::Ringing => {
                if self.calls[idx].end_reason.is_empty() {
                    self.calls[idx].end_reason = "cancelled".into();
                }
                let phase = std::mem::replace(&mut self.calls[idx].phase, SessionState::Terminated);
                let SessionState::Calling(outgoing) = phase else {
                    self.calls[idx].phase = phase;
                    return Ok(());
                };
                // RFC 3261 §9.1: no CANCEL before a provisional response; sent when one comes.
                let cancel_now = outgoing.progress != Progress::Sent;
                self.enter(
                    idx,
                    SessionState::Terminating(Terminating::Cancelling {
                        outgoing,
                        cancel_sent: cancel_now,
                    }),
                );
                if cancel_now {
                    self.send_cancel(now, idx);
                }
            }
            CallState::Connecting | CallState::Connected => {
                if self.calls[idx].end_reason.is_empty() {
                    self.calls[idx].end_reason = "hung up".into();
                }
                self.send_bye(now, idx);
            }
            CallState::Terminating | CallState::Terminated => {}
        }
        self.pump(now);
        Ok(())
    }

    /// Hangs up `line` saying why (timeouts, media loss); the reason ends up in the event.
    pub fn hangup_because(
        &mut self,
        now: Instant,
        line: u32,
        reason: &str,
    ) -> Result<(), CallError> {
        if let Some(c) = self.calls.iter_mut().find(|c| c.line == line) {
            c.end_reason = reason.to_string();
        }
        self.hangup(now, line)
    }

    /// Hangs up every call (at exit).
    pub fn hangup_all(&mut self, now: Instant) {
        let lines: Vec<u32> = self.calls.iter().map(|c| c.line).collect();
        for l in lines {
            let _ = self.hangup(now, l);
        }
    }

    /// The CANCEL for our INVITE (§9.1: same Request-URI, top Via, Route, From, To, Call-ID,
    /// the CSeq number with method CANCEL).
    pub(super) fn send_cancel(&mut self, now: Instant, idx: usize) {
        let Some(invite) = self.calls[idx]
            .phase
            .outgoing()
            .and_then(|o| o.invite.clone())
        else {
            return;
        };
        let mut cancel =
            SipMessage::request(Method::Cancel, invite.request_uri().unwrap_or_default());
        for name in ["Via", "Route"] {
            for v in invite
                .headers
                .get_all(name)
                .take(if name == "Via" { 1 } else { usize::MAX })
            {
                cancel.headers.push(name, v);
            }
        }
        cancel.headers.push("Max-Forwards", "70");
        for name in ["From", "To", "Call-ID"] {
            if let Some(v) = invite.headers.get(name) {
                cancel.headers.push(name, v);
            }
        }
        let seq = CSeq::of(&invite).map(|c| c.seq).unwrap_or(1);
        cancel.headers.push("CSeq", format!("{seq} CANCEL"));
        if let Some(dest) = self.call_hop(idx) {
            let _ = self.layer.send_request(now, cancel, dest);
        }
    }

    /// Says BYE; the call ends when it is answered (or cannot be sent).
    pub(super) fn send_bye(&mut self, now: Instant, idx: usize) {
        let bye = self.calls[idx].dialog.request(Method::Bye);
        self.calls[idx].ok_retransmit = None;
        let next = self.calls[idx].phase.bye_sent();
        let sent = self.send_session_request(now, idx, bye, SessionTx::Bye);
        self.enter(idx, next);
        if !sent {
            self.end(idx, "could not send BYE");
        }
    }

    /// The call is over, for `reason` unless an earlier one was given.
    pub(super) fn end(&mut self, idx: usize, reason: &str) {
        if self.calls[idx].end_reason.is_empty() {
            self.calls[idx].end_reason = reason.to_string();
        }
        self.enter(idx, SessionState::Terminated);
    }
}
