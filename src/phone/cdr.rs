//! Call detail records: the engine follows each line's call from its first state to its end
//! and then reports one [`Cdr`] (the history's entry and the `CDR,...` notification). The clock
//! readings are passed in so that the record is computed, not measured, here.

use crate::model::{CallDirection, CallState};
use crate::model::{Cdr, DiscParty};
use crate::sip::ua::UaEvent;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Tracked {
    started: Instant,
    started_ms: i64,
    connected: Option<Instant>,
}

/// Follows the calls on every line.
#[derive(Debug, Default)]
pub(super) struct CdrTracker {
    lines: HashMap<u32, Tracked>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl CdrTracker {
    /// Takes a call event at `now` (`wall_ms`: the same moment as Unix milliseconds); gives
    /// the record when the call has ended.
    pub(super) fn on_event(
        &mut self,
        ev: &UaEvent,
        local_user: &str,
        now: Instant,
        wall_ms: i64,
    ) -> Option<Cdr> {
        let UaEvent::Call {
            line,
            state,
            direction,
            peer,
            peer_display,
            peer_uri,
            call_id,
            reason,
            ended_by_us,
        } = ev
        else {
            return None;
        };
        let t = self.lines.entry(*line).or_insert(Tracked {
            started: now,
            started_ms: wall_ms,
            connected: None,
        });
        if *state == CallState::Connected && t.connected.is_none() {
            t.connected = Some(now);
        }
        if *state != CallState::Terminated {
            return None;
        }
        let t = self.lines.remove(line)?;
        let outgoing = *direction == CallDirection::Outgoing;
        let (caller, called) = if outgoing {
            (local_user.to_string(), peer.clone())
        } else {
            (peer.clone(), local_user.to_string())
        };
        Some(Cdr {
            line: *line,
            peer: peer.clone(),
            peer_display: peer_display.clone(),
            caller,
            called,
            peer_address: peer_uri.clone(),
            outgoing,
            started_ms: t.started_ms,
            connect_ms: t.connected.map_or(0, |c| ms(c - t.started)),
            duration_ms: t.connected.map_or(0, |c| ms(now - c)),
            disc_party: if *ended_by_us {
                DiscParty::Local
            } else {
                DiscParty::Remote
            },
            reason: reason.clone(),
            call_id: call_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(state: CallState, by_us: bool) -> UaEvent {
        UaEvent::Call {
            line: 2,
            state,
            direction: CallDirection::Incoming,
            peer: "1002".into(),
            peer_display: "Bob".into(),
            peer_uri: "sip:1002@pbx".into(),
            call_id: "c1".into(),
            reason: if state == CallState::Terminated {
                "remote hung up".into()
            } else {
                String::new()
            },
            ended_by_us: by_us,
        }
    }

    #[test]
    fn an_answered_call_and_a_missed_one() {
        let mut t = CdrTracker::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_millis(s);
        assert_eq!(
            t.on_event(&call(CallState::Incoming, false), "1001", at(0), 1_000),
            None
        );
        assert_eq!(
            t.on_event(&call(CallState::Connected, false), "1001", at(2_500), 3_500),
            None
        );
        let cdr = t
            .on_event(
                &call(CallState::Terminated, false),
                "1001",
                at(62_500),
                63_500,
            )
            .unwrap();
        assert_eq!((cdr.caller.as_str(), cdr.called.as_str()), ("1002", "1001"));
        assert_eq!((cdr.connect_ms, cdr.duration_ms), (2_500, 60_000));
        assert_eq!(cdr.started_ms, 1_000);
        assert_eq!(cdr.disc_party, DiscParty::Remote);
        assert!(!cdr.outgoing);
        // The line is free again: a new call there is a new record, never answered.
        t.on_event(
            &call(CallState::Incoming, false),
            "1001",
            at(70_000),
            71_000,
        );
        let missed = t
            .on_event(
                &call(CallState::Terminated, true),
                "1001",
                at(75_000),
                76_000,
            )
            .unwrap();
        assert_eq!((missed.connect_ms, missed.duration_ms), (0, 0));
        assert_eq!(missed.started_ms, 71_000);
        assert_eq!(missed.disc_party, DiscParty::Local);
    }
}
