//! Keeping the journal's growth bounded (`[history] keep_days`): the e-mail bodies and message
//! texts of incidents resolved before a cutoff are emptied, while the incidents, their e-mails'
//! senders and subjects, who was told and called, and their timelines stay. The search index
//! follows (its triggers index the emptied e-mails again, without their bodies).
//!
//! A pass works in small batches, each its own transaction, so an alert arriving meanwhile waits
//! for one batch at most, never for a year of history. It remembers where the oldest incident
//! still not prunable sits, so the next pass starts there instead of walking the whole history
//! again.

use chrono::{DateTime, Utc};

use super::sql::{params, OptionalExtension, Sql, SqlExt};
use super::{ts, AlertJournal, JournalError};
use crate::incident::{IncidentId, IncidentState};

/// Incidents looked at per transaction.
const BATCH: i64 = 500;
/// Where the next pass starts: incidents at or below it have been pruned already.
const CURSOR_KEY: &str = "history_pruned_through";

/// What one pass emptied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PruneReport {
    pub emails: u64,
    pub messages: u64,
}

impl AlertJournal {
    /// Empties the bodies of the e-mails and the texts of the messages of every incident
    /// resolved before `cutoff`.
    pub async fn prune_resolved_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<PruneReport, JournalError> {
        let mut report = PruneReport::default();
        let mut from: IncidentId = self
            .call(|conn| {
                conn.query_row(
                    "SELECT value FROM engine_state WHERE key = ?1",
                    params![CURSOR_KEY],
                    |r| r.get::<String>(0),
                )
                .optional()
                .map(|v| v.and_then(|v| v.parse().ok()).unwrap_or(0))
            })
            .await?;
        // Every incident below `from` is pruned; this pass may move it up to just before the
        // oldest one it had to leave (still open, or resolved after the cutoff).
        let mut first_left: Option<IncidentId> = None;
        loop {
            let cut = ts(cutoff);
            let (batch, emails, messages, left) = self
                .call(move |conn| {
                    let mut tx = conn.transaction()?;
                    let rows = tx.rows(
                        "SELECT id, state, resolved_at FROM incidents WHERE id > ?1 AND first_seen < ?2 ORDER BY id LIMIT ?3",
                        params![from, cut, BATCH],
                    )?;
                    let (mut emails, mut messages, mut left, mut last) = (0u64, 0u64, None, None);
                    for row in &rows {
                        let (id, state, resolved_at): (IncidentId, IncidentState, Option<String>) = (row.get(0)?, row.get(1)?, row.get(2)?);
                        last = Some(id);
                        if state != IncidentState::Resolved || resolved_at.as_deref().is_none_or(|at| at >= cut.as_str()) {
                            left.get_or_insert(id);
                            continue;
                        }
                        emails += tx.execute("UPDATE alerts SET body = '' WHERE incident_id = ?1 AND body <> ''", params![id])? as u64;
                        messages += tx.execute("UPDATE deliveries SET detail = '' WHERE incident_id = ?1 AND detail <> ''", params![id])? as u64;
                    }
                    tx.commit()?;
                    Ok((last, emails, messages, left))
                })
                .await?;
            report.emails += emails;
            report.messages += messages;
            if first_left.is_none() {
                first_left = left;
            }
            match batch {
                Some(last) => from = last,
                None => break,
            }
        }
        // Next time, from just before the oldest incident left (or from where this pass ended).
        let through = first_left.map_or(from, |id| id - 1);
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO engine_state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![CURSOR_KEY, through.to_string()],
            )
            .map(drop)
        })
        .await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{IncidentRules, ResolveVia};
    use crate::journal::{IncidentQuery, MailboxUid, NewAlert};
    use crate::mail::parse_alert_mail;
    use crate::notify::planner::{plan, PlanPolicy};

    async fn incident(j: &AlertJournal, uid: u32, subject: &str, body: &str) -> IncidentId {
        let raw = format!(
            "From: s@cpd\r\nSubject: {subject}\r\nMessage-ID: <p{uid}@x>\r\n\r\n{body}\r\n"
        );
        let alert = NewAlert {
            origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 1, uid },
            mail: parse_alert_mail(raw.as_bytes(), false),
            received_at: Utc::now(),
        };
        j.record(vec![alert], &IncidentRules::default()).await.unwrap();
        plan(j, PlanPolicy::plain(&["+5511999990001"])).await.unwrap();
        j.incidents(1, None, false).await.unwrap()[0].id
    }

    async fn found(j: &AlertJournal, text: &str) -> usize {
        j.find_incidents(IncidentQuery { text: text.into(), ..Default::default() })
            .await
            .unwrap()
            .len()
    }

    journal_test!(async fn only_what_was_resolved_before_the_cutoff_loses_its_texts(j) {
        let old = incident(&j, 1, "ALERTA Temperatura sala 1", "leitura antiga 41 graus").await;
        let still_open = incident(&j, 2, "ALERTA Umidade sala 2", "leitura aberta 90 por cento").await;
        let recent = incident(&j, 3, "ALERTA Fumaça sala 3", "leitura recente detector").await;
        j.resolve(old, None, ResolveVia::Desktop).await.unwrap();
        j.resolve(recent, None, ResolveVia::Desktop).await.unwrap();
        // `old` and `still_open` began 400 days ago; `old` was resolved then too.
        let long_ago = ts(Utc::now() - chrono::Duration::days(400));
        j.call(move |conn| {
            conn.execute("UPDATE incidents SET first_seen = ?2, resolved_at = ?2 WHERE id = ?1", params![old, long_ago])?;
            conn.execute("UPDATE incidents SET first_seen = ?2 WHERE id = ?1", params![still_open, long_ago])
        })
        .await
        .unwrap();
        assert_eq!(found(&j, "antiga").await, 1);

        let cutoff = Utc::now() - chrono::Duration::days(365);
        let report = j.prune_resolved_before(cutoff).await.unwrap();
        assert_eq!(report.emails, 1);
        assert!(report.messages >= 1, "{report:?}");
        let detail = j.incident_detail(old).await.unwrap().unwrap();
        assert_eq!(detail.emails[0].body, "", "the body is gone");
        assert_eq!(detail.emails[0].subject, "ALERTA Temperatura sala 1", "the subject stays");
        assert!(detail.whatsapp.iter().all(|d| d.detail.is_empty() && !d.headline.is_empty()), "{:?}", detail.whatsapp);
        assert!(!detail.log.is_empty(), "the timeline stays");
        assert_eq!(found(&j, "antiga").await, 0, "the search no longer finds the body");
        assert_eq!(found(&j, "temperatura sala").await, 1, "but finds the subject");
        for kept in [still_open, recent] {
            let d = j.incident_detail(kept).await.unwrap().unwrap();
            assert!(d.emails[0].body.starts_with("leitura"), "{kept}: {:?}", d.emails[0]);
        }
        assert_eq!(j.prune_resolved_before(cutoff).await.unwrap(), PruneReport::default(), "a second pass has nothing to do");

        // The open one, resolved long ago at last, is pruned by the next pass: the pass before
        // remembered it.
        let long_ago = ts(Utc::now() - chrono::Duration::days(399));
        j.call(move |conn| conn.execute("UPDATE incidents SET state = 'resolved', resolved_at = ?2 WHERE id = ?1", params![still_open, long_ago]).map(drop))
            .await
            .unwrap();
        assert_eq!(j.prune_resolved_before(cutoff).await.unwrap().emails, 1);
        assert_eq!(j.incident_detail(still_open).await.unwrap().unwrap().emails[0].body, "");
    });
}
