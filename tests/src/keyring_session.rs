//! A private D-Bus session with gnome-keyring's Secret Service, unlocked: the OS keyring a
//! headless `sentinela-headless` finds on a Linux desktop, without a display. The programs a
//! test runs in it get its bus, HOME and runtime dir from [`KeyringSession::env`].

use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

pub struct KeyringSession {
    dir: TempDir,
    bus: String,
    daemon: Child,
}

impl KeyringSession {
    pub fn start() -> KeyringSession {
        let dir = tempfile::Builder::new().prefix("sentinela-keyring-").tempdir().unwrap();
        for sub in ["home", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::set_permissions(
            dir.path().join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let (daemon, bus) = spawn_session_bus();
        let session = KeyringSession { dir, bus, daemon };
        start_gnome_keyring(session.command("gnome-keyring-daemon"), &[]);
        session
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The environment that puts a program in this session.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS", self.bus.clone()),
            ("HOME", self.path("home").display().to_string()),
            ("XDG_RUNTIME_DIR", self.path("run").display().to_string()),
        ]
    }

    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env()).env_remove("SENTINELA_IMAP_PASSWORD").stdin(Stdio::null());
        c
    }

    /// The secret stored for Sentinela under `user`, read as any other program would.
    pub fn lookup(&self, user: &str) -> Option<String> {
        let out = self
            .command("secret-tool")
            .args(["lookup", "service", "sentinela", "username", user])
            .output()
            .unwrap();
        let value = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && !value.is_empty()).then_some(value)
    }
}

/// A private D-Bus session bus and its address (read from its first line of output).
pub fn spawn_session_bus() -> (Child, String) {
    let mut daemon = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon (scripts/setup --test installs dbus)");
    let mut line = String::new();
    BufReader::new(daemon.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (daemon, line.trim().to_owned())
}

/// gnome-keyring's Secret Service on the bus `command` carries, its login keyring unlocked with
/// the password it reads on stdin (as PAM does at login).
pub fn start_gnome_keyring(mut command: Command, extra: &[&str]) {
    let mut keyring = command
        .args(["--unlock", "--components=secrets"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gnome-keyring-daemon (scripts/setup --test)");
    keyring.stdin.take().unwrap().write_all(b"keyring-pass").unwrap();
    assert!(keyring.wait().unwrap().success(), "gnome-keyring-daemon started");
}

impl Drop for KeyringSession {
    fn drop(&mut self) {
        // gnome-keyring-daemon leaves with its bus.
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
