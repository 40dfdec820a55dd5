//! Call recording, sans-IO: when a call is recorded (`voicerecording` 1: every call from its
//! answer; the Record command: any answered call, started and stopped at will) and what its
//! file is called (`voicerecfilename`, `voicerecfilenameprefix`). The driver puts the file in
//! the recordings folder and the audio engine writes it.
//!
//! A name is built from what the far end sent (its user part, the Call-ID) or what a command
//! gave, so it is reduced to one safe file name: no folder part, no `..`, nothing but letters,
//! digits and `-_.+@`, at most 120 characters, ending in `.wav`.

use super::{Action, Phone, Refused, refused};
use crate::model::{CallState, NoticeKind, format_utc};

/// How recordings are named: `voicerecfilename` (0 date-time+peer, 1 date-time+call-id,
/// 2 call-id, 3 date-time+username, 4 date-time+username+peer) after
/// `voicerecfilenameprefix`; the date-time is UTC, `yyyyMMddhhmmss`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordingNames {
    pub format: i64,
    pub prefix: String,
}

/// What a recording's name is made of.
pub struct NameParts<'a> {
    pub at_ms: i64,
    pub peer: &'a str,
    pub call_id: &'a str,
    pub user: &'a str,
}

const MAX_NAME: usize = 120;

/// `text` as a piece of a file name: unsafe characters become `_`, no leading dots.
fn safe(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_start_matches('.').to_string()
}

impl RecordingNames {
    /// The file name for a recording of a call with these parts.
    pub fn name(&self, parts: &NameParts<'_>) -> String {
        let stamp: String = format_utc(parts.at_ms)
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let pieces: Vec<&str> = match self.format {
            1 => vec![&stamp, parts.call_id],
            2 => vec![parts.call_id],
            3 => vec![&stamp, parts.user],
            4 => vec![&stamp, parts.user, parts.peer],
            _ => vec![&stamp, parts.peer],
        };
        let body = pieces
            .iter()
            .map(|p| safe(p))
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        let body = if body.is_empty() { stamp } else { body };
        file_name(&format!("{}{body}", safe(&self.prefix)))
    }
}

/// A name a command gave (or one just built) as one safe `.wav` file name.
pub fn file_name(given: &str) -> String {
    // Only the last path component counts, whichever separator was used.
    let last = given.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = last
        .strip_suffix(".wav")
        .or_else(|| last.strip_suffix(".WAV"))
        .unwrap_or(last);
    let mut stem = safe(stem);
    if stem.is_empty() {
        stem = "recording".into();
    }
    stem.truncate(MAX_NAME - 4);
    format!("{stem}.wav")
}

impl Phone {
    /// Starts (`on`) or stops recording the call on `line`; `name` empty: named by
    /// `voicerecfilename`. Only an answered call is recorded.
    pub fn record(&mut self, line: u32, on: bool, name: &str, wall_ms: i64) -> Result<(), Refused> {
        let Some(info) = self.lines.get(&line) else {
            return Err(refused(
                NoticeKind::Call,
                format!("record: no call on line {line}"),
            ));
        };
        if !on {
            self.actions.push_back(Action::Record { line, file: None });
            return Ok(());
        }
        if info.state != CallState::Connected {
            return Err(refused(
                NoticeKind::Call,
                format!("record: the call on line {line} is not answered"),
            ));
        }
        let file = if name.trim().is_empty() {
            self.prefs.recording_names.name(&NameParts {
                at_ms: wall_ms,
                peer: &info.peer,
                call_id: &info.call_id,
                user: &self.user,
            })
        } else {
            let given = file_name(name.trim());
            format!("{}{given}", safe(&self.prefs.recording_names.prefix))
        };
        self.actions.push_back(Action::Record {
            line,
            file: Some(file_name(&file)),
        });
        Ok(())
    }

    /// `voicerecording` 1: a call just answered is recorded from now on.
    pub(super) fn record_on_answer(&mut self, line: u32, wall_ms: i64) {
        if self.prefs.record_calls
            && let Err(r) = self.record(line, true, "", wall_ms)
        {
            self.report(crate::model::Event::warning(r.kind, r.message));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(peer: &'a str, call_id: &'a str) -> NameParts<'a> {
        NameParts {
            at_ms: 1_795_435_200_000,
            peer,
            call_id,
            user: "1001",
        }
    }

    #[test]
    fn recordings_are_named_as_voicerecfilename_says() {
        let names = |format, prefix: &str| RecordingNames {
            format,
            prefix: prefix.into(),
        };
        let p = parts("1002", "a84b4c76e66710@pc33");
        assert_eq!(names(0, "").name(&p), "20261123120000_1002.wav");
        assert_eq!(
            names(1, "").name(&p),
            "20261123120000_a84b4c76e66710@pc33.wav"
        );
        assert_eq!(names(2, "").name(&p), "a84b4c76e66710@pc33.wav");
        assert_eq!(names(3, "rec-").name(&p), "rec-20261123120000_1001.wav");
        assert_eq!(names(4, "").name(&p), "20261123120000_1001_1002.wav");
    }

    #[test]
    fn names_from_the_network_or_a_command_stay_one_file_in_the_folder() {
        let names = RecordingNames::default();
        // A hostile peer or Call-ID cannot climb out of the folder.
        let n = names.name(&parts("../../etc/passwd", "x"));
        assert!(n.starts_with("20261123120000_") && !n.contains('/'), "{n}");
        let n = RecordingNames {
            format: 2,
            prefix: String::new(),
        }
        .name(&parts("1002", "../../.."));
        assert!(!n.contains('/') && !n.starts_with('.'), "{n}");
        assert_eq!(file_name("/tmp/evil/../x.wav"), "x.wav");
        assert_eq!(
            file_name("C:\\\\Users\\\\a\\\\call one.WAV"),
            "call_one.wav"
        );
        assert_eq!(file_name(".."), "recording.wav");
        assert_eq!(file_name(""), "recording.wav");
        assert!(file_name(&"a".repeat(500)).len() <= 120);
    }
}
