//! The UA core's interface to its driver: the commands it takes and the events it reports.

use super::super::call::{CallDirection, CallState};
use crate::sdp::Negotiated;
use std::net::SocketAddr;
use std::time::Duration;

/// Commands the engine gives the UA core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UaCommand {
    Register,
    Unregister,
    /// Send OPTIONS to the server and report the answer.
    CapabilityRequest,
    /// Hang up every call, unregister (if configured) and stop, within `wait_for_unregister`.
    Shutdown,
    /// Call `target` (number, user, `user@host` or SIP URI) with media on `rtp_port`.
    Dial {
        target: String,
        rtp_port: u16,
    },
    /// Answer the ringing call on `line` with media on `rtp_port`.
    Answer {
        line: u32,
        rtp_port: u16,
    },
    /// Hang up, cancel or reject the call on `line`.
    Hangup {
        line: u32,
    },
}

/// What the UA core reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UaEvent {
    /// A text message (MESSAGE) came: `line` is that of a call with the same peer, if any.
    MessageReceived {
        line: Option<u32>,
        from: String,
        display: String,
        text: String,
    },
    /// How our message `tag` to `to` went: its final response (`code` 0 when none came).
    MessageDelivery {
        tag: u64,
        to: String,
        /// What was sent (kept in the chat history once delivered).
        text: String,
        delivered: bool,
        code: u16,
        reason: String,
    },
    /// Someone asks to watch our presence and waits for the user's word (AllowWatcher).
    WatcherRequest {
        watcher: String,
    },
    /// Who watches our presence changed: the presence server's list (presence.winfo) and our
    /// own peer-to-peer watchers, in that order.
    Watchers {
        watchers: Vec<crate::model::Watcher>,
    },
    /// A watched extension's busy lamp changed.
    BusyLamp {
        user: String,
        state: crate::model::LampState,
        pickup: bool,
    },
    /// A watched contact's presence.
    Presence {
        user: String,
        status: crate::model::PresenceStatus,
        note: String,
    },
    /// Our presence document is at the server.
    PresencePublished {
        status: crate::model::PresenceStatus,
    },
    /// Publishing our presence failed; tried again in `retry_in`.
    PublishFailed {
        reason: String,
        retry_in: Option<std::time::Duration>,
    },
    /// The voicemail box's message summary (RFC 3842).
    MessageWaiting {
        summary: crate::model::MessageWaiting,
    },
    /// A subscription's status changed (`event` package, `target` resource).
    Subscription {
        event: String,
        target: String,
        status: crate::sip::subscription::SubStatus,
    },
    Registering,
    Registered {
        expires: u32,
    },
    RegisterFailed {
        code: u16,
        reason: String,
        retry_in: Option<Duration>,
    },
    Unregistered,
    /// The answer to an OPTIONS capability request (408 when none came).
    CapabilityResponse {
        code: u16,
        reason: String,
        allow: Option<String>,
    },
    /// rport/received showed a public address that is now used in Contact.
    PublicAddress {
        addr: SocketAddr,
    },
    /// Input that could not be parsed; answered with `answered` when a response was possible.
    Malformed {
        source: SocketAddr,
        error: String,
        answered: Option<u16>,
    },
    /// A request was answered by the UAS core with an error or refusal.
    RequestRejected {
        method: String,
        code: u16,
    },
    /// Shutdown finished; the driver may exit.
    Stopped,
    /// A call changed state.
    Call {
        line: u32,
        state: CallState,
        direction: CallDirection,
        peer: String,
        peer_display: String,
        call_id: String,
        /// The peer's address (the dialog's remote URI).
        peer_uri: String,
        /// Why it ended (on Terminated).
        reason: String,
        /// On Terminated: we ended it (else the far end or the network did).
        ended_by_us: bool,
    },
    /// Media for `line` starts or changes (`Some`) or stops (`None`).
    Media {
        line: u32,
        negotiated: Option<Negotiated>,
    },
    /// A command could not be carried out.
    CommandFailed {
        error: String,
    },
    /// A transfer of the call on `line` moved on (we transfer its peer, or its peer transfers
    /// us).
    Transfer {
        line: u32,
        step: crate::model::TransferStep,
    },
    /// An incoming call was turned away before it rang: declined (blacklist, 603), forwarded
    /// (302), or no media both sides take (488: codecs, SRTP).
    CallRefused {
        peer: String,
        code: u16,
        why: String,
    },
    /// The incoming call on `line` (reported next) replaces one of ours (INVITE with
    /// Replaces): it is answered at once, and the call it replaces is hung up once it is up.
    Replacing {
        line: u32,
    },
    /// The incoming call on `line` (reported just before) was passed on to us by another
    /// number (`Diversion` / `History-Info`).
    Diverted {
        line: u32,
        diversion: crate::sip::diversion::Diversion,
    },
    /// The server asked for the incoming call on `line` to be answered by itself
    /// (`P-Auto-Answer`, `Call-Info: ...;answer-after=N`, `Alert-Info` auto-answer forms): now,
    /// or once `answer-after` has passed. Reported before the call's first event when it is
    /// to be answered at once, so that it does not ring.
    AutoAnswer {
        line: u32,
    },
    /// The peer on `line` asked us to call someone (REFER, accepted): the driver binds media
    /// and calls [`UserAgent::follow_refer`].
    Referred {
        line: u32,
    },
    /// A DTMF digit arrived by SIP INFO.
    Dtmf {
        line: u32,
        digit: char,
    },
    /// Hold changed on `line`: we hold the peer (`local`) and/or the peer holds us (`remote`).
    Hold {
        line: u32,
        local: bool,
        remote: bool,
    },
    /// The server sent parameters in `x-mparam` (`persist` false) or `x-mparamp` (true)
    /// headers of a final response to our REGISTER or OPTIONS.
    ServerParameters {
        params: Vec<(String, String)>,
        persist: bool,
    },
}
