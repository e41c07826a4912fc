//! Who the queue calls next: a pure decision over what the journal says of the open incidents
//! and the last call, so the order of the calls is tested as a table, not only end to end.
//!
//! The queue goes on from the number after the last call, so nobody is called twice in a row;
//! after a quiet spell (no call for [`QUIET_RESTART`]) it starts again at the top of the list
//! (the first on call). Starting the list again with nothing new to say, it rests
//! `round_pause` first; a new incident is worth calling about at once.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::incident::IncidentId;
use crate::journal::{CallAttempt, SpokenIncident};

/// After this long without a call the queue starts again at the top of the list.
pub const QUIET_RESTART: chrono::Duration = chrono::Duration::minutes(2);

/// The numbers the queue goes through, in order, and the rest between two passes.
#[derive(Debug, Clone, Copy)]
pub struct CallList<'a> {
    pub to: &'a [String],
    pub round_pause: Duration,
}

/// What the queue knows when it decides.
#[derive(Debug, Clone, Copy)]
pub struct QueueView<'a> {
    /// The open incidents nobody has taken, newest first: those a call would speak.
    pub spoken: &'a [SpokenIncident],
    /// The newest call, if any.
    pub last: Option<&'a CallAttempt>,
    /// The round pause under way, as the last decision left it.
    pub rest: Option<Rest>,
}

/// A round pause: after which call, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rest {
    pub after_call: i64,
    pub until: DateTime<Utc>,
}

/// A call to place now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCall {
    /// Where `number` stands in the list.
    pub position: u32,
    pub number: String,
    /// How many passes through the list the incidents owed calls have had.
    pub round: u32,
    /// Every incident the call speaks.
    pub speaks: Vec<IncidentId>,
    /// Those of them still owed calls: the call counts for them.
    pub counted: Vec<IncidentId>,
}

/// What the queue does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextCall {
    /// No incident is owed a call.
    Idle,
    /// Between two passes through the list: nothing before `until` (unless something new comes).
    Rest(Rest),
    Call(PlannedCall),
}

/// The queue's next step at `now`.
pub fn next_call(view: QueueView<'_>, now: DateTime<Utc>, list: CallList<'_>) -> NextCall {
    let owed: Vec<&SpokenIncident> = view.spoken.iter().filter(|s| s.owed).collect();
    let n = list.to.len() as u32;
    if owed.is_empty() || n == 0 {
        return NextCall::Idle;
    }
    let last = view.last;
    let position = match last {
        Some(c) if c.outcome.is_some() && now - c.updated_at > QUIET_RESTART => 0,
        Some(c) => (c.position + 1) % n,
        None => 0,
    };
    if let Some(last) = last {
        let nothing_new = owed.iter().all(|s| last.incidents.contains(&s.id));
        if position == 0 && nothing_new && last.outcome.is_some() {
            let rest = match view.rest {
                Some(r) if r.after_call == last.id => r,
                _ => Rest {
                    after_call: last.id,
                    until: now + chrono::Duration::from_std(list.round_pause).unwrap_or_default(),
                },
            };
            if rest.until > now {
                return NextCall::Rest(rest);
            }
        }
    }
    NextCall::Call(PlannedCall {
        position,
        number: list.to[position as usize].clone(),
        round: owed.iter().map(|s| s.calls / n).max().unwrap_or(0),
        speaks: view.spoken.iter().map(|s| s.id).collect(),
        counted: owed.iter().map(|s| s.id).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{CallOutcome, CallState};

    const PAUSE: Duration = Duration::from_secs(60);

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    /// Incident `id`, owed calls unless `calls` is None (spoken along only), having had `calls`.
    fn incident(id: IncidentId, calls: Option<u32>) -> SpokenIncident {
        SpokenIncident {
            id,
            title: format!("incidente {id}"),
            body: String::new(),
            test: false,
            owed: calls.is_some(),
            calls: calls.unwrap_or(0),
        }
    }

    /// Call `id` to the list's `position`, about `incidents`, last changed at `updated`;
    /// `ended` when it has an outcome.
    fn call(
        id: i64,
        position: u32,
        incidents: &[IncidentId],
        updated: i64,
        ended: bool,
    ) -> CallAttempt {
        CallAttempt {
            id,
            round: 0,
            position,
            number: String::new(),
            state: if ended { CallState::NoAnswer } else { CallState::Ringing },
            sid: Some(format!("CA{id}")),
            execution_sid: None,
            answered_by: None,
            duration: None,
            outcome: ended.then_some(CallOutcome::NoAnswer),
            error_code: None,
            error_message: None,
            updated_at: at(updated),
            incidents: incidents.to_vec(),
        }
    }

    fn planned(
        position: u32,
        round: u32,
        speaks: &[IncidentId],
        counted: &[IncidentId],
    ) -> NextCall {
        NextCall::Call(PlannedCall {
            position,
            number: format!("+55119999900{:02}", position + 1),
            round,
            speaks: speaks.to_vec(),
            counted: counted.to_vec(),
        })
    }

    fn rest(after_call: i64, until: i64) -> NextCall {
        NextCall::Rest(Rest { after_call, until: at(until) })
    }

    /// What, the open incidents, the last call, the pause kept, now (seconds), the decision.
    type Case =
        (&'static str, Vec<SpokenIncident>, Option<CallAttempt>, Option<Rest>, i64, NextCall);

    #[test]
    fn the_queue_goes_down_the_list_rests_between_rounds_and_calls_at_once_about_news() {
        let to: Vec<String> = (1..=3).map(|i| format!("+55119999900{i:02}")).collect();
        let list = CallList { to: &to, round_pause: PAUSE };
        let one_called = |calls| vec![incident(7, Some(calls))];
        let one = one_called(0);
        let none_owed = vec![incident(7, None)];
        let two = vec![incident(8, Some(0)), incident(7, Some(3))];
        let r = |after_call, until| Some(Rest { after_call, until: at(until) });
        #[rustfmt::skip]
        let table: Vec<Case> = vec![
            ("nothing owed: idle",
                none_owed, None, None, 0, NextCall::Idle),
            ("nothing open: idle",
                vec![], Some(call(1, 0, &[7], 0, true)), None, 10, NextCall::Idle),
            ("the first call goes to the top of the list",
                one.clone(), None, None, 0, planned(0, 0, &[7], &[7])),
            ("then the next number",
                one_called(1), Some(call(1, 0, &[7], 0, true)), None, 30, planned(1, 0, &[7], &[7])),
            ("a call still under way counts as the last: the next number after it",
                one_called(2), Some(call(2, 1, &[7], 0, false)), None, 30, planned(2, 0, &[7], &[7])),
            ("the end of the list with nothing new: the pause starts",
                one_called(3), Some(call(3, 2, &[7], 0, true)), None, 5, rest(3, 65)),
            ("the pause under way is kept, not restarted",
                one_called(3), Some(call(3, 2, &[7], 0, true)), r(3, 65), 30, rest(3, 65)),
            ("the pause over: the second round, from the top",
                one_called(3), Some(call(3, 2, &[7], 0, true)), r(3, 65), 65, planned(0, 1, &[7], &[7])),
            ("a pause left from an older call does not count",
                one_called(3), Some(call(3, 2, &[7], 0, true)), r(1, 10), 30, rest(3, 90)),
            ("a new incident at the end of the list: called at once, from the top",
                two, Some(call(3, 2, &[7], 0, true)), None, 5, planned(0, 1, &[8, 7], &[8, 7])),
            ("a quiet spell after the last call: the top of the list again",
                one_called(1), Some(call(1, 0, &[8], 0, true)), None, 121, planned(0, 0, &[7], &[7])),
            ("quiet, but the last call still rings: the next number",
                one_called(1), Some(call(1, 0, &[7], 0, false)), None, 500, planned(1, 0, &[7], &[7])),
            ("quiet, nothing new: rests before starting again",
                one_called(4), Some(call(4, 0, &[7], 0, true)), None, 121, rest(4, 181)),
            ("an incident spoken along is not counted",
                vec![incident(9, Some(0)), incident(7, None)], None, None, 0, planned(0, 0, &[9, 7], &[9])),
        ];
        for (case, spoken, last, rest, now, want) in table {
            let view = QueueView { spoken: &spoken, last: last.as_ref(), rest };
            assert_eq!(next_call(view, at(now), list), want, "{case}");
        }
    }

    #[test]
    fn an_empty_list_calls_nobody() {
        let list = CallList { to: &[], round_pause: PAUSE };
        let view = QueueView { spoken: &[incident(1, Some(0))], last: None, rest: None };
        assert_eq!(next_call(view, at(0), list), NextCall::Idle);
    }
}
