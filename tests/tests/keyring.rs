//! Secrets in a real OS keyring: gnome-keyring's Secret Service in a private D-Bus session.
//!
//! `store-secret` puts the IMAP password in the keyring, then `check` logs in to a real Dovecot
//! with no password in the environment or the file. Without any keyring, the error says so.

use std::path::Path;
use std::process::Command;

use sentinela_engine::config::Security;
use sentinela_tests::dovecot::{Dovecot, PASSWORD};
use sentinela_tests::workspace_binary;
use tempfile::TempDir;

/// Runs `script` in a private D-Bus session with an unlocked gnome-keyring, HOME in `dir`.
fn in_keyring_session(dir: &Path, script: &str) -> (bool, String) {
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let full = format!(
        "eval \"$(printf keyring-pass | gnome-keyring-daemon --unlock --components=secrets)\"\n{script}"
    );
    let out = Command::new("timeout")
        .args(["60", "dbus-run-session", "--", "bash", "-euc", &full])
        .env("HOME", dir.join("home"))
        .env("XDG_RUNTIME_DIR", &run)
        .env_remove("SENTINELA_IMAP_PASSWORD")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("SENTINELA", workspace_binary("sentinela-headless"))
        .output()
        .expect("dbus-run-session and gnome-keyring must be installed (scripts/setup --test)");
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

fn grep_tree(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            hits.extend(grep_tree(&p, needle));
        } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            hits.push(p.display().to_string());
        }
    }
    hits
}

#[test]
fn the_imap_password_lives_in_the_keyring_and_check_uses_it() {
    let server = Dovecot::start();
    let dir = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    let config = dir.path().join("sentinela.toml");
    server.config(Security::Tls).save(&config).unwrap();

    let (ok, out) = in_keyring_session(
        dir.path(),
        &format!(
            "printf '{PASSWORD}\\n' | \"$SENTINELA\" store-secret imap-password\n\
             secret-tool lookup service sentinela username imap-password; echo\n\
             \"$SENTINELA\" check --config {}",
            config.display()
        ),
    );
    assert!(ok, "{out}");
    assert!(out.contains("Stored the IMAP password in the OS keyring"), "{out}");
    assert!(
        out.contains(&format!("{PASSWORD}\n")),
        "secret-tool finds it in the Secret Service: {out}"
    );
    assert!(
        out.contains("Mailbox: logged in to localhost"),
        "check logged in with the keyring's password: {out}"
    );
    assert!(
        grep_tree(dir.path(), PASSWORD.as_bytes()).is_empty(),
        "the password is in no file in plain text"
    );
}

#[test]
fn without_a_keyring_the_error_says_so_and_how_to_fix_it() {
    let server = Dovecot::start();
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("sentinela.toml");
    server.config(Security::Tls).save(&config).unwrap();
    let out = Command::new(workspace_binary("sentinela-headless"))
        .arg("check")
        .arg("--config")
        .arg(&config)
        .env_remove("SENTINELA_IMAP_PASSWORD")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("IMAP password"), "{text}");
    assert!(text.contains("SENTINELA_IMAP_PASSWORD"), "the fix is named: {text}");
}
