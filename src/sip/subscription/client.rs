//! The subscriber side of one RFC 6665 subscription, sans-IO: it sends the SUBSCRIBE (and
//! answers its 401/407), builds the dialog from the 2xx or from the first NOTIFY (whichever
//! comes first, §4.1.2.4), answers NOTIFYs, follows `Subscription-State`, refreshes before the
//! subscription runs out, and starts over when the notifier lost it (a 481 to a refresh after a
//! server restart, `terminated;reason=deactivated|timeout`, an expiry with no refresh answered).
//! Failures are retried with a doubling back-off (or the notifier's `retry-after`); a
//! notifier that says `rejected`, `noresource` or `invariant`, or a server that answers 403,
//! 404, 405, 489, 501 or 603 (it does not offer the package or the resource), is not asked
//! again.
//!
//! The UA routes to it: the responses to the SUBSCRIBEs it owns, and the NOTIFYs whose Call-ID
//! and To tag are this subscription's ([`ClientSubscription::matches`]). NOTIFYs from a second
//! fork of the SUBSCRIBE get 481, which ends that fork's subscription (§4.2.2); one dialog per
//! subscription is what every package here needs.

use crate::sip::client_auth::ClientAuth;
use crate::sip::dialog::Dialog;
use crate::sip::digest::Credentials;
use crate::sip::headers::{
    CSeq, NameAddr, event_package, media_type, parse_header_params, parse_u32,
};
use crate::sip::message::{Method, SipMessage};
use crate::sip::random_token;
use rand::Rng;
use rand::rngs::StdRng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What one subscription subscribes to, and how.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// The event package (`message-summary`, `presence`, `dialog`).
    pub event: &'static str,
    /// The body types we take (`Accept`).
    pub accept: &'static str,
    /// The resource: Request-URI and To of the first SUBSCRIBE.
    pub target: String,
    /// Our address of record (From).
    pub local_uri: String,
    /// Our Contact URI.
    pub contact: String,
    /// The Expires we ask for, seconds; 0 fetches the state (RFC 6665 §4.1.2.5), again every
    /// `poll_every`: polling instead of a standing subscription.
    pub expires: u32,
    pub poll_every: Duration,
    pub credentials: Credentials,
    /// Headers every SUBSCRIBE carries (User-Agent, Allow).
    pub extra_headers: Vec<(String, String)>,
    /// First retry delay after a failure; doubles per failure up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

/// What the notifier says of the subscription, as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubStatus {
    /// The notifier has it but has not authorised it yet (`pending`: a presentity that has not
    /// said yes to us).
    Pending,
    /// Authorised: NOTIFYs carry the resource's state.
    Active,
    /// A SUBSCRIBE failed (final error or no response); another follows in `retry_in`.
    Failed {
        code: u16,
        reason: String,
        retry_in: Option<Duration>,
    },
    /// Over: ended by us, or by the notifier for good (`rejected`, `noresource`, ...).
    Ended { reason: String },
}

/// What the subscription hands its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubOutput {
    /// Send this SUBSCRIBE (the UA adds Via, and the outbound proxy's Route when the request
    /// has no route set).
    Send(SipMessage),
    /// The status changed.
    Status(SubStatus),
    /// A NOTIFY carried the resource's state.
    Content { content_type: String, body: Vec<u8> },
}

/// The notifier's state of the subscription, from its last word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notifier {
    /// No NOTIFY yet.
    Unknown,
    Pending,
    Active,
}

/// Where the subscription stands; each phase carries what it needs.
#[derive(Debug, Clone)]
enum Phase {
    Idle,
    /// The first SUBSCRIBE of a new subscription is out; no dialog yet.
    Trying,
    /// A dialog exists. `expires_at`: when the notifier drops it unless refreshed;
    /// `refreshing`: a refresh SUBSCRIBE is out.
    Established {
        dialog: Box<Dialog>,
        notifier: Notifier,
        expires_at: Instant,
        refreshing: bool,
    },
    /// The user ended it: the SUBSCRIBE with Expires 0 is out.
    Ending,
    /// Waiting to subscribe again at `until` (after a failure or a termination).
    Waiting {
        until: Instant,
    },
    /// Over; nothing more is sent.
    Ended,
}

/// One subscription, subscriber side.
#[derive(Debug)]
pub struct ClientSubscription {
    cfg: SubscriptionConfig,
    rng: StdRng,
    phase: Phase,
    call_id: String,
    local_tag: String,
    cseq: u32,
    /// The SUBSCRIBE in flight as built (without Via), resent with a new CSeq after a challenge.
    in_flight: Option<SipMessage>,
    auth: ClientAuth,
    /// Failures in a row, for the back-off.
    failures: u32,
    /// When the refresh is due (Established) — the phase's other deadlines are in the phase.
    refresh_at: Option<Instant>,
    out: VecDeque<SubOutput>,
}

/// The seconds before expiry at which a refresh goes out: early enough for a retransmitted
/// SUBSCRIBE and its challenge to finish, late enough not to double the traffic.
fn refresh_delay(expires: u32) -> Duration {
    Duration::from_secs(u64::from(if expires > 64 {
        expires - 32
    } else {
        expires / 2
    }))
}

/// The reasons of `terminated` after which the notifier may be asked again (RFC 6665 §4.1.3):
/// at once for `deactivated` and `timeout`, after `retry-after` for `probation` and
/// `giveup`. `rejected`, `noresource` and `invariant` mean never.
fn retry_after_termination(reason: Option<&str>) -> Option<bool> {
    match reason.map(str::to_ascii_lowercase).as_deref() {
        Some("deactivated" | "timeout") => Some(true),
        Some("rejected" | "noresource" | "invariant") => None,
        _ => Some(false),
    }
}

impl ClientSubscription {
    /// A subscription that has not started.
    pub fn new(cfg: SubscriptionConfig, mut rng: StdRng) -> ClientSubscription {
        let call_id = random_token(&mut rng, 24);
        let local_tag = random_token(&mut rng, 12);
        let cseq = rng.random_range(1..10_000);
        ClientSubscription {
            cfg,
            rng,
            phase: Phase::Idle,
            call_id,
            local_tag,
            cseq,
            in_flight: None,
            auth: ClientAuth::default(),
            failures: 0,
            refresh_at: None,
            out: VecDeque::new(),
        }
    }

    /// The event package.
    pub fn event(&self) -> &'static str {
        self.cfg.event
    }

    /// The resource subscribed to.
    pub fn target(&self) -> &str {
        &self.cfg.target
    }

    /// Whether nothing more will happen (ended by us or for good by the notifier).
    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }

    /// Starts the subscription (or starts it over at once when it waits for a retry).
    pub fn subscribe(&mut self, now: Instant) {
        match self.phase {
            Phase::Idle | Phase::Waiting { .. } => self.start_new(now),
            _ => {}
        }
    }

    /// Ends the subscription: a SUBSCRIBE with Expires 0 in its dialog, or nothing when there
    /// is none. Returns whether a request went out (or is still out: asked again while the
    /// unsubscribe is under way, it carries on).
    pub fn unsubscribe(&mut self, _now: Instant) -> bool {
        let phase = std::mem::replace(&mut self.phase, Phase::Ending);
        self.refresh_at = None;
        match phase {
            // Already on its way out (a second Exit, a window close after a signal): the
            // unsubscribe in flight, or its challenge, still has to be answered.
            Phase::Ending => true,
            Phase::Established { mut dialog, .. } => {
                let req = self.in_dialog_subscribe(&mut dialog, 0);
                self.send(req);
                true
            }
            _ => {
                self.phase = Phase::Ended;
                self.in_flight = None;
                self.out.push_back(SubOutput::Status(SubStatus::Ended {
                    reason: "unsubscribed".into(),
                }));
                false
            }
        }
    }

    /// A new contact for us (the public address changed): the next refresh carries it.
    pub fn update_contact(&mut self, contact: String) {
        if let Phase::Established { dialog, .. } = &mut self.phase {
            dialog.contact = contact.clone();
        }
        self.cfg.contact = contact;
    }

    /// Whether a request from the network belongs to this subscription: a NOTIFY with our
    /// Call-ID whose To tag is ours.
    pub fn matches(&self, req: &SipMessage) -> bool {
        let to_tag = req
            .headers
            .get("To")
            .and_then(|v| NameAddr::parse("To", v).ok())
            .and_then(|n| n.tag().map(str::to_string));
        req.headers.get("Call-ID") == Some(self.call_id.as_str())
            && to_tag.as_deref() == Some(self.local_tag.as_str())
    }

    fn start_new(&mut self, now: Instant) {
        // A new subscription is a new dialog: new Call-ID and tag, so a notifier that still
        // holds the old one cannot mix the two (RFC 6665 §4.1.2.4).
        self.call_id = random_token(&mut self.rng, 24);
        self.local_tag = random_token(&mut self.rng, 12);
        self.auth = ClientAuth::default();
        self.refresh_at = None;
        self.cseq = self.cseq.wrapping_add(1).max(1);
        let mut req = SipMessage::request(Method::Subscribe, self.cfg.target.clone());
        req.headers.push("Max-Forwards", "70");
        req.headers.push(
            "From",
            format!("<{}>;tag={}", self.cfg.local_uri, self.local_tag),
        );
        req.headers.push("To", format!("<{}>", self.cfg.target));
        req.headers.push("Call-ID", self.call_id.clone());
        req.headers.push("CSeq", format!("{} SUBSCRIBE", self.cseq));
        req.headers
            .push("Contact", format!("<{}>", self.cfg.contact));
        self.finish_subscribe(&mut req, self.cfg.expires);
        self.phase = Phase::Trying;
        let _ = now;
        self.send(req);
    }

    /// A refresh (or, with `expires` 0, the end) of the subscription in its dialog.
    fn in_dialog_subscribe(&mut self, dialog: &mut Dialog, expires: u32) -> SipMessage {
        dialog.local_cseq = self.cseq;
        let mut req = dialog.request(Method::Subscribe);
        self.cseq = dialog.local_cseq;
        self.finish_subscribe(&mut req, expires);
        req
    }

    fn finish_subscribe(&self, req: &mut SipMessage, expires: u32) {
        req.headers.push("Event", self.cfg.event);
        req.headers.push("Accept", self.cfg.accept);
        req.headers.push("Expires", expires.to_string());
        for (name, value) in &self.cfg.extra_headers {
            req.headers.push(name, value.clone());
        }
    }

    fn send(&mut self, req: SipMessage) {
        self.in_flight = Some(req.clone());
        self.out.push_back(SubOutput::Send(req));
    }

    /// The final (or provisional) response to our SUBSCRIBE.
    pub fn on_response(&mut self, now: Instant, resp: &SipMessage) {
        let code = resp.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        let Some(sent) = self.in_flight.take() else {
            return;
        };
        if CSeq::of(resp).map(|c| c.seq) != CSeq::of(&sent).map(|c| c.seq) {
            // A late answer to a request we already gave up on.
            self.in_flight = Some(sent);
            return;
        }
        match code {
            200..=299 => self.accepted(now, resp),
            401 | 407 => {
                let cnonce = random_token(&mut self.rng, 16);
                let cseq = self.cseq.wrapping_add(1).max(1);
                match self
                    .auth
                    .retry(&sent, resp, &self.cfg.credentials, cseq, &cnonce)
                {
                    Ok(again) => {
                        self.cseq = cseq;
                        self.send(again);
                    }
                    Err(why) => {
                        self.fail(now, code, format!("{code} {} ({why})", resp.reason()), None)
                    }
                }
            }
            423 => {
                // Interval Too Brief: ask again for what the notifier takes.
                let min = resp
                    .headers
                    .get("Min-Expires")
                    .and_then(|v| parse_u32("Min-Expires", v).ok())
                    .filter(|m| *m > self.cfg.expires && *m <= 86_400);
                match min {
                    Some(m) => {
                        self.cfg.expires = m;
                        self.start_new(now);
                    }
                    None => self.fail(now, code, format!("{code} {}", resp.reason()), None),
                }
            }
            // The notifier lost our subscription (restarted, or dropped it): start over.
            481 if matches!(self.phase, Phase::Established { .. }) => self.start_new(now),
            // The server does not offer the package, or the resource does not exist: asking
            // again would only repeat the answer.
            403 | 404 | 405 | 489 | 501 | 603 => {
                self.phase = Phase::Ended;
                self.refresh_at = None;
                self.out.push_back(SubOutput::Status(SubStatus::Ended {
                    reason: format!("{code} {}", resp.reason()),
                }));
            }
            _ => {
                let retry_after = resp
                    .headers
                    .get("Retry-After")
                    .and_then(|v| v.split([';', '(']).next())
                    .and_then(|v| parse_u32("Retry-After", v.trim()).ok())
                    .map(|s| Duration::from_secs(u64::from(s.min(86_400))));
                self.fail(now, code, format!("{code} {}", resp.reason()), retry_after);
            }
        }
    }

    /// A 2xx: the dialog from it (unless a NOTIFY made it first), the granted expiry.
    fn accepted(&mut self, now: Instant, resp: &SipMessage) {
        self.failures = 0;
        self.auth.start_afresh();
        if matches!(self.phase, Phase::Ending) {
            self.phase = Phase::Ended;
            self.out.push_back(SubOutput::Status(SubStatus::Ended {
                reason: "unsubscribed".into(),
            }));
            return;
        }
        let granted = resp
            .headers
            .get("Expires")
            .and_then(|v| parse_u32("Expires", v).ok())
            .unwrap_or(self.cfg.expires)
            .min(self.cfg.expires.max(1));
        if self.cfg.expires == 0 {
            // A fetch: the one NOTIFY that follows says it all; the next fetch is a new one.
            if matches!(self.phase, Phase::Trying) {
                self.phase = Phase::Waiting {
                    until: now + self.cfg.poll_every,
                };
            }
            return;
        }
        match &mut self.phase {
            Phase::Established {
                expires_at,
                refreshing,
                ..
            } => {
                *expires_at = now + Duration::from_secs(u64::from(granted));
                *refreshing = false;
            }
            Phase::Trying => {
                let mut dialog = self.new_dialog();
                dialog.confirm(resp);
                self.phase = Phase::Established {
                    dialog: Box::new(dialog),
                    notifier: Notifier::Unknown,
                    expires_at: now + Duration::from_secs(u64::from(granted)),
                    refreshing: false,
                };
            }
            _ => return,
        }
        self.refresh_at = Some(now + refresh_delay(granted));
    }

    fn new_dialog(&self) -> Dialog {
        Dialog {
            call_id: self.call_id.clone(),
            local_tag: self.local_tag.clone(),
            remote_tag: None,
            local_uri: format!("<{}>", self.cfg.local_uri),
            remote_uri: format!("<{}>", self.cfg.target),
            remote_target: self.cfg.target.clone(),
            route_set: Vec::new(),
            local_cseq: self.cseq,
            remote_cseq: None,
            contact: self.cfg.contact.clone(),
        }
    }

    /// The SUBSCRIBE got no final response (Timer F, transport error).
    pub fn on_no_response(&mut self, now: Instant, code: u16, reason: &str) {
        if self.in_flight.take().is_none() {
            return;
        }
        if matches!(self.phase, Phase::Ending) {
            self.phase = Phase::Ended;
            self.out.push_back(SubOutput::Status(SubStatus::Ended {
                reason: format!("unsubscribed ({reason})"),
            }));
            return;
        }
        self.fail(now, code, format!("{code} {reason}"), None);
    }

    /// The attempt failed: wait (the back-off, or `retry_after`) and subscribe anew.
    fn fail(&mut self, now: Instant, code: u16, reason: String, retry_after: Option<Duration>) {
        if matches!(self.phase, Phase::Ending) {
            self.phase = Phase::Ended;
            self.out
                .push_back(SubOutput::Status(SubStatus::Ended { reason }));
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let backoff = self
            .cfg
            .retry_base
            .saturating_mul(1 << self.failures.saturating_sub(1).min(16))
            .min(self.cfg.retry_max);
        let wait = retry_after.unwrap_or(backoff).max(Duration::from_secs(1));
        self.phase = Phase::Waiting { until: now + wait };
        self.refresh_at = None;
        self.out.push_back(SubOutput::Status(SubStatus::Failed {
            code,
            reason,
            retry_in: Some(wait),
        }));
    }

    /// A NOTIFY for this subscription ([`Self::matches`] said so): its status code and reason
    /// (200, or why it is refused); what it says is in the outputs.
    pub fn on_notify(&mut self, now: Instant, req: &SipMessage) -> (u16, &'static str) {
        if event_package(req) != self.cfg.event {
            return (489, "Bad Event");
        }
        let Some(state) = req.headers.get("Subscription-State") else {
            return (400, "Bad Request (no Subscription-State)");
        };
        let (value, params) = match state.find(';') {
            Some(i) => (&state[..i], &state[i..]),
            None => (state, ""),
        };
        let Ok(params) = parse_header_params("Subscription-State", params) else {
            return (400, "Bad Request (bad Subscription-State)");
        };
        let from_tag = req
            .headers
            .get("From")
            .and_then(|v| NameAddr::parse("From", v).ok())
            .and_then(|n| n.tag().map(str::to_string));
        let Some(from_tag) = from_tag else {
            return (400, "Bad Request (NOTIFY without From tag)");
        };
        let Some(cseq) = CSeq::of(req).map(|c| c.seq) else {
            return (400, "Bad Request");
        };
        // The dialog: the one we have (a NOTIFY from another fork is refused), or a new one
        // from this NOTIFY when it beat the 2xx (§4.1.2.4).
        match &mut self.phase {
            Phase::Established { dialog, .. } => {
                if dialog.remote_tag.as_deref() != Some(from_tag.as_str()) {
                    return (481, "Subscription Does Not Exist");
                }
                if dialog.remote_cseq.is_some_and(|last| cseq <= last) {
                    return (500, "Server Internal Error (out of order)");
                }
                dialog.remote_cseq = Some(cseq);
                dialog.refresh_target(req);
            }
            Phase::Trying | Phase::Ending => {
                if matches!(self.phase, Phase::Trying) {
                    let mut dialog = self.new_dialog();
                    dialog.remote_tag = Some(from_tag);
                    dialog.remote_cseq = Some(cseq);
                    dialog.refresh_target(req);
                    // The notifier's Record-Route, in order, is our route set (§12.1.1).
                    dialog.route_set = req.headers.list("Record-Route");
                    self.phase = Phase::Established {
                        dialog: Box::new(dialog),
                        notifier: Notifier::Unknown,
                        expires_at: now + Duration::from_secs(u64::from(self.cfg.expires)),
                        refreshing: self.in_flight.is_some(),
                    };
                }
            }
            // Waiting/Idle/Ended: an old dialog's NOTIFY (it was not ours any more).
            _ if self.cfg.expires == 0 => {}
            _ => return (481, "Subscription Does Not Exist"),
        }
        // An empty body is content too: "nothing to report" (a presentity that published
        // nothing); the package says what it means. The final NOTIFY of a subscription that
        // ends says nothing about the resource unless it has a body.
        let ending_notify = value.trim().eq_ignore_ascii_case("terminated");
        if !req.body.is_empty() || !ending_notify {
            let content_type = media_type(req);
            self.out.push_back(SubOutput::Content {
                content_type,
                body: req.body.clone(),
            });
        }
        let expires = params.value("expires").and_then(|v| v.parse::<u32>().ok());
        match value.trim().to_ascii_lowercase().as_str() {
            s @ ("active" | "pending") => {
                let now_state = if s == "active" {
                    Notifier::Active
                } else {
                    Notifier::Pending
                };
                if let Phase::Established {
                    notifier,
                    expires_at,
                    refreshing,
                    ..
                } = &mut self.phase
                {
                    if *notifier != now_state {
                        *notifier = now_state;
                        self.out.push_back(SubOutput::Status(if s == "active" {
                            SubStatus::Active
                        } else {
                            SubStatus::Pending
                        }));
                    }
                    // The notifier may shorten the subscription; we refresh in time for it.
                    if let Some(e) = expires {
                        let until = now + Duration::from_secs(u64::from(e));
                        if until < *expires_at {
                            *expires_at = until;
                        }
                        if !*refreshing {
                            self.refresh_at = Some(now + refresh_delay(e));
                        }
                    }
                }
            }
            "terminated" => {
                self.terminated(now, params.value("reason"), params.value("retry-after"))
            }
            // An unknown state is treated as pending (§4.1.3: extension values).
            _ => {}
        }
        (200, "OK")
    }

    /// The notifier ended the subscription; start over when its reason allows.
    fn terminated(&mut self, now: Instant, reason: Option<&str>, retry_after: Option<&str>) {
        let ending = matches!(self.phase, Phase::Ending);
        self.refresh_at = None;
        if ending {
            // Our own unsubscribe is done; its 2xx may still come.
            return;
        }
        if self.cfg.expires == 0 {
            // The fetch is done; the next one at the poll interval.
            self.in_flight = None;
            self.phase = Phase::Waiting {
                until: now + self.cfg.poll_every,
            };
            return;
        }
        let label = reason.unwrap_or("no reason").to_string();
        match retry_after_termination(reason) {
            None => {
                self.phase = Phase::Ended;
                self.in_flight = None;
                self.out.push_back(SubOutput::Status(SubStatus::Ended {
                    reason: format!("terminated by the notifier: {label}"),
                }));
            }
            Some(true) if retry_after.is_none() => {
                self.in_flight = None;
                self.start_new(now);
            }
            Some(_) => {
                let wait = retry_after
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(86_400)))
                    .unwrap_or(self.cfg.retry_base)
                    .max(Duration::from_secs(1));
                self.in_flight = None;
                self.phase = Phase::Waiting { until: now + wait };
                self.out.push_back(SubOutput::Status(SubStatus::Failed {
                    code: 0,
                    reason: format!("terminated by the notifier: {label}"),
                    retry_in: Some(wait),
                }));
            }
        }
    }

    /// Fires what is due: a refresh, a retry, or the expiry of a subscription whose refresh
    /// was never answered.
    pub fn on_timeout(&mut self, now: Instant) {
        match &self.phase {
            Phase::Waiting { until } if *until <= now => self.start_new(now),
            Phase::Established { expires_at, .. } if *expires_at <= now => {
                // Nobody answered our refresh in time: the notifier has dropped us; start over.
                self.in_flight = None;
                self.start_new(now);
            }
            Phase::Established { .. } if self.refresh_at.is_some_and(|t| t <= now) => {
                self.refresh_at = None;
                if self.in_flight.is_some() {
                    return;
                }
                let expires = self.cfg.expires;
                let Phase::Established {
                    mut dialog,
                    notifier,
                    expires_at,
                    ..
                } = std::mem::replace(&mut self.phase, Phase::Idle)
                else {
                    return;
                };
                let req = self.in_dialog_subscribe(&mut dialog, expires);
                self.phase = Phase::Established {
                    dialog,
                    notifier,
                    expires_at,
                    refreshing: true,
                };
                self.send(req);
            }
            _ => {}
        }
    }

    /// When [`Self::on_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Waiting { until } => Some(*until),
            Phase::Established { expires_at, .. } => {
                Some(self.refresh_at.map_or(*expires_at, |r| r.min(*expires_at)))
            }
            _ => None,
        }
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<SubOutput> {
        self.out.pop_front()
    }
}
