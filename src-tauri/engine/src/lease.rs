//! One notifier at a time on a shared journal: the notify side's lease.
//!
//! Every Sentinela on a shared journal watches the mailbox; only the holder of this lease sends
//! WhatsApp messages, places calls and reads replies. The lease is a PostgreSQL session-level
//! advisory lock ([`LEASE_LOCK`]) held by a connection of its own, so the database, not a clock,
//! says who holds it: the server lets it go the moment the holder's session ends — a process
//! killed (the kernel closes its socket), or a machine gone silent (the server's TCP keepalive,
//! set to give up after [`SERVER_GIVES_UP`]). A standby tries for it every [`TRY_EVERY`].
//!
//! The holder checks its connection every [`CHECK_EVERY`], each check answered within
//! [`CHECK_TIMEOUT`] or the lease counts as lost and the notify side stops at once. The last
//! check the server answered is at most `CHECK_EVERY + CHECK_TIMEOUT` (5 s) before the holder
//! stops, and the server releases the lock no sooner than [`SERVER_GIVES_UP`] (9 s) after the
//! last traffic: a holder cut off stops before anyone else can start.
//!
//! And before each create (a message, a call), the holder asks the database whether its session
//! still holds the lock ([`LeaseFence`]): a holder that wakes from sleep or is cut off while a
//! manager is about to send cannot send, even in the seconds before its next check.
//!
//! The new holder's notify side resumes from the journal: a call placed by the old holder is
//! followed, not placed again (see `docs/shared-journal.md` for the one window of a duplicate).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::events::{EngineEvent, EventBus, NotifierState};
use crate::journal::postgres::{SharedJournal, LEASE_LOCK};
use crate::shutdown::{self, Shutdown};
use crate::twilio::CreateFence;

/// How often a standby asks for the lease.
pub const TRY_EVERY: Duration = Duration::from_secs(2);
/// How often the holder checks that its session lives.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// How long a check may take before the lease counts as lost.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// After this long without a word from a holder, the server ends its session (and the lease):
/// keepalive after 3 s idle, then 3 probes 2 s apart.
pub const SERVER_GIVES_UP: Duration = Duration::from_secs(9);

/// The notify side while this engine holds the lease: started by the caller's `start`, stopped
/// by firing its trigger.
struct NotifySide {
    trigger: shutdown::ShutdownTrigger,
    tasks: JoinSet<()>,
}

impl NotifySide {
    async fn stop(mut self, grace: Duration) {
        self.trigger.fire();
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all_done).await.is_err() {
            warn!("lease: the notify side did not stop within {} s; aborting it", grace.as_secs());
            self.tasks.abort_all();
        }
    }
}

/// `ask`'s answer within [`CHECK_TIMEOUT`], or why there is none: an error, or `who` silent.
/// Every question about the lease is bounded so: a database that went quiet is a lease in doubt.
async fn within_check<T>(who: &str, ask: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, ask).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("{who} did not answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

/// Asks the lease's own session, before each create, whether it still holds the lock.
struct LeaseFence {
    client: Arc<tokio_postgres::Client>,
}

impl CreateFence for LeaseFence {
    fn confirm(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            let (class, obj) = lock_parts();
            let (class, obj) = (class as u32, obj as u32);
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&class, &obj];
            let ask = self.client.query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 1)",
                &params,
            );
            match within_check("the database, asked to confirm the lease,", ask).await? {
                row if row.get::<_, bool>(0) => Ok(()),
                _ => Err("the lease is no longer this session's".into()),
            }
        })
    }
}

/// Holds the lease whenever it can and runs the notify side while it does.
#[derive(Clone)]
pub struct NotifierLease {
    shared: Arc<SharedJournal>,
    workstation: String,
    events: EventBus,
}

/// Who notifies, as the database says: the lease row's holder, if its lock is held — in this
/// database: advisory locks are per database, and another team's Sentinela on the same server
/// holds the same key in its own.
const WHO_NOTIFIES: &str = "SELECT (SELECT holder FROM leases WHERE name = 'notify'),
    EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 1
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))";

pub(crate) fn lock_parts() -> (i64, i64) {
    // pg_locks shows a bigint advisory key as two oids: its high and low 32 bits.
    ((LEASE_LOCK >> 32) & 0xFFFF_FFFF, LEASE_LOCK & 0xFFFF_FFFF)
}

/// Who holds the lease now (None: nobody notifies), read on any connection.
pub async fn who_notifies(client: &tokio_postgres::Client) -> Result<Option<String>, tokio_postgres::Error> {
    let (class, obj) = lock_parts();
    let row = client.query_one(WHO_NOTIFIES, &[&(class as u32), &(obj as u32)]).await?;
    Ok(row.get::<_, bool>(1).then(|| row.get::<_, Option<String>>(0)).flatten())
}

impl NotifierLease {
    pub fn new(shared: Arc<SharedJournal>, workstation: String, events: EventBus) -> Self {
        NotifierLease { shared, workstation, events }
    }

    fn tell(&self, state: NotifierState) {
        self.events.emit(EngineEvent::Notifier(state));
    }

    /// Until `shutdown`: waits for the lease, runs the notify side `start` makes while it is
    /// held, stops it the moment the lease is in doubt, and tries again.
    pub async fn run(self, start: impl Fn(Shutdown, Arc<dyn CreateFence>) -> JoinSet<()>, mut shutdown: Shutdown) {
        let mut last_said: Option<NotifierState> = None;
        let mut say = |lease: &Self, state: NotifierState| {
            if last_said.as_ref() != Some(&state) {
                lease.tell(state.clone());
                last_said = Some(state);
            }
        };
        loop {
            let held = tokio::select! {
                h = self.until_held(&mut say) => h,
                _ = shutdown.recv() => return,
            };
            let Some(client) = held.map(Arc::new) else {
                tokio::select! {
                    _ = tokio::time::sleep(TRY_EVERY) => continue,
                    _ = shutdown.recv() => return,
                }
            };
            info!(workstation = %self.workstation, "lease: this workstation notifies now");
            say(&self, NotifierState::ThisWorkstation { name: self.workstation.clone() });
            let (trigger, listener) = shutdown::channel();
            let fence = Arc::new(LeaseFence { client: Arc::clone(&client) });
            let side = NotifySide { tasks: start(listener, fence), trigger };
            let lost = tokio::select! {
                reason = Self::while_held(&client) => Some(reason),
                _ = shutdown.recv() => None,
            };
            side.stop(Duration::from_secs(10)).await;
            match lost {
                Some(reason) => {
                    warn!("lease: lost ({reason}); the notify side stopped, trying again");
                    say(&self, NotifierState::Unknown { reason });
                }
                None => {
                    // Let the next engine take over at once rather than after a timeout.
                    let _ = tokio::time::timeout(CHECK_TIMEOUT, client.batch_execute("DELETE FROM leases WHERE name = 'notify'")).await;
                    return;
                }
            }
        }
    }

    /// Connects and asks for the lease every [`TRY_EVERY`] until it is this engine's; None after
    /// a connection failure (said, and tried again by the caller).
    async fn until_held(&self, say: &mut impl FnMut(&Self, NotifierState)) -> Option<tokio_postgres::Client> {
        let (client, _notes) = match self.shared.connect_async().await {
            Ok(c) => c,
            Err(e) => {
                say(self, NotifierState::Unknown { reason: format!("{}: {e}", self.shared.target()) });
                return None;
            }
        };
        // The server gives up on this session after SERVER_GIVES_UP without an answer from us,
        // and with it the lease: another workstation can then take over.
        let keepalive = "SET tcp_keepalives_idle = 3; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 9000";
        if let Err(e) = client.batch_execute(keepalive).await {
            say(self, NotifierState::Unknown { reason: e.to_string() });
            return None;
        }
        let (class, obj) = lock_parts();
        // Prepared once per session: a standby asks every 2 s for as long as the holder lives.
        let statements = async { Ok::<_, tokio_postgres::Error>((client.prepare("SELECT pg_try_advisory_lock($1)").await?, client.prepare(WHO_NOTIFIES).await?)) };
        let (try_lock, who) = match within_check(self.shared.target(), statements).await {
            Ok(s) => s,
            Err(reason) => {
                say(self, NotifierState::Unknown { reason });
                return None;
            }
        };
        loop {
            let attempt = async {
                let got: bool = client.query_one(&try_lock, &[&LEASE_LOCK]).await?.get(0);
                if got {
                    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    client
                        .execute(
                            "INSERT INTO leases (name, holder, since, renewed_at) VALUES ('notify', $1, $2, $2)
                             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, since = excluded.since, renewed_at = excluded.renewed_at",
                            &[&self.workstation, &now],
                        )
                        .await?;
                    return Ok(None);
                }
                let row = client.query_one(&who, &[&(class as u32), &(obj as u32)]).await?;
                Ok::<_, tokio_postgres::Error>(Some(row.get::<_, bool>(1).then(|| row.get::<_, Option<String>>(0)).flatten()))
            };
            match within_check(self.shared.target(), attempt).await {
                Ok(None) => return Some(client),
                Ok(Some(holder)) => say(self, match holder {
                    Some(name) => NotifierState::Elsewhere { name },
                    None => NotifierState::Nobody,
                }),
                Err(reason) => {
                    say(self, NotifierState::Unknown { reason });
                    return None;
                }
            }
            tokio::time::sleep(TRY_EVERY).await;
        }
    }

    /// Returns why the lease is in doubt: a check that failed or did not answer in time.
    async fn while_held(client: &tokio_postgres::Client) -> String {
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            if let Err(reason) = within_check("the database, asked whether the lease holds,", client.simple_query("SELECT 1")).await {
                return reason;
            }
        }
    }
}
