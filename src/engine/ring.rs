//! The ring of an incoming call on the ringer device(s) (`ringerdevice`, which may be every
//! sound card), and the test sound: a task that writes a tone to its sinks every 20 ms until
//! stopped. The ringback a caller hears plays on the speaker through the audio engine
//! (`audio::engine`), so the call's media takes it over without a device being opened twice.

use crate::audio::AudioSink;
use crate::media::tone::{Tone, ToneKind};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running ring.
pub(super) struct RingTask {
    stop: oneshot::Sender<()>,
    done: JoinHandle<Vec<Box<dyn AudioSink>>>,
}

impl RingTask {
    /// Plays `kind` at `gain` on every sink until stopped.
    pub(super) fn start(mut sinks: Vec<Box<dyn AudioSink>>, kind: ToneKind, gain: f32) -> RingTask {
        let (stop, mut stopped) = oneshot::channel();
        let done = tokio::spawn(async move {
            let mut tones: Vec<(Tone, Vec<i16>)> = sinks
                .iter()
                .map(|s| {
                    let rate = s.sample_rate();
                    (
                        Tone::new(kind.clone(), rate, gain),
                        vec![0i16; rate as usize / 50],
                    )
                })
                .collect();
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        for (sink, (tone, frame)) in sinks.iter_mut().zip(tones.iter_mut()) {
                            tone.fill(frame);
                            if let Err(e) = sink.write(frame) {
                                tracing::debug!("ring device: {e:#}");
                            }
                            while let Some(notice) = sink.take_notice() {
                                tracing::warn!("ring device: {notice}");
                            }
                        }
                    }
                    _ = &mut stopped => return sinks,
                }
            }
        });
        RingTask { stop, done }
    }

    /// Stops the sound; gives the sinks back (a test sound's WAV file is then finished).
    pub(super) async fn stop(self) -> Vec<Box<dyn AudioSink>> {
        let _ = self.stop.send(());
        self.done.await.unwrap_or_default()
    }
}

/// The ringtone: the `ringtone` WAV file when one is set and readable, else the built-in ring.
pub(super) fn ring_kind(ringtone: &str) -> (ToneKind, Option<String>) {
    if ringtone.trim().is_empty() {
        return (ToneKind::Ring, None);
    }
    match hound::WavReader::open(ringtone.trim()) {
        Ok(r) => {
            let spec = r.spec();
            let channels = usize::from(spec.channels.max(1));
            if spec.bits_per_sample != 16 {
                return (
                    ToneKind::Ring,
                    Some(format!(
                        "ringtone {ringtone}: 16-bit PCM WAV needed; using the built-in ring"
                    )),
                );
            }
            let all: Vec<i16> = r.into_samples::<i16>().filter_map(Result::ok).collect();
            let samples = all
                .chunks(channels)
                .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16)
                .collect();
            (
                ToneKind::Samples {
                    samples,
                    rate: spec.sample_rate,
                },
                None,
            )
        }
        Err(e) => (
            ToneKind::Ring,
            Some(format!("ringtone {ringtone}: {e}; using the built-in ring")),
        ),
    }
}
