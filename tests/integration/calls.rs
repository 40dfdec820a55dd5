//! Calls with real audio against baresip through Kamailio: the speech we send arrives at
//! baresip and baresip's arrives at us, compared on the samples, both call directions.

use crate::audio_compare::{read_wav, similarity};
use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, speech};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[test]
fn outgoing_call_to_baresip_carries_audio_both_ways() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (ours, _) = speech(
        work.path(),
        "ours",
        "The quick brown fox jumps over the lazy dog.",
        0,
    );
    // baresip's file is longer (padded), so our speech has ended when it hangs up.
    let (theirs, theirs_padded) = speech(
        work.path(),
        "theirs",
        "One two three four five six seven eight.",
        3,
    );
    let bs = Baresip::start(&kam, "1002", &theirs_padded, "PCMU");
    let out = work.path().join("heard.wav");
    let mut sp = Softphone::start(&[
        &format!("serveraddress={}", kam.addr()),
        "username=1001",
        "password=pw1001",
        "callto=1002",
        "autocall=true",
        &format!("recorddevice=file:{}", ours.display()),
        &format!("playbackdevice=file:{}", out.display()),
    ]);
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    sp.wait_line(
        Duration::from_secs(30),
        "EVENT,Call on line 1 with 1002 ended: remote hung up",
    );
    // What baresip heard is our speech; what we heard is baresip's.
    let at_baresip = similarity(&read_wav(&ours), &read_wav(&bs.received()));
    let at_us = similarity(&read_wav(&theirs), &read_wav(&out));
    eprintln!("outgoing PCMU call: ours at baresip {at_baresip:.3}, baresip's at us {at_us:.3}");
    assert!(at_baresip > 0.9, "our audio at baresip: {at_baresip:.3}");
    assert!(at_us > 0.9, "baresip's audio at us: {at_us:.3}");
    // The wrong reference does not match: the comparison can fail.
    assert!(similarity(&read_wav(&theirs), &read_wav(&bs.received())) < 0.5);
}

#[test]
fn incoming_call_from_baresip_is_answered_with_audio() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (ours, ours_padded) = speech(
        work.path(),
        "ours",
        "Hello, you have reached the front desk.",
        3,
    );
    let (theirs, _) = speech(
        work.path(),
        "theirs",
        "Calling from baresip number one thousand three.",
        0,
    );
    let out = work.path().join("heard.wav");
    let mut sp = Softphone::start(&[
        &format!("serveraddress={}", kam.addr()),
        "username=1001",
        "password=pw1001",
        "autoaccept=true",
        &format!("recorddevice=file:{}", ours_padded.display()),
        &format!("playbackdevice=file:{}", out.display()),
    ]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    let bs = Baresip::start(&kam, "1003", &theirs, "PCMA");
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    let ringing = sp.wait_for(T, |l| l.starts_with("STATUS,1,Ringing,1003,"));
    assert!(
        ringing.contains(",1001,2,"),
        "incoming endpoint type: {ringing}"
    );
    // baresip's file ends first and it hangs up.
    sp.wait_line(
        Duration::from_secs(30),
        "EVENT,Call on line 1 with 1003 ended: remote hung up",
    );
    let at_us = similarity(&read_wav(&theirs), &read_wav(&out));
    let at_baresip = similarity(&read_wav(&ours), &read_wav(&bs.received()));
    eprintln!("incoming PCMA call: ours at baresip {at_baresip:.3}, baresip's at us {at_us:.3}");
    assert!(at_us > 0.9, "baresip's audio at us: {at_us:.3}");
    assert!(
        at_baresip > 0.9,
        "our audio at baresip: {at_baresip:.3} (sent {} samples, baresip recorded {})",
        read_wav(&ours).len(),
        read_wav(&bs.received()).len()
    );
    let seen = sp.seen.join("\n");
    assert!(
        seen.contains("EVENT,Media on line 1: PCMA to 127.0.0.1:"),
        "{seen}"
    );
    assert!(seen.contains("STATUS,1,InCall,1003,"), "{seen}");
}

/// DTMF both ways: our digits as RFC 4733 events and as SIP INFO reach baresip (it logs
/// each), baresip's digit reaches us as an event line.
#[test]
fn dtmf_both_ways_with_baresip() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, long) = speech(work.path(), "theirs", "Please enter your number.", 20);
    for (mode, digits) in [("dtmfmode=2", "159#"), ("dtmfmode=1", "*37")] {
        let bs = Baresip::start(&kam, "1002", &long, "PCMU");
        let mut sp = Softphone::start(&[
            &format!("serveraddress={}", kam.addr()),
            "username=1001",
            "password=pw1001",
            "callto=1002",
            "autocall=true",
            mode,
        ]);
        sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
        sp.send_line(&format!("Dtmf,1,{digits}"));
        // baresip sends one digit back.
        std::thread::sleep(Duration::from_millis(300));
        bs.command("sndcode", "7");
        sp.wait_line(T, "EVENT,DTMF received on line 1: 7");
        // Every digit (8 ticks each by RFC 4733, one INFO transaction each) has arrived by now.
        std::thread::sleep(Duration::from_millis(1500));
        sp.send_line("Hangup,1");
        sp.wait_for(T, |l| l.starts_with("STATUS,1,Finished,1002,"));
        let log = bs.log();
        // baresip -v logs RFC 4733 events as "received event: '5' (end=1)" and INFO as
        // "call: received DTMF: '5' (duration=...)".
        let got: String = log
            .split('\n')
            .flat_map(|l| l.split("    "))
            .filter_map(|l| {
                let rtp = l
                    .split("received event: '")
                    .nth(1)
                    .filter(|r| r.contains("(end=1)"));
                rtp.or_else(|| l.split("received DTMF: '").nth(1))
            })
            .filter_map(|r| r.chars().next())
            .collect();
        assert_eq!(
            got,
            digits,
            "{mode}: baresip log:\n{log}\nours:\n{}",
            sp.seen.join("\n")
        );
        drop(bs);
    }
}

/// Hanging up while baresip rings sends CANCEL; both sides end the call.
#[test]
fn cancel_while_baresip_rings() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, long) = speech(work.path(), "theirs", "Hello.", 5);
    let bs = Baresip::start_with(&kam, "1002", &long, "PCMU", "manual");
    let mut sp = Softphone::start(&[
        &format!("serveraddress={}", kam.addr()),
        "username=1001",
        "password=pw1001",
        "callto=1002",
        "autocall=true",
    ]);
    sp.wait_for(T, |l| l.starts_with("STATUS,1,Ringing,1002,"));
    sp.send_line("Hangup,1");
    sp.wait_line(T, "EVENT,Call on line 1 with 1002 ended: cancelled");
    // baresip saw the call ring and then end: libre reports a cancelled session as
    // "session closed: Connection reset by peer".
    let end = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let log = bs.log();
        if log.contains("Incoming call from") && log.contains("session closed") {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "baresip did not see the CANCEL:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Three calls at once, one per line, each to its own baresip; then each is hung up.
#[test]
fn three_calls_on_three_lines() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, long) = speech(work.path(), "theirs", "Line test.", 30);
    let peers: Vec<Baresip> = ["1002", "1003", "1004"]
        .iter()
        .map(|u| Baresip::start(&kam, u, &long, "PCMU"))
        .collect();
    let mut sp = Softphone::start(&[
        &format!("serveraddress={}", kam.addr()),
        "username=1001",
        "password=pw1001",
    ]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    for (i, user) in ["1002", "1003", "1004"].iter().enumerate() {
        sp.send_line(&format!("Call,{user}"));
        sp.wait_for(T, |l| {
            l.starts_with(&format!("STATUS,{},InCall,{user},", i + 1))
        });
    }
    for line in 1..=3 {
        sp.send_line(&format!("Hangup,{line}"));
    }
    for line in 1..=3 {
        sp.wait_for(T, |l| l.starts_with(&format!("STATUS,{line},Finished,")));
    }
    for bs in &peers {
        let log = bs.log();
        assert!(log.contains("Call established"), "{log}");
    }
    assert!(sp.is_running());
}
