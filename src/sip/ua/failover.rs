//! Server failover (RFC 3263 §4.3): when the domain names several servers (SRV), a
//! registration that fails the way a dead or overloaded server fails (no answer, a transport
//! error, 503, 500, 504) moves to the next server at once, and new calls and requests follow
//! it (they go to the current first hop); an initial INVITE that fails that way is sent to the
//! next server itself. Registered on a fallback, the preferred server is tried again after half
//! the registration interval; if it still fails, failover moves on.

use super::UserAgent;
use std::time::{Duration, Instant};

/// Failures that say "this server", not "this request": another server may do better.
fn server_failure(code: u16) -> bool {
    matches!(code, 0 | 408 | 500 | 503 | 504)
}

impl UserAgent {
    /// Every server in order: the preferred first, then `fallback_hops`.
    fn hop_count(&self) -> usize {
        usize::from(self.cfg.first_hop.is_some()) + self.cfg.fallback_hops.len()
    }

    /// A registration failed with `code`: moves to the next server and registers there now,
    /// unless every server has failed since the last success (then the registration's own
    /// back-off retries, on the next server). Gives true when a new REGISTER went out.
    pub(super) fn fail_over(&mut self, code: u16) -> bool {
        let count = self.hop_count();
        if count < 2 || !server_failure(code) || self.shutdown_deadline.is_some() {
            return false;
        }
        self.hop_index = (self.hop_index + 1) % count;
        self.cfg.first_hop = self.hop(self.hop_index);
        self.failed_hops += 1;
        tracing::info!(hop = ?self.cfg.first_hop, "the server failed ({code}): trying the next one");
        if self.failed_hops >= count {
            return false;
        }
        match &mut self.registration {
            Some(r) => {
                r.register();
                true
            }
            None => false,
        }
    }

    /// Registered: on a fallback, the preferred server is tried again later.
    pub(super) fn registered_on_hop(&mut self, now: Instant) {
        self.failed_hops = 0;
        self.back_to_preferred_at = (self.hop_index != 0)
            .then(|| now + Duration::from_secs(u64::from(self.cfg.register_interval.max(10) / 2)));
    }

    /// When the preferred server is to be tried again.
    pub(super) fn failover_timeout(&self) -> Option<Instant> {
        self.back_to_preferred_at
    }

    /// Back to the preferred server when it is time.
    pub(super) fn failover_timers(&mut self, now: Instant) {
        if self.back_to_preferred_at.is_some_and(|at| now >= at) {
            self.back_to_preferred_at = None;
            self.hop_index = 0;
            self.cfg.first_hop = self.hop(0);
            tracing::info!(hop = ?self.cfg.first_hop, "trying the preferred server again");
            if let Some(r) = &mut self.registration {
                r.register();
            }
        }
    }

    /// An initial INVITE the server did not answer, could not be sent to, or answered 503
    /// (or 500/504) before any dialog began: the call goes to the next server of the order
    /// (its own hop from then on), once per server. True when it was sent again.
    pub(super) fn invite_fail_over(&mut self, now: Instant, idx: usize, code: u16) -> bool {
        let Some(c) = self.calls.get(idx) else {
            return false;
        };
        if !server_failure(code)
            || !matches!(c.phase, crate::sip::session_state::SessionState::Calling(_))
            || c.dialog.remote_tag.is_some()
            || self.shutdown_deadline.is_some()
        {
            return false;
        }
        let order: Vec<_> = (0..self.hop_count()).filter_map(|i| self.hop(i)).collect();
        let Some(current) = c.hop.or(self.cfg.first_hop) else {
            return false;
        };
        let Some(next) = order
            .iter()
            .position(|h| *h == current)
            .and_then(|at| order.get(at + 1))
            .copied()
        else {
            return false;
        };
        tracing::info!(line = c.line, hop = ?next, "the server failed the call ({code}): trying the next one");
        let c = &mut self.calls[idx];
        c.hop = Some(next);
        c.dialog.local_cseq += 1;
        self.send_invite(now, idx, None);
        true
    }

    /// The server at `index` of the order.
    fn hop(&self, index: usize) -> Option<crate::sip::transport::Destination> {
        if index == 0 {
            self.preferred_hop
        } else {
            self.cfg.fallback_hops.get(index - 1).copied()
        }
    }
}
