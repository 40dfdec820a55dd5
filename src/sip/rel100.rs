//! Reliable provisional responses (RFC 3262), the parts that need no clock: the `RSeq` and
//! `RAck` headers and which provisional responses must be acknowledged by PRACK. The UA
//! (`ua/prack.rs`) sends and answers the PRACKs and resends its own reliable response.
//!
//! A carrier or PBX that sends its ringing reliably (`Require: 100rel`) would otherwise get
//! no PRACK and tear the call down; a caller that requires 100rel of us used to get 420.

use super::message::{Method, SipMessage};
use std::time::{Duration, Instant};

/// The option tag.
pub const TAG: &str = "100rel";

/// The `RSeq` of a provisional response that must be PRACKed: a 101-199 with `Require: 100rel`
/// and a valid `RSeq` (1 to 2^32-1).
pub fn reliable_rseq(resp: &SipMessage) -> Option<u32> {
    let code = resp.status()?;
    if !(101..=199).contains(&code) {
        return None;
    }
    let required = resp
        .headers
        .list("Require")
        .iter()
        .any(|t| t.eq_ignore_ascii_case(TAG));
    if !required {
        return None;
    }
    resp.headers
        .get("RSeq")?
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
}

/// An `RAck` value: the response's RSeq, then the CSeq number and method of the request it
/// answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RAck {
    pub rseq: u32,
    pub cseq: u32,
    pub method: Method,
}

impl RAck {
    /// The PRACK's `RAck`, when well formed.
    pub fn of(msg: &SipMessage) -> Option<RAck> {
        let mut parts = msg.headers.get("RAck")?.split_whitespace();
        let rseq = parts.next()?.parse().ok()?;
        let cseq = parts.next()?.parse().ok()?;
        let method = Method::from_token(parts.next()?);
        parts
            .next()
            .is_none()
            .then_some(RAck { rseq, cseq, method })
    }

    /// The header value.
    pub fn value(&self) -> String {
        format!("{} {} {}", self.rseq, self.cseq, self.method)
    }
}

/// Our reliable provisional response, resent (T1 doubling, no cap: §3) until its PRACK comes or
/// 64*T1 pass, when the call is refused with 5xx.
#[derive(Debug, Clone)]
pub struct ReliableProvisional {
    pub response: SipMessage,
    pub rseq: u32,
    /// The INVITE's CSeq number, which the PRACK's RAck names.
    pub cseq: u32,
    pub interval: Duration,
    pub give_up: Instant,
    /// The PRACK came: nothing more to resend.
    pub acked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(first: &str, extra: &str) -> SipMessage {
        let method = if first.starts_with("SIP/") {
            "INVITE"
        } else {
            first.split(' ').next().unwrap_or_default()
        };
        let text = format!(
            "{first}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:c@d>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 2 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        crate::sip::parse::parse_message(text.as_bytes()).unwrap()
    }

    #[test]
    fn only_required_provisionals_with_an_rseq_are_reliable() {
        let r = |first, extra| reliable_rseq(&msg(first, extra));
        assert_eq!(
            r("SIP/2.0 180 Ringing", "Require: 100rel\r\nRSeq: 7\r\n"),
            Some(7)
        );
        assert_eq!(r("SIP/2.0 180 Ringing", "RSeq: 7\r\n"), None);
        assert_eq!(r("SIP/2.0 180 Ringing", "Require: 100rel\r\n"), None);
        assert_eq!(
            r("SIP/2.0 180 Ringing", "Require: 100rel\r\nRSeq: 0\r\n"),
            None
        );
        assert_eq!(
            r("SIP/2.0 100 Trying", "Require: 100rel\r\nRSeq: 7\r\n"),
            None
        );
        assert_eq!(r("SIP/2.0 200 OK", "Require: 100rel\r\nRSeq: 7\r\n"), None);
    }

    #[test]
    fn rack_parses_and_formats() {
        let m = msg("PRACK sip:a@b SIP/2.0", "RAck: 776656 1 INVITE\r\n");
        let rack = RAck::of(&m).unwrap();
        assert_eq!(rack.rseq, 776656);
        assert_eq!(rack.value(), "776656 1 INVITE");
        assert_eq!(
            RAck::of(&msg("PRACK sip:a@b SIP/2.0", "RAck: 1 INVITE\r\n")),
            None
        );
        assert_eq!(
            RAck::of(&msg("PRACK sip:a@b SIP/2.0", "RAck: 1 2 INVITE x\r\n")),
            None
        );
    }
}
