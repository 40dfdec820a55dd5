//! The credentials of the account for the requests a session sends (INVITE, REFER) and for
//! subscriptions (SUBSCRIBE): the
//! challenge itself is taken and answered by [`ClientAuth`] (`sip/client_auth.rs`), the same
//! code that answers the registration's challenges.

use super::{UserAgent, random_token};
use crate::sip::client_auth::ClientAuth;
use crate::sip::digest::Credentials;
use crate::sip::message::SipMessage;

impl UserAgent {
    /// The account's credentials, as a challenge is answered with them.
    pub(super) fn credentials(&self) -> Credentials {
        Credentials {
            username: self
                .cfg
                .auth_user
                .clone()
                .unwrap_or_else(|| self.cfg.user.clone()),
            password: self.cfg.password.clone(),
            ha1_md5: self.cfg.ha1_md5.clone(),
            realm: self.cfg.realm.clone(),
        }
    }

    /// The Authorization (401) or Proxy-Authorization (407) header answering `resp`'s
    /// challenge for a `method` request to `uri` with `body`, kept in `auth` (the series of
    /// requests it belongs to): its name and value, or why the challenge is not answered (no
    /// credentials, rejected ones, an algorithm we do not know).
    pub(super) fn answer_challenge(
        &mut self,
        auth: &mut ClientAuth,
        resp: &SipMessage,
        (method, uri, body): (&str, &str, &[u8]),
    ) -> Result<(&'static str, String), String> {
        let cnonce = random_token(&mut self.rng, 16);
        auth.answer(resp, &self.credentials(), (method, uri, body), &cnonce)
            .map_err(|e| e.to_string())
    }
}
