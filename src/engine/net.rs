//! The driver's sockets: UDP and a TCP listener on the signalling port, one task per TCP
//! connection (framing with [`StreamFramer`]), and sending a transmit the core produced.

use super::setup::{Endpoint, remember_port, remembered_port};
use crate::sip::stream::{Frame, StreamFramer};
use crate::sip::transport::{Destination, Transmit, Transport};
use anyhow::{Context, anyhow};
use rand::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::warn;

/// What connection tasks tell the driver.
#[derive(Debug)]
pub(super) enum NetEvent {
    Message(Destination, Vec<u8>),
    Ping(Destination),
    Accepted(SocketAddr, mpsc::UnboundedSender<Vec<u8>>),
    Closed(SocketAddr, Option<String>),
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

/// Runs one TCP connection: connects if needed, writes what arrives on `rx`, frames what is read.
pub(super) async fn run_connection(
    peer: SocketAddr,
    stream: Option<TcpStream>,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    net: mpsc::UnboundedSender<NetEvent>,
) {
    let stream = match stream {
        Some(s) => s,
        None => match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(peer)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let _ = net.send(NetEvent::Closed(peer, Some(e.to_string())));
                return;
            }
            Err(_) => {
                let _ = net.send(NetEvent::Closed(peer, Some("connect timed out".into())));
                return;
            }
        },
    };
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut framer = StreamFramer::default();
    let mut buf = vec![0u8; 16 * 1024];
    let dest = Destination {
        transport: Transport::Tcp,
        addr: peer,
    };
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
                                let _ = net.send(NetEvent::Closed(peer, Some(format!("unframeable stream: {e}"))));
                                return;
                            }
                        }
                    }
                }
                Err(e) => break Some(e.to_string()),
            },
            msg = rx.recv() => match msg {
                Some(bytes) => if let Err(e) = wr.write_all(&bytes).await { break Some(e.to_string()) },
                None => break None,
            },
        }
    };
    let _ = net.send(NetEvent::Closed(peer, error));
}

/// Sends one transmit: UDP straight away; TCP over the existing connection or a new one.
pub(super) async fn transmit(
    udp: &UdpSocket,
    conns: &mut HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    net: &mpsc::UnboundedSender<NetEvent>,
    t: Transmit,
) -> std::io::Result<()> {
    match t.dest.transport {
        Transport::Udp => udp.send_to(&t.bytes, t.dest.addr).await.map(|_| ()),
        Transport::Tcp => {
            let peer = t.dest.addr;
            let tx = conns.entry(peer).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_connection(peer, None, rx, net.clone()));
                tx
            });
            if tx.send(t.bytes).is_err() {
                conns.remove(&peer);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "connection closed",
                ));
            }
            Ok(())
        }
    }
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
                    if net.send(NetEvent::Accepted(peer, tx)).is_err() {
                        return;
                    }
                    tokio::spawn(run_connection(peer, Some(stream), rx, net.clone()));
                }
                Err(e) => {
                    warn!("TCP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}
