//! The address book through the real binary: a vCard file imported from the command line
//! (a broken card skipped and named), contacts added, searched and deleted on standard input
//! and kept across restarts, exported as CSV and imported again without doubles.

use crate::config::{folders, run};
use crate::peers::Softphone;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[test]
fn the_address_book_is_kept_searched_imported_and_exported() {
    let home = tempfile::tempdir().expect("tempdir");
    let vcf = home.path().join("phone.vcf");
    std::fs::write(
        &vcf,
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Smith;Ada\r\nFN:Ada Smith\r\nTEL;CELL:+1 555 0100\r\n\
         X-SIP:1001\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë Ünal\r\nIMPP:sip:1002@pbx.example\r\n\
         NOTE:Support desk\\, second line\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n",
    )
    .expect("vcf");
    let vcf = vcf.display().to_string();
    let (out, err) = run(home.path(), &["--import-contacts", &vcf]);
    assert_eq!(
        out.trim(),
        "2 contacts added, 0 updated, 1 skipped",
        "{err}"
    );
    assert!(err.contains("card 3: no name and no number"), "{err}");

    let mut sp = Softphone::start_env(&[], &folders(home.path()));
    sp.wait_line(T, "CONTACTS,2");
    sp.send_line("AddContact,Carol Jones,sip:1004@pbx.example");
    sp.wait_line(T, "CONTACTS,3");
    sp.send_line("GetContacts,carol");
    let found = sp.wait_for(T, |l| l.starts_with("CONTACT,"));
    assert!(
        found.ends_with(",Carol Jones,sip:1004@pbx.example,,"),
        "{found}"
    );
    sp.wait_line(T, "CONTACTS_FOUND,1");
    // Search words match anywhere: the note of Zoë.
    sp.send_line("GetContacts,support SECOND");
    let found = sp.wait_for(T, |l| l.starts_with("CONTACT,"));
    assert!(found.contains(",Zoë Ünal,sip:1002@pbx.example,"), "{found}");
    sp.wait_line(T, "CONTACTS_FOUND,1");
    sp.send_line("DelContact,nobody");
    let refused = sp.wait_for(T, |l| l.starts_with("ERROR,"));
    assert_eq!(refused, "ERROR,no contact is \"nobody\"");
    sp.send_line("AddContact,Ada");
    // A line that cannot be read is a warning (its commas shown as spaces).
    let refused = sp.wait_for(T, |l| l.starts_with("WARNING,addcontact"));
    assert!(
        refused.contains("AddContact NAME NUMBER-OR-URI"),
        "{refused}"
    );
    // By the number it is reached at.
    sp.send_line("DelContact,1004");
    sp.wait_line(T, "CONTACTS,2");
    sp.send_line("Exit");
    let _ = sp.terminate(T);

    // Kept; out as CSV; the same file again adds nobody twice.
    let csv = home.path().join("book.csv").display().to_string();
    let (out, err) = run(home.path(), &["--export-contacts", &csv]);
    assert_eq!(out.trim(), format!("2 contacts written to {csv}"), "{err}");
    let text = std::fs::read_to_string(&csv).expect("csv");
    let mut rows = text.lines();
    assert_eq!(
        rows.next(),
        Some("Name,SIP URI,Speed dial,Notes,Phone 1 label,Phone 1")
    );
    assert_eq!(rows.next(), Some("Ada Smith,1001,,,mobile,+1 555 0100"));
    assert_eq!(
        rows.next(),
        Some("Zoë Ünal,sip:1002@pbx.example,,\"Support desk, second line\",,")
    );
    let (out, err) = run(home.path(), &["--import-contacts", &csv]);
    assert_eq!(
        out.trim(),
        "0 contacts added, 2 updated, 0 skipped",
        "{err}"
    );
    // Neither a vCard nor a CSV: refused by name, nothing written.
    let (out, err) = run(home.path(), &["--export-contacts", "book.txt"]);
    assert!(
        out.is_empty() && err.contains("name a .vcf or a .csv file"),
        "{out}{err}"
    );
    let vcf_out = home.path().join("out.vcf").display().to_string();
    run(home.path(), &["--export-contacts", &vcf_out]);
    let card = std::fs::read_to_string(&vcf_out).expect("vcf out");
    assert!(card.contains("FN:Zoë Ünal\r\n"), "{card}");
    assert!(
        card.contains("NOTE:Support desk\\, second line\r\n"),
        "{card}"
    );
    assert!(card.contains("TEL;TYPE=cell:+1 555 0100\r\n"), "{card}");
}
