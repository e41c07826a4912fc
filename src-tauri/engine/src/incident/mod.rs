//! Incidents: one per problem, however many e-mails the device sends about it.
//!
//! An alert e-mail opens an incident, joins the open incident of the same problem (a repeat), or
//! ends it (a recovery). What an incident owes the team — one fan-out, rare reminders, calls until
//! someone takes it, a "Resolvido" at the end — is decided here by pure rules, tested as tables:
//! [`key`] reads which problem a mail is about, [`lifecycle`] what a mail or an action does to an
//! incident and what that owes, [`flood`] how many alarm messages a person may get.
//! The journal applies these decisions in its transactions; the notify side carries them out.
//!
//! The states that cross the journal, the engine and the UI are the enums below: one definition
//! for SQL, serde and the generated TypeScript types.

pub mod flood;
pub mod key;
pub mod lifecycle;
pub mod reply;

pub use key::{KeyRules, Reading, Signal};

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

/// How e-mails are placed in incidents: the key rules and the flapping window.
#[derive(Debug, Clone)]
pub struct IncidentRules {
    pub keys: KeyRules,
    /// A problem that comes back this soon after its recovery reopens the same incident.
    pub reopen_within: chrono::Duration,
}

impl Default for IncidentRules {
    fn default() -> Self {
        IncidentRules { keys: KeyRules::default(), reopen_within: chrono::Duration::minutes(15) }
    }
}

impl IncidentRules {
    /// From a validated configuration (its `key_pattern` compiles: see `Config::normalise`).
    pub fn from_config(c: &crate::config::IncidentsConfig) -> Self {
        IncidentRules {
            keys: KeyRules {
                key_pattern: (!c.key_pattern.is_empty())
                    .then(|| regex::Regex::new(&c.key_pattern).ok())
                    .flatten(),
                recovery_words: c
                    .recovery_words
                    .iter()
                    .map(|w| w.trim().to_lowercase())
                    .filter(|w| !w.is_empty())
                    .collect(),
            },
            reopen_within: chrono::Duration::minutes(i64::from(c.reopen_within_mins)),
        }
    }
}
