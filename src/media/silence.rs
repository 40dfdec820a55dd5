//! Silence on the wire: what the send side does with a frame that carries no speech, and the
//! comfort noise the receive side plays for the peer's silence (RFC 3389).
//!
//! Sending: `silencesupress` sends nothing while the voice activity detector hears no speech
//! (after a hangover, so that word endings are kept), `sendrtponmuted=false` sends nothing
//! while the microphone is muted. A silence starts with one comfort-noise packet (SID) when CN
//! was agreed and is refreshed every few seconds; the first packet after it carries the marker
//! bit (RFC 3551 §4.1). `rtpkeepalive` sends an empty datagram (RFC 6263 §4.1) when nothing
//! else went out for that long, so that NAT bindings stay open.
//!
//! Voice activity comes from earshot (a small neural detector, pure Rust, 16 kHz frames of
//! 256 samples) fed with the bridge frames decimated to 16 kHz; a fast energy onset counts as
//! speech at once, so that the detector's context does not clip the first syllable.

use std::time::Duration;

/// The send side's silence settings (`silencesupress`, `vad`, `sendrtponmuted`,
/// `rtpkeepalive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SilenceSettings {
    /// Send nothing while there is no speech.
    pub suppress: bool,
    /// Voice activity detection aggressiveness 1 (keeps most) .. 4 (cuts most); 0 turns the
    /// detector off, and with it suppression.
    pub vad_level: u8,
    /// Keep sending (silence) while the microphone is muted.
    pub send_on_mute: bool,
    /// An empty datagram when nothing was sent for this long (`None`: never).
    pub keepalive: Option<Duration>,
}

/// What the session sends for one ptime slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotAction {
    /// The encoded frame; `marker` on the first one after a silence.
    Send { marker: bool },
    /// A comfort-noise packet with this noise level in -dBov (RFC 3389 §3).
    Comfort { level: u8 },
    /// An empty keep-alive datagram.
    KeepAlive,
    /// Nothing.
    Nothing,
}

/// How often a silence's comfort noise is refreshed.
const SID_REFRESH: Duration = Duration::from_secs(5);

/// Decides, frame by frame, whether the send side sends audio, comfort noise or nothing.
pub struct SilenceGate {
    settings: SilenceSettings,
    vad: Option<VoiceActivity>,
    in_silence: bool,
    since_sid: Duration,
    since_sent: Duration,
}

impl std::fmt::Debug for SilenceGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SilenceGate")
            .field("settings", &self.settings)
            .field("in_silence", &self.in_silence)
            .finish()
    }
}

impl SilenceGate {
    /// A gate for frames at `rate` Hz.
    pub fn new(settings: SilenceSettings, rate: u32) -> SilenceGate {
        let vad = (settings.suppress && settings.vad_level > 0)
            .then(|| VoiceActivity::new(settings.vad_level, rate));
        SilenceGate {
            settings,
            vad,
            in_silence: false,
            since_sid: Duration::ZERO,
            since_sent: Duration::ZERO,
        }
    }

    /// True while a silence is being suppressed.
    pub fn in_silence(&self) -> bool {
        self.in_silence
    }

    /// One bridge frame of what we capture, as it arrives (the detector's input).
    pub fn hear(&mut self, frame: &[i16]) {
        if let Some(vad) = self.vad.as_mut() {
            vad.hear(frame);
        }
    }

    /// The action for one ptime slot of `ptime`; `frame` is the slot's audio (for the noise
    /// level), `cn` whether comfort noise was agreed.
    pub fn slot(&mut self, frame: &[i16], muted: bool, cn: bool, ptime: Duration) -> SlotAction {
        let speech = self.vad.as_ref().is_none_or(VoiceActivity::speaking);
        let silent = (muted && !self.settings.send_on_mute) || !speech;
        self.since_sent += ptime;
        self.since_sid += ptime;
        if !silent {
            let marker = std::mem::replace(&mut self.in_silence, false);
            self.since_sent = Duration::ZERO;
            return SlotAction::Send { marker };
        }
        let starting = !std::mem::replace(&mut self.in_silence, true);
        if cn && (starting || self.since_sid >= SID_REFRESH) {
            self.since_sid = Duration::ZERO;
            self.since_sent = Duration::ZERO;
            return SlotAction::Comfort {
                level: noise_level(if muted { &[] } else { frame }),
            };
        }
        self.keepalive_due()
    }

    /// For a slot in which the direction lets us send nothing (hold): a keep-alive if due.
    pub fn idle(&mut self, ptime: Duration) -> SlotAction {
        self.since_sent += ptime;
        self.keepalive_due()
    }

    fn keepalive_due(&mut self) -> SlotAction {
        match self.settings.keepalive {
            Some(every) if self.since_sent >= every => {
                self.since_sent = Duration::ZERO;
                SlotAction::KeepAlive
            }
            _ => SlotAction::Nothing,
        }
    }
}

/// RFC 3389's noise level of a frame: its RMS in -dBov, 0..=127 (127: digital silence).
pub fn noise_level(frame: &[i16]) -> u8 {
    if frame.is_empty() {
        return 127;
    }
    let power = frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / frame.len() as f64;
    if power < 1.0 {
        return 127;
    }
    let dbov = 10.0 * (power / (32768.0f64 * 32768.0)).log10();
    (-dbov).round().clamp(0.0, 127.0) as u8
}

/// The peer's comfort noise (RFC 3389): white noise at the level of its last SID, smoothed
/// by a one-pole low-pass so that it sounds like a room rather than a hiss. The spectral
/// coefficients a SID may carry are ignored (RFC 3389 §4 allows it).
#[derive(Debug, Clone)]
pub struct ComfortNoise {
    amplitude: f32,
    seed: u32,
    last: f32,
}

impl ComfortNoise {
    /// Noise at the level of a SID payload (its first byte, -dBov); an empty one is silence.
    pub fn from_sid(payload: &[u8]) -> ComfortNoise {
        let level = payload.first().map_or(127, |b| b & 0x7f);
        // The noise's RMS. Uniform noise in [-a, a] has variance a²/3 and the low-pass below
        // leaves a third of it: a = 3·RMS.
        let rms = 32768.0 * 10f32.powf(-f32::from(level) / 20.0);
        ComfortNoise {
            amplitude: rms * 3.0,
            seed: 0x2545_f491,
            last: 0.0,
        }
    }

    /// Fills `out` with noise.
    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out {
            // xorshift32: uniform in [-1, 1).
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 17;
            self.seed ^= self.seed << 5;
            let white = (self.seed as f32 / u32::MAX as f32) * 2.0 - 1.0;
            self.last = 0.5 * self.last + 0.5 * white * self.amplitude;
            *o = self.last.clamp(-32768.0, 32767.0) as i16;
        }
    }
}

/// Voice activity on the capture: earshot's score per 16 ms, an energy onset, a hangover.
struct VoiceActivity {
    detector: Box<earshot::Detector>,
    threshold: f32,
    hangover: u32,
    /// Input samples per 16 kHz sample (3 at 48 kHz); below 16 kHz samples are repeated.
    step: f64,
    phase: f64,
    acc: f32,
    acc_n: u32,
    block: Vec<i16>,
    /// Noise floor estimate in dB (rises slowly, falls at once).
    floor_db: f64,
    onset_db: f64,
    /// Frames since speech was last heard.
    quiet: u32,
}

impl VoiceActivity {
    fn new(level: u8, rate: u32) -> VoiceActivity {
        let level = level.clamp(1, 4) as usize;
        VoiceActivity {
            detector: earshot::Detector::default_boxed(),
            threshold: [0.3, 0.5, 0.7, 0.85][level - 1],
            // Bridge frames of 20 ms: 500, 300, 200, 120 ms.
            hangover: [25, 15, 10, 6][level - 1],
            step: f64::from(rate.max(1)) / 16_000.0,
            phase: 0.0,
            acc: 0.0,
            acc_n: 0,
            block: Vec::with_capacity(256),
            floor_db: 40.0,
            onset_db: [9.0, 12.0, 15.0, 18.0][level - 1],
            quiet: u32::MAX,
        }
    }

    fn speaking(&self) -> bool {
        self.quiet <= self.hangover
    }

    fn hear(&mut self, frame: &[i16]) {
        let mut voiced = false;
        for &s in frame {
            self.acc += f32::from(s);
            self.acc_n += 1;
            self.phase += 1.0;
            // Box-filter decimation to 16 kHz (or sample-and-hold up to it): enough for a
            // detector that looks at speech bands.
            if self.phase >= self.step {
                let v = (self.acc / self.acc_n as f32) as i16;
                self.acc = 0.0;
                self.acc_n = 0;
                while self.phase >= self.step {
                    self.phase -= self.step;
                    self.block.push(v);
                    if self.block.len() == 256 {
                        voiced |= self.detector.predict_i16(&self.block) >= self.threshold;
                        self.block.clear();
                    }
                }
            }
        }
        let power =
            frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / frame.len().max(1) as f64;
        let db = 10.0 * power.max(1.0).log10();
        // A clear rise over the noise floor is speech even before the detector agrees.
        voiced |= db > self.floor_db + self.onset_db && db > 30.0;
        self.floor_db = if db < self.floor_db {
            db
        } else {
            self.floor_db + 0.05
        };
        self.quiet = if voiced {
            0
        } else {
            self.quiet.saturating_add(1)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTIME: Duration = Duration::from_millis(20);

    fn settings(suppress: bool) -> SilenceSettings {
        SilenceSettings {
            suppress,
            vad_level: 2,
            send_on_mute: false,
            keepalive: None,
        }
    }

    /// A vowel-like buzz (speech-band harmonics) or a quiet hiss, 20 ms at 48 kHz.
    fn frame(speech: bool, i: usize) -> Vec<i16> {
        (0..960)
            .map(|n| {
                let t = (i * 960 + n) as f32 / 48_000.0;
                if speech {
                    let f0 = 140.0;
                    ((1..8)
                        .map(|h| (t * f0 * h as f32 * std::f32::consts::TAU).sin() / h as f32)
                        .sum::<f32>()
                        * 6000.0) as i16
                } else {
                    (((n * 7919 + i * 104_729) % 61) as i16 - 30) * 2
                }
            })
            .collect()
    }

    #[test]
    fn comfort_noise_plays_at_the_sid_level() {
        for level in [30u8, 50, 70] {
            let mut cn = ComfortNoise::from_sid(&[level, 1, 2]);
            let mut out = vec![0i16; 8000];
            cn.fill(&mut out);
            let got = i32::from(noise_level(&out));
            assert!((got - i32::from(level)).abs() <= 2, "{level}: {got}");
        }
        let mut out = vec![1i16; 160];
        ComfortNoise::from_sid(&[]).fill(&mut out);
        assert!(out.iter().all(|&s| s.abs() <= 1));
    }

    #[test]
    fn noise_levels_are_in_minus_dbov() {
        assert_eq!(noise_level(&[]), 127);
        assert_eq!(noise_level(&[0; 160]), 127);
        // A full-scale square wave is 0 dBov, one at a tenth -20 dBov.
        assert_eq!(noise_level(&[i16::MAX, i16::MIN].repeat(80)), 0);
        assert_eq!(noise_level(&[3277, -3277].repeat(80)), 20);
    }

    #[test]
    fn silence_is_suppressed_with_one_sid_and_speech_resumes_with_the_marker() {
        let mut gate = SilenceGate::new(settings(true), 48_000);
        let mut actions = Vec::new();
        // 1 s speech, 2 s hiss, 1 s speech.
        for i in 0..200 {
            let f = frame((0..50).contains(&i) || i >= 150, i);
            gate.hear(&f);
            actions.push(gate.slot(&f, false, true, PTIME));
        }
        let sends = |r: std::ops::Range<usize>| {
            actions[r]
                .iter()
                .filter(|a| matches!(a, SlotAction::Send { .. }))
                .count()
        };
        assert!(sends(5..50) == 45, "speech is sent");
        assert!(
            sends(80..150) == 0,
            "silence is not: {:?}",
            &actions[50..150]
        );
        let sids: Vec<_> = actions
            .iter()
            .filter(|a| matches!(a, SlotAction::Comfort { .. }))
            .collect();
        assert_eq!(sids.len(), 1, "{actions:?}");
        assert!(matches!(sids[0], SlotAction::Comfort { level } if *level > 50));
        let resumed = actions[150..]
            .iter()
            .position(|a| matches!(a, SlotAction::Send { .. }))
            .unwrap();
        assert!(resumed <= 1, "the first speech frame goes out at once");
        assert_eq!(actions[150 + resumed], SlotAction::Send { marker: true });
        assert!(sends(152..200) == 48);
    }

    #[test]
    fn without_suppression_everything_goes_except_when_muted() {
        let mut gate = SilenceGate::new(settings(false), 48_000);
        let hiss = frame(false, 0);
        assert_eq!(
            gate.slot(&hiss, false, true, PTIME),
            SlotAction::Send { marker: false }
        );
        // Muted: one SID (level of digital silence), then nothing.
        assert_eq!(
            gate.slot(&hiss, true, true, PTIME),
            SlotAction::Comfort { level: 127 }
        );
        assert_eq!(gate.slot(&hiss, true, true, PTIME), SlotAction::Nothing);
        assert_eq!(
            gate.slot(&hiss, false, true, PTIME),
            SlotAction::Send { marker: true }
        );
        // sendrtponmuted: muted frames still go out.
        let mut gate = SilenceGate::new(
            SilenceSettings {
                send_on_mute: true,
                ..settings(false)
            },
            48_000,
        );
        assert_eq!(
            gate.slot(&hiss, true, false, PTIME),
            SlotAction::Send { marker: false }
        );
    }

    #[test]
    fn keepalives_and_sid_refreshes_keep_a_long_silence_alive() {
        let mut gate = SilenceGate::new(
            SilenceSettings {
                keepalive: Some(Duration::from_secs(1)),
                ..settings(false)
            },
            48_000,
        );
        let hiss = frame(false, 0);
        // Muted without CN for 3 s: keep-alives every second.
        let keepalives = (0..150)
            .filter(|_| gate.slot(&hiss, true, false, PTIME) == SlotAction::KeepAlive)
            .count();
        assert_eq!(keepalives, 3);
        // On hold (nothing may be sent): the same.
        let idle = (0..100)
            .filter(|_| gate.idle(PTIME) == SlotAction::KeepAlive)
            .count();
        assert_eq!(idle, 2);
        // With CN and no keep-alive: a SID every 5 s.
        let mut gate = SilenceGate::new(settings(false), 48_000);
        let sids = (0..750)
            .filter(|_| {
                matches!(
                    gate.slot(&hiss, true, true, PTIME),
                    SlotAction::Comfort { .. }
                )
            })
            .count();
        assert_eq!(sids, 3);
    }
}
