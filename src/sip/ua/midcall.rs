//! The UA's mid-call features besides changing the session (`modify.rs`): DTMF by SIP INFO, and
//! the call timers (2xx retransmission, ringtimeout, calltimeout, glare retry, auto-answer,
//! forward on no answer; reliable 1xx and session timers run from here too). Call set-up is in
//! `dial.rs`, responses and tear-down in `calls.rs`.

use super::calls::CallError;
use super::fields::media_type;
use super::owners::{SessionTx, Usage};
use super::{UaEvent, UserAgent};
use crate::media::dtmf::event_code;
use crate::sip::builder::response_to;
use crate::sip::call::{Call, CallState};
use crate::sip::call_timers::CallTimer;
use crate::sip::message::{Method, SipMessage};
use crate::sip::session_state::Modify;
use std::time::Instant;

impl UserAgent {
    /// Sends DTMF digits as SIP INFO (`application/dtmf-relay`), one transaction at a time so
    /// that they arrive in order.
    pub fn send_dtmf_info(
        &mut self,
        now: Instant,
        line: u32,
        digits: &str,
    ) -> Result<(), CallError> {
        let idx = self.line_index(line)?;
        if !matches!(
            self.calls[idx].state(),
            CallState::Connected | CallState::Connecting
        ) {
            return Err(CallError::NotConnected(line));
        }
        self.calls[idx]
            .info_queue
            .extend(digits.chars().filter(|c| event_code(*c).is_some()));
        let id = self.calls[idx].id;
        if !self.owners.has(Usage::Session(id, SessionTx::Info)) {
            self.next_info(now, idx);
        }
        self.pump(now);
        Ok(())
    }

    pub(super) fn next_info(&mut self, now: Instant, idx: usize) {
        let Some(digit) = self.calls[idx].info_queue.pop_front() else {
            return;
        };
        let mut info = self.calls[idx].dialog.request(Method::Info);
        info.headers.push("Content-Type", "application/dtmf-relay");
        info.body = format!("Signal={digit}\r\nDuration=100\r\n").into_bytes();
        self.send_session_request(now, idx, info, SessionTx::Info);
    }

    /// INFO in a dialog: DTMF as `application/dtmf-relay` (`Signal=5`) or `application/dtmf`.
    pub(super) fn incoming_info(&mut self, idx: usize, req: &SipMessage) -> SipMessage {
        let ctype = media_type(req);
        let body = String::from_utf8_lossy(&req.body);
        let digit = match ctype.as_str() {
            "application/dtmf-relay" => body
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("Signal=")
                        .or_else(|| l.trim().strip_prefix("signal="))
                })
                .and_then(|v| v.trim().chars().next()),
            "application/dtmf" => body.trim().chars().next(),
            // An empty INFO keeps the dialog alive (RFC 6086 §4.2.2 legacy use): accept it.
            "" if req.body.is_empty() => return response_to(req, 200, None, None),
            _ => {
                let mut r = response_to(req, 415, None, None);
                r.headers
                    .push("Accept", "application/dtmf-relay, application/dtmf");
                return r;
            }
        };
        match digit.filter(|d| event_code(*d).is_some()) {
            Some(d) => {
                let line = self.calls[idx].line;
                self.events.push_back(UaEvent::Dtmf { line, digit: d });
                response_to(req, 200, None, None)
            }
            None => response_to(req, 400, Some("Bad Request (no DTMF signal)"), None),
        }
    }

    /// Retransmits our 2xx until the ACK; gives up with a BYE after 64*T1 (§13.3.1.4).
    pub(super) fn call_timers(&mut self, now: Instant) {
        self.call_deadlines(now);
        self.reliable_resends(now);
        self.session_timer_deadlines(now);
        // By line number: a call may end (and leave the list) while its timer is handled.
        let lines: Vec<u32> = self.calls.iter().map(|c| c.line).collect();
        for line in lines {
            let Ok(i) = self.line_index(line) else {
                continue;
            };
            if self.calls[i].poll_timeout().is_some_and(|t| t <= now)
                && self.calls[i].transfer.is_some()
            {
                self.transfer_step(now, i);
            }
            let Ok(i) = self.line_index(line) else {
                continue;
            };
            // Taken when due whatever the state: a retry that no longer applies is dropped.
            if self.calls[i].timers.take_due(CallTimer::GlareRetry, now)
                && let Some(Modify::GlareWait { refresh }) = self.calls[i].phase.modify()
            {
                let refresh = *refresh;
                if self.calls[i].hold_wanted.is_some() || refresh {
                    self.send_reinvite(now, i, refresh);
                } else if let Some(m) = self.calls[i].phase.modify_mut() {
                    *m = Modify::Idle;
                }
            }
            let Some(ok) = self.calls[i].ok_retransmit.clone() else {
                continue;
            };
            if ok.give_up <= now {
                self.calls[i].ok_retransmit = None;
                self.calls[i].end_reason = "no ACK for our answer".into();
                self.send_bye(now, i);
            } else if ok.next <= now {
                if let Some(dest) = ok.dest {
                    self.layer.send_stateless(dest, &ok.response);
                }
                let interval = (ok.interval * 2).min(self.cfg.timers.t2);
                if let Some(o) = self.calls[i].ok_retransmit.as_mut() {
                    o.next = now + interval;
                    o.interval = interval;
                }
            }
        }
    }

    /// The earliest call timer.
    pub(super) fn calls_timeout(&self) -> Option<Instant> {
        self.calls.iter().filter_map(Call::poll_timeout).min()
    }

    /// `ringtimeout` ends calls nobody answered, `calltimeout` ends calls that last too long.
    pub(super) fn call_deadlines(&mut self, now: Instant) {
        for c in &mut self.calls {
            if c.timers.take_due(CallTimer::AutoAnswer, now) && c.state() == CallState::Incoming {
                self.events.push_back(UaEvent::AutoAnswer { line: c.line });
            }
        }
        let mut unanswered: Vec<u32> = Vec::new();
        for c in &mut self.calls {
            if c.timers.take_due(CallTimer::ForwardNoAnswer, now)
                && c.state() == CallState::Incoming
            {
                unanswered.push(c.line);
            }
        }
        if let Some((target, _)) = self.cfg.incoming.forward_no_answer.clone() {
            for line in unanswered {
                if let Err(e) = self.forward(now, line, &target) {
                    self.events.push_back(UaEvent::CommandFailed {
                        error: format!("forward on no answer: {e}"),
                    });
                }
            }
        }
        let ringing = |s: CallState| {
            matches!(
                s,
                CallState::Calling
                    | CallState::Proceeding
                    | CallState::Ringing
                    | CallState::Incoming
            )
        };
        let due: Vec<(u32, bool)> = self
            .calls
            .iter()
            .filter_map(|c| {
                if c.timers.is_due(CallTimer::RingTimeout, now) && ringing(c.state()) {
                    Some((c.line, true))
                } else if c.timers.is_due(CallTimer::CallLimit, now)
                    && c.state() == CallState::Connected
                {
                    Some((c.line, false))
                } else {
                    None
                }
            })
            .collect();
        for (line, unanswered) in due {
            let Ok(idx) = self.line_index(line) else {
                continue;
            };
            self.calls[idx].timers.clear(CallTimer::RingTimeout);
            self.calls[idx].timers.clear(CallTimer::CallLimit);
            if unanswered && self.calls[idx].state() == CallState::Incoming {
                self.reject_with(now, idx, 480, "not answered (ringtimeout)");
                continue;
            }
            let reason = if unanswered {
                "no answer (ringtimeout)"
            } else {
                "call time limit (calltimeout)"
            };
            let _ = self.hangup_because(now, line, reason);
        }
    }

    pub(super) fn deadline(&self, now: Instant, after: std::time::Duration) -> Option<Instant> {
        (!after.is_zero()).then(|| now + after)
    }
}
