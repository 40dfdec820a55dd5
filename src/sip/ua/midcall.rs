//! The UA's mid-call features: hold and resume by re-INVITE (with glare handling), answering
//! re-INVITEs and UPDATEs, DTMF by SIP INFO, and the call timers (2xx retransmission,
//! ringtimeout, calltimeout, glare retry). Call set-up and tear-down are in `calls.rs`.

use super::calls::CallError;
use super::fields::{contact_uri, sdp_body};
use super::owners::{SessionTx, Usage};
use super::{UaEvent, UserAgent};
use crate::media::dtmf::event_code;
use crate::sdp::{self, Direction, SdpError};
use crate::sip::builder::response_to;
use crate::sip::call::{Call, CallDirection, CallState, OkRetransmit};
use crate::sip::call_timers::CallTimer;
use crate::sip::headers::CSeq;
use crate::sip::message::{Method, SipMessage};
use crate::sip::transport::Destination;
use std::time::Instant;

impl UserAgent {
    /// Puts the call on `line` on hold (`true`: we only send, RFC 3264 §8.4) or resumes it, by
    /// re-INVITE. A glare (491) is retried after the RFC 3261 §14.1 random delay.
    pub fn hold(&mut self, now: Instant, line: u32, on: bool) -> Result<(), CallError> {
        let idx = self.line_index(line)?;
        if self.calls[idx].state != CallState::Connected {
            return Err(CallError::NotConnected(line));
        }
        let c = &mut self.calls[idx];
        if c.local_hold == on && !c.reinvite_pending {
            return Ok(());
        }
        c.hold_wanted = Some(on);
        if !c.reinvite_pending && !c.timers.is_set(CallTimer::GlareRetry) {
            self.send_reinvite(now, idx);
        }
        self.pump(now);
        Ok(())
    }

    pub(super) fn send_reinvite(&mut self, now: Instant, idx: usize) {
        let c = &mut self.calls[idx];
        let on = c.hold_wanted.unwrap_or(c.local_hold);
        c.reinvite_offers_hold = on;
        c.media.direction = if on {
            self.cfg.media.hold
        } else {
            Direction::SendRecv
        };
        c.session.1 += 1;
        let offer = sdp::offer(&c.media, c.session);
        let mut req = c.dialog.request(Method::Invite);
        req.headers.push("Content-Type", "application/sdp");
        req.body = offer.clone().into_bytes();
        c.local_sdp = Some(offer);
        c.reinvite_ack = None;
        // Every re-INVITE refreshes the session timer it carries (RFC 4028 §7.4).
        self.add_session_expires_refresh(idx, &mut req);
        let sent = self.send_session_request(now, idx, req, SessionTx::Reinvite);
        self.calls[idx].reinvite_pending = sent;
    }

    pub(super) fn reinvite_response(&mut self, now: Instant, idx: usize, resp: &SipMessage) {
        let code = resp.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        if !self.calls[idx].reinvite_pending {
            // A retransmitted 2xx: our ACK was lost.
            if let (200..=299, Some(ack)) = (code, self.calls[idx].reinvite_ack.clone()) {
                self.resend(now, idx, ack);
            }
            return;
        }
        self.calls[idx].reinvite_pending = false;
        let refresh = std::mem::take(&mut self.calls[idx].refresh_pending);
        match code {
            200..=299 => {
                let cseq = resp
                    .headers
                    .get("CSeq")
                    .and_then(|v| CSeq::parse(v).ok())
                    .map(|c| c.seq)
                    .unwrap_or(1);
                if let Some(t) = contact_uri(resp) {
                    self.calls[idx].dialog.remote_target = t;
                }
                let ack = self.calls[idx].dialog.ack(cseq);
                self.calls[idx].reinvite_ack = Some(ack.clone());
                self.send_call_request(now, idx, ack);
                let answer = sdp_body(resp)
                    .ok_or(SdpError::NoAudio)
                    .and_then(|b| sdp::parse(&b))
                    .and_then(|a| sdp::accept_answer(&a, &self.calls[idx].media));
                match answer {
                    Ok(n) => {
                        self.media_update(idx, n);
                        self.session_timer_uac(now, idx, resp);
                        // The call is now what this re-INVITE offered; a hold or resume asked
                        // for while it was out goes next.
                        let c = &mut self.calls[idx];
                        let was = c.local_hold;
                        c.local_hold = c.reinvite_offers_hold;
                        if c.hold_wanted == Some(c.local_hold) {
                            c.hold_wanted = None;
                        }
                        let again = c.hold_wanted.is_some();
                        if was != self.calls[idx].local_hold || !refresh {
                            self.hold_event(idx);
                        }
                        if again {
                            self.send_reinvite(now, idx);
                        }
                    }
                    Err(e) => {
                        self.calls[idx].end_reason = format!("unusable answer to re-INVITE: {e}");
                        self.send_bye(now, idx);
                    }
                }
            }
            491 => {
                // Glare: both sides re-INVITEd. The Call-ID owner waits 2.1-4 s, the other 0-2 s.
                use rand::Rng;
                let ms = if self.calls[idx].direction == CallDirection::Outgoing {
                    self.rng.random_range(2100..=4000)
                } else {
                    self.rng.random_range(0..=2000)
                };
                self.calls[idx].timers.set(
                    CallTimer::GlareRetry,
                    now + std::time::Duration::from_millis(ms),
                );
            }
            408 | 481 => self.end(idx, &format!("{code} {}", resp.reason())),
            _ => {
                let c = &mut self.calls[idx];
                c.media.direction = if c.local_hold {
                    self.cfg.media.hold
                } else {
                    Direction::SendRecv
                };
                let line = c.line;
                // A refresh the far end refused leaves the timer as it was; the next refresh
                // tries again.
                if c.hold_wanted.take().is_some() || !refresh {
                    self.events.push_back(UaEvent::CommandFailed {
                        error: format!("hold/resume on line {line}: {code} {}", resp.reason()),
                    });
                }
            }
        }
    }

    pub(super) fn hold_event(&mut self, idx: usize) {
        let c = &self.calls[idx];
        self.events.push_back(UaEvent::Hold {
            line: c.line,
            local: c.local_hold,
            remote: c.remote_hold,
        });
    }

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
            self.calls[idx].state,
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
        let ctype = req
            .headers
            .get("Content-Type")
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
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

    /// A re-INVITE or UPDATE in an existing dialog: answer the new offer on the same port.
    pub(super) fn reinvite(
        &mut self,
        now: Instant,
        req: &SipMessage,
        source: Destination,
        tag: &str,
    ) -> SipMessage {
        let Some(idx) = self.dialog_index(req) else {
            return response_to(req, 481, None, Some(tag));
        };
        if self.calls[idx].reinvite_pending {
            // Glare (RFC 3261 §14.2): our own re-INVITE is still open.
            let mut r = response_to(req, 491, None, None);
            r.headers.push("Retry-After", "1");
            return r;
        }
        if let Some(too_small) = self.session_interval_too_small(req, None) {
            return too_small;
        }
        // Whatever else it does, a re-INVITE or UPDATE from the far end is a session refresh.
        let with_timer = |ua: &mut UserAgent, mut ok: SipMessage| {
            ok.headers.push("Supported", ua.supported_header());
            ua.session_timer_uas(now, idx, req, &mut ok);
            ok
        };
        self.calls[idx].response_dest = req
            .headers
            .list("Via")
            .first()
            .and_then(|v| crate::sip::headers::Via::parse(v).ok())
            .map(|via| crate::sip::transaction::response_destination(&via, source));
        let c = &mut self.calls[idx];
        c.session.1 += 1;
        let session = c.session;
        let media = c.media.clone();
        // UPDATE (RFC 3311) changes the session like a re-INVITE but gets no ACK; without SDP it
        // only refreshes the target.
        let update = req.method() == Some(&Method::Update);
        if update && sdp_body(req).is_none() {
            if let Some(t) = contact_uri(req) {
                self.calls[idx].dialog.remote_target = t;
            }
            return with_timer(self, response_to(req, 200, None, None));
        }
        // A re-INVITE without an offer: our 200 offers and the ACK answers (late offer).
        let answer = match sdp_body(req) {
            Some(b) => sdp::parse(&b)
                .and_then(|o| sdp::answer(&o, &media, session))
                .map(|(text, n)| (text, Some(n))),
            None => Ok((sdp::offer(&media, session), None)),
        };
        match answer {
            Ok((text, n)) => {
                if let Some(t) = contact_uri(req) {
                    self.calls[idx].dialog.remote_target = t;
                }
                match n {
                    Some(n) => {
                        let held = matches!(n.direction, Direction::RecvOnly | Direction::Inactive);
                        self.media_update(idx, n);
                        if held != self.calls[idx].remote_hold {
                            self.calls[idx].remote_hold = held;
                            self.hold_event(idx);
                        }
                    }
                    None => self.calls[idx].late_offer = true,
                }
                let c = &mut self.calls[idx];
                c.local_sdp = Some(text.clone());
                let mut ok = response_to(req, 200, None, None);
                ok.headers
                    .push("Contact", format!("<{}>", c.dialog.contact));
                ok.headers.push("Content-Type", "application/sdp");
                ok.body = text.into_bytes();
                let ok = with_timer(self, ok);
                if !update {
                    let t1 = self.cfg.timers.t1;
                    self.calls[idx].ok_retransmit = Some(OkRetransmit {
                        response: ok.clone(),
                        next: now + t1,
                        interval: t1,
                        give_up: now + self.cfg.timers.t1x64(),
                    });
                }
                ok
            }
            Err(e) => {
                let mut r = response_to(req, 488, None, None);
                r.headers.push("Warning", format!("399 softphone \"{e}\""));
                r
            }
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
                && self.calls[i].hold_wanted.is_some()
                && self.calls[i].state == CallState::Connected
            {
                self.send_reinvite(now, i);
            }
            let Some(ok) = self.calls[i].ok_retransmit.clone() else {
                continue;
            };
            if ok.give_up <= now {
                self.calls[i].ok_retransmit = None;
                self.calls[i].end_reason = "no ACK for our answer".into();
                self.send_bye(now, i);
            } else if ok.next <= now {
                if let Some(dest) = self.calls[i].response_dest {
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
            if c.timers.take_due(CallTimer::AutoAnswer, now) && c.state == CallState::Incoming {
                self.events.push_back(UaEvent::AutoAnswer { line: c.line });
            }
        }
        let mut unanswered: Vec<u32> = Vec::new();
        for c in &mut self.calls {
            if c.timers.take_due(CallTimer::ForwardNoAnswer, now) && c.state == CallState::Incoming
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
                if c.timers.is_due(CallTimer::RingTimeout, now) && ringing(c.state) {
                    Some((c.line, true))
                } else if c.timers.is_due(CallTimer::CallLimit, now)
                    && c.state == CallState::Connected
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
            if unanswered && self.calls[idx].state == CallState::Incoming {
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
