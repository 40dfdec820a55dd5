//! SDES key exchange (RFC 4568): the `a=crypto` attribute that carries an SRTP master key in
//! the SDP, and the policy that decides whether a call is encrypted. Each side announces the
//! key it sends with; the answerer picks one of the offerer's lines (the offerer's order is its
//! preference) and answers with the same tag and suite and a key of its own. Sans-IO.
//!
//! A line we cannot honour is left out, never half-used: a master key index (MKI, which would
//! put a field in every packet that `rtc-srtp` does not write), several keys, a key derivation
//! rate other than 0, or the UNENCRYPTED_SRTP / UNENCRYPTED_SRTCP / UNAUTHENTICATED_SRTP
//! session parameters (an "encrypted" call that is not).

use crate::rtp::dtls::DtlsIdentity;
use crate::rtp::srtp::{SrtpKey, SrtpKeys, SrtpSuite};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

/// `mediaencryption`: whether a call's media must, may or must not be SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaEncryption {
    /// Clear RTP; an offer that demands SRTP (RTP/SAVP) is refused with 488.
    #[default]
    Off,
    /// SRTP offered the best-effort way (RTP/AVP with `a=crypto`: peers without SRTP ignore
    /// it and answer in clear), taken when the peer offers it, clear otherwise.
    Optional,
    /// Only SRTP: offered as RTP/SAVP, a clear offer gets 488 and a clear answer ends the call.
    Mandatory,
}

/// Our side of the key exchange for one call.
#[derive(Debug, Clone, Default)]
pub struct LocalSrtp {
    pub policy: MediaEncryption,
    /// One fresh key per suite we take, in the order we prefer (`srtpsuites`); the key we
    /// send with is the one of the suite agreed. Empty when SDES is not used.
    pub keys: Vec<SrtpKey>,
    /// `srtpmode` asks for SDES (0, 2, 3), even where its keys may not be sent.
    pub sdes_wanted: bool,
    /// Our certificate when DTLS-SRTP is offered and taken (`srtpmode` 1 or 2).
    pub dtls: Option<DtlsIdentity>,
    /// The suites DTLS-SRTP may agree on, best first.
    pub dtls_suites: Vec<SrtpSuite>,
}

impl LocalSrtp {
    /// No encryption.
    pub fn off() -> LocalSrtp {
        LocalSrtp::default()
    }

    /// A fresh key for each of `suites` (operating-system randomness).
    pub fn new(
        policy: MediaEncryption,
        suites: &[SrtpSuite],
    ) -> Result<LocalSrtp, crate::rtp::srtp::SrtpError> {
        let keys = if policy == MediaEncryption::Off {
            Vec::new()
        } else {
            suites
                .iter()
                .map(|s| SrtpKey::random(*s))
                .collect::<Result<_, _>>()?
        };
        Ok(LocalSrtp {
            policy,
            keys,
            sdes_wanted: true,
            dtls: None,
            dtls_suites: Vec::new(),
        })
    }

    /// As [`LocalSrtp::new`] for `srtpmode`'s keying: SDES keys when `sdes`, DTLS-SRTP with
    /// `dtls` (our certificate) when given.
    pub fn with_keying(
        policy: MediaEncryption,
        suites: &[SrtpSuite],
        sdes: bool,
        dtls: Option<DtlsIdentity>,
    ) -> Result<LocalSrtp, crate::rtp::srtp::SrtpError> {
        let mut ours = LocalSrtp::new(policy, if sdes { suites } else { &[] })?;
        ours.sdes_wanted = sdes;
        if policy != MediaEncryption::Off {
            ours.dtls = dtls;
            ours.dtls_suites = suites.to_vec();
        }
        Ok(ours)
    }

    /// Our key for `suite`, when we take it.
    pub fn key(&self, suite: SrtpSuite) -> Option<&SrtpKey> {
        self.keys.iter().find(|k| k.suite == suite)
    }
}

/// One usable `a=crypto` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoLine {
    pub tag: u32,
    pub key: SrtpKey,
}

/// Reads the value of an `a=crypto` attribute (`1 AES_CM_128_HMAC_SHA1_80
/// inline:KEY[|lifetime][|mki:len] [session params]`); `None` for a line we cannot use.
pub fn parse_crypto(value: &str) -> Option<CryptoLine> {
    let mut fields = value.split_ascii_whitespace();
    let tag: u32 = fields.next()?.parse().ok()?;
    if tag > 999_999_999 {
        return None;
    }
    let suite = SrtpSuite::from_name(fields.next()?)?;
    let key_params = fields.next()?;
    for param in fields {
        let name = param.split('=').next().unwrap_or(param);
        match name {
            "UNENCRYPTED_SRTP" | "UNENCRYPTED_SRTCP" | "UNAUTHENTICATED_SRTP" => return None,
            "KDR" if param != "KDR=0" => return None,
            // FEC_ORDER, FEC_KEY, WSH (a window size hint) and unknown ones: nothing we change.
            _ => {}
        }
    }
    if key_params.contains(';') {
        return None;
    }
    let inline = key_params.strip_prefix("inline:")?;
    let mut parts = inline.split('|');
    let key_b64 = parts.next()?;
    for extra in parts {
        // A lifetime (`2^31` or a number) is fine; an MKI (`1:4`) is not ours to write.
        if extra.contains(':') {
            return None;
        }
    }
    let material = STANDARD
        .decode(key_b64)
        .or_else(|_| STANDARD_NO_PAD.decode(key_b64))
        .ok()?;
    (material.len() == suite.material_len()).then_some(CryptoLine {
        tag,
        key: SrtpKey { suite, material },
    })
}

/// The value of our `a=crypto` attribute for `key` under `tag`.
pub fn format_crypto(tag: u32, key: &SrtpKey) -> String {
    format!(
        "{tag} {} inline:{}",
        key.suite.name(),
        STANDARD.encode(&key.material)
    )
}

/// True for a transport profile that demands SRTP (RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVP...).
pub fn is_secure_profile(protos: &[String]) -> bool {
    protos.iter().any(|p| p == "SAVP" || p == "SAVPF")
}

/// Why the key exchange leaves a call that cannot go ahead (answered with 488, or ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpRefusal {
    #[error("the far end demands SRTP, which is switched off (mediaencryption=0)")]
    Unwanted,
    #[error("no SRTP crypto suite in common (ours: srtpsuites)")]
    NoCommonSuite,
    #[error("the far end does not encrypt the call, and mediaencryption makes SRTP mandatory")]
    NotEncrypted,
    #[error("SRTP is wanted, but its keys may not travel in unencrypted SIP (srtpkeysinclear=0)")]
    Unkeyed,
    #[error("the far end offers SDES keys only, and srtpmode=1 keys SRTP by DTLS only")]
    NoDtls,
}

/// What the answer to an offer says about SRTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpAnswer {
    /// The answer's transport profile: the offer's.
    pub protos: Vec<String>,
    /// Our `a=crypto` value, when encrypting.
    pub line: Option<String>,
    pub keys: Option<SrtpKeys>,
}

/// Answers the offer's key exchange: the first of the offerer's lines whose suite we take.
pub fn answer_srtp(
    offered: &[CryptoLine],
    protos: &[String],
    ours: &LocalSrtp,
) -> Result<SrtpAnswer, SrtpRefusal> {
    let secure = is_secure_profile(protos);
    let must_encrypt = secure || ours.policy == MediaEncryption::Mandatory;
    if ours.policy != MediaEncryption::Off && ours.keys.is_empty() && must_encrypt {
        return Err(if ours.sdes_wanted {
            SrtpRefusal::Unkeyed
        } else {
            SrtpRefusal::NoDtls
        });
    }
    let chosen = (ours.policy != MediaEncryption::Off)
        .then(|| {
            offered
                .iter()
                .find_map(|l| ours.key(l.key.suite).map(|k| (l, k)))
        })
        .flatten();
    match chosen {
        Some((theirs, key)) => Ok(SrtpAnswer {
            protos: protos.to_vec(),
            line: Some(format_crypto(theirs.tag, key)),
            keys: Some(SrtpKeys {
                send: key.clone(),
                receive: theirs.key.clone(),
            }),
        }),
        None if ours.policy == MediaEncryption::Off => {
            if secure {
                Err(SrtpRefusal::Unwanted)
            } else {
                Ok(clear())
            }
        }
        None if secure || (ours.policy == MediaEncryption::Mandatory && !offered.is_empty()) => {
            Err(SrtpRefusal::NoCommonSuite)
        }
        None if ours.policy == MediaEncryption::Mandatory => Err(SrtpRefusal::NotEncrypted),
        None => Ok(clear()),
    }
}

fn clear() -> SrtpAnswer {
    SrtpAnswer {
        protos: vec!["RTP".into(), "AVP".into()],
        line: None,
        keys: None,
    }
}

/// Reads the answer's key exchange against what we offered: its line must carry a tag and
/// suite we offered.
pub fn accept_srtp(
    answered: &[CryptoLine],
    ours: &LocalSrtp,
) -> Result<Option<SrtpKeys>, SrtpRefusal> {
    if ours.policy == MediaEncryption::Off {
        return Ok(None);
    }
    let agreed = answered.iter().find_map(|l| {
        let index = usize::try_from(l.tag).ok()?.checked_sub(1)?;
        let ours = ours.keys.get(index).filter(|k| k.suite == l.key.suite)?;
        Some(SrtpKeys {
            send: ours.clone(),
            receive: l.key.clone(),
        })
    });
    match agreed {
        Some(keys) => Ok(Some(keys)),
        None if ours.policy == MediaEncryption::Mandatory => Err(SrtpRefusal::NotEncrypted),
        None => Ok(None),
    }
}

/// Our offer's profile and `a=crypto` values (tags 1, 2, ... in our order).
pub fn offer_srtp(ours: &LocalSrtp) -> (Vec<String>, Vec<String>) {
    let mandatory = ours.policy == MediaEncryption::Mandatory;
    // DTLS-SRTP alone is UDP/TLS/RTP/SAVP (RFC 5764 §8); with SDES keys too, RTP/SAVP (the
    // profile every SDES peer knows; DTLS peers take it as well).
    if mandatory && ours.keys.is_empty() && ours.dtls.is_some() {
        return (
            vec!["UDP".into(), "TLS".into(), "RTP".into(), "SAVP".into()],
            Vec::new(),
        );
    }
    let profile = if mandatory { "SAVP" } else { "AVP" };
    let lines = ours
        .keys
        .iter()
        .zip(1u32..)
        .map(|(k, tag)| format_crypto(tag, k))
        .collect();
    (vec!["RTP".into(), profile.into()], lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_EXAMPLE: &str =
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4";

    #[test]
    fn lines_round_trip_and_odd_ones_are_left_out() {
        let key = SrtpKey::random(SrtpSuite::AeadAes256Gcm).unwrap();
        let line = format_crypto(7, &key);
        assert!(line.starts_with("7 AEAD_AES_256_GCM inline:"));
        assert_eq!(
            parse_crypto(&line),
            Some(CryptoLine {
                tag: 7,
                key: key.clone()
            })
        );
        // With a lifetime and a window size hint: still ours.
        let with = format!("{line}|2^31 WSH=64");
        assert_eq!(parse_crypto(&with).map(|l| l.key), Some(key));
        // RFC 4568's example has an MKI: not usable.
        assert_eq!(parse_crypto(RFC_EXAMPLE), None);
        let plain = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
        assert!(parse_crypto(plain).is_some());
        for bad in [
            "",
            "x AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
            "1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
            "1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=",
            "1 AES_CM_128_HMAC_SHA1_80 inline:!!!",
            "1 AES_CM_128_HMAC_SHA1_80 nokey",
            "1 AES_CM_128_HMAC_SHA1_80",
            &format!("{plain} UNENCRYPTED_SRTP"),
            &format!("{plain} KDR=2"),
            &format!("{plain};inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"),
        ] {
            assert_eq!(parse_crypto(bad), None, "{bad}");
        }
    }

    #[test]
    fn policies_make_keys_only_when_encrypting() {
        assert!(
            LocalSrtp::new(MediaEncryption::Off, &SrtpSuite::ALL)
                .unwrap()
                .keys
                .is_empty()
        );
        let l = LocalSrtp::new(MediaEncryption::Optional, &SrtpSuite::ALL).unwrap();
        assert_eq!(l.keys.len(), 6);
        let a = l.key(SrtpSuite::AesCm128HmacSha1_80).unwrap();
        let b = l.key(SrtpSuite::AesCm128HmacSha1_32).unwrap();
        assert_ne!(a.material[..16], b.material[..16], "each suite its own key");
        assert!(is_secure_profile(&["RTP".into(), "SAVP".into()]));
        assert!(!is_secure_profile(&["RTP".into(), "AVP".into()]));
    }

    /// Offer and answer through the real SDP text, both sides ours.
    mod negotiation {
        use super::super::super::{LocalMedia, SdpError, accept_answer, answer, offer, parse};
        use super::*;
        use crate::sdp::{Codec, Direction, OpusParams};

        fn side(policy: MediaEncryption, suites: &[SrtpSuite]) -> LocalMedia {
            LocalMedia {
                addr: "192.0.2.1".parse().unwrap(),
                port: 40000,
                offer: vec![Codec::Pcmu],
                accept: vec![Codec::Pcmu],
                dtmf_pt: Some(101),
                cn: false,
                ptime: 20,
                direction: Direction::SendRecv,
                opus: OpusParams::default(),
                final_codec_only: true,
                srtp: LocalSrtp::new(policy, suites).unwrap(),
            }
        }

        #[test]
        fn optional_offers_avp_with_keys_and_the_answer_mirrors_them() {
            let a = side(MediaEncryption::Optional, &SrtpSuite::ALL);
            let text = offer(&a, (1, 1));
            assert!(text.contains("m=audio 40000 RTP/AVP 0 101\r\n"), "{text}");
            assert_eq!(text.matches("a=crypto:").count(), 6);
            assert!(text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
            // The answerer prefers GCM but takes the offerer's first that it has.
            let b = side(
                MediaEncryption::Optional,
                &[SrtpSuite::AeadAes256Gcm, SrtpSuite::AesCm128HmacSha1_32],
            );
            let (reply, nb) = answer(&parse(&text).unwrap(), &b, (2, 1)).unwrap();
            assert!(reply.contains("RTP/AVP"), "{reply}");
            assert!(
                reply.contains("a=crypto:3 AEAD_AES_256_GCM inline:"),
                "{reply}"
            );
            assert_eq!(reply.matches("a=crypto:").count(), 1);
            let na = accept_answer(&parse(&reply).unwrap(), &a).unwrap();
            let (ka, kb) = (na.srtp.unwrap(), nb.srtp.unwrap());
            assert_eq!((ka.send.clone(), ka.receive.clone()), (kb.receive, kb.send));
            assert_eq!(ka.send.suite, SrtpSuite::AeadAes256Gcm);
            // Our answer to a clear offer is clear; a clear answer to our offer is too.
            let clear = side(MediaEncryption::Off, &[]);
            let (plain, n) = answer(&parse(&offer(&clear, (1, 1))).unwrap(), &b, (2, 1)).unwrap();
            assert!(!plain.contains("crypto") && n.srtp.is_none());
            let (plain, _) = answer(&parse(&text).unwrap(), &clear, (2, 1)).unwrap();
            assert!(
                !plain.contains("crypto") && plain.contains("RTP/AVP"),
                "{plain}"
            );
            assert_eq!(
                accept_answer(&parse(&plain).unwrap(), &a).unwrap().srtp,
                None
            );
        }

        #[test]
        fn mandatory_is_savp_and_nothing_clear_gets_through() {
            let a = side(
                MediaEncryption::Mandatory,
                &[SrtpSuite::AesCm128HmacSha1_80],
            );
            let text = offer(&a, (1, 1));
            assert!(text.contains("m=audio 40000 RTP/SAVP 0 101\r\n"), "{text}");
            let o = parse(&text).unwrap();
            // SRTP switched off: 488, never a clear answer to RTP/SAVP.
            let off = side(MediaEncryption::Off, &[]);
            assert_eq!(
                answer(&o, &off, (2, 1)).unwrap_err(),
                SdpError::Srtp(SrtpRefusal::Unwanted)
            );
            // No suite in common.
            let other = side(MediaEncryption::Optional, &[SrtpSuite::AeadAes128Gcm]);
            assert_eq!(
                answer(&o, &other, (2, 1)).unwrap_err(),
                SdpError::Srtp(SrtpRefusal::NoCommonSuite)
            );
            let b = side(MediaEncryption::Optional, &SrtpSuite::ALL);
            let (reply, _) = answer(&o, &b, (2, 1)).unwrap();
            assert!(reply.contains("RTP/SAVP"), "{reply}");
            assert!(
                accept_answer(&parse(&reply).unwrap(), &a)
                    .unwrap()
                    .srtp
                    .is_some()
            );
            // A clear offer to us, and a clear answer to our offer.
            let plain = offer(&off, (1, 1));
            assert_eq!(
                answer(&parse(&plain).unwrap(), &a, (2, 1)).unwrap_err(),
                SdpError::Srtp(SrtpRefusal::NotEncrypted)
            );
            let (clear_answer, _) = answer(&parse(&plain).unwrap(), &off, (2, 1)).unwrap();
            assert_eq!(
                accept_answer(&parse(&clear_answer).unwrap(), &a).unwrap_err(),
                SdpError::Srtp(SrtpRefusal::NotEncrypted)
            );
            // Mandatory without keys (they may not cross clear signalling): refused, not clear.
            let unkeyed = side(MediaEncryption::Mandatory, &[]);
            assert_eq!(
                answer(&o, &unkeyed, (2, 1)).unwrap_err(),
                SdpError::Srtp(SrtpRefusal::Unkeyed)
            );
            // An answer naming our tag with another suite is no agreement.
            let forged = reply.replace("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32");
            assert!(accept_answer(&parse(&forged).unwrap(), &a).is_err());
        }
    }
}
