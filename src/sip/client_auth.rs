//! The client side of digest authentication (RFC 3261 §22.2, RFC 7616) for one series of
//! requests that a usage sends: the REGISTERs of a registration, the INVITEs of a call, a
//! REFER. One place picks the challenge of a 401/407, keeps the nonce count, writes the
//! Authorization or Proxy-Authorization header, and tells a fresh challenge (stale, or a new
//! nonce) from one that means our credentials were refused. A server that keeps challenging
//! cannot keep us answering: after [`MAX_FRESH_CHALLENGES`] the credentials count as rejected.

use super::digest::{Challenge, Credentials, DigestRequest, authorization};
use super::message::SipMessage;

/// How many challenges in a row that follow an answer of ours are answered again (a stale
/// nonce, a nonce that expired): enough for a server that rotates nonces, not a loop.
pub const MAX_FRESH_CHALLENGES: u32 = 3;

/// Why a challenge is not answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no password configured")]
    NoCredentials,
    #[error("credentials rejected")]
    Rejected,
    #[error("{0}")]
    Challenge(String),
}

/// The challenge a series of requests answers, and what it already answered.
#[derive(Debug, Default, Clone)]
pub struct ClientAuth {
    /// The challenge to answer and whether a proxy (407) sent it (boxed: a call carries this
    /// in its phase, and most calls are never challenged).
    challenge: Option<Box<(Challenge, bool)>>,
    nonce_count: u32,
    /// The nonce the request in flight answered: a challenge again with the same one means
    /// the answer was refused.
    answered_nonce: Option<String>,
    /// Challenges in a row that followed an answer of ours.
    fresh_challenges: u32,
}

impl ClientAuth {
    /// Takes the challenge of a 401/407 when another request should answer it.
    pub fn on_challenge(
        &mut self,
        resp: &SipMessage,
        creds: &Credentials,
    ) -> Result<(), AuthError> {
        if !creds.is_usable() {
            return Err(AuthError::NoCredentials);
        }
        let proxy = resp.status() == Some(407);
        let header = if proxy {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        let ch = Challenge::pick(resp.headers.get_all(header))
            .map_err(|e| AuthError::Challenge(e.to_string()))?;
        if let Some(previous) = self.answered_nonce.take() {
            let fresh = ch.stale || (previous != ch.nonce && self.fresh_challenges == 0);
            if !fresh || self.fresh_challenges >= MAX_FRESH_CHALLENGES {
                return Err(AuthError::Rejected);
            }
            self.fresh_challenges += 1;
        }
        let same_nonce = self
            .challenge
            .as_ref()
            .is_some_and(|b| b.0.nonce == ch.nonce);
        if !same_nonce {
            self.nonce_count = 0;
        }
        self.challenge = Some(Box::new((ch, proxy)));
        Ok(())
    }

    /// The header (name and value) that answers the challenge taken, for a `method` request
    /// to `uri` with `body`; `None` before any challenge. `cnonce` is a fresh random token.
    pub fn authorize(
        &mut self,
        creds: &Credentials,
        method: &str,
        uri: &str,
        body: &[u8],
        cnonce: &str,
    ) -> Option<(&'static str, String)> {
        self.answered_nonce = None;
        let (ch, proxy) = self.challenge.as_deref()?;
        self.nonce_count += 1;
        let req = DigestRequest {
            method,
            uri,
            body,
            nc: self.nonce_count,
            cnonce,
        };
        let value = authorization(ch, creds, &req).ok()?;
        self.answered_nonce = Some(ch.nonce.clone());
        let name = if *proxy {
            "Proxy-Authorization"
        } else {
            "Authorization"
        };
        Some((name, value))
    }

    /// Takes the challenge and answers it at once: what a request retried after its 401/407
    /// carries.
    pub fn answer(
        &mut self,
        resp: &SipMessage,
        creds: &Credentials,
        (method, uri, body): (&str, &str, &[u8]),
        cnonce: &str,
    ) -> Result<(&'static str, String), AuthError> {
        self.on_challenge(resp, creds)?;
        self.authorize(creds, method, uri, body, cnonce)
            .ok_or_else(|| AuthError::Challenge("the challenge cannot be answered".into()))
    }

    /// The request `sent` again as its challenge `resp` asks: CSeq `cseq`, the old answer
    /// replaced by the new one (a new transaction, RFC 3261 §22.2).
    pub fn retry(
        &mut self,
        sent: &SipMessage,
        resp: &SipMessage,
        creds: &Credentials,
        cseq: u32,
        cnonce: &str,
    ) -> Result<SipMessage, AuthError> {
        let method = sent.method().map(|m| m.to_string()).unwrap_or_default();
        let uri = sent.request_uri().unwrap_or_default().to_string();
        let (name, value) = self.answer(resp, creds, (&method, &uri, &sent.body), cnonce)?;
        let mut again = sent.clone();
        for h in ["CSeq", "Authorization", "Proxy-Authorization"] {
            again.headers.remove(h);
        }
        again.headers.push("CSeq", format!("{cseq} {method}"));
        again.headers.push(name, value);
        Ok(again)
    }

    /// The request succeeded (or a new attempt begins): a later challenge starts afresh. The
    /// nonce our answer used is spent too: the next request, sent without credentials, may be
    /// challenged with the same nonce, and that is not a refusal of them.
    pub fn start_afresh(&mut self) {
        self.fresh_challenges = 0;
        self.answered_nonce = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;
    use crate::sip::parse::parse_message;

    fn challenge(code: u16, nonce: &str, stale: bool) -> SipMessage {
        let header = if code == 407 {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        let stale = if stale { ", stale=true" } else { "" };
        let text = format!(
            "SIP/2.0 {code} Unauthorized\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
{header}: Digest realm=\"b\", nonce=\"{nonce}\", qop=\"auth\"{stale}\r\nContent-Length: 0\r\n\r\n"
        );
        match parse_message(text.as_bytes()) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    fn creds() -> Credentials {
        Credentials {
            username: "a".into(),
            password: Some(Secret::new("pw")),
            ha1_md5: None,
            realm: None,
        }
    }

    #[test]
    fn a_proxy_challenge_is_answered_with_proxy_authorization_and_counts_nonces() {
        let mut auth = ClientAuth::default();
        let (name, value) = auth
            .answer(
                &challenge(407, "n1", false),
                &creds(),
                ("INVITE", "sip:b", b""),
                "c1",
            )
            .expect("answered");
        assert_eq!(name, "Proxy-Authorization");
        assert!(value.contains("nc=00000001"), "{value}");
        auth.start_afresh();
        let (_, again) = auth
            .authorize(&creds(), "INVITE", "sip:b", b"", "c2")
            .expect("reused");
        assert!(again.contains("nc=00000002"), "{again}");
    }

    #[test]
    fn after_a_success_the_same_nonce_is_a_new_challenge_not_a_refusal() {
        let mut auth = ClientAuth::default();
        let c = challenge(407, "n1", false);
        assert!(
            auth.answer(&c, &creds(), ("PUBLISH", "sip:b", b""), "c")
                .is_ok()
        );
        auth.start_afresh();
        // The next PUBLISH went without credentials and meets the same nonce.
        assert!(
            auth.answer(&c, &creds(), ("PUBLISH", "sip:b", b""), "c")
                .is_ok()
        );
    }

    #[test]
    fn the_same_nonce_again_means_rejected_credentials() {
        let mut auth = ClientAuth::default();
        let c = challenge(401, "n1", false);
        assert!(
            auth.answer(&c, &creds(), ("INVITE", "sip:b", b""), "c")
                .is_ok()
        );
        assert_eq!(
            auth.answer(&c, &creds(), ("INVITE", "sip:b", b""), "c"),
            Err(AuthError::Rejected)
        );
        // Negative control: a new nonce after one answer is a fresh challenge.
        let mut auth = ClientAuth::default();
        assert!(
            auth.answer(&c, &creds(), ("INVITE", "sip:b", b""), "c")
                .is_ok()
        );
        let newer = challenge(401, "n2", false);
        assert!(
            auth.answer(&newer, &creds(), ("INVITE", "sip:b", b""), "c")
                .is_ok()
        );
    }

    #[test]
    fn stale_challenges_are_answered_only_a_few_times() {
        let mut auth = ClientAuth::default();
        let mut answered = 0;
        for i in 0..10 {
            let c = challenge(401, &format!("n{i}"), true);
            if auth
                .answer(&c, &creds(), ("REGISTER", "sip:b", b""), "c")
                .is_err()
            {
                break;
            }
            answered += 1;
        }
        assert_eq!(answered, 1 + MAX_FRESH_CHALLENGES);
    }

    #[test]
    fn no_password_is_said_so() {
        let mut auth = ClientAuth::default();
        let none = Credentials {
            password: None,
            ..creds()
        };
        assert_eq!(
            auth.on_challenge(&challenge(401, "n", false), &none),
            Err(AuthError::NoCredentials)
        );
    }
}
