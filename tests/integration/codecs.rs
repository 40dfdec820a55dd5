//! Every codec, both call directions, against baresip through Kamailio: speech goes both ways
//! and is compared on the samples; for the wideband codecs the recordings must also carry the
//! band above 4 kHz that narrowband cannot (so a call that silently fell back to G.711, or
//! played at the wrong rate, fails). Speex, which baresip 1.0 no longer ships, is called
//! between two softphones with every other codec switched off.

use crate::audio_compare::read_wav_any;
use crate::audio_compare::{high_band_share, read_wav, similarity};
use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, codec_rate, speech_at};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// Our parameters that make `codec` (baresip's name) the one we offer first.
fn prefer(codec: &str) -> Vec<&'static str> {
    match codec {
        "G722" => vec!["use_g722=3", "use_pcmu=2"],
        "opus" => vec!["use_opuswb=3", "use_opusswb=3", "use_opusuwb=3"],
        "PCMA" => vec!["use_pcma=3", "use_pcmu=2"],
        "GSM" => vec!["use_gsm=3", "use_pcmu=2"],
        _ => vec![],
    }
}

/// A call with `codec` (outgoing from us when `outgoing`), speech both ways; gives the
/// similarity at baresip and at us and the paths of the two recordings.
fn call(codec: &str, outgoing: bool, min_similarity: f64) {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let rate = codec_rate(codec);
    // Our WAV is always 8 kHz or 16 kHz: the media path resamples it to the codec's rate.
    let our_rate = rate.min(16_000);
    // The side whose file ends last is the one that hangs up second: pad the answerer's.
    let (ours, ours_padded) = speech_at(
        work.path(),
        "ours",
        "The quick brown fox jumps over the lazy dog. She sells sea shells.",
        if outgoing { 0 } else { 4 },
        our_rate,
    );
    let (theirs, theirs_padded) = speech_at(
        work.path(),
        "theirs",
        "Seven fresh fish, six sharp scissors, five thistles.",
        if outgoing { 8 } else { 0 },
        rate,
    );
    let out = work.path().join("heard.wav");
    let mut params = vec![
        format!(
            "recorddevice=file:{}",
            if outgoing { &ours } else { &ours_padded }.display()
        ),
        format!("playbackdevice=file:{}", out.display()),
    ];
    params.extend(prefer(codec).iter().map(|s| s.to_string()));
    let user = if outgoing { "1002" } else { "1003" };
    let (bs, mut sp);
    if outgoing {
        bs = Baresip::start(&kam, user, &theirs_padded, codec);
        params.extend(["callto=1002".to_string(), "autocall=true".to_string()]);
        let p: Vec<&str> = params.iter().map(String::as_str).collect();
        sp = Softphone::user_1001(&kam, &p);
    } else {
        params.push("autoaccept=true".to_string());

        let p: Vec<&str> = params.iter().map(String::as_str).collect();
        sp = Softphone::user_1001(&kam, &p);
        sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
        bs = Baresip::start(&kam, user, &theirs, codec);
        bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    }
    sp.wait_for(T, |l| l.starts_with(&format!("STATUS,1,InCall,{user},")));
    let stats = sp.wait_for(Duration::from_secs(40), |l| {
        l.starts_with("EVENT,RTP statistics on line 1:")
    });
    let received = bs.received();
    let at_baresip = similarity(&read_wav(&ours), &read_wav(&received));
    let at_us = similarity(&read_wav(&theirs), &read_wav(&out));
    let (hb_sent, hb_baresip) = (high_band_share(&ours), high_band_share(&received));
    let (hb_theirs, hb_us) = (high_band_share(&theirs), high_band_share(&out));
    let dir = if outgoing { "outgoing" } else { "incoming" };
    eprintln!(
        "{dir} {codec} call: ours at baresip {at_baresip:.3}, baresip's at us {at_us:.3}; \
         energy above 4 kHz: sent {hb_sent:.4} -> baresip {hb_baresip:.4}, \
         baresip sent {hb_theirs:.4} -> us {hb_us:.4}\n{stats}"
    );
    assert!(
        at_baresip > min_similarity,
        "{dir} {codec}: our audio at baresip {at_baresip:.3}\n{}",
        bs.log()
    );
    assert!(
        at_us > min_similarity,
        "{dir} {codec}: baresip's audio at us {at_us:.3}"
    );
    // The wrong reference does not match: the comparison can fail.
    assert!(similarity(&read_wav(&theirs), &read_wav(&received)) < 0.5);
    if rate > 8000 {
        // Wideband all the way: a good part of what was sent above 4 kHz arrived.
        assert!(
            hb_baresip > hb_sent * 0.3 && hb_sent > 0.001,
            "{dir} {codec}: high band at baresip {hb_baresip:.4} of {hb_sent:.4}"
        );
        assert!(
            hb_us > hb_theirs * 0.3 && hb_theirs > 0.001,
            "{dir} {codec}: high band at us {hb_us:.4} of {hb_theirs:.4}"
        );
    }
}

#[test]
fn g722_outgoing() {
    call("G722", true, 0.95);
}

#[test]
fn g722_incoming() {
    call("G722", false, 0.95);
}

#[test]
fn opus_outgoing() {
    call("opus", true, 0.8);
}

#[test]
fn opus_incoming() {
    call("opus", false, 0.8);
}

#[test]
fn pcma_outgoing() {
    call("PCMA", true, 0.9);
}

#[test]
fn pcmu_incoming() {
    call("PCMU", false, 0.9);
}

#[test]
fn gsm_outgoing() {
    call("GSM", true, 0.8);
}

#[test]
fn gsm_incoming() {
    call("GSM", false, 0.8);
}

/// Every codec switch off but `only` (a `use_speex*` parameter).
fn only(switch: &str) -> Vec<String> {
    [
        "use_pcmu",
        "use_pcma",
        "use_g722",
        "use_gsm",
        "use_opusnb",
        "use_opuswb",
        "use_opusswb",
        "use_opusuwb",
        "use_speex",
        "use_speexwb",
        "use_speexuwb",
    ]
    .iter()
    .map(|k| format!("{k}={}", if *k == switch { 3 } else { 0 }))
    .collect()
}

/// A Speex call from 1001 to 1002, both softphones with only `switch` on: speech both ways
/// compared on the samples; at 16 kHz and up the band above 4 kHz must arrive too.
fn speex_call(switch: &str, rate: u32) {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let file_rate = rate.min(16_000);
    let (a_says, _) = speech_at(
        work.path(),
        "a",
        "The quick brown fox jumps over the lazy dog. She sells sea shells.",
        0,
        file_rate,
    );
    let (b_says, _) = speech_at(
        work.path(),
        "b",
        "Seven fresh fish, six sharp scissors, five thistles.",
        0,
        file_rate,
    );
    let (a_heard, b_heard) = (
        work.path().join("a-heard.wav"),
        work.path().join("b-heard.wav"),
    );
    let server = format!("serveraddress={}", kam.addr());
    let mut b_params = vec![
        server.clone(),
        "username=1002".into(),
        "password=pw1002".into(),
        "autoaccept=true".into(),
        format!("recorddevice=file:{}", b_says.display()),
        format!("playbackdevice=file:{}", b_heard.display()),
    ];
    b_params.extend(only(switch));
    let b_params: Vec<&str> = b_params.iter().map(String::as_str).collect();
    let mut b = Softphone::start(&b_params);
    b.wait_line(T, "STATUS,-1,Registered,,1002,0,,");
    let mut a_params = vec![
        format!("recorddevice=file:{}", a_says.display()),
        format!("playbackdevice=file:{}", a_heard.display()),
        "callto=1002".into(),
        "autocall=true".into(),
    ];
    a_params.extend(only(switch));
    let a_params: Vec<&str> = a_params.iter().map(String::as_str).collect();
    let mut a = Softphone::user_1001(&kam, &a_params);
    a.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    // Both sentences last under 5 s: then 1001 hangs up and both print their statistics.
    std::thread::sleep(Duration::from_secs(8));
    a.send_line("Hangup,1");
    let stats = a.wait_for(Duration::from_secs(40), |l| {
        l.starts_with("EVENT,RTP statistics on line 1:")
    });
    b.wait_for(Duration::from_secs(20), |l| {
        l.starts_with("EVENT,RTP statistics on line 1:")
    });
    let at_b = similarity(&read_wav(&a_says), &read_wav(&b_heard));
    let at_a = similarity(&read_wav(&b_says), &read_wav(&a_heard));
    let (hb_sent, hb_at_b) = (high_band_share(&a_says), high_band_share(&b_heard));
    eprintln!(
        "{switch} call: 1001 at 1002 {at_b:.3}, 1002 at 1001 {at_a:.3}; energy above 4 kHz \
         sent {hb_sent:.4} -> {hb_at_b:.4} (heard at {} Hz)\n{stats}",
        read_wav_any(&b_heard).0
    );
    assert!(at_b > 0.8, "{switch}: 1001's speech at 1002 {at_b:.3}");
    assert!(at_a > 0.8, "{switch}: 1002's speech at 1001 {at_a:.3}");
    // The negative control: the other sentence is not what was heard.
    assert!(similarity(&read_wav(&b_says), &read_wav(&b_heard)) < 0.5);
    if rate > 8000 {
        assert!(
            hb_at_b > hb_sent * 0.3 && hb_sent > 0.001,
            "{switch}: high band at 1002 {hb_at_b:.4} of {hb_sent:.4}"
        );
    }
}

#[test]
fn speex_narrowband_between_two_softphones() {
    speex_call("use_speex", 8000);
}

#[test]
fn speex_wideband_between_two_softphones() {
    speex_call("use_speexwb", 16_000);
}

#[test]
fn speex_ultra_wideband_between_two_softphones() {
    speex_call("use_speexuwb", 32_000);
}
