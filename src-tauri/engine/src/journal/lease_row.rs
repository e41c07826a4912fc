//! The notify side's lease as the shared journal stores it: one row (`leases`, name `notify`)
//! with its holder, an epoch bumped at every change of holder, the server's time of the last
//! renewal, and when the lease lapses.
//!
//! Storage only: `crate::lease` decides when to take, renew and give it up. Every time here is
//! the database server's clock (`clock_timestamp()`), so the workstations' clocks never matter.
//! The row is never deleted: an epoch must only grow, or a holder that resumes after a long
//! freeze could find its old epoch current again.

use super::sql::{params, Sql, SqlError, SqlResult};

/// The epoch this engine holds the lease under: every create is fenced by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseEpoch(pub i64);

/// Who notifies now: the holder of a lease that has not lapsed.
pub const WHO_NOTIFIES: &str =
    "SELECT holder FROM leases WHERE name = 'notify' AND expires_at > clock_timestamp()";

/// The row as a standby reads it: holder, epoch, lapsed, seconds since the last renewal, and
/// why the holder cannot reach Twilio (NULL: it can).
pub const READ: &str = "SELECT holder, epoch, expires_at <= clock_timestamp(),
        EXTRACT(EPOCH FROM clock_timestamp() - last_renewal)::float8, holder_twilio
    FROM leases WHERE name = 'notify'";

/// Takes the lease from epoch `$4` (0: never held), for `$3` seconds: the new epoch, or no row
/// when another engine moved it first.
pub const TAKE: &str = "INSERT INTO leases (name, holder, since, renewed_at, epoch, last_renewal, expires_at)
    VALUES ('notify', $1, $2, $2, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => $3::float8))
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, since = excluded.since, renewed_at = excluded.renewed_at,
        epoch = leases.epoch + 1, last_renewal = excluded.last_renewal, expires_at = excluded.expires_at, holder_twilio = NULL
    WHERE leases.epoch = $4
    RETURNING epoch";

/// Renews epoch `$1` for `$2` seconds, if it has not lapsed: the session's server process (the
/// same at every renewal, unless a pooler hands the session around), or no row when it is lost.
pub const RENEW: &str = "UPDATE leases SET last_renewal = clock_timestamp(),
        expires_at = clock_timestamp() + make_interval(secs => $2::float8), renewed_at = $3
    WHERE name = 'notify' AND epoch = $1 AND expires_at > clock_timestamp()
    RETURNING pg_backend_pid()";

/// The holder of epoch `$1` says why it cannot reach Twilio (`$2`; NULL: it can again): a standby
/// that reaches Twilio then takes the lease over.
pub const SAY_TWILIO: &str = "UPDATE leases SET holder_twilio = $2 WHERE name = 'notify' AND epoch = $1 AND holder_twilio IS DISTINCT FROM $2";

/// Gives epoch `$1` up at once (announced: `holder` is set, so the trigger fires).
pub const RELEASE: &str = "UPDATE leases SET holder = holder, expires_at = clock_timestamp() WHERE name = 'notify' AND epoch = $1";

/// Whether epoch `$1` still holds, its row share-locked until the end of the transaction: a
/// takeover (an UPDATE of the row) waits for the transaction that asked, so an intent committed
/// under an epoch is committed before that epoch can end.
pub const FENCE: &str = "SELECT 1 FROM leases WHERE name = 'notify' AND epoch = $1 AND expires_at > clock_timestamp() FOR SHARE";

/// In the transaction `tx` that records an intent to create (a message, a call): an error unless
/// `epoch` still holds the lease.
pub fn fence(tx: &mut dyn Sql, epoch: LeaseEpoch) -> SqlResult<()> {
    if !tx.rows(FENCE, params![epoch.0])?.is_empty() {
        Ok(())
    } else {
        Err(SqlError::NotTheNotifier { epoch: epoch.0 })
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::journal::test_postgres::TestPostgres;
    use crate::journal::JournalError;

    fn refused(e: &JournalError, at: i64) -> bool {
        matches!(e, JournalError::Sql(SqlError::NotTheNotifier { epoch }) if *epoch == at)
    }

    #[tokio::test]
    async fn an_intent_commits_only_while_its_epoch_holds() {
        let pg = TestPostgres::start();
        let journal = pg.journal().await;
        pg.query("INSERT INTO leases (name, holder, since, renewed_at, epoch, expires_at) VALUES ('notify', 'NOC-01', '', '', 7, clock_timestamp() + interval '1 minute')");
        let holder = journal.fenced(LeaseEpoch(7));
        holder.call_intent(0, 0, "+5511988880001", vec![], vec![]).await.expect("epoch 7 holds");

        // Another workstation took over: nothing more is recorded under epoch 7.
        pg.query("UPDATE leases SET holder = 'NOC-02', epoch = 8");
        let e = holder.call_intent(0, 0, "+5511988880002", vec![], vec![]).await.unwrap_err();
        assert!(refused(&e, 7), "{e}");
        let e = holder.delivery_intent(1).await.unwrap_err();
        assert!(refused(&e, 7), "{e}");
        // A lapsed epoch is no better, even unmoved.
        pg.query("UPDATE leases SET expires_at = clock_timestamp() - interval '1 second'");
        let e = journal
            .fenced(LeaseEpoch(8))
            .call_intent(0, 0, "+5511988880002", vec![], vec![])
            .await
            .unwrap_err();
        assert!(refused(&e, 8), "{e}");
        assert_eq!(
            pg.query("SELECT string_agg(number, ',') FROM calls"),
            ["+5511988880001"],
            "only the intent under a live epoch"
        );
    }

    #[tokio::test]
    async fn a_takeover_waits_for_the_intent_that_checked_the_fence() {
        let pg = TestPostgres::start();
        pg.journal().await;
        pg.query("INSERT INTO leases (name, holder, since, renewed_at, epoch, expires_at) VALUES ('notify', 'NOC-01', '', '', 7, clock_timestamp() + interval '1 minute')");
        let shared = pg.shared("test");
        let ((holder, _), (standby, _)) =
            (shared.connect_async().await.unwrap(), shared.connect_async().await.unwrap());
        holder.batch_execute("BEGIN").await.unwrap();
        assert!(holder.query_opt(FENCE, &[&7i64]).await.unwrap().is_some());
        // The holder's intent is not committed yet: the takeover cannot pass it.
        standby.batch_execute("SET lock_timeout = 300").await.unwrap();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&"NOC-02", &"", &10.0f64, &7i64];
        let blocked = standby.query_opt(TAKE, &params).await.unwrap_err();
        assert_eq!(
            blocked.code(),
            Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE),
            "{blocked}"
        );
        holder.batch_execute("COMMIT").await.unwrap();
        let epoch: i64 = standby
            .query_opt(TAKE, &params)
            .await
            .unwrap()
            .expect("taken once the intent committed")
            .get(0);
        assert_eq!(epoch, 8);
        assert!(holder.query_opt(FENCE, &[&7i64]).await.unwrap().is_none(), "epoch 7 is over");
    }
}
