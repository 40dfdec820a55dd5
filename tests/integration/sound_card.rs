//! The real sound-card path without a sound card: a private PulseAudio with two null sinks
//! gives cpal (through ALSA's pulse plugin) a real microphone (`mic`'s monitor, fed by paplay)
//! and a real speaker (`spk`, recorded from its monitor by parecord). A call to baresip must
//! carry speech both ways through them, and killing the sound server mid-call must not end
//! the call: the failure is reported, and once a server is back so is the audio.

use crate::audio_compare::{read_wav, similarity};
use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, signal, speech, wait_exit};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// A private PulseAudio server in its own runtime directory.
pub struct Pulse {
    dir: PathBuf,
    pid: Option<u32>,
}

impl Pulse {
    pub fn start(dir: &Path) -> Pulse {
        let mut p = Pulse {
            dir: dir.to_path_buf(),
            pid: None,
        };
        p.launch();
        p
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("XDG_RUNTIME_DIR".into(), self.dir.display().to_string()),
            ("HOME".into(), self.dir.display().to_string()),
            (
                "PULSE_SERVER".into(),
                format!("unix:{}", self.dir.join("pulse/native").display()),
            ),
        ]
    }

    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env());
        c
    }

    pub fn launch(&mut self) {
        let _ = std::fs::remove_file(self.dir.join("pulse/pid"));
        let status = self
            .command("pulseaudio")
            .args([
                "--daemonize=yes",
                "--exit-idle-time=-1",
                "--system=false",
                "-n",
                "--load=module-null-sink sink_name=mic",
                "--load=module-null-sink sink_name=spk",
                "--load=module-native-protocol-unix",
            ])
            .stderr(Stdio::null())
            .status()
            .expect("pulseaudio (is the pulseaudio package installed?)");
        assert!(status.success(), "pulseaudio did not start");
        let end = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(self.dir.join("pulse/pid"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break pid;
            }
            assert!(Instant::now() < end, "pulseaudio wrote no pid file");
            std::thread::sleep(Duration::from_millis(50));
        };
        self.pid = Some(pid);
        for (what, name) in [
            ("set-default-source", "mic.monitor"),
            ("set-default-sink", "spk"),
        ] {
            let ok = self
                .command("pactl")
                .args([what, name])
                .status()
                .expect("pactl");
            assert!(ok.success(), "pactl {what} {name}");
        }
    }

    /// Kills the server outright: every stream on it fails at once (an unplugged device).
    pub fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            signal(pid, "KILL");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Plays a WAV into the microphone sink.
    pub fn play_into_mic(&self, wav: &Path) -> Child {
        self.command("paplay")
            .arg("--device=mic")
            .arg(wav)
            .spawn()
            .expect("paplay")
    }

    /// A room: whatever the speaker plays reaches the microphone `latency_ms` later at
    /// `volume` per cent (PulseAudio's cubic scale: 70 % is about -9 dB), as from a laptop's
    /// speaker into its microphone.
    pub fn loop_speaker_into_mic(&self, latency_ms: u32, volume: u32) {
        let ok = self
            .command("pactl")
            .args([
                "load-module",
                "module-loopback",
                "source=spk.monitor",
                "sink=mic",
                &format!("latency_msec={latency_ms}"),
                "source_dont_move=true",
                "sink_dont_move=true",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("pactl");
        assert!(ok.success(), "module-loopback did not load");
        let listed = self
            .command("pactl")
            .args(["list", "short", "sink-inputs"])
            .output()
            .expect("pactl");
        let listed = String::from_utf8_lossy(&listed.stdout);
        let index = listed
            .lines()
            .find(|l| l.contains("module-loopback"))
            .and_then(|l| l.split_whitespace().next())
            .expect("the loopback's sink input")
            .to_string();
        let ok = self
            .command("pactl")
            .args(["set-sink-input-volume", &index, &format!("{volume}%")])
            .status()
            .expect("pactl");
        assert!(ok.success(), "setting the loopback's volume");
    }

    /// Records the speaker sink's monitor until the returned child gets SIGINT.
    pub fn record_speaker(&self, wav: &Path) -> Child {
        self.command("parecord")
            .args([
                "--device=spk.monitor",
                "--file-format=wav",
                "--rate=8000",
                "--channels=1",
                "--format=s16le",
            ])
            .arg(wav)
            .spawn()
            .expect("parecord")
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            signal(pid, "TERM");
        }
    }
}

/// A far end that talks on and on: `speech` twelve times into `out`, after `lead` seconds of
/// silence and with `gap` seconds between the passes.
pub fn talk_on_and_on(speech: &Path, out: &Path, lead: &str, gap: &str) {
    let ok = Command::new("sox")
        .arg(speech)
        .arg(out)
        .args(["pad", lead, gap, "repeat", "12"])
        .status()
        .expect("sox");
    assert!(ok.success());
}

pub fn stop_recording(mut rec: Child) {
    signal(rec.id(), "INT");
    if wait_exit(&mut rec, Duration::from_secs(3)).is_none() {
        let _ = rec.kill();
        let _ = rec.wait();
    }
}

/// RMS of 20 ms frames above speech level in an 8 kHz recording.
fn speech_frames(samples: &[f32]) -> usize {
    samples
        .chunks(160)
        .filter(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt() > 300.0)
        .count()
}

#[test]
fn call_through_real_sound_devices_survives_losing_them() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let run = work.path().join("run");
    std::fs::create_dir_all(&run).expect("run dir");
    let mut pulse = Pulse::start(&run);
    let (ours, _) = speech(
        work.path(),
        "ours",
        "Testing the microphone, one two three.",
        0,
    );
    let (theirs, _) = speech(
        work.path(),
        "theirs",
        "This is the far end speaking through the speaker.",
        0,
    );
    // baresip talks on and on (the speech over and over, after 3 s in which the sound server's
    // streams get going), so there is something to hear after the device comes back.
    let talk = work.path().join("talk.wav");
    talk_on_and_on(&theirs, &talk, "3", "1");
    let bs = Baresip::start(&kam, "1002", &talk, "PCMU");
    let heard = work.path().join("speaker.wav");
    let recorder = pulse.record_speaker(&heard);
    let env = pulse.env();
    let server = format!("serveraddress={}", kam.addr());
    let mut sp = Softphone::start_env(
        &[
            &server,
            "username=1001",
            "password=pw1001",
            "recorddevice=Default",
            "playbackdevice=Default",
            // The device path is under test here, not the voice processing (its own tests):
            // with echo cancellation, high noise suppression and gain control on, the waveform
            // that reaches baresip varied from run to run (similarity 0.57-0.77).
            "aec=0",
            "denoise=0",
            "agc=0",
            "callto=1002",
            "autocall=true",
        ],
        &env,
    );
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    // The sound server's capture stream takes about two seconds to deliver; then speak.
    std::thread::sleep(Duration::from_secs(3));
    // Twice each way and a recording with two of baresip's repetitions: with 10 ms device
    // buffers the speaker stream through ALSA's PulseAudio plugin stalled for seconds now and
    // then (in about half the runs of this longer test), which one short pass seldom showed.
    for _ in 0..2 {
        let mut player = pulse.play_into_mic(&ours);
        let _ = player.wait();
        std::thread::sleep(Duration::from_secs(1));
    }
    // The recording holds two of baresip's repetitions (every 6.4 s).
    std::thread::sleep(Duration::from_secs(8));
    stop_recording(recorder);

    // The sound server dies mid-call: reported, the call stays up.
    pulse.kill();
    let failed = sp.wait_for(T, |l| l.contains("audio device:") && l.contains("failed"));
    eprintln!("{failed}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !sp.seen
            .iter()
            .any(|l| l.starts_with("EVENT,Call on line") && l.contains("ended")),
        "the call ended with the device: {:?}",
        sp.seen
    );
    // A server is back: the softphone finds it again and plays the far end's speech.
    pulse.launch();
    let back = sp.wait_for(T, |l| l.contains("audio device:") && l.contains("back on"));
    eprintln!("{back}");
    let heard_after = work.path().join("speaker-after.wav");
    let recorder = pulse.record_speaker(&heard_after);
    std::thread::sleep(Duration::from_secs(6));
    stop_recording(recorder);
    sp.send_line("hangup,1");
    sp.wait_for(T, |l| l.starts_with("EVENT,Call on line 1 with 1002 ended"));

    eprintln!("STDERR {}", sp.stderr());
    let at_baresip = similarity(&read_wav(&ours), &read_wav(&bs.received()));
    let at_speaker = similarity(&read_wav(&theirs), &read_wav(&heard));
    let after = speech_frames(&read_wav(&heard_after));
    eprintln!(
        "through the sound cards: ours at baresip {at_baresip:.3}, baresip's at our speaker \
         {at_speaker:.3}; speech frames at the speaker after the server came back: {after}"
    );
    // Two sound-server hops and resampling both ways, on a loaded machine: 0.96-0.98 measured,
    // far above a wrong or missing signal (checked below).
    assert!(at_baresip > 0.8, "microphone to baresip: {at_baresip:.3}");
    assert!(at_speaker > 0.8, "baresip to speaker: {at_speaker:.3}");
    assert!(similarity(&read_wav(&theirs), &read_wav(&bs.received())) < 0.4);
    assert!(
        after > 20,
        "no audio after the device came back ({after} speech frames)"
    );
}
