//! HTTP Digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760): MD5, MD5-sess, SHA-256,
//! SHA-256-sess; qop `auth` and `auth-int`; opaque; stale nonces. Passwords are held in
//! [`Secret`] so that they never reach a log line.

use super::headers::unquote;
use super::message::split_list;
use md5::{Digest as _, Md5};
use sha2::Sha256;
use thiserror::Error;

pub use crate::model::Secret;

/// Digest algorithms we can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    fn parse(s: &str) -> Option<Algorithm> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "MD5-SESS" => Some(Algorithm::Md5Sess),
            "SHA-256" => Some(Algorithm::Sha256),
            "SHA-256-SESS" => Some(Algorithm::Sha256Sess),
            _ => None,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }
    fn is_md5(self) -> bool {
        matches!(self, Algorithm::Md5 | Algorithm::Md5Sess)
    }
    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
    fn hash(self, data: &str) -> String {
        if self.is_md5() {
            hex(&Md5::digest(data.as_bytes()))
        } else {
            hex(&Sha256::digest(data.as_bytes()))
        }
    }
    fn hash_bytes(self, data: &[u8]) -> String {
        if self.is_md5() {
            hex(&Md5::digest(data))
        } else {
            hex(&Sha256::digest(data))
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// MD5(user:realm:password): what the `md5` parameter carries instead of a password.
pub fn md5_ha1(user: &str, realm: &str, password: &str) -> String {
    md5_hex(&format!("{user}:{realm}:{password}"))
}

/// Lower-case hex MD5 of a string (also what servers store as HA1).
pub fn md5_hex(data: &str) -> String {
    Algorithm::Md5.hash(data)
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigestError {
    #[error("not a Digest challenge")]
    NotDigest,
    #[error("challenge without {0}")]
    Missing(&'static str),
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("unsupported qop {0}")]
    UnsupportedQop(String),
    #[error("no password, and the stored MD5 hash cannot answer realm {0:?} with {1}")]
    NoUsableCredentials(String, &'static str),
}

/// A parsed WWW-Authenticate / Proxy-Authenticate Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// The qop options offered (`auth`, `auth-int`); empty for RFC 2069 style.
    pub qop: Vec<String>,
    pub stale: bool,
}

impl Challenge {
    /// Parses one challenge header value.
    pub fn parse(value: &str) -> Result<Challenge, DigestError> {
        let value = value.trim();
        let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest);
        }
        let (mut realm, mut nonce, mut opaque, mut algorithm, mut qop, mut stale) =
            (None, None, None, None, Vec::new(), false);
        for part in split_list(rest) {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let v = unquote(v.trim());
            match k.trim().to_ascii_lowercase().as_str() {
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "opaque" => opaque = Some(v),
                "algorithm" => {
                    algorithm = Some(
                        Algorithm::parse(&v).ok_or(DigestError::UnsupportedAlgorithm(v.clone()))?,
                    )
                }
                "qop" => {
                    qop = v
                        .split(',')
                        .map(|q| q.trim().to_ascii_lowercase())
                        .filter(|q| !q.is_empty())
                        .collect()
                }
                "stale" => stale = v.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        Ok(Challenge {
            realm: realm.ok_or(DigestError::Missing("realm"))?,
            nonce: nonce.ok_or(DigestError::Missing("nonce"))?,
            opaque,
            algorithm: algorithm.unwrap_or(Algorithm::Md5),
            qop,
            stale,
        })
    }

    /// The first challenge among `values` that we can answer, in the server's order of
    /// preference (RFC 7616 §3.7); the first error when none can be.
    pub fn pick<'a>(values: impl Iterator<Item = &'a str>) -> Result<Challenge, DigestError> {
        let mut first_err = None;
        for v in values {
            match Challenge::parse(v) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or(DigestError::NotDigest))
    }
}

/// What we authenticate with.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The authentication user name (`sipusername`, else `username`).
    pub username: String,
    pub password: Option<Secret>,
    /// MD5(username:realm:password) given instead of the password (`md5` parameter).
    pub ha1_md5: Option<Secret>,
    /// The realm the `md5` hash was made for (`realm` parameter); any realm when `None`.
    pub realm: Option<String>,
}

impl Credentials {
    /// True when there is something to answer a challenge with.
    pub fn is_usable(&self) -> bool {
        self.password.as_ref().is_some_and(|p| !p.is_empty())
            || self.ha1_md5.as_ref().is_some_and(|h| !h.is_empty())
    }
}

/// The per-request inputs of a Digest response.
#[derive(Debug, Clone)]
pub struct DigestRequest<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub body: &'a [u8],
    /// Nonce count for this nonce, starting at 1.
    pub nc: u32,
    pub cnonce: &'a str,
}

/// Computes the Authorization / Proxy-Authorization header value.
pub fn authorization(
    ch: &Challenge,
    creds: &Credentials,
    req: &DigestRequest<'_>,
) -> Result<String, DigestError> {
    let alg = ch.algorithm;
    let qop = if ch.qop.is_empty() {
        None
    } else if ch.qop.iter().any(|q| q == "auth") {
        Some("auth")
    } else if ch.qop.iter().any(|q| q == "auth-int") {
        Some("auth-int")
    } else {
        return Err(DigestError::UnsupportedQop(ch.qop.join(",")));
    };
    let base_ha1 = match (&creds.password, &creds.ha1_md5) {
        (Some(p), _) if !p.is_empty() => {
            alg.hash(&format!("{}:{}:{}", creds.username, ch.realm, p.expose()))
        }
        (_, Some(h))
            if alg.is_md5()
                && creds.realm.as_ref().is_none_or(|r| r == &ch.realm)
                && !h.is_empty() =>
        {
            h.expose().to_ascii_lowercase()
        }
        _ => {
            return Err(DigestError::NoUsableCredentials(
                ch.realm.clone(),
                alg.as_str(),
            ));
        }
    };
    let ha1 = if alg.is_sess() {
        alg.hash(&format!("{base_ha1}:{}:{}", ch.nonce, req.cnonce))
    } else {
        base_ha1
    };
    let ha2 = match qop {
        Some("auth-int") => alg.hash(&format!(
            "{}:{}:{}",
            req.method,
            req.uri,
            alg.hash_bytes(req.body)
        )),
        _ => alg.hash(&format!("{}:{}", req.method, req.uri)),
    };
    let nc = format!("{:08x}", req.nc);
    let response = match qop {
        Some(q) => alg.hash(&format!("{ha1}:{}:{nc}:{}:{q}:{ha2}", ch.nonce, req.cnonce)),
        None => alg.hash(&format!("{ha1}:{}:{ha2}", ch.nonce)),
    };
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
        esc(&creds.username),
        esc(&ch.realm),
        esc(&ch.nonce),
        esc(req.uri),
        alg.as_str()
    );
    if let Some(q) = qop {
        out.push_str(&format!(
            ", qop={q}, nc={nc}, cnonce=\"{}\"",
            esc(req.cnonce)
        ));
    }
    if let Some(o) = &ch.opaque {
        out.push_str(&format!(", opaque=\"{}\"", esc(o)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            username: "Mufasa".into(),
            password: Some(Secret::new("Circle of Life")),
            ha1_md5: None,
            realm: None,
        }
    }

    fn field<'a>(h: &'a str, name: &str) -> &'a str {
        let start = h.find(&format!("{name}=")).unwrap() + name.len() + 1;
        let rest = &h[start..];
        let rest = rest.strip_prefix('"').unwrap_or(rest);
        &rest[..rest.find(['"', ',']).unwrap_or(rest.len())]
    }

    /// RFC 7616 §3.9.1 test vectors (MD5 and SHA-256, qop=auth).
    #[test]
    fn rfc7616_vectors() {
        let req = DigestRequest {
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
            nc: 1,
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        };
        let base = r#"realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let md5 = Challenge::parse(&format!("Digest {base}, algorithm=MD5")).unwrap();
        let h = authorization(&md5, &creds(), &req).unwrap();
        assert_eq!(field(&h, "response"), "8ca523f5e9506fed4657c9700eebdbec");
        let sha = Challenge::parse(&format!("Digest {base}, algorithm=SHA-256")).unwrap();
        let h = authorization(&sha, &creds(), &req).unwrap();
        assert_eq!(
            field(&h, "response"),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(field(&h, "nc"), "00000001");
        assert!(h.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
    }

    /// RFC 2617 §3.5: the classic qop=auth example.
    #[test]
    fn rfc2617_vector_and_ha1_equivalence() {
        let ch = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let req = DigestRequest {
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
            nc: 1,
            cnonce: "0a4f113b",
        };
        // RFC 2617 spells the password with a capital O.
        let mut c = Credentials {
            password: Some(Secret::new("Circle Of Life")),
            ..creds()
        };
        let h = authorization(&ch, &c, &req).unwrap();
        assert_eq!(field(&h, "response"), "6629fae49393a05397450978507c4ef1");
        // The same through the `md5` parameter instead of the password.
        c.ha1_md5 = Some(Secret::new(md5_ha1(
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        )));
        c.password = None;
        assert_eq!(authorization(&ch, &c, &req).unwrap(), h);
        // A hash for another realm cannot answer.
        c.realm = Some("other".into());
        assert!(authorization(&ch, &c, &req).is_err());
    }

    #[test]
    fn auth_int_sess_and_plain_forms_differ_and_are_stable() {
        let req = DigestRequest {
            method: "REGISTER",
            uri: "sip:example.com",
            body: b"body",
            nc: 2,
            cnonce: "abc",
        };
        let ch = |extra: &str| {
            Challenge::parse(&format!("Digest realm=\"r\", nonce=\"n\"{extra}")).unwrap()
        };
        let plain = authorization(&ch(""), &creds(), &req).unwrap();
        assert!(!plain.contains("qop"));
        // RFC 2069 form: response = H(HA1:nonce:HA2).
        let ha1 = md5_ha1("Mufasa", "r", "Circle of Life");
        let ha2 = Algorithm::Md5.hash("REGISTER:sip:example.com");
        assert_eq!(
            field(&plain, "response"),
            Algorithm::Md5.hash(&format!("{ha1}:n:{ha2}"))
        );
        let int = authorization(&ch(", qop=\"auth-int\""), &creds(), &req).unwrap();
        let ha2i = Algorithm::Md5.hash(&format!(
            "REGISTER:sip:example.com:{}",
            Algorithm::Md5.hash_bytes(b"body")
        ));
        assert_eq!(
            field(&int, "response"),
            Algorithm::Md5.hash(&format!("{ha1}:n:00000002:abc:auth-int:{ha2i}"))
        );
        let sess = authorization(&ch(", qop=auth, algorithm=MD5-sess"), &creds(), &req).unwrap();
        let ha1s = Algorithm::Md5.hash(&format!("{ha1}:n:abc"));
        assert_eq!(
            field(&sess, "response"),
            Algorithm::Md5.hash(&format!("{ha1s}:n:00000002:abc:auth:{ha2}"))
        );
        assert!(ch(", stale=TRUE").stale);
        assert!(Challenge::parse("Basic realm=\"x\"").is_err());
        assert!(Challenge::parse("Digest realm=\"x\", algorithm=SHA-512").is_err());
        assert!(format!("{:?}", creds()).contains("***"));
        assert!(!format!("{:?}", creds()).contains("Circle"));
    }
}
