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
