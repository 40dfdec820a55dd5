//! baresip as the far end of the tests: registered to the test's Kamailio, answering by
//! itself (or ringing), speaking a WAV file and recording what it hears.

use crate::peers::{Kamailio, codec_rate, free_port, signal, wait_exit};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A baresip user agent registered to Kamailio, answering automatically, speaking a WAV file
/// and recording what it hears (sndfile module: `dump-*-dec.wav`).
pub struct Baresip {
    pub dir: tempfile::TempDir,
    child: Child,
    pub ctrl_port: u16,
    /// Held open (never written): baresip's stdio console reads it, and prints what the user
    /// would see (a received MESSAGE among it) into the log.
    _console: Option<std::process::ChildStdin>,
}

/// How a [`Baresip`] is set up beyond its user, sound and codec.
#[derive(Clone, Copy)]
pub struct BaresipSetup<'a> {
    /// `auto` answers by itself, `manual` rings until `accept`.
    pub answermode: &'a str,
    /// Its address book (contact module); the first entry is the "current contact".
    pub contacts: &'a [&'a str],
    /// Publishes its presence to the server (presence module, `pubint`), online once
    /// registered; `presence_online`/`presence_offline` change it, exit removes it.
    pub publish: bool,
    /// Its account's `mediaenc`: "" clear, `srtp` best effort, `srtp-mand` RTP/SAVP only
    /// (srtp module), `dtls_srtp` DTLS-SRTP (dtls_srtp module, loaded for it).
    pub mediaenc: &'a str,
    /// `rtcp_mux yes`: RTCP on the RTP port when both sides agree (RFC 5761).
    pub rtcp_mux: bool,
}

impl Default for BaresipSetup<'_> {
    fn default() -> Self {
        BaresipSetup {
            answermode: "auto",
            contacts: &[],
            publish: false,
            mediaenc: "",
            rtcp_mux: false,
        }
    }
}

static RTP_RANGE: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

impl Baresip {
    /// Starts baresip as `user` on `kam`, sending `source` (mono WAV at the codec's rate:
    /// 8 kHz, G722 16 kHz, opus 48 kHz), codec `codec`, answering calls by itself.
    pub fn start(kam: &Kamailio, user: &str, source: &Path, codec: &str) -> Baresip {
        Self::start_with(kam, user, source, codec, "auto")
    }

    /// As [`Baresip::start`] with baresip's `answermode` (`auto` or `manual`: it rings).
    pub fn start_with(
        kam: &Kamailio,
        user: &str,
        source: &Path,
        codec: &str,
        answermode: &str,
    ) -> Baresip {
        Self::start_setup(
            kam,
            user,
            source,
            codec,
            &BaresipSetup {
                answermode,
                ..Default::default()
            },
        )
    }

    /// baresip as `user` with everything [`BaresipSetup`] chooses; started again on new ports
    /// when another test's process took one of its (free a moment ago) first.
    pub fn start_setup(
        kam: &Kamailio,
        user: &str,
        source: &Path,
        codec: &str,
        setup: &BaresipSetup,
    ) -> Baresip {
        (0..3)
            .find_map(|_| Self::start_once(kam, user, source, codec, setup))
            .expect("baresip found its ports taken three times")
    }

    /// One start; `None` when a port it was given was taken meanwhile.
    fn start_once(
        kam: &Kamailio,
        user: &str,
        source: &Path,
        codec: &str,
        setup: &BaresipSetup,
    ) -> Option<Baresip> {
        let BaresipSetup {
            answermode,
            contacts,
            publish,
            mediaenc,
            rtcp_mux,
        } = *setup;
        let dir = tempfile::Builder::new()
            .prefix("bs")
            .tempdir()
            .expect("tempdir");
        let rec = dir.path().join("rec");
        std::fs::create_dir_all(&rec).expect("rec dir");
        // baresip binds the SIP port and the next one (TLS): find two free ones.
        let sip_port = loop {
            let p = free_port();
            if p < 65535 && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        let ctrl_port = free_port();
        let n = RTP_RANGE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Below the kernel's ephemeral range (32768+), where free_port() picks from.
        let rtp = 10_000 + (n % 200) * 40;
        let srate = codec_rate(codec);
        let config = format!(
            "sip_listen 127.0.0.1:{sip_port}\nnet_interface 127.0.0.1\nrtp_ports {rtp}-{}\n\
audio_source aufile,{src}\naudio_player aufile,{heard}\naudio_alert aufile,/dev/null\n\
ausrc_srate {srate}\nauplay_srate {srate}\nausrc_channels 1\nauplay_channels 1\n\
module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule g722.so\nmodule opus.so\n\
module aufile.so\nmodule sndfile.so\nmodule stdio.so\nmodule srtp.so\n\
snd_path {rec}\nmodule_app account.so\nmodule_app contact.so\nmodule_app menu.so\n\
module_app ctrl_tcp.so\n{presence}{dtls}\
ctrl_tcp_listen 127.0.0.1:{ctrl_port}\nrtcp_mux {mux}\n",
            rtp + 39,
            src = source.display(),
            heard = dir.path().join("heard.wav").display(),
            rec = rec.display(),
            // After account.so: the publisher starts for the accounts loaded by then.
            presence = if publish {
                "module_app presence.so\n"
            } else {
                ""
            },
            dtls = if mediaenc == "dtls_srtp" {
                "module dtls_srtp.so\n"
            } else {
                ""
            },
            mux = if rtcp_mux { "yes" } else { "no" },
        );
        std::fs::write(dir.path().join("config"), config).expect("config");
        // Never empty: baresip would write its template (with example contacts) instead.
        let book: String = std::iter::once("# contacts\n".to_string())
            .chain(contacts.iter().map(|c| format!("{c}\n")))
            .collect();
        std::fs::write(dir.path().join("contacts"), book).expect("contacts");
        std::fs::write(
            dir.path().join("accounts"),
            format!(
                "<sip:{user}@{};transport=udp>;auth_pass=pw{user};answermode={answermode};audio_codecs={codec};regint=300;mwi=no{pubint}{menc}\n",
                kam.addr(),
                pubint = if publish { ";pubint=60" } else { "" },
                menc = if mediaenc.is_empty() {
                    String::new()
                } else {
                    format!(";mediaenc={mediaenc}")
                },
            ),
        )
        .expect("accounts");
        let log = std::fs::File::create(dir.path().join("baresip.log")).expect("log");
        let mut child = Command::new("timeout")
            .args(["120", "baresip", "-v", "-f"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start baresip (is baresip-core installed?)");
        let console = child.stdin.take();
        let b = Baresip {
            dir,
            child,
            ctrl_port,
            _console: console,
        };
        let end = Instant::now() + Duration::from_secs(15);
        while kam.bindings(user).is_empty() {
            let log = b.log();
            if log.contains("Address already in use") {
                return None;
            }
            assert!(Instant::now() < end, "baresip did not register:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(b)
    }

    /// Kills baresip without letting it say goodbye (a crashed or unplugged phone).
    pub fn kill(&mut self) {
        // The child is `timeout`, which cannot pass SIGKILL on: kill baresip under it.
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// Ends baresip as its user would (SIGTERM): it unregisters and removes its publication.
    pub fn stop(&mut self) {
        self.stop_within(Duration::from_secs(3));
    }

    /// As [`Baresip::stop`], killing it only after `limit` (on a busy machine its goodbyes
    /// take a while).
    pub fn stop_within(&mut self, limit: Duration) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        signal(self.child.id(), "TERM");
        if wait_exit(&mut self.child, limit).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// baresip's own log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// Sends a ctrl_tcp command (netstring-framed JSON).
    pub fn command(&self, command: &str, params: &str) {
        let json = format!("{{\"command\":\"{command}\",\"params\":\"{params}\",\"token\":\"t\"}}");
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.ctrl_port)).expect("ctrl_tcp");
        use std::io::Write;
        s.write_all(format!("{}:{json},", json.len()).as_bytes())
            .expect("send");
        std::thread::sleep(Duration::from_millis(200));
    }

    /// The recording of what baresip received (`dump-*-dec.wav`), once the call is over:
    /// waits until baresip has logged the end of the call, so the file is complete.
    pub fn received(&self) -> PathBuf {
        let end = Instant::now() + Duration::from_secs(10);
        while !self.log().contains("terminated (duration") && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
        let rec = self.dir.path().join("rec");
        std::fs::read_dir(&rec)
            .expect("rec dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .unwrap_or_else(|| panic!("baresip recorded nothing:\n{}", self.log()))
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.stop();
    }
}
