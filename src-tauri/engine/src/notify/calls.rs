//! The call queue: phones the numbers one at a time, round after round, until a person answers.
//!
//! Escalations run one after another in arrival order, so two alerts never ring two phones at
//! once. Each attempt is journaled as an intent before the call is created, then followed by
//! polling about once a second. After a restart the queue starts from the journal: finished
//! attempts are skipped, an attempt with a SID is followed again (the call may still be ringing),
//! and only an attempt without a SID — the request's answer was lost — is placed again.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::{NotifyContext, Stopped};
use crate::config::CallsConfig;
use crate::events::EngineEvent;
use crate::journal::{CallAttempt, CallUpdate, PendingEscalation};
use crate::twilio::{twiml, Call, CallStatus, NewCall};

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// A person answered (or, without `require_human`, anything answered).
    Answered,
    /// Voicemail, an answering machine or a fax: hung up, the queue goes on.
    Machine,
    /// Answered, but machine detection could not tell who (`unknown`): not counted, see README.
    Unconfirmed,
    NoAnswer,
    Busy,
    Failed,
    Canceled,
    /// Twilio refused to place the call (bad number, permissions…).
    Error,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Machine => "machine",
            CallOutcome::Unconfirmed => "unconfirmed",
            CallOutcome::NoAnswer => "no-answer",
            CallOutcome::Busy => "busy",
            CallOutcome::Failed => "failed",
            CallOutcome::Canceled => "canceled",
            CallOutcome::Error => "error",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            CallOutcome::Answered,
            CallOutcome::Machine,
            CallOutcome::Unconfirmed,
            CallOutcome::NoAnswer,
            CallOutcome::Busy,
            CallOutcome::Failed,
            CallOutcome::Canceled,
            CallOutcome::Error,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

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
    wake: Arc<Notify>,
}

impl CallQueue {
    pub fn new(ctx: NotifyContext, calls: CallsConfig, wake: Arc<Notify>) -> Self {
        CallQueue { ctx, calls, wake }
    }

    /// Runs escalations, oldest first, until shutdown.
    pub async fn run(self) {
        let mut shutdown = self.ctx.shutdown.clone();
        loop {
            let next = match self.ctx.journal.next_escalation().await {
                Ok(next) => next,
                Err(e) => {
                    error!("journal: cannot read the next escalation: {e}");
                    None
                }
            };
            match next {
                Some(escalation) => {
                    if self.escalate(escalation).await.is_err() {
                        return;
                    }
                }
                None => tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = shutdown.recv() => return,
                },
            }
        }
    }

    async fn escalate(&self, e: PendingEscalation) -> Result<(), Stopped> {
        let ctx = &self.ctx;
        let journal = &ctx.journal;
        let id = e.alert_id;
        let _ = journal.set_escalation(id, "calling", None).await;
        ctx.events.emit(EngineEvent::EscalationStarted { alert_id: id });
        let twiml = twiml::alert_twiml(&self.calls.voice, &self.calls.language, &e.subject, &e.body, e.is_test);
        let done = journal.call_attempts(id).await.unwrap_or_default();

        if ctx.client.is_none() {
            ctx.journal_event(id, "dry_run_call", &format!("would call {} in this order, {} round(s); TwiML: {twiml}", self.calls.to.join(", "), self.calls.rounds)).await;
            if let Ok(a) = journal.call_intent(id, 0, 0, &self.calls.to[0]).await {
                self.update(a.id, CallUpdate { state: "dry_run".into(), outcome: Some("dry_run".into()), ..Default::default() }).await;
            }
            return self.finish(id, "dry_run", None).await;
        }

        for round in 0..self.calls.rounds {
            let resuming_later_round = done.iter().any(|a| a.round > round);
            if round > 0 && !resuming_later_round && !done.iter().any(|a| a.round == round) {
                info!(alert = id, round = round + 1, pause_secs = self.calls.round_pause_secs, "nobody answered this round; pausing before the next");
                ctx.pause(std::time::Duration::from_secs(self.calls.round_pause_secs)).await?;
            }
            for (position, number) in self.calls.to.iter().enumerate() {
                let position = position as u32;
                let earlier = done.iter().find(|a| a.round == round && a.position == position);
                let outcome = match earlier {
                    Some(a) if a.outcome.is_some() => CallOutcome::parse(a.outcome.as_deref().unwrap()).unwrap_or(CallOutcome::Error),
                    Some(a) if a.sid.is_some() => {
                        info!(alert = id, to = %a.number, sid = ?a.sid, "resuming a call placed before the restart");
                        self.follow(a.clone()).await?
                    }
                    _ => {
                        let attempt = match journal.call_intent(id, round, position, number).await {
                            Ok(a) => a,
                            Err(err) => {
                                error!("journal: cannot record a call intent: {err}");
                                ctx.pause(ctx.timing.retry_wait).await?;
                                continue;
                            }
                        };
                        self.place(attempt, &twiml).await?
                    }
                };
                if outcome == CallOutcome::Answered {
                    info!(alert = id, by = %number, "escalation answered by {number}");
                    return self.finish(id, "answered", Some(number.clone())).await;
                }
            }
        }
        error!(
            alert = id,
            subject = %e.subject,
            "NOBODY ANSWERED: every number was called {} time(s) and no person answered. Check the alert now.",
            self.calls.rounds
        );
        self.finish(id, "unanswered", None).await
    }

    async fn finish(&self, alert_id: i64, outcome: &str, answered_by: Option<String>) -> Result<(), Stopped> {
        if let Err(e) = self.ctx.journal.set_escalation(alert_id, outcome, answered_by.clone()).await {
            error!("journal: cannot record the escalation's outcome: {e}");
        }
        self.ctx.events.emit(EngineEvent::EscalationFinished { alert_id, outcome: outcome.to_owned(), answered_by });
        Ok(())
    }

    /// Creates the call (retrying what time can fix) and follows it.
    async fn place(&self, attempt: CallAttempt, twiml: &str) -> Result<CallOutcome, Stopped> {
        let ctx = &self.ctx;
        let client = ctx.client.as_ref().expect("dry run handled by the caller");
        let request = NewCall {
            from: self.calls.from.clone(),
            to: attempt.number.clone(),
            twiml: twiml.to_owned(),
            timeout_secs: self.calls.ring_secs,
            machine_detection: self.calls.require_human,
        };
        loop {
            match client.create_call(&request).await {
                Ok(call) => {
                    ctx.health.ok(&ctx.events);
                    info!(alert = attempt.alert_id, to = %attempt.number, sid = %call.sid, "calling");
                    let a = self
                        .update(attempt.id, CallUpdate { state: call.status.as_str().into(), sid: Some(call.sid.clone()), ..Default::default() })
                        .await
                        .unwrap_or(attempt);
                    return self.follow(a).await;
                }
                Err(e) if e.is_transient() || e.is_auth() => {
                    ctx.health.degraded(&ctx.events, &e);
                    warn!(alert = attempt.alert_id, to = %attempt.number, "call not placed yet, will retry: {e}");
                    ctx.pause(ctx.timing.retry_wait).await?;
                }
                Err(e) => {
                    error!(alert = attempt.alert_id, to = %attempt.number, "Twilio refused the call: {e}");
                    self.update(
                        attempt.id,
                        CallUpdate {
                            state: "error".into(),
                            outcome: Some(CallOutcome::Error.as_str().into()),
                            error_code: e.code().map(i64::from),
                            error_message: Some(e.to_string()),
                            ..Default::default()
                        },
                    )
                    .await;
                    return Ok(CallOutcome::Error);
                }
            }
        }
    }

    /// Polls the call until the queue can decide; hangs up on machines; waits for a human's call
    /// to end so its duration is journaled.
    async fn follow(&self, attempt: CallAttempt) -> Result<CallOutcome, Stopped> {
        let ctx = &self.ctx;
        let client = ctx.client.as_ref().expect("dry run handled by the caller");
        let sid = attempt.sid.clone().expect("a followed call has a SID");
        // A call that Twilio never resolves must not hold the queue: give up well after the
        // ring timeout plus machine detection.
        let give_up_ringing = Instant::now() + std::time::Duration::from_secs(u64::from(self.calls.ring_secs) + 90);
        let mut last_state = attempt.state.clone();
        let mut decided: Option<CallOutcome> = None;
        loop {
            ctx.pause(ctx.timing.call_poll).await?;
            let call = match client.fetch_call(&sid).await {
                Ok(c) => {
                    ctx.health.ok(&ctx.events);
                    c
                }
                Err(e) => {
                    ctx.health.degraded(&ctx.events, &e);
                    warn!(sid, "cannot read the call's state: {e}");
                    continue;
                }
            };
            let verdict = judge(&call, self.calls.require_human);
            if call.status.as_str() != last_state || (verdict.is_some() && decided.is_none()) {
                last_state = call.status.as_str().to_owned();
                self.update(
                    attempt.id,
                    CallUpdate {
                        state: last_state.clone(),
                        answered_by: call.answered_by.clone(),
                        duration: call.duration_secs(),
                        outcome: if call.status.is_final() { verdict.or(decided).map(|o| o.as_str().to_owned()) } else { None },
                        ..Default::default()
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
            if matches!(call.status, CallStatus::Queued | CallStatus::Ringing) && Instant::now() > give_up_ringing {
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
        Call { sid: "CA1".into(), status, answered_by: by.map(str::to_owned), duration: None }
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
