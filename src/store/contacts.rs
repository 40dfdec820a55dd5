//! The address book in `softphone.db`: a `contacts` row per person and its labelled numbers in
//! `contact_phones` (in their order). Each change is one transaction, so a contact is never
//! seen with half its numbers.

use super::{Store, StoreError};
use crate::model::{Contact, PhoneNumber};
use rusqlite::{Transaction, params};

/// How an import went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// New contacts.
    pub added: usize,
    /// Contacts already there (same name and address) that took the imported details.
    pub updated: usize,
}

fn write_contact(tx: &Transaction<'_>, c: &Contact) -> Result<i64, StoreError> {
    let mut id = c.id;
    let updated = id != 0
        && tx.execute(
            "UPDATE contacts SET name = ?2, uri = ?3, speed_dial = ?4, notes = ?5 WHERE id = ?1",
            params![id, c.name, c.uri, c.speed_dial, c.notes],
        )? == 1;
    if !updated {
        tx.execute(
            "INSERT INTO contacts (name, uri, speed_dial, notes) VALUES (?1, ?2, ?3, ?4)",
            params![c.name, c.uri, c.speed_dial, c.notes],
        )?;
        id = tx.last_insert_rowid();
    }
    tx.execute("DELETE FROM contact_phones WHERE contact_id = ?1", [id])?;
    for (i, p) in c.phones.iter().enumerate() {
        tx.execute(
            "INSERT INTO contact_phones (contact_id, position, label, number) VALUES (?1, ?2, ?3, ?4)",
            params![id, i as i64, p.label, p.number],
        )?;
    }
    Ok(id)
}

impl Store {
    /// Adds a contact (id 0, or an id that is not there) or replaces the one with its id;
    /// gives the id it is stored under.
    pub fn save_contact(&self, c: &Contact) -> Result<i64, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let id = write_contact(&tx, c)?;
        tx.commit()?;
        Ok(id)
    }

    /// Removes a contact; gives whether there was one.
    pub fn delete_contact(&self, id: i64) -> Result<bool, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM contact_phones WHERE contact_id = ?1", [id])?;
        let gone = tx.execute("DELETE FROM contacts WHERE id = ?1", [id])? == 1;
        tx.commit()?;
        Ok(gone)
    }

    /// Replaces the whole address book with `contacts` (API SetContacts); their ids are
    /// given afresh.
    pub fn replace_contacts(&self, contacts: &[Contact]) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute_batch("DELETE FROM contact_phones; DELETE FROM contacts;")?;
        for c in contacts {
            write_contact(&tx, &Contact { id: 0, ..c.clone() })?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds imported contacts; one with the same name and address as a stored contact
    /// (ignoring case) updates that one instead, so importing the same file twice adds
    /// nobody twice.
    pub fn import_contacts(&self, contacts: &[Contact]) -> Result<ImportOutcome, StoreError> {
        let mut known = self.contacts()?;
        let mut outcome = ImportOutcome::default();
        let tx = self.conn.unchecked_transaction()?;
        for c in contacts {
            let same = known.iter().find(|k| {
                k.name.eq_ignore_ascii_case(&c.name)
                    && k.address().eq_ignore_ascii_case(c.address())
            });
            let id = same.map_or(0, |k| k.id);
            let stored = write_contact(&tx, &Contact { id, ..c.clone() })?;
            if id == 0 {
                outcome.added += 1;
                known.push(Contact {
                    id: stored,
                    ..c.clone()
                });
            } else {
                outcome.updated += 1;
            }
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Every contact, by name, with its numbers in order.
    pub fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, uri, speed_dial, notes FROM contacts ORDER BY name COLLATE NOCASE, id",
        )?;
        let mut contacts = stmt
            .query_map([], |r| {
                Ok(Contact {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    uri: r.get(2)?,
                    phones: Vec::new(),
                    speed_dial: r.get(3)?,
                    notes: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT contact_id, label, number FROM contact_phones ORDER BY contact_id, position",
        )?;
        let phones = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                PhoneNumber {
                    label: r.get(1)?,
                    number: r.get(2)?,
                },
            ))
        })?;
        for row in phones {
            let (id, phone) = row?;
            if let Some(c) = contacts.iter_mut().find(|c| c.id == id) {
                c.phones.push(phone);
            }
        }
        Ok(contacts)
    }

    /// The contact with this speed-dial key.
    pub fn speed_dial(&self, key: &str) -> Result<Option<Contact>, StoreError> {
        Ok(self
            .contacts()?
            .into_iter()
            .find(|c| !c.speed_dial.is_empty() && c.speed_dial == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MIGRATIONS;
    use rusqlite::Connection;

    fn numbers(c: &Contact) -> Vec<&str> {
        c.phones.iter().map(|p| p.number.as_str()).collect()
    }

    #[test]
    fn contacts_keep_their_numbers_and_notes_through_every_change() {
        let s = Store::in_memory().unwrap();
        let mut alice = Contact::new("alice", "sip:1002@pbx");
        alice.phones = vec![
            PhoneNumber {
                label: "mobile".into(),
                number: "+36 1 234".into(),
            },
            PhoneNumber {
                label: "home".into(),
                number: "555".into(),
            },
        ];
        alice.speed_dial = "2".into();
        alice.notes = "Ünïcode notes".into();
        alice.id = s.save_contact(&alice).unwrap();
        s.save_contact(&Contact::new("Bob", "1003")).unwrap();
        alice.name = "Alice".into();
        alice.phones.remove(0);
        assert_eq!(s.save_contact(&alice).unwrap(), alice.id);
        let all = s.contacts().unwrap();
        let names: Vec<_> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["Alice", "Bob"]);
        assert_eq!(all[0], alice);
        assert_eq!(numbers(&all[0]), ["555"]);
        assert_eq!(
            s.speed_dial("2").unwrap().map(|c| c.uri),
            Some("sip:1002@pbx".into())
        );
        assert_eq!(s.speed_dial("").unwrap(), None);
        assert!(s.delete_contact(alice.id).unwrap());
        assert!(!s.delete_contact(alice.id).unwrap());
        // The deleted contact's numbers went with it.
        let left: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM contact_phones", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn importing_twice_adds_nobody_twice_and_set_replaces_all() {
        let s = Store::in_memory().unwrap();
        let list = [Contact::new("Ada", "1001"), Contact::new("Bob", "1003")];
        assert_eq!(
            s.import_contacts(&list).unwrap(),
            ImportOutcome {
                added: 2,
                updated: 0
            }
        );
        let mut again = list.to_vec();
        again[0].notes = "now with notes".into();
        again.push(Contact::new("ada", "1009"));
        assert_eq!(
            s.import_contacts(&again).unwrap(),
            ImportOutcome {
                added: 1,
                updated: 2
            }
        );
        let all = s.contacts().unwrap();
        assert_eq!(all.len(), 3);
        assert!(all.iter().any(|c| c.notes == "now with notes"));
        s.replace_contacts(&[Contact::new("Carol", "1004")])
            .unwrap();
        let all = s.contacts().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, "Carol");
    }

    #[test]
    fn a_version_1_book_keeps_its_phone_numbers() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO contacts (name, uri, phone, speed_dial) VALUES ('Ada', '1001', '+1 555', '7'), ('Bob', '1003', '', '')",
            [],
        )
        .unwrap();
        let s = Store::ready(conn).unwrap();
        assert_eq!(s.version().unwrap(), MIGRATIONS.len() as i64);
        let all = s.contacts().unwrap();
        assert_eq!(numbers(&all[0]), ["+1 555"]);
        assert_eq!(all[0].speed_dial, "7");
        assert!(all[1].phones.is_empty());
    }
}
