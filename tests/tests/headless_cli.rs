//! `sentinela-headless` as an administrator runs it: a real process, real signals, a real Dovecot.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use sentinela_engine::config::Security;
use sentinela_engine::journal::AlertJournal;
use sentinela_tests::dovecot::{Dovecot, SENSOR};
use sentinela_tests::headless::{self, text};
use sentinela_tests::mail::plain;
use sentinela_tests::wait_for;
use tempfile::TempDir;

fn write_config(server: &Dovecot, dir: &Path) -> PathBuf {
    let path = dir.join("sentinela.toml");
    server.config(Security::Tls).save(&path).unwrap();
    path
}

fn spawn_run(config: &Path, data: &Path, log: &Path) -> Child {
    headless::run_command(config, data, log).spawn().unwrap()
}

async fn wait_alerts(data: &Path, n: u64) -> AlertJournal {
    wait_for(&format!("{n} alerts in the journal"), Duration::from_secs(15), || async {
        let j = AlertJournal::open_in_dir(data).ok()?;
        (j.alert_count().await.ok()? >= n).then_some(j)
    })
    .await
}

#[tokio::test]
async fn check_reports_the_mailbox_and_fails_clearly() {
    let server = Dovecot::start();
    let dir = TempDir::new().unwrap();
    let config = write_config(&server, dir.path());
    server.append("INBOX", &plain(SENSOR, "ALERTA check", "x")).await;

    let ok = headless::command().arg("check").arg("--config").arg(&config).output().unwrap();
    let out = text(&ok);
    assert!(ok.status.success(), "{out}");
    assert!(out.contains("Matching unread e-mails: 1"), "{out}");
    assert!(out.contains("IDLE: supported"), "{out}");

    let bad_password = headless::command()
        .arg("check")
        .arg("--config")
        .arg(&config)
        .env("SENTINELA_IMAP_PASSWORD", "errada")
        .output()
        .unwrap();
    let out = text(&bad_password);
    assert_eq!(bad_password.status.code(), Some(1), "{out}");
    assert!(out.contains("refused the login"), "{out}");
    assert!(!out.contains("errada"), "no password in messages: {out}");

    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&config).unwrap().replace("[mailbox]", "[mailbox]\nprot = 993"),
    )
    .unwrap();
    let refused = headless::command().arg("check").arg("--config").arg(&broken).output().unwrap();
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{out}");
    assert!(out.contains("prot") && out.contains("broken.toml"), "{out}");
}

#[tokio::test]
async fn secrets_can_come_from_systemds_credentials_directory() {
    let server = Dovecot::start();
    let dir = TempDir::new().unwrap();
    let config = write_config(&server, dir.path());
    server.append("INBOX", &plain(SENSOR, "ALERTA credencial", "x")).await;
    // What systemd's LoadCredential=imap-password:… provides: a private folder, one file per secret.
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(
        creds.join("imap-password"),
        format!("{}\n", sentinela_tests::dovecot::PASSWORD),
    )
    .unwrap();
    let ok = headless::command()
        .env_remove("SENTINELA_IMAP_PASSWORD")
        .env("CREDENTIALS_DIRECTORY", &creds)
        .arg("check")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let out = text(&ok);
    assert!(ok.status.success() && out.contains("Matching unread e-mails: 1"), "{out}");
}

#[tokio::test]
async fn under_systemd_it_logs_in_the_journals_format() {
    use std::os::unix::fs::MetadataExt;
    let server = Dovecot::start();
    let dir = TempDir::new().unwrap();
    let config = write_config(&server, dir.path());
    let log = dir.path().join("journal.log");
    let mut c = headless::run_command(&config, &dir.path().join("data"), &log);
    // What systemd sets when stderr is connected to the journal: its device and inode.
    let meta = std::fs::metadata(&log).unwrap();
    c.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    let mut child = c.spawn().unwrap();
    server.append("INBOX", &plain(SENSOR, "ALERTA journald", "x")).await;
    wait_alerts(&dir.path().join("data"), 1).await;
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.iter().all(|l| l.starts_with('<') && l.as_bytes().get(2) == Some(&b'>')),
        "every line has a priority: {text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<6>sentinela_engine::imap::watcher: mailbox: watching")),
        "{text}"
    );
    assert!(
        !text.contains("2026-") && !text.contains("INFO"),
        "no timestamp or level word of its own: {text}"
    );
}

#[tokio::test]
async fn sigterm_stops_cleanly_with_logout() {
    let server = Dovecot::start();
    let dir = TempDir::new().unwrap();
    let config = write_config(&server, dir.path());
    let log = dir.path().join("run.log");
    let mut child = spawn_run(&config, &dir.path().join("data"), &log);
    server.append("INBOX", &plain(SENSOR, "ALERTA sigterm", "x")).await;
    wait_alerts(&dir.path().join("data"), 1).await;

    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_for("the process to exit", Duration::from_secs(10), || {
        let s = child.try_wait().unwrap();
        async move { s }
    })
    .await;
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {out}");
    assert!(out.contains("alert journaled"), "{out}");
    assert!(out.contains("mailbox: logged out"), "{out}");
    assert!(out.contains("sentinela stopped"), "{out}");
    assert!(
        server.log().contains("Logged out"),
        "the server saw a LOGOUT, not a dropped connection"
    );
}

#[tokio::test]
async fn kill_9_mid_burst_then_restart_loses_and_duplicates_nothing() {
    let server = Dovecot::start();
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("sentinela.toml");
    server.config(headless::security_for_large_answers()).save(&config).unwrap();
    for i in 0..40 {
        server.append("INBOX", &plain(SENSOR, &format!("ALERTA rajada {i:02}"), "x")).await;
    }
    let mut child = spawn_run(&config, &data, &dir.path().join("run1.log"));
    wait_alerts(&data, 1).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let mut child = spawn_run(&config, &data, &dir.path().join("run2.log"));
    let journal = wait_alerts(&data, 40).await;
    wait_for("every e-mail marked seen", Duration::from_secs(10), || async {
        server.seen_state("INBOX").await.1.is_empty().then_some(())
    })
    .await;
    let mut subjects: Vec<String> =
        journal.alerts(100).await.unwrap().into_iter().map(|a| a.subject).collect();
    subjects.sort();
    let expected: Vec<String> = (0..40).map(|i| format!("ALERTA rajada {i:02}")).collect();
    assert_eq!(subjects, expected, "each e-mail exactly once");
    child.kill().unwrap();
    child.wait().unwrap();

    let history =
        headless::command().args(["history", "--json", "--data-dir"]).arg(&data).output().unwrap();
    assert!(history.status.success(), "{}", text(&history));
    let list: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 40);
    assert_eq!(list[0]["events"][0]["kind"], "received");

    let human = headless::command()
        .args(["history", "--limit", "2", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let out = text(&human);
    assert_eq!(out.matches("ALERTA rajada").count(), 2, "{out}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let server = Dovecot::start();
    let dir = TempDir::new().unwrap();
    let config = write_config(&server, dir.path());
    let data = dir.path().join("data");
    let log = dir.path().join("run.log");
    let mut child = headless::command()
        .args(["--log-format", "json", "run", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    server.append("INBOX", &plain(SENSOR, "ALERTA json", "x")).await;
    wait_alerts(&data, 1).await;
    // The line is written just after the commit the journal shows: wait for it, not only the row.
    wait_for("the journaled line in the log", Duration::from_secs(10), || async {
        std::fs::read_to_string(&log).ok()?.contains("alert journaled").then_some(())
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let out = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    assert!(
        lines.iter().any(|l| l["message"] == "alert journaled" && l["subject"] == "ALERTA json"),
        "{out}"
    );
}

#[test]
fn history_without_a_journal_says_where_it_looked() {
    let dir = TempDir::new().unwrap();
    let o = headless::command().args(["history", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no journal at"), "{}", text(&o));
}

#[tokio::test]
async fn a_second_engine_on_the_same_data_directory_refuses_and_names_the_first() {
    let server = Dovecot::start();
    let dir = TempDir::new().unwrap();
    let config = write_config(&server, dir.path());
    let data = dir.path().join("data");
    let mut first = spawn_run(&config, &data, &dir.path().join("first.log"));
    wait_for("the first engine watching", Duration::from_secs(15), || async {
        std::fs::read_to_string(dir.path().join("first.log"))
            .ok()?
            .contains("watching")
            .then_some(())
    })
    .await;

    let second = headless::command()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let out = text(&second);
    assert_eq!(second.status.code(), Some(2), "{out}");
    assert!(
        out.contains("another Sentinela engine is already running on the data directory"),
        "{out}"
    );
    assert!(headless::names_the_holder(&out, first.id()), "names the holder: {out}");

    // A crash releases it: the OS lock goes with the process.
    first.kill().unwrap();
    first.wait().unwrap();
    let mut third = spawn_run(&config, &data, &dir.path().join("third.log"));
    wait_for("a new engine after the kill", Duration::from_secs(15), || async {
        std::fs::read_to_string(dir.path().join("third.log"))
            .ok()?
            .contains("watching")
            .then_some(())
    })
    .await;
    third.kill().unwrap();
    third.wait().unwrap();
}
