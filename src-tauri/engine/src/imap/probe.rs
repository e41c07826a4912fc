//! A one-shot test of a mailbox configuration: what `sentinela-headless check` and the settings
//! window's "Test mailbox" button report.

use serde::Serialize;

use super::connection::{connect, step};
use super::search::{search_alert_uids, search_criteria, select_folder};
use super::MailboxError;
use crate::config::Config;
use crate::secrets::Secret;

/// What a successful probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProbeReport {
    pub folder: String,
    pub uidvalidity: u32,
    pub messages: u32,
    /// Unread e-mails that match the filter right now (they would become alerts).
    pub matching_unseen: usize,
    /// Whether the server offers IDLE (push) or the watcher will poll every `rescan_secs`.
    pub idle: bool,
}

/// Logs in, opens the folder, counts matching unread mail and reads IDLE support. Touches nothing.
pub async fn probe(config: &Config, password: &Secret) -> Result<ProbeReport, MailboxError> {
    let (mut session, caps) = connect(&config.mailbox, password).await?;
    let (uidvalidity, messages) = select_folder(&mut session, &config.mailbox.folder).await?;
    let matching = search_alert_uids(&mut session, &search_criteria(&config.filter)).await?;
    let _ = step("LOGOUT", session.logout()).await;
    Ok(ProbeReport {
        folder: config.mailbox.folder.clone(),
        uidvalidity,
        messages,
        matching_unseen: matching.len(),
        idle: caps.has_str("IDLE"),
    })
}
