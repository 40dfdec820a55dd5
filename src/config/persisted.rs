//! The settings the softphone keeps for itself: `settings.toml` in the config folder. It holds
//! what the user saved in the window, what the API set with "persist", and what the server
//! pushed with `x-mparamp`. It is read at start at its own precedence level (above `wpcfg.ini`,
//! below the command line) and written atomically (temp file, fsync, rename), so a crash or a
//! full disk leaves either the old file or the new one, never half of one. Secrets never go
//! here: they belong in the OS keyring.

use super::params::{Kind, find};
use super::{Settings, Source};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why the settings file could not be read or written.
#[derive(Debug, Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("{0} is a secret and is never written to the settings file (use the keyring)")]
    Secret(String),
    #[error("unknown parameter {0:?}")]
    Unknown(String),
}

/// Writes `bytes` to `path` so that readers see the old or the new content, never a part:
/// a temp file beside it, flushed to disk, renamed over it. `private` makes it 0600.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the folder is synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `settings.toml`: one `[parameters]` table of `name = "value"`.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    /// The settings file in `config_dir`.
    pub fn in_dir(config_dir: &Path) -> SettingsFile {
        SettingsFile {
            path: config_dir.join("settings.toml"),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> PersistError {
        PersistError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// The stored values (none when there is no file yet). Numbers and booleans written by hand
    /// are taken as their text.
    pub fn read(&self) -> Result<BTreeMap<String, String>, PersistError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.io(e)),
        };
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| PersistError::Syntax {
                path: self.path.display().to_string(),
                message: e.message().to_string(),
            })?;
        let mut out = BTreeMap::new();
        if let Some(toml::Value::Table(t)) = doc.get("parameters") {
            for (k, v) in t {
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => other.to_string(),
                };
                out.insert(k.clone(), text);
            }
        }
        Ok(out)
    }

    /// Applies the stored values to `settings` at the `Persisted` level; gives one warning per
    /// value that was not applied (the rest still are).
    pub fn load_into(&self, settings: &mut Settings) -> Vec<String> {
        match self.read() {
            Ok(values) => values
                .iter()
                .filter_map(|(k, v)| {
                    settings
                        .set_from(k, v, Source::Persisted)
                        .err()
                        .map(|e| format!("{}: {e}", self.path.display()))
                })
                .collect(),
            Err(e) => vec![format!("{e}; the saved settings are not used")],
        }
    }

    /// Stores one value (`None` removes it, back to the lower levels). Secrets are refused.
    pub fn store(&self, name: &str, value: Option<&str>) -> Result<(), PersistError> {
        let def = find(name).ok_or_else(|| PersistError::Unknown(name.to_string()))?;
        if def.kind == Kind::Secret {
            return Err(PersistError::Secret(def.name.to_string()));
        }
        let mut values = self.read()?;
        match value {
            Some(v) => values.insert(def.name.to_string(), v.to_string()),
            None => values.remove(def.name),
        };
        let mut table = toml::Table::new();
        table.insert(
            "parameters".into(),
            toml::Value::Table(
                values
                    .into_iter()
                    .map(|(k, v)| (k, toml::Value::String(v)))
                    .collect(),
            ),
        );
        let text = format!(
            "# Settings saved by the softphone (the window, the API, the server's x-mparamp).\n\
             # wpcfg.ini and the command line are read too; the command line wins over this file.\n\n{}",
            toml::to_string(&table).map_err(|e| PersistError::Syntax {
                path: self.path.display().to_string(),
                message: e.to_string(),
            })?
        );
        write_atomic(&self.path, text.as_bytes(), true).map_err(|e| self.io(e))
    }

    /// Removes the file (`clearcfg`).
    pub fn remove(&self) -> Result<(), PersistError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("softphone-persist-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn values_round_trip_and_keep_their_level() {
        let dir = temp_dir("round");
        let f = SettingsFile::in_dir(&dir);
        assert!(f.read().unwrap().is_empty(), "no file yet is no values");
        f.store("maxlines", Some("6")).unwrap();
        f.store("language", Some("de")).unwrap();
        f.store("displayname", Some("Front \"desk\" = 1")).unwrap();
        f.store("language", None).unwrap();
        let stored = f.read().unwrap();
        assert_eq!(stored.get("maxlines").map(String::as_str), Some("6"));
        assert_eq!(stored.get("language"), None);
        assert_eq!(
            stored.get("displayname").map(String::as_str),
            Some("Front \"desk\" = 1")
        );
        let mut s = Settings::default();
        s.set_from("maxlines", "2", Source::IniFile).unwrap();
        s.set_from("displayname", "cli", Source::CommandLine)
            .unwrap();
        assert!(f.load_into(&mut s).is_empty());
        assert_eq!(s.int("maxlines"), 6, "the settings file wins over the ini");
        assert_eq!(s.source("maxlines"), Source::Persisted);
        assert_eq!(
            s.text("displayname"),
            "cli",
            "the command line wins over it"
        );
        // No temp files are left behind, and the file is private.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["settings.toml".to_string()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        f.remove().unwrap();
        f.remove().unwrap();
        assert!(f.read().unwrap().is_empty());
    }

    #[test]
    fn secrets_bad_values_and_broken_files() {
        let dir = temp_dir("bad");
        let f = SettingsFile::in_dir(&dir);
        assert!(matches!(
            f.store("password", Some("hunter2")),
            Err(PersistError::Secret(_))
        ));
        assert!(!f.path().exists(), "a refused secret writes nothing");
        assert!(matches!(
            f.store("nosuch", Some("1")),
            Err(PersistError::Unknown(_))
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            f.path(),
            "[parameters]\nmaxlines = 3\nautoaccept = true\ntransport = \"9\"\nbogus = \"1\"\n",
        )
        .unwrap();
        let mut s = Settings::default();
        let warnings = f.load_into(&mut s);
        assert_eq!(s.int("maxlines"), 3, "hand-written numbers are taken");
        assert!(s.bool("autoaccept"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("transport")));
        assert!(warnings.iter().any(|w| w.contains("bogus")));
        std::fs::write(f.path(), "[parameters\nmaxlines=").unwrap();
        let warnings = f.load_into(&mut Settings::default());
        assert!(warnings[0].contains("not valid TOML"), "{warnings:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
