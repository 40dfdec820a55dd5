//! The driver's sockets: UDP and a TCP listener on the signalling port, one task per TCP,
//! TLS or WebSocket connection (framing with [`StreamFramer`], or one SIP message per
//! WebSocket message), and sending a transmit the core produced.

use super::setup::{Endpoint, remember_port, remembered_port};
use super::tls::TlsClient;
use super::websocket::{Incoming, WsClient};
use crate::sip::stream::{Frame, StreamFramer};
use crate::sip::transport::{Destination, Transmit, Transport};
use anyhow::{Context, anyhow};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::warn;

/// What connection tasks tell the driver.
#[derive(Debug)]
pub(super) enum NetEvent {
    Message(Destination, Vec<u8>),
    Ping(Destination),
    Accepted(Destination, mpsc::UnboundedSender<Vec<u8>>),
    Closed(Destination, Option<String>),
}

/// Binds UDP and TCP on one port of `ip`: the one asked for, else the remembered random one,
/// else a new random one (then remembered).
pub(super) async fn bind(endpoint: &Endpoint) -> anyhow::Result<(UdpSocket, TcpListener)> {
    let try_bind = |port: u16| async move {
        let addr = SocketAddr::new(endpoint.local_ip, port);
        let udp = UdpSocket::bind(addr).await?;
        let port = udp.local_addr()?.port();
        let tcp = TcpListener::bind(SocketAddr::new(endpoint.local_ip, port)).await?;
        Ok::<_, std::io::Error>((udp, tcp))
    };
    if endpoint.port != 0 {
        return try_bind(endpoint.port)
            .await
            .with_context(|| format!("binding SIP port {}", endpoint.port));
    }
    if let Some(port) = remembered_port()
        && let Ok(s) = try_bind(port).await
    {
        return Ok(s);
    }
    let mut last = None;
    for _ in 0..20 {
        let port = rand::rng().random_range(10_000..60_000);
        match try_bind(port).await {
            Ok(s) => {
                if let Err(e) = remember_port(port) {
                    warn!("could not remember the signalling port: {e:#}");
                }
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow!("no free SIP port found: {last:?}"))
}

/// How a connection task gets its stream.
pub(super) enum Connect {
    /// A TCP connection the listener accepted.
    Accepted(TcpStream),
    /// A new TCP connection to the destination.
    Tcp,
    /// A new TCP connection with TLS on it.
    Tls(TlsClient),
    /// A new WebSocket (RFC 7118) to the server, over TCP or TLS.
    WebSocket(WsClient),
}

/// A byte stream a connection task reads and writes: TCP, or TLS over TCP.
trait SipStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> SipStream for T {}

async fn open(peer: SocketAddr, connect: Connect) -> Result<Box<dyn SipStream>, String> {
    let (tcp, tls) = match connect {
        Connect::Accepted(s) => (s, None),
        Connect::Tcp | Connect::Tls(_) | Connect::WebSocket(_) => {
            let tls = match connect {
                Connect::Tls(c) => Some(c),
                Connect::WebSocket(ws) => ws.tls,
                _ => None,
            };
            match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(peer)).await {
                Ok(Ok(s)) => (s, tls),
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("connect timed out".into()),
            }
        }
    };
    let _ = tcp.set_nodelay(true);
    let Some(client) = tls else {
        return Ok(Box::new(tcp));
    };
    let handshake = client.connector.connect(client.server_name.clone(), tcp);
    match tokio::time::timeout(Duration::from_secs(10), handshake).await {
        Ok(Ok(s)) => Ok(Box::new(s)),
        Ok(Err(e)) => Err(super::tls::describe(&e)),
        Err(_) => Err("the TLS handshake timed out".into()),
    }
}

/// Runs one TCP, TLS or WebSocket connection: connects if needed, writes what arrives on
/// `rx`, frames what is read.
pub(super) async fn run_connection(
    dest: Destination,
    connect: Connect,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    net: mpsc::UnboundedSender<NetEvent>,
) {
    let ws = match &connect {
        Connect::WebSocket(ws) => Some(ws.clone()),
        _ => None,
    };
    let stream = match open(dest.addr, connect).await {
        Ok(s) => s,
        Err(e) => {
            let _ = net.send(NetEvent::Closed(dest, Some(e)));
            return;
        }
    };
    let error = match ws {
        Some(ws) => websocket_session(stream, &ws, dest, rx, &net).await,
        None => stream_session(stream, dest, rx, &net).await,
    };
    let _ = net.send(NetEvent::Closed(dest, error));
}

/// A WebSocket connection after its TCP (and TLS) is up: the handshake, then one SIP
/// message per WebSocket message both ways. Gives the error that ended it, if any.
async fn websocket_session(
    stream: Box<dyn SipStream>,
    ws: &WsClient,
    dest: Destination,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    net: &mpsc::UnboundedSender<NetEvent>,
) -> Option<String> {
    let mut socket = match super::websocket::handshake(stream, ws).await {
        Ok(s) => s,
        Err(e) => return Some(e),
    };
    loop {
        tokio::select! {
            read = socket.next() => match read.map(|r| r.map(super::websocket::incoming)) {
                Some(Ok(Incoming::Sip(m))) => { let _ = net.send(NetEvent::Message(dest, m)); }
                Some(Ok(Incoming::Nothing)) => {}
                Some(Ok(Incoming::Close)) | None => return None,
                Some(Err(e)) => return Some(e.to_string()),
            },
            msg = rx.recv() => match msg {
                Some(bytes) => if let Err(e) = socket.send(super::websocket::outgoing(bytes)).await {
                    return Some(e.to_string());
                },
                None => {
                    let _ = socket.close(None).await;
                    return None;
                }
            },
        }
    }
}

/// A TCP or TLS connection: SIP framed by Content-Length, CRLF keep-alives (RFC 5626).
/// Gives the error that ended it, if any.
async fn stream_session(
    stream: Box<dyn SipStream>,
    dest: Destination,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    net: &mpsc::UnboundedSender<NetEvent>,
) -> Option<String> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut framer = StreamFramer::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = rd.read(&mut buf) => match read {
                Ok(0) => break None,
                Ok(n) => {
                    framer.push(&buf[..n]);
                    loop {
                        match framer.next_frame() {
                            Ok(Some(Frame::Message(m))) => { let _ = net.send(NetEvent::Message(dest, m)); }
                            Ok(Some(Frame::Ping)) => { let _ = net.send(NetEvent::Ping(dest)); }
                            Ok(Some(Frame::Pong)) => {}
                            Ok(None) => break,
                            Err(e) => return Some(format!("unframeable stream: {e}")),
                        }
                    }
                }
                Err(e) => break Some(e.to_string()),
            },
            msg = rx.recv() => match msg {
                Some(bytes) => if let Err(e) = async { wr.write_all(&bytes).await?; wr.flush().await }.await { break Some(e.to_string()) },
                None => break None,
            },
        }
    }
}

/// How this run opens its connections: TLS for `transport=2`, the WebSocket for 6/7; `None`
/// when not in use or not set up (said at start).
#[derive(Debug, Default)]
pub(super) struct Connectors {
    pub tls: Option<TlsClient>,
    pub websocket: Option<WsClient>,
}

/// Sends one transmit: UDP straight away; TCP, TLS and WebSocket over the existing connection
/// or a new one.
pub(super) async fn transmit(
    udp: &UdpSocket,
    conns: &mut HashMap<Destination, mpsc::UnboundedSender<Vec<u8>>>,
    net: &mpsc::UnboundedSender<NetEvent>,
    connectors: &Connectors,
    t: Transmit,
) -> std::io::Result<()> {
    let dest = t.dest;
    let not_set_up = |what: &str| {
        std::io::Error::other(format!("{what} is not set up (see the start-up error)"))
    };
    let connect = match dest.transport {
        Transport::Udp => return udp.send_to(&t.bytes, dest.addr).await.map(|_| ()),
        Transport::Tcp => Connect::Tcp,
        Transport::Tls => match &connectors.tls {
            Some(c) => Connect::Tls(c.clone()),
            None => return Err(not_set_up("TLS")),
        },
        Transport::Ws | Transport::Wss => match &connectors.websocket {
            Some(ws) => Connect::WebSocket(ws.clone()),
            None => return Err(not_set_up("The WebSocket")),
        },
    };
    let tx = conns.entry(dest).or_insert_with(|| {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run_connection(dest, connect, rx, net.clone()));
        tx
    });
    if tx.send(t.bytes).is_err() {
        conns.remove(&dest);
        return Err(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "connection closed",
        ));
    }
    Ok(())
}

/// Accepts TCP connections on `listener` until aborted; each gets a task of its own.
pub(super) fn accept_connections(
    listener: TcpListener,
    net: mpsc::UnboundedSender<NetEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let dest = Destination {
                        transport: Transport::Tcp,
                        addr: peer,
                    };
                    if net.send(NetEvent::Accepted(dest, tx)).is_err() {
                        return;
                    }
                    tokio::spawn(run_connection(
                        dest,
                        Connect::Accepted(stream),
                        rx,
                        net.clone(),
                    ));
                }
                Err(e) => {
                    warn!("TCP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}
