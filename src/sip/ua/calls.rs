//! The UA's call handling: outgoing INVITE with authentication, provisional and final
//! responses, ACK for 2xx, CANCEL, BYE; incoming INVITE with ringing, answer with 2xx
//! retransmission until the ACK, reject, CANCEL (487), BYE, re-INVITE; forked 2xx beyond the
//! first are ACKed and hung up. Lines are numbered 1..=maxlines.

use super::fields::{allows_update, bare_uri, sdp_body, tag_of};
use super::owners::{SessionTx, Usage};
use super::{UaEvent, UserAgent, random_token};
use crate::sdp::{self, Direction, LocalMedia, SdpError};
use crate::sip::builder::{has_tag, response_to};
use crate::sip::call::{Call, CallDirection, CallState, Dialog, SessionId};
use crate::sip::call_timers::CallTimer;
use crate::sip::headers::CSeq;
use crate::sip::message::{Method, SipMessage};
use crate::sip::transaction::TxKey;
use crate::sip::transport::Destination;
use crate::sip::uri::Uri;
use std::time::Instant;

/// Why a command on a call could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("all {0} lines are busy")]
    NoFreeLine(u32),
    #[error("no call on line {0}")]
    NoSuchLine(u32),
    #[error("cannot call {0:?}: {1}")]
    BadTarget(String, String),
    #[error(
        "no server to send the call to (set serveraddress, or dial a SIP URI with an IP address)"
    )]
    NoRoute,
    #[error("line {0} is not ringing")]
    NotRinging(u32),
    #[error("line {0} is not in a call")]
    NotConnected(u32),
    #[error("transfers are turned off (transfertype=0)")]
    TransferOff,
    #[error("a transfer of line {0} is already under way")]
    TransferUnderWay(u32),
    #[error(
        "connecting line {0} needs exactly one other call in progress to connect it with ({1} found)"
    )]
    NoOtherCall(u32, usize),
}

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
        if uri.scheme == crate::sip::uri::Scheme::Sips {
            return Err(bad(
                "a sips: address needs TLS and this build has none yet; the call was not placed",
            ));
        }
        Ok(uri)
    }

    pub(super) fn free_line(&self) -> Option<u32> {
        (1..=self.cfg.max_lines).find(|l| !self.calls.iter().any(|c| c.line == *l))
    }

    pub(super) fn local_media(&self, rtp_port: u16) -> LocalMedia {
        LocalMedia {
            addr: self.contact_addr().ip(),
            port: rtp_port,
            offer: self.cfg.media.offer.clone(),
            accept: self.cfg.media.accept.clone(),
            dtmf_pt: self.cfg.media.dtmf_pt,
            ptime: self.cfg.media.ptime,
            direction: Direction::SendRecv,
            opus: self.cfg.media.opus,
            final_codec_only: self.cfg.media.final_codec_only,
        }
    }

    pub(super) fn our_contact(&self) -> String {
        Self::contact_uri(&self.cfg, self.contact_addr())
    }

    pub(super) fn call_event(&mut self, idx: usize) {
        let c = &self.calls[idx];
        self.events.push_back(UaEvent::Call {
            line: c.line,
            state: c.state,
            direction: c.direction,
            peer: c.peer.clone(),
            peer_uri: bare_uri(&c.dialog.remote_uri),
            peer_display: c.peer_display.clone(),
            call_id: c.dialog.call_id.clone(),
            reason: c.end_reason.clone(),
            ended_by_us: c.ended_by_us,
        });
    }

    /// The index of the call on `line`.
    pub(super) fn line_index(&self, line: u32) -> Result<usize, CallError> {
        self.calls
            .iter()
            .position(|c| c.line == line)
            .ok_or(CallError::NoSuchLine(line))
    }

    /// The index of the call whose dialog an in-dialog request belongs to.
    pub(super) fn dialog_index(&self, req: &SipMessage) -> Option<usize> {
        self.calls
            .iter()
            .position(|c| c.dialog.matches_request(req))
    }

    pub(super) fn set_state(&mut self, idx: usize, state: CallState) {
        if state == CallState::Connected {
            self.calls[idx].timers.clear(CallTimer::RingTimeout);
        }
        if self.calls[idx].state != state {
            self.calls[idx].state = state;
            self.call_event(idx);
            self.referred_progress(idx);
        }
        if state == CallState::Terminated {
            if self.calls[idx].negotiated.take().is_some() {
                let line = self.calls[idx].line;
                self.events.push_back(UaEvent::Media {
                    line,
                    negotiated: None,
                });
            }
            let gone = self.calls.remove(idx);
            self.owners.release_session(gone.id);
        }
    }

    pub(super) fn end(&mut self, idx: usize, reason: &str) {
        if self.calls[idx].end_reason.is_empty() {
            self.calls[idx].end_reason = reason.to_string();
        }
        self.set_state(idx, CallState::Terminated);
    }

    pub(super) fn media_update(&mut self, idx: usize, n: sdp::Negotiated) {
        let line = self.calls[idx].line;
        self.calls[idx].negotiated = Some(n.clone());
        self.events.push_back(UaEvent::Media {
            line,
            negotiated: Some(n),
        });
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
        let mut call = Call::new(
            id,
            line,
            CallDirection::Outgoing,
            CallState::Calling,
            dialog,
            (peer, String::new()),
            media,
        );
        call.local_sdp = Some(offer);
        call.session = session;
        call.hop = hop;
        call.session_expires_asked = self.cfg.session_timer.interval;
        call.timers.set_opt(
            CallTimer::RingTimeout,
            self.deadline(now, self.cfg.ring_timeout),
        );
        match origin {
            // A call the far end asked for is not what the user dialled: redial keeps theirs.
            DialOrigin::Referred { by, replaces } => {
                call.referred_by = Some(by);
                call.replaces = replaces;
            }
            // Redialling a pickup would try to take a call that is long gone.
            DialOrigin::Pickup { replaces } => call.replaces = Some(replaces),
            DialOrigin::User => self.last_dialed = Some(target),
        }
        self.calls.push(call);
        let idx = self.calls.len() - 1;
        self.call_event(idx);
        self.send_invite(now, idx, None);
        self.pump(now);
        Ok(line)
    }

    pub(super) fn rng_u64(&mut self) -> u64 {
        use rand::Rng;
        self.rng.random()
    }

    /// Sends the (first or authenticated) INVITE of an outgoing call.
    pub(super) fn send_invite(&mut self, now: Instant, idx: usize, auth: Option<(String, String)>) {
        let c = &mut self.calls[idx];
        // A new INVITE transaction numbers its reliable responses afresh.
        c.last_rseq = None;
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
        let c = &self.calls[idx];
        if let Some(replaces) = &c.replaces {
            req.headers.push("Replaces", replaces.clone());
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
        c.invite = key.as_ref().map(|_| req);
        match key {
            Some(key) => self
                .owners
                .own(key, Usage::Session(c.id, SessionTx::Invite)),
            None => self.end(idx, "could not send the INVITE"),
        }
    }

    /// Hangs up, cancels or rejects the call on `line`, whatever its state.
    pub fn hangup(&mut self, now: Instant, line: u32) -> Result<(), CallError> {
        let idx = self.line_index(line)?;
        self.calls[idx].ended_by_us = true;
        match self.calls[idx].state {
            CallState::Incoming => self.reject_with(now, idx, 486, "rejected"),
            CallState::Calling | CallState::Proceeding | CallState::Ringing => {
                if self.calls[idx].got_provisional {
                    self.send_cancel(now, idx);
                } else {
                    // RFC 3261 §9.1: no CANCEL before a provisional response; sent when one comes.
                    self.calls[idx].cancel_pending = true;
                }
                if self.calls[idx].end_reason.is_empty() {
                    self.calls[idx].end_reason = "cancelled".into();
                }
                self.set_state(idx, CallState::Terminating);
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

    pub(super) fn send_cancel(&mut self, now: Instant, idx: usize) {
        let Some(invite) = self.calls[idx].invite.clone() else {
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
        let seq = invite
            .headers
            .get("CSeq")
            .and_then(|c| CSeq::parse(c).ok())
            .map(|c| c.seq)
            .unwrap_or(1);
        cancel.headers.push("CSeq", format!("{seq} CANCEL"));
        if let Some(dest) = self.call_hop(idx) {
            let _ = self.layer.send_request(now, cancel, dest);
        }
    }

    pub(super) fn send_bye(&mut self, now: Instant, idx: usize) {
        let bye = self.calls[idx].dialog.request(Method::Bye);
        self.calls[idx].ok_retransmit = None;
        let sent = self.send_session_request(now, idx, bye, SessionTx::Bye);
        self.set_state(idx, CallState::Terminating);
        if !sent {
            self.end(idx, "could not send BYE");
        }
    }

    /// The call and request a client transaction belongs to, when a session sent it.
    fn tx_owner(&self, key: &TxKey) -> Option<(Option<usize>, SessionTx)> {
        match self.owners.owner(key)? {
            Usage::Session(id, tx) => Some((self.session_index(id), tx)),
            Usage::Registration | Usage::Capability => None,
        }
    }

    /// A response on one of the calls' client transactions. Gives false when none matched.
    pub(super) fn call_response(&mut self, now: Instant, key: &TxKey, resp: &SipMessage) -> bool {
        let Some((idx, tx)) = self.tx_owner(key) else {
            return false;
        };
        // The call ended while its request was out (a NOTIFY after the BYE): nothing to do.
        let Some(idx) = idx else {
            return true;
        };
        let is_final = resp.status().unwrap_or(0) >= 200;
        if is_final && tx != SessionTx::Invite && tx != SessionTx::Reinvite {
            self.owners.release(key);
        }
        match tx {
            SessionTx::Invite => self.invite_response(now, idx, resp),
            SessionTx::Reinvite => {
                let id = self.calls[idx].id;
                self.reinvite_response(now, idx, resp);
                // A transfer waiting for its hold goes on once the re-INVITE is answered.
                if let Some(idx) = self.session_index(id) {
                    self.transfer_step(now, idx);
                }
            }
            SessionTx::Info if is_final => self.next_info(now, idx),
            SessionTx::Bye if is_final => self.end(idx, "hung up"),
            SessionTx::Refer => self.refer_response(now, idx, resp),
            SessionTx::Notify if is_final => self.notify_done(now, idx),
            SessionTx::Update => self.update_response(now, idx, resp),
            SessionTx::Info | SessionTx::Bye | SessionTx::Notify | SessionTx::Prack => {}
        }
        true
    }

    pub(super) fn invite_response(&mut self, now: Instant, idx: usize, resp: &SipMessage) {
        let code = resp.status().unwrap_or(0);
        match code {
            100..=199 => {
                self.calls[idx].got_provisional = true;
                if self.calls[idx].cancel_pending {
                    self.calls[idx].cancel_pending = false;
                    self.send_cancel(now, idx);
                    return;
                }
                if self.calls[idx].state == CallState::Terminating {
                    return;
                }
                if code > 100
                    && let Some(tag) = tag_of(resp.headers.get("To"))
                {
                    self.calls[idx].dialog.remote_tag = Some(tag);
                }
                self.prack_provisional(now, idx, resp);
                // 180 rings; other provisionals as `changesptoring` says (see UaConfig).
                let mode = if code == 180 {
                    2
                } else {
                    self.cfg.progress_mode
                };
                let (rings, early_media) = match (code, mode) {
                    (100, _) => (false, false),
                    (_, 0) => (false, false),
                    (_, 1) => (true, false),
                    (_, 3) => (false, true),
                    _ => (true, true),
                };
                if early_media
                    && let Some(body) = sdp_body(resp)
                    && let Ok(n) = sdp::parse(&body)
                        .and_then(|a| sdp::accept_answer(&a, &self.calls[idx].media))
                {
                    self.media_update(idx, n);
                }
                // Once ringing, a later provisional does not make it "proceeding" again.
                let state = if rings || self.calls[idx].state == CallState::Ringing {
                    CallState::Ringing
                } else {
                    CallState::Proceeding
                };
                self.set_state(idx, state);
            }
            200..=299 => self.invite_ok(now, idx, resp),
            401 | 407
                if self.calls[idx].auth_tries == 0
                    && self.calls[idx].state != CallState::Terminating =>
            {
                let c = &self.calls[idx];
                let (uri, body) = (
                    c.dialog.remote_target.clone(),
                    c.local_sdp.clone().unwrap_or_default(),
                );
                match self.answer_challenge(resp, "INVITE", &uri, body.as_bytes()) {
                    Ok((name, value)) => {
                        let c = &mut self.calls[idx];
                        c.auth_tries += 1;
                        c.dialog.local_cseq += 1;
                        self.send_invite(now, idx, Some((name.to_string(), value)));
                    }
                    Err(why) => self.end(idx, &format!("{code} {} ({why})", resp.reason())),
                }
            }
            300..=399 if self.follow_redirect(now, idx, resp) => {}
            422 if self.retry_after_422(now, idx, resp) => {}
            _ => {
                let reason = format!("{code} {}", resp.reason());
                self.end(idx, &reason);
            }
        }
    }

    pub(super) fn invite_ok(&mut self, now: Instant, idx: usize, resp: &SipMessage) {
        let tag = tag_of(resp.headers.get("To"));
        let c = &self.calls[idx];
        // A 2xx from a second fork (another tag): ACK it and hang that leg up (first wins).
        if c.ack.is_some() && tag.is_some() && tag != c.dialog.remote_tag {
            let mut other = c.dialog.clone();
            let cseq = other.confirm(resp);
            let ack = other.ack(cseq);
            self.send_call_request(now, idx, ack);
            let bye = other.request(Method::Bye);
            self.send_call_request(now, idx, bye);
            return;
        }
        if let Some(ack) = self.calls[idx].ack.clone() {
            // A retransmitted 2xx: our ACK got lost.
            self.resend(now, idx, ack);
            return;
        }
        let c = &mut self.calls[idx];
        let cseq = c.dialog.confirm(resp);
        c.peer_allows_update = allows_update(resp);
        let ack = c.dialog.ack(cseq);
        c.ack = Some(ack.clone());
        self.send_call_request(now, idx, ack);
        let cancelled = self.calls[idx].state == CallState::Terminating;
        let media = sdp_body(resp)
            .ok_or(SdpError::NoAudio)
            .and_then(|b| sdp::parse(&b))
            .and_then(|a| sdp::accept_answer(&a, &self.calls[idx].media));
        match media {
            Ok(n) if !cancelled => {
                self.media_update(idx, n);
                let limit = self.deadline(now, self.cfg.call_timeout);
                self.calls[idx].timers.set_opt(CallTimer::CallLimit, limit);
                self.session_timer_uac(now, idx, resp);
                self.set_state(idx, CallState::Connected);
            }
            Ok(_) => self.send_bye(now, idx),
            Err(e) => {
                self.calls[idx].end_reason = format!("unusable answer: {e}");
                self.send_bye(now, idx);
            }
        }
    }

    /// Sends a request that was built before (an ACK again) with a fresh Via.
    pub(super) fn resend(&mut self, now: Instant, idx: usize, mut req: SipMessage) {
        req.headers.remove("Via");
        self.send_call_request(now, idx, req);
    }

    /// Where `idx`'s requests go: its own hop, else the configured server.
    pub(super) fn call_hop(&self, idx: usize) -> Option<Destination> {
        self.calls
            .get(idx)
            .and_then(|c| c.hop)
            .or(self.cfg.first_hop)
    }

    /// Sends a request of call `idx` on a new client transaction owned by the session as
    /// `tx`. Gives false when it could not be sent.
    pub(super) fn send_session_request(
        &mut self,
        now: Instant,
        idx: usize,
        req: SipMessage,
        tx: SessionTx,
    ) -> bool {
        let id = self.calls[idx].id;
        match self.send_call_request(now, idx, req) {
            Some(key) => {
                self.owners.own(key, Usage::Session(id, tx));
                true
            }
            None => false,
        }
    }

    /// The index of the session `id`, while it exists.
    pub(super) fn session_index(&self, id: SessionId) -> Option<usize> {
        self.calls.iter().position(|c| c.id == id)
    }

    /// A new stable session id.
    pub(super) fn new_session_id(&mut self) -> SessionId {
        self.next_session += 1;
        SessionId(self.next_session)
    }

    /// Prepares and sends a request of call `idx` on a new client transaction.
    pub(super) fn send_call_request(
        &mut self,
        now: Instant,
        idx: usize,
        mut req: SipMessage,
    ) -> Option<TxKey> {
        let dest = self.call_hop(idx)?;
        self.prepare_request(&mut req);
        self.layer.send_request(now, req, dest).ok().flatten()
    }

    /// A 2xx that matched no transaction: a retransmission after the INVITE transaction ended.
    pub(super) fn stray_response(&mut self, now: Instant, resp: &SipMessage) {
        if !(200..300).contains(&resp.status().unwrap_or(0)) {
            return;
        }
        let call_id = resp.headers.get("Call-ID");
        if let Some(idx) = self
            .calls
            .iter()
            .position(|c| Some(c.dialog.call_id.as_str()) == call_id)
            && let Some(ack) = self.calls[idx].ack.clone()
        {
            self.resend(now, idx, ack);
        }
    }

    /// A client transaction of a call timed out or failed.
    pub(super) fn call_no_response(&mut self, now: Instant, key: &TxKey, why: &str) -> bool {
        let Some((idx, tx)) = self.tx_owner(key) else {
            return false;
        };
        self.owners.release(key);
        let Some(idx) = idx else {
            return true;
        };
        match tx {
            SessionTx::Info => {
                let c = &mut self.calls[idx];
                c.info_queue.clear();
                self.events.push_back(UaEvent::CommandFailed {
                    error: format!("DTMF by INFO on line {}: {why}", c.line),
                });
            }
            SessionTx::Reinvite if !self.calls[idx].reinvite_pending => {}
            SessionTx::Reinvite => self.end(idx, &format!("re-INVITE: {why}")),
            SessionTx::Invite | SessionTx::Bye => self.end(idx, why),
            SessionTx::Refer => self.refer_failed(now, idx, why),
            // The transferor did not hear how its transfer went; the call it asked for goes on.
            SessionTx::Notify => self.notify_done(now, idx),
            // A lost PRACK: the far end resends its response, which is PRACKed again only if
            // it is the next one; its INVITE transaction decides the call's fate.
            SessionTx::Prack => {}
            // A refresh nobody answered (RFC 4028 §10: 408 ends the session).
            SessionTx::Update => {
                self.calls[idx].refresh_pending = false;
                self.calls[idx].end_reason = format!("session refresh: {why}");
                self.send_bye(now, idx);
            }
        }
        true
    }

    /// An INVITE, BYE or CANCEL for the call layer. Gives the response for the server
    /// transaction, or `None` when the call layer answers itself (ringing, later answer).
    pub(super) fn call_request(
        &mut self,
        now: Instant,
        key: &TxKey,
        req: &SipMessage,
        source: Destination,
        tag: &str,
    ) -> Option<SipMessage> {
        match req.method()? {
            Method::Invite if !req.headers.get("To").is_some_and(has_tag) => {
                self.incoming_invite(now, key, req, source, tag)
            }
            Method::Invite | Method::Update => Some(self.reinvite(now, req, source, tag)),
            Method::Bye => {
                let Some(idx) = self.dialog_index(req) else {
                    return Some(response_to(req, 481, None, Some(tag)));
                };
                self.end(idx, "remote hung up");
                Some(response_to(req, 200, None, None))
            }
            Method::Prack => Some(self.incoming_prack(req, tag)),
            Method::Info => {
                let Some(idx) = self.dialog_index(req) else {
                    return Some(response_to(req, 481, None, Some(tag)));
                };
                Some(self.incoming_info(idx, req))
            }
            Method::Refer if !req.headers.get("To").is_some_and(has_tag) => Some(response_to(
                req,
                403,
                Some("Forbidden (a REFER outside a call is not followed)"),
                Some(tag),
            )),
            Method::Refer | Method::Notify => {
                let Some(idx) = self.dialog_index(req) else {
                    return Some(response_to(req, 481, None, Some(tag)));
                };
                Some(if req.method() == Some(&Method::Refer) {
                    self.incoming_refer(idx, req)
                } else {
                    self.incoming_notify(now, idx, req)
                })
            }
            Method::Cancel => {
                let invite_key = self.layer.invite_for_cancel(key);
                let idx = self
                    .calls
                    .iter()
                    .position(|c| c.server_tx.is_some() && c.server_tx == invite_key);
                match (idx, invite_key) {
                    (Some(idx), _) if self.calls[idx].state == CallState::Incoming => {
                        self.reject_with(now, idx, 487, "caller cancelled");
                        Some(response_to(req, 200, None, Some(tag)))
                    }
                    (_, Some(_)) => Some(response_to(req, 200, None, Some(tag))),
                    _ => Some(response_to(req, 481, None, Some(tag))),
                }
            }
            _ => None,
        }
    }
}
