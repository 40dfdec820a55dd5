//! The audio codecs the softphone negotiates: their SDP names, RTP clock rates, sample rates
//! and static payload types, and Opus's format parameters (RFC 7587).

/// The audio codecs the softphone knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Codec {
    Pcmu,
    Pcma,
    /// G.722 at 64 kbit/s: 16 kHz audio on an 8 kHz RTP clock (RFC 3551 §4.5.2).
    G722,
    /// Opus (RFC 7587): always `opus/48000/2` in SDP, mono audio here.
    Opus,
    /// GSM 06.10 full rate, 13 kbit/s (RFC 3551 §4.5.8).
    Gsm,
    /// Speex narrowband, 8 kHz (RFC 5574).
    Speex,
    /// Speex wideband, 16 kHz.
    SpeexWb,
    /// Speex ultra-wideband, 32 kHz.
    SpeexUwb,
    /// G.729 (Annex A compatible), 8 kbit/s (RFC 3551 §4.5.6); encoded and decoded only in a
    /// build with the `g729` feature, never negotiated otherwise.
    G729,
}

/// The payload type we offer Opus on (dynamic; an answer echoes the offerer's).
pub const OPUS_DEFAULT_PT: u8 = 111;
/// The dynamic payload types we offer Speex narrow, wide and ultra-wideband on.
const SPEEX_DEFAULT_PTS: [u8; 3] = [97, 98, 99];

impl Codec {
    /// The rtpmap encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
            Codec::Gsm => "GSM",
            Codec::G729 => "G729",
            Codec::Speex | Codec::SpeexWb | Codec::SpeexUwb => "speex",
        }
    }
    /// The payload type we offer it on: static (RFC 3551) or our dynamic choice.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G722 => 9,
            Codec::Opus => OPUS_DEFAULT_PT,
            Codec::Gsm => 3,
            Codec::G729 => 18,
            Codec::Speex => SPEEX_DEFAULT_PTS[0],
            Codec::SpeexWb => SPEEX_DEFAULT_PTS[1],
            Codec::SpeexUwb => SPEEX_DEFAULT_PTS[2],
        }
    }
    /// RTP clock rate (timestamp units per second).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            Codec::SpeexWb | Codec::SpeexUwb => self.sample_rate(),
            _ => 8000,
        }
    }
    /// The rate of the audio the codec encodes and decodes.
    pub fn sample_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::Gsm | Codec::Speex | Codec::G729 => 8000,
            Codec::G722 | Codec::SpeexWb => 16_000,
            Codec::SpeexUwb => 32_000,
            Codec::Opus => 48_000,
        }
    }
    /// The rtpmap value after the payload type: `PCMU/8000`, `opus/48000/2`.
    pub fn rtpmap(self) -> String {
        match self {
            Codec::Opus => "opus/48000/2".into(),
            c => format!("{}/{}", c.name(), c.clock_rate()),
        }
    }
    pub(super) fn from_rtpmap(name: &str, rate: u32) -> Option<Codec> {
        match (name.to_ascii_uppercase().as_str(), rate) {
            ("PCMU", 8000) => Some(Codec::Pcmu),
            ("PCMA", 8000) => Some(Codec::Pcma),
            ("G722", 8000) => Some(Codec::G722),
            ("OPUS", 48_000) => Some(Codec::Opus),
            ("GSM", 8000) => Some(Codec::Gsm),
            ("G729", 8000) => Some(Codec::G729),
            ("SPEEX", 8000) => Some(Codec::Speex),
            ("SPEEX", 16_000) => Some(Codec::SpeexWb),
            ("SPEEX", 32_000) => Some(Codec::SpeexUwb),
            _ => None,
        }
    }
    pub(super) fn from_static(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            3 => Some(Codec::Gsm),
            8 => Some(Codec::Pcma),
            9 => Some(Codec::G722),
            18 => Some(Codec::G729),
            _ => None,
        }
    }
}

/// Opus format parameters (RFC 7587 §6.1): what a receiver can use and wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpusParams {
    /// `maxplaybackrate`: the widest audio band worth sending, in Hz (8000 narrowband ..
    /// 48000 fullband).
    pub max_rate: u32,
    /// `useinbandfec`: the receiver decodes in-band forward error correction.
    pub fec: bool,
    /// `usedtx`: the receiver prefers discontinuous transmission.
    pub dtx: bool,
}

impl Default for OpusParams {
    /// RFC 7587's defaults for a peer that sends no fmtp.
    fn default() -> Self {
        OpusParams {
            max_rate: 48_000,
            fec: false,
            dtx: false,
        }
    }
}

impl OpusParams {
    /// The fmtp value (without the payload type).
    pub fn to_fmtp(self) -> String {
        format!(
            "maxplaybackrate={0};sprop-maxcapturerate={0};useinbandfec={1};usedtx={2}",
            self.max_rate,
            u8::from(self.fec),
            u8::from(self.dtx)
        )
    }

    /// Reads an fmtp value; unknown or malformed parameters keep their defaults.
    pub fn from_fmtp(value: &str) -> OpusParams {
        let mut p = OpusParams::default();
        for item in value.split(';') {
            let Some((k, v)) = item.split_once('=') else {
                continue;
            };
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "maxplaybackrate" => {
                    if let Ok(r) = v.parse::<u32>() {
                        p.max_rate = r.clamp(8000, 48_000);
                    }
                }
                "useinbandfec" => p.fec = v == "1",
                "usedtx" => p.dtx = v == "1",
                _ => {}
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_fmtp_round_trips_and_tolerates_junk() {
        let ours = OpusParams {
            max_rate: 16_000,
            fec: true,
            dtx: true,
        };
        assert_eq!(OpusParams::from_fmtp(&ours.to_fmtp()), ours);
        let junk = OpusParams::from_fmtp("maxplaybackrate=abc; useinbandfec=1;;x;stereo=1");
        assert_eq!(junk.max_rate, 48_000);
        assert!(junk.fec && !junk.dtx);
        assert_eq!(OpusParams::from_fmtp("maxplaybackrate=1").max_rate, 8000);
    }

    #[test]
    fn rtpmap_names() {
        assert_eq!(Codec::Opus.rtpmap(), "opus/48000/2");
        assert_eq!(Codec::G722.rtpmap(), "G722/8000");
        assert_eq!(Codec::from_rtpmap("OPUS", 48_000), Some(Codec::Opus));
        assert_eq!(Codec::from_rtpmap("g722", 8000), Some(Codec::G722));
        assert_eq!(Codec::from_rtpmap("G722", 16_000), None);
        assert_eq!(Codec::SpeexWb.rtpmap(), "speex/16000");
        assert_eq!(Codec::from_rtpmap("SPEEX", 32_000), Some(Codec::SpeexUwb));
        assert_eq!(Codec::Gsm.rtpmap(), "GSM/8000");
        assert_eq!(Codec::from_static(3), Some(Codec::Gsm));
        assert_eq!(Codec::G729.rtpmap(), "G729/8000");
        assert_eq!(Codec::from_static(18), Some(Codec::G729));
        assert_eq!(Codec::from_rtpmap("g729", 8000), Some(Codec::G729));
    }
}
