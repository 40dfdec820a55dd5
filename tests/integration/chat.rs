//! Instant messages (SIP MESSAGE) against real peers: chat both ways with a registered baresip
//! through Kamailio (which challenges each sender, like for calls); a message to nobody fails
//! with the server's answer; one for a colleague who is offline waits on the server (msilo);
//! sipp checks what a message carries and refuses a second one; sipp sends us text (shown as a `CHAT` line, a forged line inside it defused),
//! an "is typing" notice (not shown) and a body we cannot show (415).

use crate::config::{folders, run};
use crate::peers::{Baresip, BaresipSetup, Kamailio, KamailioOptions, Softphone, speech};
use crate::sipp::Sipp;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

#[test]
fn chat_goes_both_ways_with_baresip_through_kamailio_and_one_to_nobody_fails() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, padded) = speech(work.path(), "theirs", "One two three.", 2);
    // baresip's current contact is us: its `message` command writes to 1001.
    let desk = format!("\"Desk\" <sip:1001@{}>", kam.addr());
    let setup = BaresipSetup {
        contacts: &[&desk],
        ..Default::default()
    };
    let bs = Baresip::start_setup(&kam, "1002", &padded, "PCMU", &setup);
    let home = tempfile::tempdir().expect("tempdir");
    let server = format!("serveraddress={}", kam.addr());
    let mut sp = Softphone::start_env(
        &[&server, "username=1001", "password=pw1001"],
        &folders(home.path()),
    );
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    assert!(
        wait_until(T, || !kam.bindings("1002").is_empty()),
        "baresip did not register:\n{}",
        kam.location()
    );
    // Ours to baresip: its console shows the text as sent, UTF-8 and comma included.
    let text = "Grüße, can you take the next call?";
    sp.send_line(&format!("SendChat,-1,1002,{text}"));
    sp.wait_line(T, "EVENT,Chat to 1002 delivered");
    assert!(
        wait_until(T, || bs.log().contains(&format!("\"{text}\""))),
        "baresip did not show the message:\n{}",
        bs.log()
    );
    // baresip's to us, through Kamailio (which challenges baresip first).
    let answer = "Ja, gerne — ich übernehme sie";
    bs.command("message", answer);
    let chat = sp.wait_for(T, |l| l.starts_with("CHAT,"));
    assert_eq!(chat, format!("CHAT,-1,1002,{answer}"));
    // Nobody is registered as 1099: Kamailio answers 404 and we say so.
    sp.send_line("SendChat,-1,1099,anyone there?");
    let failed = sp.wait_for(T, |l| l.starts_with("WARNING,Chat to 1099 failed: "));
    assert_eq!(failed, "WARNING,Chat to 1099 failed: 404 Not Found");
    // Negative control: baresip never saw the message meant for 1099.
    assert!(!bs.log().contains("anyone there?"), "{}", bs.log());
    // A message without text is refused before anything is sent.
    sp.send_line("SendChat,-1,1002,   ");
    let refused = sp.wait_for(T, |l| l.starts_with("WARNING,") || l.starts_with("ERROR,"));
    assert!(
        refused.contains("a peer and a text are needed"),
        "{refused}"
    );
    drop(bs);
    // The conversation with 1002 holds both messages in order; the failed one is not kept.
    sp.send_line("Exit");
    let _ = sp.terminate(T);
    let (out, err) = run(home.path(), &["--chat", "1002"]);
    let kept: Vec<&str> = out.lines().collect();
    assert_eq!(kept.len(), 2, "{out}{err}");
    assert!(kept[0].ends_with(&format!(" > {text}")), "{out}");
    assert!(kept[1].ends_with(&format!(" < {answer}")), "{out}");
    let (out, _) = run(home.path(), &["--chat", "1099"]);
    assert_eq!(out.trim(), "no messages with 1099");
}

/// Offline messages: Kamailio's msilo keeps a message for a colleague who is not registered
/// (202, which we show as stored, not failed) and hands it over when they register.
#[test]
fn a_message_for_a_colleague_who_is_offline_waits_on_the_server_until_they_register() {
    let kam = Kamailio::start(KamailioOptions {
        presence: true,
        ..Default::default()
    });
    let mut me = Softphone::user_1001(&kam, &[]);
    me.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    let text = "Rückruf bitte: Kunde 4711, heute vor 17 Uhr";
    me.send_line(&format!("SendChat,-1,1004,{text}"));
    let stored = me.wait_for(T, |l| {
        l.starts_with("EVENT,Chat to 1004 ") || l.starts_with("WARNING,")
    });
    assert!(
        !stored.contains("503"),
        "msilo did not store it:\n{}",
        kam.log()
    );
    assert_eq!(
        stored,
        "EVENT,Chat to 1004 stored by the server for later delivery (202 Accepted for later delivery)"
    );
    let server = format!("serveraddress={}", kam.addr());
    let mut colleague = Softphone::start(&[&server, "username=1004", "password=pw1004"]);
    colleague.wait_line(T, "STATUS,-1,Registered,,1004,0,,");
    // msilo puts when it stored the message in front of the text.
    let Some(chat) = colleague.try_wait_for(T, |l| l.starts_with("CHAT,")) else {
        panic!("the stored message was not handed over:\n{}", kam.log());
    };
    assert!(
        chat.starts_with("CHAT,-1,1001,") && chat.ends_with(text),
        "{chat}"
    );
    // Negative control: handed over once, not again on the next registration.
    colleague.send_line("Exit");
    let _ = colleague.terminate(T);
    let mut again = Softphone::start(&[&server, "username=1004", "password=pw1004"]);
    again.wait_line(T, "STATUS,-1,Registered,,1004,0,,");
    assert!(
        again
            .try_wait_for(Duration::from_secs(3), |l| l.starts_with("CHAT,"))
            .is_none(),
        "{:?}",
        again.seen
    );
}

#[test]
fn messages_from_sipp_are_shown_typing_is_not_and_a_binary_body_gets_415() {
    let home = tempfile::tempdir().expect("tempdir");
    let env = folders(home.path());
    let mut sp = Softphone::start_env(&[], &env);
    let mut sipp = Sipp::uac("uac_message.xml", sp.port, "1001");
    let chat = sp.wait_for(T, |l| l.starts_with("CHAT,"));
    // The line break became a space: the far end cannot start a notification line of its own.
    assert_eq!(chat, "CHAT,-1,sipp,hello, from sipp CHAT,1,forged line");
    sipp.expect_success(T);
    assert_eq!(
        sp.seen.iter().filter(|l| l.starts_with("CHAT,")).count(),
        1,
        "{:?}",
        sp.seen
    );
    // The text is in the conversation with sipp (the store is written off the engine's loop:
    // an orderly exit has it on disk).
    sp.send_line("Exit");
    let _ = sp.terminate(T);
    let (out, err) = run(home.path(), &["--chat", "sipp"]);
    let kept: Vec<&str> = out.lines().collect();
    assert_eq!(kept.len(), 1, "{out}{err}");
    assert!(
        kept[0].ends_with(" < hello, from sipp CHAT,1,forged line"),
        "{out}"
    );
    // Negative control: nobody else wrote.
    let (out, _) = run(home.path(), &["--chat", "1099"]);
    assert_eq!(out.trim(), "no messages with 1099");
}

#[test]
fn what_a_message_carries_and_its_refusal_reported() {
    let mut sipp = Sipp::uas("uas_message.xml");
    let mut sp = Softphone::start(&[]);
    let to = format!("sip:sipp@127.0.0.1:{}", sipp.port);
    sp.send_line(&format!("SendChat,-1,{to},Grüße, the call is yours"));
    let failed = sp.wait_for(T, |l| l.starts_with("WARNING,Chat to "));
    assert!(failed.ends_with("failed: 486 Busy Here"), "{failed}");
    // sipp checked the text (UTF-8, its comma kept), the Content-Type and the From.
    sipp.expect_success(T);
}
