//! Says loudly when Sentinela cannot do its job: the mailbox not watched for two minutes, or
//! its credentials refused, Twilio out of reach, the sensor silent — and again when it recovers.
//!
//! [`WatchHealth`] is the pure rule, fed with connection states and the clock; [`HealthMonitor`]
//! runs it against the event bus and announces [`WatchAlarm`]s (the desktop shell turns them into
//! notifications; the headless log prints them as errors).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tracing::{error, info};

use crate::events::{
    EngineEvent, EventBus, MailboxProblem, MailboxState, NotifierState, TwilioProblem, TwilioState,
};
use crate::shutdown::Shutdown;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "alarm", rename_all = "snake_case")]
pub enum WatchAlarm {
    /// The mailbox has not been watched since `since`.
    NotWatching { since: DateTime<Utc>, reason: String },
    /// The server refused the credentials (or none could be read): a person must act.
    CredentialsRefused { reason: String },
    /// Watching again after an alarm.
    Recovered,
    /// Twilio has been unreachable (network, 5xx, rate limits) since `since`: messages and calls
    /// wait. Said after the same threshold as the mailbox.
    TwilioUnreachable { since: DateTime<Utc>, reason: String },
    /// Twilio answers again after [`WatchAlarm::TwilioUnreachable`].
    TwilioRecovered,
    /// Nothing at all came from the sensor's address since `since` (`[filter]
    /// silence_alarm_hours`): it, or the mail path from it, may be dead.
    SensorSilent { since: DateTime<Utc> },
    /// The sensor was heard again after [`WatchAlarm::SensorSilent`].
    SensorHeardAgain,
    /// The journal cannot be written (disk full, read-only, corrupt): alerts are told from
    /// memory and journaled once it can be written again.
    JournalFailing { reason: String },
    /// The journal takes writes again.
    JournalRecovered,
    /// The journal was corrupt at start: it was moved to `moved_to` and a new one started.
    JournalReplaced { moved_to: String },
    /// The shared journal's database has been out of reach since `since`: this workstation
    /// watches, holds what it finds in its outbox and journals it when the database answers (telling
    /// from memory what nobody took within the grace); it cannot notify as the lease holder.
    SharedJournalUnreachable { since: DateTime<Utc>, reason: String },
    /// The shared journal answers again.
    SharedJournalReachable,
}

/// The sensor's silence: nothing at all from its address for `limit` raises one alarm, and it
/// being heard again one notice. Fed with the newest e-mail date each scan finds.
#[derive(Debug)]
pub struct SilenceWatch {
    limit: chrono::Duration,
    last_heard: Option<DateTime<Utc>>,
    alarmed: bool,
}

impl SilenceWatch {
    pub fn new(limit: Duration) -> Self {
        SilenceWatch {
            limit: chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX),
            last_heard: None,
            alarmed: false,
        }
    }

    /// A scan's finding: the newest e-mail from the sensor within the last `limit`, or `None`
    /// when there was none in that window (silent for at least `limit` already).
    pub fn heard(
        &mut self,
        newest: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<WatchAlarm> {
        let newest = newest.or(self.last_heard).unwrap_or(now - self.limit);
        if self.last_heard.is_none_or(|l| newest > l) {
            self.last_heard = Some(newest);
        }
        if self.alarmed && now - newest < self.limit {
            self.alarmed = false;
            return Some(WatchAlarm::SensorHeardAgain);
        }
        self.tick(now)
    }

    /// Before the first scan nothing is known, and nothing is said.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Option<WatchAlarm> {
        let last = self.last_heard?;
        if self.alarmed || now - last < self.limit {
            return None;
        }
        self.alarmed = true;
        Some(WatchAlarm::SensorSilent { since: last })
    }
}

/// The rule: one alarm per outage, one recovery after it.
#[derive(Debug)]
pub struct WatchHealth {
    threshold: Duration,
    down_since: Option<(Instant, DateTime<Utc>)>,
    reason: String,
    alarmed: bool,
}

impl WatchHealth {
    pub fn new(threshold: Duration) -> Self {
        WatchHealth { threshold, down_since: None, reason: String::new(), alarmed: false }
    }

    pub fn observe(&mut self, state: &MailboxState, now: Instant) -> Option<WatchAlarm> {
        match state {
            MailboxState::Watching { .. } => {
                let recovered = self.alarmed;
                self.down_since = None;
                self.alarmed = false;
                recovered.then_some(WatchAlarm::Recovered)
            }
            MailboxState::Degraded { kind, message, .. } => {
                self.down_since.get_or_insert((now, Utc::now()));
                self.reason.clone_from(message);
                if *kind == MailboxProblem::Auth && !self.alarmed {
                    self.alarmed = true;
                    return Some(WatchAlarm::CredentialsRefused { reason: message.clone() });
                }
                self.tick(now)
            }
            MailboxState::Connecting { .. } | MailboxState::Stopped => self.tick(now),
        }
    }

    /// Called periodically: raises the alarm once the outage has lasted the threshold.
    pub fn tick(&mut self, now: Instant) -> Option<WatchAlarm> {
        let (since, since_utc) = self.down_since?;
        if self.alarmed || now.duration_since(since) < self.threshold {
            return None;
        }
        self.alarmed = true;
        Some(WatchAlarm::NotWatching { since: since_utc, reason: self.reason.clone() })
    }
}

/// An outage of something the engine needs, said once it has lasted `threshold`, and its end
/// said only if the outage had been said (a short blip says nothing, either way).
#[derive(Debug)]
struct OutageWatch {
    threshold: Duration,
    down_since: Option<(Instant, DateTime<Utc>)>,
    reason: String,
    alarmed: bool,
}

impl OutageWatch {
    fn new(threshold: Duration) -> Self {
        OutageWatch { threshold, down_since: None, reason: String::new(), alarmed: false }
    }

    fn down(&mut self, reason: &str, now: Instant) -> Option<(DateTime<Utc>, String)> {
        self.reason = reason.to_owned();
        self.down_since.get_or_insert((now, Utc::now()));
        self.tick(now)
    }

    /// True when the outage had been said: its end is to be said too.
    fn up(&mut self) -> bool {
        self.down_since = None;
        std::mem::take(&mut self.alarmed)
    }

    fn tick(&mut self, now: Instant) -> Option<(DateTime<Utc>, String)> {
        let (since, since_utc) = self.down_since?;
        if self.alarmed || now.duration_since(since) < self.threshold {
            return None;
        }
        self.alarmed = true;
        Some((since_utc, self.reason.clone()))
    }
}

/// The same rule for Twilio: a failing request starts an outage, any success ends it; refused
/// credentials are already said at once by the notify side, so only "unreachable" waits here.
#[derive(Debug)]
pub struct TwilioWatch(OutageWatch);

impl TwilioWatch {
    pub fn new(threshold: Duration) -> Self {
        TwilioWatch(OutageWatch::new(threshold))
    }

    pub fn observe(&mut self, state: &TwilioState, now: Instant) -> Option<WatchAlarm> {
        match state {
            TwilioState::Ok => self.0.up().then_some(WatchAlarm::TwilioRecovered),
            // Refused credentials are said at once, by the notify side: only an outage waits here.
            TwilioState::Degraded { kind: TwilioProblem::Auth, .. } => None,
            TwilioState::Degraded { message, .. } => self
                .0
                .down(message, now)
                .map(|(since, reason)| WatchAlarm::TwilioUnreachable { since, reason }),
        }
    }

    pub fn tick(&mut self, now: Instant) -> Option<WatchAlarm> {
        self.0.tick(now).map(|(since, reason)| WatchAlarm::TwilioUnreachable { since, reason })
    }
}

/// On a shared journal: the database out of this workstation's reach (the lease's connection
/// fails) for the threshold is said, and its return.
#[derive(Debug)]
pub struct SharedJournalWatch(OutageWatch);

impl SharedJournalWatch {
    pub fn new(threshold: Duration) -> Self {
        SharedJournalWatch(OutageWatch::new(threshold))
    }

    pub fn observe(&mut self, state: &NotifierState, now: Instant) -> Option<WatchAlarm> {
        match state {
            NotifierState::Unknown { reason } => self
                .0
                .down(reason, now)
                .map(|(since, reason)| WatchAlarm::SharedJournalUnreachable { since, reason }),
            _ => self.0.up().then_some(WatchAlarm::SharedJournalReachable),
        }
    }

    pub fn tick(&mut self, now: Instant) -> Option<WatchAlarm> {
        self.0
            .tick(now)
            .map(|(since, reason)| WatchAlarm::SharedJournalUnreachable { since, reason })
    }
}

/// Runs [`WatchHealth`] and [`TwilioWatch`] on the engine's events until shutdown.
pub struct HealthMonitor {
    events: EventBus,
    health: WatchHealth,
    twilio: TwilioWatch,
    shared: SharedJournalWatch,
    silence: Option<SilenceWatch>,
    journal: Option<watch::Receiver<Option<String>>>,
    settle: Option<crate::journal::AlertJournal>,
}

impl HealthMonitor {
    pub fn new(events: EventBus, threshold: Duration, silence: Option<Duration>) -> Self {
        HealthMonitor {
            events,
            health: WatchHealth::new(threshold),
            twilio: TwilioWatch::new(threshold),
            shared: SharedJournalWatch::new(threshold),
            silence: silence.map(SilenceWatch::new),
            journal: None,
            settle: None,
        }
    }

    /// Also says when the journal cannot be written, at once (see [`AlertJournal::write_problem`]).
    ///
    /// [`AlertJournal::write_problem`]: crate::journal::AlertJournal::write_problem
    pub fn watching_journal(mut self, journal: crate::journal::AlertJournal) -> Self {
        self.journal = Some(journal.write_problem());
        self.settle = Some(journal);
        self
    }

    pub async fn run(mut self, mut rx: broadcast::Receiver<EngineEvent>, mut shutdown: Shutdown) {
        let mut ticks = tokio::time::interval(Duration::from_secs(5).min(self.health.threshold));
        loop {
            let alarm = tokio::select! {
                e = rx.recv() => match e {
                    Ok(EngineEvent::Mailbox(state)) => self.health.observe(&state, Instant::now()),
                    Ok(EngineEvent::Twilio(state)) => self.twilio.observe(&state, Instant::now()),
                    Ok(EngineEvent::Notifier(state)) => self.shared.observe(&state, Instant::now()),
                    Ok(EngineEvent::SensorHeard { newest }) => self.silence.as_mut().and_then(|s| s.heard(newest, Utc::now())),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => None,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                Some(problem) = journal_changed(&mut self.journal) => {
                    Some(match problem {
                        Some(reason) => WatchAlarm::JournalFailing { reason },
                        None => WatchAlarm::JournalRecovered,
                    })
                }
                _ = ticks.tick() => {
                    if let Some(j) = &self.settle {
                        j.settle_write_problem();
                    }
                    self
                    .health
                    .tick(Instant::now())
                    .or_else(|| self.twilio.tick(Instant::now()))
                    .or_else(|| self.shared.tick(Instant::now()))
                    .or_else(|| self.silence.as_mut().and_then(|s| s.tick(Utc::now())))
                }
                _ = shutdown.recv() => return,
            };
            if let Some(alarm) = alarm {
                match &alarm {
                    WatchAlarm::NotWatching { since, reason } => {
                        error!(since = %since, "SENTINELA IS NOT WATCHING THE MAILBOX: alerts cannot arrive. Last error: {reason}")
                    }
                    WatchAlarm::CredentialsRefused { reason } => {
                        error!("SENTINELA IS NOT WATCHING THE MAILBOX: {reason}")
                    }
                    WatchAlarm::Recovered => info!("watching the mailbox again"),
                    WatchAlarm::TwilioUnreachable { since, reason } => {
                        error!(since = %since, "SENTINELA CANNOT NOTIFY ANYONE: Twilio has not answered since {since}; messages and calls wait. Last error: {reason}")
                    }
                    WatchAlarm::TwilioRecovered => {
                        info!("Twilio answers again: messages and calls go on")
                    }
                    WatchAlarm::SensorSilent { since } => {
                        error!(since = %since, "THE SENSOR IS SILENT: nothing at all came from its address since {since}. Check the sensor and the mail path from it.")
                    }
                    WatchAlarm::SensorHeardAgain => info!("the sensor is heard again"),
                    WatchAlarm::JournalFailing { reason } => {
                        error!("THE JOURNAL CANNOT BE WRITTEN ({reason}): alerts are told from memory and journaled once it can be. Check the disk of the data directory.")
                    }
                    WatchAlarm::JournalRecovered => info!("the journal takes writes again"),
                    WatchAlarm::JournalReplaced { moved_to } => {
                        error!("the journal was corrupt: kept as {moved_to}, a new one was started")
                    }
                    WatchAlarm::SharedJournalUnreachable { since, reason } => {
                        error!(since = %since, "THE SHARED JOURNAL IS OUT OF REACH since {since}: this workstation watches the mailbox, holds what it finds in its outbox until the database answers (telling from memory what nobody took within the grace), but cannot take over notifying. Last error: {reason}")
                    }
                    WatchAlarm::SharedJournalReachable => info!("the shared journal answers again"),
                }
                self.events.emit(EngineEvent::WatchAlarm(alarm));
            }
        }
    }
}

/// The journal's next write problem (None inside: it can be written again); never, without one.
async fn journal_changed(
    journal: &mut Option<watch::Receiver<Option<String>>>,
) -> Option<Option<String>> {
    match journal {
        Some(rx) => rx.changed().await.ok().map(|_| rx.borrow_and_update().clone()),
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn degraded(kind: MailboxProblem) -> MailboxState {
        MailboxState::Degraded { kind, message: format!("{kind} failed"), retry_in_secs: 1 }
    }

    #[test]
    fn a_short_outage_raises_nothing() {
        let t0 = Instant::now();
        let mut h = WatchHealth::new(Duration::from_secs(120));
        assert_eq!(h.observe(&degraded(MailboxProblem::Connect), t0), None);
        assert_eq!(h.tick(t0 + Duration::from_secs(60)), None);
        assert_eq!(
            h.observe(&MailboxState::Watching { idle: true }, t0 + Duration::from_secs(61)),
            None
        );
        assert_eq!(h.tick(t0 + Duration::from_secs(600)), None);
    }

    #[test]
    fn a_long_outage_alarms_once_then_recovers() {
        let t0 = Instant::now();
        let mut h = WatchHealth::new(Duration::from_secs(120));
        h.observe(&degraded(MailboxProblem::Connect), t0);
        h.observe(&MailboxState::Connecting { attempt: 2 }, t0 + Duration::from_secs(30));
        h.observe(&degraded(MailboxProblem::Timeout), t0 + Duration::from_secs(90));
        let alarm = h.tick(t0 + Duration::from_secs(121));
        assert!(
            matches!(&alarm, Some(WatchAlarm::NotWatching { reason, .. }) if reason == "timeout failed"),
            "{alarm:?}"
        );
        assert_eq!(h.tick(t0 + Duration::from_secs(300)), None, "once per outage");
        assert_eq!(
            h.observe(&MailboxState::Watching { idle: true }, t0 + Duration::from_secs(301)),
            Some(WatchAlarm::Recovered)
        );
    }

    #[test]
    fn twilio_out_of_reach_for_the_threshold_alarms_once_and_its_return_is_said() {
        let t0 = Instant::now();
        let mut t = TwilioWatch::new(Duration::from_secs(120));
        let down =
            TwilioState::Degraded { kind: TwilioProblem::Unreachable, message: "HTTP 503".into() };
        assert_eq!(t.observe(&down, t0), None);
        assert_eq!(t.tick(t0 + Duration::from_secs(119)), None);
        assert!(
            matches!(t.tick(t0 + Duration::from_secs(121)), Some(WatchAlarm::TwilioUnreachable { reason, .. }) if reason == "HTTP 503")
        );
        assert_eq!(t.tick(t0 + Duration::from_secs(600)), None, "once per outage");
        assert_eq!(
            t.observe(&TwilioState::Ok, t0 + Duration::from_secs(601)),
            Some(WatchAlarm::TwilioRecovered)
        );
        // A short blip says nothing, either way.
        t.observe(&down, t0 + Duration::from_secs(700));
        assert_eq!(t.observe(&TwilioState::Ok, t0 + Duration::from_secs(710)), None);
    }

    #[test]
    fn the_shared_journal_out_of_reach_for_the_threshold_alarms_once_and_its_return_is_said() {
        let t0 = Instant::now();
        let mut w = SharedJournalWatch::new(Duration::from_secs(30));
        let lost = NotifierState::Unknown { reason: "connection refused".into() };
        assert_eq!(w.observe(&lost, t0), None);
        assert_eq!(w.tick(t0 + Duration::from_secs(29)), None);
        assert!(
            matches!(w.tick(t0 + Duration::from_secs(31)), Some(WatchAlarm::SharedJournalUnreachable { reason, .. }) if reason == "connection refused")
        );
        assert_eq!(w.observe(&lost, t0 + Duration::from_secs(40)), None, "once per outage");
        assert_eq!(
            w.observe(
                &NotifierState::Elsewhere {
                    name: "NOC-02".into(),
                    silent_secs: None,
                    twilio_problem: None
                },
                t0 + Duration::from_secs(50)
            ),
            Some(WatchAlarm::SharedJournalReachable)
        );
        // A database restart of a second says nothing.
        w.observe(&lost, t0 + Duration::from_secs(60));
        assert_eq!(
            w.observe(
                &NotifierState::ThisWorkstation { name: "NOC-01".into() },
                t0 + Duration::from_secs(61)
            ),
            None
        );
    }

    #[test]
    fn a_silent_sensor_alarms_once_and_its_return_is_said() {
        let t0 = Utc::now();
        let h = chrono::Duration::hours(1);
        let mut s = SilenceWatch::new(Duration::from_secs(3600));
        assert_eq!(s.tick(t0), None, "nothing known before the first scan");
        assert_eq!(s.heard(Some(t0 - chrono::Duration::minutes(10)), t0), None);
        assert_eq!(s.tick(t0 + chrono::Duration::minutes(49)), None);
        assert_eq!(
            s.tick(t0 + chrono::Duration::minutes(51)),
            Some(WatchAlarm::SensorSilent { since: t0 - chrono::Duration::minutes(10) })
        );
        assert_eq!(s.tick(t0 + h * 5), None, "once per silence");
        // A scan that finds nothing new says nothing; a new e-mail ends the silence.
        assert_eq!(s.heard(None, t0 + h * 5), None);
        assert_eq!(s.heard(Some(t0 + h * 5), t0 + h * 5), Some(WatchAlarm::SensorHeardAgain));
        // A first scan that finds nothing in the window: silent for the whole limit already.
        let mut s = SilenceWatch::new(Duration::from_secs(3600));
        assert!(matches!(s.heard(None, t0), Some(WatchAlarm::SensorSilent { .. })));
    }

    #[test]
    fn refused_credentials_alarm_at_once() {
        let t0 = Instant::now();
        let mut h = WatchHealth::new(Duration::from_secs(120));
        assert!(matches!(
            h.observe(&degraded(MailboxProblem::Auth), t0),
            Some(WatchAlarm::CredentialsRefused { .. })
        ));
        assert_eq!(h.observe(&degraded(MailboxProblem::Auth), t0 + Duration::from_secs(60)), None);
        assert_eq!(h.tick(t0 + Duration::from_secs(200)), None, "already alarmed for this outage");
    }
}
