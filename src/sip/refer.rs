//! Call transfer (RFC 3515 REFER, RFC 5589 call flows, RFC 3891 Replaces): the data a session
//! keeps while it transfers its peer or follows a peer's transfer, and the pure pieces of the
//! protocol — the `message/sipfrag` progress of NOTIFY, the Refer-To with an escaped Replaces,
//! and the checks on a Refer-To we are asked to follow. The UA drives them (`ua/refer.rs`).

use super::headers::NameAddr;
use super::session_id::SessionId;
use super::uri::{Scheme, Uri, unescape};
use std::time::Instant;

/// How our transfers go (`transfertype`, `discontransfer`, `transfdelay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferPrefs {
    /// `transfertype` 0: the user cannot transfer.
    pub enabled: bool,
    /// Put the call on hold before the REFER and watch the NOTIFYs (`transfertype` 6, the
    /// default): a failed transfer resumes the call. `false` (`transfertype` 1): REFER at once
    /// and take the 202 as the end of our part.
    pub hold_and_watch: bool,
    /// `transfdelay`: between the hold and the REFER.
    pub delay: std::time::Duration,
    /// `discontransfer`: hang our leg up once the transfer succeeded.
    pub hang_up_after: bool,
    /// `transferwithreplace`: connecting two calls sends Refer-To with Replaces, so that the
    /// target swaps our call for the transferee's instead of ringing again.
    pub with_replaces: bool,
}

impl Default for TransferPrefs {
    fn default() -> Self {
        TransferPrefs {
            enabled: true,
            hold_and_watch: true,
            delay: std::time::Duration::from_millis(400),
            hang_up_after: true,
            with_replaces: false,
        }
    }
}

impl TransferPrefs {
    /// From `transfertype` (-1 is the default, 6). Values 2-5 (the reference's attended
    /// variants through a consultation call) take the watched flow of 6; the consultation call
    /// is the user's own second line, joined by a transfer with an empty target.
    pub fn from_params(
        transfer_type: i64,
        hang_up_after: bool,
        delay_ms: u64,
        replaces: bool,
    ) -> Self {
        TransferPrefs {
            enabled: transfer_type != 0,
            hold_and_watch: transfer_type != 1,
            delay: std::time::Duration::from_millis(delay_ms),
            hang_up_after,
            with_replaces: replaces,
        }
    }
}

/// Our transfer of this session's peer to someone else (we are the transferor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOut {
    /// Waiting for our hold to be in place and `transfdelay` to pass before the REFER goes
    /// (`holds`: the transfer put the call on hold, so a failure resumes it; a call the user
    /// had held already stays held).
    Holding {
        target: ReferTarget,
        not_before: Instant,
        holds: bool,
    },
    /// The REFER is out, no final answer yet (`held`: the transfer holds the call;
    /// `authed`: the REFER carries our credentials, so a second challenge is a refusal).
    Referring {
        target: ReferTarget,
        held: bool,
        authed: bool,
    },
    /// The peer accepted (2xx): its NOTIFYs say how its call to the target goes; without a
    /// final word by `give_up` the outcome is reported unknown.
    Accepted {
        target: ReferTarget,
        held: bool,
        give_up: Instant,
        /// The last progress code reported, so that repeated NOTIFYs report nothing new.
        last: u16,
    },
}

impl TransferOut {
    /// The target of the transfer, whatever its stage.
    pub fn target(&self) -> &ReferTarget {
        match self {
            TransferOut::Holding { target, .. }
            | TransferOut::Referring { target, .. }
            | TransferOut::Accepted { target, .. } => target,
        }
    }

    /// When this stage needs the clock.
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            TransferOut::Holding { not_before, .. } => Some(*not_before),
            TransferOut::Referring { .. } => None,
            TransferOut::Accepted { give_up, .. } => Some(*give_up),
        }
    }
}

/// Where a transfer sends the peer: the Refer-To URI, and for display what the user asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferTarget {
    /// The Refer-To value (a URI, with `?Replaces=` when it replaces a call of ours).
    pub refer_to: String,
    /// What the user sees: the number dialled or the peer of the call it connects to.
    pub shown: String,
    /// Connecting to another of our calls: that session, hung up once the transfer succeeded.
    pub joins: Option<SessionId>,
}

/// The peer asked this session, by REFER, to call someone (we are the transferee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferIn {
    /// The `id` of the implicit subscription's `Event: refer` (the REFER's CSeq number).
    pub event_id: u32,
    /// The target to call, with the Replaces header to put in its INVITE (if any).
    pub target: FollowTarget,
}

/// A Refer-To we will follow: the URI to call (without its headers) and its Replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowTarget {
    pub uri: Uri,
    /// The unescaped Replaces header value (`callid;to-tag=..;from-tag=..`), if any.
    pub replaces: Option<String>,
}

/// Why a Refer-To is not followed: the status code and reason to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}")]
pub struct ReferRefused {
    pub code: u16,
    pub reason: String,
}

fn refused(code: u16, reason: impl Into<String>) -> ReferRefused {
    ReferRefused {
        code,
        reason: reason.into(),
    }
}

/// Checks the Refer-To header(s) of a REFER we received. Exactly one, a `sip:` URI; of its
/// URI headers only `Replaces` is taken (RFC 3891) — any other header a REFER could smuggle
/// into our INVITE (`Call-Info` to make the target auto-answer, a body...) is dropped.
pub fn follow_target(refer_to: &[String]) -> Result<FollowTarget, ReferRefused> {
    let value = match refer_to {
        [one] => one,
        [] => return Err(refused(400, "Bad Request (no Refer-To)")),
        _ => return Err(refused(400, "Bad Request (more than one Refer-To)")),
    };
    let addr = NameAddr::parse("Refer-To", value)
        .map_err(|e| refused(400, format!("Bad Request ({e})")))?;
    let mut uri = addr.uri;
    match uri.scheme {
        Scheme::Sip => {}
        Scheme::Sips => {
            return Err(refused(
                403,
                "Forbidden (sips: transfer targets are not followed yet)",
            ));
        }
        _ => return Err(refused(403, "Forbidden (only sip: targets are followed)")),
    }
    let replaces = uri.headers.take().and_then(|h| {
        h.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            k.eq_ignore_ascii_case("replaces").then(|| unescape(v))
        })
    });
    if let Some(r) = &replaces {
        replaces_parts(r).ok_or_else(|| refused(400, "Bad Request (malformed Replaces)"))?;
    }
    Ok(FollowTarget { uri, replaces })
}

/// A Replaces value's parts (RFC 3891 §6.1): Call-ID, to-tag, from-tag, and early-only.
pub fn replaces_parts(value: &str) -> Option<(String, String, String, bool)> {
    let mut parts = value.split(';');
    let call_id = parts.next()?.trim();
    if call_id.is_empty() {
        return None;
    }
    let (mut to, mut from, mut early) = (None, None, false);
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "to-tag" => to = Some(v.trim().to_string()),
            "from-tag" => from = Some(v.trim().to_string()),
            "early-only" => early = true,
            _ => {}
        }
    }
    Some((call_id.to_string(), to?, from?, early))
}

/// `value` %-escaped so that it can sit in a URI header (RFC 3261 §25.1 `hvalue`): everything
/// but the unreserved characters is escaped.
fn escape_hvalue(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The Refer-To of an attended transfer: the other call's peer, asked to replace the dialog
/// `(call_id, to_tag, from_tag)` as the target sees it (its own tag is the to-tag).
pub fn refer_to_replacing(uri: &str, call_id: &str, to_tag: &str, from_tag: &str) -> String {
    let replaces = format!("{call_id};to-tag={to_tag};from-tag={from_tag}");
    format!("<{uri}?Replaces={}>", escape_hvalue(&replaces))
}

/// The status line of a `message/sipfrag` body (RFC 3420), as the transferee reports its call
/// to the target: `SIP/2.0 180 Ringing`. Gives the code and reason.
pub fn sipfrag_status(body: &[u8]) -> Option<(u16, String)> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?.trim();
    let rest = line.strip_prefix("SIP/2.0 ")?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let code: u16 = code.parse().ok()?;
    (100..700)
        .contains(&code)
        .then(|| (code, reason.trim().to_string()))
}

/// The sipfrag body reporting `code` and `reason`.
pub fn sipfrag(code: u16, reason: &str) -> String {
    let reason: String = reason.chars().filter(|c| !c.is_control()).collect();
    format!("SIP/2.0 {code} {reason}\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_checks() {
        let t = follow_target(&["<sip:1003@127.0.0.1>".into()]).unwrap();
        assert_eq!(t.uri.to_string(), "sip:1003@127.0.0.1");
        assert_eq!(t.replaces, None);
        assert_eq!(follow_target(&[]).unwrap_err().code, 400);
        assert_eq!(
            follow_target(&["<sip:a@b>".into(), "<sip:c@d>".into()])
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            follow_target(&["<http://evil>".into()]).unwrap_err().code,
            403
        );
        assert_eq!(follow_target(&["<sips:a@b>".into()]).unwrap_err().code, 403);
        assert_eq!(follow_target(&["<sip:".into()]).unwrap_err().code, 400);
        // Only Replaces survives; Call-Info (auto-answer) is dropped.
        let t = follow_target(&[
            "<sip:1003@h?Call-Info=%3Csip:x%3E%3Banswer-after%3D0&Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>"
                .into(),
        ])
        .unwrap();
        assert_eq!(t.replaces.as_deref(), Some("abc@h;to-tag=1;from-tag=2"));
        assert_eq!(t.uri.headers, None);
        assert_eq!(
            follow_target(&["<sip:1003@h?Replaces=abc>".into()])
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn replaces_round_trip() {
        let r = refer_to_replacing("sip:1003@127.0.0.1", "x@y%z", "tt", "ff");
        let t = follow_target(&[r]).unwrap();
        assert_eq!(
            replaces_parts(t.replaces.as_deref().unwrap()),
            Some(("x@y%z".into(), "tt".into(), "ff".into(), false))
        );
    }

    #[test]
    fn sipfrag_parsing() {
        assert_eq!(
            sipfrag_status(b"SIP/2.0 180 Ringing\r\n"),
            Some((180, "Ringing".into()))
        );
        assert_eq!(
            sipfrag_status(b"SIP/2.0 200\r\n"),
            Some((200, String::new()))
        );
        assert_eq!(sipfrag_status(b"garbage"), None);
        assert_eq!(sipfrag_status(b"SIP/2.0 99 x"), None);
        assert_eq!(sipfrag_status(&[0xff, 0xfe]), None);
        assert_eq!(
            sipfrag_status(sipfrag(486, "Busy\r\nHere").as_bytes()),
            Some((486, "BusyHere".into()))
        );
    }
}
