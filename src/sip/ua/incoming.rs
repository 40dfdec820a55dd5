//! Incoming calls: a new INVITE rings on a free line (or gets 486/488), the user's answer sends
//! the 2xx with the SDP answer (or a late offer) and retransmits it until the ACK, a reject
//! sends 486/487/480.

use super::calls::CallError;
use super::fields::{allows_update, contact_uri, peer_of, sdp_body, tag_of, without_tag};
use super::{UaEvent, UserAgent};
use crate::sdp::{self, SdpError};
use crate::sip::builder::response_to;
use crate::sip::call::{Call, CallDirection, CallState, Dialog, OkRetransmit};
use crate::sip::call_timers::CallTimer;
use crate::sip::headers::{CSeq, NameAddr};
use crate::sip::message::SipMessage;
use crate::sip::session_state::{AnswerIn, Confirmed, Incoming, Modify, OfferAnswer, SessionState};
use crate::sip::transaction::TxKey;
use crate::sip::transport::Destination;
use crate::sip::uri::Scheme;
use std::time::Instant;

impl UserAgent {
    /// Answers the ringing call on `line` with media on `rtp_port`.
    pub fn answer(&mut self, now: Instant, line: u32, rtp_port: u16) -> Result<(), CallError> {
        let idx = self.line_index(line)?;
        if self.calls[idx].state() != CallState::Incoming {
            return Err(CallError::NotRinging(line));
        }
        let media = self.local_media(rtp_port);
        let Some((req, key, dest)) = self.calls[idx]
            .phase
            .incoming()
            .map(|i| (i.request.clone(), i.server_tx.clone(), i.response_dest))
        else {
            return Err(CallError::NotRinging(line));
        };
        let session = (self.rng_u64() >> 1, 1);
        let body = match sdp_body(&req) {
            Some(offer_text) => {
                match sdp::parse(&offer_text).and_then(|o| sdp::answer(&o, &media, session)) {
                    Ok((text, n)) => {
                        self.media_update(idx, n);
                        self.calls[idx].offer_answer = OfferAnswer::Stable;
                        text
                    }
                    Err(e) => {
                        self.reject_with(now, idx, 488, &format!("media: {e}"));
                        return Ok(());
                    }
                }
            }
            None => {
                self.calls[idx].offer_answer = OfferAnswer::LocalOffer {
                    answer_in: AnswerIn::Ack,
                };
                sdp::offer(&media, session)
            }
        };
        let c = &mut self.calls[idx];
        c.media = media;
        c.session = session;
        c.local_sdp = Some(body.clone());
        let mut ok = response_to(&req, 200, None, Some(&c.dialog.local_tag));
        for rr in req.headers.get_all("Record-Route") {
            ok.headers.push("Record-Route", rr);
        }
        ok.headers
            .push("Contact", format!("<{}>", c.dialog.contact));
        ok.headers.push(
            "Allow",
            crate::sip::validate::allow_header(super::ALLOWED_METHODS),
        );
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = body.into_bytes();
        // The final response ends the resends of our reliable ringing (RFC 3262 §3).
        c.timers.clear(CallTimer::ProvisionalResend);
        ok.headers.push("Supported", self.supported_header());
        self.session_timer_uas(now, idx, &req, &mut ok);
        let t1 = self.cfg.timers.t1;
        let c = &mut self.calls[idx];
        c.ok_retransmit = Some(OkRetransmit {
            response: ok.clone(),
            dest,
            next: now + t1,
            interval: t1,
            give_up: now + self.cfg.timers.t1x64(),
        });
        let _ = self.layer.send_response(now, &key, &ok);
        self.enter(idx, SessionState::Accepted);
        self.pump(now);
        Ok(())
    }

    pub(super) fn reject_with(&mut self, now: Instant, idx: usize, code: u16, reason: &str) {
        self.calls[idx].ended_by_us = true;
        let c = &self.calls[idx];
        if let Some(i) = c.phase.incoming() {
            let r = response_to(&i.request, code, None, Some(&c.dialog.local_tag));
            let key = i.server_tx.clone();
            let _ = self.layer.send_response(now, &key, &r);
        }
        self.end(idx, reason);
    }

    /// Who calls, as the user should see it: the identity our server asserts (RFC 3325
    /// P-Asserted-Identity, else the older Remote-Party-ID) when the INVITE came from that
    /// server, else the From. An asserted identity from anyone else is ignored: outside the
    /// trust domain a caller could claim to be anyone.
    fn caller_identity(&self, req: &SipMessage, source: Destination) -> (String, String) {
        let from = peer_of(req.headers.get("From").unwrap_or_default());
        if self.cfg.first_hop.is_none_or(|hop| hop.addr != source.addr) {
            return from;
        }
        for header in ["P-Asserted-Identity", "Remote-Party-ID"] {
            for value in req.headers.list(header) {
                let Ok(n) = NameAddr::parse("P-Asserted-Identity", &value) else {
                    continue;
                };
                let number = match n.uri.scheme {
                    Scheme::Tel => n.uri.opaque.split(';').next().map(str::to_string),
                    Scheme::Sip | Scheme::Sips => n.uri.user.clone(),
                    Scheme::Other(_) => None,
                };
                if let Some(number) = number.filter(|n| !n.is_empty()) {
                    let display = n.display.filter(|d| !d.is_empty()).unwrap_or_else(|| {
                        if number == from.0 {
                            from.1.clone()
                        } else {
                            String::new()
                        }
                    });
                    return (number, display);
                }
            }
        }
        from
    }

    /// How long after it arrives the server wants this INVITE answered by itself, when it
    /// asks at all: `P-Auto-Answer: normal` (RFC 5373, answer-mode) and `Alert-Info` with
    /// `info=alert-autoanswer` or `Auto Answer` at once, `Call-Info: ...;answer-after=N` after N
    /// seconds. Only from our own server: anyone else asking to be answered unattended would
    /// be an eavesdropper.
    fn server_auto_answer(
        &self,
        req: &SipMessage,
        source: Destination,
    ) -> Option<std::time::Duration> {
        if self.cfg.first_hop.is_none_or(|hop| hop.addr != source.addr) {
            return None;
        }
        let lower = |h: &str| -> Vec<String> {
            req.headers
                .get_all(h)
                .map(|v| v.to_ascii_lowercase())
                .collect()
        };
        for v in lower("Call-Info") {
            if let Some(rest) = v.split("answer-after=").nth(1) {
                let secs: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = secs.parse::<u64>() {
                    return Some(std::time::Duration::from_secs(n.min(3600)));
                }
            }
        }
        let asked = lower("P-Auto-Answer")
            .iter()
            .chain(lower("Answer-Mode").iter())
            .any(|v| v.trim().starts_with("normal") || v.trim().starts_with("auto"))
            || lower("Alert-Info").iter().any(|v| {
                v.contains("info=alert-autoanswer")
                    || v.contains("auto answer")
                    || v.contains("intercom")
            });
        asked.then_some(std::time::Duration::ZERO)
    }

    /// A new INVITE: it rings on a free line, or gets 486 (busy) or 488 (no usable media).
    pub(super) fn incoming_invite(
        &mut self,
        now: Instant,
        key: &TxKey,
        req: &SipMessage,
        source: Destination,
        tag: &str,
    ) -> Option<SipMessage> {
        let busy = self.cfg.reject_on_busy
            && self
                .calls
                .iter()
                .any(|c| !matches!(c.state(), CallState::Terminated));
        let replacing = match self.replaced_session(req, tag) {
            Ok(r) => r,
            Err(refusal) => return Some(refusal),
        };
        if let Some(too_small) = self.session_interval_too_small(req, Some(tag)) {
            return Some(too_small);
        }
        let (peer, _) = self.caller_identity(req, source);
        let in_call = self
            .calls
            .iter()
            .any(|c| !matches!(c.state(), CallState::Terminated));
        // A call that replaces one of ours is not forwarded or screened: it is that call.
        if replacing.is_none()
            && let Some(r) =
                self.incoming_policy(req, &peer, in_call || self.free_line().is_none(), tag)
        {
            return Some(r);
        }
        let Some(line) = self.free_line().filter(|_| !busy) else {
            return Some(response_to(req, 486, None, Some(tag)));
        };
        if let Some(body) = sdp_body(req) {
            let media = self.local_media(0);
            if let Err(e) = sdp::parse(&body).and_then(|o| sdp::answer(&o, &media, (0, 0))) {
                // The user learns of a call that could not ring, and why.
                self.events.push_back(UaEvent::CallRefused {
                    peer: peer.clone(),
                    code: 488,
                    why: format!("no media we can agree on ({e})"),
                });
                let mut r = response_to(req, 488, None, Some(tag));
                r.headers.push("Warning", format!("399 softphone \"{e}\""));
                return Some(r);
            }
        }
        let from = req.headers.get("From").unwrap_or_default();
        let (peer, peer_display) = self.caller_identity(req, source);
        let dialog = Dialog {
            call_id: req.headers.get("Call-ID").unwrap_or_default().to_string(),
            local_tag: tag.to_string(),
            remote_tag: tag_of(Some(from)),
            local_uri: without_tag(req.headers.get("To").unwrap_or_default()),
            remote_uri: without_tag(from),
            remote_target: contact_uri(req)
                .unwrap_or_else(|| req.request_uri().unwrap_or_default().to_string()),
            route_set: req.headers.list("Record-Route"),
            local_cseq: 1,
            remote_cseq: CSeq::of(req).map(|c| c.seq),
            contact: self.our_contact(),
        };
        let media = self.local_media(0);
        let id = self.new_session_id();
        let incoming = Incoming {
            server_tx: key.clone(),
            request: req.clone(),
            response_dest: req
                .headers
                .list("Via")
                .first()
                .and_then(|v| crate::sip::headers::Via::parse(v).ok())
                .map(|via| crate::sip::transaction::response_destination(&via, source)),
            reliable: None,
        };
        let mut call = Call::new(
            id,
            line,
            CallDirection::Incoming,
            SessionState::Incoming(incoming),
            dialog,
            (peer, peer_display),
            media,
        );
        if sdp_body(req).is_some() {
            call.offer_answer = OfferAnswer::RemoteOffer;
        }
        // No server: our requests in this dialog go back where the INVITE came from.
        if self.cfg.first_hop.is_none() {
            call.hop = Some(source);
        }
        call.timers.set_opt(
            CallTimer::RingTimeout,
            self.deadline(now, self.cfg.ring_timeout),
        );
        // A call that replaces one of ours is answered at once, never forwarded.
        if let Some((_, after)) = &self.cfg.incoming.forward_no_answer
            && replacing.is_none()
        {
            call.timers.set(CallTimer::ForwardNoAnswer, now + *after);
        }
        call.replacing = replacing;
        call.peer_allows_update = allows_update(req);
        self.calls.push(call);
        let idx = self.calls.len() - 1;
        if replacing.is_some() {
            self.events.push_back(UaEvent::Replacing { line });
        } else if let Some(after) = self.server_auto_answer(req, source) {
            if after.is_zero() {
                self.events.push_back(UaEvent::AutoAnswer { line });
            } else {
                self.calls[idx]
                    .timers
                    .set(CallTimer::AutoAnswer, now + after);
            }
        }
        self.call_event(idx);
        if let Some(diversion) = crate::sip::diversion::diversion_of(req) {
            self.events.push_back(UaEvent::Diverted { line, diversion });
        }
        let mut ringing = response_to(req, 180, None, Some(tag));
        ringing
            .headers
            .push("Contact", format!("<{}>", self.our_contact()));
        if self.wants_reliable(req) {
            self.make_reliable(now, idx, &mut ringing);
        }
        Some(ringing)
    }

    /// An ACK outside any transaction: the ACK for our 2xx.
    pub(super) fn call_ack(&mut self, now: Instant, req: &SipMessage) {
        let Some(idx) = self.dialog_index(req) else {
            return;
        };
        self.calls[idx].ok_retransmit = None;
        let late = OfferAnswer::LocalOffer {
            answer_in: AnswerIn::Ack,
        };
        if self.calls[idx].offer_answer == late {
            self.calls[idx].offer_answer = OfferAnswer::Stable;
            let answer = sdp_body(req)
                .ok_or(SdpError::NoAudio)
                .and_then(|b| sdp::parse(&b))
                .and_then(|a| sdp::accept_answer(&a, &self.calls[idx].media));
            match answer {
                Ok(n) => self.media_update(idx, n),
                Err(e) => {
                    self.calls[idx].end_reason = format!("unusable answer in ACK: {e}");
                    self.send_bye(now, idx);
                    return;
                }
            }
        }
        if matches!(self.calls[idx].phase, SessionState::Accepted) {
            let limit = self.deadline(now, self.cfg.call_timeout);
            self.calls[idx].timers.set_opt(CallTimer::CallLimit, limit);
            let replaced = self.calls[idx].replacing.take();
            let id = self.calls[idx].id;
            self.enter(
                idx,
                SessionState::Confirmed(Confirmed {
                    ack: None,
                    modify: Modify::Idle,
                }),
            );
            // The call this one replaces is over.
            if let Some(old) = replaced.and_then(|id| self.session_index(id)) {
                let line = self.calls[old].line;
                let _ = self.hangup_because(now, line, "replaced");
            }
            // `transferall`: the call goes on to its target at once. A call that replaced
            // one of ours (a pickup, an attended transfer) is that call, not a new one.
            let target = self.cfg.incoming.transfer_all.clone();
            if let Some(idx) = self
                .session_index(id)
                .filter(|_| !target.is_empty() && replaced.is_none())
            {
                let line = self.calls[idx].line;
                if let Err(e) = self.transfer(now, line, &target) {
                    self.events.push_back(UaEvent::CommandFailed {
                        error: format!("transferall: {e}"),
                    });
                }
            }
        }
    }
}
