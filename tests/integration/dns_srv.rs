//! DNS SRV (RFC 3263) against a local dnsmasq publishing `_sip._tcp.pbx.test` with two
//! Kamailio instances behind it: registration follows the priorities, fails over when the
//! preferred server stops, calls still work through the other, and registration goes back to
//! the preferred one when it returns.

use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, free_port, speech};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// dnsmasq on 127.0.0.1, answering only from its command line.
struct Dnsmasq {
    child: Child,
    port: u16,
}

impl Dnsmasq {
    fn start(records: &[String]) -> Dnsmasq {
        let port = free_port();
        let child = Command::new("dnsmasq")
            .args([
                "-d",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--user=root",
                &format!("--port={port}"),
            ])
            .args(records)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq (is dnsmasq-base installed?)");
        std::thread::sleep(Duration::from_millis(300));
        Dnsmasq { child, port }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kamailio() -> Kamailio {
    Kamailio::start(KamailioOptions {
        domain: Some("pbx.test"),
        ..Default::default()
    })
}

/// Two Kamailios for `pbx.test` and a dnsmasq publishing them as `_sip._tcp.pbx.test`, the
/// first at priority 10, the second at 20.
fn two_servers() -> (Kamailio, Kamailio, Dnsmasq) {
    let preferred = kamailio();
    let other = kamailio();
    let dns = Dnsmasq::start(&[
        format!(
            "--srv-host=_sip._tcp.pbx.test,kam1.pbx.test,{},10,50",
            preferred.port
        ),
        format!(
            "--srv-host=_sip._tcp.pbx.test,kam2.pbx.test,{},20,50",
            other.port
        ),
        "--host-record=kam1.pbx.test,127.0.0.1".into(),
        "--host-record=kam2.pbx.test,127.0.0.1".into(),
    ]);
    (preferred, other, dns)
}

fn wait_bound(kam: &Kamailio, sp: &Softphone, what: &str) {
    let end = Instant::now() + T;
    while kam.bindings("1001").is_empty() {
        assert!(Instant::now() < end, "{what}: {:?}", sp.seen);
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn srv_priorities_fail_over_and_come_back() {
    let (mut preferred, other, dns) = two_servers();
    let dns_param = format!("dnsserver=127.0.0.1:{}", dns.port);
    let mut sp = Softphone::start(&[
        "serveraddress=pbx.test",
        &dns_param,
        "transport=1",
        "username=1001",
        "password=pw1001",
        "registerinterval=20",
        "recorddevice=null",
        "playbackdevice=null",
    ]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    assert!(!preferred.bindings("1001").is_empty(), "priority 10 first");
    assert!(other.bindings("1001").is_empty());

    // The preferred server goes away: the connection drops, registration moves to the other.
    preferred.stop();
    wait_bound(&other, &sp, "no failover to the second server");

    // Calls go to the server in use.
    let work = tempfile::tempdir().expect("tempdir");
    let (theirs, _) = speech(work.path(), "theirs", "Hello from the backup.", 2);
    let _bs = Baresip::start(&other, "1002", &theirs, "PCMU");
    sp.send_line("call,1002");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
    sp.send_line("hangup,1");
    sp.wait_for(T, |l| l.starts_with("EVENT,Call on line 1 with 1002 ended"));

    // The preferred server returns: after half the registration interval we are back on it.
    preferred.launch();
    wait_bound(&preferred, &sp, "not back on the preferred server");
}

#[test]
fn naptr_chooses_tls_and_the_certificate_is_checked_against_the_domain() {
    let work = tempfile::tempdir().expect("tempdir");
    let chain = crate::tls::Chain::new(work.path());
    let secure = Kamailio::start(KamailioOptions {
        domain: Some("pbx.test"),
        tls: Some((chain.dir.join("good.pem"), chain.dir.join("good.key"))),
        ..Default::default()
    });
    let clear = kamailio();
    // The domain prefers SIP over TLS (order 10) to UDP (order 20).
    let dns = Dnsmasq::start(&[
        "--naptr-record=pbx.test,10,50,s,SIPS+D2T,,_sips._tcp.pbx.test".into(),
        "--naptr-record=pbx.test,20,50,s,SIP+D2U,,_sip._udp.pbx.test".into(),
        format!(
            "--srv-host=_sips._tcp.pbx.test,tls.pbx.test,{},10,50",
            secure.tls_port
        ),
        format!(
            "--srv-host=_sip._udp.pbx.test,udp.pbx.test,{},10,50",
            clear.port
        ),
        "--host-record=tls.pbx.test,127.0.0.1".into(),
        "--host-record=udp.pbx.test,127.0.0.1".into(),
    ]);
    let dns_param = format!("dnsserver=127.0.0.1:{}", dns.port);
    let ca = format!("tlscafile={}", chain.ca.display());
    let sp = Softphone::start(&[
        "serveraddress=pbx.test",
        &dns_param,
        &ca,
        "autotransportdetect=true",
        "username=1001",
        "password=pw1001",
        "recorddevice=null",
        "playbackdevice=null",
    ]);
    wait_bound(&secure, &sp, "not registered over TLS");
    let contact = secure.location();
    assert!(contact.contains("transport=tls"), "{contact}");
    assert!(clear.bindings("1001").is_empty());
}

#[test]
fn a_call_the_preferred_server_cannot_take_goes_to_the_next() {
    let (mut preferred, other, dns) = two_servers();
    let work = tempfile::tempdir().expect("tempdir");
    let (theirs, _) = speech(work.path(), "theirs", "Hello from the backup.", 2);
    let _bs = Baresip::start(&other, "1002", &theirs, "PCMU");
    // Without registering (nothing moves us first), the preferred server is down when we call.
    preferred.stop();
    let dns_param = format!("dnsserver=127.0.0.1:{}", dns.port);
    let mut sp = Softphone::start(&[
        "serveraddress=pbx.test",
        &dns_param,
        "transport=1",
        "register=0",
        "username=1001",
        "password=pw1001",
        "recorddevice=null",
        "playbackdevice=null",
    ]);
    sp.wait_line(T, "STATUS,-1,Ready,,1001,0,,");
    sp.send_line("call,1002");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002,"));
}
