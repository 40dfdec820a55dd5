//! One call: its dialog (RFC 3261 §12: Call-ID, tags, CSeq, remote target, route set), its
//! session phase and offer/answer state (`session_state.rs`, data-carrying enums), and what
//! lives across phases (media, timers, transfer). The UA drives it, one file per operation
//! (`ua/dial.rs`, `ua/incoming.rs`, `ua/modify.rs`, `ua/refer.rs`, `ua/replaces.rs`,
//! `ua/prack.rs`, `ua/close.rs`); this file only holds the data and builds in-dialog requests.

use super::call_timers::TimerTable;
use super::headers::{CSeq, NameAddr};
use super::message::{Method, SipMessage};
use super::refer::{ReferIn, TransferOut};
use super::session_expires::SessionTimer;
use super::session_state::{OfferAnswer, SessionState};
use crate::sdp::{LocalMedia, Negotiated};
use std::time::{Duration, Instant};

pub use crate::model::{CallDirection, CallState};

/// The dialog identifiers and routing (RFC 3261 §12.1).
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    /// Our address (From on outgoing requests), without tag.
    pub local_uri: String,
    /// The peer's address (To on outgoing requests), without tag.
    pub remote_uri: String,
    /// Request-URI of in-dialog requests: the peer's Contact.
    pub remote_target: String,
    /// Route headers for in-dialog requests, in order.
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    pub remote_cseq: Option<u32>,
    /// Our Contact URI.
    pub contact: String,
}

impl Dialog {
    /// A new in-dialog request (BYE, re-INVITE) with the next CSeq; the UA adds Via.
    pub fn request(&mut self, method: Method) -> SipMessage {
        self.local_cseq = self.local_cseq.wrapping_add(1).max(1);
        self.request_with_cseq(method, self.local_cseq)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `cseq` (§13.2.2.4).
    pub fn ack(&self, cseq: u32) -> SipMessage {
        self.request_with_cseq(Method::Ack, cseq)
    }

    fn request_with_cseq(&self, method: Method, cseq: u32) -> SipMessage {
        let mut m = SipMessage::request(method.clone(), self.remote_target.clone());
        m.headers.push("Max-Forwards", "70");
        for r in &self.route_set {
            m.headers.push("Route", r.clone());
        }
        m.headers
            .push("From", format!("{};tag={}", self.local_uri, self.local_tag));
        let to = match &self.remote_tag {
            Some(t) => format!("{};tag={t}", self.remote_uri),
            None => self.remote_uri.clone(),
        };
        m.headers.push("To", to);
        m.headers.push("Call-ID", self.call_id.clone());
        m.headers.push("CSeq", format!("{cseq} {method}"));
        m.headers.push("Contact", format!("<{}>", self.contact));
        m
    }

    /// Completes the dialog from a 2xx to our INVITE (§12.1.2): the peer's tag, its Contact as
    /// remote target, the Record-Route in reverse as route set. Gives the INVITE's CSeq number,
    /// which the ACK repeats.
    pub fn confirm(&mut self, resp: &SipMessage) -> u32 {
        self.remote_tag = resp
            .headers
            .get("To")
            .and_then(|v| NameAddr::parse("To", v).ok())
            .and_then(|n| n.tag().map(str::to_string));
        if let Some(target) = resp
            .headers
            .list("Contact")
            .first()
            .and_then(|c| NameAddr::parse("Contact", c).ok())
        {
            self.remote_target = target.uri.to_string();
        }
        self.route_set = resp
            .headers
            .list("Record-Route")
            .into_iter()
            .rev()
            .collect();
        CSeq::of(resp).map(|c| c.seq).unwrap_or(1)
    }

    /// Whether an in-dialog request from the peer belongs to this dialog: same Call-ID, its
    /// From tag is our remote tag, its To tag is our local tag.
    pub fn matches_request(&self, req: &SipMessage) -> bool {
        let tag = |h: &str| {
            req.headers
                .get(h)
                .and_then(|v| NameAddr::parse("From", v).ok())
                .and_then(|n| n.tag().map(str::to_string))
        };
        req.headers.get("Call-ID") == Some(self.call_id.as_str())
            && tag("To").as_deref() == Some(self.local_tag.as_str())
            && tag("From") == self.remote_tag
    }
}

/// The UAS's own 2xx retransmission until the ACK comes (§13.3.1.4).
#[derive(Debug, Clone)]
pub struct OkRetransmit {
    pub response: SipMessage,
    /// Where it goes (the Via's sent-by of the request it answers).
    pub dest: Option<crate::sip::transport::Destination>,
    pub next: Instant,
    pub interval: Duration,
    pub give_up: Instant,
}

pub use super::session_id::SessionId;

/// One call on one line.
#[derive(Debug)]
pub struct Call {
    pub id: SessionId,
    pub line: u32,
    pub direction: CallDirection,
    /// Where the INVITE session stands, with what that phase needs (see `session_state.rs`).
    pub phase: SessionState,
    /// The RFC 3264 offer/answer state.
    pub offer_answer: OfferAnswer,
    /// The state the user was last told (an event goes out when `state()` differs).
    pub reported: CallState,
    pub dialog: Dialog,
    /// The peer as shown to the user: user part or number.
    pub peer: String,
    pub peer_display: String,
    pub media: LocalMedia,
    pub local_sdp: Option<String>,
    pub negotiated: Option<Negotiated>,
    pub session: (u64, u64),
    /// Where this call's requests go when not to the configured server: the host of a SIP
    /// URI dialled directly, or the caller of an incoming call when there is no server.
    pub hop: Option<crate::sip::transport::Destination>,
    /// Our 2xx to an INVITE or re-INVITE, resent until its ACK (§13.3.1.4).
    pub ok_retransmit: Option<OkRetransmit>,
    /// The hold (`true`) or resume the user asked for that is not in place yet.
    pub hold_wanted: Option<bool>,
    /// We hold the peer / the peer holds us.
    pub local_hold: bool,
    pub remote_hold: bool,
    /// DTMF digits waiting to go out as SIP INFO, one transaction at a time.
    pub info_queue: std::collections::VecDeque<char>,
    /// Why the call ended, for the user.
    pub end_reason: String,
    /// We ended it (hung up, cancelled, rejected, a timeout of ours) rather than the far end.
    pub ended_by_us: bool,
    /// The call's named timers (ring and call limits, glare retry, auto-answer, reliable
    /// provisional resends, session refresh and expiry).
    pub timers: TimerTable,
    /// The RFC 4028 session timer agreed for this call, when there is one.
    pub session_timer: Option<SessionTimer>,
    /// The far end's Allow names UPDATE: sessions are refreshed by UPDATE, not re-INVITE.
    pub peer_allows_update: bool,
    /// We are transferring this call's peer elsewhere.
    pub transfer: Option<TransferOut>,
    /// The peer asked us by REFER to call someone else.
    pub refer_in: Option<ReferIn>,
    /// We followed the peer's REFER and reached the target: once the final NOTIFY is
    /// answered this call is hung up.
    pub transferred_away: bool,
    /// This call was placed for the REFER of session `.0`: its progress is NOTIFYd there.
    pub referred_by: Option<SessionId>,
    /// Incoming: this call replaces session `.0` (RFC 3891), hung up once this one is up.
    pub replacing: Option<SessionId>,
}

impl Call {
    /// A call with nothing sent or received yet beyond what the caller fills in later.
    pub fn new(
        id: SessionId,
        line: u32,
        direction: CallDirection,
        phase: SessionState,
        dialog: Dialog,
        (peer, peer_display): (String, String),
        media: LocalMedia,
    ) -> Call {
        Call {
            id,
            line,
            direction,
            reported: phase.user_state(),
            phase,
            offer_answer: OfferAnswer::Stable,
            dialog,
            peer,
            peer_display,
            media,
            local_sdp: None,
            negotiated: None,
            session: (0, 0),
            hop: None,
            ok_retransmit: None,
            hold_wanted: None,
            local_hold: false,
            remote_hold: false,
            info_queue: Default::default(),
            end_reason: String::new(),
            ended_by_us: false,
            timers: TimerTable::default(),
            session_timer: None,
            peer_allows_update: false,
            transfer: None,
            refer_in: None,
            transferred_away: false,
            referred_by: None,
            replacing: None,
        }
    }

    /// The state shown to the user, from the session's phase.
    pub fn state(&self) -> CallState {
        self.phase.user_state()
    }

    /// The next instant this call needs the clock.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.ok_retransmit.as_ref().map(|o| o.next.min(o.give_up)),
            // A transfer waits for its hold's re-INVITE before its own time matters.
            self.transfer
                .as_ref()
                .and_then(TransferOut::deadline)
                .filter(|_| !self.phase.reinvite_open()),
            self.timers.next(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
