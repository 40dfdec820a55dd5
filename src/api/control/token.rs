//! The per-install API token: 32 random bytes as hex in `api-token` in the data folder (0600),
//! made on first use. `softphone --api-token` prints it and `--api-token=new` makes a new
//! one (the old stops working at the next start). Never logged, never in any event or state.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

/// The token the running API checks, shared with the window (which shows it and can replace
/// it): a new token works at once, and the old one stops working at once.
#[derive(Debug, Clone)]
pub struct Token {
    current: Arc<RwLock<String>>,
    /// The data folder it is kept in (`None`: a fixed token, for benchmarks).
    dir: Option<PathBuf>,
}

impl Token {
    /// The install's token from `data_dir` (made there when there is none).
    pub fn load(data_dir: &Path) -> std::io::Result<Token> {
        Ok(Token {
            current: Arc::new(RwLock::new(load_or_create(data_dir)?)),
            dir: Some(data_dir.to_path_buf()),
        })
    }

    /// A token kept nowhere.
    pub fn fixed(token: impl Into<String>) -> Token {
        Token {
            current: Arc::new(RwLock::new(token.into())),
            dir: None,
        }
    }

    /// The token now (for the window to show or copy; never for a log).
    pub fn current(&self) -> String {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether `given` is the token now (constant time).
    pub fn matches(&self, given: &str) -> bool {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        super::guard::token_matches(given, &current)
    }

    /// Makes a new token, keeps it and uses it from now on.
    pub fn regenerate(&self) -> std::io::Result<()> {
        let new = match &self.dir {
            Some(dir) => regenerate(dir)?,
            None => fresh(),
        };
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = new;
        Ok(())
    }
}

/// Where the token is kept.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("api-token")
}

/// A fresh token.
fn fresh() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A token read back: 64 hex digits, or nothing usable.
fn valid(text: &str) -> Option<String> {
    let t = text.trim();
    (t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit())).then(|| t.to_ascii_lowercase())
}

/// The install's token, made (and saved, owner-only) when there is none or the file holds
/// something else.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    let path = token_path(data_dir);
    if let Some(t) = std::fs::read_to_string(&path)
        .ok()
        .as_deref()
        .and_then(valid)
    {
        return Ok(t);
    }
    regenerate(data_dir)
}

/// Replaces the token with a new one and returns it.
pub fn regenerate(data_dir: &Path) -> std::io::Result<String> {
    let token = fresh();
    crate::config::persisted::write_atomic(&token_path(data_dir), token.as_bytes(), true)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_token_is_replaced_for_every_holder_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let api = Token::load(dir.path()).expect("token");
        let window = api.clone();
        let old = window.current();
        assert!(api.matches(&old));
        window.regenerate().expect("new");
        assert!(!api.matches(&old));
        assert!(api.matches(&window.current()));
        assert_eq!(load_or_create(dir.path()).expect("file"), window.current());
    }

    #[test]
    fn made_once_kept_private_and_replaced_on_request() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(dir.path()).expect("token");
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(dir.path()).expect("again"), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(token_path(dir.path()))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        let second = regenerate(dir.path()).expect("new");
        assert_ne!(second, first);
        assert_eq!(load_or_create(dir.path()).expect("read"), second);
        // A damaged file is replaced rather than trusted.
        std::fs::write(token_path(dir.path()), "short").expect("write");
        let third = load_or_create(dir.path()).expect("replaced");
        assert_eq!(third.len(), 64);
        assert_ne!(third, second);
    }
}
