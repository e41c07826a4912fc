//! A real PostgreSQL server for the tests, one private cluster per test: `initdb` into a temp
//! dir (under a second), the server run as a child on a free loopback port, as an unprivileged
//! user when the tests run as root (PostgreSQL refuses root, as Dovecot's mail processes do).
//! A test can kill it (SIGKILL) and start it again on the same port and data.
//!
//! The binaries are Debian's `postgresql` package (`scripts/setup --test` installs it), found
//! in `/usr/lib/postgresql/<version>/bin`, or `SENTINELA_PG_BIN`, or the `PATH`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::postgres::SharedJournal;
use super::AlertJournal;

/// The unprivileged user the server runs as when the tests run as root (nobody).
const SERVER_UID: u32 = 65534;
/// The password of the database user `sentinela` (the server asks it: SCRAM, as a real one does).
pub const PASSWORD: &str = "s3nha-do-journal";

pub struct TestPostgres {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
    bin: PathBuf,
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SENTINELA_PG_BIN") {
        return dir.into();
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    versions.pop().unwrap_or_default()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TestPostgres {
    /// A fresh cluster, started and accepting connections.
    pub fn start() -> TestPostgres {
        let dir = tempfile::Builder::new().prefix("sentinela-postgres-").tempdir().unwrap();
        let bin = bin_dir();
        let mut pg = TestPostgres { dir, child: None, port: free_port(), bin };
        let root = is_root();
        if root {
            chown(pg.dir.path());
        }
        let pwfile = pg.dir.path().join("pwfile");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if root {
            chown(&pwfile);
        }
        let mut initdb = pg.command("initdb");
        initdb
            .arg("-D")
            .arg(pg.data())
            .args([
                "-A",
                "scram-sha-256",
                "-U",
                "sentinela",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ])
            .arg(format!("--pwfile={}", pwfile.display()));
        let out = initdb.output().unwrap_or_else(|e| {
            panic!(
                "initdb not found in {} ({e}): scripts/setup --test installs Debian's postgresql",
                pg.bin.display()
            )
        });
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        // TLS offered as a real server would (the tests' engines mostly use sslmode=disable): a
        // self-signed certificate for the name "localhost" only, so 127.0.0.1 fails verify-full.
        let (cert, key) = (pg.cert_path(), pg.dir.path().join("server.key"));
        let made = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl (scripts/setup installs it)");
        assert!(made.success(), "openssl could not make the server's certificate");
        if root {
            chown(&cert);
            chown(&key);
        }
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        pg.spawn();
        pg
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(if self.bin.as_os_str().is_empty() {
            PathBuf::from(program)
        } else {
            self.bin.join(program)
        });
        if is_root() {
            c.uid(SERVER_UID).gid(SERVER_UID);
        }
        c.env("HOME", self.dir.path()).stdout(Stdio::null()).stderr(Stdio::piped());
        c
    }

    /// The server's certificate (for "localhost"), to trust with `sslrootcert`.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    /// Where the server keeps everything: its data, its certificate, its log.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Starts the server (again) on the same port and data, and waits until it takes queries.
    pub fn spawn(&mut self) {
        self.child = Some(self.start_postmaster());
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = self.superuser_url();
        loop {
            // The blocking driver must not run on a tokio thread: check from a plain one.
            let url = url.clone();
            let ready = std::thread::spawn(move || {
                postgres::Client::connect(&url, postgres::NoTls).is_ok()
            })
            .join()
            .unwrap_or(false);
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start within 20 s:\n{}",
                self.log()
            );
            // A killed server's backends end on their own a moment later (they run in sessions of
            // their own, out of the killed group), and until then the new server finds their
            // shared memory in use and exits: start it again.
            if self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().is_ok_and(|exited| exited.is_some()))
            {
                let _ = std::fs::remove_file(self.data().join("postmaster.pid"));
                self.child = Some(self.start_postmaster());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn start_postmaster(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let mut c = self.command("postgres");
        c.arg("-D")
            .arg(self.data())
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=40",
                "-c",
                "ssl=on",
            ])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", self.cert_path().display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", self.dir.path().join("server.key").display()))
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.path().display()))
            .stderr(log)
            .process_group(0);
        c.spawn().expect("postgres starts")
    }

    /// Kills the server at once (SIGKILL): every client's connection breaks.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The whole group: the postmaster's children die with it.
            unsafe_kill_group(child.id());
            let _ = child.wait();
        }
        // A killed postmaster leaves its pid file; the next start must not wait on it.
        let _ = std::fs::remove_file(self.data().join("postmaster.pid"));
    }

    /// Kills and starts again: what a database restart looks like to the engines.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// `postgres://sentinela@127.0.0.1:PORT/postgres?sslmode=disable`: the URL a config holds.
    pub fn url(&self) -> String {
        Self::url_at(self.port)
    }

    /// The URL a config holds to reach this server through a relay listening on `port`.
    pub fn url_at(port: u16) -> String {
        format!("postgres://sentinela@127.0.0.1:{port}/postgres?sslmode=disable")
    }

    /// The URL with the password in it, for the harness's own connections only (Sentinela
    /// refuses such a URL).
    fn superuser_url(&self) -> String {
        format!("postgres://sentinela:{PASSWORD}@127.0.0.1:{}/postgres", self.port)
    }

    pub fn password() -> crate::secrets::Secret {
        crate::secrets::Secret::new(PASSWORD)
    }

    pub fn shared(&self, workstation: &str) -> SharedJournal {
        SharedJournal::new(&self.url(), Some(&Self::password()), workstation).unwrap()
    }

    /// The journal on this server, its schema made.
    pub async fn journal(&self) -> AlertJournal {
        AlertJournal::open_shared(self.shared("test")).await.unwrap()
    }

    /// Runs one SQL statement as the superuser and returns the first column of each row, as text.
    pub fn query(&self, sql: &str) -> Vec<String> {
        let (url, sql) = (self.superuser_url(), sql.to_owned());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.simple_query(&sql)
                .unwrap()
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("").to_owned()),
                    _ => None,
                })
                .collect()
        })
        .join()
        .unwrap()
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.kill();
    }
}

fn unsafe_kill_group(pid: u32) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
}

fn chown(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let status =
        Command::new("chown").arg(format!("{SERVER_UID}:{SERVER_UID}")).arg(dir).status().unwrap();
    assert!(status.success());
}
