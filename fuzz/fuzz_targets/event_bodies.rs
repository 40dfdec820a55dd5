//! The event packages' XML and text bodies, straight from a NOTIFY or PUBLISH of an
//! untrusted server or peer: PIDF presence, dialog-info (busy lamps and pickup), watcherinfo
//! and message-summary. None may panic, hang or grow without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softphone::sip::dialog_info;
use softphone::sip::subscription::{mwi, presence, winfo};

fuzz_target!(|data: &[u8]| {
    let _ = mwi::parse(data);
    let text = String::from_utf8_lossy(data);
    let info = presence::parse(&text);
    assert!(info.note.chars().count() <= 200);
    for d in dialog_info::parse(&text) {
        if let Some(p) = d.pickup("sip:1005@pbx") {
            let _ = p.replaces();
        }
    }
    if let Some(doc) = winfo::parse(&text) {
        assert!(doc.watchers.len() <= winfo::MAX_WATCHERS);
        let mut list = Vec::new();
        doc.clone().apply_to(&mut list);
        doc.apply_to(&mut list);
        assert!(list.len() <= winfo::MAX_WATCHERS);
    }
});
