//! From the journal's incidents to the people who must know: the notification managers.
//!
//! As in Alertmanager's pipeline, each stage does one thing and can run alone; as in GoAlert's
//! engine, each is a manager with its own loop over the journal:
//! - [`Planner`] turns the incidents' timeline into owed messages and calls (the journal is the
//!   notification log: a line is planned once);
//! - [`DeliveryDispatcher`] sends owed messages (WhatsApp, SMS), a bounded number at a time, and
//!   [`DeliveryFollower`] follows the sent ones to `read` — an undelivered WhatsApp falling back
//!   to SMS;
//! - [`CallQueue`] phones one number at a time about every open incident until a person answers;
//! - [`ReplyPoller`] reads the team's WhatsApp replies (`1` takes an incident);
//! - [`TwilioCheck`] and the heartbeat say, while nothing else does, whether Twilio answers and
//!   this workstation lives;
//! - [`MemoryNotifier`] tells the team of an alert the journal could not take, from memory.
//!
//! [`spawn_notify_side`] starts them as one unit from one list, each under its supervisor.
//!
//! They wake on the journal's change signal ([`AlertJournal::changes`]) — a write by this process
//! or, within a poll, by another (the CLI) — never on the public event bus, so a lagging observer
//! cannot delay a notification. After a restart each resumes from what the journal owes.

pub mod compose;
mod memory;
mod messages;
pub mod planner;
pub mod progress;
mod replies;
pub mod retry;
pub mod voice;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{error, warn};

pub use memory::{unjournaled_channel, MemoryNotifier, Unjournaled, UnjournaledInbox};
pub use messages::{DeliveryDispatcher, DeliveryFollower, Senders};
pub use planner::Planner;
pub use progress::NotifyProgress;
pub use replies::{ReplyPoller, ReplyPolling};
pub use voice::{judge, judge_keypress, CallOutcome, CallQueue};

use crate::config::Config;
use crate::events::{EngineEvent, EventBus, TwilioProblem, TwilioState};
use crate::heartbeat::Heartbeat;
use crate::journal::{AlertId, AlertJournal};
use crate::model::Channel;
use crate::shutdown::Shutdown;
use crate::supervisor::Supervisor;
use crate::timing::EngineTiming;
use crate::twilio::{TwilioClient, TwilioError};

/// The engine is shutting down; the journal holds what is left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// Tells observers when Twilio starts failing and when it recovers, once per change.
#[derive(Debug, Default)]
pub struct TwilioHealth {
    degraded: AtomicBool,
}

impl TwilioHealth {
    pub fn ok(&self, events: &EventBus) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            events.emit(EngineEvent::Twilio(TwilioState::Ok));
        }
    }

    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    pub fn degraded(&self, events: &EventBus, e: &TwilioError) {
        // Not sent because another workstation may hold the lease now: Twilio was never asked,
        // so this says nothing about Twilio.
        if matches!(e, TwilioError::NotTheNotifier { .. }) {
            return;
        }
        if !self.degraded.swap(true, Ordering::Relaxed) {
            let kind = if e.is_auth() { TwilioProblem::Auth } else { TwilioProblem::Unreachable };
            events
                .emit(EngineEvent::Twilio(TwilioState::Degraded { kind, message: e.to_string() }));
        }
    }
}

/// What every stage shares. `client` is None in dry-run mode.
#[derive(Clone)]
pub struct NotifyContext {
    pub client: Option<TwilioClient>,
    pub journal: AlertJournal,
    pub events: EventBus,
    pub timing: EngineTiming,
    pub health: Arc<TwilioHealth>,
    pub shutdown: Shutdown,
    /// `[people]`: names for numbers.
    pub people: Arc<std::collections::BTreeMap<String, String>>,
    /// This run of the notify side's proof of progress, which the lease renews on.
    pub progress: NotifyProgress,
}

impl NotifyContext {
    /// What `number` is called: its name, else the number written the Brazilian way.
    pub fn person(&self, number: &str) -> String {
        self.people.get(number).cloned().unwrap_or_else(|| crate::phone::display(number))
    }

    /// Sleeps, unless the engine stops first.
    pub async fn pause(&self, d: Duration) -> Result<(), Stopped> {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            _ = progress::sleep(d) => Ok(()),
            _ = shutdown.recv() => Err(Stopped),
        }
    }

    /// Waits for the journal to change (or `at_most`), unless the engine stops first.
    pub async fn until_journal_changes(
        &self,
        changes: &mut watch::Receiver<u64>,
        at_most: Duration,
    ) -> Result<(), Stopped> {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            _ = changes.changed() => Ok(()),
            _ = progress::sleep(at_most) => Ok(()),
            _ = shutdown.recv() => Err(Stopped),
        }
    }

    pub async fn journal_event(&self, alert_id: Option<AlertId>, kind: &str, detail: &str) {
        if let Err(e) = self.journal.log_event(alert_id, kind, detail).await {
            error!("journal: cannot log {kind}: {e}");
        }
    }
}

/// A manager's loop, as its supervisor runs it.
type Manager = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Builds one manager for a configuration, or `None` when that configuration does not need it
/// (no `[whatsapp]`, no `[calls]`, a dry run…).
type Build = fn(&Config, &NotifyContext) -> Option<Manager>;

/// How a manager's progress counts for the lease (see [`progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// It plans or creates: stuck, it must not hold the lease, so the lease renews on its beats.
    Watched,
    /// It follows, reads or reports: its silence does not keep anyone from being told.
    Free,
}
use Progress::{Free, Watched};

/// The notify side, one entry per manager: adding a manager is adding a line. Its supervisor
/// builds it again from the same line after a failure.
const MANAGERS: &[(&str, Progress, Build)] = &[
    ("planner", Watched, |config, ctx| Some(Box::pin(Planner::new(config, ctx.clone()).run()))),
    ("message sender", Watched, |config, ctx| {
        let senders = Some(Senders::from_config(config)).filter(Senders::any)?;
        Some(Box::pin(DeliveryDispatcher::new(ctx.clone(), senders).run()))
    }),
    ("message follower", Free, |config, ctx| {
        let senders =
            Some(Senders::from_config(config)).filter(|s| s.any() && ctx.client.is_some())?;
        Some(Box::pin(DeliveryFollower::new(ctx.clone(), senders).run()))
    }),
    ("call queue", Watched, |config, ctx| {
        Some(Box::pin(CallQueue::new(ctx.clone(), config.calls.clone()?).run()))
    }),
    ("reply poller", Free, |config, ctx| {
        ctx.client.as_ref()?;
        // Replies come to each sender: WhatsApp's, and the SMS number (which tells the SMS-only
        // people, and WhatsApp's recipients when their WhatsApp fails).
        let whatsapp = config.whatsapp.as_ref().map(|w| (Channel::Whatsapp, w.from.clone()));
        let sms = config.sms.as_ref().map(|s| (Channel::Sms, s.from.clone()));
        let senders: Vec<_> = whatsapp.into_iter().chain(sms).collect();
        let people = config
            .whatsapp
            .iter()
            .flat_map(|w| w.to.clone())
            .chain(config.sms.iter().flat_map(|s| s.to.clone()))
            .collect();
        (!senders.is_empty()).then(|| {
            Box::pin(ReplyPoller::new(ctx.clone(), senders, people, ctx.timing.replies).run())
                as Manager
        })
    }),
    ("Twilio check", Free, |_, ctx| {
        ctx.client.as_ref()?;
        Some(Box::pin(TwilioCheck { ctx: ctx.clone() }.run()))
    }),
    ("heartbeat", Free, |config, ctx| {
        let (heartbeat, from, ctx) = (
            config.heartbeat.clone()?,
            config.whatsapp.as_ref().map(|w| w.from.clone()),
            ctx.clone(),
        );
        // Built when first polled: its HTTP client is not made for the look whether it is needed.
        Some(Box::pin(async move { Heartbeat::new(ctx, heartbeat, from).run().await }))
    }),
];

/// Starts every manager of the notify side that `config` needs, each under `supervisor`. The
/// notify side is one unit apart from the mailbox watcher, so that it can run where it should
/// and nowhere else: the one engine of a data directory, or the lease holder on a shared journal.
pub fn spawn_notify_side(
    config: &Config,
    ctx: NotifyContext,
    supervisor: &Supervisor,
    tasks: &mut JoinSet<()>,
) {
    let config = Arc::new(config.clone());
    for &(name, progress, build) in MANAGERS {
        // Building a manager only makes its loop; nothing runs until it is polled.
        if build(&config, &ctx).is_none() {
            continue;
        }
        let (config, ctx) = (config.clone(), ctx.clone());
        supervisor.spawn(tasks, name, move || {
            // The configuration does not change while the engine runs, so the rebuilt manager
            // is always there; `pending` only keeps the types whole.
            let manager = build(&config, &ctx).unwrap_or_else(|| Box::pin(std::future::pending()));
            match progress {
                Watched => Box::pin(ctx.progress.watch(name, manager)) as Manager,
                Free => manager,
            }
        });
    }
}

/// While nothing else asks Twilio, its credentials are checked every 15 minutes (one GET of the
/// account), so a revoked token or a dead network is said before an alert needs them.
pub struct TwilioCheck {
    ctx: NotifyContext,
}

/// How often the idle check asks.
pub const TWILIO_CHECK_EVERY: Duration = Duration::from_secs(15 * 60);

impl TwilioCheck {
    pub async fn run(self) {
        let ctx = &self.ctx;
        let Some(client) = &ctx.client else { return };
        loop {
            match client.fetch_account().await {
                Ok(_) => ctx.health.ok(&ctx.events),
                Err(e) => {
                    warn!("Twilio's idle check failed: {e}");
                    ctx.health.degraded(&ctx.events, &e);
                }
            }
            if ctx.pause(TWILIO_CHECK_EVERY).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_fenced_off_by_the_lease_is_not_a_twilio_outage() {
        let (health, events) = (TwilioHealth::default(), EventBus::default());
        let mut seen = events.subscribe();
        health.degraded(&events, &TwilioError::NotTheNotifier { reason: "the lease moved".into() });
        assert!(!health.is_degraded());
        assert!(seen.try_recv().is_err(), "no Twilio event");
        health.degraded(
            &events,
            &TwilioError::Network {
                base_url: "https://api.twilio.com".into(),
                reason: "connection refused".into(),
                maybe_sent: false,
            },
        );
        assert!(health.is_degraded());
        assert!(matches!(
            seen.try_recv(),
            Ok(EngineEvent::Twilio(TwilioState::Degraded { kind: TwilioProblem::Unreachable, .. }))
        ));
    }
}
