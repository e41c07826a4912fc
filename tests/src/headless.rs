//! `sentinela-headless` as an administrator starts it: a real process with the IMAP password in
//! its environment (as a service manager would set it) and no inherited log settings.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::dovecot::PASSWORD;
use crate::workspace_binary;

/// The binary, ready for a subcommand.
pub fn command() -> Command {
    let mut c = Command::new(workspace_binary("sentinela-headless"));
    c.env("SENTINELA_IMAP_PASSWORD", PASSWORD).env_remove("SENTINELA_LOG").stdin(Stdio::null());
    c
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

/// Everything a finished command printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
