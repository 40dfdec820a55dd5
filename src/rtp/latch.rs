//! Which source a call's RTP is taken from (symmetric RTP, RFC 4961, made safe). Anyone who
//! guesses our RTP port can send packets with the right payload type; without a rule the first
//! or latest sender would be heard. The rule, sans-IO (time is an input):
//!
//! - Before anything is latched, a packet from the address the far end signalled in its SDP is
//!   taken at once. From anywhere else (the far end behind a NAT sends from another address)
//!   a source is taken only once it has sent [`PROBATION`] packets in sequence with one SSRC:
//!   a stream, not a stray packet.
//! - Once latched, packets from any other source are dropped and counted (the first drop is
//!   reported), with one exception: when the latched source has been silent for [`SILENCE`]
//!   and the new source carries on the same SSRC with the next sequence numbers (a NAT that
//!   rebound the far end's port), the call moves to it.
//! - A new signalled address (a re-INVITE) starts over.
//!
//! Tested on a virtual clock in `tests/integration/rtp_latch.rs`, and against a real injector
//! during a call with baresip in `tests/integration/rtp_injection.rs`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Packets in sequence a source other than the signalled one must send before it is taken.
pub const PROBATION: u32 = 3;
/// How long the latched source must be silent before another one may take over.
pub const SILENCE: Duration = Duration::from_secs(2);
/// How far ahead a sequence number may jump and still continue a stream (packets lost in
/// between).
const MAX_SEQ_GAP: u16 = 100;

/// A stream seen: where from, its SSRC, its last sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stream {
    source: SocketAddr,
    ssrc: u32,
    seq: u16,
}

impl Stream {
    /// Whether `seq` follows this stream's last packet.
    fn continues(&self, ssrc: u32, seq: u16) -> bool {
        let gap = seq.wrapping_sub(self.seq);
        ssrc == self.ssrc && (1..=MAX_SEQ_GAP).contains(&gap)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Nothing taken yet; a source other than the signalled one on probation.
    Learning { candidate: Option<(Stream, u32)> },
    /// Media comes from `stream`, last heard at `heard`.
    Latched { stream: Stream, heard: Instant },
}

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Play it. `new_stream`: a stream other than the one before (the jitter buffer starts
    /// over); `source`: where our RTP goes from now on.
    Accept {
        new_stream: bool,
        source: SocketAddr,
    },
    /// Drop it; `first` is the first drop of the call (worth reporting once).
    Drop { first: bool },
}

/// The latch of one call's RTP.
#[derive(Debug, Clone)]
pub struct RtpLatch {
    signalled: SocketAddr,
    state: State,
    dropped: u64,
}

impl RtpLatch {
    /// A latch for a far end that signalled `signalled` as its media address.
    pub fn new(signalled: SocketAddr) -> RtpLatch {
        RtpLatch {
            signalled,
            state: State::Learning { candidate: None },
            dropped: 0,
        }
    }

    /// The far end signalled another address: learn again.
    pub fn resignal(&mut self, signalled: SocketAddr) {
        if signalled != self.signalled {
            self.signalled = signalled;
            self.state = State::Learning { candidate: None };
        }
    }

    /// Where our RTP goes: the latched source, else the signalled address.
    pub fn destination(&self) -> SocketAddr {
        match &self.state {
            State::Latched { stream, .. } => stream.source,
            State::Learning { .. } => self.signalled,
        }
    }

    /// Whether `from` is where the call's media comes from (for RTCP, whose reports are
    /// taken from the same host only).
    pub fn is_peer_host(&self, from: SocketAddr) -> bool {
        from.ip() == self.destination().ip()
    }

    /// Packets dropped because they came from another source.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn drop_packet(&mut self) -> Verdict {
        self.dropped += 1;
        Verdict::Drop {
            first: self.dropped == 1,
        }
    }

    /// Judges a packet (already checked to carry a negotiated payload type) that arrived
    /// `from` at `now`.
    pub fn check(&mut self, now: Instant, from: SocketAddr, ssrc: u32, seq: u16) -> Verdict {
        let seen = Stream {
            source: from,
            ssrc,
            seq,
        };
        match &mut self.state {
            State::Learning { candidate } => {
                let count = match candidate {
                    Some((c, n)) if c.source == from && c.continues(ssrc, seq) => *n + 1,
                    _ => 1,
                };
                if from != self.signalled && count < PROBATION {
                    *candidate = Some((seen, count));
                    return Verdict::Drop { first: false };
                }
                self.state = State::Latched {
                    stream: seen,
                    heard: now,
                };
                Verdict::Accept {
                    new_stream: true,
                    source: from,
                }
            }
            State::Latched { stream, heard } => {
                if from == stream.source {
                    let new_stream = ssrc != stream.ssrc;
                    *stream = seen;
                    *heard = now;
                    return Verdict::Accept {
                        new_stream,
                        source: from,
                    };
                }
                if now.saturating_duration_since(*heard) >= SILENCE && stream.continues(ssrc, seq) {
                    // The same stream from a new address: a NAT rebinding.
                    *stream = seen;
                    *heard = now;
                    return Verdict::Accept {
                        new_stream: false,
                        source: from,
                    };
                }
                self.drop_packet()
            }
        }
    }
}
