//! Turning settings into a ready UA configuration: the server and proxy addresses (resolved
//! by [`resolve_servers`] in a task of their own), the local address, the transport, the
//! stable signalling port; and the media and ring settings every call uses.

use super::dns::{Dns, SipLookups, TransportChoice};
use super::media::MediaConfig;
use crate::audio::player::Sound;
use crate::config::Settings;
use crate::rtp::dtls::DtlsIdentity;
use crate::rtp::srtp::SrtpSuite;
use crate::sdp::OpusParams;
use crate::sdp::{Codec, MediaEncryption};
use crate::sip::registration::AcceptExpires;
use crate::sip::transaction::timers::TimerConfig;
use crate::sip::transport::{Destination, Transport};
use crate::sip::ua::{KeepAliveType, MediaPrefs, RportMode, UaConfig};
use anyhow::{Context, anyhow};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The User-Agent header value.
pub(super) const USER_AGENT: &str = concat!("softphone/", env!("CARGO_PKG_VERSION"));

/// The local IP that routes to `target` (no packet is sent: connecting a UDP socket only
/// selects the route).
pub(super) fn local_ip_towards(target: SocketAddr) -> anyhow::Result<IpAddr> {
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let probe = std::net::UdpSocket::bind(bind).context("probing the local address")?;
    probe
        .connect(target)
        .with_context(|| format!("no route to {target}"))?;
    Ok(probe.local_addr()?.ip())
}

/// Where call recordings go: `voicerecfolder`, or `recordings` in the data folder.
pub(super) fn recordings_folder(settings: &Settings) -> PathBuf {
    let chosen = settings.text("voicerecfolder");
    if !chosen.trim().is_empty() {
        return PathBuf::from(chosen.trim());
    }
    directories::ProjectDirs::from("", "", "softphone").map_or_else(
        || PathBuf::from("recordings"),
        |d| d.data_dir().join("recordings"),
    )
}

/// The file remembering the randomly chosen signalling port (`signalingport=0`).
pub(super) fn port_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "softphone")
        .map(|d| d.config_dir().join("signalingport"))
}

/// The remembered random port, if any.
pub(super) fn remembered_port() -> Option<u16> {
    let text = std::fs::read_to_string(port_file()?).ok()?;
    text.trim().parse().ok().filter(|p| *p != 0)
}

/// Remembers the randomly chosen port, written atomically.
pub(super) fn remember_port(port: u16) -> anyhow::Result<()> {
    let path = port_file().ok_or_else(|| anyhow!("no config directory"))?;
    crate::config::persisted::write_atomic(&path, format!("{port}\n").as_bytes(), false)
        .with_context(|| format!("writing {}", path.display()))
}

/// What the driver needs besides the UA configuration.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    /// The port asked for (`signalingport`); 0 means the remembered random one.
    pub port: u16,
    pub local_ip: IpAddr,
}

/// Codec lists from the `use_xxx` priorities: 3 before 2 offered, 1 accepted only, 0 never.
pub(super) fn media_prefs(settings: &Settings) -> MediaPrefs {
    // Opus is one codec whose band is the widest of the use_opus* switches that is on.
    let opus_bands = [
        ("use_opusnb", 8000),
        ("use_opuswb", 16_000),
        ("use_opusswb", 24_000),
        ("use_opusuwb", 48_000),
    ];
    let opus_prio = opus_bands
        .iter()
        .map(|(k, _)| settings.int(k))
        .max()
        .unwrap_or(0);
    let opus_rate = opus_bands
        .iter()
        .filter(|(k, _)| settings.int(k) >= 1)
        .map(|(_, r)| *r)
        .max()
        .unwrap_or(48_000);
    // Within one priority: Opus, G.711 u-law, G.722, G.711 A-law, then the older codecs a
    // trunk may still ask for (Speex, widest first, and GSM).
    let prio = [
        (Codec::Opus, opus_prio),
        (Codec::Pcmu, settings.int("use_pcmu")),
        (Codec::G722, settings.int("use_g722")),
        (Codec::Pcma, settings.int("use_pcma")),
        (Codec::SpeexUwb, settings.int("use_speexuwb")),
        (Codec::SpeexWb, settings.int("use_speexwb")),
        (Codec::Speex, settings.int("use_speex")),
        (Codec::Gsm, settings.int("use_gsm")),
        // G.729 only where it was built in (the opt-in `g729` feature).
        (
            Codec::G729,
            if cfg!(feature = "g729") {
                settings.int("use_g729")
            } else {
                0
            },
        ),
    ];
    let mut offer: Vec<(Codec, i64)> = prio.iter().copied().filter(|(_, p)| *p >= 2).collect();
    offer.sort_by_key(|(_, p)| std::cmp::Reverse(*p));
    let mut accept: Vec<(Codec, i64)> = prio.iter().copied().filter(|(_, p)| *p >= 1).collect();
    accept.sort_by_key(|(_, p)| std::cmp::Reverse(*p));
    MediaPrefs {
        offer: offer.into_iter().map(|(c, _)| c).collect(),
        accept: accept.into_iter().map(|(c, _)| c).collect(),
        opus: OpusParams {
            max_rate: opus_rate,
            fec: true,
            dtx: true,
        },
        final_codec_only: settings.int("setfinalcodec") != 0,
        cn: silence_settings(settings).suppress,
        hold: match settings.int("holdtype") {
            3 => crate::sdp::Direction::RecvOnly,
            4 => crate::sdp::Direction::Inactive,
            _ => crate::sdp::Direction::SendOnly,
        },
        // The policy for the transport in use is set by `with_srtp_for` (no keys to offer
        // where they may not cross the signalling: a mandatory policy then refuses every
        // call rather than letting one through in clear).
        srtp_suites: srtp_suites(settings).0,
        ..MediaPrefs::default()
    }
}

/// The SRTP policy for the transport actually used (a detected one may differ from the
/// `transport` parameter's, and SDES keys may travel in TLS), and our DTLS certificate when
/// `srtpmode` asks for DTLS-SRTP (made here, once per configuration).
fn with_srtp_for(mut media: MediaPrefs, settings: &Settings, transport: Transport) -> MediaPrefs {
    let policy = srtp_policy(settings, transport);
    media.srtp = policy.encryption;
    media.srtp_sdes = policy.sdes;
    if !policy.sdes_keys_allowed {
        media.srtp_suites.clear();
        if policy.dtls {
            // DTLS still agrees on these.
            media.srtp_suites = srtp_suites(settings).0;
            media.srtp_sdes = false;
        }
    }
    if policy.dtls {
        media.dtls = dtls_identity();
    }
    media
}

/// This installation's DTLS certificate (kept in the config folder, made on first use), read
/// once per run; `None` (said in the log) when none can be made.
fn dtls_identity() -> Option<DtlsIdentity> {
    static IDENTITY: std::sync::OnceLock<Option<DtlsIdentity>> = std::sync::OnceLock::new();
    IDENTITY
        .get_or_init(|| {
            let kept = directories::ProjectDirs::from("", "", "softphone")
                .map(|d| d.config_dir().join("dtls-identity.pem"));
            let made = match &kept {
                Some(path) => kept_dtls_identity(path),
                None => DtlsIdentity::generate().map_err(anyhow::Error::from),
            };
            made.map_err(|e| tracing::error!("DTLS-SRTP cannot be offered: {e:#}"))
                .ok()
        })
        .clone()
}

/// The identity kept in `path`, or a new one kept there (private to the user: it holds the
/// key). A file that cannot be read is replaced, and said.
fn kept_dtls_identity(path: &std::path::Path) -> anyhow::Result<DtlsIdentity> {
    match std::fs::read_to_string(path) {
        Ok(text) => match DtlsIdentity::from_pem(&text) {
            Ok(id) => return Ok(id),
            Err(e) => tracing::warn!(
                "{}: {e}; a new DTLS certificate replaces it",
                path.display()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("{}: {e}; a new DTLS certificate is made", path.display()),
    }
    let id = DtlsIdentity::generate()?;
    if let Err(e) = crate::config::persisted::write_atomic(path, id.to_pem()?.as_bytes(), true) {
        // Still usable for this run; the next one makes another.
        tracing::warn!(
            "could not keep the DTLS certificate in {}: {e}",
            path.display()
        );
    }
    Ok(id)
}

/// What `mediaencryption`, `srtpmode` and `srtpkeysinclear` make of calls' SRTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SrtpPolicy {
    pub encryption: MediaEncryption,
    /// Keyed by SDES (`srtpmode` 0, 2, 3).
    pub sdes: bool,
    /// SDES keys may be put in the SDP (the signalling is encrypted, or srtpkeysinclear).
    pub sdes_keys_allowed: bool,
    /// Keyed by DTLS-SRTP (`srtpmode` 1, 2): no key crosses the signalling.
    pub dtls: bool,
    /// What to warn about at start.
    pub warnings: Vec<String>,
}

/// `mediaencryption` and `srtpmode` as the SRTP policy of calls. SDES keys cross the
/// signalling, so over unencrypted SIP they are only sent when `srtpkeysinclear` accepts
/// that; else DTLS-SRTP alone keys the calls where `srtpmode` allows it, optional SRTP is off
/// (an SRTP-only offer gets 488) and mandatory SRTP refuses every call.
pub(super) fn srtp_policy(settings: &Settings, transport: Transport) -> SrtpPolicy {
    let mut warnings = Vec::new();
    let mut policy = match (settings.int("mediaencryption"), settings.int("srtpmode")) {
        (0, _) => MediaEncryption::Off,
        (_, 3) | (2, _) => MediaEncryption::Mandatory,
        (3, _) => {
            warnings.push(
                "mediaencryption=3: ZRTP is not supported; SRTP with SDES keys is offered instead"
                    .to_string(),
            );
            MediaEncryption::Optional
        }
        _ => MediaEncryption::Optional,
    };
    let mode = settings.int("srtpmode");
    let dtls = policy != MediaEncryption::Off && matches!(mode, 1 | 2);
    let sdes = mode != 1;
    let signalling_encrypted = transport.is_encrypted();
    let mut keys_allowed = true;
    if policy != MediaEncryption::Off && !signalling_encrypted && sdes {
        if dtls && !settings.bool("srtpkeysinclear") {
            // srtpmode=2 over clear SIP: DTLS-SRTP alone, no SDES key is put in the SDP.
            keys_allowed = false;
        } else if settings.bool("srtpkeysinclear") {
            warnings.push(
                "SRTP keys travel in unencrypted SIP (srtpkeysinclear=1): whoever can read the \
                 signalling can decrypt the calls"
                    .to_string(),
            );
        } else if policy == MediaEncryption::Mandatory {
            warnings.push(
                "SRTP is mandatory, but its keys would travel in unencrypted SIP: every call is \
                 refused (set srtpkeysinclear=1 to accept that risk)"
                    .to_string(),
            );
            keys_allowed = false;
        } else {
            warnings.push(
                "mediaencryption is set, but the SRTP keys would travel in unencrypted SIP: calls \
                 stay unencrypted (set srtpkeysinclear=1 to accept that risk)"
                    .to_string(),
            );
            policy = MediaEncryption::Off;
        }
    }
    SrtpPolicy {
        encryption: policy,
        sdes,
        sdes_keys_allowed: keys_allowed,
        dtls,
        warnings,
    }
}

/// `srtpsuites` as suites, best first (empty: all), and the names it has that are none.
pub(super) fn srtp_suites(settings: &Settings) -> (Vec<SrtpSuite>, Vec<String>) {
    let text = settings.text("srtpsuites");
    let mut suites = Vec::new();
    let mut unknown = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match SrtpSuite::from_name(name) {
            Some(s) if !suites.contains(&s) => suites.push(s),
            Some(_) => {}
            None => unknown.push(format!("srtpsuites: {name:?} is not an SRTP suite we know")),
        }
    }
    if suites.is_empty() {
        suites = SrtpSuite::ALL.to_vec();
    }
    (suites, unknown)
}

/// The jitter buffer's delay range in frames from `jittersize` (0..6) and `maxjitter`: the
/// start/minimum target and the most it may adapt up to (8 at the default size, as the
/// reference has it).
pub(super) fn jitter_range(settings: &Settings) -> (usize, usize) {
    const MIN: [usize; 7] = [1, 1, 2, 3, 5, 7, 10];
    const MAX: [usize; 7] = [1, 3, 5, 8, 12, 16, 25];
    let size = settings.int("jittersize").clamp(0, 6) as usize;
    let max = MAX[size].min(settings.int("maxjitter").max(1) as usize);
    (MIN[size].min(max), max)
}

/// `silencesupress` (with `vad` 0 it has nothing to detect silence with), `sendrtponmuted`,
/// `rtpkeepalive`.
fn silence_settings(settings: &Settings) -> crate::media::silence::SilenceSettings {
    let vad_level = settings.int("vad").clamp(0, 4) as u8;
    let keepalive = settings.int("rtpkeepalive");
    crate::media::silence::SilenceSettings {
        suppress: settings.bool("silencesupress") && vad_level > 0,
        vad_level,
        send_on_mute: settings.bool("sendrtponmuted"),
        keepalive: (keepalive > 0).then(|| std::time::Duration::from_millis(keepalive as u64)),
    }
}

/// The media settings every call uses.
pub(super) fn media_config(settings: &Settings) -> MediaConfig {
    MediaConfig {
        session: crate::media::session::SessionConfig {
            jitter: jitter_range(settings),
            media_timeout: std::time::Duration::from_secs(settings.int("mediatimeout") as u64),
            opus: media_prefs(settings).opus,
            nat_open: match settings.int("natopenpackets") {
                0 => (0, false),
                1 => (1, false),
                n => (n as u32, settings.int("natopenpackettype") == 2),
            },
            silence: silence_settings(settings),
        },
        gain_in: super::media::volume_gain(settings.int("volumein")),
        gain_out: super::media::volume_gain(settings.int("volumeout")),
    }
}

/// The server's and the outbound proxy's addresses, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Servers {
    pub server: Option<SocketAddr>,
    pub proxy: Option<SocketAddr>,
    /// The server domain's other SRV targets, in the order to fail over to.
    pub fallbacks: Vec<SocketAddr>,
    /// The transport the domain's records chose (`autotransportdetect`).
    pub transport: Option<Transport>,
}

/// Resolves `serveraddress` and `proxyaddress` (texts as the settings have them; empty: none)
/// the RFC 3263 way ([`Dns::resolve_sip`]): the transport (fixed or detected from what the
/// first of them publishes) and the addresses in the order to try.
pub(super) async fn resolve_servers(
    server: &str,
    proxy: &str,
    (choice, lookups): (TransportChoice, SipLookups),
    dns: &Dns,
) -> anyhow::Result<Servers> {
    let (server, proxy) = (server.trim(), proxy.trim());
    // Through an outbound proxy the proxy's records choose; else the server's.
    let (first, second) = if proxy.is_empty() {
        (server, "")
    } else {
        (proxy, server)
    };
    if first.is_empty() {
        return Ok(Servers::default());
    }
    let (transport, found) = dns.resolve_sip(first, choice, lookups).await?;
    let mut found = found.into_iter();
    let first_addr = found.next();
    let detected = (choice == TransportChoice::Detect).then_some(transport);
    if second.is_empty() {
        return Ok(Servers {
            server: first_addr,
            proxy: None,
            fallbacks: found.collect(),
            transport: detected,
        });
    }
    let (_, server_found) = dns
        .resolve_sip(second, TransportChoice::Fixed(transport), lookups)
        .await?;
    Ok(Servers {
        server: server_found.into_iter().next(),
        proxy: first_addr,
        fallbacks: Vec::new(),
        transport: detected,
    })
}

/// The RFC 3263 lookups and the transport choice the settings ask for: `usesrv` 0 none, 1/2
/// SRV, 3 NAPTR and SRV; `autotransportdetect` picks the transport from NAPTR/SRV.
pub(super) fn sip_lookups(settings: &Settings) -> (TransportChoice, SipLookups) {
    let choice = if settings.bool("autotransportdetect") {
        TransportChoice::Detect
    } else {
        TransportChoice::Fixed(
            Transport::from_param(settings.int("transport")).unwrap_or(Transport::Udp),
        )
    };
    let usesrv = settings.int("usesrv");
    (
        choice,
        SipLookups {
            srv: usesrv != 0,
            naptr: usesrv == 3,
        },
    )
}

/// `dnsserver`: the name server to ask instead of the system's.
pub(super) fn dns_server(settings: &Settings) -> Option<SocketAddr> {
    let text = settings.text("dnsserver");
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// Builds the UA configuration from settings and the resolved server addresses.
pub(super) fn ua_config(
    settings: &Settings,
    servers: &Servers,
) -> anyhow::Result<(UaConfig, Endpoint)> {
    let configured = Transport::from_param(settings.int("transport")).map_err(|e| anyhow!(e))?;
    let transport = servers.transport.unwrap_or(configured);
    let server_text = settings.text("serveraddress");
    let proxy_text = settings.text("proxyaddress");
    let Servers {
        server,
        proxy,
        ref fallbacks,
        transport: _,
    } = *servers;
    let first_hop = proxy.or(server).map(|addr| Destination { transport, addr });
    let local_ip = match settings.text("localip") {
        ip if !ip.is_empty() => ip
            .parse::<IpAddr>()
            .map_err(|_| anyhow!("localip: {ip:?} is not an IP address"))?,
        _ => match first_hop {
            Some(d) => local_ip_towards(d.addr)?,
            None => "127.0.0.1".parse()?,
        },
    };
    let user = settings.text("username");
    let password = settings.secret("password");
    let ha1_md5 = settings.secret("md5");
    let has_credentials = password.is_some() || ha1_md5.is_some();
    let register = match settings.int("register") {
        0 => false,
        2 => !user.is_empty(),
        _ => !user.is_empty() && has_credentials,
    };
    let interval = match settings.int("registerinterval") {
        i if i < 10 => 120,
        i => i as u32,
    };
    let text_opt = |name: &str| Some(settings.text(name)).filter(|s| !s.is_empty());
    let cfg = UaConfig {
        user,
        auth_user: text_opt("sipusername"),
        display_name: text_opt("displayname"),
        password,
        ha1_md5,
        realm: text_opt("realm"),
        domain: server_text,
        first_hop,
        // Failover among the server's SRV targets; through an outbound proxy there is one.
        fallback_hops: if proxy.is_some() {
            Vec::new()
        } else {
            fallbacks
                .iter()
                .map(|&addr| Destination { transport, addr })
                .collect()
        },
        outbound_proxy: proxy.map(|_| proxy_text),
        local: SocketAddr::new(local_ip, 0),
        transport,
        register,
        register_interval: interval,
        accept_expires: match settings.int("acceptexpires") {
            0 => AcceptExpires::Ignore,
            2 => AcceptExpires::Always,
            _ => AcceptExpires::Shorter,
        },
        rport: RportMode::from_param(settings.int("use_rport") as u32)
            .unwrap_or(RportMode::WhenSure),
        keepalive: KeepAliveType::from_param(settings.int("keepalivetype") as u32)
            .unwrap_or(KeepAliveType::CrlfCrlf),
        keepalive_interval: Duration::from_millis(settings.int("keepaliveival") as u64),
        capability_request: settings.bool("capabilityrequest"),
        timers: TimerConfig::scaled(settings.int("timer") as u32),
        unregister_on_exit: settings.bool("unregisteronexit"),
        wait_for_unregister: Duration::from_millis(settings.int("waitforunregister") as u64),
        user_agent: USER_AGENT.to_string(),
        max_lines: settings.int("maxlines").clamp(1, 99) as u32,
        prefix: settings.text("prefix"),
        reject_on_busy: settings.bool("rejectonbusy"),
        ring_timeout: Duration::from_millis(settings.int("ringtimeout") as u64),
        call_timeout: Duration::from_millis(settings.int("calltimeout") as u64),
        media: with_srtp_for(media_prefs(settings), settings, transport),
        progress_mode: settings.int("changesptoring") as u8,
        incoming: crate::sip::ua::IncomingPolicy {
            dnd: settings
                .bool("dnd")
                .then(|| u16::try_from(settings.int("dndresponse")).unwrap_or(486)),
            ignore: settings.bool("ignoreincoming"),
            transfer_all: settings.text("transferall").trim().to_string(),
            forward_no_answer: Some(settings.text("forwardonnoanswer"))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .map(|t| {
                    let secs = settings.int("forwardnoanswertime").clamp(1, 3600) as u64;
                    (t, Duration::from_secs(secs))
                }),
            ..crate::sip::ua::IncomingPolicy::from_params(
                &settings.text("forwardall"),
                &settings.text("forwardonbusy"),
                &settings.text("blacklist"),
                settings.int("allowreplace") != 0,
            )
        },
        transfer: crate::sip::refer::TransferPrefs::from_params(
            settings.int("transfertype"),
            settings.bool("discontransfer"),
            settings.int("transfdelay").max(0) as u64,
            settings.bool("transferwithreplace"),
        ),
        use_100rel: settings.bool("use100rel"),
        check_target: crate::sip::dial_check::TargetCheck::from_param(settings.int("checktarget")),
        voicemail: crate::sip::ua::VoicemailMode::from_param(settings.int("voicemail")),
        presence_enabled: settings.bool("enablepresence"),
        presence_expires: u32::try_from(settings.int("presenceexpiresec")).unwrap_or(3600),
        watcher_policy: crate::sip::ua::WatcherPolicy::from_param(
            settings.int("autoacceptpresencerequests"),
        ),
        session_timer: crate::sip::session_expires::SessionTimerPrefs {
            interval: u32::try_from(settings.int("sessiontimer"))
                .ok()
                .filter(|s| *s > 0)
                .map(|s| s.max(crate::sip::session_expires::MIN_SE)),
        },
    };
    let endpoint = Endpoint {
        port: settings.int("signalingport") as u16,
        local_ip,
    };
    Ok((cfg, endpoint))
}

/// How calls ring: `ringerdevice`, `volumering`, and the ringtone `kind` (read from the
/// `ringtone` file off the loop, see `ring::ring_sound`); when they ring (`playring`) is the
/// phone policy's.
pub(super) fn ring_settings(settings: &Settings, sound: Arc<Sound>) -> RingSettings {
    RingSettings {
        device: settings.text("ringerdevice"),
        sound,
        gain: super::media::volume_gain(settings.int("volumering")),
        file_rate: media_prefs(settings)
            .offer
            .first()
            .map_or(8000, |c| c.sample_rate()),
    }
}

/// How calls ring here and there.
#[derive(Debug, Clone)]
pub(super) struct RingSettings {
    pub(super) device: String,
    /// The ring, one cadence to loop: the built-in one or the `ringtone` file and a pause.
    pub(super) sound: Arc<Sound>,
    pub(super) gain: f32,
    /// Rate of a ringback written to a playback file before the codec is known: that of the
    /// codec we offer first, which the call most likely gets.
    pub(super) file_rate: u32,
}

impl RingSettings {
    /// `ringerdevice=All`: every sound card rings (their list is read off the loop).
    pub(super) fn on_every_card(&self) -> bool {
        self.device.trim().eq_ignore_ascii_case("all")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dtls_certificate_is_kept_private_and_comes_back_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("dtls-identity.pem");
        let first = kept_dtls_identity(&path).expect("made");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("kept").permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
        }
        let again = kept_dtls_identity(&path).expect("read");
        assert_eq!(again.fingerprint(), first.fingerprint());
        // A damaged file is replaced by a new certificate (and kept again).
        std::fs::write(&path, "garbage").expect("damage");
        let fresh = kept_dtls_identity(&path).expect("remade");
        assert_ne!(fresh.fingerprint(), first.fingerprint());
        assert_eq!(
            kept_dtls_identity(&path).expect("read").fingerprint(),
            fresh.fingerprint()
        );
    }
}
