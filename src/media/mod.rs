//! Media stages that work on frames with no clock and no device: codecs, resampling, the
//! jitter buffer, loss concealment. The driver moves frames between them on its own timer.

pub mod bridge;
pub mod codec;
pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod pipeline;
pub mod plc;
pub mod resample;
pub mod session;
pub mod tone;
