//! Incidents end to end, from e-mails appended to a real Dovecot to the requests the Twilio fake
//! received: each device family's alarm, repeats and recovery become one incident told once and
//! ended by its recovery (a ringing call cancelled, "Resolvido" sent); a recovery of nothing tells
//! nobody; flapping reopens; an acknowledgement typed in the CLI stops a running engine's calls;
//! a flood is bounded and does not delay a new alarm; a crash between a recovery and its
//! "Resolvido" neither loses nor repeats it.

use std::time::{Duration, Instant};

use sentinela_engine::events::EngineEvent;
use sentinela_engine::incident::{IncidentEventKind, IncidentState, MessagePurpose, ResolveVia};
use sentinela_engine::journal::{CallOutcome, CallState, DeliveryState};
use sentinela_engine::runner::RunningEngine;
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::headless::{self, text};
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, C2, WA1, WA2};
use sentinela_tests::scenario::{fast, Scenario};
use sentinela_tests::twilio_fake::{CallScript, Fault, TwilioFake, AUTH_TOKEN};
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;
use tempfile::TempDir;
use tokio::sync::broadcast;

async fn setup() -> Scenario {
    let mut s = Scenario::new(&[WA1, WA2], &[C1, C2], 2).await;
    // The families' own subjects: every one of them has an "e".
    s.config.filter.subject = "e".into();
    s
}

async fn start(s: &Scenario) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    s.start_fast().await
}

async fn start_in(
    s: &Scenario,
    data: &std::path::Path,
) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    s.start_in(data, AUTH_TOKEN, fast()).await
}

async fn incident_event(
    rx: &mut broadcast::Receiver<EngineEvent>,
    what: &str,
    kind: IncidentEventKind,
) -> i64 {
    sentinela_tests::next_event(rx, what, |e| match e {
        EngineEvent::Incident(c) if c.kind == kind => Some(c.incident.id),
        _ => None,
    })
    .await
}

/// How many messages of each purpose went to `number`, by their first line.
fn told(fake: &TwilioFake, number: &str, mark: &str) -> usize {
    fake.bodies_to(number).iter().filter(|b| b.starts_with(mark)).count()
}

#[tokio::test]
async fn each_familys_alarm_repeats_and_recovery_are_one_incident_ended_by_the_recovery() {
    let s = setup().await;
    // Calls ring long: the recovery arrives while one is ringing.
    s.fake.set_no_answer_ms(20_000);
    let families: &[(&str, [&str; 4])] = &[
        (
            "ServSensor/AKCP",
            [
                "Temperatura Rack-A High Critical 33.5 C",
                "Temperatura Rack-A High Critical 34.1 C",
                "Temperatura Rack-A High Critical 34.8 C",
                "Temperatura Rack-A Normal 24.0 C",
            ],
        ),
        (
            "Zabbix",
            [
                "Problem: High CPU utilization on web-01",
                "Problem: High CPU utilization on web-01",
                "Problem: High CPU utilization on web-01",
                "Resolved in 5m 0s: High CPU utilization on web-01",
            ],
        ),
        (
            "Nagios",
            [
                "** PROBLEM Service Alert: srv-db/Disk Space is CRITICAL **",
                "** PROBLEM Service Alert: srv-db/Disk Space is WARNING **",
                "** PROBLEM Service Alert: srv-db/Disk Space is CRITICAL **",
                "** RECOVERY Service Alert: srv-db/Disk Space is OK **",
            ],
        ),
        (
            "PRTG",
            [
                "[PRTG Network Monitor] Switch-01 Ping Down (Request timed out)",
                "[PRTG Network Monitor] Switch-01 Ping Down ESCALATION",
                "[PRTG Network Monitor] Switch-01 Ping Down (Request timed out)",
                "[PRTG Network Monitor] Switch-01 Ping Up (OK)",
            ],
        ),
        (
            "APC",
            [
                "APC UPS Sala 1: On battery power in response to an input power problem.",
                "APC UPS Sala 1: On battery power in response to an input power problem.",
                "APC UPS Sala 1: On battery power in response to an input power problem.",
                "APC UPS Sala 1: No longer on battery power.",
            ],
        ),
        (
            "HWg",
            [
                "HWg-STE: Sensor Temperatura 1 ALARM START 33.5 C",
                "HWg-STE: Sensor Temperatura 1 ALARM START 35.0 C",
                "HWg-STE: Sensor Temperatura 1 ALARM START 36.0 C",
                "HWg-STE: Sensor Temperatura 1 ALARM END 24.2 C",
            ],
        ),
        (
            "Português",
            [
                "ALERTA: Temperatura crítica na Sala 2 — 31 °C",
                "ALERTA: Temperatura crítica na Sala 2 — 32 °C",
                "ALERTA: Temperatura crítica na Sala 2 — 33 °C",
                "Temperatura na Sala 2 retornou ao normal",
            ],
        ),
    ];
    for (n, (family, [alarm, repeat1, repeat2, recovery])) in families.iter().enumerate() {
        // A journal of its own per family: seven incidents in a minute would reach the flood limit.
        let data = TempDir::new().unwrap();
        let (engine, mut rx) = start_in(&s, data.path()).await;
        s.server.append("INBOX", &plain(SENSOR, alarm, "leitura do sensor")).await;
        let id = incident_event(&mut rx, family, IncidentEventKind::Opened).await;
        // The first call of this incident is ringing before the repeats and the recovery.
        wait_for(&format!("{family}: a call ringing"), WAIT, || async {
            let calls = engine.journal.calls_of(id).await.unwrap();
            calls.iter().any(|c| c.state == CallState::Ringing).then_some(())
        })
        .await;
        s.server.append("INBOX", &plain(SENSOR, repeat1, "leitura do sensor")).await;
        s.server.append("INBOX", &plain(SENSOR, repeat2, "leitura do sensor")).await;
        wait_for(&format!("{family}: the repeats counted"), WAIT, || async {
            (engine.journal.incident(id).await.unwrap()?.emails == 3).then_some(())
        })
        .await;
        s.server.append("INBOX", &plain(SENSOR, recovery, "leitura do sensor")).await;
        assert_eq!(
            incident_event(&mut rx, family, IncidentEventKind::Recovered).await,
            id,
            "{family}: the recovery ends the same incident"
        );

        let i = engine.journal.incident(id).await.unwrap().unwrap();
        assert_eq!(
            (i.state, i.resolved_via, i.emails),
            (IncidentState::Resolved, Some(ResolveVia::Recovery), 4),
            "{family}"
        );
        let calls = wait_for(&format!("{family}: the ringing call cancelled"), WAIT, || async {
            let calls = engine.journal.calls_of(id).await.unwrap();
            calls.iter().all(|c| c.outcome.is_some()).then_some(calls)
        })
        .await;
        assert_eq!(calls.len(), 1, "{family}: no call after the recovery: {calls:?}");
        assert_eq!(calls[0].outcome, Some(CallOutcome::Canceled), "{family}");
        for to in [WA1, WA2] {
            wait_for(&format!("{family}: Resolvido to {to}"), WAIT, || async {
                (told(&s.fake, to, "✅ Resolvido") == n + 1).then_some(())
            })
            .await;
            assert_eq!(
                told(&s.fake, to, "🚨"),
                n + 1,
                "{family}: one alarm message per incident, none per repeat"
            );
        }
        engine.stop(WAIT).await;
    }
    assert_eq!(
        s.fake.called_numbers().len(),
        families.len(),
        "one call per incident, each cancelled by its recovery"
    );
    assert!(s.fake.canceled(C1));
}

#[tokio::test]
async fn a_recovery_with_no_open_incident_notifies_nobody() {
    let s = setup().await;
    let (engine, _rx) = start(&s).await;
    s.server.append("INBOX", &plain(SENSOR, "Temperatura Rack-C Normal 22.0 C", "ok")).await;
    let alert = wait_for("the recovery journaled", WAIT, || async {
        engine.journal.alerts(1).await.unwrap().pop()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((alert.kind.map(|k| k.as_str()), alert.incident_id), (Some("recovery"), None));
    assert!(engine.journal.incidents(10, None, false).await.unwrap().is_empty());
    assert!(
        s.fake.creations("Messages").is_empty() && s.fake.creations("Calls").is_empty(),
        "nobody was told of a recovery of nothing"
    );
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn flapping_reopens_the_incident_within_the_window_and_opens_a_new_one_beyond_it() {
    let mut s = setup().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let (engine, mut rx) = start(&s).await;
    s.server.append("INBOX", &plain(SENSOR, "Problem: Link down on sw-01", "x")).await;
    let id = incident_event(&mut rx, "opened", IncidentEventKind::Acknowledged).await;
    s.server.append("INBOX", &plain(SENSOR, "Resolved: Link down on sw-01", "x")).await;
    incident_event(&mut rx, "recovered", IncidentEventKind::Recovered).await;
    s.server.append("INBOX", &plain(SENSOR, "Problem: Link down on sw-01", "again")).await;
    assert_eq!(
        incident_event(&mut rx, "reopened", IncidentEventKind::Reopened).await,
        id,
        "the same incident"
    );
    let i = engine.journal.incident(id).await.unwrap().unwrap();
    assert_eq!(i.state, IncidentState::Acknowledged, "it had been taken: it stays taken");
    for to in [WA1, WA2] {
        wait_for("the came-back message", WAIT, || async {
            (told(&s.fake, to, "⚠️ Voltou a alarmar") == 1).then_some(())
        })
        .await;
    }
    assert_eq!(s.fake.called_numbers(), [C1], "no new calls for an incident someone took");
    engine.stop(WAIT).await;

    // Beyond the window (0: never reopen) the same problem is a new incident.
    s.config.incidents.reopen_within_mins = 0;
    let (engine, mut rx) = start(&s).await;
    s.server.append("INBOX", &plain(SENSOR, "Resolved: Link down on sw-01", "x")).await;
    incident_event(&mut rx, "recovered", IncidentEventKind::Recovered).await;
    s.server.append("INBOX", &plain(SENSOR, "Problem: Link down on sw-01", "once more")).await;
    let new = incident_event(&mut rx, "opened again", IncidentEventKind::Opened).await;
    assert_ne!(new, id);
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn an_ack_typed_in_the_cli_stops_a_running_engines_calls_within_two_seconds() {
    let s = setup().await;
    s.fake.set_no_answer_ms(20_000);
    let (engine, mut rx) = start(&s).await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA Umidade Sala 3 alta 90%", "x")).await;
    let id = incident_event(&mut rx, "opened", IncidentEventKind::Opened).await;
    wait_for("a call ringing", WAIT, || async {
        engine
            .journal
            .calls_of(id)
            .await
            .unwrap()
            .iter()
            .any(|c| c.state == CallState::Ringing)
            .then_some(())
    })
    .await;
    let out = headless::command()
        .args(["ack", &id.to_string(), "--by", "Ana", "--data-dir"])
        .arg(s.data.path())
        .output()
        .unwrap();
    let acked_at = Instant::now();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("Incident #{id} acknowledged")));
    wait_for("the ringing call cancelled", Duration::from_secs(2), || async {
        s.fake.canceled(C1).then_some(())
    })
    .await;
    let took = acked_at.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.fake.called_numbers(), [C1], "no call after the acknowledgement");

    let again = headless::command()
        .args(["ack", &id.to_string(), "--data-dir"])
        .arg(s.data.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let listed = headless::command()
        .args(["incidents", "--json", "--data-dir"])
        .arg(s.data.path())
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let i = &list[0];
    assert_eq!(i["id"], id);
    assert_eq!(i["state"], "acknowledged");
    assert_eq!(i["acknowledged_by"], "Ana");
    assert_eq!(i["acknowledged_via"], "cli");
    assert_eq!(i["emails"], 1);
    assert_eq!(i["test"], false);
    assert!(i["resolved_at"].is_null() && i["resolved_via"].is_null());
    for field in ["first_seen", "last_seen"] {
        assert!(
            chrono::DateTime::parse_from_rfc3339(i[field].as_str().unwrap()).is_ok(),
            "{field} is RFC 3339"
        );
    }
    let history = headless::command()
        .args(["history", "--json", "--data-dir"])
        .arg(s.data.path())
        .output()
        .unwrap();
    let alerts: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        (&alerts[0]["incident_id"], &alerts[0]["kind"]),
        (&serde_json::json!(id), &serde_json::json!("alarm"))
    );

    let resolved = headless::command()
        .args(["resolve", &id.to_string(), "--data-dir"])
        .arg(s.data.path())
        .output()
        .unwrap();
    assert!(resolved.status.success(), "{}", text(&resolved));
    wait_for("the resolve seen by the engine", WAIT, || async {
        let i = engine.journal.incident(id).await.unwrap()?;
        (i.state == IncidentState::Resolved && i.resolved_via == Some(ResolveVia::Cli))
            .then_some(())
    })
    .await;
    for to in [WA1, WA2] {
        wait_for("Resolvido after the CLI resolve", WAIT, || async {
            (told(&s.fake, to, "✅ Resolvido") == 1).then_some(())
        })
        .await;
    }
    engine.stop(WAIT).await;

    // The whole history searched from the CLI, accents ignored, with days and state.
    let search = |args: &[&str]| {
        let out = headless::command()
            .args(["incidents", "--json", "--data-dir"])
            .arg(s.data.path())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list.as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect::<Vec<_>>()
    };
    let today = chrono::Local::now().format("%d/%m/%Y").to_string();
    assert_eq!(search(&["--search", "umidade sála"]), [id]);
    assert_eq!(
        search(&["--search", "ana", "--resolved", "--since", &today, "--until", &today]),
        [id],
        "who took it, resolved, today"
    );
    assert!(search(&["--search", "umidade", "--open"]).is_empty());
    assert!(search(&["--search", "temperatura"]).is_empty());
    let bad = headless::command()
        .args(["incidents", "--since", "31/02/2026", "--data-dir"])
        .arg(s.data.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("--since") && text(&bad).contains("28/11/2026"), "{}", text(&bad));
}

#[tokio::test]
async fn a_flood_is_bounded_per_person_and_a_new_alarm_is_spoken_in_the_next_call() {
    let s = setup().await;
    let (engine, mut rx) = start(&s).await;
    let mut client = s.server.client().await;
    for n in 0..500 {
        client
            .append(
                "INBOX",
                None,
                None,
                plain(SENSOR, &format!("ALERTA Sonda {n} fora do ar"), "x"),
            )
            .await
            .unwrap();
    }
    wait_for("500 incidents", Duration::from_secs(60), || async {
        (engine.journal.incidents(1000, None, false).await.unwrap().len() == 500).then_some(())
    })
    .await;
    // The queue keeps calling about the flood; a new alarm goes into the very next call.
    client
        .append("INBOX", None, None, plain(SENSOR, "ALERTA Fumaça na Sala 9", "detector 2"))
        .await
        .unwrap();
    let (new, last_before) = wait_for("the new alarm owed calls", WAIT, || async {
        let i = engine.journal.incidents(1, None, false).await.unwrap().pop()?;
        let owed = i.title.contains("Fumaça")
            && i.escalation != sentinela_engine::incident::EscalationState::None;
        let last = engine.journal.last_call().await.unwrap().map(|c| c.id).unwrap_or(0);
        owed.then_some((i.id, last))
    })
    .await;
    let first = wait_for("a call that speaks the new alarm", WAIT, || async {
        engine.journal.calls_of(new).await.unwrap().into_iter().next()
    })
    .await;
    // The next call speaks it; one more only if the queue had read the open incidents in the
    // instant between the planning and our look.
    assert!(
        first.id <= last_before + 2,
        "spoken in call {} while the last call before it was {last_before}",
        first.id
    );
    assert_eq!(first.incidents[0], new, "newest first");
    let _ = &mut rx;
    // The intent is journaled before the request leaves: wait for Twilio to have it.
    let twiml = wait_for("the call's request", WAIT, || async {
        s.fake
            .creations("Calls")
            .into_iter()
            .find_map(|c| c.param("Twiml").filter(|t| t.contains("Fumaça")).map(str::to_owned))
    })
    .await;
    assert!(twiml.contains("501 alertas abertos. Alerta 1: ALERTA Fumaça na Sala 9"), "{twiml}");
    assert!(twiml.contains("E mais 498 alertas"), "{twiml}");
    assert!(twiml.chars().count() <= 4000);
    for to in [WA1, WA2] {
        let alarms = told(&s.fake, to, "🚨");
        assert_eq!(
            alarms, 5,
            "{to}: at most 5 alarm messages in 10 minutes, the rest wait for the digest"
        );
    }
    let gathered = engine.journal.incidents(1, None, false).await.unwrap()[0].id;
    let d = engine.journal.deliveries_of(gathered).await.unwrap();
    assert!(
        d.iter().all(|d| d.purpose == MessagePurpose::Alarm && d.state == DeliveryState::Gathered),
        "{d:?}"
    );
    engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_crash_between_a_recovery_and_its_resolvido_neither_loses_nor_repeats_it() {
    let s = setup().await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 100, talk_ms: 100 });
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sentinela.toml");
    s.config.save(&path).unwrap();
    let data = dir.path().join("data");
    let run =
        |n: u32| headless::spawn_notifying(&path, &data, &dir.path().join(format!("run{n}.log")));
    let mut first = run(1);
    s.server.append("INBOX", &plain(SENSOR, "Temperatura Rack-D High Critical 35 C", "x")).await;
    let journal = headless::taken_by_call(&data, WAIT).await;
    wait_for("both told of the alarm and of who took it", WAIT, || async {
        [WA1, WA2]
            .iter()
            .all(|to| told(&s.fake, to, "🚨") == 1 && told(&s.fake, to, "👍") == 1)
            .then_some(())
    })
    .await;
    let posts_before = s.fake.creations("Messages").len();
    // The first Resolvido request fails (Twilio 500): the engine will retry after 30 s. It is
    // killed meanwhile, with the message owed and its request's answer lost.
    s.fake
        .fault_next("Messages.json", Fault::Error { status: 500, code: 20500, retry_after: None });
    s.server.append("INBOX", &plain(SENSOR, "Temperatura Rack-D Normal 24 C", "x")).await;
    wait_for("the Resolvido attempted", WAIT, || async {
        (s.fake.creations("Messages").len() > posts_before).then_some(())
    })
    .await;
    first.kill().await.unwrap();
    first.wait().await.unwrap();
    let i = journal.incidents(1, None, false).await.unwrap().remove(0);
    assert_eq!(i.state, IncidentState::Resolved);

    let mut second = run(2);
    for to in [WA1, WA2] {
        wait_for("Resolvido after the restart", WAIT, || async {
            (told(&s.fake, to, "✅ Resolvido") == 1).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.kill().await.unwrap();
    for to in [WA1, WA2] {
        assert_eq!(told(&s.fake, to, "✅ Resolvido"), 1, "{to}: exactly one Resolvido");
        assert_eq!(told(&s.fake, to, "🚨"), 1, "{to}: the alarm was not sent again");
    }
    assert_eq!(s.fake.called_numbers(), [C1]);
}

/// `[history] keep_days`: a running engine empties the texts of what was resolved before the
/// kept days — at start, without waiting for the next pass — and keeps the incident, its
/// subjects and its timeline.
#[tokio::test]
async fn keep_days_empties_the_texts_of_long_resolved_incidents_and_keeps_the_incident() {
    let mut s = setup().await;
    let data = TempDir::new().unwrap();
    let (engine, mut rx) = start_in(&s, data.path()).await;
    s.server
        .append("INBOX", &plain(SENSOR, "Problem: Link down on sw-09", "porta 12 sem sinal"))
        .await;
    let id = incident_event(&mut rx, "opened", IncidentEventKind::Opened).await;
    s.server
        .append("INBOX", &plain(SENSOR, "Resolved: Link down on sw-09", "porta 12 de volta"))
        .await;
    incident_event(&mut rx, "recovered", IncidentEventKind::Recovered).await;
    engine.stop(WAIT).await;
    // As if it had happened 400 days ago.
    let db = rusqlite::Connection::open(data.path().join(sentinela_engine::journal::JOURNAL_FILE))
        .unwrap();
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(400))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    db.execute(
        "UPDATE incidents SET first_seen = ?2, resolved_at = ?2 WHERE id = ?1",
        rusqlite::params![id, long_ago],
    )
    .unwrap();
    drop(db);

    s.config.history.keep_days = 365;
    let (engine, _rx) = start_in(&s, data.path()).await;
    let detail = wait_for("the old texts emptied", WAIT, || async {
        let d = engine.journal.incident_detail(id).await.unwrap().unwrap();
        d.emails.iter().all(|e| e.body.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(
        detail.emails.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(),
        ["Problem: Link down on sw-09", "Resolved: Link down on sw-09"]
    );
    assert!(
        !detail.whatsapp.is_empty()
            && detail.whatsapp.iter().all(|d| d.detail.is_empty() && !d.headline.is_empty()),
        "{:?}",
        detail.whatsapp
    );
    assert!(detail.log.len() >= 2, "the timeline stays: {:?}", detail.log);
    engine.stop(WAIT).await;
}
