//! The notification side of the journal: WhatsApp deliveries and calls.
//!
//! Each outbound request is written as an intent before it is sent and completed with its result
//! after, so after a crash the engine can tell "never sent" from "sent, result unknown" from
//! "done" — and resume instead of dropping or repeating. Deliveries are written by the planner
//! (`incidents.rs`); a call is written with the incidents it speaks.

use super::sql::{params, OptionalExtension, Row, Sql, SqlExt, SqlResult};
use chrono::{DateTime, Utc};

use super::{parse_ts, ts, AlertJournal, JournalError};
use crate::incident::IncidentId;
use crate::model::Channel;
pub use crate::model::{CallAttempt, CallOutcome, CallState, Delivery, DeliveryState};

const DELIVERY_COLUMNS: &str = "d.id, d.incident_id, d.purpose, d.recipient, d.headline, d.detail, d.state, d.sid, d.error_code,
    d.error_message, d.updated_at, COALESCE(i.is_test, 0), d.channel, d.fallback_of";
const DELIVERY_FROM: &str = "deliveries d LEFT JOIN incidents i ON i.id = d.incident_id";
const CALL_COLUMNS: &str = "c.id, c.round, c.position, c.number, c.state, c.sid, c.answered_by, c.duration, c.outcome, c.error_code,
    c.error_message, c.updated_at,
    (SELECT string_agg(CAST(incident_id AS TEXT), ',' ORDER BY incident_id DESC) FROM call_incidents WHERE call_id = c.id),
    c.execution_sid";

fn delivery_row(r: &Row) -> SqlResult<Delivery> {
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
        channel: r.get(12)?,
        fallback_of: r.get(13)?,
    })
}

/// Every message names its channel, and an SMS sent in place of a WhatsApp message names that
/// message — once: a unique index (SQLite's migration 9, PostgreSQL's 5).
pub(super) fn channels_migration(id_type: &str) -> String {
    format!(
        "ALTER TABLE deliveries ADD COLUMN channel TEXT NOT NULL DEFAULT '{}';
         ALTER TABLE deliveries ADD COLUMN fallback_of {id_type};
         CREATE UNIQUE INDEX deliveries_fallback ON deliveries(fallback_of) WHERE fallback_of IS NOT NULL;",
        Channel::Whatsapp.as_str()
    )
}

fn call_row(r: &Row) -> SqlResult<CallAttempt> {
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
        incidents: incidents
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.parse().ok())
            .collect(),
        execution_sid: r.get(13)?,
    })
}

/// What changed in a call attempt.
#[derive(Debug, Clone)]
pub struct CallUpdate {
    pub state: CallState,
    pub sid: Option<String>,
    pub execution_sid: Option<String>,
    pub answered_by: Option<String>,
    pub duration: Option<u32>,
    pub outcome: Option<CallOutcome>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
}

impl CallUpdate {
    /// A new state from Twilio (or ours), nothing else learned.
    pub fn state(state: CallState) -> Self {
        CallUpdate {
            state,
            sid: None,
            execution_sid: None,
            answered_by: None,
            duration: None,
            outcome: None,
            error_code: None,
            error_message: None,
        }
    }

    /// The attempt ends without Twilio saying more (canceled before it was placed, a dry run,
    /// an error): its state says the same as its outcome.
    pub fn ended(outcome: CallOutcome, error_message: Option<String>) -> Self {
        let state = match outcome {
            CallOutcome::Canceled => CallState::Canceled,
            CallOutcome::DryRun => CallState::DryRun,
            CallOutcome::NoAnswer => CallState::NoAnswer,
            CallOutcome::Busy => CallState::Busy,
            CallOutcome::Failed => CallState::Failed,
            CallOutcome::Error => CallState::Error,
            CallOutcome::Answered
            | CallOutcome::Machine
            | CallOutcome::Unconfirmed
            | CallOutcome::Heard => CallState::Completed,
        };
        CallUpdate { outcome: Some(outcome), error_message, ..CallUpdate::state(state) }
    }
}

impl AlertJournal {
    /// Deliveries owed: `pending` ones and, with `interrupted`, those a previous run left
    /// `sending` without an answer (looked up at Twilio before they are sent again).
    /// At most `limit`, oldest first, skipping `busy` (already in hand).
    pub async fn owed_deliveries(
        &self,
        interrupted: bool,
        limit: usize,
        busy: Vec<i64>,
    ) -> Result<Vec<Delivery>, JournalError> {
        self.call(move |conn| {
            let states = if interrupted { "('pending', 'sending')" } else { "('pending')" };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.state IN {states} AND d.sid IS NULL ORDER BY d.id LIMIT ?1"
            ))?;
            let rows = stmt.query_map(params![(limit + busy.len()) as i64], delivery_row)?;
            let mut out: Vec<Delivery> = rows.collect::<SqlResult<_>>()?;
            out.retain(|d| !busy.contains(&d.id));
            out.truncate(limit);
            Ok(out)
        })
        .await
    }

    /// Deliveries accepted by Twilio and not yet in a final state, sent since `since`: the
    /// ones worth following. Older ones stay as they are (no request for last year's messages).
    pub async fn deliveries_to_follow(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, JournalError> {
        self.call(move |conn| {
            let finals = DeliveryState::FINAL.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
            // An SMS has no `read`: delivered is as far as it goes.
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM}
                 WHERE d.sid IS NOT NULL AND d.state NOT IN ({finals}) AND d.sent_at >= ?1 AND NOT (d.channel = ?2 AND d.state = ?3)
                 ORDER BY d.sent_at, d.id"
            ))?;
            let rows = stmt.query_map(params![ts(since), Channel::Sms, DeliveryState::Delivered], delivery_row)?;
            rows.collect()
        })
        .await
    }

    /// Writes the intent to send delivery `id` (`sending`), before the request leaves.
    pub async fn delivery_intent(&self, id: i64) -> Result<Delivery, JournalError> {
        let journal = self.clone();
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            journal.confirm_fence(&mut tx)?;
            tx.execute(
                "UPDATE deliveries SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, DeliveryState::Sending, ts(Utc::now())],
            )?;
            let delivery = tx.query_row(
                &format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.id = ?1"),
                params![id],
                delivery_row,
            )?;
            tx.commit()?;
            Ok(delivery)
        })
        .await
    }

    /// Records a delivery's new state (and its SID and error, when known).
    pub async fn update_delivery(
        &self,
        id: i64,
        state: DeliveryState,
        sid: Option<String>,
        error: Option<(Option<i64>, String)>,
    ) -> Result<Delivery, JournalError> {
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
            conn.query_row(&format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.id = ?1"), params![id], delivery_row)
        })
        .await
    }

    /// The SMS that stands in for WhatsApp message `id`, which could not be delivered: the same
    /// words to the same person, owed now — once, however often this is asked (None when it
    /// exists already or `id` is no WhatsApp message).
    pub async fn fall_back_to_sms(&self, id: i64) -> Result<Option<Delivery>, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let now = ts(Utc::now());
            let created = tx.execute(
                "INSERT INTO deliveries (incident_id, purpose, recipient, headline, detail, state, channel, fallback_of, created_at, updated_at)
                 SELECT incident_id, purpose, recipient, headline, detail, ?2, ?3, id, ?4, ?4 FROM deliveries d
                 WHERE d.id = ?1 AND d.channel = ?5 AND NOT EXISTS (SELECT 1 FROM deliveries f WHERE f.fallback_of = ?1)",
                params![id, DeliveryState::Pending, Channel::Sms, now, Channel::Whatsapp],
            )?;
            let delivery = match created {
                0 => None,
                _ => Some(tx.query_row(&format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.fallback_of = ?1"), params![id], delivery_row)?),
            };
            tx.commit()?;
            Ok(delivery)
        })
        .await
    }

    /// An incident's messages, and the digests that carried it.
    pub async fn deliveries_of(&self, incident: IncidentId) -> Result<Vec<Delivery>, JournalError> {
        self.call(move |conn| {
            // Two lookups, not one `OR` over a subquery: PostgreSQL answers that with a scan of
            // every message.
            let own = format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.incident_id = ?1");
            let digests = format!(
                "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM}
                 WHERE d.id IN (SELECT digest_id FROM deliveries WHERE incident_id = ?1 AND digest_id IS NOT NULL)"
            );
            let mut all = Vec::new();
            for sql in [own, digests] {
                let mut stmt = conn.prepare_cached(&sql)?;
                for row in stmt.query_map(params![incident], delivery_row)? {
                    all.push(row?);
                }
            }
            all.sort_by_key(|d: &Delivery| d.id);
            all.dedup_by_key(|d| d.id);
            Ok(all)
        })
        .await
    }

    /// The calls that spoke an incident, in order.
    pub async fn calls_of(&self, incident: IncidentId) -> Result<Vec<CallAttempt>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CALL_COLUMNS} FROM calls c WHERE c.id IN (SELECT call_id FROM call_incidents WHERE incident_id = ?1) ORDER BY c.id"
            ))?;
            let rows = stmt.query_map(params![incident], call_row)?;
            rows.collect()
        })
        .await
    }

    /// The newest call (the queue goes on from the number after it).
    pub async fn last_call(&self) -> Result<Option<CallAttempt>, JournalError> {
        self.call(|conn| {
            conn.query_row(
                &format!(
                    "SELECT {CALL_COLUMNS} FROM calls c WHERE c.id = (SELECT MAX(id) FROM calls)"
                ),
                params![],
                call_row,
            )
            .optional()
        })
        .await
    }

    /// A call without an outcome: placed (or being placed) when the engine stopped.
    pub async fn unfinished_call(&self) -> Result<Option<CallAttempt>, JournalError> {
        self.call(|conn| {
            conn.query_row(&format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.outcome IS NULL ORDER BY c.id LIMIT 1"), params![], call_row)
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
        let journal = self.clone();
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            journal.confirm_fence(&mut tx)?;
            let now = ts(Utc::now());
            let id = tx.insert_id(
                "INSERT INTO calls (round, position, number, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
                params![round, position, number, CallState::Placing, now],
            )?;
            for incident in &speaks {
                tx.execute("INSERT INTO call_incidents (call_id, incident_id) VALUES (?1, ?2)", params![id, incident])?;
            }
            for incident in &counted {
                tx.execute(
                    "UPDATE incidents SET calls_spoken = calls_spoken + 1, escalation = 'calling' WHERE id = ?1 AND escalation IN ('owed', 'calling')",
                    params![incident],
                )?;
            }
            let call = tx.query_row(&format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.id = ?1"), params![id], call_row)?;
            tx.commit()?;
            Ok(call)
        })
        .await
    }

    pub async fn update_call(
        &self,
        attempt_id: i64,
        u: CallUpdate,
    ) -> Result<CallAttempt, JournalError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE calls SET state = ?2, sid = COALESCE(?3, sid), answered_by = COALESCE(?4, answered_by),
                        duration = COALESCE(?5, duration), outcome = COALESCE(?6, outcome),
                        error_code = COALESCE(?7, error_code), error_message = COALESCE(?8, error_message), updated_at = ?9,
                        execution_sid = COALESCE(?10, execution_sid)
                 WHERE id = ?1",
                params![attempt_id, u.state, u.sid, u.answered_by, u.duration, u.outcome, u.error_code, u.error_message, ts(Utc::now()), u.execution_sid],
            )?;
            conn.query_row(&format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.id = ?1"), params![attempt_id], call_row)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_this_version_does_not_know_is_read_as_unknown() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut delivery = |s: &str| -> DeliveryState {
            SqlExt::query_row(&mut conn, "SELECT ?1", params![s], |r| r.get(0)).unwrap()
        };
        assert_eq!(
            (delivery("read"), delivery("pending")),
            (DeliveryState::Read, DeliveryState::Pending)
        );
        assert_eq!(delivery("a_status_twilio_adds_next_year"), DeliveryState::Unknown);
        let call: CallState =
            SqlExt::query_row(&mut conn, "SELECT 'initiated'", params![], |r| r.get(0)).unwrap();
        assert_eq!(call, CallState::Unknown);
        // The engine's own words stay strict: a wrong one is a bug, not news from Twilio.
        let outcome: SqlResult<CallOutcome> =
            SqlExt::query_row(&mut conn, "SELECT 'maybe'", params![], |r| r.get(0));
        assert!(outcome.is_err());
    }

    #[test]
    fn an_ended_update_says_the_same_in_its_state() {
        assert_eq!(CallUpdate::ended(CallOutcome::Canceled, None).state, CallState::Canceled);
        assert_eq!(CallUpdate::ended(CallOutcome::DryRun, None).state, CallState::DryRun);
        let refused = CallUpdate::ended(CallOutcome::Error, Some("21211".into()));
        assert_eq!(
            (refused.state, refused.outcome, refused.error_message.as_deref()),
            (CallState::Error, Some(CallOutcome::Error), Some("21211"))
        );
    }
}
