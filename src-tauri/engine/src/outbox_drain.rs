//! The outbox drain: on a shared journal, hands the alerts this workstation held while the
//! database was out of its reach ([`crate::journal::LocalOutbox`]) to the journal as soon as it
//! answers, and says what it journaled.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::events::{AlertNotice, EngineEvent, EventBus};
use crate::incident::IncidentRules;
use crate::journal::{AlertJournal, JournalError, LocalOutbox, NewAlert, RecordOutcome};
use crate::shutdown::Shutdown;

/// How often the drain offers what it holds to the shared journal.
const DRAIN_EVERY: Duration = Duration::from_secs(2);

/// Hands what the outbox holds to the shared journal whenever it answers.
pub struct OutboxDrain {
    pub outbox: LocalOutbox,
    pub journal: AlertJournal,
    pub rules: IncidentRules,
    pub events: EventBus,
}

impl OutboxDrain {
    /// Drains every [`DRAIN_EVERY`] until `shutdown`.
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            if let Err(e) = self.drain_once().await {
                // Out of reach still: the watcher's alarm says so; this only waits.
                if !e.is_unreachable() {
                    warn!("outbox: cannot hand the held alerts to the shared journal: {e}");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(DRAIN_EVERY) => {}
                _ = shutdown.recv() => return,
            }
        }
    }

    /// Records everything held in the journal (one transaction), then forgets it. Returns how
    /// many alerts were new to the journal.
    pub async fn drain_once(&self) -> Result<usize, JournalError> {
        let held = self.outbox.held().await?;
        if held.is_empty() {
            return Ok(0);
        }
        let outcomes = self.journal.record_handed_over(held.clone(), &self.rules).await?;
        // Forgotten only once committed there: a crash in between records them again, as
        // sightings of the same alerts.
        self.outbox.release(held.clone()).await?;
        let mut new = 0;
        for (h, outcome) in held.iter().zip(&outcomes) {
            new += usize::from(matches!(outcome, RecordOutcome::Recorded(_)));
            announce(&self.events, &h.alert, *outcome, h.held_at);
        }
        info!(
            held = held.len(),
            new, "outbox: the shared journal took the alerts held while it was out of reach"
        );
        Ok(new)
    }
}

/// Says that an alert was journaled (or that the e-mail was one already), for the windows, the
/// desktop notifications and the log.
pub(crate) fn announce(
    events: &EventBus,
    alert: &NewAlert,
    outcome: RecordOutcome,
    noticed_at: DateTime<Utc>,
) {
    match outcome {
        RecordOutcome::Recorded(id) => {
            info!(alert = id, uid = alert.origin.uid, from = %alert.mail.sender, subject = %alert.mail.subject, "alert journaled");
            events.emit(EngineEvent::AlertRecorded(AlertNotice {
                id,
                subject: alert.mail.subject.clone(),
                sender: alert.mail.sender.clone(),
                received_at: alert.received_at,
                noticed_at,
                uid: alert.origin.uid,
            }));
        }
        RecordOutcome::Duplicate(id) => {
            info!(
                alert = id,
                uid = alert.origin.uid,
                "e-mail already journaled as this alert; not recorded again"
            )
        }
    }
}
