//! The alert journal: the durable record of every alert and what happened to it.
//!
//! SQLite in WAL mode with `synchronous = FULL`, because an alert is only acknowledged to the
//! mailbox (marked `\Seen`) after it is committed here: the commit must survive a power cut.
//! Recording is idempotent. The same e-mail met again — another scan, a reconnect, a restart, or
//! the same Message-ID under a new UIDVALIDITY — becomes a sighting of the existing alert, never a
//! second alert.
//!
//! The same journal can live in a shared PostgreSQL database instead (`[journal] url`, see
//! [`postgres`]): the queries are written once ([`sql`]) and run on either.
//!
//! Both drivers are blocking, so every call runs on tokio's blocking pool behind one connection.

#[cfg(test)]
#[macro_use]
mod test_macros;
mod heartbeat;
mod incidents;
pub mod lease_row;
mod notifications;
pub mod outbox;
mod pause;
pub mod planning;
#[cfg(test)]
mod query_plans;
mod rejected;
mod replies;
mod retention;
mod schema;
mod search;
#[cfg(test)]
mod state_words;
// Compares with a real PostgreSQL, which the tests start on Unix only (see `test_postgres`).
pub mod postgres;
#[cfg(all(test, unix))]
mod schema_parity;
pub mod sql;
// Starts Debian's PostgreSQL binaries as child processes: Unix only (the Windows build's tests
// run under Wine, where the journal's PostgreSQL side is reached by the integration tests).
#[cfg(all(unix, any(test, feature = "test-support")))]
pub mod test_postgres;

// The planner's tests take an incident as a reply would, at a moment they choose.
pub use heartbeat::DayCounts;
#[cfg(test)]
pub(crate) use incidents::acknowledge_from;
pub use incidents::{
    ActionOutcome, IncidentChange, IncidentDetail, IncidentEmail, IncidentLogLine, IncidentSummary,
    SpokenIncident,
};
pub use notifications::{CallAttempt, CallOutcome, CallState, CallUpdate, Delivery, DeliveryState};
pub use outbox::LocalOutbox;
pub use pause::PauseState;
pub use rejected::RejectedMail;
pub use replies::{Reply, ReplyOutcome};
pub use retention::PruneReport;
pub use search::{IncidentQuery, StateFilter};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sql::{params, Conn, OptionalExtension, Sql, SqlError, SqlExt, SqlResult};
use tokio::sync::watch;

use crate::incident::{AlertKind, IncidentId, IncidentRules};
use crate::mail::AlertMail;

pub use crate::model::AlertId;

/// Name of the journal file inside the data directory.
pub const JOURNAL_FILE: &str = "sentinela.db";

/// Where an e-mail sits in the mailbox. UIDs only mean something together with UIDVALIDITY.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MailboxUid {
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// An e-mail to record as an alert.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub origin: MailboxUid,
    pub mail: AlertMail,
    /// The `Date:` header, or the server's INTERNALDATE when the header is missing.
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// A new alert was committed.
    Recorded(AlertId),
    /// The e-mail was already journaled as this alert.
    Duplicate(AlertId),
}

impl RecordOutcome {
    pub fn alert_id(self) -> AlertId {
        match self {
            RecordOutcome::Recorded(id) | RecordOutcome::Duplicate(id) => id,
        }
    }
}

/// A journaled alert as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertRecord {
    pub id: AlertId,
    pub origin: MailboxUid,
    pub message_id: Option<String>,
    pub sender: String,
    pub subject: String,
    pub body: String,
    pub truncated: bool,
    pub received_at: DateTime<Utc>,
    pub journaled_at: DateTime<Utc>,
    pub state: String,
    /// A test alert from "Send test alert": every text and call says so.
    pub is_test: bool,
    /// The incident this e-mail opened, repeated or ended (None for a recovery of nothing).
    pub incident_id: Option<IncidentId>,
    /// None only while the e-mail waits to be placed (an alert of an older Sentinela).
    pub kind: Option<AlertKind>,
}

/// What `check` says of a shared journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedStatus {
    pub schema_version: i64,
    /// The workstation that notifies now, or None when nobody holds the lease.
    pub notifier: Option<String>,
}

/// One line of an alert's event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JournalEvent {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open the journal at {path}: {source}. Check that the data directory is writable (--data-dir).")]
    Open { path: String, source: SqlError },
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("journal error: {0}")]
    Sql(#[from] SqlError),
    #[error("cannot reach the shared journal ({target}): {reason}")]
    Unreachable { target: String, reason: String },
    #[error("journal task failed: {0}")]
    Task(String),
}

impl JournalError {
    /// The shared journal is out of this workstation's reach (refused, timed out, connection
    /// lost): what it cannot write now goes to the [`outbox`].
    pub fn is_unreachable(&self) -> bool {
        match self {
            JournalError::Unreachable { .. } => true,
            JournalError::Sql(e) => e.is_connection_lost(),
            _ => false,
        }
    }
}

/// Handle to the journal; clones share one connection.
#[derive(Clone)]
pub struct AlertJournal {
    conn: Arc<Mutex<Conn>>,
    /// Where a shared journal's connection is made again after the database was lost.
    shared: Option<Arc<postgres::SharedJournal>>,
    /// Bumped after every write through this handle and, by [`AlertJournal::poll_other_writers`],
    /// after another process's: the notify side wakes on it, never on the public event bus.
    changes: Arc<watch::Sender<u64>>,
    /// Why the journal cannot be written (disk full, read-only, corrupt), while that lasts:
    /// the health monitor turns it into the alarm.
    write_problem: Arc<watch::Sender<Option<String>>>,
    /// When the last storage failure happened, and whether a write succeeded since: a full disk
    /// still takes a small write now and then, so one success does not end the problem.
    write_health: Arc<Mutex<WriteHealth>>,
    /// Where a corrupt journal found at opening was moved, when that happened.
    replaced: Option<PathBuf>,
    /// The lease epoch this handle's intents to create are recorded under (the notify side's
    /// handle on a shared journal): an intent commits only while the epoch holds.
    fence: Option<lease_row::LeaseEpoch>,
}

#[derive(Debug, Default)]
struct WriteHealth {
    last_failure: Option<std::time::Instant>,
    succeeded_since: bool,
}

/// How long without a storage failure, with a write that succeeded, before the journal counts
/// as writable again: longer than the mailbox watcher's 5 s retry of the e-mail it could not take.
pub const WRITABLE_AFTER: std::time::Duration = std::time::Duration::from_secs(12);

/// SQLite failures that mean the journal cannot keep what it is given — not a busy lock.
/// (A shared journal out of reach is not one: the lease says that, as its own alarm.)
fn is_storage_failure(e: &SqlError) -> bool {
    let SqlError::Sqlite(e) = e else { return false };
    use rusqlite::ErrorCode::*;
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, DiskFull | ReadOnly | SystemIoFailure | DatabaseCorrupt | NotADatabase | CannotOpen | PermissionDenied))
        // `query_only` answers with a plain SQLITE_ERROR whose text says so.
        || e.to_string().contains("attempt to write a readonly database")
}

fn is_corrupt(e: &SqlError) -> bool {
    let SqlError::Sqlite(e) = e else { return false };
    use rusqlite::ErrorCode::*;
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, DatabaseCorrupt | NotADatabase))
}

impl std::fmt::Debug for AlertJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertJournal")
    }
}

/// How long a journal operation waits for another process's lock before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Puts the journal in WAL mode. Switching a new file to WAL while another process does the same
/// answers "database is locked" at once, without going through the busy timeout, so the switch
/// is retried for as long as the busy timeout would have waited.
fn use_wal(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// `data_dir/name`, an SQLite file readable by this user only: made 0600 before SQLite writes a
/// byte, with its WAL and shared-memory files (the folder 0700).
fn private_sqlite_file(data_dir: &Path, name: &str) -> Result<PathBuf, JournalError> {
    let create_err =
        |source| JournalError::CreateDir { path: data_dir.display().to_string(), source };
    crate::files::private_dir(data_dir).map_err(create_err)?;
    let path = data_dir.join(name);
    crate::files::create_private_file(&path).map_err(create_err)?;
    for tail in ["-wal", "-shm"] {
        crate::files::private_file(&data_dir.join(format!("{name}{tail}"))).map_err(create_err)?;
    }
    Ok(path)
}

pub(crate) fn parse_ts(s: String) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

impl AlertJournal {
    /// Opens (creating if needed) `sentinela.db` in `data_dir`. A file that is not a readable
    /// journal (corrupt) is moved aside — kept, named with the date — and a new journal is
    /// started; [`AlertJournal::replaced_corrupt`] then says where the old one went.
    pub fn open_in_dir(data_dir: &Path) -> Result<Self, JournalError> {
        let path = private_sqlite_file(data_dir, JOURNAL_FILE)?;
        let create_err =
            |source| JournalError::CreateDir { path: data_dir.display().to_string(), source };
        match Self::open(&path) {
            Err(JournalError::Open { source, .. }) if is_corrupt(&source) => {
                let aside = data_dir
                    .join(format!("sentinela.corrupt-{}.db", Utc::now().format("%Y%m%d-%H%M%S")));
                tracing::error!(moved_to = %aside.display(), "THE JOURNAL WAS CORRUPT ({source}): it is kept aside and a new one is started; the history before now is in the old file");
                let moved = |from: &Path, to: &Path| {
                    std::fs::rename(from, to).map_err(|source| JournalError::CreateDir {
                        path: to.display().to_string(),
                        source,
                    })
                };
                moved(&path, &aside)?;
                for tail in ["-wal", "-shm"] {
                    let side = data_dir.join(format!("{JOURNAL_FILE}{tail}"));
                    if side.exists() {
                        moved(
                            &side,
                            &data_dir.join(format!(
                                "{}{tail}",
                                aside.file_name().unwrap_or_default().to_string_lossy()
                            )),
                        )?;
                    }
                }
                crate::files::create_private_file(&path).map_err(create_err)?;
                let mut journal = Self::open(&path)?;
                journal.replaced = Some(aside);
                Ok(journal)
            }
            other => other,
        }
    }

    /// Opens the shared journal (PostgreSQL, `[journal] url`), making or updating its schema, and
    /// follows every engine's commits on it (see [`postgres`]).
    pub async fn open_shared(shared: postgres::SharedJournal) -> Result<Self, JournalError> {
        Self::open_shared_with(shared, false).await
    }

    /// [`AlertJournal::open_shared`] for a running engine: a database out of reach at start is
    /// connected to (and migrated) when it answers, meanwhile the journal fails as out of reach.
    pub async fn open_shared_or_wait(
        shared: postgres::SharedJournal,
    ) -> Result<Self, JournalError> {
        Self::open_shared_with(shared, true).await
    }

    async fn open_shared_with(
        shared: postgres::SharedJournal,
        wait: bool,
    ) -> Result<Self, JournalError> {
        let journal = tokio::task::spawn_blocking(move || shared.open(wait))
            .await
            .map_err(|e| JournalError::Task(e.to_string()))??;
        if let Some(shared) = &journal.shared {
            tokio::spawn(Arc::clone(shared).listen(Arc::downgrade(&journal.changes)));
        }
        Ok(journal)
    }

    /// The shared journal's `host:port/database`, or None for this workstation's SQLite file.
    pub fn shared_target(&self) -> Option<&str> {
        self.shared.as_deref().map(postgres::SharedJournal::target)
    }

    /// The shared journal's schema version and who holds the notify side's lease, for `check`;
    /// an error on this workstation's own journal.
    pub async fn shared_status(&self) -> Result<SharedStatus, JournalError> {
        if self.shared.is_none() {
            return Err(JournalError::Sql(SqlError::Unsupported("the shared journal's status")));
        }
        self.call(|conn| {
            let schema_version = postgres::schema_version(conn)?;
            let notifier = conn
                .query_row(lease_row::WHO_NOTIFIES, params![], |r| r.get::<String>(0))
                .optional()?;
            Ok(SharedStatus { schema_version, notifier })
        })
        .await
    }

    /// This journal, recording every intent to create under lease `epoch` (see
    /// [`lease_row::fence`]): the notify side's handle while this engine holds the lease.
    pub fn fenced(&self, epoch: lease_row::LeaseEpoch) -> AlertJournal {
        AlertJournal { fence: Some(epoch), ..self.clone() }
    }

    /// Inside an intent's transaction: an error unless this handle's lease epoch still holds.
    fn confirm_fence(&self, tx: &mut dyn Sql) -> SqlResult<()> {
        match self.fence {
            Some(epoch) => lease_row::fence(tx, epoch),
            None => Ok(()),
        }
    }

    /// The shared journal this one lives in, for the notify side's lease.
    pub fn shared(&self) -> Option<Arc<postgres::SharedJournal>> {
        self.shared.clone()
    }

    /// Where a corrupt journal was moved when this one was opened, if that happened.
    pub fn replaced_corrupt(&self) -> Option<&Path> {
        self.replaced.as_deref()
    }

    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let open_err = |source: rusqlite::Error| JournalError::Open {
            path: path.display().to_string(),
            source: source.into(),
        };
        let mut conn = rusqlite::Connection::open(path).map_err(open_err)?;
        // First, so that every step below waits for another process's lock instead of failing.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        use_wal(&conn).map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        schema::migrate(&mut conn)
            .map_err(|source| JournalError::Open { path: path.display().to_string(), source })?;
        Ok(Self::wrap(Conn::Sqlite(conn), None))
    }

    /// Compacts the journal, then caps its growth at `extra_pages` more pages (SQLite's
    /// `max_page_count`; None lifts the cap). A full disk, as SQLite sees one: the
    /// fault-injection tests use it.
    pub async fn cap_growth(&self, extra_pages: Option<u64>) -> Result<(), JournalError> {
        self.call(move |conn| {
            let conn = conn.sqlite("capping the journal's growth")?;
            let pages = match extra_pages {
                Some(extra) => {
                    conn.execute_batch("VACUUM")?;
                    conn.query_row("PRAGMA page_count", params![], |r| r.get::<u64>(0))? + extra
                }
                // SQLite clamps the value to its own maximum: "no cap" is simply the largest.
                None => u64::from(u32::MAX - 1),
            };
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), params![], |r| {
                r.get::<u64>(0)
            })
            .map(drop)
        })
        .await
    }

    /// Makes every write fail as a read-only journal's would (SQLite's `query_only`), or lifts
    /// that: the fault-injection tests use it to fail each notify step's writes.
    pub async fn refuse_writes(&self, refuse: bool) -> Result<(), JournalError> {
        self.call(move |conn| {
            Ok(conn.sqlite("refusing writes")?.pragma_update(None, "query_only", refuse)?)
        })
        .await
    }

    /// Ends the write problem once a write has succeeded and no storage failure came for
    /// [`WRITABLE_AFTER`]. The health monitor calls it on its ticks, so the end is said even
    /// when nothing else writes.
    pub fn settle_write_problem(&self) {
        let settled = self.write_health.lock().is_ok_and(|h| {
            h.succeeded_since && h.last_failure.is_none_or(|t| t.elapsed() >= WRITABLE_AFTER)
        });
        if settled {
            self.write_problem.send_if_modified(|p| p.take().is_some());
        }
    }

    /// Why the journal cannot be written now (None while it can), and its changes.
    pub fn write_problem(&self) -> watch::Receiver<Option<String>> {
        self.write_problem.subscribe()
    }

    /// A journal that lives in memory, for tests.
    pub fn open_in_memory() -> Result<Self, JournalError> {
        let mut conn = rusqlite::Connection::open_in_memory().map_err(SqlError::from)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(SqlError::from)?;
        schema::migrate(&mut conn)?;
        Ok(Self::wrap(Conn::Sqlite(conn), None))
    }

    fn wrap(conn: Conn, shared: Option<Arc<postgres::SharedJournal>>) -> Self {
        AlertJournal {
            conn: Arc::new(Mutex::new(conn)),
            shared,
            changes: Arc::new(watch::channel(0).0),
            write_problem: Arc::new(watch::channel(None).0),
            write_health: Arc::default(),
            replaced: None,
            fence: None,
        }
    }

    /// A receiver that changes whenever the journal was written (by this process at once; by
    /// another one — the CLI, a window — once [`AlertJournal::poll_other_writers`] notices).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn touched(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Notices commits made by other processes (SQLite's `data_version` changes only for them)
    /// every `every`, until `shutdown`. An ack typed in the CLI reaches a running engine this way.
    pub async fn poll_other_writers(
        self,
        every: std::time::Duration,
        mut shutdown: crate::shutdown::Shutdown,
    ) {
        let mut last: Option<i64> = None;
        loop {
            let version = self
                .call(|conn| {
                    conn.sqlite("data_version")?
                        .query_row("PRAGMA data_version", params![], |r| r.get::<i64>(0))
                })
                .await;
            match version {
                Ok(v) => {
                    if last.is_some_and(|l| l != v) {
                        self.touched();
                    }
                    last = Some(v);
                }
                Err(e) => tracing::warn!("journal: cannot read data_version: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.recv() => return,
            }
        }
    }

    /// Runs `f` on the connection on the blocking pool.
    pub(crate) async fn call<R, F>(&self, f: F) -> Result<R, JournalError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Conn) -> SqlResult<R> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let shared = self.shared.clone();
        let (result, wrote) = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half transaction (the database rolls
            // back), so a poisoned lock is still safe to use.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            match &mut *guard {
                Conn::Sqlite(c) => {
                    let before = c.total_changes();
                    let result = f(&mut guard);
                    let wrote = matches!(&*guard, Conn::Sqlite(c) if c.total_changes() != before);
                    (result, wrote)
                }
                // Every write reaches every engine, this one included, through the database's
                // own notification ([`postgres::SharedJournal::listen`]), so none is counted here.
                Conn::Postgres(c) => {
                    if c.is_closed() {
                        if let Some(shared) = &shared {
                            match shared.reconnect() {
                                Ok(fresh) => *c = fresh,
                                Err(e) => return (Err(e), false),
                            }
                        }
                    }
                    let result = f(&mut guard);
                    let reached = result.as_ref().err().is_none_or(|e| !e.is_connection_lost());
                    (result, reached)
                }
            }
        })
        .await
        .map_err(|e| JournalError::Task(e.to_string()))?;
        if wrote && self.shared.is_none() {
            self.touched();
        }
        match &result {
            Err(e) if is_storage_failure(e) => {
                if let Ok(mut h) = self.write_health.lock() {
                    *h = WriteHealth {
                        last_failure: Some(std::time::Instant::now()),
                        succeeded_since: false,
                    };
                }
                let reason = e.to_string();
                self.write_problem.send_if_modified(|p| {
                    let new = p.is_none();
                    *p = Some(reason);
                    new
                });
            }
            Ok(_) if wrote => {
                if let Ok(mut h) = self.write_health.lock() {
                    h.succeeded_since = true;
                }
                self.settle_write_problem();
            }
            _ => {}
        }
        result.map_err(JournalError::from)
    }

    /// Which of `uids` (in one folder and UIDVALIDITY) are already journaled, with whether their
    /// `\Seen` flag was confirmed set.
    pub async fn sightings(
        &self,
        folder: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> Result<HashMap<u32, bool>, JournalError> {
        let folder = folder.to_owned();
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seen_marked FROM sightings WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3",
            )?;
            let mut known = HashMap::new();
            for uid in uids {
                if let Some(seen) = stmt.query_row(params![folder, uidvalidity, uid], |r| r.get::<bool>(0)).optional()? {
                    known.insert(uid, seen);
                }
            }
            Ok(known)
        })
        .await
    }

    /// Records the e-mails in one transaction, each placed in its incident by `rules` (opened,
    /// repeated, recovered); returns one outcome per e-mail, in order.
    pub async fn record(
        &self,
        alerts: Vec<NewAlert>,
        rules: &IncidentRules,
    ) -> Result<Vec<RecordOutcome>, JournalError> {
        let rules = rules.clone();
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let outcomes = record_in(&mut tx, &alerts, &rules)?;
            tx.commit()?;
            Ok(outcomes)
        })
        .await
    }

    /// The local outbox's hand-over: records the held alerts as [`AlertJournal::record`] does
    /// and, in the same transaction, notes on each one told from memory that it was, and
    /// acknowledges the incident of each one a person already took in a call made from memory —
    /// so the notifier this commit wakes does not call the team again for it.
    pub async fn record_handed_over(
        &self,
        held: Vec<outbox::HeldAlert>,
        rules: &IncidentRules,
    ) -> Result<Vec<RecordOutcome>, JournalError> {
        let rules = rules.clone();
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let alerts: Vec<NewAlert> = held.iter().map(|h| h.alert.clone()).collect();
            let outcomes = record_in(&mut tx, &alerts, &rules)?;
            let now = Utc::now();
            for (outcome, h) in outcomes.iter().zip(&held) {
                if let Some(told_at) = h.told_at {
                    let answered = h.answer.as_ref().map(|a| format!("; {} ({}) answered the call and took it", a.by, a.number)).unwrap_or_default();
                    let detail = format!("the shared journal was out of reach: this workstation told the team from memory at {}{answered}", ts(told_at));
                    tx.execute("INSERT INTO events (alert_id, at, kind, detail) VALUES (?1, ?2, 'told_from_memory', ?3)", params![outcome.alert_id(), ts(now), detail])?;
                }
                if let Some(answer) = &h.answer {
                    incidents::acknowledge_alert_in(&mut tx, outcome.alert_id(), answer, now)?;
                }
            }
            tx.commit()?;
            Ok(outcomes)
        })
        .await
    }

    /// A person answered a call made from memory for the e-mail at `origin`: the incident it
    /// belongs to is acknowledged by them, if the journal has the e-mail already
    /// ([`ActionOutcome::NotFound`] otherwise: the outbox's hand-over does it then).
    pub async fn acknowledge_from_memory(
        &self,
        origin: MailboxUid,
        answer: outbox::MemoryAnswer,
    ) -> Result<ActionOutcome, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let alert: Option<AlertId> = tx
                .query_row("SELECT alert_id FROM sightings WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3", params![origin.folder, origin.uidvalidity, origin.uid], |r| r.get(0))
                .optional()?;
            let outcome = match alert {
                Some(id) => incidents::acknowledge_alert_in(&mut tx, id, &answer, Utc::now())?,
                None => ActionOutcome::NotFound,
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    /// Notes that these UIDs need no `\Seen` anymore: the server confirmed it, or refused it
    /// (a read-only folder: then the journal alone says they were handled).
    pub async fn mark_seen(
        &self,
        folder: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> Result<(), JournalError> {
        let folder = folder.to_owned();
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE sightings SET seen_marked = 1 WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3",
                )?;
                for uid in uids {
                    stmt.execute(params![folder, uidvalidity, uid])?;
                }
            }
            tx.commit()
        })
        .await
    }

    /// Appends a line to the event log (of one alert, or of the engine when `alert_id` is None).
    pub async fn log_event(
        &self,
        alert_id: Option<AlertId>,
        kind: &str,
        detail: &str,
    ) -> Result<(), JournalError> {
        let (kind, detail) = (kind.to_owned(), detail.to_owned());
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO events (alert_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
                params![alert_id, ts(Utc::now()), kind, detail],
            )
            .map(drop)
        })
        .await
    }

    /// The newest `limit` alerts, newest first.
    pub async fn alerts(&self, limit: usize) -> Result<Vec<AlertRecord>, JournalError> {
        self.select_alerts("ORDER BY id DESC LIMIT ?1", limit as i64).await
    }

    /// One alert by id.
    pub async fn alert(&self, id: AlertId) -> Result<Option<AlertRecord>, JournalError> {
        Ok(self.select_alerts("WHERE id = ?1", id).await?.pop())
    }

    pub(super) async fn select_alerts(
        &self,
        tail: &'static str,
        arg: i64,
    ) -> Result<Vec<AlertRecord>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT id, folder, uidvalidity, uid, message_id, sender, subject, body, truncated,
                        received_at, journaled_at, state, is_test, incident_id, kind
                 FROM alerts {tail}"
            ))?;
            let rows = stmt.query_map(params![arg], |r| {
                Ok(AlertRecord {
                    is_test: r.get(12)?,
                    id: r.get(0)?,
                    origin: MailboxUid {
                        folder: r.get(1)?,
                        uidvalidity: r.get(2)?,
                        uid: r.get(3)?,
                    },
                    message_id: r.get(4)?,
                    sender: r.get(5)?,
                    subject: r.get(6)?,
                    body: r.get(7)?,
                    truncated: r.get(8)?,
                    received_at: parse_ts(r.get(9)?),
                    journaled_at: parse_ts(r.get(10)?),
                    state: r.get(11)?,
                    incident_id: r.get(13)?,
                    kind: r.get(14)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// An alert's event log, oldest first.
    pub async fn events_of(&self, alert_id: AlertId) -> Result<Vec<JournalEvent>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT at, kind, detail FROM events WHERE alert_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![alert_id], |r| {
                Ok(JournalEvent { at: parse_ts(r.get(0)?), kind: r.get(1)?, detail: r.get(2)? })
            })?;
            rows.collect()
        })
        .await
    }

    /// The newest `limit` lines of the engine's own event log (not tied to one alert), newest
    /// first: dry-run calls and messages, for instance.
    pub async fn engine_events(&self, limit: usize) -> Result<Vec<JournalEvent>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT at, kind, detail FROM events WHERE alert_id IS NULL ORDER BY id DESC LIMIT ?1")?;
            let rows = stmt.query_map(params![limit as i64], |r| Ok(JournalEvent { at: parse_ts(r.get(0)?), kind: r.get(1)?, detail: r.get(2)? }))?;
            rows.collect()
        })
        .await
    }

    pub async fn alert_count(&self) -> Result<u64, JournalError> {
        self.call(|conn| conn.query_row("SELECT COUNT(*) FROM alerts", params![], |r| r.get(0)))
            .await
    }
}

/// [`AlertJournal::record`]'s work inside a transaction the caller commits.
fn record_in(
    tx: &mut dyn Sql,
    alerts: &[NewAlert],
    rules: &IncidentRules,
) -> SqlResult<Vec<RecordOutcome>> {
    let now = ts(Utc::now());
    let mut outcomes = Vec::with_capacity(alerts.len());
    for a in alerts {
        let o = &a.origin;
        let by_uid: Option<AlertId> = tx
            .query_row(
                "SELECT alert_id FROM sightings WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3",
                params![o.folder, o.uidvalidity, o.uid],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = by_uid {
            outcomes.push(RecordOutcome::Duplicate(id));
            continue;
        }
        // Same Message-ID, same content and same date: the same e-mail under another
        // identity. Content and date are compared too because some devices reuse one
        // Message-ID for every mail, and a real recurrence must never be swallowed.
        let by_message_id: Option<AlertId> = match &a.mail.message_id {
            Some(mid) => tx
                .query_row(
                    "SELECT id FROM alerts WHERE message_id = ?1 AND subject = ?2 AND body = ?3 AND received_at = ?4 LIMIT 1",
                    params![mid, a.mail.subject, a.mail.body, ts(a.received_at)],
                    |r| r.get(0),
                )
                .optional()?,
            None => None,
        };
        let outcome = match by_message_id {
            Some(id) => {
                tx.execute(
                    "INSERT INTO events (alert_id, at, kind, detail) VALUES (?1, ?2, 'seen_again', ?3)",
                    params![id, now, format!("{} UIDVALIDITY {} UID {}", o.folder, o.uidvalidity, o.uid)],
                )?;
                RecordOutcome::Duplicate(id)
            }
            None => {
                let id = tx.insert_id(
                    "INSERT INTO alerts (folder, uidvalidity, uid, message_id, sender, subject, body,
                                         truncated, received_at, journaled_at, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'new') RETURNING id",
                    params![
                        o.folder,
                        o.uidvalidity,
                        o.uid,
                        a.mail.message_id,
                        a.mail.sender,
                        a.mail.subject,
                        a.mail.body,
                        a.mail.truncated,
                        ts(a.received_at),
                        now
                    ],
                )?;
                tx.execute(
                    "INSERT INTO events (alert_id, at, kind, detail) VALUES (?1, ?2, 'received', ?3)",
                    params![id, now, format!("{} UIDVALIDITY {} UID {}", o.folder, o.uidvalidity, o.uid)],
                )?;
                incidents::place_alert(tx, id, rules, Utc::now())?;
                RecordOutcome::Recorded(id)
            }
        };
        tx.execute(
            "INSERT INTO sightings (folder, uidvalidity, uid, alert_id) VALUES (?1, ?2, ?3, ?4)",
            params![o.folder, o.uidvalidity, o.uid, outcome.alert_id()],
        )?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_journal_is_not_declared_writable_by_one_small_write() {
        let dir = tempfile::tempdir().unwrap();
        let j = AlertJournal::open_in_dir(dir.path()).unwrap();
        let problems = j.write_problem();
        j.cap_growth(Some(0)).await.unwrap();
        let big = "x".repeat(200_000);
        assert!(j.log_event(None, "big", &big).await.is_err(), "the disk is full");
        assert!(
            problems.borrow().as_deref().is_some_and(|p| p.contains("full")),
            "{:?}",
            *problems.borrow()
        );
        // A tiny update fits in a page already there: it succeeds, and says nothing of the next alert.
        j.pause_notifications(None).await.unwrap();
        j.settle_write_problem();
        assert!(problems.borrow().is_some(), "still failing: one small write is no recovery");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_journal_and_its_folder_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let j = AlertJournal::open_in_dir(&dir).unwrap();
        j.log_event(None, "x", "y").await.unwrap();
        let mode =
            |name: &str| std::fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        for f in [JOURNAL_FILE, "sentinela.db-wal", "sentinela.db-shm"] {
            assert_eq!(mode(f), 0o600, "{f}");
        }
    }
    use crate::mail::parse_alert_mail;

    fn alert(uidvalidity: u32, uid: u32, raw: &str) -> NewAlert {
        NewAlert {
            origin: MailboxUid { folder: "INBOX".into(), uidvalidity, uid },
            mail: parse_alert_mail(raw.as_bytes(), false),
            // The e-mail's own date: the same e-mail has it under any identity.
            received_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    const MAIL: &str = "From: s@x\r\nSubject: ALERTA\r\nMessage-ID: <m1@x>\r\n\r\nquente\r\n";

    journal_test!(async fn same_uid_twice_is_one_alert(j) {
        let first = j.record(vec![alert(7, 1, MAIL)], &IncidentRules::default()).await.unwrap();
        let again = j.record(vec![alert(7, 1, MAIL)], &IncidentRules::default()).await.unwrap();
        assert!(matches!(first[0], RecordOutcome::Recorded(_)));
        assert_eq!(again[0], RecordOutcome::Duplicate(first[0].alert_id()));
        assert_eq!(j.alert_count().await.unwrap(), 1);
    });

    journal_test!(async fn same_message_id_under_new_uidvalidity_is_one_alert(j) {
        let first = j.record(vec![alert(7, 1, MAIL)], &IncidentRules::default()).await.unwrap()[0];
        let moved = j.record(vec![alert(8, 40, MAIL)], &IncidentRules::default()).await.unwrap()[0];
        assert_eq!(moved, RecordOutcome::Duplicate(first.alert_id()));
        // The new identity is remembered, so the next scan does not even fetch it.
        assert_eq!(
            j.sightings("INBOX", 8, vec![40, 41]).await.unwrap(),
            HashMap::from([(40, false)])
        );
        let kinds: Vec<_> = j
            .events_of(first.alert_id())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["received", "seen_again"]);
    });

    journal_test!(async fn the_whole_history_reads_a_page_at_a_time(j) {
        let mails: Vec<_> = (1..=5).map(|uid| alert(7, uid, &MAIL.replace("m1", &format!("m{uid}")).replace("ALERTA", &format!("ALERTA Sala {uid}")))).collect();
        j.record(mails, &IncidentRules::default()).await.unwrap();
        let ids = |page: &[IncidentSummary]| page.iter().map(|a| a.id).collect::<Vec<_>>();
        let first = j.incidents(2, None, false).await.unwrap();
        assert_eq!(ids(&first), [5, 4], "newest first");
        let second = j.incidents(2, Some(4), false).await.unwrap();
        assert_eq!(ids(&second), [3, 2]);
        let last = j.incidents(2, Some(2), false).await.unwrap();
        assert_eq!(ids(&last), [1], "a short page: nothing older");
        assert!(j.incidents(2, Some(1), false).await.unwrap().is_empty());
    });

    journal_test!(async fn a_reused_message_id_with_the_same_text_at_another_time_is_a_repeat(j) {
        let mut first = alert(7, 1, MAIL);
        first.received_at = Utc::now() - chrono::Duration::minutes(10);
        let first = j.record(vec![first], &IncidentRules::default()).await.unwrap()[0];
        let again = j.record(vec![alert(7, 2, MAIL)], &IncidentRules::default()).await.unwrap()[0];
        assert!(matches!(again, RecordOutcome::Recorded(_)), "a recurrence, not the same e-mail");
        let a = j.alert(again.alert_id()).await.unwrap().unwrap();
        assert_eq!(a.kind, Some(AlertKind::Repeat));
        assert_eq!(a.incident_id, j.alert(first.alert_id()).await.unwrap().unwrap().incident_id);
    });

    journal_test!(async fn reused_message_id_with_new_content_is_a_new_alert(j) {
        j.record(vec![alert(7, 1, MAIL)], &IncidentRules::default()).await.unwrap();
        let other = MAIL.replace("quente", "muito quente");
        let o = j.record(vec![alert(7, 2, &other)], &IncidentRules::default()).await.unwrap()[0];
        assert!(matches!(o, RecordOutcome::Recorded(_)));
        assert_eq!(j.alert_count().await.unwrap(), 2);
    });

    #[tokio::test]
    async fn mark_seen_is_remembered_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let j = AlertJournal::open_in_dir(dir.path()).unwrap();
            j.record(
                vec![alert(7, 1, MAIL), alert(7, 2, &MAIL.replace("m1", "m2"))],
                &IncidentRules::default(),
            )
            .await
            .unwrap();
            j.mark_seen("INBOX", 7, vec![1]).await.unwrap();
        }
        let j = AlertJournal::open_in_dir(dir.path()).unwrap();
        assert_eq!(
            j.sightings("INBOX", 7, vec![1, 2, 3]).await.unwrap(),
            HashMap::from([(1, true), (2, false)])
        );
        let list = j.alerts(10).await.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].origin.uid, 2, "newest first");
        assert_eq!(list[1].body, "quente");
    }

    #[test]
    fn several_openers_of_a_new_journal_at_once_all_succeed() {
        // The service, the desktop app and `sentinela-headless history` may open the same new
        // journal at the same moment; none may fail on the other's lock or half-made schema.
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
            let openers: Vec<_> = (0..6)
                .map(|_| {
                    let (dir, barrier) = (dir.path().to_owned(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        AlertJournal::open_in_dir(&dir).map(drop)
                    })
                })
                .collect();
            for o in openers {
                o.join().unwrap().expect("every opener gets the journal");
            }
            let conn = rusqlite::Connection::open(dir.path().join(JOURNAL_FILE)).unwrap();
            let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
            assert_eq!(version, schema::MIGRATION_COUNT);
        }
    }
}
