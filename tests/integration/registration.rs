//! Registration against a real Kamailio, over UDP and TCP: register, refresh, unregister, wrong
//! password, no server, server restart.

use crate::peers::{Kamailio, KamailioOptions, Softphone, free_port};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

fn register_refresh_unregister(transport: &str) {
    let kam = Kamailio::start(KamailioOptions::default());
    let mut sp = Softphone::user_1001(&kam, &["registerinterval=10", transport]);
    sp.wait_line(T, "START,sip");
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    let bound = kam.bindings("1001");
    assert_eq!(bound.len(), 1, "one binding expected: {bound:?}");
    let (contact, cseq) = bound[0].clone();
    assert!(contact.contains(&format!(":{}", sp.port)), "{contact}");
    if transport.ends_with('1') {
        assert!(contact.contains("transport=tcp"), "{contact}");
    }
    // registerinterval=10: a refresh must replace the binding (higher CSeq) within ~10 s.
    let end = Instant::now() + Duration::from_secs(16);
    loop {
        let now = kam.bindings("1001");
        if now.len() == 1 && now[0].1 > cseq {
            break;
        }
        assert!(
            Instant::now() < end,
            "no refresh seen: {now:?}\n{}",
            kam.location()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Ctrl-C over TCP, SIGTERM over UDP: both unregister and exit cleanly.
    let sig = if transport.ends_with('1') {
        "INT"
    } else {
        "TERM"
    };
    let st = sp
        .stop_with(sig, Duration::from_secs(5))
        .expect("softphone exits on the signal");
    assert!(st.success(), "exit status {st:?}; stderr:\n{}", sp.stderr());
    assert!(
        sp.seen.iter().any(|l| l == "EVENT,Unregistered"),
        "{:?}",
        sp.seen
    );
    assert!(
        kam.bindings("1001").is_empty(),
        "binding left:\n{}",
        kam.location()
    );
}

#[test]
fn udp_register_refresh_unregister() {
    register_refresh_unregister("transport=0");
}

#[test]
fn tcp_register_refresh_unregister() {
    register_refresh_unregister("transport=1");
}

#[test]
fn sha256_digest_and_md5_parameter_register() {
    let kam = Kamailio::start(KamailioOptions {
        algorithm: "SHA-256",
        ..Default::default()
    });
    let server = format!("serveraddress={}", kam.addr());
    let mut sp = Softphone::start(&[&server, "username=1002", "password=pw1002", "loglevel=4"]);
    sp.wait_line(T, "STATUS,-1,Registered,,1002,0,,");
    // The SIP trace (loglevel 4) shows which algorithm answered; never the password.
    let trace = sp.wait_stderr(T, "algorithm=SHA-256");
    assert!(trace.contains("algorithm=SHA-256"), "{trace}");
    assert!(!trace.contains("pw1002"));
    drop(sp);
    // The HA1 `md5` parameter instead of the password (MD5 realm).
    let kam = Kamailio::start(KamailioOptions::default());
    let server = format!("serveraddress={}", kam.addr());
    let ha1 = softphone::sip::digest::md5_ha1("1003", "127.0.0.1", "pw1003");
    let md5 = format!("md5={ha1}");
    let mut sp = Softphone::start(&[&server, "username=1003", &md5, "realm=127.0.0.1"]);
    sp.wait_line(T, "STATUS,-1,Registered,,1003,0,,");
    assert_eq!(kam.bindings("1003").len(), 1);
}

#[test]
fn wrong_password_is_a_clear_failure() {
    let kam = Kamailio::start(KamailioOptions::default());
    let server = format!("serveraddress={}", kam.addr());
    let mut sp = Softphone::start(&[&server, "username=1001", "password=wrong"]);
    sp.wait_line(T, "STATUS,-1,Register Failed,,1001,0,,");
    let err = sp.wait_for(T, |l| l.starts_with("ERROR,"));
    assert!(
        err.starts_with(
            "ERROR,Register failed: 401 Unauthorized (credentials rejected); retrying in"
        ),
        "{err}"
    );
    assert!(kam.bindings("1001").is_empty());
    assert!(!sp.stderr().contains("pw1001") && !sp.stderr().contains("wrong"));
}

#[test]
fn no_server_retries_with_backoff() {
    // Nothing listens on this port. timer=1 scales T1 to 50 ms: timer F fires after 3.2 s,
    // and the back-off starts at 10*T1 = 0.5 s, doubling.
    let port = free_port();
    let server = format!("serveraddress=127.0.0.1:{port}");
    let mut sp = Softphone::start(&[&server, "username=1001", "password=pw1001", "timer=1"]);
    let mut delays = Vec::new();
    for _ in 0..3 {
        let err = sp.wait_for(Duration::from_secs(20), |l| {
            l.starts_with("ERROR,Register failed")
        });
        assert!(err.contains("408 Request Timeout"), "{err}");
        let secs: f64 = err
            .rsplit("retrying in ")
            .next()
            .and_then(|s| s.trim_end_matches(" s").parse().ok())
            .unwrap_or_else(|| panic!("no retry delay in {err}"));
        delays.push(secs);
    }
    assert_eq!(delays, vec![0.5, 1.0, 2.0], "back-off must double");
    // Over TCP the refused connection fails at once, without waiting for timer F.
    let start = Instant::now();
    let mut sp = Softphone::start(&[&server, "username=1001", "password=pw1001", "transport=1"]);
    let err = sp.wait_for(T, |l| l.starts_with("ERROR,Register failed"));
    assert!(
        err.contains("503 Service Unavailable (transport error)"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn server_restart_gives_reregistration() {
    for transport in ["transport=0", "transport=1"] {
        let mut kam = Kamailio::start(KamailioOptions::default());
        let server = format!("serveraddress={}", kam.addr());
        let mut sp = Softphone::start(&[
            &server,
            "username=1004",
            "password=pw1004",
            "registerinterval=10",
            "timer=2",
            transport,
        ]);
        sp.wait_line(T, "STATUS,-1,Registered,,1004,0,,");
        kam.stop();
        sp.wait_line(
            Duration::from_secs(30),
            "STATUS,-1,Register Failed,,1004,0,,",
        );
        kam.launch();
        assert!(
            kam.bindings("1004").is_empty(),
            "restarted Kamailio starts empty"
        );
        sp.wait_line(Duration::from_secs(30), "STATUS,-1,Registered,,1004,0,,");
        assert_eq!(
            kam.bindings("1004").len(),
            1,
            "{transport}: {}",
            kam.location()
        );
    }
}

#[test]
fn outbound_proxy_carries_the_register() {
    // The registrar domain has no server behind it; everything goes through the proxy.
    let kam = Kamailio::start(KamailioOptions::default());
    let proxy = format!("proxyaddress={}", kam.addr());
    let mut sp = Softphone::start(&[
        "serveraddress=127.0.0.1",
        &proxy,
        "username=1005",
        "password=pw1005",
        "loglevel=4",
    ]);
    sp.wait_line(T, "STATUS,-1,Registered,,1005,0,,");
    assert_eq!(kam.bindings("1005").len(), 1);
    let trace = sp.stderr();
    assert!(trace.contains("REGISTER sip:127.0.0.1 SIP/2.0"), "{trace}");
    assert!(
        trace.contains(&format!("Route: <sip:{};lr>", kam.addr())),
        "{trace}"
    );
}

#[test]
fn server_names_resolve_through_hickory() {
    use softphone::engine::dns::resolve_hostport;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // `localhost` comes from the hosts file; the default port is 5060.
        let a = resolve_hostport("localhost", 5060)
            .await
            .expect("localhost resolves");
        assert_eq!(
            a,
            "127.0.0.1:5060"
                .parse::<std::net::SocketAddr>()
                .expect("addr")
        );
        let a = resolve_hostport("localhost:5070", 5060)
            .await
            .expect("resolves");
        assert_eq!(a.port(), 5070);
        assert_eq!(
            resolve_hostport("[::1]:5071", 5060).await.expect("literal"),
            "[::1]:5071".parse::<std::net::SocketAddr>().expect("addr")
        );
        let err = resolve_hostport("no-such-host.invalid", 5060)
            .await
            .expect_err("must fail");
        assert!(
            format!("{err:#}").contains("no-such-host.invalid"),
            "{err:#}"
        );
        assert!(resolve_hostport("bad host", 5060).await.is_err());
    });
    // The binary reports an unresolvable server as an error line and exits.
    let mut bad = Softphone::start(&[
        "serveraddress=no-such-host.invalid",
        "username=1",
        "password=x",
    ]);
    let err = bad.wait_for(T, |l| l.starts_with("ERROR,"));
    assert!(err.contains("no-such-host.invalid"), "{err}");
    assert!(bad.terminate(Duration::from_secs(5)).is_some());
}

#[test]
fn random_signalling_port_is_chosen_once_and_remembered() {
    let kam = Kamailio::start(KamailioOptions::default());
    let config = tempfile::tempdir().expect("tempdir");
    let params: Vec<String> = [
        format!("serveraddress={}", kam.addr()),
        "username=1003".into(),
        "password=pw1003".into(),
    ]
    .into();
    let mut ports = Vec::new();
    for _ in 0..2 {
        let mut sp = Softphone::start_in(config.path(), &params);
        sp.wait_line(T, "STATUS,-1,Registered,,1003,0,,");
        let remembered = std::fs::read_to_string(config.path().join("softphone/signalingport"))
            .expect("port remembered in the config dir");
        let port: u16 = remembered.trim().parse().expect("a port number");
        let bound = kam.bindings("1003");
        assert!(
            bound[0].0.contains(&format!(":{port}")),
            "{bound:?} vs {port}"
        );
        ports.push(port);
        assert!(sp.terminate(Duration::from_secs(5)).is_some());
    }
    assert_eq!(ports[0], ports[1], "the same port on the next start");
}

#[test]
fn capability_request_reports_the_servers_answer() {
    let kam = Kamailio::start(KamailioOptions::default());
    let server = format!("serveraddress={}", kam.addr());
    // No credentials: no registration, only the OPTIONS.
    let mut sp = Softphone::start(&[&server, "capabilityrequest=true"]);
    let line = sp.wait_for(T, |l| l.starts_with("EVENT,Capability response"));
    assert_eq!(line, "EVENT,Capability response: 200 Keepalive");
    assert!(
        !sp.seen.iter().any(|l| l.contains("Registering")),
        "{:?}",
        sp.seen
    );
}
