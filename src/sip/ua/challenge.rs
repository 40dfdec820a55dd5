//! The answer to a 401/407 challenge, for every request a session sends (INVITE, REFER): one
//! place that picks the challenge, fills in the account's credentials and computes the digest
//! (RFC 3261 §22.2, RFC 7616). REGISTER keeps its own in `registration.rs`, which also tracks
//! the nonce count across refreshes.

use super::{UserAgent, random_token};
use crate::sip::digest::{Challenge, Credentials, DigestRequest, authorization};
use crate::sip::message::SipMessage;

impl UserAgent {
    /// The Authorization (401) or Proxy-Authorization (407) header answering `resp`'s
    /// challenge for a `method` request to `uri` with `body`: its name and value, or why the
    /// challenge cannot be answered (no credentials, an algorithm we do not know).
    pub(super) fn answer_challenge(
        &mut self,
        resp: &SipMessage,
        method: &str,
        uri: &str,
        body: &[u8],
    ) -> Result<(&'static str, String), String> {
        let proxy = resp.status() == Some(407);
        let (challenge_header, answer_header) = if proxy {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let creds = Credentials {
            username: self
                .cfg
                .auth_user
                .clone()
                .unwrap_or_else(|| self.cfg.user.clone()),
            password: self.cfg.password.clone(),
            ha1_md5: self.cfg.ha1_md5.clone(),
            realm: self.cfg.realm.clone(),
        };
        let challenge =
            Challenge::pick(resp.headers.get_all(challenge_header)).map_err(|e| e.to_string())?;
        let cnonce = random_token(&mut self.rng, 16);
        let value = authorization(
            &challenge,
            &creds,
            &DigestRequest {
                method,
                uri,
                body,
                nc: 1,
                cnonce: &cnonce,
            },
        )
        .map_err(|e| e.to_string())?;
        Ok((answer_header, value))
    }
}
