//! Incidents as every part speaks of them: their ids, the states they go through, and the records
//! the history, the CLI and the windows show.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AlertId, CallAttempt, Delivery};

pub type IncidentId = i64;

text_enum! {
    /// Where an incident stands.
    pub enum IncidentState {
        /// Happening, and nobody has taken it: the team is being told and called.
        Open = "open",
        /// Someone took it: no more calls; still open until its recovery or a manual resolve.
        Acknowledged = "acknowledged",
        /// Over: the device's recovery e-mail, or resolved by hand.
        Resolved = "resolved",
    }
}

text_enum! {
    /// What one alert e-mail was to its incident.
    pub enum AlertKind {
        /// Opened the incident (or reopened it).
        Alarm = "alarm",
        /// The same problem again, while it was open.
        Repeat = "repeat",
        /// The device says the problem is over.
        Recovery = "recovery",
    }
}

text_enum! {
    /// How an incident was acknowledged.
    pub enum AckVia {
        /// A person answered a call that spoke it.
        Call = "call",
        /// A person pressed 1 in a call that spoke it (`[calls] keypress`).
        Keypress = "keypress",
        Whatsapp = "whatsapp",
        /// A person answered an SMS (`[sms]`).
        Sms = "sms",
        Desktop = "desktop",
        Cli = "cli",
    }
}

text_enum! {
    /// How an incident was resolved.
    pub enum ResolveVia {
        /// The device's own "back to normal" e-mail.
        Recovery = "recovery",
        Desktop = "desktop",
        Cli = "cli",
    }
}

text_enum! {
    /// Why a WhatsApp message is sent.
    pub enum MessagePurpose {
        /// The first news of an incident.
        Alarm = "alarm",
        /// Still alarming, nobody took it.
        Reminder = "reminder",
        /// Over, with how long it lasted.
        Resolved = "resolved",
        /// It came back soon after its recovery (a flapping sensor).
        Reopened = "reopened",
        /// New incidents gathered while a person's alarm messages were at their limit.
        Digest = "digest",
        /// A message from an older Sentinela, one per alert.
        Legacy = "legacy",
        /// Someone took it: "Assumido por Ana às 03:14 (#12)", to the others who got the alarm.
        Acknowledged = "acknowledged",
        /// Taken, but still alarming long after: escalated again.
        Reescalated = "reescalated",
    }
}

text_enum! {
    /// Where an incident's calls stand.
    pub enum EscalationState {
        /// No calls for it (no `[calls]`, held by a pause, or a migrated alert).
        None = "none",
        /// Calls are owed: the queue speaks it in its next call.
        Owed = "owed",
        /// A call that speaks it is under way.
        Calling = "calling",
        /// A person answered a call that spoke it.
        Answered = "answered",
        /// Every number was called `rounds` times for it and nobody answered.
        Unanswered = "unanswered",
        /// Stopped from outside: acknowledged or resolved before anyone answered.
        Stopped = "stopped",
        /// `twilio.dry_run`: journaled what would have been called.
        DryRun = "dry_run",
    }
}

text_enum! {
    /// A line of an incident's timeline (besides its e-mails, messages and calls).
    pub enum IncidentEventKind {
        Opened = "opened",
        Repeat = "repeat",
        Recovered = "recovered",
        Reopened = "reopened",
        Acknowledged = "acknowledged",
        Resolved = "resolved",
        /// Opened while notifications were paused: journaled, nobody told yet.
        Held = "held",
        /// The pause ended while it was still open: told and escalated now.
        Released = "released",
        /// Every number was called for it `rounds` times and nobody answered.
        Unanswered = "unanswered",
        /// Migrated from an older Sentinela's alert.
        Migrated = "migrated",
        /// A WhatsApp reply that takes nothing, kept as a note.
        Note = "note",
        /// Taken but still open `reescalate_after_mins` later: open again, escalated again.
        Reescalated = "reescalated",
    }
}

/// One incident as the history list and `incidents --json` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentSummary {
    pub id: IncidentId,
    pub state: IncidentState,
    pub title: String,
    /// E-mails about it: the alarm, its repeats and its recovery.
    pub emails: u32,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_via: Option<AckVia>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_via: Option<ResolveVia>,
    /// The operator's test alert.
    pub test: bool,
    /// Opened while notifications were paused: held since then.
    pub held_since: Option<DateTime<Utc>>,
    /// When the pause ended and it was told (None while still held or never held).
    pub released_at: Option<DateTime<Utc>>,
    pub escalation: EscalationState,
}

/// One e-mail of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentEmail {
    pub alert_id: AlertId,
    pub kind: Option<AlertKind>,
    pub journaled_at: DateTime<Utc>,
    pub sender: String,
    pub subject: String,
    pub body: String,
}

/// A line of an incident's own timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentLogLine {
    pub at: DateTime<Utc>,
    pub kind: IncidentEventKind,
    pub detail: String,
}

/// An incident with everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentDetail {
    pub incident: IncidentSummary,
    pub emails: Vec<IncidentEmail>,
    pub whatsapp: Vec<Delivery>,
    pub calls: Vec<CallAttempt>,
    pub log: Vec<IncidentLogLine>,
    /// Names of the numbers above (`[people]`), filled by whoever has the configuration.
    pub names: std::collections::BTreeMap<String, String>,
}

/// What a manual acknowledge or resolve did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ActionOutcome {
    Done,
    AlreadyAcknowledged,
    AlreadyResolved,
    NotFound,
}

/// An incident change the planner met, for the event bus (desktop notifications, the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentChange {
    pub incident: IncidentSummary,
    pub kind: IncidentEventKind,
    pub detail: String,
}

/// An open incident as a call speaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpokenIncident {
    pub id: IncidentId,
    pub title: String,
    pub body: String,
    pub test: bool,
    /// Calls are still owed for it (rounds left); otherwise it is only spoken along.
    pub owed: bool,
    /// Calls that spoke it since its escalation began.
    pub calls: u32,
}
