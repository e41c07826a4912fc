//! How often the engine looks and how long it waits before it speaks: every interval the managers
//! use, handed to [`crate::runner::RunningEngine`] at start instead of read inside the modules.
//!
//! Tests shorten them in the struct they pass; the binaries read the few overrides their own
//! end-to-end tests need from the environment, here and only here ([`EngineTiming::from_env`]).

use std::time::Duration;

use crate::incident::flood::FloodLimit;
use crate::notify::ReplyPolling;

/// Every interval of the engine. The defaults suit Twilio and a NOC.
#[derive(Debug, Clone, Copy)]
pub struct EngineTiming {
    /// How often a call's state is read while it rings or talks.
    pub call_poll: Duration,
    /// How often sent WhatsApp messages' states are read.
    pub message_poll: Duration,
    /// How long a WhatsApp message is followed towards `read`, from when it was sent.
    pub message_follow_for: Duration,
    /// Wait before retrying after Twilio was unreachable or refused the credentials.
    pub retry_wait: Duration,
    /// How often WhatsApp replies are read while an incident is open and untaken, and otherwise.
    pub replies: ReplyPolling,
    /// How long a call whose state Twilio will not give is followed before the queue moves on.
    pub unreadable_call_budget: Duration,
    /// On a shared journal out of reach: how long an alert held in the outbox waits before the
    /// team is told from memory — long enough for a database restart or a network blip to pass
    /// without a second, unjournaled round of messages and calls.
    pub outbox_grace: Duration,
    /// How many alarm messages one person gets before the rest wait for a digest, from the
    /// journal or from memory alike.
    pub flood: FloodLimit,
    /// How long the mailbox (or Twilio) may be out of reach before the alarm.
    pub watch_alarm_after: Duration,
    /// Replaces `[filter] silence_alarm_hours` (when that is on) by a shorter wait.
    pub silence_alarm: Option<Duration>,
    /// Replaces `[heartbeat] every_mins` by a shorter period.
    pub heartbeat_every: Option<Duration>,
}

impl Default for EngineTiming {
    fn default() -> Self {
        EngineTiming {
            call_poll: Duration::from_secs(1),
            message_poll: Duration::from_secs(5),
            message_follow_for: Duration::from_secs(15 * 60),
            retry_wait: Duration::from_secs(30),
            replies: ReplyPolling::default(),
            unreadable_call_budget: Duration::from_secs(5 * 60),
            outbox_grace: Duration::from_secs(30),
            flood: FloodLimit::default(),
            watch_alarm_after: Duration::from_secs(120),
            silence_alarm: None,
            heartbeat_every: None,
        }
    }
}

impl EngineTiming {
    /// The defaults, with the waits the binaries' end-to-end tests shorten through the
    /// environment (in seconds): `SENTINELA_WATCH_ALARM_SECS`, `SENTINELA_OUTBOX_GRACE_SECS`,
    /// `SENTINELA_SILENCE_ALARM_SECS`, `SENTINELA_HEARTBEAT_SECS`. An operator may set them too;
    /// a value that is not a whole number of seconds is ignored.
    pub fn from_env() -> Self {
        Self::default().overridden_by(|name| std::env::var(name).ok())
    }

    fn overridden_by(self, var: impl Fn(&str) -> Option<String>) -> Self {
        let secs = |name: &str| var(name)?.trim().parse().ok().map(Duration::from_secs);
        EngineTiming {
            watch_alarm_after: secs("SENTINELA_WATCH_ALARM_SECS").unwrap_or(self.watch_alarm_after),
            outbox_grace: secs("SENTINELA_OUTBOX_GRACE_SECS").unwrap_or(self.outbox_grace),
            silence_alarm: secs("SENTINELA_SILENCE_ALARM_SECS").or(self.silence_alarm),
            heartbeat_every: secs("SENTINELA_HEARTBEAT_SECS").or(self.heartbeat_every),
            ..self
        }
    }

    /// `[filter] silence_alarm_hours` as a wait, None when off (0).
    pub fn silence_limit(&self, hours: u32) -> Option<Duration> {
        match hours {
            0 => None,
            h => Some(self.silence_alarm.unwrap_or(Duration::from_secs(u64::from(h) * 3600))),
        }
    }

    /// `[heartbeat] every_mins` as a period.
    pub fn heartbeat_period(&self, every_mins: u32) -> Duration {
        self.heartbeat_every.unwrap_or(Duration::from_secs(u64::from(every_mins) * 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_shortens_only_the_waits_it_names() {
        let env = |name: &str| match name {
            "SENTINELA_WATCH_ALARM_SECS" => Some("3".to_owned()),
            "SENTINELA_HEARTBEAT_SECS" => Some(" 1 ".to_owned()),
            "SENTINELA_OUTBOX_GRACE_SECS" => Some("soon".to_owned()),
            _ => None,
        };
        let t = EngineTiming::default().overridden_by(env);
        assert_eq!(t.watch_alarm_after, Duration::from_secs(3));
        assert_eq!(t.heartbeat_period(10), Duration::from_secs(1));
        assert_eq!(t.outbox_grace, Duration::from_secs(30), "not a number: the default stays");
        assert_eq!(t.silence_limit(2), Some(Duration::from_secs(7200)));
        assert_eq!(t.call_poll, EngineTiming::default().call_poll);
    }

    #[test]
    fn a_silence_alarm_that_is_off_stays_off_whatever_the_override() {
        let t = EngineTiming { silence_alarm: Some(Duration::from_secs(3)), ..Default::default() };
        assert_eq!(t.silence_limit(0), None);
        assert_eq!(t.silence_limit(1), Some(Duration::from_secs(3)));
        assert_eq!(EngineTiming::default().heartbeat_period(5), Duration::from_secs(300));
    }
}
