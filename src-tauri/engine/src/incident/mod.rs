//! Incidents: one per problem, however many e-mails the device sends about it.
//!
//! An alert e-mail opens an incident, joins the open incident of the same problem (a repeat), or
//! ends it (a recovery). What an incident owes the team — one fan-out, rare reminders, calls until
//! someone takes it, a "Resolvido" at the end — is decided here by pure rules, tested as tables:
//! [`key`] reads which problem a mail is about, [`lifecycle`] what a mail or an action does to an
//! incident and what that owes, [`flood`] how many alarm messages a person may get.
//! The journal applies these decisions in its transactions; the notify side carries them out.
//!
//! The states an incident goes through live in [`crate::model`] (one definition for SQL, serde
//! and the generated TypeScript types), re-exported here for the rules that decide them.

pub mod flood;
pub mod key;
pub mod lifecycle;
pub mod reply;

pub use key::{KeyRules, Reading, Signal};

pub use crate::model::{
    AckVia, AlertKind, EscalationState, IncidentEventKind, IncidentId, IncidentState,
    MessagePurpose, ResolveVia,
};

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
