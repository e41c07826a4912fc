//! The mailbox watcher: turns matching unread e-mails into journaled alerts, for as long as the
//! program runs.
//!
//! One loop per connection: scan, then wait for the server to push news (IDLE) or for the
//! re-scan timer, then scan again. Any failure drops the connection and reconnects with backoff;
//! the first thing a new connection does is scan, so mail that arrived during an outage is found.
//! An e-mail is marked `\Seen` only after its alert is committed, so a crash between the two
//! re-finds it, and the journal recognises it as already recorded. Each fetched e-mail's sender
//! is checked exactly ([`crate::mail::sender`]) before it may become an alert; how e-mails are
//! fetched, and what happens to one that cannot be, is [`super::fetch`]'s.
//!
//! On a shared journal out of this workstation's reach, the watcher keeps watching: what it
//! finds goes to the local outbox ([`crate::journal::outbox`]), stays unread, and is journaled
//! when the database answers again; only if the database stays away past a grace does the team
//! hear of it from memory.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_imap::types::{Flag, UnsolicitedResponse};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tracing::{debug, error, info, warn};

use super::connection::{connect, step, ImapSession};
use super::fetch::{self, Batch, FetchFailures, GIVE_UP_AFTER};
use super::search::{search_alert_uids, search_criteria, select_folder, sensor_criteria};
use super::{Backoff, MailboxError, MailboxLogin};
use crate::config::{Config, FilterConfig, MailboxConfig};
use crate::events::{EngineEvent, EventBus, MailboxState};
use crate::incident::IncidentRules;
use crate::journal::outbox::LocalOutbox;
use crate::journal::{AlertJournal, JournalError, MailboxUid, NewAlert};
use crate::mail::{parse_alert_mail, AlertMail, Rejection, SenderPolicy};
use crate::notify::Unjournaled;
use crate::outbox_drain::announce;
use crate::shutdown::Shutdown;

const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// How soon an e-mail the journal could not take is tried again.
const JOURNAL_RETRY: Duration = Duration::from_secs(5);

pub struct MailboxWatcher {
    mailbox: MailboxConfig,
    criteria: String,
    login: MailboxLogin,
    journal: AlertJournal,
    /// How the e-mails are placed in incidents, in the transaction that journals them.
    rules: IncidentRules,
    events: EventBus,
    /// Who may raise an alert: checked on each fetched e-mail, after the server's search.
    senders: SenderPolicy,
    /// Where alerts go that the journal cannot take, to be told from memory.
    unjournaled: Option<Unjournaled>,
    /// On a shared journal: where alerts wait while the database is out of reach, and how long
    /// they wait there before the team is told from memory.
    outbox: Option<(LocalOutbox, Duration)>,
    /// E-mails whose fetch failed, kept across reconnections.
    failures: FetchFailures,
    /// `[filter] silence_alarm_hours`, when set: each scan also reports when the sensor was last heard.
    silence_limit: Option<Duration>,
    filter: FilterConfig,
    /// The server refused `\Seen` once already (said once, not at every scan).
    store_refused: AtomicBool,
    /// The outbox's journaled mark as last written (UIDVALIDITY, highest UID): a scan that finds
    /// nothing newer writes nothing.
    marked: std::sync::Mutex<Option<(u32, u32)>>,
}

impl MailboxWatcher {
    pub fn new(
        config: &Config,
        login: MailboxLogin,
        journal: AlertJournal,
        events: EventBus,
        rules: IncidentRules,
        unjournaled: Option<Unjournaled>,
    ) -> Self {
        MailboxWatcher {
            rules,
            mailbox: config.mailbox.clone(),
            criteria: search_criteria(&config.filter),
            login,
            journal,
            events,
            unjournaled,
            outbox: None,
            senders: config.filter.sender_policy(),
            failures: FetchFailures::default(),
            silence_limit: crate::timing::EngineTiming::default()
                .silence_limit(config.filter.silence_alarm_hours),
            filter: config.filter.clone(),
            store_refused: AtomicBool::new(false),
            marked: std::sync::Mutex::new(None),
        }
    }

    /// Holds in `outbox` what a shared journal out of reach cannot take, instead of failing;
    /// what is still unread there after `grace` is told from memory.
    pub fn with_outbox(mut self, outbox: LocalOutbox, grace: Duration) -> Self {
        self.outbox = Some((outbox, grace));
        self
    }

    /// How long the sensor may be silent before the alarm (`[filter] silence_alarm_hours` as the
    /// engine's timing has it), None when that alarm is off.
    pub fn with_silence_limit(mut self, limit: Option<Duration>) -> Self {
        self.silence_limit = limit;
        self
    }

    /// On a shared journal: notes in the outbox that the journal holds this folder's e-mails up
    /// to `highest`, when that is newer than what was noted last.
    async fn mark_journaled(
        &self,
        uidvalidity: u32,
        highest: Option<u32>,
    ) -> Result<(), JournalError> {
        let (Some((outbox, _)), Some(highest)) = (&self.outbox, highest) else { return Ok(()) };
        let newer = |last: &Option<(u32, u32)>| !matches!(last, Some((v, uid)) if *v == uidvalidity && *uid >= highest);
        if !newer(&self.marked.lock().unwrap()) {
            return Ok(());
        }
        outbox.mark_journaled(&self.mailbox.folder, uidvalidity, highest).await?;
        *self.marked.lock().unwrap() = Some((uidvalidity, highest));
        Ok(())
    }

    /// The outbox, when `e` says the shared journal is out of reach (not when it refuses).
    fn holding(&self, e: &JournalError) -> Option<&LocalOutbox> {
        self.outbox.as_ref().map(|(o, _)| o).filter(|_| e.is_unreachable())
    }

    /// Watches until `shutdown` fires, reconnecting after every failure.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut backoff = Backoff::new(BACKOFF_BASE, BACKOFF_CAP);
        while !shutdown.is_shutdown() {
            self.state(MailboxState::Connecting { attempt: backoff.attempts() + 1 });
            let error = match self.watch_connection(&mut shutdown, &mut backoff).await {
                Ok(()) => break,
                Err(e) => e,
            };
            let delay = match &error {
                // A full disk can be freed at any moment: the e-mail waits unread, tried again
                // soon (its alert is told from memory meanwhile).
                MailboxError::Journal(_) => JOURNAL_RETRY,
                e if e.needs_attention() => BACKOFF_CAP,
                _ => backoff.next_delay(),
            };
            warn!(kind = %error.kind(), retry_in_secs = delay.as_secs(), "mailbox: {error}");
            self.state(MailboxState::Degraded {
                kind: error.kind(),
                message: error.to_string(),
                retry_in_secs: delay.as_secs(),
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                // A new sign-in (the settings window, `sentinela-headless login`) resumes at once.
                _ = self.new_sign_in(), if error.needs_sign_in() => {}
                _ = shutdown.recv() => break,
            }
        }
        self.state(MailboxState::Stopped);
    }

    async fn new_sign_in(&self) {
        match &self.login {
            MailboxLogin::OAuth2(tokens) => tokens.wait_for_sign_in().await,
            MailboxLogin::Password(_) => std::future::pending().await,
        }
    }

    fn state(&self, state: MailboxState) {
        match &state {
            MailboxState::Connecting { attempt } => {
                info!(host = %self.mailbox.host, port = self.mailbox.port(), attempt, "mailbox: connecting")
            }
            MailboxState::Watching { idle: true } => {
                info!(folder = %self.mailbox.folder, "mailbox: watching (IDLE push)")
            }
            MailboxState::Watching { idle: false } => info!(
                folder = %self.mailbox.folder,
                every_secs = self.mailbox.rescan_secs,
                "mailbox: watching (server has no IDLE: polling)"
            ),
            MailboxState::Stopped => info!("mailbox: stopped"),
            MailboxState::Degraded { .. } => {}
        }
        self.events.emit(EngineEvent::Mailbox(state));
    }

    /// One connection's life. Ok means a requested shutdown; Err a failure to recover from.
    async fn watch_connection(
        &self,
        shutdown: &mut Shutdown,
        backoff: &mut Backoff,
    ) -> Result<(), MailboxError> {
        let (mut session, caps) = tokio::select! {
            r = connect(&self.mailbox, &self.login) => r?,
            _ = shutdown.recv() => return Ok(()),
        };
        let (uidvalidity, _) = select_folder(&mut session, &self.mailbox.folder).await?;
        let idle = caps.has_str("IDLE");
        backoff.reset();
        self.state(MailboxState::Watching { idle });
        let rescan = Duration::from_secs(self.mailbox.rescan_secs);

        // When the engine learned that the mailbox may hold new mail: the IDLE push, or the
        // start of a scheduled scan. Alerts carry it so delays can be told apart from Dovecot's.
        let mut noticed_at = Utc::now();
        loop {
            // While alerts are held, scans come every few seconds: to mark them seen once the
            // database took them, and to notice when another workstation did.
            let holding = self.scan(&mut session, uidvalidity, noticed_at).await?;
            let wait = if holding { rescan.min(JOURNAL_RETRY) } else { rescan };
            let stop = if !idle {
                let stop = tokio::select! {
                    _ = tokio::time::sleep(wait) => false,
                    _ = shutdown.recv() => true,
                };
                noticed_at = Utc::now();
                stop
            } else if exists_arrived(&session) {
                // New mail was announced while we were busy; scan again before idling.
                noticed_at = Utc::now();
                continue;
            } else {
                let mut handle = session.idle();
                step("IDLE", handle.init()).await?;
                let stop = {
                    // async-imap's own timeout restarts on every server keepalive ("* OK Still
                    // here", every 2 minutes on Dovecot), so it alone would never end a long
                    // IDLE: the re-scan timer runs here, outside it.
                    let (news, _interrupt) = handle.wait_with_timeout(rescan);
                    tokio::select! {
                        r = news => {
                            let why = r.map_err(|e| MailboxError::protocol("IDLE", e))?;
                            debug!(?why, "mailbox: IDLE woke up");
                            false
                        }
                        _ = tokio::time::sleep(wait) => false,
                        _ = shutdown.recv() => true,
                    }
                };
                noticed_at = Utc::now();
                session = step("DONE", handle.done()).await?;
                stop
            };
            if stop {
                let _ = step("LOGOUT", session.logout()).await;
                info!("mailbox: logged out");
                return Ok(());
            }
        }
    }

    /// Finds matching unread mail, journals what is new, and marks it seen. True when the outbox
    /// holds alerts after it (the shared journal was out of reach for some).
    async fn scan(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        noticed_at: DateTime<Utc>,
    ) -> Result<bool, MailboxError> {
        let folder = &self.mailbox.folder;
        let uids = search_alert_uids(session, &self.criteria).await?;
        let (known, rejected, not_new, out_of_reach) =
            match self.journal_view(uidvalidity, &uids).await {
                Ok((known, rejected)) => {
                    self.mark_journaled(uidvalidity, known.keys().chain(&rejected).max().copied())
                        .await?;
                    (known, rejected, HashSet::new(), false)
                }
                Err(e) => match self.holding(&e) {
                    // Out of reach: what is unread is new, but for what the outbox holds already and
                    // what the journal held when last reached (old alerts left unread must not be
                    // told again, one escalation after another).
                    Some(outbox) => {
                        let mut not_new: HashSet<u32> = outbox
                            .held()
                            .await?
                            .into_iter()
                            .map(|h| h.alert.origin)
                            .filter(|o| o.folder == *folder && o.uidvalidity == uidvalidity)
                            .map(|o| o.uid)
                            .collect();
                        if let Some(mark) = outbox.journaled_up_to(folder, uidvalidity).await? {
                            not_new.extend(uids.iter().copied().filter(|u| *u <= mark));
                        }
                        (HashMap::new(), Vec::new(), not_new, true)
                    }
                    None => return Err(e.into()),
                },
            };
        let fresh: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| !known.contains_key(u) && !rejected.contains(u) && !not_new.contains(u))
            .collect();

        if self.mailbox.mark_seen {
            // Journaled before a crash or a lost connection, but the \Seen never confirmed.
            let unmarked: Vec<u32> =
                known.iter().filter(|(_, seen)| !**seen).map(|(uid, _)| *uid).collect();
            self.mark_seen(session, uidvalidity, unmarked).await?;
        }

        let plan = self.failures.plan(uidvalidity, &fresh);
        if !plan.unreadable.is_empty() {
            let unreadable = plan.unreadable.iter().map(|(uid, error)| NewAlert {
                origin: MailboxUid { folder: folder.clone(), uidvalidity, uid: *uid },
                mail: fetch::unreadable_mail(folder, *uid, error),
                received_at: Utc::now(),
            });
            warn!(uids = ?plan.unreadable.iter().map(|u| u.0).collect::<Vec<_>>(), "mailbox: e-mails that cannot be fetched are escalated as unreadable");
            self.journal_batch(session, uidvalidity, noticed_at, unreadable.collect()).await?;
        }
        for batch in self.batches(session, uidvalidity, &plan).await? {
            let fetched = fetch::bodies(session, &batch, self.mailbox.max_message_bytes)
                .await
                .inspect_err(|e| {
                    warn!(uids = ?batch.uids, "mailbox: fetch failed (each e-mail is tried alone next, and escalated as unreadable after {GIVE_UP_AFTER} tries): {e}");
                    self.failures.failed(uidvalidity, &batch.uids, e);
                })?;
            // async-imap reads a FETCH refused with NO as an empty answer: what the server did
            // not give counts as a failed try, so it cannot vanish silently.
            let missing: Vec<u32> = batch
                .uids
                .iter()
                .copied()
                .filter(|u| !fetched.iter().any(|f| f.uid == Some(*u)))
                .collect();
            if !missing.is_empty() {
                warn!(uids = ?missing, "mailbox: the server returned nothing for these e-mails");
                let error = MailboxError::Refused {
                    operation: "FETCH",
                    reason: "the server returned nothing for this e-mail".into(),
                };
                self.failures.failed(uidvalidity, &missing, &error);
            }
            let mut new_alerts = Vec::with_capacity(fetched.len());
            for f in &fetched {
                let (Some(uid), Some(raw)) = (f.uid, f.body()) else { continue };
                let capped = f.size.is_some_and(|size| size > self.mailbox.max_message_bytes);
                let (mail, verdict) = read_mail(raw, capped, &self.senders).unwrap_or_else(|| {
                    error!(uid, "mailbox: reading this e-mail crashed (a bug): it is escalated as illegible, not retried");
                    (fetch::unparseable_mail(folder, uid), Ok(String::new()))
                });
                let received_at = mail
                    .sent_at
                    .or_else(|| f.internal_date().map(|d| d.with_timezone(&Utc)))
                    .unwrap_or_else(Utc::now);
                let origin = MailboxUid { folder: folder.clone(), uidvalidity, uid };
                match verdict {
                    Ok(_) => new_alerts.push(NewAlert { origin, mail, received_at }),
                    Err(rejection) => {
                        warn!(uid, sender = %rejection.address(), subject = %mail.subject, "mailbox: e-mail NOT escalated: {rejection}");
                        match self
                            .journal
                            .record_rejected(
                                origin,
                                rejection.address(),
                                mail.subject,
                                rejection.to_string(),
                                received_at,
                            )
                            .await
                        {
                            // Left unread, to be journaled as rejected once the database answers.
                            Err(e) if self.holding(&e).is_some() => continue,
                            other => other?,
                        };
                        self.failures.done(uidvalidity, &[uid]);
                    }
                }
            }
            self.journal_batch(session, uidvalidity, noticed_at, new_alerts).await?;
        }
        self.events.emit(EngineEvent::Checked { at: Utc::now(), matching_unseen: uids.len() });
        if let Some(limit) = self.silence_limit {
            let newest = self.sensor_heard(session, limit).await?;
            self.events.emit(EngineEvent::SensorHeard { newest });
        }
        let Some((outbox, grace)) = &self.outbox else { return Ok(false) };
        if out_of_reach {
            self.tell_overdue(outbox, *grace, uidvalidity, &uids).await?;
        }
        Ok(outbox.held_count().await? > 0)
    }

    /// What the journal knows of these e-mails: which are journaled (and whether their `\Seen`
    /// was confirmed), and which were rejected.
    async fn journal_view(
        &self,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<(HashMap<u32, bool>, Vec<u32>), JournalError> {
        let folder = &self.mailbox.folder;
        let known = self.journal.sightings(folder, uidvalidity, uids.to_vec()).await?;
        let rejected = self.journal.rejected_among(folder, uidvalidity, uids.to_vec()).await?;
        Ok((known, rejected))
    }

    /// Hands to the memory notifier the held alerts whose e-mails are still unread after the
    /// grace: nobody has journaled them (that would have marked them seen), so nobody may have
    /// told the team. Told once each.
    async fn tell_overdue(
        &self,
        outbox: &LocalOutbox,
        grace: Duration,
        uidvalidity: u32,
        unread: &[u32],
    ) -> Result<(), MailboxError> {
        let Some(memory) = &self.unjournaled else { return Ok(()) };
        let due = Utc::now() - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        let overdue: Vec<NewAlert> = outbox
            .held()
            .await?
            .into_iter()
            .filter(|h| h.told_at.is_none() && h.held_at <= due)
            .map(|h| h.alert)
            .filter(|a| {
                a.origin.folder == self.mailbox.folder
                    && a.origin.uidvalidity == uidvalidity
                    && unread.contains(&a.origin.uid)
            })
            .collect();
        if overdue.is_empty() {
            return Ok(());
        }
        warn!(alerts = overdue.len(), grace_secs = grace.as_secs(), "the shared journal is still out of reach and nobody has taken these e-mails: telling the team from memory");
        let origins = overdue.iter().map(|a| a.origin.clone()).collect();
        if memory.try_send(overdue).is_ok() {
            outbox.mark_told(origins).await?;
        }
        Ok(())
    }

    /// The arrival date of the newest e-mail from the sensor's address within `limit`, read or
    /// not, matching or not (for the silence alarm).
    async fn sensor_heard(
        &self,
        session: &mut ImapSession,
        limit: Duration,
    ) -> Result<Option<DateTime<Utc>>, MailboxError> {
        let since = Utc::now() - chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX);
        let uids = search_alert_uids(session, &sensor_criteria(&self.filter, since)).await?;
        let Some(newest) = uids.last() else { return Ok(None) };
        let dates = step("FETCH", async {
            let stream = session.uid_fetch(newest.to_string(), "(UID INTERNALDATE)").await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await?;
        let at = dates.iter().find_map(|f| f.internal_date()).map(|d| d.with_timezone(&Utc));
        Ok(at.filter(|t| *t >= since))
    }

    /// The fetches a scan makes: e-mails that failed before one by one (the one that fails
    /// cannot hold the others back), then the rest in batches sized by their bytes.
    async fn batches(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        plan: &fetch::FetchPlan,
    ) -> Result<Vec<Batch>, MailboxError> {
        let cap = u64::from(self.mailbox.max_message_bytes);
        let mut batches: Vec<Batch> =
            plan.suspect.iter().map(|u| Batch { uids: vec![*u], bytes: cap }).collect();
        match plan.healthy.as_slice() {
            [] => {}
            // The usual case, one new alert: no round trip to size it, the cap is its size.
            [one] => batches.push(Batch { uids: vec![*one], bytes: cap }),
            several => {
                let sizes = fetch::sizes(session, several)
                    .await
                    .inspect_err(|e| self.failures.failed(uidvalidity, several, e))?;
                batches.extend(fetch::batches(&sizes, cap));
            }
        }
        Ok(batches)
    }

    /// Journals the alerts of one batch, then marks their e-mails seen.
    async fn journal_batch(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        noticed_at: DateTime<Utc>,
        alerts: Vec<NewAlert>,
    ) -> Result<(), MailboxError> {
        let uids: Vec<u32> = alerts.iter().map(|a| a.origin.uid).collect();
        let outcomes = match self.journal.record(alerts.clone(), &self.rules).await {
            Ok(outcomes) => outcomes,
            Err(e) if self.holding(&e).is_some() => {
                // Unread still, and held here: journaled by whoever reaches the database first.
                warn!(uids = ?uids, "mailbox: the shared journal is out of reach; these e-mails are held on this workstation until it answers: {e}");
                if let Some(outbox) = self.holding(&e) {
                    outbox.hold(alerts).await?;
                }
                self.failures.done(uidvalidity, &uids);
                return Ok(());
            }
            Err(e) => {
                // Not lost: the e-mails stay unread and are journaled once the journal takes
                // writes again; meanwhile the team is told from memory.
                if let Some(memory) = &self.unjournaled {
                    let _ = memory.try_send(alerts);
                }
                return Err(e.into());
            }
        };
        self.failures.done(uidvalidity, &uids);
        self.mark_journaled(uidvalidity, uids.iter().max().copied()).await?;
        for (alert, outcome) in alerts.iter().zip(&outcomes) {
            announce(&self.events, alert, *outcome, noticed_at);
        }
        if self.mailbox.mark_seen {
            self.mark_seen(session, uidvalidity, uids).await?;
        }
        Ok(())
    }

    /// Sets `\Seen` on journaled e-mails. A server that does not set it (a read-only or shared
    /// folder) cannot block the next alert: the journal alone then says they were handled, and
    /// the refusal is said once. The flags are read back from the server's answer because
    /// async-imap ends a STORE's stream at the tagged reply without looking at it — a NO reads
    /// like an OK — and Dovecot answers OK to a STORE it ignores in a read-only folder.
    async fn mark_seen(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> Result<(), MailboxError> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = fetch::uid_set(&uids);
        let answers = step("STORE", async {
            let stream = session.uid_store(&set, "+FLAGS (\\Seen)").await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await?;
        let seen = answers.iter().filter(|f| f.flags().any(|flag| flag == Flag::Seen)).count();
        if seen < uids.len() && !self.store_refused.swap(true, Ordering::Relaxed) {
            warn!(folder = %self.mailbox.folder, "mailbox: the server does not mark e-mails as read here (a read-only or shared folder?); they stay unread there, and the journal remembers they were handled");
            let detail = format!(
                "the server did not set \\Seen on {} of {} e-mail(s) in {}: they stay unread there; the journal remembers them.",
                uids.len() - seen,
                uids.len(),
                self.mailbox.folder
            );
            if let Err(e) = self.journal.log_event(None, "mark_seen_refused", &detail).await {
                warn!("journal: cannot log the refused STORE: {e}");
            }
        }
        self.journal.mark_seen(&self.mailbox.folder, uidvalidity, uids).await?;
        Ok(())
    }
}

/// Drains the session's unsolicited responses; true if any announced new messages.
/// The e-mail parsed and its sender checked, or None when either panicked: e-mail content is
/// written by anyone, and a panic on one e-mail must not kill the watcher, which would fetch the
/// same e-mail and die again, forever, while every later alert waits behind it.
fn read_mail(
    raw: &[u8],
    capped: bool,
    senders: &SenderPolicy,
) -> Option<(AlertMail, Result<String, Rejection>)> {
    survive(|| (parse_alert_mail(raw, capped), senders.check(raw)))
}

fn survive<T>(read: impl FnOnce() -> T) -> Option<T> {
    // Nothing shared is left half-changed by a panic inside: both only read `raw`.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).ok()
}

fn exists_arrived(session: &ImapSession) -> bool {
    let mut arrived = false;
    while let Ok(r) = session.unsolicited_responses.try_recv() {
        arrived |= matches!(r, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_));
    }
    arrived
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_reading_one_email_is_survived_and_the_email_escalated_as_illegible() {
        assert_eq!(survive(|| 7), Some(7));
        assert_eq!(survive(|| -> u32 { panic!("a parser bug") }), None);
        // What stands for it says what happened and where to read it, in Portuguese.
        let mail = fetch::unparseable_mail("INBOX", 42);
        assert_eq!(mail.subject, "E-mail ilegível na caixa de alertas");
        assert!(
            mail.body.contains("UID 42") && mail.body.contains("leitura dele falhou"),
            "{}",
            mail.body
        );
        // An ordinary e-mail reads as before.
        let policy = SenderPolicy {
            allowed: vec![crate::mail::AllowedSender::parse("s@cpd.example").unwrap()],
            authserv_id: None,
        };
        let (mail, verdict) =
            read_mail(b"From: s@cpd.example\r\nSubject: ALERTA\r\n\r\nquente\r\n", false, &policy)
                .unwrap();
        assert_eq!((mail.subject.as_str(), verdict), ("ALERTA", Ok("s@cpd.example".to_owned())));
    }
}
