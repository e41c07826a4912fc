//! Only the sensor can make the phones ring, against the real Dovecot: look-alike senders pass
//! the server's substring search but not the exact check — they are never escalated, stay
//! unread, and are journaled as rejected with their real address; with `authserv_id`, only the
//! receiving server's own topmost verdict counts. `check`'s probe counts what would be rejected.

use std::time::Duration;

use sentinela_engine::config::Security;
use sentinela_engine::events::EventBus;
use sentinela_engine::imap::probe;
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_tests::dovecot::{Dovecot, SENSOR};
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;
use tempfile::TempDir;

fn mail(from: &str, extra_headers: &str, subject: &str) -> Vec<u8> {
    format!("{extra_headers}From: {from}\r\nTo: alertas@cpd.test\r\nSubject: {subject}\r\nMessage-ID: <{}@t>\r\n\r\ncorpo\r\n", fastrand::u64(..)).into_bytes()
}

async fn engine(config: &sentinela_engine::config::Config, data: &TempDir) -> RunningEngine {
    RunningEngine::start(
        config,
        EngineSecrets {
            mailbox: Dovecot::password().into(),
            twilio_token: None,
            journal_password: None,
        },
        data.path(),
        EventBus::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn look_alike_senders_are_rejected_and_journaled_with_their_real_address() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let (local, domain) = SENSOR.split_once('@').unwrap();
    let look_alikes = [
        format!("\"{SENSOR}\" <x@attacker.example>"),
        format!("{SENSOR}.attacker.example"),
        format!("x{SENSOR}"),
        format!("{local}@sub.{domain}"),
        format!("=?utf-8?b?{}?= <x@attacker.example>", base64_encode(SENSOR)),
        format!("{SENSOR}, x@attacker.example"),
        format!("{local}@{}", domain.replacen('e', "\u{0435}", 1)),
        format!("{local}\u{FF20}{domain}"),
        // A phrase and a comment, no address: a lenient parser takes the phrase for it.
        format!("\"{SENSOR}\" (y)"),
        // Words after the address.
        format!("<x@attacker.example> {SENSOR}"),
    ];
    for (i, from) in look_alikes.iter().enumerate() {
        server.append("INBOX", &mail(from, "", &format!("ALERTA falso {i}"))).await;
    }
    // A second From header carrying the real address.
    server
        .append(
            "INBOX",
            &mail(&format!("x@attacker.example\r\nFrom: {SENSOR}"), "", "ALERTA falso dois From"),
        )
        .await;
    let genuine = server
        .append("INBOX", &mail(&format!("Sensor CPD <{SENSOR}>"), "", "ALERTA verdadeiro"))
        .await;

    let config = server.config(Security::Tls);
    let report = probe(&config, &Dovecot::password().into()).await.unwrap();
    // The server's substring search already misses the subdomain and the Cyrillic look-alike;
    // Dovecot's own address parser drops the words after `<x@attacker.example>`, so its
    // search misses that one too; the other eight pass it, as they did before the exact check,
    // and are rejected by it.
    assert_eq!((report.matching_unseen, report.rejected), (9, 8), "{report:?}");
    assert!(
        report
            .rejected_reasons
            .iter()
            .any(|r| r.contains("x@attacker.example is not an allowed sender")),
        "{report:?}"
    );

    let e = engine(&config, &data).await;
    wait_for("the genuine alert and eight rejections", WAIT, || async {
        let rejected = e.journal.rejected_mails(50).await.ok()?;
        (e.journal.alert_count().await.ok()? == 1 && rejected.len() == 8).then_some(())
    })
    .await;
    let alerts = e.journal.alerts(5).await.unwrap();
    assert_eq!((alerts[0].subject.as_str(), alerts[0].origin.uid), ("ALERTA verdadeiro", genuine));
    let rejected = e.journal.rejected_mails(50).await.unwrap();
    assert!(
        rejected.iter().all(|r| !r.sender.contains("\"")),
        "real addresses, never display names: {rejected:?}"
    );
    assert!(rejected
        .iter()
        .any(|r| r.sender == "x@attacker.example" && r.reason.contains("not an allowed sender")));
    assert!(rejected.iter().any(|r| r.reason.contains("2 addresses")), "{rejected:?}");
    // Left unread; only the genuine alert is marked seen; nothing is journaled twice on rescans.
    let (seen, unseen) = server.seen_state("INBOX").await;
    assert_eq!((seen, unseen.len()), (vec![genuine], 11));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(e.journal.rejected_mails(50).await.unwrap().len(), 8);
    e.stop(WAIT).await;

    let out = sentinela_tests::headless::command()
        .args(["history", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Rejected senders") && text.contains("from x@attacker.example"),
        "{text}"
    );
}

#[tokio::test]
async fn with_authserv_id_only_our_servers_topmost_verdict_counts() {
    let server = Dovecot::start();
    let data = TempDir::new().unwrap();
    let domain = SENSOR.split_once('@').unwrap().1;
    let ours = "mx.empresa.com.br";
    let cases = [
        (format!("Authentication-Results: {ours}; dmarc=pass header.from={domain}\r\n"), "ALERTA dmarc pass", true),
        (format!("Authentication-Results: {ours}; dkim=pass header.d={domain}; spf=fail\r\n"), "ALERTA dkim alinhado", true),
        (format!("Authentication-Results: {ours}; dmarc=fail\r\nAuthentication-Results: {ours}; dmarc=pass\r\n"), "ALERTA forjado abaixo", false),
        ("Authentication-Results: mx.attacker.example; dmarc=pass\r\n".to_owned(), "ALERTA outro servidor", false),
        (format!("Authentication-Results: {ours}; dkim=pass header.d=attacker.example\r\n"), "ALERTA dkim desalinhado", false),
        (String::new(), "ALERTA sem verificação", false),
    ];
    for (headers, subject, _) in &cases {
        server.append("INBOX", &mail(SENSOR, headers, subject)).await;
    }
    let mut config = server.config(Security::Tls);
    config.filter.authserv_id = ours.into();
    let e = engine(&config, &data).await;
    wait_for("every case decided", WAIT, || async {
        let done = e.journal.alert_count().await.ok()?
            + e.journal.rejected_mails(50).await.ok()?.len() as u64;
        (done == cases.len() as u64).then_some(())
    })
    .await;
    let alerts: Vec<String> =
        e.journal.alerts(50).await.unwrap().into_iter().map(|a| a.subject).collect();
    let rejected = e.journal.rejected_mails(50).await.unwrap();
    for (_, subject, accepted) in &cases {
        assert_eq!(alerts.iter().any(|s| s == subject), *accepted, "{subject}: alerts {alerts:?}");
    }
    let r = rejected.iter().find(|r| r.subject == "ALERTA outro servidor").unwrap();
    assert!(
        r.reason.contains("not authenticated by mx.empresa.com.br")
            && r.reason.contains("no Authentication-Results header from"),
        "{}",
        r.reason
    );
    e.stop(WAIT).await;
}

#[tokio::test]
async fn check_warns_when_another_servers_verdict_sits_on_top() {
    let server = Dovecot::start();
    let domain = SENSOR.split_once('@').unwrap().1;
    let ours = "mx.empresa.com.br";
    let mut config = server.config(Security::Tls);
    config.filter.authserv_id = ours.into();
    // Our server added its verdict below one written before the mail reached it: it does not
    // put its own on top, and a forged header of its id could have come from outside.
    let below = format!("Authentication-Results: mx.attacker.example; dmarc=pass\r\nAuthentication-Results: {ours}; dmarc=pass header.from={domain}\r\n");
    server.append("INBOX", &mail(SENSOR, &below, "ALERTA 1")).await;
    let report = probe(&config, &Dovecot::password().into()).await.unwrap();
    assert_eq!(report.results_on_top.as_deref(), Some("mx.attacker.example"), "{report:?}");
    // The newest one is what the server does now.
    let on_top = format!("Authentication-Results: {ours}; dmarc=pass header.from={domain}\r\nAuthentication-Results: mx.attacker.example; dmarc=pass\r\n");
    server.append("INBOX", &mail(SENSOR, &on_top, "ALERTA 2")).await;
    let report = probe(&config, &Dovecot::password().into()).await.unwrap();
    assert_eq!(report.results_on_top, None, "{report:?}");
    assert_eq!(report.rejected, 0, "{report:?}");
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
