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

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::{NotifyContext, Stopped};
use crate::config::CallsConfig;
use crate::events::EngineEvent;
use crate::incident::IncidentEventKind;
pub use crate::journal::CallOutcome;
use crate::journal::{CallAttempt, CallState, CallUpdate, IncidentChange, SpokenIncident};
use crate::twilio::{twiml, Call, CallStatus, NewCall};

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
            Some("unknown") | None if call.status == CallStatus::Completed => Some(CallOutcome::Unconfirmed),
            _ => None,
        },
        CallStatus::Busy => Some(CallOutcome::Busy),
        CallStatus::NoAnswer => Some(CallOutcome::NoAnswer),
        CallStatus::Failed => Some(CallOutcome::Failed),
        CallStatus::Canceled => Some(CallOutcome::Canceled),
        CallStatus::Queued | CallStatus::Ringing | CallStatus::Unknown => None,
    }
}

pub struct CallQueue {
    ctx: NotifyContext,
    calls: CallsConfig,
}

/// After this long without a call the queue starts again at the top of the list.
const QUIET_RESTART: chrono::Duration = chrono::Duration::minutes(2);

/// The round pause under way: after which call, and until when.
#[derive(Debug, Clone, Copy)]
struct Rest {
    after_call: i64,
    until: Instant,
}

impl CallQueue {
    pub fn new(ctx: NotifyContext, calls: CallsConfig) -> Self {
        CallQueue { ctx, calls }
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
    async fn turn(&self, changes: &mut watch::Receiver<u64>, rest: &mut Option<Rest>) -> Result<Option<std::time::Duration>, Stopped> {
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
        let n = self.calls.to.len() as u32;
        // Go on from the number after the last call, so nobody is called twice in a row; after a
        // quiet spell the queue starts again at the top of the list (the first on call).
        let quiet = |c: &CallAttempt| chrono::Utc::now() - c.updated_at > QUIET_RESTART;
        let position = match &last {
            Some(c) if c.outcome.is_some() && quiet(c) => 0,
            Some(c) => (c.position + 1) % n,
            None => 0,
        };
        // Starting the list again with nothing new to say: the round pause first.
        if let Some(last) = &last {
            let nothing_new = spoken.iter().filter(|s| s.owed).all(|s| last.incidents.contains(&s.id));
            if position == 0 && nothing_new && last.outcome.is_some() {
                let r = match rest {
                    Some(r) if r.after_call == last.id => *r,
                    _ => {
                        info!(pause_secs = self.calls.round_pause_secs, "nobody answered this round; pausing before the next");
                        let r = Rest { after_call: last.id, until: Instant::now() + std::time::Duration::from_secs(self.calls.round_pause_secs) };
                        *rest = Some(r);
                        r
                    }
                };
                let left = r.until.saturating_duration_since(Instant::now());
                if !left.is_zero() {
                    return Ok(Some(left));
                }
            }
        }
        let number = self.calls.to[position as usize].clone();
        let round = spoken.iter().filter(|s| s.owed).map(|s| s.calls / n).max().unwrap_or(0);
        let speaks: Vec<_> = spoken.iter().map(|s| s.id).collect();
        let counted: Vec<_> = spoken.iter().filter(|s| s.owed).map(|s| s.id).collect();
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
        let outcome = self.place(attempt.clone(), &self.twiml(&number, &spoken), false, changes).await?;
        self.after(&attempt, outcome).await;
        Ok(None)
    }

    /// The TwiML for a call to `number`: greeted by name when `[people]` has one.
    fn twiml(&self, number: &str, spoken: &[SpokenIncident]) -> String {
        let items: Vec<twiml::Spoken> = spoken.iter().map(|s| twiml::Spoken { title: &s.title, body: &s.body, test: s.test }).collect();
        twiml::incidents_twiml(&self.calls.voice, &self.calls.language, &items, self.ctx.people.get(number).map(String::as_str))
    }

    /// A call left without an outcome by a previous run (or a journal write that failed).
    async fn resume(&self, call: CallAttempt, changes: &mut watch::Receiver<u64>) -> Result<(), Stopped> {
        let outcome = if call.sid.is_some() {
            info!(to = %call.number, sid = ?call.sid, "resuming a call placed before the restart");
            self.follow(call.clone(), changes).await?
        } else if self.ctx.client.is_none() {
            CallOutcome::DryRun
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
                CallOutcome::Canceled
            } else {
                info!(to = %call.number, "placing again a call whose request was interrupted");
                self.place(call.clone(), &self.twiml(&call.number, &spoken), true, changes).await?
            }
        };
        if call.sid.is_none() && matches!(outcome, CallOutcome::Canceled | CallOutcome::DryRun) {
            self.update(call.id, CallUpdate::ended(outcome, None)).await;
        }
        self.after(&call, outcome).await;
        Ok(())
    }

    /// What an ended call means for its incidents.
    async fn after(&self, call: &CallAttempt, outcome: CallOutcome) {
        if outcome == CallOutcome::Answered {
            info!(by = %call.number, incidents = ?call.incidents, "a person answered: the incidents the call spoke are acknowledged");
            if let Err(e) = self.ctx.journal.answered_call(call.id, self.ctx.person(&call.number), call.number.clone()).await {
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
                    self.ctx.events.emit(EngineEvent::Incident(IncidentChange { incident, kind: IncidentEventKind::Unanswered, detail: String::new() }));
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
        if let Ok(a) = ctx.journal.call_intent(0, 0, &self.calls.to[0], spoken.iter().map(|s| s.id).collect(), vec![]).await {
            self.update(a.id, CallUpdate::ended(CallOutcome::DryRun, None)).await;
        }
        if let Err(e) = ctx.journal.dry_run_escalations(owed.clone()).await {
            error!("journal: cannot record the dry run: {e}");
        }
        for id in owed {
            ctx.events.emit(EngineEvent::EscalationStarted { incident_id: id });
        }
    }

    /// Creates the call (retrying what time can fix) and follows it.
    async fn place(&self, attempt: CallAttempt, twiml: &str, resumed: bool, changes: &mut watch::Receiver<u64>) -> Result<CallOutcome, Stopped> {
        let ctx = &self.ctx;
        let Some(client) = ctx.client.as_ref() else { return Ok(CallOutcome::DryRun) };
        let request = NewCall {
            from: self.calls.from.clone(),
            to: attempt.number.clone(),
            twiml: twiml.to_owned(),
            timeout_secs: self.calls.ring_secs,
            machine_detection: self.calls.require_human,
        };
        // A call the previous run was placing may exist already: look before placing it.
        let mut unsure_since = resumed.then_some(attempt.updated_at);
        loop {
            match client.create_call(&request, unsure_since).await {
                Ok(call) => {
                    ctx.health.ok(&ctx.events);
                    info!(to = %attempt.number, sid = %call.sid, incidents = ?attempt.incidents, "calling");
                    let a = self
                        .update(attempt.id, CallUpdate { sid: Some(call.sid.clone()), ..CallUpdate::state(call.status.into()) })
                        .await
                        .unwrap_or(CallAttempt { sid: Some(call.sid.clone()), ..attempt });
                    return self.follow(a, changes).await;
                }
                Err(e) if e.is_transient() || e.is_auth() => {
                    ctx.health.degraded(&ctx.events, &e);
                    warn!(to = %attempt.number, "call not placed yet, will retry: {e}");
                    unsure_since = e.unsure_since;
                    ctx.pause(ctx.timing.retry_wait).await?;
                    if !ctx.journal.call_wanted(attempt.id).await.unwrap_or(true) {
                        info!(to = %attempt.number, "no longer needed: the incidents were taken or resolved meanwhile");
                        self.update(attempt.id, CallUpdate::ended(CallOutcome::Canceled, None)).await;
                        return Ok(CallOutcome::Canceled);
                    }
                }
                Err(e) => {
                    error!(to = %attempt.number, "Twilio refused the call: {e}");
                    self.update(
                        attempt.id,
                        CallUpdate { error_code: e.code().map(i64::from), ..CallUpdate::ended(CallOutcome::Error, Some(e.to_string())) },
                    )
                    .await;
                    return Ok(CallOutcome::Error);
                }
            }
        }
    }

    /// Polls the call until the queue can decide; hangs up on machines; cancels a call still
    /// ringing once nobody needs it; waits for a human's call to end so its duration is
    /// journaled.
    async fn follow(&self, attempt: CallAttempt, changes: &mut watch::Receiver<u64>) -> Result<CallOutcome, Stopped> {
        let ctx = &self.ctx;
        let Some(client) = ctx.client.as_ref() else { return Ok(CallOutcome::DryRun) };
        let Some(sid) = attempt.sid.clone() else { return Ok(CallOutcome::Error) };
        // A call that Twilio never resolves must not hold the queue: give up well after the
        // ring timeout plus machine detection.
        let give_up_ringing = Instant::now() + std::time::Duration::from_secs(u64::from(self.calls.ring_secs) + 90);
        let mut last_state = attempt.state;
        let mut decided: Option<CallOutcome> = None;
        let mut canceling = false;
        // Since when Twilio has not told this call's state: a wait that must end.
        let mut unreadable_since: Option<Instant> = None;
        let mut next_poll = Instant::now() + ctx.timing.call_poll;
        loop {
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
                    error!(sid, "Twilio does not know this call (404): the attempt ends as an error");
                    self.update(attempt.id, CallUpdate::ended(CallOutcome::Error, Some(e.to_string()))).await;
                    return Ok(CallOutcome::Error);
                }
                Err(e) => {
                    ctx.health.degraded(&ctx.events, &e);
                    let since = *unreadable_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= ctx.timing.unreadable_call_budget {
                        let why = format!("Twilio did not give this call's state for {} s ({e}): the queue goes on without it", since.elapsed().as_secs());
                        error!(sid, to = %attempt.number, "{why}");
                        self.update(attempt.id, CallUpdate::ended(CallOutcome::Error, Some(why))).await;
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
            }
            let verdict = judge(&call, self.calls.require_human);
            if CallState::from(call.status) != last_state || (verdict.is_some() && decided.is_none()) {
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
        Call { sid: "CA1".into(), status, answered_by: by.map(str::to_owned), duration: None, date_created: None }
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
