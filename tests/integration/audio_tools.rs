//! The audio screen's tools through the binary: the microphone level meter reads the real
//! recording device (a loud tone shows high, silence shows nothing) and the test sound plays
//! two seconds of ring on the speaker (a WAV file here, checked on its samples).

use crate::peers::Softphone;
use crate::runtime_config::seconds_of_sound;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn level(line: &str) -> Option<u8> {
    line.strip_prefix("LOG,INPUTLEVEL,")?.parse().ok()
}

#[test]
fn level_meter_and_test_sound() {
    let work = tempfile::tempdir().expect("tempdir");
    let tone = work.path().join("tone.wav");
    let ok = std::process::Command::new("sox")
        .args(["-n", "-r", "8000", "-b", "16", "-c", "1"])
        .arg(&tone)
        .args(["synth", "30", "sine", "1000", "vol", "0.5"])
        .status()
        .expect("sox")
        .success();
    assert!(ok);
    let out = work.path().join("speaker.wav");
    let mut sp = Softphone::start(&[
        &format!("recorddevice=file:{}", tone.display()),
        &format!("playbackdevice=file:{}", out.display()),
    ]);
    sp.wait_line(T, "START,sip");
    sp.send_line("InputLevel,on");
    // A sine at half scale is -9 dBFS: 85 % on the meter.
    let l = sp.wait_for(T, |l| level(l).is_some_and(|n| n > 0));
    assert!((80..=90).contains(&level(&l).unwrap_or(0)), "{l}");
    sp.send_line("InputLevel,off");
    sp.send_line("TestSound");
    sp.wait_line(
        T,
        &format!("EVENT,Test sound on speaker \"file:{}\"", out.display()),
    );
    std::thread::sleep(Duration::from_secs(3));
    let sound = seconds_of_sound(&out);
    assert!((1.6..=2.2).contains(&sound), "{sound:.2} s of ring");
    drop(sp);

    // Silence on the microphone reads 0.
    let mut sp = Softphone::start(&["recorddevice=null"]);
    sp.wait_line(T, "START,sip");
    sp.send_line("InputLevel,on");
    sp.wait_line(T, "LOG,INPUTLEVEL,0");
}
