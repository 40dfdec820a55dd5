//! SIP over TLS, the client side (RFC 3261 §26.3, RFC 5922): which certificates we trust and
//! what a failed handshake tells the user. The server's certificate is checked against the
//! SIP domain we connect for (the outbound proxy's host when there is one, else the server's):
//! trusted roots are the system's plus `tlscafile`; `tlspin` instead accepts exactly the
//! certificates whose SHA-256 fingerprints it lists (a PBX with a self-signed certificate),
//! and nothing else. There is no "accept anything".

use anyhow::{Context, anyhow};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio_rustls::TlsConnector;

/// What TLS connections of this run are made with: the connector and the name the server's
/// certificate must carry.
#[derive(Clone)]
pub(super) struct TlsClient {
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsClient({:?})", self.server_name)
    }
}

/// A SHA-256 fingerprint as hex, with or without colons; gives the 32 bytes.
fn parse_pin(text: &str) -> anyhow::Result<[u8; 32]> {
    let hex: String = text
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("x"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| anyhow!("tlspin: {text:?} is not a hex SHA-256 fingerprint"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow!("tlspin: {text:?} is not 32 bytes (a SHA-256 fingerprint)"))
}

/// The SHA-256 fingerprint of a certificate as colon-separated hex (what `openssl x509
/// -fingerprint -sha256` prints), for `tlspin` and for the error that shows it.
pub(super) fn fingerprint(cert: &[u8]) -> String {
    Sha256::digest(cert)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Accepts exactly the pinned certificates; the handshake's signatures are still checked.
#[derive(Debug)]
struct PinnedVerifier {
    pins: Vec<[u8; 32]>,
    signatures: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let digest: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if self.pins.contains(&digest) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(Error::General(format!(
                "the server's certificate (SHA-256 {}) is not the one tlspin names",
                fingerprint(end_entity.as_ref())
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}

/// The host part of `host[:port]` (IPv6 in brackets) as the name to verify.
fn server_name(hostport: &str) -> anyhow::Result<ServerName<'static>> {
    let text = hostport.trim();
    let host = if let Some(rest) = text.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        text.rsplit_once(':')
            .filter(|(_, port)| port.parse::<u16>().is_ok())
            .map_or(text, |(h, _)| h)
    };
    ServerName::try_from(host.to_string())
        .map_err(|_| anyhow!("{host:?} is not a host name or IP address to check a certificate of"))
}

/// The TLS client for a run: trusts the system's roots and `ca_file`'s certificates, or only
/// the `pins`; checks certificates against `domain` (`host[:port]`).
pub(super) fn client(domain: &str, ca_file: &str, pins: &str) -> anyhow::Result<TlsClient> {
    // ring, already in the build for SRTP; aws-lc-rs (rustls's preferred provider, with
    // post-quantum key exchange no SIP server asks for yet) would add a C and cmake build of
    // several minutes on two cores.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if !ca_file.trim().is_empty() {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file.trim())
            .with_context(|| format!("tlscafile: cannot read {ca_file:?}"))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("tlscafile: {ca_file:?} is not PEM certificates"))?;
        if certs.is_empty() {
            return Err(anyhow!("tlscafile: {ca_file:?} holds no certificate"));
        }
        for c in certs {
            roots
                .add(c)
                .with_context(|| format!("tlscafile: a certificate in {ca_file:?} is unusable"))?;
        }
    } else if added == 0 && pins.trim().is_empty() {
        tracing::warn!("no trusted root certificates found on this system (set tlscafile)");
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| anyhow!("TLS trust: {e}"))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("TLS: {e}"))?;
    let pins: Vec<[u8; 32]> = pins
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(parse_pin)
        .collect::<anyhow::Result<_>>()?;
    let config = if pins.is_empty() {
        builder.with_webpki_verifier(webpki).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                pins,
                signatures: webpki,
            }))
            .with_no_client_auth()
    };
    Ok(TlsClient {
        connector: TlsConnector::from(Arc::new(config)),
        server_name: server_name(domain)?,
    })
}

/// Why a TLS handshake failed, in the words a user can act on.
pub(super) fn describe(e: &std::io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) else {
        return e.to_string();
    };
    match tls {
        Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("the server's certificate has expired ({tls})")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("the server's certificate is not valid yet ({tls})")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the server's certificate is for another name ({tls})")
            }
            CertificateError::UnknownIssuer => format!(
                "the server's certificate is signed by an unknown authority: trust its CA with \
                 tlscafile, or pin the certificate with tlspin ({tls})"
            ),
            _ => format!("the server's certificate is not acceptable ({tls})"),
        },
        Error::AlertReceived(alert) => format!("the server ended the handshake: {alert:?} alert"),
        // Our own verifier's words (a certificate that is not the pinned one).
        Error::General(text) => text.clone(),
        other => format!("TLS handshake failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_and_names_are_read_strictly() {
        let hex = "AB".repeat(32);
        assert_eq!(parse_pin(&hex).unwrap(), [0xab; 32]);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_pin(&colons).unwrap(), [0xab; 32]);
        assert!(parse_pin("ab:cd").is_err());
        assert!(parse_pin(&"zz".repeat(32)).is_err());
        assert!(parse_pin(&format!("{hex}a")).is_err());
        assert_eq!(
            format!("{:?}", server_name("pbx.example.com:5061").unwrap()),
            "DnsName(\"pbx.example.com\")"
        );
        assert!(matches!(
            server_name("127.0.0.1:5061").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:5061").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(server_name("bad name!").is_err());
        assert!(client("pbx.example.com", "/nonexistent.pem", "").is_err());
        assert!(client("pbx.example.com", "", "nothex").is_err());
        assert!(client("pbx.example.com", "", &hex).is_ok());
    }
}
