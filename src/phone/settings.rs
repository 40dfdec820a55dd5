//! What a parameter change means, sans-IO: each `name=value` from a source (the API or window,
//! a later launch, the server) is checked and set at its source's level, and the outcome says
//! what the faces are told, what the driver must keep for later runs (the settings file, the
//! keyring) and what it must rebuild. Nothing here touches a file, the keyring or the network.

use crate::config::Settings;
use crate::config::params::{Kind, Part, find};
use crate::config::server_push::server_may_set;
use crate::model::{Event, NoticeKind, ParamValue, Secret, Source};

/// Parameters only read at start: changing them at run time needs a restart.
const AT_START: &[&str] = &[
    "wpapilistenport",
    "wpapiudplistenport",
    "wpapiorigins",
    "wpapitargets",
    "wpapiratelimit",
    "wpapiconfirm",
    "transport",
    "signalingport",
    "localip",
    "timer",
    "loglevel",
    "singleinstance",
    "clearcfg",
];

/// Parameters that name or reach the server: a change means resolving it again.
const ACCOUNT_ADDRESSES: &[&str] = &["serveraddress", "proxyaddress"];

/// A value to keep for later runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// In the settings file (`None`: removed, back to the lower levels).
    File {
        name: &'static str,
        value: Option<String>,
    },
    /// A secret in the keyring for `account` (`None`: forgotten).
    Keyring {
        name: &'static str,
        account: String,
        value: Option<Secret>,
    },
}

/// What a set of changes came to.
#[derive(Debug, Default)]
pub struct ParameterChange {
    /// For the faces, in order.
    pub events: Vec<Event>,
    /// Parameters whose effective value changed and that the engine acts on at once.
    pub changed: Vec<&'static str>,
    /// What to keep for later runs.
    pub keep: Vec<Keep>,
}

impl ParameterChange {
    /// Whether `name` is among the changed parameters.
    pub fn changed(&self, name: &str) -> bool {
        self.changed.contains(&name)
    }

    /// Whether the server's address must be resolved again.
    pub fn touches_server_address(&self) -> bool {
        self.changed.iter().any(|n| ACCOUNT_ADDRESSES.contains(n))
    }

    /// Whether the SIP stack's configuration must be rebuilt (codecs and timers included).
    pub fn touches_sip(&self) -> bool {
        self.changed.iter().any(|n| {
            find(n).is_some_and(|d| matches!(d.part, Part::Sip | Part::Calls | Part::Media))
        })
    }
}

/// Sets each value from `source` (and keeps it when `persist`); see [`ParameterChange`].
pub fn set_parameters(
    settings: &mut Settings,
    values: &[ParamValue],
    source: Source,
    persist: bool,
) -> ParameterChange {
    let mut out = ParameterChange::default();
    for v in values {
        set_one(settings, &v.name, &v.value, source, persist, &mut out);
    }
    out
}

fn set_one(
    settings: &mut Settings,
    name: &str,
    value: &str,
    source: Source,
    persist: bool,
    out: &mut ParameterChange,
) {
    let Some(def) = find(name) else {
        // Let the settings produce the "did you mean" message.
        if let Err(e) = settings.set_from(name, value, source) {
            out.events
                .push(Event::error(NoticeKind::Parameter, e.to_string()));
        }
        return;
    };
    if source == Source::Server && !server_may_set(def.name) {
        out.events.push(Event::warning(
            NoticeKind::Security,
            format!("the server may not set {} (x-mparam); ignored", def.name),
        ));
        return;
    }
    let (before, before_source) = (settings.text(def.name), settings.source(def.name));
    if let Err(e) = settings.set_from(def.name, value, source) {
        out.events
            .push(Event::error(NoticeKind::Parameter, e.to_string()));
        return;
    }
    if !persist && before_source == source && settings.text(def.name) == before {
        // The same value again (the server repeats its x-mparam on every refresh).
        return;
    }
    let holder = settings.source(def.name);
    if holder > source {
        out.events.push(Event::warning(
            NoticeKind::Parameter,
            format!(
                "{} keeps the value set by the {} (it wins over the {})",
                def.name,
                holder.label(),
                source.label()
            ),
        ));
        return;
    }
    let now_value = settings.text(def.name);
    out.events.push(Event::Parameter {
        name: def.name.to_string(),
        value: if def.kind == Kind::Secret {
            Secret::new(now_value.as_str()).masked().to_string()
        } else {
            now_value.clone()
        },
        source,
    });
    if persist {
        out.keep.push(keep(settings, def.name, def.kind, value));
    }
    if before == now_value {
        return;
    }
    if AT_START.contains(&def.name) {
        out.events.push(Event::warning(
            NoticeKind::Parameter,
            format!("{} takes effect at the next start", def.name),
        ));
        return;
    }
    match def.part {
        Part::NotYet => out.events.push(Event::warning(
            NoticeKind::Parameter,
            format!(
                "{} is not implemented in this build yet; the value is kept but does nothing",
                def.name
            ),
        )),
        Part::Window | Part::Config | Part::Log | Part::Api => {}
        Part::Sip | Part::Calls | Part::Media | Part::Audio => out.changed.push(def.name),
    }
}

/// Where a persisted value goes: the keyring for a secret, else the settings file.
fn keep(settings: &Settings, name: &'static str, kind: Kind, value: &str) -> Keep {
    if kind == Kind::Secret {
        return Keep::Keyring {
            name,
            account: crate::config::secrets::account(
                &settings.text("username"),
                &settings.text("serveraddress"),
            ),
            value: settings.secret(name),
        };
    }
    Keep::File {
        name,
        value: (value.trim() != "DEF").then(|| settings.text(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(name: &str, value: &str) -> ParamValue {
        ParamValue::new(name, value)
    }

    #[test]
    fn the_server_is_held_to_its_allow_list() {
        let mut s = Settings::default();
        let c = set_parameters(
            &mut s,
            &[
                pv("maxlines", "2"),
                pv("playbackdevice", "file:/home/user/.bashrc"),
                pv("autoaccept", "true"),
                pv("password", "stolen"),
            ],
            Source::Server,
            false,
        );
        assert_eq!(c.changed, vec!["maxlines"]);
        assert_eq!(s.text("playbackdevice"), "Default");
        assert!(!s.bool("autoaccept"));
        assert!(s.secret("password").is_none());
        let warnings: Vec<String> = c
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Notice {
                    kind: NoticeKind::Security,
                    text,
                    ..
                } => Some(text.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            warnings,
            vec![
                "the server may not set playbackdevice (x-mparam); ignored",
                "the server may not set autoaccept (x-mparam); ignored",
                "the server may not set password (x-mparam); ignored",
            ]
        );
        // A repeated push changes nothing and says nothing.
        let again = set_parameters(&mut s, &[pv("maxlines", "2")], Source::Server, false);
        assert!(again.events.is_empty() && again.changed.is_empty());
    }

    #[test]
    fn what_a_change_asks_of_the_engine() {
        let mut s = Settings::default();
        let c = set_parameters(&mut s, &[pv("volumeout", "60")], Source::Runtime, false);
        assert!(c.changed("volumeout"));
        assert!(!c.touches_sip() && !c.touches_server_address());
        let c = set_parameters(&mut s, &[pv("use_pcma", "3")], Source::Runtime, false);
        assert!(c.touches_sip() && !c.touches_server_address());
        let c = set_parameters(
            &mut s,
            &[pv("serveraddress", "pbx.example.com")],
            Source::Runtime,
            false,
        );
        assert!(c.touches_server_address());
        // A secret is reported masked and kept in the keyring, never the file.
        let c = set_parameters(&mut s, &[pv("password", "pw")], Source::Runtime, true);
        assert!(c.events.contains(&Event::Parameter {
            name: "password".into(),
            value: "***".into(),
            source: Source::Runtime
        }));
        assert!(matches!(
            &c.keep[..],
            [Keep::Keyring {
                name: "password",
                ..
            }]
        ));
        // The server wins over a run-time change.
        s.set_from("maxlines", "3", Source::Server).unwrap();
        let c = set_parameters(&mut s, &[pv("maxlines", "2")], Source::Runtime, false);
        assert!(c.changed.is_empty());
        assert!(matches!(&c.events[0], Event::Notice { text, .. }
            if text == "maxlines keeps the value set by the server (it wins over the runtime)"));
        // Read at start only.
        let c = set_parameters(&mut s, &[pv("transport", "1")], Source::Runtime, true);
        assert!(c.changed.is_empty());
        assert!(
            matches!(&c.keep[..], [Keep::File { name: "transport", value: Some(v) }] if v == "1")
        );
    }
}
