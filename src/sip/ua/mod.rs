//! The user agent core: one account's SIP endpoint as a sans-IO state machine. It owns the
//! transaction layer and the registration, answers requests as a UAS (RFC 3261 §8.2), learns
//! its public address from rport/received, sends NAT keep-alives and the OPTIONS capability
//! request. The driver feeds it bytes, transport errors, commands and the time; it hands back
//! transmits, events and the next deadline.
//!
//! Its parts: `config.rs` what it is configured with, `events.rs` the commands and events of
//! its interface, `owners.rs` which usage
//! sent each client transaction, `fields.rs` what is read off headers, `challenge.rs` the
//! 401/407 answer, `refer.rs` transfers, `forward.rs` forwarding and the incoming-call policy,
//! `uas.rs` answers requests and malformed input, `nat.rs` learns the public
//! address and sends keep-alives, `calls.rs` sets calls up and tears them down,
//! `incoming.rs` rings and answers incoming calls, `midcall.rs` holds, re-negotiates, sends
//! DTMF by INFO and runs the call timers, `reconfigure.rs` takes settings changed at run time,
//! `server_params.rs` reads the server's `x-mparam` headers, `pager.rs` text messages,
//! `subscribe.rs` our subscriptions and voicemail, `presence.rs` watched and published
//! presence, `busy_lamp.rs` busy lamps and their pickup, `watchers.rs` those who watch us.

mod busy_lamp;
mod calls;
mod challenge;
mod close;
mod config;
mod dial;
mod events;
mod failover;
mod fields;
mod forward;
mod incoming;
mod midcall;
mod modify;
mod nat;
mod owners;
mod pager;
mod prack;
mod presence;
mod reconfigure;
mod refer;
mod replaces;
mod server_params;
mod session_refresh;
mod subscribe;
mod uas;
mod watchers;

pub use calls::CallError;
pub use config::{KeepAliveType, MediaPrefs, RportMode, UaConfig};
pub use events::{UaCommand, UaEvent};
pub use forward::{IncomingPolicy, MAX_REDIRECTS};
pub use reconfigure::Reconfigured;
pub use server_params::parse_mparam;
pub use subscribe::{MWI_EXPIRES, MWI_POLL_INTERVAL, VoicemailMode};
pub use watchers::WatcherPolicy;

use super::call::Call;
use super::message::{Method, SipMessage};
use super::parse::parse_message;
use super::random_token;
use super::registration::{RegOutput, RegState, Registration};
use super::transaction::{LayerEvent, TransactionLayer, TxKey};
use super::transport::{Destination, Transmit, Transport};
use owners::{Owners, Usage};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Methods this UA answers itself; everything else known gets 405, unknown ones 501.
pub const ALLOWED_METHODS: &[Method] = &[
    Method::Invite,
    Method::Ack,
    Method::Bye,
    Method::Cancel,
    Method::Options,
    Method::Info,
    Method::Update,
    Method::Refer,
    Method::Notify,
    Method::Prack,
    Method::Message,
    Method::Subscribe,
];

/// The sans-IO user agent.
#[derive(Debug)]
pub struct UserAgent {
    cfg: UaConfig,
    rng: StdRng,
    layer: TransactionLayer,
    registration: Option<Registration>,
    /// Which usage sent each running client transaction.
    owners: Owners,
    /// The last [`SessionId`] handed out.
    next_session: u64,
    /// Progress of calls placed for a REFER, to go out as NOTIFY (see `refer.rs`).
    pending_notifies: VecDeque<refer::PendingNotify>,
    keepalive_at: Option<Instant>,
    /// The configured first hop (the SRV order's first), where failover comes back to.
    preferred_hop: Option<Destination>,
    /// Which server of the order is in use (0: the preferred), and how many failed in a row.
    hop_index: usize,
    failed_hops: usize,
    /// Registered on a fallback: when to try the preferred server again.
    back_to_preferred_at: Option<Instant>,
    shutdown_deadline: Option<Instant>,
    /// Shutting down and the unregistration is still out.
    awaiting_unregister: bool,
    stopped: bool,
    public_addr: Option<SocketAddr>,
    rport_candidate: Option<SocketAddr>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<UaEvent>,
    calls: Vec<Call>,
    /// Our MESSAGEs waiting for their final response, by the id their transaction is owned as.
    pagers: std::collections::HashMap<u64, pager::OutgoingMessage>,
    /// The last pager id handed out.
    next_pager: u64,
    /// Our subscriptions (voicemail), by the id their SUBSCRIBEs are owned as.
    subscriptions: std::collections::BTreeMap<
        u64,
        (
            subscribe::Purpose,
            crate::sip::subscription::ClientSubscription,
        ),
    >,
    /// The last subscription id handed out.
    next_subscription: u64,
    /// The voicemail subscription was made for this account (it is not made again after the
    /// server refused it for good).
    voicemail_started: bool,
    /// Our presence.winfo subscription was started (once per account, like voicemail).
    winfo_started: bool,
    /// Our presence publication, once something was published.
    publication: Option<crate::sip::publication::Publication>,
    /// The status the user chose (Online until told otherwise).
    presence_status: crate::model::PresenceStatus,
    /// What the publication holds now (the chosen status, or on the phone).
    published_status: Option<crate::model::PresenceStatus>,
    /// The tuple id of our presence documents (one per publication).
    presence_tuple: String,
    /// A call is up: an Online status is published as on the phone.
    on_phone: bool,
    /// The watchers of our presence (peer-to-peer), by the id their NOTIFYs are owned as.
    watchers: std::collections::BTreeMap<u64, crate::sip::subscription::server::ServerSubscription>,
    next_watcher: u64,
    /// Who watches us at the presence server (its presence.winfo documents, merged).
    server_watchers: Vec<crate::sip::subscription::winfo::WinfoWatcher>,
    /// The watcher list last reported (UaEvent::Watchers), to report changes only.
    reported_watchers: Vec<crate::model::Watcher>,
    /// NOTIFYs to send to watchers after the current answer: which, and the reason when it is
    /// the last.
    pending_watcher_notifies: Vec<(u64, Option<&'static str>)>,
    /// The watched extensions' busy lamps and their ringing call, when it can be picked up.
    lamps: std::collections::BTreeMap<
        String,
        (
            crate::model::LampState,
            Option<crate::sip::dialog_info::PickupDialog>,
        ),
    >,
    /// What was dialled last, for redial (an empty number).
    last_dialed: Option<String>,
    /// The account changed while registered: the old binding is being removed, then the new
    /// account registers (see `reconfigure.rs`).
    account_pending: bool,
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => !(v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local()),
    }
}

fn format_hostport(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

impl UserAgent {
    /// A UA with every random choice (tags, Call-IDs, branches, cnonces) drawn from `seed`.
    pub fn new(cfg: UaConfig, seed: u64) -> UserAgent {
        let first_hop = cfg.first_hop;
        let mut rng = StdRng::seed_from_u64(seed);
        let registration = Self::build_registration(&cfg, cfg.local, &mut rng);
        UserAgent {
            layer: TransactionLayer::new(cfg.timers),
            cfg,
            rng,
            registration,
            owners: Owners::default(),
            next_session: 0,
            pending_notifies: VecDeque::new(),
            keepalive_at: None,
            preferred_hop: first_hop,
            hop_index: 0,
            failed_hops: 0,
            back_to_preferred_at: None,
            shutdown_deadline: None,
            awaiting_unregister: false,
            stopped: false,
            public_addr: None,
            rport_candidate: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            calls: Vec::new(),
            pagers: Default::default(),
            next_pager: 0,
            subscriptions: Default::default(),
            next_subscription: 0,
            voicemail_started: false,
            winfo_started: false,
            publication: None,
            presence_status: crate::model::PresenceStatus::Online,
            published_status: None,
            presence_tuple: String::new(),
            on_phone: false,
            watchers: Default::default(),
            server_watchers: Vec::new(),
            reported_watchers: Vec::new(),
            next_watcher: 0,
            pending_watcher_notifies: Vec::new(),
            lamps: Default::default(),
            last_dialed: None,
            account_pending: false,
        }
    }

    fn contact_uri(cfg: &UaConfig, addr: SocketAddr) -> String {
        let transport = match cfg.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
            Transport::Ws => ";transport=ws",
            Transport::Wss => ";transport=wss",
        };
        if cfg.user.is_empty() {
            return format!("sip:{}{transport}", format_hostport(addr));
        }
        format!("sip:{}@{}{transport}", cfg.user, format_hostport(addr))
    }

    /// Our address of record for From headers: `sip:user@domain`; without a user name (calls
    /// without an account) `sip:domain`, and without a domain our own address.
    pub(super) fn local_aor(&self) -> String {
        let domain = if self.cfg.domain.is_empty() {
            format_hostport(self.contact_addr())
        } else {
            self.cfg.domain.clone()
        };
        if self.cfg.user.is_empty() {
            format!("sip:{domain}")
        } else {
            format!("sip:{}@{domain}", self.cfg.user)
        }
    }

    /// Starts what the configuration asks for: registration, capability request, keep-alive.
    pub fn start(&mut self, now: Instant) {
        if self.cfg.register {
            self.handle_command(now, UaCommand::Register);
        }
        if self.cfg.capability_request {
            self.handle_command(now, UaCommand::CapabilityRequest);
        }
        self.pump(now);
    }

    /// The registration state, `None` when no user is configured.
    pub fn registration_state(&self) -> Option<RegState> {
        self.registration.as_ref().map(Registration::state)
    }

    /// The address used in Contact: learned public address or the local one.
    pub fn contact_addr(&self) -> SocketAddr {
        self.public_addr.unwrap_or(self.cfg.local)
    }

    /// Applies a command.
    pub fn handle_command(&mut self, now: Instant, cmd: UaCommand) {
        match cmd {
            UaCommand::Register => {
                if let Some(r) = &mut self.registration {
                    if self.cfg.first_hop.is_some() {
                        r.register();
                    } else {
                        self.events.push_back(UaEvent::RegisterFailed {
                            code: 0,
                            reason: "no server address".into(),
                            retry_in: None,
                        });
                    }
                }
            }
            UaCommand::Unregister => {
                if let Some(r) = &mut self.registration
                    && !r.unregister()
                {
                    self.events.push_back(UaEvent::Unregistered);
                }
                self.end_subscriptions(now);
                self.end_presence();
                self.keepalive_at = None;
            }
            UaCommand::CapabilityRequest => self.send_options(now),
            UaCommand::Dial { target, rtp_port } => {
                if let Err(e) = self.dial(now, &target, rtp_port) {
                    self.events.push_back(UaEvent::CommandFailed {
                        error: e.to_string(),
                    });
                }
            }
            UaCommand::Answer { line, rtp_port } => {
                if let Err(e) = self.answer(now, line, rtp_port) {
                    self.events.push_back(UaEvent::CommandFailed {
                        error: e.to_string(),
                    });
                }
            }
            UaCommand::Hangup { line } => {
                if let Err(e) = self.hangup(now, line) {
                    self.events.push_back(UaEvent::CommandFailed {
                        error: e.to_string(),
                    });
                }
            }
            // Asked again while shutting down (Exit, then SIGTERM or a window close): the
            // unregistration and unsubscriptions under way carry on to the first deadline.
            UaCommand::Shutdown if self.shutdown_deadline.is_some() || self.stopped => {}
            UaCommand::Shutdown => {
                self.hangup_all(now);
                self.end_subscriptions(now);
                self.end_presence();
                self.end_watchers();
                self.shutdown_deadline = Some(now + self.cfg.wait_for_unregister);
                // Stopped once the unregistration, the unsubscriptions and the removal of our
                // presence are through (each may meet a challenge first), or at the deadline.
                self.awaiting_unregister = self.cfg.unregister_on_exit
                    && self.registration.as_mut().is_some_and(|r| r.unregister());
            }
        }
        self.pump(now);
    }

    fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            self.shutdown_deadline = None;
            self.keepalive_at = None;
            self.events.push_back(UaEvent::Stopped);
        }
    }

    /// True once shutdown has finished.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    fn new_via(&mut self) -> String {
        let branch = format!("z9hG4bK{}", random_token(&mut self.rng, 20));
        let rport = if self.cfg.rport == RportMode::Off {
            ""
        } else {
            ";rport"
        };
        // RFC 5923 `alias`: over TCP and TLS the server may send its requests to us (an
        // incoming call) back over this connection instead of opening one to our Contact,
        // where no TLS server listens.
        let alias = if matches!(self.cfg.transport, Transport::Tcp | Transport::Tls) {
            ";alias"
        } else {
            ""
        };
        format!(
            "SIP/2.0/{} {};branch={branch}{rport}{alias}",
            self.cfg.transport.as_str(),
            format_hostport(self.cfg.local)
        )
    }

    /// Adds Via (and Route for an outbound proxy) and starts a client transaction.
    /// Adds our Via (with a new branch) and, on a request without a route set, the Route to
    /// the outbound proxy. In-dialog requests carry the dialog's route set instead.
    pub(super) fn prepare_request(&mut self, req: &mut SipMessage) {
        let via = self.new_via();
        req.headers.0.insert(
            0,
            super::message::Header {
                name: "Via".into(),
                value: via,
            },
        );
        if let Some(proxy) = &self.cfg.outbound_proxy
            && req.headers.get("Route").is_none()
        {
            req.headers.push("Route", format!("<sip:{proxy};lr>"));
        }
    }

    /// Prepares `req` and starts its client transaction towards the first hop.
    fn send_request(&mut self, now: Instant, mut req: SipMessage) -> Option<TxKey> {
        let dest = self.cfg.first_hop?;
        self.prepare_request(&mut req);
        self.layer.send_request(now, req, dest).ok().flatten()
    }

    /// Where a request to `uri` goes without a server: the URI's own host, when it is an IP
    /// address (names are resolved by the driver before, as for calls).
    pub(super) fn direct_hop(&self, uri: &super::uri::Uri) -> Option<Destination> {
        let host = uri.host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = host.parse().ok()?;
        Some(Destination {
            transport: self.cfg.transport,
            addr: SocketAddr::new(ip, uri.port.unwrap_or(5060)),
        })
    }

    /// As [`Self::send_request`], and without a server straight to the Request-URI's host
    /// (peer-to-peer subscriptions and messages).
    fn send_request_or_direct(&mut self, now: Instant, mut req: SipMessage) -> Option<TxKey> {
        if self.cfg.first_hop.is_some() {
            return self.send_request(now, req);
        }
        let uri = super::uri::Uri::parse(req.request_uri()?).ok()?;
        let dest = self.direct_hop(&uri)?;
        self.prepare_request(&mut req);
        self.layer.send_request(now, req, dest).ok().flatten()
    }

    fn send_options(&mut self, now: Instant) {
        let mut req = SipMessage::request(Method::Options, format!("sip:{}", self.cfg.domain));
        let user = if self.cfg.user.is_empty() {
            "unknown"
        } else {
            &self.cfg.user
        };
        let tag = random_token(&mut self.rng, 10);
        let call_id = random_token(&mut self.rng, 24);
        req.headers.push("Max-Forwards", "70");
        req.headers.push(
            "From",
            format!("<sip:{user}@{}>;tag={tag}", self.cfg.domain),
        );
        req.headers.push("To", format!("<sip:{}>", self.cfg.domain));
        req.headers.push("Call-ID", call_id);
        req.headers.push("CSeq", "1 OPTIONS");
        req.headers.push("Accept", "application/sdp");
        req.headers.push("User-Agent", self.cfg.user_agent.clone());
        match self.send_request(now, req) {
            Some(key) => self.owners.own(key, Usage::Capability),
            None => self.events.push_back(UaEvent::CapabilityResponse {
                code: 0,
                reason: "no server address".into(),
                allow: None,
            }),
        }
    }

    /// One datagram, or one message framed off a stream, from `source`.
    pub fn handle_datagram(&mut self, now: Instant, source: Destination, data: &[u8]) {
        if data
            .iter()
            .all(|c| matches!(c, b'\r' | b'\n' | b' ' | b'\t' | 0))
        {
            // Keep-alive noise (CRLF, space+CRLF, STUN-less pings): nothing to answer over UDP.
            return;
        }
        match parse_message(data) {
            Ok(msg) => self.layer.on_message(now, msg, source),
            Err(err) => self.answer_malformed(data, source, &err.to_string(), err.status),
        }
        self.pump(now);
    }

    /// A CRLFCRLF ping on a stream: answer with the CRLF pong (RFC 5626 §3.5.1).
    pub fn handle_keepalive_ping(&mut self, source: Destination) {
        self.transmits.push_back(Transmit {
            dest: source,
            bytes: b"\r\n".to_vec(),
        });
    }

    /// The transport failed to reach `dest` (connection refused, reset, ICMP).
    pub fn handle_transport_error(&mut self, now: Instant, dest: Destination) {
        self.layer.on_transport_error(dest);
        self.pump(now);
    }

    /// A TCP or TLS connection to `dest` closed. When it carried our registration, register
    /// again over a new one: the server reaches us only through a connection we opened
    /// (RFC 5626 §4.4), so until then incoming calls would be lost.
    pub fn handle_connection_closed(&mut self, now: Instant, dest: Destination) {
        if self.stopped || self.cfg.first_hop != Some(dest) {
            return;
        }
        if let Some(r) = &mut self.registration
            && r.state() == RegState::Registered
        {
            tracing::info!("the connection to the registrar closed: registering again");
            r.register();
        }
        self.pump(now);
    }

    /// Fires everything due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.on_timeout(now);
        self.failover_timers(now);
        self.call_timers(now);
        self.subscription_timers(now);
        if let Some(p) = &mut self.publication {
            p.on_timeout(now);
        }
        if let Some(r) = &mut self.registration {
            r.on_timeout(now);
        }
        if self.keepalive_at.is_some_and(|t| t <= now) {
            self.send_keepalive(now);
        }
        if self.shutdown_deadline.is_some_and(|t| t <= now) {
            self.stop();
        }
        self.pump(now);
    }

    /// Moves outputs between the registration, the transaction layer and the event queue
    /// until nothing is left to move.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(out) = self
                .registration
                .as_mut()
                .and_then(Registration::poll_output)
            {
                moved = true;
                self.on_registration_output(now, out);
            }
            while let Some(ev) = self.layer.poll_event() {
                moved = true;
                self.on_layer_event(now, ev);
            }
            if !self.pending_notifies.is_empty() {
                moved = true;
                self.flush_notifies(now);
            }
            moved |= self.flush_subscriptions(now);
            self.presence_follows_calls();
            moved |= self.flush_publication(now);
            moved |= self.flush_watchers(now);
            self.report_watchers();
            if !moved {
                break;
            }
        }
        let winding_down = !self.subscriptions.is_empty() || self.publication.is_some();
        if self.shutdown_deadline.is_some() && !self.awaiting_unregister && !winding_down {
            self.stop();
        }
    }

    fn on_registration_output(&mut self, now: Instant, out: RegOutput) {
        match out {
            RegOutput::Send(req) => match self.send_request(now, req) {
                Some(key) => self.owners.own(key, Usage::Registration),
                None => {
                    self.owners.release_usage(Usage::Registration);
                    if let Some(r) = &mut self.registration {
                        r.on_no_response(now, 503, "no route to the server");
                    }
                }
            },
            RegOutput::Registering => self.events.push_back(UaEvent::Registering),
            RegOutput::Registered { expires } => {
                if self.keepalive_at.is_none()
                    && self.cfg.keepalive != KeepAliveType::None
                    && !self.cfg.keepalive_interval.is_zero()
                {
                    self.keepalive_at = Some(now + self.cfg.keepalive_interval);
                }
                self.registered_on_hop(now);
                self.events.push_back(UaEvent::Registered { expires });
                self.start_voicemail(now);
                self.start_presence();
                self.start_watcher_info(now);
            }
            RegOutput::Failed {
                code,
                reason,
                retry_in,
            } => {
                let retry_in = if self.shutdown_deadline.is_some() {
                    None
                } else {
                    retry_in
                };
                let next = self.fail_over(code);
                self.events.push_back(UaEvent::RegisterFailed {
                    code,
                    reason,
                    retry_in: if next {
                        Some(std::time::Duration::ZERO)
                    } else {
                        retry_in
                    },
                });
            }
            RegOutput::Unregistered => {
                self.events.push_back(UaEvent::Unregistered);
                if self.shutdown_deadline.is_some() {
                    self.awaiting_unregister = false;
                } else if self.account_pending {
                    self.switch_account();
                }
            }
        }
    }

    fn on_layer_event(&mut self, now: Instant, ev: LayerEvent) {
        match ev {
            LayerEvent::Response { key, response } if self.call_response(now, &key, &response) => {}
            LayerEvent::Response { key, response } => {
                let owner = self.owners.owner(&key);
                // Only responses to our own requests teach us our public address: a forged
                // stray response must not move our Contact.
                if owner.is_some() {
                    self.learn_address(&response, now);
                    self.server_parameters(&response);
                }
                let is_final = response.status().unwrap_or(0) >= 200;
                match owner {
                    Some(Usage::Registration) => {
                        if is_final {
                            self.owners.release(&key);
                        }
                        if let Some(r) = &mut self.registration {
                            r.on_response(now, &response);
                        }
                    }
                    Some(Usage::Pager(id)) if is_final => {
                        self.owners.release(&key);
                        self.pager_response(now, id, &response);
                    }
                    Some(Usage::Subscription(id)) if is_final => {
                        self.owners.release(&key);
                        self.subscription_response(now, id, &response);
                    }
                    Some(Usage::Watcher(id)) if is_final => {
                        self.owners.release(&key);
                        self.watcher_response(id, response.status().unwrap_or(0));
                    }
                    Some(Usage::Publication) if is_final => {
                        self.owners.release(&key);
                        if let Some(p) = &mut self.publication {
                            p.on_response(now, &response);
                        }
                    }
                    Some(Usage::Capability) if is_final => {
                        self.owners.release(&key);
                        self.events.push_back(UaEvent::CapabilityResponse {
                            code: response.status().unwrap_or(0),
                            reason: response.reason().to_string(),
                            allow: response
                                .headers
                                .list("Allow")
                                .first()
                                .map(|_| response.headers.list("Allow").join(", ")),
                        });
                    }
                    _ => {}
                }
            }
            LayerEvent::Timeout { key }
                if self.call_no_response(now, &key, "408 Request Timeout") => {}
            LayerEvent::TransportError { key }
                if self.call_no_response(now, &key, "transport error") => {}
            LayerEvent::Timeout { key } => {
                self.on_no_response(now, &key, 408, "Request Timeout (no response)")
            }
            LayerEvent::TransportError { key } => {
                self.on_no_response(now, &key, 503, "Service Unavailable (transport error)")
            }
            LayerEvent::Request {
                key,
                request,
                source,
            } => self.answer_request(now, &key, &request, source),
            LayerEvent::Ack { request, .. } => self.call_ack(now, &request),
            LayerEvent::StrayResponse { response, .. } => self.stray_response(now, &response),
            LayerEvent::Terminated { key } => self.owners.release(&key),
        }
    }

    /// A client transaction ended without a final response.
    fn on_no_response(&mut self, now: Instant, key: &TxKey, code: u16, reason: &str) {
        let owner = self.owners.owner(key);
        self.owners.release(key);
        match owner {
            Some(Usage::Registration) => {
                if let Some(r) = &mut self.registration {
                    r.on_no_response(now, code, reason);
                }
            }
            Some(Usage::Capability) => self.events.push_back(UaEvent::CapabilityResponse {
                code,
                reason: reason.into(),
                allow: None,
            }),
            Some(Usage::Pager(id)) => self.pager_failed(id, &format!("{code} {reason}")),
            Some(Usage::Subscription(id)) => self.subscription_no_response(now, id, code, reason),
            Some(Usage::Watcher(id)) => self.watcher_response(id, 408),
            Some(Usage::Publication) => {
                if let Some(p) = &mut self.publication {
                    p.on_no_response(now, code, reason);
                }
            }
            Some(Usage::Session(..)) | None => {}
        }
    }

    /// The earliest instant something must happen.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.layer.poll_timeout(),
            self.registration
                .as_ref()
                .and_then(Registration::poll_timeout),
            self.keepalive_at,
            self.failover_timeout(),
            self.shutdown_deadline,
            self.calls_timeout(),
            self.subscriptions_timeout(),
            self.watchers_timeout(),
            self.publication
                .as_ref()
                .and_then(crate::sip::publication::Publication::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits
            .pop_front()
            .or_else(|| self.layer.poll_transmit())
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }
}
