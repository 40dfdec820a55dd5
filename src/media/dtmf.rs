//! RFC 4733 telephone events: a sender that turns a digit string into event payloads, one
//! decision per 20 ms tick (100 ms tones, three end packets, 60 ms gaps, 500 ms per space), and
//! a receiver that reports each digit once, at its end packet. No clock inside.

use std::collections::VecDeque;

/// Ticks of a tone, of the gap after it, and of a pause (space).
const TONE_TICKS: u32 = 5;
const GAP_TICKS: u32 = 3;
const PAUSE_TICKS: u32 = 25;
const VOLUME: u8 = 10;

/// The event code of a DTMF character, `None` for anything else.
pub fn event_code(c: char) -> Option<u8> {
    Some(match c.to_ascii_uppercase() {
        d @ '0'..='9' => d as u8 - b'0',
        '*' => 10,
        '#' => 11,
        d @ 'A'..='D' => 12 + (d as u8 - b'A'),
        _ => return None,
    })
}

/// The DTMF character of an event code.
pub fn event_char(code: u8) -> Option<char> {
    Some(match code {
        0..=9 => (b'0' + code) as char,
        10 => '*',
        11 => '#',
        12..=15 => (b'A' + code - 12) as char,
        _ => return None,
    })
}

/// What to send in one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtmfTick {
    /// No event: send audio.
    Audio,
    /// Send these event payloads (the end packet three times) with the event's timestamp;
    /// `first` marks the first packet of an event (RTP marker bit, new timestamp).
    Event { payloads: Vec<[u8; 4]>, first: bool },
}

/// Plays a queue of digits as RFC 4733 events.
#[derive(Debug, Default)]
pub struct DtmfSender {
    queue: VecDeque<char>,
    /// (event code, ticks sent so far)
    current: Option<(u8, u32)>,
    hold_audio: u32,
}

impl DtmfSender {
    /// Queues digits; spaces are 500 ms pauses, other characters are ignored.
    pub fn push(&mut self, digits: &str) {
        self.queue.extend(
            digits
                .chars()
                .filter(|c| *c == ' ' || event_code(*c).is_some()),
        );
    }

    /// True while digits are queued or playing.
    pub fn is_busy(&self) -> bool {
        self.current.is_some() || !self.queue.is_empty() || self.hold_audio > 0
    }

    /// Decides the next tick; `samples` is the tick's length in timestamp units.
    pub fn tick(&mut self, samples: u32) -> DtmfTick {
        if self.hold_audio > 0 {
            self.hold_audio -= 1;
            return DtmfTick::Audio;
        }
        if self.current.is_none() {
            match self.queue.pop_front() {
                Some(' ') => {
                    self.hold_audio = PAUSE_TICKS - 1;
                    return DtmfTick::Audio;
                }
                Some(c) => match event_code(c) {
                    Some(code) => self.current = Some((code, 0)),
                    None => return DtmfTick::Audio,
                },
                None => return DtmfTick::Audio,
            }
        }
        let Some((code, sent)) = self.current else {
            return DtmfTick::Audio;
        };
        let sent = sent + 1;
        let duration = (samples * sent).min(u32::from(u16::MAX)) as u16;
        let end = sent >= TONE_TICKS;
        let flags = if end { 0x80 | VOLUME } else { VOLUME };
        let [hi, lo] = duration.to_be_bytes();
        let payload = [code, flags, hi, lo];
        if end {
            self.current = None;
            self.hold_audio = GAP_TICKS;
            DtmfTick::Event {
                payloads: vec![payload; 3],
                first: sent == 1,
            }
        } else {
            self.current = Some((code, sent));
            DtmfTick::Event {
                payloads: vec![payload],
                first: sent == 1,
            }
        }
    }
}

/// Reports each received event once, when its end packet arrives.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    last_reported: Option<u32>,
}

impl DtmfReceiver {
    /// One telephone-event payload with its RTP timestamp; gives the digit when it ends.
    pub fn receive(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let [code, flags, ..] = *payload else {
            return None;
        };
        if flags & 0x80 == 0 || payload.len() < 4 || self.last_reported == Some(timestamp) {
            return None;
        }
        self.last_reported = Some(timestamp);
        event_char(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digit_is_five_ticks_with_three_end_packets_then_a_gap() {
        let mut s = DtmfSender::default();
        s.push("5#x");
        let mut ticks = Vec::new();
        while s.is_busy() {
            ticks.push(s.tick(160));
        }
        // 5 ticks of '5', 3 gap, 5 of '#', 3 gap.
        assert_eq!(ticks.len(), 16);
        assert_eq!(
            ticks[0],
            DtmfTick::Event {
                payloads: vec![[5, 10, 0, 160]],
                first: true
            }
        );
        assert_eq!(
            ticks[3],
            DtmfTick::Event {
                payloads: vec![[5, 10, 2, 128]],
                first: false
            }
        );
        assert_eq!(
            ticks[4],
            DtmfTick::Event {
                payloads: vec![[5, 0x8A, 3, 32]; 3],
                first: false
            }
        );
        assert_eq!(
            ticks[5..8],
            [DtmfTick::Audio, DtmfTick::Audio, DtmfTick::Audio]
        );
        assert_eq!(
            ticks[8],
            DtmfTick::Event {
                payloads: vec![[11, 10, 0, 160]],
                first: true
            }
        );
    }

    #[test]
    fn spaces_pause_and_receiver_reports_once() {
        let mut s = DtmfSender::default();
        s.push(" ");
        let n = std::iter::from_fn(|| s.is_busy().then(|| s.tick(160))).count();
        assert_eq!(n, 25, "500 ms");
        let mut r = DtmfReceiver::default();
        assert_eq!(r.receive(1000, &[7, 10, 0, 160]), None);
        assert_eq!(r.receive(1000, &[7, 0x8A, 3, 32]), Some('7'));
        assert_eq!(
            r.receive(1000, &[7, 0x8A, 3, 32]),
            None,
            "repeated end packet"
        );
        assert_eq!(r.receive(2000, &[11, 0x8A, 3, 32]), Some('#'));
        assert_eq!(r.receive(3000, &[1]), None, "short payload");
        assert_eq!(event_code('b'), Some(13));
        assert_eq!(event_char(16), None);
    }
}
