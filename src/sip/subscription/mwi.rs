//! The `message-summary` event package (RFC 3842): whether messages wait in the voicemail box
//! and how many. The body (`application/simple-message-summary`) is a few `Name: value` lines;
//! it is hand-parsed because it is that small and no crate is made for it. Unknown lines and
//! message classes other than voice are ignored, so a server's extensions never fail it.

/// The package name in Event headers.
pub const EVENT: &str = "message-summary";
/// The body type.
pub const CONTENT_TYPE: &str = "application/simple-message-summary";

pub use crate::model::MessageWaiting;

/// Why a body is not a message summary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MwiError {
    #[error("the body is not text")]
    NotText,
    #[error("no Messages-Waiting line")]
    NoStatus,
    #[error("Messages-Waiting is {0:?}, not yes or no")]
    BadStatus(String),
}

/// `N/M` with the counts capped (a server's nonsense cannot overflow anything).
fn counts(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('/')?;
    let n = |t: &str| t.trim().parse::<u64>().ok().map(|v| v.min(99_999) as u32);
    Some((n(a)?, n(b)?))
}

/// Parses a body.
pub fn parse(body: &[u8]) -> Result<MessageWaiting, MwiError> {
    let text = std::str::from_utf8(body).map_err(|_| MwiError::NotText)?;
    let mut summary = MessageWaiting::default();
    let mut status = None;
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "messages-waiting" => {
                status = Some(match value.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(MwiError::BadStatus(value.chars().take(20).collect())),
                })
            }
            "voice-message" => {
                // `new/old` then optionally `(urgent_new/urgent_old)`.
                let (main, urgent) = match value.split_once('(') {
                    Some((m, u)) => (m, Some(u.trim_end_matches(')'))),
                    None => (value, None),
                };
                if let Some((new, old)) = counts(main) {
                    summary.new = new;
                    summary.old = old;
                }
                if let Some((un, uo)) = urgent.and_then(counts) {
                    summary.urgent_new = un;
                    summary.urgent_old = uo;
                }
            }
            _ => {}
        }
    }
    summary.waiting = status.ok_or(MwiError::NoStatus)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_parses() {
        let body = b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\n\
                     Voice-Message: 4/8 (1/2)\r\n";
        assert_eq!(
            parse(body),
            Ok(MessageWaiting {
                waiting: true,
                new: 4,
                old: 8,
                urgent_new: 1,
                urgent_old: 2
            })
        );
    }

    #[test]
    fn tolerant_of_case_extensions_and_missing_counts() {
        let s = parse(b"messages-waiting:NO\nFax-Message: 1/0\nX-Thing\n").expect("parses");
        assert_eq!(s, MessageWaiting::default());
        let s = parse(b"Messages-Waiting: yes\nVoice-Message: 99999999999/x\n").expect("parses");
        assert!(s.waiting);
        assert_eq!((s.new, s.old), (0, 0));
    }

    #[test]
    fn refuses_what_is_not_a_summary() {
        assert_eq!(parse(b"hello"), Err(MwiError::NoStatus));
        assert_eq!(
            parse(b"Messages-Waiting: maybe"),
            Err(MwiError::BadStatus("maybe".into()))
        );
        assert_eq!(parse(&[0xff, 0xfe]), Err(MwiError::NotText));
    }
}
