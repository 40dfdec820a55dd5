//! Softphone: a desktop SIP softphone. The library holds the engine so that the binary, the
//! integration tests, the benchmarks and the fuzz targets share one build of it.
//!
//! Layers: [`sip`] is the sans-IO protocol core; [`engine`] owns sockets, DNS and timers
//! (tokio) and turns core events into the notification lines of the control API; [`config`]
//! turns `key=value` parameters into typed settings; [`store`] keeps history, contacts and chat
//! in SQLite; [`gui`] is the egui window over the engine's command/event API.

pub mod api;
pub mod audio;
pub mod config;
pub mod engine;
pub mod gui;
pub mod media;
pub mod rtp;
pub mod sdp;
pub mod sip;
pub mod store;
