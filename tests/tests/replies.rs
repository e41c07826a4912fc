//! Acknowledging from the phone, end to end: an alarm e-mail in a real Dovecot, its WhatsApp
//! messages and calls through the Twilio fake, and the team's replies listed by the fake's
//! `GET Messages.json` as Twilio lists them. A reply takes the incident (by its code, or the
//! newest that reached the person), the calls stop, the others are told who took it; strangers
//! and free text take nothing; a reply is handled once across restarts; a take that lasts too
//! long is escalated again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sentinela_engine::events::EngineEvent;
use sentinela_engine::incident::{AckVia, EscalationState, IncidentEventKind, IncidentState};
use sentinela_engine::journal::CallState;
use sentinela_engine::notify::ReplyPolling;
use sentinela_engine::runner::RunningEngine;
use sentinela_engine::timing::EngineTiming;
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, WA1, WA2};
use sentinela_tests::scenario::{self, Scenario, SENDER};
use sentinela_tests::twilio_fake::{TwilioFake, AUTH_TOKEN};
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;
use tokio::sync::broadcast;

async fn setup() -> Scenario {
    let mut s = Scenario::new(&[WA1, WA2], &[C1], 3).await;
    // Every call rings long, unanswered: only a reply can stop them.
    s.fake.set_no_answer_ms(20_000);
    s.config.people = BTreeMap::from([
        (WA1.into(), "Ana".into()),
        (WA2.into(), "Bruno".into()),
        (C1.into(), "Carla".into()),
    ]);
    s
}

/// The engine with the given reply polling (Sentinela's own: every 3 s while an incident is open).
async fn start(
    s: &Scenario,
    replies: ReplyPolling,
) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    s.start(AUTH_TOKEN, EngineTiming { replies, ..scenario::fast() }).await
}

fn fast() -> ReplyPolling {
    ReplyPolling { busy: Duration::from_millis(200), quiet: Duration::from_millis(500) }
}

async fn opened(rx: &mut broadcast::Receiver<EngineEvent>) -> i64 {
    sentinela_tests::next_incident(rx, IncidentEventKind::Opened).await
}

/// Waits until the alarm reached both (Twilio accepted the messages) and a call is ringing.
async fn alarmed(s: &Scenario, engine: &RunningEngine, id: i64) {
    wait_for("the alarm sent to both and a call ringing", WAIT, || async {
        let sent = engine
            .journal
            .deliveries_of(id)
            .await
            .unwrap()
            .iter()
            .filter(|d| d.sid.is_some())
            .count();
        let ringing = engine
            .journal
            .calls_of(id)
            .await
            .unwrap()
            .iter()
            .any(|c| c.state == CallState::Ringing);
        (sent == 2 && ringing).then_some(())
    })
    .await;
    let _ = s;
}

fn bodies(fake: &TwilioFake, to: &str, start: &str) -> Vec<String> {
    fake.bodies_to(to).into_iter().filter(|b| b.starts_with(start)).collect()
}

#[tokio::test]
async fn a_reply_1_takes_the_incident_stops_the_calls_and_the_others_are_told_who() {
    let s = setup().await;
    let (engine, mut rx) = start(&s, ReplyPolling::default()).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Temperatura Sala 1 alta 31 C", "Sala 1")).await;
    let id = opened(&mut rx).await;
    alarmed(&s, &engine, id).await;
    let alarm = &bodies(&s.fake, WA1, "🚨")[0];
    assert!(
        alarm.ends_with(&format!("Responda *1* para assumir (#{id})")),
        "the alarm says how to take it: {alarm}"
    );
    let call = s.fake.creations("Calls")[0].param("Twiml").unwrap().to_owned();
    assert!(
        call.contains(">Carla, alerta do Sentinela no CPD."),
        "the callee hears their name: {call}"
    );

    s.fake.inbound(WA2, SENDER, " Ciente! ");
    let listed = Instant::now();
    let taken = wait_for("taken by the reply", WAIT, || async {
        let i = engine.journal.incident(id).await.unwrap()?;
        (i.state == IncidentState::Acknowledged).then_some(i)
    })
    .await;
    let took = listed.elapsed();
    assert!(took <= Duration::from_secs(10), "within 10 s of being listed: {took:?}");
    assert_eq!(
        (taken.acknowledged_by.as_deref(), taken.acknowledged_via),
        (Some("Bruno"), Some(AckVia::Whatsapp))
    );
    wait_for("the ringing call cancelled", WAIT, || async { s.fake.canceled(C1).then_some(()) })
        .await;
    wait_for("Ana told who took it", WAIT, || async {
        (!bodies(&s.fake, WA1, "👍").is_empty()).then_some(())
    })
    .await;
    let told = &bodies(&s.fake, WA1, "👍")[0];
    assert!(
        told.starts_with("👍 Assumido por Bruno às ") && told.contains(&format!("(#{id})")),
        "{told}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(bodies(&s.fake, WA2, "👍").is_empty(), "who took it is not told of it");
    assert_eq!(s.fake.called_numbers().len(), 1, "no call after the take");
    // Polling is one request at a time, and fast only while something is untaken.
    let polls = s.fake.message_lists();
    assert!(polls
        .iter()
        .all(|p| p.query.iter().any(|(k, v)| k == "To" && v == &format!("whatsapp:{SENDER}"))));
    engine.stop(WAIT).await;
}

/// WhatsApp knows many Brazilian mobiles by the eight-digit form they had before the ninth
/// digit: Bruno's reply comes from `+55 11 9999-0002` for the configured `+55 11 99999-0002`.
#[tokio::test]
async fn a_reply_from_the_number_without_the_ninth_digit_is_the_same_person() {
    let s = setup().await;
    let (engine, mut rx) = start(&s, fast()).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Temperatura Sala 4 alta 32 C", "Sala 4")).await;
    let id = opened(&mut rx).await;
    alarmed(&s, &engine, id).await;
    let eight_digits = "+551199990002";
    assert_eq!(
        sentinela_engine::phone::recipient_matching(eight_digits, &[WA2.to_owned()]),
        Some(WA2)
    );
    s.fake.inbound(eight_digits, SENDER, "1");
    let taken = wait_for("taken by Bruno's old-form number", WAIT, || async {
        let i = engine.journal.incident(id).await.unwrap()?;
        (i.state == IncidentState::Acknowledged).then_some(i)
    })
    .await;
    assert_eq!(
        (taken.acknowledged_by.as_deref(), taken.acknowledged_via),
        (Some("Bruno"), Some(AckVia::Whatsapp))
    );
    wait_for("the ringing call cancelled", WAIT, || async { s.fake.canceled(C1).then_some(()) })
        .await;
    let strangers = engine.journal.engine_events(20).await.unwrap();
    assert!(
        !strangers.iter().any(|e| e.kind == "stranger_reply"),
        "not taken for a stranger: {strangers:?}"
    );
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_code_takes_its_incident_ok_takes_the_newest_strangers_and_free_text_take_nothing() {
    let s = setup().await;
    // Both e-mails are waiting at the start: two incidents, one call speaking both.
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Temperatura Rack-A alta 33 C", "A")).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Temperatura Rack-B alta 34 C", "B")).await;
    let (engine, mut rx) = start(&s, fast()).await;
    let older = opened(&mut rx).await;
    let newer = opened(&mut rx).await;
    assert!(older < newer);
    alarmed(&s, &engine, newer).await;

    s.fake.inbound("+5511977770000", SENDER, "1");
    s.fake.inbound(WA1, SENDER, "estou a caminho");
    wait_for("the note", WAIT, || async {
        let log = engine.journal.incident_detail(newer).await.unwrap()?.log;
        log.iter()
            .any(|l| l.kind == IncidentEventKind::Note && l.detail == "Ana: estou a caminho")
            .then_some(())
    })
    .await;
    assert!(engine
        .journal
        .engine_events(20)
        .await
        .unwrap()
        .iter()
        .any(|e| e.kind == "stranger_reply"));
    for id in [older, newer] {
        assert_eq!(
            engine.journal.incident(id).await.unwrap().unwrap().state,
            IncidentState::Open,
            "a stranger and a note take nothing"
        );
    }

    s.fake.inbound(WA2, SENDER, &format!("#{older}"));
    wait_for("the older taken by its code", WAIT, || async {
        (engine.journal.incident(older).await.unwrap()?.acknowledged_by.as_deref() == Some("Bruno"))
            .then_some(())
    })
    .await;
    assert_eq!(engine.journal.incident(newer).await.unwrap().unwrap().state, IncidentState::Open);
    s.fake.inbound(WA1, SENDER, "ok");
    wait_for("the newest taken by ok", WAIT, || async {
        (engine.journal.incident(newer).await.unwrap()?.acknowledged_by.as_deref() == Some("Ana"))
            .then_some(())
    })
    .await;
    wait_for("the call cancelled once nothing is untaken", WAIT, || async {
        s.fake.canceled(C1).then_some(())
    })
    .await;
    // Each told who took the other's: everything owed is sent before the restart.
    for to in [WA1, WA2] {
        wait_for("the other told who took it", WAIT, || async {
            (!bodies(&s.fake, to, "👍").is_empty()).then_some(())
        })
        .await;
    }
    engine.stop(WAIT).await;

    // After a restart the same replies are listed again: none is handled twice.
    let told_before = s.fake.bodies_to(WA1).len() + s.fake.bodies_to(WA2).len();
    let lists_before = s.fake.message_lists().len();
    let (engine, _rx) = start(&s, fast()).await;
    wait_for("the replies listed again", WAIT, || async {
        (s.fake.message_lists().len() > lists_before + 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        s.fake.bodies_to(WA1).len() + s.fake.bodies_to(WA2).len(),
        told_before,
        "nobody told again"
    );
    let notes = engine
        .journal
        .incident_detail(newer)
        .await
        .unwrap()
        .unwrap()
        .log
        .into_iter()
        .filter(|l| l.kind == IncidentEventKind::Note)
        .count();
    assert_eq!(notes, 1, "the note is kept once");
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_take_older_than_reescalate_after_is_escalated_again() {
    let mut s = setup().await;
    s.config.incidents.reescalate_after_mins = 60;
    let (engine, mut rx) = start(&s, fast()).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Umidade Sala 4 alta 80%", "x")).await;
    let id = opened(&mut rx).await;
    alarmed(&s, &engine, id).await;
    s.fake.inbound(WA1, SENDER, "1");
    wait_for("taken", WAIT, || async {
        (engine.journal.incident(id).await.unwrap()?.state == IncidentState::Acknowledged)
            .then_some(())
    })
    .await;
    wait_for("the call cancelled", WAIT, || async { s.fake.canceled(C1).then_some(()) }).await;
    let calls_before = s.fake.called_numbers().len();

    // An hour passes (written into the journal by another process, as the clock would).
    let past = (chrono::Utc::now() - chrono::Duration::minutes(61))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let db = rusqlite::Connection::open(s.data.path().join("sentinela.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute(
        "UPDATE incidents SET acknowledged_at = ?1 WHERE id = ?2",
        rusqlite::params![past, id],
    )
    .unwrap();

    let again = wait_for("escalated again", WAIT, || async {
        let i = engine.journal.incident(id).await.unwrap()?;
        (i.state == IncidentState::Open && i.escalation != EscalationState::Stopped).then_some(i)
    })
    .await;
    assert_eq!(again.state, IncidentState::Open);
    wait_for("a new call", WAIT, || async {
        (s.fake.called_numbers().len() > calls_before).then_some(())
    })
    .await;
    for to in [WA1, WA2] {
        wait_for("the still-alarming message", WAIT, || async {
            (!bodies(&s.fake, to, "🔁").is_empty()).then_some(())
        })
        .await;
        let m = &bodies(&s.fake, to, "🔁")[0];
        assert!(m.starts_with("🔁 Ainda em alarme 1 h 01 min depois de assumido por Ana"), "{m}");
    }
    engine.stop(WAIT).await;
}
