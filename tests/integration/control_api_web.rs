//! The control API where a person and a browser are involved: headless Chromium loading the
//! click-to-call page from an allowed and a foreign origin, the window asking before a web
//! page's call is dialled (`wpapiconfirm`), and the window's token settings.

use crate::control_api::{T, get, http, with_api};
use crate::peers::{Baresip, Kamailio, KamailioOptions, free_port, speech};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

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
