//! The dialog identifiers and routing of RFC 3261 §12, shared by every dialog usage: a call's
//! INVITE dialog and a subscription's SUBSCRIBE/NOTIFY dialog build their in-dialog requests
//! and match the peer's requests the same way.

use super::headers::{CSeq, NameAddr, contact_uri};
use super::message::{Method, SipMessage};

/// The dialog identifiers and routing (RFC 3261 §12.1).
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    /// Our address (From on outgoing requests), without tag.
    pub local_uri: String,
    /// The peer's address (To on outgoing requests), without tag.
    pub remote_uri: String,
    /// Request-URI of in-dialog requests: the peer's Contact.
    pub remote_target: String,
    /// Route headers for in-dialog requests, in order.
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    pub remote_cseq: Option<u32>,
    /// Our Contact URI.
    pub contact: String,
}

impl Dialog {
    /// A new in-dialog request (BYE, re-INVITE) with the next CSeq; the UA adds Via.
    pub fn request(&mut self, method: Method) -> SipMessage {
        self.local_cseq = self.local_cseq.wrapping_add(1).max(1);
        self.request_with_cseq(method, self.local_cseq)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `cseq` (§13.2.2.4).
    pub fn ack(&self, cseq: u32) -> SipMessage {
        self.request_with_cseq(Method::Ack, cseq)
    }

    fn request_with_cseq(&self, method: Method, cseq: u32) -> SipMessage {
        let mut m = SipMessage::request(method.clone(), self.remote_target.clone());
        m.headers.push("Max-Forwards", "70");
        for r in &self.route_set {
            m.headers.push("Route", r.clone());
        }
        m.headers
            .push("From", format!("{};tag={}", self.local_uri, self.local_tag));
        let to = match &self.remote_tag {
            Some(t) => format!("{};tag={t}", self.remote_uri),
            None => self.remote_uri.clone(),
        };
        m.headers.push("To", to);
        m.headers.push("Call-ID", self.call_id.clone());
        m.headers.push("CSeq", format!("{cseq} {method}"));
        m.headers.push("Contact", format!("<{}>", self.contact));
        m
    }

    /// Completes the dialog from a 2xx to our INVITE (§12.1.2): the peer's tag, its Contact as
    /// remote target, the Record-Route in reverse as route set. Gives the INVITE's CSeq number,
    /// which the ACK repeats.
    pub fn confirm(&mut self, resp: &SipMessage) -> u32 {
        self.remote_tag = resp
            .headers
            .get("To")
            .and_then(|v| NameAddr::parse("To", v).ok())
            .and_then(|n| n.tag().map(str::to_string));
        self.refresh_target(resp);
        self.route_set = resp
            .headers
            .list("Record-Route")
            .into_iter()
            .rev()
            .collect();
        CSeq::of(resp).map(|c| c.seq).unwrap_or(1)
    }

    /// A target refresh (§12.2.2): the peer's message carries a new Contact, which becomes
    /// the remote target.
    pub fn refresh_target(&mut self, msg: &SipMessage) {
        if let Some(uri) = contact_uri(msg) {
            self.remote_target = uri;
        }
    }

    /// Whether an in-dialog request from the peer belongs to this dialog: same Call-ID, its
    /// From tag is our remote tag, its To tag is our local tag.
    pub fn matches_request(&self, req: &SipMessage) -> bool {
        let tag = |h: &str| {
            req.headers
                .get(h)
                .and_then(|v| NameAddr::parse("From", v).ok())
                .and_then(|n| n.tag().map(str::to_string))
        };
        req.headers.get("Call-ID") == Some(self.call_id.as_str())
            && tag("To").as_deref() == Some(self.local_tag.as_str())
            && tag("From") == self.remote_tag
    }
}
