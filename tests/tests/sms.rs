//! SMS as the fallback channel (`[sms]`), end to end from a real Dovecot to the Twilio fake: a
//! WhatsApp that fails for a person (after Twilio accepted it, or refused at once) goes to the
//! same number by SMS, once — across a restart too — with the incident's code to take it, while
//! the people WhatsApp reached get nothing more, and an SMS reply takes the incident as a WhatsApp
//! one does; without `fallback` nothing goes by SMS.

use std::time::Duration;

use sentinela_engine::config::SmsConfig;
use sentinela_engine::events::EngineEvent;
use sentinela_engine::incident::{AckVia, IncidentEventKind, IncidentState, MessagePurpose};
use sentinela_engine::journal::{Delivery, DeliveryState};
use sentinela_engine::model::Channel;
use sentinela_engine::runner::RunningEngine;
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, WA1, WA2};
use sentinela_tests::scenario::Scenario;
use sentinela_tests::twilio_fake::{CallScript, Fault, MessageScript};
use sentinela_tests::WAIT;
use sentinela_tests::{next_incident, wait_for};
use tokio::sync::broadcast;

const SMS_FROM: &str = "+15005550006";

async fn setup(fallback: bool) -> Scenario {
    let mut s = Scenario::new(&[WA1, WA2], &[C1], 1).await;
    s.config.sms = Some(SmsConfig { from: SMS_FROM.into(), fallback, to: Vec::new() });
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    s
}

async fn opened(rx: &mut broadcast::Receiver<EngineEvent>) -> i64 {
    next_incident(rx, IncidentEventKind::Opened).await
}

/// The incident's alarm messages, once `n` of them are in a final state for their channel.
async fn alarms_settled(engine: &RunningEngine, incident: i64, n: usize) -> Vec<Delivery> {
    wait_for("the alarm messages settled", WAIT, || async {
        let mut all = engine.journal.deliveries_of(incident).await.unwrap();
        all.retain(|d| d.purpose == MessagePurpose::Alarm);
        let settled = |d: &Delivery| {
            d.state.is_final() || (d.channel == Channel::Sms && d.state == DeliveryState::Delivered)
        };
        (all.len() == n && all.iter().all(settled)).then_some(all)
    })
    .await
}

#[tokio::test]
async fn an_undelivered_whatsapp_goes_by_sms_once_with_the_code_to_take_it() {
    let s = setup(true).await;
    // Ana's phone has no WhatsApp: Twilio accepts, then fails it (63015 in the sandbox).
    s.fake.script_message(WA2, MessageScript::FailWith(63015));
    let (engine, mut rx) = s.start_fast().await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Temperatura Sala 3", "Sensor 4: 31 C")).await;
    let id = opened(&mut rx).await;
    let alarms = alarms_settled(&engine, id, 3).await;
    let failed =
        alarms.iter().find(|d| d.channel == Channel::Whatsapp && d.recipient == WA2).unwrap();
    assert_eq!((failed.state, failed.error_code), (DeliveryState::Failed, Some(63015)));
    let sms = alarms.iter().find(|d| d.channel == Channel::Sms).unwrap();
    assert_eq!(
        (sms.recipient.as_str(), sms.fallback_of, sms.state),
        (WA2, Some(failed.id), DeliveryState::Delivered)
    );
    let alarm_sms =
        || s.fake.sms_to(WA2).into_iter().filter(|b| b.starts_with("ALERTA:")).collect::<Vec<_>>();
    assert_eq!(
        alarm_sms(),
        [format!(
            "ALERTA: ALERTA Temperatura Sala 3\nSensor 4: 31 C\nResponda 1 para assumir (#{id})"
        )]
    );
    // The call took it: Ana, whose WhatsApp fails, hears of that by SMS too.
    wait_for("the take told by SMS", WAIT, || async {
        s.fake.sms_to(WA2).iter().any(|b| b.starts_with("ASSUMIDO: Assumido por")).then_some(())
    })
    .await;
    assert!(s.fake.sms_to(WA1).is_empty(), "WhatsApp reached Bruno: no SMS");
    let request =
        s.fake.creations("Messages").into_iter().find(|r| r.param("To") == Some(WA2)).unwrap();
    assert_eq!(request.param("From"), Some(SMS_FROM), "from the SMS number, without whatsapp:");

    let sent = s.fake.sms_to(WA2).len();
    engine.stop(WAIT).await;

    // After a restart, no failed WhatsApp is sent by SMS again: one SMS per failed message.
    let (engine, _rx) = s.start_fast().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!((alarm_sms().len(), s.fake.sms_to(WA2).len()), (1, sent), "once");
    let all = engine.journal.deliveries_of(id).await.unwrap();
    for sms in all.iter().filter(|d| d.channel == Channel::Sms) {
        let of = all
            .iter()
            .find(|d| Some(d.id) == sms.fallback_of)
            .expect("the WhatsApp it stands in for");
        assert_eq!(
            (of.channel, of.state, of.purpose, of.recipient.as_str()),
            (Channel::Whatsapp, DeliveryState::Failed, sms.purpose, WA2)
        );
    }
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_whatsapp_refused_at_once_goes_by_sms_and_without_fallback_nothing_does() {
    let s = setup(true).await;
    // Twilio refuses the first WhatsApp (no WhatsApp sender for that route).
    s.fake
        .fault_next("Messages.json", Fault::Error { status: 400, code: 63007, retry_after: None });
    let (engine, mut rx) = s.start_fast().await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Energia", "Nobreak em bateria")).await;
    let id = opened(&mut rx).await;
    let alarms = alarms_settled(&engine, id, 3).await;
    let refused = alarms.iter().find(|d| d.state == DeliveryState::Error).expect("one refused");
    assert_eq!(refused.error_code, Some(63007));
    let sms = alarms.iter().find(|d| d.channel == Channel::Sms).unwrap();
    assert_eq!(
        (sms.recipient.as_str(), sms.fallback_of),
        (refused.recipient.as_str(), Some(refused.id))
    );
    assert_eq!(s.fake.sms_to(&refused.recipient).len(), 1);
    engine.stop(WAIT).await;

    let s = setup(false).await;
    s.fake.script_message(WA2, MessageScript::FailWith(63015));
    let (engine, mut rx) = s.start_fast().await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Umidade", "90 %")).await;
    let id = opened(&mut rx).await;
    let alarms = alarms_settled(&engine, id, 2).await;
    assert!(alarms.iter().all(|d| d.channel == Channel::Whatsapp));
    assert!(s.fake.sms_to(WA2).is_empty(), "fallback = false: no SMS");
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn an_sms_reply_takes_the_incident_the_sms_told() {
    let s = setup(true).await;
    s.fake.script_message(WA2, MessageScript::FailWith(63015));
    // Nobody answers the phone: only the reply can take it.
    s.fake.script_call(C1, CallScript::NoAnswer);
    let (engine, mut rx) = s.start_fast().await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Fumaça Sala 7", "detector 2")).await;
    let id = opened(&mut rx).await;
    wait_for("the SMS delivered", WAIT, || async {
        (!s.fake.sms_to(WA2).is_empty()).then_some(())
    })
    .await;
    s.fake.inbound_sms(WA2, SMS_FROM, "1");
    let taken = wait_for("taken by the SMS reply", WAIT, || async {
        let i = engine.journal.incident(id).await.unwrap().unwrap();
        (i.state == IncidentState::Acknowledged).then_some(i)
    })
    .await;
    assert_eq!(
        (taken.acknowledged_via, taken.acknowledged_by.as_deref()),
        (Some(AckVia::Sms), Some("(11) 99999-0002"))
    );
    assert!(
        s.fake
            .message_lists()
            .iter()
            .any(|r| r.query.iter().any(|(k, v)| k == "To" && v == SMS_FROM)),
        "the SMS replies were read"
    );
    engine.stop(WAIT).await;
}

/// `[sms] to`: a person told by SMS only gets every alarm by SMS (and nothing by WhatsApp), and
/// takes it with an SMS reply.
#[tokio::test]
async fn a_person_told_by_sms_only_gets_the_alarm_by_sms_and_takes_it_by_reply() {
    const CARLA: &str = "+5521988880003";
    let mut s = setup(true).await;
    s.config.sms.as_mut().unwrap().to = vec![CARLA.into()];
    s.fake.script_call(C1, CallScript::NoAnswer);
    let (engine, mut rx) = s.start_fast().await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Água no piso", "Sensor de vazamento")).await;
    let id = opened(&mut rx).await;
    let alarms = alarms_settled(&engine, id, 3).await;
    let by_sms: Vec<&str> =
        alarms.iter().filter(|d| d.channel == Channel::Sms).map(|d| d.recipient.as_str()).collect();
    assert_eq!(by_sms, [CARLA]);
    assert!(
        alarms.iter().all(|d| d.fallback_of.is_none()),
        "told by SMS, not in place of a WhatsApp"
    );
    assert_eq!(
        s.fake.sms_to(CARLA),
        [format!(
            "ALERTA: ALERTA Água no piso\nSensor de vazamento\nResponda 1 para assumir (#{id})"
        )]
    );
    assert!(s.fake.bodies_to(CARLA).is_empty(), "no WhatsApp to Carla");
    s.fake.inbound_sms(CARLA, SMS_FROM, "1");
    let taken = wait_for("taken by Carla's SMS", WAIT, || async {
        let i = engine.journal.incident(id).await.unwrap().unwrap();
        (i.state == IncidentState::Acknowledged).then_some(i)
    })
    .await;
    assert_eq!(taken.acknowledged_via, Some(AckVia::Sms));
    // The others hear by WhatsApp that Carla took it.
    wait_for("the take told", WAIT, || async {
        s.fake.bodies_to(WA1).iter().any(|b| b.contains("Assumido por")).then_some(())
    })
    .await;
    engine.stop(WAIT).await;
}
