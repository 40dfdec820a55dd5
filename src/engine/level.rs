//! The microphone level meter of the audio settings: while it is on (and no call holds the
//! microphone), the engine reads the `recorddevice` in 20 ms frames and reports the loudest
//! frame of every 100 ms as a percentage of full scale on a dB scale (-60 dBFS = 0 %,
//! 0 dBFS = 100 %), so speech shows in the upper half.

use crate::audio::AudioSource;
use crate::model::Event;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The level of one frame in percent (see the module docs).
pub(super) fn level_percent(frame: &[i16]) -> u8 {
    if frame.is_empty() {
        return 0;
    }
    let energy = frame
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / frame.len() as f64;
    let rms = energy.sqrt() / 32768.0;
    if rms <= 0.0 {
        return 0;
    }
    let db = 20.0 * rms.log10();
    ((db + 60.0) / 60.0 * 100.0).clamp(0.0, 100.0).round() as u8
}

/// A running meter.
pub(super) struct LevelMeter {
    stop: oneshot::Sender<()>,
    done: JoinHandle<()>,
}

impl LevelMeter {
    /// Starts reading `source`, reporting to `events`.
    pub(super) fn start(
        mut source: Box<dyn AudioSource>,
        events: mpsc::UnboundedSender<Event>,
    ) -> LevelMeter {
        let (stop, mut stopped) = oneshot::channel();
        let done = tokio::spawn(async move {
            let mut frame = vec![0i16; (source.sample_rate() / 50).max(1) as usize];
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut loudest = 0u8;
            let mut frames = 0u32;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        source.read(&mut frame);
                        loudest = loudest.max(level_percent(&frame));
                        frames += 1;
                        if frames == 5 {
                            if events.send(Event::InputLevel { level: loudest }).is_err() {
                                return;
                            }
                            (loudest, frames) = (0, 0);
                        }
                    }
                    _ = &mut stopped => return,
                }
            }
        });
        LevelMeter { stop, done }
    }

    /// Stops reading (the device is closed when the task ends).
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.done.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level_percent(&[0; 160]), 0);
        assert_eq!(level_percent(&[]), 0);
        assert_eq!(level_percent(&[32767; 160]), 100);
        // -20 dBFS (a tenth of full scale) is two thirds up.
        assert_eq!(level_percent(&[3277; 160]), 67);
        // Quieter than -60 dBFS shows nothing.
        assert_eq!(level_percent(&[16; 160]), 0);
    }
}
