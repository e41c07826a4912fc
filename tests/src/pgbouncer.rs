//! A real PgBouncer (Debian's `pgbouncer`, installed by `scripts/setup --test`) in front of a
//! test PostgreSQL, in the pooling mode a test asks for: what a team's DBA may put between the
//! workstations and the database.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sentinela_engine::journal::test_postgres::PASSWORD;

/// `nobody`: PgBouncer refuses to run as root.
const UID: u32 = 65534;

pub struct PgBouncer {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn readable_by_all(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl PgBouncer {
    /// PgBouncer on a free port, relaying database `postgres` to the server on `pg_port` with
    /// `pool_mode` (`session`, `transaction`): in transaction mode two server connections at
    /// most, so that clients share them; in session mode one per client.
    pub fn start(pg_port: u16, pool_mode: &str) -> PgBouncer {
        let dir = tempfile::Builder::new().prefix("sentinela-pgbouncer-").tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.path().display();
        let pool_size = if pool_mode == "transaction" { 2 } else { 20 };
        std::fs::write(dir.path().join("userlist.txt"), format!("\"sentinela\" \"{PASSWORD}\"\n"))
            .unwrap();
        std::fs::write(
            dir.path().join("pgbouncer.ini"),
            format!(
                "[databases]\npostgres = host=127.0.0.1 port={pg_port} dbname=postgres\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = scram-sha-256\nauth_file = {d}/userlist.txt\npool_mode = {pool_mode}\n\
                 default_pool_size = {pool_size}\nmax_client_conn = 50\nlogfile = {d}/pgbouncer.log\n\
                 ignore_startup_parameters = options,extra_float_digits\n"
            ),
        )
        .unwrap();
        let mut c = Command::new("/usr/sbin/pgbouncer");
        c.arg(dir.path().join("pgbouncer.ini")).stdout(Stdio::null()).stderr(Stdio::null());
        if is_root() {
            readable_by_all(dir.path(), 0o777);
            for f in ["userlist.txt", "pgbouncer.ini"] {
                readable_by_all(&dir.path().join(f), 0o644);
            }
            c.uid(UID).gid(UID);
        }
        let child = c.spawn().unwrap_or_else(|e| {
            panic!("pgbouncer not found ({e}): scripts/setup --test installs Debian's pgbouncer")
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen: {}",
                std::fs::read_to_string(dir.path().join("pgbouncer.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        PgBouncer { port, child, _dir: dir }
    }
}
