//! The notification side of the journal: WhatsApp deliveries, escalations and call attempts.
//!
//! Each outbound request is written as an intent before it is sent and completed with its result
//! after, so after a crash the engine can tell "never sent" from "sent, result unknown" from
//! "done" — and resume instead of dropping or repeating.

use chrono::Utc;
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{parse_ts, ts, AlertId, AlertJournal, JournalError};

/// One WhatsApp message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Delivery {
    pub id: i64,
    pub alert_id: AlertId,
    pub recipient: String,
    /// `pending` (owed), `sending` (request under way), then Twilio's status (`queued`, `sent`,
    /// `delivered`, `read`, `failed`, `undelivered`), or `error` / `dry_run`.
    pub state: String,
    pub sid: Option<String>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub updated_at: chrono::DateTime<Utc>,
}

/// One phone call of an escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CallAttempt {
    pub id: i64,
    pub alert_id: AlertId,
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
    pub updated_at: chrono::DateTime<Utc>,
}

/// An alert whose escalation (call queue) is owed or under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEscalation {
    pub alert_id: AlertId,
    pub subject: String,
    pub body: String,
    pub is_test: bool,
}

/// A delivery with what the sender needs to (re)send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDelivery {
    pub delivery: Delivery,
    pub subject: String,
    pub body: String,
    pub is_test: bool,
}

const DELIVERY_COLUMNS: &str =
    "id, alert_id, recipient, state, sid, error_code, error_message, updated_at";
const CALL_COLUMNS: &str =
    "id, alert_id, round, position, number, state, sid, answered_by, duration, outcome, error_code, error_message, updated_at";

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        alert_id: r.get(1)?,
        recipient: r.get(2)?,
        state: r.get(3)?,
        sid: r.get(4)?,
        error_code: r.get(5)?,
        error_message: r.get(6)?,
        updated_at: parse_ts(r.get(7)?),
    })
}

fn call_row(r: &Row<'_>) -> rusqlite::Result<CallAttempt> {
    Ok(CallAttempt {
        id: r.get(0)?,
        alert_id: r.get(1)?,
        round: r.get(2)?,
        position: r.get(3)?,
        number: r.get(4)?,
        state: r.get(5)?,
        sid: r.get(6)?,
        answered_by: r.get(7)?,
        duration: r.get(8)?,
        outcome: r.get(9)?,
        error_code: r.get(10)?,
        error_message: r.get(11)?,
        updated_at: parse_ts(r.get(12)?),
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
    /// Takes every alert still in state `new`, writes its owed deliveries (one per recipient) and
    /// its escalation in one transaction, and moves it to `notifying`. Returns those alerts.
    pub async fn plan_notifications(
        &self,
        whatsapp_to: Vec<String>,
        with_calls: bool,
    ) -> Result<Vec<AlertId>, JournalError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let now = ts(Utc::now());
            let ids: Vec<AlertId> = {
                let mut stmt = tx.prepare("SELECT id FROM alerts WHERE state = 'new' ORDER BY id")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for id in &ids {
                for to in &whatsapp_to {
                    tx.execute(
                        "INSERT OR IGNORE INTO deliveries (alert_id, channel, recipient, state, created_at, updated_at)
                         VALUES (?1, 'whatsapp', ?2, 'pending', ?3, ?3)",
                        params![id, to, now],
                    )?;
                }
                if with_calls {
                    tx.execute(
                        "INSERT OR IGNORE INTO escalations (alert_id, state, created_at, updated_at) VALUES (?1, 'pending', ?2, ?2)",
                        params![id, now],
                    )?;
                }
                let state = if with_calls { "notifying" } else { "notified" };
                tx.execute("UPDATE alerts SET state = ?2 WHERE id = ?1", params![id, state])?;
            }
            tx.commit()?;
            Ok(ids)
        })
        .await
    }

    /// Deliveries not yet sent, or sent but not in a final state: what a (re)start must finish.
    pub async fn unfinished_deliveries(&self) -> Result<Vec<PendingDelivery>, JournalError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {}, a.subject, a.body, a.is_test FROM deliveries d JOIN alerts a ON a.id = d.alert_id
                 WHERE d.state NOT IN ('read', 'failed', 'undelivered', 'canceled', 'error', 'dry_run')
                 ORDER BY d.id",
                DELIVERY_COLUMNS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ")
            ))?;
            let rows = stmt.query_map([], |r| {
                Ok(PendingDelivery { delivery: delivery_row(r)?, subject: r.get(8)?, body: r.get(9)?, is_test: r.get(10)? })
            })?;
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
            conn.execute(
                "UPDATE deliveries SET state = ?2, sid = COALESCE(?3, sid), error_code = COALESCE(?4, error_code),
                        error_message = COALESCE(?5, error_message), updated_at = ?6 WHERE id = ?1",
                params![id, state, sid, code, message, ts(Utc::now())],
            )?;
            conn.query_row(&format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1"), [id], delivery_row)
        })
        .await
    }

    pub async fn deliveries_of(&self, alert_id: AlertId) -> Result<Vec<Delivery>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE alert_id = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([alert_id], delivery_row)?;
            rows.collect()
        })
        .await
    }

    /// The oldest escalation that is owed or under way (escalations run one at a time, in
    /// arrival order).
    pub async fn next_escalation(&self) -> Result<Option<PendingEscalation>, JournalError> {
        self.call(|conn| {
            conn.query_row(
                "SELECT e.alert_id, a.subject, a.body, a.is_test FROM escalations e JOIN alerts a ON a.id = e.alert_id
                 WHERE e.state IN ('pending', 'calling') ORDER BY e.alert_id LIMIT 1",
                [],
                |r| Ok(PendingEscalation { alert_id: r.get(0)?, subject: r.get(1)?, body: r.get(2)?, is_test: r.get(3)? }),
            )
            .optional()
        })
        .await
    }

    /// Sets an escalation's state; a final state (`answered`, `unanswered`, `dry_run`) is also
    /// the alert's outcome.
    pub async fn set_escalation(
        &self,
        alert_id: AlertId,
        state: &str,
        answered_by: Option<String>,
    ) -> Result<(), JournalError> {
        let state = state.to_owned();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let now = ts(Utc::now());
            tx.execute(
                "UPDATE escalations SET state = ?2, answered_by = COALESCE(?3, answered_by), updated_at = ?4 WHERE alert_id = ?1",
                params![alert_id, state, answered_by, now],
            )?;
            if matches!(state.as_str(), "answered" | "unanswered" | "dry_run") {
                tx.execute("UPDATE alerts SET state = ?2 WHERE id = ?1", params![alert_id, state])?;
            }
            tx.commit()
        })
        .await
    }

    /// The escalation's state and who answered, if there is one.
    pub async fn escalation_of(
        &self,
        alert_id: AlertId,
    ) -> Result<Option<(String, Option<String>)>, JournalError> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT state, answered_by FROM escalations WHERE alert_id = ?1",
                [alert_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
        .await
    }

    pub async fn call_attempts(&self, alert_id: AlertId) -> Result<Vec<CallAttempt>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {CALL_COLUMNS} FROM call_attempts WHERE alert_id = ?1 ORDER BY round, position"
            ))?;
            let rows = stmt.query_map([alert_id], call_row)?;
            rows.collect()
        })
        .await
    }

    /// Writes the intent to call `number` (before the request is sent). Idempotent per
    /// (alert, round, position): the existing attempt is returned when there is one.
    pub async fn call_intent(
        &self,
        alert_id: AlertId,
        round: u32,
        position: u32,
        number: &str,
    ) -> Result<CallAttempt, JournalError> {
        let number = number.to_owned();
        self.call(move |conn| {
            let now = ts(Utc::now());
            conn.execute(
                "INSERT OR IGNORE INTO call_attempts (alert_id, round, position, number, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'placing', ?5, ?5)",
                params![alert_id, round, position, number, now],
            )?;
            conn.query_row(
                &format!("SELECT {CALL_COLUMNS} FROM call_attempts WHERE alert_id = ?1 AND round = ?2 AND position = ?3"),
                params![alert_id, round, position],
                call_row,
            )
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
                "UPDATE call_attempts SET state = ?2, sid = COALESCE(?3, sid), answered_by = COALESCE(?4, answered_by),
                        duration = COALESCE(?5, duration), outcome = COALESCE(?6, outcome),
                        error_code = COALESCE(?7, error_code), error_message = COALESCE(?8, error_message), updated_at = ?9
                 WHERE id = ?1",
                params![attempt_id, u.state, u.sid, u.answered_by, u.duration, u.outcome, u.error_code, u.error_message, ts(Utc::now())],
            )?;
            conn.query_row(&format!("SELECT {CALL_COLUMNS} FROM call_attempts WHERE id = ?1"), [attempt_id], call_row)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{MailboxUid, NewAlert};
    use crate::mail::parse_alert_mail;

    async fn journal_with_alert() -> (AlertJournal, AlertId) {
        let j = AlertJournal::open_in_memory().unwrap();
        let id = j
            .record(vec![NewAlert {
                origin: MailboxUid {
                    folder: "INBOX".into(),
                    uidvalidity: 1,
                    uid: 1,
                },
                mail: parse_alert_mail(b"Subject: ALERTA\r\n\r\ncalor\r\n", false),
                received_at: Utc::now(),
            }])
            .await
            .unwrap()[0]
            .alert_id();
        (j, id)
    }

    #[tokio::test]
    async fn planning_is_once_per_alert() {
        let (j, id) = journal_with_alert().await;
        let to = vec!["+5511999990001".to_owned(), "+5511999990002".to_owned()];
        assert_eq!(
            j.plan_notifications(to.clone(), true).await.unwrap(),
            vec![id]
        );
        assert!(
            j.plan_notifications(to, true).await.unwrap().is_empty(),
            "planned once"
        );
        assert_eq!(j.deliveries_of(id).await.unwrap().len(), 2);
        assert_eq!(j.unfinished_deliveries().await.unwrap().len(), 2);
        assert_eq!(j.next_escalation().await.unwrap().unwrap().alert_id, id);
        assert_eq!(j.alerts(1).await.unwrap()[0].state, "notifying");
    }

    #[tokio::test]
    async fn delivery_and_call_lifecycle() {
        let (j, id) = journal_with_alert().await;
        j.plan_notifications(vec!["+5511999990001".into()], true)
            .await
            .unwrap();
        let d = j.unfinished_deliveries().await.unwrap().remove(0).delivery;
        j.update_delivery(d.id, "sending", None, None)
            .await
            .unwrap();
        let d = j
            .update_delivery(d.id, "read", Some("SM1".into()), None)
            .await
            .unwrap();
        assert_eq!((d.state.as_str(), d.sid.as_deref()), ("read", Some("SM1")));
        assert!(j.unfinished_deliveries().await.unwrap().is_empty());

        let a = j.call_intent(id, 0, 0, "+5511999990001").await.unwrap();
        assert_eq!(
            j.call_intent(id, 0, 0, "+5511999990001").await.unwrap().id,
            a.id,
            "idempotent"
        );
        let a = j
            .update_call(
                a.id,
                CallUpdate {
                    state: "completed".into(),
                    sid: Some("CA1".into()),
                    answered_by: Some("human".into()),
                    duration: Some(31),
                    outcome: Some("answered".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(a.duration, Some(31));
        j.set_escalation(id, "answered", Some("+5511999990001".into()))
            .await
            .unwrap();
        assert!(j.next_escalation().await.unwrap().is_none());
        assert_eq!(j.alerts(1).await.unwrap()[0].state, "answered");
        let listed = j.alert_summaries(10, None).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].id, listed[0].state.as_str()), (id, "answered"));
        assert_eq!(listed[0].answered_by.as_deref(), Some("+5511999990001"), "the list says who answered");
        assert_eq!(
            j.escalation_of(id).await.unwrap(),
            Some(("answered".into(), Some("+5511999990001".into())))
        );
    }
}
