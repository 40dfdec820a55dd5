//! RTCP (RFC 3550 §6) for one stream: reception statistics (extended highest sequence, loss,
//! interarrival jitter, Appendix A.3 and A.8), sender and receiver reports with one report
//! block, and reading the peer's report blocks to compute the round-trip time. The fixed
//! RTCP layout is small and no crate in the registries fits without pulling a whole WebRTC
//! stack, so it is written here. No clock inside: times come in as arguments.

/// NTP timestamp (seconds since 1900 in 32.32 fixed point) of a wall-clock instant.
pub fn ntp_from_unix(unix_secs: f64) -> u64 {
    let ntp = unix_secs + 2_208_988_800.0;
    let secs = ntp.floor();
    let frac = ((ntp - secs) * 4_294_967_296.0) as u64;
    ((secs as u64) << 32) | (frac & 0xFFFF_FFFF)
}

/// The middle 32 bits of an NTP timestamp (the LSR/DLSR unit, 1/65536 s).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// What we know of the stream we receive (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone, Default)]
pub struct ReceptionStats {
    pub ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    pub received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter in RTP timestamp units, scaled by 16 as in A.8.
    jitter_q4: u64,
    last_transit: Option<i64>,
    /// Middle 32 bits of the last SR's NTP time and when (our NTP) it arrived.
    last_sr: Option<(u32, u64)>,
}

impl ReceptionStats {
    /// One RTP packet: its sequence number and timestamp, and its arrival time in RTP units.
    pub fn on_rtp(&mut self, ssrc: u32, seq: u16, rtp_ts: u32, arrival_rtp: u32) {
        if self.ssrc != Some(ssrc) {
            *self = ReceptionStats {
                ssrc: Some(ssrc),
                base_seq: u32::from(seq),
                max_seq: seq,
                last_sr: self.last_sr,
                ..Default::default()
            };
        } else {
            let delta = seq.wrapping_sub(self.max_seq);
            if delta != 0 && delta < 0x8000 {
                if seq < self.max_seq {
                    self.cycles += 1 << 16;
                }
                self.max_seq = seq;
            }
        }
        self.received += 1;
        let transit = i64::from(arrival_rtp.wrapping_sub(rtp_ts) as i32);
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs();
            // J += (|D| - J) / 16, kept in units of 1/16.
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// The extended highest sequence number received.
    pub fn extended_max(&self) -> u32 {
        self.cycles + u32::from(self.max_seq)
    }

    /// Packets expected so far.
    pub fn expected(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1
    }

    /// Packets lost so far (never negative: duplicates do not make up for losses).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// Interarrival jitter in RTP timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter_q4 >> 4) as u32
    }

    /// A sender report arrived: remember its NTP time for the LSR/DLSR fields.
    pub fn on_sender_report(&mut self, ntp: u64, arrival_ntp: u64) {
        self.last_sr = Some((ntp_middle(ntp), arrival_ntp));
    }

    /// The report block about the stream we receive (RFC 3550 §6.4.1), at our NTP time `now`.
    fn report_block(&mut self, now_ntp: u64) -> Option<[u8; 24]> {
        let ssrc = self.ssrc?;
        let expected = self.expected();
        let interval_expected = expected - self.expected_prior;
        let interval_received = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let interval_lost = interval_expected.saturating_sub(interval_received);
        let fraction = (interval_lost << 8)
            .checked_div(interval_expected)
            .map_or(0, |f| f.min(255) as u8);
        let cumulative = self.lost().min(0x7F_FFFF) as u32;
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => (lsr, ntp_middle(now_ntp.saturating_sub(at))),
            None => (0, 0),
        };
        let mut b = [0u8; 24];
        b[0..4].copy_from_slice(&ssrc.to_be_bytes());
        b[4] = fraction;
        b[5..8].copy_from_slice(&cumulative.to_be_bytes()[1..]);
        b[8..12].copy_from_slice(&self.extended_max().to_be_bytes());
        b[12..16].copy_from_slice(&self.jitter().to_be_bytes());
        b[16..20].copy_from_slice(&lsr.to_be_bytes());
        b[20..24].copy_from_slice(&dlsr.to_be_bytes());
        Some(b)
    }
}

/// Builds our report: a sender report when we have sent RTP (`sent` = packets, octets, and
/// the RTP timestamp matching `now_ntp`), else a receiver report; one report block when we
/// receive a stream.
pub fn build_report(
    our_ssrc: u32,
    sent: Option<(u32, u32, u32)>,
    rx: &mut ReceptionStats,
    now_ntp: u64,
) -> Vec<u8> {
    let block = rx.report_block(now_ntp);
    let count = u8::from(block.is_some());
    let mut p = Vec::with_capacity(52);
    let (pt, body_words) = match sent {
        Some(_) => (200u8, 6 + 6 * usize::from(count)),
        None => (201u8, 1 + 6 * usize::from(count)),
    };
    p.push(0x80 | count);
    p.push(pt);
    p.extend_from_slice(&(body_words as u16).to_be_bytes());
    p.extend_from_slice(&our_ssrc.to_be_bytes());
    if let Some((packets, octets, rtp_ts)) = sent {
        p.extend_from_slice(&now_ntp.to_be_bytes());
        p.extend_from_slice(&rtp_ts.to_be_bytes());
        p.extend_from_slice(&packets.to_be_bytes());
        p.extend_from_slice(&octets.to_be_bytes());
    }
    if let Some(b) = block {
        p.extend_from_slice(&b);
    }
    p
}

/// What a received compound RTCP packet says that we use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerReport {
    /// The sender report's SSRC and NTP time, when the packet has one.
    pub sender: Option<(u32, u64)>,
    /// The round trip from the peer's report block about our stream, in 1/65536 s.
    pub rtt: Option<u32>,
    /// The peer's view of our stream: fraction lost (of 256) and cumulative lost.
    pub loss: Option<(u8, u32)>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a compound RTCP packet; report blocks about `our_ssrc` give RTT and loss at our NTP
/// time `now_ntp`. Malformed input gives `None`.
pub fn parse_compound(data: &[u8], our_ssrc: u32, now_ntp: u64) -> Option<PeerReport> {
    let mut out = PeerReport::default();
    let mut at = 0;
    let mut any = false;
    while at + 4 <= data.len() {
        let v = data[at] >> 6;
        let count = usize::from(data[at] & 0x1F);
        let pt = data[at + 1];
        let len = (usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]])) + 1) * 4;
        if v != 2 || at + len > data.len() {
            return None;
        }
        let pkt = &data[at..at + len];
        let blocks_at = match pt {
            200 => {
                let ssrc = be32(pkt, 4)?;
                let ntp = (u64::from(be32(pkt, 8)?) << 32) | u64::from(be32(pkt, 12)?);
                out.sender = Some((ssrc, ntp));
                Some(28)
            }
            201 => Some(8),
            _ => None,
        };
        if let Some(first) = blocks_at {
            for i in 0..count {
                let b = first + i * 24;
                if be32(pkt, b)? != our_ssrc {
                    continue;
                }
                let fraction = *pkt.get(b + 4)?;
                let cumulative = be32(pkt, b + 4)? & 0x00FF_FFFF;
                out.loss = Some((fraction, cumulative));
                let (lsr, dlsr) = (be32(pkt, b + 16)?, be32(pkt, b + 20)?);
                // The time since our report, less the peer's hold time (RFC 3550 §6.4.1).
                // On a fast path the peer's rounded delay can exceed what we measured: that
                // is no time, not minus a little (which would wrap to 18 hours). A report
                // naming a moment over a minute ago (or in the future) is not ours.
                let elapsed = ntp_middle(now_ntp).wrapping_sub(lsr);
                if lsr != 0 && elapsed < MAX_RTT_UNITS {
                    out.rtt = Some(elapsed.saturating_sub(dlsr));
                }
            }
        }
        any = true;
        at += len;
    }
    any.then_some(out)
}

/// The longest round trip believed, in 1/65536 s: a minute.
const MAX_RTT_UNITS: u32 = 60 * 65536;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_and_jitter_follow_rfc3550() {
        let mut rx = ReceptionStats::default();
        // 100 packets of 160 samples, every fifth lost, arrivals with +-40 units of jitter.
        for i in 0u32..100 {
            if i % 5 == 4 {
                continue;
            }
            let ts = 1000 + i * 160;
            let wobble = if i % 2 == 0 { 40 } else { 0 };
            rx.on_rtp(7, (65500u32 + i) as u16, ts, ts + 5000 + wobble);
        }
        assert_eq!(
            rx.expected(),
            99,
            "seq 65500..65598 across the wrap: {}",
            rx.extended_max()
        );
        assert_eq!(rx.received, 80);
        assert_eq!(rx.lost(), 19);
        assert!((20..=45).contains(&rx.jitter()), "jitter {}", rx.jitter());
    }

    #[test]
    fn sender_report_round_trip_gives_rtt() {
        // We send an SR at t0; the peer's RR about us arrives 0.5 s later saying it held our
        // SR for 0.2 s: the round trip is 0.3 s.
        let t0 = ntp_from_unix(1_700_000_000.0);
        let mut ours = ReceptionStats::default();
        let sr = build_report(0xAAAA, Some((50, 8000, 1234)), &mut ours, t0);
        assert_eq!(sr[1], 200);
        assert_eq!(sr.len(), 28);
        let mut peer = ReceptionStats::default();
        peer.on_rtp(0xAAAA, 1, 0, 0);
        let parsed = parse_compound(&sr, 0xBBBB, t0).unwrap();
        assert_eq!(parsed.sender, Some((0xAAAA, t0)));
        let arrival = t0 + (1u64 << 32) / 10; // 0.1 s on the way
        peer.on_sender_report(t0, arrival);
        let rr = build_report(0xBBBB, None, &mut peer, arrival + (1u64 << 32) / 5);
        assert_eq!((rr[0] & 0x1F, rr[1]), (1, 201));
        let back = arrival + (1u64 << 32) / 5 + (1u64 << 32) / 5;
        let report = parse_compound(&rr, 0xAAAA, back).unwrap();
        let rtt_ms = f64::from(report.rtt.unwrap()) * 1000.0 / 65536.0;
        assert!((rtt_ms - 300.0).abs() < 1.0, "rtt {rtt_ms}");
        assert_eq!(report.loss, Some((0, 0)));
        // On loopback the peer's rounded hold time can exceed the measured time: zero, not a
        // wrap to 18 hours.
        let early = t0 + (1u64 << 32) / 5 - (1u64 << 32) / 100;
        let report = parse_compound(&rr, 0xAAAA, early).unwrap();
        assert_eq!(report.rtt, Some(0));
        // A report naming a moment long ago (or in the future) is not believed.
        let late = back + (120u64 << 32);
        assert_eq!(parse_compound(&rr, 0xAAAA, late).unwrap().rtt, None);
        assert_eq!(
            parse_compound(&rr, 0xAAAA, t0 - (1u64 << 32)).unwrap().rtt,
            None
        );
    }

    #[test]
    fn malformed_rtcp_is_rejected() {
        assert_eq!(parse_compound(&[], 1, 0), None);
        assert_eq!(
            parse_compound(&[0x80, 200, 0, 50], 1, 0),
            None,
            "length past the end"
        );
        assert_eq!(
            parse_compound(&[0x40, 201, 0, 1, 0, 0, 0, 1], 1, 0),
            None,
            "version 1"
        );
        // A receiver report claiming a block it does not carry.
        assert_eq!(parse_compound(&[0x81, 201, 0, 1, 0, 0, 0, 1], 1, 0), None);
    }
}
