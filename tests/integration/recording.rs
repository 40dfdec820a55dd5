//! Call recording with a real far end: baresip 1002 and we each say a sentence; the stereo
//! WAV's left channel must hold ours and not baresip's, the right channel baresip's and not
//! ours. `voicerecording=1` records from the answer under the `voicerecfilename` name;
//! `Record,1,off` and `Record,1,on,NAME` stop and start by hand, mid-call. PlaySound: a
//! prompt played into the call reaches baresip and not our speaker; one played locally reaches
//! our speaker and not baresip.

use crate::audio_compare::{read_wav, similarity};
use crate::conference::found;
use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, speech};
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// The two channels of a stereo recording as 8 kHz mono samples (left, right).
pub fn channels(path: &Path) -> (Vec<f32>, Vec<f32>) {
    let r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(spec.channels, 2, "{} is not stereo", path.display());
    let all: Vec<i16> = r.into_samples::<i16>().map(Result::unwrap).collect();
    let split = |side: usize| -> Vec<f32> {
        let mono = path.with_extension(format!("ch{side}.wav"));
        let mut w = hound::WavWriter::create(
            &mono,
            hound::WavSpec {
                channels: 1,
                ..spec
            },
        )
        .unwrap();
        for s in all.iter().skip(side).step_by(2) {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
        read_wav(&mono)
    };
    (split(0), split(1))
}

/// The WAV files in `dir`, by name.
fn wavs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "wav"));
    files.sort();
    files
}

#[test]
fn a_call_is_recorded_in_stereo_from_its_answer_and_by_hand() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let folder = work.path().join("recordings");
    let (ours, ours_padded) = speech(work.path(), "ours", "Thank you for calling support.", 30);
    let (theirs, theirs_padded) = speech(work.path(), "theirs", "My printer will not print.", 30);
    let b = Baresip::start(&kam, "1002", &theirs_padded, "PCMU");
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            "voicerecording=1",
            "voicerecfilename=0",
            "voicerecfilenameprefix=desk-",
            &format!("voicerecfolder={}", folder.display()),
            &format!("recorddevice=file:{}", ours_padded.display()),
            &format!(
                "playbackdevice=file:{}",
                work.path().join("heard.wav").display()
            ),
        ],
    );
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    sp.send_line("Call,1002");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    let started = sp.wait_for(T, |l| l.starts_with("EVENT,Recording line 1 into "));
    eprintln!("{started}");
    // Both sentences pass, then the recording is stopped and a named one started.
    std::thread::sleep(Duration::from_secs(6));
    sp.send_line("Record,1,off");
    let finished = sp.wait_for(T, |l| l.starts_with("EVENT,Recording of line 1 finished: "));
    eprintln!("{finished}");
    sp.send_line("Record,1,on,../escalation");
    sp.wait_line(
        T,
        &format!(
            "EVENT,Recording line 1 into {}",
            folder.join("desk-escalation.wav").display()
        ),
    );
    std::thread::sleep(Duration::from_secs(2));
    sp.send_line("Hangup,1");
    sp.wait_for(T, |l| l.starts_with("EVENT,Recording of line 1 finished: "));
    drop(b);

    let files = wavs(&folder);
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[1], "desk-escalation.wav");
    // voicerecfilename 0: UTC date-time and the peer.
    let auto = &names[0];
    assert!(
        auto.starts_with("desk-20") && auto.ends_with("_1002.wav") && auto.len() == 28,
        "{auto}"
    );
    let (left, right) = channels(&files[0]);
    let (ours, theirs) = (read_wav(&ours), read_wav(&theirs));
    let scores = [
        similarity(&ours, &left),
        similarity(&theirs, &right),
        similarity(&theirs, &left),
        similarity(&ours, &right),
    ];
    eprintln!(
        "left: ours {:.3}, theirs {:.3}; right: theirs {:.3}, ours {:.3}",
        scores[0], scores[2], scores[1], scores[3]
    );
    assert!(scores[0] > 0.8, "our speech on the left: {:.3}", scores[0]);
    assert!(
        scores[1] > 0.8,
        "baresip's speech on the right: {:.3}",
        scores[1]
    );
    assert!(
        scores[2] < 0.5,
        "baresip's speech on the left: {:.3}",
        scores[2]
    );
    assert!(scores[3] < 0.5, "our speech on the right: {:.3}", scores[3]);
    // The second recording is the call's last two seconds: after both sentences.
    let (left, right) = channels(&files[1]);
    assert!(similarity(&ours, &left) < 0.5 && similarity(&theirs, &right) < 0.5);
    assert!(sp.is_running());
}

#[test]
fn a_prompt_goes_to_the_caller_and_a_local_sound_to_the_speaker_only() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    let quiet = dir.join("quiet.wav");
    let ok = std::process::Command::new("sox")
        .args(["-n", "-r", "8000", "-b", "16", "-c", "1"])
        .arg(&quiet)
        .args(["trim", "0", "30"])
        .status()
        .expect("sox")
        .success();
    assert!(ok);
    let (theirs, theirs_padded) = speech(dir, "theirs", "Hello, is anyone there?", 30);
    let (prompt, _) = speech(
        dir,
        "prompt",
        "Please hold, your call is important to us.",
        0,
    );
    let (local, _) = speech(dir, "local", "You have a new voicemail message.", 0);
    let b = Baresip::start(&kam, "1002", &theirs_padded, "PCMU");
    let heard = dir.join("heard.wav");
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            &format!("recorddevice=file:{}", quiet.display()),
            &format!("playbackdevice=file:{}", heard.display()),
        ],
    );
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    sp.send_line("Call,1002");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    sp.send_line(&format!("PlaySound,{},off,1,1", prompt.display()));
    sp.wait_line(T, &format!("EVENT,Playing {}", prompt.display()));
    sp.wait_line(T, &format!("EVENT,Sound {} ended", prompt.display()));
    sp.send_line(&format!("PlaySound,{},off,0", local.display()));
    sp.wait_line(T, &format!("EVENT,Sound {} ended", local.display()));
    // A file that is not there: a clear error, and the call goes on.
    let missing = dir.join("missing.wav");
    sp.send_line(&format!("PlaySound,{}", missing.display()));
    let failed = sp.wait_for(T, |l| {
        l.starts_with(&format!("EVENT,Sound {} failed: ", missing.display()))
    });
    assert!(failed.contains("No such file"), "{failed}");
    sp.send_line("Hangup,1");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,Finished,"));
    let at_b = read_wav(&b.received());
    std::thread::sleep(Duration::from_millis(500));
    let ours = read_wav(&heard);
    let (prompt, local, theirs) = (read_wav(&prompt), read_wav(&local), read_wav(&theirs));
    let scores = [
        found(&prompt, &at_b),
        found(&local, &at_b),
        found(&local, &ours),
        found(&prompt, &ours),
        found(&theirs, &ours),
    ];
    eprintln!(
        "at baresip: prompt {:.3}, local sound {:.3}; our speaker: local sound {:.3}, prompt {:.3}, baresip {:.3}",
        scores[0], scores[1], scores[2], scores[3], scores[4]
    );
    assert!(scores[0] > 0.8, "the prompt at baresip: {:.3}", scores[0]);
    assert!(
        scores[1] < 0.5,
        "the local sound at baresip: {:.3}",
        scores[1]
    );
    assert!(
        scores[2] > 0.8,
        "the local sound on our speaker: {:.3}",
        scores[2]
    );
    assert!(
        scores[3] < 0.5,
        "the prompt on our speaker: {:.3}",
        scores[3]
    );
    assert!(scores[4] > 0.8, "baresip on our speaker: {:.3}", scores[4]);
    assert!(sp.is_running());
}
