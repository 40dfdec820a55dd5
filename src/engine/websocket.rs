//! SIP over WebSocket, the client side (RFC 7118): the opening handshake with the `sip`
//! subprotocol, and how SIP messages and keep-alives map onto WebSocket messages. The driver's
//! connection task ([`super::net`]) owns the socket and runs the loop; this module only says
//! what to send and what a received message means.
//!
//! tokio-tungstenite does the WebSocket protocol (it is already in the build for the control
//! API's WebSocket); TLS for `wss:` is our own [`super::tls::TlsClient`] under it, so a secure
//! WebSocket is checked exactly as SIP over TLS is (`tlscafile`, `tlspin`, RFC 5922 names).

use super::tls::TlsClient;
use crate::sip::parse::MAX_MESSAGE_SIZE;
use anyhow::anyhow;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How this run's WebSocket connections are opened: the URI asked for in the handshake
/// (`ws://host[:port]/path`; its host is the SIP domain as configured, whatever address it
/// resolved to) and, for `wss:`, the TLS under it.
#[derive(Clone, Debug)]
pub(super) struct WsClient {
    pub uri: String,
    pub tls: Option<TlsClient>,
}

impl WsClient {
    /// The client for the server (or outbound proxy) named `host` (`host[:port]` as the
    /// settings give it) and the `wspath` parameter; `tls` makes it `wss:`.
    pub(super) fn new(host: &str, path: &str, tls: Option<TlsClient>) -> anyhow::Result<WsClient> {
        let host = host.trim();
        let path = path.trim();
        let path = if path.is_empty() { "/" } else { path };
        if !path.starts_with('/')
            || path
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '#')
        {
            return Err(anyhow!(
                "wspath {path:?} is not a URI path (it starts with / and has no spaces)"
            ));
        }
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(anyhow!(
                "{host:?} is not a server address for a WebSocket (host or host:port)"
            ));
        }
        let scheme = if tls.is_some() { "wss" } else { "ws" };
        Ok(WsClient {
            uri: format!("{scheme}://{host}{path}"),
            tls,
        })
    }
}

/// The WebSocket protocol's limits: a SIP message is at most [`MAX_MESSAGE_SIZE`], so a
/// server cannot make us buffer more than that for one message.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_MESSAGE_SIZE))
}

/// The opening handshake over `stream` (TCP, or TLS for `wss:`), asking for the `sip`
/// subprotocol (RFC 7118 §4.1); a server that does not agree to it is refused, as the RFC
/// asks. Errors are in words for the user.
pub(super) async fn handshake<S>(stream: S, client: &WsClient) -> Result<WebSocketStream<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = client
        .uri
        .as_str()
        .into_client_request()
        .map_err(|e| format!("{}: {e}", client.uri))?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    let opening = tokio_tungstenite::client_async_with_config(request, stream, Some(config()));
    let (socket, response) = match tokio::time::timeout(Duration::from_secs(10), opening).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            return Err(format!(
                "the WebSocket handshake for {} failed: {e}",
                client.uri
            ));
        }
        Err(_) => {
            return Err(format!(
                "the WebSocket handshake for {} timed out",
                client.uri
            ));
        }
    };
    let agreed = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("sip"));
    if !agreed {
        return Err(format!(
            "{} accepted the WebSocket but not its sip subprotocol (RFC 7118): not a SIP server",
            client.uri
        ));
    }
    Ok(socket)
}

/// What the UA hands the transport, as a WebSocket message: a SIP message as one text
/// message (binary when it is not UTF-8, RFC 7118 §5.1); a bare CRLF keep-alive, which
/// means nothing inside a WebSocket, as a WebSocket ping.
pub(super) fn outgoing(bytes: Vec<u8>) -> Message {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Message::Ping(Default::default());
    }
    match String::from_utf8(bytes) {
        Ok(text) => Message::Text(text.into()),
        Err(e) => Message::Binary(e.into_bytes().into()),
    }
}

/// What a received WebSocket message means for the connection.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Incoming {
    /// One SIP message (text or binary).
    Sip(Vec<u8>),
    /// The server closes the connection.
    Close,
    /// Pings, pongs and raw frames: the WebSocket layer's own business (tungstenite answers
    /// pings itself).
    Nothing,
}

/// Reads a received WebSocket message.
pub(super) fn incoming(msg: Message) -> Incoming {
    match msg {
        Message::Text(t) => Incoming::Sip(t.as_bytes().to_vec()),
        Message::Binary(b) => Incoming::Sip(b.to_vec()),
        Message::Close(_) => Incoming::Close,
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Incoming::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uri_is_built_from_the_server_and_the_path_and_bad_paths_are_refused() {
        let ws = WsClient::new("pbx.example.com:8080", "/ws", None).expect("ws");
        assert_eq!(ws.uri, "ws://pbx.example.com:8080/ws");
        assert_eq!(
            WsClient::new("127.0.0.1", "", None).expect("ws").uri,
            "ws://127.0.0.1/"
        );
        for bad in ["ws", "/a b", "/x#frag", "/\u{7}"] {
            assert!(WsClient::new("pbx", bad, None).is_err(), "{bad:?}");
        }
        assert!(WsClient::new("user@pbx", "/", None).is_err());
        assert!(WsClient::new("", "/", None).is_err());
    }

    #[test]
    fn sip_goes_as_text_keepalives_as_pings_and_only_sip_comes_back() {
        let invite = b"OPTIONS sip:pbx SIP/2.0\r\n\r\n".to_vec();
        assert_eq!(
            outgoing(invite.clone()),
            Message::Text(String::from_utf8(invite.clone()).expect("utf8").into())
        );
        assert!(matches!(outgoing(b"\r\n\r\n".to_vec()), Message::Ping(_)));
        assert!(matches!(outgoing(vec![b'S', 0xff]), Message::Binary(_)));
        assert_eq!(
            incoming(Message::Text("SIP/2.0 200 OK\r\n\r\n".into())),
            Incoming::Sip(b"SIP/2.0 200 OK\r\n\r\n".to_vec())
        );
        assert_eq!(
            incoming(Message::Ping(Default::default())),
            Incoming::Nothing
        );
        assert_eq!(incoming(Message::Close(None)), Incoming::Close);
    }
}
