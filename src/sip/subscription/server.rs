//! The notifier side of one RFC 6665 subscription, sans-IO: a watcher's SUBSCRIBE accepted
//! makes a dialog (our To tag, its From tag, its Contact as target, its Record-Route as route
//! set); refreshes and Expires 0 arrive in that dialog; every NOTIFY we send carries the
//! remaining lifetime, or `terminated` with a reason when the subscription ends (expired, the
//! watcher left, we refused it). Peer-to-peer presence is served with it when there is no
//! presence server in between.

use crate::sip::dialog::Dialog;
use crate::sip::headers::{CSeq, NameAddr, contact_uri, parse_u32};
use crate::sip::message::{Method, SipMessage};
use std::time::{Duration, Instant};

/// The shortest subscription we take (RFC 6665 §4.2.1.1: a 423 asks for more).
pub const MIN_EXPIRES: u32 = 60;

/// Where the subscription stands, as the watcher is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// Waiting for the user's word: NOTIFYs say `pending` and carry nothing.
    Pending,
    /// Allowed: NOTIFYs carry the state.
    Active,
}

/// One watcher's subscription to us.
#[derive(Debug, Clone)]
pub struct ServerSubscription {
    dialog: Dialog,
    event: &'static str,
    /// The watcher as it named itself (From URI).
    watcher: String,
    authorization: Authorization,
    expires_at: Instant,
}

/// Why a SUBSCRIBE is not taken: the status and reason to answer.
pub type Refusal = (u16, &'static str);

/// The Expires a SUBSCRIBE asks for, capped at `max` (3600 when it names none, the usual
/// package default); a 423 for less than [`MIN_EXPIRES`] (0 is an unsubscribe or a fetch).
fn asked_expires(req: &SipMessage, max: u32) -> Result<u32, Refusal> {
    let asked = match req.headers.get("Expires") {
        Some(v) => parse_u32("Expires", v).map_err(|_| (400, "Bad Request (Expires)"))?,
        None => 3600,
    };
    if asked != 0 && asked < MIN_EXPIRES {
        return Err((423, "Interval Too Brief"));
    }
    Ok(asked.min(max.max(MIN_EXPIRES)))
}

impl ServerSubscription {
    /// Takes a new (out-of-dialog) SUBSCRIBE for `event`: the subscription and the Expires
    /// granted, or the refusal. `local_tag` is the To tag our answer carries; `contact` our
    /// Contact URI.
    pub fn accept(
        now: Instant,
        req: &SipMessage,
        event: &'static str,
        (local_tag, contact): (&str, &str),
        max_expires: u32,
        authorization: Authorization,
    ) -> Result<(ServerSubscription, u32), Refusal> {
        let expires = asked_expires(req, max_expires)?;
        let from = req
            .headers
            .get("From")
            .and_then(|v| NameAddr::parse("From", v).ok())
            .ok_or((400, "Bad Request (From)"))?;
        let remote_tag = from
            .tag()
            .map(str::to_string)
            .ok_or((400, "Bad Request (From without tag)"))?;
        let to = req
            .headers
            .get("To")
            .and_then(|v| NameAddr::parse("To", v).ok())
            .ok_or((400, "Bad Request (To)"))?;
        let target = contact_uri(req).ok_or((400, "Bad Request (no Contact)"))?;
        let call_id = req
            .headers
            .get("Call-ID")
            .ok_or((400, "Bad Request"))?
            .to_string();
        let cseq = CSeq::of(req).map(|c| c.seq).ok_or((400, "Bad Request"))?;
        let dialog = Dialog {
            call_id,
            local_tag: local_tag.to_string(),
            remote_tag: Some(remote_tag),
            local_uri: format!("<{}>", to.uri),
            remote_uri: format!("<{}>", from.uri),
            remote_target: target,
            // As the UAS of the dialog: the Record-Route as it came (§12.1.1).
            route_set: req.headers.list("Record-Route"),
            local_cseq: 0,
            remote_cseq: Some(cseq),
            contact: contact.to_string(),
        };
        Ok((
            ServerSubscription {
                dialog,
                event,
                watcher: from.uri.to_string(),
                authorization,
                expires_at: now + Duration::from_secs(u64::from(expires)),
            },
            expires,
        ))
    }

    /// The watcher (its From URI).
    pub fn watcher(&self) -> &str {
        &self.watcher
    }

    /// Whether it waits for the user's word.
    pub fn authorization(&self) -> Authorization {
        self.authorization
    }

    /// Whether an in-dialog request (a refresh, or the watcher's answer to our NOTIFY's
    /// dialog) belongs to this subscription.
    pub fn matches(&self, req: &SipMessage) -> bool {
        self.dialog.matches_request(req)
    }

    /// A refresh in the dialog: the Expires granted (0: the watcher leaves; the final NOTIFY
    /// follows from [`Self::notify`] with `terminated`), or the refusal.
    pub fn refresh(&mut self, now: Instant, req: &SipMessage, max: u32) -> Result<u32, Refusal> {
        let cseq = CSeq::of(req).map(|c| c.seq).ok_or((400, "Bad Request"))?;
        if self.dialog.remote_cseq.is_some_and(|last| cseq <= last) {
            return Err((500, "Server Internal Error (out of order)"));
        }
        let expires = asked_expires(req, max)?;
        self.dialog.remote_cseq = Some(cseq);
        self.dialog.refresh_target(req);
        self.expires_at = now + Duration::from_secs(u64::from(expires));
        Ok(expires)
    }

    /// The user decided: allowed or not.
    pub fn authorize(&mut self, authorization: Authorization) {
        self.authorization = authorization;
    }

    /// Whether the subscription has run out at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at <= now
    }

    /// When it runs out.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// A NOTIFY in the dialog: with `ending` (a reason: `timeout`, `rejected`, `noresource`)
    /// the last one, `terminated`; otherwise `active` (with `body` as `content_type`) or
    /// `pending` (with no body), and the seconds left. The UA adds Via.
    pub fn notify(
        &mut self,
        now: Instant,
        ending: Option<&str>,
        (content_type, body): (&str, &str),
    ) -> SipMessage {
        let mut req = self.dialog.request(Method::Notify);
        req.headers.push("Event", self.event);
        let left = self.expires_at.saturating_duration_since(now).as_secs();
        let state = match (ending, self.authorization) {
            (Some(reason), _) => format!("terminated;reason={reason}"),
            (None, Authorization::Active) => format!("active;expires={left}"),
            (None, Authorization::Pending) => format!("pending;expires={left}"),
        };
        req.headers.push("Subscription-State", state);
        let carries = self.authorization == Authorization::Active
            && !matches!(ending, Some("rejected"))
            && !body.is_empty();
        if carries {
            req.headers.push("Content-Type", content_type);
            req.body = body.as_bytes().to_vec();
        }
        req
    }
}
