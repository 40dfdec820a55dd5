//! The local control API (HTTP, SSE, WebSocket, the TCP and UDP line protocol) against the
//! real binary: a CRM-style client dials baresip through Kamailio, reads the call's state
//! through the query verbs and watches its events on every stream; then everything the
//! security model refuses is tried and refused, with the phone's state unchanged.

use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, free_port, speech};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// A softphone with its API on a free port: the softphone, the port and the token (from
/// `softphone --api-token`, as a user would get it).
fn with_api(params: &[&str]) -> (Softphone, u16, String) {
    let port = free_port();
    let listen = format!("wpapilistenport={port}");
    let mut all = vec![listen.as_str()];
    all.extend_from_slice(params);
    let mut sp = Softphone::start(&all);
    sp.wait_for(T, |l| {
        l.starts_with("EVENT,Control API listening on http://127.0.0.1:")
    });
    let token = sp.cli(&["--api-token"]).trim().to_string();
    assert_eq!(token.len(), 64, "{token:?}");
    (sp, port, token)
}

/// One HTTP/1.1 request on its own connection: status, head and body.
fn http(port: u16, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(T)).expect("timeout");
    // The server may answer (413) and close before a large body is all written.
    let _ = s.write_all(request.as_bytes());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// `GET path` with the usual local headers and `extra` ones.
fn get(port: u16, path: &str, extra: &str) -> (u16, String, String) {
    http(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Connection: close\r\n\r\n"
        ),
    )
}

/// `POST path` with a body of `content_type`.
fn post(
    port: u16,
    path: &str,
    extra: &str,
    content_type: &str,
    body: &str,
) -> (u16, String, String) {
    http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: localhost:{port}\r\n{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// The `result` of a successful verb answer.
fn result(answer: (u16, String, String)) -> serde_json::Value {
    let (status, head, body) = answer;
    assert_eq!(status, 200, "{head}\n{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
    assert_eq!(v["ok"], true, "{body}");
    v["result"].clone()
}

/// Waits until `query` (a GET path) answers `want`.
fn until(port: u16, query: &str, want: serde_json::Value) {
    let end = Instant::now() + T;
    loop {
        let got = result(get(port, query, ""));
        if got == want {
            return;
        }
        assert!(Instant::now() < end, "{query}: {got} (wanted {want})");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A line-protocol client on TCP.
struct LineClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    seen: Vec<String>,
}

impl LineClient {
    fn connect(port: u16) -> LineClient {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(T)).expect("timeout");
        LineClient {
            writer: s.try_clone().expect("clone"),
            reader: BufReader::new(s),
            seen: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
    }

    /// The next line satisfying `pred` (earlier ones are kept in `seen`); `None` when the
    /// server closed the connection.
    fn wait(&mut self, pred: impl Fn(&str) -> bool) -> Option<String> {
        loop {
            let mut l = String::new();
            match self.reader.read_line(&mut l) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let l = l.trim_end().to_string();
            self.seen.push(l.clone());
            if pred(&l) {
                return Some(l);
            }
        }
    }
}

#[test]
fn a_crm_dials_holds_and_hangs_up_a_real_call_and_watches_it_on_every_stream() {
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, padded) = speech(work.path(), "theirs", "One two three four five.", 20);
    let _bs = Baresip::start(&kam, "1002", &padded, "PCMU");
    let server = format!("serveraddress={}", kam.addr());
    let udp_port = free_port();
    let udp = format!("wpapiudplistenport={udp_port}");
    let (mut sp, port, token) = with_api(&[
        &server,
        "username=1001",
        "password=pw1001",
        &udp,
        "wpapiorigins=http://127.0.0.1:8080=targets:support",
        "wpapitargets=support=1002",
        // Headless: no window to confirm a page's call in.
        "wpapiconfirm=false",
    ]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    let auth = format!("Authorization: Bearer {token}\r\n");

    // Streams first: SSE with the token as a parameter (EventSource sends no headers), a
    // WebSocket, and a line-protocol client.
    let mut sse = TcpStream::connect(("127.0.0.1", port)).expect("sse");
    sse.set_read_timeout(Some(T)).expect("timeout");
    sse.write_all(
        format!("GET /events?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
    )
    .expect("sse request");
    let mut sse = BufReader::new(sse);
    let (mut ws, _) =
        tungstenite::client::connect(format!("ws://127.0.0.1:{port}/ws?token={token}"))
            .expect("websocket");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(T)).expect("timeout");
    }
    let mut lines = LineClient::connect(port);
    lines.send(&format!("AUTH,{token}"));
    assert_eq!(lines.wait(|_| true).as_deref(), Some("OK,AUTH"));
    lines.send("IsRegistered");
    assert!(
        lines
            .wait(|l| l.starts_with("OK,"))
            .is_some_and(|l| l == "OK,IsRegistered,true"),
        "{:?}",
        lines.seen
    );

    assert_eq!(result(get(port, "/API_IsRegistered", &auth)), true);
    assert_eq!(
        result(get(port, &format!("/API_GetVersion?token={token}"), "")),
        env!("CARGO_PKG_VERSION")
    );
    // The first Poll starts this client's queue.
    assert_eq!(
        result(get(port, &format!("/Poll?client=crm&token={token}"), ""))["lines"],
        serde_json::json!([])
    );

    // Dial as JSON, the reference's verb and line addressing.
    let placed = result(post(
        port,
        "/",
        &auth,
        "application/json",
        r#"{"verb":"API_Call","line":-1,"peer":"1002"}"#,
    ));
    assert_eq!(placed, serde_json::json!({ "line": 1 }));
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002"));
    let q = |verb: &str| format!("/API_{verb}&token={token}");
    until(port, &q("GetLineStatus?line=1"), "InCall".into());
    assert_eq!(result(get(port, &q("IsInCall?"), "")), true);
    assert_eq!(
        result(get(port, &q("GetCurrentConnectedCallCount?"), "")),
        1
    );
    assert_eq!(result(get(port, &q("GetCallerID?line=-1"), "")), "1002");
    assert_eq!(result(get(port, &q("GetLine?"), "")), 1);

    // Hold by form post, positional parameters; then resume with HoldChange.
    result(post(
        port,
        "/API_Hold",
        &auth,
        "application/x-www-form-urlencoded",
        "param1=1&param2=true",
    ));
    sp.wait_line(T, "EVENT,Line 1 on hold");
    until(port, &q("IsOnHold?line=1"), true.into());
    lines.send("HoldChange,1");
    assert!(
        lines
            .wait(|l| l.starts_with("OK,") || l.starts_with("ERROR,"))
            .is_some_and(|l| l.starts_with("OK,HoldChange")),
        "{:?}",
        lines.seen
    );
    until(port, &q("IsOnHold?line=1"), false.into());
    result(get(port, &q("Dtmf?line=-1&digits=12"), ""));

    // The state snapshot: the call is there, the password is not.
    let (status, _, state) = get(port, "/state", &auth);
    assert_eq!(status, 200);
    let parsed: serde_json::Value = serde_json::from_str(&state).expect("state");
    assert_eq!(parsed["lines"]["1"]["state"], "connected", "{state}");
    assert_eq!(parsed["lines"]["1"]["peer"], "1002", "{state}");
    assert!(
        !state.contains("pw1001"),
        "the password leaked into the state: {state}"
    );

    // Hang up every line (-2).
    result(get(port, &q("Hangup?line=-2"), ""));
    sp.wait_for(T, |l| l.starts_with("CDR,1,1002"));
    until(port, &q("IsInCall?"), false.into());
    let details = result(get(port, &q("GetLastCallDetails?"), ""));
    assert_eq!(details["peer"], "1002", "{details}");

    // Every stream saw the call connect and end.
    let mut sse_seen = Vec::new();
    let end = Instant::now() + T;
    while !sse_seen
        .iter()
        .any(|l: &String| l.contains("\"state\":\"terminated\""))
    {
        assert!(Instant::now() < end, "SSE: {sse_seen:?}");
        let mut l = String::new();
        if sse.read_line(&mut l).unwrap_or(0) == 0 {
            panic!("SSE stream closed: {sse_seen:?}");
        }
        if let Some(data) = l.trim_end().strip_prefix("data: ") {
            sse_seen.push(data.to_string());
        }
    }
    assert!(
        sse_seen
            .iter()
            .any(|l| l.contains("\"type\":\"call\"") && l.contains("\"state\":\"connected\"")),
        "{sse_seen:?}"
    );
    let mut ws_seen = Vec::new();
    while !ws_seen
        .iter()
        .any(|l: &String| l.contains("\"state\":\"terminated\""))
    {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => ws_seen.push(t.to_string()),
            Ok(_) => {}
            Err(e) => panic!("websocket: {e}: {ws_seen:?}"),
        }
    }
    assert!(
        ws_seen
            .iter()
            .any(|l| l.contains("\"state\":\"connected\"")),
        "{ws_seen:?}"
    );
    assert!(
        lines.wait(|l| l.starts_with("CDR,1,1002")).is_some(),
        "{:?}",
        lines.seen
    );
    assert!(
        lines
            .seen
            .iter()
            .any(|l| l.starts_with("STATUS,1,InCall,1002")),
        "{:?}",
        lines.seen
    );
    let polled = result(get(port, &format!("/Poll?client=crm&token={token}"), ""));
    let polled: Vec<String> = serde_json::from_value(polled["lines"].clone()).expect("lines");
    assert!(
        polled.iter().any(|l| l.starts_with("STATUS,1,InCall,1002")),
        "{polled:?}"
    );
    assert!(
        polled.iter().any(|l| l.starts_with("CDR,1,1002")),
        "{polled:?}"
    );

    // A page on the allowed origin calls its named target ("support" is 1002) without knowing
    // the number, and hangs up.
    let page = format!("Origin: http://127.0.0.1:8080\r\n{auth}");
    let (status, head, body) = post(
        port,
        "/API_Call",
        &page,
        "application/x-www-form-urlencoded",
        "line=-1&peer=support",
    );
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(
        head.contains("access-control-allow-origin: http://127.0.0.1:8080"),
        "{head}"
    );
    sp.wait_for(T, |l| {
        l.starts_with("STATUS,") && l.contains(",InCall,1002,")
    });
    result(get(port, "/API_Hangup?line=-1", &page));
    sp.wait_for(T, |l| l.starts_with("CDR,") && l.contains(",1002,"));

    // UDP: a datagram after AUTH gets its answer.
    let u = UdpSocket::bind("127.0.0.1:0").expect("udp");
    u.set_read_timeout(Some(T)).expect("timeout");
    let mut buf = [0u8; 2048];
    u.send_to(b"GetVersion", ("127.0.0.1", udp_port))
        .expect("send");
    let n = u.recv(&mut buf).expect("answer");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("ERROR,401"));
    u.send_to(
        format!("AUTH,{token}\nIsRegistered").as_bytes(),
        ("127.0.0.1", udp_port),
    )
    .expect("send");
    let n = u.recv(&mut buf).expect("answer");
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        "OK,AUTH\r\nOK,IsRegistered,true"
    );
}

#[test]
fn everything_that_is_not_a_local_program_or_an_allowed_page_is_refused_and_changes_nothing() {
    let (mut sp, port, token) = with_api(&[
        "wpapiorigins=http://127.0.0.1:8080=targets:support",
        "wpapitargets=support=1002;sales=1003",
        "wpapiratelimit=20",
    ]);
    sp.wait_line(T, "START,sip");
    let auth = format!("Authorization: Bearer {token}\r\n");
    let before = get(port, "/state", &auth).2;
    let error = |answer: (u16, String, String)| -> (u16, String) {
        let v: serde_json::Value = serde_json::from_str(&answer.2).unwrap_or_default();
        (answer.0, v["error"].as_str().unwrap_or("").to_string())
    };

    // The token: none, wrong, wrong length, in the header or the query.
    assert_eq!(error(get(port, "/API_GetVersion", "")).0, 401);
    assert_eq!(
        error(get(
            port,
            "/API_GetVersion",
            "Authorization: Bearer nope\r\n"
        ))
        .0,
        401
    );
    // The same length, one digit changed.
    let last = if token.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &token[..63]);
    assert_eq!(
        error(get(port, &format!("/API_GetVersion?token={wrong}"), "")).0,
        401
    );
    let (_, head, _) = get(port, "/API_GetVersion", "");
    assert!(head.contains("www-authenticate: Bearer"), "{head}");

    // A page that rebound its name to 127.0.0.1 (Host), a foreign page (Origin), and a
    // browser request without Origin that says it came from another site.
    let foreign_host = http(
        port,
        &format!(
            "GET /API_GetVersion?token={token} HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(foreign_host.0, 403, "{}", foreign_host.2);
    let foreign = get(
        port,
        &format!("/API_Call?peer=0900123&token={token}"),
        "Origin: http://evil.example\r\n",
    );
    assert_eq!(foreign.0, 403);
    assert!(
        !foreign
            .1
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{}",
        foreign.1
    );
    let img = get(
        port,
        &format!("/API_Call?peer=0900123&token={token}"),
        "Sec-Fetch-Site: cross-site\r\n",
    );
    assert_eq!(img.0, 403, "{}", img.2);
    // The allowed page: preflight answered with its origin; it may call only "support".
    let pre = http(
        port,
        &format!(
            "OPTIONS /API_Call HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:8080\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(pre.0, 204, "{}", pre.1);
    assert!(
        pre.1
            .contains("access-control-allow-origin: http://127.0.0.1:8080"),
        "{}",
        pre.1
    );
    let page = format!("Origin: http://127.0.0.1:8080\r\n{auth}");
    let (status, why) = error(get(port, "/API_Call?peer=0900123", &page));
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("named targets"), "{why}");
    assert_eq!(error(get(port, "/API_Call?peer=sales", &page)).0, 403);
    assert_eq!(
        error(get(port, "/API_Call?peer=", &page)).0,
        403,
        "a page may not redial"
    );
    assert_eq!(
        error(get(
            port,
            "/API_SetParameter?name=serveraddress&value=evil.example",
            &page
        ))
        .0,
        403
    );
    assert_eq!(
        error(get(port, "/API_Transfer?line=1&peer=0900", &page)).0,
        403
    );
    // The page may read: a query verb with CORS headers for it.
    let (status, head, _) = get(port, "/API_IsRegistered", &page);
    assert_eq!(status, 200);
    assert!(
        head.contains("access-control-allow-origin: http://127.0.0.1:8080"),
        "{head}"
    );
    // Even a local program cannot widen the API through the API.
    assert_eq!(
        error(get(
            port,
            "/API_SetParameter?name=wpapiorigins&value=http://evil.example=any",
            &auth
        ))
        .0,
        403
    );
    assert_eq!(
        error(get(
            port,
            "/API_SaveParameter?name=wpapilistenport&value=80",
            &auth
        ))
        .0,
        403
    );

    // Verbs: unknown, not in this version, bad line, wrong method.
    assert_eq!(error(get(port, "/API_Frobnicate", &auth)).0, 404);
    let (status, why) = error(get(port, "/API_Conf", &auth));
    assert_eq!(status, 501);
    assert!(why.contains("not supported by this version"), "{why}");
    assert_eq!(error(get(port, "/API_Hangup?line=x", &auth)).0, 400);
    assert_eq!(
        error(get(port, "/API_Hangup?line=-1", &auth)).0,
        409,
        "no call to hang up"
    );
    assert_eq!(error(http(port, &format!("DELETE /API_GetVersion HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"))).0, 405);
    // Garbage and oversized bodies.
    assert_eq!(
        error(post(
            port,
            "/API_Call",
            &auth,
            "application/json",
            "{not json"
        ))
        .0,
        400
    );
    let big = "x".repeat(100 * 1024);
    assert_eq!(
        error(post(
            port,
            "/API_Call",
            &auth,
            "application/x-www-form-urlencoded",
            &big
        ))
        .0,
        413
    );
    let garbage = http(port, "GET /\x01\x02 nonsense\r\n\r\n");
    assert_eq!(garbage.0, 400, "{garbage:?}");

    // A client that sends its request head slowly is cut off.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    slow.set_read_timeout(Some(T)).expect("timeout");
    slow.write_all(b"GET /API_GetVersion HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .expect("send");
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "the slow client was kept {waited:?}"
    );
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));

    // The line protocol wants AUTH first and drops anyone who does not send it.
    let mut lines = LineClient::connect(port);
    lines.send("Call,-1,0900123");
    assert!(
        lines
            .wait(|_| true)
            .is_some_and(|l| l.starts_with("ERROR,401")),
        "{:?}",
        lines.seen
    );
    assert!(
        lines.wait(|_| true).is_none(),
        "still open: {:?}",
        lines.seen
    );
    let mut lines = LineClient::connect(port);
    lines.send(&format!("AUTH,{wrong}"));
    assert!(
        lines
            .wait(|_| true)
            .is_some_and(|l| l.starts_with("ERROR,401"))
    );

    // Nothing but loopback: the machine's other addresses have no API at all.
    if let Some(ip) = UdpSocket::bind("0.0.0.0:0")
        .and_then(|u| u.connect("10.255.255.255:9").map(|_| u))
        .and_then(|u| u.local_addr())
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
    {
        assert!(
            TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(2)).is_err(),
            "the API answered on {ip}"
        );
    }

    // The rate limit: a burst of twice the rate, then 429.
    let codes: Vec<u16> = (0..60)
        .map(|_| get(port, "/API_GetVersion", &auth).0)
        .collect();
    assert!(codes.contains(&429), "{codes:?}");
    assert!(codes.iter().take(30).all(|c| *c == 200), "{codes:?}");
    std::thread::sleep(Duration::from_millis(1200));

    // After all of it the phone is as it was, and still answers.
    let after = get(port, "/state", &auth).2;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&before).expect("state")["lines"],
        serde_json::from_str::<serde_json::Value>(&after).expect("state")["lines"]
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&before).expect("state")["params"],
        serde_json::from_str::<serde_json::Value>(&after).expect("state")["params"]
    );
    assert!(sp.is_running());
    // Nothing was dialled: the phone printed nothing about those numbers.
    let _ = sp.try_wait_for(Duration::from_millis(500), |_| false);
    assert!(
        !sp.seen
            .iter()
            .any(|l| l.contains("0900") || l.contains("STATUS,1,")),
        "{:?}",
        sp.seen
    );
}

#[test]
fn a_busy_port_leaves_the_phone_working_without_the_api() {
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = blocker.local_addr().expect("addr").port();
    let mut sp = Softphone::start(&[&format!("wpapilistenport={port}")]);
    sp.wait_for(T, |l| {
        l.starts_with(&format!(
            "WARNING,Control API: cannot listen on port {port}"
        ))
    });
    sp.wait_line(T, "START,sip");
    assert!(sp.is_running());
}

/// Serves `page` to every GET on a free 127.0.0.1 port (a web server of some origin); the
/// port.
fn serve_page(page: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                )
                .as_bytes(),
            );
        }
    });
    port
}

/// Headless Chromium driven over the DevTools protocol (a WebSocket): navigate, run script,
/// take screenshots.
struct Browser {
    child: std::process::Child,
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let profile = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let child = std::process::Command::new("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--window-size=520,360",
                &format!("--remote-debugging-port={port}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromium (Debian package chromium)");
        let end = Instant::now() + T;
        let url = loop {
            let (status, _, body) = if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                http(
                    port,
                    &format!(
                        "GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
                    ),
                )
            } else {
                (0, String::new(), String::new())
            };
            let pages: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if let Some(u) = pages
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["type"] == "page")
                .and_then(|p| p["webSocketDebuggerUrl"].as_str())
            {
                break u.to_string();
            }
            assert!(
                Instant::now() < end,
                "chromium's DevTools did not come up ({status})"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let (ws, _) = tungstenite::client::connect(url).expect("devtools");
        Browser {
            child,
            ws,
            next: 1,
            _profile: profile,
        }
    }

    /// Calls a DevTools method and returns its result.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let id = self.next;
        self.next += 1;
        let msg = serde_json::json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .expect("devtools send");
        loop {
            let m = self.ws.read().expect("devtools read");
            if let tungstenite::Message::Text(t) = m {
                let v: serde_json::Value = serde_json::from_str(&t).expect("devtools JSON");
                if v["id"] == id {
                    return v["result"].clone();
                }
            }
        }
    }

    fn eval(&mut self, expression: &str) -> serde_json::Value {
        self.call(
            "Runtime.evaluate",
            serde_json::json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )["result"]["value"]
            .clone()
    }

    /// The page's log text once it contains `text` (panics with it after the limit).
    fn wait_log(&mut self, text: &str) -> String {
        let end = Instant::now() + T;
        loop {
            let log = self.eval("document.getElementById('log').textContent");
            let log = log.as_str().unwrap_or("").to_string();
            if log.contains(text) {
                return log;
            }
            assert!(
                Instant::now() < end,
                "the page never showed {text:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn screenshot(&mut self, name: &str) -> std::path::PathBuf {
        use base64::Engine as _;
        let shot = self.call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64");
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real browser: Chromium loads the README's click-to-call page from an allowed origin,
/// its button calls the named target "support" through the API, the call reaches baresip
/// through Kamailio and the page shows the call's events; the same page from an origin that
/// is not listed gets nothing and dials nothing.
#[test]
fn a_click_to_call_page_dials_its_target_from_an_allowed_origin_and_nothing_from_another() {
    const PAGE: &str = include_str!("../../assets/click-to-call.html");
    let allowed = serve_page(PAGE);
    let foreign = serve_page(PAGE);
    let kam = Kamailio::start(KamailioOptions::default());
    let work = tempfile::tempdir().expect("tempdir");
    let (_, padded) = speech(work.path(), "theirs", "One two three four five.", 30);
    let _bs = Baresip::start(&kam, "1002", &padded, "PCMU");
    let server = format!("serveraddress={}", kam.addr());
    let origins = format!("wpapiorigins=http://127.0.0.1:{allowed}=targets:support");
    let (mut sp, port, token) = with_api(&[
        &server,
        "username=1001",
        "password=pw1001",
        &origins,
        "wpapitargets=support=1002",
        "wpapiconfirm=false",
    ]);
    sp.wait_line(T, "STATUS,-1,Registered,,1001,0,,");
    let mut browser = Browser::start();
    let open = |b: &mut Browser, origin_port: u16| {
        let url = format!(
            "http://127.0.0.1:{origin_port}/click-to-call.html#api=http://127.0.0.1:{port}&token={token}"
        );
        b.call("Page.navigate", serde_json::json!({ "url": url }));
        let end = Instant::now() + T;
        while b.eval("document.readyState") != "complete"
            || b.eval("!!document.getElementById('call')") != true
        {
            assert!(Instant::now() < end, "the page did not load");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Let EventSource connect before the click.
        std::thread::sleep(Duration::from_millis(500));
    };

    open(&mut browser, allowed);
    browser.eval("document.getElementById('call').click()");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,InCall,1002"));
    browser.wait_log("line 1: connected");
    // The API's answer and the events race each other to the page.
    browser.wait_log("Call: {\"line\":1}");
    let shot = browser.screenshot("click-to-call-allowed");
    browser.eval("document.getElementById('hangup').click()");
    sp.wait_for(T, |l| l.starts_with("CDR,1,1002"));
    browser.wait_log("line 1: terminated");

    // The same page from an origin that is not listed: the preflight is refused, so the
    // browser sends nothing, and the event stream is refused too.
    open(&mut browser, foreign);
    browser.eval("document.getElementById('call').click()");
    let log = browser.wait_log("Call: refused");
    assert!(log.contains("events: refused or closed"), "{log}");
    let refused = browser.screenshot("click-to-call-refused");
    let _ = sp.try_wait_for(Duration::from_secs(2), |_| false);
    let after_hangup = sp
        .seen
        .iter()
        .rposition(|l| l.starts_with("CDR,1,1002"))
        .expect("cdr");
    assert!(
        !sp.seen[after_hangup..]
            .iter()
            .any(|l| l.starts_with("STATUS,1,")),
        "the refused page dialled: {:?}",
        &sp.seen[after_hangup..]
    );
    for p in [shot, refused] {
        assert!(
            std::fs::metadata(&p)
                .map(|m| m.len() > 1000)
                .unwrap_or(false),
            "{}",
            p.display()
        );
    }
}

/// `wpapiconfirm` in the window: a web page's call is shown with its origin and target and
/// nothing is dialled until the user clicks; a request the API gave up on disappears.
#[test]
fn a_web_page_s_call_waits_for_the_user_s_click_in_the_window() {
    use egui_kittest::kittest::Queryable;
    use softphone::model::{Command, Event};
    let mut w = crate::gui::Fed::new(&[]);
    w.harness.run();
    w.sent();
    w.feed(Event::DialRequest {
        ticket: 7,
        origin: "https://crm.example.com".into(),
        target: "support (1002)".into(),
    });
    w.harness
        .get_by_label("https://crm.example.com asks to call support (1002)");
    assert!(w.sent().is_empty(), "nothing is sent before the click");
    w.harness.get_by_label("Allow call").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::ConfirmDial {
            ticket: 7,
            allow: true
        }]
    );
    // The engine reports the decision: the question goes away.
    w.feed(Event::DialDecision {
        ticket: 7,
        allow: true,
    });
    assert!(w.harness.query_by_label_contains("asks to call").is_none());
    // Refused, and one that timed out at the API (its decision arrives unasked).
    w.feed(Event::DialRequest {
        ticket: 8,
        origin: "http://127.0.0.1:8080".into(),
        target: "0900123".into(),
    });
    w.harness.get_by_label("Refuse").click();
    w.harness.run();
    assert_eq!(
        w.sent(),
        vec![Command::ConfirmDial {
            ticket: 8,
            allow: false
        }]
    );
    w.feed(Event::DialDecision {
        ticket: 8,
        allow: false,
    });
    w.feed(Event::DialRequest {
        ticket: 9,
        origin: "http://127.0.0.1:8080".into(),
        target: "support (1002)".into(),
    });
    w.feed(Event::DialDecision {
        ticket: 9,
        allow: false,
    });
    assert!(w.harness.query_by_label_contains("asks to call").is_none());
    assert!(w.sent().is_empty());
}

/// Headless, `wpapiconfirm` on (the default): there is no window to click in, so a page's
/// call is refused and says why; a local program still dials.
#[test]
fn without_a_window_a_web_page_s_call_that_needs_a_click_is_refused() {
    let (mut sp, port, token) = with_api(&[
        "wpapiorigins=http://127.0.0.1:8080=any",
        "serveraddress=127.0.0.1:9",
    ]);
    sp.wait_line(T, "START,sip");
    let page = format!("Origin: http://127.0.0.1:8080\r\nAuthorization: Bearer {token}\r\n");
    let (status, _, body) = get(port, "/API_Call?peer=1002", &page);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("wpapiconfirm"), "{body}");
    let (status, _, body) = get(port, &format!("/API_Call?peer=1002&token={token}"), "");
    assert_eq!(status, 200, "{body}");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,"));
}

/// The window's settings show the token's end, copy it and replace it: the API takes the new
/// one at once and the file holds it for `softphone --api-token`.
#[test]
fn the_settings_show_the_token_and_a_new_one_replaces_it_at_once() {
    use egui_kittest::kittest::Queryable;
    use softphone::api::control::token::{Token, load_or_create};
    let dir = tempfile::tempdir().expect("tempdir");
    let token = Token::load(dir.path()).expect("token");
    let old = token.current();
    let mut w = crate::gui::Fed::new(&[]);
    w.harness.state_mut().api_token = Some(token.clone());
    w.harness.run();
    w.harness.get_by_label("Settings").click();
    w.harness.run();
    w.harness.get_by_label("Control API").click();
    w.harness.run();
    w.harness
        .get_by_label(&format!("Token ending in {}", &old[60..]));
    w.harness.get_by_label("New token").click();
    w.harness.run();
    let new = token.current();
    assert_ne!(new, old);
    assert!(!token.matches(&old) && token.matches(&new));
    assert_eq!(load_or_create(dir.path()).expect("file"), new);
    w.harness
        .get_by_label(&format!("Token ending in {}", &new[60..]));
    w.harness
        .get_by_label("A new token is in use; programs need it now");
    assert!(
        w.harness.query_by_label_contains(&old[..8]).is_none(),
        "the token is shown whole"
    );
    // Without the API: says so.
    let mut off = crate::gui::Fed::new(&[]);
    off.harness.run();
    off.harness.get_by_label("Settings").click();
    off.harness.run();
    off.harness.get_by_label("Control API").click();
    off.harness.run();
    off.harness
        .get_by_label("The control API is off (wpapilistenport=0)");
}

/// Every verb of the table over HTTP, as a local program and as a page: each is served (200,
/// or 409 when the phone cannot do it now: no call, no server), says 501 when its feature is
/// not in this version, and is 403 for a page when it is for local programs only. Exit last.
#[test]
fn every_verb_in_the_table_is_served_or_says_why() {
    use softphone::api::control::verbs::{Access, VERBS, VerbKind};
    let (mut sp, port, token) = with_api(&[
        "serveraddress=127.0.0.1:9",
        "username=1001",
        "register=0",
        "wpapiorigins=http://127.0.0.1:8080=any",
        "wpapiconfirm=false",
        "wpapiratelimit=0",
    ]);
    sp.wait_line(T, "START,sip");
    let sample = |verb: &str, param: &str| -> &'static str {
        match (verb, param) {
            ("SetParameter" | "SaveParameter", "name") => "volumering",
            ("SetParameter" | "SaveParameter", "value") => "40",
            ("SetAudioDevice", "name") => "null",
            ("SetContacts", "list") => "Ada,1002",
            (_, "line") => "-1",
            (_, "peer" | "number" | "list" | "user") => "1002",
            (_, "digits") => "1",
            (_, "state" | "allow" | "start" | "now" | "loop") => "true",
            (_, "direction" | "dev") => "1",
            (_, "orbit") => "5",
            (_, "extension") => "1005",
            (_, "text") => "hello",
            (_, "status") => "Away",
            (_, "watcher") => "sip:1002@127.0.0.1",
            (_, "name") => "Ada",
            (_, "key") => "Ada",
            (_, "server") => "127.0.0.1:9",
            (_, "username") => "1001",
            (_, "volume") => "50",
            (_, "client") => "all-verbs",
            (_, "file") => "x.wav",
            _ => "",
        }
    };
    let auth = format!("Authorization: Bearer {token}\r\n");
    let page = format!("Origin: http://127.0.0.1:8080\r\n{auth}");
    let mut served = 0;
    for v in VERBS.iter().filter(|v| v.name != "Exit") {
        let query: Vec<String> = v
            .params
            .iter()
            .map(|p| format!("{p}={}", sample(v.name, p)))
            .collect();
        let path = format!("/API_{}?{}", v.name, query.join("&"));
        let (status, _, body) = get(port, &path, &auth);
        let answer: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"));
        match v.kind {
            VerbKind::NotSupported => assert_eq!(status, 501, "{path}: {body}"),
            _ => {
                assert!(matches!(status, 200 | 409), "{path}: {status} {body}");
                if status == 200 {
                    assert_eq!(answer["verb"], v.name, "{body}");
                    served += 1;
                }
            }
        }
        if v.access == Access::Local && v.kind != VerbKind::NotSupported {
            assert_eq!(get(port, &path, &page).0, 403, "{path} from a page");
        }
    }
    assert!(served >= 30, "only {served} verbs answered 200");
    assert!(sp.is_running());
    assert_eq!(get(port, "/API_Exit", &auth).0, 200);
    assert!(
        crate::peers::wait_exit(&mut sp.child, T).is_some(),
        "Exit did not stop the softphone"
    );
}

/// `linkconfirm`: a call the user must allow is placed by the engine itself once allowed
/// (the window's ConfirmDial), and not before; headless, a clicked link handed to the
/// running softphone is refused with the reason instead of dialling.
#[test]
fn a_link_that_needs_a_click_is_dialled_only_once_allowed() {
    let home = tempfile::tempdir().expect("tempdir");
    let env = crate::config::folders(home.path());
    let mut sp = Softphone::start_env(&["serveraddress=127.0.0.1:9", "linkconfirm=true"], &env);
    sp.wait_line(T, "START,sip");
    sp.send_line(r#"{"id":900,"type":"ask_to_dial","origin":"a clicked link","target":"1002","call_when_allowed":true}"#);
    sp.wait_line(
        T,
        "EVENT,Call request 900 from a clicked link: 1002; allow or refuse it in the window",
    );
    let _ = sp.try_wait_for(Duration::from_millis(500), |_| false);
    assert!(
        !sp.seen.iter().any(|l| l.starts_with("STATUS,1,")),
        "dialled before the click: {:?}",
        sp.seen
    );
    sp.send_line(r#"{"type":"confirm_dial","ticket":900,"allow":true}"#);
    sp.wait_line(T, "EVENT,Call request 900 allowed");
    sp.wait_for(T, |l| l.starts_with("STATUS,1,Setup,1002"));
    // A refused one is not dialled.
    sp.send_line("Hangup,1");
    sp.send_line(r#"{"id":901,"type":"ask_to_dial","origin":"a clicked link","target":"1003","call_when_allowed":true}"#);
    sp.send_line(r#"{"type":"confirm_dial","ticket":901,"allow":false}"#);
    sp.wait_line(T, "EVENT,Call request 901 refused");
    let _ = sp.try_wait_for(Duration::from_millis(500), |_| false);
    assert!(
        !sp.seen.iter().any(|l| l.contains(",1003,")),
        "{:?}",
        sp.seen
    );
    // A second launch with a link: headless has no window, so it is refused and says why.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_softphone"))
        .arg("sip:0900123@127.0.0.1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("second launch");
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(
        reply.contains("not calling sip:0900123@127.0.0.1: linkconfirm"),
        "{reply}"
    );
    let _ = sp.try_wait_for(Duration::from_millis(500), |_| false);
    assert!(
        !sp.seen.iter().any(|l| l.contains("0900123")),
        "{:?}",
        sp.seen
    );
}
