//! E-mails that matched the search but whose sender failed the exact check: never escalated,
//! left unread, and kept here with the real address and the reason — so an attack, or a
//! `[filter] from` that misses the sensor's real address, is seen in the history.

use super::sql::{params, Sql, SqlExt, SqlResult};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{parse_ts, ts, AlertJournal, JournalError, MailboxUid};

/// Migration 5.
pub(super) fn migrate_to_rejected(tx: &mut dyn Sql) -> SqlResult<()> {
    tx.execute_batch(
        "CREATE TABLE rejected_mails (
            id            INTEGER PRIMARY KEY,
            folder        TEXT    NOT NULL,
            uidvalidity   INTEGER NOT NULL,
            uid           INTEGER NOT NULL,
            sender        TEXT    NOT NULL,
            subject       TEXT    NOT NULL,
            reason        TEXT    NOT NULL,
            received_at   TEXT    NOT NULL,
            journaled_at  TEXT    NOT NULL,
            UNIQUE (folder, uidvalidity, uid)
        );",
    )
}

/// A rejected e-mail as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RejectedMail {
    pub id: i64,
    /// The real address(es) of the From header, never its display name.
    pub sender: String,
    pub subject: String,
    /// Why, in English (the sender check's words).
    pub reason: String,
    pub received_at: DateTime<Utc>,
    pub journaled_at: DateTime<Utc>,
}

impl AlertJournal {
    /// Records a rejected e-mail once per mailbox identity; true when it was new.
    pub async fn record_rejected(
        &self,
        origin: MailboxUid,
        sender: String,
        subject: String,
        reason: String,
        received_at: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        self.call(move |conn| {
            let added = conn.execute(
                "INSERT OR IGNORE INTO rejected_mails (folder, uidvalidity, uid, sender, subject, reason, received_at, journaled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![origin.folder, origin.uidvalidity, origin.uid, sender, subject, reason, ts(received_at), ts(Utc::now())],
            )?;
            Ok(added == 1)
        })
        .await
    }

    /// Which of `uids` were rejected already (they are not fetched again).
    pub async fn rejected_among(
        &self,
        folder: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> Result<Vec<u32>, JournalError> {
        let folder = folder.to_owned();
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT 1 FROM rejected_mails WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3",
            )?;
            let mut out = Vec::new();
            for uid in uids {
                if stmt.exists(params![folder, uidvalidity, uid])? {
                    out.push(uid);
                }
            }
            Ok(out)
        })
        .await
    }

    /// The newest `limit` rejected e-mails, newest first.
    pub async fn rejected_mails(&self, limit: usize) -> Result<Vec<RejectedMail>, JournalError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, sender, subject, reason, received_at, journaled_at FROM rejected_mails ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map(params![limit as i64], |r| {
                Ok(RejectedMail {
                    id: r.get(0)?,
                    sender: r.get(1)?,
                    subject: r.get(2)?,
                    reason: r.get(3)?,
                    received_at: parse_ts(r.get(4)?),
                    journaled_at: parse_ts(r.get(5)?),
                })
            })?;
            rows.collect()
        })
        .await
    }
}
