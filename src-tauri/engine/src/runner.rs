//! Starting and stopping the whole engine as one unit, for `sentinela-headless` and the desktop
//! shell alike: load the secrets, open the journal, spawn the managers, and stop them politely.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::config::Config;
use crate::events::{AlertNotice, EngineEvent, EventBus};
use crate::health::HealthMonitor;
use crate::history_upkeep::HistoryUpkeep;
use crate::imap::{MailboxLogin, MailboxWatcher};
use crate::incident::{AckVia, IncidentRules, ResolveVia};
use crate::journal::postgres::SharedJournal;
use crate::journal::{ActionOutcome, AlertId, AlertJournal, JournalError, LocalOutbox, PauseState};
use crate::journal_follower::JournalFollower;
use crate::lease::{HeldLease, NotifierLease};
use crate::mail::AlertMail;
use crate::notify::{
    spawn_notify_side, unjournaled_channel, MemoryNotifier, NotifyContext, TwilioHealth,
    Unjournaled, UnjournaledInbox,
};
use crate::outbox_drain::OutboxDrain;
use crate::secrets::{self, Secret, SecretError};
use crate::shutdown::{self, Shutdown, ShutdownTrigger};
use crate::supervisor::Supervisor;
use crate::timing::EngineTiming;
use crate::twilio::TwilioClient;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Locked(#[from] crate::engine_lock::EngineLockError),
}

/// How often the journal is checked for writes by other processes.
const JOURNAL_POLL: Duration = Duration::from_millis(250);

/// What the engine's managers are built from, handed to each at every (re)start.
#[derive(Clone)]
struct EngineParts {
    config: Arc<Config>,
    journal: AlertJournal,
    events: EventBus,
    rules: IncidentRules,
    timing: EngineTiming,
    /// How long the sensor may be silent before the alarm; None when that alarm is off.
    silence: Option<Duration>,
    /// On a shared journal: where alerts wait while the database is out of reach.
    outbox: Option<LocalOutbox>,
    login: MailboxLogin,
    /// The watcher's way to the memory notifier, and the memory notifier's end of it.
    unjournaled: Unjournaled,
    inbox: UnjournaledInbox,
    /// Without `[twilio]`, None: nobody is notified.
    notify: Option<NotifyContext>,
    stop: Shutdown,
}

type Manager = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Makes a manager's loop from the parts, or None when this configuration does not need it.
type Build = fn(&EngineParts) -> Option<Manager>;

/// The engine, one entry per manager (the notify side's own are in [`crate::notify`]): adding
/// a manager is adding a line. Its supervisor builds it again from the same line after a failure.
const MANAGERS: &[(&str, Build)] = &[
    // Acks and resolves written by another process (the CLI, a window) reach the managers
    // through the journal's change signal within this period (on a shared journal, through the
    // database's own notifications, at once).
    ("journal watch", |p| {
        let journal = p.journal.clone();
        journal
            .shared()
            .is_none()
            .then(|| Box::pin(journal.poll_other_writers(JOURNAL_POLL, p.stop.clone())) as Manager)
    }),
    ("journal follower", |p| {
        let follower = JournalFollower { journal: p.journal.clone(), events: p.events.clone() };
        Some(Box::pin(follower.run(p.stop.clone())))
    }),
    // On every engine, lease or not: an alert this engine could not journal may be one that
    // nobody could (the shared database down for all) — a possible duplicate, never a silence.
    ("memory notifier", |p| {
        let (whatsapp, calls) = (p.config.whatsapp.clone(), p.config.calls.clone());
        let (inbox, outbox) = (p.inbox.clone(), p.outbox.clone());
        Some(Box::pin(MemoryNotifier::new(p.notify.clone()?, whatsapp, calls, inbox, outbox).run()))
    }),
    // A shared journal: the notify side runs only while this engine holds the lease.
    ("notify lease", |p| {
        let (ctx, shared, j) = (p.notify.clone()?, p.journal.shared()?, p.config.journal.as_ref()?);
        let lease = NotifierLease::new(
            shared,
            p.journal.clone(),
            j.workstation_name(),
            p.events.clone(),
            ctx.client.clone(),
        );
        let (config, events) = (p.config.clone(), p.events.clone());
        let start = move |side_stop: Shutdown, held: HeldLease| {
            let mut side = JoinSet::new();
            let ctx = NotifyContext {
                shutdown: side_stop.clone(),
                client: ctx.client.as_ref().map(|c| c.fenced(held.fence)),
                journal: ctx.journal.fenced(held.epoch),
                progress: held.progress,
                ..ctx.clone()
            };
            spawn_notify_side(&config, ctx, &Supervisor::new(events.clone(), side_stop), &mut side);
            side
        };
        Some(Box::pin(lease.run(start, p.stop.clone())))
    }),
    ("health monitor", |p| {
        let monitor = HealthMonitor::new(p.events.clone(), p.timing.watch_alarm_after, p.silence)
            .watching_journal(p.journal.clone());
        Some(Box::pin(monitor.run(p.events.subscribe(), p.stop.clone())))
    }),
    ("history upkeep", |p| {
        let upkeep = HistoryUpkeep { journal: p.journal.clone(), keep: p.config.history.keep() };
        Some(Box::pin(upkeep.run(p.stop.clone())))
    }),
    // What the watcher held while the shared journal was out of reach, offered to it again.
    ("outbox drain", |p| {
        let drain = OutboxDrain {
            outbox: p.outbox.clone()?,
            journal: p.journal.clone(),
            rules: p.rules.clone(),
            events: p.events.clone(),
        };
        Some(Box::pin(drain.run(p.stop.clone())))
    }),
    ("mailbox watcher", |p| {
        let watcher = MailboxWatcher::new(
            &p.config,
            p.login.clone(),
            p.journal.clone(),
            p.events.clone(),
            p.rules.clone(),
            Some(p.unjournaled.clone()),
        )
        .with_silence_limit(p.silence);
        let watcher = match &p.outbox {
            Some(outbox) => watcher.with_outbox(outbox.clone(), p.timing.outbox_grace),
            None => watcher,
        };
        Some(Box::pin(watcher.run(p.stop.clone())))
    }),
];

/// The journal `config` names: the shared one (`[journal] url`, with `password` when the
/// database asks one), else the SQLite file in `data_dir`.
pub async fn open_journal(
    config: &Config,
    data_dir: &Path,
    password: Option<&Secret>,
) -> Result<AlertJournal, StartError> {
    open_journal_with(config, data_dir, password, false).await
}

/// `wait`: a shared journal out of reach is connected to when it answers (the engine watches
/// and holds alerts meanwhile); without, it is an error (the CLI, the windows, `check`).
async fn open_journal_with(
    config: &Config,
    data_dir: &Path,
    password: Option<&Secret>,
    wait: bool,
) -> Result<AlertJournal, StartError> {
    let Some(j) = &config.journal else { return Ok(AlertJournal::open_in_dir(data_dir)?) };
    let shared = SharedJournal::new(&j.url, password, &j.workstation_name()).map_err(|e| {
        StartError::Journal(JournalError::Unreachable {
            target: j.url.clone(),
            reason: e.to_string(),
        })
    })?;
    if wait && shared.ssl_mode() == crate::journal::postgres::SslMode::Prefer {
        // libpq's `prefer`/`allow` fall back to plain text when TLS is refused: anyone on the
        // path could then read the alerts and answer in the database's name.
        tracing::warn!(target_db = %shared.target(), "journal.url has sslmode=prefer or allow: the connection goes unencrypted and unauthenticated whenever the server does not offer TLS; use sslmode=verify-full (the default) unless the database is on this machine or a network you trust");
    }
    Ok(match wait {
        true => AlertJournal::open_shared_or_wait(shared).await?,
        false => AlertJournal::open_shared(shared).await?,
    })
}

/// What `check` and the settings window's *Testar diário compartilhado* say of a shared journal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JournalProbe {
    /// The database, as the driver reads the URL (never with a password).
    pub target: String,
    /// This Sentinela's schema version, which the database now has.
    pub schema_version: i64,
    /// How this workstation is named to the others.
    pub workstation: String,
    /// The workstation that notifies now, or None when no Sentinela holds the lease.
    pub notifier: Option<String>,
}

/// Connects to `config`'s shared journal (its password from the environment or the keyring),
/// brings its schema to this version as any engine would, and reads who notifies. None when the
/// configuration has no `[journal]`: the journal is this workstation's own SQLite file.
pub async fn probe_journal(
    config: &Config,
    data_dir: &Path,
) -> Result<Option<JournalProbe>, StartError> {
    let Some(j) = &config.journal else { return Ok(None) };
    let password = journal_password().await;
    let journal = open_journal(config, data_dir, password.as_ref()).await?;
    let status = journal.shared_status().await?;
    Ok(Some(JournalProbe {
        target: journal.shared_target().unwrap_or(&j.url).to_owned(),
        schema_version: status.schema_version,
        workstation: j.workstation_name(),
        notifier: status.notifier,
    }))
}

/// The secrets the engine needs, loaded by the caller (from the environment or the keyring, see
/// [`EngineSecrets::load`]) so tests and the desktop app can hand them over directly.
#[derive(Debug, Clone)]
pub struct EngineSecrets {
    /// The mailbox's password or OAuth2 sign-in.
    pub mailbox: MailboxLogin,
    /// Needed when the configuration has `[twilio]` and is not a dry run.
    pub twilio_token: Option<Secret>,
    /// The shared journal's database password, when `[journal]` is set and the database asks one.
    pub journal_password: Option<Secret>,
}

impl EngineSecrets {
    /// Loads the secrets `config` needs, from the environment or the keyring.
    pub async fn load(config: &Config) -> Result<Self, SecretError> {
        let mailbox = MailboxLogin::load(&config.mailbox).await?;
        let twilio_token = match &config.twilio {
            Some(t) if !t.dry_run => Some(secrets::load(secrets::TWILIO_AUTH_TOKEN).await?),
            _ => None,
        };
        let journal_password = match &config.journal {
            Some(_) => journal_password().await,
            None => None,
        };
        Ok(EngineSecrets { mailbox, twilio_token, journal_password })
    }
}

/// The shared journal's password from the environment or the keyring, if there is one: a
/// database that trusts this machine (peer, certificate) needs none, and if it does need one,
/// its refusal says so when connecting.
pub async fn journal_password() -> Option<Secret> {
    match secrets::load(secrets::JOURNAL_PASSWORD).await {
        Ok(p) => Some(p),
        Err(SecretError::Missing { .. }) => None,
        Err(e) => {
            warn!("shared journal: {e}; connecting without a password");
            None
        }
    }
}

/// What every notify manager shares, when `[twilio]` is set (None without it: nobody is told).
/// Its client is None in a dry run.
fn notify_context(
    config: &Config,
    token: Option<Secret>,
    journal: &AlertJournal,
    events: &EventBus,
    timing: EngineTiming,
    shutdown: Shutdown,
) -> Result<Option<NotifyContext>, StartError> {
    let Some(twilio) = &config.twilio else {
        warn!("no [twilio] section: alerts are journaled but NOBODY IS NOTIFIED (no WhatsApp, no calls)");
        return Ok(None);
    };
    let client = match (twilio.dry_run, token) {
        (true, _) => {
            warn!("twilio.dry_run is on: alerts are journaled with what would be sent, and nothing is sent");
            None
        }
        (false, Some(token)) => Some(TwilioClient::new(twilio, token)),
        (false, None) => {
            return Err(StartError::Secret(SecretError::Missing {
                label: secrets::TWILIO_AUTH_TOKEN.label,
                env_var: secrets::TWILIO_AUTH_TOKEN.env_var,
                keyring_user: secrets::TWILIO_AUTH_TOKEN.keyring_user,
            }))
        }
    };
    Ok(Some(NotifyContext {
        client,
        journal: journal.clone(),
        events: events.clone(),
        timing,
        health: Arc::new(TwilioHealth::default()),
        shutdown,
        people: Arc::new(config.people.clone()),
        progress: Default::default(),
    }))
}

/// A running engine. Dropping it fires the shutdown too, but [`RunningEngine::stop`] waits for
/// the managers to finish (IMAP `DONE`/`LOGOUT`).
pub struct RunningEngine {
    pub events: EventBus,
    pub journal: AlertJournal,
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
    /// The data directory is this engine's until it stops.
    _lock: crate::engine_lock::EngineLock,
}

impl RunningEngine {
    /// Starts every manager with the default timing. `events` lets the caller subscribe before
    /// anything happens.
    pub async fn start(
        config: &Config,
        secrets: EngineSecrets,
        data_dir: &Path,
        events: EventBus,
    ) -> Result<Self, StartError> {
        Self::start_with_timing(config, secrets, data_dir, events, EngineTiming::default()).await
    }

    /// [`RunningEngine::start`] with other intervals (tests use short ones; the binaries take
    /// [`EngineTiming::from_env`]).
    pub async fn start_with_timing(
        config: &Config,
        secrets: EngineSecrets,
        data_dir: &Path,
        events: EventBus,
        timing: EngineTiming,
    ) -> Result<Self, StartError> {
        let lock = crate::engine_lock::EngineLock::acquire(data_dir)?;
        // A shared journal out of reach does not stop the engine: it watches and holds what it
        // finds in its outbox until the database answers (and tells it from memory past the grace).
        let journal =
            open_journal_with(config, data_dir, secrets.journal_password.as_ref(), true).await?;
        if let Some(aside) = journal.replaced_corrupt() {
            let moved_to = aside.display().to_string();
            let _ = journal
                .log_event(
                    None,
                    "journal_replaced",
                    &format!("the journal was corrupt: kept as {moved_to}, this one started"),
                )
                .await;
            events.emit(EngineEvent::WatchAlarm(crate::health::WatchAlarm::JournalReplaced {
                moved_to,
            }));
        }
        let rules = IncidentRules::from_config(&config.incidents);
        let silence = timing.silence_limit(config.filter.silence_alarm_hours);
        // E-mails an older Sentinela journaled but never notified are placed by today's rules
        // (an older Sentinela never had a shared journal: one out of reach has none to place).
        match journal.place_unplaced(&rules).await {
            Ok(0) => {}
            Ok(placed) => info!(placed, "alerts from an older version placed in incidents"),
            Err(e) if journal.shared().is_some() && e.is_unreachable() => {}
            Err(e) => return Err(e.into()),
        }
        // On a shared journal, what this workstation finds while the database is out of its
        // reach waits in a local outbox, handed over as soon as the database answers.
        let outbox = match journal.shared() {
            Some(_) => Some(LocalOutbox::open_in_dir(data_dir)?),
            None => None,
        };
        let (trigger, listener) = shutdown::channel();
        // Alerts the journal cannot take go from the watcher to the memory notifier.
        let (unjournaled, inbox) = unjournaled_channel();
        let mut tasks = JoinSet::new();
        let supervisor = Supervisor::new(events.clone(), listener.clone());
        let notify = notify_context(
            config,
            secrets.twilio_token,
            &journal,
            &events,
            timing,
            trigger.listener(),
        )?;
        // On a journal of its own, the notify side runs here, each of its managers supervised
        // alone; on a shared one, it runs under the lease (a manager of the table below).
        if let (Some(ctx), None) = (&notify, journal.shared()) {
            spawn_notify_side(config, ctx.clone(), &supervisor, &mut tasks);
        }
        let parts = EngineParts {
            config: Arc::new(config.clone()),
            journal: journal.clone(),
            events: events.clone(),
            rules,
            timing,
            silence,
            outbox,
            login: secrets.mailbox,
            unjournaled,
            inbox,
            notify,
            stop: listener,
        };
        for &(name, build) in MANAGERS {
            // Building a manager only makes its loop; nothing runs until it is polled.
            if build(&parts).is_none() {
                continue;
            }
            let parts = parts.clone();
            supervisor.spawn(&mut tasks, name, move || {
                // The parts do not change while the engine runs, so the rebuilt manager is
                // always there; `pending` only keeps the types whole.
                build(&parts).unwrap_or_else(|| Box::pin(std::future::pending()))
            });
        }
        Ok(RunningEngine { events, journal, trigger, tasks, _lock: lock })
    }

    /// Pauses notifications until `until`, or until resumed when `None`. E-mails are still
    /// journaled; incidents opened meanwhile are held, and told when the pause ends if they are
    /// still open.
    pub async fn pause_notifications(
        &self,
        until: Option<DateTime<Utc>>,
    ) -> Result<PauseState, JournalError> {
        self.journal.pause_notifications(until).await?;
        let state = self.journal.pause_state().await?;
        warn!(?state, "notifications paused");
        self.events.emit(EngineEvent::Pause(state));
        Ok(state)
    }

    pub async fn resume_notifications(&self) -> Result<(), JournalError> {
        self.journal.resume_notifications().await?;
        info!("notifications resumed");
        self.events.emit(EngineEvent::Pause(PauseState::Active));
        Ok(())
    }

    /// Sends a test alert through the whole pipeline (WhatsApp and the call queue); every text
    /// and call says it is a test. It is not held by a pause.
    pub async fn send_test_alert(&self) -> Result<AlertId, JournalError> {
        let mail = AlertMail {
            subject: "TESTE — alerta de teste do Sentinela".into(),
            sender: "Sentinela".into(),
            sent_at: None,
            message_id: None,
            body: "Este é um alerta de teste enviado pelo operador. Nenhuma ação é necessária."
                .into(),
            truncated: false,
        };
        let id = self.journal.record_test_alert(mail.clone()).await?;
        info!(alert = id, "test alert journaled");
        let now = Utc::now();
        self.events.emit(EngineEvent::AlertRecorded(AlertNotice {
            id,
            subject: mail.subject,
            sender: mail.sender,
            received_at: now,
            noticed_at: now,
            uid: 0,
        }));
        Ok(id)
    }

    /// Acknowledges an incident from this workstation (the app's *Reconhecer*).
    pub async fn acknowledge(
        &self,
        id: crate::incident::IncidentId,
        by: Option<String>,
    ) -> Result<ActionOutcome, JournalError> {
        self.journal.acknowledge(id, by, AckVia::Desktop).await
    }

    /// Acknowledges every open incident (the tray's *Reconhecer todos*); returns how many.
    pub async fn acknowledge_all(&self, by: Option<String>) -> Result<usize, JournalError> {
        self.journal.acknowledge_all(by, AckVia::Desktop).await
    }

    /// Resolves an incident by hand, for devices that never send a recovery.
    pub async fn resolve(
        &self,
        id: crate::incident::IncidentId,
        by: Option<String>,
    ) -> Result<ActionOutcome, JournalError> {
        self.journal.resolve(id, by, ResolveVia::Desktop).await
    }

    /// Asks every manager to stop and waits up to `grace` for them.
    pub async fn stop(mut self, grace: Duration) {
        self.trigger.fire();
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all_done).await.is_err() {
            warn!("engine: managers did not stop within {} s; aborting them", grace.as_secs());
            self.tasks.abort_all();
        }
    }
}
