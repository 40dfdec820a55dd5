//! RTP (RFC 3550) packetisation for one outgoing stream and validation of incoming packets.
//! The fixed header is read and written by the `rtp-rs` crate. Sans-IO.

pub mod dtls;
pub mod latch;
pub mod rtcp;
pub mod srtp;

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};
use thiserror::Error;

/// Outgoing stream state: SSRC, sequence number and timestamp start at random values.
#[derive(Debug, Clone)]
pub struct RtpSender {
    pub ssrc: u32,
    seq: u16,
    timestamp: u32,
    pub payload_type: u8,
    /// Packets and payload octets sent (for RTCP sender reports).
    pub packets: u64,
    pub octets: u64,
    first: bool,
}

impl RtpSender {
    /// A stream with the given random starting values.
    pub fn new(payload_type: u8, ssrc: u32, seq: u16, timestamp: u32) -> RtpSender {
        RtpSender {
            ssrc,
            seq,
            timestamp,
            payload_type,
            packets: 0,
            octets: 0,
            first: true,
        }
    }

    /// Builds the packet carrying `payload`, then advances the timestamp by `samples`.
    pub fn packetize(&mut self, payload: &[u8], samples: u32) -> Vec<u8> {
        let packet = self.build(self.payload_type, payload, self.timestamp, self.first);
        self.first = false;
        self.timestamp = self.timestamp.wrapping_add(samples);
        packet
    }

    /// A packet of another payload type (a telephone event) at an explicit timestamp; the
    /// stream's own timestamp does not move (see [`RtpSender::skip`]).
    pub fn event(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        timestamp: u32,
        marker: bool,
    ) -> Vec<u8> {
        self.build(payload_type, payload, timestamp, marker)
    }

    /// The next audio packet carries the marker bit: the first after a silence (RFC 3551 §4.1).
    pub fn mark_next(&mut self) {
        self.first = true;
    }

    /// The timestamp the next audio packet will carry.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Advances the timestamp without sending (time spent sending events instead of audio).
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    fn build(&mut self, payload_type: u8, payload: &[u8], timestamp: u32, marker: bool) -> Vec<u8> {
        let built = RtpPacketBuilder::new()
            .payload_type(payload_type)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.seq))
            .timestamp(timestamp)
            .marked(marker)
            .payload(payload)
            .build();
        self.seq = self.seq.wrapping_add(1);
        self.packets += 1;
        self.octets += payload.len() as u64;
        // A payload type below 128 and no CSRCs cannot fail to build; an empty packet would
        // be dropped by the peer rather than crash us.
        built.unwrap_or_default()
    }
}

/// Why an incoming datagram is not usable RTP.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    #[error("not an RTP packet: {0}")]
    Malformed(String),
    #[error("unexpected payload type {0}")]
    PayloadType(u8),
}

/// One received packet's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

/// Parses and checks an incoming datagram (version 2, not RTCP).
pub fn parse(data: &[u8]) -> Result<RtpPacket, RtpError> {
    let r = RtpReader::new(data).map_err(|e| RtpError::Malformed(format!("{e:?}")))?;
    let pt = r.payload_type();
    // RTCP packet types 200-204 land on payload types 72-76 with the marker bit (RFC 5761).
    if (72..=76).contains(&pt) {
        return Err(RtpError::PayloadType(pt));
    }
    Ok(RtpPacket {
        payload_type: pt,
        seq: u16::from(r.sequence_number()),
        timestamp: r.timestamp(),
        ssrc: r.ssrc(),
        marker: r.mark(),
        payload: r.payload().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packetize_and_parse() {
        let mut s = RtpSender::new(8, 0x1234_5678, 65535, 1000);
        let a = parse(&s.packetize(&[1, 2, 3], 160)).unwrap();
        let b = parse(&s.packetize(&[4], 160)).unwrap();
        assert_eq!(
            (a.payload_type, a.seq, a.timestamp, a.ssrc, a.marker),
            (8, 65535, 1000, 0x1234_5678, true)
        );
        assert_eq!((b.seq, b.timestamp, b.marker), (0, 1160, false));
        assert_eq!(a.payload, vec![1, 2, 3]);
        assert!(parse(&[0x80, 0x00]).is_err());
        assert!(parse(b"garbage, not rtp at all").is_err());
    }
}
