//! The receive jitter buffer: reorders RTP payloads by sequence number, drops duplicates and
//! late packets, holds a target delay before playout starts, and says when a frame is missing
//! so that the decoder conceals it. No clock inside: the caller pops one frame per ptime.

use std::collections::BTreeMap;

/// What the buffer gives for one playout slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Still filling up to the target delay: play silence.
    Buffering,
    /// The payload for this slot.
    Frame(Vec<u8>),
    /// This slot's packet is missing (lost or late): conceal it.
    Missing,
}

/// Counters for the per-line statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    pub duplicates: u64,
    pub late: u64,
    pub concealed: u64,
    pub overflow_drops: u64,
}

/// Reorders and paces one stream.
#[derive(Debug)]
pub struct JitterBuffer {
    /// Extended sequence number -> payload.
    packets: BTreeMap<u64, Vec<u8>>,
    /// The next extended sequence number to play; `None` until playout starts.
    next: Option<u64>,
    highest: Option<u64>,
    target: usize,
    max: usize,
    /// Slots played in a row with nothing buffered: the stream has paused.
    starved: u32,
    pub stats: JitterStats,
}

/// Empty slots in a row after which playout re-buffers (the peer paused: hold, silence
/// suppression): 200 ms.
const STARVED_RESYNC: u32 = 10;
/// A packet this far behind the playout point is a restarted stream, not a late packet.
const RESTART_DISTANCE: u64 = 100;

impl JitterBuffer {
    /// `target` frames of delay before playout; at most `max` frames held (clock drift and
    /// bursts beyond that are dropped from the oldest end).
    pub fn new(target: usize, max: usize) -> JitterBuffer {
        JitterBuffer {
            packets: BTreeMap::new(),
            next: None,
            highest: None,
            target: target.max(1),
            max: max.max(target + 1),
            starved: 0,
            stats: JitterStats::default(),
        }
    }

    /// Extends a 16-bit sequence number to 64 bits around the highest seen one.
    fn extend(&self, seq: u16) -> u64 {
        let Some(h) = self.highest else {
            return (1 << 32) + u64::from(seq);
        };
        let base = h & !0xFFFF;
        let candidates = [base.wrapping_sub(1 << 16), base, base + (1 << 16)];
        candidates
            .iter()
            .map(|b| b + u64::from(seq))
            .min_by_key(|c| c.abs_diff(h))
            .unwrap_or(base + u64::from(seq))
    }

    /// A received payload.
    pub fn push(&mut self, seq: u16, payload: Vec<u8>) {
        let ext = self.extend(seq);
        if let Some(n) = self.next
            && ext < n
        {
            if n - ext < RESTART_DISTANCE {
                self.stats.late += 1;
                return;
            }
            // The sender restarted its sequence (or jumped back): start over from this packet.
            self.reset();
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.stats.received += 1;
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.packets.insert(ext, payload);
        while self.packets.len() > self.max {
            if let Some((&k, _)) = self.packets.iter().next() {
                self.packets.remove(&k);
                self.stats.overflow_drops += 1;
                if let Some(n) = self.next.as_mut() {
                    *n = (*n).max(k + 1);
                }
            }
        }
    }

    /// Forgets the stream position: the next packets start playout anew after the target delay.
    pub fn reset(&mut self) {
        self.packets.clear();
        self.next = None;
        self.highest = None;
        self.starved = 0;
    }

    /// The frame for the next playout slot.
    pub fn pop(&mut self) -> Playout {
        if self.next.is_some() && self.packets.is_empty() {
            self.starved += 1;
            if self.starved > STARVED_RESYNC {
                // The peer stopped sending; when it resumes, its sequence numbers continue
                // from where it stopped, not from where our clock has got to.
                self.next = None;
                return Playout::Buffering;
            }
        } else {
            self.starved = 0;
        }
        let next = match self.next {
            Some(n) => n,
            None => {
                if self.packets.len() < self.target {
                    return Playout::Buffering;
                }
                match self.packets.keys().next() {
                    Some(&first) => first,
                    None => return Playout::Buffering,
                }
            }
        };
        self.next = Some(next + 1);
        match self.packets.remove(&next) {
            Some(p) => Playout::Frame(p),
            None => {
                self.stats.concealed += 1;
                Playout::Missing
            }
        }
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorders_drops_duplicates_and_reports_gaps() {
        let mut jb = JitterBuffer::new(2, 50);
        jb.push(10, vec![10]);
        assert_eq!(jb.pop(), Playout::Buffering);
        jb.push(12, vec![12]);
        jb.push(11, vec![11]);
        jb.push(11, vec![11]);
        assert_eq!(jb.stats.duplicates, 1);
        assert_eq!(jb.pop(), Playout::Frame(vec![10]));
        assert_eq!(jb.pop(), Playout::Frame(vec![11]));
        assert_eq!(jb.pop(), Playout::Frame(vec![12]));
        assert_eq!(jb.pop(), Playout::Missing);
        jb.push(13, vec![13]); // late: slot 13 was already played
        assert_eq!(jb.stats.late, 1);
        jb.push(14, vec![14]);
        assert_eq!(jb.pop(), Playout::Frame(vec![14]));
    }

    #[test]
    fn sequence_wraps_around() {
        let mut jb = JitterBuffer::new(1, 50);
        for s in [65534u16, 65535, 0, 1] {
            jb.push(s, vec![s as u8]);
        }
        let got: Vec<Playout> = (0..4).map(|_| jb.pop()).collect();
        assert_eq!(
            got,
            vec![
                Playout::Frame(vec![254]),
                Playout::Frame(vec![255]),
                Playout::Frame(vec![0]),
                Playout::Frame(vec![1])
            ]
        );
    }

    /// 30 % loss, reordering within 3 frames and duplicates, with a 3-frame target: every tick
    /// after the start gives exactly one slot (played or concealed), never a stall, and every
    /// packet that arrived in time is played.
    #[test]
    fn thirty_percent_loss_with_reordering_never_stalls() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut jb = JitterBuffer::new(3, 50);
            let mut in_flight: Vec<(u64, u16)> = Vec::new();
            let (mut played, mut concealed, mut silent_after_start) = (0, 0, 0);
            let mut started = false;
            let mut arrived = 0;
            for tick in 0..3000u64 {
                let seq = (tick as u16).wrapping_add(60000);
                if !rng.random_bool(0.3) {
                    in_flight.push((tick + rng.random_range(0..3), seq));
                    if rng.random_bool(0.05) {
                        in_flight.push((tick + 1, seq));
                    }
                }
                in_flight.sort();
                while in_flight.first().is_some_and(|(t, _)| *t <= tick) {
                    let (_, s) = in_flight.remove(0);
                    jb.push(s, vec![0; 160]);
                    arrived += 1;
                }
                match jb.pop() {
                    Playout::Frame(_) => {
                        played += 1;
                        started = true;
                    }
                    Playout::Missing => concealed += 1,
                    // Re-buffering is allowed after a long gap, but never at 30 % random loss:
                    // it would be an audible stall.
                    Playout::Buffering if started => silent_after_start += 1,
                    Playout::Buffering => {}
                }
            }
            assert_eq!(
                silent_after_start, 0,
                "seed {seed}: playout stalled (re-buffered)"
            );
            let loss = f64::from(concealed) / f64::from(played + concealed);
            assert!(
                (0.25..0.36).contains(&loss),
                "seed {seed}: concealed {loss:.3}"
            );
            assert_eq!(
                jb.stats.late, 0,
                "seed {seed}: reordering within the target is absorbed"
            );
            assert!(played + jb.len() as u32 + jb.stats.duplicates as u32 >= arrived as u32 - 3);
        }
    }

    #[test]
    fn resumes_after_the_peer_paused() {
        let mut jb = JitterBuffer::new(2, 50);
        for s in 0..10u16 {
            jb.push(s, vec![s as u8]);
        }
        for _ in 0..10 {
            assert!(matches!(jb.pop(), Playout::Frame(_)));
        }
        // Three seconds of hold: nothing arrives, playout goes on concealing, then waits.
        let pops: Vec<Playout> = (0..150).map(|_| jb.pop()).collect();
        assert!(
            pops.iter()
                .take(STARVED_RESYNC as usize)
                .all(|p| *p == Playout::Missing)
        );
        assert_eq!(pops.last(), Some(&Playout::Buffering));
        // The peer resumes with the next sequence numbers: they are played, not "late".
        for s in 10..20u16 {
            jb.push(s, vec![s as u8]);
        }
        assert_eq!(jb.pop(), Playout::Frame(vec![10]));
        assert_eq!(jb.stats.late, 0);
    }

    #[test]
    fn a_restarted_sequence_starts_over() {
        let mut jb = JitterBuffer::new(1, 50);
        for s in 5000..5010u16 {
            jb.push(s, vec![1]);
            jb.pop();
        }
        jb.push(7, vec![7]);
        assert_eq!(jb.pop(), Playout::Frame(vec![7]));
    }

    #[test]
    fn overflow_drops_the_oldest() {
        let mut jb = JitterBuffer::new(1, 4);
        for s in 0..10u16 {
            jb.push(s, vec![s as u8]);
        }
        assert_eq!(jb.len(), 4);
        assert_eq!(jb.pop(), Playout::Frame(vec![6]));
    }
}
