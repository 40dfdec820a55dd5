//! Instant messages (RFC 3428 pager mode): a MESSAGE out of any dialog, sent to what the user
//! typed as for a call, answered 401/407 by the shared [`ClientAuth`], its final response
//! reported as delivered or failed with the reason; and a MESSAGE that comes in, answered 200
//! and reported when it carries text, 415 for a body we cannot show, 603 from a blacklisted
//! sender. "Is typing" notices (RFC 3994) are accepted and not shown.

use super::calls::CallError;
use super::fields::{media_type, peer_of};
use super::owners::Usage;
use super::{UaEvent, UserAgent, random_token};
use crate::sip::builder::response_to;
use crate::sip::client_auth::ClientAuth;
use crate::sip::headers::CSeq;
use crate::sip::message::{Method, SipMessage};
use crate::sip::transport::Destination;
use std::time::Instant;

/// The longest text we send or show: RFC 3428 §8 keeps pager-mode messages under 1300 bytes
/// unless the path is known to be congestion-controlled; a few kilobytes is what a chat line
/// ever needs.
pub(super) const MAX_TEXT_BYTES: usize = 4096;

/// A MESSAGE of ours waiting for its final response.
#[derive(Debug)]
pub(super) struct OutgoingMessage {
    /// The caller's tag, echoed in the delivery event.
    pub tag: u64,
    /// Who it goes to, as the user typed it.
    pub to: String,
    /// The request as built, without Via (resent with a new CSeq after a challenge).
    pub request: SipMessage,
    pub hop: Option<Destination>,
    pub auth: ClientAuth,
}

impl UserAgent {
    /// Sends `text` to `target` (a number, a user or a SIP URI, as for a call); `tag` comes
    /// back in the [`UaEvent::MessageDelivery`] that reports how it went.
    pub fn send_message(
        &mut self,
        now: Instant,
        tag: u64,
        target: &str,
        text: &str,
    ) -> Result<(), CallError> {
        let bad = |why: &str| CallError::BadTarget(target.trim().to_string(), why.to_string());
        if text.trim().is_empty() {
            return Err(bad("the message is empty"));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(bad(&format!(
                "the message is longer than {MAX_TEXT_BYTES} bytes"
            )));
        }
        let uri = self.dial_target(target)?;
        let hop = match self.cfg.first_hop {
            Some(_) => None,
            None => Some(self.direct_hop(&uri).ok_or(CallError::NoRoute)?),
        };
        let mut req = SipMessage::request(Method::Message, uri.to_string());
        req.headers.push("Max-Forwards", "70");
        let from_tag = random_token(&mut self.rng, 10);
        req.headers
            .push("From", format!("<{}>;tag={from_tag}", self.local_aor()));
        req.headers.push("To", format!("<{uri}>"));
        req.headers.push("Call-ID", random_token(&mut self.rng, 24));
        let cseq = 1 + (self.rng_u64() % 1000) as u32;
        req.headers.push("CSeq", format!("{cseq} MESSAGE"));
        req.headers.push("User-Agent", self.cfg.user_agent.clone());
        req.headers.push("Content-Type", "text/plain;charset=UTF-8");
        req.body = text.as_bytes().to_vec();
        let message = OutgoingMessage {
            tag,
            to: target.trim().to_string(),
            request: req,
            hop,
            auth: ClientAuth::default(),
        };
        self.send_pager(now, message, None);
        self.pump(now);
        Ok(())
    }

    /// Sends (again, with `auth`) one of our MESSAGEs on a new client transaction.
    fn send_pager(
        &mut self,
        now: Instant,
        message: OutgoingMessage,
        auth: Option<(&'static str, String)>,
    ) {
        let mut req = message.request.clone();
        if let Some((name, value)) = auth {
            req.headers.push(name, value);
        }
        let Some(dest) = message.hop.or(self.cfg.first_hop) else {
            return self.delivery(message, false, 0, "no server to send it to".into());
        };
        self.prepare_request(&mut req);
        match self.layer.send_request(now, req, dest).ok().flatten() {
            Some(key) => {
                self.next_pager += 1;
                let id = self.next_pager;
                self.owners.own(key, Usage::Pager(id));
                self.pagers.insert(id, message);
            }
            None => self.delivery(message, false, 0, "could not be sent".into()),
        }
    }

    fn delivery(&mut self, message: OutgoingMessage, delivered: bool, code: u16, reason: String) {
        self.events.push_back(UaEvent::MessageDelivery {
            tag: message.tag,
            to: message.to,
            text: String::from_utf8_lossy(&message.request.body).into_owned(),
            delivered,
            code,
            reason,
        });
    }

    /// The final response to our MESSAGE `id`: delivered (2xx), retried once with credentials
    /// (401/407), or failed.
    pub(super) fn pager_response(&mut self, now: Instant, id: u64, resp: &SipMessage) {
        let code = resp.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        let Some(mut message) = self.pagers.remove(&id) else {
            return;
        };
        let reason = format!("{code} {}", resp.reason());
        match code {
            200..=299 => self.delivery(message, true, code, reason),
            401 | 407 => {
                let uri = message
                    .request
                    .request_uri()
                    .unwrap_or_default()
                    .to_string();
                let body = message.request.body.clone();
                let mut auth = std::mem::take(&mut message.auth);
                match self.answer_challenge(&mut auth, resp, ("MESSAGE", &uri, &body)) {
                    Ok(header) => {
                        message.auth = auth;
                        // A new transaction: the next CSeq (RFC 3261 §22.2).
                        let cseq = CSeq::of(&message.request).map_or(1, |c| c.seq + 1);
                        message.request.headers.remove("CSeq");
                        message
                            .request
                            .headers
                            .push("CSeq", format!("{cseq} MESSAGE"));
                        self.send_pager(now, message, Some(header));
                    }
                    Err(why) => self.delivery(message, false, code, format!("{reason} ({why})")),
                }
            }
            _ => self.delivery(message, false, code, reason),
        }
    }

    /// Our MESSAGE `id` got no answer.
    pub(super) fn pager_failed(&mut self, id: u64, why: &str) {
        if let Some(message) = self.pagers.remove(&id) {
            self.delivery(message, false, 0, why.to_string());
        }
    }

    /// A MESSAGE for us: 200 and an event for text, 415 for what we cannot show.
    pub(super) fn incoming_message(&mut self, req: &SipMessage, tag: &str) -> SipMessage {
        let (peer, display) = peer_of(req.headers.get("From").unwrap_or_default());
        if self.cfg.incoming.blocks(&peer) {
            return response_to(req, 603, None, Some(tag));
        }
        let ctype = media_type(req);
        match ctype.as_str() {
            "text/plain" => {}
            // Someone is typing (RFC 3994): nothing to show yet.
            "application/im-iscomposing+xml" => return response_to(req, 200, None, Some(tag)),
            _ => {
                let mut r = response_to(req, 415, None, Some(tag));
                r.headers
                    .push("Accept", "text/plain, application/im-iscomposing+xml");
                return r;
            }
        }
        let Ok(text) = std::str::from_utf8(&req.body) else {
            return response_to(req, 400, Some("Bad Request (text is not UTF-8)"), Some(tag));
        };
        if text.len() > MAX_TEXT_BYTES {
            return response_to(req, 413, None, Some(tag));
        }
        // Control characters would let a sender forge lines in the notification stream or
        // garble the window: each becomes a space (line breaks kept as one space too).
        let text: String = text
            .trim()
            .replace("\r\n", "\n")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if text.is_empty() {
            return response_to(req, 200, None, Some(tag));
        }
        // The line of a call with the same peer, when there is one (the reference's CHAT line).
        let line = self
            .calls
            .iter()
            .find(|c| c.peer.eq_ignore_ascii_case(&peer))
            .map(|c| c.line);
        self.events.push_back(UaEvent::MessageReceived {
            line,
            from: peer,
            display,
            text,
        });
        response_to(req, 200, None, Some(tag))
    }
}
