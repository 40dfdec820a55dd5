//! Session timers on our calls (RFC 4028; the header rules are in `sip/session_expires.rs`):
//! what our INVITE asks, the 422 retry, the headers of our 2xx and of our refreshes, the
//! refresh itself (UPDATE when the far end allows it, else re-INVITE) and the BYE when the far
//! end, being the refresher, stopped refreshing.

use super::UserAgent;
use super::owners::SessionTx;
use crate::sip::call::CallState;
use crate::sip::call_timers::CallTimer;
use crate::sip::message::{Method, SipMessage};
use crate::sip::rel100;
use crate::sip::session_expires::{
    MIN_SE, SessionExpires, SessionTimer, UasTimer, after_422, uac_timer, uas_timer,
};
use crate::sip::session_state::{Modify, SessionState};
use std::time::Instant;

/// How many 422 answers one call retries after before giving up.
const MAX_422_RETRIES: u32 = 2;

impl UserAgent {
    /// The `Supported` header of our INVITEs, 2xx and OPTIONS answers: what we implement.
    /// `100rel` only with `use100rel`: naming it invites the far end to send its ringing
    /// reliably, which costs a PRACK round trip per provisional response.
    pub(super) fn supported_header(&self) -> String {
        let mut tags = vec!["replaces", "timer"];
        if self.cfg.use_100rel {
            tags.insert(0, rel100::TAG);
        }
        tags.join(", ")
    }

    /// Adds the session-timer headers our initial INVITE carries: `Session-Expires` and `Min-SE`
    /// when `sessiontimer` asks for one (or a 422 raised it).
    pub(super) fn add_session_expires_request(&self, idx: usize, req: &mut SipMessage) {
        let Some(outgoing) = self.calls[idx].phase.outgoing() else {
            return;
        };
        if let Some(interval) = outgoing.session_expires_asked {
            req.headers.push(
                "Session-Expires",
                SessionExpires {
                    interval,
                    refresher: None,
                }
                .value(),
            );
            // After a 422 the Min-SE is what the far end asked for (§7.4), which is the interval.
            let min_se = if outgoing.retries_422 > 0 {
                interval
            } else {
                MIN_SE
            };
            req.headers.push("Min-SE", min_se.to_string());
        }
    }

    /// A 422 to our INVITE: retry with the interval the far end wants, a couple of times.
    /// Gives false when the call cannot be retried (it is then ended by the caller).
    pub(super) fn retry_after_422(&mut self, now: Instant, idx: usize, resp: &SipMessage) -> bool {
        let c = &mut self.calls[idx];
        let SessionState::Calling(outgoing) = &mut c.phase else {
            return false;
        };
        if outgoing.retries_422 >= MAX_422_RETRIES {
            return false;
        }
        let asked = outgoing.session_expires_asked.unwrap_or(MIN_SE);
        let Some(interval) = after_422(resp, asked) else {
            return false;
        };
        outgoing.retries_422 += 1;
        outgoing.session_expires_asked = Some(interval);
        c.dialog.local_cseq += 1;
        self.send_invite(now, idx, None);
        true
    }

    /// The session timer our 2xx to `req` (an INVITE, re-INVITE or UPDATE) sets up: its headers
    /// go into `ok` and the call's timer is started (or stopped) to match. A request asking
    /// for too short an interval was refused with 422 before (see
    /// [`UserAgent::session_interval_too_small`]).
    pub(super) fn session_timer_uas(
        &mut self,
        now: Instant,
        idx: usize,
        req: &SipMessage,
        ok: &mut SipMessage,
    ) {
        match uas_timer(req, self.cfg.session_timer) {
            UasTimer::Run {
                header,
                require,
                timer,
            } => {
                ok.headers.push("Session-Expires", header.value());
                if require {
                    ok.headers.push("Require", "timer");
                }
                self.start_session_timer(now, idx, Some(timer));
            }
            UasTimer::None | UasTimer::TooSmall { .. } => self.start_session_timer(now, idx, None),
        }
    }

    /// The 422 for a request that asks for too short an interval, when it does.
    pub(super) fn session_interval_too_small(
        &self,
        req: &SipMessage,
        tag: Option<&str>,
    ) -> Option<SipMessage> {
        match uas_timer(req, self.cfg.session_timer) {
            UasTimer::TooSmall { min_se } => {
                let mut r = crate::sip::builder::response_to(req, 422, None, tag);
                r.headers.push("Min-SE", min_se.to_string());
                Some(r)
            }
            _ => None,
        }
    }

    /// A 2xx to our INVITE, re-INVITE or UPDATE: the timer it sets (none without
    /// `Session-Expires`).
    pub(super) fn session_timer_uac(&mut self, now: Instant, idx: usize, resp: &SipMessage) {
        self.start_session_timer(now, idx, uac_timer(resp));
    }

    /// (Re)starts the call's session timer from `now`, or stops it.
    fn start_session_timer(&mut self, now: Instant, idx: usize, timer: Option<SessionTimer>) {
        let c = &mut self.calls[idx];
        c.session_timer = timer;
        c.timers.clear(CallTimer::SessionRefresh);
        c.timers.clear(CallTimer::SessionExpiry);
        if let Some(t) = timer {
            let name = if t.we_refresh {
                CallTimer::SessionRefresh
            } else {
                CallTimer::SessionExpiry
            };
            // A far end may name any interval up to 2^32 s: never let the sum overflow.
            c.timers.set_opt(name, now.checked_add(t.due_in()));
        }
    }

    /// The `Session-Expires` and `Supported` of a refresh or other re-INVITE we send.
    pub(super) fn add_session_expires_refresh(&self, idx: usize, req: &mut SipMessage) {
        req.headers.push("Supported", self.supported_header());
        if let Some(t) = self.calls[idx].session_timer {
            req.headers
                .push("Session-Expires", t.refresh_header().value());
            req.headers.push("Min-SE", MIN_SE.to_string());
        }
    }

    /// The session-timer deadlines of the calls: refresh those we refresh, hang up those whose
    /// far end stopped refreshing.
    pub(super) fn session_timer_deadlines(&mut self, now: Instant) {
        let lines: Vec<u32> = self.calls.iter().map(|c| c.line).collect();
        for line in lines {
            let Ok(idx) = self.line_index(line) else {
                continue;
            };
            let c = &mut self.calls[idx];
            if c.timers.take_due(CallTimer::SessionExpiry, now) {
                if c.state() == CallState::Connected {
                    c.end_reason = "session expired (the far end stopped refreshing it)".into();
                    c.ended_by_us = true;
                    self.send_bye(now, idx);
                }
                continue;
            }
            if c.timers.take_due(CallTimer::SessionRefresh, now)
                && c.state() == CallState::Connected
            {
                self.refresh_session(now, idx);
            }
        }
    }

    /// Refreshes the session: UPDATE without a body when the far end allows UPDATE (no media
    /// renegotiation, no ACK), else a re-INVITE offering what we have. While a re-INVITE of
    /// ours is out, that one carries the refresh.
    fn refresh_session(&mut self, now: Instant, idx: usize) {
        let c = &mut self.calls[idx];
        if c.phase.reinvite_open() || matches!(c.phase.modify(), Some(Modify::Updating)) {
            return;
        }
        // Until the answer restarts it, the timer keeps the session alive by the old interval
        // so that a lost refresh is retried rather than forgotten.
        if let Some(t) = c.session_timer {
            c.timers
                .set_opt(CallTimer::SessionRefresh, now.checked_add(t.due_in()));
        }
        if c.peer_allows_update {
            let mut req = c.dialog.request(Method::Update);
            self.add_session_expires_refresh(idx, &mut req);
            if self.send_session_request(now, idx, req, SessionTx::Update)
                && let Some(m) = self.calls[idx].phase.modify_mut()
            {
                *m = Modify::Updating;
            }
        } else {
            self.send_reinvite(now, idx, true);
        }
    }

    /// Our refreshing UPDATE is over (answered or timed out); a re-INVITE sent meanwhile
    /// stays open.
    pub(super) fn update_done(&mut self, idx: usize) {
        if let Some(m) = self.calls[idx].phase.modify_mut()
            && matches!(m, Modify::Updating)
        {
            *m = Modify::Idle;
        }
    }

    /// The answer to our refreshing UPDATE.
    pub(super) fn update_response(&mut self, now: Instant, idx: usize, resp: &SipMessage) {
        let code = resp.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        self.update_done(idx);
        match code {
            200..=299 => self.session_timer_uac(now, idx, resp),
            // The far end has lost the call (RFC 4028 §10: a refresh that gets 408 or 481 ends
            // the session).
            408 | 481 => {
                self.calls[idx].end_reason =
                    format!("the far end lost the call ({code} {})", resp.reason());
                self.send_bye(now, idx);
            }
            // UPDATE turned out not to be allowed: refresh by re-INVITE from now on.
            405 | 501 => {
                self.calls[idx].peer_allows_update = false;
                self.refresh_session(now, idx);
            }
            // Anything else leaves the timer as it was: the next refresh tries again.
            _ => {}
        }
    }
}
