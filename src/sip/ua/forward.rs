//! Call forwarding both ways: an incoming call is redirected with 302 and the target's Contact
//! (`forwardall`, `forwardonbusy`, or the user's Forward on a ringing call), callers on the
//! `blacklist` are declined and do-not-disturb (`dnd`) turns calls away before anything rings, and a 3xx to our INVITE is followed to its
//! Contact (at most [`MAX_REDIRECTS`] times, never back to a target already tried).

use super::calls::CallError;
use super::{UaEvent, UserAgent};
use crate::model::CallState;
use crate::sip::builder::response_to;
use crate::sip::headers::NameAddr;
use crate::sip::message::SipMessage;
use crate::sip::session_state::{Progress, SessionState};
use crate::sip::uri::Scheme;
use std::time::Instant;

/// How many 3xx one outgoing call follows before it gives up (a redirect loop).
pub const MAX_REDIRECTS: u32 = 5;

/// What happens to new incoming calls before they ring (`forwardall`, `forwardonbusy`,
/// `blacklist`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncomingPolicy {
    /// Every incoming call is redirected here.
    pub forward_all: String,
    /// Calls arriving while a call is up (or every line is taken) are redirected here.
    pub forward_on_busy: String,
    /// Callers (user part or number, case-insensitive) whose calls are declined with 603.
    pub blacklist: Vec<String>,
    /// `allowreplace` ≠ 0: an INVITE with Replaces (RFC 3891) naming one of our calls takes
    /// its place (answered at once, the old call hung up); 0 refuses it with 403.
    pub allow_replaces: bool,
    /// `dnd`: new calls are answered with this code (`dndresponse`: 486 or 480) instead of
    /// ringing.
    pub dnd: Option<u16>,
    /// `ignoreincoming`: this phone takes no calls (an agent who only calls out): new calls
    /// get 480 before anything rings; forwarding still applies.
    pub ignore: bool,
    /// `forwardonnoanswer` and `forwardnoanswertime`: a call nobody answered within the time
    /// is redirected to the target.
    pub forward_no_answer: Option<(String, std::time::Duration)>,
    /// `transferall`: every incoming call we answer is transferred (blind) to this target
    /// once it is up.
    pub transfer_all: String,
}

impl IncomingPolicy {
    /// From the parameters' text (`blacklist` is a comma list).
    pub fn from_params(
        forward_all: &str,
        forward_on_busy: &str,
        blacklist: &str,
        allow_replaces: bool,
    ) -> Self {
        IncomingPolicy {
            allow_replaces,
            dnd: None,
            ignore: false,
            forward_no_answer: None,
            transfer_all: String::new(),
            forward_all: forward_all.trim().to_string(),
            forward_on_busy: forward_on_busy.trim().to_string(),
            blacklist: blacklist
                .split(',')
                .map(|b| b.trim().to_ascii_lowercase())
                .filter(|b| !b.is_empty())
                .collect(),
        }
    }

    /// Whether `peer` (the caller's user part) is on the blacklist.
    pub fn blocks(&self, peer: &str) -> bool {
        let peer = peer.to_ascii_lowercase();
        self.blacklist.contains(&peer)
    }
}

impl UserAgent {
    /// The policy's answer to a new INVITE from `peer` before it rings: declined (blacklist)
    /// or redirected (forwarding), or `None` to let it ring. `busy`: a call is up or no line
    /// is free.
    pub(super) fn incoming_policy(
        &mut self,
        req: &SipMessage,
        peer: &str,
        busy: bool,
        tag: &str,
    ) -> Option<SipMessage> {
        let policy = &self.cfg.incoming;
        if policy.blocks(peer) {
            self.events.push_back(UaEvent::CallRefused {
                peer: peer.to_string(),
                code: 603,
                why: "the caller is on the blacklist".into(),
            });
            return Some(response_to(req, 603, None, Some(tag)));
        }
        let refusal = if policy.ignore {
            Some((480, "incoming calls are ignored (ignoreincoming)"))
        } else {
            policy.dnd.map(|code| (code, "do not disturb")).or_else(|| {
                // Our presence says DND: it turns calls away like the `dnd` switch does.
                (self.presence_status == crate::model::PresenceStatus::Dnd)
                    .then_some((486, "do not disturb (presence)"))
            })
        };
        if policy.forward_all.is_empty()
            && let Some((code, why)) = refusal
        {
            self.events.push_back(UaEvent::CallRefused {
                peer: peer.to_string(),
                code,
                why: why.into(),
            });
            return Some(response_to(req, code, None, Some(tag)));
        }
        let target = if !policy.forward_all.is_empty() {
            policy.forward_all.clone()
        } else if busy && !policy.forward_on_busy.is_empty() {
            policy.forward_on_busy.clone()
        } else {
            return None;
        };
        match self.redirect_response(req, &target, tag) {
            Ok(r) => {
                self.events.push_back(UaEvent::CallRefused {
                    peer: peer.to_string(),
                    code: 302,
                    why: format!("forwarded to {target}"),
                });
                Some(r)
            }
            // A forward target that is not callable: the call rings as if none were set.
            Err(e) => {
                self.events.push_back(UaEvent::CommandFailed {
                    error: format!("call forwarding: {e}"),
                });
                None
            }
        }
    }

    /// A 302 pointing at `target` (a number, user or URI, as dialled).
    fn redirect_response(
        &self,
        req: &SipMessage,
        target: &str,
        tag: &str,
    ) -> Result<SipMessage, CallError> {
        let uri = self.dial_target(target)?;
        let mut r = response_to(req, 302, None, Some(tag));
        r.headers.push("Contact", format!("<{uri}>"));
        Ok(r)
    }

    /// Forwards the call ringing on `line` to `target` (API_Forward): 302 with its Contact.
    pub fn forward(&mut self, now: Instant, line: u32, target: &str) -> Result<(), CallError> {
        let idx = self.line_index(line)?;
        if self.calls[idx].state() != CallState::Incoming {
            return Err(CallError::NotRinging(line));
        }
        let Some((req, key)) = self.calls[idx]
            .phase
            .incoming()
            .map(|i| (i.request.clone(), i.server_tx.clone()))
        else {
            return Err(CallError::NotRinging(line));
        };
        let r = self.redirect_response(&req, target, &self.calls[idx].dialog.local_tag)?;
        let _ = self.layer.send_response(now, &key, &r);
        self.calls[idx].ended_by_us = true;
        self.end(idx, &format!("forwarded to {}", target.trim()));
        self.pump(now);
        Ok(())
    }

    /// A 3xx to our INVITE: the call goes on to the first Contact that is a `sip:` URI not
    /// tried yet. Gives false when it cannot be followed (the call then ends with the 3xx).
    pub(super) fn follow_redirect(&mut self, now: Instant, idx: usize, resp: &SipMessage) -> bool {
        let SessionState::Calling(outgoing) = &self.calls[idx].phase else {
            return false;
        };
        if outgoing.redirects.len() as u32 >= MAX_REDIRECTS {
            return false;
        }
        let tried = &outgoing.redirects;
        let current = self.calls[idx].dialog.remote_target.clone();
        let Some(uri) = resp
            .headers
            .list("Contact")
            .iter()
            .filter_map(|c| NameAddr::parse("Contact", c).ok())
            .map(|n| {
                let mut uri = n.uri;
                // Headers in a Contact URI are not ours to put into the new INVITE.
                uri.headers = None;
                uri
            })
            .find(|u| {
                u.scheme == Scheme::Sip
                    && u.to_string() != current
                    && !tried.iter().any(|t| *t == u.to_string())
            })
        else {
            return false;
        };
        let c = &mut self.calls[idx];
        if let Some(o) = c.phase.outgoing_mut() {
            o.redirects.push(current);
            o.progress = Progress::Sent;
            o.auth = Default::default();
        }
        c.dialog.remote_target = uri.to_string();
        c.dialog.remote_uri = format!("<{uri}>");
        c.dialog.remote_tag = None;
        c.dialog.local_cseq += 1;
        c.peer = uri.user.clone().unwrap_or_else(|| uri.host.clone());
        // The peer changed even when the state did not: always told.
        self.call_event(idx);
        self.send_invite(now, idx, None);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::IncomingPolicy;

    #[test]
    fn blacklist_matches_whole_names_in_any_case() {
        let p = IncomingPolicy::from_params("", "", " 1005, Spam ,,", true);
        assert!(p.blocks("1005") && p.blocks("spam") && p.blocks("SPAM"));
        assert!(!p.blocks("10055") && !p.blocks(""));
    }
}
