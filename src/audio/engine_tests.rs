//! The engine's wiring on null devices: who hears whom, the ringback hand-over, recordings.

use super::*;
use crate::media::session::bridge_frame;
use std::sync::{Arc, Mutex};

/// A far end that always says `level` and keeps the last frame it heard.
struct FarEnd {
    level: i16,
    heard: Arc<Mutex<Vec<i16>>>,
}

impl CallPort for FarEnd {
    fn set_rate(&mut self, _rate: u32) {}
    fn get_frame(&mut self, out: &mut [i16]) -> bool {
        out.fill(self.level);
        true
    }
    fn put_frame(&mut self, frame: &[i16]) {
        if let Ok(mut h) = self.heard.lock() {
            h.clear();
            h.extend_from_slice(frame);
        }
    }
}

fn engine() -> Engine {
    let (events, _) = mpsc::unbounded_channel();
    let setup = DeviceSetup {
        record: "null".into(),
        playback: "null".into(),
        gain_in: 1.0,
        gain_out: 1.0,
        gain_ring: 1.0,
        voice: Default::default(),
    };
    Engine::new(setup, events)
}

fn add(e: &mut Engine, line: u32, level: i16) -> Arc<Mutex<Vec<i16>>> {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let port = Box::new(FarEnd {
        level,
        heard: heard.clone(),
    });
    e.on_control(Control::AddCall {
        line,
        port,
        rate_hint: 8000,
    });
    heard
}

fn level(h: &Arc<Mutex<Vec<i16>>>) -> i16 {
    h.lock()
        .map(|v| v.first().copied().unwrap_or(-1))
        .unwrap_or(-1)
}

#[test]
fn calls_hear_each_other_only_in_a_conference_and_a_held_one_leaves_it() {
    let mut e = engine();
    let a = add(&mut e, 1, 100);
    let b = add(&mut e, 2, 20);
    let c = add(&mut e, 3, 3);
    assert!(e.active.is_some(), "the devices open with the first call");
    e.tick();
    // Separate calls hear the (silent) microphone, not each other.
    assert_eq!((level(&a), level(&b), level(&c)), (0, 0, 0));
    e.on_control(Control::Conference([1, 2, 3].into()));
    e.tick();
    // Mix-minus: each hears the others, never itself.
    assert_eq!((level(&a), level(&b), level(&c)), (23, 103, 120));
    e.on_control(Control::InMix { line: 2, on: false });
    e.tick();
    assert_eq!((level(&a), level(&b), level(&c)), (3, 0, 100));
    let (done, _) = oneshot::channel();
    e.on_control(Control::RemoveCall { line: 3, done });
    e.tick();
    assert_eq!((level(&a), level(&b)), (0, 0));
    for line in [1, 2] {
        let (done, _) = oneshot::channel();
        e.on_control(Control::RemoveCall { line, done });
    }
    assert!(e.active.is_none(), "the devices close after the last call");
}

#[test]
fn the_ringback_tone_holds_the_devices_until_the_call_takes_over() {
    let mut e = engine();
    e.on_control(Control::Ringback {
        line: 1,
        on: true,
        rate_hint: 8000,
    });
    assert!(e.active.is_some() && e.tones.contains_key(&1));
    e.tick();
    let _a = add(&mut e, 1, 5);
    assert!(
        e.tones.is_empty(),
        "the call's media plays its own ringback"
    );
    let (done, _) = oneshot::channel();
    e.on_control(Control::RemoveCall { line: 1, done });
    assert!(e.active.is_none());
}

#[test]
fn a_recording_hears_its_call_and_in_a_conference_every_member() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.wav");
    let mut e = engine();
    let spec = RecordingSpec {
        path: path.clone(),
        max_seconds: 0,
    };
    // Asked for before the call's media: it waits for the call.
    e.on_control(Control::Record {
        line: 1,
        spec: Some(spec),
    });
    assert!(matches!(e.recordings.get(&1), Some(Recording::Waiting(_))));
    add(&mut e, 1, 100);
    add(&mut e, 2, 20);
    e.tick();
    e.on_control(Control::Conference([1, 2].into()));
    e.tick();
    e.on_control(Control::InMix { line: 1, on: false });
    e.tick();
    e.on_control(Control::Record {
        line: 1,
        spec: None,
    });
    let frame = bridge_frame(8000);
    let samples = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            let r = hound::WavReader::open(&path).ok()?;
            let s: Vec<i16> = r.into_samples().map_while(Result::ok).collect();
            (s.len() == 3 * 2 * frame).then_some(s)
        })
        .expect("the finished recording");
    // Right: the call alone, then with the other member, then nothing while held; left:
    // the (silent) microphone.
    let right: Vec<i16> = samples.chunks(2 * frame).map(|f| f[1]).collect();
    assert_eq!(right, [100, 120, 0]);
    assert!(samples.iter().step_by(2).all(|l| *l == 0));
}

#[test]
fn a_sound_goes_only_where_it_is_sent_and_ends_by_itself() {
    let mut e = engine();
    let a = add(&mut e, 1, 0);
    let b = add(&mut e, 2, 0);
    let frame = bridge_frame(8000);
    e.on_control(Control::Play {
        sound: Sound {
            samples: vec![500; 2 * frame],
            rate: 8000,
        },
        looped: false,
        targets: PlayTargets {
            speaker: false,
            calls: Some(2),
        },
    });
    e.tick();
    assert_eq!(
        (level(&a), level(&b)),
        (0, 500),
        "only line 2 hears the prompt"
    );
    e.tick();
    assert!(e.player.is_some());
    e.tick();
    assert!(e.player.is_none(), "played once, it is over");
    assert_eq!(level(&b), 0);
}
