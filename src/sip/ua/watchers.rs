//! Serving our own presence (peer-to-peer, as baresip does, when no presence server sits in
//! between): a watcher's SUBSCRIBE is taken as `autoacceptpresencerequests` says (0 refuse,
//! 1 allow the users we watch ourselves and ask about the rest, 2 allow everyone, -1 ask), and
//! every watcher is told our status in a NOTIFY now and whenever it changes. A watcher that
//! waits for the user's word is `pending` and learns nothing until `AllowWatcher`.
//!
//! With a presence server, who watches us is the server's to know: with `enablepresence` we
//! subscribe to our own `presence.winfo` there. Both lists are reported together as
//! `UaEvent::Watchers` whenever either changes.

use super::owners::Usage;
use super::subscribe::Purpose;
use super::{UaEvent, UserAgent};
use crate::model::{Watcher, WatcherStatus, user_of};
use crate::sip::builder::{has_tag, response_to};
use crate::sip::headers::event_package;
use crate::sip::message::SipMessage;
use crate::sip::subscription::server::{Authorization, MIN_EXPIRES, ServerSubscription};
use crate::sip::subscription::{presence, winfo};
use std::time::Instant;

/// `autoacceptpresencerequests`: who may watch our presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatcherPolicy {
    /// -1: ask the user for each.
    Ask,
    /// 0: nobody (603).
    Refuse,
    /// 1: the users we watch ourselves; ask about the rest.
    Watched,
    /// 2: everyone.
    Everyone,
}

impl WatcherPolicy {
    /// From the parameter's value (-1, 0, 1, 2; anything else asks).
    pub fn from_param(v: i64) -> WatcherPolicy {
        match v {
            0 => WatcherPolicy::Refuse,
            1 => WatcherPolicy::Watched,
            2 => WatcherPolicy::Everyone,
            _ => WatcherPolicy::Ask,
        }
    }
}

impl UserAgent {
    /// A SUBSCRIBE for us: a new watcher, or a refresh or goodbye of one we have.
    pub(super) fn incoming_subscribe(
        &mut self,
        now: Instant,
        req: &SipMessage,
        tag: &str,
    ) -> SipMessage {
        if event_package(req) != presence::EVENT {
            let mut r = response_to(req, 489, None, Some(tag));
            r.headers.push("Allow-Events", "presence");
            return r;
        }
        let max = self.cfg.presence_expires;
        if req.headers.get("To").is_some_and(has_tag) {
            let Some(id) = self
                .watchers
                .iter()
                .find(|(_, w)| w.matches(req))
                .map(|(id, _)| *id)
            else {
                return response_to(req, 481, None, None);
            };
            let Some(w) = self.watchers.get_mut(&id) else {
                return response_to(req, 481, None, None);
            };
            return match w.refresh(now, req, max) {
                Ok(expires) => {
                    let ending = (expires == 0).then_some("timeout");
                    self.pending_watcher_notifies.push((id, ending));
                    let mut r = response_to(req, 200, None, None);
                    r.headers.push("Expires", expires.to_string());
                    r
                }
                Err(refusal) => self.refused(req, refusal, None),
            };
        }
        let (watcher_user, _) = super::fields::peer_of(req.headers.get("From").unwrap_or_default());
        let watched = self
            .subscriptions
            .values()
            .any(|(p, _)| matches!(p, Purpose::Presence(u) if user_of(u) == watcher_user));
        let authorization = match self.cfg.watcher_policy {
            WatcherPolicy::Refuse => return response_to(req, 603, None, Some(tag)),
            WatcherPolicy::Everyone => Authorization::Active,
            WatcherPolicy::Watched if watched => Authorization::Active,
            WatcherPolicy::Watched | WatcherPolicy::Ask => Authorization::Pending,
        };
        let contact = Self::contact_uri(&self.cfg, self.contact_addr());
        match ServerSubscription::accept(
            now,
            req,
            presence::EVENT,
            (tag, &contact),
            max,
            authorization,
        ) {
            Ok((w, expires)) => {
                self.next_watcher += 1;
                let id = self.next_watcher;
                if authorization == Authorization::Pending {
                    self.events.push_back(UaEvent::WatcherRequest {
                        watcher: w.watcher().to_string(),
                    });
                }
                self.watchers.insert(id, w);
                // A fetch (Expires 0) gets the state once and ends.
                let ending = (expires == 0).then_some("timeout");
                self.pending_watcher_notifies.push((id, ending));
                let mut r = response_to(req, 200, None, Some(tag));
                r.headers.push("Expires", expires.to_string());
                r.headers.push("Contact", format!("<{contact}>"));
                r
            }
            Err(refusal) => self.refused(req, refusal, Some(tag)),
        }
    }

    fn refused(
        &self,
        req: &SipMessage,
        (code, reason): (u16, &str),
        tag: Option<&str>,
    ) -> SipMessage {
        let mut r = response_to(req, code, Some(reason), tag);
        if code == 423 {
            r.headers.push("Min-Expires", MIN_EXPIRES.to_string());
        }
        r
    }

    /// The user's word on a watcher that waits: allowed (it gets our status now) or refused
    /// (its subscription ends, `rejected`). Gives false when no such watcher waits.
    pub fn allow_watcher(&mut self, now: Instant, watcher: &str, allow: bool) -> bool {
        let ids: Vec<u64> = self
            .watchers
            .iter()
            .filter(|(_, w)| {
                w.authorization() == Authorization::Pending
                    && (w.watcher() == watcher.trim() || user_of(w.watcher()) == watcher.trim())
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            if let Some(w) = self.watchers.get_mut(id) {
                if allow {
                    w.authorize(Authorization::Active);
                    self.pending_watcher_notifies.push((*id, None));
                } else {
                    self.pending_watcher_notifies.push((*id, Some("rejected")));
                }
            }
        }
        self.pump(now);
        !ids.is_empty()
    }

    /// Our status changed: every watcher hears it.
    pub(super) fn notify_watchers(&mut self) {
        let ids: Vec<u64> = self.watchers.keys().copied().collect();
        self.pending_watcher_notifies
            .extend(ids.into_iter().map(|id| (id, None)));
    }

    /// Sends the NOTIFYs queued (after the answer to the SUBSCRIBE that caused them, so that
    /// the watcher sees the 200 first), ends the subscriptions whose last NOTIFY went out, and
    /// the ones that ran out.
    pub(super) fn flush_watchers(&mut self, now: Instant) -> bool {
        let expired: Vec<u64> = self
            .watchers
            .iter()
            .filter(|(_, w)| w.expired(now))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if !self
                .pending_watcher_notifies
                .iter()
                .any(|(i, e)| *i == id && e.is_some())
            {
                self.pending_watcher_notifies.push((id, Some("timeout")));
            }
        }
        if self.pending_watcher_notifies.is_empty() {
            return false;
        }
        let status = self.effective_presence();
        let aor = self.local_aor();
        if self.presence_tuple.is_empty() {
            self.presence_tuple = crate::sip::random_token(&mut self.rng, 8);
        }
        let doc = presence::document(&aor, &self.presence_tuple, status, "");
        for (id, ending) in std::mem::take(&mut self.pending_watcher_notifies) {
            let Some(w) = self.watchers.get_mut(&id) else {
                continue;
            };
            let notify = w.notify(now, ending, (presence::CONTENT_TYPE, &doc));
            if ending.is_some() {
                self.watchers.remove(&id);
            }
            if let Some(key) = self.send_request_or_direct(now, notify) {
                self.owners.own(key, Usage::Watcher(id));
            }
        }
        true
    }

    /// The answer to one of our NOTIFYs to a watcher: a watcher that no longer knows the
    /// subscription (481), or that never answers, is dropped (RFC 6665 §4.2.2).
    pub(super) fn watcher_response(&mut self, id: u64, code: u16) {
        if code == 481 || code == 408 || code >= 500 && code != 503 {
            self.watchers.remove(&id);
        }
    }

    /// When the next watcher runs out.
    pub(super) fn watchers_timeout(&self) -> Option<Instant> {
        self.watchers
            .values()
            .map(ServerSubscription::expires_at)
            .min()
    }

    /// Leaving: every watcher is told (`deactivated`: it may come back when we do).
    pub(super) fn end_watchers(&mut self) {
        let ids: Vec<u64> = self.watchers.keys().copied().collect();
        self.pending_watcher_notifies
            .extend(ids.into_iter().map(|id| (id, Some("deactivated"))));
    }

    /// After registering with `enablepresence`: subscribe to who watches us at the presence
    /// server (presence.winfo for our own address), once per account.
    pub(super) fn start_watcher_info(&mut self, now: Instant) {
        if !self.cfg.presence_enabled
            || self.cfg.user.is_empty()
            || self.cfg.first_hop.is_none()
            || self.winfo_started
        {
            return;
        }
        self.winfo_started = true;
        let aor = self.local_aor();
        let expires = self.cfg.presence_expires;
        self.add_subscription(
            now,
            Purpose::WatcherInfo,
            aor,
            (winfo::EVENT, winfo::CONTENT_TYPE),
            (expires, std::time::Duration::ZERO),
        );
    }

    /// A presence.winfo document: the server's list of our watchers is updated; one that
    /// does not parse changes nothing. Its pending watchers are listed as such but raise no
    /// AllowWatcher question: the server's authorization rules decide them, not this phone.
    pub(super) fn watcher_info_content(&mut self, content_type: &str, body: &[u8]) {
        if body.is_empty() || content_type != winfo::CONTENT_TYPE {
            return;
        }
        let Some(info) = winfo::parse(&String::from_utf8_lossy(body)) else {
            tracing::info!("presence.winfo body not understood; watcher list kept");
            return;
        };
        info.apply_to(&mut self.server_watchers);
    }

    /// Reports who watches us when that changed: the server's list, then our own watchers.
    pub(super) fn report_watchers(&mut self) {
        let server = self.server_watchers.iter().filter_map(|w| {
            Some(Watcher {
                address: w.uri.clone(),
                display: w.display.clone(),
                status: w.status?,
                at_server: true,
            })
        });
        let direct = self.watchers.values().map(|w| Watcher {
            address: w.watcher().to_string(),
            display: String::new(),
            status: match w.authorization() {
                Authorization::Active => WatcherStatus::Active,
                Authorization::Pending => WatcherStatus::Pending,
            },
            at_server: false,
        });
        let now: Vec<Watcher> = server.chain(direct).collect();
        if now != self.reported_watchers {
            self.reported_watchers = now.clone();
            self.events.push_back(UaEvent::Watchers { watchers: now });
        }
    }
}
