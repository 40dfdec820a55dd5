//! The local conference with real far ends: two baresips through Kamailio, each with its own
//! speech, merged with us. Each far end's recording must hold the other's speech and ours,
//! never its own (mix-minus), and never a sentence nobody said (the negative control); a
//! member taken out hears nothing more while the other keeps talking with us; a held
//! conference is silent to both.
//!
//! baresip 1.0 records a call only up to its first re-INVITE (its sndfile filter stops
//! there), so what a held member gets is read from our own recording of its line: the left
//! channel is exactly what the line's far end is sent from our microphone.

use crate::audio_compare::{read_wav, similarity};
use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, speech};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// `text` spoken after `lead` seconds of silence, then `tail` seconds of silence (baresip's
/// call lasts as long as its file). Gives (the speech alone, the whole file).
fn speech_after(dir: &Path, name: &str, text: &str, lead: u32, tail: u32) -> (PathBuf, PathBuf) {
    let (alone, padded) = speech(dir, name, text, tail);
    let led = dir.join(format!("{name}-led.wav"));
    let ok = Command::new("sox")
        .arg(&padded)
        .arg(&led)
        .args(["pad", &lead.to_string(), "0"])
        .status()
        .expect("sox")
        .success();
    assert!(ok);
    (alone, led)
}

/// How well `received` contains `reference` anywhere in it (similarity looks up to 8 s in,
/// so it is asked again every 4 s).
pub fn found(reference: &[f32], received: &[f32]) -> f64 {
    (0..received.len())
        .step_by(4 * 8000)
        .map(|from| similarity(reference, &received[from..]))
        .fold(0.0, f64::max)
}

/// What `bs` recorded of its call with us (up to the call's first re-INVITE), once the call
/// is over.
fn heard(bs: &Baresip) -> Vec<f32> {
    read_wav(&bs.received())
}

/// Switches our microphone to `file` (it plays from its start).
fn speak(sp: &mut Softphone, file: &Path) {
    sp.send_line(&format!(
        "SetParameter,recorddevice,file:{}",
        file.display()
    ));
}

/// Waits for every one of `texts`, in any order.
fn wait_all(sp: &mut Softphone, texts: &[&str]) {
    let mut missing: Vec<&str> = texts.to_vec();
    while !missing.is_empty() {
        let line = sp.wait_for(T, |l| texts.contains(&l));
        missing.retain(|t| *t != line);
    }
}

/// Waits until a line starting with each of `prefixes` was seen (before now or from now on).
pub fn wait_seen(sp: &mut Softphone, prefixes: &[&str]) {
    let missing = |sp: &Softphone| -> bool {
        prefixes
            .iter()
            .any(|p| !sp.seen.iter().any(|l| l.starts_with(p)))
    };
    while missing(sp) {
        sp.wait_for(T, |l| prefixes.iter().any(|p| l.starts_with(p)));
    }
}

fn wait_established(bs: &Baresip) {
    let end = Instant::now() + T;
    while !bs.log().contains("Call established") {
        assert!(Instant::now() < end, "{}", bs.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_three_way_conference_with_two_baresips() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    // Their speech comes once the conference is up (5 s and 8 s into their calls), one after
    // the other; ours three times, each when the test switches our microphone to it.
    let (b_speech, b_file) = speech_after(dir, "b", "Good morning, this is the warehouse.", 5, 60);
    let (c_speech, c_file) = speech_after(dir, "c", "Hello, accounts payable here.", 8, 60);
    let (ours_1, ours_1_file) = speech(dir, "ours1", "Thank you both for joining the call.", 1);
    let (ours_2, ours_2_file) = speech(dir, "ours2", "Only the warehouse can hear me now.", 1);
    let (ours_3, ours_3_file) = speech(dir, "ours3", "Nobody should hear this sentence.", 1);
    let (never, _) = speech(dir, "never", "Seven purple elephants dance quietly.", 1);
    let (silence, _) = speech(dir, "silence-src", "x", 0);
    let quiet = dir.join("quiet.wav");
    let ok = Command::new("sox")
        .arg(&silence)
        .arg(&quiet)
        .args(["vol", "0"])
        .status()
        .expect("sox")
        .success();
    assert!(ok);
    let rec = dir.join("rec");

    let b = Baresip::start(&kam, "1002", &b_file, "PCMU");
    let c = Baresip::start(&kam, "1003", &c_file, "PCMU");
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            &format!("voicerecfolder={}", rec.display()),
            &format!("recorddevice=file:{}", quiet.display()),
            &format!("playbackdevice=file:{}", dir.join("heard.wav").display()),
        ],
    );
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    sp.send_line("Call,1002");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    wait_established(&b);
    sp.send_line("Call,1003");
    sp.wait_for(T, |l| l.starts_with("STATUS,2,InCall,1003,"));
    wait_established(&c);
    sp.send_line("Conf");
    sp.wait_line(T, "EVENT,Conference: lines 1,2");
    // Both lines recorded: line 1's right channel hears the whole conference.
    sp.send_line("Record,1,on,line1");
    sp.send_line("Record,2,on,line2");
    wait_seen(
        &mut sp,
        &[
            "EVENT,Recording line 1 into ",
            "EVENT,Recording line 2 into ",
        ],
    );
    // Their sentences pass (5 s and 8 s into their calls), then ours.
    std::thread::sleep(Duration::from_secs(10));
    speak(&mut sp, &ours_1_file);
    std::thread::sleep(Duration::from_secs(5));

    // 1003 leaves the conference (held); 1002 and we keep talking.
    sp.send_line("ConfRemove,2");
    wait_all(&mut sp, &["EVENT,Conference ended", "EVENT,Line 2 on hold"]);
    speak(&mut sp, &ours_2_file);
    std::thread::sleep(Duration::from_secs(5));

    // Merged again (1003 resumed), then the whole conference on hold: nobody hears our third
    // sentence.
    sp.send_line("Conf");
    wait_all(
        &mut sp,
        &["EVENT,Conference: lines 1,2", "EVENT,Line 2 resumed"],
    );
    sp.send_line("ConfHold,on");
    wait_all(&mut sp, &["EVENT,Line 1 on hold", "EVENT,Line 2 on hold"]);
    speak(&mut sp, &ours_3_file);
    std::thread::sleep(Duration::from_secs(5));
    sp.send_line("Hangup,1");
    sp.send_line("Hangup,2");
    wait_seen(
        &mut sp,
        &[
            "STATUS,1,Finished,",
            "STATUS,2,Finished,",
            "EVENT,Recording of line 1 finished: ",
            "EVENT,Recording of line 2 finished: ",
        ],
    );

    let (at_b, at_c) = (heard(&b), heard(&c));
    let (line1_sent, line1_heard) = crate::recording::channels(&rec.join("line1.wav"));
    let (line2_sent, _) = crate::recording::channels(&rec.join("line2.wav"));
    let hears = [at_b, at_c, line1_sent, line2_sent, line1_heard];
    let names = ["at 1002", "at 1003", "to 1002", "to 1003", "from both"];
    let refs = [
        ("1002's speech", &b_speech),
        ("1003's speech", &c_speech),
        ("ours, conference", &ours_1),
        ("ours, 1003 out", &ours_2),
        ("ours, held", &ours_3),
        ("never said", &never),
    ];
    let mut score = std::collections::BTreeMap::new();
    for (name, r) in refs {
        let r = read_wav(r);
        let row: Vec<f64> = hears.iter().map(|h| found(&r, h)).collect();
        let shown: Vec<String> = names
            .iter()
            .zip(&row)
            .map(|(n, v)| format!("{n} {v:.3}"))
            .collect();
        eprintln!("{name:>18}: {}", shown.join(", "));
        score.insert(name, row);
    }
    let s = |name: &str, at: usize| score[name][at];
    let (at_b, at_c, to_b, to_c, from_both) = (0, 1, 2, 3, 4);
    // In the conference each far end hears the other and us, never itself.
    assert!(s("1003's speech", at_b) > 0.7, "1003 at 1002");
    assert!(s("1002's speech", at_c) > 0.7, "1002 at 1003");
    assert!(
        s("ours, conference", at_b) > 0.7 && s("ours, conference", at_c) > 0.7,
        "ours"
    );
    assert!(s("1002's speech", at_b) < 0.5, "1002 hears itself");
    assert!(s("1003's speech", at_c) < 0.5, "1003 hears itself");
    // 1003 taken out: 1002 still hears us, 1003 is sent nothing of it.
    assert!(
        s("ours, 1003 out", at_b) > 0.7,
        "ours at 1002 after 1003 left"
    );
    assert!(
        s("ours, 1003 out", to_b) > 0.7,
        "ours to 1002 after 1003 left"
    );
    assert!(s("ours, 1003 out", to_c) < 0.5, "ours to 1003 while out");
    assert!(
        s("ours, conference", to_c) > 0.7,
        "line 2's recording is what 1003 got"
    );
    // Held, the conference is silent to both.
    assert!(
        s("ours, held", to_b) < 0.5 && s("ours, held", to_c) < 0.5,
        "held"
    );
    // Our recording of line 1: both far ends on the right, our speech only on the left.
    assert!(s("1002's speech", from_both) > 0.7 && s("1003's speech", from_both) > 0.7);
    assert!(s("ours, conference", from_both) < 0.5, "ours on the right");
    // The negative control: a sentence nobody said is found nowhere.
    for (at, name) in names.iter().enumerate() {
        assert!(s("never said", at) < 0.5, "never said, {name}");
    }
    assert!(sp.is_running());
}
