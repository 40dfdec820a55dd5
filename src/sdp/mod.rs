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

use crate::rtp::srtp::SrtpKeys;
pub use codec::{Codec, OPUS_DEFAULT_PT, OpusParams};
pub use crypto::{CryptoLine, LocalSrtp, MediaEncryption, SrtpRefusal};

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
    /// The SRTP keys when the call is encrypted. Never serialised.
    #[serde(skip)]
    pub srtp: Option<SrtpKeys>,
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
    (protos, crypto): (Vec<String>, &[String]),
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
    // We always take rtcp-mux; RTCP still goes to port + 1 unless the answer agrees.
    build(
        local,
        &codecs,
        (local.dtmf_pt, local.cn.then_some(CN_PT), true),
        (local.direction, &[]),
        (protos, &crypto),
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
    let srtp = crypto::answer_srtp(&offer.crypto, &offer.protos, &local.srtp)?;
    let direction = offer.direction.answer_to(local.direction);
    let dtmf_pt = offer.dtmf_pt.filter(|_| local.dtmf_pt.is_some());
    let cn_pt = offer.cn_pt;
    let text = build(
        local,
        listed,
        (dtmf_pt, cn_pt, offer.rtcp_mux),
        (direction, &offer.others),
        (srtp.protos, srtp.line.as_slice()),
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
    let srtp = crypto::accept_srtp(&answer.crypto, &local.srtp)?;
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(port: u16) -> LocalMedia {
        LocalMedia {
            addr: "192.0.2.1".parse().unwrap(),
            port,
            offer: vec![Codec::Pcma, Codec::Pcmu],
            accept: vec![Codec::Pcma, Codec::Pcmu],
            dtmf_pt: Some(101),
            cn: false,
            ptime: 20,
            direction: Direction::SendRecv,
            opus: OpusParams::default(),
            final_codec_only: true,
            srtp: LocalSrtp::off(),
        }
    }

    #[test]
    fn offer_round_trips_through_the_parser() {
        let text = offer(&local(40000), (1, 1));
        assert!(text.contains("m=audio 40000 RTP/AVP 8 0 101\r\n"), "{text}");
        assert!(text.contains("c=IN IP4 192.0.2.1\r\n"));
        let r = parse(&text).unwrap();
        assert_eq!(r.rtp, Some("192.0.2.1:40000".parse().unwrap()));
        assert_eq!(r.codecs, vec![(8, Codec::Pcma), (0, Codec::Pcmu)]);
        assert_eq!(r.dtmf_pt, Some(101));
        assert_eq!(r.direction, Direction::SendRecv);
        assert_eq!(r.ptime, Some(20));
    }

    #[test]
    fn comfort_noise_is_offered_with_suppression_and_always_answered() {
        let mut ours = local(40000);
        ours.cn = true;
        let text = offer(&ours, (1, 1));
        assert!(
            text.contains("m=audio 40000 RTP/AVP 8 0 13 101\r\n"),
            "{text}"
        );
        assert!(text.contains("a=rtpmap:13 CN/8000\r\n"));
        assert_eq!(parse(&text).unwrap().cn_pt, Some(13));
        // An offer with CN (static 13 without rtpmap, or a dynamic CN/8000) is answered
        // with it even when we do not suppress silence ourselves.
        for m in ["0 13", "0 96\r\na=rtpmap:96 CN/8000"] {
            let peer = format!(
                "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\n\
                 t=0 0\r\nm=audio 5004 RTP/AVP {m}\r\n"
            );
            let (text, n) = answer(&parse(&peer).unwrap(), &local(40002), (5, 5)).unwrap();
            let pt = n.cn_pt.unwrap();
            assert!(text.contains(&format!("a=rtpmap:{pt} CN/8000")), "{text}");
        }
        // An answer may not add CN we did not offer.
        let ans = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 13\r\n";
        let r = parse(ans).unwrap();
        assert_eq!(accept_answer(&r, &local(40000)).unwrap().cn_pt, None);
        assert_eq!(accept_answer(&r, &ours).unwrap().cn_pt, Some(13));
    }

    #[test]
    fn answer_picks_our_first_accepted_codec_and_mirrors_direction() {
        let peer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 0 8 96 97\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/8000\r\na=sendonly\r\n";
        let r = parse(peer).unwrap();
        assert_eq!(
            r.codecs,
            vec![(0, Codec::Pcmu), (8, Codec::Pcma), (96, Codec::Opus)]
        );
        let (text, n) = answer(&r, &local(40002), (5, 5)).unwrap();
        assert_eq!(n.codec, Codec::Pcma, "our order wins");
        assert_eq!(
            n.direction,
            Direction::RecvOnly,
            "peer holds us: we only receive"
        );
        assert_eq!(n.dtmf_pt, Some(97));
        assert!(text.contains("m=audio 40002 RTP/AVP 8 97\r\n"), "{text}");
        assert!(text.contains("a=recvonly\r\n"));
    }

    #[test]
    fn opus_answer_echoes_the_offered_payload_type_and_reads_fmtp() {
        let peer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 98 9 0\r\na=rtpmap:98 opus/48000/2\r\na=fmtp:98 maxplaybackrate=16000;useinbandfec=1\r\n";
        let r = parse(peer).unwrap();
        assert_eq!(
            r.opus.map(|o| (o.max_rate, o.fec, o.dtx)),
            Some((16_000, true, false))
        );
        let mut ours = local(40004);
        ours.accept = vec![Codec::Opus, Codec::G722, Codec::Pcmu];
        ours.opus = OpusParams {
            max_rate: 48_000,
            fec: true,
            dtx: true,
        };
        let (text, n) = answer(&r, &ours, (1, 1)).unwrap();
        assert_eq!((n.codec, n.payload_type), (Codec::Opus, 98));
        assert!(text.contains("m=audio 40004 RTP/AVP 98\r\n"), "{text}");
        assert!(text.contains("a=rtpmap:98 opus/48000/2\r\n"));
        assert!(text.contains("a=fmtp:98 maxplaybackrate=48000;sprop-maxcapturerate=48000;useinbandfec=1;usedtx=1\r\n"), "{text}");
        // setfinalcodec=0: every common codec, in our order, on the offerer's types.
        ours.final_codec_only = false;
        let (text, n) = answer(&r, &ours, (1, 1)).unwrap();
        assert!(text.contains("m=audio 40004 RTP/AVP 98 9 0\r\n"), "{text}");
        assert_eq!(
            n.codecs,
            vec![(98, Codec::Opus), (9, Codec::G722), (0, Codec::Pcmu)]
        );
        assert_eq!(n.opus.max_rate, 16_000);
    }

    #[test]
    fn other_streams_are_rejected_in_place_with_port_zero() {
        let peer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=video 5010 RTP/AVP 96 97\r\na=rtpmap:96 VP8/90000\r\nm=audio 5004 RTP/AVP 0\r\nm=text 5020 RTP/AVP 98\r\n";
        let r = parse(peer).unwrap();
        assert_eq!(r.rtp, Some("198.51.100.7:5004".parse().unwrap()));
        let (text, _) = answer(&r, &local(4002), (1, 1)).unwrap();
        let m_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(
            m_lines,
            vec![
                "m=video 0 RTP/AVP 96",
                "m=audio 4002 RTP/AVP 0",
                "m=text 0 RTP/AVP 98"
            ],
            "{text}"
        );
    }

    #[test]
    fn rtcp_mux_is_offered_and_mirrored() {
        assert!(offer(&local(4000), (1, 1)).contains("a=rtcp-mux\r\n"));
        let plain = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n";
        let (text, n) = answer(&parse(plain).unwrap(), &local(4002), (1, 1)).unwrap();
        assert!(!text.contains("rtcp-mux") && !n.rtcp_mux, "{text}");
        let muxed = format!("{plain}a=rtcp-mux\r\n");
        let (text, n) = answer(&parse(&muxed).unwrap(), &local(4002), (1, 1)).unwrap();
        assert!(text.contains("a=rtcp-mux\r\n") && n.rtcp_mux, "{text}");
        assert!(
            accept_answer(&parse(&muxed).unwrap(), &local(1))
                .unwrap()
                .rtcp_mux
        );
        assert!(
            !accept_answer(&parse(plain).unwrap(), &local(1))
                .unwrap()
                .rtcp_mux
        );
    }

    #[test]
    fn no_common_codec_and_rejected_streams() {
        let peer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18\r\n";
        assert_eq!(
            answer(&parse(peer).unwrap(), &local(1), (1, 1)).unwrap_err(),
            SdpError::NoCommonCodec
        );
        let rejected = peer.replace("5004", "0");
        assert_eq!(parse(&rejected).unwrap().rtp, None);
        assert!(parse("garbage").is_err());
        let video_only = peer.replace("m=audio", "m=video");
        assert_eq!(parse(&video_only).unwrap_err(), SdpError::NoAudio);
    }

    #[test]
    fn answer_to_our_offer() {
        let ans = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";
        let n = accept_answer(&parse(ans).unwrap(), &local(1)).unwrap();
        assert_eq!(n.codec, Codec::Pcmu);
        assert_eq!(n.direction, Direction::SendOnly);
        assert_eq!(n.remote, "198.51.100.7:6000".parse::<std::net::SocketAddr>().unwrap());
    }
}
