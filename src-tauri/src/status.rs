//! What the tray shows, derived from the engine's events: watching, alerting, degraded, paused.
//! Pure, so the rules are tested without a desktop.

use chrono::{DateTime, Utc};
use sentinela_engine::events::{
    EngineEvent, MailboxProblem, MailboxState, NotifierState, TwilioProblem, TwilioState,
};
use sentinela_engine::health::WatchAlarm;
use sentinela_engine::journal::PauseState;
use serde::{Deserialize, Serialize};

/// The one word the tray icon says. Icons differ by shape, not only colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TrayState {
    Watching,
    Alerting,
    Degraded,
    Paused,
    NotConfigured,
    /// Watching, but nobody would be told: no `[twilio]`, a dry run, or neither WhatsApp nor
    /// calls. Never the plain green "watching".
    Unnotified,
}

/// What keeps Sentinela from doing its job, with the engine's own words (English, technical:
/// host, port, server's answer) for [`crate::i18n::Lang::explain`] to put in the user's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem<'a> {
    /// The engine could not start (a secret missing from the keyring, the journal, …).
    Start(&'a str),
    /// The mailbox cannot be watched; `kind` is the watcher's stable code (`connect`, `auth`, …).
    Mailbox {
        kind: MailboxProblem,
        message: &'a str,
    },
    TwilioCredentials(&'a str),
    /// Twilio has not answered for the alarm's threshold (network, 5xx, rate limits).
    TwilioUnreachable(&'a str),
    /// A part of the engine stopped and is being started again.
    Manager {
        name: &'a str,
        reason: &'a str,
    },
    /// Nothing came from the sensor's address since then (`[filter] silence_alarm_hours`).
    SensorSilent(DateTime<Utc>),
    /// The journal cannot be written (disk full, read-only, corrupt).
    Journal(&'a str),
    /// The shared journal's database has been out of reach for the alarm's threshold.
    SharedJournal(&'a str),
}

/// The engine's state as the windows show it: the tray's word and its tooltip's text. Made by
/// the tray process, sent to the window processes over the link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct StatusView {
    pub state: TrayState,
    pub text: String,
}

/// What the engine's events said so far, folded into what the tray shows.
#[derive(Debug, Clone, Default)]
pub struct EngineStatus {
    pub configured: bool,
    /// Why the engine could not start (a missing or locked keyring secret, …).
    pub start_error: Option<String>,
    /// When the failed start is tried again.
    pub retry_in_secs: Option<u64>,
    pub mailbox: Option<MailboxState>,
    pub last_check: Option<DateTime<Utc>>,
    pub twilio_error: Option<String>,
    /// Twilio out of reach for longer than the alarm's threshold.
    pub twilio_unreachable: Option<String>,
    /// Why the journal cannot be written, while that lasts.
    pub journal_failing: Option<String>,
    /// Since when the sensor has been silent, while the silence alarm stands.
    pub sensor_silent: Option<DateTime<Utc>>,
    /// A manager that stopped (name, why) and has not been started again yet.
    pub manager_failure: Option<(String, String)>,
    /// Incidents not yet resolved (test ones aside), and how many of them nobody has taken.
    pub open_incidents: u32,
    pub untaken_incidents: u32,
    pub pause: Option<PauseState>,
    /// Why nobody would be told of an alert, when that is so (`dry_run`, no `[twilio]`).
    pub unnotified: Option<Unnotified>,
    /// On a shared journal: who notifies now.
    pub notifier: Option<NotifierState>,
    /// On a shared journal: why its database is out of reach, while the alarm stands.
    pub shared_unreachable: Option<String>,
}

/// Why a configuration that watches tells nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unnotified {
    NoTwilio,
    DryRun,
    NoChannel,
}

impl Unnotified {
    /// From the configuration: None when alerts reach people.
    pub fn of(config: &sentinela_engine::config::Config) -> Option<Unnotified> {
        match &config.twilio {
            None => Some(Unnotified::NoTwilio),
            Some(t) if t.dry_run => Some(Unnotified::DryRun),
            Some(_)
                if config.whatsapp.is_none()
                    && config.calls.is_none()
                    && config.sms.as_ref().is_none_or(|s| s.to.is_empty()) =>
            {
                Some(Unnotified::NoChannel)
            }
            Some(_) => None,
        }
    }
}

impl EngineStatus {
    pub fn state(&self, now: DateTime<Utc>) -> TrayState {
        if !self.configured {
            return TrayState::NotConfigured;
        }
        if self.pause.is_some_and(|p| p.is_paused(now)) {
            return TrayState::Paused;
        }
        let mailbox_down = !matches!(self.mailbox, Some(MailboxState::Watching { .. }));
        let failing = self.start_error.is_some()
            || self.twilio_error.is_some()
            || self.twilio_unreachable.is_some()
            || self.manager_failure.is_some();
        if failing
            || self.journal_failing.is_some()
            || self.shared_unreachable.is_some()
            || self.sensor_silent.is_some()
            || mailbox_down
        {
            return TrayState::Degraded;
        }
        if self.unnotified.is_some() {
            return TrayState::Unnotified;
        }
        if self.untaken_incidents == 0 {
            TrayState::Watching
        } else {
            TrayState::Alerting
        }
    }

    /// The problem to show, if any, and where it is.
    pub fn problem(&self) -> Option<Problem<'_>> {
        if let Some(e) = &self.start_error {
            return Some(Problem::Start(e));
        }
        if let Some(reason) = &self.journal_failing {
            return Some(Problem::Journal(reason));
        }
        if let Some(reason) = &self.shared_unreachable {
            return Some(Problem::SharedJournal(reason));
        }
        if let Some(MailboxState::Degraded { kind, message, .. }) = &self.mailbox {
            return Some(Problem::Mailbox { kind: *kind, message });
        }
        if let Some((name, reason)) = &self.manager_failure {
            return Some(Problem::Manager { name, reason });
        }
        if let Some(e) = &self.twilio_error {
            return Some(Problem::TwilioCredentials(e));
        }
        if let Some(reason) = &self.twilio_unreachable {
            return Some(Problem::TwilioUnreachable(reason));
        }
        self.sensor_silent.map(Problem::SensorSilent)
    }

    /// Folds one engine event in. Returns true when the tray may need redrawing.
    pub fn apply(&mut self, e: &EngineEvent) -> bool {
        match e {
            EngineEvent::Mailbox(state) => {
                if matches!(state, MailboxState::Connecting { .. })
                    && matches!(self.mailbox, Some(MailboxState::Degraded { .. }))
                {
                    // Keep showing the problem while reconnecting.
                    return false;
                }
                self.mailbox = Some(state.clone());
            }
            EngineEvent::Checked { at, .. } => self.last_check = Some(*at),
            EngineEvent::Twilio(TwilioState::Ok) => {
                self.twilio_error = None;
                self.twilio_unreachable = None;
            }
            EngineEvent::WatchAlarm(WatchAlarm::TwilioUnreachable { reason, .. }) => {
                self.twilio_unreachable = Some(reason.clone())
            }
            EngineEvent::WatchAlarm(WatchAlarm::TwilioRecovered) => self.twilio_unreachable = None,
            EngineEvent::WatchAlarm(WatchAlarm::SensorSilent { since }) => {
                self.sensor_silent = Some(*since)
            }
            EngineEvent::WatchAlarm(WatchAlarm::SensorHeardAgain) => self.sensor_silent = None,
            EngineEvent::WatchAlarm(WatchAlarm::JournalFailing { reason }) => {
                self.journal_failing = Some(reason.clone())
            }
            EngineEvent::WatchAlarm(WatchAlarm::JournalRecovered) => self.journal_failing = None,
            EngineEvent::ManagerFailed { manager, reason, .. } => {
                self.manager_failure = Some((manager.clone(), reason.clone()))
            }
            EngineEvent::ManagerRestarted { .. } => self.manager_failure = None,
            EngineEvent::Twilio(TwilioState::Degraded { kind: TwilioProblem::Auth, message }) => {
                self.twilio_error = Some(message.clone())
            }
            EngineEvent::Pause(p) => self.pause = Some(*p),
            EngineEvent::Notifier(n) => self.notifier = Some(n.clone()),
            EngineEvent::WatchAlarm(WatchAlarm::SharedJournalUnreachable { reason, .. }) => {
                self.shared_unreachable = Some(reason.clone())
            }
            EngineEvent::WatchAlarm(WatchAlarm::SharedJournalReachable) => {
                self.shared_unreachable = None
            }
            _ => return false,
        }
        true
    }
}

/// A menu item is one line as wide as its text: an engine error can be a paragraph long, so the
/// menu shows its start and the tooltip and the windows show it all.
pub fn menu_line(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinela_engine::events::AlertNotice;

    fn watching() -> EngineStatus {
        let mut s = EngineStatus { configured: true, ..Default::default() };
        s.apply(&EngineEvent::Mailbox(MailboxState::Watching { idle: true }));
        s
    }

    #[test]
    fn a_shared_journal_says_who_notifies_and_when_it_is_out_of_reach() {
        let now = Utc::now();
        let mut s = EngineStatus { configured: true, ..Default::default() };
        s.apply(&EngineEvent::Mailbox(MailboxState::Watching { idle: true }));
        assert!(s.apply(&EngineEvent::Notifier(NotifierState::Elsewhere {
            name: "NOC-02".into(),
            silent_secs: None,
            twilio_problem: None
        })));
        assert_eq!(
            (s.state(now), s.notifier.clone()),
            (
                TrayState::Watching,
                Some(NotifierState::Elsewhere {
                    name: "NOC-02".into(),
                    silent_secs: None,
                    twilio_problem: None
                })
            )
        );
        s.apply(&EngineEvent::Notifier(NotifierState::Unknown {
            reason: "connection refused".into(),
        }));
        assert_eq!(s.state(now), TrayState::Watching, "a blip is not an alarm");
        s.apply(&EngineEvent::WatchAlarm(WatchAlarm::SharedJournalUnreachable {
            since: now,
            reason: "connection refused".into(),
        }));
        assert_eq!(
            (s.state(now), s.problem()),
            (TrayState::Degraded, Some(Problem::SharedJournal("connection refused")))
        );
        s.apply(&EngineEvent::WatchAlarm(WatchAlarm::SharedJournalReachable));
        assert_eq!(s.state(now), TrayState::Watching);
    }

    #[test]
    fn states_follow_the_engine() {
        let now = Utc::now();
        assert_eq!(EngineStatus::default().state(now), TrayState::NotConfigured);
        let mut s = watching();
        assert_eq!(s.state(now), TrayState::Watching);
        // A journaled alert alone is not an incident nobody took.
        s.apply(&EngineEvent::AlertRecorded(AlertNotice {
            id: 7,
            subject: "x".into(),
            sender: "y".into(),
            received_at: now,
            noticed_at: now,
            uid: 1,
        }));
        assert_eq!(s.state(now), TrayState::Watching);
        (s.open_incidents, s.untaken_incidents) = (2, 1);
        assert_eq!(s.state(now), TrayState::Alerting);
        (s.open_incidents, s.untaken_incidents) = (2, 0);
        assert_eq!(s.state(now), TrayState::Watching, "taken incidents still open are no alarm");
        s.apply(&EngineEvent::Mailbox(MailboxState::Degraded {
            kind: MailboxProblem::Auth,
            message: "refused".into(),
            retry_in_secs: 60,
        }));
        s.apply(&EngineEvent::Mailbox(MailboxState::Connecting { attempt: 2 }));
        assert_eq!(s.state(now), TrayState::Degraded);
        assert_eq!(
            s.problem(),
            Some(Problem::Mailbox { kind: MailboxProblem::Auth, message: "refused" })
        );
        s.apply(&EngineEvent::Pause(PauseState::PausedUntilResumed));
        assert_eq!(s.state(now), TrayState::Paused, "the pause is visible even when degraded");
    }

    #[test]
    fn a_setup_that_tells_nobody_is_never_the_plain_watching() {
        let now = Utc::now();
        let mut s = watching();
        s.unnotified = Some(Unnotified::DryRun);
        assert_eq!(s.state(now), TrayState::Unnotified);
        (s.open_incidents, s.untaken_incidents) = (1, 1);
        assert_eq!(
            s.state(now),
            TrayState::Unnotified,
            "not even as an alert in progress: nobody is being called"
        );
        s.apply(&EngineEvent::Mailbox(MailboxState::Degraded {
            kind: MailboxProblem::Auth,
            message: "x".into(),
            retry_in_secs: 60,
        }));
        assert_eq!(s.state(now), TrayState::Degraded, "a problem watching comes first");

        let base = sentinela_engine::config::Config::parse(
            "[mailbox]\nhost = \"imap.example.com\"\nusername = \"a@b\"\n[filter]\nfrom = \"s@x\"\nsubject = \"ALERTA\"\n",
        )
        .unwrap();
        assert_eq!(Unnotified::of(&base), Some(Unnotified::NoTwilio));
    }

    #[test]
    fn a_stopped_manager_degrades_until_it_is_started_again() {
        let now = Utc::now();
        let mut s = watching();
        s.apply(&EngineEvent::ManagerFailed {
            manager: "call queue".into(),
            reason: "it panicked: x".into(),
            restart_in_secs: 1,
        });
        assert_eq!(s.state(now), TrayState::Degraded);
        assert_eq!(
            s.problem(),
            Some(Problem::Manager { name: "call queue", reason: "it panicked: x" })
        );
        assert!(crate::i18n::Lang::Pt
            .explain(s.problem().unwrap())
            .starts_with("Uma parte do Sentinela parou (call queue)"));
        s.apply(&EngineEvent::ManagerRestarted { manager: "call queue".into() });
        assert_eq!(s.state(now), TrayState::Watching);
    }

    #[test]
    fn a_failed_start_is_retried_sooner_then_every_minute() {
        use crate::host::start_retry_delay;
        let waits: Vec<u64> = (1..=8).map(|n| start_retry_delay(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn twilio_out_of_reach_degrades_once_alarmed_until_it_answers() {
        let now = Utc::now();
        let mut s = watching();
        s.apply(&EngineEvent::Twilio(TwilioState::Degraded {
            kind: TwilioProblem::Unreachable,
            message: "HTTP 503".into(),
        }));
        assert_eq!(s.state(now), TrayState::Watching, "a blip is not an alarm");
        s.apply(&EngineEvent::WatchAlarm(WatchAlarm::TwilioUnreachable {
            since: now,
            reason: "HTTP 503".into(),
        }));
        assert_eq!(s.state(now), TrayState::Degraded);
        assert_eq!(s.problem(), Some(Problem::TwilioUnreachable("HTTP 503")));
        s.apply(&EngineEvent::WatchAlarm(WatchAlarm::TwilioRecovered));
        // A silent sensor is a problem of its own, cleared when it is heard again.
        s.apply(&EngineEvent::WatchAlarm(WatchAlarm::SensorSilent { since: now }));
        assert_eq!(
            (s.state(now), s.problem()),
            (TrayState::Degraded, Some(Problem::SensorSilent(now)))
        );
        s.apply(&EngineEvent::WatchAlarm(WatchAlarm::SensorHeardAgain));
        assert_eq!(s.problem(), None);
        s.apply(&EngineEvent::WatchAlarm(WatchAlarm::JournalFailing {
            reason: "database or disk is full".into(),
        }));
        assert_eq!(
            (s.state(now), s.problem()),
            (TrayState::Degraded, Some(Problem::Journal("database or disk is full")))
        );
        s.apply(&EngineEvent::WatchAlarm(WatchAlarm::JournalRecovered));
        assert_eq!(s.problem(), None);
        assert_eq!(s.state(now), TrayState::Watching);
    }

    #[test]
    fn twilio_credentials_degrade_until_ok() {
        let now = Utc::now();
        let mut s = watching();
        s.apply(&EngineEvent::Twilio(TwilioState::Degraded {
            kind: TwilioProblem::Auth,
            message: "20003".into(),
        }));
        assert_eq!(s.state(now), TrayState::Degraded);
        s.apply(&EngineEvent::Twilio(TwilioState::Ok));
        assert_eq!(s.state(now), TrayState::Watching);
    }

    #[test]
    fn long_status_lines_are_cut_for_the_menu() {
        assert_eq!(menu_line("Vigiando", 10), "Vigiando");
        assert_eq!(menu_line("NÃO está vigiando: caixa", 10), "NÃO está v…");
        assert_eq!(menu_line("ação ação ação", 5), "ação…", "cut on characters, not bytes");
    }
}
