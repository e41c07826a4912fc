//! The incident side of the journal: incidents and their timeline.
//!
//! Every change to an incident — an e-mail placed in it, an acknowledgement, a resolve, from this
//! process or from the CLI — is one transaction that also appends a line to `incident_log` with
//! `planned = 0`. The planner ([`crate::notify::planner`]) reads the unplanned lines in order
//! (through [`super::planning`]) and writes what each owes in the same transaction that marks
//! them planned. So a crash between an e-mail and its "Resolvido" loses nothing: the line is
//! still unplanned at the next start.

use super::sql::{params, OptionalExtension, Row, Sql, SqlExt, SqlResult};
use chrono::{DateTime, Utc};

use super::{parse_ts, ts, AlertId, AlertJournal, AlertRecord, JournalError};
use crate::incident::key;
use crate::incident::lifecycle::{self, KeyHistory, Step};
use crate::incident::{
    AckVia, AlertKind, EscalationState, IncidentEventKind, IncidentId, IncidentRules,
    IncidentState, ResolveVia,
};

pub use crate::model::{
    ActionOutcome, IncidentChange, IncidentDetail, IncidentEmail, IncidentLogLine, IncidentSummary,
    SpokenIncident,
};

pub(super) const SUMMARY_COLUMNS: &str = "i.id, i.state, i.title, i.emails, i.first_seen, i.last_seen, i.acknowledged_at, i.acknowledged_by,
    i.acknowledged_via, i.resolved_at, i.resolved_by, i.resolved_via, i.is_test, i.held_since, i.released_at, i.escalation";

fn opt_ts(v: Option<String>) -> Option<DateTime<Utc>> {
    v.map(parse_ts)
}

pub(super) fn summary_row(r: &Row) -> SqlResult<IncidentSummary> {
    Ok(IncidentSummary {
        id: r.get(0)?,
        state: r.get(1)?,
        title: r.get(2)?,
        emails: r.get(3)?,
        first_seen: parse_ts(r.get(4)?),
        last_seen: parse_ts(r.get(5)?),
        acknowledged_at: opt_ts(r.get(6)?),
        acknowledged_by: r.get(7)?,
        acknowledged_via: r.get(8)?,
        resolved_at: opt_ts(r.get(9)?),
        resolved_by: r.get(10)?,
        resolved_via: r.get(11)?,
        test: r.get(12)?,
        held_since: opt_ts(r.get(13)?),
        released_at: opt_ts(r.get(14)?),
        escalation: r.get(15)?,
    })
}

pub(super) fn summary(tx: &mut dyn Sql, id: IncidentId) -> SqlResult<IncidentSummary> {
    tx.query_row(
        &format!("SELECT {SUMMARY_COLUMNS} FROM incidents i WHERE i.id = ?1"),
        params![id],
        summary_row,
    )
}

pub(super) fn log(
    tx: &mut dyn Sql,
    id: IncidentId,
    kind: IncidentEventKind,
    alert: Option<AlertId>,
    detail: &str,
    at: &str,
    planned: bool,
) -> SqlResult<()> {
    tx.execute(
        "INSERT INTO incident_log (incident_id, at, kind, alert_id, detail, planned) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, at, kind, alert, detail, planned],
    )
    .map(drop)
}

/// Escalations owed or under way stop (acknowledged or resolved from outside a call).
pub(super) const STOP_ESCALATION: &str =
    "escalation = CASE WHEN escalation IN ('owed', 'calling') THEN 'stopped' ELSE escalation END";

/// Places one journaled alert in its incident (inside the transaction that recorded it).
pub(super) fn place_alert(
    tx: &mut dyn Sql,
    alert_id: AlertId,
    rules: &IncidentRules,
    now: DateTime<Utc>,
) -> SqlResult<()> {
    let (sender, subject, body, is_test): (String, String, String, bool) = tx.query_row(
        "SELECT sender, subject, body, is_test FROM alerts WHERE id = ?1",
        params![alert_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let at = ts(now);
    let open_new = |tx: &mut dyn Sql, key: &str| -> SqlResult<IncidentId> {
        let id = tx.insert_id(
            "INSERT INTO incidents (key, title, state, is_test, emails, first_seen, last_seen, latest_alert_id)
             VALUES (?1, ?2, 'open', ?3, 1, ?4, ?4, ?5) RETURNING id",
            params![key, subject, is_test, at, alert_id],
        )?;
        log(tx, id, IncidentEventKind::Opened, Some(alert_id), &subject, &at, false)?;
        Ok(id)
    };
    let set_alert = |tx: &mut dyn Sql, incident: Option<IncidentId>, kind: AlertKind| {
        tx.execute(
            "UPDATE alerts SET incident_id = ?2, kind = ?3 WHERE id = ?1",
            params![alert_id, incident, kind],
        )
    };
    if is_test {
        // The operator's test is an incident of its own, never joined with anything.
        let id = open_new(tx, &format!("test:{alert_id}"))?;
        set_alert(tx, Some(id), AlertKind::Alarm)?;
        return Ok(());
    }
    let reading = key::read(&sender, &subject, &body, &rules.keys);
    let open: Option<IncidentId> = tx
        .query_row(
            "SELECT id FROM incidents WHERE key = ?1 AND state <> 'resolved'",
            params![&reading.key],
            |r| r.get(0),
        )
        .optional()?;
    let last_resolved: Option<(IncidentId, DateTime<Utc>)> = tx
        .query_row(
            "SELECT id, resolved_at FROM incidents WHERE key = ?1 AND state = 'resolved' ORDER BY resolved_at DESC LIMIT 1",
            params![&reading.key],
            |r| Ok((r.get(0)?, parse_ts(r.get(1)?))),
        )
        .optional()?;
    let counted = "emails = emails + 1, last_seen = ?2, latest_alert_id = ?3";
    match lifecycle::step(
        reading.signal,
        KeyHistory { open, last_resolved },
        now,
        rules.reopen_within,
    ) {
        Step::Open => {
            let id = open_new(tx, &reading.key)?;
            set_alert(tx, Some(id), AlertKind::Alarm)?;
        }
        Step::Repeat(id) => {
            tx.execute(
                &format!("UPDATE incidents SET {counted} WHERE id = ?1"),
                params![id, at, alert_id],
            )?;
            log(tx, id, IncidentEventKind::Repeat, Some(alert_id), &subject, &at, false)?;
            set_alert(tx, Some(id), AlertKind::Repeat)?;
        }
        Step::Recover(id) => {
            tx.execute(
                &format!("UPDATE incidents SET {counted}, state = 'resolved', resolved_at = ?2, resolved_via = 'recovery', resolved_by = NULL, {STOP_ESCALATION} WHERE id = ?1"),
                params![id, at, alert_id],
            )?;
            log(tx, id, IncidentEventKind::Recovered, Some(alert_id), &subject, &at, false)?;
            set_alert(tx, Some(id), AlertKind::Recovery)?;
        }
        Step::Reopen(id) => {
            tx.execute(
                &format!("UPDATE incidents SET {counted}, state = CASE WHEN acknowledged_at IS NULL THEN 'open' ELSE 'acknowledged' END,
                         resolved_at = NULL, resolved_via = NULL, resolved_by = NULL WHERE id = ?1"),
                params![id, at, alert_id],
            )?;
            log(tx, id, IncidentEventKind::Reopened, Some(alert_id), &subject, &at, false)?;
            set_alert(tx, Some(id), AlertKind::Alarm)?;
        }
        Step::StrayRecovery => {
            set_alert(tx, None, AlertKind::Recovery)?;
            tx.execute(
                "INSERT INTO events (alert_id, at, kind, detail) VALUES (?1, ?2, 'stray_recovery', 'a recovery with no open incident: nobody notified')",
                params![alert_id, at],
            )?;
        }
    }
    Ok(())
}

/// Migration 4: from one escalation per alert to incidents. Each old alert becomes an incident
/// with its outcome; an alert whose escalation was under way stays open and its calls go on; an
/// alert never planned is placed by the engine's rules at its next start.
pub(super) fn migrate_to_incidents(tx: &mut dyn Sql) -> SqlResult<()> {
    tx.execute_batch(
        r#"
        CREATE TABLE incidents (
            id                INTEGER PRIMARY KEY,
            key               TEXT    NOT NULL,
            title             TEXT    NOT NULL,
            state             TEXT    NOT NULL,
            is_test           INTEGER NOT NULL DEFAULT 0,
            emails            INTEGER NOT NULL DEFAULT 0,
            first_seen        TEXT    NOT NULL,
            last_seen         TEXT    NOT NULL,
            latest_alert_id   INTEGER,
            acknowledged_at   TEXT,
            acknowledged_by   TEXT,
            acknowledged_via  TEXT,
            acknowledged_number TEXT,
            resolved_at       TEXT,
            resolved_by       TEXT,
            resolved_via      TEXT,
            held_since        TEXT,
            released_at       TEXT,
            escalation        TEXT    NOT NULL DEFAULT 'none',
            calls_spoken      INTEGER NOT NULL DEFAULT 0,
            last_told_at      TEXT
        );
        -- One live incident per problem: a second engine or a race cannot open another.
        CREATE UNIQUE INDEX incidents_one_live_per_key ON incidents(key) WHERE state <> 'resolved';
        CREATE INDEX incidents_key_resolved ON incidents(key, resolved_at);
        CREATE INDEX incidents_state ON incidents(state);

        CREATE TABLE incident_log (
            id           INTEGER PRIMARY KEY,
            incident_id  INTEGER NOT NULL REFERENCES incidents(id),
            at           TEXT    NOT NULL,
            kind         TEXT    NOT NULL,
            alert_id     INTEGER,
            detail       TEXT    NOT NULL DEFAULT '',
            planned      INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX incident_log_of ON incident_log(incident_id);
        CREATE INDEX incident_log_unplanned ON incident_log(id) WHERE planned = 0;

        ALTER TABLE alerts ADD COLUMN incident_id INTEGER REFERENCES incidents(id);
        ALTER TABLE alerts ADD COLUMN kind TEXT;
        CREATE INDEX alerts_incident ON alerts(incident_id);

        ALTER TABLE deliveries RENAME TO deliveries_per_alert;
        CREATE TABLE deliveries (
            id            INTEGER PRIMARY KEY,
            incident_id   INTEGER REFERENCES incidents(id),
            purpose       TEXT    NOT NULL,
            recipient     TEXT    NOT NULL,
            headline      TEXT    NOT NULL,
            detail        TEXT    NOT NULL,
            state         TEXT    NOT NULL,
            sid           TEXT,
            error_code    INTEGER,
            error_message TEXT,
            due_at        TEXT,
            digest_id     INTEGER,
            created_at    TEXT    NOT NULL,
            updated_at    TEXT    NOT NULL,
            sent_at       TEXT
        );
        CREATE INDEX deliveries_incident ON deliveries(incident_id);
        CREATE INDEX deliveries_state ON deliveries(state, due_at);
        CREATE INDEX deliveries_sent ON deliveries(sent_at) WHERE sent_at IS NOT NULL;
        -- The flood rule reads, per recipient, only the alarm messages that went out and the
        -- digests: a flood's thousands of gathered messages must not be read for each new one.
        CREATE INDEX deliveries_told ON deliveries(recipient, created_at)
            WHERE purpose IN ('alarm', 'reminder', 'reopened') AND state NOT IN ('gathered', 'digested', 'canceled');
        CREATE INDEX deliveries_digests ON deliveries(recipient, created_at) WHERE purpose = 'digest';

        ALTER TABLE call_attempts RENAME TO call_attempts_per_alert;
        CREATE TABLE calls (
            id            INTEGER PRIMARY KEY,
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
            updated_at    TEXT    NOT NULL
        );
        CREATE INDEX calls_unfinished ON calls(id) WHERE outcome IS NULL;
        CREATE TABLE call_incidents (
            call_id      INTEGER NOT NULL REFERENCES calls(id),
            incident_id  INTEGER NOT NULL REFERENCES incidents(id),
            PRIMARY KEY (call_id, incident_id)
        ) WITHOUT ROWID;
        CREATE INDEX call_incidents_incident ON call_incidents(incident_id);

        -- Every WhatsApp reply read from Twilio, by its SID: handled once, whatever restarts.
        CREATE TABLE replies (
            sid          TEXT PRIMARY KEY,
            sender       TEXT NOT NULL,
            body         TEXT NOT NULL,
            sent_at      TEXT,
            handled_at   TEXT NOT NULL,
            incident_id  INTEGER REFERENCES incidents(id),
            action       TEXT NOT NULL
        ) WITHOUT ROWID;
        "#,
    )?;
    // Old alerts, oldest first, with their escalation's outcome: id, sender, subject, body, state,
    // is_test, journaled_at, answered_by, when the escalation ended.
    type OldAlert =
        (AlertId, String, String, String, String, bool, String, Option<String>, Option<String>);
    let old: Vec<OldAlert> = {
        let mut stmt = tx.prepare_cached(
            "SELECT a.id, a.sender, a.subject, a.body, a.state, a.is_test, a.journaled_at, e.answered_by, e.updated_at
             FROM alerts a LEFT JOIN escalations e ON e.alert_id = a.id ORDER BY a.id",
        )?;
        let rows = stmt.query_map(params![], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })?;
        rows.collect::<SqlResult<_>>()?
    };
    let rules = IncidentRules::default();
    for (id, sender, subject, body, state, is_test, journaled_at, answered_by, ended_at) in old {
        if state == "new" {
            continue; // placed at the next start, by the configured rules
        }
        let key = if is_test {
            format!("test:{id}")
        } else {
            key::read(&sender, &subject, &body, &rules.keys).key
        };
        let live = state == "notifying"
            && tx.query_row(
                "SELECT COUNT(*) FROM incidents WHERE key = ?1 AND state <> 'resolved'",
                params![&key],
                |r| r.get::<i64>(0),
            )? == 0;
        let ended = ended_at.unwrap_or_else(|| journaled_at.clone());
        let (inc_state, escalation) = match (state.as_str(), live) {
            (_, true) => (IncidentState::Open, EscalationState::Owed),
            ("answered", _) => (IncidentState::Resolved, EscalationState::Answered),
            ("unanswered", _) => (IncidentState::Resolved, EscalationState::Unanswered),
            ("dry_run", _) => (IncidentState::Resolved, EscalationState::DryRun),
            _ => (IncidentState::Resolved, EscalationState::None),
        };
        let acknowledged = answered_by.as_ref().map(|_| ended.clone());
        let incident = tx.insert_id(
            "INSERT INTO incidents (key, title, state, is_test, emails, first_seen, last_seen, latest_alert_id, acknowledged_at,
                                    acknowledged_by, acknowledged_via, resolved_at, held_since, escalation, last_told_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?5) RETURNING id",
            params![
                key,
                subject,
                inc_state,
                is_test,
                journaled_at,
                id,
                acknowledged,
                answered_by,
                answered_by.as_ref().map(|_| AckVia::Call),
                (inc_state == IncidentState::Resolved).then(|| ended.clone()),
                (state == "paused").then(|| journaled_at.clone()),
                escalation,
            ],
        )?;
        tx.execute(
            "UPDATE alerts SET incident_id = ?2, kind = 'alarm' WHERE id = ?1",
            params![id, incident],
        )?;
        log(
            tx,
            incident,
            IncidentEventKind::Migrated,
            Some(id),
            &format!("alerta #{id} de uma versão anterior ({state})"),
            &journaled_at,
            true,
        )?;
    }
    tx.execute_batch(
        r#"
        INSERT INTO deliveries (id, incident_id, purpose, recipient, headline, detail, state, sid, error_code, error_message,
                                created_at, updated_at, sent_at)
            SELECT d.id, a.incident_id, 'legacy', d.recipient, a.subject, a.body, d.state, d.sid, d.error_code, d.error_message,
                   d.created_at, d.updated_at, CASE WHEN d.sid IS NULL THEN NULL ELSE d.updated_at END
            FROM deliveries_per_alert d JOIN alerts a ON a.id = d.alert_id;
        INSERT INTO calls (id, round, position, number, state, sid, answered_by, duration, outcome, error_code, error_message,
                           created_at, updated_at)
            SELECT id, round, position, number, state, sid, answered_by, duration, outcome, error_code, error_message,
                   created_at, updated_at FROM call_attempts_per_alert;
        INSERT INTO call_incidents (call_id, incident_id)
            SELECT c.id, a.incident_id FROM call_attempts_per_alert c JOIN alerts a ON a.id = c.alert_id
            WHERE a.incident_id IS NOT NULL;
        UPDATE incidents SET calls_spoken = (SELECT COUNT(*) FROM call_incidents ci WHERE ci.incident_id = incidents.id)
            WHERE state <> 'resolved';
        DROP TABLE deliveries_per_alert;
        DROP TABLE call_attempts_per_alert;
        DROP TABLE escalations;
        "#,
    )
}

impl AlertJournal {
    /// The newest `limit` incidents, newest first; with `before`, the page that follows that
    /// one; with `open_only`, those not resolved.
    pub async fn incidents(
        &self,
        limit: usize,
        before: Option<IncidentId>,
        open_only: bool,
    ) -> Result<Vec<IncidentSummary>, JournalError> {
        let state =
            if open_only { super::StateFilter::Unresolved } else { super::StateFilter::All };
        self.find_incidents(super::IncidentQuery { limit, before, state, ..Default::default() })
            .await
    }

    pub async fn incident(&self, id: IncidentId) -> Result<Option<IncidentSummary>, JournalError> {
        self.call(move |conn| summary(conn, id).optional()).await
    }

    /// How many incidents are open and how many of them nobody has taken yet.
    pub async fn open_incident_counts(&self) -> Result<(u32, u32), JournalError> {
        self.call(|conn| {
            conn.query_row(
                "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END), 0) AS BIGINT) FROM incidents WHERE state <> 'resolved' AND is_test = 0",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .await
    }

    /// An incident with its e-mails, messages, calls and timeline.
    pub async fn incident_detail(
        &self,
        id: IncidentId,
    ) -> Result<Option<IncidentDetail>, JournalError> {
        let Some(incident) = self.incident(id).await? else { return Ok(None) };
        let emails = self
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, kind, journaled_at, sender, subject, body FROM alerts WHERE incident_id = ?1 ORDER BY id",
                )?;
                let rows = stmt.query_map(params![id], |r| {
                    Ok(IncidentEmail {
                        alert_id: r.get(0)?,
                        kind: r.get(1)?,
                        journaled_at: parse_ts(r.get(2)?),
                        sender: r.get(3)?,
                        subject: r.get(4)?,
                        body: r.get(5)?,
                    })
                })?;
                rows.collect()
            })
            .await?;
        let log = self
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT at, kind, detail FROM incident_log WHERE incident_id = ?1 ORDER BY id",
                )?;
                let rows = stmt.query_map(params![id], |r| {
                    Ok(IncidentLogLine {
                        at: parse_ts(r.get(0)?),
                        kind: r.get(1)?,
                        detail: r.get(2)?,
                    })
                })?;
                rows.collect()
            })
            .await?;
        Ok(Some(IncidentDetail {
            incident,
            emails,
            whatsapp: self.deliveries_of(id).await?,
            calls: self.calls_of(id).await?,
            log,
            names: Default::default(),
        }))
    }

    /// The e-mails of an incident, oldest first, in one query.
    pub async fn alerts_of(&self, incident: IncidentId) -> Result<Vec<AlertRecord>, JournalError> {
        self.select_alerts("WHERE incident_id = ?1 ORDER BY id", incident).await
    }

    /// Someone took the incident: no more calls for it. `by` is a name or a number.
    pub async fn acknowledge(
        &self,
        id: IncidentId,
        by: Option<String>,
        via: AckVia,
    ) -> Result<ActionOutcome, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let outcome = acknowledge_in(&mut tx, id, by.as_deref(), via, Utc::now())?;
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    /// Acknowledges every open incident ("Reconhecer todos"); returns how many.
    pub async fn acknowledge_all(
        &self,
        by: Option<String>,
        via: AckVia,
    ) -> Result<usize, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let ids: Vec<IncidentId> = {
                let mut stmt =
                    tx.prepare_cached("SELECT id FROM incidents WHERE state = 'open'")?;
                let rows = stmt.query_map(params![], |r| r.get(0))?;
                rows.collect::<SqlResult<_>>()?
            };
            let now = Utc::now();
            for id in &ids {
                acknowledge_in(&mut tx, *id, by.as_deref(), via, now)?;
            }
            tx.commit()?;
            Ok(ids.len())
        })
        .await
    }

    /// The problem is over (for devices that never send a recovery).
    pub async fn resolve(
        &self,
        id: IncidentId,
        by: Option<String>,
        via: ResolveVia,
    ) -> Result<ActionOutcome, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let Some(state) = tx.query_row("SELECT state FROM incidents WHERE id = ?1", params![id], |r| r.get::<IncidentState>(0)).optional()? else {
                return Ok(ActionOutcome::NotFound);
            };
            if state == IncidentState::Resolved {
                return Ok(ActionOutcome::AlreadyResolved);
            }
            let at = ts(Utc::now());
            tx.execute(
                &format!("UPDATE incidents SET state = 'resolved', resolved_at = ?2, resolved_by = ?3, resolved_via = ?4, {STOP_ESCALATION} WHERE id = ?1"),
                params![id, at, by, via],
            )?;
            log(&mut tx, id, IncidentEventKind::Resolved, None, &who(by.as_deref(), via.as_str()), &at, false)?;
            tx.commit()?;
            Ok(ActionOutcome::Done)
        })
        .await
    }

    /// Alert e-mails journaled but never placed in an incident (an older Sentinela's `new`
    /// alerts): placed now by `rules`. Returns how many.
    pub async fn place_unplaced(&self, rules: &IncidentRules) -> Result<usize, JournalError> {
        let rules = rules.clone();
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let ids: Vec<AlertId> = {
                let mut stmt =
                    tx.prepare_cached("SELECT id FROM alerts WHERE kind IS NULL ORDER BY id")?;
                let rows = stmt.query_map(params![], |r| r.get(0))?;
                rows.collect::<SqlResult<_>>()?
            };
            for id in &ids {
                place_alert(&mut tx, *id, &rules, Utc::now())?;
            }
            tx.commit()?;
            Ok(ids.len())
        })
        .await
    }

    /// The open, unacknowledged incidents a call speaks, newest first; `owed` tells those that
    /// still have calls owed (fewer than `budget` calls spoken since their escalation began).
    pub async fn speakable_incidents(
        &self,
        budget: u32,
    ) -> Result<Vec<SpokenIncident>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT i.id, i.title, COALESCE(a.body, ''), i.is_test,
                        i.escalation IN ('owed', 'calling') AND i.calls_spoken < ?1, i.calls_spoken
                 FROM incidents i LEFT JOIN alerts a ON a.id = i.latest_alert_id
                 WHERE i.state = 'open' AND (i.held_since IS NULL OR i.released_at IS NOT NULL)
                   AND i.escalation NOT IN ('none', 'dry_run')
                 ORDER BY i.id DESC",
            )?;
            let rows = stmt.query_map(params![budget], |r| {
                Ok(SpokenIncident {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    body: r.get(2)?,
                    test: r.get(3)?,
                    owed: r.get(4)?,
                    calls: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// A person answered a call (or, with `[calls] keypress`, pressed 1 in it, `via`): every
    /// incident it spoke that is still open is acknowledged by them. Returns those incidents.
    pub async fn answered_call(
        &self,
        call_id: i64,
        by: String,
        number: String,
        via: AckVia,
    ) -> Result<Vec<IncidentId>, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let ids: Vec<IncidentId> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT i.id FROM call_incidents ci JOIN incidents i ON i.id = ci.incident_id WHERE ci.call_id = ?1 AND i.state = 'open'",
                )?;
                let rows = stmt.query_map(params![call_id], |r| r.get(0))?;
                rows.collect::<SqlResult<_>>()?
            };
            let now = Utc::now();
            for id in &ids {
                acknowledge_from(&mut tx, *id, Some(&by), Some(&number), via, now)?;
                tx.execute("UPDATE incidents SET escalation = 'answered' WHERE id = ?1", params![id])?;
            }
            tx.commit()?;
            Ok(ids)
        })
        .await
    }

    /// Incidents whose calls are all spent and that nobody answered: their escalation ends as
    /// `unanswered` (they stay open). Returns them.
    pub async fn finish_unanswered(
        &self,
        budget: u32,
    ) -> Result<Vec<IncidentSummary>, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let ids: Vec<IncidentId> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id FROM incidents i WHERE escalation IN ('owed', 'calling') AND calls_spoken >= ?1
                     AND NOT EXISTS (SELECT 1 FROM call_incidents ci JOIN calls c ON c.id = ci.call_id
                                     WHERE ci.incident_id = i.id AND c.outcome IS NULL)",
                )?;
                let rows = stmt.query_map(params![budget], |r| r.get(0))?;
                rows.collect::<SqlResult<_>>()?
            };
            let at = ts(Utc::now());
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                tx.execute("UPDATE incidents SET escalation = 'unanswered' WHERE id = ?1", params![id])?;
                log(&mut tx, id, IncidentEventKind::Unanswered, None, "", &at, true)?;
                out.push(summary(&mut tx, id)?);
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    /// Whether a call still has a reason to ring: one of the incidents it speaks is open and
    /// unacknowledged.
    pub async fn call_wanted(&self, call_id: i64) -> Result<bool, JournalError> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM call_incidents ci JOIN incidents i ON i.id = ci.incident_id
                                WHERE ci.call_id = ?1 AND i.state = 'open')",
                params![call_id],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Marks incidents as handled by a dry run: what would have been called is journaled.
    pub async fn dry_run_escalations(&self, ids: Vec<IncidentId>) -> Result<(), JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            for id in ids {
                tx.execute(
                    "UPDATE incidents SET escalation = 'dry_run' WHERE id = ?1",
                    params![id],
                )?;
            }
            tx.commit()
        })
        .await
    }
}

fn who(by: Option<&str>, via: &str) -> String {
    match by {
        Some(b) => format!("{b} ({via})"),
        None => via.to_owned(),
    }
}

fn acknowledge_in(
    tx: &mut dyn Sql,
    id: IncidentId,
    by: Option<&str>,
    via: AckVia,
    now: DateTime<Utc>,
) -> SqlResult<ActionOutcome> {
    acknowledge_from(tx, id, by, None, via, now)
}

/// Acknowledges; `number` is the phone of who took it (they are not told of their own act).
pub(crate) fn acknowledge_from(
    tx: &mut dyn Sql,
    id: IncidentId,
    by: Option<&str>,
    number: Option<&str>,
    via: AckVia,
    now: DateTime<Utc>,
) -> SqlResult<ActionOutcome> {
    let Some(state) = tx
        .query_row("SELECT state FROM incidents WHERE id = ?1", params![id], |r| {
            r.get::<IncidentState>(0)
        })
        .optional()?
    else {
        return Ok(ActionOutcome::NotFound);
    };
    match state {
        IncidentState::Acknowledged => return Ok(ActionOutcome::AlreadyAcknowledged),
        IncidentState::Resolved => return Ok(ActionOutcome::AlreadyResolved),
        IncidentState::Open => {}
    }
    let at = ts(now);
    tx.execute(
        &format!("UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?2, acknowledged_by = ?3, acknowledged_via = ?4,
                  acknowledged_number = ?5, {STOP_ESCALATION} WHERE id = ?1"),
        params![id, at, by, via, number],
    )?;
    log(tx, id, IncidentEventKind::Acknowledged, None, &who(by, via.as_str()), &at, false)?;
    Ok(ActionOutcome::Done)
}

/// A person took alert `alert_id` in a call made from memory: its incident is acknowledged by
/// them (and its escalation ends as answered), unless someone took or resolved it already.
pub(super) fn acknowledge_alert_in(
    tx: &mut dyn Sql,
    alert_id: AlertId,
    answer: &super::outbox::MemoryAnswer,
    now: DateTime<Utc>,
) -> SqlResult<ActionOutcome> {
    let incident: Option<IncidentId> = tx
        .query_row("SELECT incident_id FROM alerts WHERE id = ?1", params![alert_id], |r| r.get(0))
        .optional()?
        .flatten();
    let Some(id) = incident else { return Ok(ActionOutcome::NotFound) };
    let outcome =
        acknowledge_from(tx, id, Some(&answer.by), Some(&answer.number), AckVia::Call, now)?;
    if outcome == ActionOutcome::Done {
        tx.execute("UPDATE incidents SET escalation = 'answered' WHERE id = ?1", params![id])?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::CallOutcome;

    #[tokio::test]
    async fn a_journal_from_before_incidents_migrates_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::super::JOURNAL_FILE);
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            super::super::schema::migrate_to(&mut conn, super::super::schema::BEFORE_INCIDENTS)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO alerts (id, folder, uidvalidity, uid, sender, subject, body, truncated, received_at, journaled_at, state)
                 VALUES (1, 'INBOX', 1, 1, 's@x', 'ALERTA um', 'b1', 0, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'answered'),
                        (2, 'INBOX', 1, 2, 's@x', 'ALERTA dois', 'b2', 0, '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z', 'notifying'),
                        (3, 'INBOX', 1, 3, 's@x', 'ALERTA três', 'b3', 0, '2026-01-03T00:00:00Z', '2026-01-03T00:00:00Z', 'new');
                 INSERT INTO escalations VALUES (1, 'answered', '+5511988880002', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z'),
                                                (2, 'calling', NULL, '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z');
                 INSERT INTO deliveries (alert_id, channel, recipient, state, sid, created_at, updated_at)
                   VALUES (1, 'whatsapp', '+5511999990001', 'read', 'SM1', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
                 INSERT INTO call_attempts (alert_id, round, position, number, state, sid, answered_by, outcome, created_at, updated_at)
                   VALUES (1, 0, 1, '+5511988880002', 'completed', 'CA1', 'human', 'answered', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
                          (2, 0, 0, '+5511988880001', 'ringing', 'CA2', NULL, NULL, '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z');",
            )
            .unwrap();
        }
        let j = AlertJournal::open(&path).unwrap();
        let all = j.incidents(10, None, false).await.unwrap();
        assert_eq!(all.len(), 2, "the `new` alert waits to be placed by the configured rules");
        let answered = all.iter().find(|i| i.title == "ALERTA um").unwrap();
        assert_eq!(
            (answered.state, answered.acknowledged_by.as_deref(), answered.acknowledged_via),
            (IncidentState::Resolved, Some("+5511988880002"), Some(AckVia::Call))
        );
        let live = all.iter().find(|i| i.title == "ALERTA dois").unwrap();
        assert_eq!((live.state, live.escalation), (IncidentState::Open, EscalationState::Owed));
        let detail = j.incident_detail(answered.id).await.unwrap().unwrap();
        assert_eq!(detail.whatsapp[0].sid.as_deref(), Some("SM1"));
        assert_eq!(detail.calls[0].outcome, Some(CallOutcome::Answered));
        let unfinished = j.unfinished_call().await.unwrap().unwrap();
        assert_eq!(
            (unfinished.sid.as_deref(), unfinished.incidents.clone()),
            (Some("CA2"), vec![live.id]),
            "the ringing call is followed"
        );
        assert_eq!(j.place_unplaced(&IncidentRules::default()).await.unwrap(), 1);
        assert_eq!(j.incidents(10, None, false).await.unwrap().len(), 3);
        // The history is searchable: what migrated (its e-mails and who answered), and what was
        // placed after.
        let find = |text: &str| {
            let j = j.clone();
            let query = super::super::IncidentQuery { text: text.into(), ..Default::default() };
            async move {
                j.find_incidents(query)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|i| i.title)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(find("b1").await, ["ALERTA um"]);
        assert_eq!(find("5511988880002").await, ["ALERTA um"]);
        assert_eq!(find("tres").await, ["ALERTA três"]);
    }
}
