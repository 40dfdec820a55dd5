//! The address book commands and the chat history, carried out on the worker thread (SQLite
//! never runs on the loop that drives SIP and media). Every change is answered by the whole book in a `contacts`
//! event, then the reply; files are the faces' business (import and export carry the text).

use super::driver::Engine;
use super::worker::Done;
use crate::model::{Command, Contact, Event, NoticeKind, Reply, RequestId};
use crate::store::{Store, exchange};

/// How many messages of a conversation GetChatHistory gives.
const CHAT_HISTORY: usize = 200;

impl Engine {
    /// Carries out a contacts command on the worker and replies to `id` from there.
    pub(super) fn contacts_request(&self, id: RequestId, command: Command) {
        self.worker.run(move |state| {
            let mut events = Vec::new();
            let result = match state.store.as_ref() {
                Some(store) => contacts_command(store, command, &mut events),
                None => Err(
                    "the address book is not available this run (softphone.db could \
                             not be opened; see the warning at start)"
                        .to_string(),
                ),
            };
            events.push(Event::Reply {
                id,
                result: result.map_or_else(
                    |message| Reply::Failed {
                        kind: NoticeKind::Contacts,
                        message,
                    },
                    |()| Reply::Done,
                ),
            });
            Some(Done::Events(events))
        });
    }

    /// Tells the faces the stored address book (at start).
    pub(super) fn report_contacts(&self) {
        self.worker.run(|state| {
            let store = state.store.as_ref()?;
            Some(Done::Events(vec![match store.contacts() {
                Ok(contacts) => Event::Contacts { contacts },
                Err(e) => Event::warning(
                    NoticeKind::Contacts,
                    format!("the address book could not be read: {e}"),
                ),
            }]))
        });
    }
}

/// The contacts `key` names: the one with that id, else those with that name or address
/// (ignoring case) or reached at that number.
fn named<'a>(contacts: &'a [Contact], key: &str) -> Vec<&'a Contact> {
    let key = key.trim();
    if let Ok(id) = key.parse::<i64>()
        && let Some(c) = contacts.iter().find(|c| c.id == id)
    {
        return vec![c];
    }
    contacts
        .iter()
        .filter(|c| {
            c.name.to_lowercase() == key.to_lowercase()
                || c.uri.eq_ignore_ascii_case(key)
                || c.reached_at(key)
        })
        .collect()
}

fn contacts_command(
    store: &Store,
    command: Command,
    events: &mut Vec<Event>,
) -> Result<(), String> {
    let db = |e: crate::store::StoreError| format!("the address book: {e}");
    let changed = match command {
        Command::SaveContact { contact } => {
            let contact =
                exchange::tidy(contact).ok_or("a contact needs a name or a number to call")?;
            store.save_contact(&contact).map_err(db)?;
            true
        }
        Command::DeleteContact { key } => {
            let all = store.contacts().map_err(db)?;
            match named(&all, &key).as_slice() {
                [] => return Err(format!("no contact is {:?}", key.trim())),
                [one] => {
                    store.delete_contact(one.id).map_err(db)?;
                }
                many => {
                    return Err(format!(
                        "{} contacts are {:?}; give the id of the one to delete (GetContacts \
                         lists them)",
                        many.len(),
                        key.trim()
                    ));
                }
            }
            true
        }
        Command::SetContacts { contacts } => {
            let tidy: Vec<Contact> = contacts.into_iter().filter_map(exchange::tidy).collect();
            if tidy.len() > exchange::MAX_CONTACTS {
                return Err(format!(
                    "{} contacts; the address book takes up to {}",
                    tidy.len(),
                    exchange::MAX_CONTACTS
                ));
            }
            store.replace_contacts(&tidy).map_err(db)?;
            true
        }
        Command::GetContacts { search } => {
            let contacts = store
                .contacts()
                .map_err(db)?
                .into_iter()
                .filter(|c| c.matches(&search))
                .collect();
            events.push(Event::ContactsFound { search, contacts });
            false
        }
        Command::ImportContacts { format, text } => {
            let parsed = exchange::import(format, &text)?;
            let outcome = store.import_contacts(&parsed.contacts).map_err(db)?;
            events.push(Event::ContactsImported {
                added: outcome.added,
                updated: outcome.updated,
                problems: parsed.problems,
            });
            true
        }
        Command::ExportContacts { format } => {
            let contacts = store.contacts().map_err(db)?;
            events.push(Event::ContactsExported {
                format,
                text: exchange::export(format, &contacts),
            });
            false
        }
        Command::GetChatHistory { peer } => {
            let peer = crate::model::user_of(&peer).to_string();
            let messages = store.chat_with(&peer, CHAT_HISTORY).map_err(db)?;
            events.push(Event::ChatHistory { peer, messages });
            false
        }
        other => return Err(format!("{} is not an address book command", other.verb())),
    };
    if changed {
        events.push(Event::Contacts {
            contacts: store.contacts().map_err(db)?,
        });
    }
    Ok(())
}
