//! SRTP with SDES keys against baresip's srtp module: each suite baresip speaks, both call
//! directions, speech compared on the samples both ways (baresip only plays what passed its
//! authentication and decryption, we only what passed ours), and the wire looked at through a
//! loopback tap: what leaves our RTP port must not be the speech in clear (a clear call's
//! packets, the negative control, are). Mandatory SRTP refuses a clear call, SRTP off refuses
//! an SRTP-only offer, and keys never cross clear signalling unless allowed.

use crate::audio_compare::{read_wav, similarity};
use crate::peers::{
    Baresip, BaresipSetup, Kamailio, KamailioOptions, Softphone, free_port, speech,
};
use crate::wire_tap::{Datagram, LoopbackTap};
use softphone::media::g711::ulaw_to_linear;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// What one call showed.
pub struct Outcome {
    pub at_baresip: f64,
    pub at_us: f64,
    /// Our sent PCMU payloads, read off the wire as if clear, against our speech.
    pub on_the_wire: f64,
    pub media: String,
    pub stats: String,
    pub baresip_log: String,
    /// Everything we printed.
    pub seen: Vec<String>,
}

/// Our RTP packets' payloads decoded as clear PCMU, in the order sent.
fn wire_audio(seen: &[Datagram]) -> Vec<f32> {
    seen.iter()
        .filter(|d| d.payload.len() >= 172 && d.payload[0] >> 6 == 2 && d.payload[1] & 0x7f == 0)
        .flat_map(|d| {
            d.payload[12..172]
                .iter()
                .map(|&u| f32::from(ulaw_to_linear(u)))
        })
        .collect()
}

/// A PCMU call with baresip (`mediaenc` its account's) under our `params`, outgoing from us
/// or from baresip, speech both ways.
fn call(params: &[&str], mediaenc: &str, outgoing: bool) -> Outcome {
    let setup = BaresipSetup {
        mediaenc,
        ..Default::default()
    };
    call_with(params, &setup, outgoing)
}

/// As [`call`] with baresip set up by `setup`.
pub fn call_with(params: &[&str], setup: &BaresipSetup, outgoing: bool) -> Outcome {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (ours, ours_padded) = speech(
        work.path(),
        "ours",
        "The quick brown fox jumps over the lazy dog.",
        4,
    );
    let (theirs, theirs_padded) = speech(
        work.path(),
        "theirs",
        "Seven fresh fish, six sharp scissors, five thistles.",
        8,
    );
    let heard = work.path().join("heard.wav");
    let rtp_base = free_port() & !1;
    let mut ours_params = vec![
        format!(
            "recorddevice=file:{}",
            if outgoing { &ours } else { &ours_padded }.display()
        ),
        format!("playbackdevice=file:{}", heard.display()),
        format!("rtpport={rtp_base}"),
    ];
    ours_params.extend(params.iter().map(|p| p.to_string()));
    let tap = LoopbackTap::start(rtp_base..rtp_base + 20);
    let (bs, mut sp);
    if outgoing {
        bs = Baresip::start_setup(&kam, "1002", &theirs_padded, "PCMU", setup);
        ours_params.extend(["callto=1002".to_string(), "autocall=true".to_string()]);
        let p: Vec<&str> = ours_params.iter().map(String::as_str).collect();
        sp = Softphone::user_1001(&kam, &p);
    } else {
        ours_params.push("autoaccept=true".to_string());
        let p: Vec<&str> = ours_params.iter().map(String::as_str).collect();
        sp = Softphone::user_1001(&kam, &p);
        sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
        bs = Baresip::start_setup(&kam, "1002", &theirs, "PCMU", setup);
        bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    }
    let media = sp.wait_for(T, |l| l.starts_with("EVENT,Media on line 1:"));
    let stats = sp.wait_for(Duration::from_secs(40), |l| {
        l.starts_with("EVENT,RTP statistics on line 1:")
    });
    let received = bs.received();
    let seen = tap.finish();
    let out = Outcome {
        at_baresip: similarity(&read_wav(&ours), &read_wav(&received)),
        at_us: similarity(&read_wav(&theirs), &read_wav(&heard)),
        on_the_wire: similarity(&read_wav(&ours), &wire_audio(&seen)),
        media,
        stats,
        baresip_log: bs.log(),
        seen: sp.seen.clone(),
    };
    eprintln!(
        "{}\n{}\nours at baresip {:.3}, baresip's at us {:.3}, our packets read as clear {:.3}",
        out.media, out.stats, out.at_baresip, out.at_us, out.on_the_wire
    );
    out
}

/// An encrypted call in `suite`: speech both ways, nothing clear on the wire, both sides say
/// the suite, at most `max_refused` packets refused.
fn encrypted(params: &[&str], mediaenc: &str, outgoing: bool, suite: &str, max_refused: u32) {
    let o = call(params, mediaenc, outgoing);
    assert!(o.media.ends_with(&format!("SRTP {suite}")), "{}", o.media);
    assert!(
        o.baresip_log
            .contains(&format!("SRTP is Enabled (cryptosuite={suite})")),
        "{}",
        o.baresip_log
    );
    assert!(
        o.at_baresip > 0.9,
        "our speech at baresip {:.3}",
        o.at_baresip
    );
    assert!(o.at_us > 0.9, "baresip's speech at us {:.3}", o.at_us);
    assert!(
        o.on_the_wire < 0.2,
        "our packets carry the speech in clear: {:.3}",
        o.on_the_wire
    );
    // Refused: the RTCP APP "PING" baresip sends in clear as each stream starts, to open a NAT
    // pinhole (its src/stream.c) — exactly what SRTP must not take.
    let refused: u32 = o
        .stats
        .split("SRTP refused ")
        .nth(1)
        .map_or(0, |n| n.trim().parse().unwrap_or(u32::MAX));
    assert!(refused <= max_refused, "{}", o.stats);
}

const SDES: [&str; 2] = ["srtpkeysinclear=1", "mediaencryption=2"];

#[test]
fn srtp_aes_cm_128_hmac_sha1_80_mandatory_outgoing() {
    let p = [SDES[0], SDES[1], "srtpsuites=AES_CM_128_HMAC_SHA1_80"];
    encrypted(&p, "srtp-mand", true, "AES_CM_128_HMAC_SHA1_80", 3);
}

#[test]
fn srtp_aes_cm_128_hmac_sha1_32_best_effort_outgoing() {
    let p = [
        "srtpkeysinclear=1",
        "mediaencryption=1",
        "srtpsuites=AES_CM_128_HMAC_SHA1_32",
    ];
    // libre 1.1 tags SRTCP with 32 bits in the _32 suites where RFC 4568 §6.2.2 (and libsrtp,
    // under Asterisk, FreeSWITCH, PJSIP) use 80: its reports are refused too (one per 5 s),
    // and ours by it. The audio is unaffected.
    encrypted(&p, "srtp", true, "AES_CM_128_HMAC_SHA1_32", 10);
}

#[test]
fn srtp_aead_aes_128_gcm_outgoing() {
    let p = [
        SDES[0],
        SDES[1],
        "srtpsuites=AEAD_AES_128_GCM,AES_CM_128_HMAC_SHA1_80",
    ];
    encrypted(&p, "srtp-mand", true, "AEAD_AES_128_GCM", 3);
}

#[test]
fn srtp_aead_aes_256_gcm_outgoing() {
    let p = [SDES[0], SDES[1], "srtpsuites=AEAD_AES_256_GCM"];
    encrypted(&p, "srtp-mand", true, "AEAD_AES_256_GCM", 3);
}

#[test]
fn srtp_only_offer_from_baresip_is_answered_encrypted() {
    // baresip offers RTP/SAVP with its one suite; our optional SRTP takes it.
    let p = ["srtpkeysinclear=1", "mediaencryption=1"];
    encrypted(&p, "srtp-mand", false, "AES_CM_128_HMAC_SHA1_80", 3);
}

#[test]
fn a_clear_call_crosses_the_wire_as_the_speech() {
    // The negative control of the tap: without SRTP our packets are the speech.
    let o = call(&[], "", true);
    assert!(o.media.ends_with("unencrypted"), "{}", o.media);
    assert!(
        o.at_baresip > 0.9 && o.on_the_wire > 0.9,
        "{:.3} {:.3}",
        o.at_baresip,
        o.on_the_wire
    );
}

/// Starts us with `params` registered as 1001 and a baresip 1002 with `mediaenc`.
fn pair(params: &[&str], mediaenc: &str) -> (Kamailio, Baresip, Softphone, tempfile::TempDir) {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (theirs, _) = speech(work.path(), "theirs", "Hello there.", 2);
    let setup = BaresipSetup {
        mediaenc,
        ..Default::default()
    };
    let bs = Baresip::start_setup(&kam, "1002", &theirs, "PCMU", &setup);
    let mut p = vec!["recorddevice=null", "playbackdevice=null"];
    p.extend_from_slice(params);
    let mut sp = Softphone::user_1001(&kam, &p);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    (kam, bs, sp, work)
}

#[test]
fn mandatory_srtp_refuses_a_clear_call_both_ways() {
    let (kam, bs, mut sp, _w) = pair(&SDES, "");
    // Our RTP/SAVP offer to a baresip without SRTP: no call, and it says why.
    sp.send_line("call,1002");
    let end = sp.wait_for(T, |l| l.starts_with("EVENT,Call on line 1 with 1002 ended"));
    assert!(
        !sp.seen.iter().any(|l| l.starts_with("STATUS,1,InCall")),
        "{:?}",
        sp.seen
    );
    eprintln!("{end}");
    // baresip's clear offer to us: 488 with the reason.
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    let end = std::time::Instant::now() + T;
    while !bs.log().contains("488") && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(bs.log().contains("488 Not Acceptable Here"), "{}", bs.log());
}

#[test]
fn srtp_off_refuses_an_srtp_only_offer_instead_of_answering_in_clear() {
    let (kam, bs, mut sp, _w) = pair(&[], "srtp-mand");
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    let end = std::time::Instant::now() + T;
    while !bs.log().contains("488") && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(bs.log().contains("488 Not Acceptable Here"), "{}", bs.log());
    let answered = sp.try_wait_for(Duration::from_secs(1), |l| l.starts_with("STATUS,1,InCall"));
    assert_eq!(answered, None);
}

#[test]
fn keys_never_cross_clear_signalling_unless_allowed() {
    // SRTP-only over UDP without srtpkeysinclear: told at start, no INVITE with keys goes out,
    // and an SRTP offer is refused rather than answered with our key in clear.
    let (kam, bs, mut sp, _w) = pair(&["mediaencryption=2"], "srtp-mand");
    assert!(
        sp.seen.iter().any(|l| l.contains("every call is refused")),
        "{:?}",
        sp.seen
    );
    sp.send_line("call,1002");
    let refused = sp.wait_for(T, |l| l.contains("no call is placed"));
    assert!(refused.contains("srtpkeysinclear=0"), "{refused}");
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    let end = std::time::Instant::now() + T;
    while !bs.log().contains("488") && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(bs.log().contains("488 Not Acceptable Here"), "{}", bs.log());
    assert!(!bs.log().contains("SRTP is Enabled"), "{}", bs.log());
}
