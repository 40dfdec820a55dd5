//! The driver: the one place that owns sockets and timers. It binds UDP and a TCP listener on
//! the signalling port, keeps TCP connections (one task each, framing with
//! [`StreamFramer`]), and feeds everything to the sans-IO [`UserAgent`] with the current time.

use super::calls::CallResources;
use super::event::{Command, Event};
use super::level::LevelMeter;
use super::media::MediaEvent;
use super::runtime_settings::{Targets, set_parameters};
use super::setup::{Endpoint, remember_port, remembered_port, ua_config};
use crate::config::{Settings, Source};
use crate::sip::call::{CallDirection, CallState};
use crate::sip::stream::{Frame, StreamFramer};
use crate::sip::transport::{Destination, Transmit, Transport};
use crate::sip::ua::{UaCommand, UaEvent, UserAgent};
use crate::store::Store;
use anyhow::{Context, anyhow};
use rand::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// What connection tasks tell the driver.
#[derive(Debug)]
enum NetEvent {
    Message(Destination, Vec<u8>),
    Ping(Destination),
    Accepted(SocketAddr, mpsc::UnboundedSender<Vec<u8>>),
    Closed(SocketAddr, Option<String>),
}

/// Binds UDP and TCP on one port of `ip`: the one asked for, else the remembered random one,
/// else a new random one (then remembered).
async fn bind(endpoint: &Endpoint) -> anyhow::Result<(UdpSocket, TcpListener)> {
    let try_bind = |port: u16| async move {
        let addr = SocketAddr::new(endpoint.local_ip, port);
        let udp = UdpSocket::bind(addr).await?;
        let port = udp.local_addr()?.port();
        let tcp = TcpListener::bind(SocketAddr::new(endpoint.local_ip, port)).await?;
        Ok::<_, std::io::Error>((udp, tcp))
    };
    if endpoint.port != 0 {
        return try_bind(endpoint.port)
            .await
            .with_context(|| format!("binding SIP port {}", endpoint.port));
    }
    if let Some(port) = remembered_port()
        && let Ok(s) = try_bind(port).await
    {
        return Ok(s);
    }
    let mut last = None;
    for _ in 0..20 {
        let port = rand::rng().random_range(10_000..60_000);
        match try_bind(port).await {
            Ok(s) => {
                if let Err(e) = remember_port(port) {
                    warn!("could not remember the signalling port: {e:#}");
                }
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow!("no free SIP port found: {last:?}"))
}

/// Runs one TCP connection: connects if needed, writes what arrives on `rx`, frames what is read.
async fn run_connection(
    peer: SocketAddr,
    stream: Option<TcpStream>,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    net: mpsc::UnboundedSender<NetEvent>,
) {
    let stream = match stream {
        Some(s) => s,
        None => match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(peer)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let _ = net.send(NetEvent::Closed(peer, Some(e.to_string())));
                return;
            }
            Err(_) => {
                let _ = net.send(NetEvent::Closed(peer, Some("connect timed out".into())));
                return;
            }
        },
    };
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut framer = StreamFramer::default();
    let mut buf = vec![0u8; 16 * 1024];
    let dest = Destination {
        transport: Transport::Tcp,
        addr: peer,
    };
    let error = loop {
        tokio::select! {
            read = rd.read(&mut buf) => match read {
                Ok(0) => break None,
                Ok(n) => {
                    framer.push(&buf[..n]);
                    loop {
                        match framer.next_frame() {
                            Ok(Some(Frame::Message(m))) => { let _ = net.send(NetEvent::Message(dest, m)); }
                            Ok(Some(Frame::Ping)) => { let _ = net.send(NetEvent::Ping(dest)); }
                            Ok(Some(Frame::Pong)) => {}
                            Ok(None) => break,
                            Err(e) => {
                                let _ = net.send(NetEvent::Closed(peer, Some(format!("unframeable stream: {e}"))));
                                return;
                            }
                        }
                    }
                }
                Err(e) => break Some(e.to_string()),
            },
            msg = rx.recv() => match msg {
                Some(bytes) => if let Err(e) = wr.write_all(&bytes).await { break Some(e.to_string()) },
                None => break None,
            },
        }
    };
    let _ = net.send(NetEvent::Closed(peer, error));
}

/// Reports core events as API events, keeping the global status so that it is only
/// reported when it changes.
pub(super) struct Reporter {
    events: mpsc::UnboundedSender<Event>,
    local: String,
    status: String,
}

impl Reporter {
    /// The user name status lines carry changed (the account changed at run time).
    pub(super) fn set_local(&mut self, user: &str) {
        self.local = user.to_string();
    }

    pub(super) fn status(&mut self, text: &str) {
        if self.status != text {
            self.status = text.to_string();
            let _ = self.events.send(Event::global_status(text, &self.local));
        }
    }

    pub(super) fn send(&self, ev: Event) {
        let _ = self.events.send(ev);
    }

    pub(super) fn report(&mut self, ev: UaEvent) {
        match ev {
            UaEvent::Registering => self.status("Registering..."),
            UaEvent::Registered { expires } => {
                info!(expires, "registered");
                self.status("Registered");
            }
            UaEvent::RegisterFailed {
                code,
                reason,
                retry_in,
            } => {
                // Repeated identical failures during back-off still report: each is an attempt.
                self.status = String::new();
                self.status("Register Failed");
                let retry = retry_in
                    .map(|d| format!("; retrying in {:.1} s", d.as_secs_f64()))
                    .unwrap_or_default();
                let what = if code == 0 {
                    reason
                } else {
                    format!("{code} {reason}")
                };
                self.send(Event::Error(format!("Register failed: {what}{retry}")));
            }
            UaEvent::Unregistered => {
                self.send(Event::Info("Unregistered".into()));
                self.status("Ready");
            }
            UaEvent::CapabilityResponse {
                code,
                reason,
                allow,
            } => {
                let allow = allow.map(|a| format!(" (Allow: {a})")).unwrap_or_default();
                self.send(Event::Info(format!(
                    "Capability response: {code} {reason}{allow}"
                )));
            }
            UaEvent::PublicAddress { addr } => {
                self.send(Event::Info(format!("Public address learned: {addr}")))
            }
            UaEvent::Malformed {
                source,
                error,
                answered,
            } => {
                let answered = answered
                    .map(|c| format!(", answered {c}"))
                    .unwrap_or_default();
                self.send(Event::Warning(format!(
                    "Malformed SIP message from {source}: {error}{answered}"
                )));
            }
            UaEvent::RequestRejected { method, code } => {
                debug!(%method, code, "request answered with an error");
            }
            UaEvent::Call {
                line,
                state,
                direction,
                peer,
                peer_display,
                call_id,
                reason,
                ..
            } => {
                let (line_text, global) = match state {
                    CallState::Calling => ("Setup", "Calling..."),
                    CallState::Proceeding => ("InProgress", "Calling..."),
                    CallState::Ringing => ("Ringing", "Ringing..."),
                    CallState::Incoming => ("Ringing", "Incoming..."),
                    CallState::Connecting => ("CallConnect", "In Call"),
                    CallState::Connected => ("InCall", "In Call"),
                    CallState::Terminating => ("Finishing", "Hangup"),
                    CallState::Terminated => ("Finished", "Call Finished"),
                };
                let endpoint_type = match direction {
                    CallDirection::Outgoing => 1,
                    CallDirection::Incoming => 2,
                };
                self.send(Event::Status {
                    line: line as i32,
                    text: line_text.into(),
                    peer: peer.clone(),
                    local: self.local.clone(),
                    endpoint_type,
                    peer_display: peer_display.clone(),
                    call_id,
                });
                if state == CallState::Terminated && !reason.is_empty() {
                    self.send(Event::Info(format!(
                        "Call on line {line} with {peer} ended: {reason}"
                    )));
                }
                self.status(global);
            }
            UaEvent::Media { line, negotiated } => match negotiated {
                Some(n) => self.send(Event::Info(format!(
                    "Media on line {line}: {} to {} ({:?})",
                    n.codec.name(),
                    n.remote,
                    n.direction
                ))),
                None => debug!(line, "media stopped"),
            },
            UaEvent::CommandFailed { error } => self.send(Event::Error(error)),
            UaEvent::Hold {
                line,
                local,
                remote,
            } => {
                self.send(Event::Hold {
                    line,
                    local,
                    remote,
                });
                self.send(Event::Info(match (local, remote) {
                    (true, true) => format!("Line {line} on hold (both sides)"),
                    (true, false) => format!("Line {line} on hold"),
                    (false, true) => format!("Line {line} held by the remote party"),
                    (false, false) => format!("Line {line} resumed"),
                }))
            }
            UaEvent::Dtmf { line, digit } => self.send(Event::Info(format!(
                "DTMF received on line {line}: {digit}"
            ))),
            UaEvent::Stopped | UaEvent::ServerParameters { .. } => {}
        }
    }
}

/// Runs the engine until [`Command::Exit`] finishes (or the command channel closes). Events go
/// to `events`, ending with [`Event::Stopped`]; finished calls are kept in `store`'s history.
pub async fn run_engine(
    settings: Settings,
    store: Option<Store>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
) -> anyhow::Result<()> {
    let result = drive(settings, store, &mut commands, &events).await;
    if let Err(e) = &result {
        let _ = events.send(Event::Error(format!("{e:#}")));
    }
    let _ = events.send(Event::Stopped);
    result
}

async fn drive(
    mut settings: Settings,
    store: Option<Store>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    events: &mpsc::UnboundedSender<Event>,
) -> anyhow::Result<()> {
    let (mut cfg, endpoint) = ua_config(&settings).await?;
    let (udp, listener) = bind(&endpoint).await?;
    cfg.local = udp.local_addr()?;
    let trace = settings.int("loglevel") >= 4;
    info!(local = %cfg.local, transport = ?cfg.transport, "SIP stack listening");
    let mut reporter = Reporter {
        events: events.clone(),
        local: cfg.user.clone(),
        status: String::new(),
    };
    reporter.send(Event::Start);
    reporter.status("Ready");

    let (net_tx, mut net_rx) = mpsc::unbounded_channel::<NetEvent>();
    let accept_tx = net_tx.clone();
    let acceptor = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    if accept_tx.send(NetEvent::Accepted(peer, tx)).is_err() {
                        return;
                    }
                    tokio::spawn(run_connection(peer, Some(stream), rx, accept_tx.clone()));
                }
                Err(e) => {
                    warn!("TCP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });

    let (media_tx, mut media_rx) = mpsc::unbounded_channel::<MediaEvent>();
    let mut calls = CallResources {
        ip: cfg.local.ip(),
        rtp_base: settings.int("rtpport") as u16,
        sockets: HashMap::new(),
        prefs: super::calls::CallPrefs::from_settings(&settings, &mut reporter),
        current_line: None,
        lines: HashMap::new(),
        media: HashMap::new(),
        negotiated: HashMap::new(),
        media_events: media_tx,
        rings: HashMap::new(),
    };
    let callto = settings.text("callto");
    // `call` is the reference's other name for `autocall`.
    let wants_call = settings.bool("autocall") || settings.bool("call");
    let mut autocall = (wants_call && !callto.is_empty()).then_some(callto);
    let registers = cfg.register;
    let seed: u64 = rand::rng().random();
    let mut ua = UserAgent::new(cfg, seed);
    let mut conns: HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    let mut commands_open = true;
    let mut cdrs = super::cdr::CdrTracker::default();
    // The microphone level meter of the audio settings, while it is shown.
    let mut meter: Option<LevelMeter> = None;
    ua.start(Instant::now());
    if !registers && let Some(number) = autocall.take() {
        calls.place(&mut ua, &number, &mut reporter).await;
    }

    loop {
        // Events can create transmits (answering a call) and transmits can fail into events:
        // go round until both queues are empty before sleeping.
        loop {
            let mut busy = false;
            while let Some(t) = ua.poll_transmit() {
                busy = true;
                if trace {
                    debug!(target: "sip", "send to {:?} {}:\n{}", t.dest.transport, t.dest.addr, String::from_utf8_lossy(&t.bytes));
                }
                if let Err(e) = transmit(&udp, &mut conns, &net_tx, t.clone()).await {
                    debug!("send to {} failed: {e}", t.dest.addr);
                    ua.handle_transport_error(Instant::now(), t.dest);
                }
            }
            while let Some(ev) = ua.poll_event() {
                busy = true;
                match &ev {
                    UaEvent::Stopped => {
                        calls.stop_all(&mut reporter).await;
                        reporter.report(ev);
                        acceptor.abort();
                        return Ok(());
                    }
                    UaEvent::ServerParameters { params, persist } => {
                        let targets = Targets {
                            settings: &mut settings,
                            ua: &mut ua,
                            calls: &mut calls,
                            reporter: &mut reporter,
                        };
                        set_parameters(targets, params, Source::Server, *persist).await;
                    }
                    UaEvent::Registered { .. } if autocall.is_some() => {
                        if let Some(number) = autocall.take() {
                            calls.place(&mut ua, &number, &mut reporter).await;
                        }
                    }
                    _ => calls.on_event(&mut ua, &ev, &mut reporter).await,
                }
                if matches!(ev, UaEvent::Call { .. })
                    && let Some(m) = meter.take()
                {
                    // A call needs the microphone.
                    m.stop().await;
                }
                let cdr = cdrs.on_event(&ev, &reporter.local, Instant::now(), unix_ms());
                reporter.report(ev);
                if let Some(cdr) = cdr {
                    if let Some(Err(e)) = store.as_ref().map(|s| s.add_call(&cdr)) {
                        reporter.send(Event::Warning(format!(
                            "the call was not added to the history: {e}"
                        )));
                    }
                    reporter.send(Event::Cdr(cdr));
                }
            }
            if !busy {
                break;
            }
        }
        let deadline = ua.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            recv = udp.recv_from(&mut buf) => match recv {
                Ok((n, from)) => {
                    if trace {
                        debug!(target: "sip", "received from UDP {from}:\n{}", String::from_utf8_lossy(&buf[..n]));
                    }
                    let src = Destination { transport: Transport::Udp, addr: from };
                    ua.handle_datagram(Instant::now(), src, &buf[..n]);
                }
                // ICMP errors surface here on Linux; the transaction timers handle the loss.
                Err(e) => debug!("UDP receive error: {e}"),
            },
            Some(net) = net_rx.recv() => match net {
                NetEvent::Message(src, bytes) => {
                    if trace {
                        debug!(target: "sip", "received from TCP {}:\n{}", src.addr, String::from_utf8_lossy(&bytes));
                    }
                    ua.handle_datagram(Instant::now(), src, &bytes);
                }
                NetEvent::Ping(src) => ua.handle_keepalive_ping(src),
                NetEvent::Accepted(peer, tx) => { conns.insert(peer, tx); }
                NetEvent::Closed(peer, error) => {
                    conns.remove(&peer);
                    if let Some(e) = error {
                        info!("TCP connection to {peer} failed: {e}");
                        ua.handle_transport_error(Instant::now(), Destination { transport: Transport::Tcp, addr: peer });
                    }
                }
            },
            cmd = commands.recv(), if commands_open => {
                let now = Instant::now();
                match cmd {
                    Some(Command::Register) => ua.handle_command(now, UaCommand::Register),
                    Some(Command::Unregister) => ua.handle_command(now, UaCommand::Unregister),
                    Some(Command::CapabilityRequest) => ua.handle_command(now, UaCommand::CapabilityRequest),
                    Some(Command::Exit) => ua.handle_command(now, UaCommand::Shutdown),
                    Some(Command::Call { number }) => calls.place(&mut ua, &number, &mut reporter).await,
                    Some(Command::Accept { line }) => calls.answer(&mut ua, line, &mut reporter).await,
                    Some(Command::Hangup { line }) => ua.handle_command(now, UaCommand::Hangup { line }),
                    Some(Command::SetLine { line }) => calls.set_line(&mut ua, line, &mut reporter),
                    Some(Command::Mute { line, on, direction }) => calls.mute(line, on, direction, &mut reporter),
                    Some(Command::Hold { line, on }) => {
                        if let Err(e) = ua.hold(now, line, on) {
                            reporter.send(Event::Error(e.to_string()));
                        }
                    }
                    Some(Command::Dtmf { line, digits }) => calls.dtmf(&mut ua, line, &digits, &mut reporter),
                    Some(Command::TestSound) => calls.test_sound(&mut reporter),
                    Some(Command::InputLevel { on }) => {
                        if let Some(m) = meter.take() {
                            m.stop().await;
                        }
                        if on && !calls.media.is_empty() {
                            reporter.send(Event::Warning("the level meter does not run while a call uses the microphone".into()));
                        } else if on {
                            match crate::audio::open_source(&calls.prefs.record) {
                                Ok(source) => meter = Some(LevelMeter::start(source, events.clone())),
                                Err(e) => reporter.send(Event::Error(format!("level meter: {e:#}"))),
                            }
                        }
                    }
                    Some(Command::SetParameters { values, persist }) => {
                        let targets = Targets { settings: &mut settings, ua: &mut ua, calls: &mut calls, reporter: &mut reporter };
                        set_parameters(targets, &values, Source::Runtime, persist).await;
                    }
                    None => {
                        commands_open = false;
                        ua.handle_command(now, UaCommand::Shutdown);
                    }
                }
            }
            Some(media_event) = media_rx.recv() => match media_event {
                MediaEvent::Dtmf { line, digit } => {
                    reporter.send(Event::Info(format!("DTMF received on line {line}: {digit}")));
                }
                MediaEvent::Timeout { line } => {
                    let _ = ua.hangup_because(Instant::now(), line, "no media (mediatimeout)");
                }
                MediaEvent::Failed { line, reason } => {
                    reporter.send(Event::Error(format!("media on line {line}: {reason}")));
                }
                MediaEvent::Device { line, message } => {
                    reporter.send(Event::Error(format!("audio device (line {line}): {message}")));
                }
            },
            _ = sleep => ua.handle_timeout(Instant::now()),
        }
    }
}

/// Now as milliseconds since the Unix epoch (0 if the clock is before it).
fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Sends one transmit: UDP straight away; TCP over the existing connection or a new one.
async fn transmit(
    udp: &UdpSocket,
    conns: &mut HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    net: &mpsc::UnboundedSender<NetEvent>,
    t: Transmit,
) -> std::io::Result<()> {
    match t.dest.transport {
        Transport::Udp => udp.send_to(&t.bytes, t.dest.addr).await.map(|_| ()),
        Transport::Tcp => {
            let peer = t.dest.addr;
            let tx = conns.entry(peer).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_connection(peer, None, rx, net.clone()));
                tx
            });
            if tx.send(t.bytes).is_err() {
                conns.remove(&peer);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "connection closed",
                ));
            }
            Ok(())
        }
    }
}
