//! Which parameters the SIP server may push (`x-mparam` / `x-mparamp` headers on its replies
//! to our REGISTER and OPTIONS). The server is not the user: it may tune how calls sound and
//! how the window looks, never where files are written or read (`playbackdevice=file:...`
//! would let it overwrite the user's files), never anything that answers, forwards, records or
//! transfers calls, never who we are or where we register, never the control API. So this is
//! an allow-list: a parameter not named here is refused (and named in a warning), including
//! every parameter added later until someone decides it is harmless.

/// The parameters a server may set.
pub const SERVER_PUSHABLE: &[&str] = &[
    // Codec priorities and media tuning.
    "use_pcmu",
    "use_pcma",
    "use_g722",
    "use_opusnb",
    "use_opuswb",
    "use_opusswb",
    "use_opusuwb",
    "use_g729",
    "use_gsm",
    "use_ilbc",
    "use_speex",
    "use_speexwb",
    "use_speexuwb",
    "disablewbforpstn",
    "alwaysallowlowcodec",
    "codecframecount",
    "setfinalcodec",
    "jittersize",
    "maxjitter",
    "plc",
    "vad",
    "aec",
    "aec2",
    "denoise",
    "agc",
    "silencesupress",
    "rtcp",
    "holdtype",
    "dtmfmode",
    "natopenpackets",
    "natopenpackettype",
    // Lines and timers.
    "maxlines",
    "registerinterval",
    "acceptexpires",
    "keepalivetype",
    "keepaliveival",
    "use_rport",
    "ringtimeout",
    "calltimeout",
    "mediatimeout",
    "mediatimeoutjs",
    "rtpkeepalive",
    "changesptoring",
    // Volumes (the user's own sliders beat them: run-time changes rank above the server only
    // where the server has not set them).
    "volumein",
    "volumeout",
    "volumering",
    // Display options.
    "language",
    "locale",
    "design",
    "compact",
    "multilinegui",
    "hasvolume",
    "hasconnect",
    "hascallhangup",
    "hasconference",
    "hashold",
    "hasmute",
    "hasredial",
    "hasaudio",
    "hasincomingcall",
    "haschat",
    "hasextension",
    "hasdisplayname",
    "boxbgcolor",
    "color_background",
    "color_label_foreground",
    "color_edit_background",
    "color_edit_foreground",
    "color_buton_background",
    "color_buton_foreground",
    "color_buton_dial_background",
    "color_buton_dial_foreground",
    "color_other_background",
];

/// Whether the server may set parameter `name` (a registry name).
pub fn server_may_set(name: &str) -> bool {
    SERVER_PUSHABLE.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::params::{Kind, find};

    #[test]
    fn only_harmless_registered_parameters() {
        for name in SERVER_PUSHABLE {
            let def = find(name).unwrap_or_else(|| panic!("{name} is not in the registry"));
            assert_eq!(def.name, *name);
            assert_ne!(def.kind, Kind::Secret, "{name}");
            assert_ne!(def.kind, Kind::HostPort, "{name}");
        }
        for refused in [
            "playbackdevice",
            "recorddevice",
            "ringerdevice",
            "ringtone",
            "autoaccept",
            "autocall",
            "callto",
            "forwardall",
            "forwardonbusy",
            "forwardonnoanswer",
            "ignoreincoming",
            "transferall",
            "voicerecording",
            "voicerecfilenameprefix",
            "serveraddress",
            "username",
            "password",
            "wpapilistenport",
            "loglevel",
            "prefix",
        ] {
            assert!(!server_may_set(refused), "{refused}");
        }
    }
}
