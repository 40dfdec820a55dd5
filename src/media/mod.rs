//! Media stages that work on frames with no clock and no device: codecs, resampling, the
//! jitter buffer, loss concealment, the conference bridge, and one call's media session
//! (sans-IO: datagrams and `now` in, frames, transmits and deadlines out). The audio engine
//! (`crate::audio::engine`) moves frames between them on its one clock.

pub mod bridge;
pub mod codec;
pub mod dtmf;
pub mod g711;
#[cfg(feature = "g729")]
pub mod g729;
pub mod gsm;
pub mod jitter;
mod keying;
pub mod pipeline;
pub mod plc;
pub mod processing;
pub mod resample;
pub mod session;
pub mod silence;
pub mod speex;
pub mod tone;
