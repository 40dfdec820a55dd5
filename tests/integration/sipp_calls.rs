//! Reliable provisional responses and session timers against sipp, both call directions:
//! the PRACKs a server that rings reliably wants, our reliable ringing for a caller that
//! requires it, session refresh by UPDATE and by re-INVITE, hanging up a call whose refresher
//! stopped, and 422 both ways. sipp checks what we send; the softphone's lines what we did.

use crate::peers::Softphone;
use crate::sipp::Sipp;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// The softphone (no server) calling sipp's scenario `name`.
fn call_sipp(name: &str, extra: &[&str]) -> (Sipp, Softphone) {
    let sipp = Sipp::uas(name);
    let callto = format!("callto=sip:sipp@127.0.0.1:{}", sipp.port);
    let mut params = vec![callto.as_str(), "autocall=true"];
    params.extend_from_slice(extra);
    let sp = Softphone::start(&params);
    (sipp, sp)
}

fn in_call(sp: &mut Softphone) {
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,sipp,"));
}

#[test]
fn reliable_ringing_from_the_far_end_is_pracked() {
    let (mut sipp, mut sp) = call_sipp("uas_100rel.xml", &["use100rel=true"]);
    // sipp answers only once the PRACK for its reliable 180 came.
    in_call(&mut sp);
    sp.send_line("Hangup,1");
    sipp.expect_success(T);
}

#[test]
fn a_caller_that_requires_100rel_gets_reliable_ringing() {
    let mut sp = Softphone::start(&[]);
    let mut sipp = Sipp::uac("uac_100rel.xml", sp.port, "1001");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,Ringing,sipp,"));
    // Answer once the PRACK has been answered: sipp expects its 200 first.
    std::thread::sleep(Duration::from_secs(1));
    sp.send_line("Accept,1");
    sipp.expect_success(T);
    sp.wait_for(T, |l| {
        l.starts_with("EVENT,Call on line 1 with sipp ended: remote hung up")
    });
}

#[test]
fn the_session_is_refreshed_by_update_when_allowed_else_by_reinvite() {
    for scenario in ["uas_timer_update.xml", "uas_timer_reinvite.xml"] {
        let (mut sipp, mut sp) = call_sipp(scenario, &[]);
        in_call(&mut sp);
        // Two refreshes 2 s apart (a 4 s interval, refreshed at half of it) are what sipp
        // waits for; the extra time leaves room for a slow machine, and a third refresh
        // meanwhile is answered by the scenario's loop.
        std::thread::sleep(Duration::from_millis(6_500));
        sp.send_line("Hangup,1");
        sipp.expect_success(T);
        sp.wait_for(T, |l| {
            l.starts_with("EVENT,Call on line 1 with sipp ended: hung up")
        });
    }
}

#[test]
fn a_session_its_refresher_let_expire_is_hung_up() {
    let (mut sipp, mut sp) = call_sipp("uas_timer_expiry.xml", &[]);
    in_call(&mut sp);
    sp.wait_for(T, |l| {
        l == "EVENT,Call on line 1 with sipp ended: session expired (the far end stopped refreshing it)"
    });
    sipp.expect_success(T);
}

#[test]
fn session_interval_too_small_both_ways() {
    // The far end wants at least 1800 s: we retry with that.
    let (mut sipp, mut sp) = call_sipp("uas_422.xml", &["sessiontimer=90"]);
    in_call(&mut sp);
    sp.send_line("Hangup,1");
    sipp.expect_success(T);
    // A caller asking for 30 s gets 422 with our Min-SE, and nothing rings.
    let mut sp = Softphone::start(&[]);
    let mut sipp = Sipp::uac("uac_422.xml", sp.port, "1001");
    sipp.expect_success(T);
    assert!(
        sp.try_wait_for(Duration::from_secs(1), |l| l.contains("Ringing"))
            .is_none(),
        "{:?}",
        sp.seen
    );
}

#[test]
fn a_stale_challenge_is_answered_again_and_a_repeated_one_ends_the_call() {
    let (mut sipp, mut sp) = call_sipp(
        "uas_auth_stale.xml",
        &["register=0", "username=1001", "password=pw1001"],
    );
    sp.wait_for(T, |l| {
        l == "EVENT,Call on line 1 with sipp ended: 407 Proxy Authentication Required (credentials rejected)"
    });
    // sipp checked each INVITE's nonce and that no fourth INVITE came.
    sipp.expect_success(T);
}

#[test]
fn a_forwarded_call_names_who_forwarded_it() {
    let mut sp = Softphone::start(&[]);
    let mut sipp = Sipp::uac("uac_diverted.xml", sp.port, "1001");
    sp.wait_line(T, "EVENT,Call on line 1 was forwarded to us by 1005 (busy)");
    sp.send_line("Hangup,1");
    sipp.expect_success(T);
}

#[test]
fn park_and_pickup_dial_the_feature_codes() {
    // Park: a transfer to the park code and orbit, on the server (sipp plays it).
    let mut sipp = Sipp::uas("uas_park.xml");
    let server = format!("serveraddress=127.0.0.1:{}", sipp.port);
    let mut sp = Softphone::start(&[
        &server,
        "username=1001",
        "callto=sipp",
        "autocall=true",
        "parkcode=*59",
        "transfertype=1",
    ]);
    in_call(&mut sp);
    sp.send_line("Park,1,5");
    sipp.expect_success(T);
    // Without a pickup code the user is told what to set.
    let sipp = Sipp::uas("uas_pickup.xml");
    let server = format!("serveraddress=127.0.0.1:{}", sipp.port);
    let mut sp = Softphone::start(&[&server, "username=1001"]);
    sp.send_line("Pickup,1005");
    sp.wait_line(
        T,
        "ERROR,picking up an extension's call needs the PBX's feature code: set directedpickupcode",
    );
    sp.send_line("SetParameter,pickupcode,*8");
    sp.send_line("Pickup");
    let mut sipp = sipp;
    sipp.expect_success(T);
    sp.wait_for(T, |l| l.contains("ended: 486 Busy Here"));
}

#[test]
fn bad_refers_and_a_notify_storm_get_precise_answers_and_the_call_survives() {
    let mut sp = Softphone::start(&["autoaccept=true"]);
    let mut sipp = Sipp::uac("uac_bad_refer.xml", sp.port, "1001");
    sipp.expect_success(Duration::from_secs(40));
    sp.wait_line(T, "EVENT,Call on line 1 with sipp ended: remote hung up");
    // Nothing was followed: no second line was ever used.
    assert!(
        !sp.seen.iter().any(|l| l.starts_with("STATUS,2,")),
        "{:?}",
        sp.seen
    );
    assert!(sp.is_running());
}
