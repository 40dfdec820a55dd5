//! Typed views of the headers the core works with: Via, name-addr headers (From, To, Contact,
//! Route), CSeq. Each parser is strict: what it accepts is valid RFC 3261 grammar.

use super::message::{Method, SipMessage};
use super::uri::{Param, Params, Uri, UriError, parse_hostport};
use thiserror::Error;

/// Why a header value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("bad {header} header: {reason}")]
pub struct HeaderError {
    pub header: &'static str,
    pub reason: String,
}

fn herr(header: &'static str, reason: impl Into<String>) -> HeaderError {
    HeaderError {
        header,
        reason: reason.into(),
    }
}

/// RFC 3261 token characters.
pub fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

/// True when `s` is a non-empty token.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Parses header parameters `;name[=value]` where the value is a token, host or quoted string.
pub fn parse_header_params(header: &'static str, s: &str) -> Result<Params, HeaderError> {
    let mut params = Params::default();
    let s = s.trim();
    if s.is_empty() {
        return Ok(params);
    }
    let s = s
        .strip_prefix(';')
        .ok_or_else(|| herr(header, format!("expected ';' before {s:?}")))?;
    for part in split_params(s) {
        let part = part.trim();
        let (name, value) = match part.find('=') {
            Some(i) => (part[..i].trim(), Some(part[i + 1..].trim())),
            None => (part, None),
        };
        if !is_token(name) {
            return Err(herr(header, format!("bad parameter name {name:?}")));
        }
        if let Some(v) = value {
            let ok = if v.starts_with('"') {
                quoted_len(v) == Some(v.len())
            } else {
                !v.is_empty()
                    && v.bytes()
                        .all(|c| is_token_char(c) || c == b':' || c == b'[' || c == b']')
            };
            if !ok {
                return Err(herr(header, format!("bad value for parameter {name}")));
            }
        }
        params.0.push(Param {
            name: name.to_string(),
            value: value.map(str::to_string),
        });
    }
    Ok(params)
}

/// Splits at ';' outside quoted strings.
fn split_params(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_q, mut esc, mut start) = (false, false, 0);
    for (i, c) in s.bytes().enumerate() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            b'\\' if in_q => esc = true,
            b'"' => in_q = !in_q,
            b';' if !in_q => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Length of the quoted string at the start of `s` (including both quotes), or `None` if it
/// is unterminated.
pub fn quoted_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Removes the quotes and backslash escapes of a quoted string value.
pub fn unquote(s: &str) -> String {
    let inner = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s);
    let mut out = String::with_capacity(inner.len());
    let mut esc = false;
    for c in inner.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// One Via value: `SIP/2.0/UDP host:port;branch=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token, upper-cased (`UDP`, `TCP`, `TLS`, `WS`...).
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    /// Parses one Via element (not a comma list).
    pub fn parse(s: &str) -> Result<Via, HeaderError> {
        let s = s.trim();
        // sent-protocol: name SLASH version SLASH transport, LWS allowed around the slashes.
        let mut parts = s.splitn(3, '/');
        let name = parts.next().unwrap_or("").trim();
        let version = parts.next().unwrap_or("").trim();
        let rest = parts
            .next()
            .ok_or_else(|| herr("Via", "missing sent-protocol"))?
            .trim_start();
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(herr("Via", format!("bad protocol {name}/{version}")));
        }
        let tend = rest
            .find(|c: char| c.is_ascii_whitespace())
            .ok_or_else(|| herr("Via", "missing sent-by"))?;
        let transport = &rest[..tend];
        if !is_token(transport) {
            return Err(herr("Via", format!("bad transport {transport:?}")));
        }
        let rest = rest[tend..].trim_start();
        let (sent_by, params) = match rest.find(';') {
            Some(i) => (rest[..i].trim(), &rest[i..]),
            None => (rest.trim(), ""),
        };
        let (host, port) =
            parse_hostport(sent_by).map_err(|UriError(e)| herr("Via", format!("sent-by: {e}")))?;
        let params = parse_header_params("Via", params)?;
        if let Some(r) = params.get("rport")
            && let Some(v) = r
            && v.parse::<u16>().is_err()
        {
            return Err(herr("Via", "bad rport"));
        }
        if params.has("branch") && params.value("branch").is_none() {
            return Err(herr("Via", "empty branch"));
        }
        Ok(Via {
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// `host[:port]` as written (the sent-by), for transaction matching.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host.to_ascii_lowercase()),
            None => self.host.to_ascii_lowercase(),
        }
    }

    /// The RFC 3261 magic-cookie branch (`z9hG4bK...`) that makes branch matching valid.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// A `[display-name] <uri>;params` value (From, To, Contact, Route, Record-Route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted.
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    /// Parses a name-addr or addr-spec with header parameters.
    pub fn parse(header: &'static str, s: &str) -> Result<NameAddr, HeaderError> {
        let s = s.trim();
        let (display, after_display) = if s.starts_with('"') {
            let len = quoted_len(s).ok_or_else(|| herr(header, "unbalanced quotes"))?;
            (Some(unquote(&s[..len])), s[len..].trim_start())
        } else if let Some(lt) = s.find('<') {
            let name = s[..lt].trim();
            if !name.split_ascii_whitespace().all(is_token) {
                return Err(herr(header, format!("bad display name {name:?}")));
            }
            (
                (!name.is_empty()).then(|| name.to_string()),
                s[lt..].trim_start(),
            )
        } else {
            (None, s)
        };
        let (uri_text, rest) = if let Some(inner) = after_display.strip_prefix('<') {
            let gt = inner.find('>').ok_or_else(|| herr(header, "missing '>'"))?;
            (&inner[..gt], &inner[gt + 1..])
        } else {
            if display.is_some() {
                return Err(herr(header, "display name without <uri>"));
            }
            // addr-spec form: parameters after ';' belong to the header, not the URI.
            match after_display.find(';') {
                Some(i) => (&after_display[..i], &after_display[i..]),
                None => (after_display, ""),
            }
        };
        if uri_text.is_empty() {
            return Err(herr(header, "empty URI"));
        }
        let uri = Uri::parse(uri_text).map_err(|UriError(e)| herr(header, e))?;
        let params = parse_header_params(header, rest)?;
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }
}

impl std::fmt::Display for NameAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(d) = &self.display {
            let escaped = d.replace('\\', "\\\\").replace('"', "\\\"");
            write!(f, "\"{escaped}\" ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// A header's value without its parameters, lower case (`text/plain;charset=UTF-8` gives
/// `text/plain`); empty when the header is missing.
fn bare_value(msg: &SipMessage, name: &str) -> String {
    msg.headers
        .get(name)
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The URI of a message's (first) Contact, when it has a well-formed one.
pub fn contact_uri(msg: &SipMessage) -> Option<String> {
    msg.headers
        .list("Contact")
        .first()
        .and_then(|c| NameAddr::parse("Contact", c).ok())
        .map(|n| n.uri.to_string())
}

/// The body's media type without parameters, lower case; empty without a Content-Type.
pub fn media_type(msg: &SipMessage) -> String {
    bare_value(msg, "Content-Type")
}

/// The event package a SUBSCRIBE or NOTIFY names (`Event: presence;id=1` gives `presence`),
/// lower case; empty without an Event header.
pub fn event_package(msg: &SipMessage) -> String {
    bare_value(msg, "Event")
}

/// The CSeq header: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    /// The message's CSeq, when it has a well-formed one.
    pub fn of(msg: &SipMessage) -> Option<CSeq> {
        msg.headers.get("CSeq").and_then(|v| CSeq::parse(v).ok())
    }

    /// Parses `1234 INVITE`; the number must fit in 31 bits (RFC 3261 §8.1.1.5).
    pub fn parse(s: &str) -> Result<CSeq, HeaderError> {
        let mut it = s.split_ascii_whitespace();
        let num = it.next().ok_or_else(|| herr("CSeq", "empty"))?;
        let method = it.next().ok_or_else(|| herr("CSeq", "missing method"))?;
        if it.next().is_some() {
            return Err(herr("CSeq", "trailing junk"));
        }
        if !num.bytes().all(|c| c.is_ascii_digit()) || num.len() > 10 {
            return Err(herr("CSeq", format!("bad number {num:?}")));
        }
        let seq: u64 = num.parse().map_err(|_| herr("CSeq", "bad number"))?;
        if seq >= 1 << 31 {
            return Err(herr("CSeq", "number too large"));
        }
        if !is_token(method) {
            return Err(herr("CSeq", format!("bad method {method:?}")));
        }
        Ok(CSeq {
            seq: seq as u32,
            method: Method::from_token(method),
        })
    }
}

/// A digit-only header value (Max-Forwards, Expires, Content-Length, Min-Expires).
pub fn parse_u32(header: &'static str, s: &str) -> Result<u32, HeaderError> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(herr(header, format!("not a number: {s:?}")));
    }
    // Values larger than u32 are clamped: RFC 3261 allows huge Expires values (§20.19).
    Ok(s.parse::<u64>()
        .map(|v| v.min(u32::MAX as u64) as u32)
        .unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_lws_and_params() {
        let v =
            Via::parse("SIP / 2.0 / UDP  192.0.2.1:5060 ;branch=z9hG4bK77;rport;received=1.2.3.4")
                .unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK77"));
        assert_eq!(v.params.get("rport"), Some(None));
        assert!(v.has_rfc3261_branch());
        assert!(Via::parse("SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3").is_ok());
        assert!(Via::parse("SIP/2.0 UDP host").is_err());
        assert!(Via::parse("SIP/3.0/UDP host").is_err());
        assert!(Via::parse("SIP/2.0/UDP host;rport=x").is_err());
    }

    #[test]
    fn name_addr_forms() {
        let n =
            NameAddr::parse("To", r#""Doe, \"J\"" <sip:j@x.com;transport=tcp>;tag=abc"#).unwrap();
        assert_eq!(n.display.as_deref(), Some(r#"Doe, "J""#));
        assert_eq!(n.tag(), Some("abc"));
        assert_eq!(n.uri.params.value("transport"), Some("tcp"));
        let n = NameAddr::parse("From", "sip:a@b;tag=1").unwrap();
        assert_eq!(n.tag(), Some("1"));
        assert!(n.uri.params.0.is_empty());
        let n = NameAddr::parse("From", "Bob Smith <sip:b@c>").unwrap();
        assert_eq!(n.display.as_deref(), Some("Bob Smith"));
        assert!(NameAddr::parse("From", r#""unbalanced <sip:a@b>"#).is_err());
        assert!(NameAddr::parse("From", "<sip:a b@c>").is_err());
        assert!(NameAddr::parse("From", "<sip:a@b").is_err());
        assert!(NameAddr::parse("From", "Bob <sip:a@b>;tag").is_ok());
    }

    #[test]
    fn cseq_rules() {
        let c = CSeq::parse("4711 NEWMETHOD").unwrap();
        assert_eq!(c.method, Method::Extension("NEWMETHOD".into()));
        assert!(CSeq::parse("-1 INVITE").is_err());
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("1 INVITE extra").is_err());
        assert!(CSeq::parse("INVITE").is_err());
    }
}
