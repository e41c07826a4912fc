//! The journal's tables, applied in order and counted in SQLite's `user_version`.
//!
//! A migration is only ever appended, never edited, so a journal written by an older Sentinela
//! opens in a newer one. Most are SQL; one that must read old rows through the engine's rules
//! (the move to incidents) is a Rust function, run in the same transaction.

use rusqlite::{Connection, TransactionBehavior};

use super::sql::{Sql, SqlResult};

type RustMigration = fn(&mut dyn Sql) -> SqlResult<()>;

enum Migration {
    Sql(&'static str),
    Rust(RustMigration),
}

const SQL_MIGRATIONS: &[&str] = &[
    // 1: alerts, where each mailbox sighting came from, and an event log.
    r#"
    CREATE TABLE alerts (
        id            INTEGER PRIMARY KEY,
        folder        TEXT    NOT NULL,
        uidvalidity   INTEGER NOT NULL,
        uid           INTEGER NOT NULL,
        message_id    TEXT,
        sender        TEXT    NOT NULL,
        subject       TEXT    NOT NULL,
        body          TEXT    NOT NULL,
        truncated     INTEGER NOT NULL,
        received_at   TEXT    NOT NULL,
        journaled_at  TEXT    NOT NULL,
        state         TEXT    NOT NULL
    );
    CREATE INDEX alerts_message_id ON alerts(message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX alerts_received_at ON alerts(received_at);

    -- Every (folder, UIDVALIDITY, UID) under which an alert's e-mail was seen. A copy of the same
    -- e-mail (same Message-ID) under a new identity adds a sighting, not an alert.
    CREATE TABLE sightings (
        folder        TEXT    NOT NULL,
        uidvalidity   INTEGER NOT NULL,
        uid           INTEGER NOT NULL,
        alert_id      INTEGER NOT NULL REFERENCES alerts(id),
        seen_marked   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (folder, uidvalidity, uid)
    ) WITHOUT ROWID;

    CREATE TABLE events (
        id        INTEGER PRIMARY KEY,
        alert_id  INTEGER REFERENCES alerts(id),
        at        TEXT NOT NULL,
        kind      TEXT NOT NULL,
        detail    TEXT NOT NULL
    );
    CREATE INDEX events_alert ON events(alert_id);
    "#,
    // 2: notifications. Every outbound request is an intent row first and gets its result after,
    // so a restart knows exactly what was sent, what is in flight, and what is still owed.
    r#"
    ALTER TABLE alerts ADD COLUMN is_test INTEGER NOT NULL DEFAULT 0;

    CREATE TABLE deliveries (
        id            INTEGER PRIMARY KEY,
        alert_id      INTEGER NOT NULL REFERENCES alerts(id),
        channel       TEXT    NOT NULL,
        recipient     TEXT    NOT NULL,
        state         TEXT    NOT NULL,
        sid           TEXT,
        error_code    INTEGER,
        error_message TEXT,
        created_at    TEXT    NOT NULL,
        updated_at    TEXT    NOT NULL,
        UNIQUE (alert_id, channel, recipient)
    );

    CREATE TABLE escalations (
        alert_id      INTEGER PRIMARY KEY REFERENCES alerts(id),
        state         TEXT    NOT NULL,
        answered_by   TEXT,
        created_at    TEXT    NOT NULL,
        updated_at    TEXT    NOT NULL
    );

    CREATE TABLE call_attempts (
        id            INTEGER PRIMARY KEY,
        alert_id      INTEGER NOT NULL REFERENCES alerts(id),
        round         INTEGER NOT NULL,
        position      INTEGER NOT NULL,
        number        TEXT    NOT NULL,
        state         TEXT    NOT NULL,
        sid           TEXT,
        answered_by   TEXT,
        duration      INTEGER,
        outcome       TEXT,
        error_code    INTEGER,
        error_message TEXT,
        created_at    TEXT    NOT NULL,
        updated_at    TEXT    NOT NULL,
        UNIQUE (alert_id, round, position)
    );
    "#,
    // 3: engine state that must survive a restart (the notification pause).
    r#"
    CREATE TABLE engine_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
];

// 4: incidents, written in `incidents.rs` next to the code that reads them; 5: rejected
// senders, in `rejected.rs`; 6: the Studio execution of a call that asks for a key; 7: the
// indexes that keep every per-alert, per-poll and per-reply statement off a full scan; 8: the
// search index, in `search.rs`; 9: every message's channel and SMS fallbacks, in
// `notifications.rs`; 10: the lookups a year of history needs (`lookup_indexes`); 11: the search
// index merged by the history's upkeep, not by an alert's write (`search.rs`).
const RUST_MIGRATIONS: &[RustMigration] = &[
    super::incidents::migrate_to_incidents,
    super::rejected::migrate_to_rejected,
    migrate_to_executions,
    migrate_to_history_indexes,
    super::search::migrate_sqlite,
    |tx| tx.execute_batch(&super::notifications::channels_migration("INTEGER")),
    |tx| tx.execute_batch(&lookup_indexes()),
    super::search::migrate_sqlite_merging,
];

fn migrate_to_executions(tx: &mut dyn Sql) -> SqlResult<()> {
    tx.execute_batch("ALTER TABLE calls ADD COLUMN execution_sid TEXT;")
}

/// Indexes for a long history (see `query_plans.rs`), the same on PostgreSQL (its migration 3).
pub const HISTORY_INDEXES: &str = "
    CREATE INDEX alerts_journaled_at ON alerts(journaled_at);
    CREATE INDEX alerts_unplaced ON alerts(id) WHERE kind IS NULL;
    CREATE INDEX calls_created_at ON calls(created_at);
    CREATE INDEX incidents_first_seen ON incidents(first_seen);
    CREATE INDEX incidents_held ON incidents(id) WHERE held_since IS NOT NULL AND released_at IS NULL;
    CREATE INDEX incidents_escalating ON incidents(id) WHERE escalation IN ('owed', 'calling');
    CREATE INDEX sightings_alert ON sightings(alert_id);
    CREATE INDEX replies_incident ON replies(incident_id);
    CREATE INDEX replies_sent_at ON replies(sent_at);
";

/// Indexes for a year of history, the same on PostgreSQL (its migration 6): a reply's "newest
/// incident that reached this number" from that number's own messages (a number never reached
/// reads nothing); the dated search from the incidents active on those days; and the planner's
/// reads of taken incidents and gathered messages through partial indexes, which keep them
/// indexed whatever statistics a journal has (an `ANALYZE` over uniform rows told SQLite that
/// every row is taken).
pub fn lookup_indexes() -> String {
    format!(
        "CREATE INDEX deliveries_recipient_incident ON deliveries(recipient, incident_id);
         CREATE INDEX incidents_last_seen ON incidents(last_seen, first_seen);
         CREATE INDEX incidents_acknowledged ON incidents(acknowledged_at) WHERE state = '{taken}';
         CREATE INDEX deliveries_gathered ON deliveries(due_at) WHERE state = '{gathered}';",
        taken = crate::incident::IncidentState::Acknowledged.as_str(),
        gathered = super::DeliveryState::Gathered.as_str(),
    )
}

fn migrate_to_history_indexes(tx: &mut dyn Sql) -> SqlResult<()> {
    tx.execute_batch(HISTORY_INDEXES)
}

fn migration(version: usize) -> Option<Migration> {
    SQL_MIGRATIONS.get(version).map(|sql| Migration::Sql(sql)).or_else(|| {
        RUST_MIGRATIONS.get(version - SQL_MIGRATIONS.len()).map(|f| Migration::Rust(*f))
    })
}

#[cfg(test)]
pub const MIGRATION_COUNT: usize = SQL_MIGRATIONS.len() + RUST_MIGRATIONS.len();

/// The version a journal written before incidents has: tests build one to migrate it.
#[cfg(test)]
pub const BEFORE_INCIDENTS: usize = SQL_MIGRATIONS.len();

pub fn migrate(conn: &mut Connection) -> SqlResult<()> {
    migrate_to(conn, usize::MAX)
}

/// Migrates up to `target` migrations (tests stop early to build an old journal).
pub fn migrate_to(conn: &mut Connection, target: usize) -> SqlResult<()> {
    // Another process (the desktop app, `sentinela-headless history`, a second service) may open
    // the same journal at the same moment: each step reads the version under the write lock, so
    // every migration runs exactly once and nobody trips over a table the other just created.
    loop {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version >= target {
            return Ok(());
        }
        match migration(version) {
            None => return Ok(()),
            Some(Migration::Sql(sql)) => tx.execute_batch(sql)?,
            Some(Migration::Rust(f)) => f(&mut tx)?,
        }
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
