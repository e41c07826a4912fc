//! Two workstations on one shared journal, as a NOC lives it: two real desktop apps (each its own
//! Xvfb, D-Bus session, keyring and data directory, as two machines would be), one real
//! PostgreSQL, one Dovecot mailbox and the Twilio fake. An alert e-mail is the same incident in
//! both history windows, each status line says who notifies, the acknowledgement made in the
//! other workstation's window shows in the notifier's, live, while the call it stopped is
//! cancelled, and the resolve made in the notifier's window shows in the other's, live, its
//! status line's count of open incidents included. The settings window shows `[journal]` and its
//! test says who notifies.

use std::time::Duration;

use sentinela_engine::config::JournalConfig;
use sentinela_engine::journal::test_postgres::{self, TestPostgres};
use sentinela_tests::desktop::{Desktop, WebDriver};
use sentinela_tests::dovecot::{PASSWORD, SENSOR};
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, WA1};
use sentinela_tests::scenario::Scenario;
use sentinela_tests::twilio_fake::{CallScript, AUTH_TOKEN};
use sentinela_tests::WAIT;
use sentinela_tests::{wait_for, workspace_binary};
use serde_json::{json, Value};

struct Workstation {
    desktop: Desktop,
    paths: Vec<String>,
    tray: std::process::Child,
}

impl Drop for Workstation {
    fn drop(&mut self) {
        let _ = self.tray.kill();
        let _ = self.tray.wait();
    }
}

fn workstation(s: &Scenario, pg: &TestPostgres, name: &str) -> Workstation {
    let desktop = Desktop::start();
    let mut config = s.config.clone();
    config.journal = Some(JournalConfig { url: pg.url(), workstation: name.into() });
    let file = desktop.path("sentinela.toml");
    config.save(&file).unwrap();
    let paths = vec![
        "--config".into(),
        file.display().to_string(),
        "--data-dir".into(),
        desktop.path("data").display().to_string(),
    ];
    let tray = desktop
        .command(workspace_binary("sentinela"))
        .args(&paths)
        .env("SENTINELA_IMAP_PASSWORD", PASSWORD)
        .env("SENTINELA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .spawn()
        .unwrap();
    Workstation { desktop, paths, tray }
}

impl Workstation {
    async fn history(&self) -> WebDriver {
        let wd = self.window("history").await;
        wd.wait_for("the history list", WAIT, "return !!document.querySelector('#rows')", |v| {
            v == &json!(true)
        })
        .await;
        wd
    }

    async fn window(&self, which: &str) -> WebDriver {
        let args = [self.paths.clone(), vec!["--window".into(), which.into()]].concat();
        WebDriver::launch(self.desktop.driver_port, &workspace_binary("sentinela"), &args).await
    }
}

async fn status(wd: &WebDriver) -> String {
    wd.execute("return document.querySelector('#engine-status').textContent", json!([]))
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Opens the newest incident's detail and presses one of its buttons (`#acknowledge`, `#resolve`).
async fn act_on_first_row(wd: &WebDriver, button: &str) {
    wd.execute("document.querySelector('#rows tr').click()", json!([])).await;
    wd.wait_for(
        "its detail",
        WAIT,
        "return document.querySelector('#detail-title')?.textContent ?? ''",
        |v| v.as_str().is_some_and(|t| t.contains("Sala 9")),
    )
    .await;
    wd.execute(&format!("document.querySelector('{button}').click()"), json!([])).await;
}

/// The newest incident's row as `id|class|text`, once `ok` accepts it.
async fn first_row(wd: &WebDriver, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let script = "const tr = document.querySelector('#rows tr[data-id]'); return tr ? `${tr.dataset.id}|${tr.className}|${tr.textContent}` : ''";
    let v = wd.wait_for(what, WAIT, script, |v: &Value| v.as_str().is_some_and(&ok)).await;
    v.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_app_instances_show_the_same_incident_and_the_ack_made_in_the_other() {
    // The windows read the shared journal themselves: its password reaches them (and the
    // trays) from the environment, as a service's would.
    std::env::set_var("SENTINELA_JOURNAL_PASSWORD", test_postgres::PASSWORD);
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    // The call rings long: the incident stays open and untaken until the ack.
    s.fake.script_call(C1, CallScript::Human { answer_ms: 60_000, talk_ms: 300 });
    let noc1 = workstation(&s, &pg, "NOC-01");
    let noc2 = workstation(&s, &pg, "NOC-02");
    let (one, two) = (noc1.history().await, noc2.history().await);

    // Each status line says who notifies: one of them, and the other names it.
    let (line1, line2) = wait_for("both status lines to say who notifies", WAIT, || async {
        let (a, b) = (status(&one).await, status(&two).await);
        let settled = a.contains("esta estação notifica") && b.contains("notificando: NOC-01")
            || b.contains("esta estação notifica") && a.contains("notificando: NOC-02");
        settled.then_some((a, b))
    })
    .await;
    assert!(line1.starts_with("Vigiando") && line2.starts_with("Vigiando"), "{line1} | {line2}");

    s.server.append("INBOX", &plain(SENSOR, "ALERTA Temperatura Sala 9", "Sala 9: 40 °C")).await;
    let open = |t: &str| t.contains("ALERTA Temperatura Sala 9") && t.contains("state-open");
    let row1 = first_row(&one, "the incident on NOC-01", open).await;
    let row2 = first_row(&two, "the incident on NOC-02", open).await;
    let id = |row: &str| row.split('|').next().map(str::to_owned);
    assert_eq!(id(&row1), id(&row2), "the same incident on both: {row1} | {row2}");
    assert_eq!(
        one.execute("return document.querySelectorAll('#rows tr').length", json!([])).await,
        json!(1),
        "one incident"
    );
    wait_for("the call ringing", WAIT, || async {
        (s.fake.called_numbers() == [C1]).then_some(())
    })
    .await;

    // Both trays count the open incident, the one journaled by the other engine included.
    for wd in [&one, &two] {
        wait_for("the open incident counted in the status line", WAIT, || async {
            status(wd).await.contains("1 incidente(s) aberto(s)").then_some(())
        })
        .await;
    }

    // Acknowledged in the window of the workstation that does not notify: the notifier's window
    // shows it, and its call stops.
    let (other, notifier) =
        if line1.contains("esta estação notifica") { (&two, &one) } else { (&one, &two) };
    act_on_first_row(other, "#acknowledge").await;
    first_row(notifier, "the ack made on the other workstation, in the notifier's window", |t| {
        t.contains("ALERTA Temperatura Sala 9") && t.contains("state-acknowledged")
    })
    .await;
    wait_for("the ringing call cancelled", WAIT, || async { s.fake.canceled(C1).then_some(()) })
        .await;
    assert_eq!(s.fake.called_numbers(), [C1], "one call, stopped by the ack");
    assert_eq!(
        s.fake.bodies_to(WA1).iter().filter(|b| b.starts_with("🚨")).count(),
        1,
        "one alarm for two workstations"
    );

    // The other way round: resolved in the notifier's window, the other window shows it within
    // seconds — its engine notifies nobody and acted on nothing, it only follows the journal —
    // and its status line counts no open incident any more.
    act_on_first_row(notifier, "#resolve").await;
    let live = Duration::from_secs(5);
    let script =
        "const tr = document.querySelector('#rows tr[data-id]'); return tr ? tr.className : ''";
    other
        .wait_for("the resolve made on the notifier, in the other window", live, script, |v| {
            v.as_str().is_some_and(|c| c.contains("state-resolved"))
        })
        .await;
    wait_for("no open incident in the other's status line", live, || async {
        (!status(other).await.contains("aberto")).then_some(())
    })
    .await;

    let (other_ws, notifier_name) = if line1.contains("esta estação notifica") {
        (&noc2, "NOC-01")
    } else {
        (&noc1, "NOC-02")
    };
    one.close().await;
    two.close().await;

    // The settings window edits `[journal]` and tests it as `check` does: the database answers,
    // the schema is this version's, and the other workstation notifies.
    let settings = other_ws.window("settings").await;
    settings.wait_for("the journal section filled from the file", WAIT, "return document.querySelector('#enable-journal')?.checked && document.querySelector('#journal-url')?.value", |v| v.as_str().is_some_and(|u| u.starts_with("postgres://"))).await;
    // Clicked once the page has settled: it has read the secrets' status (the last thing it does;
    // the database password is there, from the environment as a service's would be) and the
    // engine's status line.
    let settled = "return (document.querySelector('#secret-journal-password-status')?.textContent ?? '') + '|' + (document.querySelector('#engine-status')?.textContent ?? '')";
    settings
        .wait_for("the settings page settled", WAIT, settled, |v| {
            v.as_str().is_some_and(|t| t.starts_with("✔ guardado") && !t.ends_with('|'))
        })
        .await;
    settings.click("#test-journal").await;
    let said = settings
        .wait_for(
            "the journal test's result",
            WAIT,
            "return document.querySelector('#result').textContent",
            |v| v.as_str().is_some_and(|t| !t.is_empty() && t != "…"),
        )
        .await;
    let said = said.as_str().unwrap();
    assert!(
        said.starts_with("Diário compartilhado OK")
            && said.contains(&format!("Notificando agora: {notifier_name}.")),
        "{said}"
    );
    settings.close().await;
}
