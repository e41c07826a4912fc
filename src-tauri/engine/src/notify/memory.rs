//! The path for alerts the journal cannot take (disk full, read-only, corrupt): rather than go
//! quiet, Sentinela tells the team from memory what it already knows.
//!
//! The mailbox watcher hands over each alert whose recording failed; this manager sends its
//! WhatsApp to every recipient, then phones the call list in order, round after round, until a
//! person answers — the normal path's behaviour, without the journal's bookkeeping (no
//! incidents, replies or reminders). An alert is told once per run however often the watcher
//! retries it. The e-mail stays unread, so once the journal takes writes again it is journaled
//! and escalated as usual: a possible duplicate, never a silence — unless a person answered a
//! call made here. On a shared journal that answer is kept with the held alert in the local
//! outbox, and the hand-over opens its incident already taken by them (or, when the journal has
//! the e-mail by then, takes it there at once): nobody is called again for what someone heard.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex};
use tracing::{error, info, warn};

use super::calls::judge;
use super::compose;
use super::{CallOutcome, NotifyContext, Stopped};
use crate::config::{CallsConfig, WhatsAppConfig};
use crate::incident::MessagePurpose;
use crate::journal::outbox::MemoryAnswer;
use crate::journal::{ActionOutcome, LocalOutbox, NewAlert};
use crate::twilio::{twiml, NewCall, NewMessage};

/// What the watcher sends: alerts it could not journal.
pub type Unjournaled = mpsc::Sender<Vec<NewAlert>>;

/// The receiving end, shared so a restarted notifier takes it up again.
pub type UnjournaledInbox = Arc<Mutex<mpsc::Receiver<Vec<NewAlert>>>>;

/// A channel for alerts the journal could not take.
pub fn unjournaled_channel() -> (Unjournaled, UnjournaledInbox) {
    let (tx, rx) = mpsc::channel(64);
    (tx, Arc::new(Mutex::new(rx)))
}

const WARNING: &str = "⚠️ O Sentinela não consegue gravar o histórico (disco cheio ou com defeito): este alerta sai direto da memória. Confira a máquina do Sentinela.";
/// On a shared journal the usual cause is the database out of reach, not this machine's disk.
const WARNING_SHARED: &str = "⚠️ O Sentinela não alcança o histórico compartilhado (banco de dados fora do ar ou sem rede): este alerta sai direto da memória desta estação. Confira o banco de dados e a rede.";

pub struct MemoryNotifier {
    ctx: NotifyContext,
    whatsapp: Option<WhatsAppConfig>,
    calls: Option<CallsConfig>,
    inbox: UnjournaledInbox,
    /// On a shared journal: where an answer waits for the hand-over.
    outbox: Option<LocalOutbox>,
}

impl MemoryNotifier {
    pub fn new(ctx: NotifyContext, whatsapp: Option<WhatsAppConfig>, calls: Option<CallsConfig>, inbox: UnjournaledInbox, outbox: Option<LocalOutbox>) -> Self {
        MemoryNotifier { ctx, whatsapp, calls, inbox, outbox }
    }

    pub async fn run(self) {
        // Told already in this run, by Message-ID or else by mailbox identity.
        let mut told: HashSet<String> = HashSet::new();
        let mut shutdown = self.ctx.shutdown.clone();
        loop {
            let batch = {
                let mut inbox = self.inbox.lock().await;
                tokio::select! {
                    b = inbox.recv() => b,
                    _ = shutdown.recv() => return,
                }
            };
            let Some(batch) = batch else { return };
            for alert in batch {
                let key = alert.mail.message_id.clone().unwrap_or_else(|| format!("{}/{}/{}", alert.origin.folder, alert.origin.uidvalidity, alert.origin.uid));
                if !told.insert(key) {
                    continue;
                }
                error!(subject = %alert.mail.subject, "the journal cannot take this alert: telling the team from memory");
                match self.tell(&alert).await {
                    Ok(Some(number)) => self.answered(&alert, number).await,
                    Ok(None) => {}
                    Err(Stopped) => return,
                }
            }
        }
    }

    /// A person answered for `alert`: the incident is theirs, in the journal if it has the
    /// e-mail, else at the outbox's hand-over.
    async fn answered(&self, alert: &NewAlert, number: String) {
        let answer = MemoryAnswer { by: self.ctx.person(&number), number };
        let kept = match &self.outbox {
            Some(outbox) => outbox.mark_answered(&alert.origin, &answer).await.unwrap_or_else(|e| {
                warn!("outbox: cannot keep who answered the call made from memory: {e}");
                false
            }),
            None => false,
        };
        let (by, subject) = (&answer.by, &alert.mail.subject);
        match self.ctx.journal.acknowledge_from_memory(alert.origin.clone(), answer.clone()).await {
            Ok(ActionOutcome::Done) => info!(%by, %subject, "the incident is taken by who answered the call made from memory"),
            Ok(ActionOutcome::NotFound) | Err(_) if kept => info!(%by, %subject, "who answered waits in the outbox: the hand-over gives them the incident"),
            Ok(ActionOutcome::NotFound) => warn!(%by, %subject, "who answered cannot be noted: once journaled, the alert is escalated again"),
            Err(e) => warn!(%by, %subject, "who answered cannot be noted ({e}): once journaled, the alert is escalated again"),
            // Someone took or resolved it meanwhile.
            Ok(_) => {}
        }
    }

    /// Sends the WhatsApp and calls until a person answers; returns their number.
    async fn tell(&self, alert: &NewAlert) -> Result<Option<String>, Stopped> {
        let Some(client) = &self.ctx.client else {
            warn!("dry run: the alert the journal could not take is not sent");
            return Ok(None);
        };
        if let Some(w) = &self.whatsapp {
            let warning = if self.ctx.journal.shared_target().is_some() { WARNING_SHARED } else { WARNING };
            let body = compose::whatsapp_text(MessagePurpose::Alarm, &alert.mail.subject, &format!("{warning}\n\n{}", alert.mail.body), false);
            for to in &w.to {
                let m = NewMessage { from: w.from.clone(), to: to.clone(), body: body.clone(), template: None };
                match client.create_message(&m, None).await {
                    Ok(sent) => info!(to = %to, sid = %sent.sid, "WhatsApp sent from memory"),
                    Err(e) => warn!(to = %to, "WhatsApp from memory not sent: {e}"),
                }
            }
        }
        let Some(calls) = &self.calls else { return Ok(None) };
        for round in 0..calls.rounds {
            for to in &calls.to {
                let spoken = [twiml::Spoken { title: &alert.mail.subject, body: &alert.mail.body, test: false }];
                let request = NewCall {
                    from: calls.from.clone(),
                    to: to.clone(),
                    twiml: twiml::incidents_twiml(&calls.voice, &calls.language, &spoken, self.ctx.people.get(to).map(String::as_str)),
                    timeout_secs: calls.ring_secs,
                    machine_detection: calls.require_human,
                };
                let outcome = match client.create_call(&request, None).await {
                    Ok(call) => self.follow(&call.sid, calls).await?,
                    Err(e) => {
                        warn!(to = %to, "call from memory not placed: {e}");
                        CallOutcome::Error
                    }
                };
                info!(to = %to, round, outcome = outcome.as_str(), "call from memory ended");
                if outcome == CallOutcome::Answered {
                    return Ok(Some(to.clone()));
                }
            }
            if round + 1 < calls.rounds {
                self.ctx.pause(Duration::from_secs(calls.round_pause_secs)).await?;
            }
        }
        error!(subject = %alert.mail.subject, "NOBODY ANSWERED the calls made from memory for an alert the journal could not take");
        Ok(None)
    }

    /// Polls the call until it is decided; hangs up on a machine. Bounded like the queue's.
    async fn follow(&self, sid: &str, calls: &CallsConfig) -> Result<CallOutcome, Stopped> {
        let Some(client) = &self.ctx.client else { return Ok(CallOutcome::DryRun) };
        let give_up = tokio::time::Instant::now() + Duration::from_secs(u64::from(calls.ring_secs) + 90);
        while tokio::time::Instant::now() < give_up {
            self.ctx.pause(self.ctx.timing.call_poll).await?;
            let Ok(call) = client.fetch_call(sid).await else { continue };
            match judge(&call, calls.require_human) {
                Some(CallOutcome::Machine) => {
                    let _ = client.end_call(sid, false).await;
                    return Ok(CallOutcome::Machine);
                }
                Some(outcome) => return Ok(outcome),
                None => {}
            }
        }
        Ok(CallOutcome::Error)
    }
}
