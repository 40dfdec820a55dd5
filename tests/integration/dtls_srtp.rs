//! DTLS-SRTP against baresip's dtls_srtp module (OpenSSL on its side, rtc-dtls on ours): both
//! call directions over plain UDP signalling (no key is in the SDP, so none needs hiding),
//! each side's certificate checked against the other's SDP fingerprint, speech compared on
//! the samples both ways and the wire read through the loopback tap (a clear reading of our
//! packets must not be our speech). DTLS-only against an SDES-only peer is refused.

use crate::peers::{BaresipSetup, Kamailio, KamailioOptions, Softphone};
use crate::srtp::{Outcome, call_with};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

const DTLS_ONLY: [&str; 2] = ["mediaencryption=2", "srtpmode=1"];

fn dtls_baresip() -> BaresipSetup<'static> {
    BaresipSetup {
        mediaenc: "dtls_srtp",
        rtcp_mux: true,
        ..Default::default()
    }
}

/// Both sides keyed by the handshake, the speech through, nothing clear on the wire.
fn assert_secured(o: &Outcome) {
    assert!(o.media.ends_with("SRTP keyed by DTLS"), "{}", o.media);
    let secured = o
        .seen
        .iter()
        .find(|l| l.contains("secured: DTLS-SRTP"))
        .unwrap_or_else(|| panic!("never secured: {:#?}", o.seen));
    eprintln!("{secured}");
    assert!(
        o.baresip_log.contains("verified sha-256 fingerprint OK")
            || o.baresip_log.contains("verified SHA-256 fingerprint OK"),
        "baresip did not check our certificate:\n{}",
        o.baresip_log
    );
    assert!(
        o.baresip_log.contains("DTLS-SRTP complete"),
        "{}",
        o.baresip_log
    );
    assert!(
        o.at_baresip > 0.9,
        "our speech at baresip {:.3}\n{}",
        o.at_baresip,
        o.baresip_log
    );
    assert!(o.at_us > 0.9, "baresip's speech at us {:.3}", o.at_us);
    assert!(
        o.on_the_wire < 0.2,
        "our packets carry the speech in clear: {:.3}",
        o.on_the_wire
    );
}

#[test]
fn dtls_srtp_outgoing_to_baresip_keys_the_call_in_its_handshake() {
    let o = call_with(&DTLS_ONLY, &dtls_baresip(), true);
    assert_secured(&o);
}

#[test]
fn dtls_srtp_incoming_from_baresip_is_answered_active() {
    let o = call_with(&DTLS_ONLY, &dtls_baresip(), false);
    assert_secured(&o);
}

#[test]
fn dtls_only_refuses_a_peer_that_offers_only_sdes_keys() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (theirs, _) = crate::peers::speech(work.path(), "theirs", "Hello.", 0);
    let setup = BaresipSetup {
        mediaenc: "srtp-mand",
        ..Default::default()
    };
    let bs = crate::peers::Baresip::start_setup(&kam, "1002", &theirs, "PCMU", &setup);
    let mut p = DTLS_ONLY.to_vec();
    p.extend(["autoaccept=true", "srtpkeysinclear=1"]);
    let mut sp = Softphone::user_1001(&kam, &p);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    let Some(refused) = sp.try_wait_for(T, |l| l.starts_with("EVENT,Call from 1002 answered 488"))
    else {
        panic!("not refused: {:?}\n{}", sp.seen, bs.log());
    };
    assert!(refused.contains("DTLS"), "{refused}");
    assert!(
        !sp.seen.iter().any(|l| l.contains(",InCall,")),
        "{:?}",
        sp.seen
    );
}

#[test]
fn without_rtcp_mux_the_rtcp_port_has_its_own_handshake_and_reports_flow() {
    // baresip's default: RTCP on its own port, so a second DTLS association keys SRTCP.
    let setup = BaresipSetup {
        mediaenc: "dtls_srtp",
        ..Default::default()
    };
    let o = call_with(&DTLS_ONLY, &setup, true);
    assert_secured(&o);
    assert!(
        o.baresip_log.contains("DTLS-SRTP complete (audio/RTCP)"),
        "{}",
        o.baresip_log
    );
    // Its reports, decrypted under the RTCP port's keys, give the round trip.
    assert!(!o.stats.contains("round trip unknown"), "{}", o.stats);
}
