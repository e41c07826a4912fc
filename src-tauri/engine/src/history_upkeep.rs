//! The history's upkeep, between alerts: each minute a step of the search index's merging
//! (`AlertJournal::merge_search_index`, so an alert's write never waits for a large merge), and
//! with `[history] keep_days`, at start and every few hours, the e-mail bodies and message texts
//! of incidents resolved longer ago emptied (`AlertJournal::prune_resolved_before`), so a
//! journal's growth stays bounded while every incident and its timeline stay. On a shared journal
//! every workstation may run it: a pass only empties what is already past the cutoff, so two at
//! once do the same thing once.

use std::time::Duration;

use chrono::Utc;
use tracing::{info, warn};

use crate::journal::AlertJournal;
use crate::shutdown::Shutdown;

/// Between two steps of the index's merging: alerts are far rarer, so it keeps up.
const MERGE_EVERY: Duration = Duration::from_secs(60);
/// Between pruning passes: what became old since the last one is little, and a pass at start
/// catches up.
const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);

pub struct HistoryUpkeep {
    pub journal: AlertJournal,
    /// Texts of incidents resolved longer ago than this are emptied; None keeps them forever.
    pub keep: Option<chrono::Duration>,
}

impl HistoryUpkeep {
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            if let Some(keep) =
                self.keep.filter(|_| pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY))
            {
                pruned_at = Some(tokio::time::Instant::now());
                match self.journal.prune_resolved_before(Utc::now() - keep).await {
                    Ok(r) if r.emails + r.messages > 0 => info!(
                        emails = r.emails,
                        messages = r.messages,
                        days = keep.num_days(),
                        "history: texts of old resolved incidents emptied"
                    ),
                    Ok(_) => {}
                    // Nothing is lost by trying again later; the journal's own alarms say when it fails.
                    Err(e) => warn!("history: the old texts could not be emptied this time: {e}"),
                }
            }
            if let Err(e) = self.journal.merge_search_index().await {
                warn!("history: the search index could not be merged this time: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(MERGE_EVERY) => {}
                _ = shutdown.recv() => return,
            }
        }
    }
}
