//! Who passed an incoming call on to us, from the `Diversion` header (RFC 5806: newest first)
//! or, without one, `History-Info` (RFC 7044: the entry before the one that reached us). An
//! agent answering a forwarded call should know which number the caller dialled and why it
//! came here ("1005, busy") before saying hello.
//!
//! Like the From, these headers are the sender's claim: shown, never trusted for anything.

use super::headers::NameAddr;
use super::message::SipMessage;
use super::uri::Scheme;
pub use crate::model::DiversionReason;

/// The diverting party and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    /// User part or number of the address that forwarded the call.
    pub from: String,
    pub reason: DiversionReason,
}

fn user_of(n: &NameAddr) -> Option<String> {
    let user = match n.uri.scheme {
        Scheme::Tel => n.uri.opaque.split(';').next().map(str::to_string),
        _ => n.uri.user.clone(),
    };
    user.filter(|u| !u.is_empty())
}

/// The `reason` of a Diversion header (RFC 5806 §4).
fn reason_word(word: &str) -> DiversionReason {
    match word.trim_matches('"').to_ascii_lowercase().as_str() {
        "user-busy" => DiversionReason::Busy,
        "no-answer" => DiversionReason::NoAnswer,
        "unconditional" => DiversionReason::Unconditional,
        "unavailable" | "out-of-service" => DiversionReason::Unavailable,
        "deflection" | "follow-me" => DiversionReason::Deflection,
        "do-not-disturb" | "away" | "time-of-day" => DiversionReason::NotNow,
        _ => DiversionReason::Unknown,
    }
}

/// The cause of a History-Info entry (RFC 4458 / RFC 7044: the SIP response code that made
/// the call move on, carried as `?Reason=SIP;cause=486` in the URI).
fn cause_reason(code: u16) -> DiversionReason {
    match code {
        486 | 600 => DiversionReason::Busy,
        408 | 480 | 487 => DiversionReason::NoAnswer,
        302 => DiversionReason::Unconditional,
        404 | 410 | 500..=599 => DiversionReason::Unavailable,
        _ => DiversionReason::Unknown,
    }
}

/// The party that diverted `req` to us, when it says.
pub fn diversion_of(req: &SipMessage) -> Option<Diversion> {
    if let Some(n) = req
        .headers
        .list("Diversion")
        .first()
        .and_then(|v| NameAddr::parse("Diversion", v).ok())
    {
        let reason = n
            .params
            .get("reason")
            .flatten()
            .map_or(DiversionReason::Unknown, reason_word);
        return user_of(&n).map(|from| Diversion { from, reason });
    }
    let entries: Vec<NameAddr> = req
        .headers
        .list("History-Info")
        .iter()
        .filter_map(|v| NameAddr::parse("History-Info", v).ok())
        .collect();
    // The last entry is the request as it reached us; the one before it was diverted.
    let [.., diverted, _us] = entries.as_slice() else {
        return None;
    };
    let cause = diverted.uri.headers.as_deref().and_then(|h| {
        let h = h
            .to_ascii_lowercase()
            .replace("%3b", ";")
            .replace("%3d", "=");
        let rest = h.split("cause=").nth(1)?;
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    });
    let from = user_of(diverted)?;
    Some(Diversion {
        from,
        reason: cause.map_or(DiversionReason::Unknown, cause_reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(extra: &str) -> SipMessage {
        let text = format!(
            "INVITE sip:1001@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:c@d>;tag=1\r\nTo: <sip:1001@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        crate::sip::parse::parse_message(text.as_bytes()).unwrap()
    }

    #[test]
    fn the_newest_diversion_names_who_forwarded() {
        let d = diversion_of(&invite(
            "Diversion: <sip:1005@pbx>;reason=user-busy;counter=1\r\nDiversion: <sip:2000@pbx>;reason=unconditional\r\n",
        ))
        .unwrap();
        assert_eq!(d.from, "1005");
        assert_eq!(d.reason, DiversionReason::Busy);
        let tel = diversion_of(&invite(
            "Diversion: <tel:+3612345;phone-context=x>;reason=\"no-answer\"\r\n",
        ))
        .unwrap();
        assert_eq!(
            (tel.from.as_str(), tel.reason),
            ("+3612345", DiversionReason::NoAnswer)
        );
        assert_eq!(diversion_of(&invite("")), None);
        assert_eq!(diversion_of(&invite("Diversion: garbage<<\r\n")), None);
    }

    #[test]
    fn history_info_names_the_entry_before_ours() {
        let d = diversion_of(&invite(
            "History-Info: <sip:1005@pbx?Reason=SIP%3Bcause%3D480>;index=1\r\nHistory-Info: <sip:1001@b>;index=1.1\r\n",
        ))
        .unwrap();
        assert_eq!(
            (d.from.as_str(), d.reason),
            ("1005", DiversionReason::NoAnswer)
        );
        // One entry: the call came straight to us.
        assert_eq!(
            diversion_of(&invite("History-Info: <sip:1001@b>;index=1\r\n")),
            None
        );
    }
}
