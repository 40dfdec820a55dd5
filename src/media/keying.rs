//! How one call's media is protected, for [`super::session::MediaSession`]: clear, SRTP with
//! SDES keys, or SRTP keyed by DTLS-SRTP handshakes: one on the RTP port, and, when RTCP has
//! a port of its own (no rtcp-mux), a second one there that keys SRTCP (RFC 5764 §4.1). Until
//! a component's handshake is through, nothing RTP or RTCP goes out on it or is taken from it:
//! a call agreed encrypted never carries clear media. Sans-IO, like the session.

use crate::rtp::dtls::{DtlsError, DtlsSrtp, is_dtls};
use crate::rtp::srtp::{SrtpError, SrtpStage};
use crate::sdp::Negotiated;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// Which of the call's two sockets a datagram uses (defined here, with the protection that
/// differs per socket; the session re-exports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Rtp,
    Rtcp,
}

/// What the keying tells the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyingEvent {
    /// The RTP port's handshake keyed the call with this suite.
    Secured(String),
    /// The RTP port's handshake failed: no media can flow.
    Failed(String),
}

/// One port's protection.
#[derive(Debug, Default)]
struct Component {
    srtp: Option<SrtpStage>,
    dtls: Option<Box<DtlsSrtp>>,
}

impl Component {
    fn awaiting(&self) -> bool {
        self.dtls.is_some() && self.srtp.is_none()
    }
}

/// The call's protection: the RTP port's, and the RTCP port's when it has its own handshake.
#[derive(Debug)]
pub(super) struct Keying {
    rtp: Component,
    /// Only with DTLS-SRTP and RTCP on its own port.
    rtcp: Option<Component>,
    transmits: VecDeque<(Via, SocketAddr, Vec<u8>)>,
    events: VecDeque<KeyingEvent>,
}

/// A handshake of the agreement `n` has, started towards `peer`.
fn start_dtls(
    n: &Negotiated,
    peer: SocketAddr,
    now: Instant,
) -> Result<Option<Box<DtlsSrtp>>, DtlsError> {
    let Some(a) = &n.dtls else {
        return Ok(None);
    };
    let unspecified = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0);
    let mut dtls = DtlsSrtp::new(&a.identity, a.role, a.remote, &a.suites, unspecified)?;
    dtls.start(now, peer);
    Ok(Some(Box::new(dtls)))
}

/// Why the call's protection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KeyingError {
    #[error(transparent)]
    Srtp(#[from] SrtpError),
    #[error(transparent)]
    Dtls(#[from] DtlsError),
}

impl Keying {
    /// The protection a negotiation agreed; handshakes start towards the peer's RTP (and
    /// RTCP) address.
    pub(super) fn new(
        n: &Negotiated,
        rtcp_peer: SocketAddr,
        now: Instant,
    ) -> Result<Keying, KeyingError> {
        let rtp = Component {
            srtp: n.srtp.clone().map(SrtpStage::new).transpose()?,
            dtls: start_dtls(n, n.remote, now)?,
        };
        let rtcp = if n.dtls.is_some() && !n.rtcp_mux {
            Some(Component {
                srtp: None,
                dtls: start_dtls(n, rtcp_peer, now)?,
            })
        } else {
            None
        };
        let mut k = Keying {
            rtp,
            rtcp,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        k.flush();
        Ok(k)
    }

    /// A new negotiation: new SDES keys, or a new handshake when the peer's certificate
    /// changed; the same DTLS peer keeps its associations and keys.
    pub(super) fn update(
        &mut self,
        old: &Negotiated,
        new: &Negotiated,
        rtcp_peer: SocketAddr,
        now: Instant,
    ) -> Result<(), KeyingError> {
        match (&new.dtls, &old.dtls) {
            (Some(a), Some(b)) if a.remote == b.remote && self.rtp.dtls.is_some() => Ok(()),
            (Some(_), _) => {
                *self = Keying::new(new, rtcp_peer, now)?;
                Ok(())
            }
            (None, _) => {
                self.rtp.dtls = None;
                self.rtcp = None;
                match (&mut self.rtp.srtp, new.srtp.clone()) {
                    (Some(stage), Some(keys)) => stage.rekey(keys)?,
                    (slot, keys) => *slot = keys.map(SrtpStage::new).transpose()?,
                }
                Ok(())
            }
        }
    }

    fn component(&mut self, via: Via) -> &mut Component {
        match (via, &mut self.rtcp) {
            (Via::Rtcp, Some(c)) => c,
            _ => &mut self.rtp,
        }
    }

    /// Moves handshake output into the transmits and keys into the stages.
    fn flush(&mut self) {
        let parts = [
            (Via::Rtp, Some(&mut self.rtp)),
            (Via::Rtcp, self.rtcp.as_mut()),
        ];
        for (via, part) in parts {
            let Some(part) = part else { continue };
            let Some(dtls) = part.dtls.as_mut() else {
                continue;
            };
            while let Some((to, data)) = dtls.poll_transmit() {
                self.transmits.push_back((via, to, data));
            }
            while let Some(outcome) = dtls.poll_keys() {
                let keyed = outcome.map_err(|e| e.to_string()).and_then(|keys| {
                    let suite = keys.send.suite.name().to_string();
                    SrtpStage::new(keys)
                        .map(|stage| (stage, suite))
                        .map_err(|e| e.to_string())
                });
                match (keyed, via) {
                    (Ok((stage, suite)), Via::Rtp) => {
                        part.srtp = Some(stage);
                        self.events.push_back(KeyingEvent::Secured(suite));
                    }
                    (Ok((stage, _)), Via::Rtcp) => part.srtp = Some(stage),
                    (Err(e), Via::Rtp) => self.events.push_back(KeyingEvent::Failed(e)),
                    // Without its reports the call still talks.
                    (Err(e), Via::Rtcp) => {
                        tracing::info!("the RTCP port's DTLS-SRTP failed: {e}")
                    }
                }
            }
        }
    }

    /// A datagram on `via`'s socket that is DTLS (RFC 7983); false when it is not.
    pub(super) fn on_dtls(
        &mut self,
        now: Instant,
        via: Via,
        from: SocketAddr,
        data: &[u8],
    ) -> bool {
        if !is_dtls(data) {
            return false;
        }
        if let Some(dtls) = self.component(via).dtls.as_mut() {
            dtls.handle_datagram(now, from, data);
        }
        self.flush();
        true
    }

    /// RTP (or RTCP, `rtcp`) received on `via`, made clear: `None` when it is refused
    /// (forged, replayed, or the port not keyed yet); on a clear call the packet itself, not
    /// a copy (this is the per-packet path).
    pub(super) fn open<'a>(
        &mut self,
        via: Via,
        rtcp: bool,
        data: &'a [u8],
    ) -> Option<Cow<'a, [u8]>> {
        let part = self.component(via);
        if part.awaiting() {
            return None;
        }
        let Some(srtp) = part.srtp.as_mut() else {
            return Some(Cow::Borrowed(data));
        };
        let opened = if rtcp {
            srtp.unprotect_rtcp(data)
        } else {
            srtp.unprotect_rtp(data)
        };
        opened
            .map(Cow::Owned)
            .map_err(|e| tracing::trace!("{e}"))
            .ok()
    }

    /// What is sent on `via`, protected: RTP and RTCP go through SRTP (or not at all while
    /// the port waits for its keys); anything else (DTLS, CRLF NAT openers) as it is.
    pub(super) fn seal(&mut self, via: Via, rtcp: bool, data: Vec<u8>) -> Option<Vec<u8>> {
        if data.first().is_none_or(|b| b >> 6 != 2) {
            return Some(data);
        }
        let part = self.component(via);
        if part.awaiting() {
            return None;
        }
        let Some(srtp) = part.srtp.as_mut() else {
            return Some(data);
        };
        let sealed = if rtcp {
            srtp.protect_rtcp(&data)
        } else {
            srtp.protect_rtp(&data)
        };
        // Never sent in clear instead.
        sealed.map_err(|e| tracing::debug!("not sent: {e}")).ok()
    }

    /// The next handshake datagram to send.
    pub(super) fn poll_transmit(&mut self) -> Option<(Via, SocketAddr, Vec<u8>)> {
        self.transmits.pop_front()
    }

    /// The next thing to tell the session.
    pub(super) fn poll_event(&mut self) -> Option<KeyingEvent> {
        self.events.pop_front()
    }

    /// When a handshake wants [`Keying::handle_timeout`].
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [Some(&self.rtp), self.rtcp.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|c| c.dtls.as_ref()?.poll_timeout())
            .min()
    }

    /// Handshake retransmissions.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        for part in [Some(&mut self.rtp), self.rtcp.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(dtls) = part.dtls.as_mut() {
                dtls.handle_timeout(now);
            }
        }
        self.flush();
    }

    /// Packets refused by SRTP so far.
    pub(super) fn refused(&self) -> u64 {
        [Some(&self.rtp), self.rtcp.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|c| c.srtp.as_ref())
            .map(SrtpStage::refused)
            .sum()
    }
}
