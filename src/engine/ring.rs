//! The ring of an incoming call: which sound it is. The audio engine's ringer plays it
//! (`audio::ringer`) on the ringer device(s) (`ringerdevice`, which may be every sound card),
//! on the engine's clock, through the same player as a `PlaySound` prompt; the ringback a
//! caller hears plays on the speaker through the bridge, so the call's media takes it over
//! without a device being opened twice.

use crate::audio::player::Sound;

/// The ring: the `ringtone` WAV file (any PCM WAV the player reads, followed by a pause) when
/// one is set and readable, else the built-in ring, and what went wrong with the file.
/// Blocking (it reads the file): for the worker thread or start-up.
pub(super) fn ring_sound(ringtone: &str) -> (Sound, Option<String>) {
    let file = ringtone.trim();
    if file.is_empty() {
        return (Sound::builtin_ring(), None);
    }
    match Sound::load(std::path::Path::new(file)) {
        Ok(sound) if !sound.samples.is_empty() => (Sound::ringtone(sound), None),
        Ok(_) => (
            Sound::builtin_ring(),
            Some(format!(
                "ringtone {file}: no samples; using the built-in ring"
            )),
        ),
        Err(e) => (
            Sound::builtin_ring(),
            Some(format!("ringtone {e}; using the built-in ring")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ringtone_of_any_pcm_kind_rings_and_a_bad_one_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for _ in 0..22_050 {
            w.write_sample(0.5f32).unwrap();
        }
        w.finalize().unwrap();
        let (sound, problem) = ring_sound(path.to_str().unwrap());
        assert_eq!(problem, None);
        assert_eq!(sound.rate, 22_050);
        assert_eq!(sound.samples.len(), 22_050 * 3, "the file and a 2 s pause");
        assert_eq!(ring_sound("  ").0, Sound::builtin_ring());
        let (sound, problem) = ring_sound("/nonexistent/ring.wav");
        assert_eq!(sound, Sound::builtin_ring());
        let problem = problem.unwrap();
        assert!(problem.contains("/nonexistent/ring.wav"), "{problem}");
    }
}
