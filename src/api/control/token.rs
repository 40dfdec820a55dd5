//! The per-install API token: 32 random bytes as hex in `api-token` in the data folder (0600),
//! made on first use. `softphone --api-token` prints it and `--api-token=new` makes a new
//! one (the old stops working at the next start). Never logged, never in any event or state.

use std::path::{Path, PathBuf};

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
