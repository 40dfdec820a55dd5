//! The local control API (HTTP, SSE, WebSocket, the TCP and UDP line protocol) against the
//! real binary: a CRM-style client dials baresip through Kamailio, reads the call's state
//! through the query verbs and watches its events on every stream; then everything the
//! security model refuses is tried and refused, with the phone's state unchanged.

use crate::peers::{Baresip, Kamailio, KamailioOptions, Softphone, free_port, speech};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

pub(crate) const T: Duration = Duration::from_secs(20);

/// A softphone with its API on a free port: the softphone, the port and the token (from
/// `softphone --api-token`, as a user would get it).
pub(crate) fn with_api(params: &[&str]) -> (Softphone, u16, String) {
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
pub(crate) fn http(port: u16, request: &str) -> (u16, String, String) {
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
pub(crate) fn get(port: u16, path: &str, extra: &str) -> (u16, String, String) {
    http(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Connection: close\r\n\r\n"
        ),
    )
}

/// `POST path` with a body of `content_type`.
pub(crate) fn post(
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
pub(crate) fn result(answer: (u16, String, String)) -> serde_json::Value {
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
    let (status, why) = error(get(port, "/API_CallEx", &auth));
    assert_eq!(status, 501);
    assert!(why.contains("not supported by this version"), "{why}");
    // A conference needs two answered calls: refused, and says why.
    let (status, why) = error(get(port, "/API_Conf", &auth));
    assert_eq!(status, 409);
    assert!(why.contains("two answered calls"), "{why}");
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
