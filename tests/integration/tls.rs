//! SIP over TLS against Kamailio's tls module, with a certificate chain the test makes (rcgen):
//! registering and calling (with SRTP, whose keys may now travel: the signalling is
//! encrypted), each certificate problem refused with its own reason and no registration, and
//! pinning a self-signed certificate.

use crate::audio_compare::{read_wav, similarity};
use crate::peers::{Baresip, BaresipSetup, Kamailio, KamailioOptions, Softphone, speech};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// A test CA and server certificates of every kind, as PEM files in `dir`.
pub struct Chain {
    pub ca: PathBuf,
    /// (certificate, key) files by name: `good`, `wrong_name`, `expired`, `self_signed`.
    pub dir: PathBuf,
    /// The self-signed certificate's SHA-256 fingerprint, as `openssl x509 -fingerprint` shows.
    self_signed_pin: String,
}

fn write(dir: &Path, name: &str, cert: &rcgen::Certificate, key: &KeyPair) {
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("cert");
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).expect("key");
}

impl Chain {
    pub fn new(dir: &Path) -> Chain {
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Softphone test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA");
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("ca.pem");
        let issuer = Issuer::new(ca_params, ca_key);
        let server = |names: &[&str], expired: bool| {
            let key = KeyPair::generate().expect("key");
            let mut p =
                CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                    .expect("params");
            p.distinguished_name.push(DnType::CommonName, names[0]);
            if expired {
                p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                p.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            (p.signed_by(&key, &issuer).expect("signed"), key)
        };
        // Good for the test IP and for the SRV tests' domain (RFC 5922: the SIP domain).
        let (c, k) = server(&["127.0.0.1", "pbx.test"], false);
        write(dir, "good", &c, &k);
        let (c, k) = server(&["pbx.wrong.example"], false);
        write(dir, "wrong_name", &c, &k);
        let (c, k) = server(&["127.0.0.1"], true);
        write(dir, "expired", &c, &k);
        let key = KeyPair::generate().expect("key");
        let own = CertificateParams::new(vec!["pbx.self.example".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("self-signed");
        write(dir, "self_signed", &own, &key);
        let pin = {
            use sha2::Digest;
            sha2::Sha256::digest(own.der().as_ref())
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        Chain {
            ca: dir.join("ca.pem"),
            dir: dir.to_path_buf(),
            self_signed_pin: pin,
        }
    }

    fn kamailio(&self, name: &str) -> Kamailio {
        Kamailio::start(KamailioOptions {
            tls: Some((
                self.dir.join(format!("{name}.pem")),
                self.dir.join(format!("{name}.key")),
            )),
            ..Default::default()
        })
    }
}

/// Us as 1001 over TLS to `kam` with `extra` parameters.
fn over_tls(kam: &Kamailio, extra: &[&str]) -> Softphone {
    let server = format!("serveraddress=127.0.0.1:{}", kam.tls_port);
    let mut p = vec![
        server.as_str(),
        "username=1001",
        "password=pw1001",
        "transport=2",
    ];
    p.extend_from_slice(extra);
    Softphone::start(&p)
}

#[test]
fn registers_and_calls_over_tls_with_srtp_keys_inside() {
    let work = tempfile::tempdir().expect("tempdir");
    let chain = Chain::new(work.path());
    let kam = chain.kamailio("good");
    let (ours, _) = speech(
        work.path(),
        "ours",
        "The quick brown fox jumps over the lazy dog.",
        0,
    );
    let (theirs, theirs_padded) = speech(
        work.path(),
        "theirs",
        "Seven fresh fish, six sharp scissors.",
        8,
    );
    let heard = work.path().join("heard.wav");
    let setup = BaresipSetup {
        mediaenc: "srtp-mand",
        ..Default::default()
    };
    let bs = Baresip::start_setup(&kam, "1002", &theirs_padded, "PCMU", &setup);
    let ca = format!("tlscafile={}", chain.ca.display());
    let mic = format!("recorddevice=file:{}", ours.display());
    let speaker = format!("playbackdevice=file:{}", heard.display());
    // No srtpkeysinclear: the keys travel inside TLS.
    let mut sp = over_tls(&kam, &[&ca, &mic, &speaker, "mediaencryption=2"]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    let contact = kam.location();
    assert!(contact.contains("transport=tls"), "{contact}");
    assert!(
        !sp.seen.iter().any(|l| l.contains("unencrypted SIP")),
        "{:?}",
        sp.seen
    );
    sp.send_line("call,1002");
    let media = sp.wait_for(T, |l| l.starts_with("EVENT,Media on line 1:"));
    assert!(media.contains("SRTP AES_CM_128_HMAC_SHA1_80"), "{media}");
    sp.wait_for(Duration::from_secs(40), |l| {
        l.starts_with("EVENT,RTP statistics on line 1:")
    });
    let at_baresip = similarity(&read_wav(&ours), &read_wav(&bs.received()));
    let at_us = similarity(&read_wav(&theirs), &read_wav(&heard));
    eprintln!("over TLS + SRTP: ours at baresip {at_baresip:.3}, baresip's at us {at_us:.3}");
    assert!(
        at_baresip > 0.9 && at_us > 0.9,
        "{at_baresip:.3} {at_us:.3}"
    );
}

/// Starts us against a Kamailio serving `cert`: the error we report, and that nothing
/// registered.
fn refused(chain: &Chain, cert: &str, extra: &[&str]) -> String {
    let kam = chain.kamailio(cert);
    let mut sp = over_tls(&kam, extra);
    let error = sp.wait_for(T, |l| {
        l.starts_with("ERROR,") && l.contains("TLS connection")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(kam.bindings("1001").is_empty(), "{cert}: registered anyway");
    assert_eq!(
        sp.try_wait_for(Duration::from_secs(1), |l| l.contains(",Registered,")),
        None,
        "{cert}"
    );
    eprintln!("{cert}: {error}");
    error
}

#[test]
fn each_certificate_problem_says_why_and_nothing_registers() {
    let work = tempfile::tempdir().expect("tempdir");
    let chain = Chain::new(work.path());
    let ca = format!("tlscafile={}", chain.ca.display());
    let e = refused(&chain, "wrong_name", &[&ca]);
    assert!(e.contains("for another name"), "{e}");
    let e = refused(&chain, "expired", &[&ca]);
    assert!(e.contains("has expired"), "{e}");
    // Our CA not trusted: the system's roots do not know it.
    let e = refused(&chain, "good", &[]);
    assert!(e.contains("unknown authority"), "{e}");
    let e = refused(&chain, "self_signed", &[&ca]);
    assert!(e.contains("unknown authority"), "{e}");
}

#[test]
fn a_pinned_self_signed_certificate_is_taken_and_no_other() {
    let work = tempfile::tempdir().expect("tempdir");
    let chain = Chain::new(work.path());
    let kam = chain.kamailio("self_signed");
    let pin = format!("tlspin={}", chain.self_signed_pin);
    let mut sp = over_tls(&kam, &[&pin]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    drop(sp);
    // A pin of another certificate: even the CA-signed good one is refused.
    let ca = format!("tlscafile={}", chain.ca.display());
    let e = refused(&chain, "good", &[&ca, &pin]);
    assert!(e.contains("not the one tlspin names"), "{e}");
}

#[test]
fn a_dropped_connection_registers_again_and_calls_still_come_in() {
    let work = tempfile::tempdir().expect("tempdir");
    let chain = Chain::new(work.path());
    let mut kam = chain.kamailio("good");
    let ca = format!("tlscafile={}", chain.ca.display());
    let mut sp = over_tls(
        &kam,
        &[
            &ca,
            "autoaccept=true",
            "recorddevice=null",
            "playbackdevice=null",
        ],
    );
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    // The server restarts: the connection drops, its bindings are gone.
    kam.restart("1001");
    assert!(
        kam.wait_for_binding("1001", T),
        "not registered again: {:?}",
        sp.seen
    );
    // A call to us arrives over the new connection (we run no TLS server of our own).
    let (theirs, _) = speech(work.path(), "theirs", "Hello there.", 0);
    let bs = Baresip::start(&kam, "1002", &theirs, "PCMU");
    bs.command("dial", &format!("sip:1001@{}", kam.addr()));
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
}
