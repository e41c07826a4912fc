//! What the daily "Sentinela ativo" message needs from the journal: a day's counts, and the
//! claim that makes it go once a day whatever restarts happen.

use super::sql::{params, Sql, SqlExt};
use chrono::{DateTime, Utc};

use super::{ts, AlertJournal, JournalError};

/// What happened between two moments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub emails: u64,
    pub incidents: u64,
    pub calls: u64,
    pub messages: u64,
    /// Incidents open now.
    pub open_now: u64,
}

const DAILY_KEY: &str = "heartbeat_daily_sent_for";

impl AlertJournal {
    /// Counts e-mails journaled, incidents opened, calls placed and WhatsApp messages sent in
    /// `[from, to)` (test incidents and dry runs excluded), and the incidents open now.
    pub async fn day_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<DayCounts, JournalError> {
        self.call(move |conn| {
            let (from, to) = (ts(from), ts(to));
            let mut count = |sql: &str| conn.query_row(sql, params![from, to], |r| r.get::<i64>(0)).map(|n| n.max(0) as u64);
            Ok(DayCounts {
                emails: count("SELECT COUNT(*) FROM alerts WHERE journaled_at >= ?1 AND journaled_at < ?2")?,
                incidents: count("SELECT COUNT(*) FROM incidents WHERE first_seen >= ?1 AND first_seen < ?2 AND is_test = 0")?,
                calls: count("SELECT COUNT(*) FROM calls WHERE created_at >= ?1 AND created_at < ?2 AND sid IS NOT NULL")?,
                messages: count("SELECT COUNT(*) FROM deliveries WHERE sent_at >= ?1 AND sent_at < ?2")?,
                open_now: conn.query_row("SELECT COUNT(*) FROM incidents WHERE state <> 'resolved' AND is_test = 0", params![], |r| r.get::<i64>(0))?.max(0) as u64,
            })
        })
        .await
    }

    /// Claims the daily message for `day` (`YYYY-MM-DD`): true for the first claim of that day
    /// only, so a restart — or a second engine on the journal — does not send it twice.
    pub async fn claim_daily_heartbeat(&self, day: String) -> Result<bool, JournalError> {
        self.call(move |conn| {
            let changed = conn.execute(
                "INSERT INTO engine_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE value < excluded.value",
                params![DAILY_KEY, day],
            )?;
            Ok(changed == 1)
        })
        .await
    }
}
