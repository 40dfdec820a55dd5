//! The parameter registry: every parameter's name, type, default, allowed values, help and the
//! part of the softphone that uses it, in one table ([`PARAMS`], in `param_table.rs`) that
//! parsing, validation, `--help`, the README and the settings screens all read.

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
    /// A colour: an integer RGB (0xRRGGBB as a decimal number), `#rrggbb` or a colour name.
    Colour,
}

/// Which part of the softphone reads a parameter, so that `--help`, the README and the settings
/// screens can say where it matters and which parameters this build does not act on yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Registration, transport and the SIP stack.
    Sip,
    /// Call handling.
    Calls,
    /// Codecs, jitter buffer, RTP.
    Media,
    /// Sound devices, ringing and volumes.
    Audio,
    /// Settings storage, secrets, launch.
    Config,
    /// Logging.
    Log,
    /// The desktop window (appearance, shown controls).
    Window,
    /// The local control API (port 19422).
    Api,
    /// Accepted and validated, but nothing in this build acts on it yet.
    NotYet,
}

impl Part {
    /// How `--help` and the README name the part.
    pub fn label(self) -> &'static str {
        match self {
            Part::Sip => "SIP",
            Part::Calls => "calls",
            Part::Media => "media",
            Part::Audio => "audio",
            Part::Config => "config",
            Part::Log => "log",
            Part::Window => "window",
            Part::Api => "control API",
            Part::NotYet => "not implemented yet",
        }
    }
}

/// One parameter of the registry.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: Kind,
    /// The default as text (empty: none).
    pub default: &'static str,
    /// Who reads it.
    pub part: Part,
    pub help: &'static str,
}

/// Builds a table entry (keeps the table one line per parameter).
pub(super) const fn p(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    part: Part,
    help: &'static str,
) -> ParamDef {
    ParamDef {
        name,
        kind,
        default,
        part,
        help,
    }
}

pub use super::param_table::PARAMS;

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
        Kind::Colour => {
            if v.is_empty() {
                return Ok(());
            }
            parse_colour(v).map(|_| ()).ok_or_else(|| {
                format!(
                    "{}: {v:?} is not a colour (an integer RGB, #rrggbb or one of {})",
                    def.name,
                    COLOUR_NAMES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        }
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

/// Colour names a colour parameter accepts (the basic HTML colours).
pub const COLOUR_NAMES: &[(&str, u32)] = &[
    ("black", 0x000000),
    ("white", 0xffffff),
    ("red", 0xff0000),
    ("green", 0x008000),
    ("blue", 0x0000ff),
    ("yellow", 0xffff00),
    ("orange", 0xffa500),
    ("gray", 0x808080),
    ("grey", 0x808080),
    ("silver", 0xc0c0c0),
    ("maroon", 0x800000),
    ("purple", 0x800080),
    ("fuchsia", 0xff00ff),
    ("lime", 0x00ff00),
    ("olive", 0x808000),
    ("navy", 0x000080),
    ("teal", 0x008080),
    ("aqua", 0x00ffff),
];

/// A colour value as `[r, g, b]`: an integer (0xRRGGBB written in decimal), `#rrggbb`, `#rgb`
/// or a name from [`COLOUR_NAMES`].
pub fn parse_colour(v: &str) -> Option<[u8; 3]> {
    let v = v.trim();
    let rgb = if let Some(hex) = v.strip_prefix('#') {
        match hex.len() {
            6 => u32::from_str_radix(hex, 16).ok()?,
            3 => {
                let n = u32::from_str_radix(hex, 16).ok()?;
                let (r, g, b) = ((n >> 8) & 0xf, (n >> 4) & 0xf, n & 0xf);
                ((r * 17) << 16) | ((g * 17) << 8) | (b * 17)
            }
            _ => return None,
        }
    } else if let Ok(n) = v.parse::<u32>() {
        (n <= 0xff_ffff).then_some(n)?
    } else {
        COLOUR_NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(v))
            .map(|(_, c)| *c)?
    };
    Some([(rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8])
}

/// The `--help` text: one line per parameter.
pub fn help_text() -> String {
    let mut s = String::from(
        "Usage: softphone [--headless [--format=json]] [key=value ...] [sip:URI | tel:NUMBER | callto:NUMBER]\n\
         \x20      (--format=json: one JSON event per line out, JSON or text commands in)\n\
         \x20      softphone --json-examples   (one of every JSON command and event)\n\
         \x20      softphone --show-config [key=value ...]   (effective values and their source)\n\
         \x20      softphone --encrypt N VALUE   (an encrypted__N__ value: 1 xor, 3 xor+base64, 4 base64)\n\
         \x20      softphone --devices   (list the sound cards)\n\
         \x20      softphone --history   (the latest calls)\n\
         \x20      softphone --chat PEER   (the messages with PEER, > ours, < theirs)\n\
         \x20      softphone --import-contacts FILE.vcf|FILE.csv   (add a file's contacts)\n\
         \x20      softphone --export-contacts FILE.vcf|FILE.csv   (write the address book)\n\n\
         wpcfg.ini (key=value lines) is read beside the binary, then in the config folder;\n\
         the command line wins over it.\n\n\
         Parameters (key=value; DEF resets to the default, NULL empties):\n",
    );
    for d in PARAMS {
        let default = if d.default.is_empty() { "-" } else { d.default };
        s.push_str(&format!(
            "  {:<18} default {:<6} [{}] {}\n",
            d.name,
            default,
            d.part.label(),
            d.help
        ));
    }
    s
}

/// The README's parameter table (Markdown), generated from the registry.
pub fn readme_table() -> String {
    let mut s = String::from("| parameter | default | used by | meaning |\n|---|---|---|---|\n");
    for d in PARAMS {
        let default = if d.default.is_empty() { "" } else { d.default };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            d.name,
            default,
            d.part.label(),
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
        assert!(check(t, "7").is_ok());
        let e = check(t, "8").unwrap_err();
        assert!(e.contains("0, 1, 2, 3, 4, 5, 6, 7"), "{e}");
        assert!(check(find("registerinterval").unwrap(), "0").is_err());
        assert!(check(find("capabilityrequest").unwrap(), "maybe").is_err());
        assert!(check(find("serveraddress").unwrap(), "pbx.example.com:5070").is_ok());
        assert!(check(find("serveraddress").unwrap(), "pbx example").is_err());
        assert_eq!(closest("serveradress"), Some("serveraddress"));
        assert_eq!(closest("usrname"), Some("username"));
        assert_eq!(closest("zzzzzzzzzz"), None);
        let c = find("color_background").unwrap();
        assert!(check(c, "#1e90ff").is_ok());
        assert!(check(c, "navy").is_ok());
        assert!(check(c, "16711680").is_ok());
        let e = check(c, "#12345").unwrap_err();
        assert!(e.contains("#rrggbb"), "{e}");
        assert!(check(c, "mauvish").is_err());
        assert!(check(c, "99999999").is_err());
        assert_eq!(parse_colour("16711680"), Some([255, 0, 0]));
        assert_eq!(parse_colour("#0f8"), Some([0, 0xff, 0x88]));
        assert_eq!(parse_colour("Teal"), Some([0, 0x80, 0x80]));
    }
}
