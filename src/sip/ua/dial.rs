//! Placing a call (the "connect" of libre's sipsess): what the user dialled becomes a Request-URI
//! (with the `checktarget` rules), a line and a dialog are set up for a call the user, a
//! transferring far end or a pickup asked for, and the INVITE goes out (again after a 401/407
//! or a 422). Its responses are handled in `calls.rs`.

use super::calls::CallError;
use super::owners::{SessionTx, Usage};
use super::{UserAgent, random_token};
use crate::sdp;
use crate::sip::call::{Call, CallDirection, Dialog, SessionId};
use crate::sip::call_timers::CallTimer;
use crate::sip::message::{Method, SipMessage};
use crate::sip::session_state::{AnswerIn, OfferAnswer, Outgoing, SessionState};
use crate::sip::transport::Destination;
use crate::sip::uri::Uri;
use std::time::Instant;

/// Who asked for an outgoing call.
#[derive(Debug, Clone)]
pub(super) enum DialOrigin {
    /// The user dialled it.
    User,
    /// The far end of session `by` asked for it by REFER; its INVITE carries `replaces` when
    /// the transfer swaps calls.
    Referred {
        by: SessionId,
        replaces: Option<String>,
    },
    /// The user picks up a call ringing at a colleague: the INVITE replaces that early
    /// dialog (RFC 3891 `early-only`).
    Pickup { replaces: String },
}

impl UserAgent {
    /// The Request-URI for what the user dialled: a number or user, `user@host`, or a URI.
    pub fn dial_target(&self, target: &str) -> Result<Uri, CallError> {
        let t = target.trim();
        let bad = |why: &str| CallError::BadTarget(t.to_string(), why.to_string());
        if t.is_empty() {
            return Err(bad("empty number"));
        }
        self.cfg
            .check_target
            .check(t, &self.cfg.domain)
            .map_err(|why| bad(&why))?;
        // Links from web pages and other programs: tel:NUMBER and callto:NUMBER dial the number
        // on our server.
        let lower = t.to_ascii_lowercase();
        let t = ["callto://", "callto:", "tel:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map_or(t, |p| &t[p.len()..]);
        let text = if t.contains(':') {
            t.to_string()
        } else if t.contains('@') {
            format!("sip:{t}")
        } else {
            let user: String = t
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
                .collect();
            // The dial prefix (an outside line, say) goes before phone numbers only.
            let is_number = user
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '*' | '#'));
            let prefix = if is_number {
                self.cfg.prefix.as_str()
            } else {
                ""
            };
            format!("sip:{prefix}{user}@{}", self.cfg.domain)
        };
        let uri = Uri::parse(&text).map_err(|e| bad(&e.to_string()))?;
        if !uri.is_sip() {
            return Err(bad("only sip: and sips: addresses can be called"));
        }
        // A sips: address asks for TLS on every hop; a clear transport would give the caller
        // less than the address promises, so such a call is not placed at all.
        if uri.scheme == crate::sip::uri::Scheme::Sips && !self.cfg.transport.is_encrypted() {
            return Err(bad(
                "a sips: address needs TLS on every hop (transport=2 or 7); the call was not placed",
            ));
        }
        Ok(uri)
    }

    /// Places a call; `rtp_port` is the local RTP port the driver has bound for it.
    /// An empty `target` redials the last number.
    pub fn dial(&mut self, now: Instant, target: &str, rtp_port: u16) -> Result<u32, CallError> {
        self.dial_via(now, target, rtp_port, None)
    }

    /// Where a call to `target` would be sent when no server is configured and its host is a
    /// name the driver must resolve first: that host and port (`None`: nothing to resolve).
    pub fn direct_host(&self, target: &str) -> Option<(String, u16)> {
        if self.cfg.first_hop.is_some() {
            return None;
        }
        let uri = self.dial_target(target).ok()?;
        let bare = uri.host.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<std::net::IpAddr>().is_ok() {
            return None;
        }
        Some((uri.host.clone(), uri.port.unwrap_or(5060)))
    }

    /// The transport calls use.
    pub fn transport(&self) -> crate::sip::transport::Transport {
        self.cfg.transport
    }

    /// As [`UserAgent::dial`]; without a server, a SIP URI whose host is a name goes to `via`
    /// (the driver resolved it).
    pub fn dial_via(
        &mut self,
        now: Instant,
        target: &str,
        rtp_port: u16,
        via: Option<Destination>,
    ) -> Result<u32, CallError> {
        self.dial_for(now, target, rtp_port, via, DialOrigin::User)
    }

    /// Picks up a call ringing at a colleague, from the colleague's dialog-info (RFC 4235):
    /// an INVITE to the caller's side with `Replaces: ...;early-only` (RFC 3891), so that the
    /// caller is connected to us and its call to the colleague is cancelled. `via` as for
    /// [`UserAgent::dial_via`].
    pub fn pickup_dialog(
        &mut self,
        now: Instant,
        dialog: &crate::sip::dialog_info::PickupDialog,
        rtp_port: u16,
        via: Option<Destination>,
    ) -> Result<u32, CallError> {
        let replaces = dialog.replaces();
        self.dial_for(
            now,
            &dialog.target,
            rtp_port,
            via,
            DialOrigin::Pickup { replaces },
        )
    }

    /// As [`UserAgent::dial_via`], for a call that `origin` asked for.
    pub(super) fn dial_for(
        &mut self,
        now: Instant,
        target: &str,
        rtp_port: u16,
        via: Option<Destination>,
        origin: DialOrigin,
    ) -> Result<u32, CallError> {
        let target = match (target.trim(), &self.last_dialed) {
            ("", Some(last)) => last.clone(),
            ("", None) => {
                return Err(CallError::BadTarget(
                    String::new(),
                    "nothing to redial".into(),
                ));
            }
            (t, _) => t.to_string(),
        };
        let uri = self.dial_target(&target)?;
        // Without a server the call goes straight to the URI's host: the driver resolves a
        // name (`via`), an IP address needs nothing.
        let hop = match (self.cfg.first_hop, via) {
            (Some(_), _) => None,
            (None, Some(v)) => Some(v),
            (None, None) => {
                let host = uri.host.trim_start_matches('[').trim_end_matches(']');
                let ip: std::net::IpAddr = host.parse().map_err(|_| CallError::NoRoute)?;
                Some(Destination {
                    transport: self.cfg.transport,
                    addr: std::net::SocketAddr::new(ip, uri.port.unwrap_or(5060)),
                })
            }
        };
        let line = self
            .free_line()
            .ok_or(CallError::NoFreeLine(self.cfg.max_lines))?;
        let media = self.local_media(rtp_port);
        if media.srtp.policy == sdp::MediaEncryption::Mandatory
            && media.srtp.keys.is_empty()
            && media.srtp.dtls.is_none()
        {
            return Err(CallError::SrtpUnkeyed);
        }
        let session = (self.rng_u64() >> 1, 1);
        let offer = sdp::offer(&media, session);
        let aor = self.local_aor();
        let local_uri = match &self.cfg.display_name {
            Some(d) if !d.is_empty() => format!(
                "\"{}\" <{aor}>",
                d.replace('\\', "\\\\").replace('"', "\\\"")
            ),
            _ => format!("<{aor}>"),
        };
        let dialog = Dialog {
            call_id: random_token(&mut self.rng, 24),
            local_tag: random_token(&mut self.rng, 10),
            remote_tag: None,
            local_uri,
            remote_uri: format!("<{uri}>"),
            remote_target: uri.to_string(),
            route_set: Vec::new(),
            local_cseq: 1 + (self.rng_u64() % 1000) as u32,
            remote_cseq: None,
            contact: self.our_contact(),
        };
        let peer = uri.user.clone().unwrap_or_else(|| uri.host.clone());
        let id = self.new_session_id();
        let mut outgoing = Outgoing {
            session_expires_asked: self.cfg.session_timer.interval,
            ..Outgoing::default()
        };
        let mut referred_by = None;
        match origin {
            // A call the far end asked for is not what the user dialled: redial keeps theirs.
            DialOrigin::Referred { by, replaces } => {
                referred_by = Some(by);
                outgoing.replaces = replaces;
            }
            // Redialling a pickup would try to take a call that is long gone.
            DialOrigin::Pickup { replaces } => outgoing.replaces = Some(replaces),
            DialOrigin::User => self.last_dialed = Some(target),
        }
        let mut call = Call::new(
            id,
            line,
            CallDirection::Outgoing,
            SessionState::Calling(outgoing),
            dialog,
            (peer, String::new()),
            media,
        );
        call.local_sdp = Some(offer);
        call.offer_answer = OfferAnswer::LocalOffer {
            answer_in: AnswerIn::Response,
        };
        call.session = session;
        call.hop = hop;
        call.referred_by = referred_by;
        call.timers.set_opt(
            CallTimer::RingTimeout,
            self.deadline(now, self.cfg.ring_timeout),
        );
        self.calls.push(call);
        let idx = self.calls.len() - 1;
        self.call_event(idx);
        self.send_invite(now, idx, None);
        self.pump(now);
        Ok(line)
    }

    /// Sends the (first or authenticated) INVITE of an outgoing call.
    pub(super) fn send_invite(&mut self, now: Instant, idx: usize, auth: Option<(String, String)>) {
        let c = &mut self.calls[idx];
        let Some(outgoing) = c.phase.outgoing_mut() else {
            return;
        };
        // A new INVITE transaction numbers its reliable responses afresh.
        outgoing.last_rseq = None;
        let replaces = outgoing.replaces.clone();
        let cseq = c.dialog.local_cseq;
        let mut req = SipMessage::request(Method::Invite, c.dialog.remote_target.clone());
        req.headers.push("Max-Forwards", "70");
        req.headers.push(
            "From",
            format!("{};tag={}", c.dialog.local_uri, c.dialog.local_tag),
        );
        req.headers.push("To", c.dialog.remote_uri.clone());
        req.headers.push("Call-ID", c.dialog.call_id.clone());
        req.headers.push("CSeq", format!("{cseq} INVITE"));
        req.headers
            .push("Contact", format!("<{}>", c.dialog.contact));
        req.headers.push(
            "Allow",
            crate::sip::validate::allow_header(super::ALLOWED_METHODS),
        );
        req.headers.push("User-Agent", self.cfg.user_agent.clone());
        req.headers.push("Supported", self.supported_header());
        if let Some(replaces) = replaces {
            req.headers.push("Replaces", replaces);
        }
        if let Some((name, value)) = auth {
            req.headers.push(&name, value);
        }
        self.add_session_expires_request(idx, &mut req);
        let c = &self.calls[idx];
        req.headers.push("Content-Type", "application/sdp");
        req.body = c.local_sdp.clone().unwrap_or_default().into_bytes();
        let Some(dest) = self.call_hop(idx) else {
            return self.end(idx, "no server to send the call to");
        };
        self.prepare_request(&mut req);
        let key = self
            .layer
            .send_request(now, req.clone(), dest)
            .ok()
            .flatten();
        let c = &mut self.calls[idx];
        // Keep the INVITE as sent (with its Via): the CANCEL repeats its branch.
        if let Some(o) = c.phase.outgoing_mut() {
            o.invite = key.as_ref().map(|_| req);
        }
        match key {
            Some(key) => self
                .owners
                .own(key, Usage::Session(c.id, SessionTx::Invite)),
            None => self.end(idx, "could not send the INVITE"),
        }
    }
}
