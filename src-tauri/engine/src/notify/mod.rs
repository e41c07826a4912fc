//! From a journaled alert to the people who must know: the notification stages.
//!
//! Like Alertmanager's pipeline, each stage does one thing and can be tested alone:
//! [`Notifier`] plans what each new alert owes (one WhatsApp per recipient, one escalation) in
//! the journal, which is the dedup log; [`WhatsAppSender`] fans the text out; [`CallQueue`]
//! phones one number at a time until a person answers. Both retry what time can fix and resume
//! from the journal after a restart.

mod calls;
pub mod compose;
mod whatsapp;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, Notify};
use tokio::task::JoinSet;
use tracing::{error, warn};

pub use calls::{judge, CallOutcome, CallQueue};
pub use whatsapp::WhatsAppSender;

use crate::config::Config;
use crate::events::{EngineEvent, EventBus, TwilioState};
use crate::journal::{AlertId, AlertJournal, PendingDelivery};
use crate::shutdown::Shutdown;
use crate::twilio::{TwilioClient, TwilioError};

/// The engine is shutting down; the journal holds what is left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// Intervals of the notification stages. Tests shorten them; the defaults suit Twilio.
#[derive(Debug, Clone, Copy)]
pub struct NotifyTiming {
    /// How often a call's state is read while it rings or talks.
    pub call_poll: Duration,
    /// How often a WhatsApp message's state is read.
    pub message_poll: Duration,
    /// How long a WhatsApp message is followed towards `read`.
    pub message_follow_for: Duration,
    /// Wait before retrying after Twilio was unreachable or refused the credentials.
    pub retry_wait: Duration,
}

impl Default for NotifyTiming {
    fn default() -> Self {
        NotifyTiming {
            call_poll: Duration::from_secs(1),
            message_poll: Duration::from_secs(5),
            message_follow_for: Duration::from_secs(15 * 60),
            retry_wait: Duration::from_secs(30),
        }
    }
}

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

    pub fn degraded(&self, events: &EventBus, e: &TwilioError) {
        if !self.degraded.swap(true, Ordering::Relaxed) {
            let kind = if e.is_auth() { "auth" } else { "unreachable" };
            events.emit(EngineEvent::Twilio(TwilioState::Degraded { kind, message: e.to_string() }));
        }
    }
}

/// What every stage shares. `client` is None in dry-run mode.
#[derive(Clone)]
pub struct NotifyContext {
    pub client: Option<TwilioClient>,
    pub journal: AlertJournal,
    pub events: EventBus,
    pub timing: NotifyTiming,
    pub health: Arc<TwilioHealth>,
    pub shutdown: Shutdown,
}

impl NotifyContext {
    /// Sleeps, unless the engine stops first.
    pub async fn pause(&self, d: Duration) -> Result<(), Stopped> {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = shutdown.recv() => Err(Stopped),
        }
    }

    pub async fn journal_event(&self, alert_id: AlertId, kind: &str, detail: &str) {
        if let Err(e) = self.journal.log_event(Some(alert_id), kind, detail).await {
            error!("journal: cannot log {kind}: {e}");
        }
    }
}

/// Plans the notifications of every new alert and starts its deliveries and escalation.
pub struct Notifier {
    ctx: NotifyContext,
    whatsapp: Option<Arc<WhatsAppSender>>,
    whatsapp_to: Vec<String>,
    calls_wake: Option<Arc<Notify>>,
}

impl Notifier {
    /// Builds the stages for `config`; returns the notifier and the call queue (if calls are on).
    pub fn new(config: &Config, ctx: NotifyContext) -> (Notifier, Option<CallQueue>) {
        let whatsapp = config
            .whatsapp
            .as_ref()
            .map(|w| Arc::new(WhatsAppSender::new(ctx.clone(), w.from.clone(), w.content_sid.clone())));
        let whatsapp_to = config.whatsapp.as_ref().map(|w| w.to.clone()).unwrap_or_default();
        let wake = Arc::new(Notify::new());
        let queue = config.calls.clone().map(|c| CallQueue::new(ctx.clone(), c, wake.clone()));
        let calls_wake = queue.as_ref().map(|_| wake);
        (Notifier { ctx, whatsapp, whatsapp_to, calls_wake }, queue)
    }

    /// Runs until shutdown. New alerts are announced on the event bus; the journal says what is
    /// owed, so a lagging or missed announcement only delays, never loses, a notification.
    pub async fn run(self, mut alerts: broadcast::Receiver<EngineEvent>) {
        let mut shutdown = self.ctx.shutdown.clone();
        let mut deliveries = JoinSet::new();
        // Whatever a previous run left unfinished.
        self.start_deliveries(&mut deliveries, None).await;
        loop {
            self.hold_if_paused().await;
            match self.ctx.journal.plan_notifications(self.whatsapp_to.clone(), self.calls_wake.is_some()).await {
                Ok(planned) if !planned.is_empty() => {
                    self.start_deliveries(&mut deliveries, Some(&planned)).await;
                    if let Some(w) = &self.calls_wake {
                        w.notify_one();
                    }
                }
                Ok(_) => {}
                Err(e) => error!("journal: cannot plan notifications: {e}"),
            }
            // Wait for news of a new alert.
            loop {
                tokio::select! {
                    r = alerts.recv() => match r {
                        Ok(EngineEvent::AlertRecorded(_)) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    Some(_) = deliveries.join_next(), if !deliveries.is_empty() => continue,
                    _ = shutdown.recv() => {
                        deliveries.shutdown().await;
                        return;
                    }
                }
            }
        }
    }

    /// While notifications are paused, new alerts stay journaled but are marked `paused` instead
    /// of being planned (test alerts still go through).
    async fn hold_if_paused(&self) {
        let paused = match self.ctx.journal.pause_state().await {
            Ok(p) => p.is_paused(chrono::Utc::now()),
            Err(e) => {
                error!("journal: cannot read the notification pause: {e}");
                false
            }
        };
        if !paused {
            return;
        }
        match self.ctx.journal.hold_new_alerts().await {
            Ok(held) => {
                for id in held {
                    warn!(alert = id, "notifications are PAUSED: alert journaled, nobody notified");
                }
            }
            Err(e) => error!("journal: cannot hold alerts during the pause: {e}"),
        }
    }

    /// Spawns a sender per unfinished delivery (of `only` these alerts, when given).
    async fn start_deliveries(&self, set: &mut JoinSet<()>, only: Option<&[AlertId]>) {
        let Some(sender) = &self.whatsapp else { return };
        let pending: Vec<PendingDelivery> = match self.ctx.journal.unfinished_deliveries().await {
            Ok(p) => p,
            Err(e) => {
                error!("journal: cannot read owed WhatsApp deliveries: {e}");
                return;
            }
        };
        for p in pending {
            if only.is_some_and(|ids| !ids.contains(&p.delivery.alert_id)) {
                continue;
            }
            let sender = sender.clone();
            set.spawn(async move {
                if sender.deliver(p).await.is_err() {
                    warn!("WhatsApp delivery interrupted by shutdown; it resumes at the next start");
                }
            });
        }
    }
}
