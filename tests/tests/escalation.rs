//! End to end, from an e-mail appended to a real Dovecot to the requests the Twilio fake
//! received: WhatsApp fan-out, the call queue, machines, rounds, faults, dry run, the pause.

use std::time::Duration;

use sentinela_engine::events::{EngineEvent, TwilioProblem, TwilioState};
use sentinela_engine::incident::{AckVia, EscalationState, IncidentEventKind, IncidentState};
use sentinela_engine::journal::{CallOutcome, DeliveryState};
use sentinela_engine::runner::RunningEngine;
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::mail::plain;
use sentinela_tests::scenario::{fast, Scenario, SENDER};
use sentinela_tests::twilio_fake::{
    CallScript, Fault, LostAnswer, MessageScript, API_KEY_SECRET, API_KEY_SID, AUTH_TOKEN,
};
use tokio::sync::broadcast;

/// Who the fake was asked to send an alarm message to (a body or template that says how to take
/// it), in order — not the "Assumido por …" that follows a take.
fn alarmed(fake: &sentinela_tests::twilio_fake::TwilioFake) -> Vec<String> {
    let says_how = |m: &sentinela_tests::twilio_fake::Recorded| {
        m.param("Body").is_some_and(|b| b.contains("🚨"))
            || m.param("ContentVariables").is_some_and(|v| v.contains("Responda"))
    };
    fake.creations("Messages")
        .iter()
        .filter(|m| says_how(m))
        .map(|m| m.param("To").unwrap().trim_start_matches("whatsapp:").to_owned())
        .collect()
}

/// How an unnamed number is shown: written the Brazilian way.
fn shown(number: &str) -> String {
    sentinela_engine::phone::display(number)
}

async fn setup() -> Scenario {
    Scenario::new(&[WA1, WA2], &[C1, C2, C3], 2).await
}

async fn start(s: &Scenario, token: &str) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    s.start(token, fast()).await
}

use sentinela_tests::next_event as until;
use sentinela_tests::people::{C1, C2, C3, WA1, WA2};
use sentinela_tests::WAIT;

/// Waits for the queue to end an incident's calls: a person took it (by a call), or nobody
/// answered. Returns (incident, how it ended, who answered).
async fn escalation_end(
    rx: &mut broadcast::Receiver<EngineEvent>,
) -> (i64, String, Option<String>) {
    until(rx, "the escalation to finish", |e| match e {
        EngineEvent::Incident(c)
            if c.kind == IncidentEventKind::Acknowledged
                && c.incident.acknowledged_via == Some(AckVia::Call) =>
        {
            Some((c.incident.id, "answered".to_owned(), c.incident.acknowledged_by.clone()))
        }
        EngineEvent::Incident(c) if c.kind == IncidentEventKind::Unanswered => {
            Some((c.incident.id, "unanswered".to_owned(), None))
        }
        _ => None,
    })
    .await
}

/// Waits until every WhatsApp delivery reached a final state.
/// Waits until every alarm message of `incident` reached a final state (the "Assumido por …"
/// messages that follow a take are not counted).
async fn deliveries_final(
    engine: &RunningEngine,
    incident: i64,
    n: usize,
) -> Vec<sentinela_engine::journal::Delivery> {
    sentinela_tests::wait_for("final WhatsApp states", WAIT, || async {
        let mut d = engine.journal.deliveries_of(incident).await.unwrap();
        d.retain(|d| d.purpose == sentinela_engine::incident::MessagePurpose::Alarm);
        (d.len() == n
            && d.iter().all(|d| {
                [
                    DeliveryState::Read,
                    DeliveryState::Failed,
                    DeliveryState::Undelivered,
                    DeliveryState::Error,
                    DeliveryState::DryRun,
                ]
                .contains(&d.state)
            }))
        .then_some(d)
    })
    .await
}

#[tokio::test]
async fn an_alert_reaches_every_recipient_once_and_calls_stop_at_the_first_human() {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::NoAnswer);
    s.fake.script_call(C2, CallScript::Human { answer_ms: 200, talk_ms: 300 });
    s.fake.script_call(C3, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    s.server
        .append(
            "INBOX",
            &plain(
                SENSOR,
                "ALERTA: Temperatura crítica <Sala 1> & \"Rack 3\"",
                "Ação: verificar o ar-condicionado & <já>",
            ),
        )
        .await;

    let (alert, outcome, by) = escalation_end(&mut rx).await;
    assert_eq!((outcome.as_str(), by), ("answered", Some(shown(C2))));
    assert_eq!(s.fake.called_numbers(), [C1, C2], "in order, stopped at the first human");
    let mut messaged = alarmed(&s.fake);
    messaged.sort();
    assert_eq!(messaged, [WA1, WA2], "each recipient exactly once");
    for to in [WA1, WA2] {
        sentinela_tests::wait_for("the others told who took it", WAIT, || async {
            s.fake
                .bodies_to(to)
                .iter()
                .any(|b| b.starts_with(&format!("👍 Assumido por {} às ", shown(C2))))
                .then_some(())
        })
        .await;
    }

    let calls = s.fake.creations("Calls");
    for c in &calls {
        assert_eq!(c.param("Timeout"), Some("25"));
        assert_eq!(c.param("MachineDetection"), Some("Enable"));
        assert_eq!(c.param("From"), Some(SENDER));
        let twiml = c.param("Twiml").unwrap();
        assert!(
            twiml.contains(
                r#"<Say voice="Polly.Camila" language="pt-BR">Atenção. Alerta do Sentinela no CPD."#
            ),
            "{twiml}"
        );
        assert!(
            twiml.contains("Temperatura crítica &lt;Sala 1&gt; &amp; &quot;Rack 3&quot;"),
            "{twiml}"
        );
        assert!(twiml.contains("Ação: verificar o ar-condicionado &amp; &lt;já&gt;"), "{twiml}");
        assert!(!twiml.contains("<Sala 1>") && !twiml.contains("<já>"));
    }
    let msgs: Vec<_> = s
        .fake
        .creations("Messages")
        .into_iter()
        .filter(|m| m.param("Body").is_some_and(|b| b.starts_with("🚨")))
        .collect();
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        assert_eq!(m.param("From"), Some(&*format!("whatsapp:{SENDER}")));
        let id = engine.journal.alerts(1).await.unwrap()[0].incident_id.unwrap();
        assert_eq!(
            m.param("Body").map(str::to_owned),
            Some(format!("🚨 ALERTA: Temperatura crítica <Sala 1> & \"Rack 3\"\n\nAção: verificar o ar-condicionado & <já>\n\nResponda *1* para assumir (#{id})"))
        );
    }

    let attempts = engine.journal.calls_of(alert).await.unwrap();
    let outcomes: Vec<_> = attempts.iter().map(|a| (a.number.as_str(), a.outcome)).collect();
    assert_eq!(outcomes, [(C1, Some(CallOutcome::NoAnswer)), (C2, Some(CallOutcome::Answered))]);
    assert_eq!(attempts[1].answered_by.as_deref(), Some("human"));
    assert_eq!(attempts[1].duration, Some(1));
    let incident = engine.journal.incident(alert).await.unwrap().unwrap();
    assert_eq!(
        (incident.state, incident.escalation, incident.acknowledged_by),
        (IncidentState::Acknowledged, EscalationState::Answered, Some(shown(C2)))
    );
    let deliveries = deliveries_final(&engine, alert, 2).await;
    assert!(deliveries
        .iter()
        .all(|d| d.state == DeliveryState::Read
            && d.sid.as_deref().is_some_and(|s| s.starts_with("SM"))));
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn voicemail_is_hung_up_and_the_queue_goes_on() {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::Voicemail { answer_ms: 100 });
    s.fake.script_call(C2, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA água", "Vazamento")).await;
    let (alert, outcome, by) = escalation_end(&mut rx).await;
    assert_eq!((outcome.as_str(), by), ("answered", Some(shown(C2))));
    assert_eq!(s.fake.called_numbers(), [C1, C2]);
    assert!(s.fake.hung_up(C1), "the machine was hung up on");
    let attempts = engine.journal.calls_of(alert).await.unwrap();
    assert_eq!(attempts[0].outcome, Some(CallOutcome::Machine));
    assert_eq!(attempts[0].answered_by.as_deref(), Some("machine_start"));
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn rounds_repeat_after_the_pause_then_nobody_answered_is_recorded() {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::NoAnswer);
    s.fake.script_call(C2, CallScript::Busy);
    s.fake.script_call(C3, CallScript::Failed);
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA fumaça", "Detector 2")).await;
    let (alert, outcome, by) = escalation_end(&mut rx).await;
    assert_eq!((outcome.as_str(), by), ("unanswered", None));
    assert_eq!(s.fake.called_numbers(), [C1, C2, C3, C1, C2, C3]);
    let calls = s.fake.creations("Calls");
    let pause = calls[3].at - calls[2].at;
    assert!(pause >= Duration::from_secs(1), "round pause respected: {pause:?}");
    let incident = engine.journal.incident(alert).await.unwrap().unwrap();
    assert_eq!(
        (incident.state, incident.escalation),
        (IncidentState::Open, EscalationState::Unanswered),
        "still open: nobody took it"
    );
    let outcomes: Vec<_> = engine
        .journal
        .calls_of(alert)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.outcome.unwrap())
        .collect();
    use CallOutcome::{Busy, Failed, NoAnswer};
    assert_eq!(outcomes, [NoAnswer, Busy, Failed, NoAnswer, Busy, Failed]);
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn unknown_machine_detection_is_not_a_person_but_a_late_human_is() {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::Unknown { answer_ms: 100, talk_ms: 100 });
    s.fake.script_call(C2, CallScript::HumanLateAmd { answer_ms: 100, talk_ms: 200 });
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA energia", "UPS")).await;
    let (alert, outcome, by) = escalation_end(&mut rx).await;
    assert_eq!((outcome.as_str(), by), ("answered", Some(shown(C2))));
    let outcomes: Vec<_> = engine
        .journal
        .calls_of(alert)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.outcome.unwrap())
        .collect();
    assert_eq!(outcomes, [CallOutcome::Unconfirmed, CallOutcome::Answered]);
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn dry_run_sends_nothing_and_journals_what_would_be_sent() {
    let mut s = setup().await;
    s.config.twilio.as_mut().unwrap().dry_run = true;
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA ensaio", "x")).await;
    let incident = until(&mut rx, "the dry-run escalation", |e| match e {
        EngineEvent::EscalationStarted { incident_id } => Some(*incident_id),
        _ => None,
    })
    .await;
    let deliveries = deliveries_final(&engine, incident, 2).await;
    assert!(deliveries.iter().all(|d| d.state == DeliveryState::DryRun));
    assert!(s.fake.requests().is_empty(), "dry run made no HTTP request");
    let events = engine.journal.engine_events(50).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == "dry_run_call" && e.detail.contains("<Say voice=\"Polly.Camila\"")));
    assert_eq!(events.iter().filter(|e| e.kind == "dry_run_whatsapp").count(), 2);
    let i = engine.journal.incident(incident).await.unwrap().unwrap();
    assert_eq!(i.escalation, EscalationState::DryRun, "called once in the dry run, not again");
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn transient_faults_are_retried_without_duplicates() {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    s.fake
        .fault_next("Messages.json", Fault::Error { status: 500, code: 20500, retry_after: None });
    s.fake.fault_next("Messages.json", Fault::Drop);
    s.fake
        .fault_next("Calls.json", Fault::Error { status: 429, code: 20429, retry_after: Some(1) });
    s.fake.fault_next("Calls.json", Fault::Slow(Duration::from_millis(500)));
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA rede", "x")).await;
    let (alert, outcome, _) = escalation_end(&mut rx).await;
    assert_eq!(outcome, "answered");
    assert_eq!(s.fake.called_numbers(), [C1], "one call despite the 429");
    let calls = s.fake.creations("Calls");
    assert!(calls[1].at - calls[0].at >= Duration::from_secs(1), "Retry-After honoured");
    deliveries_final(&engine, alert, 2).await;
    for to in [WA1, WA2] {
        let alarms = s.fake.bodies_to(to).into_iter().filter(|b| b.starts_with("🚨")).count();
        assert_eq!(alarms, 1, "{to}: one alarm despite the 500 and the dropped connection");
    }
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_subject_of_two_thousand_ampersands_still_makes_a_valid_call() {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    let subject = format!("ALERTA {}", "&".repeat(2000));
    s.server.append("INBOX", &plain(SENSOR, &subject, &"<&>".repeat(3000))).await;
    let (_, outcome, _) = escalation_end(&mut rx).await;
    assert_eq!(outcome, "answered", "the fake (Twilio's limits) accepted the call");
    let twiml = s.fake.creations("Calls")[0].param("Twiml").unwrap().to_owned();
    assert!(
        twiml.chars().count() <= 4000
            && twiml.contains("ALERTA")
            && twiml.contains("&lt;&amp;&gt;"),
        "{} chars: {twiml}",
        twiml.chars().count()
    );
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn answers_lost_after_twilio_acted_ring_no_second_phone() {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    s.fake.fault_next("POST Messages.json", Fault::AfterCreate(LostAnswer::Drop));
    s.fake.fault_next("POST Messages.json", Fault::AfterCreate(LostAnswer::Status(502)));
    s.fake.fault_next("POST Calls.json", Fault::AfterCreate(LostAnswer::Status(502)));
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA porta aberta", "x")).await;
    let (alert, outcome, _) = escalation_end(&mut rx).await;
    assert_eq!(outcome, "answered", "the adopted call is followed to its answer");
    assert_eq!(s.fake.called_numbers(), [C1], "one call rang");
    deliveries_final(&engine, alert, 2).await;
    for to in [WA1, WA2] {
        let alarms = s.fake.bodies_to(to).into_iter().filter(|b| b.starts_with("🚨")).count();
        assert_eq!(alarms, 1, "{to}: one alarm although its answer was lost");
    }
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn refused_credentials_are_reported_clearly_and_nothing_is_lost() {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let (engine, mut rx) = start(&s, "wrong-token").await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA credenciais", "x")).await;
    let (kind, message) = until(&mut rx, "Twilio degraded", |e| match e {
        EngineEvent::Twilio(TwilioState::Degraded { kind, message }) => {
            Some((*kind, message.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(kind, TwilioProblem::Auth);
    assert!(
        message.contains("HTTP 401, error 20003") && message.contains("auth token"),
        "{message}"
    );
    assert!(!message.contains("wrong-token"), "the secret never appears: {message}");
    assert!(s.fake.called_numbers().is_empty() && s.fake.messaged_numbers().is_empty());
    engine.stop(WAIT).await;

    // With the right token, the same alert is notified: it was owed, not dropped.
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    let (_, outcome, _) = escalation_end(&mut rx).await;
    assert_eq!(outcome, "answered");
    assert_eq!(s.fake.called_numbers(), [C1]);
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn whatsapp_failures_are_journaled_with_twilios_code_and_advice() {
    let s = setup().await;
    s.fake.script_message(WA2, MessageScript::FailWith(63015));
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA sandbox", "x")).await;
    let (alert, ..) = escalation_end(&mut rx).await;
    let deliveries = deliveries_final(&engine, alert, 2).await;
    let failed = deliveries.iter().find(|d| d.recipient == WA2).unwrap();
    assert_eq!((failed.state, failed.error_code), (DeliveryState::Failed, Some(63015)));
    let ok = deliveries.iter().find(|d| d.recipient == WA1).unwrap();
    assert_eq!(ok.state, DeliveryState::Read);
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn two_racks_alarming_at_once_are_two_incidents_spoken_in_one_call_and_one_answer_takes_both()
{
    let s = setup().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 150, talk_ms: 300 });
    // Both e-mails are waiting when the engine starts: one scan journals them together.
    s.server
        .append("INBOX", &plain(SENSOR, "ALERTA Temperatura Rack-A alta 33.5 C", "Rack A"))
        .await;
    s.server
        .append("INBOX", &plain(SENSOR, "ALERTA Temperatura Rack-B alta 34.0 C", "Rack B"))
        .await;
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    let (first, outcome, by) = escalation_end(&mut rx).await;
    let (second, ..) = escalation_end(&mut rx).await;
    assert_eq!((outcome.as_str(), by), ("answered", Some(shown(C1))));
    assert_ne!(first, second, "two incidents");
    assert_eq!(s.fake.called_numbers(), [C1], "one call for both");
    let twiml = s.fake.creations("Calls")[0].param("Twiml").unwrap().to_owned();
    assert!(twiml.contains("2 alertas abertos. Alerta 1: ALERTA Temperatura Rack-B alta 34.0 C. Rack B. Alerta 2: ALERTA Temperatura Rack-A"), "newest first: {twiml}");
    for id in [first, second] {
        let i = engine.journal.incident(id).await.unwrap().unwrap();
        assert_eq!((i.state, i.acknowledged_by), (IncidentState::Acknowledged, Some(shown(C1))));
    }
    assert_eq!(alarmed(&s.fake).len(), 4, "each incident told to each recipient once");
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn an_api_key_authenticates_instead_of_the_auth_token() {
    let mut s = setup().await;
    s.config.twilio.as_mut().unwrap().api_key_sid = API_KEY_SID.into();
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let (engine, mut rx) = start(&s, API_KEY_SECRET).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA chave", "x")).await;
    let (_, outcome, _) = escalation_end(&mut rx).await;
    assert_eq!(outcome, "answered");
    let requests = s.fake.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.auth_user.as_deref() == Some(API_KEY_SID)),
        "Basic auth user is the API key"
    );
    assert!(
        requests.iter().all(|r| r.path.contains(sentinela_tests::twilio_fake::ACCOUNT_SID)),
        "the path keeps the Account SID"
    );
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn templates_carry_the_alert_as_variables_and_refusals_are_not_retried() {
    let mut s = setup().await;
    let template = "HX0123456789abcdef0123456789abcdef";
    s.config.whatsapp.as_mut().unwrap().content_sid = template.into();
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    // The first message is refused for its number: a 4xx that retrying cannot fix.
    s.fake
        .fault_next("Messages.json", Fault::Error { status: 400, code: 21211, retry_after: None });
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA modelo", "Sala 1: 31 °C")).await;
    let (alert, ..) = escalation_end(&mut rx).await;
    let deliveries = deliveries_final(&engine, alert, 2).await;
    let posts: Vec<_> = s
        .fake
        .creations("Messages")
        .into_iter()
        .filter(|m| m.param("ContentVariables").is_some_and(|v| v.contains("Responda")))
        .collect();
    assert_eq!(posts.len(), 2, "the refused message was not sent again");
    let refused: Vec<_> = deliveries.iter().filter(|d| d.state == DeliveryState::Error).collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].error_code, Some(21211));
    assert!(
        refused[0].error_message.as_deref().unwrap().contains("whatsapp.to"),
        "{:?}",
        refused[0].error_message
    );
    for p in &posts {
        assert_eq!(p.param("ContentSid"), Some(template));
        assert_eq!(p.param("Body"), None);
        let vars: serde_json::Value =
            serde_json::from_str(p.param("ContentVariables").unwrap()).unwrap();
        assert_eq!(vars["1"], "ALERTA modelo");
        // One line, as Meta accepts a template variable.
        assert_eq!(vars["2"], format!("Sala 1: 31 °C | Responda *1* para assumir (#{alert})"));
    }
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_pause_holds_new_incidents_a_test_alert_still_goes_through_and_the_end_of_the_pause_tells_them(
) {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let (engine, mut rx) = start(&s, AUTH_TOKEN).await;
    engine.pause_notifications(None).await.unwrap();
    s.server.append("INBOX", &plain(SENSOR, "ALERTA durante a pausa", "manutenção")).await;
    let held = until(&mut rx, "the incident held", |e| match e {
        EngineEvent::Incident(c) if c.kind == IncidentEventKind::Held => Some(c.incident.id),
        _ => None,
    })
    .await;
    assert!(engine.journal.incident(held).await.unwrap().unwrap().held_since.is_some());
    assert!(
        s.fake.creations("Messages").is_empty() && s.fake.creations("Calls").is_empty(),
        "nobody notified during the pause"
    );

    let test = engine.send_test_alert().await.unwrap();
    let (incident, outcome, _) = escalation_end(&mut rx).await;
    let test_incident = engine.journal.alert(test).await.unwrap().unwrap().incident_id.unwrap();
    assert_eq!(
        (incident, outcome.as_str()),
        (test_incident, "answered"),
        "the operator's test alert is not held by the pause"
    );
    assert!(
        s.fake
            .creations("Messages")
            .iter()
            .all(|m| m.param("Body").unwrap().starts_with("[TESTE]")),
        "the test's messages, and who took it, say it is a test"
    );
    assert!(s.fake.creations("Calls")[0].param("Twiml").unwrap().contains("chamada de teste"));

    // Held, not forgotten: the end of the pause tells and escalates what is still open.
    engine.resume_notifications().await.unwrap();
    let (after, outcome, _) = escalation_end(&mut rx).await;
    assert_eq!((after, outcome.as_str()), (held, "answered"));
    assert_eq!(
        s.fake.called_numbers(),
        [C1, C2, C3, C1],
        "the queue goes on from the number after the last call"
    );
    let i = engine.journal.incident(held).await.unwrap().unwrap();
    assert!(
        i.held_since.is_some() && i.released_at.is_some(),
        "the history says it was held and since when"
    );
    assert_eq!(deliveries_final(&engine, held, 2).await.len(), 2, "held, then told once");
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_call_whose_state_twilio_will_not_give_is_given_up_and_the_queue_goes_on() {
    let s = setup().await;
    s.fake.script_call(C2, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let timing = sentinela_engine::timing::EngineTiming {
        unreadable_call_budget: Duration::from_secs(1),
        ..fast()
    };
    let (engine, mut rx) = s.start(AUTH_TOKEN, timing).await;
    // Every read of a call is refused for a while (403), the creations are not.
    for _ in 0..40 {
        s.fake.fault_next(
            "GET /Calls/",
            Fault::Error { status: 403, code: 20403, retry_after: None },
        );
    }
    s.server.append("INBOX", &plain(SENSOR, "ALERTA leitura impossível", "x")).await;
    let (incident, outcome, by) = escalation_end(&mut rx).await;
    assert_eq!(
        (outcome.as_str(), by),
        ("answered", Some(shown(C2))),
        "the queue went on to the next number"
    );
    let calls = engine.journal.calls_of(incident).await.unwrap();
    assert_eq!(calls[0].outcome, Some(CallOutcome::Error));
    assert!(
        calls[0].error_message.as_deref().unwrap().contains("did not give this call's state"),
        "{:?}",
        calls[0].error_message
    );
    engine.stop(WAIT).await;
}
