//! A real Dovecot IMAP server for the tests, one private instance per test.
//!
//! Each instance lives in its own temp dir with a generated certificate, listens on two free
//! loopback ports (plain+STARTTLS and implicit TLS) and runs in its own process group, so a test
//! can kill it (SIGKILL: clients see EOF) or stop it (SIGTERM: clients get BYE) and restart it on
//! the same ports. The recipe is in `docs/testing.md`.

use std::io::{Read, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sentinela_engine::config::{
    Config, FilterConfig, MailboxConfig, Security, DEFAULT_MAX_MESSAGE_BYTES,
};
use sentinela_engine::imap::{connect, ImapSession};
use sentinela_engine::secrets::Secret;
use tempfile::TempDir;

pub const USER: &str = "alertas@cpd.test";
pub const PASSWORD: &str = "s3nha-de-teste";
/// A folder the test user may read but not change (Dovecot ACL `lr`): STORE is refused there.
pub const READ_ONLY_FOLDER: &str = "Leitura";

/// The sender and subject the default test configuration watches for.
pub const SENSOR: &str = "sensor@cpd.example.com.br";
pub const SUBJECT: &str = "ALERTA";
/// Dovecot runs mail processes as this uid/gid (nobody); it refuses to run them as root.
const MAIL_UID: u32 = 65534;

pub struct Dovecot {
    dir: TempDir,
    child: Option<Child>,
    pub imap_port: u16,
    pub imaps_port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn dovecot_binary() -> &'static str {
    if Path::new("/usr/sbin/dovecot").exists() {
        "/usr/sbin/dovecot"
    } else {
        "dovecot"
    }
}

impl Dovecot {
    /// Starts a fresh instance and waits until it greets.
    pub fn start() -> Dovecot {
        Self::start_with(true, None)
    }

    /// An instance that also takes `XOAUTH2` and `OAUTHBEARER`, validating the tokens against
    /// the authorization server on `oauth_port` (token introspection, as a provider's IMAP
    /// front end does); the password still works too.
    pub fn start_with_oauth(oauth_port: u16) -> Dovecot {
        Self::start_with(true, Some(oauth_port))
    }

    /// An instance that does not announce IDLE, like servers that only support polling.
    pub fn start_without_idle() -> Dovecot {
        Self::start_with(false, None)
    }

    fn start_with(idle: bool, oauth: Option<u16>) -> Dovecot {
        // A port picked free can be taken before Dovecot binds it; try again on exit 89.
        for _ in 0..5 {
            let dir = tempfile::Builder::new().prefix("sentinela-dovecot-").tempdir().unwrap();
            let mut d =
                Dovecot { dir, child: None, imap_port: free_port(), imaps_port: free_port() };
            d.write_files(idle, oauth);
            if d.spawn().is_ok() {
                return d;
            }
        }
        panic!("could not start Dovecot on free ports after 5 tries");
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir().join("cert.pem")
    }

    fn maildir(&self) -> PathBuf {
        self.dir().join("home/testuser/Maildir")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("dovecot.log")).unwrap_or_default()
    }

    fn write_files(&self, idle: bool, oauth: Option<u16>) {
        let d = self.dir();
        let status = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-keyout"])
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem"))
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl must be installed (scripts/setup installs it)");
        assert!(status.success(), "openssl could not make a test certificate");
        std::fs::create_dir_all(d.join("home/testuser")).unwrap();
        std::fs::write(
            d.join("users"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::{}::\n", d.join("home/testuser").display()),
        )
        .unwrap();
        set_mode(d, 0o755);
        chown_tree(&d.join("home"));
        let p = self.imap_port;
        let conf = format!(
            r#"instance_name = sentinela-test-{p}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
shutdown_clients = yes
login_greeting = dovecot-test-{p} ready
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login{oauth_mechanisms}
disable_plaintext_auth = no
auth_failure_delay = 0
{oauth_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
mail_uid = {MAIL_UID}
mail_gid = {MAIL_UID}
mail_location = maildir:~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
}}
mail_plugins = $mail_plugins acl
protocol imap {{
  mail_plugins = $mail_plugins imap_acl
  mail_max_userip_connections = 100
}}
plugin {{
  # One folder the user may read but not flag: a shared or read-only folder.
  acl = vfile:{d}/global-acl
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {p}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls}
    ssl = yes
  }}
}}
"#,
            d = d.display(),
            tls = self.imaps_port,
            oauth_mechanisms = if oauth.is_some() { " xoauth2 oauthbearer" } else { "" },
            oauth_passdb = if oauth.is_some() {
                format!("passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}/oauth2.conf\n}}\n", d.display())
            } else {
                String::new()
            },
        );
        if let Some(port) = oauth {
            // Introspection of opaque tokens (no cache: a revoked token stops at once); the idle
            // limit stays under Node's 5 s keep-alive so neither side closes under the other.
            let issuer = format!("http://127.0.0.1:{port}");
            std::fs::write(
                d.join("oauth2.conf"),
                format!(
                    "introspection_mode = post\n\
                     introspection_url = http://dovecot:dovecot-secret@127.0.0.1:{port}/token/introspection\n\
                     username_attribute = username\n\
                     username_format = %Lu\n\
                     active_attribute = active\n\
                     active_value = true\n\
                     scope = imap\n\
                     max_idle_time_msecs = 1000\n\
                     openid_configuration_url = {issuer}/.well-known/openid-configuration\n"
                ),
            )
            .unwrap();
        }
        let conf = if idle {
            conf
        } else {
            // The capability list after login, without IDLE.
            conf
                + "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS\n"
        };
        std::fs::write(d.join("dovecot.conf"), conf).unwrap();
        std::fs::write(d.join("global-acl"), format!("{READ_ONLY_FOLDER} user={USER} lr\n"))
            .unwrap();
    }

    fn spawn(&mut self) -> Result<(), ()> {
        // A stale run dir stalls authentication for seconds.
        let _ = std::fs::remove_dir_all(self.dir().join("run"));
        let child = Command::new(dovecot_binary())
            .arg("-F")
            .arg("-c")
            .arg(self.dir().join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("dovecot must be installed (scripts/setup installs dovecot-imapd)");
        self.child = Some(child);
        let greeting = format!("dovecot-test-{} ready", self.imap_port);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                if status.code() == Some(89) {
                    return Err(()); // port taken
                }
                panic!("dovecot exited with {status}; log:\n{}", self.log());
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.imap_port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 256];
                if let Ok(n) = s.read(&mut buf) {
                    if String::from_utf8_lossy(&buf[..n]).contains(&greeting) {
                        let _ = s.write_all(b"a LOGOUT\r\n");
                        return Ok(());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("dovecot did not greet within 15 s; log:\n{}", self.log());
    }

    fn signal_group(&mut self, signal: libc::c_int) {
        if let Some(mut child) = self.child.take() {
            let pgid = child.id() as libc::pid_t;
            assert!(pgid > 1, "refusing to signal process group {pgid}");
            // SAFETY: killpg has no memory-safety preconditions; the group is the child's own
            // (spawned with process_group(0)), so nothing else is signalled.
            unsafe { libc::killpg(pgid, signal) };
            // Reap it: a zombie whose PID is in master.pid makes the next start refuse.
            let _ = child.wait();
            // The per-client imap processes are in the same group; give them a moment to go.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the whole server at once (clients see EOF, no BYE).
    pub fn kill(&mut self) {
        self.signal_group(libc::SIGKILL);
    }

    /// Starts the server again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn().expect("restart on the same ports");
    }

    /// Delivers an e-mail straight into the Maildir, as an MTA would while the IMAP server is down.
    pub fn deliver_to_maildir(&self, raw: &[u8]) {
        self.deliver_many_to_maildir([raw]);
    }

    /// Delivers e-mails straight into the Maildir, in order (a flood, for the benchmark).
    pub fn deliver_many_to_maildir<'a>(&self, mails: impl IntoIterator<Item = &'a [u8]>) {
        self.deliver_to_folder("INBOX", mails);
    }

    /// Delivers e-mails straight into `folder`'s Maildir (created if needed), in order — the
    /// way into [`READ_ONLY_FOLDER`], where the user cannot APPEND.
    pub fn deliver_to_folder<'a>(&self, folder: &str, mails: impl IntoIterator<Item = &'a [u8]>) {
        let dir = if folder == "INBOX" {
            self.maildir()
        } else {
            self.maildir().join(format!(".{folder}"))
        };
        let new = dir.join("new");
        std::fs::create_dir_all(&new).unwrap();
        for sub in ["cur", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for (n, raw) in mails.into_iter().enumerate() {
            let name = format!(
                "{}.{n:06}.sentinela-test.{}",
                chrono::Utc::now().timestamp_nanos_opt().unwrap(),
                std::process::id()
            );
            std::fs::write(new.join(name), raw).unwrap();
        }
        chown_tree(&self.dir().join("home"));
    }

    /// A configuration for this server: implicit TLS, the generated certificate as trust anchor,
    /// watching INBOX for [`SENSOR`] / [`SUBJECT`].
    pub fn config(&self, security: Security) -> Config {
        Config {
            mailbox: MailboxConfig {
                host: "localhost".into(),
                port: Some(match security {
                    Security::Tls => self.imaps_port,
                    _ => self.imap_port,
                }),
                security,
                username: USER.into(),
                folder: "INBOX".into(),
                ca_file: self.cert_path(),
                rescan_secs: 20,
                mark_seen: true,
                max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
                oauth2: None,
            },
            filter: FilterConfig {
                from: vec![SENSOR.into()],
                subject: SUBJECT.into(),
                search: String::new(),
                silence_alarm_hours: 0,
                authserv_id: String::new(),
            },
            twilio: None,
            whatsapp: None,
            calls: None,
            sms: None,
            incidents: Default::default(),
            people: Default::default(),
            heartbeat: None,
            history: Default::default(),
            journal: None,
        }
    }

    pub fn password() -> Secret {
        Secret::new(PASSWORD)
    }

    /// A separate client session (implicit TLS), as another mail program would have.
    pub async fn client(&self) -> ImapSession {
        connect(&self.config(Security::Tls).mailbox, &Self::password().into())
            .await
            .expect("test client login")
            .0
    }

    /// Appends a message to `folder` and returns its UID.
    pub async fn append(&self, folder: &str, raw: &[u8]) -> u32 {
        let mut s = self.client().await;
        s.append(folder, None, None, raw).await.expect("APPEND");
        s.select(folder).await.unwrap();
        let uid = s.uid_search("ALL").await.unwrap().into_iter().max().unwrap();
        let _ = s.logout().await;
        uid
    }

    /// The UIDs in `folder` with and without `\Seen`: (seen, unseen), ascending.
    pub async fn seen_state(&self, folder: &str) -> (Vec<u32>, Vec<u32>) {
        let mut s = self.client().await;
        s.examine(folder).await.unwrap();
        let mut seen: Vec<u32> = s.uid_search("SEEN").await.unwrap().into_iter().collect();
        let mut unseen: Vec<u32> = s.uid_search("UNSEEN").await.unwrap().into_iter().collect();
        seen.sort_unstable();
        unseen.sort_unstable();
        let _ = s.logout().await;
        (seen, unseen)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown_tree(path: &Path) {
    // Dovecot serves mail as `nobody`; the harness runs as root (as CI does) and hands it over.
    let _ =
        Command::new("chown").arg("-R").arg(format!("{MAIL_UID}:{MAIL_UID}")).arg(path).status();
}
