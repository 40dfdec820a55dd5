//! The UAS core (RFC 3261 §8.2): answering requests — the method, URI scheme, extension and
//! loop checks, OPTIONS, handing INVITE/BYE/CANCEL/INFO/UPDATE to the call layer — and
//! answering malformed input with 400 where a response is possible.

use super::{ALLOWED_METHODS, UaEvent, UserAgent, random_token};
use crate::sip::builder::{response_to, response_to_salvaged};
use crate::sip::headers::Via;
use crate::sip::message::{Method, SipMessage, reason_phrase};
use crate::sip::parse::salvage_request;
use crate::sip::transaction::{TxKey, response_destination};
use crate::sip::transport::Destination;
use crate::sip::validate::{allow_header, check_request};
use std::time::Instant;

impl UserAgent {
    pub(super) fn answer_malformed(
        &mut self,
        data: &[u8],
        source: Destination,
        error: &str,
        status: u16,
    ) {
        let mut answered = None;
        if let Some(s) = salvage_request(data)
            && !s.is_ack
        {
            let detail: String = error
                .chars()
                .filter(|c| !c.is_control())
                .take(120)
                .collect();
            let reason = format!("{} ({detail})", reason_phrase(status));
            let tag = random_token(&mut self.rng, 10);
            let resp = response_to_salvaged(&s, status, &reason, &tag);
            let dest = s
                .vias
                .first()
                .and_then(|v| Via::parse(v).ok())
                .map(|v| response_destination(&v, source))
                .unwrap_or(source);
            self.layer.send_stateless(dest, &resp);
            answered = Some(status);
        }
        self.events.push_back(UaEvent::Malformed {
            source: source.addr,
            error: error.to_string(),
            answered,
        });
    }

    /// The UAS core: answers a request that has its server transaction.
    pub(super) fn answer_request(
        &mut self,
        now: Instant,
        key: &TxKey,
        req: &SipMessage,
        source: Destination,
    ) {
        let tag = random_token(&mut self.rng, 10);
        let response = if let Some(err) = check_request(req, ALLOWED_METHODS, &tag) {
            err
        } else if self.layer.is_merged_request(req, key) {
            response_to(req, 482, None, Some(&tag))
        } else {
            match req.method() {
                Some(Method::Options) => {
                    let mut r = response_to(req, 200, None, Some(&tag));
                    r.headers.push("Allow", allow_header(ALLOWED_METHODS));
                    r.headers.push("Accept", "application/sdp");
                    r.headers.push("Accept-Encoding", "identity");
                    r.headers.push("Accept-Language", "en");
                    r.headers.push("Supported", self.supported_header());
                    r.headers.push("User-Agent", self.cfg.user_agent.clone());
                    r
                }
                Some(Method::Notify) if self.is_subscription_notify(req) => {
                    self.subscription_notify(now, req, &tag)
                }
                Some(
                    Method::Invite
                    | Method::Bye
                    | Method::Cancel
                    | Method::Info
                    | Method::Update
                    | Method::Refer
                    | Method::Notify
                    | Method::Prack,
                ) => {
                    match self.call_request(now, key, req, source, &tag) {
                        Some(r) => r,
                        // The call layer answers later (ringing, then the user's answer).
                        None => return,
                    }
                }
                Some(Method::Message) => self.incoming_message(req, &tag),
                Some(Method::Subscribe) => self.incoming_subscribe(now, req, &tag),
                _ => response_to(req, 405, None, Some(&tag)),
            }
        };
        let code = response.status().unwrap_or(0);
        if code >= 300 {
            self.events.push_back(UaEvent::RequestRejected {
                method: req.method().map(|m| m.to_string()).unwrap_or_default(),
                code,
            });
        }
        let _ = self.layer.send_response(now, key, &response);
    }
}
