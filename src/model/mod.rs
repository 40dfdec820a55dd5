//! The typed model every face shares: [`Command`]s go in (each in a [`Request`] with its id),
//! [`Event`]s come out, and one reducer ([`PhoneState::apply`]) turns the events into the state
//! the window draws, the control API serves and the tests check.
//!
//! This module is the leaf of the crate: it uses only `std` and `serde`, and everything else
//! (the SIP core, the phone policy, the engine, the faces) imports it, never the other way.
//! The JSON wire format is serde's: enums are internally tagged by `"type"` and every name is
//! snake_case (README "JSON format"). The Mizu notification lines and the text command lines
//! are formatters and parsers at the edge (`api::notify`, `api::lines`).

mod cdr;
mod chat;
mod command;
mod contact;
mod event;
mod examples;
mod modes;
mod secret;
mod state;

pub use cdr::{Cdr, DiscParty, format_utc};
pub use chat::ChatMessage;
pub use command::{
    BlacklistChange, Command, ConferenceOp, ParamValue, Request, RequestId, SECRET_PARAMETERS,
    is_secret,
};
pub use contact::{Contact, ContactFormat, PhoneNumber, user_of};
pub use event::{
    CallDirection, CallState, CurrentLineCause, DiversionReason, Event, MediaDirection, MediaStats,
    MessageWaiting, NoticeKind, RecordingState, Registration, Reply, Severity, Source,
    TransferRole, TransferState, TransferStep,
};
pub use examples::{command_examples, event_examples};
pub use modes::{
    AutoMode, DefaultMute, DtmfMode, LampState, MuteDirection, PresenceStatus, Transport, Watcher,
    WatcherStatus,
};
pub use secret::Secret;
pub use state::{Account, KeptNotice, LineMedia, LineStatus, PhoneState};
