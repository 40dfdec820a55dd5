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
    load_from(&entry(account)?)
}

/// Stores (or replaces) the password of `account`.
pub fn save(account: &str, password: &str) -> Result<(), SecretError> {
    save_to(&entry(account)?, password)
}

/// Forgets the password of `account` (nothing stored is not an error).
pub fn delete(account: &str) -> Result<(), SecretError> {
    delete_from(&entry(account)?)
}

fn unavailable(e: keyring::Error) -> SecretError {
    SecretError::Unavailable(e.to_string())
}

/// An entry's password; "no entry" is `None`, every other failure means the store is not
/// usable.
fn load_from(entry: &Entry) -> Result<Option<String>, SecretError> {
    match entry.get_password() {
        Ok(p) => Ok(Some(p)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

fn save_to(entry: &Entry, password: &str) -> Result<(), SecretError> {
    entry.set_password(password).map_err(unavailable)
}

fn delete_from(entry: &Entry) -> Result<(), SecretError> {
    match entry.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyring::mock::{MockCredential, default_credential_builder};

    /// An entry in the keyring crate's mock store (it keeps a password in the entry only).
    fn mock_entry() -> Entry {
        Entry::new_with_credential(
            default_credential_builder()
                .build(None, SERVICE, "1001@pbx")
                .unwrap(),
        )
    }

    #[test]
    fn passwords_round_trip_and_failures_mean_unavailable() {
        let e = mock_entry();
        assert_eq!(load_from(&e), Ok(None), "nothing stored yet");
        assert_eq!(delete_from(&e), Ok(()), "forgetting nothing is fine");
        save_to(&e, "pw 1001 ü").unwrap();
        assert_eq!(load_from(&e), Ok(Some("pw 1001 ü".into())));
        delete_from(&e).unwrap();
        assert_eq!(load_from(&e), Ok(None));
        let mock: &MockCredential = e.get_credential().downcast_ref().unwrap();
        mock.set_error(keyring::Error::NoStorageAccess(Box::new(
            std::io::Error::other("locked"),
        )));
        assert!(matches!(save_to(&e, "x"), Err(SecretError::Unavailable(_))));
        mock.set_error(keyring::Error::PlatformFailure(Box::new(
            std::io::Error::other("no service"),
        )));
        assert!(matches!(load_from(&e), Err(SecretError::Unavailable(_))));
        mock.set_error(keyring::Error::PlatformFailure(Box::new(
            std::io::Error::other("gone"),
        )));
        assert!(matches!(delete_from(&e), Err(SecretError::Unavailable(_))));
        assert_eq!(
            account("1001", "pbx.example.com:5070"),
            "1001@pbx.example.com:5070"
        );
    }
}
