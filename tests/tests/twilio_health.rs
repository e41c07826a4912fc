//! Twilio watched like the mailbox: out of reach (every request answered 503) for longer than the
//! alarm's threshold raises the alarm once, and its return is said — while the reply poller keeps
//! asking, so an idle engine notices too.

use std::time::Duration;

use sentinela_engine::events::EngineEvent;
use sentinela_engine::health::WatchAlarm;
use sentinela_engine::notify::ReplyPolling;
use sentinela_engine::timing::EngineTiming;
use sentinela_tests::scenario::{self, Scenario};
use sentinela_tests::twilio_fake::AUTH_TOKEN;

#[tokio::test]
async fn an_hour_of_503_is_alarmed_once_and_its_end_is_said() {
    let s = Scenario::new(&["+5511999990001"], &["+5511988880001"], 1).await;
    s.fake.set_outage(Some((503, 20503)));
    let timing = EngineTiming {
        replies: ReplyPolling {
            busy: Duration::from_millis(200),
            quiet: Duration::from_millis(300),
        },
        // The threshold, shortened for the test (2 minutes by default).
        watch_alarm_after: Duration::from_secs(2),
        ..scenario::fast()
    };
    let (engine, mut rx) = s.start(AUTH_TOKEN, timing).await;
    let mut alarms = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut cleared = false;
    while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if let EngineEvent::WatchAlarm(
            a @ (WatchAlarm::TwilioUnreachable { .. } | WatchAlarm::TwilioRecovered),
        ) = e
        {
            alarms.push(a.clone());
            match a {
                WatchAlarm::TwilioUnreachable { .. } if !cleared => {
                    // Still down a while longer: no second alarm for the same outage.
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    s.fake.set_outage(None);
                    cleared = true;
                }
                WatchAlarm::TwilioRecovered => break,
                _ => {}
            }
        }
    }
    assert!(
        matches!(&alarms[..], [WatchAlarm::TwilioUnreachable { reason, .. }, WatchAlarm::TwilioRecovered] if reason.contains("503")),
        "{alarms:?}"
    );
    engine.stop(Duration::from_secs(10)).await;
}
