//! SIP-specific event notification (RFC 6665): the one subscription machine every event
//! package uses, and the packages' bodies.
//!
//! - `client.rs`: [`ClientSubscription`], a subscriber's SUBSCRIBE/NOTIFY dialog as a sans-IO
//!   state machine (refresh before expiry, `Subscription-State`, retry and resubscribe);
//! - `mwi.rs`: the `message-summary` package (RFC 3842), message waiting for voicemail;
//! - `presence.rs`: the `presence` package's PIDF/RPID bodies (RFC 3863, RFC 4480);
//! - `server.rs`: [`server::ServerSubscription`], the notifier's side, for the watchers of our
//!   own presence;
//! - `winfo.rs`: the `presence.winfo` package's watcherinfo bodies (RFC 3857/3858), who
//!   watches us at the presence server.
//!
//! The implicit subscription a REFER creates (RFC 3515) stays with the call that owns it
//! (`sip/refer.rs`): it lives inside the INVITE dialog and ends with the transfer.

pub mod client;
pub mod mwi;
pub mod presence;
pub mod server;
pub mod winfo;

pub use client::{ClientSubscription, SubOutput, SubStatus, SubscriptionConfig};
