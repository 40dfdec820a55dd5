//! What the XML body readers (dialog-info, watcherinfo) share on top of quick-xml.

use quick_xml::events::BytesStart;

/// The value of the attribute whose local name is `name` (any namespace prefix), entities
/// resolved; `None` when absent or malformed.
pub fn attribute(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::default())
                .ok()
                .map(|v| v.into_owned())
        })
}
