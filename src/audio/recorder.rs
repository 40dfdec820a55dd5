//! Call recording: a stereo WAV per call, left = what the user said (the microphone as the far
//! end gets it, after the input gain), right = what the user heard from that call (in a
//! conference, every member's far end). The engine gives the two channels frame by frame; a
//! thread of the recording's own writes them, so no disk write ever waits on the audio clock.
//!
//! The WAV header is brought up to date every second, so a recording cut short by a crash or
//! a power cut is still a readable file with everything up to the last second.

use super::event::AudioEvent;
pub use super::event::RecordingOutcome;
use crate::media::resample::Resampler;
use crate::media::session::bridge_frame;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;
use tracing::warn;

/// The rate recordings are written at: wideband speech, a quarter of a 48 kHz device's size.
const MAX_RECORDING_RATE: u32 = 16_000;

/// What to record a call into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSpec {
    /// The file (created, or replaced).
    pub path: PathBuf,
    /// `maxrecordlength`: the recording stops after this many seconds (0: no limit).
    pub max_seconds: u32,
}

/// What the engine hands the recording thread.
enum ToWriter {
    /// Interleaved left/right samples.
    Frame(Vec<i16>),
    /// `maxrecordlength` was reached: the file ends here.
    Limit,
}

/// One recording in progress, as the engine's tick feeds it.
pub struct Recorder {
    frames: std_mpsc::Sender<ToWriter>,
    left: Resampler,
    right: Resampler,
    left_out: Vec<i16>,
    right_out: Vec<i16>,
    written: u64,
    limit: Option<u64>,
}

impl Recorder {
    /// Starts writing `spec` for `line` at the bridge's `rate` (above 16 kHz it is written at
    /// 16 kHz); how it goes is reported on `events`.
    pub fn start(
        line: u32,
        spec: RecordingSpec,
        rate: u32,
        events: mpsc::UnboundedSender<AudioEvent>,
    ) -> Recorder {
        let out_rate = rate.min(MAX_RECORDING_RATE);
        let (frames, incoming) = std_mpsc::channel();
        let max_seconds = spec.max_seconds;
        std::thread::Builder::new()
            .name(format!("recording-{line}"))
            .spawn(move || write_wav(line, spec.path, out_rate, incoming, events))
            .map_err(|e| warn!("no recording thread: {e}"))
            .ok();
        let make = || {
            Resampler::new(rate, out_rate)
                .unwrap_or_else(|_| Resampler::passthrough(rate, out_rate))
        };
        Recorder {
            frames,
            left: make(),
            right: make(),
            left_out: vec![0; bridge_frame(out_rate)],
            right_out: vec![0; bridge_frame(out_rate)],
            written: 0,
            limit: (max_seconds > 0).then(|| u64::from(max_seconds) * u64::from(out_rate)),
        }
    }

    /// One frame of each channel; false once `maxrecordlength` is reached (the recorder is
    /// then to be dropped, which finishes the file).
    pub fn push(&mut self, left: &[i16], right: &[i16]) -> bool {
        self.left.process(left, &mut self.left_out);
        self.right.process(right, &mut self.right_out);
        let mut both = Vec::with_capacity(self.left_out.len() * 2);
        for (l, r) in self.left_out.iter().zip(&self.right_out) {
            both.push(*l);
            both.push(*r);
        }
        self.written += self.left_out.len() as u64;
        if self.frames.send(ToWriter::Frame(both)).is_err() {
            return false;
        }
        if self.limit.is_some_and(|max| self.written >= max) {
            let _ = self.frames.send(ToWriter::Limit);
            return false;
        }
        true
    }
}

/// The recording thread: creates the file, writes what comes, keeps the header current, and
/// finishes the file when the engine lets go of the recorder.
fn write_wav(
    line: u32,
    path: PathBuf,
    rate: u32,
    frames: std_mpsc::Receiver<ToWriter>,
    events: mpsc::UnboundedSender<AudioEvent>,
) {
    let report = |outcome| {
        let _ = events.send(AudioEvent::Recording {
            line,
            path: path.clone(),
            outcome,
        });
    };
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return report(RecordingOutcome::Failed(format!("{}: {e}", dir.display())));
    }
    let mut wav = match hound::WavWriter::create(&path, spec) {
        Ok(w) => w,
        Err(e) => return report(RecordingOutcome::Failed(format!("{}: {e}", path.display()))),
    };
    report(RecordingOutcome::Started);
    let per_second = u64::from(rate) * 2;
    let (mut samples, mut since_flush) = (0u64, 0u64);
    let (mut failure, mut limit) = (None, false);
    for message in frames {
        let frame = match message {
            ToWriter::Frame(f) => f,
            ToWriter::Limit => {
                limit = true;
                break;
            }
        };
        for s in &frame {
            if let Err(e) = wav.write_sample(*s) {
                failure.get_or_insert_with(|| e.to_string());
            }
        }
        samples += frame.len() as u64;
        since_flush += frame.len() as u64;
        if since_flush >= per_second {
            since_flush = 0;
            if let Err(e) = wav.flush() {
                failure.get_or_insert_with(|| e.to_string());
            }
        }
        if failure.is_some() {
            break;
        }
    }
    let finished = wav.finalize().map_err(|e| e.to_string());
    match failure.map_or(finished, Err) {
        Err(e) => report(RecordingOutcome::Failed(format!("{}: {e}", path.display()))),
        Ok(()) => {
            let seconds = u32::try_from(samples / per_second).unwrap_or(u32::MAX);
            report(RecordingOutcome::Stopped { seconds, limit });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &std::path::Path) -> (hound::WavSpec, Vec<i16>) {
        let r = hound::WavReader::open(path).unwrap();
        let spec = r.spec();
        (spec, r.into_samples::<i16>().map(Result::unwrap).collect())
    }

    #[test]
    fn a_recording_is_stereo_left_said_right_heard_and_readable_while_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/call.wav");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut rec = Recorder::start(
            1,
            RecordingSpec {
                path: path.clone(),
                max_seconds: 0,
            },
            8000,
            tx,
        );
        let frame = bridge_frame(8000);
        for _ in 0..60 {
            assert!(rec.push(&vec![1000; frame], &vec![-2000; frame]));
        }
        // More than a second written: the header already says so (a crash now leaves a file
        // that plays).
        let mut seen = 0;
        for _ in 0..100 {
            std::thread::sleep(std::time::Duration::from_millis(20));
            if let Ok(r) = hound::WavReader::open(&path) {
                seen = r.len();
                if seen >= 16_000 {
                    break;
                }
            }
        }
        assert!(seen >= 16_000, "header shows {seen} samples");
        drop(rec);
        assert_eq!(
            rx.blocking_recv(),
            Some(AudioEvent::Recording {
                line: 1,
                path: path.clone(),
                outcome: RecordingOutcome::Started
            })
        );
        assert_eq!(
            rx.blocking_recv(),
            Some(AudioEvent::Recording {
                line: 1,
                path: path.clone(),
                outcome: RecordingOutcome::Stopped {
                    seconds: 1,
                    limit: false
                }
            })
        );
        let (spec, samples) = read(&path);
        assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
        assert_eq!(samples.len(), 60 * frame * 2);
        // At the bridge's own rate nothing is resampled: the channels are exact.
        let tail = &samples[samples.len() - 2 * frame..];
        assert!(
            tail.chunks(2).all(|c| c == [1000, -2000]),
            "{:?}",
            &tail[..8]
        );
    }

    #[test]
    fn the_length_limit_stops_and_wide_rates_are_written_at_16_khz() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.wav");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut rec = Recorder::start(
            2,
            RecordingSpec {
                path: path.clone(),
                max_seconds: 1,
            },
            48_000,
            tx,
        );
        let frame = bridge_frame(48_000);
        let pushed = (0..100)
            .take_while(|_| rec.push(&vec![0; frame], &vec![0; frame]))
            .count();
        assert_eq!(pushed, 49, "one second is 50 frames: the 50th says stop");
        drop(rec);
        let outcomes: Vec<_> = std::iter::from_fn(|| rx.blocking_recv())
            .map(|e| match e {
                AudioEvent::Recording { outcome, .. } => outcome,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                RecordingOutcome::Started,
                RecordingOutcome::Stopped {
                    seconds: 1,
                    limit: true
                }
            ]
        );
        let (spec, _) = read(&path);
        assert_eq!(spec.sample_rate, 16_000);
    }

    #[test]
    fn a_file_that_cannot_be_made_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let rec = Recorder::start(
            3,
            RecordingSpec {
                path: blocker.join("inside.wav"),
                max_seconds: 0,
            },
            8000,
            tx,
        );
        drop(rec);
        match rx.blocking_recv() {
            Some(AudioEvent::Recording {
                outcome: RecordingOutcome::Failed(why),
                ..
            }) => assert!(why.contains("file"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
