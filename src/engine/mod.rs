//! The engine: the driver that owns sockets, timers and threads and feeds the sans-IO cores
//! (the SIP user agent and the phone policy), and the setup that turns settings into a UA
//! configuration. Faces talk to it only through [`CommandSender`] and the events it reports.
//!
//! Module order (each imports only those below it): `driver` (the loop) with `requests` (the
//! commands) and `runtime_settings` (parameter changes) on top; `calls`, `media`, `ring`,
//! `level` (media tasks and devices), `net` (sockets), `dns`, `worker` (blocking work) and
//! `setup` below; `report` (the event sink) and `link` (the command sender) at the bottom.

mod calls;
mod contacts;
pub mod dns;
mod driver;
mod level;
pub mod link;
mod media;
mod net;
mod report;
mod requests;
mod ring;
mod runtime_settings;
mod setup;
mod tls;
mod websocket;
mod worker;

pub use driver::{run_engine, start_engine};
pub use link::CommandSender;
