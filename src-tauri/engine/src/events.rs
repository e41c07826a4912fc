//! What the engine tells the outside world: connection state changes and journaled alerts.
//!
//! Events go out on a broadcast channel so any number of observers (the headless logger, the
//! desktop shell's tray and windows, the benchmark) can listen without the engine knowing them.
//! The journal, not this channel, is the record: an observer that lags only misses notices.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::incident::IncidentId;
use crate::journal::{AlertId, CallAttempt, Delivery, IncidentChange, PauseState};

text_enum! {
    /// Why the mailbox is not watched: the stable code the UI's words, the logs and the health
    /// rules go by (the error's own message carries the detail).
    pub enum MailboxProblem {
        Connect = "connect",
        Tls = "tls",
        /// The server refused the login.
        Auth = "auth",
        /// The OAuth2 sign-in is missing or no longer accepted: a person must sign in again.
        SignIn = "sign-in",
        Folder = "folder",
        Search = "search",
        Timeout = "timeout",
        Protocol = "protocol",
        /// A command was refused (a read-only folder, missing rights).
        Refused = "refused",
        /// The journal could not take what was read.
        Journal = "journal",
    }
}

text_enum! {
    /// Why Twilio is not usable.
    pub enum TwilioProblem {
        /// The credentials were refused.
        Auth = "auth",
        /// Network, 5xx or rate limit.
        Unreachable = "unreachable",
    }
}

/// How the mailbox watcher is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MailboxState {
    /// Opening a connection (attempt 1 is the first since the last success).
    Connecting { attempt: u32 },
    /// Logged in, folder selected, waiting for mail (`idle` tells push from polling).
    Watching { idle: bool },
    /// Not watching, and why; `message` is the detail.
    Degraded { kind: MailboxProblem, message: String, retry_in_secs: u64 },
    /// Stopped on request.
    Stopped,
}

/// A short view of a newly journaled alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertNotice {
    pub id: AlertId,
    pub subject: String,
    pub sender: String,
    pub received_at: DateTime<Utc>,
    /// When the engine learned of the new mail (IDLE push or scan start).
    pub noticed_at: DateTime<Utc>,
    pub uid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    Mailbox(MailboxState),
    /// A scan of the mailbox finished; the tray shows this as "last check".
    Checked {
        at: DateTime<Utc>,
        matching_unseen: usize,
    },
    /// With `[filter] silence_alarm_hours`: the date of the newest e-mail from the sensor's
    /// address (matching or not) within that window, or None when it sent nothing in it.
    SensorHeard {
        newest: Option<DateTime<Utc>>,
    },
    AlertRecorded(AlertNotice),
    /// A WhatsApp delivery changed state.
    Delivery(Delivery),
    /// A call attempt changed state.
    Call(CallAttempt),
    /// The call queue placed the first call that speaks an incident.
    EscalationStarted {
        incident_id: IncidentId,
    },
    /// An incident was opened, acknowledged, resolved, reopened, held, released, or its calls
    /// ended unanswered: one event per change, never per repeat e-mail.
    Incident(IncidentChange),
    /// Twilio's health as seen by the last request.
    Twilio(TwilioState),
    /// Notifications were paused or resumed.
    Pause(PauseState),
    /// Watching stopped working for long enough to tell a person, or recovered.
    WatchAlarm(crate::health::WatchAlarm),
    /// A manager panicked or ended while the engine runs: it is started again after a wait.
    ManagerFailed {
        manager: String,
        reason: String,
        restart_in_secs: u64,
    },
    /// A failed manager was started again.
    ManagerRestarted {
        manager: String,
    },
    /// On a shared journal: who notifies the team now.
    Notifier(NotifierState),
    /// The journal was written — by this engine, the CLI or another workstation: what shows it
    /// (the tray's counts, the history) reads it again. At most one per quarter second.
    JournalChanged,
}

/// On a shared journal, which workstation holds the notify side's lease (see `crate::lease`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NotifierState {
    /// This workstation sends the messages and places the calls.
    ThisWorkstation { name: String },
    /// Another one does; this one watches and journals, ready to take over. `silent_secs`: how
    /// long that workstation has not renewed its lease, once that is longer than a renewal or
    /// two (frozen, or its notify side stuck: this one takes over when the lease lapses).
    /// `twilio_problem`: why that workstation cannot reach Twilio (a standby that can takes over).
    Elsewhere { name: String, silent_secs: Option<u64>, twilio_problem: Option<String> },
    /// Nobody holds the lease at this moment (one is about to take it).
    Nobody,
    /// This workstation cannot reach the shared journal, so it cannot know or notify.
    Unknown { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TwilioState {
    Ok,
    Degraded { kind: TwilioProblem, message: String },
}

/// The sending side, cheap to clone. Sending with nobody listening is fine.
///
/// It also remembers the mailbox's latest state: a part that starts later (the notify side of
/// a standby that takes the lease, a heartbeat restarted by its supervisor) knows at once
/// whether the mailbox is watched, instead of waiting for its next change, which on a healthy
/// IDLE connection may never come.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<EngineEvent>,
    mailbox: std::sync::Arc<tokio::sync::watch::Sender<Option<MailboxState>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(1024).0,
            mailbox: std::sync::Arc::new(tokio::sync::watch::channel(None).0),
        }
    }
}

impl EventBus {
    pub fn emit(&self, event: EngineEvent) {
        if let EngineEvent::Mailbox(state) = &event {
            self.mailbox.send_replace(Some(state.clone()));
        }
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.tx.subscribe()
    }

    /// The mailbox's state as last emitted (None before the watcher said anything).
    pub fn mailbox_state(&self) -> Option<MailboxState> {
        self.mailbox.borrow().clone()
    }
}
