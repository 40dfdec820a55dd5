//! `encrypted__N__VALUE`: a parameter value an administrator does not want readable at a
//! glance in an ini file, a link or a script (the reference's "applet parameter security").
//! N = 1: hex of the text XORed with this installation's key; 3: the same in base64; 4: plain
//! base64. This is obfuscation, not protection (anyone with the key file can decode), which is
//! why passwords belong in the OS keyring; `softphone --encrypt N VALUE` makes such values.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::path::Path;

const PREFIX: &str = "encrypted__";

/// Why an encrypted value could not be read or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptedError {
    #[error("encrypted value: unknown method {0} (1, 3 or 4)")]
    Method(String),
    #[error("encrypted value: not valid {0}")]
    Encoding(&'static str),
    #[error("encrypted value: the decoded text is not UTF-8")]
    NotText,
    #[error("encrypted value: method {0} needs this installation's key, which is missing")]
    NoKey(u8),
}

fn xor(data: &[u8], key: &[u8]) -> Vec<u8> {
    data.iter()
        .zip(key.iter().cycle())
        .map(|(d, k)| d ^ k)
        .collect()
}

/// The plain text of `value` when it is `encrypted__N__...`, `None` when it is a plain value.
pub fn decode(value: &str, key: Option<&[u8]>) -> Result<Option<String>, EncryptedError> {
    let Some(rest) = value.trim().strip_prefix(PREFIX) else {
        return Ok(None);
    };
    let (method, body) = rest
        .split_once("__")
        .ok_or_else(|| EncryptedError::Method(rest.chars().take(4).collect()))?;
    let need_key = |n: u8| {
        key.filter(|k| !k.is_empty())
            .ok_or(EncryptedError::NoKey(n))
    };
    let bytes = match method {
        "1" => {
            let raw = hex_decode(body).ok_or(EncryptedError::Encoding("hex"))?;
            xor(&raw, need_key(1)?)
        }
        "3" => {
            let raw = B64
                .decode(body)
                .map_err(|_| EncryptedError::Encoding("base64"))?;
            xor(&raw, need_key(3)?)
        }
        "4" => B64
            .decode(body)
            .map_err(|_| EncryptedError::Encoding("base64"))?,
        other => return Err(EncryptedError::Method(other.chars().take(4).collect())),
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| EncryptedError::NotText)
}

/// `plain` as `encrypted__N__...`.
pub fn encode(method: u8, plain: &str, key: Option<&[u8]>) -> Result<String, EncryptedError> {
    let need_key = || {
        key.filter(|k| !k.is_empty())
            .ok_or(EncryptedError::NoKey(method))
    };
    let body = match method {
        1 => xor(plain.as_bytes(), need_key()?)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        3 => B64.encode(xor(plain.as_bytes(), need_key()?)),
        4 => B64.encode(plain.as_bytes()),
        n => return Err(EncryptedError::Method(n.to_string())),
    };
    Ok(format!("{PREFIX}{method}__{body}"))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// This installation's key (`install.key` in the data folder): 32 random bytes made on first
/// use, written atomically and readable by the user only.
pub fn install_key(data_dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = data_dir.join("install.key");
    match std::fs::read(&path) {
        Ok(k) if k.len() >= 16 => return Ok(k),
        Ok(_) | Err(_) => {}
    }
    std::fs::create_dir_all(data_dir)?;
    let key: [u8; 32] = rand::random();
    super::persisted::write_atomic(&path, &key, true)?;
    Ok(key.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_round_trips_and_bad_values_are_refused() {
        let key = b"0123456789abcdef0123456789abcdef";
        for m in [1u8, 3, 4] {
            let enc = encode(m, "s3cr=t pässword", Some(key)).unwrap();
            assert!(enc.starts_with(&format!("encrypted__{m}__")), "{enc}");
            assert_eq!(
                decode(&enc, Some(key)).unwrap().as_deref(),
                Some("s3cr=t pässword")
            );
        }
        // Base64 of "1001" needs no key; a plain value is not touched.
        assert_eq!(
            decode("encrypted__4__MTAwMQ==", None).unwrap().as_deref(),
            Some("1001")
        );
        assert_eq!(decode("pbx.example.com", None).unwrap(), None);
        assert_eq!(
            decode("encrypted__1__00ff", None),
            Err(EncryptedError::NoKey(1))
        );
        assert!(matches!(
            decode("encrypted__9__x", Some(key)),
            Err(EncryptedError::Method(_))
        ));
        assert!(matches!(
            decode("encrypted__1__zz", Some(key)),
            Err(EncryptedError::Encoding(_))
        ));
        assert!(matches!(
            decode("encrypted__4__!!!", None),
            Err(EncryptedError::Encoding(_))
        ));
        assert!(matches!(
            decode("encrypted__4__/w==", None),
            Err(EncryptedError::NotText)
        ));
        assert!(encode(2, "x", Some(key)).is_err());
    }

    #[test]
    fn the_install_key_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = install_key(dir.path()).unwrap();
        let b = install_key(dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("install.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }
}
