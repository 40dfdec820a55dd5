//! The edges where the outside world meets the typed model: the Mizu notification lines
//! ([`notify`]), the headless text command lines ([`lines`]), the JSON lines of
//! `--format=json` ([`json`]), the local control API on port 19422 ([`control`]), and the
//! single-instance hand-over ([`instance`], Unix only).

pub mod control;
pub mod json;
pub mod lines;
pub mod notify;

#[cfg(unix)]
pub mod instance;
