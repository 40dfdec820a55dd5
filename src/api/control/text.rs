//! The reference's clear-text API (telnet style) on the API's TCP port and on UDP: one
//! command a line, `Verb,param1,param2,...` (the reference's parameter order, `API_` prefix
//! optional), answered `OK,Verb,result` or `ERROR,status,reason`; the notification lines are
//! pushed back on the same socket as they happen. A client first sends `AUTH,token`.

use super::Api;
use super::guard::{self, Caller};
use super::verbs::{self, VerbCall, VerbError};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};

/// Longest command line; a longer one ends the session.
const MAX_LINE: usize = 8 * 1024;

/// How long a new TCP client has to authenticate.
const AUTH_TIME: Duration = Duration::from_secs(10);

/// UDP clients remembered after `AUTH` (the one heard from longest ago is forgotten first),
/// and how long one lasts without sending anything.
const UDP_CLIENTS: usize = 16;
const UDP_IDLE: Duration = Duration::from_secs(600);

/// `Verb,param1,param2,...` as a verb request: as many fields as the verb has parameters,
/// the last one keeping its commas (a chat text, a parameter value, a list).
pub fn parse_command(line: &str) -> Result<VerbCall, VerbError> {
    let line = line.trim();
    let verb = line.split(',').next().unwrap_or("").trim();
    if verb.is_empty() {
        return Err(VerbError::Bad("an empty command".into()));
    }
    let def = verbs::find(verb).ok_or_else(|| VerbError::NotFound(verb.to_string()))?;
    let fields = def.params.len().max(1);
    let params = line
        .splitn(fields + 1, ',')
        .skip(1)
        .enumerate()
        .map(|(i, v)| (format!("param{}", i + 1), v.trim().to_string()))
        .collect();
    Ok(VerbCall {
        verb: verb.to_string(),
        params,
    })
}

/// The answer line for a result.
fn ok_line(verb: &str, result: &Value) -> String {
    let shown = match result {
        Value::String(s) => s.replace(['\r', '\n'], " "),
        other => other.to_string(),
    };
    format!("OK,{verb},{shown}")
}

fn error_line(e: &VerbError) -> String {
    format!(
        "ERROR,{},{}",
        e.status(),
        e.to_string().replace(['\r', '\n'], " ")
    )
}

/// Whether `line` is `AUTH,<the token>` (also `AUTH <token>`).
fn auth_ok(api: &Api, line: &str) -> bool {
    let line = line.trim();
    let b = line.as_bytes();
    // Five ASCII bytes first, so byte 5 starts a character.
    if b.len() < 5 || !b[..4].eq_ignore_ascii_case(b"auth") || !matches!(b[4], b',' | b' ') {
        return false;
    }
    api.token.matches(line[5..].trim())
}

/// One command from an authenticated client, answered as a line.
async fn command_line(api: &Api, client: &str, line: &str) -> String {
    if !api.within_rate(client) {
        return "ERROR,429,too many requests; slow down".into();
    }
    match parse_command(line) {
        Ok(call) => {
            let name = verbs::find(&call.verb).map_or("", |d| d.name);
            match api.dispatch(&Caller::Local, call).await {
                Ok(v) => ok_line(name, &v),
                Err(e) => error_line(&e),
            }
        }
        Err(e) => error_line(&e),
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes; `None` at the end, on an error or on a
/// line too long.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Option<String> {
    let mut buf = Vec::new();
    let n = reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await
        .ok()?;
    if n == 0 || (buf.len() > MAX_LINE && !buf.ends_with(b"\n")) {
        return None;
    }
    Some(
        String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_string(),
    )
}

/// One TCP client of the line protocol.
pub(super) async fn tcp_session(stream: TcpStream, api: Arc<Api>) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "tcp".to_string(), |a| a.to_string());
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let first = tokio::time::timeout(AUTH_TIME, read_line(&mut reader)).await;
    match first {
        Ok(Some(line)) if auth_ok(&api, &line) => {
            if write.write_all(b"OK,AUTH\r\n").await.is_err() {
                return;
            }
        }
        _ => {
            let _ = write
                .write_all(b"ERROR,401,send AUTH,token first (softphone --api-token)\r\n")
                .await;
            return;
        }
    }
    let mut events = api.hub.subscribe();
    loop {
        tokio::select! {
            line = read_line(&mut reader) => {
                let Some(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                let answer = command_line(&api, &peer, &line).await;
                if write.write_all(format!("{answer}\r\n").as_bytes()).await.is_err() {
                    break;
                }
            }
            p = events.recv() => {
                let out = match p {
                    Ok(p) => p.lines.iter().map(|l| format!("{l}\r\n")).collect::<String>(),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        format!("WARNING,{n} notifications were missed (the client read too slowly)\r\n")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if !out.is_empty() && write.write_all(out.as_bytes()).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// The UDP line protocol: each datagram holds lines; a source that sent `AUTH,token` gets
/// answers and, from then on, the notification lines.
pub(super) async fn udp_loop(socket: UdpSocket, api: Arc<Api>) {
    let mut clients: HashMap<SocketAddr, Instant> = HashMap::new();
    let mut events = api.hub.subscribe();
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                if !guard::peer_allowed(&from) {
                    continue;
                }
                let now = Instant::now();
                clients.retain(|_, seen| now.duration_since(*seen) < UDP_IDLE);
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let mut answers = Vec::new();
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty()).take(32) {
                    if auth_ok(&api, line) {
                        if !clients.contains_key(&from) && clients.len() >= UDP_CLIENTS
                            && let Some(oldest) = clients.iter().min_by_key(|(_, t)| **t).map(|(a, _)| *a)
                        {
                            clients.remove(&oldest);
                        }
                        clients.insert(from, now);
                        answers.push("OK,AUTH".to_string());
                    } else if let Some(seen) = clients.get_mut(&from) {
                        *seen = now;
                        answers.push(command_line(&api, &from.to_string(), line).await);
                    } else {
                        answers.push("ERROR,401,send AUTH,token first (softphone --api-token)".into());
                        break;
                    }
                }
                if !answers.is_empty() {
                    let _ = socket.send_to(answers.join("\r\n").as_bytes(), from).await;
                }
            }
            p = events.recv() => {
                let Ok(p) = p else {
                    continue;
                };
                if p.lines.is_empty() {
                    continue;
                }
                let out = p.lines.join("\r\n");
                for addr in clients.keys() {
                    let _ = socket.send_to(out.as_bytes(), addr).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_keep_commas_in_the_last_field() {
        let c = parse_command("API_SendChat,-1,1002,hello, world").unwrap();
        assert_eq!(c.verb, "API_SendChat");
        assert_eq!(
            c.params,
            vec![
                ("param1".to_string(), "-1".to_string()),
                ("param2".into(), "1002".into()),
                ("param3".into(), "hello, world".into())
            ]
        );
        let c = parse_command("CheckPresence,1002,1003").unwrap();
        assert_eq!(
            c.params,
            vec![("param1".to_string(), "1002,1003".to_string())]
        );
        assert_eq!(parse_command("Nothing,1").unwrap_err().status(), 404);
        assert_eq!(parse_command("  ").unwrap_err().status(), 400);
    }

    #[test]
    fn answers_as_lines() {
        assert_eq!(
            ok_line("IsRegistered", &Value::Bool(true)),
            "OK,IsRegistered,true"
        );
        assert_eq!(
            ok_line("GetCallerID", &Value::String("1002".into())),
            "OK,GetCallerID,1002"
        );
        assert_eq!(
            error_line(&VerbError::Forbidden("no".into())),
            "ERROR,403,no"
        );
    }
}
