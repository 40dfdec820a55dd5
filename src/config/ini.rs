//! `wpcfg.ini`: the administrator's preconfiguration. One `key=value` per line; `#` and `;`
//! start comments; `[section]` lines, blank lines and a UTF-8 byte-order mark are ignored;
//! a value may be quoted. Every other line is reported with its number, and the rest still
//! applies.

use std::path::{Path, PathBuf};

/// The ini file's name.
pub const INI_NAME: &str = "wpcfg.ini";

/// One line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniProblem {
    pub line: usize,
    pub text: String,
}

/// The `key=value` pairs of an ini text, in order, and the lines that were not pairs.
pub fn parse_ini(text: &str) -> (Vec<(String, String)>, Vec<IniProblem>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut pairs = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                let v = v.trim();
                let unquoted = v
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(v);
                pairs.push((k.trim().to_string(), unquoted.to_string()));
            }
            _ => problems.push(IniProblem {
                line: i + 1,
                text: line.chars().take(80).collect(),
            }),
        }
    }
    (pairs, problems)
}

/// Where `wpcfg.ini` is looked for, in load order (a later file wins): beside the binary,
/// then in the config folder.
pub fn ini_locations(config_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        v.push(dir.join(INI_NAME));
    }
    if let Some(dir) = config_dir {
        v.push(dir.join(INI_NAME));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_comments_sections_quotes_and_junk() {
        let text = "\u{feff}# admin\n[webphone]\nserveraddress = pbx.example.com:5070\n\
                    ; note\nusername=1001\ndisplayname=\"Front Desk\"\njunk line\n=novalue\n\n";
        let (pairs, problems) = parse_ini(text);
        assert_eq!(
            pairs,
            vec![
                ("serveraddress".into(), "pbx.example.com:5070".into()),
                ("username".into(), "1001".into()),
                ("displayname".into(), "Front Desk".into()),
            ]
        );
        assert_eq!(
            problems.iter().map(|p| p.line).collect::<Vec<_>>(),
            vec![7, 8]
        );
    }
}
