//! Changing a session (the "modify" of libre's sipsess): hold and resume by re-INVITE with
//! glare handling (RFC 3261 §14), and answering the far end's re-INVITEs and UPDATEs, each of
//! which also refreshes the session timer (`session_refresh.rs`).

use super::calls::CallError;
use super::fields::{contact_uri, sdp_body};
use super::owners::SessionTx;
use super::{UaEvent, UserAgent};
use crate::sdp::{self, Direction, SdpError};
use crate::sip::builder::response_to;
use crate::sip::call::{CallDirection, CallState, OkRetransmit};
use crate::sip::call_timers::CallTimer;
use crate::sip::headers::CSeq;
use crate::sip::message::{Method, SipMessage};
use crate::sip::session_state::{AnswerIn, Modify, OfferAnswer};
use crate::sip::transport::Destination;
use std::time::Instant;

impl UserAgent {
    /// Puts the call on `line` on hold (`true`: we only send, RFC 3264 §8.4) or resumes it, by
    /// re-INVITE. A glare (491) is retried after the RFC 3261 §14.1 random delay.
    pub fn hold(&mut self, now: Instant, line: u32, on: bool) -> Result<(), CallError> {
        let idx = self.line_index(line)?;
        if self.calls[idx].state() != CallState::Connected {
            return Err(CallError::NotConnected(line));
        }
        let c = &mut self.calls[idx];
        let reinviting = matches!(c.phase.modify(), Some(Modify::Reinviting { .. }));
        if c.local_hold == on && !reinviting {
            return Ok(());
        }
        c.hold_wanted = Some(on);
        if !c.phase.reinvite_open() {
            self.send_reinvite(now, idx, false);
        }
        self.pump(now);
        Ok(())
    }

    /// Sends a re-INVITE offering what the user wants (hold or not); `refresh` when it is
    /// (also) the session refresh.
    pub(super) fn send_reinvite(&mut self, now: Instant, idx: usize, refresh: bool) {
        let c = &mut self.calls[idx];
        let on = c.hold_wanted.unwrap_or(c.local_hold);
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
        c.offer_answer = OfferAnswer::LocalOffer {
            answer_in: AnswerIn::Response,
        };
        // Every re-INVITE refreshes the session timer it carries (RFC 4028 §7.4).
        self.add_session_expires_refresh(idx, &mut req);
        let sent = self.send_session_request(now, idx, req, SessionTx::Reinvite);
        let c = &mut self.calls[idx];
        if !sent {
            c.offer_answer = OfferAnswer::Stable;
        }
        if let Some(m) = c.phase.modify_mut() {
            *m = if sent {
                Modify::Reinviting { hold: on, refresh }
            } else {
                Modify::Idle
            };
        }
    }

    pub(super) fn reinvite_response(&mut self, now: Instant, idx: usize, resp: &SipMessage) {
        let code = resp.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        let c = &mut self.calls[idx];
        let Some(modify) = c.phase.modify_mut() else {
            return;
        };
        let Modify::Reinviting { hold, refresh } = *modify else {
            // A retransmitted 2xx: our ACK was lost.
            if let (200..=299, Some(ack)) = (code, modify.last_ack().cloned()) {
                self.resend(now, idx, ack);
            }
            return;
        };
        *modify = Modify::Idle;
        // Answered or refused, our offer is no longer outstanding (a refusal keeps the session
        // as it was, RFC 3261 §14.1).
        c.offer_answer = OfferAnswer::Stable;
        match code {
            200..=299 => {
                let cseq = CSeq::of(resp).map(|c| c.seq).unwrap_or(1);
                if let Some(t) = contact_uri(resp) {
                    self.calls[idx].dialog.remote_target = t;
                }
                let ack = self.calls[idx].dialog.ack(cseq);
                if let Some(m) = self.calls[idx].phase.modify_mut() {
                    *m = Modify::Acked(ack.clone());
                }
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
                        c.local_hold = hold;
                        if c.hold_wanted == Some(c.local_hold) {
                            c.hold_wanted = None;
                        }
                        let again = c.hold_wanted.is_some();
                        if was != self.calls[idx].local_hold || !refresh {
                            self.hold_event(idx);
                        }
                        if again {
                            self.send_reinvite(now, idx, false);
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
                if let Some(m) = self.calls[idx].phase.modify_mut() {
                    *m = Modify::GlareWait { refresh };
                }
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
        // Glare (RFC 3261 §14.2, RFC 3311 §5.2): our own re-INVITE is still open, or an offer
        // (ours or theirs) is still unanswered.
        let c = &self.calls[idx];
        let offers = req.method() == Some(&Method::Invite) || sdp_body(req).is_some();
        let refusal = if matches!(c.phase.modify(), Some(Modify::Reinviting { .. })) {
            Some(491)
        } else if offers {
            c.offer_answer.refuses_offer()
        } else {
            None
        };
        if let Some(code) = refusal {
            let mut r = response_to(req, code, None, None);
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
        let dest = req
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
                        self.calls[idx].offer_answer = OfferAnswer::Stable;
                        let held = matches!(n.direction, Direction::RecvOnly | Direction::Inactive);
                        self.media_update(idx, n);
                        if held != self.calls[idx].remote_hold {
                            self.calls[idx].remote_hold = held;
                            self.hold_event(idx);
                        }
                    }
                    None => {
                        self.calls[idx].offer_answer = OfferAnswer::LocalOffer {
                            answer_in: AnswerIn::Ack,
                        }
                    }
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
                        dest,
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
}
