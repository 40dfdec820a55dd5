//! Transfers, both ways (RFC 3515, RFC 5589). As the transferor: hold the call (when
//! `transfertype` says so), send REFER with the target — a number, or another of our calls
//! (with Replaces when `transferwithreplace`) — then follow the transferee's NOTIFYs: success
//! hangs our leg up (`discontransfer`), failure resumes the call. As the transferee: answer a
//! REFER with 202, let the driver place the call to the target (it binds the media), and
//! report that call's progress back by NOTIFY until it is answered or fails.

use super::calls::CallError;
use super::owners::SessionTx;
use super::{UaEvent, UserAgent};
use crate::model::{CallState, TransferRole, TransferState, TransferStep};
use crate::sip::builder::response_to;
use crate::sip::call::SessionId;
use crate::sip::headers::CSeq;
use crate::sip::message::{Method, SipMessage};
use crate::sip::refer::{
    ReferIn, ReferTarget, TransferOut, follow_target, refer_to_replacing, sipfrag, sipfrag_status,
};
use crate::sip::transport::Destination;
use std::time::{Duration, Instant};

/// How long we wait, once the transferee accepted, for its final NOTIFY: longer than a target
/// rings by default (`ringtimeout`, 90 s).
const TRANSFER_WATCH: Duration = Duration::from_secs(120);

/// A progress report of the call we placed for a REFER, waiting to go out as NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingNotify {
    /// The session that sent the REFER.
    pub(super) to: SessionId,
    pub(super) code: u16,
    pub(super) reason: String,
}

/// The status code at the start of an end reason (`486 Busy Here`), if it has one.
fn leading_code(reason: &str) -> Option<u16> {
    let digits: String = reason.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|c| (300..700).contains(c))
}

impl UserAgent {
    /// Transfers the call on `line`: to `target`, or with an empty target to our one other
    /// call (attended transfer). Progress is reported as [`UaEvent::Transfer`].
    pub fn transfer(&mut self, now: Instant, line: u32, target: &str) -> Result<(), CallError> {
        if !self.cfg.transfer.enabled {
            return Err(CallError::TransferOff);
        }
        let idx = self.line_index(line)?;
        if self.calls[idx].state() != CallState::Connected {
            return Err(CallError::NotConnected(line));
        }
        if self.calls[idx].transfer.is_some() {
            return Err(CallError::TransferUnderWay(line));
        }
        let target = if target.trim().is_empty() {
            self.join_target(line)?
        } else {
            let uri = self.dial_target(target)?;
            ReferTarget {
                refer_to: format!("<{uri}>"),
                shown: target.trim().to_string(),
                joins: None,
            }
        };
        self.transfer_event_to(
            idx,
            TransferRole::Transferor,
            target.shown.clone(),
            TransferState::Requested,
            None,
            "",
        );
        let c = &mut self.calls[idx];
        if self.cfg.transfer.hold_and_watch && !c.local_hold {
            c.transfer = Some(TransferOut::Holding {
                target,
                not_before: now + self.cfg.transfer.delay,
                holds: true,
            });
            self.hold(now, line, true)?;
        } else {
            c.transfer = Some(TransferOut::Holding {
                target,
                not_before: now,
                holds: false,
            });
            self.transfer_step(now, idx);
        }
        self.pump(now);
        Ok(())
    }

    /// The Refer-To that connects `line`'s peer with the peer of our one other connected call.
    fn join_target(&self, line: u32) -> Result<ReferTarget, CallError> {
        let others: Vec<_> = self
            .calls
            .iter()
            .filter(|c| c.line != line && c.state() == CallState::Connected)
            .collect();
        let [other] = others.as_slice() else {
            return Err(CallError::NoOtherCall(line, others.len()));
        };
        let uri = super::fields::bare_uri(&other.dialog.remote_uri);
        let refer_to = match (&other.dialog.remote_tag, self.cfg.transfer.with_replaces) {
            (Some(remote_tag), true) => refer_to_replacing(
                &uri,
                &other.dialog.call_id,
                remote_tag,
                &other.dialog.local_tag,
            ),
            _ => format!("<{uri}>"),
        };
        Ok(ReferTarget {
            refer_to,
            shown: other.peer.clone(),
            joins: Some(other.id),
        })
    }

    /// Moves a transfer on when its call is ready: the hold is in place (or failed) and
    /// `transfdelay` has passed, so the REFER goes; a watch that ran out is reported.
    pub(super) fn transfer_step(&mut self, now: Instant, idx: usize) {
        let c = &self.calls[idx];
        match &c.transfer {
            Some(TransferOut::Holding {
                target,
                not_before,
                holds,
            }) if *not_before <= now && !c.phase.reinvite_open() => {
                // Resumed on failure only when the hold was ours and took effect.
                let held = *holds && c.local_hold;
                let target = target.clone();
                self.send_refer(now, idx, target, held, None);
            }
            Some(TransferOut::Accepted { give_up, .. }) if *give_up <= now => self.transfer_failed(
                idx,
                None,
                "no word from the far end on how the transfer went".into(),
                now,
            ),
            _ => {}
        }
    }

    fn send_refer(
        &mut self,
        now: Instant,
        idx: usize,
        target: ReferTarget,
        held: bool,
        auth: Option<(&'static str, String)>,
    ) {
        let aor = self.local_aor();
        let c = &mut self.calls[idx];
        let mut req = c.dialog.request(Method::Refer);
        req.headers.push("Refer-To", target.refer_to.clone());
        req.headers.push("Referred-By", format!("<{aor}>"));
        req.headers.push("User-Agent", self.cfg.user_agent.clone());
        let authed = auth.is_some();
        if let Some((name, value)) = auth {
            req.headers.push(name, value);
        }
        c.transfer = Some(TransferOut::Referring {
            target,
            held,
            authed,
        });
        if !self.send_session_request(now, idx, req, SessionTx::Refer) {
            self.refer_failed(now, idx, "could not send the REFER");
        }
    }

    /// The answer to our REFER.
    pub(super) fn refer_response(&mut self, now: Instant, idx: usize, resp: &SipMessage) {
        let code = resp.status().unwrap_or(0);
        let Some(TransferOut::Referring {
            target,
            held,
            authed,
        }) = self.calls[idx].transfer.clone()
        else {
            return;
        };
        match code {
            100..=199 => {}
            200..=299 => {
                self.transfer_event_to(
                    idx,
                    TransferRole::Transferor,
                    target.shown.clone(),
                    TransferState::Accepted,
                    Some(code),
                    resp.reason(),
                );
                if self.cfg.transfer.hold_and_watch {
                    self.calls[idx].transfer = Some(TransferOut::Accepted {
                        target,
                        held,
                        give_up: now + TRANSFER_WATCH,
                        last: code,
                    });
                } else {
                    // Unattended: the far end has it; our part is done.
                    self.transfer_succeeded(now, idx, target);
                }
            }
            // One authenticated retry: a REFER challenged again after it carried credentials
            // fails.
            401 | 407 if !authed => {
                let uri = self.calls[idx].dialog.remote_target.clone();
                let mut auth = crate::sip::client_auth::ClientAuth::default();
                match self.answer_challenge(&mut auth, resp, ("REFER", &uri, b"")) {
                    Ok(auth) => self.send_refer(now, idx, target, held, Some(auth)),
                    Err(why) => {
                        self.refer_failed(now, idx, &format!("{code} {} ({why})", resp.reason()))
                    }
                }
            }
            _ => self.refer_failed(now, idx, &format!("{code} {}", resp.reason())),
        }
    }

    /// Our REFER was refused or got no answer.
    pub(super) fn refer_failed(&mut self, now: Instant, idx: usize, why: &str) {
        let code = leading_code(why);
        self.transfer_failed(idx, code, why.to_string(), now);
    }

    /// The transfer did not happen: reported, and a call we held for it is resumed.
    fn transfer_failed(&mut self, idx: usize, code: Option<u16>, reason: String, now: Instant) {
        let Some(t) = self.calls[idx].transfer.take() else {
            return;
        };
        self.transfer_event_to(
            idx,
            TransferRole::Transferor,
            t.target().shown.clone(),
            TransferState::Failed,
            code,
            &reason,
        );
        let held = match t {
            TransferOut::Holding { holds, .. } => holds && self.calls[idx].local_hold,
            TransferOut::Referring { held, .. } | TransferOut::Accepted { held, .. } => held,
        };
        if held && self.calls[idx].state() == CallState::Connected {
            let line = self.calls[idx].line;
            let _ = self.hold(now, line, false);
        }
    }

    fn transfer_succeeded(&mut self, now: Instant, idx: usize, target: ReferTarget) {
        self.calls[idx].transfer = None;
        self.transfer_event_to(
            idx,
            TransferRole::Transferor,
            target.shown.clone(),
            TransferState::Succeeded,
            None,
            "",
        );
        if !self.cfg.transfer.hang_up_after {
            return;
        }
        // The call we connected the transferee with is over for us too.
        let lines = [target.joins, Some(self.calls[idx].id)]
            .into_iter()
            .flatten()
            .filter_map(|id| self.session_index(id).map(|i| self.calls[i].line))
            .collect::<Vec<_>>();
        for line in lines {
            let _ = self.hangup_because(now, line, "transferred");
        }
    }

    /// A NOTIFY in the dialog of a call we are transferring: the transferee's progress.
    pub(super) fn incoming_notify(
        &mut self,
        now: Instant,
        idx: usize,
        req: &SipMessage,
    ) -> SipMessage {
        if crate::sip::headers::event_package(req) != "refer" {
            let mut r = response_to(req, 489, None, None);
            r.headers.push("Allow-Events", "refer");
            return r;
        }
        let Some((target, held, last)) = (match &self.calls[idx].transfer {
            Some(TransferOut::Accepted {
                target, held, last, ..
            }) => Some((target.clone(), *held, *last)),
            Some(TransferOut::Referring { target, held, .. }) => Some((target.clone(), *held, 0)),
            _ => None,
        }) else {
            return response_to(req, 481, Some("Subscription Does Not Exist"), None);
        };
        if last == 0 {
            // The NOTIFY overtook the 202 (or the 202 was lost): the transferee has accepted.
            self.transfer_event_to(
                idx,
                TransferRole::Transferor,
                target.shown.clone(),
                TransferState::Accepted,
                None,
                "",
            );
        }
        let terminated = req
            .headers
            .get("Subscription-State")
            .is_some_and(|s| s.trim().to_ascii_lowercase().starts_with("terminated"));
        let Some((code, reason)) = sipfrag_status(&req.body) else {
            if terminated {
                self.transfer_failed(
                    idx,
                    None,
                    "the far end ended the transfer without saying how it went".into(),
                    now,
                );
                return response_to(req, 200, None, None);
            }
            return response_to(req, 400, Some("Bad Request (no sipfrag status line)"), None);
        };
        match code {
            100..=199 => {
                self.calls[idx].transfer = Some(TransferOut::Accepted {
                    target: target.clone(),
                    held,
                    give_up: now + TRANSFER_WATCH,
                    last: code,
                });
                if code != last && code != 100 {
                    self.transfer_event_to(
                        idx,
                        TransferRole::Transferor,
                        target.shown,
                        TransferState::Progress,
                        Some(code),
                        &reason,
                    );
                }
                if terminated {
                    self.transfer_failed(
                        idx,
                        None,
                        "the far end ended the transfer before the target answered".into(),
                        now,
                    );
                }
            }
            200..=299 => self.transfer_succeeded(now, idx, target),
            _ => self.transfer_failed(idx, Some(code), format!("{code} {reason}"), now),
        }
        response_to(req, 200, None, None)
    }

    /// A REFER in the dialog of call `idx`: the far end asks us to call someone. Answered with
    /// 202 and followed (the driver places the call on [`UaEvent::Referred`]).
    pub(super) fn incoming_refer(&mut self, idx: usize, req: &SipMessage) -> SipMessage {
        if self.calls[idx].state() != CallState::Connected {
            return response_to(
                req,
                403,
                Some("Forbidden (the call is not connected)"),
                None,
            );
        }
        if self.calls[idx].refer_in.is_some() {
            return response_to(
                req,
                491,
                Some("Request Pending (a transfer is under way)"),
                None,
            );
        }
        let target = match follow_target(&req.headers.list("Refer-To")) {
            Ok(t) => t,
            Err(e) => {
                return response_to(req, e.code, Some(&e.reason), None);
            }
        };
        let event_id = CSeq::of(req).map_or(1, |c| c.seq);
        let shown = target
            .uri
            .user
            .clone()
            .unwrap_or_else(|| target.uri.to_string());
        let line = self.calls[idx].line;
        self.calls[idx].refer_in = Some(ReferIn { event_id, target });
        self.transfer_event_to(
            idx,
            TransferRole::Transferee,
            shown,
            TransferState::Accepted,
            Some(202),
            "Accepted",
        );
        self.events.push_back(UaEvent::Referred { line });
        // RFC 3515 §2.4.4: the first NOTIFY follows the 202 at once.
        self.pending_notifies.push_back(PendingNotify {
            to: self.calls[idx].id,
            code: 100,
            reason: "Trying".into(),
        });
        response_to(req, 202, None, None)
    }

    /// Places the call a REFER on `line` asked for, with media on `rtp_port` (the driver bound
    /// it on [`UaEvent::Referred`]). When it cannot be placed the transferor is told so.
    pub fn follow_refer(
        &mut self,
        now: Instant,
        line: u32,
        rtp_port: u16,
        via: Option<Destination>,
    ) -> Result<u32, CallError> {
        let idx = self.line_index(line)?;
        let Some(refer) = self.calls[idx].refer_in.clone() else {
            return Err(CallError::NoSuchLine(line));
        };
        let id = self.calls[idx].id;
        let target = refer.target.uri.to_string();
        match self.dial_for(
            now,
            &target,
            rtp_port,
            via,
            super::dial::DialOrigin::Referred {
                by: id,
                replaces: refer.target.replaces,
            },
        ) {
            // The new call names the REFER's session (`referred_by`): its progress goes there.
            Ok(new_line) => Ok(new_line),
            Err(e) => {
                self.refer_call_failed(now, line, &e.to_string());
                Err(e)
            }
        }
    }

    /// The call for the REFER on `line` could not even be placed (no line free, no media port).
    pub fn refer_call_failed(&mut self, now: Instant, line: u32, why: &str) {
        if let Ok(idx) = self.line_index(line)
            && self.calls[idx].refer_in.is_some()
        {
            self.pending_notifies.push_back(PendingNotify {
                to: self.calls[idx].id,
                code: 503,
                reason: format!("Service Unavailable ({why})"),
            });
            self.pump(now);
        }
    }

    /// A call placed for a REFER changed state: what its transferor is told.
    pub(super) fn referred_progress(&mut self, idx: usize) {
        let c = &self.calls[idx];
        let Some(to) = c.referred_by else {
            return;
        };
        let (code, reason) = match c.state() {
            CallState::Ringing => (180, "Ringing".to_string()),
            CallState::Connected => (200, "OK".to_string()),
            CallState::Terminated => match leading_code(&c.end_reason) {
                Some(code) => {
                    let reason = c.end_reason[3..].trim().to_string();
                    (code, reason)
                }
                None => (487, format!("Request Terminated ({})", c.end_reason)),
            },
            _ => return,
        };
        self.pending_notifies
            .push_back(PendingNotify { to, code, reason });
        if code >= 200 {
            // One final word per transfer: the call's later states are its own business.
            self.calls[idx].referred_by = None;
        }
    }

    /// Sends the NOTIFYs waiting to go out; a final one ends the implicit subscription, and a
    /// success hangs up the call that was transferred.
    pub(super) fn flush_notifies(&mut self, now: Instant) {
        while let Some(n) = self.pending_notifies.pop_front() {
            let Some(idx) = self.session_index(n.to) else {
                continue;
            };
            let Some(refer) = self.calls[idx].refer_in.clone() else {
                continue;
            };
            let last = n.code >= 200;
            let mut notify = self.calls[idx].dialog.request(Method::Notify);
            notify
                .headers
                .push("Event", format!("refer;id={}", refer.event_id));
            notify.headers.push(
                "Subscription-State",
                if last {
                    "terminated;reason=noresource"
                } else {
                    "active;expires=60"
                },
            );
            notify
                .headers
                .push("Content-Type", "message/sipfrag;version=2.0");
            notify.body = sipfrag(n.code, &n.reason).into_bytes();
            self.send_session_request(now, idx, notify, SessionTx::Notify);
            let shown = refer
                .target
                .uri
                .user
                .clone()
                .unwrap_or_else(|| refer.target.uri.to_string());
            if n.code > 100 {
                let state = match n.code {
                    101..=199 => TransferState::Progress,
                    200..=299 => TransferState::Succeeded,
                    _ => TransferState::Failed,
                };
                self.transfer_event_to(
                    idx,
                    TransferRole::Transferee,
                    shown,
                    state,
                    Some(n.code),
                    &n.reason,
                );
            }
            if last {
                self.calls[idx].refer_in = None;
                // We now talk to the target: the transferred call is over once the transferor
                // has heard so (hanging up first could make it miss the final NOTIFY).
                self.calls[idx].transferred_away = n.code < 300;
            }
        }
    }

    /// Reports a transfer step of call `idx`.
    /// A NOTIFY of call `idx` was answered (or timed out): a call that was transferred away
    /// is hung up now, unless the transferor has done so already.
    pub(super) fn notify_done(&mut self, now: Instant, idx: usize) {
        if self.calls[idx].transferred_away && self.calls[idx].state() == CallState::Connected {
            let line = self.calls[idx].line;
            let _ = self.hangup_because(now, line, "transferred");
        }
    }

    fn transfer_event_to(
        &mut self,
        idx: usize,
        role: TransferRole,
        target: String,
        state: TransferState,
        code: Option<u16>,
        reason: &str,
    ) {
        let c = &self.calls[idx];
        self.events.push_back(UaEvent::Transfer {
            line: c.line,
            step: TransferStep {
                role,
                target,
                state,
                code,
                reason: reason.to_string(),
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::leading_code;

    #[test]
    fn codes_at_the_start_of_reasons() {
        assert_eq!(leading_code("486 Busy Here"), Some(486));
        assert_eq!(leading_code("408 Request Timeout"), Some(408));
        assert_eq!(leading_code("remote hung up"), None);
        assert_eq!(leading_code("200 OK"), None);
    }
}
