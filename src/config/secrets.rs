//! Passwords in the OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager
//! on Windows), one entry per account (`user@server`). Nothing here ever writes a password to a
//! file: when no keyring service is reachable the caller is told, and keeps the password in
//! memory only.

use keyring::Entry;

/// The keyring service name our entries live under.
pub const SERVICE: &str = "softphone";

/// Why the keyring could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No keyring service to talk to (a headless server, CI, a locked or missing store).
    #[error("no keyring service is available ({0})")]
    Unavailable(String),
}

/// The keyring entry name of an account.
pub fn account(username: &str, server: &str) -> String {
    format!("{username}@{server}")
}

fn entry(account: &str) -> Result<Entry, SecretError> {
    Entry::new(SERVICE, account).map_err(|e| SecretError::Unavailable(e.to_string()))
}

/// The stored password of `account`, `None` when there is none.
pub fn load(account: &str) -> Result<Option<String>, SecretError> {
    match entry(account)?.get_password() {
        Ok(p) => Ok(Some(p)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(SecretError::Unavailable(e.to_string())),
    }
}

/// Stores (or replaces) the password of `account`.
pub fn save(account: &str, password: &str) -> Result<(), SecretError> {
    entry(account)?
        .set_password(password)
        .map_err(|e| SecretError::Unavailable(e.to_string()))
}

/// Forgets the password of `account` (nothing stored is not an error).
pub fn delete(account: &str) -> Result<(), SecretError> {
    match entry(account)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(SecretError::Unavailable(e.to_string())),
    }
}
