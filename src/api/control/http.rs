//! The API's HTTP face (axum on hyper's HTTP/1 server): the checks of [`super::guard`] in
//! order, then the verbs (`/API_<Verb>` or `/<Verb>` with query, form or JSON parameters,
//! or `POST /` with `{"verb": ...}`), `GET /state`, `GET /events` (Server-Sent Events) and
//! `GET /ws` (WebSocket). One TCP port serves HTTP and the line protocol: the first bytes of
//! a connection tell which.

use super::guard::{self, Caller};
use super::verbs::{VerbCall, VerbError};
use super::{Api, text};
use axum::Router;
use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Largest request body (a verb's parameters are short; a contact import is a local
/// program's business and fits).
const MAX_BODY: usize = 64 * 1024;

/// How long a client may take to send its request head, or its body.
const REQUEST_TIME: Duration = Duration::from_secs(5);

/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;

/// The router: every path goes to [`handle`], which does its own routing after the checks.
pub(super) fn router(api: Arc<Api>) -> Router {
    Router::new().fallback(handle).with_state(api)
}

/// Accepts connections, refusing anything not from this machine, and hands each to HTTP or
/// to the line protocol.
pub(super) async fn accept_loop(listener: TcpListener, api: Arc<Api>, router: Router) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("control API accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !guard::peer_allowed(&peer) {
            tracing::warn!("control API: refused a connection from {peer} (not this machine)");
            continue;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!("control API: too many connections; closed one from {peer}");
            continue;
        };
        let (api, router) = (api.clone(), router.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match sniff(&stream).await {
                Some(true) => serve_http(stream, router).await,
                Some(false) => text::tcp_session(stream, api).await,
                None => {}
            }
        });
    }
}

/// HTTP (`Some(true)`) when the connection starts with an HTTP method and a space, the line
/// protocol (`Some(false)`) otherwise; `None` when nothing came in time.
async fn sniff(stream: &TcpStream) -> Option<bool> {
    const METHODS: [&[u8]; 9] = [
        b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS", b"DELETE", b"PATCH", b"CONNECT", b"TRACE",
    ];
    let mut buf = [0u8; 8];
    let deadline = tokio::time::Instant::now() + REQUEST_TIME;
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        let seen = &buf[..n];
        if let Some(end) = seen.iter().position(|b| !b.is_ascii_uppercase()) {
            return Some(seen[end] == b' ' && METHODS.contains(&&seen[..end]));
        }
        if n == buf.len() {
            return Some(false);
        }
        // Only a prefix so far: wait a little for more.
        tokio::time::sleep(Duration::from_millis(5)).await;
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
    }
}

/// One HTTP/1 connection, with a deadline on the request head (slow-loris clients are cut
/// off) and upgrades for WebSocket.
async fn serve_http(stream: TcpStream, router: Router) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let service = hyper_util::service::TowerToHyperService::new(router);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(REQUEST_TIME)
        .max_buf_size(MAX_BODY.max(8192))
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!("control API connection: {e}");
    }
}

/// The CORS headers for an allowed web origin (nothing for a local program).
fn with_cors(mut r: Response, origin: Option<&str>) -> Response {
    if let Some(o) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    r
}

/// A JSON answer with `status`, and the CORS headers for an allowed web origin.
fn answer(status: StatusCode, body: Value, origin: Option<&str>) -> Response {
    with_cors((status, axum::Json(body)).into_response(), origin)
}

/// A refusal: `{"ok": false, "status": N, "error": "..."}`.
fn refuse(status: StatusCode, why: impl Into<String>, origin: Option<&str>) -> Response {
    let why = why.into();
    let mut r = answer(
        status,
        json!({ "ok": false, "status": status.as_u16(), "error": why }),
        origin,
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"softphone\""),
        );
    }
    r
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Query-string pairs, decoded (`+` as space); pairs that do not decode are left out.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

/// Who is asking, or why they may not: the `Host` check, then `Origin` (and browsers that
/// send no `Origin` but say where the request came from).
fn caller(api: &Api, headers: &HeaderMap) -> Result<Caller, Box<Response>> {
    if let Some(host) = header_str(headers, header::HOST)
        && !guard::host_is_loopback(host)
    {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "the Host header must be localhost, 127.0.0.1 or [::1]",
            None,
        )));
    }
    match headers.get(header::ORIGIN) {
        Some(o) => {
            let o = o.to_str().unwrap_or("");
            match api.policy.origin(o) {
                Some(rule) => Ok(Caller::Web(rule.clone())),
                None => Err(Box::new(refuse(
                    StatusCode::FORBIDDEN,
                    format!("origin {o:?} is not allowed (wpapiorigins)"),
                    None,
                ))),
            }
        }
        None => {
            // A page's <img>, <script> or link to the API carries no Origin, but the browser
            // says it came from another site.
            match header_str(headers, header::HeaderName::from_static("sec-fetch-site")) {
                Some(site) if !site.eq_ignore_ascii_case("none") => Err(Box::new(refuse(
                    StatusCode::FORBIDDEN,
                    "a browser request needs an allowed Origin",
                    None,
                ))),
                _ => Ok(Caller::Local),
            }
        }
    }
}

/// The token from `Authorization: Bearer`, else from the `token` parameter.
fn token_ok(api: &Api, headers: &HeaderMap, params: &[(String, String)]) -> bool {
    let given = header_str(headers, header::AUTHORIZATION)
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        })
        .map(str::trim)
        .or_else(|| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("token"))
                .map(|(_, v)| v.as_str())
        });
    given.is_some_and(|g| api.token.matches(g))
}

/// Parameters from a body: a form, or a JSON object (numbers and booleans as text).
pub fn body_params(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, String> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    if content_type.starts_with("application/json") {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("JSON body: {e}"))?;
        let Value::Object(map) = v else {
            return Err("JSON body: an object is needed".into());
        };
        return map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                Value::Number(n) => Ok((k, n.to_string())),
                Value::Bool(b) => Ok((k, b.to_string())),
                Value::Null => Ok((k, String::new())),
                Value::Array(items) => Ok((
                    k,
                    items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                Value::Object(_) => Err(format!("JSON body: {k} cannot be an object")),
            })
            .collect();
    }
    if content_type.starts_with("application/x-www-form-urlencoded") || content_type.is_empty() {
        return serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map_err(|e| format!("form body: {e}"));
    }
    Err(format!(
        "a body of type {content_type:?} is not understood (form or JSON)"
    ))
}

/// Every request, checks first.
async fn handle(State(api): State<Arc<Api>>, req: Request) -> Response {
    let headers = req.headers().clone();
    let caller = match caller(&api, &headers) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let origin = match &caller {
        Caller::Web(rule) => Some(rule.origin.clone()),
        Caller::Local => None,
    };
    let origin = origin.as_deref();
    if req.method() == Method::OPTIONS {
        // A browser's preflight carries no token; it only learns what it may send.
        let mut r = answer(StatusCode::NO_CONTENT, Value::Null, origin);
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        *r.body_mut() = Body::empty();
        return r;
    }
    let rate_key = origin.unwrap_or("local");
    if !api.within_rate(rate_key) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests; slow down",
            origin,
        );
    }
    let path = req.uri().path().to_string();
    let mut params = query_pairs(req.uri().query().unwrap_or(""));
    let is_ws =
        header_str(&headers, header::UPGRADE).is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    if is_ws {
        if !token_ok(&api, &headers, &params) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "the API token is missing or wrong",
                origin,
            );
        }
        return match WebSocketUpgrade::from_request(req, &api).await {
            Ok(ws) if path == "/ws" => {
                let hub = api.hub.clone();
                ws.max_message_size(MAX_BODY)
                    .on_upgrade(move |socket| websocket(socket, hub))
            }
            Ok(_) => refuse(StatusCode::NOT_FOUND, "WebSocket is served on /ws", origin),
            Err(e) => refuse(StatusCode::BAD_REQUEST, e.body_text(), origin),
        };
    }
    let method = req.method().clone();
    let content_type = header_str(&headers, header::CONTENT_TYPE)
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = match tokio::time::timeout(
        REQUEST_TIME,
        axum::body::to_bytes(req.into_body(), MAX_BODY),
    )
    .await
    {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {MAX_BODY} bytes"),
                origin,
            );
        }
        Err(_) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
                origin,
            );
        }
    };
    match body_params(&content_type, &body) {
        Ok(b) => params.extend(b),
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e, origin),
    }
    if !token_ok(&api, &headers, &params) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the API token is missing or wrong",
            origin,
        );
    }
    params.retain(|(k, _)| !k.eq_ignore_ascii_case("token"));
    if method != Method::GET && method != Method::POST {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "GET or POST", origin);
    }
    let verb = match path.trim_start_matches('/') {
        "state" => return answer(StatusCode::OK, json!(api.hub.state()), origin),
        "events" => return sse(&api, origin),
        "" | "api" => match params
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case("verb"))
        {
            Some(i) => params.remove(i).1,
            None => return refuse(StatusCode::BAD_REQUEST, "which verb? (verb=...)", origin),
        },
        p if !p.contains('/') => p.to_string(),
        _ => return refuse(StatusCode::NOT_FOUND, format!("nothing at {path}"), origin),
    };
    let call = VerbCall { verb, params };
    let name = super::verbs::find(&call.verb).map_or(call.verb.clone(), |d| d.name.to_string());
    match api.dispatch(&caller, call).await {
        Ok(result) => answer(
            StatusCode::OK,
            json!({ "ok": true, "verb": name, "result": result }),
            origin,
        ),
        Err(e) => verb_refusal(&e, origin),
    }
}

fn verb_refusal(e: &VerbError, origin: Option<&str>) -> Response {
    refuse(
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
        e.to_string(),
        origin,
    )
}

/// The typed events as Server-Sent Events (`event: <type>`, `data: <JSON>`), from now on.
fn sse(api: &Api, origin: Option<&str>) -> Response {
    use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
    let rx = api.hub.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let ev = match rx.recv().await {
            Ok(p) => SseEvent::default().data(crate::api::json::event_line(&p.event)),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => SseEvent::default()
                .event("lagged")
                .data(json!({ "missed": n }).to_string()),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(ev), rx))
    });
    let r = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    with_cors(r, origin)
}

/// The typed events as WebSocket text messages (one JSON event each), until either side
/// closes; what the client sends is not read as commands (verbs go over HTTP).
async fn websocket(mut socket: WebSocket, hub: super::Hub) {
    let mut rx = hub.subscribe();
    loop {
        tokio::select! {
            p = rx.recv() => {
                let text = match p {
                    Ok(p) => crate::api::json::event_line(&p.event),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        json!({ "type": "lagged", "missed": n }).to_string()
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if socket.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_as_forms_or_json() {
        assert_eq!(
            body_params("application/x-www-form-urlencoded", b"line=-1&peer=10+02").unwrap(),
            vec![
                ("line".to_string(), "-1".to_string()),
                ("peer".into(), "10 02".into())
            ]
        );
        assert_eq!(
            body_params(
                "application/json",
                br#"{"verb":"Call","line":-1,"peer":"1002","on":true}"#
            )
            .unwrap(),
            vec![
                ("line".to_string(), "-1".to_string()),
                ("on".into(), "true".into()),
                ("peer".into(), "1002".into()),
                ("verb".into(), "Call".into())
            ]
        );
        assert!(body_params("application/json", b"[1,2]").is_err());
        assert!(body_params("application/json", b"{\"a\":{}}").is_err());
        assert!(body_params("application/json", b"{nope").is_err());
        assert!(body_params("text/xml", b"<a/>").is_err());
    }
}
