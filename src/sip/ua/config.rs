//! What the UA core is told at start (and again by `reconfigure`): the account, the server,
//! the transport and every preference the driver resolved from the parameters.

use super::IncomingPolicy;
use super::subscribe::VoicemailMode;
use super::watchers::WatcherPolicy;
use crate::rtp::srtp::SrtpSuite;
use crate::sdp::{Codec, Direction, MediaEncryption, OpusParams};
use crate::sip::digest::Secret;
use crate::sip::registration::AcceptExpires;
use crate::sip::transaction::timers::TimerConfig;
use crate::sip::transport::{Destination, Transport};
use std::net::SocketAddr;
use std::time::Duration;

/// `use_rport`: whether to ask for rport and whether to use the address the server saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RportMode {
    /// 0: do not ask.
    Off,
    /// 1: ask; use the seen address once two responses agree on it (a NAT is certain).
    WhenSure,
    /// 2: ask; always use it unless we are on a public address already.
    Always,
    /// 3: ask; use it even on a public address.
    EvenOnPublic,
    /// 9: ask but never use (keep the local address, e.g. for peer-to-peer calls).
    AskOnly,
}

impl RportMode {
    /// From the parameter's number; `None` for values outside 0,1,2,3,9.
    pub fn from_param(v: u32) -> Option<RportMode> {
        Some(match v {
            0 => RportMode::Off,
            1 => RportMode::WhenSure,
            2 => RportMode::Always,
            3 => RportMode::EvenOnPublic,
            9 => RportMode::AskOnly,
            _ => return None,
        })
    }
}

/// `keepalivetype`: what is sent to keep NAT bindings open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAliveType {
    None,
    SpaceCrlf,
    Notify,
    Crlf,
    CrlfCrlf,
}

impl KeepAliveType {
    /// From the parameter's number (0..4).
    pub fn from_param(v: u32) -> Option<KeepAliveType> {
        Some(match v {
            0 => KeepAliveType::None,
            1 => KeepAliveType::SpaceCrlf,
            2 => KeepAliveType::Notify,
            3 => KeepAliveType::Crlf,
            4 => KeepAliveType::CrlfCrlf,
            _ => return None,
        })
    }
}

/// Everything the UA core needs to know, already resolved by the driver.
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// `username`: the user part of our address of record.
    pub user: String,
    /// `sipusername`: the authentication name when it differs from `user`.
    pub auth_user: Option<String>,
    pub display_name: Option<String>,
    pub password: Option<Secret>,
    /// `md5`: MD5(user:realm:password) instead of the password.
    pub ha1_md5: Option<Secret>,
    pub realm: Option<String>,
    /// `serveraddress` as `host[:port]`, the domain of our URIs.
    pub domain: String,
    /// Where requests go first: the outbound proxy if set, else the server (resolved).
    pub first_hop: Option<Destination>,
    /// The servers to fail over to, in order, when the domain names several (DNS SRV).
    pub fallback_hops: Vec<Destination>,
    /// `proxyaddress`: Route to put on requests when an outbound proxy is used.
    pub outbound_proxy: Option<String>,
    /// Our address as written in Via and Contact.
    pub local: SocketAddr,
    pub transport: Transport,
    /// Register at start (`register` parameter and credentials present).
    pub register: bool,
    pub register_interval: u32,
    pub accept_expires: AcceptExpires,
    pub rport: RportMode,
    pub keepalive: KeepAliveType,
    pub keepalive_interval: Duration,
    /// `capabilityrequest`: send OPTIONS to the server at start.
    pub capability_request: bool,
    pub timers: TimerConfig,
    pub unregister_on_exit: bool,
    pub wait_for_unregister: Duration,
    pub user_agent: String,
    /// `maxlines`: simultaneous calls.
    pub max_lines: u32,
    /// `rejectonbusy`: answer 486 to new calls while a call is up.
    pub reject_on_busy: bool,
    /// `prefix`: put before dialled numbers (not before user names or URIs).
    pub prefix: String,
    /// `ringtimeout`: an unanswered call (either way) ends after this; zero disables.
    pub ring_timeout: Duration,
    /// `calltimeout`: a connected call is hung up after this; zero disables.
    pub call_timeout: Duration,
    pub media: MediaPrefs,
    /// What happens to incoming calls before they ring (`forwardall`, `forwardonbusy`,
    /// `blacklist`).
    pub incoming: IncomingPolicy,
    /// How our transfers go (`transfertype`, `discontransfer`, `transfdelay`,
    /// `transferwithreplace`).
    pub transfer: crate::sip::refer::TransferPrefs,
    /// `changesptoring`: what a 181-199 provisional (183 Session Progress) means: 0 nothing,
    /// 1 ringing without early media, 2 and 4 ringing with early media, 3 early media only.
    /// (180 always means ringing, with early media when it carries SDP.)
    pub progress_mode: u8,
    /// `use100rel`: ask for reliable provisional responses (Supported: 100rel) and send ours
    /// reliably to callers that support them. Required ones are honoured either way.
    pub use_100rel: bool,
    /// `sessiontimer`: the RFC 4028 session interval we ask for.
    pub session_timer: crate::sip::session_expires::SessionTimerPrefs,
    /// `checktarget`: how strictly what we are asked to call is checked.
    pub check_target: crate::sip::dial_check::TargetCheck,
    /// `voicemail`: how message waiting is learned.
    pub voicemail: VoicemailMode,
    /// `enablepresence`: publish our status after registering.
    pub presence_enabled: bool,
    /// `presenceexpiresec`: lifetime of presence subscriptions and publications, seconds.
    pub presence_expires: u32,
    /// `autoacceptpresencerequests`: who may watch our presence.
    pub watcher_policy: WatcherPolicy,
}

/// Codec and media preferences (from the `use_xxx` and media parameters).
#[derive(Debug, Clone)]
pub struct MediaPrefs {
    /// Offered, best first.
    pub offer: Vec<Codec>,
    /// Accepted when offered, best first.
    pub accept: Vec<Codec>,
    /// telephone-event payload type; `None` to not negotiate RFC 4733.
    pub dtmf_pt: Option<u8>,
    /// `silencesupress`: offer comfort noise (RFC 3389), since we send none during silence.
    pub cn: bool,
    pub ptime: u32,
    /// What we ask for when receiving Opus (`use_opus*` bandwidth, FEC, DTX).
    pub opus: OpusParams,
    /// `setfinalcodec` ≠ 0: answers name only the chosen codec.
    pub final_codec_only: bool,
    /// `holdtype`: the direction we offer on hold: sendonly (2, the default), recvonly (3:
    /// the other party's audio still comes in) or inactive (4: both directions stop).
    pub hold: Direction,
    /// `mediaencryption` / `srtpmode` (and whether SDES keys may cross the signalling):
    /// whether calls are SRTP.
    pub srtp: MediaEncryption,
    /// `srtpsuites`: the SRTP suites we take, best first.
    pub srtp_suites: Vec<SrtpSuite>,
    /// `srtpmode` keys SRTP by SDES (0, 2, 3); the keys are only made where they may travel
    /// (`srtp_suites` is then empty).
    pub srtp_sdes: bool,
    /// Our DTLS certificate when `srtpmode` keys SRTP by DTLS (1, 2): made once per run.
    pub dtls: Option<crate::rtp::dtls::DtlsIdentity>,
}

impl Default for MediaPrefs {
    fn default() -> Self {
        MediaPrefs {
            offer: vec![Codec::Pcmu, Codec::Pcma],
            accept: vec![Codec::Pcmu, Codec::Pcma],
            dtmf_pt: Some(101),
            cn: false,
            ptime: 20,
            opus: OpusParams {
                max_rate: 48_000,
                fec: true,
                dtx: true,
            },
            final_codec_only: true,
            hold: Direction::SendOnly,
            srtp: MediaEncryption::Off,
            srtp_suites: SrtpSuite::ALL.to_vec(),
            srtp_sdes: true,
            dtls: None,
        }
    }
}
