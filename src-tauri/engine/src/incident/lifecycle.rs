//! What an e-mail or a person's action does to an incident, and what that owes the team.
//!
//! Two pure rules, tested as tables: [`step`] places an alert e-mail (open, repeat, recover,
//! reopen, or a recovery of nothing), and [`owed`] says what a timeline event owes — messages,
//! calls, a hold during a pause. The journal applies them in one transaction each.

use chrono::{DateTime, Duration, Utc};

use super::{IncidentEventKind, IncidentId, IncidentState, MessagePurpose, Signal};

/// The incidents of one key that matter for a new e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyHistory {
    /// The open (or acknowledged) incident of this key.
    pub open: Option<IncidentId>,
    /// The newest resolved incident of this key and when it was resolved.
    pub last_resolved: Option<(IncidentId, DateTime<Utc>)>,
}

/// Where an alert e-mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Open,
    Repeat(IncidentId),
    Recover(IncidentId),
    /// The problem came back within `reopen_within` of its recovery: the same incident again.
    Reopen(IncidentId),
    /// "Back to normal" with nothing open: journaled and shown, nobody told.
    StrayRecovery,
}

pub fn step(
    signal: Signal,
    known: KeyHistory,
    now: DateTime<Utc>,
    reopen_within: Duration,
) -> Step {
    match (signal, known.open) {
        (Signal::Alarm, Some(id)) => Step::Repeat(id),
        (Signal::Recovery, Some(id)) => Step::Recover(id),
        (Signal::Recovery, None) => Step::StrayRecovery,
        (Signal::Alarm, None) => match known.last_resolved {
            Some((id, resolved_at))
                if reopen_within > Duration::zero() && now - resolved_at <= reopen_within =>
            {
                Step::Reopen(id)
            }
            _ => Step::Open,
        },
    }
}

/// Who a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every configured recipient (subject to each one's flood limit).
    Everyone,
    /// Those who were sent the alarm (or the digest that carried it).
    WhoGotTheAlarm,
}

/// The facts [`owed`] decides on, read from the journal when the event is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub state: IncidentState,
    pub is_test: bool,
    /// Held by a pause and not released yet.
    pub held: bool,
    /// Notifications are paused now.
    pub paused: bool,
    /// Since the team was last told of it (alarm or reminder), when it was.
    pub since_last_told: Option<Duration>,
    /// `remind_every_mins`; None when reminders are off.
    pub remind_every: Option<Duration>,
}

/// What one timeline event owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owed {
    pub tell: Option<(MessagePurpose, Audience)>,
    /// Calls are owed from now (rounds count afresh).
    pub escalate: bool,
    /// Notifications are paused: keep it, tell nobody yet.
    pub hold: bool,
    /// Messages planned but not sent yet (an alarm gathered for a digest) are no longer wanted.
    pub cancel_unsent: bool,
}

pub fn owed(event: IncidentEventKind, f: Facts) -> Owed {
    use IncidentEventKind as E;
    let live = f.state != IncidentState::Resolved;
    let unacknowledged = f.state == IncidentState::Open;
    match event {
        E::Opened if f.paused && !f.is_test => Owed { hold: true, ..Owed::default() },
        E::Opened | E::Released if unacknowledged => Owed {
            tell: Some((MessagePurpose::Alarm, Audience::Everyone)),
            escalate: true,
            ..Owed::default()
        },
        E::Repeat if unacknowledged && !f.held => {
            let due = match (f.remind_every, f.since_last_told) {
                (Some(every), Some(since)) => since >= every,
                _ => false,
            };
            Owed {
                tell: due.then_some((MessagePurpose::Reminder, Audience::WhoGotTheAlarm)),
                ..Owed::default()
            }
        }
        E::Recovered | E::Resolved => Owed {
            tell: (!f.held).then_some((MessagePurpose::Resolved, Audience::WhoGotTheAlarm)),
            cancel_unsent: true,
            ..Owed::default()
        },
        E::Acknowledged if f.state == IncidentState::Acknowledged && !f.held => Owed {
            tell: Some((MessagePurpose::Acknowledged, Audience::WhoGotTheAlarm)),
            ..Owed::default()
        },
        E::Reescalated if unacknowledged => Owed {
            tell: Some((MessagePurpose::Reescalated, Audience::WhoGotTheAlarm)),
            escalate: true,
            ..Owed::default()
        },
        E::Reopened if live && f.paused && !f.is_test => Owed { hold: true, ..Owed::default() },
        E::Reopened if live => Owed {
            tell: Some((MessagePurpose::Reopened, Audience::WhoGotTheAlarm)),
            escalate: unacknowledged,
            ..Owed::default()
        },
        _ => Owed::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentEventKind as E;
    use IncidentState::*;

    fn t(mins: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(mins)
    }

    #[test]
    fn where_an_email_goes() {
        let window = Duration::minutes(15);
        let cases = [
            (Signal::Alarm, KeyHistory::default(), Step::Open),
            (Signal::Alarm, KeyHistory { open: Some(4), last_resolved: None }, Step::Repeat(4)),
            (Signal::Recovery, KeyHistory { open: Some(4), last_resolved: None }, Step::Recover(4)),
            (Signal::Recovery, KeyHistory::default(), Step::StrayRecovery),
            (
                Signal::Recovery,
                KeyHistory { open: None, last_resolved: Some((3, t(0))) },
                Step::StrayRecovery,
            ),
            (
                Signal::Alarm,
                KeyHistory { open: None, last_resolved: Some((3, t(0))) },
                Step::Reopen(3),
            ),
            (
                Signal::Alarm,
                KeyHistory { open: None, last_resolved: Some((3, t(-16))) },
                Step::Open,
            ),
        ];
        for (signal, known, want) in cases {
            assert_eq!(
                step(signal, known, t(0) + Duration::minutes(0), window),
                want,
                "{signal:?} {known:?}"
            );
        }
        let flapping = KeyHistory { open: None, last_resolved: Some((3, t(0))) };
        assert_eq!(
            step(Signal::Alarm, flapping, t(15), window),
            Step::Reopen(3),
            "15 minutes is still within"
        );
        assert_eq!(
            step(Signal::Alarm, flapping, t(1), Duration::zero()),
            Step::Open,
            "0 turns reopening off"
        );
    }

    fn facts(state: IncidentState) -> Facts {
        Facts {
            state,
            is_test: false,
            held: false,
            paused: false,
            since_last_told: Some(Duration::minutes(1)),
            remind_every: Some(Duration::minutes(30)),
        }
    }

    #[test]
    fn what_each_event_owes() {
        let alarm = Some((MessagePurpose::Alarm, Audience::Everyone));
        let told = |p| Some((p, Audience::WhoGotTheAlarm));
        let cases: Vec<(&str, IncidentEventKind, Facts, Owed)> = vec![
            (
                "opened: fan-out and calls",
                E::Opened,
                facts(Open),
                Owed { tell: alarm, escalate: true, ..Default::default() },
            ),
            (
                "opened during a pause: held",
                E::Opened,
                Facts { paused: true, ..facts(Open) },
                Owed { hold: true, ..Default::default() },
            ),
            (
                "a test is never held",
                E::Opened,
                Facts { paused: true, is_test: true, ..facts(Open) },
                Owed { tell: alarm, escalate: true, ..Default::default() },
            ),
            (
                "opened but already acknowledged (by the time it is planned)",
                E::Opened,
                facts(Acknowledged),
                Owed::default(),
            ),
            (
                "released after the pause, still open",
                E::Released,
                facts(Open),
                Owed { tell: alarm, escalate: true, ..Default::default() },
            ),
            (
                "released but acknowledged meanwhile",
                E::Released,
                facts(Acknowledged),
                Owed::default(),
            ),
            ("repeat soon after: nothing", E::Repeat, facts(Open), Owed::default()),
            (
                "repeat after remind_every: a reminder",
                E::Repeat,
                Facts { since_last_told: Some(Duration::minutes(30)), ..facts(Open) },
                Owed { tell: told(MessagePurpose::Reminder), ..Default::default() },
            ),
            (
                "repeat, reminders off",
                E::Repeat,
                Facts {
                    since_last_told: Some(Duration::hours(5)),
                    remind_every: None,
                    ..facts(Open)
                },
                Owed::default(),
            ),
            (
                "repeat of an acknowledged incident: nothing",
                E::Repeat,
                Facts { since_last_told: Some(Duration::hours(5)), ..facts(Acknowledged) },
                Owed::default(),
            ),
            (
                "repeat of a held incident: nothing",
                E::Repeat,
                Facts { held: true, since_last_told: None, ..facts(Open) },
                Owed::default(),
            ),
            (
                "recovered: Resolvido to who got it",
                E::Recovered,
                facts(Resolved),
                Owed {
                    tell: told(MessagePurpose::Resolved),
                    cancel_unsent: true,
                    ..Default::default()
                },
            ),
            (
                "resolved by hand: the same",
                E::Resolved,
                facts(Resolved),
                Owed {
                    tell: told(MessagePurpose::Resolved),
                    cancel_unsent: true,
                    ..Default::default()
                },
            ),
            (
                "recovered while held: nobody was told",
                E::Recovered,
                Facts { held: true, ..facts(Resolved) },
                Owed { cancel_unsent: true, ..Default::default() },
            ),
            (
                "reopened unacknowledged: told, calls again",
                E::Reopened,
                facts(Open),
                Owed { tell: told(MessagePurpose::Reopened), escalate: true, ..Default::default() },
            ),
            (
                "reopened acknowledged: told, no calls",
                E::Reopened,
                facts(Acknowledged),
                Owed { tell: told(MessagePurpose::Reopened), ..Default::default() },
            ),
            (
                "reopened during a pause: held",
                E::Reopened,
                Facts { paused: true, ..facts(Open) },
                Owed { hold: true, ..Default::default() },
            ),
            (
                "reopened, then resolved before planning",
                E::Reopened,
                facts(Resolved),
                Owed::default(),
            ),
            (
                "acknowledged: the others who got it are told (the call queue stops by itself)",
                E::Acknowledged,
                facts(Acknowledged),
                Owed { tell: told(MessagePurpose::Acknowledged), ..Default::default() },
            ),
            (
                "acknowledged while held: nobody had been told",
                E::Acknowledged,
                Facts { held: true, ..facts(Acknowledged) },
                Owed::default(),
            ),
            (
                "acknowledged, then resolved before planning: the Resolvido says it all",
                E::Acknowledged,
                facts(Resolved),
                Owed::default(),
            ),
            (
                "reescalated: told and called again",
                E::Reescalated,
                facts(Open),
                Owed {
                    tell: told(MessagePurpose::Reescalated),
                    escalate: true,
                    ..Default::default()
                },
            ),
            (
                "reescalated, then taken again before planning",
                E::Reescalated,
                facts(Acknowledged),
                Owed::default(),
            ),
        ];
        for (what, event, f, want) in cases {
            assert_eq!(owed(event, f), want, "{what}");
        }
    }
}
