//! The tray as it looks on screen, on a desktop whose panel has only an XEmbed system tray
//! (`trayer`): the app's icon is drawn there, a click opens its real GTK menu (the screenshot in
//! `docs/screenshots/tray-menu.png` is taken here), the keyboard picks "Abrir histórico", which
//! opens in a process of its own, the window's × ends that process and WebKit's with it (the tray
//! process never holds a webview), and "Sair" ends the app. Also: the log file in the OS log dir
//! records the work and no secret.

use std::time::Duration;

use sentinela_engine::config::Security;
use sentinela_tests::desktop::{child_processes, screenshots_dir, wait_until, Desktop, Tray};
use sentinela_tests::dovecot::{Dovecot, PASSWORD};
use sentinela_tests::workspace_binary;
use sentinela_tests::x11::{Area, KEY_DOWN, KEY_RETURN, X11};
use sentinela_tests::WAIT;

const UP: u32 = 0xff52;

/// The direct children of `parent` whose name starts with `prefix`.
fn children_named(parent: u32, prefix: &str) -> Vec<u32> {
    child_processes(parent)
        .into_iter()
        .filter(|(_, name)| name.starts_with(prefix))
        .map(|(pid, _)| pid)
        .collect()
}

/// The real app on `desktop`, configured for `server`, with the mailbox password in its
/// environment or not; returns it and the path of its log file (in the OS log dir).
fn launch(
    desktop: &Desktop,
    server: &Dovecot,
    with_password: bool,
) -> (std::process::Child, std::path::PathBuf) {
    let config = desktop.path("sentinela.toml");
    let data = desktop.path("data");
    server.config(Security::Tls).save(&config).unwrap();
    let mut command = desktop.command(workspace_binary("sentinela"));
    command
        .args([
            "--config",
            &config.display().to_string(),
            "--data-dir",
            &data.display().to_string(),
        ])
        .stderr(std::process::Stdio::null());
    if with_password {
        command.env("SENTINELA_IMAP_PASSWORD", PASSWORD);
    } else {
        command.env_remove("SENTINELA_IMAP_PASSWORD");
    }
    (
        command.spawn().unwrap(),
        desktop.path("home/.local/share/br.sentinela.app/logs/sentinela.log"),
    )
}

/// Stores the mailbox password in the desktop's Secret Service as another program would (not
/// through Sentinela's window).
fn store_password(desktop: &Desktop) {
    let mut store = desktop
        .command("secret-tool")
        .args([
            "store",
            "--label=Sentinela imap-password",
            "service",
            "sentinela",
            "username",
            "imap-password",
            "target",
            "default",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        store.stdin.take().unwrap().write_all(PASSWORD.as_bytes()).unwrap();
    }
    assert!(store.wait().unwrap().success(), "secret-tool stored the password");
}

/// Opens the tray menu with a click on the icon and returns the menu's area.
fn open_menu(x: &X11, icon: Area) -> Area {
    x.click(icon.centre());
    let mut menu = None;
    wait_until("the tray menu on screen", WAIT, || {
        menu = x.popups(150).into_iter().next();
        menu.is_some()
    });
    menu.unwrap()
}

#[test]
fn the_tray_menu_on_an_xembed_panel() {
    let server = Dovecot::start();
    let desktop = Desktop::start_with(Tray::XEmbed);
    let (mut app, log) = launch(&desktop, &server, true);

    // The log file, in the OS log dir, says when watching starts.
    wait_until("watching, in the log file", WAIT, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("mailbox: watching"))
    });

    // The icon is embedded in the panel's tray.
    let x = X11::connect(&desktop.display);
    let mut icon = None;
    wait_until("the tray icon on screen", WAIT, || {
        icon = x.windows_titled("sentinela").into_iter().find(|a| a.y < 40 && a.width >= 16);
        icon.is_some()
    });
    let icon = icon.unwrap();

    // A click opens the menu: its picture goes to the docs.
    let menu = open_menu(&x, icon);
    assert!(menu.width >= 150, "a menu with its items: {menu:?}");
    let left = menu.x.min(icon.x) as i32;
    let right = (menu.x as i32 + menu.width as i32).max(icon.x as i32 + icon.width as i32);
    let bottom = menu.y as i32 + menu.height as i32;
    desktop.screenshot_part(
        &screenshots_dir().join("tray-menu.png"),
        (left, 0, (right - left) as u32, bottom as u32),
    );

    // The keyboard walks the menu as a user's does: the status line cannot be chosen, the first
    // item that can is "Abrir histórico".
    x.key(KEY_DOWN);
    x.key(KEY_RETURN);
    let mut window = None;
    wait_until("the history window", WAIT, || {
        window = x.windows_titled("Sentinela — Histórico").into_iter().next();
        window.is_some()
    });
    let pid = app.id();
    let windows = children_named(pid, "sentinela");
    assert_eq!(windows.len(), 1, "the window is a process of its own, started by the tray");
    wait_until("WebKit's web process for the window", WAIT, || {
        !children_named(windows[0], "WebKitWebProces").is_empty()
    });
    let webkit = children_named(windows[0], "WebKit");
    assert!(children_named(pid, "WebKit").is_empty(), "the tray process holds no webview");

    // Its × (what a window manager sends) closes the window and ends its process, WebKit's too.
    x.close(window.unwrap().window);
    wait_until("the history window gone", WAIT, || {
        x.windows_titled("Sentinela — Histórico").is_empty()
    });
    wait_until("the window's process gone", WAIT, || children_named(pid, "sentinela").is_empty());
    let alive = |pid: &u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    wait_until("WebKit's processes to end with the window", WAIT, || !webkit.iter().any(alive));
    assert!(app.try_wait().unwrap().is_none(), "the app lives on in the tray");

    // "Sair" is the menu's last item: Up from the top reaches it.
    open_menu(&x, icon);
    x.key(UP);
    x.key(KEY_RETURN);
    let mut status = None;
    wait_until("the app to quit", WAIT, || {
        status = app.try_wait().unwrap();
        status.is_some()
    });
    assert!(status.unwrap().success(), "Quit ends the app cleanly: {status:?}");

    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("mailbox: watching") && !log.contains(PASSWORD),
        "the log has the work and no secret:\n{log}"
    );
}

/// A start that fails for want of a secret (a keyring still locked at login, a password not
/// stored yet) is tried again by itself: once the secret is in the Secret Service — put there by
/// another program, not through Sentinela's window — the app is watching without a click.
#[test]
fn a_failed_start_is_retried_until_the_secret_is_there() {
    let server = Dovecot::start();
    let desktop = Desktop::start_with(Tray::XEmbed);
    let (mut app, log) = launch(&desktop, &server, false);
    wait_until("the failed start, with its retry", WAIT, || {
        std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("the engine could not start (trying again in 2 s)"))
    });

    store_password(&desktop);
    wait_until("watching, without a click", Duration::from_secs(60), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("mailbox: watching"))
    });
    let _ = app.kill();
    let _ = app.wait();
}

/// A keyring still locked when the app starts (the session has not unlocked it yet): the read
/// waits for a prompt, the start fails after its time limit and is tried again by itself; once
/// the login unlocks the keyring, the app is watching without a click.
#[test]
fn a_start_blocked_by_a_locked_keyring_goes_on_once_it_is_unlocked() {
    let server = Dovecot::start();
    let desktop = Desktop::start_with(Tray::XEmbed);
    store_password(&desktop);
    desktop.lock_keyring();

    let (mut app, log) = launch(&desktop, &server, false);
    // Two refused starts (each waits out the keyring's 10 s limit): it goes on trying, ~25 s in.
    wait_until(
        "the start refused by the locked keyring, and refused again",
        Duration::from_secs(90),
        || {
            std::fs::read_to_string(&log).is_ok_and(|l| {
                l.matches("the engine could not start (trying again in").count() >= 2
            })
        },
    );
    let before = std::fs::read_to_string(&log).unwrap();
    assert!(
        !before.contains("mailbox: watching"),
        "nothing is watched while the keyring is locked:\n{before}"
    );
    assert!(
        before.contains("o cofre de senhas do sistema não pôde ser lido"),
        "the log says the keyring is the reason:\n{before}"
    );

    desktop.unlock_keyring();
    wait_until(
        "watching once the keyring is unlocked, without a click",
        Duration::from_secs(90),
        || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("mailbox: watching")),
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains(PASSWORD), "no secret in the log");
    let _ = app.kill();
    let _ = app.wait();
}
