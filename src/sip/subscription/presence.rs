//! The `presence` event package's body: PIDF (RFC 3863) with the RPID activities (RFC 4480)
//! that say away, busy or on the phone. Read tolerantly: namespaces are matched by local name,
//! unknown elements and extensions are skipped, several tuples are merged (any open tuple means
//! reachable), and a document that does not parse is `None` from [`read`] (the NOTIFY that
//! brought it is refused with 400 and changes nothing), never an error that ends the
//! subscription. Written minimally, as desk phones and Kamailio's presence_xml expect it.

use crate::model::PresenceStatus;
use quick_xml::Reader;
use quick_xml::escape::escape;
use quick_xml::events::Event;

/// The package name in Event headers.
pub const EVENT: &str = "presence";
/// The body type.
pub const CONTENT_TYPE: &str = "application/pidf+xml";

/// What a presence document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceInfo {
    pub status: PresenceStatus,
    /// The first non-empty `<note>`, trimmed, at most 200 characters, control characters made
    /// spaces.
    pub note: String,
}

/// Longest note kept: a status line, not a letter.
const MAX_NOTE: usize = 200;

/// Reads a PIDF document; what is not one is `Unknown`.
pub fn parse(body: &str) -> PresenceInfo {
    read(body).unwrap_or(PresenceInfo {
        status: PresenceStatus::Unknown,
        note: String::new(),
    })
}

/// Reads a PIDF document, or `None` when it is not a well-formed `<presence>` document (a
/// NOTIFY carrying it is refused with 400 and changes nothing).
pub fn read(body: &str) -> Option<PresenceInfo> {
    let mut reader = Reader::from_str(body);
    // Element local names, outermost first.
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut any_basic = false;
    let mut open = false;
    let mut activities: Vec<Vec<u8>> = Vec::new();
    // The first `<note>`'s text as it comes (text and entity references), and whether it
    // is complete.
    let mut note = String::new();
    let mut note_done = false;
    let mut saw_presence = false;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) if path.is_empty() => break,
            Ok(Event::Eof) | Err(_) => return None,
            Ok(e) => e,
        };
        match event {
            Event::Start(e) => {
                if path.len() >= 64 {
                    return None;
                }
                let name = e.local_name().as_ref().to_vec();
                saw_presence |= path.is_empty() && name == b"presence";
                if path.last().is_some_and(|p| p == b"activities") {
                    activities.push(name.clone());
                }
                path.push(name);
            }
            Event::Empty(e) if path.last().is_some_and(|p| p == b"activities") => {
                activities.push(e.local_name().as_ref().to_vec());
            }
            Event::End(_) => {
                let closed = path.pop();
                note_done |= closed.is_some_and(|p| p == b"note") && !note.trim().is_empty();
            }
            Event::Text(t) => {
                let text = t.decode().map(|c| c.into_owned()).unwrap_or_default();
                match path.last().map(Vec::as_slice) {
                    Some(b"basic") => {
                        any_basic = true;
                        open |= text.trim().eq_ignore_ascii_case("open");
                    }
                    Some(b"note") if !note_done && note.len() < 4 * MAX_NOTE => {
                        note.push_str(&text)
                    }
                    _ => {}
                }
            }
            Event::GeneralRef(r) if path.last().is_some_and(|p| p == b"note") && !note_done => {
                let name = r.decode().map(|c| c.into_owned()).unwrap_or_default();
                match r.resolve_char_ref() {
                    Ok(Some(c)) => note.push(c),
                    _ => note.push_str(
                        quick_xml::escape::resolve_predefined_entity(&name).unwrap_or_default(),
                    ),
                }
            }
            _ => {}
        }
    }
    if !saw_presence {
        return None;
    }
    let has = |a: &[u8]| activities.iter().any(|x| x == a);
    let status = if any_basic && !open {
        PresenceStatus::Offline
    } else if has(b"on-the-phone") {
        PresenceStatus::Speaking
    } else if has(b"busy") {
        PresenceStatus::Dnd
    } else if has(b"away")
        || has(b"vacation")
        || has(b"meal")
        || has(b"appointment")
        || has(b"meeting")
        || has(b"sleeping")
    {
        PresenceStatus::Away
    } else if open {
        PresenceStatus::Online
    } else {
        PresenceStatus::Unknown
    };
    Some(PresenceInfo {
        status,
        note: note
            .trim()
            .chars()
            .take(MAX_NOTE)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    })
}

/// Our presence document for `entity` (our address of record): open with the RPID activity
/// for away, busy (DND) and on the phone; closed for offline and invisible. `tuple_id` stays the
/// same for one publication.
pub fn document(entity: &str, tuple_id: &str, status: PresenceStatus, note: &str) -> String {
    let (basic, activity) = match status {
        PresenceStatus::Online | PresenceStatus::Pending | PresenceStatus::Unknown => {
            ("open", None)
        }
        PresenceStatus::Away => ("open", Some("away")),
        PresenceStatus::Dnd => ("open", Some("busy")),
        PresenceStatus::Speaking => ("open", Some("on-the-phone")),
        PresenceStatus::Offline | PresenceStatus::Invisible => ("closed", None),
    };
    let person = match activity {
        Some(a) => format!(
            "<dm:person id=\"p{tuple_id}\"><rpid:activities><rpid:{a}/></rpid:activities></dm:person>"
        ),
        None => String::new(),
    };
    let note = if note.is_empty() {
        String::new()
    } else {
        format!("<note>{}</note>", escape(note))
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
         <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
         xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
         xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"{}\">\
         <tuple id=\"t{tuple_id}\"><status><basic>{basic}</basic></status>{note}</tuple>\
         {person}</presence>\r\n",
        escape(entity)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_documents_read_back_as_what_we_published() {
        for status in [
            PresenceStatus::Online,
            PresenceStatus::Away,
            PresenceStatus::Dnd,
            PresenceStatus::Speaking,
            PresenceStatus::Offline,
        ] {
            let doc = document("sip:1001@pbx", "x1", status, "at <lunch> & back");
            let info = parse(&doc);
            assert_eq!(info.status, status, "{doc}");
            assert_eq!(info.note, "at <lunch> & back");
        }
        // Invisible is offline to everyone else.
        let doc = document("sip:1001@pbx", "x1", PresenceStatus::Invisible, "");
        assert_eq!(parse(&doc).status, PresenceStatus::Offline);
    }

    #[test]
    fn other_clients_documents_with_extensions_parse() {
        // Prefixed PIDF, an unknown namespace, two tuples (one open), a device element.
        let doc = r#"<?xml version="1.0"?>
<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" xmlns:x="urn:example:ext"
  xmlns:r="urn:ietf:params:xml:ns:pidf:rpid" xmlns:d="urn:ietf:params:xml:ns:pidf:data-model"
  entity="sip:1002@pbx">
  <p:tuple id="a"><p:status><p:basic>closed</p:basic></p:status></p:tuple>
  <p:tuple id="b"><p:status><p:basic>open</p:basic><x:mood>fine</x:mood></p:status>
    <p:note xml:lang="en">In a meeting till 3</p:note></p:tuple>
  <d:person id="p"><r:activities><r:meeting/></r:activities></d:person>
  <x:whatever><x:deep/></x:whatever>
</p:presence>"#;
        assert_eq!(
            parse(doc),
            PresenceInfo {
                status: PresenceStatus::Away,
                note: "In a meeting till 3".into()
            }
        );
    }

    #[test]
    fn what_is_not_a_presence_document_is_unknown() {
        for bad in [
            "",
            "not xml",
            "<presence><tuple>",
            "<dialog-info/>",
            "<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple><status><basic>open</basic></status></tuple></wrong>",
        ] {
            assert_eq!(parse(bad).status, PresenceStatus::Unknown, "{bad}");
        }
        // Negative control: the smallest valid document.
        assert_eq!(
            parse("<presence><tuple><status><basic>open</basic></status></tuple></presence>")
                .status,
            PresenceStatus::Online
        );
    }
}
