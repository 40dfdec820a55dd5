//! Call-progress sounds as a frame stage: the ringback a caller hears while the far end rings
//! (425 Hz, 1 s on, 4 s off, as ETSI ES 201 970 has it), the ring of an incoming call
//! (440 + 480 Hz, 2 s on, 4 s off; the ringer renders one cadence into a sound it loops). No
//! clock: each call of `fill` is the next stretch of sound.

/// What to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneKind {
    /// The far end rings (heard by the caller).
    Ringback,
    /// A call comes in.
    Ring,
}

/// A tone generator at a given output rate.
#[derive(Debug)]
pub struct Tone {
    kind: ToneKind,
    rate: u32,
    /// Samples produced so far (the position in the cadence).
    pos: u64,
    /// Linear gain (volume).
    gain: f32,
}

impl Tone {
    /// A generator of `kind` at `rate` Hz; `gain` 1.0 is the natural level (about -12 dBFS
    /// for the tones).
    pub fn new(kind: ToneKind, rate: u32, gain: f32) -> Tone {
        Tone {
            kind,
            rate: rate.max(1),
            pos: 0,
            gain,
        }
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        let rate = u64::from(self.rate);
        for s in out.iter_mut() {
            let t = self.pos;
            self.pos += 1;
            let v = match &self.kind {
                ToneKind::Ringback => {
                    let in_cycle = t % (5 * rate);
                    if in_cycle < rate {
                        sine(t, 425.0, self.rate) * 8000.0
                    } else {
                        0.0
                    }
                }
                ToneKind::Ring => {
                    let in_cycle = t % (6 * rate);
                    if in_cycle < 2 * rate {
                        (sine(t, 440.0, self.rate) + sine(t, 480.0, self.rate)) * 5000.0
                    } else {
                        0.0
                    }
                }
            };
            *s = (v * self.gain).clamp(-32768.0, 32767.0) as i16;
        }
    }
}

fn sine(t: u64, hz: f32, rate: u32) -> f32 {
    // The phase from t mod the rate keeps f32 precise on long rings.
    let cycles = (t % u64::from(rate)) as f32 * hz / rate as f32;
    (cycles * std::f32::consts::TAU).sin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(x: &[i16]) -> f32 {
        (x.iter().map(|&s| f32::from(s).powi(2)).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn ringback_cadence_is_one_second_on_four_off() {
        let mut t = Tone::new(ToneKind::Ringback, 8000, 1.0);
        let mut second = vec![0i16; 8000];
        let levels: Vec<f32> = (0..6)
            .map(|_| {
                t.fill(&mut second);
                rms(&second)
            })
            .collect();
        assert!(levels[0] > 5000.0, "{levels:?}");
        assert!(levels[1..5].iter().all(|l| *l == 0.0), "{levels:?}");
        assert!(levels[5] > 5000.0, "{levels:?}");
    }
}
