//! Packet-loss concealment for codecs without their own (G.711, G.722), in the manner of
//! ITU-T G.711 Appendix I: find the pitch of the last good audio, play its last pitch period(s)
//! in a loop that is cross-faded at the seam, use more periods as the loss goes on (1 → 2 → 3
//! at 10 and 20 ms) so that a long loss does not buzz, fade out from 10 ms to silence at 60 ms,
//! and cross-fade the synthetic signal into the first good frame. Works at any rate that is a
//! multiple of 8 kHz (the Appendix's constants scale with it). No allocation per frame.

/// One stream's concealer.
#[derive(Debug)]
pub struct WaveformPlc {
    /// Sample rate / 8000: the Appendix's constants are for 8 kHz.
    scale: usize,
    /// The last 48.75 ms of audio (played or synthesised), oldest first.
    history: Vec<f32>,
    /// The looped pitch buffer of the current loss.
    buffer: Vec<f32>,
    pitch: usize,
    /// Periods in the loop (1..=3).
    periods: usize,
    /// Where in `buffer` the next synthetic sample comes from.
    pos: usize,
    /// Samples concealed in the current loss (0: not in a loss).
    erased: usize,
}

const HISTORY_MS_X4: usize = 195; // 48.75 ms
const PITCH_MIN_8K: usize = 40; // 200 Hz
const PITCH_MAX_8K: usize = 120; // 66.7 Hz
const CORR_LEN_8K: usize = 160; // 20 ms

impl WaveformPlc {
    /// A concealer for audio at `rate` Hz (8000, 16000, ...).
    pub fn new(rate: u32) -> WaveformPlc {
        let scale = (rate as usize / 8000).max(1);
        WaveformPlc {
            scale,
            history: vec![0.0; HISTORY_MS_X4 * 8 * scale / 4],
            buffer: Vec::with_capacity(3 * PITCH_MAX_8K * scale),
            pitch: PITCH_MAX_8K * scale,
            periods: 1,
            pos: 0,
            erased: 0,
        }
    }

    fn ms(&self, ms: usize) -> usize {
        ms * 8 * self.scale
    }

    fn push_history(&mut self, frame: &[i16]) {
        let n = frame.len().min(self.history.len());
        self.history.copy_within(n.., 0);
        let start = self.history.len() - n;
        for (h, s) in self.history[start..]
            .iter_mut()
            .zip(&frame[frame.len() - n..])
        {
            *h = f32::from(*s);
        }
    }

    /// A good (decoded) frame: after a loss its start is cross-faded with the synthetic signal.
    pub fn good(&mut self, frame: &mut [i16]) {
        if self.erased > 0 {
            // Longer losses get a longer blend: a quarter pitch plus 4 ms per extra 10 ms lost.
            let extra = (self.erased / self.ms(10)).saturating_sub(1) * self.ms(4);
            let len = (self.pitch / 4 + extra).min(self.ms(10)).min(frame.len());
            for (i, s) in frame.iter_mut().take(len).enumerate() {
                let synth = self.next_synthetic() * self.gain(self.erased);
                let w = (i + 1) as f32 / (len + 1) as f32;
                *s = (synth * (1.0 - w) + f32::from(*s) * w).clamp(-32768.0, 32767.0) as i16;
            }
            self.erased = 0;
        }
        self.push_history(frame);
    }

    /// Fills `out` for a lost frame.
    pub fn conceal(&mut self, out: &mut [i16]) {
        if self.erased == 0 {
            self.pitch = self.find_pitch();
            self.periods = 1;
            self.build_buffer();
        }
        for s in out.iter_mut() {
            // More periods in the loop at 10 and 20 ms into the loss.
            let want = if self.erased >= self.ms(20) {
                3
            } else if self.erased >= self.ms(10) {
                2
            } else {
                1
            };
            if want != self.periods {
                let offset = self.pos;
                self.periods = want;
                self.build_buffer();
                self.pos = offset % self.buffer.len().max(1);
            }
            *s = (self.next_synthetic() * self.gain(self.erased)) as i16;
            self.erased += 1;
        }
        self.push_history(out);
    }

    /// 1 for the first 10 ms of a loss, then down 20 % per 10 ms: silence from 60 ms.
    fn gain(&self, erased: usize) -> f32 {
        let t = erased as f32 / self.ms(1) as f32;
        if t < 10.0 {
            1.0
        } else {
            (1.0 - 0.02 * (t - 10.0)).max(0.0)
        }
    }

    fn next_synthetic(&mut self) -> f32 {
        if self.buffer.is_empty() {
            return 0.0;
        }
        let v = self.buffer[self.pos];
        self.pos = (self.pos + 1) % self.buffer.len();
        v
    }

    /// The last `periods` pitch periods of history, the seam cross-faded so the loop is smooth.
    fn build_buffer(&mut self) {
        let len = (self.pitch * self.periods).min(self.history.len() - self.pitch / 4);
        let h = self.history.len();
        let overlap = self.pitch / 4;
        self.buffer.clear();
        self.buffer.extend_from_slice(&self.history[h - len..]);
        // The loop's end fades into what came before its start, so wrapping around is smooth.
        for i in 0..overlap {
            let w = (i + 1) as f32 / (overlap + 1) as f32;
            let idx = len - overlap + i;
            let before_start = self.history[h - len - overlap + i];
            self.buffer[idx] = self.buffer[idx] * (1.0 - w) + before_start * w;
        }
        self.pos = 0;
    }

    /// The pitch period of the recent history by normalised autocorrelation, coarse then fine.
    fn find_pitch(&self) -> usize {
        let (min, max) = (PITCH_MIN_8K * self.scale, PITCH_MAX_8K * self.scale);
        let corr_len = CORR_LEN_8K * self.scale;
        let h = &self.history;
        let end = h.len();
        let target = &h[end - corr_len..];
        let score = |lag: usize| -> f32 {
            let cand = &h[end - corr_len - lag..end - lag];
            let (mut xy, mut yy) = (0.0f32, 0.0f32);
            for (x, y) in target.iter().zip(cand) {
                xy += x * y;
                yy += y * y;
            }
            if yy < 1.0 { 0.0 } else { xy / yy.sqrt() }
        };
        let mut best = (max, f32::MIN);
        for lag in (min..=max).step_by(2) {
            let s = score(lag);
            if s > best.1 {
                best = (lag, s);
            }
        }
        for lag in best.0.saturating_sub(1).max(min)..=(best.0 + 1).min(max) {
            let s = score(lag);
            if s > best.1 {
                best = (lag, s);
            }
        }
        best.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f32, start: usize, n: usize) -> Vec<i16> {
        (start..start + n)
            .map(|i| ((i as f32 * hz * std::f32::consts::TAU / rate as f32).sin() * 8000.0) as i16)
            .collect()
    }

    fn rms(x: &[i16]) -> f32 {
        (x.iter().map(|&s| f32::from(s).powi(2)).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn a_lost_frame_of_a_voiced_sound_continues_the_waveform() {
        for rate in [8000u32, 16_000] {
            let frame = rate as usize / 50;
            let mut plc = WaveformPlc::new(rate);
            for k in 0..5 {
                let mut f = tone(rate, 160.0, k * frame, frame);
                plc.good(&mut f);
            }
            let mut lost = vec![0i16; frame];
            plc.conceal(&mut lost);
            let truth = tone(rate, 160.0, 5 * frame, frame);
            let err: Vec<i16> = lost.iter().zip(&truth).map(|(a, b)| a - b).collect();
            // 160 Hz has a whole period of 50 samples at 8 kHz: the loop should be near exact.
            assert!(
                rms(&err) < 0.15 * rms(&truth),
                "rate {rate}: {} vs {}",
                rms(&err),
                rms(&truth)
            );
        }
    }

    #[test]
    fn long_losses_fade_to_silence_and_recovery_is_smooth() {
        let mut plc = WaveformPlc::new(8000);
        for k in 0..5 {
            let mut f = tone(8000, 200.0, k * 160, 160);
            plc.good(&mut f);
        }
        let mut out = vec![0i16; 160];
        let mut levels = Vec::new();
        for _ in 0..4 {
            plc.conceal(&mut out);
            levels.push(rms(&out));
        }
        assert!(levels[0] > 4000.0, "{levels:?}");
        assert!(levels[1] < levels[0] && levels[2] < levels[1], "{levels:?}");
        assert_eq!(levels[3], 0.0, "silent after 60 ms: {levels:?}");
        // The first good frame starts from the (silent) synthetic signal, not with a jump.
        let mut good = tone(8000, 200.0, 9 * 160, 160);
        let first = good[1];
        plc.good(&mut good);
        assert!(good[1].abs() < first.abs().max(1), "{} vs {first}", good[1]);
    }

    #[test]
    fn silence_in_silence_out() {
        let mut plc = WaveformPlc::new(16_000);
        let mut out = vec![1i16; 320];
        plc.conceal(&mut out);
        assert!(out.iter().all(|&s| s == 0));
    }
}
