//! Parameters changed while the softphone runs, through the real binary: `SetParameter` and
//! `SaveParameter` on its command input (the same command the window and API send), bad values
//! and names, an account given at run time registering with Kamailio, the settings file
//! surviving a restart and `clearcfg` removing it, and Kamailio pushing `x-mparam` /
//! `x-mparamp` headers in its REGISTER replies.

use crate::config::{folders, run, shown};
use crate::peers::{Kamailio, KamailioOptions, Softphone};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[test]
fn runtime_changes_apply_persist_and_survive_a_restart() {
    let kam = Kamailio::start(KamailioOptions::default());
    let home = tempfile::tempdir().expect("tempdir");
    let mut env = folders(home.path());
    // No Secret Service here: a saved password must stay in memory only.
    env.push((
        "DBUS_SESSION_BUS_ADDRESS".into(),
        format!("unix:path={}", home.path().join("no-bus").display()),
    ));
    let server = format!("serveraddress={}", kam.addr());
    let mut sp = Softphone::start_env(&[&server], &env);
    sp.wait_line(T, "STATUS,-1,Ready,,,0,,");

    sp.send_line("SetParameter,maxlines,abc");
    sp.wait_line(
        T,
        "ERROR,maxlines: \"abc\" is not a whole number from 1 to 99; keeping the previous value",
    );
    sp.send_line("SetParameter,usrname,1001");
    sp.wait_line(
        T,
        "ERROR,unknown parameter \"usrname\" (did you mean username?)",
    );

    // The account arrives at run time: the softphone registers with it.
    sp.send_line("SetParameter,password,pw1001");
    sp.wait_line(T, "EVENT,parameter password=*** (runtime)");
    sp.send_line("SetParameter,username,1001");
    sp.wait_line(T, "EVENT,parameter username=1001 (runtime)");
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    assert_eq!(kam.bindings("1001").len(), 1);

    // Saved: it applies now (one line only) and is in the settings file.
    sp.send_line("SaveParameter,maxlines,1");
    sp.wait_line(T, "EVENT,parameter maxlines=1 (runtime)");
    // A far end that never answers keeps line 1 busy.
    let (_far_end, silent) = silent_far_end();
    sp.send_line(&silent);
    sp.send_line(&silent);
    sp.wait_line(T, "ERROR,all 1 lines are busy");
    sp.send_line("Hangup,1");
    // A password to keep goes to the keyring, never to the file; there is none here.
    sp.send_line("SaveParameter,password,pw1001");
    sp.wait_for(T, |l| {
        l.starts_with("WARNING,no keyring service is available")
            && l.ends_with("the password stays in memory only")
    });
    // Not implemented parameters say so.
    sp.send_line("SetParameter,httpsessiontimeout,5");
    sp.wait_line(
        T,
        "WARNING,httpsessiontimeout is not implemented in this build yet; the value is kept but does nothing",
    );
    // The blacklist verbs edit the kept list and answer with it (a comma inside a value
    // shows as a space: commas separate the fields of a line).
    sp.send_line("SetBlacklist,1005, spam");
    sp.wait_line(T, "EVENT,parameter blacklist=1005 spam (runtime)");
    sp.send_line("AddToBlacklist,SPAM");
    sp.wait_line(T, "EVENT,parameter blacklist=1005 spam (runtime)");
    sp.send_line("AddToBlacklist,2000");
    sp.wait_line(T, "EVENT,parameter blacklist=1005 spam 2000 (runtime)");
    sp.send_line("RemoveFromBlacklist,1005");
    sp.wait_line(T, "EVENT,parameter blacklist=spam 2000 (runtime)");
    sp.send_line("GetBlacklist");
    sp.wait_line(T, "EVENT,parameter blacklist=spam 2000 (runtime)");
    sp.send_line("AddToBlacklist");
    sp.wait_line(T, "WARNING,addtoblacklist: a number or user is needed");
    // Bound at start: a restart is needed.
    sp.send_line("SetParameter,transport,1");
    sp.wait_line(T, "WARNING,transport takes effect at the next start");
    sp.send_line("Exit");
    sp.wait_line(T, "EVENT,Unregistered");
    drop(sp);

    let file = home.path().join("config/softphone/settings.toml");
    let text = std::fs::read_to_string(&file).expect("settings.toml");
    assert!(text.contains("maxlines = \"1\""), "{text}");
    assert!(text.contains("blacklist = \"spam,2000\""), "{text}");
    assert!(!text.contains("pw1001"), "{text}");
    // The next start has it, from the settings file; the command line still wins over it.
    let (out, _) = run(home.path(), &["--show-config"]);
    assert_eq!(
        shown(&out, "maxlines"),
        ("1".into(), "settings file".into())
    );
    let (out, _) = run(home.path(), &["--show-config", "maxlines=3"]);
    assert_eq!(shown(&out, "maxlines"), ("3".into(), "command line".into()));
    // clearcfg removes it.
    let (out, err) = run(home.path(), &["--show-config", "clearcfg=true"]);
    assert!(err.contains("clearcfg: the saved settings"), "{err}");
    assert_eq!(shown(&out, "maxlines"), ("4".into(), "default".into()));
    assert!(!file.exists());
}

#[test]
fn the_server_pushes_parameters_in_register_replies() {
    let kam = Kamailio::start(KamailioOptions {
        register_reply_headers: "x-mparam: maxlines=2; volumering=30; password=stolen\r\n\
                                 x-mparamp: language=de\r\n",
        ..Default::default()
    });
    let home = tempfile::tempdir().expect("tempdir");
    let env = folders(home.path());
    let server = format!("serveraddress={}", kam.addr());
    let mut sp = Softphone::start_env(
        &[&server, "username=1001", "password=pw1001", "maxlines=3"],
        &env,
    );
    // The server wins over the command line; it may not touch the credentials.
    sp.wait_line(T, "EVENT,parameter maxlines=2 (server)");
    sp.wait_line(T, "EVENT,parameter volumering=30 (server)");
    sp.wait_line(
        T,
        "WARNING,the server may not set password (x-mparam); ignored",
    );
    sp.wait_line(T, "EVENT,parameter language=de (server)");
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    // A run-time change does not beat it.
    sp.send_line("SetParameter,maxlines,4");
    sp.wait_line(
        T,
        "WARNING,maxlines keeps the value set by the server (it wins over the runtime)",
    );
    // And it applies: two lines.
    let (far_end, silent) = silent_far_end();
    for _ in 0..3 {
        sp.send_line(&silent);
    }
    sp.wait_line(T, "ERROR,all 2 lines are busy");
    assert!(
        heard_invite(&far_end),
        "the proxy relayed no INVITE to the far end"
    );
    sp.send_line("Exit");
    // Settings are written off the engine's loop; an orderly exit has them on disk first.
    sp.wait_line(T, "EVENT,Unregistered");
    drop(sp);
    // x-mparamp was kept, x-mparam was not.
    let text = std::fs::read_to_string(home.path().join("config/softphone/settings.toml"))
        .expect("settings.toml");
    assert!(text.contains("language = \"de\""), "{text}");
    assert!(!text.contains("maxlines"), "{text}");
    assert!(!text.contains("stolen"), "{text}");
}

/// The server is not the user: of what it pushes, only the allow-list applies. A server that
/// tries to point the speaker at a file (to overwrite it), answer calls or change the ringtone
/// is refused, named in a warning, and nothing is written.
#[test]
fn the_server_may_push_only_harmless_parameters() {
    let home = tempfile::tempdir().expect("tempdir");
    let victim = home.path().join("victim.wav");
    let headers: &'static str = Box::leak(
        format!(
            "x-mparam: playbackdevice=file:{}; autoaccept=true; ringtone=/etc/passwd; \
             prefix=900; use_pcma=3\r\nx-mparamp: recorddevice=file:/dev/zero\r\n",
            victim.display()
        )
        .into_boxed_str(),
    );
    let kam = Kamailio::start(KamailioOptions {
        register_reply_headers: headers,
        ..Default::default()
    });
    let env = folders(home.path());
    let server = format!("serveraddress={}", kam.addr());
    let mut sp = Softphone::start_env(&[&server, "username=1001", "password=pw1001"], &env);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    // The speaker is still the one the user chose: the test sound does not touch the file.
    sp.send_line("TestSound");
    sp.wait_line(T, "EVENT,Test sound on speaker \"null\"");
    // The refusals came with the first reply to our REGISTER.
    for refused in [
        "playbackdevice",
        "autoaccept",
        "ringtone",
        "prefix",
        "recorddevice",
    ] {
        let warning = format!("WARNING,the server may not set {refused} (x-mparam); ignored");
        assert!(sp.seen.contains(&warning), "{warning} not in {:?}", sp.seen);
    }
    let applied = "EVENT,parameter use_pcma=3 (server)".to_string();
    assert!(sp.seen.contains(&applied), "{:?}", sp.seen);
    std::thread::sleep(Duration::from_millis(2500));
    sp.send_line("Exit");
    sp.wait_line(T, "EVENT,Unregistered");
    drop(sp);
    assert!(
        !victim.exists(),
        "the server made us write {}",
        victim.display()
    );
    assert!(
        !settings_file_names(home.path(), "playbackdevice"),
        "a refused parameter was kept"
    );
}

/// Whether the settings file under `home` names `name`.
fn settings_file_names(home: &std::path::Path, name: &str) -> bool {
    std::fs::read_to_string(home.join("config/softphone/settings.toml"))
        .is_ok_and(|t| t.contains(name))
}

/// Seconds of `wav` whose 20 ms frames carry sound (RMS above a quiet floor).
pub(crate) fn seconds_of_sound(wav: &std::path::Path) -> f64 {
    let samples = crate::audio_compare::read_wav(wav);
    let frame = 160; // 20 ms at 8 kHz (read_wav gives 8 kHz)
    let loud = samples
        .chunks(frame)
        .filter(|c| {
            let e = c.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / c.len() as f64;
            e.sqrt() > 300.0
        })
        .count();
    loud as f64 * 0.02
}

/// `changeaudiodevimmediate`: the speaker changed mid-call takes the rest of the call; the
/// first one was finished properly and holds the start.
#[test]
fn a_speaker_changed_mid_call_takes_over_at_once() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, theirs) = crate::peers::speech(
        work.path(),
        "theirs",
        "One two three four five six seven eight nine ten. One two three four five six seven eight nine ten.",
        2,
    );
    let bs = crate::peers::Baresip::start(&kam, "1002", &theirs, "PCMU");
    let (first, second) = (
        work.path().join("first.wav"),
        work.path().join("second.wav"),
    );
    let mut sp = Softphone::user_1001(
        &kam,
        &[
            "callto=1002",
            "autocall=true",
            &format!("playbackdevice=file:{}", first.display()),
        ],
    );
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    std::thread::sleep(Duration::from_secs(3));
    sp.send_line(&format!(
        "SetParameter,playbackdevice,file:{}",
        second.display()
    ));
    sp.wait_line(
        T,
        &format!(
            "EVENT,Line 1 now uses microphone \"null\" and speaker \"file:{}\"",
            second.display()
        ),
    );
    sp.wait_line(
        Duration::from_secs(30),
        "EVENT,Call on line 1 with 1002 ended: remote hung up",
    );
    sp.wait_for(T, |l| l.starts_with("CDR,1,"));
    drop(bs);
    let (a, b) = (seconds_of_sound(&first), seconds_of_sound(&second));
    let length = |p: &std::path::Path| crate::audio_compare::read_wav(p).len() as f64 / 8000.0;
    let (la, lb) = (length(&first), length(&second));
    eprintln!("speech before the switch {a:.2} s of {la:.2} s, after it {b:.2} s of {lb:.2} s");
    // The first file ends at the switch (about 3 s into the call), the second has the rest.
    assert!((2.0..6.0).contains(&la), "first file {la:.2} s");
    assert!(a > 0.5, "the first speaker got {a:.2} s of speech");
    assert!(b > 1.5, "the second speaker got {b:.2} s of speech");
}

/// A far end that takes every request and never answers: the proxy relays the INVITE to it and
/// the call rings on (a closed port could instead fail at once on an ICMP error, or the proxy could
/// answer 404 for a user it does not know, and the line would be free again before the test looks).
fn silent_far_end() -> (std::net::UdpSocket, String) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind the silent far end");
    let port = socket.local_addr().expect("its address").port();
    (socket, format!("Call,sip:1002@127.0.0.1:{port}"))
}

/// Whether the silent far end was sent an INVITE (so the lines were busy with a ringing call, not
/// with one the proxy refused).
fn heard_invite(socket: &std::net::UdpSocket) -> bool {
    let mut buf = [0u8; 4096];
    socket.set_read_timeout(Some(T)).expect("read timeout");
    socket
        .recv(&mut buf)
        .is_ok_and(|n| buf[..n].starts_with(b"INVITE "))
}
