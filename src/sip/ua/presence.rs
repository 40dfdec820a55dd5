//! Presence for the UA: the contacts we watch (one `presence` subscription each, through the
//! shared subscription machine) and our own status, published with PUBLISH (RFC 3903) when
//! `enablepresence` is on or the user sets a status. While a call is up an Online status is
//! published as on the phone, and back when the last call ends. DND also turns calls away
//! (`forward.rs`); Invisible publishes a closed tuple; Offline removes the publication.

use super::owners::Usage;
use super::subscribe::WatchKind;
use super::{UaEvent, UserAgent};
use crate::model::PresenceStatus;
use crate::sip::publication::{PubOutput, Publication, PublicationConfig};
use crate::sip::subscription::presence;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

impl UserAgent {
    /// Watches exactly `users`' presence (numbers, user names or SIP addresses): new ones
    /// are subscribed, ones no longer listed are unsubscribed.
    pub fn watch_presence(&mut self, now: Instant, users: &[String]) -> Result<(), String> {
        self.watch_list(now, users, WatchKind::Presence)
    }

    /// Sets our status and publishes it (Offline removes what we published).
    pub fn set_presence(&mut self, now: Instant, status: PresenceStatus) {
        self.presence_status = status;
        self.publish_presence();
        self.notify_watchers();
        self.pump(now);
    }

    /// The status others should see now: on the phone while a call is up and we are Online.
    pub(super) fn effective_presence(&self) -> PresenceStatus {
        if self.presence_status == PresenceStatus::Online && self.on_phone {
            PresenceStatus::Speaking
        } else {
            self.presence_status
        }
    }

    /// Publishes (or removes) our presence document for the current status.
    fn publish_presence(&mut self) {
        if self.cfg.user.is_empty() || self.cfg.first_hop.is_none() {
            return;
        }
        let status = self.effective_presence();
        if status == PresenceStatus::Offline {
            if let Some(p) = &mut self.publication {
                p.remove();
            }
            return;
        }
        let aor = self.local_aor();
        if self.publication.is_none() {
            self.presence_tuple = crate::sip::random_token(&mut self.rng, 8);
            let cfg = PublicationConfig {
                event: presence::EVENT,
                content_type: presence::CONTENT_TYPE,
                aor: aor.clone(),
                expires: self.cfg.presence_expires,
                credentials: self.credentials(),
                extra_headers: vec![("User-Agent".into(), self.cfg.user_agent.clone())],
                retry_base: self.cfg.timers.t1 * 10,
                retry_max: Duration::from_secs(1800),
            };
            self.publication = Some(Publication::new(
                cfg,
                StdRng::seed_from_u64(self.rng.random()),
            ));
        }
        let doc = presence::document(&aor, &self.presence_tuple, status, "");
        if let Some(p) = &mut self.publication {
            p.publish(doc);
        }
        self.published_status = Some(status);
    }

    /// After registering: publish our status when `enablepresence` says so.
    pub(super) fn start_presence(&mut self) {
        if self.cfg.presence_enabled && self.publication.is_none() {
            self.publish_presence();
        }
    }

    /// Unregistering or leaving: remove what we published.
    pub(super) fn end_presence(&mut self) {
        // Nothing at the server yet: nothing to remove, and nothing to wait for.
        if self.publication.as_mut().is_some_and(|p| !p.remove()) {
            self.publication = None;
            self.published_status = None;
        }
    }

    /// A call came up or the last one ended: republish when that changes what others see.
    pub(super) fn presence_follows_calls(&mut self) {
        let up = self.calls.iter().any(|c| c.state().is_up());
        if up == self.on_phone {
            return;
        }
        self.on_phone = up;
        self.notify_watchers();
        if self.publication.is_some() && self.published_status != Some(self.effective_presence()) {
            self.publish_presence();
        }
    }

    /// Sends what the publication asks for and reports how it went.
    pub(super) fn flush_publication(&mut self, now: Instant) -> bool {
        let mut moved = false;
        while let Some(out) = self.publication.as_mut().and_then(Publication::poll_output) {
            moved = true;
            match out {
                PubOutput::Send(req) => match self.send_request(now, req) {
                    Some(key) => self.owners.own(key, Usage::Publication),
                    None => {
                        if let Some(p) = &mut self.publication {
                            p.on_no_response(now, 503, "no route to the server");
                        }
                    }
                },
                PubOutput::Published { .. } => {
                    if let Some(status) = self.published_status {
                        self.events.push_back(UaEvent::PresencePublished { status });
                    }
                }
                PubOutput::Failed {
                    reason, retry_in, ..
                } => self
                    .events
                    .push_back(UaEvent::PublishFailed { reason, retry_in }),
                PubOutput::Removed => {
                    self.publication = None;
                    self.published_status = None;
                }
            }
        }
        moved
    }

    /// A presence document (or the lack of one) for the watched `user`.
    pub(super) fn presence_content(&mut self, user: &str, content_type: &str, body: &[u8]) {
        let info = if body.is_empty() {
            // The server has nothing from them: not reachable.
            presence::PresenceInfo {
                status: PresenceStatus::Offline,
                note: String::new(),
            }
        } else if content_type == presence::CONTENT_TYPE {
            presence::parse(&String::from_utf8_lossy(body))
        } else {
            presence::PresenceInfo {
                status: PresenceStatus::Unknown,
                note: String::new(),
            }
        };
        self.events.push_back(UaEvent::Presence {
            user: user.to_string(),
            status: info.status,
            note: info.note,
        });
    }
}
