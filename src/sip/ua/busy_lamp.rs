//! Busy lamps (RFC 4235 dialog package): one `dialog` subscription per watched extension
//! through the shared subscription machine; each NOTIFY's dialog-info says whether the
//! extension is idle, ringing or in a call, and keeps the ringing call's identifiers so that
//! picking it up replaces exactly that call (RFC 3891). Every NOTIFY is read as the whole state
//! (what Kamailio and Asterisk send); partial updates are read the same way.

use super::UaEvent;
use super::UserAgent;
use super::subscribe::WatchKind;
use crate::model::LampState;
use crate::sip::dialog_info::{self, PickupDialog};
use std::time::Instant;

impl UserAgent {
    /// Watches exactly `users`' busy lamps; the list replaces the one watched before.
    pub fn watch_busy_lamps(&mut self, now: Instant, users: &[String]) -> Result<(), String> {
        self.lamps
            .retain(|u, _| users.iter().any(|w| w.trim() == u));
        self.watch_list(now, users, WatchKind::BusyLamp)
    }

    /// The ringing call at the watched `user` that a pickup can replace, when its lamp has one.
    pub fn lamp_pickup(&self, user: &str) -> Option<PickupDialog> {
        self.lamps.get(user.trim()).and_then(|(_, p)| p.clone())
    }

    /// A dialog-info document (or none) for the watched `user`.
    pub(super) fn lamp_content(&mut self, user: &str, content_type: &str, body: &[u8]) {
        let (state, pickup) = if body.is_empty() {
            (LampState::Idle, None)
        } else if content_type != dialog_info::CONTENT_TYPE {
            (LampState::Unknown, None)
        } else {
            let dialogs = dialog_info::parse(&String::from_utf8_lossy(body));
            let watched = self
                .subscriptions
                .values()
                .find(|(p, _)| matches!(p, super::subscribe::Purpose::BusyLamp(u) if u == user))
                .map(|(_, s)| s.target().to_string())
                .unwrap_or_default();
            let live = |d: &&dialog_info::DialogEntry| !d.state.eq_ignore_ascii_case("terminated");
            let ringing = dialogs.iter().filter(live).find(|d| {
                matches!(
                    d.state.to_ascii_lowercase().as_str(),
                    "trying" | "proceeding" | "early"
                ) && d.direction.as_deref() == Some("recipient")
            });
            let in_call = dialogs.iter().filter(live).any(|d| {
                d.state.eq_ignore_ascii_case("confirmed")
                    || d.direction.as_deref() == Some("initiator")
            });
            match ringing {
                Some(d) => (LampState::Ringing, d.pickup(&watched)),
                None if in_call => (LampState::InCall, None),
                None => (LampState::Idle, None),
            }
        };
        let picked_up = pickup.is_some();
        let entry = (state, pickup);
        if self.lamps.get(user) != Some(&entry) {
            self.lamps.insert(user.to_string(), entry);
            self.events.push_back(UaEvent::BusyLamp {
                user: user.to_string(),
                state,
                pickup: picked_up,
            });
        }
    }
}
