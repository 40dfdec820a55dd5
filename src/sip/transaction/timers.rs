//! RFC 3261 timer values (Table 4), scaled by the `timer` parameter.

use std::time::Duration;

/// T1, T2 and T4; every other timer derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// Round-trip estimate, 500 ms by default.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// The RFC values scaled by `timer`/10: the `timer` parameter's default 10 keeps them as
    /// written; 5 halves them (a fast LAN), 20 doubles them (a slow satellite link).
    pub fn scaled(timer: u32) -> TimerConfig {
        let timer = timer.clamp(1, 1000);
        let d = TimerConfig::default();
        let f = |x: Duration| x * timer / 10;
        TimerConfig {
            t1: f(d.t1),
            t2: f(d.t2),
            t4: f(d.t4),
        }
    }

    /// 64*T1: timers B, F, H, J, L, M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}
