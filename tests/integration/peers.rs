//! Real peers for the tests: a Kamailio registrar on 127.0.0.1 with its own run directory and
//! port, and the softphone binary run headless. Everything is stopped by PID on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use crate::baresip::{Baresip, BaresipSetup};

/// A free UDP+TCP port on 127.0.0.1 (both bound once to check, then released).
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

use softphone::sip::digest::md5_hex;

/// Sends SIGTERM (or another signal) to a PID.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// Waits for a child to exit, up to `limit`; gives its exit status.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Options for a Kamailio instance.
#[derive(Clone, Debug)]
pub struct KamailioOptions {
    /// registrar min_expires
    pub min_expires: u32,
    /// auth algorithm: MD5 or SHA-256
    pub algorithm: &'static str,
    /// Header lines (CRLF-terminated) added to every REGISTER reply, e.g. `x-mparam: ...`.
    pub register_reply_headers: &'static str,
    /// Be a presence server too (presence, presence_mwi: SUBSCRIBE and PUBLISH handled here).
    pub presence: bool,
    /// Listen for SIP over TLS too (on [`Kamailio::tls_port`]) with this certificate chain and
    /// key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// A SIP domain served besides 127.0.0.1 (its users and an alias), e.g. one that DNS SRV
    /// records point at this instance for.
    pub domain: Option<&'static str>,
    /// Take SIP over WebSocket (RFC 7118) on the TCP port, and on the TLS port when `tls`.
    pub websocket: bool,
}

impl Default for KamailioOptions {
    fn default() -> Self {
        KamailioOptions {
            min_expires: 10,
            algorithm: "MD5",
            register_reply_headers: "",
            presence: false,
            tls: None,
            domain: None,
            websocket: false,
        }
    }
}

/// A running Kamailio.
pub struct Kamailio {
    pub port: u16,
    /// The SIP-over-TLS port, when [`KamailioOptions::tls`] asks for one.
    pub tls_port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    opts: KamailioOptions,
}

/// The test users: 1001..1005 with passwords pw1001..pw1005.
pub const USERS: &[&str] = &["1001", "1002", "1003", "1004", "1005"];

impl Kamailio {
    /// Writes the config and tables and starts Kamailio; waits until it answers OPTIONS.
    pub fn start(opts: KamailioOptions) -> Kamailio {
        let dir = tempfile::Builder::new()
            .prefix("kam")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let mut k = Kamailio {
            port,
            tls_port: free_port(),
            dir,
            child: None,
            opts,
        };
        k.write_files();
        k.launch();
        k
    }

    fn run(&self) -> &Path {
        self.dir.path()
    }

    fn write_files(&self) {
        let run = self.run();
        let db = run.join("db");
        std::fs::create_dir_all(&db).expect("db dir");
        std::fs::copy(
            "/usr/share/kamailio/dbtext/kamailio/version",
            db.join("version"),
        )
        .expect("kamailio dbtext schema (is kamailio installed?)");
        let mut sub = String::from(
            "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) \n",
        );
        let mut id = 0;
        for domain in std::iter::once("127.0.0.1").chain(self.opts.domain) {
            for u in USERS {
                id += 1;
                let pw = format!("pw{u}");
                sub.push_str(&format!(
                    "{id}:{u}:{domain}:{pw}:{}:{}\n",
                    md5_hex(&format!("{u}:{domain}:{pw}")),
                    md5_hex(&format!("{u}@{domain}:{domain}:{pw}"))
                ));
            }
        }
        std::fs::write(db.join("subscriber"), sub).expect("subscriber");
        if self.opts.presence {
            // Fresh presence tables each start (db_text writes rows at shutdown that presence
            // then fails to read back).
            for table in [
                "presentity",
                "active_watchers",
                "watchers",
                "pua",
                "xcap",
                "silo",
            ] {
                std::fs::copy(
                    format!("/usr/share/kamailio/dbtext/kamailio/{table}"),
                    db.join(table),
                )
                .expect("kamailio presence schema");
            }
            // msilo 5.6 leaves the packaged schema's newer columns (callid, status) empty,
            // which db_text refuses unless they may be null.
            let silo = std::fs::read_to_string(db.join("silo")).expect("silo schema");
            let silo = silo
                .replacen("callid(string)", "callid(string,null)", 1)
                .replacen("status(int)", "status(int,null)", 1);
            std::fs::write(db.join("silo"), silo).expect("silo schema");
        }
        let template = include_str!("../peers/kamailio.cfg.in");
        let cfg = template
            .replace("@RUNDIR@", &run.display().to_string())
            .replace("@PORT@", &self.port.to_string())
            .replace("@MINEXPIRES@", &self.opts.min_expires.to_string())
            .replace("@ALGORITHM@", self.opts.algorithm)
            .replace("@TLS@", &self.tls_config())
            .replace(
                "@DOMAIN_ALIAS@",
                &self
                    .opts
                    .domain
                    .map(|d| format!("alias=\"{d}\""))
                    .unwrap_or_default(),
            )
            .replace(
                "@WEBSOCKET_DEFINE@",
                if self.opts.websocket {
                    "#!define WITH_WEBSOCKET"
                } else {
                    ""
                },
            )
            .replace(
                "@PRESENCE_DEFINE@",
                if self.opts.presence {
                    "#!define WITH_PRESENCE"
                } else {
                    ""
                },
            )
            .replace(
                "@REGISTER_REPLY_HEADERS@",
                &if self.opts.register_reply_headers.is_empty() {
                    String::new()
                } else {
                    format!(
                        "append_to_reply(\"{}\");",
                        self.opts
                            .register_reply_headers
                            .replace('\r', "\\r")
                            .replace('\n', "\\n")
                    )
                },
            );
        std::fs::write(run.join("kamailio.cfg"), cfg).expect("cfg");
    }

    /// Starts the process and waits for readiness.
    pub fn launch(&mut self) {
        let run = self.run().to_path_buf();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(run.join("kamailio.log"))
            .expect("log");
        let child = Command::new("timeout")
            .args(["600", "kamailio", "-f"])
            .arg(run.join("kamailio.cfg"))
            .args(["-DD", "-E", "-P"])
            .arg(run.join("kamailio.pid"))
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start kamailio (is it installed?)");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if self.options_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("kamailio did not start; log:\n{}", self.log());
    }

    fn options_ok(&self) -> bool {
        let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
            return false;
        };
        let _ = sock.set_read_timeout(Some(Duration::from_millis(300)));
        let local = sock.local_addr().map(|a| a.port()).unwrap_or(0);
        let msg = format!(
            "OPTIONS sip:127.0.0.1:{p} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKready{local}\r\n\
Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1:{p}>\r\nCall-ID: ready{local}\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            p = self.port
        );
        if sock
            .send_to(msg.as_bytes(), ("127.0.0.1", self.port))
            .is_err()
        {
            return false;
        }
        let mut buf = [0u8; 2048];
        matches!(sock.recv_from(&mut buf), Ok((n, _)) if buf[..n].starts_with(b"SIP/2.0 200"))
    }

    /// Stops Kamailio (SIGTERM, then SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = std::fs::read_to_string(self.run().join("kamailio.pid"))
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok());
            if let Some(pid) = pid {
                signal(pid, "TERM");
            }
            signal(c.id(), "TERM");
            if wait_exit(&mut c, Duration::from_secs(5)).is_none() {
                if let Some(pid) = pid {
                    signal(pid, "KILL");
                }
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = std::fs::remove_file(self.run().join("kamailio.pid"));
        }
    }

    /// `kamcmd ul.dump` output: the location table.
    pub fn location(&self) -> String {
        self.kamcmd(&["ul.dump"])
    }

    /// What `kamcmd ARGS` prints for this instance (its control socket).
    pub fn kamcmd(&self, args: &[&str]) -> String {
        let out = Command::new("kamcmd")
            .arg("-s")
            .arg(format!(
                "unix:{}",
                self.run().join("kamailio_ctl").display()
            ))
            .args(args)
            .output()
            .expect("kamcmd");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops and starts the server again, as a PBX restart: its connections drop and
    /// `user`'s binding is gone (checked at once: the location table lives in memory only), so
    /// a binding seen afterwards is a new registration.
    pub fn restart(&mut self, user: &str) {
        self.stop();
        self.launch();
        assert!(self.bindings(user).is_empty(), "{user} still bound after a restart");
    }

    /// Waits up to `limit` for `user` to have a binding; false if none came.
    pub fn wait_for_binding(&self, user: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while self.bindings(user).is_empty() {
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        true
    }

    /// The contacts bound for `user`, as (address, cseq) pairs.
    pub fn bindings(&self, user: &str) -> Vec<(String, u32)> {
        let dump = self.location();
        let mut out = Vec::new();
        let mut in_aor = false;
        let mut addr = None;
        for line in dump.lines().map(str::trim) {
            if let Some(a) = line.strip_prefix("AoR: ") {
                in_aor = a == user;
            } else if in_aor && let Some(a) = line.strip_prefix("Address: ") {
                addr = Some(a.to_string());
            } else if in_aor
                && let Some(c) = line.strip_prefix("CSeq: ")
                && let Some(a) = addr.take()
            {
                out.push((a, c.parse().unwrap_or(0)));
            }
        }
        out
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.run().join("kamailio.log")).unwrap_or_default()
    }

    /// `127.0.0.1:port`
    /// The TLS listener and module lines of the config, and its tls.cfg written.
    fn tls_config(&self) -> String {
        let Some((cert, key)) = &self.opts.tls else {
            return String::new();
        };
        let cfg = self.run().join("tls.cfg");
        std::fs::write(
            &cfg,
            format!(
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n\
                 require_certificate = no\nprivate_key = {}\ncertificate = {}\n\n\
                 [client:default]\nverify_certificate = no\nrequire_certificate = no\n",
                key.display(),
                cert.display()
            ),
        )
        .expect("tls.cfg");
        format!(
            "enable_tls=yes\ntcp_accept_aliases=yes\nlisten=tls:127.0.0.1:{}\n\
             loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"{}\")\n",
            self.tls_port,
            cfg.display()
        )
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The softphone binary running headless, its stdout lines collected.
pub struct Softphone {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
    pub port: u16,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    _config: Option<tempfile::TempDir>,
}

impl Softphone {
    /// Starts `softphone --headless` with the parameters, on a free signalling port and with
    /// its own config directory.
    pub fn start(params: &[&str]) -> Softphone {
        Self::start_env(params, &[])
    }

    /// As [`Softphone::start`] with extra environment variables (a private sound server).
    pub fn start_env(params: &[&str], env: &[(String, String)]) -> Softphone {
        let config = tempfile::Builder::new()
            .prefix("spcfg")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let mut args: Vec<String> = vec![format!("signalingport={port}")];
        args.extend(params.iter().map(|s| s.to_string()));
        let mut sp = Self::start_in_env(config.path(), &args, env);
        sp.port = port;
        sp._config = Some(config);
        sp
    }

    /// What `softphone ARGS` prints with this softphone's folders (a second command run by the
    /// same user: `--history`, `--api-token`).
    pub fn cli(&self, args: &[&str]) -> String {
        let config = self
            ._config
            .as_ref()
            .expect("a softphone with its own folders");
        let out = Command::new(env!("CARGO_BIN_EXE_softphone"))
            .args(args)
            .env("XDG_CONFIG_HOME", config.path())
            .env("XDG_DATA_HOME", config.path().join("data"))
            .env("HOME", config.path())
            .output()
            .expect("softphone");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What `softphone --history` prints for this softphone's data folder.
    pub fn history(&self) -> String {
        self.cli(&["--history"])
    }

    /// The softphone as user 1001 (password pw1001) on `kam`, with `extra` parameters.
    pub fn user_1001(kam: &Kamailio, extra: &[&str]) -> Softphone {
        let server = format!("serveraddress={}", kam.addr());
        let mut params = vec![server.as_str(), "username=1001", "password=pw1001"];
        params.extend_from_slice(extra);
        Softphone::start(&params)
    }

    /// Starts with exactly these parameters (plus `--headless`) and this config directory.
    pub fn start_in(config: &Path, params: &[String]) -> Softphone {
        Self::start_in_env(config, params, &[])
    }

    fn start_in_env(config: &Path, params: &[String], env: &[(String, String)]) -> Softphone {
        let mut child = Command::new(env!("CARGO_BIN_EXE_softphone"))
            .arg("--headless")
            // No sound card unless a test names one, and no control API (tests run side by
            // side; one would hold port 19422): later parameters win.
            .args([
                "recorddevice=null",
                "playbackdevice=null",
                "ringerdevice=null",
                "wpapilistenport=0",
            ])
            .args(params)
            .env("XDG_CONFIG_HOME", config)
            .env("XDG_DATA_HOME", config.join("data"))
            .env("XDG_CACHE_HOME", config.join("cache"))
            .env("HOME", config)
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start softphone");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Softphone {
            child,
            lines: rx,
            seen: Vec::new(),
            port: 0,
            stderr,
            _config: None,
        }
    }

    /// Waits for a line satisfying `pred`; `None` after `limit`.
    pub fn try_wait_for(&mut self, limit: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if pred(&line) {
                return Some(line);
            }
        }
    }

    /// Waits for a line satisfying `pred`; panics with everything seen after `limit`.
    pub fn wait_for(&mut self, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        match self.try_wait_for(limit, pred) {
            Some(line) => line,
            None => panic!(
                "no expected line within {limit:?}; stdout:\n{}\nstderr:\n{}",
                self.seen.join("\n"),
                self.stderr()
            ),
        }
    }

    /// Waits for the line `text` exactly.
    pub fn wait_line(&mut self, limit: Duration, text: &str) -> String {
        self.wait_for(limit, |l| l == text)
    }

    /// Writes one command line to the softphone's standard input (`Dtmf,1,123`).
    pub fn send_line(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("write command");
        stdin.flush().expect("flush");
    }

    /// What the process wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until the standard error collected so far contains `text`, and gives it all.
    /// Standard error is read by its own thread, so a log line may arrive after a stdout line
    /// written later.
    pub fn wait_stderr(&self, limit: Duration, text: &str) -> String {
        let end = Instant::now() + limit;
        loop {
            let err = self.stderr();
            if err.contains(text) || Instant::now() >= end {
                return err;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits for the exit; gives the status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        self.stop_with("TERM", limit)
    }

    /// Sends `sig` (TERM, INT for Ctrl-C), then waits for the exit; gives the status.
    pub fn stop_with(&mut self, sig: &str, limit: Duration) -> Option<std::process::ExitStatus> {
        signal(self.child.id(), sig);
        let st = wait_exit(&mut self.child, limit);
        // Collect the remaining lines.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        st
    }
}

impl Drop for Softphone {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The audio rate baresip's devices run at for a codec name.
pub fn codec_rate(codec: &str) -> u32 {
    match codec {
        "G722" => 16_000,
        "opus" => 48_000,
        _ => 8000,
    }
}

/// Speech for audio tests: espeak-ng, converted by sox to 8 kHz mono 16-bit, and a copy
/// padded with `pad` seconds of silence (for the side whose file must end last).
pub fn speech(dir: &Path, name: &str, text: &str, pad: u32) -> (PathBuf, PathBuf) {
    speech_at(dir, name, text, pad, 8000)
}

/// As [`speech`], at `rate` Hz.
pub fn speech_at(dir: &Path, name: &str, text: &str, pad: u32, rate: u32) -> (PathBuf, PathBuf) {
    let raw = dir.join(format!("{name}-raw.wav"));
    let out = dir.join(format!("{name}.wav"));
    let padded = dir.join(format!("{name}-pad.wav"));
    let ok = Command::new("espeak-ng")
        .arg("-w")
        .arg(&raw)
        .arg(text)
        .status()
        .expect("espeak-ng");
    assert!(ok.success());
    let ok = Command::new("sox")
        .arg(&raw)
        .args(["-r", &rate.to_string(), "-c", "1", "-b", "16"])
        .arg(&out)
        .status()
        .expect("sox");
    assert!(ok.success());
    let ok = Command::new("sox")
        .arg(&out)
        .arg(&padded)
        .args(["pad", "0", &pad.to_string()])
        .status()
        .expect("sox");
    assert!(ok.success());
    (out, padded)
}
