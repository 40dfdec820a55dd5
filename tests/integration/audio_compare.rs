//! Comparing a received recording with the reference that was sent: align by the energy
//! envelope, then take the normalised cross-correlation of the raw samples around that lag.
//! Silence, noise, a wrong sample rate or the wrong recording score near 0; G.711 over a clean
//! loopback scores above 0.9.

use std::path::Path;

/// Samples of a mono 16-bit WAV file at 8 kHz, as f32 (other rates are converted by sox, so
/// that recordings of wideband calls compare with the same measure).
pub fn read_wav(path: &Path) -> Vec<f32> {
    let (rate, samples) = read_wav_any(path);
    if rate == 8000 {
        return samples;
    }
    let narrow = path.with_extension("8k.wav");
    let ok = std::process::Command::new("sox")
        .arg(path)
        .args(["-r", "8000", "-c", "1"])
        .arg(&narrow)
        .status()
        .expect("sox");
    assert!(ok.success(), "sox could not convert {}", path.display());
    read_wav_any(&narrow).1
}

/// The rate and samples of a 16-bit WAV file (stereo mixed down to mono).
pub fn read_wav_any(path: &Path) -> (u32, Vec<f32>) {
    let r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let channels = usize::from(spec.channels.max(1));
    let all: Vec<f32> = r
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap_or(0)))
        .collect();
    let samples = all
        .chunks(channels)
        .map(|c| c.iter().sum::<f32>() / channels as f32)
        .collect();
    (spec.sample_rate, samples)
}

/// The share of a recording's energy above 4 kHz (what a narrowband path cannot carry):
/// direct DFT of 20 ms frames at 250 Hz steps from 250 Hz to just under half the rate.
pub fn high_band_share(path: &Path) -> f64 {
    let (rate, x) = read_wav_any(path);
    if rate < 16_000 {
        return 0.0;
    }
    let n = rate as usize / 50;
    let (mut low, mut high) = (0f64, 0f64);
    let bins: Vec<f64> = (1..)
        .map(|k| f64::from(k) * 250.0)
        .take_while(|f| *f < f64::from(rate) / 2.0 - 250.0)
        .collect();
    for frame in x.chunks_exact(n).step_by(2) {
        for &f in &bins {
            let w = f * std::f64::consts::TAU / f64::from(rate);
            let (mut re, mut im) = (0f64, 0f64);
            for (i, &s) in frame.iter().enumerate() {
                re += f64::from(s) * (w * i as f64).cos();
                im += f64::from(s) * (w * i as f64).sin();
            }
            let e = re * re + im * im;
            if f > 4200.0 {
                high += e;
            } else {
                low += e;
            }
        }
    }
    if low + high == 0.0 {
        0.0
    } else {
        high / (low + high)
    }
}

fn envelope(x: &[f32]) -> Vec<f32> {
    x.chunks(80)
        .map(|c| c.iter().map(|v| v.abs()).sum::<f32>() / c.len() as f32)
        .collect()
}

fn ncc(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]), f64::from(b[i]));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

/// How well the loudness contour of `reference` shows in `received` (delayed by up to 8 s):
/// the best Pearson correlation of their 10 ms envelopes. Unlike [`similarity`] it does not
/// need the waveform to stay in step, so it holds on a path whose delay drifts by a few
/// milliseconds (a sound server's loopback resamples adaptively); unrelated speech scores
/// near 0.
pub fn envelope_similarity(reference: &[f32], received: &[f32]) -> f64 {
    // Pearson's correlation: the normalised cross-correlation of the mean-free envelopes.
    let centred = |x: &[f32]| {
        let mean = x.iter().sum::<f32>() / x.len().max(1) as f32;
        x.iter().map(|v| v - mean).collect::<Vec<f32>>()
    };
    let (er, ex) = (centred(&envelope(reference)), envelope(received));
    (0..ex.len().saturating_sub(er.len()).min(800) + 1)
        .filter(|&lag| lag + er.len() <= ex.len())
        .map(|lag| ncc(&er, &centred(&ex[lag..lag + er.len()])))
        .fold(0f64, f64::max)
}

/// The overlap of `reference` and `received` when `received` lags by `lag` samples (negative:
/// the recording starts after the reference's start): the two starts and the length.
fn overlap(reference: usize, received: usize, lag: isize) -> (usize, usize, usize) {
    let (r0, x0) = if lag >= 0 {
        (0, lag as usize)
    } else {
        (lag.unsigned_abs(), 0)
    };
    let n = reference
        .saturating_sub(r0)
        .min(received.saturating_sub(x0));
    (r0, x0, n)
}

/// How well `received` contains `reference` (delayed by up to 8 s, or missing up to its first
/// half second): the best normalised cross-correlation, 0 when less than 80 % of the reference
/// is there.
pub fn similarity(reference: &[f32], received: &[f32]) -> f64 {
    let (er, ex) = (envelope(reference), envelope(received));
    let max_lag = 800.min(ex.len()) as isize;
    let best_env = (-50..max_lag)
        .map(|lag| {
            let (r0, x0, n) = overlap(er.len(), ex.len(), lag);
            (
                lag,
                if n * 5 < er.len() * 4 {
                    0.0
                } else {
                    ncc(&er[r0..r0 + n], &ex[x0..x0 + n])
                },
            )
        })
        .fold((0, f64::MIN), |b, c| if c.1 > b.1 { c } else { b });
    let centre = best_env.0 * 80;
    let mut best = 0f64;
    for lag in centre - 160..=centre + 160 {
        let (r0, x0, n) = overlap(reference.len(), received.len(), lag);
        if n * 5 < reference.len() * 4 {
            continue;
        }
        best = best.max(ncc(&reference[r0..r0 + n], &received[x0..x0 + n]));
    }
    best
}

/// The longest run of silence (20 ms frames below RMS 30) and whether there is speech (a frame
/// above RMS 500) before and after it: what a hold or mute leaves in a recording.
pub fn silence_gap(samples: &[f32]) -> (std::time::Duration, bool, bool) {
    let frames: Vec<f32> = samples
        .chunks(160)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let (mut best, mut run, mut best_end) = (0usize, 0usize, 0usize);
    for (i, rms) in frames.iter().enumerate() {
        run = if *rms < 30.0 { run + 1 } else { 0 };
        if run > best {
            best = run;
            best_end = i;
        }
    }
    if best == 0 {
        return (std::time::Duration::ZERO, false, false);
    }
    let before = frames[..best_end + 1 - best].iter().any(|r| *r > 500.0);
    let after = frames[best_end + 1..].iter().any(|r| *r > 500.0);
    (
        std::time::Duration::from_millis(best as u64 * 20),
        before,
        after,
    )
}

#[test]
fn similarity_tells_speech_from_silence_noise_and_shifts() {
    // A synthetic "speech": a chirp with a syllable-like envelope.
    let reference: Vec<f32> = (0..16000)
        .map(|i| {
            let t = i as f32 / 8000.0;
            let env = (t * 7.0).sin().abs();
            env * (2.0 * std::f32::consts::PI * (300.0 + 200.0 * t) * t).sin() * 8000.0
        })
        .collect();
    let mut delayed = vec![0.0; 1234];
    delayed.extend(&reference);
    assert!(similarity(&reference, &delayed) > 0.99);
    // Through G.711 both ways it still matches.
    let coded: Vec<f32> = delayed
        .iter()
        .map(|&s| {
            f32::from(softphone::media::g711::ulaw_to_linear(
                softphone::media::g711::linear_to_ulaw(s as i16),
            ))
        })
        .collect();
    assert!(similarity(&reference, &coded) > 0.95);
    assert!(similarity(&reference, &vec![0.0; 20000]) < 0.1, "silence");
    let mut seed = 12345u32;
    let noise: Vec<f32> = (0..20000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((seed >> 16) as f32 / 32768.0 - 1.0) * 8000.0
        })
        .collect();
    assert!(similarity(&reference, &noise) < 0.2, "noise");
    // Wrong rate: every other sample (played twice as fast).
    let fast: Vec<f32> = delayed.iter().step_by(2).copied().collect();
    assert!(similarity(&reference, &fast) < 0.3, "wrong rate");
    // Only half of it arrived.
    assert_eq!(similarity(&reference, &delayed[..9000]), 0.0);
}

/// Tone power at `hz` in an 8 kHz stretch, relative to the stretch's energy (Goertzel).
pub fn tone_share(x: &[f32], hz: f32) -> f32 {
    let w = hz * std::f32::consts::TAU / 8000.0;
    let (mut s1, mut s2) = (0f32, 0f32);
    for &v in x {
        let s0 = v + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let energy: f32 = x.iter().map(|v| v * v).sum();
    if energy == 0.0 {
        0.0
    } else {
        power / (energy * x.len() as f32 / 2.0)
    }
}
