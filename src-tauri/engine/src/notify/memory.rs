//! The path for alerts the journal cannot take (disk full, read-only, corrupt): rather than go
//! quiet, Sentinela tells the team from memory what it already knows.
//!
//! The mailbox watcher hands over each alert whose recording failed; this manager sends its
//! WhatsApp to every recipient under the same flood limit as the journal's path (past it, one
//! digest), and keeps one call queue, each call speaking every alert still owed, round after
//! round until a person answers — the normal path's behaviour, without the journal's bookkeeping
//! (no incidents, replies or reminders). An outage that brings many alerts is one escalation,
//! not a storm of them. An alert is told once per run however often the watcher retries it. The e-mail stays unread, so once the journal takes writes again it is journaled
//! and escalated as usual: a possible duplicate, never a silence — unless a person answered a
//! call made here. On a shared journal that answer is kept with the held alert in the local
//! outbox, and the hand-over opens its incident already taken by them (or, when the journal has
//! the e-mail by then, takes it there at once): nobody is called again for what someone heard.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, Mutex};
use tracing::{error, info, warn};

use super::compose;
use super::voice::judge;
use super::{CallOutcome, NotifyContext, Stopped};
use crate::config::{CallsConfig, WhatsAppConfig};
use crate::incident::flood::Admission;
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

/// An alert told from memory, owed calls until a person answers one that speaks it.
struct Owed {
    alert: NewAlert,
    /// Calls that spoke it: it is owed `rounds × numbers` at most, as an incident is.
    calls: u32,
}

/// One person's alarm messages sent from memory, under the same flood limit as the journal's.
#[derive(Debug, Default)]
struct Recipient {
    sent: Vec<DateTime<Utc>>,
    last_digest: Option<DateTime<Utc>>,
    /// Subjects past the limit, told together when `due`.
    gathered: Vec<String>,
    due: Option<DateTime<Utc>>,
}

impl MemoryNotifier {
    pub fn new(
        ctx: NotifyContext,
        whatsapp: Option<WhatsAppConfig>,
        calls: Option<CallsConfig>,
        inbox: UnjournaledInbox,
        outbox: Option<LocalOutbox>,
    ) -> Self {
        MemoryNotifier { ctx, whatsapp, calls, inbox, outbox }
    }

    /// As the notify side does from the journal: every alert's WhatsApp to everyone within the
    /// flood limit (the rest in a digest), and one call queue — a call speaks every alert still
    /// owed, so a burst of alerts is one escalation, not one per alert.
    pub async fn run(self) {
        // Told already in this run, by Message-ID or else by mailbox identity.
        let mut told: HashSet<String> = HashSet::new();
        let mut owed: Vec<Owed> = Vec::new();
        let mut recipients: HashMap<String, Recipient> = HashMap::new();
        // The next number of the queue.
        let mut position = 0usize;
        loop {
            // Nothing owed: wait for an alert (or a digest's time); calls owed: take what came
            // meanwhile and go on calling.
            let wait = match owed.is_empty() {
                true => recipients
                    .values()
                    .filter_map(|r| r.due)
                    .min()
                    .map(|due| (due - Utc::now()).to_std().unwrap_or_default()),
                false => Some(Duration::ZERO),
            };
            let arrived = match self.receive(wait).await {
                Ok(Some(arrived)) => arrived,
                Ok(None) | Err(Stopped) => return,
            };
            for alert in arrived {
                let key = alert.mail.message_id.clone().unwrap_or_else(|| {
                    format!(
                        "{}/{}/{}",
                        alert.origin.folder, alert.origin.uidvalidity, alert.origin.uid
                    )
                });
                if !told.insert(key) {
                    continue;
                }
                error!(subject = %alert.mail.subject, "the journal cannot take this alert: telling the team from memory");
                self.message(&alert, &mut recipients).await;
                owed.push(Owed { alert, calls: 0 });
            }
            self.send_due_digests(&mut recipients).await;
            match &self.calls {
                Some(calls) if !owed.is_empty() => {
                    if self.call_once(calls, &mut owed, &mut position).await.is_err() {
                        return;
                    }
                }
                _ => owed.clear(),
            }
        }
    }

    /// The alerts handed over, waiting up to `wait` for the first (None: until one comes);
    /// None when the watcher is gone.
    async fn receive(&self, wait: Option<Duration>) -> Result<Option<Vec<NewAlert>>, Stopped> {
        let mut inbox = self.inbox.lock().await;
        let mut shutdown = self.ctx.shutdown.clone();
        let mut arrived = Vec::new();
        let first = async {
            match wait {
                Some(d) if d.is_zero() => Some(Some(Vec::new())),
                Some(d) => tokio::time::timeout(d, inbox.recv())
                    .await
                    .unwrap_or(Some(Vec::new()))
                    .map(Some),
                None => inbox.recv().await.map(Some),
            }
        };
        tokio::select! {
            first = first => match first {
                Some(Some(batch)) => arrived.extend(batch),
                _ => return Ok(None),
            },
            _ = shutdown.recv() => return Err(Stopped),
        }
        while let Ok(batch) = inbox.try_recv() {
            arrived.extend(batch);
        }
        Ok(Some(arrived))
    }

    fn warning(&self) -> &'static str {
        if self.ctx.journal.shared_target().is_some() {
            WARNING_SHARED
        } else {
            WARNING
        }
    }

    /// `alert`'s WhatsApp to every recipient whose flood limit lets it through; gathered for
    /// the digest for the others.
    async fn message(&self, alert: &NewAlert, recipients: &mut HashMap<String, Recipient>) {
        let Some(w) = &self.whatsapp else { return };
        let body = compose::whatsapp_text(
            MessagePurpose::Alarm,
            &alert.mail.subject,
            &format!("{}\n\n{}", self.warning(), alert.mail.body),
            false,
        );
        let now = Utc::now();
        for to in &w.to {
            let r = recipients.entry(to.clone()).or_default();
            match self.ctx.timing.flood.admit(&r.sent, r.last_digest, now) {
                Admission::Send => {
                    r.sent.push(now);
                    self.send(w, to, body.clone()).await;
                }
                Admission::Gather { digest_due } => {
                    info!(to = %to, due = %digest_due, "flood limit: the alert told from memory waits for the digest");
                    r.gathered.push(alert.mail.subject.clone());
                    r.due = Some(r.due.map_or(digest_due, |d| d.min(digest_due)));
                }
            }
        }
    }

    /// The digests whose time has come: "+3 alertas novos: …".
    async fn send_due_digests(&self, recipients: &mut HashMap<String, Recipient>) {
        let Some(w) = &self.whatsapp else { return };
        let now = Utc::now();
        for (to, r) in recipients.iter_mut().filter(|(_, r)| r.due.is_some_and(|d| d <= now)) {
            let items: Vec<_> = r
                .gathered
                .iter()
                .map(|subject| (MessagePurpose::Alarm, None, subject.as_str()))
                .collect();
            let (headline, detail) = compose::digest(&items);
            let body = compose::whatsapp_text(
                MessagePurpose::Digest,
                &headline,
                &format!("{}\n\n{detail}", self.warning()),
                false,
            );
            self.send(w, to, body).await;
            (r.gathered, r.due, r.last_digest) = (Vec::new(), None, Some(now));
        }
    }

    async fn send(&self, w: &WhatsAppConfig, to: &str, body: String) {
        let Some(client) = &self.ctx.client else {
            warn!("dry run: the WhatsApp told from memory is not sent");
            return;
        };
        let m = NewMessage {
            from: w.from.clone(),
            to: to.to_owned(),
            body,
            template: None,
            channel: crate::model::Channel::Whatsapp,
        };
        match client.create_message(&m, None).await {
            Ok(sent) => info!(to = %to, sid = %sent.sid, "WhatsApp sent from memory"),
            Err(e) => warn!(to = %to, "WhatsApp from memory not sent: {e}"),
        }
    }

    /// A person answered for `alert`: the incident is theirs, in the journal if it has the
    /// e-mail, else at the outbox's hand-over.
    async fn answered(&self, alert: &NewAlert, number: String) {
        let answer = MemoryAnswer { by: self.ctx.person(&number), number };
        let kept = match &self.outbox {
            Some(outbox) => {
                outbox.mark_answered(&alert.origin, &answer).await.unwrap_or_else(|e| {
                    warn!("outbox: cannot keep who answered the call made from memory: {e}");
                    false
                })
            }
            None => false,
        };
        let (by, subject) = (&answer.by, &alert.mail.subject);
        match self.ctx.journal.acknowledge_from_memory(alert.origin.clone(), answer.clone()).await {
            Ok(ActionOutcome::Done) => {
                info!(%by, %subject, "the incident is taken by who answered the call made from memory")
            }
            Ok(ActionOutcome::NotFound) | Err(_) if kept => {
                info!(%by, %subject, "who answered waits in the outbox: the hand-over gives them the incident")
            }
            Ok(ActionOutcome::NotFound) => {
                warn!(%by, %subject, "who answered cannot be noted: once journaled, the alert is escalated again")
            }
            Err(e) => {
                warn!(%by, %subject, "who answered cannot be noted ({e}): once journaled, the alert is escalated again")
            }
            // Someone took or resolved it meanwhile.
            Ok(_) => {}
        }
    }

    /// The next call of the queue, speaking every alert `owed`: who answers takes them all;
    /// an alert nobody answered for `rounds` rounds drops out, said loudly.
    async fn call_once(
        &self,
        calls: &CallsConfig,
        owed: &mut Vec<Owed>,
        position: &mut usize,
    ) -> Result<(), Stopped> {
        let Some(client) = &self.ctx.client else {
            warn!("dry run: the alerts the journal could not take are not called about");
            owed.clear();
            return Ok(());
        };
        let n = calls.to.len();
        let to = calls.to[*position % n].clone();
        let spoken: Vec<_> = owed
            .iter()
            .map(|o| twiml::Spoken {
                title: &o.alert.mail.subject,
                body: &o.alert.mail.body,
                test: false,
            })
            .collect();
        let request = NewCall {
            from: calls.from.clone(),
            to: to.clone(),
            twiml: twiml::incidents_twiml(
                &calls.voice,
                &calls.language,
                &spoken,
                self.ctx.people.get(&to).map(String::as_str),
            ),
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
        info!(to = %to, alerts = owed.len(), outcome = outcome.as_str(), "call from memory ended");
        if outcome == CallOutcome::Answered {
            for o in owed.drain(..) {
                self.answered(&o.alert, to.clone()).await;
            }
            *position = 0;
            return Ok(());
        }
        let budget = calls.rounds.saturating_mul(n as u32);
        owed.retain_mut(|o| {
            o.calls += 1;
            let left = o.calls < budget;
            if !left {
                error!(subject = %o.alert.mail.subject, "NOBODY ANSWERED the calls made from memory for an alert the journal could not take");
            }
            left
        });
        *position += 1;
        if owed.is_empty() {
            *position = 0;
        } else if position.is_multiple_of(n) {
            self.ctx.pause(Duration::from_secs(calls.round_pause_secs)).await?;
        }
        Ok(())
    }

    /// Polls the call until it is decided; hangs up on a machine. Bounded like the queue's.
    async fn follow(&self, sid: &str, calls: &CallsConfig) -> Result<CallOutcome, Stopped> {
        let Some(client) = &self.ctx.client else { return Ok(CallOutcome::DryRun) };
        let give_up =
            tokio::time::Instant::now() + Duration::from_secs(u64::from(calls.ring_secs) + 90);
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
