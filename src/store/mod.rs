//! The local data the softphone keeps between runs: call history (from CDRs), contacts and
//! chat messages, in one SQLite database (`softphone.db` in the data folder). The schema is
//! versioned with SQLite's `user_version` and brought up to date by [`MIGRATIONS`] at open,
//! each step in a transaction; a database from a newer softphone is refused rather than
//! damaged.

mod contacts;
pub mod exchange;

use crate::model::{Cdr, DiscParty};
pub use crate::model::{ChatMessage, Contact};
pub use contacts::ImportOutcome;
use rusqlite::{Connection, params};
use std::path::Path;
use thiserror::Error;

/// Why the store could not be used.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("the database has schema version {found}, newer than this softphone's {known}")]
    Newer { found: i64, known: i64 },
}

/// Schema steps, in order; step `i` brings version `i` to `i + 1`. Never edit a shipped step:
/// add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: history, contacts, chat.
    "CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        started_ms INTEGER NOT NULL,
        line INTEGER NOT NULL,
        outgoing INTEGER NOT NULL,
        peer TEXT NOT NULL,
        peer_display TEXT NOT NULL,
        caller TEXT NOT NULL,
        called TEXT NOT NULL,
        peer_address TEXT NOT NULL,
        connect_ms INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        disc_party INTEGER NOT NULL,
        reason TEXT NOT NULL,
        call_id TEXT NOT NULL
    );
    CREATE INDEX calls_started ON calls(started_ms);
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        uri TEXT NOT NULL,
        phone TEXT NOT NULL DEFAULT '',
        speed_dial TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE chat (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        peer TEXT NOT NULL,
        outgoing INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX chat_peer ON chat(peer, at_ms);",
    // 2: contacts get notes and any number of labelled phone numbers (the one `phone` of
    // step 1 becomes the first of them).
    "ALTER TABLE contacts ADD COLUMN notes TEXT NOT NULL DEFAULT '';
    CREATE TABLE contact_phones (
        contact_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        label TEXT NOT NULL,
        number TEXT NOT NULL
    );
    CREATE INDEX contact_phones_contact ON contact_phones(contact_id, position);
    INSERT INTO contact_phones (contact_id, position, label, number)
        SELECT id, 0, '', phone FROM contacts WHERE phone != '';
    ALTER TABLE contacts DROP COLUMN phone;",
];

pub use crate::model::format_utc;

/// One history line for people: when, direction, peer, how long, why it ended.
pub fn history_line(c: &Cdr) -> String {
    let secs = c.duration_ms / 1000;
    let outcome = if c.connect_ms == 0 && c.duration_ms == 0 {
        if c.outgoing {
            "not answered".to_string()
        } else {
            "missed".to_string()
        }
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    };
    let who = if c.peer_display.is_empty() {
        c.peer.clone()
    } else {
        format!("{} ({})", c.peer_display, c.peer)
    };
    format!(
        "{} UTC  {}  {who}  {outcome}  [{}]",
        format_utc(c.started_ms),
        if c.outgoing { "out" } else { "in " },
        c.reason
    )
}

/// The open database.
pub struct Store {
    conn: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating it and its folder if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(dir.display().to_string(), e))?;
        }
        let conn = Connection::open(path)?;
        // WAL: the window can read the history while the engine writes a record.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(2))?;
        Self::ready(conn)
    }

    /// A database in memory (tests, `cfgstorage=0`).
    pub fn in_memory() -> Result<Store, StoreError> {
        Self::ready(Connection::open_in_memory()?)
    }

    fn ready(mut conn: Connection) -> Result<Store, StoreError> {
        let known = MIGRATIONS.len() as i64;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > known {
            return Err(StoreError::Newer { found, known });
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(Store { conn })
    }

    /// The schema version in use.
    pub fn version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Adds a finished call to the history.
    pub fn add_call(&self, c: &Cdr) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO calls (started_ms, line, outgoing, peer, peer_display, caller, called,
                peer_address, connect_ms, duration_ms, disc_party, reason, call_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                c.started_ms,
                c.line,
                c.outgoing,
                c.peer,
                c.peer_display,
                c.caller,
                c.called,
                c.peer_address,
                i64::try_from(c.connect_ms).unwrap_or(i64::MAX),
                i64::try_from(c.duration_ms).unwrap_or(i64::MAX),
                c.disc_party.code(),
                c.reason,
                c.call_id
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The latest `limit` calls, newest first.
    pub fn recent_calls(&self, limit: usize) -> Result<Vec<Cdr>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT line, peer, peer_display, caller, called, peer_address, outgoing, started_ms,
                connect_ms, duration_ms, disc_party, reason, call_id
             FROM calls ORDER BY started_ms DESC, id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(Cdr {
                line: r.get(0)?,
                peer: r.get(1)?,
                peer_display: r.get(2)?,
                caller: r.get(3)?,
                called: r.get(4)?,
                peer_address: r.get(5)?,
                outgoing: r.get(6)?,
                started_ms: r.get(7)?,
                connect_ms: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
                duration_ms: u64::try_from(r.get::<_, i64>(9)?).unwrap_or(0),
                disc_party: if r.get::<_, i64>(10)? == 1 {
                    DiscParty::Local
                } else {
                    DiscParty::Remote
                },
                reason: r.get(11)?,
                call_id: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets the whole call history.
    pub fn clear_history(&self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM calls", [])?;
        Ok(())
    }

    /// Keeps a chat message.
    pub fn add_chat(&self, m: &ChatMessage) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO chat (at_ms, peer, outgoing, text) VALUES (?1, ?2, ?3, ?4)",
            params![m.at_ms, m.peer, m.outgoing, m.text],
        )?;
        Ok(())
    }

    /// The last `limit` messages with `peer`, oldest first.
    pub fn chat_with(&self, peer: &str, limit: usize) -> Result<Vec<ChatMessage>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT at_ms, peer, outgoing, text FROM
               (SELECT * FROM chat WHERE peer = ?1 ORDER BY at_ms DESC, id DESC LIMIT ?2)
             ORDER BY at_ms, id",
        )?;
        let rows = stmt.query_map(params![peer, limit as i64], |r| {
            Ok(ChatMessage {
                at_ms: r.get(0)?,
                peer: r.get(1)?,
                outgoing: r.get(2)?,
                text: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdr(started_ms: i64, peer: &str) -> Cdr {
        Cdr {
            line: 1,
            peer: peer.into(),
            peer_display: "Bob, \"the builder\"".into(),
            caller: "1001".into(),
            called: peer.into(),
            peer_address: format!("sip:{peer}@pbx"),
            outgoing: true,
            started_ms,
            connect_ms: 1_500,
            duration_ms: 61_000,
            disc_party: DiscParty::Remote,
            reason: "remote hung up".into(),
            call_id: format!("id{started_ms}"),
        }
    }

    #[test]
    fn history_survives_reopening_and_migrations_run_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/softphone.db");
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.version().unwrap(), MIGRATIONS.len() as i64);
            s.add_call(&cdr(1_000, "1002")).unwrap();
            s.add_call(&cdr(3_000, "1003")).unwrap();
            s.add_call(&cdr(2_000, "1004")).unwrap();
        }
        let s = Store::open(&path).unwrap();
        let calls = s.recent_calls(2).unwrap();
        assert_eq!(calls, vec![cdr(3_000, "1003"), cdr(2_000, "1004")]);
        s.clear_history().unwrap();
        assert!(s.recent_calls(10).unwrap().is_empty());
    }

    #[test]
    fn times_and_lines() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(1_795_435_200_000), "2026-11-23 12:00:00");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00:00");
        let line = history_line(&cdr(1_795_435_200_000, "1002"));
        assert_eq!(
            line,
            "2026-11-23 12:00:00 UTC  out  Bob, \"the builder\" (1002)  1:01  [remote hung up]"
        );
        let mut missed = cdr(0, "1003");
        (missed.outgoing, missed.connect_ms, missed.duration_ms) = (false, 0, 0);
        assert!(history_line(&missed).contains("in   Bob"));
        assert!(history_line(&missed).contains("missed"));
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("softphone.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
                .unwrap();
        }
        match Store::open(&path) {
            Err(StoreError::Newer { found: 99, known }) => {
                assert_eq!(known, MIGRATIONS.len() as i64)
            }
            other => panic!("{other:?}"),
        }
        let c = Connection::open(&path).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 99);
    }

    #[test]
    fn chat_history() {
        let s = Store::in_memory().unwrap();
        for (i, text) in ["one", "two", "three"].iter().enumerate() {
            s.add_chat(&ChatMessage {
                at_ms: i as i64,
                peer: "1002".into(),
                outgoing: i % 2 == 0,
                text: text.to_string(),
            })
            .unwrap();
        }
        let last: Vec<_> = s
            .chat_with("1002", 2)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(last, vec!["two", "three"]);
        assert!(s.chat_with("1003", 5).unwrap().is_empty());
    }
}
