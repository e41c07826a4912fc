//! One WhatsApp delivery, from owed to its final state.
//!
//! The intent (`sending`) is committed before the request; the SID and status after. A failure
//! that time or a person can fix (network, Twilio 5xx/429, refused credentials) keeps the delivery
//! owed and retries; a refusal about this message (bad number, sandbox not joined, 24-hour
//! window) is recorded with Twilio's code and explained in the log. Once accepted, the message is
//! polled until it is read, failed or undelivered, or until the polling window ends.

use tokio::time::Instant;
use tracing::{error, info, warn};

use super::{compose, Stopped, NotifyContext};
use crate::events::EngineEvent;
use crate::journal::{Delivery, PendingDelivery};
use crate::twilio::{MessageStatus, NewMessage};

pub struct WhatsAppSender {
    ctx: NotifyContext,
    from: String,
    content_sid: String,
}

impl WhatsAppSender {
    pub fn new(ctx: NotifyContext, from: String, content_sid: String) -> Self {
        WhatsAppSender { ctx, from, content_sid }
    }

    /// Sends (if still owed) and follows one delivery. Returns early on shutdown; the journal
    /// keeps what is left to do for the next start.
    pub async fn deliver(&self, pending: PendingDelivery) -> Result<(), Stopped> {
        let PendingDelivery { delivery, subject, body, is_test } = pending;
        let text = compose::whatsapp_text(&subject, &body, is_test);
        let sid = match delivery.sid.clone() {
            Some(sid) => sid,
            None => match self.send(&delivery, &subject, &body, &text, is_test).await? {
                Some(sid) => sid,
                None => return Ok(()),
            },
        };
        self.follow(delivery.id, &sid).await
    }

    async fn send(&self, d: &Delivery, subject: &str, body: &str, text: &str, is_test: bool) -> Result<Option<String>, Stopped> {
        let ctx = &self.ctx;
        let Some(client) = &ctx.client else {
            ctx.journal_event(d.alert_id, "dry_run_whatsapp", &format!("to {}: {text}", d.recipient)).await;
            self.update(d.id, "dry_run", None, None).await;
            info!(alert = d.alert_id, to = %d.recipient, "dry run: WhatsApp not sent");
            return Ok(None);
        };
        let message = NewMessage {
            from: self.from.clone(),
            to: d.recipient.clone(),
            body: text.to_owned(),
            template: (!self.content_sid.is_empty())
                .then(|| (self.content_sid.clone(), compose::template_variables(subject, body, is_test))),
        };
        // The intent is durable before the request leaves.
        self.update(d.id, "sending", None, None).await;
        loop {
            match client.create_message(&message).await {
                Ok(m) => {
                    ctx.health.ok(&ctx.events);
                    info!(alert = d.alert_id, to = %d.recipient, sid = %m.sid, status = m.status.as_str(), "WhatsApp accepted by Twilio");
                    self.update(d.id, m.status.as_str(), Some(m.sid.clone()), None).await;
                    return Ok(Some(m.sid));
                }
                Err(e) if e.is_transient() || e.is_auth() => {
                    ctx.health.degraded(&ctx.events, &e);
                    warn!(alert = d.alert_id, to = %d.recipient, "WhatsApp not sent yet, will retry: {e}");
                    ctx.pause(ctx.timing.retry_wait).await?;
                }
                Err(e) => {
                    error!(alert = d.alert_id, to = %d.recipient, "WhatsApp refused: {e}");
                    self.update(d.id, "error", None, Some((e.code().map(i64::from), e.to_string()))).await;
                    return Ok(None);
                }
            }
        }
    }

    /// Polls the message until a final state or the end of the polling window.
    async fn follow(&self, id: i64, sid: &str) -> Result<(), Stopped> {
        let ctx = &self.ctx;
        let Some(client) = &ctx.client else { return Ok(()) };
        let deadline = Instant::now() + ctx.timing.message_follow_for;
        let mut last: Option<MessageStatus> = None;
        while Instant::now() < deadline {
            ctx.pause(ctx.timing.message_poll).await?;
            let m = match client.fetch_message(sid).await {
                Ok(m) => {
                    ctx.health.ok(&ctx.events);
                    m
                }
                Err(e) => {
                    ctx.health.degraded(&ctx.events, &e);
                    warn!(sid, "cannot read the WhatsApp message's state: {e}");
                    continue;
                }
            };
            if last != Some(m.status) {
                last = Some(m.status);
                let error = m.error_code.map(|c| {
                    (Some(c), m.error_message.clone().unwrap_or_else(|| crate::twilio::describe_code(c)))
                });
                let d = self.update(id, m.status.as_str(), None, error).await;
                if matches!(m.status, MessageStatus::Failed | MessageStatus::Undelivered) {
                    error!(to = %d.as_ref().map(|d| d.recipient.as_str()).unwrap_or("?"), sid, code = ?m.error_code, "WhatsApp NOT delivered: {}", d.as_ref().and_then(|d| d.error_message.as_deref()).unwrap_or(""));
                }
            }
            if m.status.is_final() {
                break;
            }
        }
        Ok(())
    }

    async fn update(&self, id: i64, state: &str, sid: Option<String>, error: Option<(Option<i64>, String)>) -> Option<Delivery> {
        match self.ctx.journal.update_delivery(id, state, sid, error).await {
            Ok(d) => {
                self.ctx.events.emit(EngineEvent::Delivery(d.clone()));
                Some(d)
            }
            Err(e) => {
                error!("journal: cannot record a WhatsApp delivery's state: {e}");
                None
            }
        }
    }
}
