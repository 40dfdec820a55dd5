//! One call: its dialog (RFC 3261 §12: Call-ID, tags, CSeq, remote target, route set), its
//! session phase and offer/answer state (`session_state.rs`, data-carrying enums), and what
//! lives across phases (media, timers, transfer). The UA drives it, one file per operation
//! (`ua/dial.rs`, `ua/incoming.rs`, `ua/modify.rs`, `ua/refer.rs`, `ua/replaces.rs`,
//! `ua/prack.rs`, `ua/close.rs`); this file only holds the data and builds in-dialog requests.

use super::call_timers::TimerTable;
use super::message::SipMessage;
use super::refer::{ReferIn, TransferOut};
use super::session_expires::SessionTimer;
use super::session_state::{OfferAnswer, SessionState};
use crate::sdp::{LocalMedia, Negotiated};
use std::time::{Duration, Instant};

pub use super::dialog::Dialog;
pub use crate::model::{CallDirection, CallState};

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
