//! Softphone: a desktop SIP softphone. The library holds the engine so that the binary, the
//! integration tests, the benchmarks and the fuzz targets share one build of it.
//!
//! Layers, from the bottom up (a module imports only those below it): [`model`] is the typed
//! command/event model and its reducer that every face shares (std + serde only); [`sip`],
//! [`sdp`], [`rtp`] and [`media`] are the sans-IO protocol and media cores; [`audio`] holds the
//! sound devices; [`config`] turns `key=value` parameters into typed settings; [`store`] keeps
//! history, contacts and chat in SQLite; [`phone`] is the sans-IO line policy; [`engine`] owns
//! sockets, DNS, timers and threads and drives the cores; [`api`] holds the edges (the
//! notification lines, the text and JSON command lines, the single-instance hand-over) and
//! [`gui`] the egui window.

pub mod api;
pub mod audio;
pub mod config;
pub mod engine;
pub mod gui;
pub mod media;
pub mod model;
pub mod phone;
pub mod rtp;
pub mod sdp;
pub mod sip;
pub mod store;

/// The origin of the unit tests' virtual clocks. The sans-IO cores never read the clock; their
/// tests start time at this one instant and move it forward themselves.
#[cfg(test)]
pub(crate) fn test_epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}
