//! Publishing our own event state (RFC 3903 PUBLISH), sans-IO: the first PUBLISH carries the
//! document and gets an entity tag; refreshes before expiry carry only `SIP-If-Match`; a new
//! document modifies the publication under the same tag; `Expires: 0` removes it. A 412 (the
//! server forgot the tag, e.g. after a restart) publishes afresh; 401/407 are answered; 423
//! asks again with the server's minimum; other failures are retried with a doubling back-off.
//! Only one PUBLISH is in flight: a document changed meanwhile goes out when it is answered.

use super::client_auth::ClientAuth;
use super::digest::Credentials;
use super::headers::{CSeq, parse_u32};
use super::message::{Method, SipMessage};
use super::random_token;
use rand::Rng;
use rand::rngs::StdRng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What one publication publishes, and where.
#[derive(Debug, Clone)]
pub struct PublicationConfig {
    /// The event package (`presence`).
    pub event: &'static str,
    /// The body type of the documents.
    pub content_type: &'static str,
    /// Our address of record: Request-URI, From and To.
    pub aor: String,
    /// The lifetime asked for, seconds.
    pub expires: u32,
    pub credentials: Credentials,
    /// Headers every PUBLISH carries (User-Agent).
    pub extra_headers: Vec<(String, String)>,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

/// What the publication tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubOutput {
    /// Send this PUBLISH (the UA adds Via and Route).
    Send(SipMessage),
    /// The server holds our document now (for `expires` seconds).
    Published { expires: u32 },
    /// A PUBLISH failed; another try follows in `retry_in` unless `None`.
    Failed {
        code: u16,
        reason: String,
        retry_in: Option<Duration>,
    },
    /// The publication was removed (or removing it ended).
    Removed,
}

/// What the PUBLISH in flight is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    /// The document (initial, or a modification under the tag).
    Document,
    /// A refresh: the tag only.
    Refresh,
    /// Expires 0.
    Remove,
}

/// One publication.
#[derive(Debug)]
pub struct Publication {
    cfg: PublicationConfig,
    rng: StdRng,
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The document to hold at the server; `None` once removed.
    document: Option<String>,
    /// The server's entity tag for our publication.
    etag: Option<String>,
    /// The PUBLISH in flight, as built, and what it is for.
    in_flight: Option<(SipMessage, Sending)>,
    /// The document changed while a PUBLISH was in flight: send it after the answer.
    dirty: bool,
    auth: ClientAuth,
    failures: u32,
    /// The next refresh or retry.
    timer: Option<Instant>,
    out: VecDeque<PubOutput>,
}

impl Publication {
    /// A publication that has published nothing yet.
    pub fn new(cfg: PublicationConfig, mut rng: StdRng) -> Publication {
        let call_id = random_token(&mut rng, 24);
        let from_tag = random_token(&mut rng, 12);
        let cseq = rng.random_range(1..10_000);
        Publication {
            cfg,
            rng,
            call_id,
            from_tag,
            cseq,
            document: None,
            etag: None,
            in_flight: None,
            dirty: false,
            auth: ClientAuth::default(),
            failures: 0,
            timer: None,
            out: VecDeque::new(),
        }
    }

    /// Publishes `document` (a first publication or a change of it).
    pub fn publish(&mut self, document: String) {
        if self.document.as_deref() == Some(document.as_str()) && self.etag.is_some() {
            return;
        }
        self.document = Some(document);
        if self.in_flight.is_some() {
            self.dirty = true;
        } else {
            self.send(Sending::Document);
        }
    }

    /// Removes the publication (Expires 0). Returns whether a request went out.
    pub fn remove(&mut self) -> bool {
        self.document = None;
        self.dirty = false;
        self.timer = None;
        if self.etag.is_none() {
            self.in_flight = None;
            return false;
        }
        self.send(Sending::Remove);
        true
    }

    fn send(&mut self, what: Sending) {
        self.cseq = self.cseq.wrapping_add(1).max(1);
        let mut req = SipMessage::request(Method::Publish, self.cfg.aor.clone());
        req.headers.push("Max-Forwards", "70");
        req.headers
            .push("From", format!("<{}>;tag={}", self.cfg.aor, self.from_tag));
        req.headers.push("To", format!("<{}>", self.cfg.aor));
        req.headers.push("Call-ID", self.call_id.clone());
        req.headers.push("CSeq", format!("{} PUBLISH", self.cseq));
        req.headers.push("Event", self.cfg.event);
        let expires = if what == Sending::Remove {
            0
        } else {
            self.cfg.expires
        };
        req.headers.push("Expires", expires.to_string());
        if let Some(tag) = &self.etag {
            req.headers.push("SIP-If-Match", tag.clone());
        }
        for (name, value) in &self.cfg.extra_headers {
            req.headers.push(name, value.clone());
        }
        if what == Sending::Document
            && let Some(doc) = &self.document
        {
            req.headers.push("Content-Type", self.cfg.content_type);
            req.body = doc.as_bytes().to_vec();
        }
        self.in_flight = Some((req.clone(), what));
        self.out.push_back(PubOutput::Send(req));
    }

    /// The final response to our PUBLISH.
    pub fn on_response(&mut self, now: Instant, resp: &SipMessage) {
        let code = resp.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        let Some((sent, what)) = self.in_flight.take() else {
            return;
        };
        if CSeq::of(resp).map(|c| c.seq) != CSeq::of(&sent).map(|c| c.seq) {
            self.in_flight = Some((sent, what));
            return;
        }
        match code {
            200..=299 => {
                self.failures = 0;
                self.auth.start_afresh();
                if what == Sending::Remove {
                    self.etag = None;
                    self.out.push_back(PubOutput::Removed);
                    return;
                }
                if let Some(tag) = resp.headers.get("SIP-ETag") {
                    self.etag = Some(tag.trim().to_string());
                }
                let granted = resp
                    .headers
                    .get("Expires")
                    .and_then(|v| parse_u32("Expires", v).ok())
                    .unwrap_or(self.cfg.expires)
                    .clamp(1, self.cfg.expires.max(1));
                let refresh = if granted > 64 {
                    granted - 32
                } else {
                    granted / 2
                };
                self.timer = Some(now + Duration::from_secs(u64::from(refresh.max(1))));
                if self.dirty {
                    self.dirty = false;
                    self.send(Sending::Document);
                } else if what == Sending::Document {
                    self.out
                        .push_back(PubOutput::Published { expires: granted });
                }
            }
            401 | 407 => {
                let cnonce = random_token(&mut self.rng, 16);
                let cseq = self.cseq.wrapping_add(1).max(1);
                match self
                    .auth
                    .retry(&sent, resp, &self.cfg.credentials, cseq, &cnonce)
                {
                    Ok(again) => {
                        self.cseq = cseq;
                        self.in_flight = Some((again.clone(), what));
                        self.out.push_back(PubOutput::Send(again));
                    }
                    Err(why) => {
                        self.fail(now, what, code, format!("{code} {} ({why})", resp.reason()))
                    }
                }
            }
            // The server does not know our tag (it restarted, or the publication expired):
            // publish the document afresh.
            412 => {
                self.etag = None;
                if what == Sending::Remove {
                    self.out.push_back(PubOutput::Removed);
                } else if self.document.is_some() {
                    self.send(Sending::Document);
                }
            }
            423 => {
                let min = resp
                    .headers
                    .get("Min-Expires")
                    .and_then(|v| parse_u32("Min-Expires", v).ok())
                    .filter(|m| *m > self.cfg.expires && *m <= 86_400);
                match min {
                    Some(m) => {
                        self.cfg.expires = m;
                        self.send(what);
                    }
                    None => self.fail(now, what, code, format!("{code} {}", resp.reason())),
                }
            }
            _ => self.fail(now, what, code, format!("{code} {}", resp.reason())),
        }
    }

    /// The PUBLISH got no final response.
    pub fn on_no_response(&mut self, now: Instant, code: u16, reason: &str) {
        if let Some((_, what)) = self.in_flight.take() {
            self.fail(now, what, code, format!("{code} {reason}"));
        }
    }

    fn fail(&mut self, now: Instant, what: Sending, code: u16, reason: String) {
        if what == Sending::Remove || self.document.is_none() {
            self.etag = None;
            self.timer = None;
            self.out.push_back(PubOutput::Removed);
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let wait = self
            .cfg
            .retry_base
            .saturating_mul(1 << self.failures.saturating_sub(1).min(16))
            .min(self.cfg.retry_max)
            .max(Duration::from_secs(1));
        // The retry publishes the document afresh (a refresh that failed may mean the tag is
        // gone too).
        self.etag = None;
        self.timer = Some(now + wait);
        self.out.push_back(PubOutput::Failed {
            code,
            reason,
            retry_in: Some(wait),
        });
    }

    /// Fires a refresh or a retry when due.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.timer.is_none_or(|t| t > now) || self.in_flight.is_some() {
            return;
        }
        self.timer = None;
        if self.document.is_none() {
            return;
        }
        if self.etag.is_some() {
            self.send(Sending::Refresh);
        } else {
            self.send(Sending::Document);
        }
    }

    /// When [`Self::on_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<PubOutput> {
        self.out.pop_front()
    }
}
