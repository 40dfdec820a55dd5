//! DTLS-SRTP for one call (RFC 5763, RFC 5764): a DTLS handshake on the media port keys SRTP,
//! so no key ever travels in the signalling. Each side proves itself with a self-signed
//! certificate whose SHA-256 fingerprint the SDP carries (`a=fingerprint`); the handshake is
//! taken only when the peer's certificate is exactly the one its SDP named, which is what ties
//! the media to the (authenticated) signalling. `a=setup` decides who is the DTLS client.
//!
//! The DTLS protocol is `rtc-dtls`'s (sans-IO, the same webrtc-rs stack as our SRTP); this
//! stage drives it with the caller's `now`, checks the fingerprint, and turns the exported
//! keying material (RFC 5764 §4.2) into the [`SrtpKeys`] of [`super::srtp::SrtpStage`].

use super::srtp::{SrtpKey, SrtpKeys, SrtpSuite};
use bytes::BytesMut;
use rtc_dtls::config::{ClientAuthType, ConfigBuilder, ExtendedMasterSecretType};
use rtc_dtls::crypto::Certificate;
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

/// The exporter label of RFC 5764 §4.2.
const EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";

/// Why DTLS-SRTP could not key a call.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DtlsError {
    #[error("DTLS certificate: {0}")]
    Certificate(String),
    #[error("DTLS setup: {0}")]
    Setup(String),
    /// The peer's certificate is not the one its SDP's fingerprint names: someone else is on
    /// the media path.
    #[error(
        "the far end's DTLS certificate (SHA-256 {got}) is not the one its SDP announced ({expected})"
    )]
    FingerprintMismatch { expected: String, got: String },
    #[error("the DTLS handshake failed: {0}")]
    Handshake(String),
    #[error("the DTLS handshake negotiated no SRTP profile we speak")]
    NoProfile,
}

/// A SHA-256 certificate fingerprint (RFC 4572 `a=fingerprint:sha-256 AB:CD:...`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Reads the hex form (colons between bytes, either case).
    pub fn parse(hex: &str) -> Option<Fingerprint> {
        let mut out = [0u8; 32];
        let mut parts = hex.trim().split(':');
        for byte in out.iter_mut() {
            let part = parts.next()?;
            if part.len() != 2 {
                return None;
            }
            *byte = u8::from_str_radix(part, 16).ok()?;
        }
        parts.next().is_none().then_some(Fingerprint(out))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Our DTLS certificate: self-signed (ECDSA P-256), made once per run and shared by its
/// calls; only its fingerprint is ever shown.
#[derive(Clone)]
pub struct DtlsIdentity {
    certificate: Certificate,
    fingerprint: Fingerprint,
}

impl fmt::Debug for DtlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DtlsIdentity({})", self.fingerprint)
    }
}

fn certificate_error(e: impl fmt::Display) -> DtlsError {
    DtlsError::Certificate(e.to_string())
}

impl DtlsIdentity {
    /// A fresh certificate and key.
    pub fn generate() -> Result<DtlsIdentity, DtlsError> {
        let provider = rtc_dtls::crypto_provider::default_provider().map_err(certificate_error)?;
        Certificate::generate_self_signed(vec!["softphone".to_string()], provider.crypto())
            .map_err(certificate_error)
            .and_then(DtlsIdentity::of)
    }

    /// An identity kept by [`DtlsIdentity::to_pem`].
    pub fn from_pem(text: &str) -> Result<DtlsIdentity, DtlsError> {
        let provider = rtc_dtls::crypto_provider::default_provider().map_err(certificate_error)?;
        Certificate::from_pem(text, provider.crypto())
            .map_err(certificate_error)
            .and_then(DtlsIdentity::of)
    }

    /// The identity of a certificate (its first, the end entity, is fingerprinted).
    fn of(certificate: Certificate) -> Result<DtlsIdentity, DtlsError> {
        let der = certificate
            .certificate
            .first()
            .ok_or_else(|| certificate_error("no certificate"))?;
        let fingerprint = Fingerprint::of(der.as_ref());
        Ok(DtlsIdentity {
            certificate,
            fingerprint,
        })
    }

    /// What our SDP's `a=fingerprint` says.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The key (PKCS#8) and certificate as PEM, to keep the identity across runs (a peer
    /// that pins our fingerprint sees the same one).
    pub fn to_pem(&self) -> Result<String, DtlsError> {
        self.certificate.serialize_pem().map_err(certificate_error)
    }
}

/// Which end of the handshake we are (RFC 4145 `a=setup`: `active` connects, `passive`
/// waits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    /// `active`: we send the ClientHello.
    Client,
    /// `passive`: the peer does.
    Server,
}

/// Where the handshake is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Not started (a client waits for the peer's address).
    Idle,
    Handshaking,
    /// Keys handed out; the association stays for the peer's retransmissions and its close.
    Keyed,
    Failed,
}

/// The DTLS side of one call's media: datagrams in and out, keys or a failure once.
pub struct DtlsSrtp {
    role: DtlsRole,
    endpoint: Endpoint,
    config: Arc<rtc_dtls::config::HandshakeConfig>,
    /// The address the handshake runs with (a client: where it connected; a server: where
    /// the first ClientHello came from).
    peer: Option<SocketAddr>,
    phase: Phase,
    outcome: VecDeque<Result<SrtpKeys, DtlsError>>,
    /// What the fingerprint check found wrong, for the failure it causes.
    mismatch: Arc<std::sync::Mutex<Option<DtlsError>>>,
    /// A client's first flight, sent again on a quick schedule until the peer answers.
    first_flight: Vec<Vec<u8>>,
    /// When the first flight goes again, and the step after that.
    early_resend: Option<(Instant, std::time::Duration)>,
    /// Our own copies of the first flight, waiting to go out.
    resent: VecDeque<Vec<u8>>,
}

/// The first repeat of a client's first flight, doubling up to [`EARLY_RESEND_LAST`]: the
/// answerer connects the moment it answers, while the offerer learns the answer (and starts
/// listening) only when the answer reaches it, so the first ClientHello often arrives before
/// anyone listens. rtc-dtls repeats a flight only after a fixed second (RFC 6347's initial
/// timer), a second of silence at the start of every call; WebRTC stacks start at 50 ms.
const EARLY_RESEND_FIRST: std::time::Duration = std::time::Duration::from_millis(100);
const EARLY_RESEND_LAST: std::time::Duration = std::time::Duration::from_millis(800);

impl fmt::Debug for DtlsSrtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsSrtp")
            .field("role", &self.role)
            .field("peer", &self.peer)
            .field("phase", &self.phase)
            .finish()
    }
}

fn profile_of(suite: SrtpSuite) -> Option<SrtpProtectionProfile> {
    match suite {
        SrtpSuite::AesCm128HmacSha1_80 => Some(SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80),
        SrtpSuite::AesCm128HmacSha1_32 => Some(SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32),
        SrtpSuite::AeadAes128Gcm => Some(SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm),
        SrtpSuite::AeadAes256Gcm => Some(SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm),
        // No DTLS-SRTP profile is registered for AES-256-CM (RFC 6188 defines SDES names only
        // in the profile registry rtc-dtls implements).
        SrtpSuite::AesCm256HmacSha1_80 | SrtpSuite::AesCm256HmacSha1_32 => None,
    }
}

fn suite_of(profile: SrtpProtectionProfile) -> Option<SrtpSuite> {
    SrtpSuite::ALL
        .into_iter()
        .find(|s| profile_of(*s) == Some(profile))
}

impl DtlsSrtp {
    /// The stage for one call: our identity, our role, the fingerprint the peer's SDP gave
    /// and the SRTP suites we accept, in our order of preference. `local` is our media
    /// address (only recorded by the DTLS layer).
    pub fn new(
        identity: &DtlsIdentity,
        role: DtlsRole,
        remote_fingerprint: Fingerprint,
        suites: &[SrtpSuite],
        local: SocketAddr,
    ) -> Result<DtlsSrtp, DtlsError> {
        let profiles: Vec<SrtpProtectionProfile> =
            suites.iter().filter_map(|s| profile_of(*s)).collect();
        if profiles.is_empty() {
            return Err(DtlsError::NoProfile);
        }
        let provider = rtc_dtls::crypto_provider::default_provider()
            .map_err(|e| DtlsError::Setup(e.to_string()))?;
        let mismatch = Arc::new(std::sync::Mutex::new(None));
        let found = mismatch.clone();
        // The only check that matters here: the certificate is the one the SDP named (it is
        // self-signed, so there is no chain to verify).
        let verify: rtc_dtls::config::VerifyPeerCertificateFn = Arc::new(move |certs, _| {
            let got = certs.first().map(|c| Fingerprint::of(c));
            if got == Some(remote_fingerprint) {
                return Ok(());
            }
            let error = DtlsError::FingerprintMismatch {
                expected: remote_fingerprint.to_string(),
                got: got.map_or_else(|| "none".to_string(), |g| g.to_string()),
            };
            if let Ok(mut slot) = found.lock() {
                *slot = Some(error.clone());
            }
            Err(rtc_shared::error::Error::Other(error.to_string()))
        });
        let config = ConfigBuilder::default()
            .with_crypto_provider(provider)
            .with_certificates(vec![identity.certificate.clone()])
            .with_srtp_protection_profiles(profiles)
            .with_extended_master_secret(ExtendedMasterSecretType::Request)
            .with_insecure_skip_verify(true)
            .with_client_auth(ClientAuthType::RequireAnyClientCert)
            .with_verify_peer_certificate(Some(verify))
            .build(role == DtlsRole::Client, None)
            .map_err(|e| DtlsError::Setup(e.to_string()))?;
        let config = Arc::new(config);
        let server_config = (role == DtlsRole::Server).then(|| config.clone());
        Ok(DtlsSrtp {
            role,
            endpoint: Endpoint::new(local, rtc_shared::TransportProtocol::UDP, server_config),
            config,
            peer: None,
            phase: Phase::Idle,
            outcome: VecDeque::new(),
            mismatch,
            first_flight: Vec::new(),
            early_resend: None,
            resent: VecDeque::new(),
        })
    }

    /// Which end we are.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// Starts the handshake towards `peer` (a client sends its ClientHello; a server only
    /// learns where the peer is and waits for it).
    pub fn start(&mut self, now: Instant, peer: SocketAddr) {
        if self.phase != Phase::Idle {
            return;
        }
        self.peer = Some(peer);
        self.phase = Phase::Handshaking;
        if self.role != DtlsRole::Client {
            return;
        }
        if let Err(e) = self.endpoint.connect(now, peer, self.config.clone(), None) {
            self.fail(DtlsError::Handshake(e.to_string()));
            return;
        }
        // Our own copy of the first flight (it goes out as rtc-dtls queued it), for the
        // quick repeats.
        while let Some(t) = self.endpoint.poll_transmit() {
            self.first_flight.push(t.message.to_vec());
            self.resent.push_back(t.message.to_vec());
        }
        self.early_resend = Some((now + EARLY_RESEND_FIRST, EARLY_RESEND_FIRST));
    }

    /// A DTLS record from the media port (the caller demultiplexes by the first byte, RFC
    /// 7983: 20 to 63).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        match self.phase {
            Phase::Failed => return,
            Phase::Idle if self.role == DtlsRole::Server => {
                self.peer = Some(from);
                self.phase = Phase::Handshaking;
            }
            _ => {}
        }
        // One association per call: records from anywhere else are not ours.
        if self.peer != Some(from) {
            return;
        }
        // The peer answers: from here rtc-dtls's own timer repeats what is lost.
        self.early_resend = None;
        let events = match self.endpoint.read(now, from, None, BytesMut::from(bytes)) {
            Ok(events) => events,
            Err(e) => {
                let error = self
                    .mismatch
                    .lock()
                    .ok()
                    .and_then(|mut m| m.take())
                    .unwrap_or_else(|| DtlsError::Handshake(e.to_string()));
                if self.phase == Phase::Handshaking {
                    self.fail(error);
                }
                return;
            }
        };
        for event in events {
            match event {
                EndpointEvent::HandshakeComplete if self.phase == Phase::Handshaking => {
                    let keys = self.export_keys();
                    self.phase = if keys.is_ok() {
                        Phase::Keyed
                    } else {
                        Phase::Failed
                    };
                    self.outcome.push_back(keys);
                }
                EndpointEvent::PeerClosed if self.phase == Phase::Handshaking => {
                    self.fail(DtlsError::Handshake("the far end closed it".into()));
                }
                _ => {}
            }
        }
    }

    fn fail(&mut self, error: DtlsError) {
        self.phase = Phase::Failed;
        self.outcome.push_back(Err(error));
    }

    /// RFC 5764 §4.2: client key, server key, client salt, server salt; the client sends
    /// with the client's.
    fn export_keys(&self) -> Result<SrtpKeys, DtlsError> {
        let peer = self.peer.ok_or(DtlsError::NoProfile)?;
        let state = self
            .endpoint
            .get_connection_state(peer)
            .ok_or_else(|| DtlsError::Handshake("the association is gone".into()))?;
        let suite = suite_of(state.srtp_protection_profile()).ok_or(DtlsError::NoProfile)?;
        let (k, s) = (suite.key_len(), suite.salt_len());
        let material = state
            .export_keying_material(EXPORTER_LABEL, &[], 2 * (k + s))
            .map_err(|e| DtlsError::Handshake(e.to_string()))?;
        let material: &[u8] = material.as_ref();
        if material.len() < 2 * (k + s) {
            return Err(DtlsError::Handshake("short keying material".into()));
        }
        let key = |key_at: usize, salt_at: usize| SrtpKey {
            suite,
            material: [
                &material[key_at..key_at + k],
                &material[salt_at..salt_at + s],
            ]
            .concat(),
        };
        let client = key(0, 2 * k);
        let server = key(k, 2 * k + s);
        Ok(match self.role {
            DtlsRole::Client => SrtpKeys {
                send: client,
                receive: server,
            },
            DtlsRole::Server => SrtpKeys {
                send: server,
                receive: client,
            },
        })
    }

    /// The next DTLS datagram to send, and where.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        if let (Some(peer), Some(data)) = (self.peer, self.resent.pop_front()) {
            return Some((peer, data));
        }
        self.endpoint
            .poll_transmit()
            .map(|t| (t.transport.peer_addr, t.message.to_vec()))
    }

    /// The handshake's keys (once), or why there are none.
    pub fn poll_keys(&mut self) -> Option<Result<SrtpKeys, DtlsError>> {
        self.outcome.pop_front()
    }

    /// When [`DtlsSrtp::handle_timeout`] is due (a flight to retransmit).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase != Phase::Handshaking {
            return None;
        }
        let library = self.peer.and_then(|p| self.endpoint.poll_timeout(&p));
        match (library, self.early_resend.map(|(at, _)| at)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Retransmits the last flight when it is due; gives up after the retries run out.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase != Phase::Handshaking {
            return;
        }
        if let Some((at, step)) = self.early_resend
            && now >= at
        {
            self.resent.extend(self.first_flight.iter().cloned());
            let step = step * 2;
            self.early_resend = (step <= EARLY_RESEND_LAST).then_some((now + step, step));
        }
        if let Some(peer) = self.peer
            && let Err(e) = self.endpoint.handle_timeout(peer, now)
        {
            self.fail(DtlsError::Handshake(e.to_string()));
        }
    }

    /// Whether the handshake has failed (the call cannot be keyed).
    pub fn has_failed(&self) -> bool {
        self.phase == Phase::Failed
    }
}

/// RFC 7983 §7: a datagram on the media port whose first byte is 20 to 63 is DTLS.
pub fn is_dtls(packet: &[u8]) -> bool {
    matches!(packet.first(), Some(20..=63))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Carries datagrams between the two until neither has more; gives how many crossed.
    fn exchange(now: Instant, a: &mut DtlsSrtp, b: &mut DtlsSrtp) -> usize {
        let mut crossed = 0;
        loop {
            let mut moved = false;
            while let Some((to, bytes)) = a.poll_transmit() {
                assert_eq!(to, addr(2000));
                assert!(is_dtls(&bytes));
                b.handle_datagram(now, addr(1000), &bytes);
                moved = true;
                crossed += 1;
            }
            while let Some((to, bytes)) = b.poll_transmit() {
                assert_eq!(to, addr(1000));
                a.handle_datagram(now, addr(2000), &bytes);
                moved = true;
                crossed += 1;
            }
            if !moved {
                return crossed;
            }
        }
    }

    fn pair(
        client_id: &DtlsIdentity,
        server_id: &DtlsIdentity,
        server_expects: Fingerprint,
        suites: (&[SrtpSuite], &[SrtpSuite]),
    ) -> (DtlsSrtp, DtlsSrtp) {
        let client = DtlsSrtp::new(
            client_id,
            DtlsRole::Client,
            server_id.fingerprint(),
            suites.0,
            addr(1000),
        )
        .expect("client");
        let server = DtlsSrtp::new(
            server_id,
            DtlsRole::Server,
            server_expects,
            suites.1,
            addr(2000),
        )
        .expect("server");
        (client, server)
    }

    #[test]
    fn a_handshake_keys_both_sides_mirrored_with_the_common_profile() {
        let (a, b) = (
            DtlsIdentity::generate().expect("a"),
            DtlsIdentity::generate().expect("b"),
        );
        assert_ne!(a.fingerprint(), b.fingerprint());
        let ours = [SrtpSuite::AeadAes128Gcm, SrtpSuite::AesCm128HmacSha1_80];
        let theirs = [SrtpSuite::AesCm128HmacSha1_80, SrtpSuite::AeadAes128Gcm];
        let (mut client, mut server) = pair(&a, &b, a.fingerprint(), (&ours, &theirs));
        let now = crate::test_epoch();
        client.start(now, addr(2000));
        server.start(now, addr(1000));
        assert!(exchange(now, &mut client, &mut server) >= 4);
        let ck = client
            .poll_keys()
            .expect("client done")
            .expect("client keys");
        let sk = server
            .poll_keys()
            .expect("server done")
            .expect("server keys");
        assert_eq!(ck.send, sk.receive);
        assert_eq!(ck.receive, sk.send);
        assert_ne!(ck.send, ck.receive);
        // A common one (rtc-dtls's server takes the first of the ClientHello's list it
        // also has), with key and salt of its length.
        assert_eq!(ck.send.suite, SrtpSuite::AeadAes128Gcm);
        assert_eq!(ck.send.material.len(), 16 + 12);
        assert!(client.poll_keys().is_none(), "keys are given once");
        // The keys really work: what one side protects, the other takes.
        let mut tx = crate::rtp::srtp::SrtpStage::new(ck).expect("stage");
        let mut rx = crate::rtp::srtp::SrtpStage::new(sk).expect("stage");
        let rtp = [0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7, 1, 2, 3, 4];
        let sent = tx.protect_rtp(&rtp).expect("protect");
        assert!(!is_dtls(&sent));
        assert_eq!(rx.unprotect_rtp(&sent).expect("unprotect"), rtp);
    }

    #[test]
    fn a_certificate_other_than_the_announced_one_is_refused() {
        let (a, b, mallory) = (
            DtlsIdentity::generate().expect("a"),
            DtlsIdentity::generate().expect("b"),
            DtlsIdentity::generate().expect("m"),
        );
        let suites = [SrtpSuite::AesCm128HmacSha1_80];
        // The server expects Mallory's fingerprint, so the genuine client is refused ...
        let (mut client, mut server) = pair(&a, &b, mallory.fingerprint(), (&suites, &suites));
        let now = crate::test_epoch();
        client.start(now, addr(2000));
        exchange(now, &mut client, &mut server);
        let refused = server.poll_keys().expect("server outcome");
        assert!(
            matches!(&refused, Err(DtlsError::FingerprintMismatch { expected, got })
                if *expected == mallory.fingerprint().to_string()
                    && *got == a.fingerprint().to_string()),
            "{refused:?}"
        );
        assert!(server.has_failed());
        assert!(
            !matches!(client.poll_keys(), Some(Ok(_))),
            "the client got keys"
        );
        // ... and a client that expects another server refuses the genuine one.
        let mut client = DtlsSrtp::new(
            &a,
            DtlsRole::Client,
            mallory.fingerprint(),
            &suites,
            addr(1000),
        )
        .expect("client");
        let mut server = DtlsSrtp::new(&b, DtlsRole::Server, a.fingerprint(), &suites, addr(2000))
            .expect("server");
        client.start(now, addr(2000));
        exchange(now, &mut client, &mut server);
        assert!(matches!(
            client.poll_keys(),
            Some(Err(DtlsError::FingerprintMismatch { .. }))
        ));
    }

    #[test]
    fn lost_flights_are_sent_again_and_no_common_profile_fails() {
        let (a, b) = (
            DtlsIdentity::generate().expect("a"),
            DtlsIdentity::generate().expect("b"),
        );
        let suites = [SrtpSuite::AesCm128HmacSha1_80];
        let (mut client, mut server) = pair(&a, &b, a.fingerprint(), (&suites, &suites));
        let t0 = crate::test_epoch();
        client.start(t0, addr(2000));
        // The first ClientHello is lost.
        while client.poll_transmit().is_some() {}
        // Sent again quickly (the peer may not have listened yet): 100 ms, then 200 ms.
        let due = client.poll_timeout().expect("a retransmission is due");
        assert_eq!(due, t0 + Duration::from_millis(100));
        client.handle_timeout(due);
        let again: Vec<_> = std::iter::from_fn(|| client.poll_transmit()).collect();
        assert!(!again.is_empty() && again.iter().all(|(_, d)| is_dtls(d)));
        assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_millis(300)));
        for (_, d) in again {
            server.handle_datagram(due, addr(1000), &d);
        }
        exchange(due, &mut client, &mut server);
        assert!(matches!(client.poll_keys(), Some(Ok(_))));
        assert!(matches!(server.poll_keys(), Some(Ok(_))));
        assert_eq!(client.poll_timeout(), None);

        // Offered AES-256-CM only: there is no DTLS profile for it.
        assert_eq!(
            DtlsSrtp::new(
                &a,
                DtlsRole::Client,
                b.fingerprint(),
                &[SrtpSuite::AesCm256HmacSha1_80],
                addr(1000)
            )
            .err(),
            Some(DtlsError::NoProfile)
        );
        // Common nothing: GCM only against 80-bit only.
        let (mut client, mut server) = pair(
            &a,
            &b,
            a.fingerprint(),
            (
                &[SrtpSuite::AeadAes128Gcm],
                &[SrtpSuite::AesCm128HmacSha1_80],
            ),
        );
        client.start(t0, addr(2000));
        exchange(t0, &mut client, &mut server);
        assert!(matches!(server.poll_keys(), Some(Err(_))));
    }

    #[test]
    fn a_kept_identity_comes_back_the_same_and_still_handshakes() {
        let a = DtlsIdentity::generate().expect("a");
        let pem = a.to_pem().expect("pem");
        assert!(pem.contains("PRIVATE_KEY") && pem.contains("CERTIFICATE"));
        let back = DtlsIdentity::from_pem(&pem).expect("read back");
        assert_eq!(back.fingerprint(), a.fingerprint());
        let b = DtlsIdentity::generate().expect("b");
        let suites = [SrtpSuite::AesCm128HmacSha1_80];
        let (mut client, mut server) = pair(&back, &b, a.fingerprint(), (&suites, &suites));
        let now = crate::test_epoch();
        client.start(now, addr(2000));
        exchange(now, &mut client, &mut server);
        assert!(matches!(server.poll_keys(), Some(Ok(_))));
        assert!(DtlsIdentity::from_pem("not a pem").is_err());
        assert!(DtlsIdentity::from_pem(&pem.replace("PRIVATE_KEY", "X")).is_err());
    }

    #[test]
    fn fingerprints_read_back_what_they_print_and_refuse_anything_else() {
        let f = Fingerprint::of(b"certificate");
        let text = f.to_string();
        assert_eq!(text.len(), 32 * 3 - 1);
        assert_eq!(Fingerprint::parse(&text), Some(f));
        assert_eq!(Fingerprint::parse(&text.to_lowercase()), Some(f));
        for bad in [
            "",
            "AB",
            &text[..text.len() - 3],
            &format!("{text}:00"),
            "zz:...",
        ] {
            assert_eq!(Fingerprint::parse(bad), None, "{bad:?}");
        }
        assert!(is_dtls(&[22, 254, 253]) && !is_dtls(&[0x80, 0]) && !is_dtls(&[]));
    }
}
