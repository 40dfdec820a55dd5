//! SIP URIs (RFC 3261 §19.1, §25.1): strict parsing of `sip:`/`sips:`, opaque keeping of other
//! schemes so that a request to one can be answered with 416 Unsupported URI Scheme.

use thiserror::Error;

/// Why a URI was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid URI: {0}")]
pub struct UriError(pub String);

/// The URI scheme. Only `sip` and `sips` are parsed into parts; the others are kept opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other syntactically valid scheme (`http`, `im`, ...).
    Other(String),
}

/// One `;name[=value]` parameter. Names compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// A parameter list with case-insensitive lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// The value of `name`: `Some(None)` for a valueless parameter, `None` when absent.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }

    /// The value of `name` when present with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }

    /// True when `name` is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets or replaces `name`.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(p) => p.value = value,
            None => self.0.push(Param {
                name: name.to_string(),
                value,
            }),
        }
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }
}

impl std::fmt::Display for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.0 {
            match &p.value {
                Some(v) => write!(f, ";{}={}", p.name, v)?,
                None => write!(f, ";{}", p.name)?,
            }
        }
        Ok(())
    }
}

/// A parsed URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub scheme: Scheme,
    /// The user part as written (still %-escaped).
    pub user: Option<String>,
    pub password: Option<String>,
    /// Host name, IPv4 address, or IPv6 reference with its brackets.
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
    /// The `?h=v&...` part without the `?`.
    pub headers: Option<String>,
    /// For [`Scheme::Tel`] and [`Scheme::Other`]: everything after the colon.
    pub opaque: String,
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c)
}

/// Checks that `s` consists of unreserved characters, `%HH` escapes and the `extra` characters.
fn check_chars(s: &str, extra: &[u8], what: &str) -> Result<(), UriError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if i + 2 >= b.len() {
                return Err(UriError(format!("truncated escape in {what}")));
            }
            if !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return Err(UriError(format!("bad escape in {what}")));
            }
            i += 3;
            continue;
        }
        if !(is_unreserved(c) || extra.contains(&c)) {
            return Err(UriError(format!(
                "character {:?} not allowed in {what}",
                c as char
            )));
        }
        i += 1;
    }
    Ok(())
}

/// Parses `host[:port]` (IPv6 in brackets). Shared by URIs and Via sent-by.
pub fn parse_hostport(s: &str) -> Result<(String, Option<u16>), UriError> {
    let (host, rest) = if let Some(stripped) = s.strip_prefix('[') {
        let end = stripped
            .find(']')
            .ok_or_else(|| UriError("unclosed IPv6 reference".into()))?;
        let inner = &stripped[..end];
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UriError(format!("bad IPv6 address {inner:?}")));
        }
        (&s[..end + 2], &stripped[end + 1..])
    } else {
        match s.find(':') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        }
    };
    if host.is_empty() {
        return Err(UriError("empty host".into()));
    }
    if !host.starts_with('[')
        && !host
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        return Err(UriError(format!("bad host {host:?}")));
    }
    let port = if rest.is_empty() {
        None
    } else {
        let p = rest
            .strip_prefix(':')
            .ok_or_else(|| UriError(format!("junk after host: {rest:?}")))?;
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) || p.len() > 5 {
            return Err(UriError(format!("bad port {p:?}")));
        }
        Some(
            p.parse::<u16>()
                .map_err(|_| UriError(format!("port out of range {p:?}")))?,
        )
    };
    Ok((host.to_string(), port))
}

/// Parses `;a=b;c` into parameters, checking each name and value against `allowed` extras.
fn parse_uri_params(s: &str) -> Result<Params, UriError> {
    let mut params = Params::default();
    for part in s.split(';').skip(1) {
        let (name, value) = match part.find('=') {
            Some(i) => (&part[..i], Some(&part[i + 1..])),
            None => (part, None),
        };
        if name.is_empty() {
            return Err(UriError("empty URI parameter name".into()));
        }
        check_chars(name, b"[]/:&+$", "URI parameter")?;
        if let Some(v) = value {
            check_chars(v, b"[]/:&+$", "URI parameter value")?;
        }
        params.0.push(Param {
            name: name.to_string(),
            value: value.map(str::to_string),
        });
    }
    Ok(params)
}

impl Uri {
    /// Parses a URI. A syntactically valid URI of another scheme parses as [`Scheme::Other`].
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        let colon = s
            .find(':')
            .ok_or_else(|| UriError(format!("no scheme in {s:?}")))?;
        let scheme_text = &s[..colon];
        let rest = &s[colon + 1..];
        let valid_scheme = scheme_text
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme_text
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c));
        if !valid_scheme {
            return Err(UriError(format!("bad scheme {scheme_text:?}")));
        }
        if s.bytes().any(|c| c <= b' ' || c >= 0x7f) {
            return Err(UriError("whitespace or control character in URI".into()));
        }
        let scheme = match scheme_text.to_ascii_lowercase().as_str() {
            "sip" => Scheme::Sip,
            "sips" => Scheme::Sips,
            "tel" => Scheme::Tel,
            other => Scheme::Other(other.to_string()),
        };
        if !matches!(scheme, Scheme::Sip | Scheme::Sips) {
            if rest.is_empty() {
                return Err(UriError("empty URI after scheme".into()));
            }
            return Ok(Uri {
                scheme,
                user: None,
                password: None,
                host: String::new(),
                port: None,
                params: Params::default(),
                headers: None,
                opaque: rest.to_string(),
            });
        }
        // A '?' inside the user part is allowed (user-unreserved): headers start after the '@'.
        let search_from = rest.find('@').unwrap_or(0);
        let (main, headers) = match rest[search_from..].find('?') {
            Some(q) => (
                &rest[..search_from + q],
                Some(rest[search_from + q + 1..].to_string()),
            ),
            None => (rest, None),
        };
        if let Some(h) = &headers {
            check_chars(h, b"[]/?:+$&=", "URI headers")?;
        }
        let (userinfo, hostpart) = match main.find('@') {
            Some(at) => (Some(&main[..at]), &main[at + 1..]),
            None => (None, main),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.find(':') {
                    Some(i) => (&ui[..i], Some(&ui[i + 1..])),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(UriError("empty user part".into()));
                }
                check_chars(u, b"&=+$,;?/", "user part")?;
                if let Some(p) = p {
                    check_chars(p, b"&=+$,", "password")?;
                }
                (Some(u.to_string()), p.map(str::to_string))
            }
        };
        let (hostport, params_text) = match hostpart.find(';') {
            Some(i) => (&hostpart[..i], &hostpart[i..]),
            None => (hostpart, ""),
        };
        let (host, port) = parse_hostport(hostport)?;
        let params = parse_uri_params(params_text)?;
        Ok(Uri {
            scheme,
            user,
            password,
            host,
            port,
            params,
            headers,
            opaque: String::new(),
        })
    }

    /// A plain `sip:user@host[:port]` URI.
    pub fn sip(user: Option<&str>, host: &str, port: Option<u16>) -> Uri {
        Uri {
            scheme: Scheme::Sip,
            user: user.map(str::to_string),
            password: None,
            host: host.to_string(),
            port,
            params: Params::default(),
            headers: None,
            opaque: String::new(),
        }
    }

    /// True for `sip:` and `sips:` URIs.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// RFC 3261 §19.1.4 comparison, reduced to what transaction matching needs: scheme, user
    /// (unescaped), host (case-insensitive), port, and the parameters that must match.
    pub fn equivalent(&self, other: &Uri) -> bool {
        if self.scheme != other.scheme {
            return false;
        }
        if !self.is_sip() {
            return self.opaque.eq_ignore_ascii_case(&other.opaque);
        }
        let user_eq = match (&self.user, &other.user) {
            (Some(a), Some(b)) => unescape(a) == unescape(b),
            (None, None) => true,
            _ => false,
        };
        let strict = ["transport", "user", "ttl", "method", "maddr"];
        user_eq
            && self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
            && strict.iter().all(|p| {
                self.params.value(p).map(str::to_ascii_lowercase)
                    == other.params.value(p).map(str::to_ascii_lowercase)
            })
    }
}

/// Decodes `%HH` escapes (invalid escapes are kept literally).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl std::fmt::Display for Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match &self.scheme {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => "tel",
            Scheme::Other(s) => s,
        };
        if !self.is_sip() {
            return write!(f, "{scheme}:{}", self.opaque);
        }
        write!(f, "{scheme}:")?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escaped_and_odd_sip_uris() {
        let u = Uri::parse("sip:%61lice@atlanta.com;transport=TCP").unwrap();
        assert_eq!(u.user.as_deref(), Some("%61lice"));
        assert_eq!(u.params.value("transport"), Some("TCP"));
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, "example.com");
        let u = Uri::parse("sip:[2001:db8::10]:5070;lr").unwrap();
        assert_eq!(u.host, "[2001:db8::10]");
        assert_eq!(u.port, Some(5070));
        assert!(u.params.has("lr"));
        let u = Uri::parse("sip:alice:secret@host?subject=x%20y&priority=urgent").unwrap();
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.headers.as_deref(), Some("subject=x%20y&priority=urgent"));
        assert_eq!(
            u.to_string(),
            "sip:alice:secret@host?subject=x%20y&priority=urgent"
        );
    }

    #[test]
    fn keeps_other_schemes_opaque() {
        let u = Uri::parse("kingdom:kingdom-of-sealand").unwrap();
        assert_eq!(u.scheme, Scheme::Other("kingdom".into()));
        assert_eq!(Uri::parse("tel:+3612345").unwrap().scheme, Scheme::Tel);
    }

    #[test]
    fn rejects_bad_uris() {
        for bad in [
            "sip:user@exa mple.com",
            "sip:",
            "sip:@host",
            "sip:host:99999",
            "sip:host:abc",
            "sip:[::1",
            "sip:a%zz@host",
            "sip:a%2@host",
            "nocolon",
            "1sip:a@b",
            "sip:host;=x",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad} must fail");
        }
    }

    #[test]
    fn equivalence_ignores_case_and_escapes() {
        let a = Uri::parse("sip:%61lice@AtLanTa.CoM;Transport=udp").unwrap();
        let b = Uri::parse("sip:alice@atlanta.com;transport=UDP").unwrap();
        assert!(a.equivalent(&b));
        let c = Uri::parse("sip:alice@atlanta.com:5060").unwrap();
        assert!(!b.equivalent(&c));
    }
}
