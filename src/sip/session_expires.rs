//! Session timers (RFC 4028), the parts that need no clock: the `Session-Expires` and `Min-SE`
//! headers, what a UAS answers to a request that asks (or does not ask) for a session timer,
//! what a UAC takes from the 2xx, and when the refresher refreshes and the other side gives
//! up. The UA (`ua/session_refresh.rs`) applies these to its calls and runs the timers.
//!
//! Without session timers a call whose far end vanished (a crashed phone, a NAT binding that
//! timed out, a proxy that lost the dialog) is held up until someone hangs up by hand; with them
//! both ends learn within one interval, and a PBX that insists on them (Asterisk and FreeSWITCH
//! can) does not tear our calls down for not refreshing.

use super::message::SipMessage;
use std::time::Duration;

/// The smallest `Min-SE` the RFC allows and the one we ask for (§4: 90 s).
pub const MIN_SE: u32 = 90;

/// A far end that sets an interval below this is taken at this: we honour short intervals a
/// broken or test server sets in its 2xx (dropping a call over it would help nobody) but do not
/// refresh in a busy loop.
pub const SHORTEST_HONOURED: u32 = 2;

/// Which end of the dialog refreshes: named, as on the wire, by the role in the request that
/// set it (`uac` is whoever sent that request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// A `Session-Expires` value: the interval in seconds and, when given, who refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    pub interval: u32,
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    /// The message's `Session-Expires` (compact `x`), when it has a well-formed one.
    pub fn of(msg: &SipMessage) -> Option<SessionExpires> {
        let value = msg.headers.get("Session-Expires")?;
        let mut parts = value.split(';');
        let interval = parts.next()?.trim().parse::<u32>().ok()?;
        let refresher = parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            if !k.trim().eq_ignore_ascii_case("refresher") {
                return None;
            }
            match v.trim().to_ascii_lowercase().as_str() {
                "uac" => Some(Refresher::Uac),
                "uas" => Some(Refresher::Uas),
                _ => None,
            }
        });
        Some(SessionExpires {
            interval,
            refresher,
        })
    }

    /// The header value: `1800` or `1800;refresher=uac`.
    pub fn value(&self) -> String {
        match self.refresher {
            Some(r) => format!("{};refresher={}", self.interval, r.as_str()),
            None => self.interval.to_string(),
        }
    }
}

/// The message's `Min-SE`, when it has a well-formed one.
pub fn min_se_of(msg: &SipMessage) -> Option<u32> {
    msg.headers
        .get("Min-SE")?
        .split(';')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Whether the message lists `tag` in its `Supported` (compact `k`) or `Require`.
pub fn supports(msg: &SipMessage, tag: &str) -> bool {
    ["Supported", "Require"]
        .iter()
        .flat_map(|h| msg.headers.list(h))
        .any(|t| t.eq_ignore_ascii_case(tag))
}

/// What we want: `sessiontimer` seconds (none: we do not ask, but still take part when the far
/// end asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionTimerPrefs {
    pub interval: Option<u32>,
}

/// A running session timer on a confirmed dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    /// The agreed interval.
    pub interval: u32,
    /// We send the refreshes; otherwise we watch for the far end's.
    pub we_refresh: bool,
}

impl SessionTimer {
    /// How long after the last refresh (or the 2xx that set the timer) our refresh goes out,
    /// or, when the far end refreshes, when we give up and send BYE (§10: half the interval;
    /// the interval less a third of it, at most 32 s).
    pub fn due_in(&self) -> Duration {
        let s = u64::from(self.interval.max(SHORTEST_HONOURED));
        let ms = if self.we_refresh {
            s * 500
        } else {
            (s - (s / 3).min(32)) * 1000
        };
        Duration::from_millis(ms)
    }

    /// The `Session-Expires` our refresh request carries (we are its UAC).
    pub fn refresh_header(&self) -> SessionExpires {
        SessionExpires {
            interval: self.interval,
            refresher: Some(Refresher::Uac),
        }
    }
}

/// What a UAS does with a request that starts or refreshes a session (§9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UasTimer {
    /// Asked for an interval below our minimum: answer 422 with this `Min-SE`.
    TooSmall { min_se: u32 },
    /// No session timer on this dialog.
    None,
    /// The 2xx carries `header` (and `Require: timer` when `require`); the timer runs.
    Run {
        header: SessionExpires,
        require: bool,
        timer: SessionTimer,
    },
}

/// The UAS decision for `req` given what we want.
pub fn uas_timer(req: &SipMessage, prefs: SessionTimerPrefs) -> UasTimer {
    let peer_supports = supports(req, "timer");
    match SessionExpires::of(req) {
        Some(asked) if asked.interval < MIN_SE => UasTimer::TooSmall { min_se: MIN_SE },
        Some(asked) => {
            // The request's choice stands; else a peer that supports timers refreshes (it
            // asked), else we must.
            let refresher = asked.refresher.unwrap_or(if peer_supports {
                Refresher::Uac
            } else {
                Refresher::Uas
            });
            UasTimer::Run {
                header: SessionExpires {
                    interval: asked.interval,
                    refresher: Some(refresher),
                },
                require: refresher == Refresher::Uac,
                timer: SessionTimer {
                    interval: asked.interval,
                    we_refresh: refresher == Refresher::Uas,
                },
            }
        }
        // Not asked: with our own interval we refresh ourselves, which needs nothing from the
        // far end (a refresh is an ordinary re-INVITE or UPDATE to it).
        None => match prefs.interval {
            Some(interval) => {
                let interval = interval.max(MIN_SE.max(min_se_of(req).unwrap_or(0)));
                UasTimer::Run {
                    header: SessionExpires {
                        interval,
                        refresher: Some(Refresher::Uas),
                    },
                    require: false,
                    timer: SessionTimer {
                        interval,
                        we_refresh: true,
                    },
                }
            }
            None => UasTimer::None,
        },
    }
}

/// The UAC side: the timer a 2xx to our (re-)INVITE or UPDATE sets. No `Session-Expires` in
/// the 2xx means no expiry (§7.2). Without a refresher we refresh: two refreshers are harmless,
/// none would end the call.
pub fn uac_timer(resp: &SipMessage) -> Option<SessionTimer> {
    let se = SessionExpires::of(resp)?;
    Some(SessionTimer {
        interval: se.interval.max(SHORTEST_HONOURED),
        we_refresh: se.refresher != Some(Refresher::Uas),
    })
}

/// The interval to retry with after a 422 (§7.4): the response's `Min-SE`, at least what we
/// asked and never above a day; `None` when the 422 gives no usable `Min-SE`.
pub fn after_422(resp: &SipMessage, asked: u32) -> Option<u32> {
    let min = min_se_of(resp)?;
    (min > 0 && min <= 86_400).then(|| min.max(asked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(extra: &str) -> SipMessage {
        let text = format!(
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        crate::sip::parse::parse_message(text.as_bytes()).unwrap()
    }

    #[test]
    fn headers_round_trip() {
        let m = req("x: 1800 ; Refresher = UAS\r\nMin-SE: 120;x=y\r\n");
        let se = SessionExpires::of(&m).unwrap();
        assert_eq!(se.interval, 1800);
        assert_eq!(se.refresher, Some(Refresher::Uas));
        assert_eq!(se.value(), "1800;refresher=uas");
        assert_eq!(min_se_of(&m), Some(120));
        assert_eq!(SessionExpires::of(&req("Session-Expires: soon\r\n")), None);
    }

    #[test]
    fn uas_answers_what_was_asked() {
        let prefs = SessionTimerPrefs { interval: None };
        assert_eq!(
            uas_timer(&req("Session-Expires: 30\r\n"), prefs),
            UasTimer::TooSmall { min_se: 90 }
        );
        // The caller supports timers and names no refresher: it refreshes, and we Require it.
        match uas_timer(&req("Supported: timer\r\nSession-Expires: 600\r\n"), prefs) {
            UasTimer::Run {
                header,
                require,
                timer,
            } => {
                assert_eq!(header.value(), "600;refresher=uac");
                assert!(require && !timer.we_refresh);
            }
            other => panic!("{other:?}"),
        }
        // A proxy put the header in for a caller that knows nothing of timers: we refresh.
        match uas_timer(&req("Session-Expires: 600\r\n"), prefs) {
            UasTimer::Run { require, timer, .. } => assert!(!require && timer.we_refresh),
            other => panic!("{other:?}"),
        }
        assert_eq!(uas_timer(&req(""), prefs), UasTimer::None);
        // Our own interval when nobody asked; never below the caller's Min-SE.
        let ours = SessionTimerPrefs {
            interval: Some(100),
        };
        match uas_timer(&req("Min-SE: 300\r\n"), ours) {
            UasTimer::Run { header, timer, .. } => {
                assert_eq!(header.value(), "300;refresher=uas");
                assert!(timer.we_refresh);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refresh_and_expiry_times() {
        let refresh = SessionTimer {
            interval: 1800,
            we_refresh: true,
        };
        assert_eq!(refresh.due_in(), Duration::from_secs(900));
        let watch = SessionTimer {
            interval: 1800,
            we_refresh: false,
        };
        assert_eq!(watch.due_in(), Duration::from_secs(1768));
        let short = SessionTimer {
            interval: 6,
            we_refresh: false,
        };
        assert_eq!(short.due_in(), Duration::from_secs(4));
        let ok = |h: &str| {
            crate::sip::parse::parse_message(
                format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:c@d>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n{h}Content-Length: 0\r\n\r\n").as_bytes(),
            )
            .unwrap()
        };
        assert_eq!(uac_timer(&ok("")), None);
        assert!(
            uac_timer(&ok("Session-Expires: 90\r\n"))
                .unwrap()
                .we_refresh
        );
        assert!(
            !uac_timer(&ok("Session-Expires: 90;refresher=uas\r\n"))
                .unwrap()
                .we_refresh
        );
        assert_eq!(after_422(&ok("Min-SE: 600\r\n"), 90), Some(600));
        assert_eq!(after_422(&ok("Min-SE: 0\r\n"), 90), None);
        assert_eq!(after_422(&ok(""), 90), None);
    }
}
