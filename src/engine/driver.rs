//! The driver: the one place that owns sockets and timers. It feeds datagrams, timeouts and
//! commands to the sans-IO [`UserAgent`] with the current time, hands the core's events to the
//! sans-IO [`Phone`] policy, and carries out what the policy decides (media tasks, rings,
//! the store). Blocking work goes to the worker thread and name lookups to tasks of their own;
//! their results come back here as messages, so the loop itself never waits on them.

use super::calls::{CallResources, DevicePrefs};
use super::dns::Dns;
use super::level::LevelMeter;
use super::link::CommandSender;
use super::media::MediaEvent;
use super::net::{Connectors, NetEvent, accept_connections, bind, transmit};
use super::report::Reporter;
use super::setup::{Servers, resolve_servers, ua_config};
use super::websocket::WsClient;
use super::worker::{Done, Worker};
use crate::config::Settings;
use crate::model::{Event, NoticeKind, RecordingState, Reply, Request, RequestId};
use crate::phone::{Action, Phone, PhonePrefs, RingKind};
use crate::sip::transport::{Destination, Transport};
use crate::sip::ua::{UaCommand, UaEvent, UserAgent};
use crate::store::Store;
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info};

/// The request id of the `autocall` call (faces count their ids from 1).
const AUTOCALL: RequestId = RequestId(0);

/// Everything the loop works on.
pub(super) struct Engine {
    pub(super) settings: Settings,
    pub(super) ua: UserAgent,
    pub(super) phone: Phone,
    pub(super) calls: CallResources,
    pub(super) reporter: Reporter,
    pub(super) worker: Worker,
    pub(super) dns: Dns,
    /// The server and proxy addresses the SIP stack uses (resolved at start or after a
    /// change of the account): a change that does not touch them never resolves again.
    pub(super) servers: Servers,
    /// The microphone level meter of the audio settings, while it is shown.
    pub(super) meter: Option<LevelMeter>,
    /// `autocall`: the number to call once registered.
    pub(super) autocall: Option<String>,
    /// RTP sockets of calls waiting for their target's name to resolve, by request.
    pub(super) pending_dials: HashMap<RequestId, super::media::RtpSockets>,
    /// Calls placed to join the conference (API Conf with a peer), by request, until the
    /// line they got is known.
    pub(super) conference_dials: HashSet<RequestId>,
    /// The file PlaySound plays now.
    pub(super) playing: Option<String>,
    /// Clicked links waiting for the user's click (`linkconfirm`): the number, by ticket.
    pub(super) links_to_confirm: HashMap<u64, String>,
    events: mpsc::UnboundedSender<Event>,
    udp: UdpSocket,
    conns: HashMap<Destination, mpsc::UnboundedSender<Vec<u8>>>,
    /// How TLS and WebSocket connections are made (`transport=2`, 6, 7).
    connectors: Connectors,
    net_tx: mpsc::UnboundedSender<NetEvent>,
    trace: bool,
}

/// Runs the engine until [`crate::model::Command::Exit`] finishes (or the command channel
/// closes). Events go to `events`, ending with [`Event::Stopped`]; finished calls are kept in
/// `store`'s history.
pub async fn run_engine(
    settings: Settings,
    store: Option<Store>,
    mut commands: mpsc::UnboundedReceiver<Request>,
    events: mpsc::UnboundedSender<Event>,
) -> anyhow::Result<()> {
    let result = drive(settings, store, &mut commands, &events).await;
    if let Err(e) = &result {
        let _ = events.send(Event::error(NoticeKind::Engine, format!("{e:#}")));
    }
    let _ = events.send(Event::Stopped);
    result
}

/// Starts an engine on the current tokio runtime; gives the sender faces use and the events.
pub fn start_engine(
    settings: Settings,
    store: Option<Store>,
) -> (
    CommandSender,
    mpsc::UnboundedReceiver<Event>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let (commands, rx) = CommandSender::channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let handle = tokio::spawn(run_engine(settings, store, rx, ev_tx));
    (commands, ev_rx, handle)
}

/// Now as milliseconds since the Unix epoch (0 if the clock is before it).
pub(super) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The TLS and WebSocket clients the transport needs, checked once at start; what cannot
/// be set up is said (and its transport then fails each send with that reason).
fn connectors(settings: &Settings, transport: Transport, reporter: &Reporter) -> Connectors {
    // The SIP domain: the outbound proxy's when there is one (RFC 5922 names it), else the
    // server's, as configured (its port included: the WebSocket's Host).
    let proxy = settings.text("proxyaddress");
    let domain = if proxy.trim().is_empty() {
        settings.text("serveraddress")
    } else {
        proxy
    };
    let tls = transport
        .is_encrypted()
        .then(|| {
            super::tls::client(
                &domain,
                &settings.text("tlscafile"),
                &settings.text("tlspin"),
            )
            .map_err(|e| {
                reporter.error(NoticeKind::Network, format!("TLS cannot be set up: {e:#}"));
            })
            .ok()
        })
        .flatten();
    let websocket = match transport {
        // Without its TLS a secure WebSocket is not opened at all (said above).
        Transport::Wss if tls.is_none() => None,
        Transport::Ws | Transport::Wss => {
            WsClient::new(&domain, &settings.text("wspath"), tls.clone())
                .map_err(|e| {
                    reporter.error(
                        NoticeKind::Network,
                        format!("The WebSocket cannot be set up: {e:#}"),
                    );
                })
                .ok()
        }
        _ => None,
    };
    Connectors {
        tls: tls.filter(|_| transport == Transport::Tls),
        websocket,
    }
}

async fn drive(
    settings: Settings,
    store: Option<Store>,
    commands: &mut mpsc::UnboundedReceiver<Request>,
    events: &mpsc::UnboundedSender<Event>,
) -> anyhow::Result<()> {
    let dns = Dns::with_server(super::setup::dns_server(&settings));
    // Start-up: nothing runs yet that a lookup could stall.
    let servers = resolve_servers(
        &settings.text("serveraddress"),
        &settings.text("proxyaddress"),
        super::setup::sip_lookups(&settings),
        &dns,
    )
    .await?;
    let (mut cfg, endpoint) = ua_config(&settings, &servers)?;
    let (udp, listener) = bind(&endpoint).await?;
    cfg.local = udp.local_addr()?;
    info!(local = %cfg.local, transport = ?cfg.transport, "SIP stack listening");
    let reporter = Reporter::new(events.clone());
    reporter.send(Event::Started {
        user: cfg.user.clone(),
    });
    let (ringtone, problem) = super::ring::ring_sound(&settings.text("ringtone"));
    if let Some(p) = problem {
        reporter.error(NoticeKind::AudioDevice, p);
    }
    let connectors = connectors(&settings, cfg.transport, &reporter);
    for w in super::setup::srtp_policy(&settings, cfg.transport)
        .warnings
        .into_iter()
        .chain(super::setup::srtp_suites(&settings).1)
    {
        reporter.warning(NoticeKind::Parameter, w);
    }
    let (net_tx, mut net_rx) = mpsc::unbounded_channel::<NetEvent>();
    let acceptor = accept_connections(listener, net_tx.clone());
    let (media_tx, mut media_rx) = mpsc::unbounded_channel::<MediaEvent>();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let worker = Worker::start(store, done_tx)?;
    let calls = CallResources::new(
        cfg.local.ip(),
        settings.int("rtpport") as u16,
        DevicePrefs::from_settings(&settings, std::sync::Arc::new(ringtone)),
        media_tx,
    );
    let callto = settings.text("callto");
    // `call` is the reference's other name for `autocall`.
    let wants_call = settings.bool("autocall") || settings.bool("call");
    let registers = cfg.register;
    let phone = Phone::new(PhonePrefs::from_settings(&settings), &cfg.user);
    let seed: u64 = rand::rng().random();
    let mut engine = Engine {
        trace: settings.int("loglevel") >= 4,
        ua: UserAgent::new(cfg, seed),
        settings,
        phone,
        calls,
        reporter,
        worker,
        dns,
        servers,
        meter: None,
        autocall: (wants_call && !callto.is_empty()).then_some(callto),
        pending_dials: HashMap::new(),
        conference_dials: HashSet::new(),
        links_to_confirm: HashMap::new(),
        playing: None,
        events: events.clone(),
        udp,
        conns: HashMap::new(),
        connectors,
        net_tx,
    };
    let mut buf = vec![0u8; 65_536];
    let mut commands_open = true;
    engine.ua.start(Instant::now());
    engine.report_contacts();
    if !registers && let Some(number) = engine.autocall.take() {
        engine.place(AUTOCALL, number).await;
    }

    loop {
        if engine.pump().await {
            acceptor.abort();
            engine.worker.finish().await;
            // What the worker finished last (the records of calls ended by the exit).
            while let Ok(done) = done_rx.try_recv() {
                if let Done::Events(events) = done {
                    for e in events {
                        engine.reporter.send(e);
                    }
                }
            }
            return Ok(());
        }
        let deadline = engine.ua.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            recv = engine.udp.recv_from(&mut buf) => match recv {
                Ok((n, from)) => {
                    if engine.trace {
                        debug!(target: "sip", "received from UDP {from}:\n{}", String::from_utf8_lossy(&buf[..n]));
                    }
                    let src = Destination { transport: Transport::Udp, addr: from };
                    engine.ua.handle_datagram(Instant::now(), src, &buf[..n]);
                }
                // ICMP errors surface here on Linux; the transaction timers handle the loss.
                Err(e) => debug!("UDP receive error: {e}"),
            },
            Some(net) = net_rx.recv() => engine.on_net(net),
            req = commands.recv(), if commands_open => match req {
                Some(req) => engine.handle_request(req).await,
                None => {
                    commands_open = false;
                    engine.ua.handle_command(Instant::now(), UaCommand::Shutdown);
                }
            },
            Some(ev) = media_rx.recv() => engine.on_media_event(ev),
            Some(done) = done_rx.recv() => engine.on_done(done).await,
            _ = sleep => engine.ua.handle_timeout(Instant::now()),
        }
    }
}

impl Engine {
    /// Sends what the core has to send, hands its events to the policy and carries out the
    /// policy's actions, round and round until all are empty (events can create transmits and
    /// transmits can fail into events). Gives true when the core has stopped.
    async fn pump(&mut self) -> bool {
        loop {
            let mut busy = false;
            while let Some(t) = self.ua.poll_transmit() {
                busy = true;
                if self.trace {
                    debug!(target: "sip", "send to {:?} {}:\n{}", t.dest.transport, t.dest.addr, String::from_utf8_lossy(&t.bytes));
                }
                let dest = t.dest;
                if let Err(e) = transmit(
                    &self.udp,
                    &mut self.conns,
                    &self.net_tx,
                    &self.connectors,
                    t,
                )
                .await
                {
                    debug!("send to {} failed: {e}", dest.addr);
                    self.ua.handle_transport_error(Instant::now(), dest);
                }
            }
            while let Some(ev) = self.ua.poll_event() {
                busy = true;
                match &ev {
                    UaEvent::Stopped => {
                        // What the policy still has to say (the un-REGISTER) goes out first.
                        while let Some(action) = self.phone.poll_action() {
                            self.act(action).await;
                        }
                        self.calls.stop_all(&self.reporter).await;
                        return true;
                    }
                    UaEvent::ServerParameters { params, persist } => {
                        let values: Vec<_> = params
                            .iter()
                            .map(|(k, v)| crate::model::ParamValue::new(k, v))
                            .collect();
                        self.set_parameters(&values, crate::model::Source::Server, *persist);
                    }
                    UaEvent::Registered { .. } => {
                        if let Some(number) = self.autocall.take() {
                            self.place(AUTOCALL, number).await;
                        }
                    }
                    UaEvent::Referred { line } => self.follow_refer(*line).await,
                    // A call we hold leaves the audio mix; resumed, it is back.
                    UaEvent::Hold { line, local, .. } => self.calls.hold(*line, *local),
                    _ => {}
                }
                self.phone.on_ua_event(Instant::now(), unix_ms(), &ev);
            }
            while let Some(action) = self.phone.poll_action() {
                busy = true;
                self.act(action).await;
            }
            if !busy {
                return false;
            }
        }
    }

    /// Carries out one decision of the policy.
    async fn act(&mut self, action: Action) {
        let now = Instant::now();
        match action {
            Action::Report(ev) => self.reporter.send(ev),
            Action::Answer { line } => {
                if let Err(e) = self.answer(line).await {
                    self.reporter.error(NoticeKind::Call, e);
                }
            }
            Action::Hold { line, on } => {
                if let Err(e) = self.ua.hold(now, line, on) {
                    self.reporter.error(NoticeKind::Call, e.to_string());
                }
            }
            Action::Ring { line, kind } => {
                if kind == RingKind::Ringer && self.calls.prefs.ring.on_every_card() {
                    // Listing every sound card can take a while: off the loop.
                    self.calls.ringers_pending.insert(line);
                    self.worker.run(move |_| {
                        let names = crate::audio::device::list_devices().1;
                        let sinks = names
                            .iter()
                            .filter_map(|n| crate::audio::open_sink(n, 8000).ok())
                            .collect();
                        Some(Done::RingerSinks { line, sinks })
                    });
                } else {
                    let sinks = match kind {
                        RingKind::Ringer => self.calls.ringer_sink(),
                        RingKind::Ringback => Vec::new(),
                    };
                    self.calls.ring(line, kind, sinks);
                }
            }
            Action::StopRing { line } => self.calls.stop_ring(line).await,
            Action::StartMedia { line, negotiated } => {
                self.calls
                    .start_media(line, negotiated, &self.reporter)
                    .await
            }
            Action::UpdateMedia { line, negotiated } => self.calls.update_media(line, negotiated),
            Action::StopMedia { line } => self.calls.stop_media(line, &self.reporter).await,
            Action::EndLine { line } => self.calls.end_line(line, &self.reporter).await,
            Action::MuteMedia {
                line,
                microphone,
                speaker,
            } => self.calls.mute(line, microphone, speaker),
            Action::Record { line, file } => {
                let folder = super::setup::recordings_folder(&self.settings);
                let max = u32::try_from(self.settings.int("maxrecordlength")).unwrap_or(0);
                self.calls.record(line, file, folder, max);
            }
            Action::Conference { lines } => {
                self.calls.audio.set_conference(lines.into_iter().collect())
            }
            Action::StopLevelMeter => {
                if let Some(m) = self.meter.take() {
                    m.stop().await;
                }
            }
            Action::StoreChat {
                peer,
                outgoing,
                text,
                at_ms,
            } => {
                let message = crate::store::ChatMessage {
                    at_ms,
                    peer,
                    outgoing,
                    text,
                };
                self.worker.run(move |state| {
                    match state.store.as_ref().map(|s| s.add_chat(&message)) {
                        Some(Err(e)) => Some(Done::Events(vec![Event::warning(
                            NoticeKind::History,
                            format!("the message was not added to the chat history: {e}"),
                        )])),
                        _ => None,
                    }
                });
            }
            Action::StoreCdr(cdr) => {
                // Reported once it is in the history, so that whoever sees the record can
                // find it there (`softphone --history`, the window's list after a restart).
                self.worker.run(move |state| {
                    let mut events = Vec::new();
                    if let Some(Err(e)) = state.store.as_ref().map(|s| s.add_call(&cdr)) {
                        events.push(Event::warning(
                            NoticeKind::History,
                            format!("the call was not added to the history: {e}"),
                        ));
                    }
                    events.push(Event::Cdr(cdr));
                    Some(Done::Events(events))
                });
            }
        }
    }

    fn on_net(&mut self, net: NetEvent) {
        match net {
            NetEvent::Message(src, bytes) => {
                if self.trace {
                    debug!(target: "sip", "received from {:?} {}:\n{}", src.transport, src.addr, String::from_utf8_lossy(&bytes));
                }
                self.ua.handle_datagram(Instant::now(), src, &bytes);
            }
            NetEvent::Ping(src) => self.ua.handle_keepalive_ping(src),
            NetEvent::Accepted(peer, tx) => {
                self.conns.insert(peer, tx);
            }
            NetEvent::Closed(dest, error) => {
                self.conns.remove(&dest);
                if let Some(e) = error {
                    let text = format!(
                        "{} connection to {} failed: {e}",
                        dest.transport.as_str(),
                        dest.addr
                    );
                    info!("{text}");
                    if dest.transport.is_encrypted() || dest.transport.is_websocket() {
                        // Certificates and handshakes fail for reasons the user must see.
                        self.reporter.error(NoticeKind::Network, text);
                    }
                    self.ua.handle_transport_error(Instant::now(), dest);
                }
                self.ua.handle_connection_closed(Instant::now(), dest);
            }
        }
    }

    fn on_media_event(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Dtmf { line, digit } => {
                self.reporter.send(Event::DtmfReceived { line, digit })
            }
            MediaEvent::Timeout { line } => {
                let _ = self
                    .ua
                    .hangup_because(Instant::now(), line, "no media (mediatimeout)");
            }
            MediaEvent::Failed { line, reason } => self
                .reporter
                .error(NoticeKind::Media, format!("media on line {line}: {reason}")),
            MediaEvent::Device { message } => self
                .reporter
                .error(NoticeKind::AudioDevice, format!("audio device: {message}")),
            MediaEvent::PlayEnded => {
                if let Some(file) = self.playing.take() {
                    self.reporter.send(Event::Playback {
                        file,
                        playing: false,
                        error: None,
                    });
                }
            }
            MediaEvent::Recording { line, state } => {
                if let RecordingState::Failed { path, reason } = &state {
                    self.reporter.error(
                        NoticeKind::Media,
                        format!("recording line {line} into {path}: {reason}"),
                    );
                }
                self.reporter.send(Event::Recording { line, state });
            }
            MediaEvent::Secured { line, suite } => self.reporter.info(
                NoticeKind::Media,
                format!(
                    "Media on line {line} secured: DTLS-SRTP {suite} (the far end's certificate is the one its SDP announced)"
                ),
            ),
            MediaEvent::SecurityFailed { line, reason } => {
                self.reporter.error(
                    NoticeKind::Security,
                    format!("line {line}: DTLS-SRTP failed, the call is ended: {reason}"),
                );
                let _ = self.ua.hangup_because(
                    Instant::now(),
                    line,
                    &format!("DTLS-SRTP failed: {reason}"),
                );
            }
            MediaEvent::Foreign { line, from } => self.reporter.warning(
                NoticeKind::Security,
                format!(
                    "line {line}: RTP from {from} dropped: the call's media comes from another address"
                ),
            ),
        }
    }

    /// A result of blocking work or a name lookup.
    async fn on_done(&mut self, done: Done) {
        match done {
            Done::Events(evs) => {
                for e in evs {
                    self.reporter.send(e);
                }
            }
            Done::Devices {
                id,
                microphones,
                speakers,
            } => {
                self.reporter.send(Event::Devices {
                    microphones,
                    speakers,
                });
                self.reporter.reply(id, Reply::Done);
            }
            Done::Sound {
                file,
                sound,
                looped,
                targets,
            } => match sound {
                Ok(sound) => {
                    self.calls.audio.play(sound, looped, targets);
                    self.playing = Some(file.clone());
                    self.reporter.send(Event::Playback {
                        file,
                        playing: true,
                        error: None,
                    });
                }
                Err(e) => {
                    self.reporter
                        .error(NoticeKind::AudioDevice, format!("PlaySound: {e}"));
                    self.reporter.send(Event::Playback {
                        file,
                        playing: false,
                        error: Some(e),
                    });
                }
            },
            Done::RingerSinks { line, sinks } => {
                // The call may have been answered or ended meanwhile.
                if self.calls.ringers_pending.remove(&line) {
                    self.calls.ring(line, RingKind::Ringer, sinks);
                }
            }
            Done::Ringtone { sound, problem } => {
                if let Some(p) = problem {
                    self.reporter.error(NoticeKind::AudioDevice, p);
                }
                self.calls.prefs.ring.sound = std::sync::Arc::new(sound);
            }
            Done::CallTarget { id, number, result } => {
                let Some(socket) = self.pending_dials.remove(&id) else {
                    return;
                };
                let via = match result {
                    Ok(addr) => Destination {
                        transport: self.ua.transport(),
                        addr,
                    },
                    Err(e) => return self.call_failed(id, format!("call {number}: {e}")),
                };
                self.dial(id, &number, socket, Some(via));
            }
            Done::Servers {
                server,
                proxy,
                result,
            } => match result {
                // An answer for addresses changed again meanwhile: the later lookup decides.
                _ if server != self.settings.text("serveraddress")
                    || proxy != self.settings.text("proxyaddress") => {}
                Ok(servers) => {
                    self.servers = servers;
                    self.reconfigure_sip();
                }
                Err(e) => self.reporter.error(
                    NoticeKind::Registration,
                    format!(
                        "the changed settings cannot be used ({e}); the SIP stack keeps the previous ones"
                    ),
                ),
            },
        }
    }

    /// The face that runs the engine.
    pub(super) fn events(&self) -> &mpsc::UnboundedSender<Event> {
        &self.events
    }
}
