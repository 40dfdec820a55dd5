//! Voicemail (message waiting, RFC 3842) against a real presence server: Kamailio with
//! presence and presence_mwi takes our SUBSCRIBE to our own box (challenging it, like every
//! request from us) and NOTIFYs us what the voicemail system — sipp here — PUBLISHes; the counts
//! come out as `MWI` lines. `voicemail=0` subscribes to nothing, and CheckVoicemail dials
//! `voicemailnum`.

use crate::peers::{Kamailio, KamailioOptions, Softphone};
use crate::sipp::Sipp;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn presence_server() -> Kamailio {
    Kamailio::start(KamailioOptions {
        presence: true,
        ..Default::default()
    })
}

#[test]
fn the_voicemail_box_is_subscribed_and_its_counts_shown() {
    let kam = presence_server();
    let mut sp = Softphone::user_1001(&kam, &[]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    let subscribed = format!(
        "EVENT,Subscribed to the voicemail box sip:1001@{}",
        kam.addr()
    );
    sp.wait_line(T, &subscribed);
    // Nothing published yet: no message is said to wait (the negative control).
    assert!(
        !sp.seen.iter().any(|l| l.starts_with("MWI,yes")),
        "{:?}",
        sp.seen
    );
    let mut vm = Sipp::client_of("uac_publish_mwi.xml", kam.port, "1001", "pw1001");
    sp.wait_line(T, "MWI,yes,2,8,1,0");
    // The box was emptied: the same publication, refreshed.
    sp.wait_line(T, "MWI,no,0,10,0,0");
    vm.expect_success(T);
    // Each count came in a NOTIFY of the presence server: the first (nothing published), then
    // one per publication.
    sp.send_line("Exit");
    sp.wait_line(T, "EVENT,Unregistered");
    let log = kam.log();
    let notifies = log
        .lines()
        .filter(|l| l.contains("send_notify_request") && l.contains("event message-summary"))
        .count();
    assert!(notifies >= 3, "{notifies} NOTIFYs:\n{log}");
}

#[test]
fn voicemail_off_subscribes_to_nothing_and_check_voicemail_dials_the_box() {
    let kam = presence_server();
    let mut sp = Softphone::user_1001(&kam, &["voicemail=0"]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    // Without a number there is nothing to dial, and the error says what to set.
    sp.send_line("CheckVoicemail");
    sp.wait_line(
        T,
        "ERROR,no voicemail number: set voicemailnum (or let the server push it)",
    );
    sp.send_line("SetParameter,voicemailnum,1099");
    sp.send_line("CheckVoicemail");
    // Nobody is 1099 here: the proxy's answer shows the box was dialled.
    sp.wait_line(T, "EVENT,Call on line 1 with 1099 ended: 404 Not Found");
    // The publication reaches the server, but we never subscribed, so no MWI line comes.
    let mut vm = Sipp::client_of("uac_publish_mwi.xml", kam.port, "1001", "pw1001");
    vm.expect_success(T);
    sp.send_line("Exit");
    sp.wait_line(T, "EVENT,Unregistered");
    let seen = sp.seen.join("\n");
    assert!(!seen.contains("MWI,"), "{seen}");
    assert!(!seen.contains("Subscribed to"), "{seen}");
}

/// A PBX that sends message waiting unasked: shown with `voicemail=1` (which never
/// subscribes), a body that is not a summary gets 400 and another type 415; with `voicemail=0`
/// the same NOTIFY is refused (489) and nothing is shown.
#[test]
fn message_waiting_sent_unasked_is_shown_unless_switched_off() {
    let mut sp = Softphone::start(&["voicemail=1"]);
    let mut pbx = Sipp::uac("uac_notify_mwi.xml", sp.port, "1001");
    sp.wait_line(T, "MWI,yes,3,1,0,0");
    pbx.expect_success(T);
    assert_eq!(
        sp.seen.iter().filter(|l| l.starts_with("MWI,")).count(),
        1,
        "{:?}",
        sp.seen
    );

    let mut off = Softphone::start(&["voicemail=0"]);
    let mut pbx = Sipp::uac("uac_notify_mwi.xml", off.port, "1001");
    // sipp expects 200 to its first NOTIFY and gets 489: the scenario fails at that step.
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pbx.expect_success(T)));
    let why = failed.expect_err("a softphone with voicemail off took the NOTIFY");
    let text = why.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("489"), "{text}");
    off.send_line("Exit");
    let _ = off.wait_for(T, |l| l.starts_with("STATUS,-1,"));
    assert!(
        !off.seen.iter().any(|l| l.starts_with("MWI,")),
        "{:?}",
        off.seen
    );
}
