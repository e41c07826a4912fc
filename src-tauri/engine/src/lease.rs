//! One notifier at a time on a shared journal: the notify side's lease.
//!
//! Every Sentinela on a shared journal watches the mailbox; only the holder of this lease sends
//! WhatsApp messages, places calls and reads replies. The lease is a row of the journal
//! ([`lease_row`]): a holder, an epoch, and when it lapses, on the database server's clock.
//!
//! - **Renewed by progress, not by a clock alone.** The holder renews every [`RENEW_EVERY`] for
//!   [`LEASE_TTL`], and only while every watched manager of its notify side (the planner, the
//!   WhatsApp sender, the call queue) has shown progress within [`STALL_LIMIT`]
//!   ([`crate::notify::progress`]). A process that hangs without dying — stopped, in a debugger,
//!   a frozen VM whose network stays up — renews nothing, and its lease lapses; a live process
//!   whose notify side is stuck gives its lease up and says why.
//! - **Taken when it lapses.** A standby reads the row every [`TRY_EVERY`] and takes a lapsed
//!   lease even while the old holder's session is still connected, ending that session where
//!   its database role may (`pg_terminate_backend`).
//! - **Ended with its session.** The holder of epoch N also holds the two-key advisory lock
//!   ([`LEASE_LIVENESS_CLASS`], N) on its lease session: a holder killed (its socket closed) or
//!   gone silent (the server's keepalive gives up after [`SERVER_GIVES_UP`]) frees it, and a
//!   standby takes over then rather than at the lapse.
//! - **Fenced.** Every intent to create is committed in a transaction that share-locks the row
//!   and checks the epoch ([`lease_row::fence`]), and [`LeaseFence`] asks again just before each
//!   Twilio request: a holder that resumes after its lease moved creates nothing, journals that
//!   it lost the lease and becomes a standby. The new holder resumes from the journal what the old
//!   one had in flight, as after a kill: a call placed is followed, not placed again.
//!
//! The bounds, from these constants: a holder frozen is replaced within `LEASE_TTL + TRY_EVERY`
//! (12 s) of its last renewal; a holder whose notify side is stuck gives the lease up
//! `STALL_LIMIT` (20 s) after the stuck manager's last sign of progress, and is replaced within
//! `TRY_EVERY` of that; a holder killed, within `TRY_EVERY` (2 s).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::events::{EngineEvent, EventBus, NotifierState};
use crate::health::WatchAlarm;
use crate::journal::lease_row::{self, LeaseEpoch};
use crate::journal::postgres::{SharedJournal, LEASE_LIVENESS_CLASS};
use crate::journal::AlertJournal;
use crate::notify::progress::{Stall, STALL_LIMIT};
use crate::notify::NotifyProgress;
use crate::shutdown::{self, Shutdown};
use crate::twilio::{CreateFence, TwilioClient};

/// How often a standby reads the lease.
pub const TRY_EVERY: Duration = Duration::from_secs(2);
/// How often the holder renews it.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);
/// How long a renewal holds: five renewals, so that a slow database or one lost round trip does
/// not hand the lease over, while a frozen holder is replaced within seconds.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How long any question about the lease may take before the answer counts as lost.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// After this long without a word from a holder, the server ends its session:
/// keepalive after 3 s idle, then 3 probes 2 s apart.
pub const SERVER_GIVES_UP: Duration = Duration::from_secs(9);
/// A holder not renewed for this long is said to be silent in the trays ("sem resposta há 12 s").
pub const SILENT_AFTER: Duration = Duration::from_secs(5);

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

/// What the notify side is given while this engine holds the lease.
pub struct HeldLease {
    /// The epoch every intent to create is recorded under.
    pub epoch: LeaseEpoch,
    /// Asked before every Twilio create.
    pub fence: Arc<dyn CreateFence>,
    /// The watched managers' beats, on which the lease is renewed.
    pub progress: NotifyProgress,
}

/// `ask`'s answer within [`CHECK_TIMEOUT`], or why there is none: an error, or `who` silent.
/// Every question about the lease is bounded so: a database that went quiet is a lease in doubt.
async fn within_check<T>(
    who: &str,
    ask: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, ask).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("{who} did not answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

/// Asks the lease's own session, before each create, whether its epoch still holds.
struct LeaseFence {
    client: Arc<tokio_postgres::Client>,
    epoch: LeaseEpoch,
}

impl CreateFence for LeaseFence {
    fn confirm(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            let epoch = self.epoch.0;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&epoch];
            let ask = self.client.query_opt(lease_row::FENCE, &params);
            match within_check("the database, asked to confirm the lease,", ask).await? {
                Some(_) => Ok(()),
                None => Err(format!(
                    "the lease (epoch {}) has lapsed or passed to another workstation",
                    self.epoch.0
                )),
            }
        })
    }
}

/// The liveness lock's second key for `epoch` (advisory keys are 32-bit; epochs wrap there).
fn liveness_key(epoch: i64) -> i32 {
    (epoch & 0x7FFF_FFFF) as i32
}

/// Why the notify side stopped while this engine held the lease.
enum Ended {
    /// The lease is gone or in doubt (moved, lapsed, the database silent).
    Lost { reason: String, moved: bool },
    /// A watched manager stopped making progress: the lease was given up.
    Stalled(Stall),
    /// The lease's session moved between server processes (see [`Pooled`]).
    Pooled(Pooled),
}

/// The lease's session and what it holds.
struct Held {
    client: Arc<tokio_postgres::Client>,
    epoch: LeaseEpoch,
    /// The session's server process: the liveness lock lives there.
    pid: i32,
}

/// The lease's session was handed from one server process to another: a connection pooler in
/// transaction mode sits between this workstation and PostgreSQL, and no session lock holds
/// there. Said once, and this workstation does not notify until it is restarted.
struct Pooled(String);

impl Pooled {
    fn new(from: i32, to: i32) -> Self {
        Pooled(format!(
            "the shared journal is reached through a connection pooler in transaction mode (this workstation's lease session moved from server process {from} to {to}): the lease needs a session of its own. Connect Sentinela directly to PostgreSQL, or pool in session mode (PgBouncer: pool_mode = session). This workstation does not notify until then"
        ))
    }
}

/// Holds the lease whenever it can and runs the notify side while it does.
#[derive(Clone)]
pub struct NotifierLease {
    shared: Arc<SharedJournal>,
    journal: AlertJournal,
    workstation: String,
    events: EventBus,
    /// Asked by a standby whether it reaches Twilio, when the holder says it does not (None in a
    /// dry run: such a standby never takes over for Twilio's sake).
    twilio: Option<TwilioClient>,
}

/// How long a standby's answer to "do I reach Twilio?" stands.
const TWILIO_ASKED_EVERY: Duration = Duration::from_secs(30);
/// How long that question may take.
const TWILIO_ANSWER_WITHIN: Duration = Duration::from_secs(10);

impl NotifierLease {
    pub fn new(
        shared: Arc<SharedJournal>,
        journal: AlertJournal,
        workstation: String,
        events: EventBus,
        twilio: Option<TwilioClient>,
    ) -> Self {
        NotifierLease { shared, journal, workstation, events, twilio }
    }

    /// Whether this workstation reaches Twilio now (one GET of the account, bounded).
    async fn reaches_twilio(&self) -> bool {
        let Some(client) = &self.twilio else { return false };
        matches!(
            tokio::time::timeout(TWILIO_ANSWER_WITHIN, client.fetch_account()).await,
            Ok(Ok(_))
        )
    }

    /// Until `shutdown`: waits for the lease, runs the notify side `start` makes while it is
    /// held, stops it the moment the lease is in doubt or the side is stuck, and tries again.
    pub async fn run(
        self,
        start: impl Fn(Shutdown, HeldLease) -> JoinSet<()>,
        mut shutdown: Shutdown,
    ) {
        let mut last_said: Option<NotifierState> = None;
        // The manager whose stall made this engine give the lease up: started again, and said
        // so, when the lease is this engine's again.
        let mut stalled: Option<&'static str> = None;
        let mut say = |lease: &Self, state: NotifierState| {
            if last_said.as_ref() != Some(&state) {
                lease.events.emit(EngineEvent::Notifier(state.clone()));
                last_said = Some(state);
            }
        };
        loop {
            let held = tokio::select! {
                h = self.until_held(&mut say) => h,
                _ = shutdown.recv() => return,
            };
            let held = match held {
                Ok(held) => held,
                Err(pooled) => return self.refuse(pooled, &mut say, shutdown).await,
            };
            let Some(Held { client, epoch, pid }) = held else {
                tokio::select! {
                    _ = tokio::time::sleep(TRY_EVERY) => continue,
                    _ = shutdown.recv() => return,
                }
            };
            info!(workstation = %self.workstation, epoch = epoch.0, "lease: this workstation notifies now");
            say(&self, NotifierState::ThisWorkstation { name: self.workstation.clone() });
            let (trigger, listener) = shutdown::channel();
            let progress = NotifyProgress::default();
            let fence = Arc::new(LeaseFence { client: Arc::clone(&client), epoch });
            let side = NotifySide {
                tasks: start(listener, HeldLease { epoch, fence, progress: progress.clone() }),
                trigger,
            };
            if let Some(manager) = stalled.take() {
                info!(manager, "{manager} started again with the notify side");
                self.events.emit(EngineEvent::ManagerRestarted { manager: manager.to_owned() });
            }
            let ended = tokio::select! {
                ended = self.while_held(&client, epoch, pid, &progress) => ended,
                _ = shutdown.recv() => {
                    side.stop(Duration::from_secs(10)).await;
                    // Let the next engine take over at once rather than at the lapse.
                    let _ = tokio::time::timeout(CHECK_TIMEOUT, client.execute(lease_row::RELEASE, &[&epoch.0])).await;
                    return;
                }
            };
            match ended {
                Ended::Pooled(pooled) => {
                    side.stop(Duration::from_secs(10)).await;
                    return self.refuse(pooled, &mut say, shutdown).await;
                }
                Ended::Lost { reason, moved } => {
                    // Said first: the journal may be as far out of reach as the lease.
                    warn!(
                        epoch = epoch.0,
                        "lease: lost ({reason}); the notify side stops, this workstation stands by"
                    );
                    if !moved {
                        say(&self, NotifierState::Unknown { reason: reason.clone() });
                    }
                    side.stop(Duration::from_secs(10)).await;
                    self.journal_event(
                        "lease_lost",
                        &format!("{} stopped notifying: {reason}", self.workstation),
                    )
                    .await;
                }
                Ended::Stalled(stall) => {
                    // Given up first, so that a standby takes over while this side is stopped.
                    let _ = tokio::time::timeout(
                        CHECK_TIMEOUT,
                        client.execute(lease_row::RELEASE, &[&epoch.0]),
                    )
                    .await;
                    let reason = format!(
                        "no progress for {} s: the lease was given up so that another workstation notifies; the notify side starts again when this one holds the lease",
                        stall.silent_for.as_secs()
                    );
                    error!(
                        manager = stall.manager,
                        "lease: the notify side is stuck ({}: {reason})", stall.manager
                    );
                    self.events.emit(EngineEvent::ManagerFailed {
                        manager: stall.manager.to_owned(),
                        reason: reason.clone(),
                        restart_in_secs: 0,
                    });
                    self.journal_event(
                        "notify_side_stuck",
                        &format!("{}: {} {reason}", self.workstation, stall.manager),
                    )
                    .await;
                    side.stop(Duration::from_secs(10)).await;
                    stalled = Some(stall.manager);
                    // A healthy standby gets the first chance at the lease.
                    tokio::select! {
                        _ = tokio::time::sleep(TRY_EVERY * 2) => {}
                        _ = shutdown.recv() => return,
                    }
                }
            }
        }
    }

    /// Behind a transaction pooler: says why, loudly, and waits for the engine to stop.
    async fn refuse(
        &self,
        Pooled(reason): Pooled,
        say: &mut impl FnMut(&Self, NotifierState),
        mut shutdown: Shutdown,
    ) {
        error!("lease: {reason}");
        self.events.emit(EngineEvent::ManagerFailed {
            manager: "notify lease".into(),
            reason: reason.clone(),
            restart_in_secs: 0,
        });
        self.journal_event("lease_refused", &format!("{}: {reason}", self.workstation)).await;
        say(self, NotifierState::Unknown { reason });
        let _ = shutdown.recv().await;
    }

    /// Journals what happened to the lease, bounded: a database out of reach must not hold the
    /// lease task (nor what it says) behind the journal's write.
    async fn journal_event(&self, kind: &str, detail: &str) {
        match tokio::time::timeout(CHECK_TIMEOUT, self.journal.log_event(None, kind, detail)).await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!("journal: cannot log {kind}: {e}"),
            Err(_) => {
                warn!("journal: cannot log {kind}: no answer within {} s", CHECK_TIMEOUT.as_secs())
            }
        }
    }

    /// Connects and reads the lease every [`TRY_EVERY`] until it is this engine's; None after
    /// a connection failure (said, and tried again by the caller).
    async fn until_held(
        &self,
        say: &mut impl FnMut(&Self, NotifierState),
    ) -> Result<Option<Held>, Pooled> {
        let (client, _notes) = match self.shared.connect_async().await {
            Ok(c) => c,
            Err(e) => {
                say(
                    self,
                    NotifierState::Unknown { reason: format!("{}: {e}", self.shared.target()) },
                );
                return Ok(None);
            }
        };
        // The server gives up on this session after SERVER_GIVES_UP without an answer from us,
        // and with it the liveness lock: another workstation can then take over. A takeover
        // waits at most 2 s for an intent's transaction that share-locks the row.
        let session = "SET tcp_keepalives_idle = 3; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 9000; SET lock_timeout = 2000";
        let backend_pid = async || {
            within_check(self.shared.target(), client.query_one("SELECT pg_backend_pid()", &[]))
                .await
                .map(|r| r.get::<_, i32>(0))
        };
        let pid = match client.batch_execute(session).await.map_err(|e| e.to_string()) {
            Ok(()) => backend_pid().await,
            Err(e) => Err(e),
        };
        let pid = match pid {
            Ok(pid) => pid,
            Err(reason) => {
                say(self, NotifierState::Unknown { reason });
                return Ok(None);
            }
        };
        // When the holder cannot reach Twilio: whether this workstation can, and when it asked.
        let mut reaches_twilio: Option<(tokio::time::Instant, bool)> = None;
        loop {
            match backend_pid().await {
                Ok(now) if now != pid => return Err(Pooled::new(pid, now)),
                _ => {}
            }
            let reaches = reaches_twilio.is_some_and(|(_, yes)| yes);
            match within_check(self.shared.target(), self.try_take(&client, reaches)).await {
                Ok(Ok(epoch)) => return Ok(Some(Held { client: Arc::new(client), epoch, pid })),
                Ok(Err(state)) => {
                    let holder_without_twilio =
                        matches!(&state, NotifierState::Elsewhere { twilio_problem: Some(_), .. });
                    say(self, state);
                    if holder_without_twilio
                        && reaches_twilio.is_none_or(|(at, _)| at.elapsed() >= TWILIO_ASKED_EVERY)
                    {
                        let yes = self.reaches_twilio().await;
                        info!(reaches = yes, "lease: the holder cannot reach Twilio; this workstation asked whether it can");
                        reaches_twilio = Some((tokio::time::Instant::now(), yes));
                        if yes {
                            continue;
                        }
                    }
                }
                Err(reason) => {
                    say(self, NotifierState::Unknown { reason });
                    return Ok(None);
                }
            }
            tokio::time::sleep(TRY_EVERY).await;
        }
    }

    /// One look at the lease: taken (its epoch), or who holds it. `reaches_twilio`: this
    /// workstation does, so it takes the lease from a holder that says it cannot.
    async fn try_take(
        &self,
        client: &tokio_postgres::Client,
        reaches_twilio: bool,
    ) -> Result<Result<LeaseEpoch, NotifierState>, tokio_postgres::Error> {
        let lock = |epoch: i64| async move {
            client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, $2)",
                    &[&LEASE_LIVENESS_CLASS, &liveness_key(epoch)],
                )
                .await
                .map(|r| r.get::<_, bool>(0))
        };
        let unlock = |epoch: i64| async move {
            client
                .execute(
                    "SELECT pg_advisory_unlock($1, $2)",
                    &[&LEASE_LIVENESS_CLASS, &liveness_key(epoch)],
                )
                .await
        };
        // `old_lock`: the old epoch's liveness lock, held here when its holder's session is gone.
        let (seen, lapsed, old_lock) = match client.query_opt(lease_row::READ, &[]).await? {
            None => (0, false, false),
            Some(row) => {
                let (holder, epoch, lapsed, silent): (String, i64, bool, f64) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                let twilio_problem: Option<String> = row.get(4);
                let handed_over = !lapsed && twilio_problem.is_some() && reaches_twilio;
                if handed_over {
                    info!(from = %holder, "lease: taken from a holder that cannot reach Twilio ({})", twilio_problem.as_deref().unwrap_or_default());
                }
                // The holder's session gone (killed, cut off): its liveness lock is free.
                let old_lock = !lapsed && !handed_over && lock(epoch).await?;
                if !lapsed && !handed_over && !old_lock {
                    let silent = Duration::from_secs_f64(silent.max(0.0));
                    return Ok(Err(NotifierState::Elsewhere {
                        name: holder,
                        silent_secs: (silent >= SILENT_AFTER).then_some(silent.as_secs()),
                        twilio_problem,
                    }));
                }
                (epoch, lapsed, old_lock)
            }
        };
        // The new epoch's liveness lock first: a standby reading the new row finds it held.
        let taken = if lock(seen + 1).await? {
            let (now, ttl) = (
                Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                LEASE_TTL.as_secs_f64(),
            );
            let row =
                client.query_opt(lease_row::TAKE, &[&self.workstation, &now, &ttl, &seen]).await?;
            if row.is_none() {
                unlock(seen + 1).await?;
            }
            row.map(|r| r.get::<_, i64>(0))
        } else {
            None
        };
        if old_lock {
            unlock(seen).await?;
        }
        // None: another standby moved it first.
        let Some(epoch) = taken else { return Ok(Err(NotifierState::Nobody)) };
        if lapsed {
            info!(
                from = seen,
                to = epoch,
                "lease: taken from a holder that gave it up or stopped renewing it"
            );
            // The old holder may be frozen with its session open: end that session where the role
            // may, so that it finds its lease gone the moment it resumes. The fence holds either way.
            let stale = "SELECT pg_terminate_backend(pid) FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 2 AND pid <> pg_backend_pid()
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
            if let Err(e) = client
                .execute(stale, &[&(LEASE_LIVENESS_CLASS as u32), &(liveness_key(seen) as u32)])
                .await
            {
                info!("lease: the frozen holder's session stays open ({e}); its epoch is fenced off all the same");
            }
        }
        Ok(Ok(LeaseEpoch(epoch)))
    }

    /// Renews the lease every [`RENEW_EVERY`] while the notify side makes progress, and says in
    /// the row whether this workstation reaches Twilio; returns why it stopped.
    async fn while_held(
        &self,
        client: &tokio_postgres::Client,
        epoch: LeaseEpoch,
        pid: i32,
        progress: &NotifyProgress,
    ) -> Ended {
        let mut alarms = self.events.subscribe();
        loop {
            let renew_at = tokio::time::Instant::now() + RENEW_EVERY;
            loop {
                let twilio_problem = tokio::select! {
                    _ = tokio::time::sleep_until(renew_at) => break,
                    event = alarms.recv() => match event {
                        Ok(EngineEvent::WatchAlarm(WatchAlarm::TwilioUnreachable { reason, .. })) => Some(reason),
                        Ok(EngineEvent::WatchAlarm(WatchAlarm::TwilioRecovered)) => None,
                        _ => continue,
                    },
                };
                match &twilio_problem {
                    Some(reason) => warn!("lease: this workstation cannot reach Twilio ({reason}); a workstation that can takes the lease over"),
                    None => info!("lease: this workstation reaches Twilio again"),
                }
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
                    [&epoch.0, &twilio_problem];
                let said = client.execute(lease_row::SAY_TWILIO, &params);
                if let Err(reason) =
                    within_check("the database, told this workstation's Twilio state,", said).await
                {
                    return Ended::Lost { reason, moved: false };
                }
            }
            if let Some(stall) = progress.stalled(STALL_LIMIT) {
                return Ended::Stalled(stall);
            }
            let (now, ttl) = (
                Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                LEASE_TTL.as_secs_f64(),
            );
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&epoch.0, &ttl, &now];
            let renew = client.query_opt(lease_row::RENEW, &params);
            match within_check("the database, asked to renew the lease,", renew).await {
                Ok(Some(row)) => match row.get::<_, i32>(0) {
                    now if now != pid => return Ended::Pooled(Pooled::new(pid, now)),
                    _ => {}
                },
                Ok(None) => {
                    return Ended::Lost {
                        reason: format!(
                            "the lease (epoch {}) lapsed or passed to another workstation",
                            epoch.0
                        ),
                        moved: true,
                    }
                }
                Err(reason) => return Ended::Lost { reason, moved: false },
            }
        }
    }
}
