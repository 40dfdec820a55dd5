//! Transport identities shared by the sans-IO core and the driver: which transport, which peer
//! address, and the bytes to send. The core never touches a socket; it emits [`Transmit`]s.

use std::net::SocketAddr;

pub use crate::model::Transport;

/// Where a message goes, or where one came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Destination {
    pub transport: Transport,
    pub addr: SocketAddr,
}

/// Bytes the driver must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dest: Destination,
    pub bytes: Vec<u8>,
}
