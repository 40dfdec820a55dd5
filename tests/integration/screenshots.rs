//! The real window on a virtual X screen (Xvfb, Mesa's software OpenGL): the softphone binary
//! opened as a user would, registered with Kamailio, photographed with ImageMagick — the main
//! window, an incoming call from baresip, and compact mode. The pictures are kept in
//! `target/tmp/screenshots/` (the README shows copies from `assets/screenshots/`). The
//! incoming call's desktop notification is watched for on a private session bus. The window's
//! idle CPU use over 5 s is printed (measured, not asserted).

use crate::peers::{Baresip, Kamailio, KamailioOptions, free_port, signal, speech};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private X server; stopped on drop.
struct Xvfb {
    display: String,
    child: Child,
}

impl Xvfb {
    fn start() -> Xvfb {
        for _ in 0..20 {
            let n = 100 + free_port() % 400;
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                continue;
            }
            let mut child = Command::new("Xvfb")
                .arg(format!(":{n}"))
                .args(["-screen", "0", "640x720x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb (is the xvfb package installed?)");
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                    return Xvfb {
                        display: format!(":{n}"),
                        child,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no Xvfb display could be started");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The softphone window on `x`, with its own folders under `home`.
fn open_window(x: &Xvfb, home: &Path, bus: &str, params: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_softphone"))
        .args([
            "recorddevice=null",
            "playbackdevice=null",
            "ringerdevice=null",
        ])
        .args(params)
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("softphone")
}

/// The X window id of the softphone, once it is mapped.
fn window_id(x: &Xvfb) -> String {
    let out = Command::new("timeout")
        .args([
            "20",
            "xdotool",
            "search",
            "--sync",
            "--onlyvisible",
            "--name",
            "^Softphone$",
        ])
        .env("DISPLAY", &x.display)
        .output()
        .expect("xdotool (is the xdotool package installed?)");
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(!id.is_empty(), "the window did not appear");
    id
}

/// Photographs window `id` into `name`.png; checks the picture has real content.
fn shoot(x: &Xvfb, id: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let path = dir.join(format!("{name}.png"));
    let ok = Command::new("import")
        .args(["-window", id])
        .arg(&path)
        .env("DISPLAY", &x.display)
        .status()
        .expect("import (is the imagemagick package installed?)")
        .success();
    assert!(ok, "import failed for {name}");
    let colours = Command::new("identify")
        .args(["-format", "%k"])
        .arg(&path)
        .output()
        .expect("identify");
    let colours: u32 = String::from_utf8_lossy(&colours.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(colours > 20, "{name}.png looks blank ({colours} colours)");
    eprintln!("screenshot: {}", path.display());
    path
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

fn stop(mut child: Child) -> String {
    signal(child.id(), "TERM");
    let _ = child.wait();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    err
}

#[test]
fn the_real_window_main_incoming_and_compact() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, theirs) = speech(work.path(), "theirs", "Hello.", 2);
    let bs = Baresip::start_with(&kam, "1002", &theirs, "PCMU", "manual");
    let x = Xvfb::start();
    // A private session bus, watched for the desktop notification of the incoming call.
    let (bus, bus_pid) = crate::config::session_bus(work.path());
    let watched = work.path().join("notifications.txt");
    let mut monitor = Command::new("dbus-monitor")
        .args([
            "--address",
            &bus,
            "interface='org.freedesktop.Notifications'",
        ])
        .stdout(Stdio::from(
            std::fs::File::create(&watched).expect("monitor file"),
        ))
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor");
    let account = vec![
        format!("serveraddress={}", kam.addr()),
        "username=1001".to_string(),
        "password=pw1001".to_string(),
        format!("signalingport={}", free_port()),
        "ringtimeout=0".to_string(),
    ];
    let sp = open_window(&x, work.path(), &bus, &account);
    let id = window_id(&x);
    // Registered (Kamailio has the binding) and drawn.
    let end = Instant::now() + Duration::from_secs(20);
    while kam.bindings("1001").is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(kam.bindings("1001").len(), 1, "the window did not register");
    std::thread::sleep(Duration::from_secs(1));
    shoot(&x, &id, "main");
    // Idle: registered, nothing happening.
    let before = cpu_seconds(sp.id());
    std::thread::sleep(Duration::from_secs(5));
    let idle = (cpu_seconds(sp.id()) - before) / 5.0 * 100.0;
    eprintln!("idle CPU with the window open and registered: {idle:.1} % of one core");
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    std::thread::sleep(Duration::from_secs(2));
    shoot(&x, &id, "incoming");
    // No window manager gives the window the focus here, so the call is also announced on
    // the desktop (org.freedesktop.Notifications.Notify on the session bus).
    let end = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while Instant::now() < end && !seen.contains("Incoming call from 1002") {
        std::thread::sleep(Duration::from_millis(200));
        seen = std::fs::read_to_string(&watched).unwrap_or_default();
    }
    assert!(
        seen.contains("member=Notify") && seen.contains("Incoming call from 1002"),
        "no desktop notification:\n{seen}"
    );
    let err = stop(sp);
    assert!(!err.contains("panicked"), "{err}");

    let compact = {
        let mut p = account.clone();
        p.extend(["compact=true".to_string(), "callto=1002".to_string()]);
        p[3] = format!("signalingport={}", free_port());
        p
    };
    let sp = open_window(&x, work.path(), &bus, &compact);
    let id = window_id(&x);
    std::thread::sleep(Duration::from_secs(2));
    shoot(&x, &id, "compact");
    let err = stop(sp);
    assert!(!err.contains("panicked"), "{err}");
    let _ = monitor.kill();
    let _ = monitor.wait();
    signal(bus_pid, "TERM");
}
