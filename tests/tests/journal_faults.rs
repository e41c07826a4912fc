//! The journal fails safe, on the real engine with Dovecot and the Twilio fake: a journal that
//! cannot be written (SQLite's own "disk full", through `max_page_count`) raises the alarm at
//! once, the alert it could not take is told from memory — WhatsApp and calls, a person
//! answers — and once it can be written again the alarm clears and the e-mail is journaled,
//! nothing lost. A corrupt journal at start is kept aside and a new one started, loudly.

use std::time::Duration;

use sentinela_engine::events::EngineEvent;
use sentinela_engine::health::WatchAlarm;
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, C2, WA1};
use sentinela_tests::scenario::Scenario;
use sentinela_tests::twilio_fake::CallScript;
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;
use tokio::sync::broadcast;

async fn alarm(
    rx: &mut broadcast::Receiver<EngineEvent>,
    what: &str,
    pick: impl Fn(&WatchAlarm) -> bool,
) -> WatchAlarm {
    alarm_within(rx, what, WAIT, pick).await
}

async fn alarm_within(
    rx: &mut broadcast::Receiver<EngineEvent>,
    what: &str,
    within: Duration,
    pick: impl Fn(&WatchAlarm) -> bool,
) -> WatchAlarm {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(EngineEvent::WatchAlarm(a))) if pick(&a) => return a,
            Ok(Ok(EngineEvent::WatchAlarm(WatchAlarm::JournalRecovered))) => {
                panic!("the journal said recovered while waiting for {what}")
            }
            Ok(Ok(_)) => {}
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_full_journal_is_alarmed_the_alert_told_from_memory_and_journaled_after() {
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 200 });
    let (engine, mut rx) = s.start_fast().await;
    wait_for("watching", WAIT, || async { engine.journal.engine_events(1).await.ok() }).await;

    engine.journal.cap_growth(Some(0)).await.unwrap();
    // A body that needs pages of its own (a small one could fit in a page's free space).
    let body = format!("Sala 3: 41 °C. {}", "Leituras anteriores: 39 °C, 40 °C. ".repeat(300));
    s.server.append("INBOX", &plain(SENSOR, "ALERTA disco cheio na sala", &body)).await;
    let failing =
        alarm(&mut rx, "the journal alarm", |a| matches!(a, WatchAlarm::JournalFailing { .. }))
            .await;
    assert!(
        matches!(&failing, WatchAlarm::JournalFailing { reason } if reason.contains("full")),
        "{failing:?}"
    );

    // Told from memory: the WhatsApp, and the call queue until a person answers.
    let body =
        wait_for("the WhatsApp from memory", WAIT, || async { s.fake.bodies_to(WA1).pop() }).await;
    assert!(
        body.starts_with("🚨 ALERTA disco cheio na sala")
            && body.contains("não consegue gravar o histórico")
            && body.contains("41 °C"),
        "{body}"
    );
    wait_for("the call from memory", WAIT, || async {
        (s.fake.called_numbers() == [C1]).then_some(())
    })
    .await;
    assert_eq!(engine.journal.alert_count().await.unwrap(), 0, "nothing could be journaled");
    // The watcher keeps retrying the e-mail; it is told once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.fake.bodies_to(WA1).len(), 1);

    // Space again: the alarm clears and the e-mail (left unread) is journaled.
    engine.journal.cap_growth(None).await.unwrap();
    // Said once no storage failure came for a while (a full disk still takes small writes).
    let recovery_wait = sentinela_engine::journal::WRITABLE_AFTER + Duration::from_secs(15);
    alarm_within(&mut rx, "the journal's recovery", recovery_wait, |a| {
        matches!(a, WatchAlarm::JournalRecovered)
    })
    .await;
    wait_for("the alert journaled", WAIT, || async {
        (engine.journal.alert_count().await.unwrap() == 1).then_some(())
    })
    .await;
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_corrupt_journal_is_kept_aside_and_a_new_one_started() {
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    let garbage = b"this is not an SQLite database, it was damaged".repeat(200);
    std::fs::write(s.data.path().join("sentinela.db"), &garbage).unwrap();
    let (engine, mut rx) = s.start_fast().await;
    let replaced = alarm(&mut rx, "the replacement alarm", |a| {
        matches!(a, WatchAlarm::JournalReplaced { .. })
    })
    .await;
    let WatchAlarm::JournalReplaced { moved_to } = replaced else { unreachable!() };
    assert!(moved_to.contains("sentinela.corrupt-"), "{moved_to}");
    assert_eq!(std::fs::read(&moved_to).unwrap(), garbage, "the old file is kept as it was");
    // The new journal works: an alert goes through it.
    s.server.append("INBOX", &plain(SENSOR, "ALERTA depois da troca", "x")).await;
    wait_for("the alert journaled", WAIT, || async {
        (engine.journal.alert_count().await.unwrap() == 1).then_some(())
    })
    .await;
    let events = engine.journal.engine_events(20).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "journal_replaced"), "{events:?}");
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn writes_refused_in_the_middle_of_an_escalation_skip_nobody_and_panic_nothing() {
    let s = Scenario::new(&[WA1], &[C1, C2], 1).await;
    s.fake.set_no_answer_ms(1500);
    s.fake.script_call(C2, CallScript::Human { answer_ms: 200, talk_ms: 200 });
    let (engine, mut rx) = s.start_fast().await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA escrita recusada", "x")).await;
    wait_for("the first call ringing", WAIT, || async {
        (s.fake.called_numbers() == [C1]).then_some(())
    })
    .await;

    // Every write fails — the call's outcome, the next call's intent, the messages' states —
    // for longer than the first call rings.
    engine.journal.refuse_writes(true).await.unwrap();
    alarm(&mut rx, "the journal alarm", |a| matches!(a, WatchAlarm::JournalFailing { .. })).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.fake.called_numbers(), [C1], "no call placed without its intent journaled");
    engine.journal.refuse_writes(false).await.unwrap();

    // The second person is called (not skipped), once; nothing panicked.
    let mut failed = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT + sentinela_engine::journal::WRITABLE_AFTER;
    let mut recovered = false;
    while !(recovered && s.fake.called_numbers().len() == 2) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(EngineEvent::ManagerFailed { manager, reason, .. })) => {
                failed.push(format!("{manager}: {reason}"))
            }
            Ok(Ok(EngineEvent::WatchAlarm(WatchAlarm::JournalRecovered))) => recovered = true,
            Ok(Ok(_)) => {}
            other => panic!(
                "waiting for the second call and the recovery: {other:?}; calls {:?}",
                s.fake.called_numbers()
            ),
        }
    }
    assert_eq!(s.fake.called_numbers(), [C1, C2]);
    assert!(failed.is_empty(), "no manager failed: {failed:?}");
    wait_for("the incident taken by the second person", WAIT, || async {
        let i = engine.journal.incidents(1, None, false).await.ok()?.pop()?;
        (i.acknowledged_by == Some(sentinela_engine::phone::display(C2))).then_some(())
    })
    .await;
    engine.stop(WAIT).await;
}

/// An outage that brings a burst of alerts is one escalation from memory, as from the journal:
/// the flood limit per person (the rest in one digest) and one call queue speaking them all.
#[tokio::test]
async fn a_burst_told_from_memory_keeps_the_flood_limit_and_one_call_queue() {
    use sentinela_engine::incident::flood::FloodLimit;
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 1500, talk_ms: 300 });
    let window = chrono::Duration::seconds(15);
    let timing = sentinela_engine::timing::EngineTiming {
        flood: FloodLimit { per_window: 2, window },
        ..sentinela_tests::scenario::fast()
    };
    let (engine, mut rx) = s.start(sentinela_tests::twilio_fake::AUTH_TOKEN, timing).await;
    wait_for("watching", WAIT, || async { engine.journal.engine_events(1).await.ok() }).await;

    engine.journal.cap_growth(Some(0)).await.unwrap();
    let subjects: Vec<String> = (1..=5).map(|n| format!("ALERTA sala {n} quente")).collect();
    for (n, subject) in subjects.iter().enumerate() {
        let body =
            format!("Sala {}: 41 °C. {}", n + 1, "Leituras anteriores: 39 °C, 40 °C. ".repeat(300));
        s.server.append("INBOX", &plain(SENSOR, subject, &body)).await;
    }
    alarm(&mut rx, "the journal alarm", |a| matches!(a, WatchAlarm::JournalFailing { .. })).await;

    // Two alarm messages, then the digest of the other three when the window frees a place.
    let digest = wait_for("the digest from memory", WAIT + Duration::from_secs(15), || async {
        s.fake.bodies_to(WA1).into_iter().find(|b| b.starts_with("📋"))
    })
    .await;
    let bodies = s.fake.bodies_to(WA1);
    let alarms: Vec<_> = bodies.iter().filter(|b| b.starts_with("🚨")).collect();
    assert_eq!((alarms.len(), bodies.len()), (2, 3), "{bodies:#?}");
    assert!(
        digest.contains("+3 alertas novos") && digest.contains("não consegue gravar o histórico"),
        "{digest}"
    );
    for subject in &subjects {
        assert_eq!(
            bodies.iter().filter(|b| b.contains(subject.as_str())).count(),
            1,
            "{subject}: told once, alone or in the digest"
        );
    }
    // One queue: calls speak every alert owed, so the burst is not five escalations.
    let calls = s.fake.creations("Calls");
    assert!((1..=2).contains(&calls.len()), "{} calls", calls.len());
    // Each call says how many alerts it speaks ("5 alertas abertos", or one alone): five in all.
    let spoken: usize = calls
        .iter()
        .map(|c| {
            let twiml = c.param("Twiml").unwrap_or_default();
            twiml
                .split(" alertas abertos")
                .next()
                .filter(|_| twiml.contains(" alertas abertos"))
                .and_then(|head| head.rsplit(' ').next()?.parse().ok())
                .unwrap_or(1)
        })
        .sum();
    assert_eq!(spoken, subjects.len(), "every alert spoken once");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.fake.creations("Calls").len(), calls.len(), "answered: nobody called again");
    engine.stop(WAIT).await;
}
