//! Registration (RFC 3261 §10) as a sans-IO state machine: builds each REGISTER (without the
//! Via, which the UA adds with its branch), answers 401/407 challenges, follows 423
//! Min-Expires, refreshes before expiry, retries with back-off after failures, unregisters.

use super::client_auth::ClientAuth;
use super::digest::Credentials;
use super::headers::{NameAddr, parse_u32};
use super::message::{Method, SipMessage};
use super::random_token;
use rand::Rng;
use rand::rngs::StdRng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How the server's granted expiry is treated (`acceptexpires`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptExpires {
    /// 0: refresh on our own interval whatever the server says.
    Ignore,
    /// 1: follow the server when it grants less than we asked (the default).
    Shorter,
    /// 2: always follow the server, longer values too.
    Always,
}

/// The fixed inputs of a registration.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// The user part of our address of record (`username`).
    pub user: String,
    /// The registrar domain, `host[:port]` (`serveraddress`).
    pub domain: String,
    pub display_name: Option<String>,
    pub credentials: Credentials,
    /// `registerinterval`: REGISTER is refreshed at this interval (seconds).
    pub interval: u32,
    pub accept_expires: AcceptExpires,
    /// First retry delay after a failure; doubles per failure up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Headers added to every REGISTER (User-Agent, Allow, Supported).
    pub extra_headers: Vec<(String, String)>,
}

impl RegistrationConfig {
    /// The Expires we ask for: `registerinterval*2+10`, so one lost refresh is survived.
    pub fn requested_expires(&self) -> u32 {
        self.interval.saturating_mul(2).saturating_add(10)
    }
}

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegState {
    Idle,
    Registering,
    Registered,
    Unregistering,
    Failed,
}

/// What the registration tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegOutput {
    /// Send this REGISTER (the UA adds Via and Route).
    Send(SipMessage),
    /// A REGISTER went out for a new registration attempt (not for an auth retry).
    Registering,
    /// The binding is in place for `expires` seconds.
    Registered { expires: u32 },
    /// The attempt failed; another follows in `retry_in` unless the user stopped it.
    Failed {
        code: u16,
        reason: String,
        retry_in: Option<Duration>,
    },
    /// The binding was removed (or the unregister attempt ended).
    Unregistered,
}

/// One account's registration.
#[derive(Debug)]
pub struct Registration {
    cfg: RegistrationConfig,
    rng: StdRng,
    state: RegState,
    call_id: String,
    from_tag: String,
    cseq: u32,
    contact: String,
    /// A previous contact to remove with the next REGISTER (after the public address changed).
    stale_contact: Option<String>,
    /// The contact changed while a REGISTER with the old one was in flight: rebind after it.
    rebind_after_response: bool,
    expires: u32,
    /// The digest challenge our REGISTERs answer (nonce count, rejected credentials).
    auth: ClientAuth,
    /// Consecutive failed attempts, for the back-off.
    failures: u32,
    timer: Option<Instant>,
    out: VecDeque<RegOutput>,
}

impl Registration {
    /// A registration that has not started; `contact` is the URI to bind.
    pub fn new(cfg: RegistrationConfig, contact: String, mut rng: StdRng) -> Registration {
        let call_id = random_token(&mut rng, 24);
        let from_tag = random_token(&mut rng, 12);
        let cseq = rng.random_range(1..10_000);
        let expires = cfg.requested_expires();
        Registration {
            cfg,
            rng,
            state: RegState::Idle,
            call_id,
            from_tag,
            cseq,
            contact,
            stale_contact: None,
            rebind_after_response: false,
            expires,
            auth: ClientAuth::default(),
            failures: 0,
            timer: None,
            out: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> RegState {
        self.state
    }

    /// The Call-ID used for every REGISTER of this binding (RFC 3261 §10.2).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The contact URI currently bound.
    pub fn contact(&self) -> &str {
        &self.contact
    }

    /// Starts (or restarts) registering now.
    pub fn register(&mut self) {
        self.failures = 0;
        self.auth.start_afresh();
        self.state = RegState::Registering;
        self.expires = self.cfg.requested_expires();
        self.out.push_back(RegOutput::Registering);
        self.send(self.expires);
    }

    /// Removes the binding. Gives `false` when there is nothing to remove.
    pub fn unregister(&mut self) -> bool {
        self.timer = None;
        match self.state {
            RegState::Registered | RegState::Registering => {
                self.state = RegState::Unregistering;
                self.send(0);
                true
            }
            _ => {
                self.state = RegState::Idle;
                false
            }
        }
    }

    /// The public address was learned (rport/received): bind the new contact, drop the old one.
    pub fn update_contact(&mut self, now: Instant, contact: String) {
        if contact == self.contact {
            return;
        }
        let old = std::mem::replace(&mut self.contact, contact);
        match self.state {
            RegState::Registered => {
                self.stale_contact = Some(old);
                self.timer = Some(now);
            }
            RegState::Registering => {
                self.stale_contact = Some(old);
                self.rebind_after_response = true;
            }
            _ => {}
        }
    }

    fn send(&mut self, expires: u32) {
        self.cseq = self.cseq.wrapping_add(1).max(1);
        let uri = format!("sip:{}", self.cfg.domain);
        let mut m = SipMessage::request(Method::Register, uri.clone());
        let aor = format!("<sip:{}@{}>", self.cfg.user, self.cfg.domain);
        let from = match &self.cfg.display_name {
            Some(d) if !d.is_empty() => {
                format!("\"{}\" {aor}", d.replace('\\', "\\\\").replace('"', "\\\""))
            }
            _ => aor.clone(),
        };
        m.headers.push("Max-Forwards", "70");
        m.headers
            .push("From", format!("{from};tag={}", self.from_tag));
        m.headers.push("To", from);
        m.headers.push("Call-ID", self.call_id.clone());
        m.headers.push("CSeq", format!("{} REGISTER", self.cseq));
        let mut contact = format!("<{}>", self.contact);
        if let Some(old) = self.stale_contact.take() {
            contact = format!("<{old}>;expires=0, {contact}");
            self.rebind_after_response = false;
        }
        m.headers.push("Contact", contact);
        m.headers.push("Expires", expires.to_string());
        for (k, v) in &self.cfg.extra_headers {
            m.headers.push(k, v.clone());
        }
        let cnonce = random_token(&mut self.rng, 16);
        if let Some((name, value)) =
            self.auth
                .authorize(&self.cfg.credentials, "REGISTER", &uri, &m.body, &cnonce)
        {
            m.headers.push(name, value);
        }
        self.timer = None;
        self.out.push_back(RegOutput::Send(m));
    }

    /// The final or provisional response to our REGISTER.
    pub fn on_response(&mut self, now: Instant, resp: &SipMessage) {
        let code = resp.status().unwrap_or(0);
        if code < 200 || matches!(self.state, RegState::Idle | RegState::Failed) {
            return;
        }
        if self.state == RegState::Unregistering {
            if (code == 401 || code == 407)
                && self.auth.on_challenge(resp, &self.cfg.credentials).is_ok()
            {
                self.send(0);
                return;
            }
            self.finish_unregister();
            return;
        }
        match code {
            200..=299 => {
                let granted = self.granted_expires(resp);
                self.failures = 0;
                self.auth.start_afresh();
                self.state = RegState::Registered;
                let refresh = Duration::from_secs(u64::from(
                    self.cfg.interval.min(granted.saturating_mul(3) / 4).max(1),
                ));
                self.timer = Some(now + refresh);
                if std::mem::take(&mut self.rebind_after_response) {
                    self.timer = Some(now);
                }
                self.out
                    .push_back(RegOutput::Registered { expires: granted });
            }
            401 | 407 => {
                if let Err(why) = self.auth.on_challenge(resp, &self.cfg.credentials) {
                    self.fail(now, code, resp.reason(), &why.to_string());
                } else {
                    self.send(self.expires);
                }
            }
            423 => {
                let min = resp
                    .headers
                    .get("Min-Expires")
                    .and_then(|v| parse_u32("Min-Expires", v).ok());
                match min {
                    Some(m) if m > self.expires => {
                        self.expires = m;
                        self.send(m);
                    }
                    _ => self.fail(now, code, resp.reason(), "no usable Min-Expires"),
                }
            }
            _ => {
                let detail = match resp.headers.get("Retry-After") {
                    Some(_) => "server asked to retry later",
                    None => "",
                };
                self.fail(now, code, resp.reason(), detail);
                if let Some(after) = resp
                    .headers
                    .get("Retry-After")
                    .and_then(|v| v.split([';', ' ']).next())
                    .and_then(|v| parse_u32("Retry-After", v).ok())
                {
                    self.timer = Some(now + Duration::from_secs(u64::from(after.max(1))));
                }
            }
        }
    }

    /// The expiry the server granted to our contact, filtered by `acceptexpires`.
    fn granted_expires(&self, resp: &SipMessage) -> u32 {
        let header = resp
            .headers
            .get("Expires")
            .and_then(|v| parse_u32("Expires", v).ok());
        let ours = resp
            .headers
            .list("Contact")
            .iter()
            .filter_map(|c| NameAddr::parse("Contact", c).ok())
            .find(|c| contact_matches(&c.uri.to_string(), &self.contact))
            .and_then(|c| {
                c.params
                    .value("expires")
                    .and_then(|v| v.parse::<u32>().ok())
            });
        let server = ours.or(header).unwrap_or(self.expires);
        match self.cfg.accept_expires {
            AcceptExpires::Ignore => self.expires,
            AcceptExpires::Shorter => server.min(self.expires),
            AcceptExpires::Always => server,
        }
        .max(1)
    }

    fn fail(&mut self, now: Instant, code: u16, reason: &str, detail: &str) {
        self.failures += 1;
        self.state = RegState::Failed;
        self.auth = ClientAuth::default();
        let shift = (self.failures - 1).min(16);
        let delay = self
            .cfg
            .retry_base
            .saturating_mul(1 << shift)
            .min(self.cfg.retry_max);
        self.timer = Some(now + delay);
        let reason = if detail.is_empty() {
            reason.to_string()
        } else {
            format!("{reason} ({detail})")
        };
        self.out.push_back(RegOutput::Failed {
            code,
            reason,
            retry_in: Some(delay),
        });
    }

    fn finish_unregister(&mut self) {
        self.state = RegState::Idle;
        self.timer = None;
        self.auth = ClientAuth::default();
        self.out.push_back(RegOutput::Unregistered);
    }

    /// The REGISTER transaction timed out (timer F) or its transport failed.
    pub fn on_no_response(&mut self, now: Instant, code: u16, reason: &str) {
        match self.state {
            RegState::Unregistering => self.finish_unregister(),
            RegState::Registering | RegState::Registered => self.fail(now, code, reason, ""),
            _ => {}
        }
    }

    /// Fires the refresh or retry timer.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.timer.is_none_or(|t| t > now) {
            return;
        }
        self.timer = None;
        match self.state {
            RegState::Registered => {
                self.auth.start_afresh();
                self.expires = self.cfg.requested_expires().max(self.expires);
                self.send(self.expires);
            }
            RegState::Failed => {
                let failures = self.failures;
                self.register();
                self.failures = failures;
            }
            _ => {}
        }
    }

    /// The refresh or retry instant.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// Takes the next output.
    pub fn poll_output(&mut self) -> Option<RegOutput> {
        self.out.pop_front()
    }
}

/// Whether a Contact URI from a 200 is ours: same user, host and port (parameters aside).
fn contact_matches(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.split(';').next().unwrap_or("").to_ascii_lowercase();
    strip(a) == strip(b)
}
