//! Starting and stopping the whole engine as one unit, for `sentinela-headless` and the desktop
//! shell alike: load the secrets, open the journal, spawn the managers, and stop them politely.

use std::path::Path;
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::warn;

use crate::config::Config;
use crate::events::EventBus;
use crate::imap::MailboxWatcher;
use crate::journal::{AlertJournal, JournalError};
use crate::secrets::{self, Secret, SecretError};
use crate::shutdown::{self, ShutdownTrigger};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The secrets the engine needs, loaded by the caller (from the environment or the keyring, see
/// [`EngineSecrets::load`]) so tests and the desktop app can hand them over directly.
#[derive(Debug, Clone)]
pub struct EngineSecrets {
    pub imap_password: Secret,
}

impl EngineSecrets {
    pub async fn load() -> Result<Self, SecretError> {
        Ok(EngineSecrets { imap_password: secrets::load(secrets::IMAP_PASSWORD).await? })
    }
}

/// A running engine. Dropping it fires the shutdown too, but [`RunningEngine::stop`] waits for
/// the managers to finish (IMAP `DONE`/`LOGOUT`).
pub struct RunningEngine {
    pub events: EventBus,
    pub journal: AlertJournal,
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
}

impl RunningEngine {
    /// Starts every manager. `events` lets the caller subscribe before anything happens.
    pub async fn start(
        config: &Config,
        secrets: EngineSecrets,
        data_dir: &Path,
        events: EventBus,
    ) -> Result<Self, StartError> {
        let password = secrets.imap_password;
        let journal = AlertJournal::open_in_dir(data_dir)?;
        let (trigger, listener) = shutdown::channel();
        let mut tasks = JoinSet::new();
        let watcher = MailboxWatcher::new(config, password, journal.clone(), events.clone());
        tasks.spawn(watcher.run(listener));
        Ok(RunningEngine { events, journal, trigger, tasks })
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
