//! The notification side of the journal: WhatsApp deliveries and calls.
//!
//! Each outbound request is written as an intent before it is sent and completed with its result
//! after, so after a crash the engine can tell "never sent" from "sent, result unknown" from
//! "done" — and resume instead of dropping or repeating. Deliveries are written by the planner
//! (`incidents.rs`); a call is written with the incidents it speaks.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{parse_ts, ts, AlertJournal, JournalError};
use crate::incident::{IncidentId, MessagePurpose};

/// One WhatsApp message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Delivery {
    pub id: i64,
    /// None for a digest (it speaks of several incidents).
    pub incident_id: Option<IncidentId>,
    pub purpose: MessagePurpose,
    pub recipient: String,
    /// The first line (or the template's first variable).
    pub headline: String,
    pub detail: String,
    /// `pending` (owed), `sending` (request under way), `gathered` (waiting for a digest),
    /// `digested` (sent inside one), then Twilio's status (`queued`, `sent`, `delivered`,
    /// `read`, `failed`, `undelivered`), or `canceled` / `error` / `dry_run`.
    pub state: String,
    pub sid: Option<String>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The incident is the operator's test.
    pub test: bool,
}

/// One phone call of the queue, with the incidents it speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CallAttempt {
    pub id: i64,
    /// How many times the queue had gone through the list for these incidents before.
    pub round: u32,
    pub position: u32,
    pub number: String,
    /// `placing` (request under way), then Twilio's call status, or `error` / `dry_run`.
    pub state: String,
    pub sid: Option<String>,
    pub answered_by: Option<String>,
    pub duration: Option<u32>,
    /// Set once the attempt is over: `answered`, `machine`, `unconfirmed`, `no-answer`, `busy`,
    /// `failed`, `canceled`, `error`, `dry_run`.
    pub outcome: Option<String>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The incidents this call speaks, newest first.
    pub incidents: Vec<IncidentId>,
}

/// Delivery states after which nothing more is sent or followed.
pub const FINAL_DELIVERY_STATES: &[&str] = &["read", "failed", "undelivered", "canceled", "error", "dry_run", "digested"];

const DELIVERY_COLUMNS: &str = "d.id, d.incident_id, d.purpose, d.recipient, d.headline, d.detail, d.state, d.sid, d.error_code,
    d.error_message, d.updated_at, COALESCE(i.is_test, 0)";
const DELIVERY_FROM: &str = "deliveries d LEFT JOIN incidents i ON i.id = d.incident_id";
const CALL_COLUMNS: &str = "c.id, c.round, c.position, c.number, c.state, c.sid, c.answered_by, c.duration, c.outcome, c.error_code,
    c.error_message, c.updated_at,
    (SELECT GROUP_CONCAT(incident_id) FROM (SELECT incident_id FROM call_incidents WHERE call_id = c.id ORDER BY incident_id DESC))";

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        purpose: r.get(2)?,
        recipient: r.get(3)?,
        headline: r.get(4)?,
        detail: r.get(5)?,
        state: r.get(6)?,
        sid: r.get(7)?,
        error_code: r.get(8)?,
        error_message: r.get(9)?,
        updated_at: parse_ts(r.get(10)?),
        test: r.get(11)?,
    })
}

fn call_row(r: &Row<'_>) -> rusqlite::Result<CallAttempt> {
    let incidents: Option<String> = r.get(12)?;
    Ok(CallAttempt {
        id: r.get(0)?,
        round: r.get(1)?,
        position: r.get(2)?,
        number: r.get(3)?,
        state: r.get(4)?,
        sid: r.get(5)?,
        answered_by: r.get(6)?,
        duration: r.get(7)?,
        outcome: r.get(8)?,
        error_code: r.get(9)?,
        error_message: r.get(10)?,
        updated_at: parse_ts(r.get(11)?),
        incidents: incidents.unwrap_or_default().split(',').filter_map(|s| s.parse().ok()).collect(),
    })
}

/// What changed in a call attempt.
#[derive(Debug, Clone, Default)]
pub struct CallUpdate {
    pub state: String,
    pub sid: Option<String>,
    pub answered_by: Option<String>,
    pub duration: Option<u32>,
    pub outcome: Option<String>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
}

impl AlertJournal {
    /// Deliveries owed: `pending` ones and, with `interrupted`, those a previous run left
    /// `sending` without an answer (looked up at Twilio before they are sent again).
    /// At most `limit`, oldest first, skipping `busy` (already in hand).
    pub async fn owed_deliveries(&self, interrupted: bool, limit: usize, busy: Vec<i64>) -> Result<Vec<Delivery>, JournalError> {
        self.call(move |conn| {
            let states = if interrupted { "('pending', 'sending')" } else { "('pending')" };
            let mut stmt = conn.prepare(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.state IN {states} AND d.sid IS NULL ORDER BY d.id LIMIT ?1"
            ))?;
            let rows = stmt.query_map([(limit + busy.len()) as i64], delivery_row)?;
            let mut out: Vec<Delivery> = rows.collect::<rusqlite::Result<_>>()?;
            out.retain(|d| !busy.contains(&d.id));
            out.truncate(limit);
            Ok(out)
        })
        .await
    }

    /// Deliveries accepted by Twilio and not yet in a final state, sent since `since`: the
    /// ones worth following. Older ones stay as they are (no request for last year's messages).
    pub async fn deliveries_to_follow(&self, since: DateTime<Utc>) -> Result<Vec<Delivery>, JournalError> {
        self.call(move |conn| {
            let finals = FINAL_DELIVERY_STATES.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
            let mut stmt = conn.prepare(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM}
                 WHERE d.sid IS NOT NULL AND d.state NOT IN ({finals}) AND d.sent_at >= ?1 ORDER BY d.id"
            ))?;
            let rows = stmt.query_map([ts(since)], delivery_row)?;
            rows.collect()
        })
        .await
    }

    /// Records a delivery's new state (and its SID and error, when known).
    pub async fn update_delivery(
        &self,
        id: i64,
        state: &str,
        sid: Option<String>,
        error: Option<(Option<i64>, String)>,
    ) -> Result<Delivery, JournalError> {
        let state = state.to_owned();
        self.call(move |conn| {
            let (code, message) = error.map(|(c, m)| (c, Some(m))).unwrap_or((None, None));
            let now = ts(Utc::now());
            conn.execute(
                "UPDATE deliveries SET state = ?2, sid = COALESCE(?3, sid), error_code = COALESCE(?4, error_code),
                        error_message = COALESCE(?5, error_message), updated_at = ?6,
                        sent_at = CASE WHEN sent_at IS NULL AND ?3 IS NOT NULL THEN ?6 ELSE sent_at END
                 WHERE id = ?1",
                params![id, state, sid, code, message, now],
            )?;
            conn.query_row(&format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.id = ?1"), [id], delivery_row)
        })
        .await
    }

    /// An incident's messages, and the digests that carried it.
    pub async fn deliveries_of(&self, incident: IncidentId) -> Result<Vec<Delivery>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM}
                 WHERE d.incident_id = ?1 OR d.id IN (SELECT digest_id FROM deliveries WHERE incident_id = ?1 AND digest_id IS NOT NULL)
                 ORDER BY d.id"
            ))?;
            let rows = stmt.query_map([incident], delivery_row)?;
            rows.collect()
        })
        .await
    }

    /// The calls that spoke an incident, in order.
    pub async fn calls_of(&self, incident: IncidentId) -> Result<Vec<CallAttempt>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {CALL_COLUMNS} FROM calls c WHERE c.id IN (SELECT call_id FROM call_incidents WHERE incident_id = ?1) ORDER BY c.id"
            ))?;
            let rows = stmt.query_map([incident], call_row)?;
            rows.collect()
        })
        .await
    }

    /// The newest call (the queue goes on from the number after it).
    pub async fn last_call(&self) -> Result<Option<CallAttempt>, JournalError> {
        self.call(|conn| conn.query_row(&format!("SELECT {CALL_COLUMNS} FROM calls c ORDER BY c.id DESC LIMIT 1"), [], call_row).optional())
            .await
    }

    /// A call without an outcome: placed (or being placed) when the engine stopped.
    pub async fn unfinished_call(&self) -> Result<Option<CallAttempt>, JournalError> {
        self.call(|conn| {
            conn.query_row(&format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.outcome IS NULL ORDER BY c.id LIMIT 1"), [], call_row)
                .optional()
        })
        .await
    }

    /// Writes the intent to call `number` about `speaks` (before the request is sent); counts
    /// the call against the rounds of the incidents in `counted`, whose escalation is then under
    /// way.
    pub async fn call_intent(
        &self,
        position: u32,
        round: u32,
        number: &str,
        speaks: Vec<IncidentId>,
        counted: Vec<IncidentId>,
    ) -> Result<CallAttempt, JournalError> {
        let number = number.to_owned();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let now = ts(Utc::now());
            tx.execute(
                "INSERT INTO calls (round, position, number, state, created_at, updated_at) VALUES (?1, ?2, ?3, 'placing', ?4, ?4)",
                params![round, position, number, now],
            )?;
            let id = tx.last_insert_rowid();
            for incident in &speaks {
                tx.execute("INSERT INTO call_incidents (call_id, incident_id) VALUES (?1, ?2)", params![id, incident])?;
            }
            for incident in &counted {
                tx.execute(
                    "UPDATE incidents SET calls_spoken = calls_spoken + 1, escalation = 'calling' WHERE id = ?1 AND escalation IN ('owed', 'calling')",
                    [incident],
                )?;
            }
            let call = tx.query_row(&format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.id = ?1"), [id], call_row)?;
            tx.commit()?;
            Ok(call)
        })
        .await
    }

    pub async fn update_call(&self, attempt_id: i64, u: CallUpdate) -> Result<CallAttempt, JournalError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE calls SET state = ?2, sid = COALESCE(?3, sid), answered_by = COALESCE(?4, answered_by),
                        duration = COALESCE(?5, duration), outcome = COALESCE(?6, outcome),
                        error_code = COALESCE(?7, error_code), error_message = COALESCE(?8, error_message), updated_at = ?9
                 WHERE id = ?1",
                params![attempt_id, u.state, u.sid, u.answered_by, u.duration, u.outcome, u.error_code, u.error_message, ts(Utc::now())],
            )?;
            conn.query_row(&format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.id = ?1"), [attempt_id], call_row)
        })
        .await
    }
}
