//! The driver's sockets: UDP and a TCP listener on the signalling port, one task per TCP or
//! TLS connection (framing with [`StreamFramer`]), and sending a transmit the core produced.

use super::setup::{Endpoint, remember_port, remembered_port};
use super::tls::TlsClient;
use crate::sip::stream::{Frame, StreamFramer};
use crate::sip::transport::{Destination, Transmit, Transport};
use anyhow::{Context, anyhow};
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
}

/// A byte stream a connection task reads and writes: TCP, or TLS over TCP.
trait SipStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> SipStream for T {}

async fn open(peer: SocketAddr, connect: Connect) -> Result<Box<dyn SipStream>, String> {
    let (tcp, tls) = match connect {
        Connect::Accepted(s) => (s, None),
        Connect::Tcp | Connect::Tls(_) => {
            let tls = match connect {
                Connect::Tls(c) => Some(c),
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

/// Runs one TCP or TLS connection: connects if needed, writes what arrives on `rx`, frames
/// what is read.
pub(super) async fn run_connection(
    dest: Destination,
    connect: Connect,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    net: mpsc::UnboundedSender<NetEvent>,
) {
    let stream = match open(dest.addr, connect).await {
        Ok(s) => s,
        Err(e) => {
            let _ = net.send(NetEvent::Closed(dest, Some(e)));
            return;
        }
    };
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut framer = StreamFramer::default();
    let mut buf = vec![0u8; 16 * 1024];
    let error = loop {
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
                            Err(e) => {
                                let _ = net.send(NetEvent::Closed(dest, Some(format!("unframeable stream: {e}"))));
                                return;
                            }
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
    };
    let _ = net.send(NetEvent::Closed(dest, error));
}

/// Sends one transmit: UDP straight away; TCP and TLS over the existing connection or a new
/// one.
pub(super) async fn transmit(
    udp: &UdpSocket,
    conns: &mut HashMap<Destination, mpsc::UnboundedSender<Vec<u8>>>,
    net: &mpsc::UnboundedSender<NetEvent>,
    tls: Option<&TlsClient>,
    t: Transmit,
) -> std::io::Result<()> {
    let dest = t.dest;
    let connect = match dest.transport {
        Transport::Udp => return udp.send_to(&t.bytes, dest.addr).await.map(|_| ()),
        Transport::Tcp => Connect::Tcp,
        Transport::Tls => match tls {
            Some(c) => Connect::Tls(c.clone()),
            None => {
                return Err(std::io::Error::other(
                    "TLS is not set up (see the start-up error)",
                ));
            }
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
