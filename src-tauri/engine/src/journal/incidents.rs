//! The incident side of the journal: incidents, their timeline, and the planner that turns the
//! timeline into owed messages and calls.
//!
//! Every change to an incident — an e-mail placed in it, an acknowledgement, a resolve, from this
//! process or from the CLI — is one transaction that also appends a line to `incident_log` with
//! `planned = 0`. [`AlertJournal::plan`] reads the unplanned lines in order, asks
//! [`lifecycle::owed`] what each owes, and writes the owed deliveries and escalations in the same
//! transaction that marks the lines planned. So a crash between an e-mail and its "Resolvido"
//! loses nothing: the line is still unplanned at the next start.

use std::collections::HashMap;

use super::sql::{params, OptionalExtension, Row, Sql, SqlExt, SqlResult};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{
    parse_ts, ts, AlertId, AlertJournal, AlertRecord, CallAttempt, Delivery, JournalError,
};
use crate::incident::flood::{Admission, FloodLimit};
use crate::incident::key;
use crate::incident::lifecycle::{self, Audience, Facts, KeyHistory, Step};
use crate::incident::{
    AckVia, AlertKind, EscalationState, IncidentEventKind, IncidentId, IncidentRules,
    IncidentState, MessagePurpose, ResolveVia,
};
use crate::model::Channel;
use crate::notify::compose;

/// One incident as the history list and `incidents --json` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentSummary {
    pub id: IncidentId,
    pub state: IncidentState,
    pub title: String,
    /// E-mails about it: the alarm, its repeats and its recovery.
    pub emails: u32,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_via: Option<AckVia>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_via: Option<ResolveVia>,
    /// The operator's test alert.
    pub test: bool,
    /// Opened while notifications were paused: held since then.
    pub held_since: Option<DateTime<Utc>>,
    /// When the pause ended and it was told (None while still held or never held).
    pub released_at: Option<DateTime<Utc>>,
    pub escalation: EscalationState,
}

/// One e-mail of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentEmail {
    pub alert_id: AlertId,
    pub kind: Option<AlertKind>,
    pub journaled_at: DateTime<Utc>,
    pub sender: String,
    pub subject: String,
    pub body: String,
}

/// A line of an incident's own timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentLogLine {
    pub at: DateTime<Utc>,
    pub kind: IncidentEventKind,
    pub detail: String,
}

/// An incident with everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentDetail {
    pub incident: IncidentSummary,
    pub emails: Vec<IncidentEmail>,
    pub whatsapp: Vec<Delivery>,
    pub calls: Vec<CallAttempt>,
    pub log: Vec<IncidentLogLine>,
    /// Names of the numbers above (`[people]`), filled by whoever has the configuration.
    pub names: std::collections::BTreeMap<String, String>,
}

/// What a manual acknowledge or resolve did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ActionOutcome {
    Done,
    AlreadyAcknowledged,
    AlreadyResolved,
    NotFound,
}

/// An incident change the planner met, for the event bus (desktop notifications, the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentChange {
    pub incident: IncidentSummary,
    pub kind: IncidentEventKind,
    pub detail: String,
}

/// What the planner needs to know of the configuration and the moment.
#[derive(Debug, Clone)]
pub struct PlanPolicy {
    /// `[whatsapp] to`, in E.164.
    pub recipients: Vec<String>,
    /// `[sms] to`: told by SMS instead of WhatsApp.
    pub sms_only: Vec<String>,
    /// Whether `[calls]` is configured: escalations are only owed then.
    pub calls: bool,
    pub paused: bool,
    pub remind_every: Option<Duration>,
    pub flood: FloodLimit,
    /// `reescalate_after_mins`; None when taken incidents are never escalated again.
    pub reescalate_after: Option<Duration>,
    pub now: DateTime<Utc>,
}

#[cfg(test)]
impl PlanPolicy {
    /// Messages to `recipients` and calls, now: no pause, reminders or re-escalation.
    pub fn plain(recipients: &[&str]) -> Self {
        PlanPolicy {
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            sms_only: Vec::new(),
            calls: true,
            paused: false,
            remind_every: None,
            flood: FloodLimit::default(),
            reescalate_after: None,
            now: Utc::now(),
        }
    }
}

/// What a planning pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanReport {
    pub changes: Vec<IncidentChange>,
    /// Deliveries written as owed (`pending`).
    pub new_deliveries: usize,
    /// Whether escalations became owed (the call queue should look).
    pub escalated: bool,
    /// When the next digest is due, if any is waiting.
    pub next_digest: Option<DateTime<Utc>>,
    /// When the next taken incident is due to be escalated again.
    pub next_reescalation: Option<DateTime<Utc>>,
    /// More unplanned lines remain (a pass plans at most [`PLAN_BATCH`]).
    pub more: bool,
}

/// An open incident as a call speaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpokenIncident {
    pub id: IncidentId,
    pub title: String,
    pub body: String,
    pub test: bool,
    /// Calls are still owed for it (rounds left); otherwise it is only spoken along.
    pub owed: bool,
    /// Calls that spoke it since its escalation began.
    pub calls: u32,
}

/// Lines planned per transaction: a flood is planned in bounded steps.
const PLAN_BATCH: i64 = 500;

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

fn summary(tx: &mut dyn Sql, id: IncidentId) -> SqlResult<IncidentSummary> {
    tx.query_row(
        &format!("SELECT {SUMMARY_COLUMNS} FROM incidents i WHERE i.id = ?1"),
        params![id],
        summary_row,
    )
}

fn log(
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
const STOP_ESCALATION: &str =
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

/// Who was sent an incident's alarm (directly, or in a digest), so they hear how it ends.
fn who_got_the_alarm(tx: &mut dyn Sql, incident: IncidentId) -> SqlResult<Vec<String>> {
    let mut stmt = tx.prepare_cached(
        "SELECT DISTINCT recipient FROM deliveries WHERE incident_id = ?1 AND purpose IN ('alarm', 'legacy')
         AND state NOT IN ('pending', 'gathered', 'canceled', 'error') ORDER BY recipient",
    )?;
    let rows = stmt.query_map(params![incident], |r| r.get(0))?;
    rows.collect()
}

/// Whether `recipient` was sent this incident's alarm in a message of its own.
fn got_it_alone(tx: &mut dyn Sql, incident: IncidentId, recipient: &str) -> SqlResult<bool> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE incident_id = ?1 AND recipient = ?2 AND purpose IN ('alarm', 'legacy')
                        AND state NOT IN ('pending', 'gathered', 'digested', 'canceled', 'error'))",
        params![incident, recipient],
        |r| r.get(0),
    )
}

/// When a person's alarm messages went out, and their last digest.
type FloodHistory = (Vec<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The times of a recipient's alarm messages (alarms, reminders, came-backs) inside the flood
/// window, and their last digest.
fn flood_history(tx: &mut dyn Sql, recipient: &str, since: &str) -> SqlResult<FloodHistory> {
    let mut stmt = tx.prepare_cached(
        "SELECT created_at FROM deliveries WHERE recipient = ?1 AND created_at >= ?2 AND purpose IN ('alarm', 'reminder', 'reopened')
         AND state NOT IN ('gathered', 'digested', 'canceled')",
    )?;
    let sent = stmt
        .query_map(params![recipient, since], |r| Ok(parse_ts(r.get(0)?)))?
        .collect::<SqlResult<Vec<_>>>()?;
    let last_digest: Option<String> = tx.query_row(
        "SELECT MAX(created_at) FROM deliveries WHERE recipient = ?1 AND purpose = 'digest'",
        params![recipient],
        |r| r.get(0),
    )?;
    Ok((sent, last_digest.map(parse_ts)))
}

impl AlertJournal {
    /// Turns unplanned timeline lines into owed deliveries and escalations, and sends digests
    /// that are due, in one transaction. Idempotent: a line is planned once.
    pub async fn plan(&self, policy: PlanPolicy) -> Result<PlanReport, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let now = policy.now;
            let at = ts(now);
            let mut report = PlanReport::default();

            if !policy.paused {
                // Incidents held by a pause that has ended: told now, if still open.
                let held: Vec<IncidentId> = {
                    let mut stmt = tx.prepare_cached("SELECT id FROM incidents WHERE held_since IS NOT NULL AND released_at IS NULL")?;
                    let rows = stmt.query_map(params![], |r| r.get(0))?;
                    rows.collect::<SqlResult<_>>()?
                };
                for id in held {
                    tx.execute("UPDATE incidents SET released_at = ?2 WHERE id = ?1", params![id, at])?;
                    log(&mut tx, id, IncidentEventKind::Released, None, "", &at, false)?;
                }
            }

            if let Some(after) = policy.reescalate_after {
                // Taken, yet still alarming this long after: open again, for everyone.
                let due: Vec<(IncidentId, Option<String>, String)> = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT id, acknowledged_by, acknowledged_at FROM incidents WHERE state = 'acknowledged' AND acknowledged_at <= ?1",
                    )?;
                    let rows = stmt.query_map(params![ts(now - after)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                    rows.collect::<SqlResult<_>>()?
                };
                for (id, by, at_ack) in due {
                    let waited = compose::lasted(now - parse_ts(at_ack));
                    let detail = format!("{waited} depois de assumido por {}", by.as_deref().unwrap_or("alguém"));
                    tx.execute("UPDATE incidents SET state = 'open' WHERE id = ?1", params![id])?;
                    log(&mut tx, id, IncidentEventKind::Reescalated, None, &detail, &at, false)?;
                }
                report.next_reescalation = tx
                    .query_row("SELECT MIN(acknowledged_at) FROM incidents WHERE state = 'acknowledged'", params![], |r| r.get::<Option<String>>(0))?
                    .map(|t| parse_ts(t) + after);
            }

            let lines: Vec<(i64, IncidentId, IncidentEventKind, String)> = {
                let mut stmt = tx.prepare_cached("SELECT id, incident_id, kind, detail FROM incident_log WHERE planned = 0 ORDER BY id LIMIT ?1")?;
                let rows = stmt.query_map(params![PLAN_BATCH + 1], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                rows.collect::<SqlResult<_>>()?
            };
            report.more = lines.len() as i64 > PLAN_BATCH;
            let window_start = ts(now - policy.flood.window);
            for (line, incident, kind, detail) in lines.into_iter().take(PLAN_BATCH as usize) {
                let s = summary(&mut tx, incident)?;
                let last_told: Option<String> = tx.query_row("SELECT last_told_at FROM incidents WHERE id = ?1", params![incident], |r| r.get(0))?;
                let facts = Facts {
                    state: s.state,
                    is_test: s.test,
                    held: s.held_since.is_some() && s.released_at.is_none(),
                    paused: policy.paused,
                    since_last_told: last_told.map(|t| now - parse_ts(t)),
                    remind_every: policy.remind_every,
                };
                let owed = lifecycle::owed(kind, facts);
                if owed.hold {
                    tx.execute("UPDATE incidents SET held_since = COALESCE(held_since, ?2), released_at = NULL WHERE id = ?1", params![incident, at])?;
                    log(&mut tx, incident, IncidentEventKind::Held, None, "", &at, true)?;
                }
                if owed.cancel_unsent {
                    tx.execute(
                        "UPDATE deliveries SET state = 'canceled', updated_at = ?2 WHERE incident_id = ?1 AND state IN ('pending', 'gathered')",
                        params![incident, at],
                    )?;
                    tx.execute(&format!("UPDATE incidents SET {STOP_ESCALATION} WHERE id = ?1"), params![incident])?;
                }
                if let Some((purpose, audience)) = owed.tell {
                    let latest: (String, String) = tx.query_row(
                        "SELECT a.subject, a.body FROM incidents i JOIN alerts a ON a.id = i.latest_alert_id WHERE i.id = ?1",
                        params![incident],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    ).optional()?.unwrap_or_else(|| (s.title.clone(), String::new()));
                    let (headline, text) = compose::incident_message(purpose, &s, &latest.0, &latest.1, now);
                    let mut recipients = match audience {
                        Audience::Everyone => policy.recipients.iter().chain(&policy.sms_only).cloned().collect(),
                        Audience::WhoGotTheAlarm => who_got_the_alarm(&mut tx, incident)?,
                    };
                    if purpose == MessagePurpose::Acknowledged {
                        // Who took it knows: the others are told.
                        let taker: Option<String> = tx.query_row("SELECT acknowledged_number FROM incidents WHERE id = ?1", params![incident], |r| r.get(0))?;
                        recipients.retain(|r| Some(r) != taker.as_ref());
                    }
                    for to in recipients {
                        let (sent, last_digest) = flood_history(&mut tx, &to, &window_start)?;
                        let admission = if matches!(purpose, MessagePurpose::Resolved | MessagePurpose::Acknowledged) {
                            // The end of an incident a person heard of by itself comes by itself;
                            // of one they only saw in a digest, in the next digest.
                            if got_it_alone(&mut tx, incident, &to)? { Admission::Send } else { policy.flood.next_digest(last_digest, now) }
                        } else {
                            policy.flood.admit(&sent, last_digest, now)
                        };
                        let (state, due) = match admission {
                            Admission::Send => ("pending", None),
                            // Reminders are only worth it when they arrive on time.
                            Admission::Gather { .. } if purpose == MessagePurpose::Reminder => continue,
                            Admission::Gather { digest_due } => ("gathered", Some(ts(digest_due))),
                        };
                        let channel = if policy.sms_only.contains(&to) { Channel::Sms } else { Channel::Whatsapp };
                        tx.execute(
                            "INSERT INTO deliveries (incident_id, purpose, recipient, headline, detail, state, due_at, created_at, updated_at, channel)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
                            params![incident, purpose, to, headline, text, state, due, at, channel],
                        )?;
                        report.new_deliveries += usize::from(state == "pending");
                    }
                    if matches!(purpose, MessagePurpose::Alarm | MessagePurpose::Reminder | MessagePurpose::Reescalated) {
                        tx.execute("UPDATE incidents SET last_told_at = ?2 WHERE id = ?1", params![incident, at])?;
                    }
                }
                if owed.escalate && policy.calls {
                    tx.execute(
                        "UPDATE incidents SET escalation = 'owed', calls_spoken = 0 WHERE id = ?1 AND state = 'open'",
                        params![incident],
                    )?;
                    report.escalated = true;
                }
                tx.execute("UPDATE incident_log SET planned = 1 WHERE id = ?1", params![line])?;
                let announced = matches!(
                    kind,
                    IncidentEventKind::Opened | IncidentEventKind::Acknowledged | IncidentEventKind::Resolved
                        | IncidentEventKind::Recovered | IncidentEventKind::Reopened | IncidentEventKind::Released
                        | IncidentEventKind::Reescalated | IncidentEventKind::Note
                );
                if announced || owed.hold {
                    let kind = if owed.hold { IncidentEventKind::Held } else { kind };
                    report.changes.push(IncidentChange { incident: summary(&mut tx, incident)?, kind, detail });
                }
            }

            report.new_deliveries += plan_digests(&mut tx, now)?;
            report.next_digest = tx
                .query_row("SELECT MIN(due_at) FROM deliveries WHERE state = 'gathered'", params![], |r| r.get::<Option<String>>(0))?
                .map(parse_ts);
            tx.commit()?;
            Ok(report)
        })
        .await
    }

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
pub(super) fn acknowledge_from(
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

/// Gathers each recipient's waiting items whose digest is due into one digest message.
fn plan_digests(tx: &mut dyn Sql, now: DateTime<Utc>) -> SqlResult<usize> {
    let at = ts(now);
    let due: Vec<(i64, String, Option<IncidentId>, MessagePurpose, String, Channel)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, recipient, incident_id, purpose, headline, channel FROM deliveries WHERE state = 'gathered' AND recipient IN
               (SELECT recipient FROM deliveries WHERE state = 'gathered' AND due_at <= ?1)
             ORDER BY recipient, id",
        )?;
        let rows = stmt.query_map(params![&at], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?;
        rows.collect::<SqlResult<_>>()?
    };
    // Per recipient and the channel they are told on: (delivery, its incident, why, its headline).
    type Item = (i64, Option<IncidentId>, MessagePurpose, String);
    let mut by_recipient: HashMap<(String, Channel), Vec<Item>> = HashMap::new();
    for (id, to, incident, purpose, headline, channel) in due {
        by_recipient.entry((to, channel)).or_default().push((id, incident, purpose, headline));
    }
    let mut planned = 0;
    for ((to, channel), items) in by_recipient {
        let (headline, text) = compose::digest(
            &items.iter().map(|(_, i, p, h)| (*p, *i, h.as_str())).collect::<Vec<_>>(),
        );
        let digest = tx.insert_id(
            "INSERT INTO deliveries (incident_id, purpose, recipient, headline, detail, state, created_at, updated_at, channel)
             VALUES (NULL, 'digest', ?1, ?2, ?3, 'pending', ?4, ?4, ?5) RETURNING id",
            params![to, headline, text, at, channel],
        )?;
        for (id, ..) in items {
            tx.execute("UPDATE deliveries SET state = 'digested', digest_id = ?2, updated_at = ?3 WHERE id = ?1", params![id, digest, at])?;
        }
        planned += 1;
    }
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{CallOutcome, DeliveryState, MailboxUid, NewAlert, RecordOutcome};
    use crate::mail::parse_alert_mail;

    const TO: [&str; 2] = ["+5511999990001", "+5511999990002"];

    fn mail(uid: u32, subject: &str) -> NewAlert {
        let raw = format!(
            "From: sensor@cpd\r\nSubject: {subject}\r\nMessage-ID: <m{uid}@x>\r\n\r\nleitura\r\n"
        );
        NewAlert {
            origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 1, uid },
            mail: parse_alert_mail(raw.as_bytes(), false),
            received_at: Utc::now(),
        }
    }

    fn policy(now: DateTime<Utc>) -> PlanPolicy {
        PlanPolicy {
            recipients: TO.iter().map(|s| s.to_string()).collect(),
            sms_only: Vec::new(),
            calls: true,
            paused: false,
            remind_every: Some(Duration::minutes(30)),
            flood: FloodLimit::default(),
            reescalate_after: Some(Duration::minutes(60)),
            now,
        }
    }

    async fn record(j: &AlertJournal, uid: u32, subject: &str) -> AlertId {
        match j.record(vec![mail(uid, subject)], &IncidentRules::default()).await.unwrap()[0] {
            RecordOutcome::Recorded(id) => id,
            other => panic!("{other:?}"),
        }
    }

    /// An incident opened by one e-mail and told: its alarm messages accepted by Twilio.
    async fn opened_and_sent(j: &AlertJournal, subject: &str, now: DateTime<Utc>) -> IncidentId {
        record(j, 1, subject).await;
        j.plan(policy(now)).await.unwrap();
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        for d in j.deliveries_of(id).await.unwrap() {
            j.update_delivery(d.id, DeliveryState::Sent, Some(format!("SM{}", d.id)), None)
                .await
                .unwrap();
        }
        id
    }

    async fn purposes(
        j: &AlertJournal,
        incident: IncidentId,
    ) -> Vec<(String, MessagePurpose, DeliveryState)> {
        j.deliveries_of(incident)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.recipient, d.purpose, d.state))
            .collect()
    }

    journal_test!(async fn alarm_repeats_and_recovery_are_one_incident_told_once_and_resolved_once(j) {
        record(&j, 1, "Temperatura Rack-A High Critical 33.5 C").await;
        let report = j.plan(policy(Utc::now())).await.unwrap();
        assert_eq!((report.new_deliveries, report.escalated), (2, true));
        let incident = j.incidents(10, None, false).await.unwrap();
        assert_eq!(incident.len(), 1);
        let id = incident[0].id;
        assert_eq!((incident[0].state, incident[0].escalation), (IncidentState::Open, EscalationState::Owed));

        record(&j, 2, "Temperatura Rack-A High Critical 34.1 C").await;
        record(&j, 3, "Temperatura Rack-A High Critical 35.0 C").await;
        let report = j.plan(policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 0, "repeats tell nobody");
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!(i.emails, 3);

        // The alarm reached both (sent): the recovery tells both.
        for d in j.deliveries_of(id).await.unwrap() {
            j.update_delivery(d.id, DeliveryState::Sent, Some(format!("SM{}", d.id)), None).await.unwrap();
        }
        record(&j, 4, "Temperatura Rack-A Normal 24.0 C").await;
        let report = j.plan(policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 2);
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!((i.state, i.resolved_via, i.emails, i.escalation), (IncidentState::Resolved, Some(ResolveVia::Recovery), 4, EscalationState::Stopped));
        let resolved: Vec<_> = purposes(&j, id).await.into_iter().filter(|p| p.1 == MessagePurpose::Resolved).collect();
        assert_eq!(resolved.len(), 2);
        let kinds: Vec<_> = j.alerts_of(id).await.unwrap().into_iter().map(|a| a.kind.unwrap()).collect();
        assert_eq!(kinds, [AlertKind::Alarm, AlertKind::Repeat, AlertKind::Repeat, AlertKind::Recovery]);
        assert!(j.plan(policy(Utc::now())).await.unwrap().changes.is_empty(), "planned once");
    });

    journal_test!(async fn a_recovery_of_nothing_is_journaled_and_tells_nobody(j) {
        let alert = record(&j, 1, "Temperatura Rack-A Normal 24.0 C").await;
        let report = j.plan(policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 0);
        assert!(j.incidents(10, None, false).await.unwrap().is_empty());
        let a = j.alert(alert).await.unwrap().unwrap();
        assert_eq!((a.kind, a.incident_id), (Some(AlertKind::Recovery), None));
    });

    journal_test!(async fn a_recovery_before_the_alarm_was_sent_cancels_it_and_tells_nobody(j) {
        record(&j, 1, "UPS Sala 1: On battery power").await;
        j.plan(policy(Utc::now())).await.unwrap();
        record(&j, 2, "UPS Sala 1: Power restored").await;
        let report = j.plan(policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 0);
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        assert!(purposes(&j, id).await.iter().all(|p| p.1 == MessagePurpose::Alarm && p.2 == DeliveryState::Canceled));
    });

    journal_test!(async fn flapping_reopens_within_the_window_and_a_late_return_is_a_new_incident(j) {
        record(&j, 1, "Problem: Link down on sw-01").await;
        record(&j, 2, "Resolved: Link down on sw-01").await;
        record(&j, 3, "Problem: Link down on sw-01").await;
        let all = j.incidents(10, None, false).await.unwrap();
        assert_eq!(all.len(), 1, "reopened, not new");
        assert_eq!((all[0].state, all[0].emails), (IncidentState::Open, 3));

        let rules = IncidentRules { reopen_within: Duration::zero(), ..IncidentRules::default() };
        j.record(vec![mail(4, "Resolved: Link down on sw-01")], &rules).await.unwrap();
        j.record(vec![mail(5, "Problem: Link down on sw-01")], &rules).await.unwrap();
        assert_eq!(j.incidents(10, None, false).await.unwrap().len(), 2, "beyond the window: a new incident");
    });

    journal_test!(async fn acknowledged_stops_calls_and_a_reopen_keeps_it_acknowledged(j) {
        record(&j, 1, "Problem: Link down on sw-01").await;
        j.plan(policy(Utc::now())).await.unwrap();
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        assert_eq!(j.acknowledge(id, Some("Ana".into()), AckVia::Cli).await.unwrap(), ActionOutcome::Done);
        assert_eq!(j.acknowledge(id, None, AckVia::Cli).await.unwrap(), ActionOutcome::AlreadyAcknowledged);
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!((i.state, i.acknowledged_by.as_deref(), i.acknowledged_via, i.escalation), (IncidentState::Acknowledged, Some("Ana"), Some(AckVia::Cli), EscalationState::Stopped));
        assert!(j.speakable_incidents(6).await.unwrap().is_empty());
        record(&j, 2, "Resolved: Link down on sw-01").await;
        record(&j, 3, "Problem: Link down on sw-01").await;
        j.plan(policy(Utc::now())).await.unwrap();
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!((i.state, i.escalation), (IncidentState::Acknowledged, EscalationState::Stopped), "no calls after the reopen");
        assert_eq!(j.resolve(id, None, ResolveVia::Desktop).await.unwrap(), ActionOutcome::Done);
        assert_eq!(j.resolve(id, None, ResolveVia::Desktop).await.unwrap(), ActionOutcome::AlreadyResolved);
        assert_eq!(j.resolve(999, None, ResolveVia::Cli).await.unwrap(), ActionOutcome::NotFound);
    });

    journal_test!(async fn reminders_come_at_most_once_per_period_while_nobody_took_it(j) {
        let t0 = Utc::now();
        let id = opened_and_sent(&j, "Umidade Sala 1 alta 85%", t0).await;
        record(&j, 2, "Umidade Sala 1 alta 86%").await;
        j.plan(policy(t0 + Duration::minutes(10))).await.unwrap();
        record(&j, 3, "Umidade Sala 1 alta 87%").await;
        j.plan(policy(t0 + Duration::minutes(31))).await.unwrap();
        record(&j, 4, "Umidade Sala 1 alta 88%").await;
        j.plan(policy(t0 + Duration::minutes(40))).await.unwrap();
        let reminders: Vec<_> = j.deliveries_of(id).await.unwrap().into_iter().filter(|d| d.purpose == MessagePurpose::Reminder).collect();
        assert_eq!(reminders.len(), 2, "one per recipient, once");
        assert!(reminders[0].headline.starts_with("Ainda em alarme — 3 e-mails desde"), "{}", reminders[0].headline);
    });

    journal_test!(async fn a_flood_sends_five_per_person_then_one_digest(j) {
        let t0 = Utc::now();
        for uid in 1..=300 {
            record(&j, uid, &format!("Temperatura Rack-{uid} High 40 C")).await;
        }
        let mut p = policy(t0);
        p.recipients.truncate(1);
        loop {
            if !j.plan(p.clone()).await.unwrap().more {
                break;
            }
        }
        let count = |state: &'static str| {
            let j = j.clone();
            async move { j.call(move |c| c.query_row("SELECT COUNT(*) FROM deliveries WHERE state = ?1", params![state], |r| r.get::<i64>(0))).await.unwrap() }
        };
        assert_eq!(count("pending").await, 5);
        assert_eq!(count("gathered").await, 295);
        let report = j.plan(PlanPolicy { now: t0 + Duration::minutes(10), ..p.clone() }).await.unwrap();
        assert_eq!(report.new_deliveries, 1, "one digest");
        assert_eq!(count("digested").await, 295);
        let digest = j.call(|c| c.query_row("SELECT headline FROM deliveries WHERE purpose = 'digest'", params![], |r| r.get::<String>(0))).await.unwrap();
        assert!(digest.starts_with("+295 alertas novos"), "{digest}");
        assert_eq!(j.speakable_incidents(6).await.unwrap().len(), 300, "every incident is still escalated");
    });

    journal_test!(async fn taking_tells_the_others_and_a_long_take_is_escalated_again(j) {
        let t0 = Utc::now();
        let id = opened_and_sent(&j, "Umidade Sala 1 alta 85%", t0).await;
        j.call(move |c| {
            let mut tx = c.transaction()?;
            acknowledge_from(&mut tx, id, Some("Ana"), Some(TO[0]), AckVia::Whatsapp, t0)?;
            tx.commit()
        })
        .await
        .unwrap();
        j.plan(policy(t0)).await.unwrap();
        let told: Vec<_> = j.deliveries_of(id).await.unwrap().into_iter().filter(|d| d.purpose == MessagePurpose::Acknowledged).collect();
        assert_eq!(told.len(), 1, "only the other recipient: {told:?}");
        assert_eq!(told[0].recipient, TO[1]);
        assert!(told[0].headline.starts_with("Assumido por Ana às ") && told[0].headline.ends_with(&format!("(#{id})")), "{}", told[0].headline);

        // Still taken an hour later: open again, everyone told, calls owed again.
        let report = j.plan(policy(t0 + Duration::minutes(59))).await.unwrap();
        assert_eq!(report.next_reescalation, Some(parse_ts(ts(t0)) + Duration::minutes(60)));
        assert_eq!(j.incident(id).await.unwrap().unwrap().state, IncidentState::Acknowledged);
        j.plan(policy(t0 + Duration::minutes(61))).await.unwrap();
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!((i.state, i.escalation), (IncidentState::Open, EscalationState::Owed));
        let again: Vec<_> = j.deliveries_of(id).await.unwrap().into_iter().filter(|d| d.purpose == MessagePurpose::Reescalated).collect();
        assert_eq!(again.len(), 2);
        assert!(again[0].headline.starts_with("Ainda em alarme 1 h 01 min depois de assumido por Ana"), "{}", again[0].headline);
    });

    journal_test!(async fn old_deliveries_are_not_followed_again_after_a_restart(j) {
        opened_and_sent(&j, "Umidade Sala 9 alta 85%", Utc::now()).await;
        // A year ago: sent then, still "delivered" (never read).
        j.call(|c| c.execute("UPDATE deliveries SET sent_at = '2025-11-28T03:00:00.000Z'", params![])).await.unwrap();
        let since = Utc::now() - Duration::minutes(15);
        assert!(j.deliveries_to_follow(since).await.unwrap().is_empty(), "no request for last year's messages");
        j.call(|c| c.execute("UPDATE deliveries SET sent_at = ?1", params![ts(Utc::now())])).await.unwrap();
        assert_eq!(j.deliveries_to_follow(since).await.unwrap().len(), 2, "a fresh one is followed");
    });

    #[test]
    fn the_flood_rule_reads_only_what_went_out() {
        // Thousands of gathered messages per person must not be read for every new incident.
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let mut plan = |sql: &str| -> String {
            let rows = SqlExt::query_map(
                &mut conn,
                &format!("EXPLAIN QUERY PLAN {sql}"),
                params!["+55", "2026-01-01"],
                |r| r.get::<String>(3),
            )
            .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        assert!(plan(
            "SELECT created_at FROM deliveries WHERE recipient = ?1 AND created_at >= ?2 AND purpose IN ('alarm', 'reminder', 'reopened')
             AND state NOT IN ('gathered', 'digested', 'canceled')"
        )
        .contains("deliveries_told"));
        assert!(plan("SELECT MAX(created_at) FROM deliveries WHERE recipient = ?1 AND purpose = 'digest' AND ?2 IS NOT NULL").contains("deliveries_digests"));
    }

    journal_test!(async fn a_pause_holds_new_incidents_and_its_end_releases_those_still_open(j) {
        record(&j, 1, "Temperatura Sala 1 alta 31 °C").await;
        record(&j, 2, "Temperatura Sala 2 alta 31 °C").await;
        let paused = PlanPolicy { paused: true, ..policy(Utc::now()) };
        let report = j.plan(paused).await.unwrap();
        assert_eq!(report.new_deliveries, 0);
        assert!(report.changes.iter().all(|c| c.kind == IncidentEventKind::Held));
        let all = j.incidents(10, None, false).await.unwrap();
        assert!(all.iter().all(|i| i.held_since.is_some() && i.escalation == EscalationState::None));
        j.acknowledge(all[1].id, None, AckVia::Desktop).await.unwrap();
        let report = j.plan(policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 2, "only the one still open is told");
        let i = j.incident(all[0].id).await.unwrap().unwrap();
        assert!(i.released_at.is_some() && i.escalation == EscalationState::Owed);
    });

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
