//! The control API's security rules, apart from any socket so that each can be tested alone:
//! who may connect (loopback only), the token, the `Host` and `Origin` checks against DNS
//! rebinding and foreign web pages, what each allowed origin may dial (click-to-call policy)
//! and the per-client rate limit.

use super::verbs::VerbError;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Only this machine may talk to the API, whatever address it is bound to.
pub fn peer_allowed(peer: &SocketAddr) -> bool {
    match peer.ip() {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Whether `given` is the token, compared in constant time (only the length can be told
/// apart, and the token's length is no secret).
pub fn token_matches(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// A `Host` header naming this machine: `localhost`, a 127.x address or `[::1]`, with or
/// without a port. Anything else is a page that rebound its own name to 127.0.0.1.
pub fn host_is_loopback(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) if tail.is_empty() || tail.starts_with(':') => h,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An origin as browsers send it (`scheme://host[:port]`), lower case, without a slash at
/// the end; `None` for `null` and anything that is not an origin.
pub fn normalize_origin(origin: &str) -> Option<String> {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = o.split_once("://")?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['/', '?', '#', ' '])
    {
        return None;
    }
    Some(o)
}

/// What a web page on one origin may dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialRule {
    /// Any number or address.
    Any,
    /// Only these named targets (`wpapitargets`); empty means every named target.
    Targets(Vec<String>),
    /// Only numbers matching one of these patterns (`?` one character, `*` the rest).
    Numbers(Vec<String>),
}

/// One allowed origin and its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRule {
    pub origin: String,
    pub rule: DialRule,
}

/// Who is asking: a local program (token, no browser) or a page on an allowed origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Local,
    Web(OriginRule),
}

/// The click-to-call policy and the browser allow-list, from the `wpapi*` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub origins: Vec<OriginRule>,
    /// Named targets: name (lower case) and the number it stands for.
    pub targets: Vec<(String, String)>,
}

/// Splits a parameter's list: entries separated by `;` or whitespace.
fn entries(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ';' || c.is_whitespace())
        .map(str::trim)
        .filter(|e| !e.is_empty())
}

impl Policy {
    /// Reads `wpapiorigins` (`ORIGIN[=any|targets:a+b|numbers:1???+2*]`, entries separated
    /// by `;`; without a rule only the named targets) and `wpapitargets` (`name=number;...`).
    /// Entries that cannot be read are left out and described in the returned warnings.
    pub fn from_params(origins: &str, targets: &str) -> (Policy, Vec<String>) {
        let mut warnings = Vec::new();
        let mut policy = Policy::default();
        for e in entries(targets) {
            match e.split_once('=') {
                Some((name, number)) if !name.trim().is_empty() && !number.trim().is_empty() => {
                    policy
                        .targets
                        .push((name.trim().to_ascii_lowercase(), number.trim().to_string()));
                }
                _ => warnings.push(format!("wpapitargets: {e:?} is not name=number")),
            }
        }
        for e in entries(origins) {
            // The origin itself holds "://" and maybe ":port": the rule follows the last '='.
            let (origin, rule) = match e.rsplit_once('=') {
                Some((o, r)) => (o, Some(r)),
                None => (e, None),
            };
            let Some(origin) = normalize_origin(origin) else {
                warnings.push(format!(
                    "wpapiorigins: {origin:?} is not an origin (http://host:port)"
                ));
                continue;
            };
            let list = |s: &str| -> Vec<String> {
                s.split('+')
                    .map(|x| x.trim().to_ascii_lowercase())
                    .filter(|x| !x.is_empty())
                    .collect()
            };
            let rule = match rule.map(|r| r.trim().to_ascii_lowercase()) {
                None => DialRule::Targets(Vec::new()),
                Some(r) if r == "any" => DialRule::Any,
                Some(r) if r == "targets" => DialRule::Targets(Vec::new()),
                Some(r) if r.starts_with("targets:") => DialRule::Targets(list(&r[8..])),
                Some(r) if r.starts_with("numbers:") && !list(&r[8..]).is_empty() => {
                    DialRule::Numbers(list(&r[8..]))
                }
                Some(r) => {
                    warnings.push(format!(
                        "wpapiorigins: {r:?} is not any, targets[:a+b] or numbers:pattern+pattern"
                    ));
                    continue;
                }
            };
            policy.origins.push(OriginRule { origin, rule });
        }
        (policy, warnings)
    }

    /// The rule for a request's `Origin`, if that origin is allowed.
    pub fn origin(&self, origin: &str) -> Option<&OriginRule> {
        let o = normalize_origin(origin)?;
        self.origins.iter().find(|r| r.origin == o)
    }

    /// What `caller` asking to dial `number` dials, or why it may not.
    pub fn dial(&self, caller: &Caller, number: &str) -> Result<String, VerbError> {
        let number = number.trim();
        let Caller::Web(rule) = caller else {
            return Ok(number.to_string());
        };
        let forbidden = |why: &str| Err(VerbError::Forbidden(format!("{}: {why}", rule.origin)));
        if number.is_empty() {
            return forbidden("a web page cannot redial");
        }
        let named = self
            .targets
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(number))
            .map(|(n, to)| (n.as_str(), to.clone()));
        match &rule.rule {
            DialRule::Any => Ok(named
                .map(|(_, to)| to)
                .unwrap_or_else(|| number.to_string())),
            DialRule::Targets(allowed) => match named {
                Some((n, to)) if allowed.is_empty() || allowed.iter().any(|a| a == n) => Ok(to),
                _ => forbidden(&format!("may only call its named targets, not {number:?}")),
            },
            DialRule::Numbers(patterns) => {
                if patterns.iter().any(|p| glob_matches(p, number)) {
                    Ok(number.to_string())
                } else {
                    forbidden(&format!("may not call {number:?}"))
                }
            }
        }
    }
}

/// `?` matches one character, `*` any rest (also nothing); everything else itself, in any
/// case. Hand-written (a dozen lines; no glob crate matches plain strings without paths):
/// the usual one-backtrack-point scan, at most length(pattern) x length(text) steps whatever
/// the pattern, so a page's long number cannot make a starry pattern take exponential time.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // After the last '*': where the pattern resumes, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi + 1, ti));
            pi += 1;
        } else if let Some((resume, tried)) = star {
            // Let the '*' take one more character and try again.
            pi = resume;
            ti = tried + 1;
            star = Some((resume, tried + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Requests per client and second, with a burst of twice that; clients are told apart by
/// origin (web pages) or connection (local programs).
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    buckets: HashMap<String, (f64, Instant)>,
}

/// Clients remembered at once; idle ones are forgotten first.
const RATE_CLIENTS: usize = 256;

impl RateLimiter {
    /// A limiter allowing `per_second` requests a second per client (0: no limit).
    pub fn new(per_second: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second),
            buckets: HashMap::new(),
        }
    }

    /// Whether `client` may make a request at `now`.
    pub fn allow(&mut self, client: &str, now: Instant) -> bool {
        if self.per_second <= 0.0 {
            return true;
        }
        let burst = self.per_second * 2.0;
        if self.buckets.len() >= RATE_CLIENTS && !self.buckets.contains_key(client) {
            let idle = Duration::from_secs_f64(burst / self.per_second);
            self.buckets
                .retain(|_, (_, last)| now.saturating_duration_since(*last) < idle);
            if self.buckets.len() >= RATE_CLIENTS {
                return false;
            }
        }
        let (tokens, last) = self
            .buckets
            .entry(client.to_string())
            .or_insert((burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_and_hosts() {
        assert!(peer_allowed(&"127.0.0.1:5000".parse().unwrap()));
        assert!(peer_allowed(&"[::1]:5000".parse().unwrap()));
        assert!(peer_allowed(&"[::ffff:127.0.0.1]:5000".parse().unwrap()));
        assert!(!peer_allowed(&"192.168.1.20:5000".parse().unwrap()));
        assert!(!peer_allowed(&"[::ffff:10.0.0.1]:5000".parse().unwrap()));
        for ok in [
            "localhost",
            "LOCALHOST:19422",
            "127.0.0.1",
            "127.0.0.1:19422",
            "[::1]:19422",
            "[::1]",
        ] {
            assert!(host_is_loopback(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:19422",
            "127.0.0.1.evil.example",
            "[::1]x",
            "localhost:abc",
            "",
            "10.0.0.1",
        ] {
            assert!(!host_is_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn the_token_must_match_exactly() {
        assert!(token_matches("abc123", "abc123"));
        assert!(!token_matches("abc12", "abc123"));
        assert!(!token_matches("abc124", "abc123"));
        assert!(!token_matches("", ""));
    }

    #[test]
    fn each_origin_dials_only_what_its_rule_allows() {
        let (p, warnings) = Policy::from_params(
            "http://127.0.0.1:8080=targets:support; https://CRM.example.com/=any;http://dialler.local=numbers:1???+49*; null; http://x=bogus",
            "support=1002;sales=sip:sales@pbx;broken",
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let web = |o: &str| Caller::Web(p.origin(o).cloned().expect(o));
        assert!(p.origin("http://evil.example").is_none());
        assert!(p.origin("null").is_none());
        let support = web("http://127.0.0.1:8080");
        assert_eq!(p.dial(&support, "support"), Ok("1002".into()));
        assert_eq!(p.dial(&support, "SUPPORT"), Ok("1002".into()));
        assert!(p.dial(&support, "sales").is_err());
        assert!(p.dial(&support, "1002").is_err());
        assert!(p.dial(&support, "").is_err());
        let crm = web("https://crm.example.com");
        assert_eq!(p.dial(&crm, "0044123"), Ok("0044123".into()));
        assert_eq!(p.dial(&crm, "sales"), Ok("sip:sales@pbx".into()));
        let dialler = web("http://dialler.local");
        assert_eq!(p.dial(&dialler, "1234"), Ok("1234".into()));
        assert_eq!(p.dial(&dialler, "4930123"), Ok("4930123".into()));
        assert!(p.dial(&dialler, "12345").is_err());
        assert!(p.dial(&dialler, "0900123").is_err());
        assert_eq!(p.dial(&Caller::Local, "0900123"), Ok("0900123".into()));
    }

    #[test]
    fn patterns_match_in_bounded_time() {
        assert!(glob_matches("1???", "1234"));
        assert!(!glob_matches("1???", "12345"));
        assert!(glob_matches("49*", "49"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b*c", "aXXbYY"));
        assert!(glob_matches("SIP:*@PBX", "sip:sales@pbx"));
        // A naive backtracking matcher never finishes this one (the fuzz target found it);
        // the scan takes at most 61 x 5000 steps.
        let pattern = "*a".repeat(30) + "b";
        let text = "a".repeat(5000);
        assert!(!glob_matches(&pattern, &text));
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_refills() {
        let mut r = RateLimiter::new(5);
        let t = Instant::now();
        let allowed = (0..20).filter(|_| r.allow("a", t)).count();
        assert_eq!(allowed, 10);
        // Another client has its own bucket.
        assert!(r.allow("b", t));
        // A second later, five more.
        let later = t + Duration::from_secs(1);
        assert_eq!((0..20).filter(|_| r.allow("a", later)).count(), 5);
        let mut off = RateLimiter::new(0);
        assert!((0..1000).all(|_| off.allow("a", t)));
    }
}
