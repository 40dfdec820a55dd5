//! The transaction layer (RFC 3261 §17): creates the four transaction state machines, matches
//! incoming messages to them (§17.1.3, §17.2.3 with the RFC 2543 fallback), and runs their
//! timers. Sans-IO: time comes in as an argument, bytes go out as [`Transmit`]s.

pub mod invite_client;
pub mod invite_server;
pub mod non_invite_client;
pub mod non_invite_server;
pub mod timers;

use crate::sip::headers::{CSeq, NameAddr, Via};
use crate::sip::message::{Method, SipMessage};
use crate::sip::transport::{Destination, Transmit};
use invite_client::InviteClientTransaction;
use invite_server::InviteServerTransaction;
use non_invite_client::NonInviteClientTransaction;
use non_invite_server::NonInviteServerTransaction;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;
use thiserror::Error;
use timers::TimerConfig;

/// What a single transaction state machine emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutput {
    /// Bytes for the transaction's peer.
    Transmit(Vec<u8>),
    /// A message for the transaction user.
    ToTu(SipMessage),
    /// Timer B, F or H fired.
    Timeout,
    /// The transport failed.
    TransportError,
    /// The transaction is over and can be forgotten.
    Terminated,
}

/// Identifies a transaction: the top Via branch and the method (ACK counts as INVITE on the
/// server side), plus the sent-by for server transactions (§17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxKey {
    pub branch: String,
    pub method: Method,
    pub sent_by: Option<String>,
}

/// Errors the layer reports to its user.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TxError {
    #[error("request has no Via with a branch")]
    NoBranch,
    #[error("no such transaction")]
    NoTransaction,
    #[error("a transaction with this branch exists already")]
    Duplicate,
}

/// Events for the transaction user (the UA core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEvent {
    /// A response for one of our client transactions.
    Response { key: TxKey, response: SipMessage },
    /// A new request; a server transaction was created and waits for the TU's response.
    Request {
        key: TxKey,
        request: SipMessage,
        source: Destination,
    },
    /// An ACK that matches no server transaction: the ACK for a 2xx, for the dialog layer.
    Ack {
        request: SipMessage,
        source: Destination,
    },
    /// A response that matches no client transaction (a retransmitted 2xx to an INVITE).
    StrayResponse {
        response: SipMessage,
        source: Destination,
    },
    /// Timer B/F (client) or H (server) fired.
    Timeout { key: TxKey },
    /// The transport failed for this transaction.
    TransportError { key: TxKey },
    /// The transaction is gone.
    Terminated { key: TxKey },
}

#[derive(Debug)]
enum Tx {
    Ict(InviteClientTransaction),
    Nict(NonInviteClientTransaction),
    Ist(InviteServerTransaction),
    Nist(NonInviteServerTransaction),
}

impl Tx {
    fn poll_output(&mut self) -> Option<TxOutput> {
        match self {
            Tx::Ict(t) => t.poll_output(),
            Tx::Nict(t) => t.poll_output(),
            Tx::Ist(t) => t.poll_output(),
            Tx::Nist(t) => t.poll_output(),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Tx::Ict(t) => t.poll_timeout(),
            Tx::Nict(t) => t.poll_timeout(),
            Tx::Ist(t) => t.poll_timeout(),
            Tx::Nist(t) => t.poll_timeout(),
        }
    }
    fn on_timeout(&mut self, now: Instant) {
        match self {
            Tx::Ict(t) => t.on_timeout(now),
            Tx::Nict(t) => t.on_timeout(now),
            Tx::Ist(t) => t.on_timeout(now),
            Tx::Nist(t) => t.on_timeout(now),
        }
    }
    fn on_transport_error(&mut self) {
        match self {
            Tx::Ict(t) => t.on_transport_error(),
            Tx::Nict(t) => t.on_transport_error(),
            Tx::Ist(t) => t.on_transport_error(),
            Tx::Nist(t) => t.on_transport_error(),
        }
    }
    fn is_server(&self) -> bool {
        matches!(self, Tx::Ist(_) | Tx::Nist(_))
    }
}

#[derive(Debug)]
struct Entry {
    tx: Tx,
    dest: Destination,
    /// For server transactions: From tag, Call-ID and CSeq, to detect merged requests (§8.2.2.2).
    merge_id: Option<(String, String, u32)>,
}

/// Owns every live transaction.
#[derive(Debug)]
pub struct TransactionLayer {
    timers: TimerConfig,
    entries: HashMap<TxKey, Entry>,
    events: VecDeque<LayerEvent>,
    transmits: VecDeque<Transmit>,
}

/// Where responses to a request go (RFC 3261 §18.2.2, RFC 3581): back over the same connection
/// for reliable transports; over UDP to the source address when `rport` was asked for, else to
/// the source IP at the sent-by port.
pub fn response_destination(top_via: &Via, source: Destination) -> Destination {
    if source.transport.is_reliable() || top_via.params.has("rport") {
        return source;
    }
    Destination {
        transport: source.transport,
        addr: SocketAddr::new(source.addr.ip(), top_via.port.unwrap_or(5060)),
    }
}

fn top_via(msg: &SipMessage) -> Option<Via> {
    msg.headers
        .list("Via")
        .first()
        .and_then(|v| Via::parse(v).ok())
}

fn cseq(msg: &SipMessage) -> Option<CSeq> {
    msg.headers.get("CSeq").and_then(|c| CSeq::parse(c).ok())
}

fn from_tag(msg: &SipMessage) -> String {
    msg.headers
        .get("From")
        .and_then(|f| NameAddr::parse("From", f).ok())
        .and_then(|n| n.tag().map(str::to_string))
        .unwrap_or_default()
}

/// The server transaction key of a request; ACK maps to its INVITE.
pub fn server_key(req: &SipMessage) -> Option<TxKey> {
    let via = top_via(req)?;
    let method = match req.method()? {
        Method::Ack => Method::Invite,
        m => m.clone(),
    };
    if via.has_rfc3261_branch() {
        return Some(TxKey {
            branch: via.branch()?.to_string(),
            method,
            sent_by: Some(via.sent_by()),
        });
    }
    // RFC 2543 fallback (§17.2.3): Request-URI, From tag, Call-ID, CSeq number and top Via.
    // The To tag is left out so that the ACK (which carries our tag) still matches its INVITE.
    let seq = cseq(req)?.seq;
    Some(TxKey {
        branch: format!(
            "2543|{}|{}|{}|{}|{}",
            req.request_uri()?,
            from_tag(req),
            req.headers.get("Call-ID")?,
            seq,
            via
        ),
        method,
        sent_by: Some(via.sent_by()),
    })
}

/// The client transaction key of a response: top Via branch + CSeq method (§17.1.3).
pub fn client_key(resp: &SipMessage) -> Option<TxKey> {
    let via = top_via(resp)?;
    Some(TxKey {
        branch: via.branch()?.to_string(),
        method: cseq(resp)?.method,
        sent_by: None,
    })
}

impl TransactionLayer {
    /// An empty layer with the given timer values.
    pub fn new(timers: TimerConfig) -> Self {
        TransactionLayer {
            timers,
            entries: HashMap::new(),
            events: VecDeque::new(),
            transmits: VecDeque::new(),
        }
    }

    /// The timer values in force.
    pub fn timers(&self) -> TimerConfig {
        self.timers
    }

    /// Starts a client transaction for `request` (whose top Via carries the branch). An ACK is
    /// sent as is, without a transaction, and gives `Ok(None)`.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: SipMessage,
        dest: Destination,
    ) -> Result<Option<TxKey>, TxError> {
        let method = request.method().cloned().ok_or(TxError::NoBranch)?;
        if method == Method::Ack {
            self.transmits.push_back(Transmit {
                dest,
                bytes: request.to_bytes(),
            });
            return Ok(None);
        }
        let branch = top_via(&request)
            .and_then(|v| v.branch().map(str::to_string))
            .ok_or(TxError::NoBranch)?;
        let key = TxKey {
            branch,
            method: method.clone(),
            sent_by: None,
        };
        if self.entries.contains_key(&key) {
            return Err(TxError::Duplicate);
        }
        let reliable = dest.transport.is_reliable();
        let tx = if method == Method::Invite {
            Tx::Ict(InviteClientTransaction::new(
                now,
                request,
                reliable,
                self.timers,
            ))
        } else {
            Tx::Nict(NonInviteClientTransaction::new(
                now,
                request.to_bytes(),
                reliable,
                self.timers,
            ))
        };
        self.entries.insert(
            key.clone(),
            Entry {
                tx,
                dest,
                merge_id: None,
            },
        );
        self.drain(&key);
        Ok(Some(key))
    }

    /// The TU's response for the server transaction `key`.
    pub fn send_response(
        &mut self,
        now: Instant,
        key: &TxKey,
        response: &SipMessage,
    ) -> Result<(), TxError> {
        let entry = self.entries.get_mut(key).ok_or(TxError::NoTransaction)?;
        match &mut entry.tx {
            Tx::Ist(t) => t.send_response(now, response),
            Tx::Nist(t) => t.send_response(now, response),
            _ => return Err(TxError::NoTransaction),
        }
        self.drain(key);
        Ok(())
    }

    /// Sends a response statelessly (for requests that get no transaction, like a stray ACK's
    /// peer or a request that failed to parse).
    pub fn send_stateless(&mut self, dest: Destination, response: &SipMessage) {
        self.transmits.push_back(Transmit {
            dest,
            bytes: response.to_bytes(),
        });
    }

    /// A parsed message arrived from `source`.
    pub fn on_message(&mut self, now: Instant, msg: SipMessage, source: Destination) {
        if msg.is_request() {
            self.on_request(now, msg, source);
        } else {
            self.on_response(now, msg, source);
        }
    }

    fn on_response(&mut self, now: Instant, resp: SipMessage, source: Destination) {
        let Some(key) = client_key(&resp) else {
            return;
        };
        match self.entries.get_mut(&key).map(|e| &mut e.tx) {
            Some(Tx::Ict(t)) => t.on_response(now, resp),
            Some(Tx::Nict(t)) => t.on_response(now, resp),
            _ => {
                self.events.push_back(LayerEvent::StrayResponse {
                    response: resp,
                    source,
                });
                return;
            }
        }
        self.drain(&key);
    }

    fn on_request(&mut self, now: Instant, req: SipMessage, source: Destination) {
        let Some(key) = server_key(&req) else {
            return;
        };
        let is_ack = req.method() == Some(&Method::Ack);
        if let Some(entry) = self.entries.get_mut(&key) {
            match &mut entry.tx {
                Tx::Ist(t) if is_ack => t.on_ack(now),
                Tx::Ist(t) => t.on_invite(),
                Tx::Nist(t) => t.on_request(),
                _ => {}
            }
            self.drain(&key);
            return;
        }
        if is_ack {
            self.events.push_back(LayerEvent::Ack {
                request: req,
                source,
            });
            return;
        }
        let Some(via) = top_via(&req) else {
            return;
        };
        let dest = response_destination(&via, source);
        let reliable = source.transport.is_reliable();
        let tx = if req.method() == Some(&Method::Invite) {
            Tx::Ist(InviteServerTransaction::new(&req, reliable, self.timers))
        } else {
            Tx::Nist(NonInviteServerTransaction::new(reliable, self.timers))
        };
        let merge_id = cseq(&req).and_then(|c| {
            Some((
                from_tag(&req),
                req.headers.get("Call-ID")?.to_string(),
                c.seq,
            ))
        });
        self.entries
            .insert(key.clone(), Entry { tx, dest, merge_id });
        self.events.push_back(LayerEvent::Request {
            key: key.clone(),
            request: req,
            source,
        });
        self.drain(&key);
    }

    /// True when `req` (no To tag) has the From tag, Call-ID and CSeq of another server
    /// transaction than `key`: a request that reached us twice by different paths, to be
    /// answered with 482 Loop Detected (§8.2.2.2).
    pub fn is_merged_request(&self, req: &SipMessage, key: &TxKey) -> bool {
        let to_tagged = req
            .headers
            .get("To")
            .is_some_and(crate::sip::builder::has_tag);
        if to_tagged {
            return false;
        }
        let Some(id) = cseq(req).and_then(|c| {
            Some((
                from_tag(req),
                req.headers.get("Call-ID")?.to_string(),
                c.seq,
            ))
        }) else {
            return false;
        };
        self.entries.iter().any(|(k, e)| {
            k != key
                && k.method == key.method
                && e.tx.is_server()
                && e.merge_id.as_ref() == Some(&id)
        })
    }

    /// The INVITE server transaction a CANCEL (with server key `cancel_key`) refers to.
    pub fn invite_for_cancel(&self, cancel_key: &TxKey) -> Option<TxKey> {
        let key = TxKey {
            method: Method::Invite,
            ..cancel_key.clone()
        };
        matches!(self.entries.get(&key).map(|e| &e.tx), Some(Tx::Ist(_))).then_some(key)
    }

    /// Fires every timer due at `now`.
    pub fn on_timeout(&mut self, now: Instant) {
        let due: Vec<TxKey> = self
            .entries
            .iter()
            .filter(|(_, e)| e.tx.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(e) = self.entries.get_mut(&key) {
                e.tx.on_timeout(now);
            }
            self.drain(&key);
        }
    }

    /// The transport could not reach `dest`: every transaction sending there fails.
    pub fn on_transport_error(&mut self, dest: Destination) {
        let hit: Vec<TxKey> = self
            .entries
            .iter()
            .filter(|(_, e)| e.dest == dest)
            .map(|(k, _)| k.clone())
            .collect();
        for key in hit {
            if let Some(e) = self.entries.get_mut(&key) {
                e.tx.on_transport_error();
            }
            self.drain(&key);
        }
    }

    fn drain(&mut self, key: &TxKey) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let mut terminated = false;
        while let Some(out) = entry.tx.poll_output() {
            match out {
                TxOutput::Transmit(bytes) => self.transmits.push_back(Transmit {
                    dest: entry.dest,
                    bytes,
                }),
                TxOutput::ToTu(response) => self.events.push_back(LayerEvent::Response {
                    key: key.clone(),
                    response,
                }),
                TxOutput::Timeout => self
                    .events
                    .push_back(LayerEvent::Timeout { key: key.clone() }),
                TxOutput::TransportError => self
                    .events
                    .push_back(LayerEvent::TransportError { key: key.clone() }),
                TxOutput::Terminated => terminated = true,
            }
        }
        if terminated {
            self.entries.remove(key);
            self.events
                .push_back(LayerEvent::Terminated { key: key.clone() });
        }
    }

    /// The earliest timer of all transactions.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter_map(|e| e.tx.poll_timeout())
            .min()
    }

    /// Next event for the TU.
    pub fn poll_event(&mut self) -> Option<LayerEvent> {
        self.events.pop_front()
    }

    /// Next datagram or stream write for the driver.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
