//! Building responses and the hop-by-hop ACK from requests, per RFC 3261 §8.2.6 and §17.1.1.3.

use super::message::{Headers, Method, SipMessage, StartLine, reason_phrase};
use super::parse::Salvaged;

/// A response to `req`: Via, From, To, Call-ID, CSeq copied; a To tag added when the request's
/// To has none and `to_tag` is given (never on 100 Trying, §8.2.6.2).
pub fn response_to(
    req: &SipMessage,
    code: u16,
    reason: Option<&str>,
    to_tag: Option<&str>,
) -> SipMessage {
    let mut headers = Headers::default();
    for via in req.headers.get_all("Via") {
        headers.push("Via", via);
    }
    for name in ["From", "To", "Call-ID", "CSeq"] {
        if let Some(v) = req.headers.get(name) {
            headers.push(name, v);
        }
    }
    if code != 100
        && let Some(tag) = to_tag
        && let Some(to) = req.headers.get("To")
        && !has_tag(to)
    {
        headers.set("To", format!("{to};tag={tag}"));
    }
    if code == 100
        && let Some(ts) = req.headers.get("Timestamp")
    {
        headers.push("Timestamp", ts);
    }
    SipMessage {
        start: StartLine::Response {
            code,
            reason: reason.unwrap_or(reason_phrase(code)).to_string(),
        },
        headers,
        body: Vec::new(),
    }
}

/// Whether a From/To value already carries a tag parameter (outside the `<uri>`).
pub fn has_tag(value: &str) -> bool {
    let params = match value.rfind('>') {
        Some(i) => &value[i..],
        None => value,
    };
    params
        .split(';')
        .skip(1)
        .any(|p| p.trim().to_ascii_lowercase().starts_with("tag="))
}

/// A 4xx/5xx response to a request that failed to parse, from the leniently salvaged headers.
pub fn response_to_salvaged(s: &Salvaged, code: u16, reason: &str, to_tag: &str) -> SipMessage {
    let mut headers = Headers::default();
    for via in &s.vias {
        headers.push("Via", via.as_str());
    }
    headers.push("From", s.from.as_str());
    let to = if has_tag(&s.to) {
        s.to.clone()
    } else {
        format!("{};tag={to_tag}", s.to)
    };
    headers.push("To", to);
    headers.push("Call-ID", s.call_id.as_str());
    headers.push("CSeq", s.cseq.as_str());
    SipMessage {
        start: StartLine::Response {
            code,
            reason: reason.to_string(),
        },
        headers,
        body: Vec::new(),
    }
}

/// The ACK an INVITE client transaction sends for a 300-699 response (§17.1.1.3): same
/// Request-URI, Call-ID, From, top Via and Route as the INVITE, To from the response.
pub fn ack_for_non_2xx(invite: &SipMessage, response: &SipMessage) -> SipMessage {
    let uri = invite.request_uri().unwrap_or_default().to_string();
    let mut ack = SipMessage::request(Method::Ack, uri);
    if let Some(via) = invite.headers.get("Via") {
        ack.headers.push("Via", via);
    }
    ack.headers.push("Max-Forwards", "70");
    for name in ["From"] {
        if let Some(v) = invite.headers.get(name) {
            ack.headers.push(name, v);
        }
    }
    if let Some(to) = response.headers.get("To") {
        ack.headers.push("To", to);
    }
    if let Some(v) = invite.headers.get("Call-ID") {
        ack.headers.push("Call-ID", v);
    }
    let seq = invite
        .headers
        .get("CSeq")
        .and_then(|c| c.split_ascii_whitespace().next())
        .unwrap_or("1");
    ack.headers.push("CSeq", format!("{seq} ACK"));
    for route in invite.headers.get_all("Route") {
        ack.headers.push("Route", route);
    }
    ack
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_detection_ignores_uri_params() {
        assert!(!has_tag("<sip:a@b;tag=x>"));
        assert!(has_tag("<sip:a@b>;tag=x"));
        assert!(has_tag("sip:a@b;tag=x"));
        assert!(has_tag("<sip:a@b> ; TAG=x"));
    }
}
