//! Launch-time configuration through the real binary: `wpcfg.ini` in the config folder with the
//! command line over it, the effective values and their sources (`--show-config`), encrypted
//! values made by `--encrypt` and used to register, and `tel:`/`sip:` links as arguments.

use crate::peers::{Kamailio, KamailioOptions, Softphone};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs the binary with `home` as its config/data home; gives stdout and stderr.
pub(crate) fn run(home: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_softphone"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .expect("run softphone");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_ini(home: &Path, text: &str) {
    let dir = home.join("config/softphone");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("wpcfg.ini"), text).expect("ini");
}

/// The value and source `--show-config` gives for `name`.
pub(crate) fn shown(out: &str, name: &str) -> (String, String) {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in\n{out}"));
    let value = line
        .split_once('=')
        .map(|(_, r)| r.rsplit_once('(').map_or(r, |(v, _)| v).trim().to_string())
        .unwrap_or_default();
    let source = line
        .rsplit_once('(')
        .map(|(_, s)| s.trim_end_matches(')').to_string())
        .unwrap_or_default();
    (value, source)
}

#[test]
fn ini_then_command_line_with_sources_and_warnings() {
    let home = tempfile::tempdir().expect("tempdir");
    write_ini(
        home.path(),
        "# desk 12\n[softphone]\nserveraddress=pbx.example.com:5070\nusername=1001\n\
         transport=1\ntimer=abc\nbogus=1\nthis is not a pair\npassword=secret-in-ini\n",
    );
    let (out, err) = run(
        home.path(),
        &["--show-config", "transport=0", "tel:+36-1-234-5678"],
    );
    assert_eq!(
        shown(&out, "serveraddress"),
        ("pbx.example.com:5070".into(), "wpcfg.ini".into())
    );
    assert_eq!(shown(&out, "username"), ("1001".into(), "wpcfg.ini".into()));
    assert_eq!(
        shown(&out, "transport"),
        ("0".into(), "command line".into())
    );
    assert_eq!(shown(&out, "timer"), ("10".into(), "default".into()));
    assert_eq!(
        shown(&out, "callto"),
        ("+36-1-234-5678".into(), "command line".into())
    );
    assert_eq!(
        shown(&out, "autocall"),
        ("true".into(), "command line".into())
    );
    assert_eq!(shown(&out, "password"), ("***".into(), "wpcfg.ini".into()));
    assert!(!out.contains("secret-in-ini") && !err.contains("secret-in-ini"));
    // Every problem is named, with the line for the unreadable one.
    assert!(
        err.contains("timer") && err.contains("keeping the previous value"),
        "{err}"
    );
    assert!(err.contains("bogus"), "{err}");
    assert!(err.contains("line 8"), "{err}");
    // A sip: link is dialled as given.
    let (out, _) = run(home.path(), &["--show-config", "sip:1002@192.0.2.7"]);
    assert_eq!(
        shown(&out, "callto"),
        ("sip:1002@192.0.2.7".into(), "command line".into())
    );
}

#[test]
fn an_encrypted_password_in_the_ini_registers() {
    let kam = Kamailio::start(KamailioOptions::default());
    let home = tempfile::tempdir().expect("tempdir");
    let (enc, err) = run(home.path(), &["--encrypt", "3", "pw1001"]);
    let enc = enc.trim().to_string();
    assert!(enc.starts_with("encrypted__3__"), "{enc} {err}");
    assert!(!enc.contains("pw1001"));
    // The key is this installation's: the value means nothing elsewhere.
    let other = tempfile::tempdir().expect("tempdir");
    let (elsewhere, _) = run(other.path(), &["--show-config", &format!("password={enc}")]);
    assert!(!elsewhere.contains("pw1001"));
    write_ini(
        home.path(),
        &format!(
            "serveraddress={}\nusername=1001\npassword={enc}\n",
            kam.addr()
        ),
    );
    let mut sp = Softphone::start_env(&[], &folders(home.path()));
    sp.wait_line(Duration::from_secs(20), "STATUS,-1,Registered,,1001,0,,");
    // Bad encrypted values are refused by name.
    let (_, err) = run(home.path(), &["--show-config", "password=encrypted__3__%%"]);
    assert!(err.contains("password") && err.contains("base64"), "{err}");
}

/// The config and data folders of a softphone under `home`, as environment variables.
pub(crate) fn folders(home: &Path) -> Vec<(String, String)> {
    vec![
        (
            "XDG_CONFIG_HOME".to_string(),
            home.join("config").display().to_string(),
        ),
        (
            "XDG_DATA_HOME".to_string(),
            home.join("data").display().to_string(),
        ),
    ]
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            found.extend(files_containing(&p, needle));
        } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            found.push(p);
        }
    }
    found
}

/// A second launch with a `sip:` link hands the number to the running softphone and exits;
/// after registering with a password, the password is nowhere in the config or data folders.
#[test]
fn a_second_launch_hands_its_link_over_and_no_password_is_on_disk() {
    let kam = Kamailio::start(KamailioOptions::default());
    let home = tempfile::tempdir().expect("tempdir");
    let env = folders(home.path());
    let server = format!("serveraddress={}", kam.addr());
    let mut sp = Softphone::start_env(&[&server, "username=1001", "password=pw1001"], &env);
    sp.wait_line(Duration::from_secs(20), "STATUS,-1,Registered,,1001,0,,");
    let link = format!("sip:1002@{}", kam.addr());
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_softphone"))
        .arg(&link)
        .args(["volumering=20", "bogus=1"])
        .env("HOME", home.path())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("second launch");
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{reply} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(reply.contains(&format!("calling {link}")), "{reply}");
    // Its parameters become run-time changes; a bad one is named back.
    assert!(reply.contains("set volumering"), "{reply}");
    assert!(reply.contains("unknown parameter \"bogus\""), "{reply}");
    sp.wait_line(
        Duration::from_secs(10),
        "EVENT,parameter volumering=20 (runtime)",
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    sp.wait_for(Duration::from_secs(10), |l| {
        l.starts_with("STATUS,1,Setup,1002,")
    });
    // The socket is private to the user.
    let sock = home.path().join("data/softphone/instance.sock");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    drop(sp);
    assert_eq!(
        files_containing(home.path(), b"pw1001"),
        Vec::<std::path::PathBuf>::new(),
        "the password was written to disk"
    );
}

/// Starts a private D-Bus session bus with its socket in `dir`; gives its address and pid
/// (the caller stops it).
pub(crate) fn session_bus(dir: &Path) -> (String, u32) {
    let address = format!("unix:path={}", dir.join("bus").display());
    let out = Command::new("dbus-daemon")
        .args(["--session", "--fork", "--print-pid=1", "--nopidfile"])
        .arg(format!("--address={address}"))
        .output()
        .expect("dbus-daemon (is the dbus package installed?)");
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("dbus-daemon pid");
    (address, pid)
}

/// A private D-Bus session with an unlocked gnome-keyring: a real Secret Service.
struct KeyringSession {
    address: String,
    pids: Vec<u32>,
    _dir: tempfile::TempDir,
}

impl KeyringSession {
    fn start() -> KeyringSession {
        let dir = tempfile::tempdir().expect("tempdir");
        let (address, dbus_pid) = session_bus(dir.path());
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--daemonize"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (is the gnome-keyring package installed?)");
        {
            use std::io::Write;
            let mut stdin = keyring.stdin.take().expect("stdin");
            // The login keyring's password; it is made and unlocked with it.
            stdin.write_all(b"test-keyring").expect("unlock");
        }
        let out = keyring.wait_with_output().expect("gnome-keyring-daemon");
        let text = String::from_utf8_lossy(&out.stdout);
        let keyring_pid: Option<u32> = text
            .lines()
            .find_map(|l| l.strip_prefix("GNOME_KEYRING_PID="))
            .and_then(|p| p.trim().parse().ok());
        let mut pids = vec![dbus_pid];
        pids.extend(keyring_pid);
        KeyringSession {
            address,
            pids,
            _dir: dir,
        }
    }
}

impl Drop for KeyringSession {
    fn drop(&mut self) {
        for pid in &self.pids {
            crate::peers::signal(*pid, "TERM");
        }
    }
}

/// `savepassword=true` puts the password in a real Secret Service (gnome-keyring on a private
/// D-Bus); the next launch registers without a password; nothing was written to disk by us;
/// `clearcfg=true` forgets it again.
#[test]
fn a_remembered_password_lives_in_the_keyring() {
    let kam = Kamailio::start(KamailioOptions::default());
    let keyring = KeyringSession::start();
    let home = tempfile::tempdir().expect("tempdir");
    let mut env = folders(home.path());
    env.push((
        "DBUS_SESSION_BUS_ADDRESS".to_string(),
        keyring.address.clone(),
    ));
    let server = format!("serveraddress={}", kam.addr());
    let t = Duration::from_secs(20);
    let mut sp = Softphone::start_env(
        &[
            &server,
            "username=1001",
            "password=pw1001",
            "savepassword=true",
        ],
        &env,
    );
    sp.wait_for(t, |l| l.contains("is saved in the keyring"));
    sp.wait_line(t, "STATUS,-1,Registered,,1001,0,,");
    drop(sp);
    // No password given: the keyring's is used.
    let mut sp = Softphone::start_env(&[&server, "username=1001"], &env);
    sp.wait_line(t, "STATUS,-1,Registered,,1001,0,,");
    drop(sp);
    assert_eq!(
        files_containing(home.path(), b"pw1001"),
        Vec::<std::path::PathBuf>::new(),
        "the password was written to disk"
    );
    // clearcfg forgets it: afterwards no password comes from the keyring.
    let mut sp = Softphone::start_env(&[&server, "username=1001", "clearcfg=true"], &env);
    sp.wait_for(t, |l| l.contains("is forgotten"));
    drop(sp);
    let show = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_softphone"))
            .arg("--show-config")
            .args(args)
            .env("HOME", home.path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("show-config");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        shown(&show(&[&server, "username=1001"]), "password"),
        (String::new(), "default".to_string())
    );
}

/// Without any keyring service the softphone says so once and keeps the password in memory.
#[test]
fn no_keyring_service_means_memory_only() {
    let kam = Kamailio::start(KamailioOptions::default());
    let home = tempfile::tempdir().expect("tempdir");
    let mut env = folders(home.path());
    env.push((
        "DBUS_SESSION_BUS_ADDRESS".to_string(),
        "unix:path=/nonexistent/bus".to_string(),
    ));
    let server = format!("serveraddress={}", kam.addr());
    let mut sp = Softphone::start_env(
        &[
            &server,
            "username=1001",
            "password=pw1001",
            "savepassword=true",
        ],
        &env,
    );
    sp.wait_line(Duration::from_secs(20), "STATUS,-1,Registered,,1001,0,,");
    let said: Vec<&String> = sp
        .seen
        .iter()
        .filter(|l| l.contains("the password stays in memory only"))
        .collect();
    assert_eq!(said.len(), 1, "{:?}", sp.seen);
    drop(sp);
    assert_eq!(
        files_containing(home.path(), b"pw1001"),
        Vec::<std::path::PathBuf>::new()
    );
}
