//! Parameters changed while the engine runs: by the API or window (`SetParameter`), by a later
//! launch, or by the server (`x-mparam`). The value is checked and set at its source's level,
//! reported to every front end, kept in the settings file when asked (a password goes to the
//! keyring instead), and applied: call, media and audio preferences at once for the next call
//! (a changed microphone or speaker also for the calls in progress, `changeaudiodevimmediate`),
//! the account by re-registering; what is bound at start (socket, transport, log filter) says
//! that it needs a restart.

use super::calls::{CallPrefs, CallResources};
use super::driver::Reporter;
use super::event::Event;
use super::setup::ua_config;
use crate::config::params::{Kind, Part, find};
use crate::config::{Settings, Source, secrets};
use crate::sip::ua::{Reconfigured, UserAgent};
use std::time::Instant;

/// Parameters only read at start: changing them at run time needs a restart.
const AT_START: &[&str] = &[
    "transport",
    "signalingport",
    "localip",
    "timer",
    "loglevel",
    "singleinstance",
    "clearcfg",
];

/// What the server may not change: who we are and where we register.
const NOT_FROM_SERVER: &[&str] = &[
    "serveraddress",
    "proxyaddress",
    "username",
    "sipusername",
    "password",
    "md5",
    "realm",
    "savepassword",
    "clearcfg",
];

/// The engine state a parameter change reaches.
pub(super) struct Targets<'a> {
    pub(super) settings: &'a mut Settings,
    pub(super) ua: &'a mut UserAgent,
    pub(super) calls: &'a mut CallResources,
    pub(super) reporter: &'a mut Reporter,
}

/// Sets each `(name, value)` from `source`, then applies what changed once.
pub(super) async fn set_parameters(
    mut t: Targets<'_>,
    values: &[(String, String)],
    source: Source,
    persist: bool,
) {
    let mut changed = Vec::new();
    for (name, value) in values {
        if set_one(t.settings, t.reporter, name, value, source, persist).await {
            changed.extend(find(name).map(|d| d.name));
        }
    }
    if changed.is_empty() {
        return;
    }
    let (record, playback) = (
        changed.contains(&"recorddevice"),
        changed.contains(&"playbackdevice"),
    );
    let immediate = t.settings.bool("changeaudiodevimmediate");
    apply(&mut t).await;
    if immediate && (record || playback) {
        t.calls.switch_devices(record, playback, t.reporter);
    }
}

/// Sets one value; gives whether the engine must rebuild what it derived from the settings.
async fn set_one(
    settings: &mut Settings,
    reporter: &mut Reporter,
    name: &str,
    value: &str,
    source: Source,
    persist: bool,
) -> bool {
    let Some(def) = find(name) else {
        // Let the settings produce the "did you mean" message.
        if let Err(e) = settings.set_from(name, value, source) {
            reporter.send(Event::Error(e.to_string()));
        }
        return false;
    };
    if source == Source::Server && NOT_FROM_SERVER.contains(&def.name) {
        reporter.send(Event::Warning(format!(
            "the server may not set {} (x-mparam); ignored",
            def.name
        )));
        return false;
    }
    let (before, before_source) = (settings.text(def.name), settings.source(def.name));
    if let Err(e) = settings.set_from(def.name, value, source) {
        reporter.send(Event::Error(e.to_string()));
        return false;
    }
    if !persist && before_source == source && settings.text(def.name) == before {
        // The same value again (the server repeats its x-mparam on every refresh).
        return false;
    }
    let holder = settings.source(def.name);
    if holder > source {
        reporter.send(Event::Warning(format!(
            "{} keeps the value set by the {} (it wins over the {})",
            def.name,
            holder.label(),
            source.label()
        )));
        return false;
    }
    let now_value = settings.text(def.name);
    reporter.send(Event::Parameter {
        name: def.name.to_string(),
        value: if def.kind == Kind::Secret && !now_value.is_empty() {
            "***".into()
        } else {
            now_value.clone()
        },
        source,
    });
    if persist {
        persist_value(settings, def.name, value, reporter).await;
    }
    if before == now_value {
        return false;
    }
    if AT_START.contains(&def.name) {
        reporter.send(Event::Warning(format!(
            "{} takes effect at the next start",
            def.name
        )));
        return false;
    }
    match def.part {
        Part::NotYet => {
            reporter.send(Event::Warning(format!(
                "{} is not implemented in this build yet; the value is kept but does nothing",
                def.name
            )));
            false
        }
        Part::Window | Part::Config | Part::Log => false,
        Part::Sip | Part::Calls | Part::Media | Part::Audio => true,
    }
}

/// Rebuilds what the engine derived from the settings.
async fn apply(t: &mut Targets<'_>) {
    t.calls.prefs = CallPrefs::from_settings(t.settings, t.reporter);
    t.calls.rtp_base = t.settings.int("rtpport") as u16;
    match ua_config(t.settings).await {
        Ok((cfg, _)) => {
            t.reporter.set_local(&cfg.user);
            if t.ua.reconfigure(Instant::now(), cfg) == Reconfigured::Account {
                t.reporter.send(Event::Info(
                    "account settings changed: registering again".into(),
                ));
            }
        }
        Err(e) => t.reporter.send(Event::Error(format!(
            "the changed settings cannot be used ({e:#}); the SIP stack keeps the previous ones"
        ))),
    }
}

/// Keeps a value for later runs: the settings file, or the keyring for a password.
async fn persist_value(settings: &Settings, name: &'static str, value: &str, reporter: &Reporter) {
    if find(name).is_some_and(|d| d.kind == Kind::Secret) {
        let account = secrets::account(&settings.text("username"), &settings.text("serveraddress"));
        let password = settings.secret(name).map(|s| s.expose().to_string());
        let saved = tokio::task::spawn_blocking(move || match password {
            Some(p) => secrets::save(&account, &p).map(|()| account),
            None => secrets::delete(&account).map(|()| account),
        })
        .await;
        match saved {
            Ok(Ok(account)) => reporter.send(Event::Info(format!(
                "the {name} of {account} is kept in the keyring"
            ))),
            Ok(Err(e)) => reporter.send(Event::Warning(format!(
                "{e}: the {name} stays in memory only"
            ))),
            Err(e) => reporter.send(Event::Warning(format!("keyring: {e}"))),
        }
        return;
    }
    let Some(file) = settings.file() else {
        reporter.send(Event::Warning(format!(
            "{name}: there is no settings file to keep it in; it lasts for this run"
        )));
        return;
    };
    let stored = if value.trim() == "DEF" {
        None
    } else {
        Some(settings.text(name))
    };
    if let Err(e) = file.store(name, stored.as_deref()) {
        reporter.send(Event::Error(format!("{name} was not saved: {e}")));
    }
}
