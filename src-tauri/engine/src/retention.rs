//! The history's retention manager (`[history] keep_days`): at start and every few hours, empties
//! the e-mail bodies and message texts of incidents resolved longer ago than the configured days
//! (`AlertJournal::prune_resolved_before`), so a journal's growth stays bounded while every
//! incident and its timeline stay. On a shared journal every workstation may run it: a pass
//! only empties what is already past the cutoff, so two at once do the same thing once.

use std::time::Duration;

use chrono::Utc;
use tracing::{info, warn};

use crate::journal::AlertJournal;
use crate::shutdown::Shutdown;

/// Between passes: what became old since the last one is little, and a pass at start catches up.
const PASS_EVERY: Duration = Duration::from_secs(6 * 3600);

pub struct HistoryRetention {
    pub journal: AlertJournal,
    /// Texts of incidents resolved longer ago than this are emptied.
    pub keep: chrono::Duration,
}

impl HistoryRetention {
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            match self.journal.prune_resolved_before(Utc::now() - self.keep).await {
                Ok(r) if r.emails + r.messages > 0 => info!(emails = r.emails, messages = r.messages, days = self.keep.num_days(), "history: texts of old resolved incidents emptied"),
                Ok(_) => {}
                // Nothing is lost by trying again later; the journal's own alarms say when it fails.
                Err(e) => warn!("history: the old texts could not be emptied this time: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(PASS_EVERY) => {}
                _ = shutdown.recv() => return,
            }
        }
    }
}
