//! The one audio engine: it owns the microphone and the speaker and the one clock every
//! call's audio runs on. Calls, the microphone, the speaker and the ringback tone are ports on
//! a [`Bridge`]; every 20 ms the engine reads the microphone, asks each call for what its far
//! end said, mixes, plays the speaker's mix and gives each call what its far end should hear.
//! Opening, failure recovery and rate changes of the devices therefore happen once, here, for
//! all calls, and a held call simply leaves the mix.
//!
//! Who hears whom: the speaker hears every call in the mix and the ringback; each call in the
//! mix hears the microphone; calls joined in a conference also hear each other (each never
//! itself). The devices open when the first port arrives and close (a WAV file gets its header)
//! when the last one goes, so the microphone is not held open between calls.
//!
//! The engine is a task of the driver's runtime, not the device callback: cpal's callbacks
//! only move samples through lock-free rings (`audio::device`), and a call's port may take a
//! short lock on its session here.

use super::active::{Active, voice_processor};
use super::player::{PlayTargets, Playing, Sound};
use super::recorder::{Recorder, RecordingSpec};
use super::ringer::{Ringer, RingerId};
use super::{AudioSink, open_sink, open_source};
use crate::media::bridge::PortId;
use crate::media::session::BRIDGE_FRAME_MS;
use crate::media::tone::{Tone, ToneKind};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// A call as the engine sees it: frames in and out at the bridge's rate.
pub trait CallPort: Send {
    /// The bridge runs at `rate` (given before the first frame, and again if it changes).
    fn set_rate(&mut self, rate: u32);
    /// What the far end said for one frame; false when it is only silence we made up.
    fn get_frame(&mut self, out: &mut [i16]) -> bool;
    /// What the far end should hear for one frame.
    fn put_frame(&mut self, frame: &[i16]);
}

pub use super::event::AudioEvent;

pub use super::active::DeviceSetup;

enum Control {
    AddCall {
        line: u32,
        port: Box<dyn CallPort>,
        rate_hint: u32,
    },
    RemoveCall {
        line: u32,
        done: oneshot::Sender<()>,
    },
    InMix {
        line: u32,
        on: bool,
    },
    Conference(BTreeSet<u32>),
    Record {
        line: u32,
        spec: Option<RecordingSpec>,
    },
    Play {
        sound: Sound,
        looped: bool,
        targets: PlayTargets,
    },
    StopPlay,
    Ring {
        id: RingerId,
        sinks: Vec<Box<dyn AudioSink>>,
        sound: std::sync::Arc<Sound>,
        looped: bool,
    },
    StopRing {
        id: RingerId,
        done: oneshot::Sender<()>,
    },
    Ringback {
        line: u32,
        on: bool,
        rate_hint: u32,
    },
    Devices {
        setup: DeviceSetup,
        record: bool,
        playback: bool,
    },
    Gains {
        input: f32,
        output: f32,
        ring: f32,
    },
    Stop(oneshot::Sender<()>),
}

/// The driver's handle on the engine.
#[derive(Clone)]
pub struct AudioEngine {
    control: mpsc::UnboundedSender<Control>,
}

impl std::fmt::Debug for AudioEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioEngine")
    }
}

impl AudioEngine {
    /// Starts the engine on the current tokio runtime; nothing is opened until a port comes.
    pub fn start(setup: DeviceSetup, events: mpsc::UnboundedSender<AudioEvent>) -> AudioEngine {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(setup, rx, events));
        AudioEngine { control: tx }
    }

    fn send(&self, c: Control) {
        let _ = self.control.send(c);
    }

    /// Adds a call to the mix; `rate_hint` is its codec's rate (a playback file opened for it
    /// records at that rate). A ringback tone of `line` stops: the call plays its own.
    pub fn add_call(&self, line: u32, port: Box<dyn CallPort>, rate_hint: u32) {
        self.send(Control::AddCall {
            line,
            port,
            rate_hint,
        });
    }

    /// Removes a call; resolves once it is out of the mix (and the devices are closed if it
    /// was the last port).
    pub async fn remove_call(&self, line: u32) {
        let (done, wait) = oneshot::channel();
        self.send(Control::RemoveCall { line, done });
        let _ = wait.await;
    }

    /// Puts a call in the mix or takes it out (hold).
    pub fn set_in_mix(&self, line: u32, on: bool) {
        self.send(Control::InMix { line, on });
    }

    /// The calls that hear each other besides the microphone (fewer than two: none).
    pub fn set_conference(&self, lines: BTreeSet<u32>) {
        self.send(Control::Conference(lines));
    }

    /// Starts (`Some`) or stops recording `line`; a recording asked for before the call's
    /// media runs starts with it. Reported as [`AudioEvent::Recording`].
    pub fn record(&self, line: u32, spec: Option<RecordingSpec>) {
        self.send(Control::Record { line, spec });
    }

    /// Plays `sound` (once, or until stopped when `looped`) to the speaker and/or into the
    /// calls; replaces a sound already playing. [`AudioEvent::PlayEnded`] says when a sound
    /// played once is over.
    pub fn play(&self, sound: Sound, looped: bool, targets: PlayTargets) {
        self.send(Control::Play {
            sound,
            looped,
            targets,
        });
    }

    /// Stops the sound playing, if any.
    pub fn stop_play(&self) {
        self.send(Control::StopPlay);
    }

    /// Plays the ringback tone of `line` on the speaker until its media starts, or stops it.
    pub fn ringback(&self, line: u32, on: bool, rate_hint: u32) {
        self.send(Control::Ringback {
            line,
            on,
            rate_hint,
        });
    }

    /// Other devices: the microphone and/or the speaker named in `setup` replace the open
    /// ones at once (if open), for every call.
    pub fn switch_devices(&self, setup: DeviceSetup, record: bool, playback: bool) {
        self.send(Control::Devices {
            setup,
            record,
            playback,
        });
    }

    /// Plays `sound` on the ringer's own `sinks` (the ringer device(s), or the speaker for
    /// the test sound), on the engine's clock, looped until stopped or once; the microphone
    /// and the speaker of the calls stay as they are.
    pub fn ring(
        &self,
        id: RingerId,
        sinks: Vec<Box<dyn AudioSink>>,
        sound: std::sync::Arc<Sound>,
        looped: bool,
    ) {
        self.send(Control::Ring {
            id,
            sinks,
            sound,
            looped,
        });
    }

    /// Stops `id`'s sound on the ringer; done once its devices are closed.
    pub async fn stop_ring(&self, id: RingerId) {
        let (done, wait) = oneshot::channel();
        self.send(Control::StopRing { id, done });
        let _ = wait.await;
    }

    /// `volumein` / `volumeout` / `volumering` changed: applied from the next frame.
    pub fn set_gains(&self, input: f32, output: f32, ring: f32) {
        self.send(Control::Gains {
            input,
            output,
            ring,
        });
    }

    /// Stops the engine, closing the devices.
    pub async fn stop(&self) {
        let (done, wait) = oneshot::channel();
        self.send(Control::Stop(done));
        let _ = wait.await;
    }
}

struct Call {
    port: Box<dyn CallPort>,
    id: PortId,
    in_mix: bool,
}

struct Engine {
    setup: DeviceSetup,
    active: Option<Active>,
    calls: BTreeMap<u32, Call>,
    tones: BTreeMap<u32, (Tone, PortId)>,
    conference: BTreeSet<u32>,
    recordings: BTreeMap<u32, Recording>,
    player: Option<(Playing, PortId)>,
    ringer: Ringer,
    events: mpsc::UnboundedSender<AudioEvent>,
}

/// A call's recording: asked for before its media runs, or writing through two bridge ports
/// (left hears the microphone, right the call's far end and, in a conference, the others').
enum Recording {
    Waiting(RecordingSpec),
    Running {
        recorder: Box<Recorder>,
        left: PortId,
        right: PortId,
    },
}

impl Engine {
    /// An engine with no ports and nothing open.
    fn new(setup: DeviceSetup, events: mpsc::UnboundedSender<AudioEvent>) -> Engine {
        Engine {
            active: None,
            calls: BTreeMap::new(),
            tones: BTreeMap::new(),
            conference: BTreeSet::new(),
            recordings: BTreeMap::new(),
            player: None,
            ringer: Ringer::new(setup.gain_ring),
            setup,
            events,
        }
    }

    fn has_ports(&self) -> bool {
        !self.calls.is_empty() || !self.tones.is_empty() || self.player.is_some()
    }

    fn report(&self, message: String) {
        let _ = self.events.send(AudioEvent::Device(message));
    }

    /// Opens the devices for the first port.
    fn ensure_open(&mut self, rate_hint: u32) -> &mut Active {
        let active = match self.active.take() {
            Some(a) => a,
            None => {
                let mut problems = Vec::new();
                let a = Active::open(&self.setup, rate_hint, &mut problems);
                for p in problems {
                    self.report(p);
                }
                a
            }
        };
        self.active.insert(active)
    }

    /// Closes the devices after the last port.
    fn close_if_idle(&mut self) {
        if !self.has_ports()
            && let Some(a) = self.active.take()
        {
            a.close();
        }
    }

    /// Connects the ports as the module docs say.
    fn rewire(&mut self) {
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let mixed: Vec<(u32, PortId)> = self
            .calls
            .iter()
            .filter(|(_, c)| c.in_mix)
            .map(|(l, c)| (*l, c.id))
            .collect();
        for c in self.calls.values() {
            a.bridge.isolate(c.id);
        }
        for &(line, id) in &mixed {
            a.bridge.connect(a.mic_port, id);
            a.bridge.connect(id, a.speaker_port);
            if self.conference.len() >= 2 && self.conference.contains(&line) {
                for &(other, other_id) in &mixed {
                    if other != line && self.conference.contains(&other) {
                        a.bridge.connect(other_id, id);
                    }
                }
            }
        }
        for (_, id) in self.tones.values() {
            a.bridge.connect(*id, a.speaker_port);
        }
        if let Some((playing, id)) = &self.player {
            if playing.targets.speaker {
                a.bridge.connect(*id, a.speaker_port);
            }
            for &(line, call) in &mixed {
                if playing.targets.calls.is_some_and(|l| l == 0 || l == line) {
                    a.bridge.connect(*id, call);
                }
            }
        }
        for (line, r) in &self.recordings {
            let Recording::Running { left, right, .. } = r else {
                continue;
            };
            a.bridge.isolate(*left);
            a.bridge.isolate(*right);
            if !mixed.iter().any(|(l, _)| l == line) {
                continue;
            }
            a.bridge.connect(a.mic_port, *left);
            let conference = self.conference.len() >= 2 && self.conference.contains(line);
            for &(other, id) in &mixed {
                if other == *line || (conference && self.conference.contains(&other)) {
                    a.bridge.connect(id, *right);
                }
            }
        }
    }

    /// Starts the recording asked for `line` once its call is on the bridge.
    fn start_recording(&mut self, line: u32) {
        let (Some(a), true) = (self.active.as_mut(), self.calls.contains_key(&line)) else {
            return;
        };
        let Some(Recording::Waiting(spec)) = self.recordings.remove(&line) else {
            return;
        };
        let (left, right) = (a.bridge.add_port(), a.bridge.add_port());
        let recorder = Box::new(Recorder::start(line, spec, a.rate, self.events.clone()));
        self.recordings.insert(
            line,
            Recording::Running {
                recorder,
                left,
                right,
            },
        );
        self.rewire();
    }

    /// Stops the sound playing, if any (the devices stay open only for other ports).
    fn stop_player(&mut self) {
        if let Some((_, id)) = self.player.take() {
            if let Some(a) = self.active.as_mut() {
                a.bridge.remove_port(id);
            }
            self.close_if_idle();
        }
    }

    /// Ends `line`'s recording (the file is finished by its thread).
    fn stop_recording(&mut self, line: u32) {
        if let Some(Recording::Running { left, right, .. }) = self.recordings.remove(&line)
            && let Some(a) = self.active.as_mut()
        {
            a.bridge.remove_port(left);
            a.bridge.remove_port(right);
        }
    }

    fn stop_tone(&mut self, line: u32) {
        if let Some((_, id)) = self.tones.remove(&line)
            && let Some(a) = self.active.as_mut()
        {
            a.bridge.remove_port(id);
        }
    }

    fn on_control(&mut self, c: Control) -> Option<oneshot::Sender<()>> {
        match c {
            Control::AddCall {
                line,
                mut port,
                rate_hint,
            } => {
                self.stop_tone(line);
                let a = self.ensure_open(rate_hint);
                port.set_rate(a.rate);
                let id = a.bridge.add_port();
                if let Some(old) = self.calls.insert(
                    line,
                    Call {
                        port,
                        id,
                        in_mix: true,
                    },
                ) && let Some(a) = self.active.as_mut()
                {
                    a.bridge.remove_port(old.id);
                }
                self.rewire();
                self.start_recording(line);
            }
            Control::RemoveCall { line, done } => {
                self.stop_recording(line);
                if let Some(c) = self.calls.remove(&line)
                    && let Some(a) = self.active.as_mut()
                {
                    a.bridge.remove_port(c.id);
                }
                self.close_if_idle();
                let _ = done.send(());
            }
            Control::InMix { line, on } => {
                if let Some(c) = self.calls.get_mut(&line) {
                    c.in_mix = on;
                    self.rewire();
                }
            }
            Control::Conference(lines) => {
                self.conference = lines;
                self.rewire();
            }
            Control::Play {
                sound,
                looped,
                targets,
            } => {
                self.stop_player();
                let a = self.ensure_open(sound.rate);
                let samples = sound.at_rate(a.rate);
                let id = a.bridge.add_port();
                self.player = Some((Playing::new(samples, looped, targets), id));
                self.rewire();
            }
            Control::StopPlay => self.stop_player(),
            Control::Ring {
                id,
                sinks,
                sound,
                looped,
            } => self.ringer.start(id, sinks, sound, looped),
            Control::StopRing { id, done } => {
                self.ringer.stop(id);
                let _ = done.send(());
            }
            Control::Record { line, spec } => {
                self.stop_recording(line);
                if let Some(spec) = spec {
                    self.recordings.insert(line, Recording::Waiting(spec));
                    self.start_recording(line);
                }
            }
            Control::Ringback {
                line,
                on: true,
                rate_hint,
            } => {
                if !self.calls.contains_key(&line) && !self.tones.contains_key(&line) {
                    let a = self.ensure_open(rate_hint);
                    let tone = Tone::new(ToneKind::Ringback, a.rate, 1.0);
                    let id = a.bridge.add_port();
                    self.tones.insert(line, (tone, id));
                    self.rewire();
                }
            }
            Control::Ringback {
                line, on: false, ..
            } => {
                self.stop_tone(line);
                self.close_if_idle();
            }
            Control::Devices {
                setup,
                record,
                playback,
            } => {
                self.setup = setup;
                if let Some(a) = self.active.as_mut() {
                    if record {
                        match open_source(&self.setup.record) {
                            Ok(s) => a.source = s,
                            Err(e) => self.report(format!("{e:#}; the microphone stays")),
                        }
                    }
                    if playback && let Some(a) = self.active.as_mut() {
                        match open_sink(&self.setup.playback, a.rate) {
                            Ok(k) => {
                                let mut old = std::mem::replace(&mut a.sink, k);
                                if let Err(e) = old.finish() {
                                    warn!("closing the previous playback device: {e:#}");
                                }
                            }
                            Err(e) => self.report(format!("{e:#}; the speaker stays")),
                        }
                    }
                    if let Some(a) = self.active.as_mut() {
                        a.follow_rates();
                        a.voice = voice_processor(&self.setup, a.rate);
                    }
                }
            }
            Control::Gains {
                input,
                output,
                ring,
            } => {
                self.setup.gain_in = input;
                self.setup.gain_out = output;
                self.setup.gain_ring = ring;
                self.ringer.set_gain(ring);
                if let Some(a) = self.active.as_mut() {
                    a.bridge.set_gain(a.mic_port, input, 1.0);
                    a.bridge.set_gain(a.speaker_port, 1.0, output);
                }
            }
            Control::Stop(done) => {
                self.ringer.clear();
                self.player = None;
                self.recordings.clear();
                self.calls.clear();
                self.tones.clear();
                self.close_if_idle();
                return Some(done);
            }
        }
        None
    }

    /// Whether the clock must run: devices are open or the ringer sounds.
    fn ticking(&self) -> bool {
        self.active.is_some() || !self.ringer.is_empty()
    }

    /// One frame through the ringer and the bridge.
    fn tick(&mut self) {
        let (_, notices) = self.ringer.tick();
        for n in notices {
            self.report(n);
        }
        let Some(a) = self.active.as_mut() else {
            return;
        };
        a.source.read(&mut a.captured);
        a.up.process(&a.captured, &mut a.mic);
        if let Some(v) = a.voice.as_mut() {
            v.capture(&mut a.mic);
        }
        a.bridge.put(a.mic_port, &a.mic);
        for c in self.calls.values_mut() {
            if c.port.get_frame(&mut a.frame) {
                a.bridge.put(c.id, &a.frame);
            }
        }
        for (tone, id) in self.tones.values_mut() {
            tone.fill(&mut a.frame);
            a.bridge.put(*id, &a.frame);
        }
        let mut play_ended = false;
        if let Some((playing, id)) = self.player.as_mut() {
            play_ended = !playing.fill(&mut a.frame);
            a.bridge.put(*id, &a.frame);
        }
        a.bridge.mix();
        a.down
            .process(a.bridge.output(a.speaker_port), &mut a.played);
        if let Some(v) = a.voice.as_mut() {
            // The echo canceller's reference: exactly what the speaker plays now.
            v.render(a.bridge.output(a.speaker_port));
        }
        if let Err(e) = a.sink.write(&a.played) {
            warn!("playback device failed: {e:#}");
        }
        for c in self.calls.values_mut() {
            c.port.put_frame(a.bridge.output(c.id));
        }
        let mut full = Vec::new();
        for (line, r) in &mut self.recordings {
            if let Recording::Running {
                recorder,
                left,
                right,
            } = r
                && !recorder.push(a.bridge.output(*left), a.bridge.output(*right))
            {
                full.push(*line);
            }
        }
        let mut notices = Vec::new();
        while let Some(n) = a.source.take_notice().or_else(|| a.sink.take_notice()) {
            notices.push(n);
        }
        a.follow_rates();
        for n in notices {
            self.report(n);
        }
        for line in full {
            self.stop_recording(line);
        }
        if play_ended {
            self.stop_player();
            let _ = self.events.send(AudioEvent::PlayEnded);
        }
    }
}

async fn run(
    setup: DeviceSetup,
    mut control: mpsc::UnboundedReceiver<Control>,
    events: mpsc::UnboundedSender<AudioEvent>,
) {
    let mut engine = Engine::new(setup, events);
    let period = Duration::from_millis(u64::from(BRIDGE_FRAME_MS));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        if !engine.ticking() {
            // Nothing to play: wait for a port without ticking.
            match control.recv().await {
                Some(c) => {
                    if let Some(done) = engine.on_control(c) {
                        let _ = done.send(());
                        return;
                    }
                    if engine.ticking() {
                        tick.reset_immediately();
                    }
                }
                None => return,
            }
            continue;
        }
        tokio::select! {
            _ = tick.tick() => engine.tick(),
            c = control.recv() => match c {
                Some(c) => if let Some(done) = engine.on_control(c) {
                    let _ = done.send(());
                    return;
                },
                None => {
                    engine.ringer.clear();
                    engine.player = None;
                    engine.recordings.clear();
                    engine.calls.clear();
                    engine.tones.clear();
                    engine.close_if_idle();
                    return;
                }
            },
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
