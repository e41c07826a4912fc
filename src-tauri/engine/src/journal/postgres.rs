//! The shared journal: the same tables in a PostgreSQL database that a team's workstations use
//! together (`[journal] url`), so that an e-mail is journaled once whoever sees it, every tray
//! shows the same incidents, and the notify side can move to another workstation.
//!
//! What PostgreSQL gives that SQLite gave on one machine:
//! - **one writer at a time**: every journal transaction first takes a transaction-scoped
//!   advisory lock ([`WRITE_LOCK`]), so the journal's read-then-write steps (placing an e-mail in
//!   its incident, planning) run exactly as they do on SQLite, whichever engine runs them. The
//!   unique constraints (sightings, one live incident per key) stand behind it;
//! - **changes reach everyone**: a trigger on every table sends `NOTIFY sentinela_journal` with
//!   the commit, and [`SharedJournal::listen`] turns it into the journal's change signal, so an
//!   ack typed on one workstation reaches the call queue of another at once.
//!
//! The connection is libpq's URL, with `sslmode` as libpq spells it; the password never comes
//! from the URL (see [`SharedJournal::new`]).

use std::sync::Arc;
use std::time::Duration;

use super::sql::{params, Conn, PgConn, Sql, SqlError, SqlExt, SqlResult};
use super::{AlertJournal, JournalError};
use crate::secrets::Secret;

/// Advisory lock key of the journal's writers: "SNTL" in the high 32 bits (a number only
/// Sentinela uses), 1 in the low ones, as `pg_locks` shows them (`classid`, `objid`).
pub const WRITE_LOCK: i64 = (0x534E_544C << 32) | 1;
/// The first key of the notify side's liveness locks, as `pg_locks` shows it (`classid`): the
/// holder of lease epoch N holds the two-key advisory lock (this, N) for as long as its lease
/// session lives (see `crate::lease`).
pub const LEASE_LIVENESS_CLASS: i32 = 0x534E_544C;
/// The channel every commit is announced on.
pub const CHANGES_CHANNEL: &str = "sentinela_journal";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The limits every journal session carries, set by the server at connection (`options`), so a
/// workstation that freezes, suspends or loses its route inside a transaction holds the writers'
/// lock for seconds, not the two hours of the OS's TCP defaults:
/// - `idle_in_transaction_session_timeout`: the server ends a session that sits in an open
///   transaction (its client frozen) after 5 s, releasing its locks;
/// - `lock_timeout` 10 s, longer than that: a writer waiting behind a frozen one gets the lock
///   once the server has ended it, rather than an error;
/// - `statement_timeout` 30 s: no query of ours takes a second; one that hangs is an error
///   ("out of reach" for this engine: its outbox holds what it could not write);
/// - the server's TCP keepalives and `tcp_user_timeout`: a peer gone silent is noticed in ~9 s.
///
/// A URL's own `options` come after these and win.
pub const SESSION_LIMITS: &str = "-c idle_in_transaction_session_timeout=5000 -c lock_timeout=10000 -c statement_timeout=30000 \
     -c tcp_keepalives_idle=3 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 -c tcp_user_timeout=9000";

/// How TLS is asked for, in libpq's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// `disable`: plain TCP (a database on this machine, or a private network the team trusts).
    Disable,
    /// `allow`/`prefer`: TLS when the server offers it, the certificate checked when it does.
    Prefer,
    /// `require`, `verify-ca`, `verify-full` (the default): TLS, with the certificate and the host
    /// name always checked. libpq's `require` would skip the checks; Sentinela never does.
    Require,
}

/// Where the shared journal is, and how to reach it again after the database was lost.
pub struct SharedJournal {
    config: tokio_postgres::Config,
    tls: postgres_native_tls::MakeTlsConnector,
    ssl: SslMode,
    /// `host:port/database`, for messages (never the password).
    target: String,
    /// The schema was brought to this version by this process: later connections skip it.
    migrated: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for SharedJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedJournal({})", self.target)
    }
}

/// A `[journal] url` that cannot be used, with what to change.
#[derive(Debug, thiserror::Error)]
pub enum JournalUrlError {
    #[error("journal.url: {0}")]
    Invalid(String),
    #[error("journal.url must not hold the password: remove it from the URL and set SENTINELA_JOURNAL_PASSWORD or store it in the OS keyring (user \"journal-password\")")]
    PasswordInUrl,
    #[error("journal.url: cannot read sslrootcert {path}: {reason}")]
    RootCert { path: String, reason: String },
}

impl SharedJournal {
    /// Reads `url` (`postgres://user@host:port/db?sslmode=verify-full&sslrootcert=ca.pem`);
    /// `password` comes from the environment or the keyring, never from the URL.
    /// `workstation` names this engine to the database (`application_name`).
    pub fn new(
        url: &str,
        password: Option<&Secret>,
        workstation: &str,
    ) -> Result<Self, JournalUrlError> {
        let invalid = |m: String| JournalUrlError::Invalid(m);
        let mut parsed = url::Url::parse(url)
            .map_err(|e| invalid(format!("{e}; write it as postgres://user@host:5432/database")))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(invalid(format!(
                "the scheme is {:?}; write it as postgres://user@host:5432/database",
                parsed.scheme()
            )));
        }
        if parsed.password().is_some() {
            return Err(JournalUrlError::PasswordInUrl);
        }
        // Sentinela reads the TLS options itself (tokio-postgres knows fewer of libpq's words);
        // the rest of the query goes to the driver as it is.
        let mut ssl = SslMode::Require;
        let mut root_cert = None;
        let rest: Vec<(String, String)> =
            parsed.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let mut passed = Vec::new();
        for (k, v) in rest {
            match k.as_str() {
                "sslmode" => {
                    ssl = match v.as_str() {
                        "disable" => SslMode::Disable,
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" | "verify-ca" | "verify-full" => SslMode::Require,
                        other => return Err(invalid(format!("sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"))),
                    }
                }
                "sslrootcert" => root_cert = Some(v),
                "password" => return Err(JournalUrlError::PasswordInUrl),
                _ => passed.push((k, v)),
            }
        }
        parsed.set_query(None);
        if !passed.is_empty() {
            parsed.query_pairs_mut().extend_pairs(passed);
        }
        let mut config: tokio_postgres::Config =
            parsed.as_str().parse().map_err(|e: tokio_postgres::Error| invalid(e.to_string()))?;
        if config.get_user().is_none() {
            return Err(invalid("no user: write it as postgres://user@host:5432/database".into()));
        }
        if let Some(p) = password {
            config.password(p.expose());
        }
        config
            .ssl_mode(match ssl {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                SslMode::Require => tokio_postgres::config::SslMode::Require,
            })
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name(format!("sentinela {workstation}"))
            // A peer that vanished (machine asleep, cable pulled) is noticed in seconds.
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(3))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3)
            // Data sent and never acknowledged (a peer that vanished mid-write) ends the
            // connection in 9 s (Linux; elsewhere the keepalives do it).
            .tcp_user_timeout(Duration::from_secs(9));
        let own_options = config.get_options().map(str::to_owned);
        config.options(match own_options {
            Some(theirs) if !theirs.trim().is_empty() => format!("{SESSION_LIMITS} {theirs}"),
            _ => SESSION_LIMITS.to_owned(),
        });
        let mut tls = native_tls::TlsConnector::builder();
        if let Some(path) = root_cert {
            let cert_err =
                |reason: String| JournalUrlError::RootCert { path: path.clone(), reason };
            let pem = std::fs::read(&path).map_err(|e| cert_err(e.to_string()))?;
            tls.add_root_certificate(
                native_tls::Certificate::from_pem(&pem).map_err(|e| cert_err(e.to_string()))?,
            );
            // As in libpq: `sslrootcert` is the whole trust, not one more CA beside the system's.
            tls.disable_built_in_roots(true);
        }
        let tls = tls.build().map_err(|e| invalid(format!("TLS: {e}")))?;
        let host = parsed.host_str().unwrap_or("localhost");
        let target = format!(
            "{host}:{}/{}",
            parsed.port().unwrap_or(5432),
            parsed.path().trim_start_matches('/')
        );
        Ok(SharedJournal {
            config,
            tls: postgres_native_tls::MakeTlsConnector::new(tls),
            ssl,
            target,
            migrated: Default::default(),
        })
    }

    /// `host:port/database`: where the shared journal is, for messages and the status line.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.ssl
    }

    /// A new blocking connection (on the blocking pool only: the driver runs its own runtime).
    pub fn connect(&self) -> SqlResult<PgConn> {
        Ok(PgConn::new(postgres::Config::from(self.config.clone()).connect(self.tls.clone())?))
    }

    /// A new async connection, driven on the caller's runtime until dropped: the lease's and
    /// the listener's. Notifications arrive on the returned channel.
    pub async fn connect_async(
        &self,
    ) -> SqlResult<(tokio_postgres::Client, tokio::sync::mpsc::UnboundedReceiver<()>)> {
        use futures::StreamExt;
        let (client, mut connection) =
            tokio::time::timeout(CONNECT_TIMEOUT, self.config.connect(self.tls.clone()))
                .await
                .map_err(|_| {
                SqlError::Unreachable(format!(
                    "{} did not answer within {} s",
                    self.target,
                    CONNECT_TIMEOUT.as_secs()
                ))
            })??;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(m)) = messages.next().await {
                if matches!(m, tokio_postgres::AsyncMessage::Notification(_))
                    && tx.send(()).is_err()
                {
                    break;
                }
            }
        });
        Ok((client, rx))
    }

    /// A new connection, with the schema brought to this version if this process has not done
    /// it yet: an engine that started while the database was away migrates on its first
    /// connection, before any query of its own.
    pub fn reconnect(&self) -> SqlResult<PgConn> {
        let mut conn = self.connect()?;
        self.migrate_once(&mut conn)?;
        Ok(conn)
    }

    /// [`migrate`], unless this process did it already.
    fn migrate_once(&self, conn: &mut PgConn) -> SqlResult<()> {
        if !self.migrated.load(std::sync::atomic::Ordering::Acquire) {
            migrate(conn)?;
            self.migrated.store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// Connects, brings the schema up to date and returns the journal (blocking: call it on the
    /// blocking pool, or through [`AlertJournal::open_shared`]). With `wait`, a database out of
    /// reach is no error: the journal connects (and migrates) on its first use that finds it
    /// again, and every use meanwhile fails as out of reach — what the engine's watcher and
    /// outbox are built for. A database that answers with an error (a newer schema, refused
    /// credentials) fails either way.
    pub fn open(self, wait: bool) -> Result<AlertJournal, JournalError> {
        let conn = match self.connect() {
            Ok(mut conn) => {
                self.migrate_once(&mut conn)?;
                conn
            }
            Err(e) if wait && e.is_connection_lost() => {
                tracing::warn!("shared journal: {} is out of reach ({e}); watching meanwhile, connecting when it answers", self.target);
                PgConn::disconnected()
            }
            Err(e) => {
                return Err(JournalError::Unreachable {
                    target: self.target.clone(),
                    reason: e.to_string(),
                })
            }
        };
        Ok(AlertJournal::wrap(Conn::Postgres(conn), Some(Arc::new(self))))
    }

    /// Turns the database's change notifications into the journal's change signal, for as long
    /// as the journal lives, reconnecting after the database was lost (and waking everyone then,
    /// since anything may have changed meanwhile).
    pub(super) async fn listen(
        self: Arc<Self>,
        changes: std::sync::Weak<tokio::sync::watch::Sender<u64>>,
    ) {
        let touch =
            |changes: &std::sync::Weak<tokio::sync::watch::Sender<u64>>| match changes.upgrade() {
                Some(c) => {
                    c.send_modify(|n| *n = n.wrapping_add(1));
                    true
                }
                None => false,
            };
        loop {
            let session = async {
                let (client, mut notes) = self.connect_async().await?;
                client.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}")).await?;
                if !touch(&changes) {
                    return Ok(());
                }
                loop {
                    tokio::select! {
                        note = notes.recv() => {
                            if note.is_none() {
                                return Err(SqlError::Unreachable(format!("{}: the connection closed", self.target)));
                            }
                            if !touch(&changes) {
                                return Ok(());
                            }
                        }
                        // A journal dropped while nothing is written: end with it, not with the process.
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {
                            if changes.strong_count() == 0 {
                                return Ok(());
                            }
                        }
                    }
                }
            };
            match session.await {
                Ok(()) => return,
                Err(e) => tracing::warn!(
                    "shared journal: change notifications from {} lost: {e}; trying again",
                    self.target
                ),
            }
            if changes.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// The schema on PostgreSQL, as SQLite's reaches it after its migrations (`schema.rs`): the same
/// tables and columns, so the same queries run on both. Integers are BIGINT (the journal binds
/// i64), booleans 0/1, and timestamps RFC 3339 text compared byte by byte (`COLLATE "C"`), as on
/// SQLite. A migration appended to SQLite's list is appended here too, in this dialect (`schema_parity.rs`
/// compares the two schemas: tables, columns, indexes).
const MIGRATIONS: &[&str] = &[
    // 1 (SQLite's 1 to 6).
    r#"
    CREATE TABLE incidents (
        id                  BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        key                 TEXT   NOT NULL,
        title               TEXT   NOT NULL,
        state               TEXT   NOT NULL,
        is_test             BIGINT NOT NULL DEFAULT 0,
        emails              BIGINT NOT NULL DEFAULT 0,
        first_seen          TEXT COLLATE "C" NOT NULL,
        last_seen           TEXT COLLATE "C" NOT NULL,
        latest_alert_id     BIGINT,
        acknowledged_at     TEXT COLLATE "C",
        acknowledged_by     TEXT,
        acknowledged_via    TEXT,
        acknowledged_number TEXT,
        resolved_at         TEXT COLLATE "C",
        resolved_by         TEXT,
        resolved_via        TEXT,
        held_since          TEXT COLLATE "C",
        released_at         TEXT COLLATE "C",
        escalation          TEXT   NOT NULL DEFAULT 'none',
        calls_spoken        BIGINT NOT NULL DEFAULT 0,
        last_told_at        TEXT COLLATE "C"
    );
    CREATE UNIQUE INDEX incidents_one_live_per_key ON incidents(key) WHERE state <> 'resolved';
    CREATE INDEX incidents_key_resolved ON incidents(key, resolved_at);
    CREATE INDEX incidents_state ON incidents(state);

    CREATE TABLE alerts (
        id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        folder        TEXT   NOT NULL,
        uidvalidity   BIGINT NOT NULL,
        uid           BIGINT NOT NULL,
        message_id    TEXT,
        sender        TEXT   NOT NULL,
        subject       TEXT   NOT NULL,
        body          TEXT   NOT NULL,
        truncated     BIGINT NOT NULL,
        received_at   TEXT COLLATE "C" NOT NULL,
        journaled_at  TEXT COLLATE "C" NOT NULL,
        state         TEXT   NOT NULL,
        is_test       BIGINT NOT NULL DEFAULT 0,
        incident_id   BIGINT REFERENCES incidents(id),
        kind          TEXT
    );
    CREATE INDEX alerts_message_id ON alerts(message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX alerts_received_at ON alerts(received_at);
    CREATE INDEX alerts_incident ON alerts(incident_id);

    CREATE TABLE sightings (
        folder        TEXT   NOT NULL,
        uidvalidity   BIGINT NOT NULL,
        uid           BIGINT NOT NULL,
        alert_id      BIGINT NOT NULL REFERENCES alerts(id),
        seen_marked   BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (folder, uidvalidity, uid)
    );

    CREATE TABLE events (
        id        BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        alert_id  BIGINT REFERENCES alerts(id),
        at        TEXT COLLATE "C" NOT NULL,
        kind      TEXT NOT NULL,
        detail    TEXT NOT NULL
    );
    CREATE INDEX events_alert ON events(alert_id);

    CREATE TABLE engine_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE incident_log (
        id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        incident_id  BIGINT NOT NULL REFERENCES incidents(id),
        at           TEXT COLLATE "C" NOT NULL,
        kind         TEXT   NOT NULL,
        alert_id     BIGINT,
        detail       TEXT   NOT NULL DEFAULT '',
        planned      BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX incident_log_of ON incident_log(incident_id);
    CREATE INDEX incident_log_unplanned ON incident_log(id) WHERE planned = 0;

    CREATE TABLE deliveries (
        id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        incident_id   BIGINT REFERENCES incidents(id),
        purpose       TEXT   NOT NULL,
        recipient     TEXT   NOT NULL,
        headline      TEXT   NOT NULL,
        detail        TEXT   NOT NULL,
        state         TEXT   NOT NULL,
        sid           TEXT,
        error_code    BIGINT,
        error_message TEXT,
        due_at        TEXT COLLATE "C",
        digest_id     BIGINT,
        created_at    TEXT COLLATE "C" NOT NULL,
        updated_at    TEXT COLLATE "C" NOT NULL,
        sent_at       TEXT COLLATE "C"
    );
    CREATE INDEX deliveries_incident ON deliveries(incident_id);
    CREATE INDEX deliveries_state ON deliveries(state, due_at);
    CREATE INDEX deliveries_sent ON deliveries(sent_at) WHERE sent_at IS NOT NULL;
    CREATE INDEX deliveries_told ON deliveries(recipient, created_at)
        WHERE purpose IN ('alarm', 'reminder', 'reopened') AND state NOT IN ('gathered', 'digested', 'canceled');
    CREATE INDEX deliveries_digests ON deliveries(recipient, created_at) WHERE purpose = 'digest';

    CREATE TABLE calls (
        id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        round         BIGINT NOT NULL,
        position      BIGINT NOT NULL,
        number        TEXT   NOT NULL,
        state         TEXT   NOT NULL,
        sid           TEXT,
        answered_by   TEXT,
        duration      BIGINT,
        outcome       TEXT,
        error_code    BIGINT,
        error_message TEXT,
        created_at    TEXT COLLATE "C" NOT NULL,
        updated_at    TEXT COLLATE "C" NOT NULL,
        execution_sid TEXT
    );
    CREATE INDEX calls_unfinished ON calls(id) WHERE outcome IS NULL;

    CREATE TABLE call_incidents (
        call_id      BIGINT NOT NULL REFERENCES calls(id),
        incident_id  BIGINT NOT NULL REFERENCES incidents(id),
        PRIMARY KEY (call_id, incident_id)
    );
    CREATE INDEX call_incidents_incident ON call_incidents(incident_id);

    CREATE TABLE replies (
        sid          TEXT PRIMARY KEY,
        sender       TEXT NOT NULL,
        body         TEXT NOT NULL,
        sent_at      TEXT COLLATE "C",
        handled_at   TEXT COLLATE "C" NOT NULL,
        incident_id  BIGINT REFERENCES incidents(id),
        action       TEXT NOT NULL
    );

    CREATE TABLE rejected_mails (
        id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        folder        TEXT   NOT NULL,
        uidvalidity   BIGINT NOT NULL,
        uid           BIGINT NOT NULL,
        sender        TEXT   NOT NULL,
        subject       TEXT   NOT NULL,
        reason        TEXT   NOT NULL,
        received_at   TEXT COLLATE "C" NOT NULL,
        journaled_at  TEXT COLLATE "C" NOT NULL,
        UNIQUE (folder, uidvalidity, uid)
    );

    -- Who holds the notify side's lease (the advisory lock is the lease; this row says who).
    CREATE TABLE leases (
        name         TEXT PRIMARY KEY,
        holder       TEXT NOT NULL,
        since        TEXT COLLATE "C" NOT NULL,
        renewed_at   TEXT COLLATE "C" NOT NULL
    );

    -- Every commit that changed a row is announced (once per transaction: PostgreSQL folds equal
    -- notifications), to every engine and window on the shared journal. Per row, not per
    -- statement: an UPDATE that changes nothing must wake nobody, or the woken would loop.
    CREATE FUNCTION sentinela_announce() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('sentinela_journal', '');
        RETURN NULL;
    END $$;
    DO $$
    DECLARE t text;
    BEGIN
        FOREACH t IN ARRAY ARRAY['incidents', 'alerts', 'sightings', 'events', 'engine_state', 'incident_log',
                                 'deliveries', 'calls', 'call_incidents', 'replies', 'rejected_mails', 'leases'] LOOP
            EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION sentinela_announce()',
                           t || '_announce', t);
        END LOOP;
    END $$;
    "#,
    // 2: the lease lapses unless renewed (`crate::lease`): an epoch that fences every create,
    // the server's time of the last renewal, when the lease lapses, and why its holder cannot
    // reach Twilio (NULL: it can). A renewal announces nothing (every 2 s would wake every
    // engine); a new holder, epoch or Twilio state does.
    r#"
    ALTER TABLE leases ADD COLUMN epoch         BIGINT      NOT NULL DEFAULT 0,
                       ADD COLUMN last_renewal  TIMESTAMPTZ NOT NULL DEFAULT now(),
                       ADD COLUMN expires_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
                       ADD COLUMN holder_twilio TEXT;
    DROP TRIGGER leases_announce ON leases;
    CREATE TRIGGER leases_announce AFTER INSERT OR DELETE OR UPDATE OF holder, epoch, holder_twilio ON leases
        FOR EACH ROW EXECUTE FUNCTION sentinela_announce();
    "#,
    // 3 (SQLite's 7): the indexes that keep every per-alert, per-poll and per-reply statement off a
    // full scan.
    super::schema::HISTORY_INDEXES,
];

/// Migrations written by code, after the literal ones: 4 (SQLite's 8), the search index
/// (`search.rs`), whose SQL is made from the same keys as SQLite's; 5 (SQLite's 9), every
/// message's channel (`notifications.rs`).
const CODE_MIGRATIONS: &[fn() -> String] = &[
    super::search::postgres_migration,
    || super::notifications::channels_migration("BIGINT"),
    super::schema::lookup_indexes,
];

fn migration(version: usize) -> Option<std::borrow::Cow<'static, str>> {
    match MIGRATIONS.get(version) {
        Some(sql) => Some((*sql).into()),
        None => CODE_MIGRATIONS.get(version - MIGRATIONS.len()).map(|f| f().into()),
    }
}

/// How many migrations the shared journal has: `check` says whether the database is at it.
pub const SCHEMA_VERSION: i64 = (MIGRATIONS.len() + CODE_MIGRATIONS.len()) as i64;

/// Brings the schema up to date. Several engines may start at once: each step runs under the
/// writers' lock, so every migration runs exactly once.
pub fn migrate(conn: &mut PgConn) -> SqlResult<()> {
    loop {
        let mut tx = conn.transaction()?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let version: Option<i64> =
            tx.query_row("SELECT MAX(version) FROM schema_version", params![], |r| r.get(0))?;
        let version = version.unwrap_or(0);
        if version > SCHEMA_VERSION {
            // Its queries may not match tables a newer version changed: refuse, do not guess.
            return Err(SqlError::NewerSchema { found: version, known: SCHEMA_VERSION });
        }
        let Some(sql) = migration(version as usize) else { return Ok(()) };
        // A migration over a year of alerts may take longer than any query should.
        tx.execute_batch("SET LOCAL statement_timeout = 0")?;
        tx.execute_batch(&sql)?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", params![version + 1])?;
        tx.commit()?;
    }
}

/// The schema version of the database behind `conn` (0 for a database Sentinela never used).
pub fn schema_version(conn: &mut dyn super::sql::Sql) -> SqlResult<i64> {
    let exists: bool =
        conn.query_row("SELECT to_regclass('schema_version') IS NOT NULL", params![], |r| {
            r.get(0)
        })?;
    if !exists {
        return Ok(0);
    }
    Ok(conn
        .query_row("SELECT MAX(version) FROM schema_version", params![], |r| {
            r.get::<Option<i64>>(0)
        })?
        .unwrap_or(0))
}
