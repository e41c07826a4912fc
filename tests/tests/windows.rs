//! The Windows build of `sentinela-headless.exe`, run under Wine against the same Dovecot and
//! Twilio fake as the Linux tests: what only Windows has — the configuration and journal in the
//! profile of a user whose name is not ASCII, a file as Notepad writes it, the IMAP password in
//! Credential Manager — and a whole escalation across a restart, as an operator meets it.
//!
//! `scripts/windows test` runs this file (with `--features windows-e2e`, which `cargo test
//! --workspace` leaves out) after building the exe and a Wine prefix for `USER=João`; it sets
//! `SENTINELA_TEST_HEADLESS`, `WINEPREFIX` and `USER`, and without them these tests fail saying so.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sentinela_engine::incident::{IncidentState, ResolveVia};
use sentinela_engine::journal::AlertJournal;
use sentinela_tests::dovecot::{Dovecot, PASSWORD, SENSOR};
use sentinela_tests::headless::{self, text};
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, C2, WA1, WA2};
use sentinela_tests::scenario::Scenario;
use sentinela_tests::twilio_fake::{CallScript, TwilioFake};
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;
use tempfile::TempDir;
use tokio::process::Command;

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run these tests through `scripts/windows test`, which builds the Windows binaries and a Wine prefix"))
}

/// The Windows user's profile folder, as the Linux side sees it inside the Wine prefix.
fn profile() -> PathBuf {
    required("SENTINELA_TEST_HEADLESS");
    PathBuf::from(required("WINEPREFIX")).join("drive_c/users").join(required("USER"))
}

fn told(fake: &TwilioFake, number: &str, mark: &str) -> usize {
    fake.bodies_to(number).iter().filter(|b| b.starts_with(mark)).count()
}

#[tokio::test]
async fn a_notepad_configuration_in_joaos_profile_and_the_password_in_credential_manager() {
    let profile = profile();
    assert!(
        !profile.file_name().unwrap().to_str().unwrap().is_ascii(),
        "the test user's name must not be ASCII: {}",
        profile.display()
    );
    let roaming = profile.join("AppData/Roaming/Sentinela/config");
    let local = profile.join("AppData/Local/Sentinela/data");
    let _ = std::fs::remove_dir_all(&local);
    std::fs::create_dir_all(&roaming).unwrap();

    let server = Dovecot::start();
    let config = server.config(sentinela_engine::config::Security::Tls);
    let scratch = TempDir::new().unwrap();
    config.save(&scratch.path().join("c.toml")).unwrap();
    let written = std::fs::read_to_string(scratch.path().join("c.toml")).unwrap();
    // As Notepad saves it: a byte-order mark, CRLF line ends.
    let notepad = format!("\u{FEFF}{}", written.replace('\n', "\r\n"));
    std::fs::write(roaming.join("sentinela.toml"), notepad).unwrap();

    // No password anywhere yet (the prefix outlives a run: what an earlier one stored in Wine's
    // Credential Manager is removed): `check` says which secret is missing and how to store it.
    let _ = std::process::Command::new(
        std::env::var_os("SENTINELA_TEST_RUNNER").unwrap_or_else(|| "wine".into()),
    )
    .args(["reg", "delete", r"HKCU\Software\Wine\Credential Manager", "/f"])
    .output();
    let mut check = headless::command();
    check.env_remove("SENTINELA_IMAP_PASSWORD").arg("check");
    let out = check.output().unwrap();
    let said = text(&out);
    assert!(!out.status.success() && said.contains("store-secret imap-password"), "{said}");
    assert!(
        said.contains("Configuration OK: C:\\users\\")
            && said.contains("\\AppData\\Roaming\\Sentinela\\config\\sentinela.toml"),
        "the file found in the roaming profile: {said}"
    );
    let user = profile.file_name().unwrap().to_str().unwrap();
    assert!(said.contains(user), "the profile's own name, not mangled: {said}");

    let mut store = headless::command();
    store
        .env_remove("SENTINELA_IMAP_PASSWORD")
        .args(["store-secret", "imap-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = store.spawn().unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));

    // From Credential Manager, with no file or variable holding it.
    let mut run = Command::from(headless::command());
    run.env_remove("SENTINELA_IMAP_PASSWORD")
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut engine = run.spawn().unwrap();
    server
        .append(
            "INBOX",
            &plain(SENSOR, "ALERTA Temperatura crítica — Sala João", "32 °C no rack B"),
        )
        .await;
    let journal = wait_for("the alert journaled in the local profile", WAIT, || async {
        let j = AlertJournal::open_in_dir(&local).ok()?;
        (j.alert_count().await.ok()? == 1).then_some(j)
    })
    .await;
    engine.kill().await.unwrap();
    let alert = journal.alerts(1).await.unwrap().remove(0);
    assert_eq!(alert.subject, "ALERTA Temperatura crítica — Sala João");
    assert!(
        !profile.join("AppData/Roaming/Sentinela/data").exists(),
        "the journal is not in the roaming profile"
    );
}

/// Alarm → WhatsApp and a call a person answers → a repeat that joins → a restart → the
/// recovery that resolves: one call, one alarm message each, one Resolvido each.
#[tokio::test]
async fn an_alarm_is_escalated_joined_and_resolved_across_a_restart() {
    required("SENTINELA_TEST_HEADLESS");
    let mut s = Scenario::new(&[WA1, WA2], &[C1, C2], 1).await;
    s.config.filter.subject = "Temperatura".into();
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 200 });
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sentinela.toml");
    s.config.save(&path).unwrap();
    let data = dir.path().join("data");
    let run =
        |n: u32| headless::spawn_notifying(&path, &data, &dir.path().join(format!("run{n}.log")));

    let mut first = run(1);
    s.server
        .append(
            "INBOX",
            &plain(SENSOR, "ALERTA: Temperatura crítica na Sala 2 — 31 °C", "leitura do sensor"),
        )
        .await;
    let journal = headless::taken_by_call(&data, WAIT).await;
    wait_for("both told of the alarm and of who took it", WAIT, || async {
        [WA1, WA2]
            .iter()
            .all(|to| told(&s.fake, to, "🚨") == 1 && told(&s.fake, to, "👍") == 1)
            .then_some(())
    })
    .await;
    assert!(
        s.fake.bodies_to(WA1)[0].contains("Temperatura crítica na Sala 2 — 31 °C"),
        "the text as written: {:?}",
        s.fake.bodies_to(WA1)
    );

    s.server
        .append(
            "INBOX",
            &plain(SENSOR, "ALERTA: Temperatura crítica na Sala 2 — 32 °C", "leitura do sensor"),
        )
        .await;
    let id = journal.incidents(1, None, false).await.unwrap()[0].id;
    wait_for("the repeat joined", WAIT, || async {
        (journal.incident(id).await.ok()??.emails == 2).then_some(())
    })
    .await;
    first.kill().await.unwrap();
    first.wait().await.unwrap();

    let mut second = run(2);
    s.server
        .append(
            "INBOX",
            &plain(SENSOR, "Temperatura na Sala 2 retornou ao normal", "leitura do sensor"),
        )
        .await;
    wait_for("the recovery resolved it", WAIT, || async {
        let i = journal.incident(id).await.ok()??;
        (i.state == IncidentState::Resolved && i.resolved_via == Some(ResolveVia::Recovery))
            .then_some(())
    })
    .await;
    for to in [WA1, WA2] {
        wait_for("Resolvido", WAIT, || async {
            (told(&s.fake, to, "✅ Resolvido") == 1).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    second.kill().await.unwrap();

    assert_eq!(s.fake.called_numbers(), [C1], "one call, across the restart");
    for to in [WA1, WA2] {
        assert_eq!(
            (told(&s.fake, to, "🚨"), told(&s.fake, to, "✅ Resolvido")),
            (1, 1),
            "{to}: {:?}",
            s.fake.bodies_to(to)
        );
    }
    let incident = journal.incident(id).await.unwrap().unwrap();
    assert_eq!(incident.emails, 3);
}

/// Where *Iniciar com o sistema* (and a first install) makes Windows start the app.
const RUN_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";

/// `wine reg query KEY`'s text, or None when the key does not exist.
fn registry(key: &str) -> Option<String> {
    let out = std::process::Command::new(
        std::env::var_os("SENTINELA_TEST_RUNNER").unwrap_or_else(|| "wine".into()),
    )
    .args(["reg", "query", key])
    .output()
    .unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The installer as an administrator runs it unattended (`/S`), in Portuguese (`/LANG=pt-BR`):
/// per user, Start-menu entries in Portuguese, the AppUserModelID registered, an entry in "Apps &
/// features", started with Windows (a first install; an update keeps the user's choice); the
/// installed engine runs. The uninstaller takes all of that away and keeps what is the user's:
/// the configuration, the journal and the secrets in Credential Manager.
#[tokio::test]
async fn the_installer_installs_for_the_user_and_the_uninstaller_keeps_their_data() {
    let profile = profile();
    let installer = required("SENTINELA_TEST_INSTALLER");
    let runner = std::env::var_os("SENTINELA_TEST_RUNNER").unwrap_or_else(|| "wine".into());
    let program = profile.join("AppData/Local/Programs/Sentinela");
    let start_menu = profile.join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs");
    let _ = std::fs::remove_dir_all(&program);
    // A first install, even after an earlier run of this test stopped half-way.
    let reg = |args: &[&str]| {
        std::process::Command::new(&runner).arg("reg").args(args).output().unwrap().status.success()
    };
    reg(&["delete", r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Sentinela", "/f"]);
    reg(&["delete", RUN_KEY, "/v", "Sentinela", "/f"]);
    let install = || {
        // Wine's Windows speaks English here: the administrator's `/LANG=pt-BR` picks Portuguese.
        let status = std::process::Command::new(&runner)
            .arg(&installer)
            .args(["/S", "/LANG=pt-BR"])
            .status()
            .unwrap();
        assert!(status.success(), "the installer failed: {status}");
    };
    install();
    for file in ["sentinela.exe", "sentinela-headless.exe", "WebView2Loader.dll", "uninstall.exe"] {
        assert!(program.join(file).is_file(), "{file} not installed in {}", program.display());
    }
    for entry in ["Sentinela.lnk", "Sentinela — Histórico.lnk", "Sentinela — Configurações.lnk"]
    {
        assert!(
            start_menu.join(entry).is_file(),
            "no Start-menu entry {entry}: {:?}",
            std::fs::read_dir(&start_menu)
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        );
    }
    let aumid = registry(r"HKCU\Software\Classes\AppUserModelId\br.sentinela.app")
        .expect("the AppUserModelID registered");
    assert!(aumid.contains("DisplayName") && aumid.contains("Sentinela"), "{aumid}");
    let listed = registry(r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Sentinela")
        .expect("listed in Apps & features");
    assert!(
        listed.contains("QuietUninstallString") && listed.contains("uninstall.exe"),
        "{listed}"
    );
    let version = std::process::Command::new(&runner)
        .arg(program.join("sentinela-headless.exe"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")),
        "{}",
        text(&version)
    );

    // A first install starts Sentinela with Windows; an update keeps what the user chose since
    // (unticking *Iniciar com o sistema* removes the value).
    let starts_with_windows = || {
        registry(RUN_KEY).is_some_and(|k| {
            k.contains("Sentinela") && k.contains(r"\Programs\Sentinela\sentinela.exe")
        })
    };
    assert!(starts_with_windows(), "a first install starts with Windows: {:?}", registry(RUN_KEY));
    assert!(reg(&["delete", RUN_KEY, "/v", "Sentinela", "/f"]));
    install();
    assert!(!starts_with_windows(), "an update keeps it unticked: {:?}", registry(RUN_KEY));
    let exe = format!(
        r"C:\users\{}\AppData\Local\Programs\Sentinela\sentinela.exe",
        profile.file_name().unwrap().to_str().unwrap()
    );
    assert!(reg(&["add", RUN_KEY, "/v", "Sentinela", "/d", &exe, "/f"]), "ticked again");

    // The user's own files, as the app leaves them.
    let config = profile.join("AppData/Roaming/Sentinela/config");
    let journal = profile.join("AppData/Local/Sentinela/data");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::create_dir_all(&journal).unwrap();
    std::fs::write(config.join("kept.toml"), "# kept\n").unwrap();
    std::fs::write(journal.join("kept.db"), "kept").unwrap();
    // A secret in Credential Manager, stored by the installed engine (Wine keeps Credential
    // Manager under this registry key).
    let vault = r"HKCU\Software\Wine\Credential Manager";
    let mut store = std::process::Command::new(&runner);
    store
        .arg(program.join("sentinela-headless.exe"))
        .args(["store-secret", "twilio-auth-token"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = store.spawn().unwrap();
    {
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "kept-token").unwrap();
    }
    assert!(child.wait().unwrap().success(), "store-secret through the installed engine");
    let stored = registry(vault).expect("the secret in Credential Manager");

    // The uninstaller copies itself away and runs from there: wait for it to finish.
    let status = std::process::Command::new(&runner)
        .arg(program.join("uninstall.exe"))
        .arg("/S")
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    // The copy goes on after `wine` returns, removing the program folder before the Start-menu
    // entries and the registry keys: wait for all of it, not for the first step.
    let uninstalled = || {
        !program.exists()
            && !start_menu.join("Sentinela.lnk").exists()
            && !start_menu.join("Sentinela — Histórico.lnk").exists()
            && registry(r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Sentinela")
                .is_none()
    };
    wait_for(
        "the program, its Start-menu entries and its Apps & features entry removed",
        Duration::from_secs(120),
        || async { uninstalled().then_some(()) },
    )
    .await;
    assert_eq!(registry(r"HKCU\Software\Classes\AppUserModelId\br.sentinela.app"), None);
    assert!(
        !registry(RUN_KEY).is_some_and(|k| k.contains("Sentinela")),
        "nothing starts a program that is gone: {:?}",
        registry(RUN_KEY)
    );
    assert!(
        config.join("kept.toml").is_file() && journal.join("kept.db").is_file(),
        "the user's configuration and journal are kept"
    );
    assert_eq!(registry(vault).as_deref(), Some(stored.as_str()), "the user's secrets are kept");
    std::fs::remove_file(config.join("kept.toml")).unwrap();
    std::fs::remove_file(journal.join("kept.db")).unwrap();
}

/// A Windows without the WebView2 runtime (an older Windows 10; Wine has none): a window's
/// process says what to install, in a native dialog and on stderr, and that the alerts go on —
/// not a silent exit. (No display here, so the dialog returns at once.)
#[tokio::test]
async fn a_window_without_webview2_says_what_to_install() {
    let desktop = required("SENTINELA_TEST_DESKTOP");
    let dir = TempDir::new().unwrap();
    let runner = std::env::var_os("SENTINELA_TEST_RUNNER").unwrap_or_else(|| "wine".into());
    let mut c = Command::new(runner);
    c.arg(&desktop)
        .args(["--window", "settings", "--data-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(dir.path().join("s.toml"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), c.output())
        .await
        .expect("the window process ended")
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("WebView2 Runtime")
            && said.contains("https://go.microsoft.com/fwlink/p/?LinkId=2124703")
            && said.contains("Alerts go on"),
        "{said}"
    );
}

/// Ends every Wine process of the prefix (and its wineserver): the next Wine program starts a
/// new one, with the environment it is given. Wine's desktop process (`explorer.exe`, which
/// docks tray icons) keeps the display it first started on.
fn end_wine() {
    let _ = std::process::Command::new("wineserver").arg("-k").status();
    let _ = std::process::Command::new("wineserver").arg("-w").status();
}

/// The desktop app's tray process, the Windows build under Wine, on an X display whose panel has
/// an XEmbed system tray (`trayer`; Wine docks Windows tray icons there): its icon is on the
/// panel, the engine it holds tells an alarm on WhatsApp and by a call, and a second start hands
/// over to the first and ends (single instance: the first opens the history window's process,
/// which says WebView2 is missing — Wine has none).
///
/// Its menu cannot be opened under Wine 8.0: `Shell_NotifyIconGetRect` is a stub there, and the
/// tray-icon crate drops a click whose icon has no rectangle. On Windows it has one.
#[tokio::test]
async fn the_tray_process_docks_its_icon_and_holds_the_engine() {
    use sentinela_tests::desktop::{Desktop, Tray};
    use sentinela_tests::x11::X11;
    let desktop_exe = required("SENTINELA_TEST_DESKTOP");
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 200 });
    let desktop = Desktop::start_with(Tray::XEmbed);
    let config = desktop.path("sentinela.toml");
    s.config.save(&config).unwrap();
    end_wine();
    let launch = || {
        let mut c = desktop.command("wine");
        c.arg(&desktop_exe)
            .args([
                "--config",
                &config.display().to_string(),
                "--data-dir",
                &desktop.path("data").display().to_string(),
            ])
            .env("SENTINELA_IMAP_PASSWORD", sentinela_tests::dovecot::PASSWORD)
            .env("SENTINELA_TWILIO_AUTH_TOKEN", sentinela_tests::twilio_fake::AUTH_TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut app = launch().spawn().unwrap();
    let x = X11::connect(&desktop.display);
    // Waited for without blocking the runtime: the Twilio fake answers the engine meanwhile.
    wait_for("the tray icon docked in the panel", WAIT, || async {
        (!x.docked_icons().is_empty()).then_some(())
    })
    .await;

    // The engine in the tray process tells an alarm.
    s.server
        .append(
            "INBOX",
            &plain(SENSOR, "ALERTA: Temperatura crítica na Sala 3 — 33 °C", "leitura do sensor"),
        )
        .await;
    wait_for("the alarm on WhatsApp and the call", WAIT, || async {
        (told(&s.fake, WA1, "🚨") == 1 && s.fake.called_numbers() == [C1]).then_some(())
    })
    .await;

    // A second start hands over to the first and ends.
    let second = launch().status().unwrap();
    assert!(second.success(), "the second start ends at once: {second}");
    assert!(app.try_wait().unwrap().is_none(), "the first lives on");
    wait_for("the history window's process, saying WebView2 is missing", WAIT, || async {
        (!x.windows_titled("Sentinela").is_empty()).then_some(())
    })
    .await;
    assert_eq!(x.docked_icons().len(), 1, "one icon: the second start made none");
    end_wine();
    assert!(s.fake.called_numbers() == [C1], "one call");
}
