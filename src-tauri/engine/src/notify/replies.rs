//! Reading the team's replies — WhatsApp, and SMS with `[sms]` — without a public URL: Sentinela
//! runs behind NAT, so Twilio cannot call it back; it asks Twilio's message list instead.
//!
//! One request at a time: every [`ReplyPolling::busy`] while an incident is open and nobody has
//! taken it, every [`ReplyPolling::quiet`] otherwise (a late reply still becomes a note). Each
//! reply is handed to the journal, which handles it once by its SID whatever restarts happen.

use std::time::Duration;

use chrono::Utc;
use tracing::{error, info, warn};

use super::NotifyContext;
use crate::journal::{Reply, ReplyOutcome};
use crate::model::Channel;

/// How often the message list is read.
#[derive(Debug, Clone, Copy)]
pub struct ReplyPolling {
    pub busy: Duration,
    pub quiet: Duration,
}

impl Default for ReplyPolling {
    fn default() -> Self {
        ReplyPolling { busy: Duration::from_secs(3), quiet: Duration::from_secs(60) }
    }
}

/// Pages read per poll at most: a poll sees the replies of the last moments, never history.
const MAX_PAGES: usize = 5;
/// Replies a little older than the newest one handled are read again (clocks differ; the SID
/// keeps them from being handled twice).
const OVERLAP: chrono::Duration = chrono::Duration::minutes(10);

pub struct ReplyPoller {
    ctx: NotifyContext,
    /// Our senders, E.164, each on its channel: replies come to them.
    senders: Vec<(Channel, String)>,
    recipients: Vec<String>,
    polling: ReplyPolling,
}

impl ReplyPoller {
    pub fn new(
        ctx: NotifyContext,
        senders: Vec<(Channel, String)>,
        recipients: Vec<String>,
        polling: ReplyPolling,
    ) -> Self {
        ReplyPoller { ctx, senders, recipients, polling }
    }

    pub async fn run(self) {
        let ctx = &self.ctx;
        let Some(client) = &ctx.client else { return };
        let started = Utc::now();
        let mut since = match ctx.journal.newest_reply().await {
            Ok(Some(t)) => t - OVERLAP,
            _ => started - chrono::Duration::hours(1),
        };
        loop {
            let busy = ctx.journal.any_untaken().await.unwrap_or(true);
            let wait = if busy { self.polling.busy } else { self.polling.quiet };
            let mut changes = ctx.journal.changes();
            // A new incident makes the poll fast at once, not after the quiet minute.
            let until = tokio::time::Instant::now() + wait;
            loop {
                if ctx
                    .until_journal_changes(
                        &mut changes,
                        until.saturating_duration_since(tokio::time::Instant::now()),
                    )
                    .await
                    .is_err()
                {
                    return;
                }
                if tokio::time::Instant::now() >= until
                    || (!busy && ctx.journal.any_untaken().await.unwrap_or(false))
                {
                    break;
                }
            }
            for (channel, sender) in &self.senders {
                let replies =
                    match client.inbound_messages(*channel, sender, since, MAX_PAGES).await {
                        Ok(r) => {
                            ctx.health.ok(&ctx.events);
                            r
                        }
                        Err(e) => {
                            ctx.health.degraded(&ctx.events, &e);
                            warn!("cannot read the {channel} replies: {e}");
                            continue;
                        }
                    };
                // Oldest first, so a note and an acknowledgement keep the order they were written in.
                for m in replies.into_iter().rev() {
                    let written_from = m.from.trim_start_matches("whatsapp:");
                    // The configured number, even when WhatsApp knows the line by an older form
                    // (a Brazilian mobile without its ninth digit).
                    let from = crate::phone::recipient_matching(written_from, &self.recipients)
                        .unwrap_or(written_from)
                        .to_owned();
                    let sent_at = m.sent_at();
                    let name = ctx.person(&from);
                    let reply = Reply {
                        sid: m.sid.clone(),
                        from: from.clone(),
                        body: m.body.clone(),
                        sent_at,
                        channel: *channel,
                    };
                    match ctx.journal.handle_reply(reply, self.recipients.clone(), name.clone()).await {
                        Ok(ReplyOutcome::Seen) => {}
                        Ok(ReplyOutcome::Took { incident }) => info!(incident, by = %name, %channel, "incident taken by a reply"),
                        Ok(ReplyOutcome::Stranger) => warn!(from = %from, %channel, "a reply from a number that is not a recipient: it takes nothing"),
                        Ok(outcome) => info!(?outcome, by = %name, %channel, "reply kept as a note"),
                        Err(e) => error!("journal: cannot record a reply (it is read again at the next poll): {e}"),
                    }
                    if let Some(t) = sent_at {
                        since = since.max(t - OVERLAP);
                    }
                }
            }
        }
    }
}
