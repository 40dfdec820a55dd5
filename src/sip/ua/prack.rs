//! Reliable provisional responses (RFC 3262; the header rules are in `sip/rel100.rs`), both
//! ways. Calling out, a provisional response the far end sends reliably is acknowledged by
//! PRACK, in RSeq order, each once. Called, our ringing goes out reliably when the caller
//! requires it (or supports it and `use100rel` is on), is resent until the caller's PRACK
//! comes, and the call is refused with 500 when no PRACK comes in 64*T1.

use super::UserAgent;
use super::fields::contact_uri;
use super::owners::SessionTx;
use crate::sip::builder::response_to;
use crate::sip::call_timers::CallTimer;
use crate::sip::headers::CSeq;
use crate::sip::message::{Method, SipMessage};
use crate::sip::rel100::{self, RAck, ReliableProvisional};
use crate::sip::session_expires::supports;
use crate::sip::session_state::SessionState;
use std::time::Instant;

impl UserAgent {
    /// A provisional response to our INVITE: PRACK it when it is reliable and the next in
    /// order. A retransmission (an RSeq already acknowledged) and one out of order are not
    /// acknowledged (§4): the far end resends until the one it waits for is.
    pub(super) fn prack_provisional(&mut self, now: Instant, idx: usize, resp: &SipMessage) {
        let Some(rseq) = rel100::reliable_rseq(resp) else {
            return;
        };
        let c = &mut self.calls[idx];
        let SessionState::Calling(outgoing) = &mut c.phase else {
            return;
        };
        if outgoing
            .last_rseq
            .is_some_and(|last| rseq != last.wrapping_add(1))
        {
            return;
        }
        let Some(cseq) = CSeq::of(resp).map(|c| c.seq) else {
            return;
        };
        outgoing.last_rseq = Some(rseq);
        // The PRACK goes inside the early dialog the response made: to its Contact, along its
        // Record-Route in reverse (RFC 3261 §12.1.2).
        if let Some(target) = contact_uri(resp) {
            c.dialog.remote_target = target;
        }
        c.dialog.route_set = resp
            .headers
            .list("Record-Route")
            .into_iter()
            .rev()
            .collect();
        let mut prack = c.dialog.request(Method::Prack);
        prack.headers.push(
            "RAck",
            RAck {
                rseq,
                cseq,
                method: Method::Invite,
            }
            .value(),
        );
        self.send_session_request(now, idx, prack, SessionTx::Prack);
    }

    /// Whether our provisional responses to `req` go out reliably: the caller requires it, or
    /// supports it and `use100rel` is on.
    pub(super) fn wants_reliable(&self, req: &SipMessage) -> bool {
        let required = req
            .headers
            .list("Require")
            .iter()
            .any(|t| t.eq_ignore_ascii_case(rel100::TAG));
        required || (self.cfg.use_100rel && supports(req, rel100::TAG))
    }

    /// Makes `ringing` (the 180 to the INVITE of call `idx`) reliable and starts its resends.
    pub(super) fn make_reliable(&mut self, now: Instant, idx: usize, ringing: &mut SipMessage) {
        use rand::Rng;
        // A random start (§3: 1 to 2^31 - 1) so that RSeqs of different calls do not collide.
        let rseq = self.rng.random_range(1..=0x7fff_ffffu32);
        ringing.headers.push("Require", rel100::TAG);
        ringing.headers.push("RSeq", rseq.to_string());
        let cseq = self.calls[idx].dialog.remote_cseq.unwrap_or(1);
        let t1 = self.cfg.timers.t1;
        let c = &mut self.calls[idx];
        let Some(incoming) = c.phase.incoming_mut() else {
            return;
        };
        incoming.reliable = Some(ReliableProvisional {
            response: ringing.clone(),
            rseq,
            cseq,
            interval: t1,
            give_up: now + self.cfg.timers.t1x64(),
            acked: false,
        });
        c.timers.set(CallTimer::ProvisionalResend, now + t1);
    }

    /// A PRACK from the caller: 200 when it acknowledges our reliable response, 481 otherwise
    /// (§3: a PRACK that matches no unacknowledged reliable response).
    pub(super) fn incoming_prack(&mut self, req: &SipMessage, tag: &str) -> SipMessage {
        let Some(idx) = self.dialog_index(req) else {
            return response_to(req, 481, None, Some(tag));
        };
        let reliable = self.calls[idx]
            .phase
            .incoming()
            .and_then(|i| i.reliable.as_ref());
        let matches = match (RAck::of(req), reliable) {
            (Some(rack), Some(rel)) => {
                rack.rseq == rel.rseq && rack.cseq == rel.cseq && rack.method == Method::Invite
            }
            _ => false,
        };
        if !matches {
            return response_to(req, 481, Some("No such reliable response"), None);
        }
        let c = &mut self.calls[idx];
        if let Some(rel) = c.phase.incoming_mut().and_then(|i| i.reliable.as_mut()) {
            rel.acked = true;
        }
        c.timers.clear(CallTimer::ProvisionalResend);
        response_to(req, 200, None, None)
    }

    /// Resends our unacknowledged reliable provisional responses (T1 doubling); refuses the
    /// call with 500 when 64*T1 passed without a PRACK.
    pub(super) fn reliable_resends(&mut self, now: Instant) {
        let lines: Vec<u32> = self.calls.iter().map(|c| c.line).collect();
        for line in lines {
            let Ok(idx) = self.line_index(line) else {
                continue;
            };
            if !self.calls[idx]
                .timers
                .take_due(CallTimer::ProvisionalResend, now)
            {
                continue;
            }
            let c = &self.calls[idx];
            let Some((Some(rel), key)) = c
                .phase
                .incoming()
                .map(|i| (i.reliable.clone(), i.server_tx.clone()))
            else {
                continue;
            };
            if rel.acked {
                continue;
            }
            if rel.give_up <= now {
                self.reject_with(now, idx, 500, "no PRACK for our reliable ringing");
                continue;
            }
            let _ = self.layer.send_response(now, &key, &rel.response);
            let c = &mut self.calls[idx];
            let interval = rel.interval * 2;
            if let Some(r) = c.phase.incoming_mut().and_then(|i| i.reliable.as_mut()) {
                r.interval = interval;
            }
            c.timers.set(
                CallTimer::ProvisionalResend,
                (now + interval).min(rel.give_up),
            );
        }
    }
}
