//! The UA's subscriptions (RFC 6665): it creates them, routes the responses to their SUBSCRIBEs
//! and the NOTIFYs of their dialogs to them, sends what they ask for, and turns what their
//! NOTIFYs carry into events by package. Today's package is `message-summary` (voicemail,
//! RFC 3842), subscribed for our own address of record after the first registration (once per
//! account: a server that refuses the package for good is not asked again), or
//! fetched at an interval (`voicemail` 4); a server that sends message-summary NOTIFYs without
//! being asked (Asterisk's unsolicited MWI) is shown too unless `voicemail` is 0.

use super::owners::Usage;
use super::{ALLOWED_METHODS, UaEvent, UserAgent};
use crate::sip::builder::{has_tag, response_to};
use crate::sip::dialog_info;
use crate::sip::headers::{event_package, media_type};
use crate::sip::message::SipMessage;
use crate::sip::subscription::{
    ClientSubscription, SubOutput, SubStatus, SubscriptionConfig, mwi, presence, winfo,
};
use crate::sip::validate::allow_header;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// How often a voicemail box is fetched in `voicemail` mode 4 (poll): often enough that a
/// lamp is never minutes late, rare enough to be nothing for a server with many agents.
pub const MWI_POLL_INTERVAL: Duration = Duration::from_secs(120);

/// The subscription lifetime asked for the voicemail box; refreshed before it runs out.
pub const MWI_EXPIRES: u32 = 3600;

/// `voicemail`: how message waiting is learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoicemailMode {
    /// 0: not at all (message-summary NOTIFYs are refused with 489).
    Off,
    /// 1: only what the server sends unasked.
    Unsolicited,
    /// 2: subscribe to our box.
    Subscribe,
    /// 3: subscribe, and pop a notice up when new messages arrive.
    SubscribeAndNotify,
    /// 4: fetch the box's state every [`MWI_POLL_INTERVAL`].
    Poll,
}

impl VoicemailMode {
    /// From the parameter's number (0..4; anything else is the default, 2).
    pub fn from_param(v: i64) -> VoicemailMode {
        match v {
            0 => VoicemailMode::Off,
            1 => VoicemailMode::Unsolicited,
            3 => VoicemailMode::SubscribeAndNotify,
            4 => VoicemailMode::Poll,
            _ => VoicemailMode::Subscribe,
        }
    }

    fn subscribes(self) -> bool {
        matches!(
            self,
            VoicemailMode::Subscribe | VoicemailMode::SubscribeAndNotify | VoicemailMode::Poll
        )
    }
}

/// What a subscription is for, so that its content is read by the right package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Our own voicemail box.
    Voicemail,
    /// A contact's presence, by the user as it was asked for.
    Presence(String),
    /// An extension's busy lamp (dialog package), by the user as it was asked for.
    BusyLamp(String),
    /// Who watches our own presence at the presence server (presence.winfo).
    WatcherInfo,
}

/// The lists of resources the user watches, one subscription per entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WatchKind {
    Presence,
    BusyLamp,
}

impl WatchKind {
    fn purpose(self, user: String) -> Purpose {
        match self {
            WatchKind::Presence => Purpose::Presence(user),
            WatchKind::BusyLamp => Purpose::BusyLamp(user),
        }
    }

    /// The user of a subscription of this kind.
    fn user(self, purpose: &Purpose) -> Option<&str> {
        match (self, purpose) {
            (WatchKind::Presence, Purpose::Presence(u))
            | (WatchKind::BusyLamp, Purpose::BusyLamp(u)) => Some(u),
            _ => None,
        }
    }

    fn package(self) -> (&'static str, &'static str) {
        match self {
            WatchKind::Presence => (presence::EVENT, presence::CONTENT_TYPE),
            WatchKind::BusyLamp => (dialog_info::EVENT, dialog_info::CONTENT_TYPE),
        }
    }
}

impl UserAgent {
    /// Subscribes to our voicemail box when `voicemail` says so, once per account: after the
    /// registration succeeded (the server knows us then). A softphone that does not register
    /// does not subscribe: its server may not know it (unasked NOTIFYs are still shown).
    pub(super) fn start_voicemail(&mut self, now: Instant) {
        if !self.cfg.voicemail.subscribes()
            || self.cfg.user.is_empty()
            || self.cfg.first_hop.is_none()
        {
            return;
        }
        if let Some((_, (_, sub))) = self
            .subscriptions
            .iter_mut()
            .find(|(_, (p, _))| *p == Purpose::Voicemail)
        {
            // Registered again after a failure: a subscription waiting to retry goes now.
            sub.subscribe(now);
            return;
        }
        if self.voicemail_started {
            return;
        }
        self.voicemail_started = true;
        let aor = self.local_aor();
        let poll = self.cfg.voicemail == VoicemailMode::Poll;
        let expires = if poll { 0 } else { MWI_EXPIRES };
        self.add_subscription(
            now,
            Purpose::Voicemail,
            aor,
            (mwi::EVENT, mwi::CONTENT_TYPE),
            (expires, MWI_POLL_INTERVAL),
        );
    }

    /// Watches exactly `users` (numbers, user names or SIP addresses) for `kind`: new ones
    /// are subscribed, ones no longer listed are unsubscribed. Fails, changing nothing, when a
    /// user cannot be turned into an address.
    pub(super) fn watch_list(
        &mut self,
        now: Instant,
        users: &[String],
        kind: WatchKind,
    ) -> Result<(), String> {
        let mut wanted = Vec::new();
        for user in users.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
            let uri = self.dial_target(user).map_err(|e| format!("{user}: {e}"))?;
            wanted.push((user.to_string(), uri.to_string()));
        }
        for (purpose, sub) in self.subscriptions.values_mut() {
            if let Some(user) = kind.user(purpose)
                && !wanted.iter().any(|(u, _)| u == user)
            {
                sub.unsubscribe(now);
            }
        }
        let (event, accept) = kind.package();
        for (user, uri) in wanted {
            let watched = self
                .subscriptions
                .values()
                .any(|(p, s)| kind.user(p) == Some(user.as_str()) && !s.is_ended());
            if watched {
                continue;
            }
            let expires = self.cfg.presence_expires;
            self.add_subscription(
                now,
                kind.purpose(user),
                uri,
                (event, accept),
                (expires, Duration::ZERO),
            );
        }
        self.pump(now);
        Ok(())
    }

    /// Starts a subscription to `target` for `purpose`: `package` is the event and the body
    /// type taken, `timing` the expiry asked for and the poll interval (for expiry 0).
    pub(super) fn add_subscription(
        &mut self,
        now: Instant,
        purpose: Purpose,
        target: String,
        (event, accept): (&'static str, &'static str),
        (expires, poll_every): (u32, Duration),
    ) {
        let cfg = SubscriptionConfig {
            event,
            accept,
            target,
            local_uri: self.local_aor(),
            contact: Self::contact_uri(&self.cfg, self.contact_addr()),
            expires,
            poll_every,
            credentials: self.credentials(),
            extra_headers: vec![
                ("Allow".into(), allow_header(ALLOWED_METHODS)),
                ("User-Agent".into(), self.cfg.user_agent.clone()),
            ],
            retry_base: self.cfg.timers.t1 * 10,
            retry_max: Duration::from_secs(1800),
        };
        let mut sub = ClientSubscription::new(cfg, StdRng::seed_from_u64(self.rng.random()));
        sub.subscribe(now);
        self.next_subscription += 1;
        self.subscriptions
            .insert(self.next_subscription, (purpose, sub));
    }

    /// Ends every subscription (unregistering, shutting down).
    pub(super) fn end_subscriptions(&mut self, now: Instant) {
        for (_, sub) in self.subscriptions.values_mut() {
            sub.unsubscribe(now);
        }
    }

    /// Sends what the subscriptions ask for and reports what they learned.
    pub(super) fn flush_subscriptions(&mut self, now: Instant) -> bool {
        let mut moved = false;
        let ids: Vec<u64> = self.subscriptions.keys().copied().collect();
        for id in ids {
            while let Some(out) = self
                .subscriptions
                .get_mut(&id)
                .and_then(|(_, s)| s.poll_output())
            {
                moved = true;
                let purpose = self.subscriptions.get(&id).map(|(p, _)| p.clone());
                match out {
                    SubOutput::Send(req) => match self.send_request_or_direct(now, req) {
                        Some(key) => self.owners.own(key, Usage::Subscription(id)),
                        None => {
                            if let Some((_, s)) = self.subscriptions.get_mut(&id) {
                                s.on_no_response(now, 503, "no route to the server");
                            }
                        }
                    },
                    SubOutput::Content { content_type, body } => match purpose {
                        // No summary yet (nothing published for our box): nothing to show.
                        Some(Purpose::Voicemail) if body.is_empty() => {}
                        Some(Purpose::Voicemail) => {
                            self.message_summary(&content_type, &body);
                        }
                        Some(Purpose::Presence(user)) => {
                            self.presence_content(&user, &content_type, &body)
                        }
                        Some(Purpose::BusyLamp(user)) => {
                            self.lamp_content(&user, &content_type, &body)
                        }
                        Some(Purpose::WatcherInfo) => {
                            self.watcher_info_content(&content_type, &body)
                        }
                        None => {}
                    },
                    SubOutput::Status(SubStatus::Pending)
                        if matches!(purpose, Some(Purpose::Presence(_))) =>
                    {
                        // Not authorised yet: the contact shows as pending, no notice.
                        if let Some(Purpose::Presence(user)) = purpose {
                            self.events.push_back(UaEvent::Presence {
                                user,
                                status: crate::model::PresenceStatus::Pending,
                                note: String::new(),
                            });
                        }
                    }
                    // Watch lists are many: an accepted subscription is not worth a notice.
                    SubOutput::Status(SubStatus::Active | SubStatus::Pending)
                        if matches!(purpose, Some(Purpose::Presence(_) | Purpose::BusyLamp(_))) => {
                    }
                    // Who watches us is a list, not news; a server without the package is
                    // only logged.
                    SubOutput::Status(status) if purpose == Some(Purpose::WatcherInfo) => {
                        tracing::info!(?status, "presence.winfo subscription");
                    }
                    SubOutput::Status(status) => self.subscription_status(id, status),
                }
            }
        }
        self.subscriptions.retain(|_, (_, s)| !s.is_ended());
        moved
    }

    fn subscription_status(&mut self, id: u64, status: SubStatus) {
        let Some((_, sub)) = self.subscriptions.get(&id) else {
            return;
        };
        self.events.push_back(UaEvent::Subscription {
            event: sub.event().to_string(),
            target: sub.target().to_string(),
            status,
        });
    }

    /// What a message-summary body says, as an event; a body we cannot read is reported.
    fn message_summary(&mut self, content_type: &str, body: &[u8]) -> u16 {
        if content_type != mwi::CONTENT_TYPE {
            return 415;
        }
        match mwi::parse(body) {
            Ok(summary) => {
                self.events.push_back(UaEvent::MessageWaiting { summary });
                200
            }
            Err(_) => 400,
        }
    }

    /// The response to one of our SUBSCRIBEs.
    pub(super) fn subscription_response(&mut self, now: Instant, id: u64, resp: &SipMessage) {
        if let Some((_, sub)) = self.subscriptions.get_mut(&id) {
            sub.on_response(now, resp);
        }
    }

    /// One of our SUBSCRIBEs got no final response.
    pub(super) fn subscription_no_response(&mut self, now: Instant, id: u64, code: u16, why: &str) {
        if let Some((_, sub)) = self.subscriptions.get_mut(&id) {
            sub.on_no_response(now, code, why);
        }
    }

    /// Whether a NOTIFY is for a subscription (ours, or an unsolicited message summary)
    /// rather than for a call's transfer.
    pub(super) fn is_subscription_notify(&self, req: &SipMessage) -> bool {
        self.subscriptions.values().any(|(_, s)| s.matches(req))
            || (!req.headers.get("To").is_some_and(has_tag) && event_package(req) == mwi::EVENT)
    }

    /// Answers a NOTIFY that [`Self::is_subscription_notify`] took.
    pub(super) fn subscription_notify(
        &mut self,
        now: Instant,
        req: &SipMessage,
        tag: &str,
    ) -> SipMessage {
        if let Some((purpose, sub)) = self
            .subscriptions
            .values_mut()
            .find(|(_, s)| s.matches(req))
        {
            // A body we cannot take is refused before the subscription sees the NOTIFY: what
            // we knew stays as it was.
            if let Some((code, accept)) = body_refusal(purpose, req) {
                let mut r = response_to(req, code, None, Some(tag));
                r.headers.push("Accept", accept);
                return r;
            }
            let (code, reason) = sub.on_notify(now, req);
            return response_to(req, code, Some(reason), Some(tag));
        }
        // Unsolicited message waiting (out of any dialog): shown unless switched off.
        if self.cfg.voicemail == VoicemailMode::Off {
            return response_to(req, 489, None, Some(tag));
        }
        let ctype = media_type(req);
        let code = self.message_summary(&ctype, &req.body);
        let mut r = response_to(req, code, None, Some(tag));
        if code == 415 {
            r.headers.push("Accept", mwi::CONTENT_TYPE);
        }
        r
    }

    /// The earliest deadline of the subscriptions.
    pub(super) fn subscriptions_timeout(&self) -> Option<Instant> {
        self.subscriptions
            .values()
            .filter_map(|(_, s)| s.poll_timeout())
            .min()
    }

    /// Fires the subscriptions' refreshes and retries.
    pub(super) fn subscription_timers(&mut self, now: Instant) {
        for (_, sub) in self.subscriptions.values_mut() {
            sub.on_timeout(now);
        }
    }
}

/// Whether a NOTIFY's body is one the subscription's package can take: `None` when it is (or
/// there is none), else the refusal (415 for another type, 400 for a document that does not
/// parse) and the type we take, for the Accept header.
fn body_refusal(purpose: &Purpose, req: &SipMessage) -> Option<(u16, &'static str)> {
    if req.body.is_empty() {
        return None;
    }
    let text = || String::from_utf8_lossy(&req.body);
    let (accept, readable) = match purpose {
        Purpose::Voicemail => (mwi::CONTENT_TYPE, mwi::parse(&req.body).is_ok()),
        Purpose::Presence(_) => (presence::CONTENT_TYPE, presence::read(&text()).is_some()),
        Purpose::BusyLamp(_) => (
            dialog_info::CONTENT_TYPE,
            dialog_info::read(&text()).is_some(),
        ),
        Purpose::WatcherInfo => (winfo::CONTENT_TYPE, winfo::parse(&text()).is_some()),
    };
    if media_type(req) != accept {
        Some((415, accept))
    } else if !readable {
        Some((400, accept))
    } else {
        None
    }
}
