//! Configuration: `key=value` parameters checked against the registry in [`params`], with typed
//! getters. A bad value is reported and the previous value (or the default) stays in force.

pub mod params;

use crate::sip::digest::Secret;
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
}

/// The parameters set so far (defaults are not stored; getters fall back to them).
#[derive(Clone, Default)]
pub struct Settings {
    values: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            let secret = find(k).is_some_and(|d| d.kind == Kind::Secret);
            m.entry(k, &if secret { "***" } else { v.as_str() });
        }
        m.finish()
    }
}

impl Settings {
    /// Sets one parameter. `DEF` restores the default, `NULL` empties it.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let def = find(name).ok_or_else(|| ConfigError::Unknown {
            name: name.to_string(),
            suggestion: closest(name),
        })?;
        match value.trim() {
            "DEF" => {
                self.values.remove(def.name);
                return Ok(());
            }
            "NULL" => {
                if matches!(def.kind, Kind::Text | Kind::Secret | Kind::HostPort) {
                    self.values.insert(def.name, String::new());
                } else {
                    self.values.remove(def.name);
                }
                return Ok(());
            }
            _ => {}
        }
        check(def, value).map_err(ConfigError::Invalid)?;
        let value = match def.kind {
            Kind::Secret => value.to_string(),
            _ => value.trim().to_string(),
        };
        self.values.insert(def.name, value);
        Ok(())
    }

    /// Applies `key=value` words (other words are the caller's business); gives one message per
    /// word that was not applied.
    pub fn apply_args<'a>(&mut self, args: impl IntoIterator<Item = &'a str>) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for arg in args {
            let Some((k, v)) = arg.split_once('=') else {
                errors.push(ConfigError::NotKeyValue(arg.to_string()));
                continue;
            };
            if let Err(e) = self.set(k.trim(), v) {
                errors.push(e);
            }
        }
        errors
    }

    fn raw(&self, name: &str) -> (&'static ParamDef, Option<&str>) {
        // Only names from the registry are asked for; an unknown name is a programming error
        // caught by the tests, and reads as empty here rather than panicking.
        static EMPTY: ParamDef = ParamDef {
            name: "",
            kind: Kind::Text,
            default: "",
            help: "",
        };
        let def = find(name).unwrap_or(&EMPTY);
        (def, self.values.get(def.name).map(String::as_str))
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
        s.set("serveraddress", "NULL").unwrap();
        assert_eq!(s.text("serveraddress"), "");
        assert!(s.bool("unregisteronexit"));
        s.set("unregisteronexit", "no").unwrap();
        assert!(!s.bool("unregisteronexit"));
    }
}
