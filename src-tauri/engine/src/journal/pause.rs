//! The notification pause ("Pause notifications" in the tray), kept in the journal so that it
//! survives a restart and every process sharing the journal sees the same state.

use super::sql::{params, OptionalExtension, Sql, SqlExt};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{parse_ts, ts, AlertId, AlertJournal, JournalError};
use crate::mail::AlertMail;

const PAUSE_KEY: &str = "notifications_paused_until";
const INDEFINITELY: &str = "indefinitely";

/// Whether notifications are paused. E-mails are journaled either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PauseState {
    Active,
    PausedUntil { until: DateTime<Utc> },
    PausedUntilResumed,
}

impl PauseState {
    pub fn is_paused(&self, now: DateTime<Utc>) -> bool {
        match self {
            PauseState::Active => false,
            PauseState::PausedUntil { until } => now < *until,
            PauseState::PausedUntilResumed => true,
        }
    }
}

impl AlertJournal {
    /// Pauses notifications until `until`, or until resumed when `None`.
    pub async fn pause_notifications(
        &self,
        until: Option<DateTime<Utc>>,
    ) -> Result<(), JournalError> {
        let value = until.map(ts).unwrap_or_else(|| INDEFINITELY.to_owned());
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO engine_state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![PAUSE_KEY, value],
            )
            .map(drop)
        })
        .await
    }

    pub async fn resume_notifications(&self) -> Result<(), JournalError> {
        self.call(|conn| {
            conn.execute("DELETE FROM engine_state WHERE key = ?1", params![PAUSE_KEY]).map(drop)
        })
        .await
    }

    /// The pause as stored (an expired pause reads as `PausedUntil` in the past: not paused).
    pub async fn pause_state(&self) -> Result<PauseState, JournalError> {
        let value: Option<String> = self
            .call(|conn| {
                conn.query_row(
                    "SELECT value FROM engine_state WHERE key = ?1",
                    params![PAUSE_KEY],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        Ok(match value.as_deref() {
            None => PauseState::Active,
            Some(INDEFINITELY) => PauseState::PausedUntilResumed,
            Some(t) => PauseState::PausedUntil { until: parse_ts(t.to_owned()) },
        })
    }

    /// Journals a test alert ("Send test alert"): it goes through the whole pipeline, and every
    /// text and call says it is a test. It has no mailbox identity (folder `(teste)`).
    pub async fn record_test_alert(&self, mail: AlertMail) -> Result<AlertId, JournalError> {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let now = ts(Utc::now());
            let uid: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM alerts", params![], |r| r.get(0))?;
            let id = tx.insert_id(
                "INSERT INTO alerts (folder, uidvalidity, uid, message_id, sender, subject, body, truncated,
                                     received_at, journaled_at, state, is_test)
                 VALUES ('(teste)', 0, ?1, NULL, ?2, ?3, ?4, 0, ?5, ?5, 'new', 1) RETURNING id",
                params![uid, mail.sender, mail.subject, mail.body, now],
            )?;
            tx.execute("INSERT INTO events (alert_id, at, kind, detail) VALUES (?1, ?2, 'test_alert', 'sent from Sentinela')", params![id, now])?;
            super::incidents::place_alert(&mut tx, id, &crate::incident::IncidentRules::default(), Utc::now())?;
            tx.commit()?;
            Ok(id)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse_alert_mail;

    #[tokio::test]
    async fn pause_survives_a_restart_and_a_test_alert_is_an_incident() {
        let dir = tempfile::tempdir().unwrap();
        let j = AlertJournal::open_in_dir(dir.path()).unwrap();
        assert_eq!(j.pause_state().await.unwrap(), PauseState::Active);
        let until = Utc::now() + chrono::Duration::minutes(30);
        j.pause_notifications(Some(until)).await.unwrap();
        let reopened = AlertJournal::open_in_dir(dir.path()).unwrap();
        let state = reopened.pause_state().await.unwrap();
        assert!(
            state.is_paused(Utc::now()) && !state.is_paused(until + chrono::Duration::seconds(1))
        );

        let test = j
            .record_test_alert(parse_alert_mail(b"Subject: TESTE\r\n\r\ny\r\n", false))
            .await
            .unwrap();
        let a = j.alert(test).await.unwrap().unwrap();
        assert!(a.is_test && a.incident_id.is_some(), "the test alert is an incident of its own");
        let incident = j.incident(a.incident_id.unwrap()).await.unwrap().unwrap();
        assert!(incident.test);

        j.pause_notifications(None).await.unwrap();
        assert_eq!(j.pause_state().await.unwrap(), PauseState::PausedUntilResumed);
        j.resume_notifications().await.unwrap();
        assert_eq!(j.pause_state().await.unwrap(), PauseState::Active);
    }
}
