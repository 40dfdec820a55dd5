//! The UA's call handling common to every operation: the INVITE's provisional and final
//! responses (with the 401/407, 3xx and 422 retries), ACK for 2xx, forked 2xx beyond the first
//! ACKed and hung up, routing of client-transaction answers to the session that sent them, and
//! the dispatch of in-dialog requests. Placing a call is in `dial.rs`, answering in
//! `incoming.rs`, hanging up in `close.rs`. Lines are numbered 1..=maxlines.

use super::fields::{allows_update, bare_uri, sdp_body, tag_of};
use super::owners::{SessionTx, Usage};
use super::{UaEvent, UserAgent};
use crate::sdp::{self, Direction, LocalMedia, LocalSrtp, SdpError};
use crate::sip::builder::{has_tag, response_to};
use crate::sip::call::{CallState, SessionId};
use crate::sip::call_timers::CallTimer;
use crate::sip::message::{Method, SipMessage};
use crate::sip::session_state::{
    Confirmed, Modify, OfferAnswer, Progress, SessionState, Terminating,
};
use crate::sip::transaction::TxKey;
use crate::sip::transport::Destination;
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
    #[error(
        "SRTP is mandatory, but its keys may not travel in unencrypted SIP (srtpkeysinclear=0): no call is placed"
    )]
    SrtpUnkeyed,
}

impl UserAgent {
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
            cn: self.cfg.media.cn,
            ptime: self.cfg.media.ptime,
            direction: Direction::SendRecv,
            opus: self.cfg.media.opus,
            final_codec_only: self.cfg.media.final_codec_only,
            srtp: LocalSrtp::with_keying(
                self.cfg.media.srtp,
                &self.cfg.media.srtp_suites,
                self.cfg.media.srtp_sdes,
                self.cfg.media.dtls.clone(),
            )
            .unwrap_or_else(|e| {
                // Without keys an optional call goes clear and a mandatory one cannot be
                // agreed (the answer or offer is refused), never a call with a weak key.
                tracing::error!("no SRTP keys for the call: {e}");
                LocalSrtp {
                    policy: self.cfg.media.srtp,
                    sdes_wanted: self.cfg.media.srtp_sdes,
                    ..LocalSrtp::default()
                }
            }),
        }
    }

    pub(super) fn our_contact(&self) -> String {
        Self::contact_uri(&self.cfg, self.contact_addr())
    }

    /// Tells the user the call's state (and records it as told).
    pub(super) fn call_event(&mut self, idx: usize) {
        let c = &mut self.calls[idx];
        c.reported = c.state();
        let c = &self.calls[idx];
        self.events.push_back(UaEvent::Call {
            line: c.line,
            state: c.state(),
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

    /// Moves call `idx` to `phase` and reports what changed (see [`UserAgent::report`]).
    pub(super) fn enter(&mut self, idx: usize, phase: SessionState) {
        self.calls[idx].phase = phase;
        self.report(idx);
    }

    /// After call `idx`'s phase changed: the user hears of a new state, a REFER that asked
    /// for the call hears of its progress, and a call that is over leaves the UA.
    pub(super) fn report(&mut self, idx: usize) {
        let state = self.calls[idx].state();
        if state == CallState::Connected {
            self.calls[idx].timers.clear(CallTimer::RingTimeout);
        }
        if self.calls[idx].reported != state {
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

    pub(super) fn media_update(&mut self, idx: usize, n: sdp::Negotiated) {
        let line = self.calls[idx].line;
        self.calls[idx].negotiated = Some(n.clone());
        self.events.push_back(UaEvent::Media {
            line,
            negotiated: Some(n),
        });
    }

    pub(super) fn rng_u64(&mut self) -> u64 {
        use rand::Rng;
        self.rng.random()
    }

    /// The call and request a client transaction belongs to, when a session sent it.
    fn tx_owner(&self, key: &TxKey) -> Option<(Option<usize>, SessionTx)> {
        match self.owners.owner(key)? {
            Usage::Session(id, tx) => Some((self.session_index(id), tx)),
            Usage::Registration
            | Usage::Capability
            | Usage::Pager(_)
            | Usage::Subscription(_)
            | Usage::Publication
            | Usage::Watcher(_) => None,
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
                match &mut self.calls[idx].phase {
                    SessionState::Calling(_) => {}
                    // The provisional a held-back CANCEL waited for (RFC 3261 §9.1).
                    SessionState::Terminating(Terminating::Cancelling { cancel_sent, .. }) => {
                        if !std::mem::replace(cancel_sent, true) {
                            self.send_cancel(now, idx);
                        }
                        return;
                    }
                    _ => return,
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
                if let Some(o) = self.calls[idx].phase.outgoing_mut() {
                    o.progress = if rings || o.progress == Progress::Ringing {
                        Progress::Ringing
                    } else {
                        Progress::Proceeding
                    };
                }
                self.report(idx);
            }
            200..=299 => self.invite_ok(now, idx, resp),
            401 | 407 if matches!(self.calls[idx].phase, SessionState::Calling(_)) => {
                let c = &mut self.calls[idx];
                let (uri, body) = (
                    c.dialog.remote_target.clone(),
                    c.local_sdp.clone().unwrap_or_default(),
                );
                let mut auth = c
                    .phase
                    .outgoing_mut()
                    .map(|o| std::mem::take(&mut o.auth))
                    .unwrap_or_default();
                let answer =
                    self.answer_challenge(&mut auth, resp, ("INVITE", &uri, body.as_bytes()));
                let c = &mut self.calls[idx];
                if let Some(o) = c.phase.outgoing_mut() {
                    o.auth = auth;
                }
                match answer {
                    Ok((name, value)) => {
                        c.dialog.local_cseq += 1;
                        self.send_invite(now, idx, Some((name.to_string(), value)));
                    }
                    Err(why) => self.end(idx, &format!("{code} {} ({why})", resp.reason())),
                }
            }
            300..=399 if self.follow_redirect(now, idx, resp) => {}
            422 if self.retry_after_422(now, idx, resp) => {}
            500 | 503 | 504 if self.invite_fail_over(now, idx, code) => {}
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
        if c.phase.ack().is_some() && tag.is_some() && tag != c.dialog.remote_tag {
            let mut other = c.dialog.clone();
            let cseq = other.confirm(resp);
            let ack = other.ack(cseq);
            self.send_call_request(now, idx, ack);
            let bye = other.request(Method::Bye);
            self.send_call_request(now, idx, bye);
            return;
        }
        if let Some(ack) = c.phase.ack().cloned() {
            // A retransmitted 2xx: our ACK got lost.
            self.resend(now, idx, ack);
            return;
        }
        if c.phase.outgoing().is_none() {
            // A 2xx for an INVITE of a call that has moved on (answered by BYE before it).
            return;
        }
        let c = &mut self.calls[idx];
        let cseq = c.dialog.confirm(resp);
        c.peer_allows_update = allows_update(resp);
        let ack = c.dialog.ack(cseq);
        self.send_call_request(now, idx, ack.clone());
        let cancelled = matches!(self.calls[idx].phase, SessionState::Terminating(_));
        self.calls[idx].offer_answer = OfferAnswer::Stable;
        let media = sdp_body(resp)
            .ok_or(SdpError::NoAudio)
            .and_then(|b| sdp::parse(&b))
            .and_then(|a| sdp::accept_answer(&a, &self.calls[idx].media));
        let hung_up = SessionState::Terminating(Terminating::Bye {
            ack: Some(ack.clone()),
        });
        match media {
            Ok(n) if !cancelled => {
                self.media_update(idx, n);
                let limit = self.deadline(now, self.cfg.call_timeout);
                self.calls[idx].timers.set_opt(CallTimer::CallLimit, limit);
                self.session_timer_uac(now, idx, resp);
                self.enter(
                    idx,
                    SessionState::Confirmed(Confirmed {
                        ack: Some(ack),
                        modify: Modify::Idle,
                    }),
                );
            }
            Ok(_) => {
                self.calls[idx].phase = hung_up;
                self.send_bye(now, idx);
            }
            Err(e) => {
                self.calls[idx].end_reason = format!("unusable answer: {e}");
                self.calls[idx].phase = hung_up;
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
            && let Some(ack) = self.calls[idx].phase.ack().cloned()
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
            SessionTx::Reinvite
                if !matches!(
                    self.calls[idx].phase.modify(),
                    Some(Modify::Reinviting { .. })
                ) => {}
            SessionTx::Reinvite => self.end(idx, &format!("re-INVITE: {why}")),
            // No answer or no connection: the next server of the domain, if there is one.
            SessionTx::Invite if self.invite_fail_over(now, idx, 0) => {}
            SessionTx::Invite | SessionTx::Bye => self.end(idx, why),
            SessionTx::Refer => self.refer_failed(now, idx, why),
            // The transferor did not hear how its transfer went; the call it asked for goes on.
            SessionTx::Notify => self.notify_done(now, idx),
            // A lost PRACK: the far end resends its response, which is PRACKed again only if
            // it is the next one; its INVITE transaction decides the call's fate.
            SessionTx::Prack => {}
            // A refresh nobody answered (RFC 4028 §10: 408 ends the session).
            SessionTx::Update => {
                self.update_done(idx);
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
                let idx = self.calls.iter().position(|c| {
                    c.phase
                        .incoming()
                        .is_some_and(|i| Some(&i.server_tx) == invite_key.as_ref())
                });
                match (idx, invite_key) {
                    (Some(idx), _) => {
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
