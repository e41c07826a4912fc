//! The call queue: one queue for the whole engine, phoning the numbers one at a time about every
//! open incident nobody has taken, until a person answers.
//!
//! Each call speaks the open, unacknowledged incidents, newest first, so a new incident is heard
//! in the very next call instead of waiting behind older escalations; a person who answers takes
//! every incident the call spoke. The queue goes on through the numbers, in order, while any
//! incident still has calls owed (`rounds` passes through the list, counted from its first call),
//! pausing `round_pause_secs` when it starts the list again with nothing new to say.
//!
//! Each call is journaled as an intent, with the incidents it speaks, before it is created, then
//! followed by polling about once a second. An acknowledge or a resolve — from a call, the app or
//! the CLI — reaches the queue through one path, the journal's change signal: a call that is still
//! queued or ringing and speaks only incidents nobody needs anymore is cancelled. After a restart
//! the queue starts from the journal: a call with a SID is followed again (it may still be
//! ringing), and only a call without a SID — the request's answer was lost — is placed again.
//!
//! With `[calls] keypress` a call takes its incidents only when the person presses 1: it is an
//! execution of Sentinela's Studio flow ([`crate::twilio::studio`]), whose call is found and
//! followed like any other while the execution's context is read for the key. A person who
//! answers and presses nothing heard the alert ([`CallOutcome::Heard`]) and the queue goes on.
//! If Studio refuses the flow, the calls go on without the key rather than not at all.

use std::future::Future;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::next_call::{next_call, CallList, NextCall, PlannedCall, QueueView, Rest};
use crate::config::CallsConfig;
use crate::events::EngineEvent;
use crate::incident::{AckVia, IncidentEventKind};
pub use crate::journal::CallOutcome;
use crate::journal::{CallAttempt, CallState, CallUpdate, IncidentChange, SpokenIncident};
use crate::notify::retry::{self, Answer};
use crate::notify::{NotifyContext, Stopped};
use crate::twilio::studio::{self, TAKE_KEY};
use crate::twilio::{twiml, Call, CallStatus, CreateError, NewCall};

fn is_machine(answered_by: &str) -> bool {
    answered_by.starts_with("machine") || answered_by == "fax"
}

/// What a call's current state means for the queue: `None` while it is still undecided.
pub fn judge(call: &Call, require_human: bool) -> Option<CallOutcome> {
    let by = call.answered_by.as_deref();
    match call.status {
        CallStatus::InProgress | CallStatus::Completed => match by {
            Some(b) if is_machine(b) => Some(CallOutcome::Machine),
            Some("human") => Some(CallOutcome::Answered),
            _ if !require_human => Some(CallOutcome::Answered),
            // Twilio may only report answered_by once the call completes: wait for it.
            Some("unknown") | None if call.status == CallStatus::Completed => {
                Some(CallOutcome::Unconfirmed)
            }
            _ => None,
        },
        CallStatus::Busy => Some(CallOutcome::Busy),
        CallStatus::NoAnswer => Some(CallOutcome::NoAnswer),
        CallStatus::Failed => Some(CallOutcome::Failed),
        CallStatus::Canceled => Some(CallOutcome::Canceled),
        CallStatus::Queued | CallStatus::Ringing | CallStatus::Unknown => None,
    }
}

/// With `[calls] keypress`: what a call and the key pressed in it mean. Only 1 takes the
/// incidents; a machine is hung up on as always; a person who answered and had not pressed 1
/// when the call ended heard the alert without taking it, and the queue goes on.
pub fn judge_keypress(call: &Call, key: Option<&str>, require_human: bool) -> Option<CallOutcome> {
    if key == Some(TAKE_KEY) {
        return Some(CallOutcome::Answered);
    }
    match judge(call, require_human) {
        Some(CallOutcome::Answered | CallOutcome::Unconfirmed)
            if call.status == CallStatus::Completed =>
        {
            Some(CallOutcome::Heard)
        }
        Some(CallOutcome::Answered | CallOutcome::Unconfirmed) => None,
        other => other,
    }
}

/// The incidents a call speaks, as the TwiML builder takes them.
fn items(spoken: &[SpokenIncident]) -> Vec<twiml::Spoken<'_>> {
    spoken.iter().map(|s| twiml::Spoken { title: &s.title, body: &s.body, test: s.test }).collect()
}

/// How an attempt ended, and, when someone took its incidents, how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ended {
    outcome: CallOutcome,
    via: AckVia,
}

impl From<CallOutcome> for Ended {
    fn from(outcome: CallOutcome) -> Self {
        Ended { outcome, via: AckVia::Call }
    }
}

/// Where Sentinela's Studio flow stands for this run.
#[derive(Debug, Clone)]
enum FlowState {
    Unknown,
    Ready(String),
    /// Studio refused it: said once; this run calls without the key.
    Refused,
}

/// The Studio flow and the execution a call that asks for a key runs in.
#[derive(Debug, Clone)]
struct Execution {
    flow: String,
    sid: String,
}

pub struct CallQueue {
    ctx: NotifyContext,
    calls: CallsConfig,
    /// With `[calls] keypress`: Sentinela's Studio flow, once found or created (or refused).
    flow: std::sync::Mutex<FlowState>,
}

impl CallQueue {
    pub fn new(ctx: NotifyContext, calls: CallsConfig) -> Self {
        CallQueue { ctx, calls, flow: std::sync::Mutex::new(FlowState::Unknown) }
    }

    /// Calls owed per incident: every number, `rounds` times.
    fn budget(&self) -> u32 {
        self.calls.rounds.saturating_mul(self.calls.to.len() as u32)
    }

    /// Runs until shutdown.
    pub async fn run(self) {
        let mut changes = self.ctx.journal.changes();
        let mut rest: Option<Rest> = None;
        loop {
            let wait = match self.turn(&mut changes, &mut rest).await {
                Ok(Some(wait)) => wait,
                Ok(None) => continue,
                Err(Stopped) => return,
            };
            if self.ctx.until_journal_changes(&mut changes, wait).await.is_err() {
                return;
            }
        }
    }

    /// Does the next thing owed: finish a call left from before, or place the next call. Returns
    /// how long to wait for the journal to change when there is nothing to do now.
    async fn turn(
        &self,
        changes: &mut watch::Receiver<u64>,
        rest: &mut Option<Rest>,
    ) -> Result<Option<std::time::Duration>, Stopped> {
        let ctx = &self.ctx;
        let journal = &ctx.journal;
        let idle = std::time::Duration::from_secs(3600);
        let retry = ctx.timing.retry_wait;
        match journal.unfinished_call().await {
            Ok(Some(call)) => {
                self.resume(call, changes).await?;
                return Ok(None);
            }
            Ok(None) => {}
            Err(e) => {
                error!("journal: cannot read the call queue (retrying): {e}");
                return Ok(Some(retry));
            }
        }
        let spoken = match journal.speakable_incidents(self.budget()).await {
            Ok(s) => s,
            Err(e) => {
                error!("journal: cannot read the open incidents (retrying): {e}");
                return Ok(Some(retry));
            }
        };
        self.close_unanswered().await;
        if !spoken.iter().any(|s| s.owed) {
            return Ok(Some(idle));
        }
        if ctx.client.is_none() {
            self.dry_run(&spoken).await;
            return Ok(None);
        }
        let last = match journal.last_call().await {
            Ok(l) => l,
            Err(e) => {
                error!("journal: cannot read the last call (retrying): {e}");
                return Ok(Some(retry));
            }
        };
        let view = QueueView { spoken: &spoken, last: last.as_ref(), rest: *rest };
        let list = CallList {
            to: &self.calls.to,
            round_pause: std::time::Duration::from_secs(self.calls.round_pause_secs),
        };
        let now = Utc::now();
        let PlannedCall { position, number, round, speaks, counted } =
            match next_call(view, now, list) {
                NextCall::Idle => return Ok(Some(idle)),
                NextCall::Rest(r) => {
                    if rest.is_none_or(|old| old.after_call != r.after_call) {
                        info!(
                            pause_secs = self.calls.round_pause_secs,
                            "nobody answered this round; pausing before the next"
                        );
                    }
                    *rest = Some(r);
                    return Ok(Some((r.until - now).to_std().unwrap_or_default()));
                }
                NextCall::Call(call) => call,
            };
        let attempt = match journal.call_intent(position, round, &number, speaks, counted).await {
            Ok(a) => a,
            Err(e) => {
                // Never turned into a skipped person: the same call is tried again.
                error!("journal: cannot record a call intent (retrying): {e}");
                return Ok(Some(retry));
            }
        };
        for id in &attempt.incidents {
            if spoken.iter().any(|s| s.id == *id && s.owed && s.calls == 0) {
                ctx.events.emit(EngineEvent::EscalationStarted { incident_id: *id });
            }
        }
        let ended = self.place(attempt.clone(), &spoken, false, changes).await?;
        self.after(&attempt, ended).await;
        Ok(None)
    }

    /// The TwiML for a call to `number`: greeted by name when `[people]` has one.
    fn twiml(&self, number: &str, spoken: &[SpokenIncident]) -> String {
        twiml::incidents_twiml(
            &self.calls.voice,
            &self.calls.language,
            &items(spoken),
            self.ctx.people.get(number).map(String::as_str),
        )
    }

    /// A call left without an outcome by a previous run (or a journal write that failed).
    async fn resume(
        &self,
        call: CallAttempt,
        changes: &mut watch::Receiver<u64>,
    ) -> Result<(), Stopped> {
        // Only while `keypress` is on: a run configured without it makes no flow, and follows a
        // call an older run placed through Studio as a plain one (answering takes it).
        let execution =
            match (&call.execution_sid, self.ctx.client.is_some() && self.calls.keypress) {
                (Some(sid), true) => {
                    self.flow().await?.map(|flow| Execution { flow, sid: sid.clone() })
                }
                _ => None,
            };
        let ended = if call.sid.is_some() {
            info!(to = %call.number, sid = ?call.sid, "resuming a call placed before the restart");
            self.follow(call.clone(), execution, changes).await?
        } else if self.ctx.client.is_none() {
            CallOutcome::DryRun.into()
        } else if let Some(execution) = execution {
            info!(to = %call.number, execution = %execution.sid, "resuming a call whose Studio execution was started before the restart");
            self.find_studio_call(call.clone(), execution, call.updated_at, changes).await?
        } else {
            let spoken: Vec<SpokenIncident> = self
                .ctx
                .journal
                .speakable_incidents(u32::MAX)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|s| call.incidents.contains(&s.id))
                .collect();
            if spoken.is_empty() {
                info!(to = %call.number, "a call interrupted before it was placed is no longer needed");
                CallOutcome::Canceled.into()
            } else {
                info!(to = %call.number, "placing again a call whose request was interrupted");
                self.place(call.clone(), &spoken, true, changes).await?
            }
        };
        if call.sid.is_none()
            && matches!(ended.outcome, CallOutcome::Canceled | CallOutcome::DryRun)
        {
            self.update(call.id, CallUpdate::ended(ended.outcome, None)).await;
        }
        self.after(&call, ended).await;
        Ok(())
    }

    /// What an ended call means for its incidents.
    async fn after(&self, call: &CallAttempt, ended: Ended) {
        if ended.outcome == CallOutcome::Answered {
            info!(by = %call.number, incidents = ?call.incidents, via = %ended.via, "a person took the incidents the call spoke");
            if let Err(e) = self
                .ctx
                .journal
                .answered_call(
                    call.id,
                    self.ctx.person(&call.number),
                    call.number.clone(),
                    ended.via,
                )
                .await
            {
                error!("journal: cannot record who answered: {e}");
            }
        }
        self.close_unanswered().await;
    }

    /// Incidents whose calls are spent with nobody answering: said loudly, once.
    async fn close_unanswered(&self) {
        match self.ctx.journal.finish_unanswered(self.budget()).await {
            Ok(done) => {
                for incident in done {
                    error!(
                        incident = incident.id,
                        title = %incident.title,
                        "NOBODY ANSWERED: every number was called {} time(s) and no person answered. Check the alert now.",
                        self.calls.rounds
                    );
                    self.ctx.events.emit(EngineEvent::Incident(IncidentChange {
                        incident,
                        kind: IncidentEventKind::Unanswered,
                        detail: String::new(),
                    }));
                }
            }
            Err(e) => error!("journal: cannot close spent escalations: {e}"),
        }
    }

    /// `twilio.dry_run`: journal what would be called, once per incident.
    async fn dry_run(&self, spoken: &[SpokenIncident]) {
        let ctx = &self.ctx;
        let twiml = self.twiml(&self.calls.to[0], spoken);
        let owed: Vec<_> = spoken.iter().filter(|s| s.owed).map(|s| s.id).collect();
        ctx.journal_event(None, "dry_run_call", &format!("would call {} in this order, {} round(s), about incidents {owed:?}; TwiML: {twiml}", self.calls.to.join(", "), self.calls.rounds)).await;
        if let Ok(a) = ctx
            .journal
            .call_intent(0, 0, &self.calls.to[0], spoken.iter().map(|s| s.id).collect(), vec![])
            .await
        {
            self.update(a.id, CallUpdate::ended(CallOutcome::DryRun, None)).await;
        }
        if let Err(e) = ctx.journal.dry_run_escalations(owed.clone()).await {
            error!("journal: cannot record the dry run: {e}");
        }
        for id in owed {
            ctx.events.emit(EngineEvent::EscalationStarted { incident_id: id });
        }
    }

    /// Places the call about `spoken` and follows it: through Sentinela's Studio flow when the
    /// call asks for a key, else as a plain call with its TwiML.
    async fn place(
        &self,
        attempt: CallAttempt,
        spoken: &[SpokenIncident],
        resumed: bool,
        changes: &mut watch::Receiver<u64>,
    ) -> Result<Ended, Stopped> {
        let Some(client) = self.ctx.client.as_ref() else { return Ok(CallOutcome::DryRun.into()) };
        if self.calls.keypress {
            if let Some(flow) = self.flow().await? {
                let callee = self.ctx.people.get(&attempt.number).map(String::as_str);
                let text = twiml::incidents_text_asking_for_key(&items(spoken), callee);
                let (number, from) = (attempt.number.clone(), self.calls.from.clone());
                let asked = if resumed { attempt.updated_at } else { Utc::now() };
                let execution = match self
                    .create(&attempt, resumed, |since| {
                        client.start_execution(&flow, &number, &from, &text, since)
                    })
                    .await?
                {
                    Ok(e) => e,
                    Err(outcome) => return Ok(outcome.into()),
                };
                info!(to = %attempt.number, execution = %execution.sid, incidents = ?attempt.incidents, "calling through Studio (tecle 1 para assumir)");
                let a = self
                    .update(
                        attempt.id,
                        CallUpdate {
                            execution_sid: Some(execution.sid.clone()),
                            ..CallUpdate::state(CallState::Placing)
                        },
                    )
                    .await
                    .unwrap_or(CallAttempt {
                        execution_sid: Some(execution.sid.clone()),
                        ..attempt
                    });
                return self
                    .find_studio_call(a, Execution { flow, sid: execution.sid }, asked, changes)
                    .await;
            }
        }
        let request = NewCall {
            from: self.calls.from.clone(),
            to: attempt.number.clone(),
            twiml: self.twiml(&attempt.number, spoken),
            timeout_secs: self.calls.ring_secs,
            machine_detection: self.calls.require_human,
        };
        let call = match self
            .create(&attempt, resumed, |since| client.create_call(&request, since))
            .await?
        {
            Ok(c) => c,
            Err(outcome) => return Ok(outcome.into()),
        };
        info!(to = %attempt.number, sid = %call.sid, incidents = ?attempt.incidents, "calling");
        let a = self
            .update(
                attempt.id,
                CallUpdate { sid: Some(call.sid.clone()), ..CallUpdate::state(call.status.into()) },
            )
            .await
            .unwrap_or(CallAttempt { sid: Some(call.sid.clone()), ..attempt });
        self.follow(a, None, changes).await
    }

    /// Creates what places a call (the call, or its Studio execution), retrying what time can
    /// fix; a create whose answer was lost is looked up by `create` before it is sent again (a
    /// call the previous run was placing may exist already: `resumed`). `Err(outcome)` when the
    /// attempt ends without it.
    async fn create<T, F, Fut>(
        &self,
        attempt: &CallAttempt,
        resumed: bool,
        create: F,
    ) -> Result<Result<T, CallOutcome>, Stopped>
    where
        F: Fn(Option<DateTime<Utc>>) -> Fut,
        Fut: Future<Output = Result<T, CreateError>>,
    {
        let ctx = &self.ctx;
        let unsure_since = resumed.then_some(attempt.updated_at);
        let label = format!("call to {}", attempt.number);
        let (journal, id) = (&ctx.journal, attempt.id);
        let wanted = move || async move { journal.call_wanted(id).await.unwrap_or(true) };
        match retry::until_answered(ctx, &label, unsure_since, create, wanted).await? {
            Answer::Done(created) => Ok(Ok(created)),
            Answer::NotWanted => {
                info!(to = %attempt.number, "no longer needed: the incidents were taken or resolved meanwhile");
                self.update(attempt.id, CallUpdate::ended(CallOutcome::Canceled, None)).await;
                Ok(Err(CallOutcome::Canceled))
            }
            Answer::Refused(e) => {
                error!(to = %attempt.number, "Twilio refused the call: {e}");
                let update = CallUpdate {
                    error_code: e.code().map(i64::from),
                    ..CallUpdate::ended(CallOutcome::Error, Some(e.to_string()))
                };
                self.update(attempt.id, update).await;
                Ok(Err(CallOutcome::Error))
            }
        }
    }

    /// Sentinela's Studio flow, found or created (and brought up to date with `[calls]`) once
    /// per run. `None` when Studio refuses it: said loudly once, and this run's calls go on
    /// without the key (a person answering takes the incidents) rather than not at all.
    async fn flow(&self) -> Result<Option<String>, Stopped> {
        match self.flow.lock().map(|f| f.clone()) {
            Ok(FlowState::Ready(flow)) => return Ok(Some(flow)),
            Ok(FlowState::Refused) => return Ok(None),
            _ => {}
        }
        let ctx = &self.ctx;
        let Some(client) = ctx.client.as_ref() else { return Ok(None) };
        let definition = studio::flow_definition(&self.calls);
        let definition = &definition;
        let ensure = move |_| async move { Ok(client.ensure_flow(definition).await?) };
        let (state, flow) = match retry::until_answered(
            ctx,
            "Studio flow",
            None,
            ensure,
            retry::always,
        )
        .await?
        {
            Answer::Done(flow) => {
                info!(flow = %flow, "Studio flow ready: calls ask for a key");
                (FlowState::Ready(flow.clone()), Some(flow))
            }
            Answer::Refused(e) => {
                error!("Twilio Studio refused Sentinela's flow ({e}): calling WITHOUT \"tecle 1\" — a person answering takes the incidents");
                let detail = format!("Studio refused the flow: {e}");
                ctx.journal_event(None, "keypress_unavailable", &detail).await;
                (FlowState::Refused, None)
            }
            Answer::NotWanted => return Ok(None),
        };
        if let Ok(mut slot) = self.flow.lock() {
            *slot = state;
        }
        Ok(flow)
    }

    /// Finds the call a Studio execution placed (created since `asked`) and follows it.
    async fn find_studio_call(
        &self,
        attempt: CallAttempt,
        execution: Execution,
        asked: DateTime<Utc>,
        changes: &mut watch::Receiver<u64>,
    ) -> Result<Ended, Stopped> {
        let ctx = &self.ctx;
        let Some(client) = ctx.client.as_ref() else { return Ok(CallOutcome::DryRun.into()) };
        // Studio dials at once; a call that never shows up must not hold the queue.
        let give_up = Instant::now() + std::time::Duration::from_secs(60);
        loop {
            match client.call_placed_since(&attempt.number, &self.calls.from, asked).await {
                Ok(Some(call)) => {
                    ctx.health.ok(&ctx.events);
                    info!(to = %attempt.number, sid = %call.sid, execution = %execution.sid, "the Studio execution's call found");
                    let a = self
                        .update(
                            attempt.id,
                            CallUpdate {
                                sid: Some(call.sid.clone()),
                                ..CallUpdate::state(call.status.into())
                            },
                        )
                        .await
                        .unwrap_or(CallAttempt { sid: Some(call.sid.clone()), ..attempt });
                    return self.follow(a, Some(execution), changes).await;
                }
                Ok(None) => {}
                Err(e) => {
                    ctx.health.degraded(&ctx.events, &e);
                    warn!(to = %attempt.number, "cannot look for the Studio execution's call: {e}");
                }
            }
            let unwanted = !ctx.journal.call_wanted(attempt.id).await.unwrap_or(true);
            if unwanted || Instant::now() > give_up {
                if let Err(e) = client.end_execution(&execution.flow, &execution.sid).await {
                    warn!(execution = %execution.sid, "could not end the Studio execution: {e}");
                }
                let ended = if unwanted {
                    CallUpdate::ended(CallOutcome::Canceled, None)
                } else {
                    error!(to = %attempt.number, execution = %execution.sid, "Studio placed no call within 60 s: the queue goes on");
                    CallUpdate::ended(
                        CallOutcome::Error,
                        Some("Studio placed no call within 60 s".into()),
                    )
                };
                let outcome = ended.outcome.unwrap_or(CallOutcome::Error);
                self.update(attempt.id, ended).await;
                return Ok(outcome.into());
            }
            ctx.pause(ctx.timing.call_poll).await?;
        }
    }

    /// Polls the call until the queue can decide; hangs up on machines; cancels a call still
    /// ringing once nobody needs it; waits for a human's call to end so its duration is
    /// journaled.
    async fn follow(
        &self,
        attempt: CallAttempt,
        execution: Option<Execution>,
        changes: &mut watch::Receiver<u64>,
    ) -> Result<Ended, Stopped> {
        let via = if execution.is_some() { AckVia::Keypress } else { AckVia::Call };
        let outcome = self.follow_until_decided(attempt, execution.as_ref(), changes).await?;
        Ok(Ended { outcome, via })
    }

    async fn follow_until_decided(
        &self,
        attempt: CallAttempt,
        execution: Option<&Execution>,
        changes: &mut watch::Receiver<u64>,
    ) -> Result<CallOutcome, Stopped> {
        let ctx = &self.ctx;
        let Some(client) = ctx.client.as_ref() else { return Ok(CallOutcome::DryRun) };
        let Some(sid) = attempt.sid.clone() else { return Ok(CallOutcome::Error) };
        // With a Studio execution: the key pressed so far (read once the call is answered).
        let mut key: Option<String> = None;
        // A call that Twilio never resolves must not hold the queue: give up well after the
        // ring timeout plus machine detection.
        let give_up_ringing =
            Instant::now() + std::time::Duration::from_secs(u64::from(self.calls.ring_secs) + 90);
        let mut last_state = attempt.state;
        let mut decided: Option<CallOutcome> = None;
        let mut canceling = false;
        // Since when Twilio has not told this call's state: a wait that must end.
        let mut unreadable_since: Option<Instant> = None;
        let mut next_poll = Instant::now() + ctx.timing.call_poll;
        loop {
            crate::notify::progress::beat();
            // Twilio is asked at the poll's pace; a journal change (an ack, a resolve, from here
            // or from the CLI) only makes the queue look whether the call is still wanted.
            let unwanted = {
                let mut shutdown = ctx.shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep_until(next_poll) => false,
                    _ = changes.changed() => !canceling && !ctx.journal.call_wanted(attempt.id).await.unwrap_or(true),
                    _ = shutdown.recv() => return Err(Stopped),
                }
            };
            if !unwanted && Instant::now() < next_poll {
                continue;
            }
            next_poll = Instant::now() + ctx.timing.call_poll;
            let call = match client.fetch_call(&sid).await {
                Ok(c) => {
                    ctx.health.ok(&ctx.events);
                    c
                }
                Err(e) if e.status() == Some(404) => {
                    error!(
                        sid,
                        "Twilio does not know this call (404): the attempt ends as an error"
                    );
                    self.update(
                        attempt.id,
                        CallUpdate::ended(CallOutcome::Error, Some(e.to_string())),
                    )
                    .await;
                    return Ok(CallOutcome::Error);
                }
                Err(e) => {
                    ctx.health.degraded(&ctx.events, &e);
                    let since = *unreadable_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= ctx.timing.unreadable_call_budget {
                        let why = format!("Twilio did not give this call's state for {} s ({e}): the queue goes on without it", since.elapsed().as_secs());
                        error!(sid, to = %attempt.number, "{why}");
                        self.update(attempt.id, CallUpdate::ended(CallOutcome::Error, Some(why)))
                            .await;
                        return Ok(CallOutcome::Error);
                    }
                    warn!(sid, "cannot read the call's state: {e}");
                    continue;
                }
            };
            unreadable_since = None;
            let ringing = matches!(call.status, CallStatus::Queued | CallStatus::Ringing);
            if unwanted && ringing {
                info!(sid, to = %attempt.number, "every incident this call speaks was taken or resolved: canceling it");
                canceling = true;
                if let Err(e) = client.end_call(&sid, true).await {
                    warn!(sid, "could not cancel the call: {e}");
                }
                if let Some(x) = execution {
                    if let Err(e) = client.end_execution(&x.flow, &x.sid).await {
                        warn!(execution = %x.sid, "could not end the Studio execution: {e}");
                    }
                }
            }
            let verdict = match execution {
                None => judge(&call, self.calls.require_human),
                Some(x) => {
                    // Asked at each poll while the call is answered and no key is known, and once
                    // more when it has ended (a key pressed just before hanging up).
                    if key.is_none()
                        && matches!(call.status, CallStatus::InProgress | CallStatus::Completed)
                    {
                        match client.execution_key(&x.flow, &x.sid).await {
                            Ok(k) => key = k,
                            Err(e) => warn!(execution = %x.sid, "cannot read the key pressed: {e}"),
                        }
                    }
                    judge_keypress(&call, key.as_deref(), self.calls.require_human)
                }
            };
            if CallState::from(call.status) != last_state
                || (verdict.is_some() && decided.is_none())
            {
                last_state = call.status.into();
                self.update(
                    attempt.id,
                    CallUpdate {
                        answered_by: call.answered_by.clone(),
                        duration: call.duration_secs(),
                        outcome: if call.status.is_final() { verdict.or(decided) } else { None },
                        ..CallUpdate::state(last_state)
                    },
                )
                .await;
            }
            if decided.is_none() {
                decided = verdict;
                if verdict == Some(CallOutcome::Machine) && !call.status.is_final() {
                    info!(sid, to = %attempt.number, answered_by = ?call.answered_by, "voicemail or machine answered: hanging up");
                    if let Err(e) = client.end_call(&sid, false).await {
                        warn!(sid, "could not hang up on the machine: {e}");
                    }
                }
            }
            if call.status.is_final() {
                // `judge` decides every final status, so `decided` is set by now.
                return Ok(decided.unwrap_or(CallOutcome::Failed));
            }
            if ringing && Instant::now() > give_up_ringing {
                warn!(sid, "the call never left {}; canceling it", call.status.as_str());
                let _ = client.end_call(&sid, true).await;
            }
        }
    }

    async fn update(&self, id: i64, u: CallUpdate) -> Option<CallAttempt> {
        match self.ctx.journal.update_call(id, u).await {
            Ok(a) => {
                self.ctx.events.emit(EngineEvent::Call(a.clone()));
                Some(a)
            }
            Err(e) => {
                error!("journal: cannot record a call attempt: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(status: CallStatus, by: Option<&str>) -> Call {
        Call {
            sid: "CA1".into(),
            status,
            answered_by: by.map(str::to_owned),
            duration: None,
            date_created: None,
        }
    }

    #[test]
    fn judging_calls_that_ask_for_a_key() {
        use CallOutcome::*;
        use CallStatus as S;
        let human = |s| call(s, Some("human"));
        assert_eq!(
            judge_keypress(&human(S::InProgress), None, true),
            None,
            "answered: waiting for the key"
        );
        assert_eq!(judge_keypress(&human(S::InProgress), Some("1"), true), Some(Answered));
        assert_eq!(
            judge_keypress(&human(S::Completed), Some("1"), true),
            Some(Answered),
            "pressed just before hanging up"
        );
        assert_eq!(
            judge_keypress(&human(S::Completed), None, true),
            Some(Heard),
            "heard it, took nothing"
        );
        assert_eq!(
            judge_keypress(&human(S::Completed), Some("2"), true),
            Some(Heard),
            "another key takes nothing"
        );
        assert_eq!(judge_keypress(&call(S::Completed, None), None, true), Some(Heard));
        assert_eq!(
            judge_keypress(&call(S::InProgress, Some("machine_start")), None, true),
            Some(Machine)
        );
        assert_eq!(judge_keypress(&call(S::NoAnswer, None), None, true), Some(NoAnswer));
        assert_eq!(judge_keypress(&call(S::Ringing, None), None, true), None);
    }

    #[test]
    fn judging_calls() {
        use CallOutcome::*;
        use CallStatus as S;
        assert_eq!(judge(&call(S::Ringing, None), true), None);
        assert_eq!(judge(&call(S::InProgress, None), true), None, "wait for machine detection");
        assert_eq!(judge(&call(S::InProgress, Some("human")), true), Some(Answered));
        assert_eq!(judge(&call(S::InProgress, Some("machine_start")), true), Some(Machine));
        assert_eq!(judge(&call(S::Completed, Some("machine_end_beep")), true), Some(Machine));
        assert_eq!(judge(&call(S::Completed, Some("fax")), true), Some(Machine));
        assert_eq!(judge(&call(S::Completed, Some("unknown")), true), Some(Unconfirmed));
        assert_eq!(judge(&call(S::Completed, None), true), Some(Unconfirmed));
        assert_eq!(judge(&call(S::InProgress, None), false), Some(Answered));
        assert_eq!(judge(&call(S::Busy, None), true), Some(Busy));
        assert_eq!(judge(&call(S::NoAnswer, None), true), Some(NoAnswer));
        assert_eq!(judge(&call(S::Failed, None), true), Some(Failed));
    }
}
