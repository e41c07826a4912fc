//! Signs of life out of the workstation, against the real Dovecot and the Twilio fake: the
//! heartbeat URL pinged only while Sentinela can do its job, the daily WhatsApp sent once a day
//! whatever restarts happen, and the "sensor silent" alarm for a device that stopped mailing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use sentinela_engine::config::HeartbeatConfig;
use sentinela_engine::events::{EngineEvent, MailboxState};
use sentinela_engine::health::WatchAlarm;
use sentinela_engine::timing::EngineTiming;
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::mail::plain;
use sentinela_tests::monitor::monitor;
use sentinela_tests::people::WA1;
use sentinela_tests::scenario::{self, Scenario};
use sentinela_tests::twilio_fake::AUTH_TOKEN;
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;

#[tokio::test]
async fn the_url_is_pinged_only_while_the_mailbox_is_watched() {
    let (url, pings) = monitor().await;
    let mut s = Scenario::new(&[WA1], &["+5511988880001"], 1).await;
    s.config.heartbeat = Some(HeartbeatConfig { url, ..Default::default() });
    let timing = EngineTiming { heartbeat_every: Some(Duration::from_secs(1)), ..scenario::fast() };
    let (engine, mut rx) = s.start(AUTH_TOKEN, timing).await;
    wait_for("two pings", WAIT, || async { (pings.load(Ordering::SeqCst) >= 2).then_some(()) })
        .await;

    // The mailbox goes down: the pings stop, so the outside monitor raises its alarm.
    let mut server = s.server;
    server.kill();
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if matches!(e, EngineEvent::Mailbox(MailboxState::Degraded { .. })) {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped_at = pings.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        pings.load(Ordering::SeqCst),
        stopped_at,
        "no ping while the mailbox is not watched"
    );

    server.restart();
    wait_for("pings again once watching", Duration::from_secs(90), || async {
        (pings.load(Ordering::SeqCst) > stopped_at).then_some(())
    })
    .await;
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn the_daily_message_goes_once_a_day_whatever_restarts_happen() {
    let mut s = Scenario::new(&[WA1], &["+5511988880001"], 1).await;
    // Already past today's hour: the day's message goes at start.
    s.config.heartbeat = Some(HeartbeatConfig {
        whatsapp_to: vec![WA1.into()],
        daily_at: "00:00".into(),
        ..Default::default()
    });
    let (engine, _rx) = s.start_fast().await;
    let body = wait_for("the daily message", WAIT, || async {
        s.fake.bodies_to(WA1).into_iter().find(|b| b.starts_with("✅ Sentinela ativo"))
    })
    .await;
    assert!(
        body.contains("Ontem: 0 e-mails de alerta, 0 incidentes, 0 ligações, 0 WhatsApp"),
        "{body}"
    );
    engine.stop(WAIT).await;

    let (engine, _rx) = s.start_fast().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let daily =
        s.fake.bodies_to(WA1).into_iter().filter(|b| b.starts_with("✅ Sentinela ativo")).count();
    assert_eq!(daily, 1, "not sent again after a restart the same day");
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_sensor_that_stops_mailing_raises_the_silence_alarm_and_its_return_is_said() {
    let mut s = Scenario::new(&[WA1], &["+5511988880001"], 1).await;
    s.config.filter.silence_alarm_hours = 1;
    // Its periodic report: not an alert, but a sign the sensor and its mail path work.
    s.server.append("INBOX", &plain(SENSOR, "Relatório diário", "tudo normal")).await;
    let timing = EngineTiming { silence_alarm: Some(Duration::from_secs(3)), ..scenario::fast() };
    let (engine, mut rx) = s.start(AUTH_TOKEN, timing).await;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        match e {
            EngineEvent::WatchAlarm(a @ WatchAlarm::SensorSilent { .. }) => {
                seen.push(a);
                s.server.append("INBOX", &plain(SENSOR, "Relatório diário", "tudo normal")).await;
            }
            EngineEvent::WatchAlarm(a @ WatchAlarm::SensorHeardAgain) => {
                seen.push(a);
                break;
            }
            _ => {}
        }
    }
    assert!(
        matches!(&seen[..], [WatchAlarm::SensorSilent { .. }, WatchAlarm::SensorHeardAgain]),
        "{seen:?}"
    );
    assert_eq!(engine.journal.alert_count().await.unwrap(), 0, "the reports are no alerts");
    engine.stop(WAIT).await;
}
