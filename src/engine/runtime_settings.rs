//! Parameters changed while the engine runs (by the API or window, a later launch, or the
//! server's `x-mparam`): `phone::settings` decides what the change means; this carries it out.
//! Call, media and audio preferences apply at once for the next call (a changed microphone or
//! speaker also for the calls in progress, `changeaudiodevimmediate`); the SIP stack is
//! rebuilt only when a SIP, call or media parameter changed, and the server's name is resolved
//! again (in a task) only when the server or proxy address changed. Keeping values for later
//! runs (the settings file, the keyring) happens on the worker thread.

use super::calls::DevicePrefs;
use super::driver::Engine;
use super::setup::{resolve_servers, ua_config};
use super::worker::Done;
use crate::config::secrets;
use crate::model::{Event, NoticeKind, ParamValue, Source};
use crate::phone::PhonePrefs;
use crate::phone::settings::{Keep, set_parameters};
use crate::sip::ua::Reconfigured;
use std::time::Instant;

impl Engine {
    /// Sets each value from `source`, then applies what changed once.
    pub(super) fn set_parameters(&mut self, values: &[ParamValue], source: Source, persist: bool) {
        let change = set_parameters(&mut self.settings, values, source, persist);
        for ev in change.events.iter().cloned() {
            self.reporter.send(ev);
        }
        for keep in change.keep.iter().cloned() {
            self.keep(keep);
        }
        if change.changed.is_empty() {
            return;
        }
        self.phone
            .set_prefs(PhonePrefs::from_settings(&self.settings));
        self.calls.prefs =
            DevicePrefs::from_settings(&self.settings, self.calls.prefs.ring.sound.clone());
        self.calls.rtp_base = self.settings.int("rtpport") as u16;
        if change.changed("ringtone") {
            let file = self.settings.text("ringtone");
            self.worker.run(move |_| {
                let (sound, problem) = super::ring::ring_sound(&file);
                Some(Done::Ringtone { sound, problem })
            });
        }
        if change.touches_server_address() {
            let (server, proxy) = (
                self.settings.text("serveraddress"),
                self.settings.text("proxyaddress"),
            );
            let dns = self.dns.clone();
            let results = self.worker.results();
            let lookup = super::setup::sip_lookups(&self.settings);
            tokio::spawn(async move {
                let result = resolve_servers(&server, &proxy, lookup, &dns)
                    .await
                    .map_err(|e| format!("{e:#}"));
                let _ = results.send(Done::Servers {
                    server,
                    proxy,
                    result,
                });
            });
        } else if change.touches_sip() {
            self.reconfigure_sip();
        }
        let (record, playback) = (
            change.changed("recorddevice"),
            change.changed("playbackdevice"),
        );
        if self.settings.bool("changeaudiodevimmediate") && (record || playback) {
            self.calls.switch_devices(record, playback, &self.reporter);
        }
        if ["aec", "aec2", "denoise", "agc"]
            .iter()
            .any(|p| change.changed(p))
        {
            self.calls.set_voice_processing();
        }
        if ["volumein", "volumeout", "volumering"]
            .iter()
            .any(|p| change.changed(p))
        {
            // Heard at once, mid-call.
            self.calls.set_gains();
        }
    }

    /// Rebuilds the SIP stack's configuration from the settings and the known server
    /// addresses; a changed account registers again.
    pub(super) fn reconfigure_sip(&mut self) {
        match ua_config(&self.settings, &self.servers) {
            Ok((cfg, _)) => {
                self.phone.set_user(&cfg.user);
                if self.ua.reconfigure(Instant::now(), cfg) == Reconfigured::Account {
                    self.reporter.info(
                        NoticeKind::Registration,
                        "account settings changed: registering again",
                    );
                }
            }
            Err(e) => self.reporter.error(
                NoticeKind::Registration,
                format!(
                    "the changed settings cannot be used ({e:#}); the SIP stack keeps the previous ones"
                ),
            ),
        }
    }

    /// Keeps a value for later runs: the settings file, or the keyring for a secret.
    fn keep(&mut self, keep: Keep) {
        match keep {
            Keep::Keyring {
                name,
                account,
                value,
            } => self.worker.run(move |_| {
                let saved = match &value {
                    Some(p) => secrets::save(&account, p.expose()),
                    None => secrets::delete(&account),
                };
                Some(Done::Events(vec![match saved {
                    Ok(()) => Event::info(
                        NoticeKind::Keyring,
                        format!("the {name} of {account} is kept in the keyring"),
                    ),
                    Err(e) => Event::warning(
                        NoticeKind::Keyring,
                        format!("{e}: the {name} stays in memory only"),
                    ),
                }]))
            }),
            Keep::File { name, value } => {
                let Some(file) = self.settings.file().cloned() else {
                    return self.reporter.warning(
                        NoticeKind::Parameter,
                        format!(
                            "{name}: there is no settings file to keep it in; it lasts for this run"
                        ),
                    );
                };
                self.worker.run(move |_| {
                    let e = file.store(name, value.as_deref()).err()?;
                    Some(Done::Events(vec![Event::error(
                        NoticeKind::Parameter,
                        format!("{name} was not saved: {e}"),
                    )]))
                });
            }
        }
    }
}
