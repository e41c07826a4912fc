//! A one-shot test of a mailbox configuration: what `sentinela-headless check` and the settings
//! window's "Test mailbox" button report.

use serde::Serialize;

use futures::TryStreamExt;

use super::connection::{connect, step};
use super::fetch::uid_set;
use super::search::{search_alert_uids, search_criteria, select_folder};
use super::MailboxError;
use super::MailboxLogin;
use crate::config::Config;
use crate::mail::sender::topmost_results_id;
use crate::mail::SenderPolicy;

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
    /// Of the matching unread e-mails (the newest [`PROBE_CHECKS`]), how many the exact sender
    /// check would reject — they would never ring a phone — and why, most frequent first
    /// ("2 × the sender x@y is not an allowed sender").
    pub rejected: usize,
    pub rejected_reasons: Vec<String>,
    /// With `[filter] authserv_id`: the id of the server whose `Authentication-Results` header
    /// sits on top of the newest matching e-mail when it is not ours — the receiving server then
    /// does not put its own verdict first, and a forged header below could be read as ours.
    pub results_on_top: Option<String>,
    /// The account logged in and how: "password", "OAuth2 (signed-in user, XOAUTH2)", …
    pub account: String,
    pub login_method: String,
    /// With OAuth2: when the access token used expires (a new one is fetched before then).
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub token_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// How many matching e-mails a probe checks the sender of.
pub const PROBE_CHECKS: usize = 200;

/// Logs in, opens the folder, counts matching unread mail and reads IDLE support. Touches nothing.
pub async fn probe(config: &Config, login: &MailboxLogin) -> Result<ProbeReport, MailboxError> {
    let (mut session, caps) = connect(&config.mailbox, login).await?;
    let token_expires_at = match login {
        // The token just used, held by the source: no new request.
        MailboxLogin::OAuth2(tokens) => Some(tokens.access_token().await?.expires_at),
        MailboxLogin::Password(_) => None,
    };
    let (uidvalidity, messages) = select_folder(&mut session, &config.mailbox.folder).await?;
    let matching = search_alert_uids(&mut session, &search_criteria(&config.filter)).await?;
    let senders =
        sender_rejections(&mut session, &config.filter.sender_policy(), &matching).await?;
    let _ = step("LOGOUT", session.logout()).await;
    Ok(ProbeReport {
        folder: config.mailbox.folder.clone(),
        uidvalidity,
        messages,
        matching_unseen: matching.len(),
        idle: caps.has_str("IDLE"),
        rejected: senders.rejected,
        rejected_reasons: senders.reasons,
        results_on_top: senders.results_on_top,
        account: config.mailbox.username.clone(),
        login_method: login.method().to_owned(),
        token_expires_at,
    })
}

/// What the sender check makes of the matching e-mails.
#[derive(Default)]
struct SenderFindings {
    rejected: usize,
    reasons: Vec<String>,
    results_on_top: Option<String>,
}

/// Reads the headers (PEEK: nothing is marked read) of the newest matching e-mails and counts
/// what the sender check would reject, by reason.
async fn sender_rejections(
    session: &mut super::ImapSession,
    policy: &SenderPolicy,
    uids: &[u32],
) -> Result<SenderFindings, MailboxError> {
    let uids: Vec<u32> = uids.iter().rev().copied().take(PROBE_CHECKS).collect();
    if uids.is_empty() {
        return Ok(SenderFindings::default());
    }
    let headers = step("FETCH", async {
        let stream = session.uid_fetch(uid_set(&uids), "(UID BODY.PEEK[HEADER])").await?;
        stream.try_collect::<Vec<_>>().await
    })
    .await?;
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for raw in headers.iter().filter_map(|f| f.header()) {
        if let Err(r) = policy.check(raw) {
            let reason = r.to_string();
            match reasons.iter_mut().find(|(known, _)| *known == reason) {
                Some((_, n)) => *n += 1,
                None => reasons.push((reason, 1)),
            }
        }
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    let newest = headers
        .iter()
        .filter(|f| f.header().is_some())
        .max_by_key(|f| f.uid)
        .and_then(|f| f.header());
    let results_on_top = match (&policy.authserv_id, newest) {
        (Some(id), Some(raw)) => {
            topmost_results_id(raw).filter(|top| !top.eq_ignore_ascii_case(id))
        }
        _ => None,
    };
    Ok(SenderFindings {
        rejected: reasons.iter().map(|(_, n)| n).sum(),
        reasons: reasons.into_iter().map(|(r, n)| format!("{n} × {r}")).collect(),
        results_on_top,
    })
}
