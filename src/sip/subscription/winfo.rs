//! The `presence.winfo` event package's body (RFC 3857 watcher information, RFC 3858
//! `application/watcherinfo+xml`): who watches our presence at the presence server, and
//! whether the server lets them see it (active) or keeps them waiting (pending, waiting).
//!
//! The body is untrusted and read tolerantly, like PIDF: namespaces are matched by local name,
//! unknown elements and attributes are skipped, and a document that does not parse is `None`
//! (the list stays as it was). A `full` document replaces the list; a `partial` one updates
//! the watchers it names by id, and `terminated` ones leave it. At most [`MAX_WATCHERS`] are
//! kept: a server cannot make us hold an unbounded list.

use crate::model::WatcherStatus;
use crate::sip::xml::attribute;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// The package name in Event headers.
pub const EVENT: &str = "presence.winfo";
/// The body type.
pub const CONTENT_TYPE: &str = "application/watcherinfo+xml";

/// Most watchers kept from one server's documents.
pub const MAX_WATCHERS: usize = 1000;

/// Longest address or display name kept (longer ones are clipped).
const MAX_FIELD: usize = 256;

/// One `<watcher>` of a `presence` watcher list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinfoWatcher {
    /// The server's id for this watcher (matches it across partial documents).
    pub id: String,
    /// The watcher's address (the element's text).
    pub uri: String,
    /// `display-name`, when given.
    pub display: String,
    /// `None` for `terminated`: it watches no more.
    pub status: Option<WatcherStatus>,
}

/// What one watcherinfo document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherInfo {
    pub version: u64,
    /// `state="full"` (the whole list) rather than `partial` (changes only).
    pub full: bool,
    /// The watchers of the `presence` package lists (other packages' lists are skipped).
    pub watchers: Vec<WinfoWatcher>,
}

impl WinfoWatcher {
    /// What names this watcher across documents: its id, or its address when it has none.
    fn key(&self) -> &str {
        if self.id.is_empty() {
            &self.uri
        } else {
            &self.id
        }
    }
}

impl WatcherInfo {
    /// Applies this document to `list` (the watchers known so far): a full document replaces
    /// it, a partial one updates by id; terminated watchers are removed.
    pub fn apply_to(self, list: &mut Vec<WinfoWatcher>) {
        if self.full {
            list.clear();
        }
        for w in self.watchers {
            list.retain(|old| old.key() != w.key());
            if w.status.is_some() && list.len() < MAX_WATCHERS {
                list.push(w);
            }
        }
    }
}

fn clip(s: &str) -> String {
    s.trim()
        .chars()
        .take(MAX_FIELD)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn status_of(e: &BytesStart) -> Option<WatcherStatus> {
    match attribute(e, b"status")?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "active" => Some(WatcherStatus::Active),
        "pending" => Some(WatcherStatus::Pending),
        "waiting" => Some(WatcherStatus::Waiting),
        _ => None,
    }
}

/// Reads a watcherinfo document; `None` when it is not one or not well formed.
pub fn parse(body: &str) -> Option<WatcherInfo> {
    let mut reader = Reader::from_str(body);
    let mut depth = 0usize;
    let mut info: Option<WatcherInfo> = None;
    // Inside a `presence` watcher list.
    let mut in_list = false;
    // The watcher being read, with its text so far.
    let mut current: Option<WinfoWatcher> = None;
    loop {
        match reader.read_event().ok()? {
            // Cut short: not a document.
            Event::Eof if depth > 0 => return None,
            Event::Eof => break,
            Event::Start(e) => {
                depth += 1;
                if depth > 64 {
                    return None;
                }
                match (depth, e.local_name().as_ref()) {
                    (1, b"watcherinfo") => info = Some(document(&e)),
                    (1, _) => return None,
                    (2, b"watcher-list") => {
                        in_list = attribute(&e, b"package")
                            .is_none_or(|p| p.trim().eq_ignore_ascii_case("presence"));
                    }
                    (3, b"watcher") if in_list => current = Some(watcher(&e)),
                    _ => {}
                }
            }
            Event::Empty(e) => match (depth, e.local_name().as_ref()) {
                (0, b"watcherinfo") => info = Some(document(&e)),
                (0, _) => return None,
                _ => {}
            },
            Event::End(_) => {
                if depth == 3
                    && let Some(w) = current.take()
                    && let Some(i) = info.as_mut()
                {
                    let uri = clip(&w.uri);
                    if !uri.is_empty() && i.watchers.len() < MAX_WATCHERS {
                        i.watchers.push(WinfoWatcher { uri, ..w });
                    }
                }
                if depth == 2 {
                    in_list = false;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                if let Some(w) = current.as_mut()
                    && w.uri.len() < 4 * MAX_FIELD
                {
                    w.uri.push_str(&t.decode().ok()?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(w) = current.as_mut() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => w.uri.push(c),
                        _ => {
                            let name = r.decode().ok()?;
                            w.uri.push_str(
                                quick_xml::escape::resolve_predefined_entity(&name)
                                    .unwrap_or_default(),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
    info
}

fn document(e: &BytesStart) -> WatcherInfo {
    WatcherInfo {
        version: attribute(e, b"version")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        full: !attribute(e, b"state").is_some_and(|s| s.trim().eq_ignore_ascii_case("partial")),
        watchers: Vec::new(),
    }
}

fn watcher(e: &BytesStart) -> WinfoWatcher {
    WinfoWatcher {
        id: clip(&attribute(e, b"id").unwrap_or_default()),
        uri: String::new(),
        display: clip(&attribute(e, b"display-name").unwrap_or_default()),
        status: status_of(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"<?xml version="1.0"?>
<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="3" state="full">
  <watcher-list resource="sip:1001@pbx" package="presence">
    <watcher id="a1" event="subscribe" status="active" display-name="Desk &amp; Co">sip:1002@pbx</watcher>
    <watcher id="b2" event="subscribe" status="pending">sip:1003@pbx</watcher>
    <x:extension xmlns:x="urn:example"/>
  </watcher-list>
  <watcher-list resource="sip:1001@pbx" package="dialog">
    <watcher id="c3" event="subscribe" status="active">sip:1009@pbx</watcher>
  </watcher-list>
</watcherinfo>"#;

    #[test]
    fn reads_the_presence_watchers_of_a_full_document() {
        let info = parse(FULL).expect("a watcherinfo document");
        assert_eq!(info.version, 3);
        assert!(info.full);
        assert_eq!(
            info.watchers,
            vec![
                WinfoWatcher {
                    id: "a1".into(),
                    uri: "sip:1002@pbx".into(),
                    display: "Desk & Co".into(),
                    status: Some(WatcherStatus::Active),
                },
                WinfoWatcher {
                    id: "b2".into(),
                    uri: "sip:1003@pbx".into(),
                    display: String::new(),
                    status: Some(WatcherStatus::Pending),
                },
            ]
        );
    }

    #[test]
    fn partial_documents_update_by_id_and_terminated_watchers_leave() {
        let mut list = Vec::new();
        parse(FULL).expect("full").apply_to(&mut list);
        let partial = r#"<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="4" state="partial">
  <watcher-list resource="sip:1001@pbx" package="presence">
    <watcher id="b2" event="approved" status="active">sip:1003@pbx</watcher>
    <watcher id="a1" event="unsubscribe" status="terminated">sip:1002@pbx</watcher>
  </watcher-list></watcherinfo>"#;
        parse(partial).expect("partial").apply_to(&mut list);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].uri, "sip:1003@pbx");
        assert_eq!(list[0].status, Some(WatcherStatus::Active));
        // A full document with nobody empties the list.
        parse(r#"<watcherinfo version="5" state="full"/>"#)
            .expect("empty full")
            .apply_to(&mut list);
        assert!(list.is_empty());
    }

    #[test]
    fn what_is_not_a_watcherinfo_document_changes_nothing() {
        for bad in [
            "",
            "not xml at all",
            "<presence/>",
            "<watcherinfo><watcher-list package='presence'><watcher id='x' status='active'>sip:a@b",
            "<watcherinfo></watcher-list>",
            &"<a>".repeat(100),
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        // Watchers without an address are skipped; control characters do not survive; ones
        // without an id are told apart by their address.
        let odd = "<watcherinfo state='full'><watcher-list package='presence'>\
                   <watcher id='1' status='active'>  </watcher>\
                   <watcher id='2' status='active'>sip:a&#10;b@c</watcher>\
                   <watcher status='pending'>sip:x@c</watcher>\
                   <watcher status='active'>sip:y@c</watcher></watcher-list></watcherinfo>";
        let info = parse(odd).expect("tolerated");
        assert_eq!(info.watchers.len(), 3);
        assert_eq!(info.watchers[0].uri, "sip:a b@c");
        let mut list = Vec::new();
        info.apply_to(&mut list);
        assert_eq!(list.len(), 3);
    }
}
