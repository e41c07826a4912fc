//! "Tecle 1 para assumir" (`[calls] keypress`), end to end from an e-mail appended to a real
//! Dovecot to the Twilio fake's Studio routes: each call is an execution of Sentinela's flow, the
//! call it places is followed like any other, and only a 1 pressed in it takes the incidents. A
//! person who answers and presses nothing heard the alert; the queue goes on.

use sentinela_engine::events::EngineEvent;
use sentinela_engine::incident::{AckVia, IncidentEventKind, IncidentState};
use sentinela_engine::journal::{AlertJournal, CallOutcome};
use sentinela_engine::runner::RunningEngine;
use sentinela_engine::twilio::studio::{FLOW_NAME, GATHER_WIDGET};
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, C2, WA1};
use sentinela_tests::scenario::Scenario;
use sentinela_tests::twilio_fake::{CallScript, Fault, LostAnswer};
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;
use tokio::sync::broadcast;

async fn scenario() -> Scenario {
    let mut s = Scenario::new(&[WA1], &[C1, C2], 1).await;
    if let Some(calls) = s.config.calls.as_mut() {
        calls.keypress = true;
    }
    s.config.people.insert(C1.into(), "Ana".into());
    s.config.people.insert(C2.into(), "Bruno".into());
    s
}

/// Waits for an incident to be taken; returns who took it and how.
async fn taken(rx: &mut broadcast::Receiver<EngineEvent>) -> (Option<String>, Option<AckVia>) {
    sentinela_tests::next_event(rx, "the incident to be taken", |e| match e {
        EngineEvent::Incident(c) if c.kind == IncidentEventKind::Acknowledged => {
            Some((c.incident.acknowledged_by.clone(), c.incident.acknowledged_via))
        }
        _ => None,
    })
    .await
}

/// The outcomes of the calls that spoke the newest incident, once all are over.
async fn outcomes(journal: &AlertJournal, n: usize) -> Vec<(String, Option<CallOutcome>)> {
    wait_for("the calls' outcomes", WAIT, || async {
        let id = journal.incidents(1, None, false).await.unwrap().first()?.id;
        let calls = journal.calls_of(id).await.unwrap();
        (calls.len() == n && calls.iter().all(|c| c.outcome.is_some()))
            .then(|| calls.into_iter().map(|c| (c.number, c.outcome)).collect())
    })
    .await
}

async fn start(s: &Scenario) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    s.start_fast().await
}

#[tokio::test]
async fn a_person_who_presses_1_takes_the_incident_and_the_queue_stops() {
    let s = scenario().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 3000 });
    s.fake.script_key(C1, "1", 500);
    let (engine, mut rx) = start(&s).await;
    s.server
        .append("INBOX", &plain(SENSOR, "ALERTA: Temperatura <alta> & subindo", "Sala 1: 31 °C"))
        .await;

    assert_eq!(taken(&mut rx).await, (Some("Ana".into()), Some(AckVia::Keypress)));
    assert_eq!(outcomes(&engine.journal, 1).await, [(C1.to_owned(), Some(CallOutcome::Answered))]);
    let incident = &engine.journal.incidents(1, None, false).await.unwrap()[0];
    assert_eq!(incident.state, IncidentState::Acknowledged);

    // One flow, Sentinela's, that says the execution's text in the configured voice and waits for
    // one key; one execution, to Ana, whose text names her, says the alert as plain words and
    // how to take it.
    let flows = s.fake.flows();
    assert_eq!(flows.len(), 1, "{flows:?}");
    assert_eq!(flows[0].0, FLOW_NAME);
    let gather = flows[0].1["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == GATHER_WIDGET)
        .unwrap()
        .clone();
    assert_eq!(
        (gather["properties"]["voice"].as_str(), gather["properties"]["language"].as_str()),
        (Some("Polly.Camila"), Some("pt-BR"))
    );
    let executions = s.fake.executions();
    assert_eq!(executions.len(), 1, "{executions:?}");
    let text = executions[0].1["texto"].as_str().unwrap().to_owned();
    assert_eq!(executions[0].0, C1);
    assert!(
        text.starts_with(
            "Ana, alerta do Sentinela no CPD. ALERTA: Temperatura  alta    subindo. Sala 1: 31 °C."
        ) && text.ends_with("Tecle 1 para assumir."),
        "{text}"
    );
    assert!(s.fake.creations("Calls").is_empty(), "the call is Studio's, not a plain one");
    assert_eq!(s.fake.called_numbers(), [C1], "Bruno is not called");
    // The team hears who took it, as for any acknowledgement.
    wait_for("\"Assumido por Ana\" on WhatsApp", WAIT, || async {
        s.fake.bodies_to(WA1).iter().any(|b| b.contains("Assumido por Ana")).then_some(())
    })
    .await;
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_person_who_answers_and_presses_nothing_heard_it_and_the_next_is_called() {
    let s = scenario().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 600 });
    s.fake.script_call(C2, CallScript::Human { answer_ms: 200, talk_ms: 3000 });
    s.fake.script_key(C2, "1", 300);
    let (engine, mut rx) = start(&s).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA: Umidade alta", "Corredor frio")).await;

    assert_eq!(taken(&mut rx).await, (Some("Bruno".into()), Some(AckVia::Keypress)));
    assert_eq!(
        outcomes(&engine.journal, 2).await,
        [(C1.to_owned(), Some(CallOutcome::Heard)), (C2.to_owned(), Some(CallOutcome::Answered))]
    );
    assert_eq!(s.fake.called_numbers(), [C1, C2]);
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn an_execution_whose_answer_was_lost_is_found_not_started_twice() {
    let s = scenario().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 3000 });
    s.fake.script_key(C1, "1", 300);
    // Studio creates the execution (and its call rings), but the answer never arrives.
    s.fake.fault_next("POST /Executions", Fault::AfterCreate(LostAnswer::Status(502)));
    let (engine, mut rx) = start(&s).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA: Energia", "UPS em bateria")).await;

    assert_eq!(taken(&mut rx).await, (Some("Ana".into()), Some(AckVia::Keypress)));
    assert_eq!(s.fake.executions().len(), 1, "looked up and adopted, not started again");
    assert_eq!(s.fake.called_numbers(), [C1], "one phone rang");
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_call_taken_elsewhere_while_ringing_is_canceled_with_its_execution() {
    let s = scenario().await;
    // Ana's phone rings and rings.
    s.fake.set_no_answer_ms(20_000);
    let (engine, _rx) = start(&s).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA: Fumaça", "Sala 2")).await;
    let id = wait_for("the call ringing", WAIT, || async {
        let id = engine.journal.incidents(1, None, false).await.unwrap().first()?.id;
        let calls = engine.journal.calls_of(id).await.unwrap();
        calls.iter().any(|c| c.sid.is_some()).then_some(id)
    })
    .await;
    engine.acknowledge(id, Some("Carla".into())).await.unwrap();
    assert_eq!(outcomes(&engine.journal, 1).await, [(C1.to_owned(), Some(CallOutcome::Canceled))]);
    wait_for("the execution ended", WAIT, || async {
        s.fake.executions().iter().all(|e| e.2).then_some(())
    })
    .await;
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_call_asking_for_a_key_is_followed_again_after_a_restart_not_placed_again() {
    let s = scenario().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 6000 });
    s.fake.script_key(C1, "1", 2500);
    let (engine, _rx) = start(&s).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA: Água no piso", "Sala 3")).await;
    wait_for("the call found", WAIT, || async {
        let id = engine.journal.incidents(1, None, false).await.unwrap().first()?.id;
        engine
            .journal
            .calls_of(id)
            .await
            .unwrap()
            .iter()
            .any(|c| c.sid.is_some() && c.execution_sid.is_some())
            .then_some(())
    })
    .await;
    engine.stop(WAIT).await;

    // The new run follows the same call and reads the same execution's key.
    let (engine, mut rx) = start(&s).await;
    assert_eq!(taken(&mut rx).await, (Some("Ana".into()), Some(AckVia::Keypress)));
    assert_eq!((s.fake.executions().len(), s.fake.called_numbers()), (1, vec![C1.to_owned()]));
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn when_studio_refuses_the_flow_the_calls_go_on_without_the_key() {
    let s = scenario().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 500 });
    s.fake
        .fault_next("POST /v2/Flows", Fault::Error { status: 400, code: 20001, retry_after: None });
    let (engine, mut rx) = start(&s).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA: Porta aberta", "Sala 1")).await;

    // A plain call, as without `keypress`: a person answering takes it.
    assert_eq!(taken(&mut rx).await, (Some("Ana".into()), Some(AckVia::Call)));
    assert_eq!((s.fake.creations("Calls").len(), s.fake.executions().len()), (1, 0));
    // The next alert too, without asking Studio again: said once for the run.
    s.server.append("INBOX", &plain(SENSOR, "ALERTA: Fumaça detectada", "Sala 2")).await;
    assert_eq!(taken(&mut rx).await, (Some("Ana".into()), Some(AckVia::Call)));
    // (Bruno, after Ana in the list, is called first this time, and does not answer.)
    assert_eq!(s.fake.called_numbers(), [C1, C2, C1]);
    assert_eq!(
        (s.fake.creations("Calls").len(), s.fake.flows().len(), s.fake.executions().len()),
        (3, 0, 0),
        "all plain calls"
    );
    let said = engine.journal.engine_events(50).await.unwrap();
    assert_eq!(
        said.iter().filter(|e| e.kind == "keypress_unavailable").count(),
        1,
        "said once, and journaled: {said:?}"
    );
    engine.stop(WAIT).await;
}
