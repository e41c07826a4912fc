//! The planner: what each change of an incident owes the team — messages (to whom, on which
//! channel, now or in a digest), calls, holds while paused — decided here and written through the
//! journal's planning transaction ([`crate::journal::planning`]), which only stores.
//!
//! A pass reads the timeline's unplanned lines in order, asks [`lifecycle::owed`] what each
//! owes, and writes that in the transaction that marks the lines planned: a line is planned once,
//! and a crash leaves it unplanned for the next start.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use super::{compose, progress, NotifyContext};
use crate::config::Config;
use crate::events::EngineEvent;
use crate::incident::flood::{Admission, FloodLimit};
use crate::incident::lifecycle::{self, Audience, Facts};
use crate::incident::{IncidentEventKind, MessagePurpose};
use crate::journal::planning::{OwedMessage, PlanTx};
use crate::journal::sql::SqlResult;
use crate::journal::{AlertJournal, IncidentChange, JournalError, PauseState};
use crate::model::Channel;

/// Lines planned per transaction: a flood is planned in bounded steps.
const PLAN_BATCH: i64 = 500;

/// What the planner needs to know of the configuration and the moment.
#[derive(Debug, Clone)]
pub struct PlanPolicy {
    /// `[whatsapp] to`, in E.164.
    pub recipients: Vec<String>,
    /// `[sms] to`: told by SMS instead of WhatsApp.
    pub sms_only: Vec<String>,
    /// Whether `[calls]` is configured: escalations are only owed then.
    pub calls: bool,
    pub paused: bool,
    pub remind_every: Option<chrono::Duration>,
    pub flood: FloodLimit,
    /// `reescalate_after_mins`; None when taken incidents are never escalated again.
    pub reescalate_after: Option<chrono::Duration>,
    pub now: DateTime<Utc>,
}

impl PlanPolicy {
    /// Messages to `recipients` and calls, now: no pause, reminders or re-escalation.
    pub fn plain(recipients: &[&str]) -> Self {
        PlanPolicy {
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            sms_only: Vec::new(),
            calls: true,
            paused: false,
            remind_every: None,
            flood: FloodLimit::default(),
            reescalate_after: None,
            now: Utc::now(),
        }
    }
}

/// What a planning pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanReport {
    pub changes: Vec<IncidentChange>,
    /// Deliveries written as owed (`pending`).
    pub new_deliveries: usize,
    /// Whether escalations became owed (the call queue should look).
    pub escalated: bool,
    /// When the next digest is due, if any is waiting.
    pub next_digest: Option<DateTime<Utc>>,
    /// When the next taken incident is due to be escalated again.
    pub next_reescalation: Option<DateTime<Utc>>,
    /// More unplanned lines remain (a pass plans at most [`PLAN_BATCH`]).
    pub more: bool,
}

/// One planning pass, in one transaction: releases what a finished pause held, re-escalates what
/// was taken too long ago, plans up to [`PLAN_BATCH`] timeline lines and sends the digests due.
/// Idempotent: a line is planned once.
pub async fn plan(journal: &AlertJournal, policy: PlanPolicy) -> Result<PlanReport, JournalError> {
    journal.planning(move |tx| plan_in(tx, &policy)).await
}

fn plan_in(tx: &mut PlanTx<'_, '_>, policy: &PlanPolicy) -> SqlResult<PlanReport> {
    let now = policy.now;
    let mut report = PlanReport::default();
    if !policy.paused {
        // Incidents held by a pause that has ended: told now, if still open.
        for id in tx.held_incidents()? {
            tx.release(id, now)?;
        }
    }
    if let Some(after) = policy.reescalate_after {
        // Taken, yet still alarming this long after: open again, for everyone.
        for taken in tx.taken_before(now - after)? {
            let waited = compose::lasted(now - taken.at);
            let who = taken.by.as_deref().unwrap_or("alguém");
            tx.reopen_taken(taken.id, &format!("{waited} depois de assumido por {who}"), now)?;
        }
        report.next_reescalation = tx.first_taken_at()?.map(|t| t + after);
    }
    let lines = tx.unplanned_lines(PLAN_BATCH + 1)?;
    report.more = lines.len() as i64 > PLAN_BATCH;
    for line in lines.into_iter().take(PLAN_BATCH as usize) {
        let (incident, kind) = (line.incident, line.kind);
        let s = tx.summary(incident)?;
        let facts = Facts {
            state: s.state,
            is_test: s.test,
            held: s.held_since.is_some() && s.released_at.is_none(),
            paused: policy.paused,
            since_last_told: tx.last_told_at(incident)?.map(|t| now - t),
            remind_every: policy.remind_every,
        };
        let owed = lifecycle::owed(kind, facts);
        if owed.hold {
            tx.hold(incident, now)?;
        }
        if owed.cancel_unsent {
            tx.cancel_unsent(incident, now)?;
        }
        if let Some((purpose, audience)) = owed.tell {
            let (subject, body) =
                tx.latest_mail(incident)?.unwrap_or_else(|| (s.title.clone(), String::new()));
            let (headline, text) = compose::incident_message(purpose, &s, &subject, &body, now);
            let mut recipients = match audience {
                Audience::Everyone => {
                    policy.recipients.iter().chain(&policy.sms_only).cloned().collect()
                }
                Audience::WhoGotTheAlarm => tx.who_got_the_alarm(incident)?,
            };
            if purpose == MessagePurpose::Acknowledged {
                // Who took it knows: the others are told.
                let taker = tx.taker_number(incident)?;
                recipients.retain(|r| Some(r) != taker.as_ref());
            }
            for to in recipients {
                let digest_due = match admission(tx, policy, incident, purpose, &to)? {
                    Admission::Send => None,
                    // Reminders are only worth it when they arrive on time.
                    Admission::Gather { .. } if purpose == MessagePurpose::Reminder => continue,
                    Admission::Gather { digest_due } => Some(digest_due),
                };
                let channel =
                    if policy.sms_only.contains(&to) { Channel::Sms } else { Channel::Whatsapp };
                let message = OwedMessage {
                    incident,
                    purpose,
                    recipient: &to,
                    channel,
                    headline: &headline,
                    text: &text,
                    digest_due,
                };
                tx.owe_message(message, now)?;
                report.new_deliveries += usize::from(digest_due.is_none());
            }
            if matches!(
                purpose,
                MessagePurpose::Alarm | MessagePurpose::Reminder | MessagePurpose::Reescalated
            ) {
                tx.mark_told(incident, now)?;
            }
        }
        if owed.escalate && policy.calls {
            tx.owe_escalation(incident)?;
            report.escalated = true;
        }
        tx.mark_planned(line.line)?;
        let announced = matches!(
            kind,
            IncidentEventKind::Opened
                | IncidentEventKind::Acknowledged
                | IncidentEventKind::Resolved
                | IncidentEventKind::Recovered
                | IncidentEventKind::Reopened
                | IncidentEventKind::Released
                | IncidentEventKind::Reescalated
                | IncidentEventKind::Note
        );
        if announced || owed.hold {
            let kind = if owed.hold { IncidentEventKind::Held } else { kind };
            let incident = tx.summary(incident)?;
            report.changes.push(IncidentChange { incident, kind, detail: line.detail });
        }
    }
    report.new_deliveries += plan_digests(tx, now)?;
    report.next_digest = tx.next_digest_due()?;
    Ok(report)
}

/// Whether a message to `to` goes now or waits for their digest (the flood limit).
fn admission(
    tx: &mut PlanTx<'_, '_>,
    policy: &PlanPolicy,
    incident: crate::incident::IncidentId,
    purpose: MessagePurpose,
    to: &str,
) -> SqlResult<Admission> {
    let now = policy.now;
    let (sent, last_digest) = tx.flood_history(to, now - policy.flood.window)?;
    Ok(if matches!(purpose, MessagePurpose::Resolved | MessagePurpose::Acknowledged) {
        // The end of an incident a person heard of by itself comes by itself; of one they only
        // saw in a digest, in the next digest.
        match tx.got_it_alone(incident, to)? {
            true => Admission::Send,
            false => policy.flood.next_digest(last_digest, now),
        }
    } else {
        policy.flood.admit(&sent, last_digest, now)
    })
}

/// Gathers each recipient's waiting messages whose digest is due into one digest message, per
/// channel they are told on. How many digests it wrote.
fn plan_digests(tx: &mut PlanTx<'_, '_>, now: DateTime<Utc>) -> SqlResult<usize> {
    let mut by_recipient: std::collections::HashMap<(String, Channel), Vec<_>> = Default::default();
    for m in tx.gathered_for_due_digests(now)? {
        by_recipient.entry((m.recipient.clone(), m.channel)).or_default().push(m);
    }
    let planned = by_recipient.len();
    for ((to, channel), items) in by_recipient {
        let listed: Vec<_> =
            items.iter().map(|m| (m.purpose, m.incident, m.headline.as_str())).collect();
        let (headline, text) = compose::digest(&listed);
        let ids: Vec<i64> = items.iter().map(|m| m.id).collect();
        tx.owe_digest(&to, channel, &headline, &text, &ids, now)?;
    }
    Ok(planned)
}

/// Plans what each incident event owes (messages, calls, holds) and announces incident changes.
pub struct Planner {
    ctx: NotifyContext,
    recipients: Vec<String>,
    sms_only: Vec<String>,
    calls: bool,
    remind_every: Option<chrono::Duration>,
    reescalate_after: Option<chrono::Duration>,
}

impl Planner {
    pub fn new(config: &Config, ctx: NotifyContext) -> Self {
        let every = config.incidents.remind_every_mins;
        Planner {
            ctx,
            recipients: config.whatsapp.as_ref().map(|w| w.to.clone()).unwrap_or_default(),
            sms_only: config.sms.as_ref().map(|s| s.to.clone()).unwrap_or_default(),
            calls: config.calls.is_some(),
            remind_every: (every > 0).then(|| chrono::Duration::minutes(i64::from(every))),
            reescalate_after: {
                let after = config.incidents.reescalate_after_mins;
                (after > 0).then(|| chrono::Duration::minutes(i64::from(after)))
            },
        }
    }

    /// Runs until shutdown: plans whenever the journal changes, when a digest falls due and
    /// when a timed pause ends.
    pub async fn run(self) {
        let mut changes = self.ctx.journal.changes();
        loop {
            let wait = match self.plan_all().await {
                Ok(next) => next,
                Err(e) => {
                    error!("journal: cannot plan notifications (retrying): {e}");
                    Some(self.ctx.timing.retry_wait)
                }
            };
            let wait = wait.unwrap_or(Duration::from_secs(3600));
            if self.ctx.until_journal_changes(&mut changes, wait).await.is_err() {
                return;
            }
        }
    }

    /// Plans until nothing is left; returns how long until the next timed reason to plan.
    async fn plan_all(&self) -> Result<Option<Duration>, JournalError> {
        progress::test_hook_stall("planner").await;
        let pause = self.ctx.journal.pause_state().await?;
        let now = Utc::now();
        let paused = pause.is_paused(now);
        loop {
            let policy = PlanPolicy {
                recipients: self.recipients.clone(),
                sms_only: self.sms_only.clone(),
                calls: self.calls,
                paused,
                remind_every: self.remind_every,
                flood: self.ctx.timing.flood,
                reescalate_after: self.reescalate_after,
                now: Utc::now(),
            };
            let report = plan(&self.ctx.journal, policy).await?;
            for change in report.changes {
                self.announce(&change);
                self.ctx.events.emit(EngineEvent::Incident(change));
            }
            if !report.more {
                let until_pause_ends = match pause {
                    PauseState::PausedUntil { until } if paused => Some(until),
                    _ => None,
                };
                let next = [report.next_digest, until_pause_ends, report.next_reescalation]
                    .into_iter()
                    .flatten()
                    .min();
                return Ok(next.map(|t| {
                    (t - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(50)
                }));
            }
        }
    }

    fn announce(&self, c: &IncidentChange) {
        let i = &c.incident;
        match c.kind {
            IncidentEventKind::Held => {
                warn!(incident = i.id, title = %i.title, "notifications are PAUSED: incident journaled and held, nobody notified yet")
            }
            kind => {
                info!(incident = i.id, title = %i.title, state = %i.state, "incident {kind}: {}", c.detail)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::incident::{
        AckVia, AlertKind, EscalationState, IncidentId, IncidentRules, IncidentState, ResolveVia,
    };
    use crate::journal::sql::{params, Sql, SqlExt};
    use crate::journal::{acknowledge_from, parse_ts, ts, ActionOutcome};
    use crate::journal::{AlertId, DeliveryState, MailboxUid, NewAlert, RecordOutcome};
    use crate::mail::parse_alert_mail;

    const TO: [&str; 2] = ["+5511999990001", "+5511999990002"];

    fn mail(uid: u32, subject: &str) -> NewAlert {
        let raw = format!(
            "From: sensor@cpd\r\nSubject: {subject}\r\nMessage-ID: <m{uid}@x>\r\n\r\nleitura\r\n"
        );
        NewAlert {
            origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 1, uid },
            mail: parse_alert_mail(raw.as_bytes(), false),
            received_at: Utc::now(),
        }
    }

    fn policy(now: DateTime<Utc>) -> PlanPolicy {
        PlanPolicy {
            recipients: TO.iter().map(|s| s.to_string()).collect(),
            sms_only: Vec::new(),
            calls: true,
            paused: false,
            remind_every: Some(Duration::minutes(30)),
            flood: FloodLimit::default(),
            reescalate_after: Some(Duration::minutes(60)),
            now,
        }
    }

    async fn record(j: &AlertJournal, uid: u32, subject: &str) -> AlertId {
        match j.record(vec![mail(uid, subject)], &IncidentRules::default()).await.unwrap()[0] {
            RecordOutcome::Recorded(id) => id,
            other => panic!("{other:?}"),
        }
    }

    /// An incident opened by one e-mail and told: its alarm messages accepted by Twilio.
    async fn opened_and_sent(j: &AlertJournal, subject: &str, now: DateTime<Utc>) -> IncidentId {
        record(j, 1, subject).await;
        plan(j, policy(now)).await.unwrap();
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        for d in j.deliveries_of(id).await.unwrap() {
            j.update_delivery(d.id, DeliveryState::Sent, Some(format!("SM{}", d.id)), None)
                .await
                .unwrap();
        }
        id
    }

    async fn purposes(
        j: &AlertJournal,
        incident: IncidentId,
    ) -> Vec<(String, MessagePurpose, DeliveryState)> {
        j.deliveries_of(incident)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.recipient, d.purpose, d.state))
            .collect()
    }

    journal_test!(async fn alarm_repeats_and_recovery_are_one_incident_told_once_and_resolved_once(j) {
        record(&j, 1, "Temperatura Rack-A High Critical 33.5 C").await;
        let report = plan(&j, policy(Utc::now())).await.unwrap();
        assert_eq!((report.new_deliveries, report.escalated), (2, true));
        let incident = j.incidents(10, None, false).await.unwrap();
        assert_eq!(incident.len(), 1);
        let id = incident[0].id;
        assert_eq!((incident[0].state, incident[0].escalation), (IncidentState::Open, EscalationState::Owed));

        record(&j, 2, "Temperatura Rack-A High Critical 34.1 C").await;
        record(&j, 3, "Temperatura Rack-A High Critical 35.0 C").await;
        let report = plan(&j, policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 0, "repeats tell nobody");
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!(i.emails, 3);

        // The alarm reached both (sent): the recovery tells both.
        for d in j.deliveries_of(id).await.unwrap() {
            j.update_delivery(d.id, DeliveryState::Sent, Some(format!("SM{}", d.id)), None).await.unwrap();
        }
        record(&j, 4, "Temperatura Rack-A Normal 24.0 C").await;
        let report = plan(&j, policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 2);
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!((i.state, i.resolved_via, i.emails, i.escalation), (IncidentState::Resolved, Some(ResolveVia::Recovery), 4, EscalationState::Stopped));
        let resolved: Vec<_> = purposes(&j, id).await.into_iter().filter(|p| p.1 == MessagePurpose::Resolved).collect();
        assert_eq!(resolved.len(), 2);
        let kinds: Vec<_> = j.alerts_of(id).await.unwrap().into_iter().map(|a| a.kind.unwrap()).collect();
        assert_eq!(kinds, [AlertKind::Alarm, AlertKind::Repeat, AlertKind::Repeat, AlertKind::Recovery]);
        assert!(plan(&j, policy(Utc::now())).await.unwrap().changes.is_empty(), "planned once");
    });

    journal_test!(async fn a_recovery_of_nothing_is_journaled_and_tells_nobody(j) {
        let alert = record(&j, 1, "Temperatura Rack-A Normal 24.0 C").await;
        let report = plan(&j, policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 0);
        assert!(j.incidents(10, None, false).await.unwrap().is_empty());
        let a = j.alert(alert).await.unwrap().unwrap();
        assert_eq!((a.kind, a.incident_id), (Some(AlertKind::Recovery), None));
    });

    journal_test!(async fn a_recovery_before_the_alarm_was_sent_cancels_it_and_tells_nobody(j) {
        record(&j, 1, "UPS Sala 1: On battery power").await;
        plan(&j, policy(Utc::now())).await.unwrap();
        record(&j, 2, "UPS Sala 1: Power restored").await;
        let report = plan(&j, policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 0);
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        assert!(purposes(&j, id).await.iter().all(|p| p.1 == MessagePurpose::Alarm && p.2 == DeliveryState::Canceled));
    });

    journal_test!(async fn flapping_reopens_within_the_window_and_a_late_return_is_a_new_incident(j) {
        record(&j, 1, "Problem: Link down on sw-01").await;
        record(&j, 2, "Resolved: Link down on sw-01").await;
        record(&j, 3, "Problem: Link down on sw-01").await;
        let all = j.incidents(10, None, false).await.unwrap();
        assert_eq!(all.len(), 1, "reopened, not new");
        assert_eq!((all[0].state, all[0].emails), (IncidentState::Open, 3));

        let rules = IncidentRules { reopen_within: Duration::zero(), ..IncidentRules::default() };
        j.record(vec![mail(4, "Resolved: Link down on sw-01")], &rules).await.unwrap();
        j.record(vec![mail(5, "Problem: Link down on sw-01")], &rules).await.unwrap();
        assert_eq!(j.incidents(10, None, false).await.unwrap().len(), 2, "beyond the window: a new incident");
    });

    journal_test!(async fn acknowledged_stops_calls_and_a_reopen_keeps_it_acknowledged(j) {
        record(&j, 1, "Problem: Link down on sw-01").await;
        plan(&j, policy(Utc::now())).await.unwrap();
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        assert_eq!(j.acknowledge(id, Some("Ana".into()), AckVia::Cli).await.unwrap(), ActionOutcome::Done);
        assert_eq!(j.acknowledge(id, None, AckVia::Cli).await.unwrap(), ActionOutcome::AlreadyAcknowledged);
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!((i.state, i.acknowledged_by.as_deref(), i.acknowledged_via, i.escalation), (IncidentState::Acknowledged, Some("Ana"), Some(AckVia::Cli), EscalationState::Stopped));
        assert!(j.speakable_incidents(6).await.unwrap().is_empty());
        record(&j, 2, "Resolved: Link down on sw-01").await;
        record(&j, 3, "Problem: Link down on sw-01").await;
        plan(&j, policy(Utc::now())).await.unwrap();
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!((i.state, i.escalation), (IncidentState::Acknowledged, EscalationState::Stopped), "no calls after the reopen");
        assert_eq!(j.resolve(id, None, ResolveVia::Desktop).await.unwrap(), ActionOutcome::Done);
        assert_eq!(j.resolve(id, None, ResolveVia::Desktop).await.unwrap(), ActionOutcome::AlreadyResolved);
        assert_eq!(j.resolve(999, None, ResolveVia::Cli).await.unwrap(), ActionOutcome::NotFound);
    });

    journal_test!(async fn reminders_come_at_most_once_per_period_while_nobody_took_it(j) {
        let t0 = Utc::now();
        let id = opened_and_sent(&j, "Umidade Sala 1 alta 85%", t0).await;
        record(&j, 2, "Umidade Sala 1 alta 86%").await;
        plan(&j, policy(t0 + Duration::minutes(10))).await.unwrap();
        record(&j, 3, "Umidade Sala 1 alta 87%").await;
        plan(&j, policy(t0 + Duration::minutes(31))).await.unwrap();
        record(&j, 4, "Umidade Sala 1 alta 88%").await;
        plan(&j, policy(t0 + Duration::minutes(40))).await.unwrap();
        let reminders: Vec<_> = j.deliveries_of(id).await.unwrap().into_iter().filter(|d| d.purpose == MessagePurpose::Reminder).collect();
        assert_eq!(reminders.len(), 2, "one per recipient, once");
        assert!(reminders[0].headline.starts_with("Ainda em alarme — 3 e-mails desde"), "{}", reminders[0].headline);
    });

    journal_test!(async fn a_flood_sends_five_per_person_then_one_digest(j) {
        let t0 = Utc::now();
        for uid in 1..=300 {
            record(&j, uid, &format!("Temperatura Rack-{uid} High 40 C")).await;
        }
        let mut p = policy(t0);
        p.recipients.truncate(1);
        loop {
            if !plan(&j, p.clone()).await.unwrap().more {
                break;
            }
        }
        let count = |state: &'static str| {
            let j = j.clone();
            async move { j.call(move |c| c.query_row("SELECT COUNT(*) FROM deliveries WHERE state = ?1", params![state], |r| r.get::<i64>(0))).await.unwrap() }
        };
        assert_eq!(count("pending").await, 5);
        assert_eq!(count("gathered").await, 295);
        let report = plan(&j, PlanPolicy { now: t0 + Duration::minutes(10), ..p.clone() }).await.unwrap();
        assert_eq!(report.new_deliveries, 1, "one digest");
        assert_eq!(count("digested").await, 295);
        let digest = j.call(|c| c.query_row("SELECT headline FROM deliveries WHERE purpose = 'digest'", params![], |r| r.get::<String>(0))).await.unwrap();
        assert!(digest.starts_with("+295 alertas novos"), "{digest}");
        assert_eq!(j.speakable_incidents(6).await.unwrap().len(), 300, "every incident is still escalated");
    });

    journal_test!(async fn taking_tells_the_others_and_a_long_take_is_escalated_again(j) {
        let t0 = Utc::now();
        let id = opened_and_sent(&j, "Umidade Sala 1 alta 85%", t0).await;
        j.call(move |c| {
            let mut tx = c.transaction()?;
            acknowledge_from(&mut tx, id, Some("Ana"), Some(TO[0]), AckVia::Whatsapp, t0)?;
            tx.commit()
        })
        .await
        .unwrap();
        plan(&j, policy(t0)).await.unwrap();
        let told: Vec<_> = j.deliveries_of(id).await.unwrap().into_iter().filter(|d| d.purpose == MessagePurpose::Acknowledged).collect();
        assert_eq!(told.len(), 1, "only the other recipient: {told:?}");
        assert_eq!(told[0].recipient, TO[1]);
        assert!(told[0].headline.starts_with("Assumido por Ana às ") && told[0].headline.ends_with(&format!("(#{id})")), "{}", told[0].headline);

        // Still taken an hour later: open again, everyone told, calls owed again.
        let report = plan(&j, policy(t0 + Duration::minutes(59))).await.unwrap();
        assert_eq!(report.next_reescalation, Some(parse_ts(ts(t0)) + Duration::minutes(60)));
        assert_eq!(j.incident(id).await.unwrap().unwrap().state, IncidentState::Acknowledged);
        plan(&j, policy(t0 + Duration::minutes(61))).await.unwrap();
        let i = j.incident(id).await.unwrap().unwrap();
        assert_eq!((i.state, i.escalation), (IncidentState::Open, EscalationState::Owed));
        let again: Vec<_> = j.deliveries_of(id).await.unwrap().into_iter().filter(|d| d.purpose == MessagePurpose::Reescalated).collect();
        assert_eq!(again.len(), 2);
        assert!(again[0].headline.starts_with("Ainda em alarme 1 h 01 min depois de assumido por Ana"), "{}", again[0].headline);
    });

    journal_test!(async fn old_deliveries_are_not_followed_again_after_a_restart(j) {
        opened_and_sent(&j, "Umidade Sala 9 alta 85%", Utc::now()).await;
        // A year ago: sent then, still "delivered" (never read).
        j.call(|c| c.execute("UPDATE deliveries SET sent_at = '2025-11-28T03:00:00.000Z'", params![])).await.unwrap();
        let since = Utc::now() - Duration::minutes(15);
        assert!(j.deliveries_to_follow(since).await.unwrap().is_empty(), "no request for last year's messages");
        j.call(|c| c.execute("UPDATE deliveries SET sent_at = ?1", params![ts(Utc::now())])).await.unwrap();
        assert_eq!(j.deliveries_to_follow(since).await.unwrap().len(), 2, "a fresh one is followed");
    });

    journal_test!(async fn a_pause_holds_new_incidents_and_its_end_releases_those_still_open(j) {
        record(&j, 1, "Temperatura Sala 1 alta 31 °C").await;
        record(&j, 2, "Temperatura Sala 2 alta 31 °C").await;
        let paused = PlanPolicy { paused: true, ..policy(Utc::now()) };
        let report = plan(&j, paused).await.unwrap();
        assert_eq!(report.new_deliveries, 0);
        assert!(report.changes.iter().all(|c| c.kind == IncidentEventKind::Held));
        let all = j.incidents(10, None, false).await.unwrap();
        assert!(all.iter().all(|i| i.held_since.is_some() && i.escalation == EscalationState::None));
        j.acknowledge(all[1].id, None, AckVia::Desktop).await.unwrap();
        let report = plan(&j, policy(Utc::now())).await.unwrap();
        assert_eq!(report.new_deliveries, 2, "only the one still open is told");
        let i = j.incident(all[0].id).await.unwrap().unwrap();
        assert!(i.released_at.is_some() && i.escalation == EscalationState::Owed);
    });
}
