//! The real desktop app, as an operator meets it, under Xvfb in a private D-Bus session with a
//! real gnome-keyring and notification daemon, its windows driven through WebDriver
//! (tauri-driver + WebKitWebDriver) and its tray menu driven over D-Bus (com.canonical.dbusmenu).
//!
//! One scenario, in the order a user lives it: first launch opens the settings; fill and save
//! them (the TOML file gets the values, the secrets go to the Secret Service and nowhere else);
//! an alert e-mail arrives in Dovecot → a desktop notification per incident, the history window
//! (opened by a second launch) shows the incident with its timeline from the Twilio fake; a
//! hostile e-mail runs nothing; "Send test alert" from the tray goes through the whole pipeline;
//! an incident with repeats, held by a pause, is acknowledged and resolved with the window's
//! buttons; Quit ends the app and its windows.
//!
//! Each window is a process of its own, started by the tray process. WebDriver can only drive a
//! process it started itself, so the test checks that the tray opens and closes the window
//! processes, then has WebDriver start the same window process (`sentinela --window …`), which
//! links to the running tray exactly as the tray's own do.

use std::time::Duration;

use sentinela_tests::desktop::{child_processes, screenshots_dir, wait_until, Desktop, WebDriver};
use sentinela_tests::dovecot::{Dovecot, PASSWORD, SENSOR, USER};
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, WA1};
use sentinela_tests::twilio_fake::{
    CallScript, MessageScript, TwilioFake, ACCOUNT_SID, AUTH_TOKEN,
};
use sentinela_tests::workspace_binary;
use sentinela_tests::x11::X11;
use sentinela_tests::WAIT;
use serde_json::{json, Value};

/// The window processes the tray process started and that still run.
fn window_processes(tray: u32) -> Vec<u32> {
    child_processes(tray)
        .into_iter()
        .filter(|(_, name)| name == "sentinela")
        .map(|(pid, _)| pid)
        .collect()
}

/// The dbusmenu id of the item labelled `label` in a `GetLayout` answer.
fn menu_id(layout: &str, label: &str) -> String {
    let at = layout
        .find(&format!("'label': <'{label}'>"))
        .unwrap_or_else(|| panic!("no menu item {label:?} in {layout}"));
    let open = layout[..at].rfind('(').unwrap();
    layout[open + 1..].split(',').next().unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_app_end_to_end() {
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    let desktop = Desktop::start();
    let config = desktop.path("sentinela.toml");
    let data = desktop.path("data");
    let paths: Vec<String> = vec![
        "--config".into(),
        config.display().to_string(),
        "--data-dir".into(),
        data.display().to_string(),
    ];
    let mut tray = desktop.command(workspace_binary("sentinela")).args(&paths).spawn().unwrap();
    let tray_pid = tray.id();
    let x = X11::connect(&desktop.display);

    // --- First launch, no configuration: the tray opens the settings, in a process of its own.
    let mut first = None;
    wait_until("the settings window at first launch", WAIT, || {
        first = x.windows_titled("Sentinela — Configurações").pop();
        first.is_some()
    });
    assert_eq!(window_processes(tray_pid).len(), 1, "one window process, started by the tray");
    // Its × ends that process, and with it the webview's memory; the tray lives on.
    x.close(first.unwrap().window);
    wait_until("the settings window's process to end", WAIT, || {
        window_processes(tray_pid).is_empty()
    });
    assert!(tray.try_wait().unwrap().is_none(), "the tray lives on");

    // The same window process, started by WebDriver, links to the running tray.
    let window = |kind: &str| [paths.clone(), vec!["--window".into(), kind.into()]].concat();
    let wd =
        WebDriver::launch(desktop.driver_port, &workspace_binary("sentinela"), &window("settings"))
            .await;
    wd.wait_for(
        "the settings form",
        WAIT,
        "return !!document.querySelector('#mailbox-host')",
        |v| v == &json!(true),
    )
    .await;
    // A first start: the guide at the top leads with the mailbox and says what to do.
    wd.wait_for("the first-start guide", WAIT, "const s = document.querySelector('#step-mailbox'); return s ? s.className + ' ' + s.textContent : ''", |v| {
        v.as_str().is_some_and(|s| s.starts_with("current 1. Caixa de e-mail") && s.contains("guarde a senha do e-mail"))
    })
    .await;
    let footer = wd.text("#footer").await;
    assert!(
        footer.starts_with(&format!("Sentinela {} — ", env!("CARGO_PKG_VERSION"))),
        "the version in the footer: {footer}"
    );

    // --- Settings.
    for (field, value) in [
        ("#mailbox-host", "localhost".to_owned()),
        ("#mailbox-port", server.imaps_port.to_string()),
        ("#mailbox-username", USER.to_owned()),
        ("#mailbox-ca_file", server.cert_path().display().to_string()),
        ("#filter-from", SENSOR.to_owned()),
        ("#filter-subject", "ALERTA".to_owned()),
        ("#twilio-account_sid", ACCOUNT_SID.to_owned()),
        ("#twilio-base_url", fake.base_url.clone()),
        ("#whatsapp-to", "(11) 99999-0001".to_owned()),
        ("#calls-from", "+14155238886".to_owned()),
        ("#calls-to", "(11) 98888-0001".to_owned()),
        ("#calls-rounds", "1".to_owned()),
        ("#calls-round_pause_secs", "1".to_owned()),
        ("#people", "(11) 99999-0001 = Ana\n(11) 98888-0001 = Carla".to_owned()),
    ] {
        wd.fill(field, &value).await;
    }
    // Validation as you type, with the engine's rules and messages.
    wd.fill("#calls-to", "(11) 1234").await;
    let error = wd
        .wait_for(
            "the field error",
            WAIT,
            "return document.querySelector('#calls-to-error').textContent",
            |v| v.as_str().is_some_and(|s| s.contains("calls.to")),
        )
        .await;
    assert!(
        error.as_str().unwrap().contains("\"(11) 1234\" não é um número de telefone válido"),
        "in Portuguese: {error}"
    );

    wd.fill("#calls-to", "(11) 98888-0001").await;
    wd.wait_for(
        "no field error",
        WAIT,
        "return document.querySelectorAll('.invalid').length",
        |v| v == &json!(0),
    )
    .await;
    desktop.screenshot(&screenshots_dir().join("settings.png"));

    // --- Saved before the secrets are stored: the engine cannot start, and says so in Portuguese.
    wd.click("#save").await;
    wd.wait_for("saved", WAIT, "return document.querySelector('#result').textContent", |v| {
        v.as_str().is_some_and(|s| s.starts_with("Salvo."))
    })
    .await;
    wd.wait_for(
        "the missing password in the status line",
        WAIT,
        "return document.querySelector('#engine-status').textContent",
        |v| {
            v.as_str().is_some_and(|s| {
                s.contains("falta a senha da caixa de e-mail no cofre de senhas do sistema")
            })
        },
    )
    .await;

    // --- Secrets: into the keyring, never back into the page; storing them starts the engine.
    wd.fill("#secret-imap-password-input", PASSWORD).await;
    wd.click("#secret-imap-password-store").await;
    wd.fill("#secret-twilio-auth-token-input", AUTH_TOKEN).await;
    wd.click("#secret-twilio-auth-token-store").await;
    wd.wait_for("both secrets stored", WAIT, "return document.querySelector('#secret-twilio-auth-token-status').textContent + document.querySelector('#secret-imap-password-status').textContent", |v| {
        v.as_str().is_some_and(|s| s.matches('✔').count() == 2)
    })
    .await;
    let page = wd.execute("return document.documentElement.outerHTML", json!([])).await;
    assert!(!page.as_str().unwrap().contains(PASSWORD), "the secret is not in the page");
    wd.wait_for(
        "watching, without another Save",
        WAIT,
        "return document.querySelector('#engine-status').textContent",
        |v| v.as_str().is_some_and(|s| s.starts_with("Vigiando")),
    )
    .await;

    // "Test mailbox" logs in for real with the keyring's password.
    wd.execute("document.querySelector('#test-mailbox').click()", json!([])).await;
    let probe = wd
        .wait_for(
            "the mailbox test",
            WAIT,
            "return document.querySelector('#result').textContent",
            |v| v.as_str().is_some_and(|s| s.starts_with("Login OK")),
        )
        .await;
    assert!(probe.as_str().unwrap().contains("IDLE: sim"), "{probe}");
    let steps = wd.execute("return [...document.querySelectorAll('#first-run li')].map(l => l.className + ': ' + l.textContent)", json!([])).await;
    let steps: Vec<String> = serde_json::from_value(steps).unwrap();
    assert!(steps[0].starts_with("done: ✔ 1. Caixa de e-mail Caixa OK: 0 e-mail(s)"), "{steps:?}");
    assert!(
        steps[1].starts_with("done: ✔ 2. Quem avisar Avisa 1 pessoa(s) por WhatsApp e liga para 1"),
        "{steps:?}"
    );
    assert!(steps[2].starts_with("current: 3. Teste"), "{steps:?}");
    assert!(steps[3].starts_with("done: ✔ 4. Vigiando"), "{steps:?}");
    // "Send test WhatsApp" for real, to a number that has not joined the sandbox: the window says
    // what happened and what to do, in Portuguese, with Twilio's code.
    fake.script_message("+5511999990009", MessageScript::FailWith(63015));
    wd.fill("#test-to", "(11) 99999-0009").await;
    wd.execute("document.querySelector('#test-whatsapp').click()", json!([])).await;
    let refused = wd
        .wait_for(
            "the test WhatsApp's failure",
            WAIT,
            "return document.querySelector('#result').textContent",
            |v| v.as_str().is_some_and(|s| s.contains("+5511999990009")),
        )
        .await;
    assert!(refused.as_str().unwrap().contains("não foi entregue (failed): erro 63015: O destinatário não entrou no sandbox do WhatsApp"), "{refused}");
    // And to one that has: its way to the phone, in Portuguese.
    wd.fill("#test-to", "(11) 99999-0001").await;
    wd.execute("document.querySelector('#test-whatsapp').click()", json!([])).await;
    let delivered = wd
        .wait_for(
            "the test WhatsApp delivered",
            WAIT,
            "return document.querySelector('#result').textContent",
            |v| v.as_str().is_some_and(|s| s.starts_with(&format!("{WA1}: "))),
        )
        .await;
    let delivered = delivered.as_str().unwrap();
    assert!(
        delivered.starts_with(&format!("{WA1}: na fila → "))
            && ["entregue", "lida"].iter().any(|s| delivered.ends_with(s)),
        "{delivered}"
    );
    assert_eq!(
        wd.text("#step-tests span").await,
        "Falta a ligação de teste: clique em Fazer ligação de teste."
    );
    let toml = std::fs::read_to_string(&config).unwrap();
    assert!(
        toml.contains("host = \"localhost\"") && toml.contains(&format!("to = [\"{C1}\"]")),
        "{toml}"
    );
    assert!(
        !toml.contains(PASSWORD) && !toml.contains(AUTH_TOKEN),
        "no secret in the file:\n{toml}"
    );
    let lookup = desktop
        .command("secret-tool")
        .args(["lookup", "service", "sentinela", "username", "imap-password"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&lookup.stdout),
        PASSWORD,
        "the password is in the Secret Service"
    );

    // --- The tray: published, with its menu, driven over D-Bus.
    wait_until("the tray item", WAIT, || desktop.tray_item().is_some());
    let (name, path) = desktop.tray_item().unwrap();
    let menu_prop = desktop.gdbus(
        &name,
        &path,
        "org.freedesktop.DBus.Properties.Get",
        &["org.kde.StatusNotifierItem", "Menu"],
    );
    let menu_path = menu_prop.split('\'').nth(1).expect("menu path").to_owned();
    let layout =
        desktop.gdbus(&name, &menu_path, "com.canonical.dbusmenu.GetLayout", &["0", "-1", "[]"]);
    for label in [
        "Abrir histórico",
        "Reconhecer todos os incidentes",
        "Configurações",
        "Pausar notificações por 30 min",
        "Enviar alerta de teste",
        "Sair",
    ] {
        assert!(layout.contains(label), "tray menu has {label:?}: {layout}");
    }
    let click = |label: &str| {
        let id = menu_id(&layout, label);
        desktop.gdbus(
            &name,
            &menu_path,
            "com.canonical.dbusmenu.Event",
            &[&id, "clicked", "<''>", "0"],
        );
    };

    // --- An alert e-mail (hostile on purpose) → notification, history with the call timeline.
    let hostile = r#"<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>"#;
    server
        .append(
            "INBOX",
            &plain(SENSOR, "ALERTA Temperatura crítica", &format!("Sala 1: 31 °C {hostile}")),
        )
        .await;
    wait_until("the incident notification", WAIT, || {
        desktop.notifications().contains("Novo incidente #1 — ALERTA Temperatura crítica")
    });

    // A second launch with --open history: the running tray opens the window and the launch exits.
    let second = |window: &str| {
        let status = desktop
            .command(workspace_binary("sentinela"))
            .args(&paths)
            .args(["--open", window])
            .status()
            .unwrap();
        assert!(status.success(), "the second launch hands over and exits");
    };
    second("history");
    wait_until("the history window, opened by the tray", WAIT, || {
        !x.windows_titled("Sentinela — Histórico").is_empty()
    });
    assert_eq!(window_processes(tray_pid).len(), 1, "{:?}", window_processes(tray_pid));
    // An open window is brought to the front, not opened twice; that holds for the one
    // WebDriver started too, which the tray knows through its link.
    second("history");
    second("settings");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(x.windows_titled("Sentinela — Histórico").len(), 1);
    assert_eq!(x.windows_titled("Sentinela — Configurações").len(), 1);
    assert_eq!(window_processes(tray_pid).len(), 1);
    let history = x.windows_titled("Sentinela — Histórico").pop().unwrap();
    x.close(history.window);
    wait_until("the history window's process to end", WAIT, || {
        window_processes(tray_pid).is_empty()
    });

    // WebDriver drives one window at a time: on to the history, in a window process of its own.
    wd.close().await;
    wait_until("the settings window to close", WAIT, || {
        x.windows_titled("Sentinela — Configurações").is_empty()
    });
    let wd =
        WebDriver::launch(desktop.driver_port, &workspace_binary("sentinela"), &window("history"))
            .await;
    let outcome = wd
        .wait_for("the answered incident in the list", WAIT, "return document.querySelector('#rows tr td:last-child')?.textContent ?? document.querySelector('#status').textContent", |v| {
            v.as_str().is_some_and(|s| s.starts_with("reconhecido"))
        })
        .await;
    // [people] names the callee: who took it reads as a name, not a number.
    assert_eq!(outcome, json!("reconhecido — por Carla (atendeu a ligação)"));
    // A window opened from the tray is not focused under Xvfb (no window manager), so WebDriver's
    // pointer click is refused as "not interactable": dispatch the click in the page instead.
    wd.execute("document.querySelector('#rows tr').click()", json!([])).await;
    let calls = wd
        .wait_for(
            "the call timeline",
            WAIT,
            "return [...document.querySelectorAll('#detail-calls li')].map(li => li.textContent)",
            |v| v.as_array().is_some_and(|a| !a.is_empty()),
        )
        .await;
    // When, who, what happened and who picked up, in Portuguese: "13:00:05 — rodada 1 — …".
    let call = calls[0].as_str().unwrap();
    assert!(
        call.ends_with(&format!(" — rodada 1 — Carla ({C1}): atendida (pessoa) — duração 1 s")),
        "{call}"
    );
    assert!(
        call.split(" — ").next().unwrap().matches(':').count() == 2,
        "the time of the call first: {call}"
    );
    // The message's state follows Twilio's live (the open detail refreshes on each delivery event).
    let whatsapp = wd
        .wait_for(
            "the WhatsApp delivered, in the detail",
            WAIT,
            "return document.querySelector('#detail-whatsapp li')?.textContent ?? ''",
            |v| v.as_str().is_some_and(|s| ["lida", "entregue"].iter().any(|end| s.ends_with(end))),
        )
        .await;
    assert!(
        whatsapp.as_str().unwrap().contains(&format!(" — WhatsApp Ana ({WA1}) (alerta): ")),
        "{whatsapp}"
    );
    let timeline = wd.execute("return [...document.querySelectorAll('#detail-timeline li')].map(li => li.dataset.kind)", json!([])).await;
    assert_eq!(
        timeline[0],
        json!("email"),
        "the incident's story starts with its e-mail: {timeline}"
    );

    // Attacker-controlled text stays text.
    let body = wd.text("#detail-body").await;
    assert!(body.contains("<img src=x onerror="), "{body}");
    let xss: Value = wd.execute("return [document.querySelectorAll('#detail img, #detail script, #rows img').length, window.pwned === undefined]", json!([])).await;
    assert_eq!(xss, json!([0, true]), "nothing from the e-mail ran or became markup");
    // Least privilege: the window that shows hostile text cannot reach the settings, the
    // secrets or the test commands (Tauri checks each call against the window's capability);
    // its own commands still answer.
    wd.execute(
        "window.__probe = {}; for (const [cmd, args] of [['test_mailbox', {config: {}}], ['get_settings', {}], ['store_secret', {name: 'imap-password', value: 'x'}], ['list_rejected', {limit: 5}]]) \
         window.__TAURI_INTERNALS__.invoke(cmd, args).then(() => window.__probe[cmd] = 'allowed', e => window.__probe[cmd] = 'refused: ' + (e?.message ?? e))",
        json!([]),
    )
    .await;
    let probe = wd
        .wait_for("the history window's command checks", WAIT, "return window.__probe", |v| {
            v.as_object().is_some_and(|o| o.len() == 4)
        })
        .await;
    for cmd in ["test_mailbox", "get_settings", "store_secret"] {
        let answer = probe[cmd].as_str().unwrap_or_default();
        assert!(
            answer.starts_with("refused") && answer.contains("not allowed"),
            "{cmd} from the history window: {answer}"
        );
    }
    assert_eq!(probe["list_rejected"], json!("allowed"), "{probe}");
    // The search looks in the journal: words of the e-mail's body (not its title), accents
    // ignored; nothing for a word no e-mail holds; the whole list again once cleared.
    let search = |typed: &'static str| {
        format!("const t = document.querySelector('#filter-text'); t.value = {typed:?}; t.dispatchEvent(new Event('input'));")
    };
    let listed = "return [...document.querySelectorAll('#rows tr')].map(tr => tr.textContent)";
    wd.execute(&search("sála 31"), json!([])).await;
    wd.wait_for("the incident found by its body", WAIT, listed, |v| {
        v.as_array().is_some_and(|a| a.len() == 1 && a[0].as_str().unwrap().contains("Temperatura"))
    })
    .await;
    wd.execute(&search("inexistente"), json!([])).await;
    wd.wait_for("nothing found", WAIT, listed, |v| v == &json!(["Nenhum incidente."])).await;
    wd.execute(&search(""), json!([])).await;
    wd.wait_for("the list again", WAIT, listed, |v| {
        v.as_array().is_some_and(|a| a.iter().any(|r| r.as_str().unwrap().contains("Temperatura")))
    })
    .await;
    desktop.screenshot(&screenshots_dir().join("history.png"));
    wd.execute("document.querySelector('#export').click()", json!([])).await;
    let exported = wd
        .wait_for(
            "the CSV export",
            WAIT,
            "return document.querySelector('#status').textContent",
            |v| v.as_str().is_some_and(|s| s.contains(".csv")),
        )
        .await;
    let csv_path =
        exported.as_str().unwrap().rsplit_once(' ').map(|(_, p)| p.trim().to_owned()).unwrap();
    let csv = std::fs::read_to_string(&csv_path).unwrap_or_else(|e| panic!("{csv_path}: {e}"));
    assert!(
        csv.starts_with("id,first_seen,last_seen,title,emails,state,outcome")
            && csv.contains("por Carla"),
        "{csv}"
    );
    wait_until("the acknowledged notification", WAIT, || {
        let n = desktop.notifications();
        n.contains("Incidente assumido #1") && n.contains("por Carla")
    });
    let notifications = desktop.notifications();
    assert!(
        notifications.contains("&lt;img src=x"),
        "the e-mail's markup reaches the daemon escaped: {notifications}"
    );
    assert!(!notifications.contains("<img src=x"), "{notifications}");
    // The tray says it is watching, in words, with the last check time.
    wait_until("the tray status line", WAIT, || {
        // One incident is still open (taken, not over): the line counts it.
        desktop
            .gdbus(&name, &menu_path, "com.canonical.dbusmenu.GetLayout", &["0", "-1", "[]"])
            .contains("Sentinela — Vigiando — 1 incidente(s) aberto(s) — última verificação")
    });

    // --- "Send test alert" from the tray: through the whole pipeline, marked as a test.
    click("Enviar alerta de teste");
    wd.wait_for(
        "the test alert in the list",
        WAIT,
        "return document.querySelector('#rows tr td:nth-child(2)')?.textContent ?? ''",
        |v| v.as_str().is_some_and(|s| s.starts_with("#2 [TESTE]")),
    )
    .await;
    wait_until("the test call", WAIT, || fake.called_numbers().len() == 2);
    assert!(fake.creations("Calls")[1].param("Twiml").unwrap().contains("chamada de teste"));

    // --- Pause from the tray: visible in the window, e-mails journaled, nobody notified.
    click("Pausar notificações até retomar");
    wd.wait_for(
        "the pause in the window",
        WAIT,
        "return document.querySelector('#engine-status').textContent",
        |v| v.as_str().is_some_and(|s| s.contains("Notificações pausadas")),
    )
    .await;
    // An incident with repeats, held by the pause: acknowledged, then resolved, in the window.
    server.append("INBOX", &plain(SENSOR, "ALERTA Umidade Sala 5 alta 80%", "x")).await;
    server.append("INBOX", &plain(SENSOR, "ALERTA Umidade Sala 5 alta 82%", "x")).await;
    server.append("INBOX", &plain(SENSOR, "ALERTA Umidade Sala 5 alta 85%", "x")).await;
    let held = wd
        .wait_for(
            "the held incident with its repeats",
            WAIT,
            "return [...document.querySelectorAll('#rows tr')].map(tr => tr.textContent)[0] ?? ''",
            |v| {
                v.as_str()
                    .is_some_and(|s| s.contains("ALERTA Umidade Sala 5") && s.contains("3aberto"))
            },
        )
        .await;
    assert!(held.as_str().unwrap().contains("guardado durante a pausa"), "{held}");
    wd.execute("document.querySelector('#rows tr').click()", json!([])).await;
    wd.wait_for(
        "its detail",
        WAIT,
        "return document.querySelector('#detail-title')?.textContent ?? ''",
        |v| v.as_str().is_some_and(|s| s.contains("Umidade Sala 5")),
    )
    .await;
    let emails = wd.execute("return [...document.querySelectorAll('#detail-timeline li[data-kind=email]')].map(li => li.textContent)", json!([])).await;
    let emails = emails.as_array().unwrap();
    assert_eq!(emails.len(), 3, "{emails:?}");
    assert!(emails[1].as_str().unwrap().contains("e-mail (repetição)"), "{emails:?}");
    wd.execute("document.querySelector('#acknowledge').click()", json!([])).await;
    wd.wait_for(
        "acknowledged in the window",
        WAIT,
        "return document.querySelector('#detail-state')?.textContent ?? ''",
        |v| v.as_str().is_some_and(|s| s.starts_with("reconhecido — por no Sentinela")),
    )
    .await;
    wd.execute("document.querySelector('#resolve').click()", json!([])).await;
    wd.wait_for(
        "resolved in the window",
        WAIT,
        "return document.querySelector('#detail-state')?.textContent ?? ''",
        |v| v.as_str().is_some_and(|s| s.starts_with("resolvido")),
    )
    .await;
    wait_until("the resolved notification", WAIT, || {
        desktop.notifications().contains("Incidente resolvido #3")
    });
    assert_eq!(fake.called_numbers().len(), 2, "nobody was called during the pause");
    click("Retomar notificações");
    wd.wait_for(
        "the pause lifted",
        WAIT,
        "return document.querySelector('#engine-status').textContent",
        |v| v.as_str().is_some_and(|s| s.contains("Vigiando")),
    )
    .await;

    // --- Taken from the phone: Ana's WhatsApp reply shows in the open window, with her name.
    fake.script_call(C1, CallScript::NoAnswer);
    fake.set_no_answer_ms(20_000);
    server.append("INBOX", &plain(SENSOR, "ALERTA Fumaça na Sala 7", "detector 2")).await;
    wd.wait_for(
        "the new incident in the list",
        WAIT,
        "return document.querySelector('#rows tr td:nth-child(2)')?.textContent ?? ''",
        |v| v.as_str().is_some_and(|s| s.contains("Fumaça na Sala 7")),
    )
    .await;
    wait_until("its alarm on Ana's phone", WAIT, || {
        fake.bodies_to(WA1)
            .iter()
            .any(|b| b.contains("Fumaça na Sala 7") && b.contains("Responda *1* para assumir"))
    });
    fake.inbound(WA1, "+14155238886", "Ciente");
    wd.wait_for(
        "taken by Ana, in the window",
        WAIT,
        "return document.querySelector('#rows tr td:last-child')?.textContent ?? ''",
        |v| v.as_str().is_some_and(|s| s == "reconhecido — por Ana (WhatsApp)"),
    )
    .await;
    wait_until("the notification says who took it", WAIT, || {
        desktop.notifications().contains("por Ana")
    });
    wait_until("the ringing call cancelled", WAIT, || fake.canceled(C1));

    // --- The mailbox goes away: the tray and a notification say so, and again on recovery.
    let mut server = server;
    const NOT_WATCHING: &str = "Sentinela NÃO está vigiando a caixa de e-mail";
    // One was already sent: the failed start before the secrets were stored.
    let before = desktop.notifications().matches(NOT_WATCHING).count();
    server.kill();
    wait_until("the not-watching notification", WAIT, || {
        desktop.notifications().matches(NOT_WATCHING).count() > before
    });
    // What happened and what to do in the operator's language, the technical detail after it.
    let notifications = desktop.notifications();
    let alarm = &notifications[notifications.rfind(NOT_WATCHING).unwrap()..];
    assert!(alarm.contains("servidor de e-mail") && alarm.contains("Detalhe técnico: "), "{alarm}");
    wd.wait_for(
        "the problem in the window",
        WAIT,
        "return document.querySelector('#engine-status').className",
        |v| v.as_str().is_some_and(|s| s.contains("degraded")),
    )
    .await;
    server.restart();
    wait_until("the recovery notification", Duration::from_secs(90), || {
        desktop.notifications().contains("Sentinela voltou a vigiar a caixa de e-mail")
    });

    // --- Quit ends the app (the engine logs out first) and its windows.
    let logouts_before = server.log().matches("Logged out").count();
    click("Sair");
    let mut status = None;
    wait_until("the tray to quit", WAIT, || {
        status = tray.try_wait().unwrap();
        status.is_some()
    });
    assert!(status.unwrap().success(), "Quit ends the app cleanly: {status:?}");
    wait_until("the windows to close with it", WAIT, || {
        !std::process::Command::new("pgrep")
            .args(["-f", &data.display().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    });
    wait_until("the engine's LOGOUT", WAIT, || {
        server.log().matches("Logged out").count() > logouts_before
    });
    wd.close().await;

    // --- A window with no Sentinela running says so, and does not claim a save took effect.
    let wd =
        WebDriver::launch(desktop.driver_port, &workspace_binary("sentinela"), &window("settings"))
            .await;
    wd.wait_for(
        "nothing is watching, in the status line",
        WAIT,
        "return document.querySelector('#engine-status').textContent",
        |v| {
            v.as_str().is_some_and(|s| {
                s.starts_with("O Sentinela não está em execução: nada está sendo vigiado.")
            })
        },
    )
    .await;
    wd.wait_for(
        "the saved settings in the form",
        WAIT,
        "return document.querySelector('#mailbox-host').value",
        |v| v == &json!("localhost"),
    )
    .await;
    wd.execute("document.querySelector('#save').click()", json!([])).await;
    wd.wait_for(
        "saved, for the next start",
        WAIT,
        "return document.querySelector('#result').textContent",
        |v| v.as_str().is_some_and(|s| s.starts_with("Salvo. O Sentinela não está em execução")),
    )
    .await;
    wd.close().await;
}
