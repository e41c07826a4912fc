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
pub const WHO_NOTIFIES: &str = "SELECT holder FROM leases WHERE name = 'notify' AND expires_at > clock_timestamp()";

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
