//! SDP offer/answer (RFC 3264) for one audio stream: building our offer, reading the peer's
//! offer or answer, and answering with the intersection of codecs in our order. Parsing and
//! printing go through the `sdp` crate; the negotiation rules are ours. Sans-IO.

use sdp::description::common::{Address, Attribute, ConnectionInformation};
use sdp::description::media::{MediaDescription, MediaName, RangedPort};
use sdp::description::session::{Origin, SessionDescription, TimeDescription, Timing};
use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};
use thiserror::Error;

mod codec;
pub mod crypto;
pub mod dtls;

use crate::rtp::dtls::Fingerprint;
use crate::rtp::srtp::SrtpKeys;
pub use codec::{Codec, OPUS_DEFAULT_PT, OpusParams};
pub use crypto::{CryptoLine, LocalSrtp, MediaEncryption, SrtpRefusal};
pub use dtls::{DtlsAgreement, RemoteDtls, Setup};

/// The static payload type of comfort noise (RFC 3551 Table 4, RFC 3389).
pub const CN_PT: u8 = 13;

/// The media direction attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    /// What we answer to a peer offering `self` when we want `ours` (RFC 3264 §6.1).
    pub fn answer_to(self, ours: Direction) -> Direction {
        let (peer_sends, peer_recvs) = self.flows();
        let (we_send, we_recv) = ours.flows();
        Direction::from_flows(we_send && peer_recvs, we_recv && peer_sends)
    }
    fn flows(self) -> (bool, bool) {
        match self {
            Direction::SendRecv => (true, true),
            Direction::SendOnly => (true, false),
            Direction::RecvOnly => (false, true),
            Direction::Inactive => (false, false),
        }
    }
    fn from_flows(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}

/// Our side of the stream.
#[derive(Debug, Clone)]
pub struct LocalMedia {
    pub addr: IpAddr,
    pub port: u16,
    /// Codecs we offer, best first (priority 2 and 3 of `use_xxx`).
    pub offer: Vec<Codec>,
    /// Codecs we accept when offered (priority 1 and above), best first.
    pub accept: Vec<Codec>,
    /// Payload type for telephone-event (RFC 4733), `None` to not offer DTMF events.
    pub dtmf_pt: Option<u8>,
    /// Offer comfort noise (RFC 3389, `CN/8000` on payload type 13): we suppress silence. An
    /// offered CN is answered either way, since we can always play it.
    pub cn: bool,
    pub ptime: u32,
    pub direction: Direction,
    /// What we want to receive as Opus (our fmtp).
    pub opus: OpusParams,
    /// `setfinalcodec` ≠ 0: an answer names only the codec we chose, not every common one.
    pub final_codec_only: bool,
    /// SRTP policy and our keys (SDES).
    pub srtp: LocalSrtp,
}

/// The peer's side as read from its SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMedia {
    /// Where to send RTP; `None` when the stream was rejected (port 0).
    pub rtp: Option<SocketAddr>,
    /// (payload type, codec) in the peer's order, unknown codecs left out.
    pub codecs: Vec<(u8, Codec)>,
    pub dtmf_pt: Option<u8>,
    /// The comfort-noise payload type (RFC 3389), when listed.
    pub cn_pt: Option<u8>,
    pub direction: Direction,
    pub ptime: Option<u32>,
    /// The peer's Opus fmtp, when it lists Opus.
    pub opus: Option<OpusParams>,
    /// `a=rtcp-mux`: RTCP on the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// The offer's other streams, answered with port 0.
    pub others: Vec<OtherStream>,
    /// The audio stream's transport profile (`RTP/AVP`, `RTP/SAVP`, ...).
    pub protos: Vec<String>,
    /// Its usable `a=crypto` lines, in the peer's order.
    pub crypto: Vec<CryptoLine>,
    /// Its `a=fingerprint` (SHA-256) and `a=setup`, when it does DTLS-SRTP.
    pub dtls: Option<RemoteDtls>,
}

/// What both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Negotiated {
    /// The codec we send.
    pub codec: Codec,
    pub payload_type: u8,
    /// Every codec both sides agreed on, ours first: the peer may send any of them.
    pub codecs: Vec<(u8, Codec)>,
    /// What the peer wants to receive as Opus.
    pub opus: OpusParams,
    /// RTCP goes over the RTP port (both sides said `a=rtcp-mux`).
    pub rtcp_mux: bool,
    pub remote: SocketAddr,
    pub dtmf_pt: Option<u8>,
    /// Comfort noise (RFC 3389) agreed on this payload type: either side may send it for
    /// silence.
    #[serde(default)]
    pub cn_pt: Option<u8>,
    /// Our effective direction.
    pub direction: Direction,
    pub ptime: u32,
    /// The SRTP keys when the call is encrypted with SDES. Never serialised.
    #[serde(skip)]
    pub srtp: Option<SrtpKeys>,
    /// DTLS-SRTP agreed: the handshake on the media port keys the call (`srtp` is then
    /// `None`; no media flows until it has).
    #[serde(skip)]
    pub dtls: Option<DtlsAgreement>,
}

/// Why an SDP could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    #[error("malformed SDP: {0}")]
    Malformed(String),
    #[error("no audio stream in the SDP")]
    NoAudio,
    #[error("no common codec")]
    NoCommonCodec,
    #[error(transparent)]
    Srtp(#[from] SrtpRefusal),
}

/// A stream of the peer's offer that we do not take (video, a second audio stream): the
/// answer keeps its place with port 0 (RFC 3264 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherStream {
    /// Its position among the offer's m-lines.
    pub index: usize,
    pub media: String,
    pub protos: Vec<String>,
    pub formats: Vec<String>,
}

/// Builds our SDP (offer, or answer when `codecs` is the agreed list and `others` are the
/// offer's streams we reject).
fn build(
    local: &LocalMedia,
    codecs: &[(u8, Codec)],
    (dtmf_pt, cn_pt, rtcp_mux): (Option<u8>, Option<u8>, bool),
    (direction, others): (Direction, &[OtherStream]),
    (protos, crypto, dtls): (Vec<String>, &[String], Option<(Fingerprint, Setup)>),
    session: (u64, u64),
) -> String {
    let ip_type = if local.addr.is_ipv4() { "IP4" } else { "IP6" };
    let conn = ConnectionInformation {
        network_type: "IN".into(),
        address_type: ip_type.into(),
        address: Some(Address {
            address: local.addr.to_string(),
            ttl: None,
            range: None,
        }),
    };
    let mut formats: Vec<String> = codecs.iter().map(|(pt, _)| pt.to_string()).collect();
    let mut attributes = Vec::new();
    for (pt, c) in codecs {
        attributes.push(Attribute {
            key: "rtpmap".into(),
            value: Some(format!("{pt} {}", c.rtpmap())),
        });
        if *c == Codec::Opus {
            attributes.push(Attribute {
                key: "fmtp".into(),
                value: Some(format!("{pt} {}", local.opus.to_fmtp())),
            });
        }
        if *c == Codec::G729 {
            // We send no Annex B silence frames (RFC 4856 §2.1.9: absent means yes).
            attributes.push(Attribute {
                key: "fmtp".into(),
                value: Some(format!("{pt} annexb=no")),
            });
        }
    }
    if let Some(pt) = cn_pt {
        formats.push(pt.to_string());
        attributes.push(Attribute {
            key: "rtpmap".into(),
            value: Some(format!("{pt} CN/8000")),
        });
    }
    if let Some(pt) = dtmf_pt {
        formats.push(pt.to_string());
        attributes.push(Attribute {
            key: "rtpmap".into(),
            value: Some(format!("{pt} telephone-event/8000")),
        });
        attributes.push(Attribute {
            key: "fmtp".into(),
            value: Some(format!("{pt} 0-16")),
        });
    }
    attributes.push(Attribute {
        key: "ptime".into(),
        value: Some(local.ptime.to_string()),
    });
    if rtcp_mux {
        attributes.push(Attribute {
            key: "rtcp-mux".into(),
            value: None,
        });
    }
    for line in crypto {
        attributes.push(Attribute {
            key: "crypto".into(),
            value: Some(line.clone()),
        });
    }
    if let Some((fingerprint, setup)) = dtls {
        attributes.push(Attribute {
            key: "fingerprint".into(),
            value: Some(dtls::format_fingerprint(fingerprint)),
        });
        attributes.push(Attribute {
            key: "setup".into(),
            value: Some(setup.as_str().into()),
        });
    }
    attributes.push(Attribute {
        key: direction.as_str().into(),
        value: None,
    });
    let media = MediaDescription {
        media_name: MediaName {
            media: "audio".into(),
            port: RangedPort {
                value: if codecs.is_empty() {
                    0
                } else {
                    local.port as isize
                },
                range: None,
            },
            protos,
            formats,
        },
        media_title: None,
        connection_information: None,
        bandwidth: Vec::new(),
        encryption_key: None,
        attributes,
    };
    let sd = SessionDescription {
        version: 0,
        origin: Origin {
            username: "-".into(),
            session_id: session.0,
            session_version: session.1,
            network_type: "IN".into(),
            address_type: ip_type.into(),
            unicast_address: local.addr.to_string(),
        },
        session_name: "softphone".into(),
        session_information: None,
        uri: None,
        email_address: None,
        phone_number: None,
        connection_information: Some(conn),
        bandwidth: Vec::new(),
        time_descriptions: vec![TimeDescription {
            timing: Timing {
                start_time: 0,
                stop_time: 0,
            },
            repeat_times: Vec::new(),
        }],
        time_zones: Vec::new(),
        encryption_key: None,
        attributes: Vec::new(),
        media_descriptions: vec![media],
    };
    let mut sd = sd;
    for o in others {
        let rejected = MediaDescription {
            media_name: MediaName {
                media: o.media.clone(),
                port: RangedPort {
                    value: 0,
                    range: None,
                },
                protos: o.protos.clone(),
                // At least one format is required; the offer's first says which.
                formats: o.formats.iter().take(1).cloned().collect(),
            },
            media_title: None,
            connection_information: None,
            bandwidth: Vec::new(),
            encryption_key: None,
            attributes: Vec::new(),
        };
        let at = o.index.min(sd.media_descriptions.len());
        sd.media_descriptions.insert(at, rejected);
    }
    sd.marshal()
}

/// Our offer.
pub fn offer(local: &LocalMedia, session: (u64, u64)) -> String {
    let codecs: Vec<(u8, Codec)> = local.offer.iter().map(|c| (c.payload_type(), *c)).collect();
    let (protos, crypto) = crypto::offer_srtp(&local.srtp);
    let dtls = local
        .srtp
        .dtls
        .as_ref()
        .map(|id| (id.fingerprint(), Setup::ActPass));
    // We always take rtcp-mux; RTCP still goes to port + 1 unless the answer agrees.
    build(
        local,
        &codecs,
        (local.dtmf_pt, local.cn.then_some(CN_PT), true),
        (local.direction, &[]),
        (protos, &crypto, dtls),
        session,
    )
}

/// Reads the first audio stream of a peer's SDP.
pub fn parse(text: &str) -> Result<RemoteMedia, SdpError> {
    let sd = SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()))
        .map_err(|e| SdpError::Malformed(e.to_string()))?;
    let (audio_index, m) = sd
        .media_descriptions
        .iter()
        .enumerate()
        .find(|(_, m)| m.media_name.media == "audio" && m.media_name.port.value > 0)
        .or_else(|| {
            sd.media_descriptions
                .iter()
                .enumerate()
                .find(|(_, m)| m.media_name.media == "audio")
        })
        .ok_or(SdpError::NoAudio)?;
    let others = sd
        .media_descriptions
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != audio_index)
        .map(|(index, o)| OtherStream {
            index,
            media: o.media_name.media.clone(),
            protos: o.media_name.protos.clone(),
            formats: o.media_name.formats.clone(),
        })
        .collect();
    let conn = m
        .connection_information
        .as_ref()
        .or(sd.connection_information.as_ref())
        .and_then(|c| c.address.as_ref())
        .map(|a| a.address.clone());
    let port = m.media_name.port.value;
    let rtp = if port <= 0 || port > 65535 {
        None
    } else {
        let ip: IpAddr = conn
            .as_deref()
            .ok_or_else(|| SdpError::Malformed("no c= line for the audio stream".into()))?
            .parse()
            .map_err(|_| SdpError::Malformed("c= address is not an IP address".into()))?;
        Some(SocketAddr::new(ip, port as u16))
    };
    let rtpmaps: Vec<(u8, String, u32)> = m
        .attributes
        .iter()
        .filter(|a| a.key == "rtpmap")
        .filter_map(|a| {
            let v = a.value.as_deref()?;
            let (pt, rest) = v.split_once(' ')?;
            let mut enc = rest.trim().split('/');
            let name = enc.next()?.to_string();
            let rate = enc.next()?.parse().ok()?;
            Some((pt.parse().ok()?, name, rate))
        })
        .collect();
    let fmtp = |pt: u8| {
        m.attributes
            .iter()
            .filter(|a| a.key == "fmtp")
            .filter_map(|a| a.value.as_deref()?.split_once(' '))
            .find(|(p, _)| p.parse::<u8>().ok() == Some(pt))
            .map(|(_, v)| v.to_string())
    };
    let mut codecs = Vec::new();
    let mut dtmf_pt = None;
    let mut cn_pt = None;
    let mut opus = None;
    for f in &m.media_name.formats {
        let Ok(pt) = f.parse::<u8>() else { continue };
        match rtpmaps.iter().find(|(p, _, _)| *p == pt) {
            Some((_, name, rate))
                if name.eq_ignore_ascii_case("telephone-event") && *rate == 8000 =>
            {
                dtmf_pt = Some(pt)
            }
            Some((_, name, 8000)) if name.eq_ignore_ascii_case("CN") => cn_pt = Some(pt),
            Some((_, name, rate)) => {
                if let Some(c) = Codec::from_rtpmap(name, *rate) {
                    if c == Codec::Opus && opus.is_none() {
                        opus = Some(
                            fmtp(pt)
                                .map(|f| OpusParams::from_fmtp(&f))
                                .unwrap_or_default(),
                        );
                    }
                    codecs.push((pt, c));
                }
            }
            None if pt == CN_PT => cn_pt = Some(pt),
            None => {
                if let Some(c) = Codec::from_static(pt) {
                    codecs.push((pt, c));
                }
            }
        }
    }
    let has = |k: &str| m.has_attribute(k) || sd.attributes.iter().any(|a| a.key == k);
    let mut direction = if has("sendonly") {
        Direction::SendOnly
    } else if has("recvonly") {
        Direction::RecvOnly
    } else if has("inactive") {
        Direction::Inactive
    } else {
        Direction::SendRecv
    };
    // RFC 2543 hold: c=0.0.0.0 means the peer wants no media from us (it may still send).
    if conn.as_deref() == Some("0.0.0.0") {
        direction = direction.min_with(Direction::SendOnly);
    }
    let ptime = m
        .attribute("ptime")
        .flatten()
        .and_then(|p| p.trim().parse().ok());
    Ok(RemoteMedia {
        rtp,
        codecs,
        dtmf_pt,
        cn_pt,
        direction,
        ptime,
        opus,
        rtcp_mux: has("rtcp-mux"),
        others,
        protos: m.media_name.protos.clone(),
        crypto: m
            .attributes
            .iter()
            .filter(|a| a.key == "crypto")
            .filter_map(|a| crypto::parse_crypto(a.value.as_deref()?))
            .collect(),
        dtls: dtls::remote_dtls(&sd, m),
    })
}

impl Direction {
    /// The same direction with our sending taken away (early media before the answer).
    pub fn without_sending(self) -> Direction {
        self.min_with(Direction::RecvOnly)
    }

    /// The narrower of two directions (a flow exists only when both allow it).
    fn min_with(self, other: Direction) -> Direction {
        let (a, b) = self.flows();
        let (c, d) = other.flows();
        Direction::from_flows(a && c, b && d)
    }
}

/// Answers a peer's offer: the first of our accepted codecs that the peer offered, our
/// direction matched to the peer's. Gives the answer SDP and what was agreed, or
/// [`SdpError::NoCommonCodec`] (to be answered with 488).
pub fn answer(
    offer: &RemoteMedia,
    local: &LocalMedia,
    session: (u64, u64),
) -> Result<(String, Negotiated), SdpError> {
    let remote = offer.rtp.ok_or(SdpError::NoAudio)?;
    // The intersection in our order, on the offerer's payload types.
    let common: Vec<(u8, Codec)> = local
        .accept
        .iter()
        .filter_map(|c| offer.codecs.iter().find(|(_, oc)| oc == c).copied())
        .collect();
    let &(pt, codec) = common.first().ok_or(SdpError::NoCommonCodec)?;
    let listed = if local.final_codec_only {
        &common[..1]
    } else {
        &common[..]
    };
    // DTLS-SRTP when both do it (no key crosses the signalling), else SDES or clear.
    let dtls = dtls::answer_dtls(offer, &local.srtp);
    let srtp = match &dtls {
        Some(_) => crypto::SrtpAnswer {
            protos: offer.protos.clone(),
            line: None,
            keys: None,
        },
        None => crypto::answer_srtp(&offer.crypto, &offer.protos, &local.srtp)?,
    };
    let direction = offer.direction.answer_to(local.direction);
    let dtmf_pt = offer.dtmf_pt.filter(|_| local.dtmf_pt.is_some());
    let cn_pt = offer.cn_pt;
    let text = build(
        local,
        listed,
        (dtmf_pt, cn_pt, offer.rtcp_mux),
        (direction, &offer.others),
        (
            srtp.protos,
            srtp.line.as_slice(),
            dtls.as_ref()
                .map(|(setup, a)| (a.identity.fingerprint(), *setup)),
        ),
        session,
    );
    Ok((
        text,
        Negotiated {
            codec,
            payload_type: pt,
            codecs: listed.to_vec(),
            opus: offer.opus.unwrap_or_default(),
            rtcp_mux: offer.rtcp_mux,
            remote,
            dtmf_pt,
            cn_pt,
            direction,
            ptime: offer.ptime.unwrap_or(local.ptime),
            srtp: srtp.keys,
            dtls: dtls.map(|(_, a)| a),
        },
    ))
}

/// Reads the peer's answer to our offer: its first codec must be one we offered.
pub fn accept_answer(answer: &RemoteMedia, local: &LocalMedia) -> Result<Negotiated, SdpError> {
    let remote = answer.rtp.ok_or(SdpError::NoAudio)?;
    // The answerer's order decides what we send; it may send any codec of its answer.
    let codecs: Vec<(u8, Codec)> = answer
        .codecs
        .iter()
        .filter(|(_, c)| local.offer.contains(c) || local.accept.contains(c))
        .copied()
        .collect();
    let &(pt, codec) = codecs.first().ok_or(SdpError::NoCommonCodec)?;
    let direction = Direction::from_flows(answer.direction.flows().1, answer.direction.flows().0)
        .min_with(local.direction);
    // The answer's fingerprint means DTLS-SRTP (if we offered it); else its a=crypto.
    let dtls = match (&answer.dtls, &local.srtp.dtls) {
        (Some(remote), Some(identity)) => Some(DtlsAgreement {
            identity: identity.clone(),
            role: dtls::offer_role(remote),
            remote: remote.fingerprint,
            suites: local.srtp.dtls_suites.clone(),
        }),
        _ => None,
    };
    let srtp = match dtls {
        Some(_) => None,
        None => crypto::accept_srtp(&answer.crypto, &local.srtp)?,
    };
    Ok(Negotiated {
        codec,
        payload_type: pt,
        codecs,
        opus: answer.opus.unwrap_or_default(),
        rtcp_mux: answer.rtcp_mux,
        remote,
        dtmf_pt: answer.dtmf_pt.filter(|_| local.dtmf_pt.is_some()),
        // Only what we offered: the answerer may not add a payload type.
        cn_pt: answer.cn_pt.filter(|_| local.cn),
        direction,
        ptime: answer.ptime.unwrap_or(local.ptime),
        srtp,
        dtls,
    })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
