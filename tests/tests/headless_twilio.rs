//! `sentinela-headless` with Twilio, as a real process: a SIGKILL in the middle of a call queue,
//! the `check` of credentials and senders, and the test message and call commands.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sentinela_engine::config::{CallsConfig, Config, Security, WhatsAppConfig};
use sentinela_engine::incident::{EscalationState, IncidentState};
use sentinela_engine::journal::AlertJournal;
use sentinela_tests::dovecot::{Dovecot, SENSOR};
use sentinela_tests::headless::{self, text};
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, C2, SENDER, WA1, WA2};
use sentinela_tests::twilio_fake::{CallScript, Fault, LostAnswer, TwilioFake, AUTH_TOKEN};
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// How an unnamed number is shown: written the Brazilian way.
fn shown(number: &str) -> String {
    sentinela_engine::phone::display(number)
}

fn config(server: &Dovecot, fake: &TwilioFake) -> Config {
    let mut c = server.config(Security::Tls);
    c.twilio = Some(fake.config());
    c.whatsapp = Some(WhatsAppConfig {
        from: SENDER.into(),
        to: vec![WA1.into(), WA2.into()],
        content_sid: String::new(),
    });
    c.calls =
        Some(CallsConfig { ring_secs: 20, ..sentinela_tests::scenario::calls(SENDER, &[C1, C2]) });
    c
}

fn write(config: &Config, dir: &Path) -> PathBuf {
    let path = dir.join("sentinela.toml");
    config.save(&path).unwrap();
    path
}

fn headless(token: &str) -> Command {
    let mut c = Command::from(headless::command());
    c.env("SENTINELA_TWILIO_AUTH_TOKEN", token).kill_on_drop(true);
    c
}

fn run(config: &Path, data: &Path, log: &Path) -> Child {
    headless::spawn_notifying(config, data, log)
}

#[tokio::test]
async fn sigkill_in_the_middle_of_the_queue_resumes_without_duplicates() {
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    fake.script_call(C1, CallScript::NoAnswer);
    // The second call rings long enough for the kill to land while it is in flight.
    fake.script_call(C2, CallScript::Human { answer_ms: 3000, talk_ms: 500 });
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let path = write(&config(&server, &fake), dir.path());

    let mut first = run(&path, &data, &dir.path().join("run1.log"));
    server.append("INBOX", &plain(SENSOR, "ALERTA queda de energia", "QGBT sem tensão")).await;
    // Kill once the second call's SID is journaled (the crash before it is the next test's).
    wait_for("the second call placed and journaled", WAIT, || async {
        let j = AlertJournal::open_in_dir(&data).ok()?;
        let incident = j.incidents(1, None, false).await.ok()?.pop()?;
        let calls = j.calls_of(incident.id).await.ok()?;
        (calls.len() == 2 && calls[1].sid.is_some()).then_some(())
    })
    .await;
    assert_eq!(fake.called_numbers().len(), 2);
    first.kill().await.unwrap(); // SIGKILL, mid-call
    first.wait().await.unwrap();

    let mut second = run(&path, &data, &dir.path().join("run2.log"));
    let journal = wait_for("the escalation's outcome", WAIT, || async {
        let j = AlertJournal::open_in_dir(&data).ok()?;
        let i = j.incidents(1, None, false).await.ok()?.pop()?;
        (i.escalation == EscalationState::Answered).then_some(j)
    })
    .await;
    second.kill().await.unwrap();

    assert_eq!(
        fake.called_numbers(),
        [C1, C2],
        "the in-flight call was followed, not placed again"
    );
    for to in [WA1, WA2] {
        let alarms = fake.bodies_to(to).into_iter().filter(|b| b.starts_with("🚨")).count();
        assert_eq!(alarms, 1, "{to}: the alarm not sent twice across the kill");
    }
    let incident = journal.incidents(1, None, false).await.unwrap().remove(0);
    assert_eq!(
        (incident.state, incident.acknowledged_by),
        (IncidentState::Acknowledged, Some(shown(C2)))
    );
    let log = std::fs::read_to_string(dir.path().join("run2.log")).unwrap();
    assert!(log.contains("resuming a call placed before the restart"), "{log}");

    let listed =
        headless(AUTH_TOKEN).args(["incidents", "--data-dir"]).arg(&data).output().await.unwrap();
    let out = text(&listed);
    assert!(out.contains(&format!("call 1.2 {C2} answered, answered by human")), "{out}");
    assert!(
        out.contains("acknowledged") && out.contains(&format!("via call by {}", shown(C2))),
        "{out}"
    );
    assert!(out.contains(&format!("WhatsApp alarm {WA1}")), "{out}");
}

#[tokio::test]
async fn sigkill_while_twilio_was_answering_a_create_rings_no_phone_twice() {
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    // Twilio creates the call and the first message, and their answers are still on the way
    // when the process dies: the journal holds intents without SIDs.
    fake.fault_next(
        "POST Calls.json",
        Fault::AfterCreate(LostAnswer::Stall(Duration::from_secs(60))),
    );
    fake.fault_next(
        "POST Messages.json",
        Fault::AfterCreate(LostAnswer::Stall(Duration::from_secs(60))),
    );
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let path = write(&config(&server, &fake), dir.path());

    let mut first = run(&path, &data, &dir.path().join("run1.log"));
    server.append("INBOX", &plain(SENSOR, "ALERTA incêndio", "detector 3")).await;
    wait_for("the call and both messages created at Twilio", WAIT, || async {
        (fake.called_numbers().len() == 1 && fake.messaged_numbers().len() == 2).then_some(())
    })
    .await;
    let j = AlertJournal::open_in_dir(&data).unwrap();
    let incident = j.incidents(1, None, false).await.unwrap().remove(0);
    assert!(
        j.calls_of(incident.id).await.unwrap().iter().all(|c| c.sid.is_none()),
        "killed inside the window"
    );
    first.kill().await.unwrap();
    first.wait().await.unwrap();

    let mut second = run(&path, &data, &dir.path().join("run2.log"));
    wait_for("the escalation's outcome", WAIT, || async {
        let i = j.incidents(1, None, false).await.ok()?.pop()?;
        let sent = j.deliveries_of(i.id).await.ok()?.iter().all(|d| d.sid.is_some());
        (i.escalation == EscalationState::Answered && sent).then_some(())
    })
    .await;
    second.kill().await.unwrap();
    assert_eq!(
        fake.called_numbers(),
        [C1],
        "the call Twilio made was found and followed, not placed again"
    );
    for to in [WA1, WA2] {
        let alarms = fake.bodies_to(to).into_iter().filter(|b| b.starts_with("🚨")).count();
        assert_eq!(alarms, 1, "{to}: one alarm across the kill");
    }
    let log = std::fs::read_to_string(dir.path().join("run2.log")).unwrap();
    assert!(log.contains("adopted, not created again"), "{log}");
}

#[tokio::test]
async fn no_log_level_prints_a_secret_or_a_whole_email() {
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 200 });
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let mut settings = config(&server, &fake);
    settings.mailbox = server.config(headless::security_for_large_answers()).mailbox;
    let path = write(&settings, dir.path());
    let log = dir.path().join("trace.log");
    let mut c = Command::from(headless::run_command(&path, &data, &log));
    // Everything, the wire libraries included, as a curious administrator would ask.
    c.env("SENTINELA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env(
            "SENTINELA_LOG",
            "trace,async_imap=trace,imap_proto=trace,reqwest=trace,hyper=trace,hyper_util=trace",
        )
        .kill_on_drop(true);
    let mut child = c.spawn().unwrap();
    let marker = "LINHA-DO-CORPO-QUE-NAO-VAI-PARA-O-LOG";
    let body = format!("Sala 9: 44 °C\n{}\n{marker}", "leitura anterior\n".repeat(40));
    server.append("INBOX", &plain(SENSOR, "ALERTA rastreio", &body)).await;
    wait_for("the escalation's outcome", WAIT, || async {
        let j = AlertJournal::open_in_dir(&data).ok()?;
        let i = j.incidents(1, None, false).await.ok()?.pop()?;
        (i.escalation == EscalationState::Answered).then_some(())
    })
    .await;
    child.kill().await.unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "the log is verbose: {} bytes",
        text.len()
    );
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{AUTH_TOKEN}", sentinela_tests::twilio_fake::ACCOUNT_SID))
    };
    for (secret, what) in [
        (sentinela_tests::dovecot::PASSWORD, "the IMAP password"),
        (AUTH_TOKEN, "the Twilio token"),
        (basic.as_str(), "the Basic auth header"),
        (marker, "the whole e-mail"),
    ] {
        assert!(!text.contains(secret), "{what} is in the trace log");
    }
}

#[tokio::test]
async fn check_verifies_twilio_credentials_and_senders() {
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    let dir = TempDir::new().unwrap();
    let path = write(&config(&server, &fake), dir.path());

    // The caller ID is not one of the account's numbers yet.
    let o = headless(AUTH_TOKEN).arg("check").arg("--config").arg(&path).output().await.unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("credentials accepted"), "{out}");
    assert!(
        out.contains("calls.from +14155238886 is neither a number nor a verified caller ID"),
        "{out}"
    );
    assert!(out.contains("Twilio's sandbox"), "{out}");

    fake.own_number(SENDER);
    let o = headless(AUTH_TOKEN).arg("check").arg("--config").arg(&path).output().await.unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Call queue: +5511988880001 → +5511988880002"), "{out}");

    let o =
        headless("not-the-token").arg("check").arg("--config").arg(&path).output().await.unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("HTTP 401, error 20003"), "{out}");
    assert!(!out.contains("not-the-token"), "{out}");
}

#[tokio::test]
async fn test_message_and_test_call_commands() {
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 200 });
    fake.script_call(C2, CallScript::Voicemail { answer_ms: 200 });
    let dir = TempDir::new().unwrap();
    let path = write(&config(&server, &fake), dir.path());

    let o = headless(AUTH_TOKEN)
        .args(["test-whatsapp", "--to", "(11) 99999-0001", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let sent = fake.creations("Messages");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("To"), Some("whatsapp:+5511999990001"));
    assert!(sent[0].param("Body").unwrap().starts_with("[TESTE]"));

    let o = headless(AUTH_TOKEN)
        .args(["test-call", "--to", "11 98888 0001", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Outcome: answered"), "{out}");
    assert!(fake.creations("Calls")[0].param("Twiml").unwrap().contains("chamada de teste"));

    let o = headless(AUTH_TOKEN)
        .args(["test-call", "--to", C2, "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("not answered by a person (machine)"), "{out}");

    let o = headless(AUTH_TOKEN)
        .args(["test-call", "--to", "123", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--to: \"123\" is not a valid phone number"), "{}", text(&o));
}

/// With `[calls] keypress` the test call goes through Sentinela's Studio flow, as the queue's
/// calls do: the way for an admin to see that the account accepts it and that 1 is heard.
#[tokio::test]
async fn the_test_call_asks_for_the_key_when_the_calls_do() {
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 2500 });
    fake.script_key(C1, "1", 300);
    fake.script_call(C2, CallScript::Human { answer_ms: 200, talk_ms: 1200 });
    let mut c = config(&server, &fake);
    c.calls.as_mut().unwrap().keypress = true;
    let dir = TempDir::new().unwrap();
    let path = write(&c, dir.path());

    let o = headless(AUTH_TOKEN)
        .args(["test-call", "--to", C1, "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("tecla 1") && out.contains("Outcome: answered"), "{out}");
    let executions = fake.executions();
    assert_eq!(executions.len(), 1);
    assert!(
        executions[0].1["texto"].as_str().unwrap().contains("chamada de teste"),
        "{executions:?}"
    );
    assert!(fake.creations("Calls").is_empty(), "no plain call");

    // Answered, but nobody pressed 1: the test says so.
    let o = headless(AUTH_TOKEN)
        .args(["test-call", "--to", C2, "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("nobody pressed 1 in the test call to +5511988880002 (heard)"), "{out}");
}
