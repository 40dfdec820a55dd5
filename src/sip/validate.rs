//! UAS request checks of RFC 3261 §8.2 that come before a method is processed: hop count,
//! method, URI scheme, required extensions. Each failure is the response to send.

use super::builder::response_to;
use super::message::{Method, SipMessage};
use super::uri::{Scheme, Uri};

/// Option tags (Require / Proxy-Require) this UA implements.
pub const SUPPORTED_EXTENSIONS: &[&str] = &["100rel", "timer", "replaces"];

/// Everything the UA recognises as a SIP method; the ones it does not implement get 405.
pub const KNOWN_METHODS: &[Method] = &[
    Method::Invite,
    Method::Ack,
    Method::Bye,
    Method::Cancel,
    Method::Options,
    Method::Register,
    Method::Info,
    Method::Message,
    Method::Notify,
    Method::Subscribe,
    Method::Refer,
    Method::Update,
    Method::Prack,
    Method::Publish,
];

/// Checks `req`; `None` when it may be processed, else the error response (with its Allow or
/// Unsupported header). `to_tag` is used for the To tag of the response.
pub fn check_request(req: &SipMessage, allowed: &[Method], to_tag: &str) -> Option<SipMessage> {
    let method = req.method()?;
    let lenient = matches!(method, Method::Ack | Method::Cancel);
    if method != &Method::Options
        && !lenient
        && req
            .headers
            .get("Max-Forwards")
            .is_some_and(|v| v.trim() == "0")
    {
        return Some(response_to(req, 483, None, Some(to_tag)));
    }
    if !allowed.contains(method) {
        let known = KNOWN_METHODS.contains(method);
        let mut r = response_to(req, if known { 405 } else { 501 }, None, Some(to_tag));
        r.headers.push("Allow", allow_header(allowed));
        return Some(r);
    }
    let uri = req.request_uri().and_then(|u| Uri::parse(u).ok())?;
    if !matches!(uri.scheme, Scheme::Sip | Scheme::Sips | Scheme::Tel) {
        return Some(response_to(req, 416, None, Some(to_tag)));
    }
    if lenient {
        return None;
    }
    let unsupported: Vec<String> = ["Require", "Proxy-Require"]
        .iter()
        .flat_map(|h| req.headers.list(h))
        .filter(|tag| {
            !SUPPORTED_EXTENSIONS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(tag))
        })
        .collect();
    if !unsupported.is_empty() {
        let mut r = response_to(req, 420, None, Some(to_tag));
        r.headers.push("Unsupported", unsupported.join(", "));
        return Some(r);
    }
    None
}

/// The Allow header value for a method list.
pub fn allow_header(allowed: &[Method]) -> String {
    allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse::parse_message;

    fn req(method: &str, uri: &str, extra: &str) -> SipMessage {
        let text = format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        parse_message(text.as_bytes()).unwrap()
    }

    const ALLOWED: &[Method] = &[Method::Invite, Method::Ack, Method::Options];

    fn status(r: Option<SipMessage>) -> Option<u16> {
        r.and_then(|m| m.status())
    }

    #[test]
    fn each_rule_gives_its_status() {
        assert_eq!(
            status(check_request(&req("OPTIONS", "sip:c@d", ""), ALLOWED, "t")),
            None
        );
        assert_eq!(
            status(check_request(
                &req("NEWMETHOD", "sip:c@d", ""),
                ALLOWED,
                "t"
            )),
            Some(501)
        );
        let r = check_request(&req("MESSAGE", "sip:c@d", ""), ALLOWED, "t").unwrap();
        assert_eq!(r.status(), Some(405));
        assert_eq!(r.headers.get("Allow"), Some("INVITE, ACK, OPTIONS"));
        assert_eq!(
            status(check_request(&req("INVITE", "kingdom:x", ""), ALLOWED, "t")),
            Some(416)
        );
        let r = check_request(
            &req(
                "INVITE",
                "sip:c@d",
                "Proxy-Require: foo\r\nRequire: bar\r\n",
            ),
            ALLOWED,
            "t",
        )
        .unwrap();
        assert_eq!(r.status(), Some(420));
        assert_eq!(r.headers.get("Unsupported"), Some("bar, foo"));
        let mf0 = req("INVITE", "sip:c@d", "").to_bytes();
        let mf0 = String::from_utf8(mf0)
            .unwrap()
            .replace("Max-Forwards: 70", "Max-Forwards: 0");
        let m = parse_message(mf0.as_bytes()).unwrap();
        assert_eq!(status(check_request(&m, ALLOWED, "t")), Some(483));
        assert!(r.headers.get("To").unwrap().contains("tag=t"));
    }
}
