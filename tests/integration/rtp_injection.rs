//! A stranger who guesses our RTP port cannot take the call's audio over: during a call with
//! baresip, a third process sends loud RTP with the right payload type to our RTP port from
//! another port. What we hear is still baresip, and baresip still hears us.

use crate::audio_compare::{read_wav, similarity, tone_share};
use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, free_port, speech};
use softphone::media::g711;
use softphone::rtp::RtpSender;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// An even port with a free odd neighbour, for our RTP and RTCP.
fn free_rtp_port() -> u16 {
    loop {
        let p = free_port() & !1;
        if UdpSocket::bind(("127.0.0.1", p)).is_ok()
            && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return p;
        }
    }
}

#[test]
fn injected_rtp_from_another_port_is_not_heard() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (ours, _) = speech(
        work.path(),
        "ours",
        "The quick brown fox jumps over the lazy dog.",
        0,
    );
    let (theirs, theirs_padded) = speech(
        work.path(),
        "theirs",
        "One two three four five six seven eight.",
        8,
    );
    let bs = Baresip::start(&kam, "1002", &theirs_padded, "PCMU");
    let heard = work.path().join("heard.wav");
    let rtp_port = free_rtp_port();
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            "callto=1002",
            "autocall=true",
            &format!("rtpport={rtp_port}"),
            &format!("recorddevice=file:{}", ours.display()),
            &format!("playbackdevice=file:{}", heard.display()),
        ],
    );
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    // Let baresip's stream latch first, as it does in a real call; then the attack: a loud
    // 1 kHz tone in PCMU (payload type 0) at our RTP port, every 20 ms for 4 s.
    std::thread::sleep(Duration::from_millis(500));
    let attacker = UdpSocket::bind("127.0.0.1:0").expect("attacker socket");
    let mut sender = RtpSender::new(0, 0x0bad_cafe, 1, 1);
    let tone: Vec<u8> = (0..160)
        .map(|i| {
            let v =
                (f32::sin(i as f32 * std::f32::consts::TAU * 1000.0 / 8000.0) * 30_000.0) as i16;
            g711::linear_to_ulaw(v)
        })
        .collect();
    let start = Instant::now();
    let mut sent = 0u32;
    while start.elapsed() < Duration::from_secs(4) {
        let packet = sender.packetize(&tone, 160);
        attacker
            .send_to(&packet, ("127.0.0.1", rtp_port))
            .expect("inject");
        sent += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sent > 150);
    let warning = sp.wait_for(T, |l| l.starts_with("WARNING,line 1: RTP from 127.0.0.1:"));
    assert!(warning.contains("dropped"), "{warning}");
    let stats = sp.wait_for(Duration::from_secs(30), |l| {
        l.starts_with("EVENT,RTP statistics on line 1:")
    });
    eprintln!("{stats}");
    let dropped: u32 = stats
        .split("dropped from other sources ")
        .nth(1)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no drop count in {stats}"));
    assert!(dropped + 5 >= sent, "{dropped} of {sent} dropped: {stats}");
    sp.wait_line(T, "EVENT,Call on line 1 with 1002 ended: remote hung up");
    // We heard baresip, not the tone; baresip heard us.
    let at_us = read_wav(&heard);
    let similarity_at_us = similarity(&read_wav(&theirs), &at_us);
    let at_baresip = similarity(&read_wav(&ours), &read_wav(&bs.received()));
    let tone_in_heard = tone_share(&at_us, 1000.0);
    eprintln!(
        "with injection: baresip's audio at us {similarity_at_us:.3}, ours at baresip \
         {at_baresip:.3}, 1 kHz share of what we heard {tone_in_heard:.4}"
    );
    assert!(
        similarity_at_us > 0.9,
        "baresip's audio at us: {similarity_at_us:.3}"
    );
    assert!(at_baresip > 0.9, "our audio at baresip: {at_baresip:.3}");
    assert!(
        tone_in_heard < 0.01,
        "the injected tone was heard: {tone_in_heard:.4}"
    );
    // The measure can fail: the injected tone itself is all 1 kHz.
    let tone_pcm: Vec<f32> = tone
        .iter()
        .cycle()
        .take(8000)
        .map(|&u| f32::from(g711::ulaw_to_linear(u)) / 32768.0)
        .collect();
    assert!(tone_share(&tone_pcm, 1000.0) > 0.9);
}
