//! The parameter registry: every parameter's name, type, default, allowed values and help, in
//! one table that parsing, validation and `--help` all read.

/// The type of a parameter and what values it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// true/false (also 1/0, yes/no, on/off).
    Bool,
    /// An integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// One of the listed integers.
    Choice(&'static [i64]),
    /// Free text.
    Text,
    /// A secret (password, HA1): never printed, never written by us to a plain file.
    Secret,
    /// `host[:port]`, host a name or an IP literal (IPv6 in brackets).
    HostPort,
}

/// One parameter of the registry.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: Kind,
    /// The default as text (empty: none).
    pub default: &'static str,
    pub help: &'static str,
}

const fn p(name: &'static str, kind: Kind, default: &'static str, help: &'static str) -> ParamDef {
    ParamDef {
        name,
        kind,
        default,
        help,
    }
}

/// Every parameter the softphone understands.
#[rustfmt::skip]
pub const PARAMS: &[ParamDef] = &[
    p(
        "serveraddress",
        Kind::HostPort,
        "",
        "SIP server (registrar/proxy) as host[:port]; port 5060 when omitted",
    ),
    p(
        "username",
        Kind::Text,
        "",
        "SIP user name: the user part of your address",
    ),
    p(
        "password",
        Kind::Secret,
        "",
        "SIP password (never written to a plain file)",
    ),
    p(
        "md5",
        Kind::Secret,
        "",
        "MD5(username:realm:password), used instead of the password; needs realm",
    ),
    p(
        "realm",
        Kind::Text,
        "",
        "authentication realm the md5 hash was made for",
    ),
    p(
        "sipusername",
        Kind::Text,
        "",
        "authentication user name when it differs from username",
    ),
    p(
        "displayname",
        Kind::Text,
        "",
        "display name shown to the people you call",
    ),
    p(
        "register",
        Kind::Choice(&[0, 1, 2]),
        "1",
        "0: never register, 1: register when credentials are set, 2: always register",
    ),
    p(
        "registerinterval",
        Kind::Int { min: 1, max: 30000 },
        "120",
        "re-registration interval in seconds (below 10 means 120); Expires asked is interval*2+10",
    ),
    p(
        "acceptexpires",
        Kind::Choice(&[0, 1, 2]),
        "1",
        "0: ignore the server's expiry, 1: follow it when shorter, 2: always follow it",
    ),
    p(
        "use_rport",
        Kind::Choice(&[0, 1, 2, 3, 9]),
        "1",
        "rport: 0 don't ask, 1 use when sure (NAT seen twice), 2 always unless on public IP, 3 always, 9 ask but don't use",
    ),
    p(
        "keepalivetype",
        Kind::Choice(&[0, 1, 2, 3, 4]),
        "4",
        "NAT keep-alive: 0 none, 1 space+CRLF, 2 NOTIFY, 3 CRLF, 4 CRLFCRLF",
    ),
    p(
        "keepaliveival",
        Kind::Int {
            min: 0,
            max: 3_600_000,
        },
        "28000",
        "NAT keep-alive interval in ms; 0 disables",
    ),
    p(
        "proxyaddress",
        Kind::HostPort,
        "",
        "outbound proxy as host[:port]; requests go there with a Route to it",
    ),
    p(
        "transport",
        Kind::Choice(&[0, 1, 2, 3, 4, 5]),
        "0",
        "0 UDP, 1 TCP, 2 TLS, 3/4 HTTP tunnel, 5 auto (UDP)",
    ),
    p(
        "signalingport",
        Kind::Int { min: 0, max: 65535 },
        "0",
        "local SIP port; 0 picks a random port once and remembers it",
    ),
    p(
        "localip",
        Kind::Text,
        "",
        "local IP address to use in Via/Contact; found from the route to the server when empty",
    ),
    p(
        "timer",
        Kind::Int { min: 1, max: 1000 },
        "10",
        "SIP protocol timer scale: T1=500ms*timer/10 (T2, T4, retry back-off scale with it)",
    ),
    p(
        "capabilityrequest",
        Kind::Bool,
        "false",
        "send an OPTIONS request to the server at start and report the answer",
    ),
    p(
        "unregisteronexit",
        Kind::Bool,
        "true",
        "remove the registration when the softphone exits",
    ),
    p(
        "waitforunregister",
        Kind::Int { min: 0, max: 60000 },
        "2000",
        "how long exit waits for the un-REGISTER to be answered, in ms",
    ),
    p("dtmfmode", Kind::Choice(&[0, 1, 2, 3, 4]), "2", "DTMF: 1 SIP INFO, 2 RFC 4733 falling back to INFO, 3 both, 4 RFC 4733 only (0 as 2)"),
    p("prefix", Kind::Text, "", "put before every dialled number (an outside-line digit, say)"),
    p("ringtimeout", Kind::Int { min: 0, max: 3_600_000 }, "90000", "ms an unanswered call rings before it ends (0: forever)"),
    p("calltimeout", Kind::Int { min: 0, max: 86_400_000 }, "10800000", "ms after which a connected call is hung up (0: never)"),
    p("mediatimeout", Kind::Int { min: 0, max: 86_400 }, "300", "seconds without incoming RTP after which a call is hung up (0: never)"),
    p("defmute", Kind::Choice(&[1, 2, 3]), "3", "what mute silences by default: 1 both ways, 2 the speaker, 3 the microphone"),
    p("rejectonbusy", Kind::Bool, "false", "answer new calls with 486 Busy Here while a call is up"),
    p("autohold", Kind::Choice(&[0, 1, 2, 3, 4]), "0", "hold the other lines: 0 no, 1 on an incoming call, 2 on an outgoing call, 3 on both, 4 when switching lines"),
    p("automute", Kind::Choice(&[0, 1, 2, 3, 4]), "0", "mute the other lines: 0 no, 1 on an incoming call, 2 on an outgoing call, 3 on both, 4 when switching lines"),
    p("maxlines", Kind::Int { min: 1, max: 99 }, "4", "how many calls can be up at once (lines 1..maxlines)"),
    p("use_pcmu", Kind::Choice(&[0, 1, 2, 3]), "3", "G.711 u-law: 0 never, 1 accept but don't offer, 2 low priority, 3 high priority"),
    p("use_pcma", Kind::Choice(&[0, 1, 2, 3]), "2", "G.711 A-law: 0 never, 1 accept but don't offer, 2 low priority, 3 high priority"),
    p("use_g722", Kind::Choice(&[0, 1, 2, 3]), "2", "G.722 wideband (16 kHz): 0 never, 1 accept but don't offer, 2 low priority, 3 high priority"),
    p("use_opusnb", Kind::Choice(&[0, 1, 2, 3]), "1", "Opus narrowband (8 kHz): 0 never, 1 accept but don't offer, 2 low priority, 3 high priority"),
    p("use_opuswb", Kind::Choice(&[0, 1, 2, 3]), "1", "Opus wideband (16 kHz): 0 never, 1 accept but don't offer, 2 low priority, 3 high priority"),
    p("use_opusswb", Kind::Choice(&[0, 1, 2, 3]), "1", "Opus super-wideband (24 kHz): 0 never, 1 accept but don't offer, 2 low priority, 3 high priority"),
    p("use_opusuwb", Kind::Choice(&[0, 1, 2, 3]), "1", "Opus fullband (48 kHz): 0 never, 1 accept but don't offer, 2 low priority, 3 high priority"),
    p("holdtype", Kind::Choice(&[-1, 2, 3, 4]), "-1", "hold offers: -1 auto (as 2), 2 sendonly (RFC 3264 hold: the far end stops sending), 3 recvonly (we stop sending, still hear them), 4 inactive (both stop)"),
    p("setfinalcodec", Kind::Choice(&[0, 1, 2, 3]), "1", "answers: 0 list every common codec (RFC 3264), 1-3 only the chosen one"),
    p("jittersize", Kind::Choice(&[0, 1, 2, 3, 4, 5, 6]), "3", "jitter buffer: 0 none, 1 extra small, 2 small, 3 normal, 4 big, 5 extra big, 6 max (it adapts from there)"),
    p("maxjitter", Kind::Int { min: 1, max: 99 }, "99", "the jitter buffer never holds more than this many packets of delay"),
    p("savepassword", Kind::Bool, "false", "remember the password in the OS keyring for this account (never in a file); later launches need no password"),
    p("clearcfg", Kind::Bool, "false", "forget this account's remembered password and settings at start"),
    p("singleinstance", Kind::Bool, "true", "a second launch (a clicked sip: link) hands its number to the running softphone and exits"),
    p("autoaccept", Kind::Bool, "false", "answer incoming calls automatically"),
    p("callto", Kind::Text, "", "number, user or SIP URI to call (with autocall)"),
    p("autocall", Kind::Bool, "false", "call callto at start (once registered, when registering)"),
    p("recorddevice", Kind::Text, "Default", "microphone: Default, a sound card name (see --devices), file:PATH (16-bit WAV) or null"),
    p("playbackdevice", Kind::Text, "Default", "speaker: Default, a sound card name (see --devices), file:PATH (WAV written) or null"),
    p("ringerdevice", Kind::Text, "Default", "where incoming calls ring: Default, All (every speaker), a sound card name, file:PATH or null"),
    p("playring", Kind::Choice(&[0, 1, 2]), "2", "local ring: 0 none, 1 for incoming calls, 2 also ringback for outgoing calls (stops when the far end's own media arrives)"),
    p("ringtone", Kind::Text, "", "WAV file to ring with (16-bit); empty: the built-in ring"),
    p("volumering", Kind::Int { min: 0, max: 100 }, "50", "ring volume: 50 normal, 0.3 dB per step, 0 silent"),
    p("changesptoring", Kind::Choice(&[0, 1, 2, 3, 4]), "2", "183 Session Progress: 0 ignore, 1 ringing status only, 2 ringing with local ringback and early media, 3 early media without ringing status, 4 ringing status and early media"),
    p("earlymedia", Kind::Choice(&[0, 1, 2, 3, 4, 5, 6]), "2", "send our audio before the call is answered: 0-4 no (only NAT opening packets), 5 when the far end's SDP arrived, 6 always"),
    p("natopenpackets", Kind::Int { min: 0, max: 100 }, "2", "packets sent towards the far end's media address when early media starts: 0 none, 1 one empty packet, 2 or more that many"),
    p("natopenpackettype", Kind::Choice(&[1, 2]), "1", "NAT opening packets: 1 CRLFCRLF, 2 RTP packets of silence"),
    p("volumein", Kind::Int { min: 0, max: 100 }, "50", "microphone volume: 50 as captured, 0.3 dB per step, 0 silent"),
    p("volumeout", Kind::Int { min: 0, max: 100 }, "50", "speaker volume: 50 as received, 0.3 dB per step, 0 silent"),
    p("rtpport", Kind::Int { min: 0, max: 65535 }, "0", "first local RTP port; 0 picks random even ports in 20000-21000"),
    p(
        "loglevel",
        Kind::Int { min: 0, max: 6 },
        "1",
        "0 errors only ... 4 and above: full SIP trace in the log",
    ),
];

/// Looks a parameter up by name (case-insensitive).
pub fn find(name: &str) -> Option<&'static ParamDef> {
    PARAMS.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// The known parameter closest to `name`, for "did you mean" warnings.
pub fn closest(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    PARAMS
        .iter()
        .map(|d| (edit_distance(&name, d.name), d.name))
        .filter(|(d, n)| *d <= (n.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Parses a boolean the way the reference writes them.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Checks `value` against the parameter's kind; the error names the allowed values.
pub fn check(def: &ParamDef, value: &str) -> Result<(), String> {
    let v = value.trim();
    match def.kind {
        Kind::Bool => parse_bool(v)
            .map(|_| ())
            .ok_or_else(|| format!("{}: {v:?} is not true or false", def.name)),
        Kind::Int { min, max } => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(format!(
                "{}: {v:?} is not a whole number from {min} to {max}",
                def.name
            )),
        },
        Kind::Choice(allowed) => match v.parse::<i64>() {
            Ok(n) if allowed.contains(&n) => Ok(()),
            _ => Err(format!(
                "{}: {v:?} is not one of {}",
                def.name,
                allowed
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
        Kind::Text | Kind::Secret => Ok(()),
        Kind::HostPort => {
            if v.is_empty() {
                return Ok(());
            }
            crate::sip::uri::parse_hostport(v)
                .map(|_| ())
                .map_err(|e| format!("{}: {v:?} is not host[:port] ({e})", def.name))
        }
    }
}

/// The `--help` text: one line per parameter.
pub fn help_text() -> String {
    let mut s = String::from(
        "Usage: softphone [--headless] [key=value ...] [sip:URI | tel:NUMBER | callto:NUMBER]\n\
         \x20      softphone --show-config [key=value ...]   (effective values and their source)\n\
         \x20      softphone --encrypt N VALUE   (an encrypted__N__ value: 1 xor, 3 xor+base64, 4 base64)\n\
         \x20      softphone --devices   (list the sound cards)\n\n\
         wpcfg.ini (key=value lines) is read beside the binary, then in the config folder;\n\
         the command line wins over it.\n\n\
         Parameters (key=value; DEF resets to the default, NULL empties):\n",
    );
    for d in PARAMS {
        let default = if d.default.is_empty() { "-" } else { d.default };
        s.push_str(&format!(
            "  {:<18} default {:<6} {}\n",
            d.name, default, d.help
        ));
    }
    s
}

/// The README's parameter table (Markdown), generated from the registry.
pub fn readme_table() -> String {
    let mut s = String::from("| parameter | default | meaning |\n|---|---|---|\n");
    for d in PARAMS {
        let default = if d.default.is_empty() { "" } else { d.default };
        s.push_str(&format!(
            "| `{}` | {} | {} |\n",
            d.name,
            default,
            d.help.replace('|', "\\|")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_parameter_table_is_current() {
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&readme_table()),
            "README.md's parameter table is stale; replace it with the output of \
             `softphone --readme-table`:\n{}",
            readme_table()
        );
    }

    #[test]
    fn defaults_are_valid_and_names_unique() {
        for d in PARAMS {
            if !d.default.is_empty() {
                assert_eq!(check(d, d.default), Ok(()), "{}", d.name);
            }
            assert_eq!(PARAMS.iter().filter(|o| o.name == d.name).count(), 1);
        }
    }

    #[test]
    fn checks_and_suggestions() {
        let t = find("transport").unwrap();
        assert!(check(t, "1").is_ok());
        let e = check(t, "7").unwrap_err();
        assert!(e.contains("0, 1, 2, 3, 4, 5"), "{e}");
        assert!(check(find("registerinterval").unwrap(), "0").is_err());
        assert!(check(find("capabilityrequest").unwrap(), "maybe").is_err());
        assert!(check(find("serveraddress").unwrap(), "pbx.example.com:5070").is_ok());
        assert!(check(find("serveraddress").unwrap(), "pbx example").is_err());
        assert_eq!(closest("serveradress"), Some("serveraddress"));
        assert_eq!(closest("usrname"), Some("username"));
        assert_eq!(closest("zzzzzzzzzz"), None);
    }
}
