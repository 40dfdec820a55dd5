//! What the UA reads off a message's headers and body: the peer as shown to the user, tags,
//! the Contact's URI, the SDP body. Shared by call set-up, incoming calls and mid-call code.

use crate::sip::headers::NameAddr;
use crate::sip::message::SipMessage;

pub(super) use crate::sip::headers::media_type;

/// The URI of a name-addr (`"Bob" <sip:bob@host>;tag=x` gives `sip:bob@host`).
pub(super) fn bare_uri(addr: &str) -> String {
    match (addr.find('<'), addr.find('>')) {
        (Some(a), Some(b)) if a < b => addr[a + 1..b].to_string(),
        _ => addr.split(';').next().unwrap_or(addr).trim().to_string(),
    }
}

pub(super) fn peer_of(value: &str) -> (String, String) {
    match NameAddr::parse("From", value) {
        Ok(n) => (
            n.uri.user.clone().unwrap_or_else(|| n.uri.to_string()),
            n.display.unwrap_or_default(),
        ),
        Err(_) => (value.to_string(), String::new()),
    }
}

pub(super) fn without_tag(value: &str) -> String {
    match NameAddr::parse("To", value) {
        Ok(mut n) => {
            n.params.remove("tag");
            n.to_string()
        }
        Err(_) => value.to_string(),
    }
}

pub(super) fn tag_of(value: Option<&str>) -> Option<String> {
    NameAddr::parse("To", value?)
        .ok()
        .and_then(|n| n.tag().map(str::to_string))
}

pub(super) use crate::sip::headers::contact_uri;

pub(super) fn sdp_body(msg: &SipMessage) -> Option<String> {
    let is_sdp = msg
        .headers
        .get("Content-Type")
        .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp"));
    (is_sdp && !msg.body.is_empty()).then(|| String::from_utf8_lossy(&msg.body).into_owned())
}

/// Whether the message's Allow names UPDATE: the far end takes session refreshes by UPDATE.
pub(super) fn allows_update(msg: &SipMessage) -> bool {
    msg.headers
        .list("Allow")
        .iter()
        .any(|m| m.eq_ignore_ascii_case("UPDATE"))
}
