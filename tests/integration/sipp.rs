//! sipp as the far end for what baresip cannot drive: one scenario of `tests/peers/sipp` per
//! run, on 127.0.0.1 with its own SIP and media ports, one call (`-m 1`). Its exit status says
//! whether every step of the scenario happened as written; its error file says which did not.

use crate::peers::{free_port, wait_exit};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One sipp process running one scenario.
pub struct Sipp {
    child: Child,
    /// sipp's SIP port.
    pub port: u16,
    dir: tempfile::TempDir,
}

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/sipp")
        .join(name)
}

impl Sipp {
    /// sipp waiting for a call (a UAS scenario).
    pub fn uas(name: &str) -> Sipp {
        Self::start(name, &[])
    }

    /// sipp waiting for requests, with `-key NAME VALUE` for each of `keys` (`[NAME]` in the
    /// scenario).
    pub fn uas_with(name: &str, keys: &[(&str, String)]) -> Sipp {
        let args: Vec<String> = keys
            .iter()
            .flat_map(|(k, v)| ["-key".to_string(), k.to_string(), v.clone()])
            .collect();
        Self::start(name, &args)
    }

    /// sipp calling `user` at the softphone on `port` (a UAC scenario).
    pub fn uac(name: &str, port: u16, user: &str) -> Sipp {
        Self::start(
            name,
            &[format!("127.0.0.1:{port}"), "-s".into(), user.into()],
        )
    }

    /// sipp sending requests as `user` (password `password`) to the server at `port` (a UAC
    /// scenario that answers the server's challenges with `[authentication]`).
    pub fn client_of(name: &str, port: u16, user: &str, password: &str) -> Sipp {
        Self::start(
            name,
            &[
                format!("127.0.0.1:{port}"),
                "-s".into(),
                user.into(),
                "-au".into(),
                user.into(),
                "-ap".into(),
                password.into(),
            ],
        )
    }

    fn start(name: &str, extra: &[String]) -> Sipp {
        let dir = tempfile::Builder::new()
            .prefix("sipp")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(scenario(name))
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mp", &free_port().to_string()])
            .args(["-m", "1", "-nostdin", "-timeout", "60", "-trace_err"])
            .arg("-error_file")
            .arg(dir.path().join("errors.log"))
            .args(extra)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sipp (package sip-tester)");
        Sipp { child, port, dir }
    }

    /// Waits for the scenario to end; panics with sipp's errors unless every step passed.
    pub fn expect_success(&mut self, limit: Duration) {
        let status = wait_exit(&mut self.child, limit);
        if status.is_some_and(|s| s.success()) {
            return;
        }
        let errors =
            std::fs::read_to_string(self.dir.path().join("errors.log")).unwrap_or_default();
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut stderr);
        }
        panic!("sipp scenario failed ({status:?}):\n{errors}\n{stderr}");
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
