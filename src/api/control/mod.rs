//! The local control API on port 19422 (`wpapilistenport`): the reference's verbs over HTTP
//! (`/API_Call?line=-1&peer=1002`, form posts, JSON), the typed events as Server-Sent Events
//! and over a WebSocket, `GET /state`, and the reference's clear-text line protocol on the
//! same TCP port and on UDP (`wpapiudplistenport`).
//!
//! Every request goes through the same [`Hub`] and [`CommandSender`](crate::engine::CommandSender)
//! as the window and standard input; nothing else reaches the engine. The security rules
//! ([`guard`]) come first on every request: loopback peers only, the install's token, a
//! loopback `Host`, an allowed `Origin` for anything a browser sends, the click-to-call policy
//! for what a web page may dial, a rate limit, bounded sizes and timeouts.
//!
//! Module order: `http` and `text` (the listeners) use `dispatch` here, which uses `verbs`
//! (requests, planned from the table in `verb_table`), `guard` (the rules), `hub` (state and events) and `token`.

pub mod guard;
mod http;
pub mod hub;
mod text;
pub mod token;
mod verb_table;
pub mod verbs;

/// The two request readers of the listeners, for the fuzz target and the benchmarks.
pub use http::body_params;
pub use hub::Hub;
pub use text::parse_command;

use crate::config::Settings;
use guard::{Caller, Policy, RateLimiter};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use verbs::{Access, Plan, VerbCall, VerbError};

/// What the API is told to serve, from the `wpapi*` parameters and the token file.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// TCP port for HTTP and the line protocol; 0 is off.
    pub tcp_port: u16,
    /// UDP port for the line protocol; 0 is off.
    pub udp_port: u16,
    /// The install's token (never logged), shared with the window.
    pub token: token::Token,
    pub policy: Policy,
    /// Requests per second per client (0: no limit).
    pub rate: u32,
    /// Whether a web page's call waits for the user's click.
    pub confirm: Confirm,
}

/// What happens to a call a web page asks for (`wpapiconfirm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Dialled at once (within the origin's rule).
    Off,
    /// Shown in the window; dialled when the user allows it.
    Window,
    /// Confirmation is wanted but there is no window to ask in: refused.
    NoWindow,
}

impl Confirm {
    /// What a confirmation parameter (`wpapiconfirm`, `linkconfirm`) comes to, with or
    /// without a window to ask in.
    pub fn wanted(on: bool, window: bool) -> Confirm {
        match (on, window) {
            (false, _) => Confirm::Off,
            (true, true) => Confirm::Window,
            (true, false) => Confirm::NoWindow,
        }
    }
}

impl ApiConfig {
    /// The configuration `settings` ask for; `Ok(None)` when both ports are 0. The token
    /// comes from (or is made in) `data_dir`; without one the API cannot be safe and stays
    /// off. Problems with the allow-list are returned as warnings.
    pub fn from_settings(
        settings: &Settings,
        data_dir: Option<&Path>,
        window: bool,
    ) -> Result<(Option<ApiConfig>, Vec<String>), String> {
        let port = |name: &str| u16::try_from(settings.int(name)).unwrap_or(0);
        let (tcp_port, udp_port) = (port("wpapilistenport"), port("wpapiudplistenport"));
        if tcp_port == 0 && udp_port == 0 {
            return Ok((None, Vec::new()));
        }
        let dir = data_dir.ok_or("no data folder for the API token; the control API is off")?;
        let token = token::Token::load(dir)
            .map_err(|e| format!("control API token: {e}; the control API is off"))?;
        let (policy, warnings) = Policy::from_params(
            &settings.text("wpapiorigins"),
            &settings.text("wpapitargets"),
        );
        Ok((
            Some(ApiConfig {
                tcp_port,
                udp_port,
                token,
                policy,
                rate: u32::try_from(settings.int("wpapiratelimit")).unwrap_or(0),
                confirm: Confirm::wanted(settings.bool("wpapiconfirm"), window),
            }),
            warnings,
        ))
    }
}

/// What every listener shares.
#[derive(Debug)]
struct Api {
    hub: Hub,
    token: token::Token,
    policy: Policy,
    limiter: Mutex<RateLimiter>,
    confirm: Confirm,
}

impl Api {
    /// Whether `client` is within its rate.
    fn within_rate(&self, client: &str) -> bool {
        self.limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .allow(client, std::time::Instant::now())
    }

    /// Carries out one verb request for `caller`: the answer's `result`, or why not.
    async fn dispatch(&self, caller: &Caller, call: VerbCall) -> Result<Value, VerbError> {
        let access = match caller {
            Caller::Local => Access::Local,
            Caller::Web(_) => Access::Web,
        };
        let plan = self.hub.with_state(|s| verbs::plan(&call, s, access))?;
        match plan {
            Plan::Answer(v) => Ok(v),
            Plan::Poll { client } => {
                let key = match caller {
                    Caller::Local => format!("local:{client}"),
                    Caller::Web(rule) => format!("{}:{client}", rule.origin),
                };
                Ok(json!(self.hub.poll(&key)))
            }
            Plan::Dial { number: asked } => {
                let number = self.policy.dial(caller, &asked)?;
                if let Caller::Web(rule) = caller {
                    self.confirmed(&rule.origin, &asked, &number).await?;
                }
                let reply = self
                    .hub
                    .execute(crate::model::Command::Call { number })
                    .await;
                reply_value(reply)
            }
            Plan::Commands(commands) => {
                let mut results = Vec::new();
                for c in commands {
                    results.push(reply_value(self.hub.execute(c).await)?);
                }
                Ok(match results.len() {
                    1 => results.remove(0),
                    _ => Value::Array(results),
                })
            }
        }
    }
}

impl Api {
    /// For a web page's call: the user's click, when `wpapiconfirm` wants one.
    async fn confirmed(&self, origin: &str, asked: &str, number: &str) -> Result<(), VerbError> {
        match self.confirm {
            Confirm::Off => Ok(()),
            Confirm::NoWindow => Err(VerbError::Forbidden(
                "calls from web pages wait for a click in the window (wpapiconfirm), and headless mode has none".into(),
            )),
            Confirm::Window => {
                let shown = if asked.eq_ignore_ascii_case(number) {
                    number.to_string()
                } else {
                    format!("{asked} ({number})")
                };
                if self.hub.confirm_dial(origin, &shown).await {
                    Ok(())
                } else {
                    Err(VerbError::Forbidden(
                        "the user refused the call (or did not answer in time)".into(),
                    ))
                }
            }
        }
    }
}

/// The engine's answer as a result, or as a refusal (409) with its reason.
fn reply_value(reply: crate::model::Reply) -> Result<Value, VerbError> {
    use crate::model::Reply;
    match reply {
        Reply::Done => Ok(json!("done")),
        Reply::Line { line } => Ok(json!({ "line": line })),
        Reply::Failed { message, .. } => Err(VerbError::Conflict(message)),
    }
}

/// The running listeners; dropping it does not stop them (they end with the runtime).
#[derive(Debug)]
pub struct ApiServer {
    /// Where HTTP and the line protocol listen (IPv4 first).
    pub tcp: Vec<SocketAddr>,
    /// Where the UDP line protocol listens.
    pub udp: Vec<SocketAddr>,
}

/// `bind` on 127.0.0.1 (which must work) and on ::1 (left out, with a debug line, on a
/// machine without IPv6).
fn bind_loopback<S>(
    port: u16,
    bind: impl Fn((std::net::IpAddr, u16)) -> std::io::Result<S>,
) -> std::io::Result<Vec<S>> {
    let mut sockets = vec![bind((Ipv4Addr::LOCALHOST.into(), port))?];
    match bind((Ipv6Addr::LOCALHOST.into(), port)) {
        Ok(s) => sockets.push(s),
        Err(e) => tracing::debug!("control API on [::1]:{port}: {e}"),
    }
    Ok(sockets)
}

/// Binds the API's sockets on 127.0.0.1 and ::1 (::1 may be missing on a machine without
/// IPv6; 127.0.0.1 must work) and starts serving on the current tokio runtime (it must be
/// called inside one). Binding is synchronous so that the caller knows at once whether the
/// port was free.
pub fn start(config: ApiConfig, hub: Hub) -> std::io::Result<ApiServer> {
    let api = Arc::new(Api {
        hub,
        token: config.token,
        policy: config.policy,
        limiter: Mutex::new(RateLimiter::new(config.rate)),
        confirm: config.confirm,
    });
    let mut server = ApiServer {
        tcp: Vec::new(),
        udp: Vec::new(),
    };
    if config.tcp_port != 0 {
        let router = http::router(api.clone());
        for l in bind_loopback(config.tcp_port, std::net::TcpListener::bind)? {
            l.set_nonblocking(true)?;
            let l = tokio::net::TcpListener::from_std(l)?;
            server.tcp.push(l.local_addr()?);
            tokio::spawn(http::accept_loop(l, api.clone(), router.clone()));
        }
    }
    if config.udp_port != 0 {
        for s in bind_loopback(config.udp_port, std::net::UdpSocket::bind)? {
            s.set_nonblocking(true)?;
            let s = tokio::net::UdpSocket::from_std(s)?;
            server.udp.push(s.local_addr()?);
            tokio::spawn(text::udp_loop(s, api.clone()));
        }
    }
    Ok(server)
}
