//! Calls with real audio against baresip through Kamailio: the speech we send arrives at
//! baresip and baresip's arrives at us, compared on the samples, both call directions.

use crate::audio_compare::{read_wav, silence_gap, similarity};
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
        8,
    );
    let bs = Baresip::start(&kam, "1002", &theirs_padded, "PCMU");
    let out = work.path().join("heard.wav");
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            "callto=1002",
            "autocall=true",
            &format!("recorddevice=file:{}", ours.display()),
            &format!("playbackdevice=file:{}", out.display()),
        ],
    );
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    // When media stops, the line's RTP statistics (RTCP included) come first.
    let stats = sp.wait_for(Duration::from_secs(30), |l| {
        l.starts_with("EVENT,RTP statistics on line 1:")
    });
    eprintln!("{stats}");
    let number = |key: &str| -> u64 {
        stats
            .split(key)
            .nth(1)
            .and_then(|r| r.trim().split([' ', ';']).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {stats}"))
    };
    // About 11 s of 20 ms packets each way, none lost on loopback; baresip's RTCP receiver
    // report about our sender report gives the round trip.
    assert!(
        number("sent ") > 400 && number("received ") > 400,
        "{stats}"
    );
    assert_eq!(number("lost "), 0, "{stats}");
    assert!(
        stats.contains("round trip ") && !stats.contains("round trip unknown"),
        "{stats}"
    );
    sp.wait_line(T, "EVENT,Call on line 1 with 1002 ended: remote hung up");
    // The call detail record: baresip hung up after about 11 s of talk; it is in the history.
    let cdr = sp.wait_for(T, |l| {
        l.starts_with("CDR,1,1002,1001,1002,sip:1002@127.0.0.1")
    });
    let fields: Vec<&str> = cdr.split(',').collect();
    let (connect_ms, duration_ms): (u64, u64) = (
        fields[6].parse().expect("connect ms"),
        fields[7].parse().expect("duration ms"),
    );
    assert!(connect_ms < 5_000, "{cdr}");
    assert!((8_000..30_000).contains(&duration_ms), "{cdr}");
    assert_eq!(&fields[8..], &["2", "remote hung up"], "{cdr}");
    let history = sp.history();
    assert!(
        history.contains("  out  1002  0:") && history.contains("[remote hung up]"),
        "{history}"
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
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            "autoaccept=true",
            &format!("recorddevice=file:{}", ours_padded.display()),
            &format!("playbackdevice=file:{}", out.display()),
        ],
    );
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
        let mut sp = Softphone::user_1001(&kam, &["callto=1002", "autocall=true", mode]);
        sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
        sp.send_line(&format!("Dtmf,1,{digits}"));
        // baresip sends one digit back (again if its call was not up yet when asked).
        let got_seven = (0..5).any(|_| {
            bs.command("sndcode", "7");
            sp.try_wait_for(Duration::from_secs(3), |l| {
                l == "EVENT,DTMF received on line 1: 7"
            })
            .is_some()
        });
        assert!(
            got_seven,
            "{mode}: baresip's digit never arrived: {:?}",
            sp.seen
        );
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
    let mut sp = Softphone::user_1001(&kam, &["callto=1002", "autocall=true"]);
    sp.wait_for(T, |l| l.starts_with("STATUS,1,Ringing,1002,"));
    sp.send_line("Hangup,1");
    sp.wait_line(T, "EVENT,Call on line 1 with 1002 ended: cancelled");
    sp.wait_for(T, |l| {
        l.starts_with("CDR,1,1002,1001,1002,") && l.ends_with(",0,0,1,cancelled")
    });
    assert!(sp.history().contains("not answered  [cancelled]"));
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
    let mut sp = Softphone::user_1001(&kam, &[]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    for (i, user) in ["1002", "1003", "1004"].iter().enumerate() {
        sp.send_line(&format!("Call,{user}"));
        sp.wait_for(T, |l| {
            l.starts_with(&format!("STATUS,{},InCall,{user},", i + 1))
        });
        // baresip logs the call once our ACK is in. Hanging up before that can overtake the
        // ACK in Kamailio (its worker processes forward two quick datagrams in either order),
        // and baresip then drops the call unestablished: wait for it, under load too.
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while !peers[i].log().contains("Call established") && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for line in 1..=3 {
        sp.send_line(&format!("Hangup,{line}"));
    }
    // The three BYE transactions finish in any order.
    let finished = |seen: &[String]| {
        (1..=3).all(|line| {
            seen.iter()
                .any(|l| l.starts_with(&format!("STATUS,{line},Finished,")))
        })
    };
    while !finished(&sp.seen) {
        sp.wait_for(T, |l| l.contains(",Finished,"));
    }
    for bs in &peers {
        // baresip logs the call once our ACK is in: give its log a moment under load.
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while !bs.log().contains("Call established") && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = bs.log();
        assert!(log.contains("Call established"), "{log}");
    }
    assert!(sp.is_running());
}

/// Hold shows at baresip as a recvonly stream (it stops sending to us: silence in our
/// recording), resume restores audio both ways.
#[test]
fn hold_and_resume_with_baresip() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let text = "Counting slowly. One. Two. Three. Four. Five. Six. Seven. Eight. Nine. Ten. \
                Eleven. Twelve. Thirteen. Fourteen. Fifteen. Sixteen. Seventeen. Eighteen.";
    let (_, theirs) = speech(work.path(), "theirs", text, 5);
    let bs = Baresip::start(&kam, "1002", &theirs, "PCMU");
    let out = work.path().join("heard.wav");
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            "callto=1002",
            "autocall=true",
            "loglevel=4",
            &format!("playbackdevice=file:{}", out.display()),
        ],
    );
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    std::thread::sleep(Duration::from_secs(2));
    sp.send_line("Hold,1,on");
    sp.wait_line(T, "EVENT,Line 1 on hold");
    std::thread::sleep(Duration::from_secs(3));
    sp.send_line("Hold,1,off");
    sp.wait_line(T, "EVENT,Line 1 resumed");
    std::thread::sleep(Duration::from_secs(2));
    sp.send_line("Hangup,1");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,Finished,1002,"));
    // On the wire (our SIP trace): baresip answered the hold offer recvonly, then sendrecv.
    let trace = sp.stderr();
    let answers: Vec<&str> = trace
        .split("received from UDP")
        .filter(|m| {
            m.contains("SIP/2.0 200")
                && m.contains("CSeq: ")
                && m.contains(" INVITE")
                && m.contains("m=audio")
        })
        .collect();
    assert!(
        answers.len() >= 3,
        "initial, hold and resume answers: {}",
        answers.len()
    );
    assert!(
        answers[answers.len() - 2].contains("a=recvonly"),
        "hold answer:\n{}",
        answers[answers.len() - 2]
    );
    assert!(
        !answers[answers.len() - 1].contains("a=recvonly"),
        "resume answer"
    );
    // In the audio: a long silence while held, speech before and after it.
    let (gap, before, after) = silence_gap(&read_wav(&out));
    assert!(
        gap >= Duration::from_secs(2),
        "no silence of 2 s or more while held: {gap:?}"
    );
    assert!(before && after, "audio before and after the hold");
    drop(bs);
}

/// The far end dies mid-call (no BYE, no more RTP): mediatimeout hangs the call up.
#[test]
fn media_timeout_ends_a_call_whose_peer_died() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, long) = speech(work.path(), "theirs", "Still there?", 20);
    let mut bs = Baresip::start(&kam, "1002", &long, "PCMU");
    let mut sp = Softphone::user_1001(
        &kam,
        &["callto=1002", "autocall=true", "mediatimeout=2", "timer=1"],
    );
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    bs.kill();
    sp.wait_line(
        T,
        "EVENT,Call on line 1 with 1002 ended: no media (mediatimeout)",
    );
}

/// autohold=2 holds the first line when a second outgoing call connects; autohold=4 holds the
/// line left and resumes the line picked when the user switches lines.
#[test]
fn autohold_on_new_call_and_on_line_switch() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, long) = speech(work.path(), "theirs", "Line test.", 30);
    let _peers: Vec<Baresip> = ["1002", "1003"]
        .iter()
        .map(|u| Baresip::start(&kam, u, &long, "PCMU"))
        .collect();
    for mode in ["autohold=2", "autohold=4"] {
        let mut sp = Softphone::user_1001(&kam, &[mode]);
        sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
        sp.send_line("Call,1002");
        sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
        sp.send_line("Call,1003");
        sp.wait_for(T, |l| l.starts_with("STATUS,2,InCall,1003,"));
        if mode == "autohold=2" {
            sp.wait_line(T, "EVENT,Line 1 on hold");
        } else {
            // Switching to line 1 holds line 2; back to line 2 holds 1 and resumes 2.
            sp.send_line("SetLine,1");
            sp.wait_line(T, "EVENT,Line 2 on hold");
            sp.send_line("SetLine,2");
            // The two re-INVITEs run at once: their answers come in either order.
            let both = ["EVENT,Line 1 on hold", "EVENT,Line 2 resumed"];
            while !both.iter().all(|b| sp.seen.iter().any(|l| l == b)) {
                sp.wait_for(T, |l| both.contains(&l));
            }
            assert!(!sp.seen.iter().any(|l| l == "EVENT,Line 1 resumed"));
        }
        sp.send_line("Hangup,1");
        sp.send_line("Hangup,2");
        assert!(sp.terminate(Duration::from_secs(5)).is_some());
    }
}
