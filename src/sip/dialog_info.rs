//! The dialog event package's body (RFC 4235 `application/dialog-info+xml`): which dialogs a
//! watched colleague has, and which of them are ringing calls we could pick up. The busy-lamp
//! subscriptions that bring these bodies are the UA's (`ua/busy_lamp.rs`); a pickup from a lamp
//! goes through [`PickupDialog`] and `UserAgent::pickup_dialog`.
//!
//! The body is untrusted: anything that does not parse gives no dialogs, never a panic, and
//! only dialogs with a Call-ID and both tags can be picked up.

use quick_xml::Reader;
use quick_xml::events::Event;

/// The package name in Event headers.
pub const EVENT: &str = "dialog";
/// The body type.
pub const CONTENT_TYPE: &str = "application/dialog-info+xml";

/// One `<dialog>` of a dialog-info document, from the watched party's side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialogEntry {
    pub id: String,
    pub call_id: Option<String>,
    pub local_tag: Option<String>,
    pub remote_tag: Option<String>,
    /// `recipient`: the watched party is being called; `initiator`: it called.
    pub direction: Option<String>,
    /// `trying`, `proceeding`, `early`, `confirmed`, `terminated`.
    pub state: String,
    /// The other party's address and its Contact, when given.
    pub remote_identity: Option<String>,
    pub remote_target: Option<String>,
}

/// What a directed pickup needs to replace a colleague's ringing call (RFC 3891): the early
/// dialog's identifiers and where to send the INVITE (the caller's side of that dialog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickupDialog {
    pub call_id: String,
    /// The watched party's tag (`from-tag` of our Replaces: the caller's side receives it).
    pub watched_tag: String,
    /// The caller side's tag (`to-tag`: the recipient's own tag).
    pub caller_tag: String,
    /// The Request-URI of our INVITE.
    pub target: String,
}

impl PickupDialog {
    /// The Replaces header value of the pickup INVITE.
    pub fn replaces(&self) -> String {
        format!(
            "{};to-tag={};from-tag={};early-only",
            self.call_id, self.caller_tag, self.watched_tag
        )
    }
}

impl DialogEntry {
    /// The pickup for this dialog, when it is a call ringing at the watched party.
    pub fn pickup(&self, watched: &str) -> Option<PickupDialog> {
        let ringing = matches!(self.state.as_str(), "early" | "proceeding" | "trying");
        if !ringing || self.direction.as_deref() != Some("recipient") {
            return None;
        }
        Some(PickupDialog {
            call_id: self.call_id.clone().filter(|s| !s.is_empty())?,
            watched_tag: self.local_tag.clone().filter(|s| !s.is_empty())?,
            caller_tag: self.remote_tag.clone().filter(|s| !s.is_empty())?,
            // The caller's Contact; else its address; else the watched party (a PBX in between
            // routes it by the Replaces).
            target: self
                .remote_target
                .clone()
                .or_else(|| self.remote_identity.clone())
                .unwrap_or_else(|| watched.to_string()),
        })
    }
}

/// Where in a `<dialog>` the reader is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Outside,
    Dialog,
    State,
    Remote,
    RemoteIdentity,
    Other,
}

/// The dialogs of a dialog-info body; empty when it is not one (or not well formed).
pub fn parse(body: &str) -> Vec<DialogEntry> {
    read(body).unwrap_or_default()
}

/// The dialogs of a dialog-info body, or `None` when it is not a well-formed dialog-info
/// document (a NOTIFY carrying it is refused with 400 and changes nothing).
pub fn read(body: &str) -> Option<Vec<DialogEntry>> {
    let mut reader = Reader::from_str(body);
    let mut out = Vec::new();
    let mut current: Option<DialogEntry> = None;
    // The enclosing places, innermost last.
    let mut stack: Vec<Place> = Vec::new();
    let mut saw_root = false;
    loop {
        let here = stack.last().copied().unwrap_or(Place::Outside);
        let event = match reader.read_event() {
            Ok(Event::Eof) if stack.is_empty() && saw_root => break,
            Ok(Event::Eof) | Err(_) => return None,
            Ok(e) => e,
        };
        if let Event::Start(e) | Event::Empty(e) = &event
            && stack.is_empty()
        {
            if saw_root || e.local_name().as_ref() != b"dialog-info" {
                return None;
            }
            saw_root = true;
        }
        match event {
            Event::Start(e) if stack.len() < 64 => stack.push(open(&e, here, &mut current)),
            Event::Empty(e) if stack.len() < 64 => {
                // `<dialog .../>` with nothing inside is still a dialog.
                if open(&e, here, &mut current) == Place::Dialog
                    && let Some(d) = current.take()
                {
                    out.push(d);
                }
            }
            Event::Start(_) | Event::Empty(_) => return None,
            Event::End(_) => {
                if stack.pop() == Some(Place::Dialog)
                    && let Some(d) = current.take()
                {
                    out.push(d);
                }
            }
            Event::Text(t) => {
                let text = t.decode().map(|c| c.into_owned()).unwrap_or_default();
                append_text(&mut current, here, &text);
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map(|c| c.into_owned()).unwrap_or_default();
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&name)
                        .unwrap_or_default()
                        .to_string(),
                };
                append_text(&mut current, here, &text);
            }
            _ => {}
        }
    }
    Some(out)
}

/// An element opens: what place it is, filling in the dialog as it goes.
fn open(
    e: &quick_xml::events::BytesStart<'_>,
    here: Place,
    current: &mut Option<DialogEntry>,
) -> Place {
    let attr = |key: &[u8]| crate::sip::xml::attribute(e, key);
    match (here, e.local_name().as_ref()) {
        (Place::Outside, b"dialog") => {
            *current = Some(DialogEntry {
                id: attr(b"id").unwrap_or_default(),
                call_id: attr(b"call-id"),
                local_tag: attr(b"local-tag"),
                remote_tag: attr(b"remote-tag"),
                direction: attr(b"direction"),
                ..Default::default()
            });
            Place::Dialog
        }
        (Place::Dialog, b"state") => Place::State,
        (Place::Dialog, b"remote") => Place::Remote,
        (Place::Remote, b"identity") => Place::RemoteIdentity,
        (Place::Remote, b"target") => {
            if let (Some(d), Some(uri)) = (current.as_mut(), attr(b"uri")) {
                d.remote_target = Some(uri);
            }
            Place::Other
        }
        (Place::Outside, _) => Place::Outside,
        _ => Place::Other,
    }
}

fn append_text(current: &mut Option<DialogEntry>, here: Place, text: &str) {
    let Some(d) = current.as_mut() else {
        return;
    };
    match here {
        Place::State => d.state.push_str(text.trim()),
        Place::RemoteIdentity => d
            .remote_identity
            .get_or_insert_with(String::new)
            .push_str(text.trim()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RINGING: &str = r#"<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full"
    entity="sip:1005@pbx">
  <dialog id="d1" call-id="abc@10.0.0.9" local-tag="t1005" remote-tag="tcaller"
      direction="recipient">
    <state>early</state>
    <remote>
      <identity display="Caller">sip:0612345@pbx;a=1&amp;b=2</identity>
      <target uri="sip:caller@10.0.0.9:5060"/>
    </remote>
  </dialog>
  <dialog id="d2" call-id="x" local-tag="a" remote-tag="b" direction="initiator">
    <state>confirmed</state>
  </dialog>
</dialog-info>"#;

    #[test]
    fn a_ringing_call_of_the_colleague_can_be_picked_up() {
        let dialogs = parse(RINGING);
        assert_eq!(dialogs.len(), 2);
        assert_eq!(
            dialogs[0].remote_identity.as_deref(),
            Some("sip:0612345@pbx;a=1&b=2")
        );
        let p = dialogs[0].pickup("sip:1005@pbx").unwrap();
        assert_eq!(p.target, "sip:caller@10.0.0.9:5060");
        assert_eq!(
            p.replaces(),
            "abc@10.0.0.9;to-tag=tcaller;from-tag=t1005;early-only"
        );
        // A call the colleague is in, or made, is not ours to take.
        assert_eq!(dialogs[1].pickup("sip:1005@pbx"), None);
    }

    #[test]
    fn bad_bodies_give_nothing() {
        assert!(parse("").is_empty());
        assert!(parse("<dialog-info><dialog id='1'><state>early</dialog-info>").is_empty());
        assert!(parse("not xml at all <<<").is_empty());
        // Without tags there is nothing to replace.
        let untagged = parse(
            "<dialog-info><dialog id='1' direction='recipient'><state>early</state></dialog></dialog-info>",
        );
        assert_eq!(untagged.len(), 1);
        assert_eq!(untagged[0].pickup("sip:1005@pbx"), None);
        // Nesting past any sane depth is refused rather than followed.
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(parse(&deep).is_empty());
    }
}
