//! Messages — WhatsApp, and SMS where `[sms]` is set — from owed to their final state.
//!
//! [`DeliveryDispatcher`] takes owed deliveries from the journal and sends at most
//! [`MAX_IN_FLIGHT`] at a time, so a flood of incidents becomes a steady pace of requests, never a
//! task per e-mail. The intent (`sending`) is committed before each request; the SID and status
//! after. A failure that time or a person can fix (network, Twilio 5xx/429, refused credentials)
//! keeps the delivery owed and retries; a refusal about this message (bad number, sandbox not
//! joined, 24-hour window) is recorded with Twilio's code and explained in the log.
//!
//! [`DeliveryFollower`] then reads the sent messages' states until they are read, failed or
//! undelivered — for a period counted from when each was sent, so a restart never follows
//! last year's messages again.
//!
//! A WhatsApp message that cannot reach its person (refused, failed, undelivered: the sandbox
//! left, no template outside the 24-hour window, a phone without WhatsApp) is owed again by SMS
//! with `[sms] fallback`, once (`AlertJournal::fall_back_to_sms`): the same words, the same
//! incident code, so an SMS reply takes it like a WhatsApp one.

use std::collections::HashSet;

use chrono::Utc;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use super::retry::{self, Answer};
use super::{compose, NotifyContext, Stopped};
use crate::events::EngineEvent;
use crate::journal::{Delivery, DeliveryState};
use crate::model::Channel;
use crate::twilio::{MessageStatus, NewMessage};

/// Messages being sent at once.
pub const MAX_IN_FLIGHT: usize = 4;

/// Who sends on each channel the configuration has.
#[derive(Debug, Clone, Default)]
pub struct Senders {
    /// `[whatsapp] from`, and its approved template (`content_sid`) when there is one.
    pub whatsapp: Option<(String, String)>,
    /// `[sms] from`, and whether a WhatsApp that cannot deliver falls back to it.
    pub sms: Option<(String, bool)>,
}

impl Senders {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Senders {
            whatsapp: config.whatsapp.as_ref().map(|w| (w.from.clone(), w.content_sid.clone())),
            sms: config.sms.as_ref().map(|s| (s.from.clone(), s.fallback)),
        }
    }

    pub fn any(&self) -> bool {
        self.whatsapp.is_some() || self.sms.is_some()
    }

    fn sms_fallback(&self) -> bool {
        self.sms.as_ref().is_some_and(|(_, fallback)| *fallback)
    }

    /// The request for `d` on its channel, or None when this configuration has no sender there.
    fn message(&self, d: &Delivery) -> Option<NewMessage> {
        match d.channel {
            Channel::Whatsapp => self.whatsapp.as_ref().map(|(from, content_sid)| NewMessage {
                from: from.clone(),
                to: d.recipient.clone(),
                body: compose::whatsapp_text(d.purpose, &d.headline, &d.detail, d.test),
                template: (!content_sid.is_empty()).then(|| {
                    (
                        content_sid.clone(),
                        compose::template_variables(&d.headline, &d.detail, d.test),
                    )
                }),
                channel: Channel::Whatsapp,
            }),
            Channel::Sms => self.sms.as_ref().map(|(from, _)| NewMessage {
                from: from.clone(),
                to: d.recipient.clone(),
                body: compose::sms_text(d.purpose, &d.headline, &d.detail, d.test, d.incident_id),
                template: None,
                channel: Channel::Sms,
            }),
        }
    }
}

/// A WhatsApp message that will not reach its person goes by SMS instead, once.
async fn fall_back(ctx: &NotifyContext, senders: &Senders, d: &Delivery) {
    if d.channel != Channel::Whatsapp || !senders.sms_fallback() {
        return;
    }
    match ctx.journal.fall_back_to_sms(d.id).await {
        Ok(Some(sms)) => {
            warn!(incident = ?d.incident_id, to = %d.recipient, "WhatsApp could not be delivered: sending it by SMS");
            ctx.events.emit(EngineEvent::Delivery(sms));
        }
        Ok(None) => {}
        Err(e) => {
            error!("journal: cannot owe the SMS that stands in for an undelivered WhatsApp: {e}")
        }
    }
}

pub struct DeliveryDispatcher {
    ctx: NotifyContext,
    senders: Senders,
}

impl DeliveryDispatcher {
    pub fn new(ctx: NotifyContext, senders: Senders) -> Self {
        DeliveryDispatcher { ctx, senders }
    }

    /// Sends owed deliveries until shutdown. The first look also takes those a previous run
    /// left half-sent.
    pub async fn run(self) {
        let this = std::sync::Arc::new(self);
        let mut changes = this.ctx.journal.changes();
        let mut in_flight: JoinSet<i64> = JoinSet::new();
        let mut busy: HashSet<i64> = HashSet::new();
        let mut first = true;
        let mut shutdown = this.ctx.shutdown.clone();
        loop {
            if in_flight.len() < MAX_IN_FLIGHT {
                let room = MAX_IN_FLIGHT - in_flight.len();
                match this
                    .ctx
                    .journal
                    .owed_deliveries(first, room, busy.iter().copied().collect())
                    .await
                {
                    Ok(owed) => {
                        first = false;
                        for d in owed {
                            busy.insert(d.id);
                            let sender = this.clone();
                            in_flight.spawn(async move {
                                let id = d.id;
                                let _ = sender.send(d).await;
                                id
                            });
                        }
                    }
                    Err(e) => error!("journal: cannot read owed WhatsApp messages (retrying): {e}"),
                }
            }
            tokio::select! {
                _ = changes.changed() => {}
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Ok(id) = done {
                        busy.remove(&id);
                    }
                }
                _ = super::progress::sleep(this.ctx.timing.retry_wait) => {}
                _ = shutdown.recv() => {
                    // A request already sent is let finish, so its SID is journaled: cutting it
                    // off would leave a message Twilio has as owed, and send it again at the next
                    // start. Each send stops by itself at its next wait; the engine's stop bounds
                    // the whole.
                    while in_flight.join_next().await.is_some() {}
                    return;
                }
            }
        }
    }

    /// Sends one delivery. Returns early on shutdown; the journal keeps what is left to do.
    async fn send(&self, d: Delivery) -> Result<(), Stopped> {
        let ctx = &self.ctx;
        let Some(message) = self.senders.message(&d) else {
            // Owed on a channel this configuration no longer has (`[sms]` removed).
            let why = format!("no [{}] section to send it with", d.channel);
            error!(incident = ?d.incident_id, to = %d.recipient, "{} message not sent: {why}", d.channel);
            self.update(d.id, DeliveryState::Error, None, Some((None, why))).await;
            return Ok(());
        };
        let Some(client) = &ctx.client else {
            ctx.journal_event(
                None,
                &format!("dry_run_{}", d.channel),
                &format!("to {} (incident {:?}): {}", d.recipient, d.incident_id, message.body),
            )
            .await;
            self.update(d.id, DeliveryState::DryRun, None, None).await;
            info!(incident = ?d.incident_id, to = %d.recipient, channel = %d.channel, "dry run: message not sent");
            return Ok(());
        };
        // A message the previous run was sending may exist already: look before sending it.
        let unsure_since = (d.state == DeliveryState::Sending).then_some(d.updated_at);
        // The intent is durable before the request leaves; while it cannot be (the journal out
        // of reach, or the lease lost: then this side is about to stop), no request leaves.
        loop {
            match ctx.journal.delivery_intent(d.id).await {
                Ok(sending) => break ctx.events.emit(EngineEvent::Delivery(sending)),
                Err(e) => {
                    warn!(incident = ?d.incident_id, to = %d.recipient, channel = %d.channel, "message not sent yet: cannot record the intent ({e})");
                    ctx.pause(ctx.timing.retry_wait).await?;
                }
            }
        }
        let label =
            format!("{} message to {} (incident {:?})", d.channel, d.recipient, d.incident_id);
        let create = |unsure_since| client.create_message(&message, unsure_since);
        match retry::until_answered(ctx, &label, unsure_since, create, retry::always).await? {
            Answer::Done(m) => {
                info!(incident = ?d.incident_id, purpose = %d.purpose, to = %d.recipient, channel = %d.channel, sid = %m.sid, status = m.status.as_str(), "message accepted by Twilio");
                self.update(d.id, m.status.into(), Some(m.sid.clone()), None).await;
            }
            Answer::Refused(e) => {
                error!(incident = ?d.incident_id, to = %d.recipient, channel = %d.channel, "message refused: {e}");
                let error = Some((e.code().map(i64::from), e.to_string()));
                self.update(d.id, DeliveryState::Error, None, error).await;
                fall_back(ctx, &self.senders, &d).await;
            }
            Answer::NotWanted => {}
        }
        Ok(())
    }

    async fn update(
        &self,
        id: i64,
        state: DeliveryState,
        sid: Option<String>,
        error: Option<(Option<i64>, String)>,
    ) -> Option<Delivery> {
        record(&self.ctx, id, state, sid, error).await
    }
}

async fn record(
    ctx: &NotifyContext,
    id: i64,
    state: DeliveryState,
    sid: Option<String>,
    error: Option<(Option<i64>, String)>,
) -> Option<Delivery> {
    match ctx.journal.update_delivery(id, state, sid, error).await {
        Ok(d) => {
            ctx.events.emit(EngineEvent::Delivery(d.clone()));
            Some(d)
        }
        Err(e) => {
            error!("journal: cannot record a message's state: {e}");
            None
        }
    }
}

/// Reads the states of sent messages, one request at a time, until they are final or their
/// follow period (from when each was sent) is over.
pub struct DeliveryFollower {
    ctx: NotifyContext,
    senders: Senders,
}

impl DeliveryFollower {
    pub fn new(ctx: NotifyContext, senders: Senders) -> Self {
        DeliveryFollower { ctx, senders }
    }

    pub async fn run(self) {
        let ctx = &self.ctx;
        let Some(client) = &ctx.client else { return };
        loop {
            if ctx.pause(ctx.timing.message_poll).await.is_err() {
                return;
            }
            let since = Utc::now()
                - chrono::Duration::from_std(ctx.timing.message_follow_for).unwrap_or_default();
            let followed = match ctx.journal.deliveries_to_follow(since).await {
                Ok(f) => f,
                Err(e) => {
                    error!("journal: cannot read the messages to follow: {e}");
                    continue;
                }
            };
            for d in followed {
                let Some(sid) = d.sid.as_deref() else { continue };
                let m = match client.fetch_message(sid).await {
                    Ok(m) => {
                        ctx.health.ok(&ctx.events);
                        m
                    }
                    Err(e) => {
                        ctx.health.degraded(&ctx.events, &e);
                        warn!(sid, "cannot read the message's state: {e}");
                        continue;
                    }
                };
                if DeliveryState::from(m.status) == d.state {
                    continue;
                }
                let error = m.error_code.map(|c| {
                    (
                        Some(c),
                        m.error_message.clone().unwrap_or_else(|| crate::twilio::describe_code(c)),
                    )
                });
                let updated = record(ctx, d.id, m.status.into(), None, error).await;
                if matches!(m.status, MessageStatus::Failed | MessageStatus::Undelivered) {
                    let why =
                        updated.as_ref().and_then(|u| u.error_message.clone()).unwrap_or_default();
                    error!(to = %d.recipient, sid, code = ?m.error_code, channel = %d.channel, "message NOT delivered: {why}");
                    fall_back(ctx, &self.senders, &d).await;
                }
            }
        }
    }
}
