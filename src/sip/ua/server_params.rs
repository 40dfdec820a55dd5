//! Parameters pushed by the SIP server: `x-mparam: key=value;key2=value2` (applied for this
//! run) and `x-mparamp: ...` (also kept in the settings file). They are read only from final
//! responses to our own REGISTER and OPTIONS (which go to the configured server), never from
//! requests a far end can craft; the engine refuses secrets and account parameters from them.

use super::{UaEvent, UserAgent};
use crate::sip::message::SipMessage;

/// The `key=value` pairs of one header value; `;` or `,` separate them, blanks are trimmed,
/// a value may be quoted, pairs without `=` or with an empty key are skipped.
pub fn parse_mparam(value: &str) -> Vec<(String, String)> {
    value
        .split([';', ','])
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            if k.is_empty() {
                return None;
            }
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.to_ascii_lowercase(), v.to_string()))
        })
        .collect()
}

impl UserAgent {
    /// Reports the `x-mparam`/`x-mparamp` parameters of a final response from the server.
    pub(super) fn server_parameters(&mut self, response: &SipMessage) {
        if response.status().unwrap_or(0) < 200 {
            return;
        }
        for (header, persist) in [("x-mparam", false), ("x-mparamp", true)] {
            let params: Vec<(String, String)> = response
                .headers
                .get_all(header)
                .flat_map(parse_mparam)
                .collect();
            if !params.is_empty() {
                self.events
                    .push_back(UaEvent::ServerParameters { params, persist });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert_eq!(
            parse_mparam(" maxlines=2; language = \"de\" ;junk;=x;voicemailnum=*97"),
            vec![
                ("maxlines".into(), "2".into()),
                ("language".into(), "de".into()),
                ("voicemailnum".into(), "*97".into()),
            ]
        );
        assert!(parse_mparam("").is_empty());
        assert_eq!(parse_mparam("A=1,b=2").len(), 2);
    }
}
