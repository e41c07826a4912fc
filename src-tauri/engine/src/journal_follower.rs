//! Tells the outside world that the journal changed, whoever changed it.
//!
//! This engine's own managers emit an event for what they do, but an ack typed in the CLI, or —
//! on a shared journal — a call placed, an e-mail journaled or an incident resolved by another
//! workstation, reaches this process only as the journal's change signal. The follower turns that
//! signal into [`EngineEvent::JournalChanged`], so the tray's counts and the open windows re-read
//! the journal at once instead of at their next event.

use std::time::Duration;

use crate::events::{EngineEvent, EventBus};
use crate::shutdown::Shutdown;

use crate::journal::AlertJournal;

/// At most one event per this period: a burst of writes (an escalation updating its calls) is
/// one re-read for the windows, not one per row.
pub const COALESCE: Duration = Duration::from_millis(250);

pub struct JournalFollower {
    pub journal: AlertJournal,
    pub events: EventBus,
}

impl JournalFollower {
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut changes = self.journal.changes();
        changes.mark_unchanged();
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = shutdown.recv() => return,
            }
            // Let the rest of the burst land, then tell once; what changes after this is seen by
            // the next round, so the last write of a burst is never left untold.
            tokio::select! {
                _ = tokio::time::sleep(COALESCE) => {}
                _ = shutdown.recv() => return,
            }
            changes.mark_unchanged();
            self.events.emit(EngineEvent::JournalChanged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::AlertJournal;
    use crate::shutdown;

    /// A write from another connection (as the CLI's) becomes one event; a burst becomes one.
    #[tokio::test]
    async fn another_writer_is_told_once_per_burst() {
        let dir = tempfile::tempdir().unwrap();
        let journal = AlertJournal::open_in_dir(dir.path()).unwrap();
        let events = EventBus::default();
        let mut rx = events.subscribe();
        let (trigger, listener) = shutdown::channel();
        tokio::spawn(
            journal.clone().poll_other_writers(Duration::from_millis(20), listener.clone()),
        );
        tokio::spawn(
            JournalFollower { journal: journal.clone(), events: events.clone() }.run(listener),
        );

        // Nothing written: nothing told.
        assert!(
            tokio::time::timeout(Duration::from_millis(400), rx.recv()).await.is_err(),
            "an event with no write"
        );

        let cli = AlertJournal::open_in_dir(dir.path()).unwrap();
        for _ in 0..3 {
            cli.pause_notifications(None).await.unwrap();
        }
        let told = tokio::time::timeout(Duration::from_secs(3), rx.recv())
            .await
            .expect("the other writer was not told")
            .unwrap();
        assert!(matches!(told, EngineEvent::JournalChanged), "{told:?}");
        // The three writes were one burst.
        assert!(
            tokio::time::timeout(Duration::from_millis(600), rx.recv()).await.is_err(),
            "a burst told more than once"
        );

        trigger.fire();
    }
}
