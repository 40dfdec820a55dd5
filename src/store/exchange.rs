//! Contact files in and out: vCard (read through `vcard-rs`, which takes 2.1, 3.0 and 4.0 as
//! real exports write them) and CSV with a header row (through `csv`). A file is untrusted:
//! it is size-capped, a card or row that makes no contact is skipped with a line saying why,
//! and nothing in it can fail the rest of the import.
//!
//! How a contact maps:
//! - vCard: `FN` (else `N`, else `ORG`) is the name; a `sip:`/`sips:` `IMPP`, or `X-SIP`, is
//!   the address; each `TEL` is a number labelled by its `TYPE` (`cell` reads as mobile);
//!   `NOTE` and `X-SPEED-DIAL` complete it.
//! - CSV: the columns are found by their header (ours: `Name, SIP URI, Speed dial, Notes,
//!   Phone 1 label, Phone 1, ...`; Google's `Given Name`, `Family Name`, `Phone 1 - Type`,
//!   `Phone 1 - Value`; and the usual `number`, `mobile`, `extension` spellings).

use crate::model::{Contact, ContactFormat, PhoneNumber};
use vcard::param::VcardParam;
use vcard::prop::VcardProp;
use vcard::tree::cst::VcardCst;
use vcard::value::VcardValue;
use vcard::vcard::Vcard;
use vcard::version::VcardVersion;

/// The largest contact file taken (a phone's whole address book is far below this).
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// The most contacts one import adds.
pub const MAX_CONTACTS: usize = 20_000;
/// Longer names, addresses, labels and numbers are cut here; notes at eight times this.
const MAX_FIELD_CHARS: usize = 512;

/// What a file held: the contacts, and a line for each card or row that was skipped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub contacts: Vec<Contact>,
    pub problems: Vec<String>,
}

/// Reads a contact file; `Err` only when the whole file cannot be read as that format.
pub fn import(format: ContactFormat, text: &str) -> Result<Parsed, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes; contact files up to {MAX_FILE_BYTES} bytes are read",
            text.len()
        ));
    }
    let text = text.trim_start_matches('\u{feff}');
    let mut parsed = match format {
        ContactFormat::Vcard => from_vcard(text)?,
        ContactFormat::Csv => from_csv(text)?,
    };
    if parsed.contacts.len() > MAX_CONTACTS {
        parsed.problems.push(format!(
            "{} contacts beyond the first {MAX_CONTACTS} were left out",
            parsed.contacts.len() - MAX_CONTACTS
        ));
        parsed.contacts.truncate(MAX_CONTACTS);
    }
    Ok(parsed)
}

/// Writes contacts in `format`.
pub fn export(format: ContactFormat, contacts: &[Contact]) -> String {
    match format {
        ContactFormat::Vcard => to_vcard(contacts),
        ContactFormat::Csv => to_csv(contacts),
    }
}

fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_string(),
        None => s.to_string(),
    }
}

/// Tidies a contact from a file or a command: fields trimmed and clipped, empty numbers
/// dropped, a missing name taken from the address; `None` when it has neither a name nor
/// anything to call.
pub fn tidy(mut c: Contact) -> Option<Contact> {
    c.name = clip(&c.name, MAX_FIELD_CHARS);
    c.uri = clip(&c.uri, MAX_FIELD_CHARS);
    c.speed_dial = clip(&c.speed_dial, 16);
    c.notes = clip(&c.notes, 8 * MAX_FIELD_CHARS);
    c.phones.retain(|p| !p.number.trim().is_empty());
    for p in &mut c.phones {
        p.label = clip(&p.label, 32);
        p.number = clip(&p.number, MAX_FIELD_CHARS);
    }
    c.phones.truncate(32);
    if c.name.is_empty() {
        c.name = c.address().to_string();
    }
    (!c.name.is_empty()).then_some(c)
}

fn label_from_types<'a>(types: impl Iterator<Item = &'a str>) -> String {
    types
        .map(|t| t.trim().to_ascii_lowercase())
        .find(|t| !matches!(t.as_str(), "voice" | "pref" | "internet" | ""))
        .map(|t| if t == "cell" { "mobile".into() } else { t })
        .unwrap_or_default()
}

fn from_vcard(text: &str) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    if !text.to_ascii_uppercase().contains("BEGIN:VCARD") {
        return Err("this is not a vCard file (no BEGIN:VCARD)".into());
    }
    for (n, card) in VcardCst::parse_many(text).enumerate() {
        let card = match card {
            Ok(card) => card,
            Err(e) => {
                parsed.problems.push(format!(
                    "card {}: unreadable ({e}); the rest skipped",
                    n + 1
                ));
                break;
            }
        };
        let mut c = Contact::default();
        let (mut structured_name, mut org) = (String::new(), String::new());
        for line in &card.props {
            let name = line.name.get();
            let name = name.rsplit('.').next().unwrap_or(name).to_ascii_uppercase();
            let value = line.value.decode();
            match name.as_str() {
                "FN" if c.name.is_empty() => c.name = value.into_owned(),
                "N" if structured_name.is_empty() => {
                    let family = line.value.decode_component(0);
                    let given = line.value.decode_component(1);
                    structured_name = format!("{} {}", given.trim(), family.trim())
                        .trim()
                        .to_string();
                }
                "ORG" if org.is_empty() => org = line.value.decode_component(0).into_owned(),
                "IMPP" | "X-SIP" | "SIP" if c.uri.is_empty() => {
                    let v = value.trim();
                    let lower = v.to_ascii_lowercase();
                    if name != "IMPP" || lower.starts_with("sip:") || lower.starts_with("sips:") {
                        c.uri = v.to_string();
                    }
                }
                "TEL" => {
                    // TYPE=work,voice (3.0/4.0) or bare CELL;PREF (2.1).
                    let types = line.params.iter().flat_map(|p| {
                        if p.name.get().eq_ignore_ascii_case("TYPE") {
                            p.values.iter().map(|v| v.get()).collect::<Vec<_>>()
                        } else if p.values.is_empty() {
                            vec![p.name.get()]
                        } else {
                            Vec::new()
                        }
                    });
                    let number = value.trim();
                    let number = number.strip_prefix("tel:").unwrap_or(number);
                    c.phones.push(PhoneNumber {
                        label: label_from_types(types),
                        number: number.to_string(),
                    });
                }
                "NOTE" if c.notes.is_empty() => c.notes = value.into_owned(),
                "X-SPEED-DIAL" => c.speed_dial = value.into_owned(),
                _ => {}
            }
        }
        if c.name.trim().is_empty() {
            c.name = if structured_name.is_empty() {
                org
            } else {
                structured_name
            };
        }
        match tidy(c) {
            Some(c) => parsed.contacts.push(c),
            None => parsed
                .problems
                .push(format!("card {}: no name and no number; skipped", n + 1)),
        }
    }
    Ok(parsed)
}

fn text_prop(name: &'static str, value: &str) -> VcardProp<'static> {
    VcardProp {
        group: None,
        name: name.into(),
        params: vec![],
        value: VcardValue::Text(value.to_string().into()),
    }
}

fn to_vcard(contacts: &[Contact]) -> String {
    let mut out = String::new();
    for c in contacts {
        let mut properties = vec![text_prop("FN", &c.name)];
        let uri = c.uri.trim();
        if !uri.is_empty() {
            let lower = uri.to_ascii_lowercase();
            if lower.starts_with("sip:") || lower.starts_with("sips:") {
                properties.push(text_prop("IMPP", uri));
            } else {
                properties.push(text_prop("X-SIP", uri));
            }
        }
        for p in &c.phones {
            let mut prop = text_prop("TEL", &p.number);
            let label: String = match p.label.trim().to_ascii_lowercase().as_str() {
                "mobile" => "cell".into(),
                l => l
                    .chars()
                    .filter(|ch| ch.is_ascii_alphanumeric() || *ch == '-')
                    .collect(),
            };
            if !label.is_empty() {
                prop.params = vec![VcardParam::Type(vec![label.into()])];
            }
            properties.push(prop);
        }
        if !c.speed_dial.trim().is_empty() {
            properties.push(text_prop("X-SPEED-DIAL", c.speed_dial.trim()));
        }
        if !c.notes.is_empty() {
            properties.push(text_prop("NOTE", &c.notes));
        }
        out.push_str(
            &Vcard {
                version: VcardVersion::V4_0,
                properties,
            }
            .to_string(),
        );
    }
    out
}

/// What a CSV column holds, found from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    GivenName,
    FamilyName,
    Uri,
    SpeedDial,
    Notes,
    /// The number of phone `n` (a column of its own, labelled by its header or by the
    /// matching label column).
    Phone(usize),
    PhoneLabel(usize),
    Ignored,
}

fn column(header: &str, phones: &mut Vec<String>) -> Column {
    let h = header.trim().to_ascii_lowercase();
    let key = |h: &str| {
        h.trim_end_matches(" - value")
            .trim_end_matches(" - type")
            .trim_end_matches(" label")
            .to_string()
    };
    let mut phone_index = |k: String| match phones.iter().position(|p| *p == k) {
        Some(i) => i,
        None => {
            phones.push(k);
            phones.len() - 1
        }
    };
    match h.as_str() {
        "name" | "display name" | "full name" | "contact" => Column::Name,
        "given name" | "first name" => Column::GivenName,
        "family name" | "last name" | "surname" => Column::FamilyName,
        "sip uri" | "sip address" | "uri" | "sip" | "extension" | "address" => Column::Uri,
        "speed dial" | "speed_dial" | "speeddial" => Column::SpeedDial,
        "notes" | "note" | "comment" => Column::Notes,
        _ if ["phone", "mobile", "tel", "number", "cell", "fax"]
            .iter()
            .any(|w| h.contains(w)) =>
        {
            if h.ends_with(" - type") || h.ends_with(" label") {
                Column::PhoneLabel(phone_index(key(&h)))
            } else {
                Column::Phone(phone_index(key(&h)))
            }
        }
        _ => Column::Ignored,
    }
}

fn from_csv(text: &str) -> Result<Parsed, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = reader.records();
    let header = match rows.next() {
        None => return Ok(Parsed::default()),
        Some(Err(e)) => return Err(format!("this is not a CSV file: {e}")),
        Some(Ok(h)) => h,
    };
    let mut phone_keys = Vec::new();
    let columns: Vec<Column> = header.iter().map(|h| column(h, &mut phone_keys)).collect();
    let has_header = columns.iter().any(|c| {
        matches!(
            c,
            Column::Name | Column::GivenName | Column::Uri | Column::Phone(_)
        )
    });
    // Without a header we can read, the columns are taken as name, address, numbers.
    let (columns, first) = if has_header {
        (columns, None)
    } else {
        let guessed = (0..header.len())
            .map(|i| match i {
                0 => Column::Name,
                1 => Column::Uri,
                n => Column::Phone(n - 2),
            })
            .collect();
        (guessed, Some(header))
    };
    let mut parsed = Parsed::default();
    for (n, row) in first.into_iter().map(Ok).chain(rows).enumerate() {
        let row_number = n + if has_header { 2 } else { 1 };
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                parsed
                    .problems
                    .push(format!("row {row_number}: unreadable ({e}); skipped"));
                continue;
            }
        };
        if row.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let mut c = Contact::default();
        let (mut given, mut family) = (String::new(), String::new());
        let mut phones: Vec<PhoneNumber> = Vec::new();
        let phone = |phones: &mut Vec<PhoneNumber>, i: usize| -> usize {
            while phones.len() <= i {
                phones.push(PhoneNumber::default());
            }
            i
        };
        for (field, col) in row.iter().zip(&columns) {
            let field = field.trim();
            match *col {
                Column::Name => c.name = field.into(),
                Column::GivenName => given = field.into(),
                Column::FamilyName => family = field.into(),
                Column::Uri => c.uri = field.into(),
                Column::SpeedDial => c.speed_dial = field.into(),
                Column::Notes => c.notes = field.into(),
                Column::Phone(i) => {
                    let i = phone(&mut phones, i);
                    // A Google cell may hold several numbers: "555 ::: 666".
                    phones[i].number = field.split(":::").next().unwrap_or("").trim().into();
                    if phones[i].label.is_empty() {
                        phones[i].label = header_label(phone_keys.get(i));
                    }
                }
                Column::PhoneLabel(i) => {
                    let i = phone(&mut phones, i);
                    phones[i].label = label_from_types(std::iter::once(field));
                }
                Column::Ignored => {}
            }
        }
        if c.name.is_empty() {
            c.name = format!("{given} {family}").trim().to_string();
        }
        c.phones = phones;
        match tidy(c) {
            Some(c) => parsed.contacts.push(c),
            None => parsed
                .problems
                .push(format!("row {row_number}: no name and no number; skipped")),
        }
    }
    Ok(parsed)
}

/// A label from a phone column's own header: `Mobile` gives mobile, `Phone 2` or `Number`
/// none.
fn header_label(key: Option<&String>) -> String {
    let Some(k) = key else {
        return String::new();
    };
    let word = k
        .split(|ch: char| !ch.is_ascii_alphabetic())
        .find(|w| !w.is_empty() && !matches!(*w, "phone" | "number" | "tel" | "value"))
        .unwrap_or("");
    label_from_types(std::iter::once(word))
}

fn to_csv(contacts: &[Contact]) -> String {
    let most_phones = contacts.iter().map(|c| c.phones.len()).max().unwrap_or(0);
    let mut header: Vec<String> = ["Name", "SIP URI", "Speed dial", "Notes"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for i in 1..=most_phones {
        header.push(format!("Phone {i} label"));
        header.push(format!("Phone {i}"));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut rows = vec![header];
    for c in contacts {
        let mut row = vec![
            c.name.clone(),
            c.uri.clone(),
            c.speed_dial.clone(),
            c.notes.clone(),
        ];
        for i in 0..most_phones {
            let p = c.phones.get(i);
            row.push(p.map(|p| p.label.clone()).unwrap_or_default());
            row.push(p.map(|p| p.number.clone()).unwrap_or_default());
        }
        rows.push(row);
    }
    for row in rows {
        // Writing to memory fails only on a broken row shape, which these rows cannot have.
        if let Err(e) = w.write_record(&row) {
            tracing::warn!("contact export: {e}");
        }
    }
    match w.into_inner() {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            tracing::warn!("contact export: {e}");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Vec<Contact> {
        let mut ada = Contact::new("Lovelace, Ada; Countess", "sip:1001@pbx.example");
        ada.phones = vec![
            PhoneNumber {
                label: "mobile".into(),
                number: "+44 7700 900123".into(),
            },
            PhoneNumber {
                label: "home".into(),
                number: "555".into(),
            },
        ];
        ada.speed_dial = "1".into();
        ada.notes = "Ünïcode, commas; and\na second line".into();
        let bob = Contact::new("Bob", "1003");
        let desk = Contact {
            name: "Desk".into(),
            phones: vec![PhoneNumber {
                label: String::new(),
                number: "2000".into(),
            }],
            ..Contact::default()
        };
        vec![ada, bob, desk]
    }

    #[test]
    fn both_formats_round_trip_every_field() {
        for format in [ContactFormat::Vcard, ContactFormat::Csv] {
            let text = export(format, &book());
            let back = import(format, &text).unwrap();
            assert_eq!(back.problems, Vec::<String>::new(), "{format:?}");
            assert_eq!(back.contacts, book(), "{format:?}:\n{text}");
        }
    }

    #[test]
    fn real_exports_are_read() {
        // vCard 2.1 from a phone, 3.0 with groups, 4.0 without FN but with N.
        let vcf = "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Smith;Ada\r\nFN:Ada Smith\r\nTEL;CELL;PREF:+1 555 0100\r\n\
                   END:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob\r\nitem1.TEL;TYPE=WORK,VOICE:1003\r\n\
                   IMPP:xmpp:bob@chat\r\nIMPP:sip:bob@pbx\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:4.0\r\n\
                   N:Roe;Jane;;;\r\nTEL:tel:2000\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n";
        let p = import(ContactFormat::Vcard, vcf).unwrap();
        let names: Vec<_> = p.contacts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Ada Smith", "Bob", "Jane Roe"]);
        assert_eq!(p.contacts[0].phones[0].label, "mobile");
        assert_eq!(p.contacts[1].uri, "sip:bob@pbx");
        assert_eq!(p.contacts[1].phones[0].label, "work");
        assert_eq!(p.contacts[2].phones[0].number, "2000");
        assert_eq!(p.problems, ["card 4: no name and no number; skipped"]);
        // Google's CSV.
        let csv = "\u{feff}Given Name,Family Name,Notes,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value\n\
                   Ada,Smith,\"multi\nline\",Mobile,+1 555 ::: +1 666,Work,1001\n,,,,,,\n";
        let p = import(ContactFormat::Csv, csv).unwrap();
        assert_eq!(p.contacts.len(), 1);
        let ada = &p.contacts[0];
        assert_eq!(ada.name, "Ada Smith");
        assert_eq!(ada.notes, "multi\nline");
        assert_eq!(ada.phones[0].label, "mobile");
        assert_eq!(ada.phones[0].number, "+1 555");
        assert_eq!(ada.phones[1].label, "work");
        // No header: name, address, numbers.
        let p = import(ContactFormat::Csv, "Ada,1001,555\nBob,1003\n").unwrap();
        assert_eq!(p.contacts[1].uri, "1003");
        assert_eq!(p.contacts[0].phones[0].number, "555");
        // A "Mobile" column labels its number.
        let p = import(ContactFormat::Csv, "Name,Mobile\nAda,555\n").unwrap();
        assert_eq!(p.contacts[0].phones[0].label, "mobile");
    }

    #[test]
    fn hostile_files_give_errors_or_problems_never_panics() {
        assert!(import(ContactFormat::Vcard, "hello").is_err());
        let huge = "x".repeat(MAX_FILE_BYTES + 1);
        assert!(import(ContactFormat::Csv, &huge).is_err());
        let long_name = format!("Name\n{}\n", "é".repeat(5000));
        let p = import(ContactFormat::Csv, &long_name).unwrap();
        assert_eq!(p.contacts[0].name.chars().count(), MAX_FIELD_CHARS);
        for junk in [
            "BEGIN:VCARD\r\n",
            "BEGIN:VCARD\r\nFN:a\r\n",
            "BEGIN:VCARD\r\n:::\r\n;;;\r\nEND:VCARD\r\n",
            "BEGIN:VCARD\r\nTEL;TYPE=\"unterminated:1\r\nEND:VCARD",
            "\"unterminated,quote\n",
            ",,,\n\n\n",
        ] {
            let _ = import(ContactFormat::Vcard, junk);
            let _ = import(ContactFormat::Csv, junk);
        }
    }
}
