//! Transfers with real peers: three baresips through Kamailio. We transfer baresip 1002 to
//! 1003 (blind: hold, REFER, NOTIFY watch) and 1003 ends up hearing 1002's speech; and 1002
//! transfers us to 1003, which then hears our speech. Audio is compared on the samples, with
//! the wrong reference as the negative control.

use crate::audio_compare::{read_wav, similarity};
use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, speech};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// Waits until `bs`'s log contains `text`.
fn wait_log(bs: &Baresip, text: &str, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while !bs.log().contains(text) {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn blind_transfer_connects_baresip_1002_with_1003() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (ours, ours_padded) = speech(work.path(), "ours", "This is the front desk.", 20);
    // 1002's file restarts on each call and ends it: long enough for the transfer, and the
    // call with 1003 ends with it.
    let (b_speech, b_padded) = speech(
        work.path(),
        "b",
        "Hello, I would like to speak with accounting please.",
        5,
    );
    let (_, c_padded) = speech(work.path(), "c", "Accounting, how can I help?", 25);
    let c = Baresip::start(&kam, "1003", &c_padded, "PCMU");
    let b = Baresip::start(&kam, "1002", &b_padded, "PCMU");
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            "callto=1002",
            "autocall=true",
            &format!("recorddevice=file:{}", ours_padded.display()),
            &format!(
                "playbackdevice=file:{}",
                work.path().join("heard.wav").display()
            ),
        ],
    );
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    assert!(wait_log(&b, "Call established", T), "{}", b.log());
    sp.send_line("Transfer,1,1003");
    sp.wait_line(T, "EVENT,Transfer of line 1 to 1003: requested");
    sp.wait_line(T, "EVENT,Line 1 on hold");
    sp.wait_line(T, "EVENT,Transfer of line 1 to 1003: accepted");
    sp.wait_line(T, "EVENT,Transfer of line 1 to 1003: succeeded");
    sp.wait_line(T, "EVENT,Call on line 1 with 1002 ended: transferred");
    // 1003 took a call from 1002, and heard 1002's speech in it.
    assert!(wait_log(&c, "Call established", T), "{}", c.log());
    assert!(c.log().contains("sip:1002@"), "{}", c.log());
    let at_c = read_wav(&c.received());
    let from_b = similarity(&read_wav(&b_speech), &at_c);
    let from_us = similarity(&read_wav(&ours), &at_c);
    eprintln!("at 1003 after the transfer: 1002's speech {from_b:.3}, ours {from_us:.3}");
    assert!(from_b > 0.8, "1002's speech at 1003: {from_b:.3}");
    assert!(from_us < 0.5, "our speech at 1003: {from_us:.3}");
    let seen = sp.seen.join("\n");
    assert!(!seen.contains("WARNING,Transfer"), "{seen}");
    assert!(sp.is_running());
}

#[test]
fn baresip_transfers_us_to_1003() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (ours, ours_padded) = speech(
        work.path(),
        "ours",
        "Thank you for holding, this is the help desk.",
        20,
    );
    let (b_speech, b_padded) = speech(work.path(), "b", "Let me put you through.", 20);
    let (_, c_padded) = speech(work.path(), "c", "Second level support.", 25);
    let c = Baresip::start(&kam, "1003", &c_padded, "PCMU");
    let b = Baresip::start(&kam, "1002", &b_padded, "PCMU");
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            "autoaccept=true",
            &format!("recorddevice=file:{}", ours_padded.display()),
            &format!(
                "playbackdevice=file:{}",
                work.path().join("heard.wav").display()
            ),
        ],
    );
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    b.command("dial", &format!("sip:1001@{}", kam.addr()));
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    assert!(wait_log(&b, "Call established", T), "{}", b.log());
    b.command("transfer", &format!("sip:1003@{}", kam.addr()));
    sp.wait_line(T, "EVENT,Line 1 is transferring us to 1003: accepted");
    sp.wait_for(T, |l| l.starts_with("STATUS,2,InCall,1003,"));
    sp.wait_line(T, "EVENT,Line 1 is transferring us to 1003: succeeded");
    // The transferred call ends: baresip hangs it up, or we do once it heard the outcome.
    sp.wait_for(T, |l| {
        l == "EVENT,Call on line 1 with 1002 ended: transferred"
            || l == "EVENT,Call on line 1 with 1002 ended: remote hung up"
    });
    assert!(wait_log(&c, "Call established", T), "{}", c.log());
    // Let our speech play into the new call, then hang up.
    std::thread::sleep(Duration::from_secs(5));
    sp.send_line("Hangup,2");
    sp.wait_for(T, |l| l.starts_with("STATUS,2,Finished,"));
    let at_c = read_wav(&c.received());
    let from_us = similarity(&read_wav(&ours), &at_c);
    let from_b = similarity(&read_wav(&b_speech), &at_c);
    eprintln!("at 1003 after being transferred: our speech {from_us:.3}, 1002's {from_b:.3}");
    assert!(from_us > 0.8, "our speech at 1003: {from_us:.3}");
    assert!(from_b < 0.5, "1002's speech at 1003: {from_b:.3}");
    assert!(sp.is_running());
}

/// The recordings of what `bs` received in each of its calls, oldest first, once its call
/// with `peer` is over (`dump-<time>-dec.wav` names sort by time, to the second).
fn recordings(bs: &Baresip, peer: &str) -> Vec<std::path::PathBuf> {
    let ended = format!("Call with sip:{peer}@");
    let end = Instant::now() + Duration::from_secs(15);
    while !bs
        .log()
        .lines()
        .any(|l| l.contains(&ended) && l.contains("terminated (duration"))
        && Instant::now() < end
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut files: Vec<_> = std::fs::read_dir(bs.dir.path().join("rec"))
        .expect("rec dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .collect();
    files.sort();
    files
}

/// Attended transfer: we talk to 1002, call 1003 on line 2, then connect the two
/// (`Transfer,1,` with an empty target); with and without Replaces, 1002 and 1003 end up
/// talking and both our lines are free.
#[test]
fn attended_transfer_connects_our_two_calls() {
    for replaces in [false, true] {
        let kam = Kamailio::start(KamailioOptions::default());
        let work = tempfile::tempdir().expect("tempdir");
        let (ours, ours_padded) = speech(work.path(), "ours", "Connecting you now.", 25);
        let (b_speech, b_padded) = speech(
            work.path(),
            "b",
            "I am the customer waiting on line one.",
            8,
        );
        let (_, c_padded) = speech(work.path(), "c", "Billing department.", 30);
        let c = Baresip::start(&kam, "1003", &c_padded, "PCMU");
        let b = Baresip::start(&kam, "1002", &b_padded, "PCMU");
        let mut sp = Softphone::user_1001(
            &kam,
            &[
                &format!("transferwithreplace={replaces}"),
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
        assert!(wait_log(&b, "Call established", T), "{}", b.log());
        sp.send_line("Hold,1,on");
        sp.wait_line(T, "EVENT,Line 1 on hold");
        sp.send_line("Call,1003");
        sp.wait_for(T, |l| l.starts_with("STATUS,2,InCall,1003,"));
        assert!(wait_log(&c, "Call established", T), "{}", c.log());
        // 1003 names its recordings by the second: the next call must start in a later one.
        std::thread::sleep(Duration::from_millis(1100));
        sp.send_line("Transfer,1,");
        sp.wait_line(T, "EVENT,Transfer of line 1 to 1003: succeeded");
        let ended = |sp: &Softphone, line: u32, peer: &str| {
            sp.seen
                .iter()
                .any(|l| l.starts_with(&format!("EVENT,Call on line {line} with {peer} ended:")))
        };
        let end = Instant::now() + T;
        while !(ended(&sp, 1, "1002") && ended(&sp, 2, "1003")) {
            assert!(Instant::now() < end, "{}", sp.seen.join("\n"));
            sp.try_wait_for(Duration::from_millis(500), |l| l.contains("ended:"));
        }
        // 1003's second call is 1002's: it heard 1002's speech there.
        let files = recordings(&c, "1002");
        assert_eq!(files.len(), 2, "{}", c.log());
        let at_c = read_wav(&files[1]);
        let from_b = similarity(&read_wav(&b_speech), &at_c);
        let from_us = similarity(&read_wav(&ours), &at_c);
        eprintln!(
            "attended transfer (replaces {replaces}): at 1003 1002's speech {from_b:.3}, ours {from_us:.3}"
        );
        assert!(from_b > 0.8, "1002's speech at 1003: {from_b:.3}");
        assert!(from_us < 0.5, "our speech at 1003: {from_us:.3}");
        assert!(sp.is_running());
    }
}

/// `forwardall`: baresip 1002 calls us and ends up talking to 1003 (it follows our 302, and
/// 1003 hears its speech); `blacklist`: 1004's call is declined with 603 before it rings;
/// `dnd` switched on at run time turns 1002's next call away with 486.
#[test]
fn forward_all_and_blacklist_with_baresip() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (b_speech, b_padded) = speech(work.path(), "b", "Is anybody at the front desk?", 2);
    let (_, c_padded) = speech(work.path(), "c", "Front desk overflow.", 25);
    let c = Baresip::start(&kam, "1003", &c_padded, "PCMU");
    let b = Baresip::start(&kam, "1002", &b_padded, "PCMU");
    let d = Baresip::start(&kam, "1004", &b_padded, "PCMU");
    let mut sp = Softphone::user_1001(&kam, &["forwardall=1003", "blacklist=1004,1999"]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    b.command("dial", &format!("sip:1001@{}", kam.addr()));
    sp.wait_line(T, "EVENT,Call from 1002 answered 302: forwarded to 1003");
    assert!(
        wait_log(&c, "Call established", T),
        "1003: {}\n1002: {}",
        c.log(),
        b.log()
    );
    assert!(c.log().contains("sip:1002@"), "{}", c.log());
    let at_c = similarity(&read_wav(&b_speech), &read_wav(&c.received()));
    eprintln!("forwarded call: 1002's speech at 1003 {at_c:.3}");
    assert!(at_c > 0.8, "1002's speech at 1003: {at_c:.3}");
    d.command("dial", &format!("sip:1001@{}", kam.addr()));
    sp.wait_line(
        T,
        "EVENT,Call from 1004 answered 603: the caller is on the blacklist",
    );
    assert!(wait_log(&d, "603", T), "{}", d.log());
    // Do not disturb, switched on while running (forwarding off): 1002's next call gets 486.
    sp.send_line("SetParameter,forwardall,");
    sp.send_line("SetParameter,dnd,true");
    sp.wait_for(T, |l| l.contains("dnd") && l.contains("true"));
    b.command("dial", &format!("sip:1001@{}", kam.addr()));
    sp.wait_line(T, "EVENT,Call from 1002 answered 486: do not disturb");
    // Nothing rang here.
    assert!(
        !sp.seen.iter().any(|l| l.contains(",Ringing,")),
        "{}",
        sp.seen.join("\n")
    );
}
