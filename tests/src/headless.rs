//! `sentinela-headless` as an administrator starts it: a real process with the IMAP password in
//! its environment (as a service manager would set it) and no inherited log settings.
//!
//! The same tests run the Windows build: `SENTINELA_TEST_HEADLESS` names a `sentinela-headless.exe`
//! and `SENTINELA_TEST_RUNNER` the program that runs it (`wine`), as cargo's own target runners
//! do (`scripts/windows test` sets both). Paths reach it as they are (`/tmp/…`): Wine starts the
//! program in the same folder, on its `Z:` drive, so an absolute Unix path is one on that drive.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::dovecot::PASSWORD;
use crate::workspace_binary;

/// The Windows binary under test, when this run tests the Windows build.
pub fn windows_exe() -> Option<PathBuf> {
    std::env::var_os("SENTINELA_TEST_HEADLESS").map(PathBuf::from)
}

/// The binary, ready for a subcommand.
pub fn command() -> Command {
    let mut c = match windows_exe() {
        Some(exe) => {
            let runner = std::env::var_os("SENTINELA_TEST_RUNNER").unwrap_or_else(|| "wine".into());
            let mut c = Command::new(runner);
            c.arg(exe);
            c
        }
        None => Command::new(workspace_binary("sentinela-headless")),
    };
    c.env("SENTINELA_IMAP_PASSWORD", PASSWORD).env_remove("SENTINELA_LOG").stdin(Stdio::null());
    c
}

/// How the tests whose e-mails come in large IMAP answers (a burst of forty, a long body) reach
/// Dovecot: implicit TLS, except under Wine, which has a bug Windows has not — when a TLS record
/// arrives cut in two, Wine 8.0's schannel says the whole record is missing (its
/// `SECBUFFER_MISSING` counts the record, not the bytes still to come), so schannel-rs waits for
/// bytes that never come. There these tests use a plain loopback connection; TLS through
/// schannel is exercised by the other Windows tests (`check`, tests/windows.rs).
pub fn security_for_large_answers() -> sentinela_engine::config::Security {
    use sentinela_engine::config::Security;
    if windows_exe().is_some() {
        Security::Plain
    } else {
        Security::Tls
    }
}

/// Whether `text` names the process holding the engine lock. Under Wine the holder's Windows
/// process id is not the id of the Unix process the test started, so only the name is checked.
pub fn names_the_holder(text: &str, pid: u32) -> bool {
    match windows_exe() {
        Some(_) => text.contains("sentinela-headless.exe, since"),
        None => text.contains(&format!("process {pid} sentinela-headless")),
    }
}

/// `run` on `config` with the journal in `data`, its log (stderr) going to the file `log`.
pub fn run_command(config: &Path, data: &Path, log: &Path) -> Command {
    let mut c = command();
    c.arg("run")
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    c
}

/// `run` as a Tokio child with the Twilio fake's token, killed when dropped.
pub fn spawn_notifying(config: &Path, data: &Path, log: &Path) -> tokio::process::Child {
    let mut c = tokio::process::Command::from(run_command(config, data, log));
    c.env("SENTINELA_TWILIO_AUTH_TOKEN", crate::twilio_fake::AUTH_TOKEN).kill_on_drop(true);
    c.spawn().unwrap()
}

/// Waits until the newest incident of the journal in `data` was taken by a call, and returns
/// that journal.
pub async fn taken_by_call(
    data: &Path,
    wait: std::time::Duration,
) -> sentinela_engine::journal::AlertJournal {
    use sentinela_engine::incident::AckVia;
    use sentinela_engine::journal::AlertJournal;
    crate::wait_for("the incident taken by the call", wait, || async {
        let j = AlertJournal::open_in_dir(data).ok()?;
        let i = j.incidents(1, None, false).await.ok()?.pop()?;
        (i.acknowledged_via == Some(AckVia::Call)).then_some(j)
    })
    .await
}

/// Everything a finished command printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
