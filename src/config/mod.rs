//! Configuration: `key=value` parameters checked against the registry in [`params`], with typed
//! getters. A bad value is reported and the previous value (or the default) stays in force.
//! Every value remembers where it came from ([`Source`]); a source never overrides a later one
//! (defaults < `wpcfg.ini` < the settings file < keyring < command line < runtime changes <
//! server headers), whatever order they arrive in.

pub mod encrypted;
pub mod ini;
mod param_table;
pub mod params;
pub mod persisted;
pub mod secrets;
pub mod server_push;

use crate::model::Secret;
use params::{Kind, ParamDef, check, closest, find, parse_bool};
use std::collections::BTreeMap;
use thiserror::Error;

/// Why a parameter was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("unknown parameter {name:?}{}", suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    Unknown {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("{0}; keeping the previous value")]
    Invalid(String),
    #[error("{0:?} is not key=value")]
    NotKeyValue(String),
    #[error("{name}: {error}")]
    Encrypted {
        name: String,
        error: encrypted::EncryptedError,
    },
}

/// A `sip:`/`sips:`, `tel:` or `callto:` link given as an argument (a click on a web page or in
/// another program): the parameters that dial it.
pub fn link_to_params(arg: &str) -> Option<Vec<String>> {
    let lower = arg.to_ascii_lowercase();
    let number = if lower.starts_with("sip:") || lower.starts_with("sips:") {
        arg.to_string()
    } else if let Some(rest) = ["tel:", "callto:"]
        .iter()
        .find_map(|p| lower.starts_with(p).then(|| &arg[p.len()..]))
    {
        // callto://1002 and tel:+36-1-234-5678;phone-context=... both name a number.
        let n = rest.trim_start_matches('/');
        n.split(';').next().unwrap_or(n).to_string()
    } else {
        return None;
    };
    Some(vec![format!("callto={number}"), "autocall=true".into()])
}

pub use crate::model::Source;

/// The parameters set so far (defaults are not stored; getters fall back to them).
#[derive(Clone, Default)]
pub struct Settings {
    values: BTreeMap<&'static str, (String, Source)>,
    /// This installation's key for `encrypted__1__` and `encrypted__3__` values.
    key: Option<std::sync::Arc<Vec<u8>>>,
    /// Where values changed with "persist" are kept (`None`: nowhere, e.g. in tests).
    file: Option<persisted::SettingsFile>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, (v, _)) in &self.values {
            let secret = find(k).is_some_and(|d| d.kind == Kind::Secret);
            m.entry(k, &if secret { "***" } else { v.as_str() });
        }
        m.finish()
    }
}

impl Settings {
    /// Settings that can decode values encrypted with this installation's `key`.
    pub fn with_key(key: Vec<u8>) -> Settings {
        Settings {
            values: BTreeMap::new(),
            key: Some(std::sync::Arc::new(key)),
            file: None,
        }
    }

    /// Keeps persisted changes in `file`.
    pub fn use_file(&mut self, file: persisted::SettingsFile) {
        self.file = Some(file);
    }

    /// The settings file persisted changes go to.
    pub fn file(&self) -> Option<&persisted::SettingsFile> {
        self.file.as_ref()
    }

    /// Sets one parameter from the command line. `DEF` restores the default, `NULL` empties it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.set_from(name, value, Source::CommandLine)
    }

    /// Sets one parameter from `source`; a value from a later source is kept (the new one is
    /// shadowed, not an error). `encrypted__N__` values are decoded first.
    pub fn set_from(&mut self, name: &str, value: &str, source: Source) -> Result<(), ConfigError> {
        let def = find(name).ok_or_else(|| ConfigError::Unknown {
            name: name.to_string(),
            suggestion: closest(name),
        })?;
        if self.values.get(def.name).is_some_and(|(_, s)| *s > source) {
            return Ok(());
        }
        let decoded =
            encrypted::decode(value, self.key.as_deref().map(Vec::as_slice)).map_err(|error| {
                ConfigError::Encrypted {
                    name: def.name.to_string(),
                    error,
                }
            })?;
        let value = decoded.as_deref().unwrap_or(value);
        match value.trim() {
            "DEF" => {
                self.values
                    .insert(def.name, (def.default.to_string(), source));
                return Ok(());
            }
            "NULL" => {
                let empty = if matches!(def.kind, Kind::Text | Kind::Secret | Kind::HostPort) {
                    String::new()
                } else {
                    def.default.to_string()
                };
                self.values.insert(def.name, (empty, source));
                return Ok(());
            }
            _ => {}
        }
        check(def, value).map_err(ConfigError::Invalid)?;
        let value = match def.kind {
            Kind::Secret => value.to_string(),
            _ => value.trim().to_string(),
        };
        self.values.insert(def.name, (value, source));
        Ok(())
    }

    /// Applies `key=value` words from the command line (other words are the caller's
    /// business); gives one message per word that was not applied.
    pub fn apply_args<'a>(&mut self, args: impl IntoIterator<Item = &'a str>) -> Vec<ConfigError> {
        self.apply_from(args, Source::CommandLine)
    }

    /// Applies `key=value` words from `source`.
    pub fn apply_from<'a>(
        &mut self,
        args: impl IntoIterator<Item = &'a str>,
        source: Source,
    ) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for arg in args {
            let Some((k, v)) = arg.split_once('=') else {
                errors.push(ConfigError::NotKeyValue(arg.to_string()));
                continue;
            };
            if let Err(e) = self.set_from(k.trim(), v, source) {
                errors.push(e);
            }
        }
        errors
    }

    /// Drops every value that came from `source` (`clearcfg` drops the settings file's).
    pub fn forget(&mut self, source: Source) {
        self.values.retain(|_, (_, s)| *s != source);
    }

    /// Where a parameter's value comes from (`Default` when unset or unknown).
    pub fn source(&self, name: &str) -> Source {
        find(name)
            .and_then(|d| self.values.get(d.name))
            .map_or(Source::Default, |(_, s)| *s)
    }

    /// Parameters set away from their default that nothing in this build acts on yet, so that
    /// the user hears it instead of wondering why a setting does nothing.
    pub fn not_acted_on(&self) -> Vec<&'static str> {
        self.values
            .iter()
            .filter_map(|(name, (v, _))| {
                let d = find(name)?;
                (d.part == params::Part::NotYet && v != d.default).then_some(d.name)
            })
            .collect()
    }

    /// Every parameter's effective value (secrets shown as `***` when set) and its source.
    pub fn effective(&self) -> Vec<(&'static str, String, Source)> {
        params::PARAMS
            .iter()
            .map(|d| match self.values.get(d.name) {
                Some((v, s)) => {
                    let shown = if d.kind == Kind::Secret && !v.is_empty() {
                        "***".to_string()
                    } else {
                        v.clone()
                    };
                    (d.name, shown, *s)
                }
                None => (d.name, d.default.to_string(), Source::Default),
            })
            .collect()
    }

    fn raw(&self, name: &str) -> (&'static ParamDef, Option<&str>) {
        // Only names from the registry are asked for; an unknown name is a programming error
        // caught by the tests, and reads as empty here rather than panicking.
        static EMPTY: ParamDef = ParamDef {
            name: "",
            kind: Kind::Text,
            default: "",
            part: params::Part::NotYet,
            help: "",
        };
        let def = find(name).unwrap_or(&EMPTY);
        (def, self.values.get(def.name).map(|(v, _)| v.as_str()))
    }

    /// Text value (or its default).
    pub fn text(&self, name: &str) -> String {
        let (def, v) = self.raw(name);
        v.unwrap_or(def.default).to_string()
    }

    /// Integer value (or its default).
    pub fn int(&self, name: &str) -> i64 {
        let (def, v) = self.raw(name);
        v.and_then(|s| s.parse().ok())
            .or_else(|| def.default.parse().ok())
            .unwrap_or(0)
    }

    /// Boolean value (or its default).
    pub fn bool(&self, name: &str) -> bool {
        let (def, v) = self.raw(name);
        v.and_then(parse_bool)
            .or_else(|| parse_bool(def.default))
            .unwrap_or(false)
    }

    /// A secret, `None` when unset or empty.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        let (_, v) = self.raw(name);
        v.filter(|s| !s.is_empty()).map(Secret::new)
    }

    /// Whether the parameter was set explicitly.
    pub fn is_set(&self, name: &str) -> bool {
        self.raw(name).1.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_def_null_and_bad_values() {
        let mut s = Settings::default();
        let errs = s.apply_args([
            "serveraddress=127.0.0.1:5070",
            "transport=1",
            "password=s3cr=t",
            "timer=abc",
            "usrname=1001",
            "lonely",
        ]);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[1].to_string().contains("did you mean username"));
        assert_eq!(s.text("serveraddress"), "127.0.0.1:5070");
        assert_eq!(s.int("transport"), 1);
        assert_eq!(s.int("timer"), 10, "bad value keeps the default");
        assert_eq!(s.secret("password").unwrap().expose(), "s3cr=t");
        assert!(!format!("{s:?}").contains("s3cr"));
        s.set("transport", "DEF").unwrap();
        assert_eq!(s.int("transport"), 0);
        s.set("timer", "NULL").unwrap();
        assert_eq!(s.int("timer"), 10, "NULL of a number is its default");
        s.set("serveraddress", "NULL").unwrap();
        assert_eq!(s.text("serveraddress"), "");
        assert!(s.bool("unregisteronexit"));
        s.set("unregisteronexit", "no").unwrap();
        assert!(!s.bool("unregisteronexit"));
    }

    #[test]
    fn later_sources_win_whatever_the_order() {
        let mut s = Settings::default();
        s.set_from("username", "ini-user", Source::IniFile).unwrap();
        s.set_from("username", "cli-user", Source::CommandLine)
            .unwrap();
        assert_eq!(s.text("username"), "cli-user");
        // An ini read later does not undo the command line.
        s.set_from("username", "late-ini", Source::IniFile).unwrap();
        assert_eq!(s.text("username"), "cli-user");
        s.set_from("username", "live", Source::Runtime).unwrap();
        assert_eq!(s.text("username"), "live");
        // DEF from the command line beats the ini's value and says where it came from.
        s.set_from("transport", "1", Source::IniFile).unwrap();
        s.set_from("transport", "DEF", Source::CommandLine).unwrap();
        let eff = s.effective();
        let row = |n: &str| eff.iter().find(|r| r.0 == n).cloned().unwrap();
        assert_eq!(
            row("transport"),
            ("transport", "0".into(), Source::CommandLine)
        );
        assert_eq!(row("timer"), ("timer", "10".into(), Source::Default));
        s.set("password", "hunter2").unwrap();
        assert_eq!(row_of(&s, "password"), "***");
    }

    fn row_of(s: &Settings, name: &str) -> String {
        s.effective()
            .into_iter()
            .find(|r| r.0 == name)
            .map(|r| r.1)
            .unwrap()
    }

    #[test]
    fn encrypted_values_are_decoded_and_bad_ones_refused() {
        let key = b"an install key of some length!!".to_vec();
        let mut s = Settings::with_key(key.clone());
        let pw = encrypted::encode(3, "pw1001", Some(&key)).unwrap();
        s.set("password", &pw).unwrap();
        assert_eq!(s.secret("password").unwrap().expose(), "pw1001");
        s.set("username", "encrypted__4__MTAwMQ==").unwrap();
        assert_eq!(s.text("username"), "1001");
        // Decoded values are still checked.
        let bad = encrypted::encode(4, "abc", None).unwrap();
        assert!(matches!(s.set("timer", &bad), Err(ConfigError::Invalid(_))));
        let err = s
            .set("username", "encrypted__4__%%%")
            .unwrap_err()
            .to_string();
        assert!(err.contains("username") && err.contains("base64"), "{err}");
        assert_eq!(s.text("username"), "1001", "the previous value stays");
    }
}
