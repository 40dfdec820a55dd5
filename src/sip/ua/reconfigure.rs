//! Settings changed while running (the API's SetParameter, the window, the server's
//! `x-mparam`): the UA takes a new [`UaConfig`]. Call and media preferences apply to the next
//! call at once. The bound socket cannot change, so the local address, transport and protocol
//! timers stay. A changed account (user, server, credentials, interval) re-registers: a live
//! binding of the old account is removed first, then the new one registers.

use super::owners::Usage;
use super::{ALLOWED_METHODS, UaConfig, UaEvent, UserAgent};
use crate::sip::digest::Credentials;
use crate::sip::registration::{RegState, Registration, RegistrationConfig};
use crate::sip::validate::allow_header;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What a reconfiguration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconfigured {
    /// Only call and media preferences changed.
    Preferences,
    /// The account changed; it is registering again (or unregistering the old one first).
    Account,
}

fn same_account(a: &UaConfig, b: &UaConfig) -> bool {
    a.user == b.user
        && a.auth_user == b.auth_user
        && a.display_name == b.display_name
        && a.password.as_ref().map(|p| p.expose()) == b.password.as_ref().map(|p| p.expose())
        && a.ha1_md5.as_ref().map(|p| p.expose()) == b.ha1_md5.as_ref().map(|p| p.expose())
        && a.realm == b.realm
        && a.domain == b.domain
        && a.first_hop == b.first_hop
        && a.outbound_proxy == b.outbound_proxy
        && a.register == b.register
        && a.register_interval == b.register_interval
        && a.accept_expires == b.accept_expires
}

impl UserAgent {
    /// The registration for `cfg`'s account (`None` without a user name), binding `contact`.
    pub(super) fn build_registration(
        cfg: &UaConfig,
        contact: SocketAddr,
        rng: &mut StdRng,
    ) -> Option<Registration> {
        if cfg.user.is_empty() {
            return None;
        }
        let rc = RegistrationConfig {
            user: cfg.user.clone(),
            domain: cfg.domain.clone(),
            display_name: cfg.display_name.clone(),
            credentials: Credentials {
                username: cfg.auth_user.clone().unwrap_or_else(|| cfg.user.clone()),
                password: cfg.password.clone(),
                ha1_md5: cfg.ha1_md5.clone(),
                realm: cfg.realm.clone(),
            },
            interval: cfg.register_interval,
            accept_expires: cfg.accept_expires,
            retry_base: cfg.timers.t1 * 10,
            retry_max: Duration::from_secs(300),
            extra_headers: vec![
                ("Allow".into(), allow_header(ALLOWED_METHODS)),
                ("User-Agent".into(), cfg.user_agent.clone()),
            ],
        };
        let reg_rng = StdRng::seed_from_u64(rng.random());
        Some(Registration::new(
            rc,
            Self::contact_uri(cfg, contact),
            reg_rng,
        ))
    }

    /// Takes a new configuration (see the module docs for what applies when).
    pub fn reconfigure(&mut self, now: Instant, mut cfg: UaConfig) -> Reconfigured {
        cfg.local = self.cfg.local;
        cfg.transport = self.cfg.transport;
        cfg.timers = self.cfg.timers;
        let same = same_account(&self.cfg, &cfg);
        self.preferred_hop = cfg.first_hop;
        self.hop_index = 0;
        self.back_to_preferred_at = None;
        self.cfg = cfg;
        if same {
            return Reconfigured::Preferences;
        }
        let live = self
            .registration
            .as_ref()
            .map(|r| r.state())
            .is_some_and(|s| matches!(s, RegState::Registered | RegState::Registering));
        if live && let Some(r) = &mut self.registration {
            // The old binding goes first; `switch_account` runs on its Unregistered.
            self.account_pending = r.unregister();
            if !self.account_pending {
                self.switch_account();
            }
        } else {
            self.switch_account();
        }
        self.pump(now);
        Reconfigured::Account
    }

    /// Replaces the registration with the configured account's and registers it when asked.
    pub(super) fn switch_account(&mut self) {
        self.account_pending = false;
        self.owners.release_usage(Usage::Registration);
        // What the old account subscribed and published belongs to it: dropped here (the
        // server's NOTIFYs for it now get 481, which ends them there); the new account
        // subscribes anew once registered.
        self.subscriptions.clear();
        self.publication = None;
        self.published_status = None;
        self.voicemail_started = false;
        self.registration = Self::build_registration(&self.cfg, self.contact_addr(), &mut self.rng);
        if self.cfg.register {
            if self.registration.is_some() && self.cfg.first_hop.is_some() {
                if let Some(r) = &mut self.registration {
                    r.register();
                }
            } else if self.registration.is_some() {
                self.events.push_back(UaEvent::RegisterFailed {
                    code: 0,
                    reason: "no server address".into(),
                    retry_in: None,
                });
            }
        }
    }
}
