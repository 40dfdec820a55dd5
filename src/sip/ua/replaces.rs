//! An INVITE that replaces one of our calls (RFC 3891, the "replaces" of libre's sipsess):
//! which call its `Replaces` header names and whether that call may be given away. The new
//! call itself rings or is answered in `incoming.rs`; the replaced one is hung up once the new
//! one is confirmed.

use super::UserAgent;
use crate::sip::builder::response_to;
use crate::sip::call::{CallState, SessionId};
use crate::sip::message::SipMessage;
use crate::sip::refer::replaces_parts;

impl UserAgent {
    /// The call an INVITE's Replaces header (RFC 3891) names, when it has one: `Ok(None)`
    /// without the header, `Err` with the response when it cannot be honoured (481 no such
    /// dialog, 486 early-only for a confirmed call, 603 a call that is ending, 403 when
    /// `allowreplace` is 0, 400 for more than one header or a malformed one).
    pub(super) fn replaced_session(
        &self,
        req: &SipMessage,
        tag: &str,
    ) -> Result<Option<SessionId>, SipMessage> {
        let values = req.headers.list("Replaces");
        let value = match values.as_slice() {
            [] => return Ok(None),
            [one] => one,
            _ => {
                return Err(response_to(
                    req,
                    400,
                    Some("Bad Request (more than one Replaces)"),
                    Some(tag),
                ));
            }
        };
        if !self.cfg.incoming.allow_replaces {
            return Err(response_to(
                req,
                403,
                Some("Forbidden (calls are not replaced here: allowreplace=0)"),
                Some(tag),
            ));
        }
        let Some((call_id, to_tag, from_tag, early_only)) = replaces_parts(value) else {
            return Err(response_to(
                req,
                400,
                Some("Bad Request (malformed Replaces)"),
                Some(tag),
            ));
        };
        // The to-tag is ours (the recipient's), the from-tag the peer's.
        let Some(c) = self.calls.iter().find(|c| {
            c.dialog.call_id == call_id
                && c.dialog.local_tag == to_tag
                && c.dialog.remote_tag.as_deref() == Some(from_tag.as_str())
        }) else {
            return Err(response_to(req, 481, None, Some(tag)));
        };
        match c.state() {
            CallState::Connected | CallState::Connecting if early_only => {
                Err(response_to(req, 486, None, Some(tag)))
            }
            CallState::Connected | CallState::Connecting => Ok(Some(c.id)),
            // Only an early dialog we started may be replaced (RFC 3891 §3); an incoming
            // call still ringing here is not ours to give away.
            CallState::Calling | CallState::Proceeding | CallState::Ringing => Ok(Some(c.id)),
            CallState::Incoming => Err(response_to(req, 481, None, Some(tag))),
            CallState::Terminating | CallState::Terminated => {
                Err(response_to(req, 603, None, Some(tag)))
            }
        }
    }
}
