//! The reference's integer switches as enums: each is parsed once from its parameter (with the
//! reference's meaning of every number) and the code that acts on it matches on names.

use serde::{Deserialize, Serialize};

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Udp,
    Tcp,
    /// SIP over TLS (RFC 3261 §26, RFC 5922): TCP with rustls on it.
    Tls,
    /// SIP over WebSocket (RFC 7118): one SIP message per WebSocket message, subprotocol
    /// `sip`; for PBXs and gateways that offer signalling only that way (WebRTC-first ones).
    Ws,
    /// SIP over secure WebSocket: the WebSocket over TLS, the certificate checked as for TLS.
    Wss,
}

impl Transport {
    /// The `transport` parameter: 0 UDP, 1 TCP, 2 TLS, 5 auto (UDP), and our own 6 WS, 7 WSS
    /// (the reference stops at 5); 3/4 (HTTP tunnels) give the reason they cannot be used.
    pub fn from_param(v: i64) -> Result<Transport, &'static str> {
        match v {
            0 | 5 => Ok(Transport::Udp),
            1 => Ok(Transport::Tcp),
            2 => Ok(Transport::Tls),
            6 => Ok(Transport::Ws),
            7 => Ok(Transport::Wss),
            _ => Err(
                "transport=3/4 (HTTP tunnel) does not apply to the desktop softphone; use 0 (UDP), 1 (TCP), 2 (TLS), 6 (WebSocket) or 7 (secure WebSocket)",
            ),
        }
    }

    /// The port a server listens on when its address names none (RFC 3261 §19.1.2; RFC 7118
    /// §4: the WebSocket URI's, 80 and 443).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp => 5060,
            Transport::Tls => 5061,
            Transport::Ws => 80,
            Transport::Wss => 443,
        }
    }

    /// Reliable transports need no retransmissions (RFC 3261 §17: timers A, E, G are off).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// True when the signalling itself is encrypted, so that SDES keys in the SDP are safe
    /// to send.
    pub fn is_encrypted(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// True for the WebSocket transports (framed by the WebSocket, kept alive by its pings).
    pub fn is_websocket(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }

    /// The name used in Via and in `transport=` URI parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }
}

/// What a mute command acts on (API_MuteEx's direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MuteDirection {
    /// Microphone and speaker (0 and 3).
    Both,
    /// What we hear (1).
    Speaker,
    /// What we send (2).
    Microphone,
    /// What `defmute` says (4).
    Default,
}

impl MuteDirection {
    /// API_MuteEx's number: 0 or 3 both, 1 speaker, 2 microphone, 4 the `defmute` default.
    pub fn from_code(code: u8) -> Option<MuteDirection> {
        match code {
            0 | 3 => Some(MuteDirection::Both),
            1 => Some(MuteDirection::Speaker),
            2 => Some(MuteDirection::Microphone),
            4 => Some(MuteDirection::Default),
            _ => None,
        }
    }
}

/// `defmute`: what a mute without a direction means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultMute {
    /// 1: both ways.
    Both,
    /// 2: the speaker only.
    Speaker,
    /// 3 (and 0): the microphone only.
    Microphone,
}

impl DefaultMute {
    /// From the `defmute` parameter.
    pub fn from_param(v: i64) -> DefaultMute {
        match v {
            1 => DefaultMute::Both,
            2 => DefaultMute::Speaker,
            _ => DefaultMute::Microphone,
        }
    }

    /// The direction a [`MuteDirection::Default`] stands for.
    pub fn direction(self) -> MuteDirection {
        match self {
            DefaultMute::Both => MuteDirection::Both,
            DefaultMute::Speaker => MuteDirection::Speaker,
            DefaultMute::Microphone => MuteDirection::Microphone,
        }
    }
}

/// `autohold` / `automute`: when the other calls are held (muted) automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoMode {
    /// 0: never.
    Never,
    /// 1: when an incoming call is answered.
    OnIncoming,
    /// 2: when an outgoing call is answered.
    OnOutgoing,
    /// 3: when any call is answered.
    OnAnyCall,
    /// 4: when the user switches lines (the line left is held, the line picked resumed).
    OnLineSwitch,
}

impl AutoMode {
    /// From the parameter's number (unknown numbers: never).
    pub fn from_param(v: i64) -> AutoMode {
        match v {
            1 => AutoMode::OnIncoming,
            2 => AutoMode::OnOutgoing,
            3 => AutoMode::OnAnyCall,
            4 => AutoMode::OnLineSwitch,
            _ => AutoMode::Never,
        }
    }

    /// Whether a newly answered call of this direction holds (mutes) the others.
    pub fn on_answer(self, incoming: bool) -> bool {
        match self {
            AutoMode::OnAnyCall => true,
            AutoMode::OnIncoming => incoming,
            AutoMode::OnOutgoing => !incoming,
            AutoMode::Never | AutoMode::OnLineSwitch => false,
        }
    }
}

/// `dtmfmode`: how digits are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DtmfMode {
    /// 1: SIP INFO only.
    Info,
    /// 0 and 2: RFC 4733 events when the peer takes them, else INFO.
    Rfc4733OrInfo,
    /// 3: both at once.
    Both,
    /// 4: RFC 4733 only (nothing when the peer does not take them).
    Rfc4733Only,
}

impl DtmfMode {
    /// From the `dtmfmode` parameter.
    pub fn from_param(v: i64) -> DtmfMode {
        match v {
            1 => DtmfMode::Info,
            3 => DtmfMode::Both,
            4 => DtmfMode::Rfc4733Only,
            _ => DtmfMode::Rfc4733OrInfo,
        }
    }

    /// (by RTP events, by SIP INFO) for a peer that did or did not accept telephone-event.
    pub fn routes(self, peer_takes_events: bool) -> (bool, bool) {
        match self {
            DtmfMode::Info => (false, true),
            DtmfMode::Both => (peer_takes_events, true),
            DtmfMode::Rfc4733OrInfo => (peer_takes_events, !peer_takes_events),
            DtmfMode::Rfc4733Only => (peer_takes_events, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_numbers() {
        assert_eq!(Transport::from_param(5), Ok(Transport::Udp));
        assert_eq!(Transport::from_param(1), Ok(Transport::Tcp));
        assert_eq!(Transport::from_param(2), Ok(Transport::Tls));
        assert!(Transport::from_param(3).is_err());
        assert_eq!(Transport::from_param(6), Ok(Transport::Ws));
        assert_eq!(Transport::from_param(7), Ok(Transport::Wss));
        assert!(Transport::Wss.is_encrypted() && !Transport::Ws.is_encrypted());
        assert!(Transport::Ws.is_reliable() && !Transport::Udp.is_reliable());
        assert_eq!(MuteDirection::from_code(3), Some(MuteDirection::Both));
        assert_eq!(MuteDirection::from_code(5), None);
        assert_eq!(
            DefaultMute::from_param(0).direction(),
            MuteDirection::Microphone
        );
        assert!(AutoMode::from_param(1).on_answer(true));
        assert!(!AutoMode::from_param(1).on_answer(false));
        assert!(!AutoMode::from_param(4).on_answer(true));
        assert_eq!(DtmfMode::from_param(0).routes(false), (false, true));
        assert_eq!(DtmfMode::from_param(2).routes(true), (true, false));
        assert_eq!(DtmfMode::from_param(3).routes(true), (true, true));
        assert_eq!(DtmfMode::from_param(4).routes(false), (false, false));
        assert_eq!(DtmfMode::from_param(1).routes(true), (false, true));
    }
}

/// A presence status: ours as the user sets it, or a contact's as its presence server tells.
/// The words are the reference's (`PRESENCE,status,...`); their colours: green Online, red
/// DND, orange Away / Speaking / Pending, grey Offline / Unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    Online,
    Away,
    /// Do not disturb (RPID `busy`); ours also turns calls away.
    Dnd,
    /// On the phone (RPID `on-the-phone`): published by itself during our calls.
    Speaking,
    /// Ours only: shown as offline to others while we stay registered.
    Invisible,
    Offline,
    /// The contact has not said yes to our watching yet.
    Pending,
    /// No word yet, or a document we could not read.
    Unknown,
}

impl PresenceStatus {
    /// The reference's word for it.
    pub fn word(self) -> &'static str {
        match self {
            PresenceStatus::Online => "Online",
            PresenceStatus::Away => "Away",
            PresenceStatus::Dnd => "DND",
            PresenceStatus::Speaking => "Speaking",
            PresenceStatus::Invisible => "Invisible",
            PresenceStatus::Offline => "Offline",
            PresenceStatus::Pending => "Pending",
            PresenceStatus::Unknown => "Unknown",
        }
    }

    /// From a word the user typed (any case; `busy` and `donotdisturb` are DND too).
    pub fn from_word(word: &str) -> Option<PresenceStatus> {
        Some(match word.trim().to_ascii_lowercase().as_str() {
            "online" | "available" => PresenceStatus::Online,
            "away" => PresenceStatus::Away,
            "dnd" | "busy" | "donotdisturb" | "do-not-disturb" => PresenceStatus::Dnd,
            "speaking" | "onthephone" | "on-the-phone" => PresenceStatus::Speaking,
            "invisible" => PresenceStatus::Invisible,
            "offline" => PresenceStatus::Offline,
            _ => return None,
        })
    }
}

/// How far a watcher of our presence got (RFC 3857): allowed to see it, or waiting for a
/// yes (`pending`: asked; `waiting`: asked before and refused, still trying).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatcherStatus {
    Active,
    Pending,
    Waiting,
}

impl WatcherStatus {
    /// The word in notification lines.
    pub fn word(self) -> &'static str {
        match self {
            WatcherStatus::Active => "active",
            WatcherStatus::Pending => "pending",
            WatcherStatus::Waiting => "waiting",
        }
    }
}

/// Someone who watches our presence: through the presence server (its `presence.winfo`
/// list) or subscribed to us directly (peer-to-peer, our own notifier).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Watcher {
    /// The watcher's address.
    pub address: String,
    /// Its display name, when the server gave one.
    pub display: String,
    pub status: WatcherStatus,
    /// Held by the presence server (who may see us is decided there) rather than by us.
    pub at_server: bool,
}

/// A busy lamp: what a watched extension's phone is doing (RFC 4235 dialog package).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LampState {
    /// No call.
    Idle,
    /// A call rings there (it can be picked up).
    Ringing,
    /// In a call (or calling out).
    InCall,
    /// No word yet, or the server does not say.
    Unknown,
}

impl LampState {
    /// The word in `BLF` lines.
    pub fn word(self) -> &'static str {
        match self {
            LampState::Idle => "idle",
            LampState::Ringing => "ringing",
            LampState::InCall => "incall",
            LampState::Unknown => "unknown",
        }
    }
}
