//! Single instance: the first softphone listens on `instance.sock` in the user's data folder
//! (a folder only the user can enter, the socket itself 0600, and each connecting process's
//! user id checked against ours). A later launch connects, sends its words and exits; the
//! running one dials a number or link it was given. Parameters other than the number are not
//! changed in a running softphone (the reply says which were left alone).

use crate::config::link_to_params;
use crate::engine::event::Command;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Where the running instance listens.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("instance.sock")
}

/// What came of trying to reach a running instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// It took the words; its answer.
    Delivered(String),
    /// Nobody listens: this launch is the instance.
    NoInstance,
}

/// Hands `words` (the launch's arguments) to a running instance, if there is one.
pub fn hand_over(path: &Path, words: &[String]) -> std::io::Result<Handover> {
    let mut stream = match std::os::unix::net::UnixStream::connect(path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(Handover::NoInstance);
        }
        Err(e) => return Err(e),
    };
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    // Words cannot hold NUL (they come from argv): NUL-separated, newline-terminated.
    let mut msg = words.join("\0");
    msg.push('\n');
    stream.write_all(msg.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    Ok(Handover::Delivered(reply.trim().to_string()))
}

/// What a later launch's words mean for the running softphone: the command to carry out and
/// the reply for the launcher.
pub fn interpret(words: &[String]) -> (Option<Command>, String) {
    let mut callto = None;
    let mut autocall = false;
    let mut ignored = Vec::new();
    for w in words.iter().filter(|w| !w.starts_with("--")) {
        let pairs = link_to_params(w).unwrap_or_else(|| vec![w.clone()]);
        for p in pairs {
            match p.split_once('=') {
                Some(("callto", v)) => callto = Some(v.trim().to_string()),
                Some(("autocall", v)) => {
                    autocall = crate::config::params::parse_bool(v).unwrap_or(false)
                }
                Some((k, _)) => ignored.push(k.to_string()),
                None => ignored.push(p.clone()),
            }
        }
    }
    let left = if ignored.is_empty() {
        String::new()
    } else {
        format!(
            "; left alone in the running softphone: {}",
            ignored.join(", ")
        )
    };
    match callto.filter(|c| !c.is_empty() && autocall) {
        Some(number) => (
            Some(Command::Call {
                number: number.clone(),
            }),
            format!("handed over to the running softphone: calling {number}{left}"),
        ),
        None => (None, format!("the softphone is already running{left}")),
    }
}

/// Makes the socket's folder private (0700) if we own it; refuses one that others can enter.
fn private_dir(dir: &Path) -> std::io::Result<u32> {
    std::fs::create_dir_all(dir)?;
    let meta = std::fs::metadata(dir)?;
    let owner = meta.uid();
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(owner);
    if owner != me {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(me)
}

/// Listens for later launches and turns their words into commands for the engine.
pub fn listen(path: &Path, commands: mpsc::UnboundedSender<Command>) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let me = private_dir(dir)?;
    // Only reached when connecting failed: what is there is a stale socket.
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let same_user = stream.peer_cred().map(|c| c.uid() == me).unwrap_or(false);
            let commands = commands.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                let mut reader = tokio::io::BufReader::new(read.take(64 * 1024));
                let reply = if !same_user {
                    "refused: another user's softphone".to_string()
                } else if reader.read_line(&mut line).await.is_err() {
                    return;
                } else {
                    let words: Vec<String> = line
                        .trim_end_matches('\n')
                        .split('\0')
                        .filter(|w| !w.is_empty())
                        .map(str::to_string)
                        .collect();
                    let (cmd, reply) = interpret(&words);
                    if let Some(cmd) = cmd {
                        let _ = commands.send(cmd);
                    }
                    reply
                };
                let _ = write.write_all(format!("{reply}\n").as_bytes()).await;
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn links_and_callto_dial_other_parameters_are_named() {
        let (cmd, reply) = interpret(&words(&["sip:1002@pbx.example.com"]));
        assert_eq!(
            cmd,
            Some(Command::Call {
                number: "sip:1002@pbx.example.com".into()
            })
        );
        assert!(
            reply.contains("calling sip:1002@pbx.example.com"),
            "{reply}"
        );
        let (cmd, reply) = interpret(&words(&[
            "--headless",
            "callto=1003",
            "autocall=true",
            "loglevel=5",
        ]));
        assert_eq!(
            cmd,
            Some(Command::Call {
                number: "1003".into()
            })
        );
        assert!(
            reply.contains("left alone") && reply.contains("loglevel"),
            "{reply}"
        );
        // A number without autocall is not dialled.
        let (cmd, reply) = interpret(&words(&["callto=1003"]));
        assert_eq!(cmd, None);
        assert!(reply.contains("already running"), "{reply}");
    }
}
