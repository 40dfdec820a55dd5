//! What the engine reports. Each event says one thing in typed fields; the faces read the
//! fields (through [`crate::model::PhoneState::apply`] or directly), never display text.

use super::cdr::Cdr;
use super::chat::ChatMessage;
use super::command::RequestId;
use super::contact::{Contact, ContactFormat};
use super::modes::{LampState, PresenceStatus};
use serde::{Deserialize, Serialize};

/// Where a parameter's value came from, lowest precedence first: a higher source always wins
/// over a lower one, whatever order they arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The built-in default.
    Default,
    /// `wpcfg.ini` beside the binary or in the config folder.
    IniFile,
    /// The settings file (`settings.toml`) the softphone keeps itself.
    Persisted,
    /// The OS keyring (a remembered password).
    Keyring,
    /// `key=value` on the command line (or a launched link).
    CommandLine,
    /// Changed while running (the API, the window, a later launch).
    Runtime,
    /// An `x-mparam`/`x-mparamp` header from the SIP server.
    Server,
}

impl Source {
    /// How `--show-config` and the notification lines name it.
    pub fn label(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::IniFile => "wpcfg.ini",
            Source::Persisted => "settings file",
            Source::Keyring => "keyring",
            Source::CommandLine => "command line",
            Source::Runtime => "runtime",
            Source::Server => "server",
        }
    }
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Our INVITE is out, nothing heard yet.
    Calling,
    /// 100 Trying or another provisional without ringing.
    Proceeding,
    /// 180/183 received: the far end rings.
    Ringing,
    /// An INVITE arrived and rings here.
    Incoming,
    /// We answered; waiting for the ACK.
    Connecting,
    /// Media flows both ways.
    Connected,
    /// BYE or CANCEL sent; waiting for its answer.
    Terminating,
    /// Over.
    Terminated,
}

impl CallState {
    /// Answered (the ACK may still be on its way).
    pub fn is_up(self) -> bool {
        matches!(self, CallState::Connecting | CallState::Connected)
    }
}

/// Who started the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Outgoing,
    Incoming,
}

/// Which way media flows, from our side (RFC 3264 directions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaDirection {
    /// `sendrecv`, as SDP names them.
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl MediaDirection {
    /// The name the notification lines use.
    pub fn label(self) -> &'static str {
        match self {
            MediaDirection::SendRecv => "SendRecv",
            MediaDirection::SendOnly => "SendOnly",
            MediaDirection::RecvOnly => "RecvOnly",
            MediaDirection::Inactive => "Inactive",
        }
    }
}

/// A line's media statistics when its media stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaStats {
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    /// Interarrival jitter (RFC 3550 A.8), milliseconds.
    pub jitter_ms: f64,
    /// Round trip from the peer's RTCP reports, milliseconds.
    pub rtt_ms: Option<f64>,
    /// Packets the jitter buffer had to conceal.
    pub concealed: u64,
    /// RTP packets dropped because they came from another source than the one the call
    /// latched on to (see `rtp::latch`).
    #[serde(default)]
    pub foreign_dropped: u64,
    /// SRTP/SRTCP packets refused: failed authentication (forged, damaged, another key) or
    /// replayed.
    #[serde(default)]
    pub srtp_refused: u64,
}

impl MediaStats {
    /// Lost packets as a share of those expected, in percent.
    pub fn loss_percent(&self) -> f64 {
        let total = self.received + self.lost;
        if total == 0 {
            0.0
        } else {
            self.lost as f64 * 100.0 / total as f64
        }
    }
}

/// How the account stands with its registrar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Registration {
    /// A REGISTER is out.
    Registering,
    /// The server accepted the binding for `expires_s` seconds.
    Registered { expires_s: u32 },
    /// The attempt failed: the server's status (0 when no answer came, e.g. a transport
    /// error) and reason, and when the next attempt is made.
    Failed {
        code: u16,
        reason: String,
        retry_in_ms: Option<u64>,
    },
    /// Unregistered on request.
    Unregistered,
}

impl Registration {
    /// The failure as people read it: `403 Forbidden; retrying in 5.0 s`.
    pub fn failure_text(code: u16, reason: &str, retry_in_ms: Option<u64>) -> String {
        let retry = retry_in_ms
            .map(|ms| format!("; retrying in {:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default();
        if code == 0 {
            format!("{reason}{retry}")
        } else {
            format!("{code} {reason}{retry}")
        }
    }
}

/// How bad a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth telling (`EVENT,...`).
    Info,
    /// Something was refused or degraded, the rest goes on (`WARNING,...`).
    Warning,
    /// Something failed (`ERROR,...`).
    Error,
}

/// What a notice or failed reply is about, so that a face can sort, filter or act on it
/// without reading its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Registration and the account.
    Registration,
    /// A call could not be placed, answered or controlled.
    Call,
    /// A call's media (codecs, RTP).
    Media,
    /// A sound device failed, was replaced or came back.
    AudioDevice,
    /// A parameter was refused, kept or needs a restart.
    Parameter,
    /// The OS keyring.
    Keyring,
    /// The call history store.
    History,
    /// Name resolution, sockets.
    Network,
    /// Malformed or refused SIP from the network.
    Sip,
    /// Something that could be an attack was stopped (foreign RTP, a refused server push).
    Security,
    /// A command line or JSON line that could not be read.
    Input,
    /// The engine itself (start-up, a single-instance hand-over).
    Engine,
    /// An instant message could not be sent.
    Chat,
    /// A subscription (voicemail, presence) failed or was ended by the server.
    Subscription,
    /// The address book: a change, an import or an export that could not be done.
    Contacts,
}

/// Message waiting in a voicemail box: whether messages wait and how many voice messages
/// are new and old (and of those, urgent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageWaiting {
    pub waiting: bool,
    pub new: u32,
    pub old: u32,
    pub urgent_new: u32,
    pub urgent_old: u32,
}

/// How a call's recording stands. `path` is the file's full path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "recording", rename_all = "snake_case")]
pub enum RecordingState {
    /// Writing.
    Started { path: String },
    /// Complete: `seconds` long; `limit` when `maxrecordlength` ended it.
    Stopped {
        path: String,
        seconds: u32,
        limit: bool,
    },
    /// The file could not be written.
    Failed { path: String, reason: String },
}

/// Why a call was passed on to us before it rang here (from the diverting party's
/// `Diversion` reason or `History-Info` cause).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiversionReason {
    /// The number called was busy.
    Busy,
    /// Nobody answered there.
    NoAnswer,
    /// It forwards every call.
    Unconditional,
    /// It could not be reached (offline, out of service).
    Unavailable,
    /// Someone there sent it on by hand (deflection, follow-me).
    Deflection,
    /// Do not disturb, away or outside its hours.
    NotNow,
    /// No reason given.
    Unknown,
}

impl DiversionReason {
    /// The reason in words, for the notification lines (the window translates its own).
    pub fn words(self) -> &'static str {
        match self {
            DiversionReason::Busy => "busy",
            DiversionReason::NoAnswer => "no answer",
            DiversionReason::Unconditional => "forwards all calls",
            DiversionReason::Unavailable => "unavailable",
            DiversionReason::Deflection => "sent on",
            DiversionReason::NotNow => "not taking calls",
            DiversionReason::Unknown => "no reason given",
        }
    }
}

/// Which side of a transfer we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferRole {
    /// We asked the far end of `line` to call the target (our REFER).
    Transferor,
    /// The far end of `line` asked us to call the target (its REFER); the new call gets a
    /// line of its own and its own `call` events.
    Transferee,
}

/// How far a transfer has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// Asked for: the line is being held first, or the REFER is out.
    Requested,
    /// The transferee took the request (202) and is calling the target.
    Accepted,
    /// The call to the target is under way (`code` of its progress, e.g. 180).
    Progress,
    /// The transferee reached the target.
    Succeeded,
    /// Refused, or the call to the target failed (`reason` says why); a call we held for the
    /// transfer is resumed.
    Failed,
}

/// One step of a transfer: who transfers, to whom, how far it got and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferStep {
    pub role: TransferRole,
    /// The transfer target as the user knows it (number, user or URI).
    pub target: String,
    pub state: TransferState,
    /// The SIP status behind the state, when one is known (202, 180, 200, 486...).
    pub code: Option<u16>,
    pub reason: String,
}

/// Why the current line changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrentLineCause {
    /// The user picked it (API_SetLine).
    Selected,
    /// A new call, with no other current line, or a call just answered.
    NewCall,
    /// The current line's call ended: the lowest remaining line (or none).
    Freed,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reply {
    /// Carried out (or started: a call's progress follows in `call` events).
    Done,
    /// A call was placed on `line`.
    Line { line: u32 },
    /// Refused or failed, with what it was about and why.
    Failed { kind: NoticeKind, message: String },
}

/// Events the engine reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The SIP stack is up (sockets bound); `user` is the account's user name (may be empty).
    Started { user: String },
    /// The account's user name changed while running.
    Account { user: String },
    /// The registration changed.
    Registration(Registration),
    /// The answer to an OPTIONS capability request (408 when none came).
    CapabilityResponse {
        code: u16,
        reason: String,
        allow: Option<String>,
    },
    /// rport/received showed a public address that is now used in Contact.
    PublicAddress { addr: String },
    /// A call changed state.
    Call {
        line: u32,
        state: CallState,
        direction: CallDirection,
        /// The peer as shown (user part or number), its display name and SIP address.
        peer: String,
        peer_display: String,
        peer_uri: String,
        call_id: String,
        /// Why it ended (with `terminated`; empty otherwise).
        reason: String,
        /// With `terminated`: we ended it (else the far end or the network did).
        ended_by_us: bool,
        /// When it was answered, in milliseconds since the Unix epoch (for call timers).
        answered_at_ms: Option<i64>,
    },
    /// The line the user works on changed (`line` is `None` when no call is left).
    CurrentLine {
        line: Option<u32>,
        cause: CurrentLineCause,
    },
    /// Hold changed on a line: we hold the far end (`local`), it holds us (`remote`).
    Hold {
        line: u32,
        local: bool,
        remote: bool,
    },
    /// How the sound of a PlaySound goes: `playing` (true: started; false: over, stopped or
    /// failed, with the reason when it failed).
    Playback {
        file: String,
        playing: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A recording of the call on `line` started, ended or failed.
    Recording {
        line: u32,
        #[serde(flatten)]
        state: RecordingState,
    },
    /// The local conference changed: the lines mixed together now (empty: it is over).
    Conference { lines: Vec<u32> },
    /// A transfer of the call on `line` moved on.
    Transfer {
        line: u32,
        #[serde(flatten)]
        step: TransferStep,
    },
    /// The incoming call on `line` was passed on to us by `from` (the number the caller
    /// dialled, as the far end claims it), for `reason`.
    CallDiverted {
        line: u32,
        from: String,
        reason: DiversionReason,
    },
    /// An instant message came from `from` (user part or number; `display` its name). `line`
    /// is that of a call with the same peer, when there is one.
    ChatReceived {
        line: Option<u32>,
        from: String,
        display: String,
        text: String,
    },
    /// How the message sent for `request` to `to` went: delivered (the far end or its server
    /// took it) or failed, with the final response (`code` none when nothing answered).
    ChatDelivery {
        request: RequestId,
        to: String,
        delivered: bool,
        code: Option<u16>,
        reason: String,
    },
    /// The stored conversation with `peer` (user part), oldest first (GetChatHistory).
    ChatHistory {
        peer: String,
        messages: Vec<ChatMessage>,
    },
    /// Mute changed on a line.
    Mute {
        line: u32,
        microphone: bool,
        speaker: bool,
    },
    /// A line's media started or changed.
    Media {
        line: u32,
        codec: String,
        remote: String,
        direction: MediaDirection,
        /// The SRTP suite when the media is encrypted by SDES, `keyed by DTLS` when a DTLS-SRTP
        /// handshake keys it (its suite follows in the `secured` notice), none when clear.
        #[serde(default)]
        encryption: Option<String>,
    },
    /// A line's media stopped: its statistics.
    MediaStats { line: u32, stats: MediaStats },
    /// A DTMF digit arrived (RFC 4733 or SIP INFO).
    DtmfReceived { line: u32, digit: char },
    /// The microphone level meter: the loudest of the last 100 ms, 0-100 on a dB scale.
    InputLevel { level: u8 },
    /// The sound devices there are (besides `Default`).
    Devices {
        microphones: Vec<String>,
        speakers: Vec<String>,
    },
    /// A call moved to other sound devices (`changeaudiodevimmediate`).
    DevicesSwitched {
        line: u32,
        microphone: String,
        speaker: String,
    },
    /// The test sound plays on `speaker`.
    TestSound { speaker: String },
    /// A parameter's effective value changed while running (secrets shown as `***`).
    Parameter {
        name: String,
        value: String,
        source: Source,
    },
    /// A watched contact's presence: `user` as it was asked for in CheckPresence, its status
    /// and the note it published (RPID/PIDF `<note>`).
    Presence {
        user: String,
        status: PresenceStatus,
        note: String,
    },
    /// `watcher` asks to see our presence; it learns nothing until AllowWatcher says yes.
    WatcherRequest { watcher: String },
    /// A web page on `origin` asks to call `target` (as the page named it, `support`, and
    /// the number it stands for): nothing is dialled until ConfirmDial with this ticket
    /// allows it.
    DialRequest {
        ticket: u64,
        origin: String,
        target: String,
    },
    /// The answer to the dial request `ticket` (the user's, or no for a request that waited
    /// too long).
    DialDecision { ticket: u64, allow: bool },
    /// Who watches our presence, whenever that changes: the presence server's list
    /// (presence.winfo) and those subscribed to us directly.
    Watchers {
        watchers: Vec<crate::model::Watcher>,
    },
    /// A watched extension's busy lamp. `pickup`: its ringing call carries the identifiers a
    /// directed pickup needs (Pickup with that extension replaces it; otherwise the feature code
    /// is dialled).
    BusyLamp {
        user: String,
        state: LampState,
        pickup: bool,
    },
    /// What the voicemail box says (RFC 3842 message summary): from our subscription, a poll,
    /// or a server that tells us unasked.
    Voicemail(MessageWaiting),
    /// The whole address book, by name: at start and after every change.
    Contacts { contacts: Vec<Contact> },
    /// What GetContacts with `search` found.
    ContactsFound {
        search: String,
        contacts: Vec<Contact>,
    },
    /// An import added and updated contacts; `problems` names each card or row skipped and
    /// why.
    ContactsImported {
        added: usize,
        updated: usize,
        problems: Vec<String>,
    },
    /// The address book as a file's text, for the face to write.
    ContactsExported { format: ContactFormat, text: String },
    /// A call ended: its record for the history.
    Cdr(Cdr),
    /// Something to tell that has no event of its own.
    Notice {
        severity: Severity,
        kind: NoticeKind,
        text: String,
    },
    /// The answer to request `id`.
    Reply { id: RequestId, result: Reply },
    /// The engine has stopped; nothing follows.
    Stopped,
}

impl Event {
    /// An information notice.
    pub fn info(kind: NoticeKind, text: impl Into<String>) -> Event {
        Event::Notice {
            severity: Severity::Info,
            kind,
            text: text.into(),
        }
    }

    /// A warning notice.
    pub fn warning(kind: NoticeKind, text: impl Into<String>) -> Event {
        Event::Notice {
            severity: Severity::Warning,
            kind,
            text: text.into(),
        }
    }

    /// An error notice.
    pub fn error(kind: NoticeKind, text: impl Into<String>) -> Event {
        Event::Notice {
            severity: Severity::Error,
            kind,
            text: text.into(),
        }
    }
}
