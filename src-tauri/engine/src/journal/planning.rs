//! What the planner reads and writes, as storage: one transaction ([`PlanTx`]) with a method per
//! question or change, and no decision of its own. The planner ([`crate::notify::planner`])
//! decides who is told what and when; this module only knows where that lives.
//!
//! A planning pass is one transaction: the timeline lines it reads are marked planned in the same
//! transaction that writes what they owe, so a crash loses nothing and plans nothing twice.

use chrono::{DateTime, Utc};

use super::incidents::{log, summary, STOP_ESCALATION};
use super::sql::{params, OptionalExtension, Sql, SqlExt, SqlResult, Tx};
use super::{parse_ts, ts, AlertJournal, IncidentSummary, JournalError};
use crate::incident::{IncidentEventKind, IncidentId, MessagePurpose};
use crate::model::Channel;

/// One unplanned line of an incident's timeline.
#[derive(Debug, Clone)]
pub struct TimelineLine {
    pub line: i64,
    pub incident: IncidentId,
    pub kind: IncidentEventKind,
    pub detail: String,
}

/// A taken incident, as re-escalation sees it.
#[derive(Debug, Clone)]
pub struct TakenIncident {
    pub id: IncidentId,
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

/// A message the planner owes someone.
#[derive(Debug, Clone)]
pub struct OwedMessage<'a> {
    pub incident: IncidentId,
    pub purpose: MessagePurpose,
    pub recipient: &'a str,
    pub channel: Channel,
    pub headline: &'a str,
    pub text: &'a str,
    /// Held back by the flood limit until its digest is due; None: sent now.
    pub digest_due: Option<DateTime<Utc>>,
}

/// A message held for a digest whose time has come.
#[derive(Debug, Clone)]
pub struct GatheredMessage {
    pub id: i64,
    pub recipient: String,
    pub incident: Option<IncidentId>,
    pub purpose: MessagePurpose,
    pub headline: String,
    pub channel: Channel,
}

/// When a person's alarm messages went out inside the flood window, and their last digest.
pub type FloodHistory = (Vec<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The planner's transaction.
pub struct PlanTx<'a, 'c> {
    tx: &'a mut Tx<'c>,
}

impl AlertJournal {
    /// Runs `plan` in one transaction, committed when it returns Ok.
    pub async fn planning<R, F>(&self, plan: F) -> Result<R, JournalError>
    where
        R: Send + 'static,
        F: FnOnce(&mut PlanTx<'_, '_>) -> SqlResult<R> + Send + 'static,
    {
        self.call(move |conn| {
            let mut tx = conn.transaction()?;
            let result = plan(&mut PlanTx { tx: &mut tx })?;
            tx.commit()?;
            Ok(result)
        })
        .await
    }
}

impl PlanTx<'_, '_> {
    /// Incidents held by a pause and not released yet.
    pub fn held_incidents(&mut self) -> SqlResult<Vec<IncidentId>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id FROM incidents WHERE held_since IS NOT NULL AND released_at IS NULL",
        )?;
        let rows = stmt.query_map(params![], |r| r.get(0))?;
        rows.collect()
    }

    /// The pause that held `id` is over: its release joins the timeline.
    pub fn release(&mut self, id: IncidentId, now: DateTime<Utc>) -> SqlResult<()> {
        let at = ts(now);
        self.tx.execute("UPDATE incidents SET released_at = ?2 WHERE id = ?1", params![id, at])?;
        log(self.tx, id, IncidentEventKind::Released, None, "", &at, false)
    }

    /// Incidents taken at or before `cutoff`.
    pub fn taken_before(&mut self, cutoff: DateTime<Utc>) -> SqlResult<Vec<TakenIncident>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, acknowledged_by, acknowledged_at FROM incidents WHERE state = 'acknowledged' AND acknowledged_at <= ?1",
        )?;
        let rows = stmt.query_map(params![ts(cutoff)], |r| {
            Ok(TakenIncident { id: r.get(0)?, by: r.get(1)?, at: parse_ts(r.get(2)?) })
        })?;
        rows.collect()
    }

    /// When the incident taken longest ago was taken.
    pub fn first_taken_at(&mut self) -> SqlResult<Option<DateTime<Utc>>> {
        let first: Option<String> = self.tx.query_row(
            "SELECT MIN(acknowledged_at) FROM incidents WHERE state = 'acknowledged'",
            params![],
            |r| r.get(0),
        )?;
        Ok(first.map(parse_ts))
    }

    /// A taken incident is open again, for everyone; `detail` says why on its timeline.
    pub fn reopen_taken(
        &mut self,
        id: IncidentId,
        detail: &str,
        now: DateTime<Utc>,
    ) -> SqlResult<()> {
        self.tx.execute("UPDATE incidents SET state = 'open' WHERE id = ?1", params![id])?;
        log(self.tx, id, IncidentEventKind::Reescalated, None, detail, &ts(now), false)
    }

    /// The oldest unplanned lines of the timeline, at most `limit`.
    pub fn unplanned_lines(&mut self, limit: i64) -> SqlResult<Vec<TimelineLine>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, incident_id, kind, detail FROM incident_log WHERE planned = 0 ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], |r| {
            Ok(TimelineLine {
                line: r.get(0)?,
                incident: r.get(1)?,
                kind: r.get(2)?,
                detail: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    /// The line is planned: never planned again.
    pub fn mark_planned(&mut self, line: i64) -> SqlResult<()> {
        self.tx
            .execute("UPDATE incident_log SET planned = 1 WHERE id = ?1", params![line])
            .map(drop)
    }

    pub fn summary(&mut self, id: IncidentId) -> SqlResult<IncidentSummary> {
        summary(self.tx, id)
    }

    /// When the team was last told of `id` (an alarm, a reminder, a re-escalation).
    pub fn last_told_at(&mut self, id: IncidentId) -> SqlResult<Option<DateTime<Utc>>> {
        let at: Option<String> = self.tx.query_row(
            "SELECT last_told_at FROM incidents WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        Ok(at.map(parse_ts))
    }

    /// The team was told of `id` now.
    pub fn mark_told(&mut self, id: IncidentId, now: DateTime<Utc>) -> SqlResult<()> {
        self.tx
            .execute("UPDATE incidents SET last_told_at = ?2 WHERE id = ?1", params![id, ts(now)])
            .map(drop)
    }

    /// `id` waits for the pause to end (said once on its timeline, already planned).
    pub fn hold(&mut self, id: IncidentId, now: DateTime<Utc>) -> SqlResult<()> {
        let at = ts(now);
        self.tx.execute(
            "UPDATE incidents SET held_since = COALESCE(held_since, ?2), released_at = NULL WHERE id = ?1",
            params![id, at],
        )?;
        log(self.tx, id, IncidentEventKind::Held, None, "", &at, true)
    }

    /// Messages of `id` not sent yet are not sent, and its calls stop.
    pub fn cancel_unsent(&mut self, id: IncidentId, now: DateTime<Utc>) -> SqlResult<()> {
        self.tx.execute(
            "UPDATE deliveries SET state = 'canceled', updated_at = ?2 WHERE incident_id = ?1 AND state IN ('pending', 'gathered')",
            params![id, ts(now)],
        )?;
        self.tx
            .execute(&format!("UPDATE incidents SET {STOP_ESCALATION} WHERE id = ?1"), params![id])
            .map(drop)
    }

    /// The subject and body of the newest e-mail placed in `id`.
    pub fn latest_mail(&mut self, id: IncidentId) -> SqlResult<Option<(String, String)>> {
        self.tx
            .query_row(
                "SELECT a.subject, a.body FROM incidents i JOIN alerts a ON a.id = i.latest_alert_id WHERE i.id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
    }

    /// The number whose answer or reply took `id`, if a number did.
    pub fn taker_number(&mut self, id: IncidentId) -> SqlResult<Option<String>> {
        self.tx.query_row(
            "SELECT acknowledged_number FROM incidents WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
    }

    /// Who was sent `id`'s alarm (directly, or in a digest), so they hear how it ends.
    pub fn who_got_the_alarm(&mut self, id: IncidentId) -> SqlResult<Vec<String>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT DISTINCT recipient FROM deliveries WHERE incident_id = ?1 AND purpose IN ('alarm', 'legacy')
             AND state NOT IN ('pending', 'gathered', 'canceled', 'error') ORDER BY recipient",
        )?;
        let rows = stmt.query_map(params![id], |r| r.get(0))?;
        rows.collect()
    }

    /// Whether `recipient` was sent `id`'s alarm in a message of its own.
    pub fn got_it_alone(&mut self, id: IncidentId, recipient: &str) -> SqlResult<bool> {
        self.tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM deliveries WHERE incident_id = ?1 AND recipient = ?2 AND purpose IN ('alarm', 'legacy')
                            AND state NOT IN ('pending', 'gathered', 'digested', 'canceled', 'error'))",
            params![id, recipient],
            |r| r.get(0),
        )
    }

    /// The times of `recipient`'s alarm messages (alarms, reminders, came-backs) since `since`,
    /// and their last digest.
    pub fn flood_history(
        &mut self,
        recipient: &str,
        since: DateTime<Utc>,
    ) -> SqlResult<FloodHistory> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT created_at FROM deliveries WHERE recipient = ?1 AND created_at >= ?2 AND purpose IN ('alarm', 'reminder', 'reopened')
             AND state NOT IN ('gathered', 'digested', 'canceled')",
        )?;
        let sent = stmt
            .query_map(params![recipient, ts(since)], |r| Ok(parse_ts(r.get(0)?)))?
            .collect::<SqlResult<Vec<_>>>()?;
        let last_digest: Option<String> = self.tx.query_row(
            "SELECT MAX(created_at) FROM deliveries WHERE recipient = ?1 AND purpose = 'digest'",
            params![recipient],
            |r| r.get(0),
        )?;
        Ok((sent, last_digest.map(parse_ts)))
    }

    /// Writes a message owed: `pending` (sent by the dispatcher), or `gathered` for its digest.
    pub fn owe_message(&mut self, m: OwedMessage<'_>, now: DateTime<Utc>) -> SqlResult<()> {
        let state = if m.digest_due.is_some() { "gathered" } else { "pending" };
        self.tx.execute(
            "INSERT INTO deliveries (incident_id, purpose, recipient, headline, detail, state, due_at, created_at, updated_at, channel)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
            params![m.incident, m.purpose, m.recipient, m.headline, m.text, state, m.digest_due.map(ts), ts(now), m.channel],
        )
        .map(drop)
    }

    /// Calls are owed for `id` from now, if it is still open. Whether they were.
    pub fn owe_escalation(&mut self, id: IncidentId) -> SqlResult<bool> {
        let owed = self.tx.execute(
            "UPDATE incidents SET escalation = 'owed', calls_spoken = 0 WHERE id = ?1 AND state = 'open'",
            params![id],
        )?;
        Ok(owed > 0)
    }

    /// Every message gathered for a recipient one of whose digests is due at `now`, by
    /// recipient then age.
    pub fn gathered_for_due_digests(
        &mut self,
        now: DateTime<Utc>,
    ) -> SqlResult<Vec<GatheredMessage>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, recipient, incident_id, purpose, headline, channel FROM deliveries WHERE state = 'gathered' AND recipient IN
               (SELECT recipient FROM deliveries WHERE state = 'gathered' AND due_at <= ?1)
             ORDER BY recipient, id",
        )?;
        let rows = stmt.query_map(params![ts(now)], |r| {
            Ok(GatheredMessage {
                id: r.get(0)?,
                recipient: r.get(1)?,
                incident: r.get(2)?,
                purpose: r.get(3)?,
                headline: r.get(4)?,
                channel: r.get(5)?,
            })
        })?;
        rows.collect()
    }

    /// Writes one digest owed to `recipient`, made of the `gathered` messages.
    pub fn owe_digest(
        &mut self,
        recipient: &str,
        channel: Channel,
        headline: &str,
        text: &str,
        gathered: &[i64],
        now: DateTime<Utc>,
    ) -> SqlResult<()> {
        let at = ts(now);
        let digest = self.tx.insert_id(
            "INSERT INTO deliveries (incident_id, purpose, recipient, headline, detail, state, created_at, updated_at, channel)
             VALUES (NULL, 'digest', ?1, ?2, ?3, 'pending', ?4, ?4, ?5) RETURNING id",
            params![recipient, headline, text, at, channel],
        )?;
        for id in gathered {
            self.tx.execute(
                "UPDATE deliveries SET state = 'digested', digest_id = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, digest, at],
            )?;
        }
        Ok(())
    }

    /// When the next digest is due, if any message waits for one.
    pub fn next_digest_due(&mut self) -> SqlResult<Option<DateTime<Utc>>> {
        let due: Option<String> = self.tx.query_row(
            "SELECT MIN(due_at) FROM deliveries WHERE state = 'gathered'",
            params![],
            |r| r.get(0),
        )?;
        Ok(due.map(parse_ts))
    }
}

#[cfg(test)]
mod tests {
    use super::super::sql::SqlExt;
    use super::*;

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
}
