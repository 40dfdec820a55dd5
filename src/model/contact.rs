//! The address book's entries as every face sees them: the window's contact list, the API's
//! contacts verbs and the import/export files all speak [`Contact`]. The engine keeps them in
//! `softphone.db` and reports the whole list (`contacts` event) after each change, so a face
//! never holds a stale copy.

use serde::{Deserialize, Serialize};

/// One person or extension in the address book.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    /// The database's key; 0 for a contact not stored yet (saving it adds it).
    #[serde(default)]
    pub id: i64,
    pub name: String,
    /// The SIP URI or user name to call, chat with and watch (may be empty when only phone
    /// numbers are known).
    #[serde(default)]
    pub uri: String,
    /// Further numbers, each with its label (work, mobile, home, or empty).
    #[serde(default)]
    pub phones: Vec<PhoneNumber>,
    /// A speed-dial key (a digit or a short code), empty for none.
    #[serde(default)]
    pub speed_dial: String,
    #[serde(default)]
    pub notes: String,
}

/// A labelled phone number of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PhoneNumber {
    #[serde(default)]
    pub label: String,
    pub number: String,
}

/// The file formats of contact import and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactFormat {
    /// vCard (RFC 6350; 2.1 and 3.0 read too): what phones, Google and Outlook export.
    Vcard,
    /// Comma-separated values with a header row: what spreadsheets and PBX exports use.
    Csv,
}

impl ContactFormat {
    /// The format a file name's extension names (`.vcf`, `.vcard`, `.csv`), if any.
    pub fn from_file_name(name: &str) -> Option<ContactFormat> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "vcf" | "vcard" => Some(ContactFormat::Vcard),
            "csv" => Some(ContactFormat::Csv),
            _ => None,
        }
    }
}

impl Contact {
    /// A contact with a name and one address (SIP URI, user or number), as `AddContact` makes.
    pub fn new(name: impl Into<String>, uri: impl Into<String>) -> Contact {
        Contact {
            name: name.into(),
            uri: uri.into(),
            ..Contact::default()
        }
    }

    /// What to dial, chat with or watch: the URI, else the first phone number.
    pub fn address(&self) -> &str {
        if self.uri.trim().is_empty() {
            self.phones.first().map_or("", |p| p.number.trim())
        } else {
            self.uri.trim()
        }
    }

    /// The user part of the address (`1001` of `sip:1001@pbx`), the key presence, lamps and
    /// chat events use for a peer.
    pub fn user(&self) -> &str {
        user_of(self.address())
    }

    /// Whether a search for `query` finds this contact: every word of it (case-insensitive)
    /// appears in the name, the address, a number, the speed-dial key or the notes. An empty
    /// query finds everyone.
    pub fn matches(&self, query: &str) -> bool {
        let haystack = {
            let mut h = format!(
                "{}\n{}\n{}\n{}",
                self.name, self.uri, self.speed_dial, self.notes
            );
            for p in &self.phones {
                h.push('\n');
                h.push_str(&p.number);
            }
            h.to_lowercase()
        };
        query
            .split_whitespace()
            .all(|w| haystack.contains(&w.to_lowercase()))
    }

    /// Whether this contact is reached at `peer` (a user part, number or URI as an event
    /// names it): its address or any of its numbers has the same user part.
    pub fn reached_at(&self, peer: &str) -> bool {
        let peer = user_of(peer);
        !peer.is_empty()
            && (self.user().eq_ignore_ascii_case(peer)
                || self
                    .phones
                    .iter()
                    .any(|p| user_of(&p.number).eq_ignore_ascii_case(peer)))
    }
}

/// The user part of a SIP URI or address (`sip:`/`sips:`/`tel:` and `@host`, `;params` and
/// `<>` removed); a bare user or number comes back trimmed.
pub fn user_of(address: &str) -> &str {
    let a = address.trim().trim_start_matches('<').trim_end_matches('>');
    let a = a
        .strip_prefix("sips:")
        .or_else(|| a.strip_prefix("sip:"))
        .or_else(|| a.strip_prefix("tel:"))
        .unwrap_or(a);
    let a = a.split(['@', ';', '>']).next().unwrap_or(a);
    a.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_address_and_peer_matching() {
        let mut c = Contact::new("Ada Lovelace", "sip:1001@pbx.example");
        c.phones.push(PhoneNumber {
            label: "mobile".into(),
            number: "+44 7700 900123".into(),
        });
        c.notes = "Analytical engine team".into();
        assert!(c.matches(""));
        assert!(c.matches("ada ENGINE"));
        assert!(c.matches("7700"));
        assert!(!c.matches("ada babbage"));
        assert_eq!(c.user(), "1001");
        assert!(c.reached_at("1001"));
        assert!(c.reached_at("<sip:1001@other;transport=udp>"));
        assert!(!c.reached_at("1002"));
        assert!(!c.reached_at(""));
        let phone_only = Contact {
            name: "Desk".into(),
            phones: vec![PhoneNumber {
                label: String::new(),
                number: "2000".into(),
            }],
            ..Contact::default()
        };
        assert_eq!(phone_only.address(), "2000");
        assert_eq!(
            ContactFormat::from_file_name("A.VCF"),
            Some(ContactFormat::Vcard)
        );
        assert_eq!(
            ContactFormat::from_file_name("x.csv"),
            Some(ContactFormat::Csv)
        );
        assert_eq!(ContactFormat::from_file_name("x"), None);
    }
}
