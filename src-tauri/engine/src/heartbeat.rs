//! A sign of life out of this workstation (`[heartbeat]`), so that someone notices when it dies
//! — which nothing inside it can say.
//!
//! - The URL ping: a GET every `every_mins` while the mailbox is watched and Twilio answers (the
//!   first at once when it starts with the mailbox already watched), for
//!   Healthchecks, Uptime Kuma, Better Stack and the like, which alarm when the pings stop. No
//!   ping while Sentinela cannot do its job (mailbox down, Twilio failing, nobody to notify):
//!   the outside monitor then says so too.
//! - The daily WhatsApp at `daily_at` (local time): "Sentinela ativo" with yesterday's counts,
//!   claimed in the journal per day so a restart never sends it twice. A Sentinela started
//!   after that hour sends the day's message at once.

use std::time::Duration;

use chrono::{DateTime, Local, NaiveTime, TimeZone, Utc};
use tokio::sync::broadcast;
use tracing::{info, warn};

use crate::config::HeartbeatConfig;
use crate::events::{EngineEvent, MailboxState, TwilioState};
use crate::journal::DayCounts;
use crate::notify::NotifyContext;
use crate::twilio::NewMessage;

/// Time limit for one ping.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Heartbeat {
    ctx: NotifyContext,
    config: HeartbeatConfig,
    /// The WhatsApp sender (`[whatsapp] from`), for the daily message.
    whatsapp_from: Option<String>,
    events: broadcast::Receiver<EngineEvent>,
    http: reqwest::Client,
    /// The day whose message this run has dealt with (sent, or found claimed).
    sent_today: Option<chrono::NaiveDate>,
}

impl Heartbeat {
    pub fn new(ctx: NotifyContext, config: HeartbeatConfig, whatsapp_from: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(PING_TIMEOUT)
            .user_agent(concat!("sentinela/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let events = ctx.events.subscribe();
        Heartbeat { ctx, config, whatsapp_from, events, http, sent_today: None }
    }

    /// How often the URL is pinged.
    fn every(&self) -> Duration {
        self.ctx.timing.heartbeat_period(self.config.every_mins)
    }

    pub async fn run(mut self) {
        let mut shutdown = self.ctx.shutdown.clone();
        let mut ping = tokio::time::interval(self.every());
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // As things are now, not only from the next change: a standby that just took the lease
        // pings at once when the mailbox has long been watched (the interval's first tick is
        // immediate).
        let mut watching =
            matches!(self.ctx.events.mailbox_state(), Some(MailboxState::Watching { .. }));
        let mut failing_pings = 0u32;
        loop {
            let daily_in = self.until_daily();
            tokio::select! {
                e = self.events.recv() => match e {
                    Ok(EngineEvent::Mailbox(state)) => {
                        let was = watching;
                        watching = matches!(state, MailboxState::Watching { .. });
                        // The first ping as soon as the mailbox is watched.
                        if watching && !was {
                            ping.reset_immediately();
                        }
                    }
                    Ok(EngineEvent::Twilio(TwilioState::Ok)) => ping.reset_immediately(),
                    Err(broadcast::error::RecvError::Closed) => return,
                    _ => {}
                },
                _ = ping.tick() => {
                    if self.config.url.is_empty() || !watching || !self.can_notify() {
                        continue;
                    }
                    match self.http.get(&self.config.url).send().await.and_then(|r| r.error_for_status()) {
                        Ok(_) => failing_pings = 0,
                        Err(e) => {
                            failing_pings += 1;
                            if failing_pings == 1 {
                                warn!("heartbeat: the ping to heartbeat.url failed (the monitor will say Sentinela is down): {}", e.without_url());
                            }
                        }
                    }
                }
                _ = tokio::time::sleep(daily_in), if !self.config.whatsapp_to.is_empty() => self.daily().await,
                _ = shutdown.recv() => return,
            }
        }
    }

    /// Sentinela can do its job: someone would be told (not a dry run) and Twilio answers.
    fn can_notify(&self) -> bool {
        self.ctx.client.is_some() && !self.ctx.health.is_degraded()
    }

    /// How long until today's `daily_at`, or zero once it has passed (the claim then decides).
    fn until_daily(&self) -> Duration {
        let at = self.config.daily_time().unwrap_or(NaiveTime::MIN);
        let now = Local::now();
        let today = now.date_naive().and_time(at);
        let today = Local.from_local_datetime(&today).earliest().unwrap_or(now);
        if today <= now {
            // Already due today: claimed once; after that, wait for tomorrow's.
            let tomorrow = Local
                .from_local_datetime(&(now.date_naive() + chrono::Days::new(1)).and_time(at))
                .earliest()
                .unwrap_or(now);
            if self.sent_today == Some(now.date_naive()) {
                return (tomorrow - now).to_std().unwrap_or(Duration::from_secs(60));
            }
            return Duration::ZERO;
        }
        (today - now).to_std().unwrap_or(Duration::from_secs(60))
    }

    /// Sends today's message if no one did yet.
    async fn daily(&mut self) {
        let today = Local::now().date_naive();
        self.sent_today = Some(today);
        match self.ctx.journal.claim_daily_heartbeat(today.format("%Y-%m-%d").to_string()).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                warn!("journal: cannot claim today's heartbeat message: {e}");
                return;
            }
        }
        let (Some(client), Some(from)) = (&self.ctx.client, &self.whatsapp_from) else { return };
        let start = Local
            .from_local_datetime(&(today - chrono::Days::new(1)).and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc));
        let end = Local
            .from_local_datetime(&today.and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc));
        let counts = match (start, end) {
            (Some(s), Some(e)) => self.ctx.journal.day_counts(s, e).await.unwrap_or_default(),
            _ => DayCounts::default(),
        };
        let text = daily_text(&counts, Utc::now());
        for to in &self.config.whatsapp_to {
            let message = NewMessage {
                from: from.clone(),
                to: to.clone(),
                body: text.clone(),
                template: None,
                channel: crate::model::Channel::Whatsapp,
            };
            match client.create_message(&message, None).await {
                Ok(m) => info!(to = %to, sid = %m.sid, "heartbeat: daily message sent"),
                Err(e) => warn!(to = %to, "heartbeat: the daily message was not sent: {e}"),
            }
        }
        self.ctx.journal_event(None, "heartbeat_daily", &text).await;
    }
}

/// "✅ Sentinela ativo. Ontem: …" — what a person reads each morning.
pub fn daily_text(c: &DayCounts, now: DateTime<Utc>) -> String {
    let n = |count: u64, one: &str, many: &str| {
        format!("{count} {}", if count == 1 { one } else { many })
    };
    format!(
        "✅ Sentinela ativo ({}). Ontem: {}, {}, {}, {}. Abertos agora: {}.",
        now.with_timezone(&Local).format("%d/%m/%Y %H:%M"),
        n(c.emails, "e-mail de alerta", "e-mails de alerta"),
        n(c.incidents, "incidente", "incidentes"),
        n(c.calls, "ligação", "ligações"),
        n(c.messages, "WhatsApp", "WhatsApp"),
        c.open_now
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_text_counts_in_portuguese() {
        let c = DayCounts { emails: 3, incidents: 1, calls: 0, messages: 4, open_now: 1 };
        let t = daily_text(&c, Utc::now());
        assert!(t.starts_with("✅ Sentinela ativo ("), "{t}");
        assert!(t.contains("Ontem: 3 e-mails de alerta, 1 incidente, 0 ligações, 4 WhatsApp. Abertos agora: 1."), "{t}");
    }
}
