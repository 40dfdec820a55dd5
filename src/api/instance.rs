//! Single instance: the first softphone listens on `instance.sock` in the user's data folder
//! (a folder only the user can enter, the socket itself 0600, and each connecting process's
//! user id checked against ours). A later launch connects, sends its words and exits; the
//! running one applies its parameters as run-time changes and dials the number or link it was
//! given (the reply says what was set and what was refused, and why).

use crate::config::link_to_params;
use crate::engine::CommandSender;
use crate::model::{Command, ParamValue};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

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

/// What a later launch's words mean for the running softphone: the commands to carry out
/// (its parameters as run-time changes, then the call) and the reply for the launcher.
/// `confirm` (`linkconfirm`) decides whether the call waits for the user's click in the
/// window, or is refused because there is no window to click in.
pub fn interpret(words: &[String], confirm: super::control::Confirm) -> (Vec<Command>, String) {
    use super::control::Confirm;
    use crate::config::params::{check, closest, find, parse_bool};
    let mut callto = None;
    let mut autocall = false;
    let mut commands = Vec::new();
    let mut values = Vec::new();
    let mut set = Vec::new();
    let mut refused = Vec::new();
    for w in words.iter().filter(|w| !w.starts_with("--")) {
        let pairs = link_to_params(w).unwrap_or_else(|| vec![w.clone()]);
        for p in pairs {
            let Some((k, v)) = p.split_once('=') else {
                refused.push(format!("{p:?} is not key=value"));
                continue;
            };
            let k = k.trim();
            match (k.to_ascii_lowercase().as_str(), find(k)) {
                ("callto", _) => callto = Some(v.trim().to_string()),
                ("autocall" | "call", _) => autocall = parse_bool(v).unwrap_or(false),
                (_, None) => refused.push(match closest(k) {
                    Some(s) => format!("unknown parameter {k:?} (did you mean {s}?)"),
                    None => format!("unknown parameter {k:?}"),
                }),
                (_, Some(def)) => {
                    let encrypted = v.trim_start().starts_with("encrypted__");
                    let special = matches!(v.trim(), "DEF" | "NULL");
                    match check(def, v) {
                        Err(e) if !encrypted && !special => refused.push(e),
                        _ => {
                            set.push(def.name);
                            values.push(ParamValue::new(def.name, v));
                        }
                    }
                }
            }
        }
    }
    let mut reply = String::from("handed over to the running softphone");
    if !values.is_empty() {
        commands.push(Command::SetParameters {
            values,
            persist: false,
        });
        reply.push_str(&format!("; set {}", set.join(", ")));
    }
    if let Some(number) = callto.filter(|c| !c.is_empty() && autocall) {
        match confirm {
            Confirm::Off => {
                reply.push_str(&format!("; calling {number}"));
                commands.push(Command::Call { number });
            }
            Confirm::Window => {
                reply.push_str(&format!(
                    "; {number} is called once you allow it in the window"
                ));
                commands.push(Command::AskToDial {
                    origin: "a clicked link".into(),
                    target: number,
                    call_when_allowed: true,
                });
            }
            Confirm::NoWindow => refused.push(format!(
                "not calling {number}: linkconfirm wants a click in the window, and headless mode has none"
            )),
        }
    }
    if !refused.is_empty() {
        reply.push_str(&format!("; not applied: {}", refused.join("; ")));
    }
    if commands.is_empty() && refused.is_empty() {
        reply = "the softphone is already running".into();
    }
    (commands, reply)
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
pub fn listen(
    path: &Path,
    commands: CommandSender,
    confirm: super::control::Confirm,
) -> std::io::Result<()> {
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
                    let (cmds, reply) = interpret(&words, confirm);
                    for cmd in cmds {
                        commands.send(cmd);
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
    use crate::api::control::Confirm;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn links_dial_and_parameters_become_runtime_changes() {
        let (cmds, reply) = interpret(&words(&["sip:1002@pbx.example.com"]), Confirm::Off);
        assert_eq!(
            cmds,
            vec![Command::Call {
                number: "sip:1002@pbx.example.com".into()
            }]
        );
        assert!(
            reply.contains("calling sip:1002@pbx.example.com"),
            "{reply}"
        );
        let (cmds, reply) = interpret(
            &words(&[
                "--headless",
                "callto=1003",
                "autocall=true",
                "maxlines=2",
                "transport=9",
                "usrname=x",
                "loose",
            ]),
            Confirm::Off,
        );
        assert_eq!(
            cmds,
            vec![
                Command::SetParameters {
                    values: vec![ParamValue::new("maxlines", "2")],
                    persist: false
                },
                Command::Call {
                    number: "1003".into()
                }
            ]
        );
        assert!(reply.contains("set maxlines"), "{reply}");
        assert!(reply.contains("transport: \"9\""), "{reply}");
        assert!(reply.contains("did you mean username"), "{reply}");
        assert!(reply.contains("\"loose\" is not key=value"), "{reply}");
        // A number without autocall is not dialled.
        let (cmds, reply) = interpret(&words(&["callto=1003"]), Confirm::Off);
        assert!(cmds.is_empty());
        assert!(reply.contains("already running"), "{reply}");
    }

    #[test]
    fn with_linkconfirm_a_clicked_link_waits_for_the_window_or_is_refused_headless() {
        let link = words(&["sip:0900123@pbx.example.com", "volumering=20"]);
        let (cmds, reply) = interpret(&link, Confirm::Window);
        assert_eq!(
            cmds[1],
            Command::AskToDial {
                origin: "a clicked link".into(),
                target: "sip:0900123@pbx.example.com".into(),
                call_when_allowed: true
            }
        );
        assert!(!cmds.iter().any(|c| matches!(c, Command::Call { .. })));
        assert!(reply.contains("once you allow it in the window"), "{reply}");
        let (cmds, reply) = interpret(&link, Confirm::NoWindow);
        assert_eq!(cmds.len(), 1, "only the parameter: {cmds:?}");
        assert!(
            reply.contains("not calling sip:0900123@pbx.example.com"),
            "{reply}"
        );
    }
}
