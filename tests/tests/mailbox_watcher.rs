//! The mailbox watcher against a real Dovecot: matching, IDLE push, TLS modes, failures,
//! reconnection, and idempotent journaling.

use std::time::Duration;

use sentinela_engine::config::{Config, Security};
use sentinela_engine::events::{EngineEvent, EventBus, MailboxProblem, MailboxState};
use sentinela_engine::health::WatchAlarm;
use sentinela_engine::imap::{probe, MailboxError};
use sentinela_engine::journal::AlertJournal;
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_engine::secrets::Secret;
use sentinela_tests::dovecot::{Dovecot, READ_ONLY_FOLDER, SENSOR};
use sentinela_tests::imap_proxy::ImapProxy;
use sentinela_tests::mail::{plain, with_message_id};
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;
use tempfile::TempDir;
use tokio::sync::broadcast;

struct Harness {
    engine: RunningEngine,
    events: broadcast::Receiver<EngineEvent>,
}

async fn start(config: &Config, data: &TempDir) -> Harness {
    start_with_password(config, data, Dovecot::password()).await
}

async fn start_with_password(config: &Config, data: &TempDir, password: Secret) -> Harness {
    let bus = EventBus::default();
    let events = bus.subscribe();
    let engine = RunningEngine::start(
        config,
        EngineSecrets { mailbox: password.into(), twilio_token: None, journal_password: None },
        data.path(),
        bus,
    )
    .await
    .expect("engine starts");
    Harness { engine, events }
}

impl Harness {
    /// Waits for an event matching `pick`.
    async fn event<T>(&mut self, what: &str, pick: impl FnMut(&EngineEvent) -> Option<T>) -> T {
        sentinela_tests::next_event(&mut self.events, what, pick).await
    }

    async fn watching(&mut self) -> bool {
        self.event("watching", |e| match e {
            EngineEvent::Mailbox(MailboxState::Watching { idle }) => Some(*idle),
            _ => None,
        })
        .await
    }

    async fn alerts_count(&self, n: u64) {
        let j = self.engine.journal.clone();
        wait_for(&format!("{n} alerts journaled"), WAIT, || {
            let j = j.clone();
            async move { (j.alert_count().await.unwrap() >= n).then_some(()) }
        })
        .await;
    }
}

#[tokio::test]
async fn matching_mail_is_journaled_and_marked_seen_while_others_stay_unseen() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let wrong_sender =
        server.append("INBOX", &plain("other@example.com", "ALERTA temperatura", "x")).await;
    let wrong_subject =
        server.append("INBOX", &plain(SENSOR, "Relatório diário", "tudo bem")).await;
    let alert =
        server.append("INBOX", &plain(SENSOR, "ALERTA: Temperatura alta", "Sala 1: 31,5 °C")).await;

    let mut h = start(&server.config(Security::Tls), &data).await;
    assert!(h.watching().await, "Dovecot offers IDLE");
    h.alerts_count(1).await;

    let alerts = h.engine.journal.alerts(10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].subject, "ALERTA: Temperatura alta");
    assert_eq!(alerts[0].body, "Sala 1: 31,5 °C");
    assert_eq!(alerts[0].sender, format!("Sensor CPD <{SENSOR}>"));
    assert_eq!(alerts[0].origin.uid, alert);
    let (seen, unseen) = wait_for("the alert marked seen", WAIT, || async {
        let s = server.seen_state("INBOX").await;
        (s.0 == vec![alert]).then_some(s)
    })
    .await;
    assert_eq!(seen, vec![alert]);
    assert_eq!(unseen, vec![wrong_sender, wrong_subject], "non-matching mail is never touched");
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn idle_push_delivers_new_mail_without_waiting_for_the_rescan() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let mut config = server.config(Security::Tls);
    // The safety re-scan is far away: only IDLE can deliver within the test's wait.
    config.mailbox.rescan_secs = 1200;
    let mut h = start(&config, &data).await;
    assert!(h.watching().await);
    h.event("first scan", |e| matches!(e, EngineEvent::Checked { .. }).then_some(())).await;
    // Let the watcher settle into IDLE before the mail arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let uid = server.append("INBOX", &plain(SENSOR, "ALERTA umidade", "Umidade 85%")).await;
    let notice = h
        .event("the pushed alert", |e| match e {
            EngineEvent::AlertRecorded(n) => Some(n.clone()),
            _ => None,
        })
        .await;
    assert_eq!(notice.uid, uid);
    assert_eq!(notice.subject, "ALERTA umidade");
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn starttls_and_implicit_tls_both_work() {
    let server = Dovecot::start();
    for security in [Security::Starttls, Security::Tls] {
        let data = TempDir::new().unwrap();
        let uid =
            server.append("INBOX", &plain(SENSOR, &format!("ALERTA via {security:?}"), "x")).await;
        let mut h = start(&server.config(security), &data).await;
        h.watching().await;
        h.alerts_count(1).await;
        let alerts = h.engine.journal.alerts(10).await.unwrap();
        assert!(alerts.iter().any(|a| a.origin.uid == uid), "{security:?}");
        h.engine.stop(WAIT).await;
    }
    // The probe reports the same through STARTTLS.
    let report =
        probe(&server.config(Security::Starttls), &Dovecot::password().into()).await.unwrap();
    assert!(report.idle);
    assert_eq!(report.matching_unseen, 0, "both alerts were marked seen");
    assert_eq!(report.messages, 2);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let server = Dovecot::start();
    let mut config = server.config(Security::Tls);
    config.mailbox.ca_file = Default::default(); // system roots only: the test CA is unknown
    let err = probe(&config, &Dovecot::password().into()).await.unwrap_err();
    assert!(matches!(err, MailboxError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("ca_file"), "{err}");
}

#[tokio::test]
async fn wrong_password_is_reported_clearly_and_not_retried_fast() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let config = server.config(Security::Tls);

    let err = probe(&config, &Secret::new("wrong").into()).await.unwrap_err();
    assert!(matches!(err, MailboxError::AuthFailed { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("refused the login of alertas@cpd.test"), "{msg}");
    assert!(msg.contains("IMAP password"), "{msg}");
    assert!(!msg.contains("wrong"), "the password never appears in messages: {msg}");

    let mut h = start_with_password(&config, &data, Secret::new("wrong")).await;
    let (kind, retry) = h
        .event("degraded", |e| match e {
            EngineEvent::Mailbox(MailboxState::Degraded { kind, retry_in_secs, .. }) => {
                Some((*kind, *retry_in_secs))
            }
            _ => None,
        })
        .await;
    assert_eq!(kind, MailboxProblem::Auth);
    assert_eq!(retry, 60, "credentials problems wait the longest backoff");
    let alarm = h
        .event("the alarm", |e| match e {
            EngineEvent::WatchAlarm(a) => Some(a.clone()),
            _ => None,
        })
        .await;
    assert!(
        matches!(&alarm, WatchAlarm::CredentialsRefused { reason } if reason.contains("refused the login")),
        "{alarm:?}"
    );
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn server_killed_mid_idle_then_restarted_mail_from_the_outage_is_picked_up() {
    let mut server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let mut config = server.config(Security::Tls);
    config.mailbox.rescan_secs = 1200;
    let mut h = start(&config, &data).await;
    h.watching().await;
    server.append("INBOX", &plain(SENSOR, "ALERTA antes da queda", "1")).await;
    h.alerts_count(1).await;

    server.kill();
    h.event("degraded after the kill", |e| {
        matches!(e, EngineEvent::Mailbox(MailboxState::Degraded { .. })).then_some(())
    })
    .await;
    // Mail that the MTA delivered while IMAP was down.
    server.deliver_to_maildir(&plain(SENSOR, "ALERTA durante a queda", "2"));
    server.restart();

    h.watching().await;
    h.alerts_count(2).await;
    let subjects: Vec<String> =
        h.engine.journal.alerts(10).await.unwrap().into_iter().map(|a| a.subject).collect();
    assert_eq!(subjects, ["ALERTA durante a queda", "ALERTA antes da queda"]);
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn the_same_email_twice_is_one_alert() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let raw = with_message_id(SENSOR, "ALERTA fumaça", "Detector 3", "dup-1@sensor");
    let a = server.append("INBOX", &raw).await;
    let b = server.append("INBOX", &raw).await;
    let mut config = server.config(Security::Tls);
    config.mailbox.rescan_secs = 2;
    let mut h = start(&config, &data).await;
    h.alerts_count(1).await;
    let (seen, _) = wait_for("both copies marked seen", WAIT, || async {
        let s = server.seen_state("INBOX").await;
        (s.0.len() == 2).then_some(s)
    })
    .await;
    assert_eq!(seen, vec![a, b]);
    // Several re-scans later, still one alert.
    for _ in 0..2 {
        h.event("a re-scan", |e| matches!(e, EngineEvent::Checked { .. }).then_some(())).await;
    }
    assert_eq!(h.engine.journal.alert_count().await.unwrap(), 1);
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn with_mark_seen_off_rescans_and_restarts_do_not_duplicate() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let mut config = server.config(Security::Tls);
    config.mailbox.mark_seen = false;
    config.mailbox.rescan_secs = 2;
    let uid = server.append("INBOX", &plain(SENSOR, "ALERTA água", "Sensor de piso")).await;
    for _ in 0..2 {
        let mut h = start(&config, &data).await;
        h.alerts_count(1).await;
        for _ in 0..2 {
            h.event("a re-scan", |e| matches!(e, EngineEvent::Checked { .. }).then_some(())).await;
        }
        assert_eq!(h.engine.journal.alert_count().await.unwrap(), 1);
        h.engine.stop(WAIT).await;
    }
    assert_eq!(server.seen_state("INBOX").await.1, vec![uid], "left unseen as configured");
}

#[tokio::test]
async fn a_uidvalidity_change_with_the_same_message_id_is_not_a_new_alert() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let mut config = server.config(Security::Tls);
    config.mailbox.folder = "Alertas".into();
    let mut admin = server.client().await;
    admin.create("Alertas").await.unwrap();
    let raw = with_message_id(SENSOR, "ALERTA energia", "UPS em bateria", "ups-1@sensor");
    server.append("Alertas", &raw).await;
    let h = start(&config, &data).await;
    h.alerts_count(1).await;
    h.engine.stop(WAIT).await;

    // The folder is recreated (new UIDVALIDITY) and the same e-mail restored into it, unread.
    let before = admin.select("Alertas").await.unwrap().uid_validity;
    admin.close().await.unwrap();
    admin.delete("Alertas").await.unwrap();
    admin.create("Alertas").await.unwrap();
    server.append("Alertas", &raw).await;
    let after = admin.select("Alertas").await.unwrap().uid_validity;
    assert_ne!(before, after, "the test really changed UIDVALIDITY");

    let journal = AlertJournal::open_in_dir(data.path()).unwrap();
    let mut h = start(&config, &data).await;
    h.event("a scan after the change", |e| matches!(e, EngineEvent::Checked { .. }).then_some(()))
        .await;
    assert_eq!(journal.alert_count().await.unwrap(), 1);
    let events = journal.events_of(journal.alerts(1).await.unwrap()[0].id).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "seen_again"), "{events:?}");
    assert_eq!(
        server.seen_state("Alertas").await.1,
        Vec::<u32>::new(),
        "the restored copy is marked seen"
    );
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn an_engine_restart_loses_nothing_and_duplicates_nothing() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let config = server.config(Security::Tls);
    let h = start(&config, &data).await;
    for i in 0..5 {
        server.append("INBOX", &plain(SENSOR, &format!("ALERTA {i}"), "antes")).await;
    }
    h.alerts_count(5).await;
    h.engine.stop(WAIT).await;
    // While the engine is down, more alerts arrive.
    for i in 5..10 {
        server.append("INBOX", &plain(SENSOR, &format!("ALERTA {i}"), "durante")).await;
    }
    let h = start(&config, &data).await;
    h.alerts_count(10).await;
    let mut subjects: Vec<String> =
        h.engine.journal.alerts(100).await.unwrap().into_iter().map(|a| a.subject).collect();
    subjects.sort();
    let expected: Vec<String> = (0..10).map(|i| format!("ALERTA {i}")).collect();
    assert_eq!(subjects, expected);
    assert_eq!(server.seen_state("INBOX").await.1, Vec::<u32>::new());
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn an_oversized_email_is_capped_and_marked_truncated() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let mut config = server.config(Security::Tls);
    config.mailbox.max_message_bytes = 4096;
    let body = "linha de log do sensor\n".repeat(2000); // ~46 KB
    server.append("INBOX", &plain(SENSOR, "ALERTA grande", &body)).await;
    let h = start(&config, &data).await;
    h.alerts_count(1).await;
    let a = &h.engine.journal.alerts(1).await.unwrap()[0];
    assert!(a.truncated);
    assert!(a.body.starts_with("linha de log do sensor"));
    assert!(a.body.ends_with("[… mensagem truncada]"));
    assert!(a.body.len() < 4096);
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn without_idle_the_mailbox_is_polled_every_rescan_interval() {
    let server = Dovecot::start_without_idle();
    let data = TempDir::new().unwrap();
    let mut config = server.config(Security::Tls);
    config.mailbox.rescan_secs = 2;
    let report = probe(&config, &Dovecot::password().into()).await.unwrap();
    assert!(!report.idle, "the server does not announce IDLE");
    let mut h = start(&config, &data).await;
    assert!(!h.watching().await, "watching by polling");
    h.event("first poll", |e| matches!(e, EngineEvent::Checked { .. }).then_some(())).await;
    let uid = server.append("INBOX", &plain(SENSOR, "ALERTA sem IDLE", "x")).await;
    let notice = h
        .event("the polled alert", |e| match e {
            EngineEvent::AlertRecorded(n) => Some(n.clone()),
            _ => None,
        })
        .await;
    assert_eq!(notice.uid, uid);
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_read_only_folder_is_watched_and_nothing_is_journaled_twice() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    server.deliver_to_folder(
        READ_ONLY_FOLDER,
        [
            plain(SENSOR, "ALERTA 1", "sala 1").as_slice(),
            plain(SENSOR, "ALERTA 2", "sala 2").as_slice(),
        ],
    );
    let mut config = server.config(Security::Tls);
    config.mailbox.folder = READ_ONLY_FOLDER.into();
    let h = start(&config, &data).await;
    h.alerts_count(2).await;
    server.deliver_to_folder(READ_ONLY_FOLDER, [plain(SENSOR, "ALERTA 3", "sala 3").as_slice()]);
    h.alerts_count(3).await;
    let (seen, unseen) = server.seen_state(READ_ONLY_FOLDER).await;
    assert!(
        seen.is_empty() && unseen.len() == 3,
        "the server kept them unread: {seen:?} {unseen:?}"
    );
    // Dovecot answers OK to the STORE it ignores here: the flags read back tell.
    let events = h.engine.journal.engine_events(50).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "mark_seen_refused").count(), 1, "said once");
    h.engine.stop(WAIT).await;

    // The journal, not the flag, says they were handled: a restart finds them unread and known.
    let h = start(&config, &data).await;
    server.deliver_to_folder(READ_ONLY_FOLDER, [plain(SENSOR, "ALERTA 4", "sala 4").as_slice()]);
    h.alerts_count(4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.engine.journal.alert_count().await.unwrap(), 4, "nothing journaled twice");
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn a_server_that_refuses_to_mark_mail_read_cannot_block_the_next_alert() {
    // Dovecot ignores STORE in a read-only folder with an OK; Exchange and others answer NO.
    let server = Dovecot::start();
    let proxy = ImapProxy::start(server.imap_port).await;
    proxy.refuse_store();
    let data = TempDir::new().unwrap();
    server.append("INBOX", &plain(SENSOR, "ALERTA 1", "sala 1")).await;
    let mut config = server.config(Security::Plain);
    config.mailbox.port = Some(proxy.port);
    let h = start(&config, &data).await;
    h.alerts_count(1).await;
    server.append("INBOX", &plain(SENSOR, "ALERTA 2", "sala 2")).await;
    h.alerts_count(2).await;
    server.append("INBOX", &plain(SENSOR, "ALERTA 3", "sala 3")).await;
    h.alerts_count(3).await;
    assert_eq!(server.seen_state("INBOX").await.1.len(), 3, "left unread");
    let events = h.engine.journal.engine_events(50).await.unwrap();
    let refused: Vec<_> = events.iter().filter(|e| e.kind == "mark_seen_refused").collect();
    assert_eq!(refused.len(), 1, "said once, not at every scan: {refused:?}");
    assert!(refused[0].detail.contains("in INBOX"), "{}", refused[0].detail);
    h.engine.stop(WAIT).await;

    // The journal, not the flag, says they were handled: a restart journals nothing twice.
    let h = start(&config, &data).await;
    server.append("INBOX", &plain(SENSOR, "ALERTA 4", "sala 4")).await;
    h.alerts_count(4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.engine.journal.alert_count().await.unwrap(), 4);
    h.engine.stop(WAIT).await;
}

#[tokio::test]
async fn an_email_the_library_cannot_read_is_escalated_as_unreadable_and_the_others_go_on() {
    let server = Dovecot::start();
    let proxy = ImapProxy::start(server.imap_port).await;
    let data = TempDir::new().unwrap();
    let first = server.append("INBOX", &plain(SENSOR, "ALERTA antes", "a")).await;
    let bad = server.append("INBOX", &plain(SENSOR, "ALERTA ilegível", "b")).await;
    let last = server.append("INBOX", &plain(SENSOR, "ALERTA depois", "c")).await;
    proxy.poison(bad);
    let mut config = server.config(Security::Plain);
    config.mailbox.port = Some(proxy.port);
    let h = start(&config, &data).await;
    h.alerts_count(3).await;
    let alerts = h.engine.journal.alerts(10).await.unwrap();
    let by_uid = |uid: u32| {
        alerts
            .iter()
            .find(|a| a.origin.uid == uid)
            .unwrap_or_else(|| panic!("uid {uid} journaled: {alerts:?}"))
    };
    assert_eq!(by_uid(first).subject, "ALERTA antes");
    assert_eq!(by_uid(last).subject, "ALERTA depois");
    let unreadable = by_uid(bad);
    assert_eq!(unreadable.subject, "E-mail ilegível na caixa de alertas");
    assert!(
        unreadable.body.contains(&format!("UID {bad}")) && unreadable.body.contains("3 tentativas"),
        "{}",
        unreadable.body
    );
    assert!(unreadable.incident_id.is_some(), "escalated like any alert");
    assert_eq!(proxy.poisoned_answers(), 3, "tried three times in all, then given up");
    // All three are handled: marked seen (the unreadable one too, so it is not tried forever).
    wait_for("all marked seen", WAIT, || async {
        (server.seen_state("INBOX").await.0.len() == 3).then_some(())
    })
    .await;
    h.engine.stop(WAIT).await;
}
