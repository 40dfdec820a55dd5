//! The SRTP stage of one call (RFC 3711): what leaves is protected, what arrives is checked and
//! decrypted, RTP and RTCP alike, each direction under its own master key. The cryptography,
//! the rollover counters and the replay windows are `rtc-srtp`'s; which suite and which keys
//! come from the key exchange (SDES: `sdp::crypto`). Sans-IO: bytes in, bytes out.

use rtc_srtp::context::Context;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;
use std::fmt;
use thiserror::Error;

/// Packets that may arrive out of order and still be taken (RFC 3711 §3.3.2 asks for at
/// least 64); a jitter buffer holds far fewer voice packets than this.
const REPLAY_WINDOW: usize = 128;

/// The SRTP crypto suites we speak, in the names SDES (RFC 4568 §6.2, RFC 6188, RFC 7714 §12)
/// gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AesCm256HmacSha1_80,
    AesCm256HmacSha1_32,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

impl SrtpSuite {
    /// Every suite, in the order we offer them by default: the RFC 4568 mandatory one first
    /// (what every PBX takes), then the stronger ones.
    pub const ALL: [SrtpSuite; 6] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AeadAes256Gcm,
        SrtpSuite::AesCm256HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
        SrtpSuite::AesCm256HmacSha1_32,
    ];

    /// The suite's name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpSuite::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            SrtpSuite::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// The suite a name stands for (case-insensitive, as `srtpsuites` may be typed by hand).
    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        SrtpSuite::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name.trim()))
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            SrtpSuite::AesCm256HmacSha1_80 => ProtectionProfile::Aes256CmHmacSha1_80,
            SrtpSuite::AesCm256HmacSha1_32 => ProtectionProfile::Aes256CmHmacSha1_32,
            SrtpSuite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            SrtpSuite::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
        }
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        self.profile().key_len()
    }

    /// Master salt length in bytes (14 for AES-CM, 12 for AES-GCM).
    pub fn salt_len(self) -> usize {
        self.profile().salt_len()
    }

    /// Length of the SDES `inline:` key material: master key then master salt.
    pub fn material_len(self) -> usize {
        self.key_len() + self.salt_len()
    }
}

/// The master key and salt of one direction. Never printed: `Debug` shows only the suite.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    pub suite: SrtpSuite,
    /// Master key followed by master salt, `suite.material_len()` bytes.
    pub material: Vec<u8>,
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SrtpKey({}, <redacted>)", self.suite.name())
    }
}

impl SrtpKey {
    /// A fresh random key for `suite` from the operating system's random source.
    pub fn random(suite: SrtpSuite) -> Result<SrtpKey, SrtpError> {
        let provider =
            rtc_srtp::crypto::default_provider().map_err(|e| SrtpError::Crypto(e.to_string()))?;
        let mut material = vec![0u8; suite.material_len()];
        provider
            .random()
            .fill(&mut material)
            .map_err(|e| SrtpError::Crypto(e.to_string()))?;
        Ok(SrtpKey { suite, material })
    }
}

/// The keys a call's media is protected with: ours for what we send, the peer's for what it
/// sends (SDES: each side announces the key it sends with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub send: SrtpKey,
    pub receive: SrtpKey,
}

/// Why a packet was not protected or not taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SrtpError {
    #[error("SRTP key: {0}")]
    Key(String),
    #[error("SRTP cryptography: {0}")]
    Crypto(String),
    /// Authentication failed, a replay, or too short: the packet is dropped.
    #[error("SRTP packet refused: {0}")]
    Refused(String),
}

/// One call's SRTP contexts, one per direction.
pub struct SrtpStage {
    keys: SrtpKeys,
    outbound: Context,
    inbound: Context,
    /// Packets that failed authentication or were replays.
    refused: u64,
}

impl fmt::Debug for SrtpStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpStage")
            .field("send", &self.keys.send.suite)
            .field("receive", &self.keys.receive.suite)
            .field("refused", &self.refused)
            .finish()
    }
}

fn context(key: &SrtpKey, replay: bool) -> Result<Context, SrtpError> {
    let provider =
        rtc_srtp::crypto::default_provider().map_err(|e| SrtpError::Crypto(e.to_string()))?;
    let (master_key, salt) = key
        .material
        .split_at_checked(key.suite.key_len())
        .ok_or_else(|| SrtpError::Key(format!("too short for {}", key.suite.name())))?;
    let (rtp, rtcp) = if replay {
        (
            Some(srtp_replay_protection(REPLAY_WINDOW)),
            Some(srtcp_replay_protection(REPLAY_WINDOW)),
        )
    } else {
        (None, None)
    };
    Context::new(
        master_key,
        salt,
        key.suite.profile(),
        rtp,
        rtcp,
        provider.crypto(),
    )
    .map_err(|e| SrtpError::Key(e.to_string()))
}

impl SrtpStage {
    /// The contexts for a call's keys.
    pub fn new(keys: SrtpKeys) -> Result<SrtpStage, SrtpError> {
        Ok(SrtpStage {
            outbound: context(&keys.send, false)?,
            inbound: context(&keys.receive, true)?,
            keys,
            refused: 0,
        })
    }

    /// The keys in use.
    pub fn keys(&self) -> &SrtpKeys {
        &self.keys
    }

    /// New keys from a re-negotiation: a direction whose key is unchanged keeps its context
    /// (rollover counter and replay window), a changed one starts afresh.
    pub fn rekey(&mut self, keys: SrtpKeys) -> Result<(), SrtpError> {
        if keys.send != self.keys.send {
            self.outbound = context(&keys.send, false)?;
        }
        if keys.receive != self.keys.receive {
            self.inbound = context(&keys.receive, true)?;
        }
        self.keys = keys;
        Ok(())
    }

    /// Protects an RTP packet we send.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.outbound
            .encrypt_rtp(packet)
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Crypto(e.to_string()))
    }

    /// Protects a compound RTCP packet we send (SRTCP index and E flag appended).
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.outbound
            .encrypt_rtcp(packet)
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Crypto(e.to_string()))
    }

    /// Checks and decrypts an SRTP packet from the peer.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let r = self.inbound.decrypt_rtp(packet).map(|b| b.to_vec());
        self.count(r)
    }

    /// Checks and decrypts an SRTCP packet from the peer.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let r = self.inbound.decrypt_rtcp(packet).map(|b| b.to_vec());
        self.count(r)
    }

    fn count<E: fmt::Display>(&mut self, r: Result<Vec<u8>, E>) -> Result<Vec<u8>, SrtpError> {
        r.map_err(|e| {
            self.refused += 1;
            SrtpError::Refused(e.to_string())
        })
    }

    /// Packets refused so far (forged, damaged, replayed, or under another key).
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpSender;
    use crate::rtp::rtcp::{ReceptionStats, build_report};

    fn pair(suite: SrtpSuite) -> (SrtpStage, SrtpStage) {
        let a = SrtpKey::random(suite).unwrap();
        let b = SrtpKey::random(suite).unwrap();
        let ours = SrtpStage::new(SrtpKeys {
            send: a.clone(),
            receive: b.clone(),
        })
        .unwrap();
        let theirs = SrtpStage::new(SrtpKeys {
            send: b,
            receive: a,
        })
        .unwrap();
        (ours, theirs)
    }

    #[test]
    fn every_suite_protects_rtp_and_rtcp_both_ways() {
        let voice: Vec<u8> = (0..160u32).map(|i| (i * 7 % 251) as u8).collect();
        for suite in SrtpSuite::ALL {
            let (mut ours, mut theirs) = pair(suite);
            let mut tx = RtpSender::new(0, 0x1234, 100, 1000);
            let clear = tx.packetize(&voice, 160);
            let wire = ours.protect_rtp(&clear).unwrap();
            // The payload on the wire is not the voice, and carries the tag.
            assert!(!wire.windows(32).any(|w| voice.windows(32).any(|v| v == w)));
            assert!(wire.len() > clear.len(), "{suite:?}");
            assert_eq!(theirs.unprotect_rtp(&wire).unwrap(), clear, "{suite:?}");
            let report = build_report(
                0x1234,
                Some((1, 160, 1000)),
                &mut ReceptionStats::default(),
                1,
            );
            let wire = ours.protect_rtcp(&report).unwrap();
            assert_ne!(
                wire[8..report.len()],
                report[8..],
                "{suite:?}: RTCP left clear"
            );
            assert_eq!(theirs.unprotect_rtcp(&wire).unwrap(), report, "{suite:?}");
            // The other way, under the other key.
            let back = theirs.protect_rtp(&clear).unwrap();
            assert_eq!(ours.unprotect_rtp(&back).unwrap(), clear);
        }
    }

    #[test]
    fn forged_replayed_and_wrongly_keyed_packets_are_refused() {
        let (mut ours, mut theirs) = pair(SrtpSuite::AesCm128HmacSha1_80);
        let mut tx = RtpSender::new(0, 7, 1, 1);
        let wire = ours.protect_rtp(&tx.packetize(&[0x55; 160], 160)).unwrap();
        let mut forged = wire.clone();
        forged[20] ^= 1;
        assert!(matches!(
            theirs.unprotect_rtp(&forged),
            Err(SrtpError::Refused(_))
        ));
        assert!(theirs.unprotect_rtp(&wire).is_ok());
        assert!(
            matches!(theirs.unprotect_rtp(&wire), Err(SrtpError::Refused(_))),
            "replay"
        );
        // Clear RTP from someone without the key.
        let clear = tx.packetize(&[0x55; 160], 160);
        assert!(theirs.unprotect_rtp(&clear).is_err());
        let (mut stranger, _) = pair(SrtpSuite::AesCm128HmacSha1_80);
        let other = stranger
            .protect_rtp(&tx.packetize(&[0x55; 160], 160))
            .unwrap();
        assert!(theirs.unprotect_rtp(&other).is_err());
        assert_eq!(theirs.refused(), 4);
        // Garbage of every short length never panics.
        for n in 0..40 {
            let _ = theirs.unprotect_rtp(&vec![0x80; n]);
            let _ = theirs.unprotect_rtcp(&vec![0x81; n]);
        }
    }

    #[test]
    fn a_rekey_keeps_the_unchanged_direction() {
        let (mut ours, mut theirs) = pair(SrtpSuite::AeadAes128Gcm);
        let mut tx = RtpSender::new(0, 9, 65_530, 1);
        // Across the sequence wrap: the rollover counter must carry over the rekey.
        for _ in 0..10 {
            let wire = ours.protect_rtp(&tx.packetize(&[1; 160], 160)).unwrap();
            theirs.unprotect_rtp(&wire).unwrap();
        }
        let mut keys = ours.keys().clone();
        keys.receive = SrtpKey::random(SrtpSuite::AeadAes128Gcm).unwrap();
        ours.rekey(keys).unwrap();
        let wire = ours.protect_rtp(&tx.packetize(&[1; 160], 160)).unwrap();
        assert!(theirs.unprotect_rtp(&wire).is_ok());
        assert_eq!(
            format!("{:?}", ours.keys().send),
            "SrtpKey(AEAD_AES_128_GCM, <redacted>)"
        );
    }
}
