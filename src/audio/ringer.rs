//! The ringer: sounds the engine plays on devices of their own, beside the bridge, on the
//! engine's one clock. An incoming call rings on `ringerdevice` (which may be every sound
//! card, none of them the speaker of the call in progress), and the test sound plays on the
//! speaker without opening the microphone. Both are a [`Sound`] played through the same
//! [`Playing`] stage as a `PlaySound` prompt: the built-in ring is rendered once into a
//! sound, a `ringtone` file is any WAV the player reads, and `volumering` changes the level
//! of a ring that is already sounding.

use super::AudioSink;
use super::player::{PlayTargets, Playing, Sound};
use crate::media::session::bridge_frame;
use crate::media::tone::{Tone, ToneKind};
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::warn;

/// What a sound on the ringer is for (one of each at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RingerId {
    /// The incoming call on this line rings.
    Line(u32),
    /// The test sound (`TestSound` verb, the settings' speaker test).
    TestSound,
}

/// The rate the built-in ring is rendered at: its two tones (440 + 480 Hz) need no more.
const RING_RATE: u32 = 8000;
/// The pause after each pass of a ringtone file.
const RINGTONE_PAUSE_S: u32 = 2;

impl Sound {
    /// One cadence of the built-in ring (2 s of 440 + 480 Hz, 4 s of silence), to loop.
    pub fn builtin_ring() -> Sound {
        let mut samples = vec![0i16; (RING_RATE * 6) as usize];
        Tone::new(ToneKind::Ring, RING_RATE, 1.0).fill(&mut samples);
        Sound {
            samples,
            rate: RING_RATE,
        }
    }

    /// A ringtone file's sound with the pause that follows each pass, to loop.
    pub fn ringtone(mut file: Sound) -> Sound {
        let pause = (file.rate * RINGTONE_PAUSE_S) as usize;
        file.samples.resize(file.samples.len() + pause, 0);
        file
    }

    /// The first `seconds` of the sound (the test sound is the ring's first two seconds).
    pub fn first_seconds(&self, seconds: u32) -> Sound {
        let n = (self.rate * seconds) as usize;
        Sound {
            samples: self.samples[..n.min(self.samples.len())].to_vec(),
            rate: self.rate,
        }
    }
}

/// One device a sound plays on: the sound at the device's rate, and one frame's buffer.
struct Output {
    sink: Box<dyn AudioSink>,
    rate: u32,
    playing: Playing,
    frame: Vec<i16>,
}

impl Output {
    fn new(sink: Box<dyn AudioSink>, sound: &Sound, looped: bool) -> Output {
        let rate = sink.sample_rate().max(1);
        Output {
            playing: Playing::new(sound.at_rate(rate), looped, PlayTargets::LOCAL),
            frame: vec![0; bridge_frame(rate)],
            rate,
            sink,
        }
    }
}

/// A sound and the devices it plays on.
struct Ringing {
    /// Shared with the settings: a long ringtone is not copied for every ring.
    sound: Arc<Sound>,
    looped: bool,
    outputs: Vec<Output>,
}

/// Every sound on the ringer, one frame per engine tick.
pub(super) struct Ringer {
    sounding: BTreeMap<RingerId, Ringing>,
    /// `volumering` as a linear gain.
    gain: f32,
}

impl Ringer {
    /// A ringer with nothing sounding, rings at `gain` (`volumering`).
    pub(super) fn new(gain: f32) -> Ringer {
        Ringer {
            sounding: BTreeMap::new(),
            gain,
        }
    }

    /// Whether anything sounds (the engine's clock must run).
    pub(super) fn is_empty(&self) -> bool {
        self.sounding.is_empty()
    }

    /// Starts `sound` on `sinks` for `id`, replacing what `id` played before.
    pub(super) fn start(
        &mut self,
        id: RingerId,
        sinks: Vec<Box<dyn AudioSink>>,
        sound: Arc<Sound>,
        looped: bool,
    ) {
        self.stop(id);
        let outputs = sinks
            .into_iter()
            .map(|s| Output::new(s, &sound, looped))
            .collect();
        self.sounding.insert(
            id,
            Ringing {
                sound,
                looped,
                outputs,
            },
        );
    }

    /// Stops `id`'s sound and closes its devices (a WAV file gets its final header).
    pub(super) fn stop(&mut self, id: RingerId) {
        if let Some(r) = self.sounding.remove(&id) {
            for mut o in r.outputs {
                if let Err(e) = o.sink.finish() {
                    warn!("closing the ringer's device: {e:#}");
                }
            }
        }
    }

    /// Stops everything (the engine stops).
    pub(super) fn clear(&mut self) {
        let ids: Vec<RingerId> = self.sounding.keys().copied().collect();
        for id in ids {
            self.stop(id);
        }
    }

    /// The ring's volume, heard from the next frame on.
    pub(super) fn set_gain(&mut self, gain: f32) {
        self.gain = gain;
    }

    /// Plays one frame on every device; gives what came to its end (a sound played once),
    /// already stopped, and the devices' notices.
    pub(super) fn tick(&mut self) -> (Vec<RingerId>, Vec<String>) {
        let mut ended = Vec::new();
        let mut notices = Vec::new();
        for (id, r) in &mut self.sounding {
            // `volumering` is the ring's; the test sound comes at the speaker's volume.
            let gain = if matches!(id, RingerId::Line(_)) {
                self.gain
            } else {
                1.0
            };
            let mut more = false;
            for o in &mut r.outputs {
                if o.sink.sample_rate() != o.rate {
                    // The device came back at another rate: the sound follows, from the start.
                    let sink = std::mem::replace(&mut o.sink, Box::new(super::Null::default()));
                    *o = Output::new(sink, &r.sound, r.looped);
                }
                more |= o.playing.fill(&mut o.frame);
                if gain != 1.0 {
                    for s in &mut o.frame {
                        *s = (f32::from(*s) * gain).clamp(-32768.0, 32767.0) as i16;
                    }
                }
                if let Err(e) = o.sink.write(&o.frame) {
                    tracing::debug!("ringer device: {e:#}");
                }
                while let Some(n) = o.sink.take_notice() {
                    notices.push(format!("ringer: {n}"));
                }
            }
            if !more {
                ended.push(*id);
            }
        }
        for id in &ended {
            self.stop(*id);
        }
        (ended, notices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A device that keeps what it was given.
    struct Kept {
        rate: u32,
        frames: Arc<Mutex<Vec<i16>>>,
        finished: Arc<Mutex<bool>>,
    }

    impl AudioSink for Kept {
        fn sample_rate(&self) -> u32 {
            self.rate
        }
        fn write(&mut self, frame: &[i16]) -> anyhow::Result<()> {
            self.frames.lock().unwrap().extend_from_slice(frame);
            Ok(())
        }
        fn finish(&mut self) -> anyhow::Result<()> {
            *self.finished.lock().unwrap() = true;
            Ok(())
        }
    }

    /// What a [`Kept`] device heard, and whether it was closed.
    type Heard = (Arc<Mutex<Vec<i16>>>, Arc<Mutex<bool>>);

    fn kept(rate: u32) -> (Box<dyn AudioSink>, Heard) {
        let frames = Arc::new(Mutex::new(Vec::new()));
        let finished = Arc::new(Mutex::new(false));
        let sink = Kept {
            rate,
            frames: frames.clone(),
            finished: finished.clone(),
        };
        (Box::new(sink), (frames, finished))
    }

    fn rms(x: &[i16]) -> f32 {
        (x.iter().map(|&s| f32::from(s).powi(2)).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    #[test]
    fn the_ring_loops_its_cadence_on_every_device_at_its_own_rate() {
        let mut ringer = Ringer::new(1.0);
        let (a, (heard_a, done_a)) = kept(48_000);
        let (b, (heard_b, _)) = kept(8000);
        ringer.start(
            RingerId::Line(1),
            vec![a, b],
            Arc::new(Sound::builtin_ring()),
            true,
        );
        // Seven seconds: 2 s of ring, 4 s of silence, and the ring again.
        for _ in 0..350 {
            let (ended, _) = ringer.tick();
            assert!(ended.is_empty());
        }
        let a = heard_a.lock().unwrap().clone();
        let b = heard_b.lock().unwrap().clone();
        assert_eq!(a.len(), 48_000 * 7);
        assert_eq!(b.len(), 8000 * 7);
        let second = |x: &[i16], rate: usize, s: usize| rms(&x[s * rate..(s + 1) * rate]);
        for (x, rate) in [(&a, 48_000), (&b, 8000)] {
            assert!(second(x, rate, 0) > 3000.0, "{}", second(x, rate, 0));
            assert!(second(x, rate, 3) < 10.0, "{}", second(x, rate, 3));
            assert!(second(x, rate, 6) > 3000.0, "{}", second(x, rate, 6));
        }
        // volumering mid-ring: the next frames are at the new level.
        ringer.set_gain(0.25);
        heard_b.lock().unwrap().clear();
        ringer.tick();
        let quieter = rms(&heard_b.lock().unwrap());
        assert!(quieter < 0.3 * second(&b, 8000, 6), "{quieter}");
        ringer.stop(RingerId::Line(1));
        assert!(*done_a.lock().unwrap(), "stopping closes the devices");
        assert!(ringer.is_empty());
    }

    #[test]
    fn a_sound_played_once_ends_by_itself() {
        let mut ringer = Ringer::new(1.0);
        let (sink, (heard, finished)) = kept(16_000);
        let test = Arc::new(Sound::builtin_ring().first_seconds(2));
        ringer.start(RingerId::TestSound, vec![sink], test, false);
        let mut ticks = 0;
        loop {
            ticks += 1;
            let (ended, _) = ringer.tick();
            if ended == [RingerId::TestSound] {
                break;
            }
            assert!(ticks < 200, "the test sound never ended");
        }
        assert!(
            (100..=102).contains(&ticks),
            "{ticks} frames for two seconds"
        );
        assert!(*finished.lock().unwrap());
        assert!(rms(&heard.lock().unwrap()) > 3000.0);
        assert!(ringer.is_empty());
    }

    #[test]
    fn a_ringtone_file_pauses_between_passes() {
        let tone = Sound::ringtone(Sound {
            samples: vec![1000; 8000],
            rate: 8000,
        });
        assert_eq!(tone.samples.len(), 8000 * 3);
        assert!(tone.samples[8000..].iter().all(|&s| s == 0));
    }
}
