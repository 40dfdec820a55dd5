//! A deterministic world for the sans-IO core: the real [`UserAgent`] against an in-process
//! registrar built on the same transaction layer, joined by a simulated network with seeded
//! loss, delay (hence reordering) and an optional NAT, on a virtual clock. Minutes of protocol
//! time run in milliseconds and every run with the same seed is the same run.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use softphone::sip::builder::response_to;
use softphone::sip::digest::{Challenge, Credentials, DigestRequest, Secret, authorization};
use softphone::sip::headers::{NameAddr, unquote};
use softphone::sip::message::{SipMessage, split_list};
use softphone::sip::parse::parse_message;
use softphone::sip::registration::AcceptExpires;
use softphone::sip::transaction::timers::TimerConfig;
use softphone::sip::transaction::{LayerEvent, TransactionLayer};
use softphone::sip::transport::{Destination, Transport};
use softphone::sip::ua::{KeepAliveType, RportMode, UaConfig, UaEvent, UserAgent};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const UA_ADDR: &str = "192.168.1.10:5070";
pub const SRV_ADDR: &str = "198.51.100.1:5060";
pub const NAT_ADDR: &str = "203.0.113.5:40000";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

/// A UA configuration for the simulated world.
pub fn ua_config(password: &str) -> UaConfig {
    UaConfig {
        user: "1001".into(),
        auth_user: None,
        display_name: Some("Desk \"One\"".into()),
        password: Some(Secret::new(password)),
        ha1_md5: None,
        realm: None,
        domain: "sim.example".into(),
        first_hop: Some(Destination {
            transport: Transport::Udp,
            addr: addr(SRV_ADDR),
        }),
        fallback_hops: Vec::new(),
        outbound_proxy: None,
        local: addr(UA_ADDR),
        transport: Transport::Udp,
        register: true,
        register_interval: 120,
        accept_expires: AcceptExpires::Shorter,
        rport: RportMode::WhenSure,
        keepalive: KeepAliveType::CrlfCrlf,
        keepalive_interval: Duration::from_secs(28),
        capability_request: false,
        timers: TimerConfig::default(),
        unregister_on_exit: true,
        wait_for_unregister: Duration::from_secs(2),
        user_agent: "sim".into(),
        max_lines: 4,
        prefix: String::new(),
        reject_on_busy: false,
        ring_timeout: Duration::from_secs(90),
        call_timeout: Duration::ZERO,
        media: softphone::sip::ua::MediaPrefs::default(),
        progress_mode: 2,
        incoming: softphone::sip::ua::IncomingPolicy::from_params("", "", "", true),
        transfer: softphone::sip::refer::TransferPrefs::default(),
        use_100rel: false,
        check_target: Default::default(),
        voicemail: softphone::sip::ua::VoicemailMode::Off,
        presence_enabled: false,
        presence_expires: 3600,
        watcher_policy: softphone::sip::ua::WatcherPolicy::Refuse,
        session_timer: Default::default(),
    }
}

/// How the simulated registrar behaves.
#[derive(Debug, Clone)]
pub struct RegistrarBehaviour {
    pub password: String,
    pub min_expires: u32,
    /// Answer every REGISTER with this status instead (e.g. 503), when set.
    pub fail_with: Option<u16>,
    /// Mark the first challenge after a successful registration as stale.
    pub stale_after_success: bool,
    /// Put received/rport in the top Via (RFC 3581), as Kamailio's force_rport does.
    pub force_rport: bool,
    /// Grant exactly this expiry, whatever was asked.
    pub grant: Option<u32>,
}

impl Default for RegistrarBehaviour {
    fn default() -> Self {
        RegistrarBehaviour {
            password: "pw".into(),
            min_expires: 0,
            fail_with: None,
            stale_after_success: false,
            force_rport: true,
            grant: None,
        }
    }
}

/// A registrar: digest challenge and check, 423, bindings with expiry.
pub struct SimRegistrar {
    pub behaviour: RegistrarBehaviour,
    layer: TransactionLayer,
    nonce_counter: u32,
    /// Contact URI -> expiry instant.
    pub bindings: HashMap<String, Instant>,
    pub registers_seen: u32,
    pub authorized_ok: u32,
    stale_pending: bool,
    pub received: Vec<(Instant, SocketAddr, Vec<u8>)>,
}

fn auth_params(value: &str) -> HashMap<String, String> {
    let rest = value.trim().strip_prefix("Digest").unwrap_or(value);
    split_list(rest)
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), unquote(v.trim())))
        .collect()
}

impl SimRegistrar {
    pub fn new(behaviour: RegistrarBehaviour) -> Self {
        SimRegistrar {
            behaviour,
            layer: TransactionLayer::new(TimerConfig::default()),
            nonce_counter: 0,
            bindings: HashMap::new(),
            registers_seen: 0,
            authorized_ok: 0,
            stale_pending: false,
            received: Vec::new(),
        }
    }

    fn current_nonce(&self) -> String {
        format!("nonce{}", self.nonce_counter)
    }

    fn check_auth(&self, req: &SipMessage) -> bool {
        let Some(h) = req.headers.get("Authorization") else {
            return false;
        };
        let p = auth_params(h);
        if p.get("nonce") != Some(&self.current_nonce()) {
            return false;
        }
        let ch = Challenge::parse(&format!(
            "Digest realm=\"sim\", nonce=\"{}\", qop=\"auth\"",
            self.current_nonce()
        ))
        .expect("challenge");
        let creds = Credentials {
            username: p.get("username").cloned().unwrap_or_default(),
            password: Some(Secret::new(self.behaviour.password.clone())),
            ha1_md5: None,
            realm: None,
        };
        let nc =
            u32::from_str_radix(p.get("nc").map(String::as_str).unwrap_or("0"), 16).unwrap_or(0);
        let Ok(expected) = authorization(
            &ch,
            &creds,
            &DigestRequest {
                method: "REGISTER",
                uri: p.get("uri").map(String::as_str).unwrap_or(""),
                body: &req.body,
                nc,
                cnonce: p.get("cnonce").map(String::as_str).unwrap_or(""),
            },
        ) else {
            return false;
        };
        auth_params(&expected).get("response") == p.get("response")
    }

    pub fn handle(&mut self, now: Instant, src: SocketAddr, bytes: &[u8]) {
        self.received.push((now, src, bytes.to_vec()));
        let Ok(msg) = parse_message(bytes) else {
            return;
        };
        self.layer.on_message(
            now,
            msg,
            Destination {
                transport: Transport::Udp,
                addr: src,
            },
        );
        while let Some(ev) = self.layer.poll_event() {
            if let LayerEvent::Request {
                key,
                mut request,
                source,
            } = ev
            {
                if self.behaviour.force_rport
                    && let Some(v) = request.headers.0.iter_mut().find(|h| h.name == "Via")
                {
                    v.value = v.value.replace(
                        ";rport",
                        &format!(
                            ";received={};rport={}",
                            source.addr.ip(),
                            source.addr.port()
                        ),
                    );
                }
                let resp = self.answer(now, &request);
                let _ = self.layer.send_response(now, &key, &resp);
            }
        }
    }

    fn answer(&mut self, now: Instant, req: &SipMessage) -> SipMessage {
        if req.method().map(|m| m.as_str()) != Some("REGISTER") {
            return response_to(req, 200, None, Some("srv"));
        }
        self.registers_seen += 1;
        if let Some(code) = self.behaviour.fail_with {
            return response_to(req, code, None, Some("srv"));
        }
        if self.stale_pending || !self.check_auth(req) {
            let stale = std::mem::take(&mut self.stale_pending);
            self.nonce_counter += 1;
            let mut r = response_to(req, 401, None, Some("srv"));
            r.headers.push(
                "WWW-Authenticate",
                format!(
                    "Digest realm=\"sim\", nonce=\"{}\", qop=\"auth\", algorithm=MD5{}",
                    self.current_nonce(),
                    if stale { ", stale=true" } else { "" }
                ),
            );
            return r;
        }
        self.authorized_ok += 1;
        let expires: u32 = req
            .headers
            .get("Expires")
            .and_then(|e| e.parse().ok())
            .unwrap_or(3600);
        if expires != 0 && expires < self.behaviour.min_expires {
            let mut r = response_to(req, 423, None, Some("srv"));
            r.headers
                .push("Min-Expires", self.behaviour.min_expires.to_string());
            return r;
        }
        for c in req.headers.list("Contact") {
            let Ok(na) = NameAddr::parse("Contact", &c) else {
                continue;
            };
            let asked = na
                .params
                .value("expires")
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(expires);
            let e = match self.behaviour.grant {
                Some(g) if asked != 0 => g,
                _ => asked,
            };
            let uri = na.uri.to_string();
            if e == 0 {
                self.bindings.remove(&uri);
            } else {
                self.bindings
                    .insert(uri, now + Duration::from_secs(u64::from(e)));
            }
        }
        if self.behaviour.stale_after_success {
            self.behaviour.stale_after_success = false;
            self.stale_pending = true;
        }
        let mut r = response_to(req, 200, None, Some("srv"));
        for (uri, until) in &self.bindings {
            let left = until.saturating_duration_since(now).as_secs();
            r.headers.push("Contact", format!("<{uri}>;expires={left}"));
        }
        r
    }

    /// Bindings that have not expired at `now`.
    pub fn live_bindings(&self, now: Instant) -> Vec<String> {
        let mut v: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(u, _)| u.clone())
            .collect();
        v.sort();
        v
    }
}

/// A datagram in flight.
struct Flight {
    at: Instant,
    seq: u64,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// The simulated world.
pub struct Sim {
    pub start: Instant,
    pub now: Instant,
    rng: StdRng,
    pub loss: f64,
    pub delay_ms: (u64, u64),
    /// When set, the UA sits behind a NAT with this public address.
    pub nat: Option<SocketAddr>,
    /// When false the server is "down": everything to it is lost.
    pub server_up: bool,
    flights: Vec<Flight>,
    seq: u64,
    pub ua: UserAgent,
    pub registrar: SimRegistrar,
    pub events: Vec<(Duration, UaEvent)>,
    /// Everything the UA sent: (time since start, destination, bytes).
    pub ua_sent: Vec<(Duration, SocketAddr, Vec<u8>)>,
}

impl Sim {
    pub fn new(seed: u64, cfg: UaConfig, behaviour: RegistrarBehaviour) -> Sim {
        let start = Instant::now();
        Sim {
            start,
            now: start,
            rng: StdRng::seed_from_u64(seed),
            loss: 0.0,
            delay_ms: (5, 30),
            nat: None,
            server_up: true,
            flights: Vec::new(),
            seq: 0,
            ua: UserAgent::new(cfg, seed.wrapping_mul(31).wrapping_add(7)),
            registrar: SimRegistrar::new(behaviour),
            events: Vec::new(),
            ua_sent: Vec::new(),
        }
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        if self.rng.random_bool(self.loss.clamp(0.0, 1.0)) {
            return;
        }
        let d = self.rng.random_range(self.delay_ms.0..=self.delay_ms.1);
        self.seq += 1;
        self.flights.push(Flight {
            at: self.now + Duration::from_millis(d),
            seq: self.seq,
            from,
            to,
            bytes,
        });
    }

    fn collect(&mut self) {
        while let Some(t) = self.ua.poll_transmit() {
            let elapsed = self.now - self.start;
            self.ua_sent.push((elapsed, t.dest.addr, t.bytes.clone()));
            let from = self.nat.unwrap_or(addr(UA_ADDR));
            self.send(from, t.dest.addr, t.bytes);
        }
        while let Some(t) = self.registrar.layer.poll_transmit() {
            self.send(addr(SRV_ADDR), t.dest.addr, t.bytes);
        }
        while let Some(ev) = self.ua.poll_event() {
            self.events.push((self.now - self.start, ev));
        }
    }

    /// Advances to the next thing that happens; false when nothing will ever happen.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.collect();
        let next_flight = self.flights.iter().map(|f| (f.at, f.seq)).min();
        let next_timer = [self.ua.poll_timeout(), self.registrar.layer.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let next = match (next_flight, next_timer) {
            (Some((f, _)), Some(t)) => f.min(t),
            (Some((f, _)), None) => f,
            (None, Some(t)) => t,
            (None, None) => return false,
        };
        if next > limit {
            self.now = limit;
            return false;
        }
        self.now = self.now.max(next);
        if let Some((at, seq)) = next_flight
            && at <= self.now
        {
            let i = self
                .flights
                .iter()
                .position(|f| f.seq == seq)
                .expect("flight");
            let f = self.flights.remove(i);
            let ua_public = self.nat.unwrap_or(addr(UA_ADDR));
            if f.to == addr(SRV_ADDR) {
                if self.server_up {
                    self.registrar.handle(self.now, f.from, &f.bytes);
                }
            } else if f.to == ua_public {
                let src = Destination {
                    transport: Transport::Udp,
                    addr: f.from,
                };
                self.ua.handle_datagram(self.now, src, &f.bytes);
            }
        }
        if next_timer.is_some_and(|t| t <= self.now) {
            self.ua.handle_timeout(self.now);
            self.registrar.layer.on_timeout(self.now);
        }
        self.collect();
        true
    }

    /// Runs until `pred` holds or `secs` of virtual time have passed; gives whether it held.
    pub fn run_until(&mut self, secs: u64, mut pred: impl FnMut(&Sim) -> bool) -> bool {
        let limit = self.now + Duration::from_secs(secs);
        loop {
            if pred(self) {
                return true;
            }
            if !self.step(limit) {
                return pred(self);
            }
        }
    }

    /// Runs `secs` of virtual time.
    pub fn run_for(&mut self, secs: u64) {
        self.run_until(secs, |_| false);
    }

    pub fn ua_start(&mut self) {
        self.ua.start(self.now);
        self.collect();
    }

    pub fn count(&self, pred: impl Fn(&UaEvent) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| pred(e)).count()
    }

    pub fn is_registered(&self) -> bool {
        matches!(
            self.events.iter().rev().find(|(_, e)| matches!(
                e,
                UaEvent::Registered { .. } | UaEvent::RegisterFailed { .. } | UaEvent::Unregistered
            )),
            Some((_, UaEvent::Registered { .. }))
        )
    }

    /// The REGISTER requests the UA sent (time, text).
    pub fn registers_sent(&self) -> Vec<(Duration, String)> {
        self.ua_sent
            .iter()
            .filter(|(_, _, b)| b.starts_with(b"REGISTER "))
            .map(|(t, _, b)| (*t, String::from_utf8_lossy(b).into_owned()))
            .collect()
    }
}
