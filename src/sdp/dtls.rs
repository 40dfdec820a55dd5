//! DTLS-SRTP in the SDP (RFC 5763, RFC 4145, RFC 4572): `a=fingerprint` names the
//! certificate each side will show in the DTLS handshake, `a=setup` who connects. The offerer
//! says `actpass`; the answerer chooses `active` (it sends the ClientHello, RFC 5763 §5) unless
//! the offer forces the other way. Sans-IO.
//!
//! Only SHA-256 fingerprints are taken (what every current implementation sends); a peer that
//! offers another hash is treated as offering no DTLS-SRTP.

use super::{LocalSrtp, RemoteMedia};
use crate::rtp::dtls::{DtlsIdentity, DtlsRole, Fingerprint};
use crate::rtp::srtp::SrtpSuite;
use sdp::description::media::MediaDescription;
use sdp::description::session::SessionDescription;

/// `a=setup` (RFC 4145 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    ActPass,
    Active,
    Passive,
}

impl Setup {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::ActPass => "actpass",
            Setup::Active => "active",
            Setup::Passive => "passive",
        }
    }

    /// Reads an attribute value (`holdconn` and unknown ones: `None`).
    pub fn parse(value: &str) -> Option<Setup> {
        match value.trim().to_ascii_lowercase().as_str() {
            "actpass" => Some(Setup::ActPass),
            "active" => Some(Setup::Active),
            "passive" => Some(Setup::Passive),
            _ => None,
        }
    }
}

/// What the peer's SDP says about DTLS-SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteDtls {
    pub fingerprint: Fingerprint,
    /// `None` when absent (RFC 4145 §4: then `active`).
    pub setup: Option<Setup>,
}

/// Reads `a=fingerprint:sha-256 AB:CD:...`; other hashes are `None`.
pub fn parse_fingerprint(value: &str) -> Option<Fingerprint> {
    let (hash, hex) = value.trim().split_once(char::is_whitespace)?;
    if !hash.eq_ignore_ascii_case("sha-256") {
        return None;
    }
    Fingerprint::parse(hex)
}

/// Our `a=fingerprint` value.
pub fn format_fingerprint(f: Fingerprint) -> String {
    format!("sha-256 {f}")
}

/// What a call agreed for DTLS-SRTP: our certificate, our end of the handshake, the
/// certificate the peer must show, and the SRTP suites we take.
#[derive(Debug, Clone)]
pub struct DtlsAgreement {
    pub identity: DtlsIdentity,
    pub role: DtlsRole,
    pub remote: Fingerprint,
    pub suites: Vec<SrtpSuite>,
}

impl PartialEq for DtlsAgreement {
    fn eq(&self, other: &Self) -> bool {
        self.identity.fingerprint() == other.identity.fingerprint()
            && self.role == other.role
            && self.remote == other.remote
            && self.suites == other.suites
    }
}

impl Eq for DtlsAgreement {}

/// Answering an offer with DTLS-SRTP: our `a=setup` and our role. We connect unless the
/// offerer insists on connecting itself.
pub fn answer_setup(offer: &RemoteDtls) -> (Setup, DtlsRole) {
    match offer.setup {
        Some(Setup::Active) => (Setup::Passive, DtlsRole::Server),
        // actpass (the rule), passive, or nothing said: we are the client.
        _ => (Setup::Active, DtlsRole::Client),
    }
}

/// Our role from the answer to our `actpass` offer: its `passive` makes us connect; `active`
/// or nothing (RFC 4145's default) makes it connect to us. An answer may not say `actpass`
/// (RFC 5763 §5); one that does is taken as waiting for us.
pub fn offer_role(answer: &RemoteDtls) -> DtlsRole {
    match answer.setup {
        Some(Setup::Passive) | Some(Setup::ActPass) => DtlsRole::Client,
        Some(Setup::Active) | None => DtlsRole::Server,
    }
}

/// The stream's (else the session's) SHA-256 `a=fingerprint` and `a=setup`.
pub(super) fn remote_dtls(sd: &SessionDescription, m: &MediaDescription) -> Option<RemoteDtls> {
    let attr = |key: &str| {
        m.attributes
            .iter()
            .chain(&sd.attributes)
            .find(|a| a.key == key)
            .and_then(|a| a.value.clone())
    };
    Some(RemoteDtls {
        fingerprint: parse_fingerprint(&attr("fingerprint")?)?,
        setup: attr("setup").and_then(|v| Setup::parse(&v)),
    })
}

/// DTLS-SRTP for an answer, when both sides do it: our `a=setup` and what was agreed.
pub(super) fn answer_dtls(offer: &RemoteMedia, ours: &LocalSrtp) -> Option<(Setup, DtlsAgreement)> {
    let remote = offer.dtls?;
    let identity = ours.dtls.clone()?;
    let (setup, role) = answer_setup(&remote);
    Some((
        setup,
        DtlsAgreement {
            identity,
            role,
            remote: remote.fingerprint,
            suites: ours.dtls_suites.clone(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_and_setup_read_and_written() {
        let f = Fingerprint::of(b"cert");
        let text = format_fingerprint(f);
        assert!(text.starts_with("sha-256 "));
        assert_eq!(parse_fingerprint(&text), Some(f));
        assert_eq!(
            parse_fingerprint(&text.replace("sha-256", "SHA-256")),
            Some(f)
        );
        assert_eq!(parse_fingerprint(&text.replace("sha-256", "sha-1")), None);
        assert_eq!(parse_fingerprint("sha-256"), None);
        assert_eq!(Setup::parse(" ACTPASS "), Some(Setup::ActPass));
        assert_eq!(Setup::parse("holdconn"), None);
    }

    #[test]
    fn the_answerer_connects_unless_the_offerer_does() {
        let fingerprint = Fingerprint::of(b"c");
        let offer = |setup| RemoteDtls { fingerprint, setup };
        assert_eq!(
            answer_setup(&offer(Some(Setup::ActPass))),
            (Setup::Active, DtlsRole::Client)
        );
        assert_eq!(
            answer_setup(&offer(Some(Setup::Passive))),
            (Setup::Active, DtlsRole::Client)
        );
        assert_eq!(
            answer_setup(&offer(Some(Setup::Active))),
            (Setup::Passive, DtlsRole::Server)
        );
        assert_eq!(offer_role(&offer(Some(Setup::Active))), DtlsRole::Server);
        assert_eq!(offer_role(&offer(None)), DtlsRole::Server);
        assert_eq!(offer_role(&offer(Some(Setup::Passive))), DtlsRole::Client);
    }
}
