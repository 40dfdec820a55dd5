//! The message framer and validator: every byte that arrives goes through [`parse_message`].
//!
//! It is total (any input gives a message or a [`ParseError`], never a panic) and strict where
//! RFC 3261 is strict, tolerant where it asks for tolerance: leading CRLFs, header folding,
//! compact header names, any amount of legal whitespace, extension methods, unknown schemes.
//! The checks cover the start line, header names, the mandatory headers and the grammar of the
//! headers the core relies on (Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length).

use super::headers::{CSeq, NameAddr, Via, is_token, parse_u32};
use super::message::{Header, Headers, Method, SipMessage, StartLine};
use super::uri::Uri;
use thiserror::Error;

/// Largest message accepted on any transport.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// Why a message was rejected, with the status a request deserves (400 or 505).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{status} {reason}")]
pub struct ParseError {
    pub status: u16,
    pub reason: String,
}

fn bad(reason: impl Into<String>) -> ParseError {
    ParseError {
        status: 400,
        reason: reason.into(),
    }
}

/// Expands the compact header names of RFC 3261 §7.3.3 and its extensions.
pub fn canonical_name(name: &str) -> &str {
    if name.len() != 1 {
        return name;
    }
    match name.as_bytes()[0].to_ascii_lowercase() {
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'e' => "Content-Encoding",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'f' => "From",
        b's' => "Subject",
        b'k' => "Supported",
        b't' => "To",
        b'v' => "Via",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'b' => "Referred-By",
        b'u' => "Allow-Events",
        b'a' => "Accept-Contact",
        b'j' => "Reject-Contact",
        b'd' => "Request-Disposition",
        b'x' => "Session-Expires",
        b'y' => "Identity",
        b'n' => "Identity-Info",
        _ => name,
    }
}

/// Finds the end of the header section: the index just after the empty line.
pub fn header_end(input: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 1 < input.len() {
        if input[i] == b'\n' {
            if input[i + 1] == b'\n' {
                return Some(i + 2);
            }
            if input[i + 1] == b'\r' && input.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Skips CRLFs before the start line (RFC 3261 §7.5).
pub fn skip_leading_crlf(input: &[u8]) -> &[u8] {
    let n = input
        .iter()
        .take_while(|&&c| c == b'\r' || c == b'\n')
        .count();
    &input[n..]
}

/// Unfolds the header section into logical lines (continuation lines start with SP or HT).
fn logical_lines(head: &str) -> Result<Vec<String>, ParseError> {
    let mut lines: Vec<String> = Vec::new();
    for raw in head.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if lines.len() < 2 {
                return Err(bad("continuation line before the first header"));
            }
            let last = lines
                .last_mut()
                .ok_or_else(|| bad("continuation line before the start line"))?;
            last.push(' ');
            last.push_str(line.trim());
        } else {
            lines.push(line.to_string());
        }
    }
    Ok(lines)
}

fn parse_version(v: &str) -> Result<(), ParseError> {
    let Some(num) = v
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("SIP/"))
        .map(|_| &v[4..])
    else {
        return Err(bad(format!("bad protocol {v:?}")));
    };
    let valid = num.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
    });
    if !valid {
        return Err(bad(format!("bad protocol version {v:?}")));
    }
    if num != "2.0" {
        return Err(ParseError {
            status: 505,
            reason: format!("Version Not Supported ({v})"),
        });
    }
    Ok(())
}

/// Parses the start line; single SP separators as RFC 3261 §7.1 prescribes.
fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if line.starts_with("SIP/") || line.starts_with("sip/") {
        let mut it = line.splitn(3, ' ');
        let version = it.next().unwrap_or("");
        parse_version(version)?;
        let code = it.next().unwrap_or("");
        if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad(format!("bad status code {code:?}")));
        }
        let code: u16 = code.parse().map_err(|_| bad("bad status code"))?;
        if !(100..700).contains(&code) {
            return Err(bad(format!("status code {code} out of range")));
        }
        let reason = it.next().unwrap_or("").to_string();
        return Ok(StartLine::Response { code, reason });
    }
    let parts: Vec<&str> = line.split(' ').collect();
    if parts.len() != 3 {
        return Err(bad(
            "request line must be 'Method SP Request-URI SP SIP-Version'",
        ));
    }
    if !is_token(parts[0]) {
        return Err(bad(format!("bad method {:?}", parts[0])));
    }
    parse_version(parts[2])?;
    if parts[1].is_empty() {
        return Err(bad("empty Request-URI"));
    }
    Ok(StartLine::Request {
        method: Method::from_token(parts[0]),
        uri: parts[1].to_string(),
    })
}

/// Headers that may appear at most once.
const SINGLE: [&str; 7] = [
    "To",
    "From",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
];

/// Parses and validates one complete message (a datagram, or one message cut off a stream by
/// [`super::stream::StreamFramer`]).
pub fn parse_message(input: &[u8]) -> Result<SipMessage, ParseError> {
    if input.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError {
            status: 513,
            reason: "Message Too Large".into(),
        });
    }
    let input = skip_leading_crlf(input);
    if input.is_empty() {
        return Err(bad("empty message"));
    }
    let end = header_end(input).ok_or_else(|| bad("no empty line after the headers"))?;
    let head = &input[..end];
    if head.contains(&0) {
        return Err(bad("NUL byte in the header section"));
    }
    let head = std::str::from_utf8(head).map_err(|_| bad("header section is not UTF-8"))?;
    let lines = logical_lines(head)?;
    let (first, rest) = lines
        .split_first()
        .ok_or_else(|| bad("missing start line"))?;
    let start = parse_start_line(first)?;

    let mut headers = Headers::default();
    for line in rest {
        let colon = line
            .find(':')
            .ok_or_else(|| bad(format!("header line without ':': {line:?}")))?;
        let name = line[..colon].trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(bad(format!("bad header name {name:?}")));
        }
        if line.bytes().any(|c| c < b' ' && c != b'\t') {
            return Err(bad(format!("control character in header {name}")));
        }
        headers.0.push(Header {
            name: canonical_name(name).to_string(),
            value: line[colon + 1..].trim().to_string(),
        });
    }
    for name in SINGLE {
        if headers.count(name) > 1 {
            return Err(bad(format!("more than one {name} header")));
        }
    }

    let body_avail = &input[end..];
    let body = match headers.get("Content-Length") {
        Some(v) => {
            let len = parse_u32("Content-Length", v).map_err(|e| bad(e.to_string()))? as usize;
            if len > body_avail.len() {
                return Err(bad(format!(
                    "Content-Length {len} larger than the {} body bytes received",
                    body_avail.len()
                )));
            }
            body_avail[..len].to_vec()
        }
        None => body_avail.to_vec(),
    };

    let msg = SipMessage {
        start,
        headers,
        body,
    };
    validate(&msg)?;
    Ok(msg)
}

/// Checks the mandatory headers and the grammar of the ones the core relies on.
fn validate(msg: &SipMessage) -> Result<(), ParseError> {
    let h = &msg.headers;
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if h.get(name).is_none() {
            return Err(bad(format!("missing {name} header")));
        }
    }
    for via in h.list("Via") {
        Via::parse(&via).map_err(|e| bad(e.to_string()))?;
    }
    for name in ["From", "To"] {
        let v = h.get(name).unwrap_or_default();
        NameAddr::parse(if name == "From" { "From" } else { "To" }, v)
            .map_err(|e| bad(e.to_string()))?;
    }
    let call_id = h.get("Call-ID").unwrap_or_default();
    if call_id.is_empty() || call_id.bytes().any(|c| c.is_ascii_whitespace()) {
        return Err(bad("bad Call-ID"));
    }
    let cseq = CSeq::parse(h.get("CSeq").unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
    if let Some(mf) = h.get("Max-Forwards") {
        let v = parse_u32("Max-Forwards", mf).map_err(|e| bad(e.to_string()))?;
        if v > 255 {
            return Err(bad("Max-Forwards above 255"));
        }
    }
    for name in ["Expires", "Min-Expires"] {
        if let Some(v) = h.get(name) {
            parse_u32(
                if name == "Expires" {
                    "Expires"
                } else {
                    "Min-Expires"
                },
                v,
            )
            .map_err(|e| bad(e.to_string()))?;
        }
    }
    if let Some(ct) = h.get("Content-Type") {
        let media = ct.split(';').next().unwrap_or("").trim();
        let ok = media
            .split_once('/')
            .is_some_and(|(t, s)| is_token(t.trim()) && is_token(s.trim()));
        if !ok {
            return Err(bad(format!("bad Content-Type {ct:?}")));
        }
    }
    match &msg.start {
        StartLine::Request { method, uri } => {
            if &cseq.method != method {
                return Err(bad("CSeq method does not match the request method"));
            }
            // Unknown schemes are valid here; the UA answers them with 416.
            Uri::parse(uri).map_err(|e| bad(format!("Request-URI: {e}")))?;
            if method == &Method::Register || method == &Method::Invite {
                for c in h.list("Contact") {
                    if c != "*" {
                        NameAddr::parse("Contact", &c).map_err(|e| bad(e.to_string()))?;
                    }
                }
            }
        }
        StartLine::Response { .. } => {}
    }
    Ok(())
}

/// The headers needed to answer a request that failed validation with 400, collected
/// leniently. `None` when the input is not recognisably a request or lacks what a response
/// must copy (Via, From, To, Call-ID, CSeq).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salvaged {
    pub vias: Vec<String>,
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub cseq: String,
    pub is_ack: bool,
}

/// Collects what is needed for an error response from a message that did not parse.
pub fn salvage_request(input: &[u8]) -> Option<Salvaged> {
    let input = skip_leading_crlf(input);
    let end = header_end(input).unwrap_or(input.len().min(MAX_MESSAGE_SIZE));
    let head = String::from_utf8_lossy(&input[..end.min(input.len())]);
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next()?;
    let method = first.split(' ').next()?;
    if first.starts_with("SIP/") || !is_token(method) || !first.contains(' ') {
        return None;
    }
    let mut s = Salvaged {
        vias: Vec::new(),
        from: String::new(),
        to: String::new(),
        call_id: String::new(),
        cseq: String::new(),
        is_ack: method == "ACK",
    };
    for line in lines {
        if line.contains('\0') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match canonical_name(name.trim()).to_ascii_lowercase().as_str() {
            "via" => s.vias.push(value),
            "from" => s.from = value,
            "to" => s.to = value,
            "call-id" => s.call_id = value,
            "cseq" => s.cseq = value,
            _ => {}
        }
    }
    let complete = !s.vias.is_empty()
        && !s.from.is_empty()
        && !s.to.is_empty()
        && !s.call_id.is_empty()
        && !s.cseq.is_empty();
    complete.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn parses_a_plain_invite() {
        let m = parse_message(INVITE.as_bytes()).unwrap();
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(m.body, b"v=0\n");
        assert_eq!(
            m.headers.get("call-id"),
            Some("a84b4c76e66710@pc33.atlanta.com")
        );
    }

    #[test]
    fn folding_and_compact_forms() {
        let text = "\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
f: <sip:x@y>\r\n  ;tag=7\r\nt: <sip:a@b>\r\ni: 1@h\r\nCSeq:\r\n\t 1\r\n OPTIONS\r\nl: 0\r\n\r\n";
        let m = parse_message(text.as_bytes()).unwrap();
        assert_eq!(m.headers.get("From"), Some("<sip:x@y> ;tag=7"));
        assert_eq!(m.headers.get("CSeq"), Some("1 OPTIONS"));
    }

    #[test]
    fn rejects_what_rfc_3261_forbids() {
        let two_cl = INVITE.replace(
            "Content-Length: 4",
            "Content-Length: 4\r\nContent-Length: 4",
        );
        assert!(parse_message(two_cl.as_bytes()).is_err());
        let long_cl = INVITE.replace("Content-Length: 4", "Content-Length: 9999");
        assert!(parse_message(long_cl.as_bytes()).is_err());
        let no_cseq = INVITE.replace("CSeq: 314159 INVITE\r\n", "");
        assert!(parse_message(no_cseq.as_bytes()).is_err());
        let v7 = INVITE.replace("biloxi.com SIP/2.0", "biloxi.com SIP/7.0");
        assert_eq!(parse_message(v7.as_bytes()).unwrap_err().status, 505);
        let spaces = INVITE.replace("INVITE sip", "INVITE  sip");
        assert!(parse_message(spaces.as_bytes()).is_err());
        let mismatch = INVITE.replace("314159 INVITE", "314159 ACK");
        assert!(parse_message(mismatch.as_bytes()).is_err());
        let nul = INVITE.replace("Max-Forwards: 70", "Max-Forwards: 7\x000");
        assert!(parse_message(nul.as_bytes()).is_err());
    }

    #[test]
    fn salvage_gets_the_response_headers() {
        let broken = INVITE.replace("CSeq: 314159 INVITE", "CSeq: x INVITE");
        assert!(parse_message(broken.as_bytes()).is_err());
        let s = salvage_request(broken.as_bytes()).unwrap();
        assert_eq!(s.call_id, "a84b4c76e66710@pc33.atlanta.com");
        assert_eq!(s.vias.len(), 1);
        assert!(salvage_request(b"\x00\x01garbage").is_none());
    }
}
