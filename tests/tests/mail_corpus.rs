//! The fixture corpus: e-mails shaped like what sensors, UPS cards, Zabbix, Nagios and PRTG
//! send, each with the text an operator must get out of it (`*.expected.json` beside it).
//! Parsed directly, and end to end through Dovecot and the watcher.

use std::path::PathBuf;
use std::time::Duration;

use sentinela_engine::config::Security;
use sentinela_engine::events::EventBus;
use sentinela_engine::mail::parse_alert_mail;
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_tests::dovecot::Dovecot;
use sentinela_tests::{fixtures_dir, wait_for};
use serde_json::Value;

struct Fixture {
    name: String,
    raw: Vec<u8>,
    expected: Value,
}

fn corpus() -> Vec<Fixture> {
    let dir = fixtures_dir().join("mail");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| Fixture {
            name: p.file_stem().unwrap().to_string_lossy().into_owned(),
            raw: std::fs::read(&p).unwrap(),
            expected: serde_json::from_str(
                &std::fs::read_to_string(p.with_extension("expected.json")).unwrap(),
            )
            .unwrap(),
        })
        .collect()
}

/// Checks one parsed text against the fixture's expectations.
fn check_text(name: &str, field: &str, actual: &str, expected: &Value) {
    if let Some(exact) = expected.get(field).and_then(Value::as_str) {
        assert_eq!(actual, exact, "{name}: {field}");
    }
    if let Some(part) = expected.get(format!("{field}_contains")) {
        let parts: Vec<&str> = match part {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap()).collect(),
            _ => panic!("{name}: bad {field}_contains"),
        };
        for p in parts {
            assert!(actual.contains(p), "{name}: {field} should contain {p:?}, got:\n{actual}");
        }
    }
    for p in
        expected.get(format!("{field}_excludes")).and_then(Value::as_array).into_iter().flatten()
    {
        let p = p.as_str().unwrap();
        assert!(!actual.contains(p), "{name}: {field} must not contain {p:?}, got:\n{actual}");
    }
}

#[test]
fn the_corpus_has_at_least_15_emails() {
    assert!(corpus().len() >= 15);
}

#[test]
fn every_fixture_parses_to_its_expected_text() {
    for f in corpus() {
        let m = parse_alert_mail(&f.raw, false);
        check_text(&f.name, "subject", &m.subject, &f.expected);
        check_text(&f.name, "body", &m.body, &f.expected);
        assert_eq!(m.sender, f.expected["sender"].as_str().unwrap(), "{}: sender", f.name);
        assert_eq!(
            m.message_id.as_deref(),
            f.expected["message_id"].as_str(),
            "{}: message_id",
            f.name
        );
        assert_eq!(
            m.sent_at.map(|t| t.to_rfc3339()).as_deref(),
            f.expected["sent_at"].as_str(),
            "{}: sent_at",
            f.name
        );
        assert!(!m.truncated, "{}", f.name);
    }
}

#[tokio::test]
async fn the_corpus_goes_through_dovecot_and_the_watcher_intact() {
    let server = Dovecot::start();
    let data = tempfile::tempdir().unwrap();
    let mut config = server.config(Security::Tls);
    // Every fixture comes from cpd.example.com.br or a host under it, with ALERTA in its subject.
    config.filter.from = vec!["@.cpd.example.com.br".into()];
    let fixtures = corpus();
    let mut uid_to_fixture = std::collections::HashMap::new();
    for f in &fixtures {
        uid_to_fixture.insert(server.append("INBOX", &f.raw).await, f);
    }
    let engine = RunningEngine::start(
        &config,
        EngineSecrets {
            mailbox: Dovecot::password().into(),
            twilio_token: None,
            journal_password: None,
        },
        data.path(),
        EventBus::default(),
    )
    .await
    .unwrap();
    let journal = engine.journal.clone();
    wait_for("the whole corpus journaled", Duration::from_secs(15), || {
        let j = journal.clone();
        let n = fixtures.len() as u64;
        async move { (j.alert_count().await.unwrap() == n).then_some(()) }
    })
    .await;
    for a in journal.alerts(100).await.unwrap() {
        let f = uid_to_fixture[&a.origin.uid];
        check_text(&f.name, "subject", &a.subject, &f.expected);
        check_text(&f.name, "body", &a.body, &f.expected);
        // Without a Date header the server's INTERNALDATE (now-ish) stands in.
        if f.expected["sent_at"].is_null() {
            assert!((chrono::Utc::now() - a.received_at).num_minutes().abs() < 5, "{}", f.name);
        }
    }
    engine.stop(Duration::from_secs(10)).await;
}
