//! The receive jitter buffer: reorders RTP payloads by sequence number, drops duplicates and
//! late packets, holds a target delay before playout starts, and says when a frame is missing
//! so that the decoder conceals it. No clock inside: the caller pops one frame per ptime.
//!
//! The delay adapts: a packet that arrives after its slot was played raises the target by one
//! frame (up to the maximum) and stretches playout by one concealed frame; when for a whole
//! observation window the buffer never ran below the target, the target falls back by one
//! (down to the minimum) and the surplus frame is skipped. Running dry is an underflow, not a
//! loss: playout waits (concealing) without skipping the slot, so a sender whose clock is
//! slower than ours costs one concealed frame now and then instead of lost audio, and a faster
//! one a skipped frame per window instead of a growing delay.

use std::collections::BTreeMap;

/// What the buffer gives for one playout slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout<T = Vec<u8>> {
    /// Still filling up to the target delay: play silence.
    Buffering,
    /// The payload for this slot.
    Frame(T),
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
    /// Frames skipped to bring the delay back down to the target.
    pub shrink_drops: u64,
    /// Concealed frames inserted to raise the delay after late packets.
    pub stretches: u64,
}

/// Reorders and paces one stream.
#[derive(Debug)]
pub struct JitterBuffer<T = Vec<u8>> {
    /// Extended sequence number -> payload.
    packets: BTreeMap<u64, T>,
    /// The next extended sequence number to play; `None` until playout starts.
    next: Option<u64>,
    highest: Option<u64>,
    target: usize,
    min_target: usize,
    max_target: usize,
    /// Packets held at most (bursts beyond are dropped from the oldest end).
    capacity: usize,
    /// Slots played in a row with nothing buffered: the stream has paused.
    starved: u32,
    /// Concealed frames still to insert before the next real one.
    stretch: usize,
    /// The observation window: pops so far, the smallest depth seen, whether a packet was late.
    window_pops: u32,
    window_min_depth: usize,
    window_late: bool,
    pub stats: JitterStats,
}

/// Empty slots in a row after which playout re-buffers (the peer paused: hold, silence
/// suppression): 200 ms.
const STARVED_RESYNC: u32 = 10;
/// A packet this far behind the playout point is a restarted stream, not a late packet.
const RESTART_DISTANCE: u64 = 100;
/// Pops per observation window for shrinking the delay (5 s of 20 ms frames).
const WINDOW: u32 = 250;

impl<T> JitterBuffer<T> {
    /// Starts at `target` frames of delay, never below it, adapting up to `max_target`.
    pub fn new(target: usize, max_target: usize) -> JitterBuffer<T> {
        let min_target = target.max(1);
        let max_target = max_target.max(min_target);
        JitterBuffer {
            packets: BTreeMap::new(),
            next: None,
            highest: None,
            target: min_target,
            min_target,
            max_target,
            capacity: max_target * 2 + 10,
            starved: 0,
            stretch: 0,
            window_pops: 0,
            window_min_depth: usize::MAX,
            window_late: false,
            stats: JitterStats::default(),
        }
    }

    /// The current target delay in frames.
    pub fn target(&self) -> usize {
        self.target
    }

    /// The payload of the next slot, if it is already here: after `pop` gave `Missing`, the
    /// packet following the lost one (Opus recovers the lost frame from its FEC).
    pub fn peek_next(&self) -> Option<&T> {
        self.next.and_then(|n| self.packets.get(&n))
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
    pub fn push(&mut self, seq: u16, payload: T) {
        let ext = self.extend(seq);
        if let Some(n) = self.next
            && ext < n
        {
            if n - ext < RESTART_DISTANCE {
                self.stats.late += 1;
                self.window_late = true;
                if self.target < self.max_target {
                    self.target += 1;
                    self.stretch += 1;
                }
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
        while self.packets.len() > self.capacity {
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
        self.stretch = 0;
    }

    /// The frame for the next playout slot.
    pub fn pop(&mut self) -> Playout<T> {
        if self.next.is_some() && self.packets.is_empty() {
            self.starved += 1;
            if self.starved > STARVED_RESYNC {
                // The peer stopped sending; when it resumes, its sequence numbers continue
                // from where it stopped, not from where our clock has got to.
                self.next = None;
                return Playout::Buffering;
            }
            // Underflow: wait for the slot's packet instead of writing it off.
            self.stats.concealed += 1;
            return Playout::Missing;
        }
        self.starved = 0;
        if self.next.is_some() && self.stretch > 0 {
            self.stretch -= 1;
            self.stats.stretches += 1;
            self.stats.concealed += 1;
            return Playout::Missing;
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
        let slot = self.packets.remove(&next);
        self.observe();
        match slot {
            Some(p) => Playout::Frame(p),
            None => {
                self.stats.concealed += 1;
                Playout::Missing
            }
        }
    }

    /// Tracks the depth over a window; shrinks the delay when it was never needed.
    fn observe(&mut self) {
        self.window_min_depth = self.window_min_depth.min(self.packets.len());
        self.window_pops += 1;
        if self.window_pops < WINDOW {
            return;
        }
        if !self.window_late && self.target > self.min_target {
            self.target -= 1;
        }
        // Depth never below the target for the whole window: the surplus is not needed.
        let surplus = self.window_min_depth.saturating_sub(self.target);
        for _ in 0..surplus {
            match (self.next, self.packets.iter().next()) {
                (Some(n), Some((&first, _))) if first == n => {
                    self.packets.remove(&first);
                    self.next = Some(n + 1);
                    self.stats.shrink_drops += 1;
                }
                _ => break,
            }
        }
        self.window_pops = 0;
        self.window_min_depth = usize::MAX;
        self.window_late = false;
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
        // Running dry is an underflow: slot 13 waits for its packet.
        assert_eq!(jb.pop(), Playout::Missing);
        jb.push(13, vec![13]);
        assert_eq!(jb.pop(), Playout::Frame(vec![13]));
        // 15 is here but 14 is not: 14 is lost, and arriving afterwards it is late.
        jb.push(15, vec![15]);
        assert_eq!(jb.pop(), Playout::Missing);
        jb.push(14, vec![14]);
        assert_eq!(jb.stats.late, 1);
        // The late packet stretched the delay by one frame before 15 plays.
        assert_eq!(jb.pop(), Playout::Missing);
        assert_eq!(jb.pop(), Playout::Frame(vec![15]));
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
        let mut jb = JitterBuffer::new(1, 2); // holds 2 * 2 + 10 packets
        for s in 0..20u16 {
            jb.push(s, vec![s as u8]);
        }
        assert_eq!(jb.len(), 14);
        assert_eq!(jb.pop(), Playout::Frame(vec![6]));
    }

    #[test]
    fn late_packets_raise_the_delay_and_a_calm_network_lowers_it() {
        let mut jb = JitterBuffer::new(2, 8);
        // Packet `held` arrives `delay` ticks after the rest would have brought it.
        let run = |jb: &mut JitterBuffer, from: u16, ticks: u16, held: Option<(u16, u16)>| {
            for seq in from..from + ticks {
                if held.is_none_or(|(h, _)| h != seq) {
                    jb.push(seq, vec![1]);
                }
                if let Some((h, delay)) = held
                    && seq == h + delay
                {
                    jb.push(h, vec![1]);
                }
                jb.pop();
            }
        };
        run(&mut jb, 0, 20, None);
        assert_eq!(jb.target(), 2);
        run(&mut jb, 20, 20, Some((25, 5)));
        assert_eq!(jb.stats.late, 1);
        assert_eq!(jb.target(), 3, "raised by the late packet");
        run(&mut jb, 40, 20, Some((45, 5)));
        assert_eq!(jb.target(), 4);
        // Calm for a long while: the target comes back down to the minimum.
        run(&mut jb, 60, WINDOW as u16 * 4, None);
        assert_eq!(jb.target(), 2);
    }

    #[test]
    fn a_fast_sender_does_not_grow_the_delay() {
        // The sender's clock runs 1 % fast: 101 packets per 100 pops.
        let mut jb = JitterBuffer::new(3, 8);
        let mut seq = 0u16;
        for tick in 0..30_000u32 {
            jb.push(seq, vec![1]);
            seq = seq.wrapping_add(1);
            if tick % 100 == 0 {
                jb.push(seq, vec![1]);
                seq = seq.wrapping_add(1);
            }
            jb.pop();
        }
        assert!(jb.len() <= 8, "delay grew to {} frames", jb.len());
        assert_eq!(jb.stats.overflow_drops, 0);
        assert!(jb.stats.shrink_drops > 0);
    }

    #[test]
    fn a_slow_sender_loses_nothing() {
        // The sender's clock runs 1 % slow: 99 packets per 100 pops.
        let mut jb = JitterBuffer::new(3, 8);
        let mut seq = 0u16;
        let mut played = 0u32;
        for tick in 0..10_000u32 {
            if tick % 100 != 0 {
                jb.push(seq, vec![1]);
                seq = seq.wrapping_add(1);
            }
            if matches!(jb.pop(), Playout::Frame(_)) {
                played += 1;
            }
        }
        assert!(u32::from(seq) - played <= 8, "sent {seq}, played {played}");
        assert_eq!(jb.stats.late, 0);
    }
}
