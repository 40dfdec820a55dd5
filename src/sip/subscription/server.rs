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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse::parse_message;

    fn subscribe(expires: &str, cseq: u32, to_tag: &str) -> SipMessage {
        let text = format!(
            "SUBSCRIBE sip:1001@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK{cseq}\r\n\
             From: <sip:1002@10.0.0.2>;tag=w1\r\nTo: <sip:1001@10.0.0.1>{to_tag}\r\nCall-ID: s1\r\n\
             CSeq: {cseq} SUBSCRIBE\r\nContact: <sip:1002@10.0.0.2:5062>\r\nEvent: presence\r\n\
             {expires}Content-Length: 0\r\n\r\n"
        );
        parse_message(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn accepts_notifies_refreshes_and_ends() {
        let t0 = Instant::now();
        let req = subscribe("Expires: 600\r\n", 1, "");
        let (mut s, granted) = ServerSubscription::accept(
            t0,
            &req,
            "presence",
            ("me1", "sip:1001@10.0.0.1:5060"),
            3600,
            Authorization::Active,
        )
        .expect("accepted");
        assert_eq!(granted, 600);
        assert_eq!(s.watcher(), "sip:1002@10.0.0.2");
        let n = s.notify(
            t0 + Duration::from_secs(100),
            None,
            ("application/pidf+xml", "<x/>"),
        );
        assert_eq!(n.request_uri(), Some("sip:1002@10.0.0.2:5062"));
        assert_eq!(
            n.headers.get("Subscription-State"),
            Some("active;expires=500")
        );
        assert!(n.headers.get("To").is_some_and(|t| t.ends_with("tag=w1")));
        assert!(
            n.headers
                .get("From")
                .is_some_and(|t| t.ends_with("tag=me1"))
        );
        assert_eq!(n.body, b"<x/>");
        assert_eq!(n.headers.get_all("Max-Forwards").count(), 1);
        // The refresh in the dialog, then the watcher leaves.
        let refresh = subscribe("Expires: 7200\r\n", 2, ";tag=me1");
        assert!(s.matches(&refresh));
        assert_eq!(s.refresh(t0, &refresh, 3600), Ok(3600));
        assert_eq!(
            s.refresh(t0, &refresh, 3600),
            Err((500, "Server Internal Error (out of order)"))
        );
        let leave = subscribe("Expires: 0\r\n", 3, ";tag=me1");
        assert_eq!(s.refresh(t0, &leave, 3600), Ok(0));
        assert!(s.expired(t0));
        let last = s.notify(t0, Some("timeout"), ("application/pidf+xml", "<x/>"));
        assert_eq!(
            last.headers.get("Subscription-State"),
            Some("terminated;reason=timeout")
        );
    }

    #[test]
    fn pending_says_nothing_and_bad_requests_are_refused() {
        let t0 = Instant::now();
        let (mut s, _) = ServerSubscription::accept(
            t0,
            &subscribe("", 1, ""),
            "presence",
            ("me1", "sip:1001@10.0.0.1"),
            3600,
            Authorization::Pending,
        )
        .expect("accepted");
        let n = s.notify(t0, None, ("application/pidf+xml", "<x/>"));
        assert_eq!(
            n.headers.get("Subscription-State"),
            Some("pending;expires=3600")
        );
        assert!(n.body.is_empty(), "a pending watcher learns nothing");
        let short = ServerSubscription::accept(
            t0,
            &subscribe("Expires: 10\r\n", 1, ""),
            "presence",
            ("me1", "sip:1001@10.0.0.1"),
            3600,
            Authorization::Active,
        );
        assert_eq!(short.err(), Some((423, "Interval Too Brief")));
        let mut no_contact = subscribe("", 1, "");
        no_contact.headers.remove("Contact");
        let r = ServerSubscription::accept(
            t0,
            &no_contact,
            "presence",
            ("me1", "sip:1001@10.0.0.1"),
            3600,
            Authorization::Active,
        );
        assert_eq!(r.err(), Some((400, "Bad Request (no Contact)")));
    }
}
