//! A real OAuth2 authorization server for the sign-in tests: `oidc-provider` (OpenID certified)
//! run by Node from `tests/oauth/server.mjs`, one private instance per test on a free loopback
//! port, with a short access-token lifetime when a test wants tokens to expire.
//!
//! [`OAuthServer::sign_in`] is the browser's part: it follows the provider's login and consent
//! pages with a cookie jar, as a person clicking through them would, and hands back the address
//! the provider finally redirects to — the loopback listener of the program signing in.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

/// The public native client (authorization code + PKCE, no secret), as registered for Sentinela.
pub const CLIENT_ID: &str = "sentinela";
/// The app-only client (client credentials) and its secret.
pub const APP_CLIENT_ID: &str = "sentinela-app";
pub const APP_CLIENT_SECRET: &str = "app-secret";
/// The scope the IMAP resource grants.
pub const SCOPE: &str = "imap";

pub struct OAuthServer {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

fn server_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oauth")
}

impl OAuthServer {
    /// Starts a server whose access tokens live `access_token_secs`.
    pub fn start(access_token_secs: u64) -> OAuthServer {
        let dir = server_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed in {}: run scripts/setup --test",
            dir.display()
        );
        let log_dir = tempfile::Builder::new().prefix("sentinela-oauth-").tempdir().unwrap();
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .arg(access_token_secs.to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log_dir.path().join("server.log")).unwrap())
            .process_group(0)
            .spawn()
            .expect("node (scripts/setup installs Node.js)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("ready ").and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            panic!("the OAuth2 server did not start: {line:?}; log: {}", std::fs::read_to_string(log_dir.path().join("server.log")).unwrap_or_default());
        };
        OAuthServer { child, port, dir: log_dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `[mailbox.oauth2]` for this server: the public client, its endpoints, the IMAP scope.
    pub fn config(&self) -> sentinela_engine::oauth::OAuth2Config {
        use sentinela_engine::oauth::*;
        OAuth2Config {
            provider: OAuthProvider::Other,
            client_id: CLIENT_ID.into(),
            tenant: String::new(),
            flow: SignInFlow::User,
            mechanism: SaslMechanism::Xoauth2,
            authorize_url: self.url("/auth"),
            token_url: self.url("/token"),
            device_url: self.url("/device/auth"),
            scope: SCOPE.into(),
        }
    }

    /// Every grant and token of `account` revoked at once ("remove app access" at the provider).
    pub async fn revoke(&self, account: &str) {
        let r = reqwest::Client::new().post(self.url(&format!("/test/revoke/{account}"))).send().await.unwrap();
        assert!(r.status().is_success(), "revoke: {}", r.status());
    }

    /// How many token requests (code exchanges, refreshes, client credentials) it answered.
    pub async fn token_requests(&self) -> u64 {
        let stats: serde_json::Value = reqwest::get(self.url("/test/stats")).await.unwrap().json().await.unwrap();
        stats["token_requests"].as_u64().unwrap()
    }

    /// A person in a browser: opens `authorize_url`, signs in as `account`, consents, and returns
    /// the address the provider redirects to (the loopback listener's, with `code` and `state`),
    /// without opening it.
    pub async fn sign_in(&self, authorize_url: &str, account: &str) -> String {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut next = authorize_url.to_owned();
        for _ in 0..12 {
            if next.starts_with("http://127.0.0.1:") && !next.starts_with(&self.url("")) {
                return next;
            }
            let r = browser.get(&next).send().await.unwrap();
            if r.status().is_redirection() {
                let location = r.headers()["location"].to_str().unwrap().to_owned();
                next = if location.starts_with('/') { self.url(&location) } else { location };
                continue;
            }
            let page_url = r.url().to_string();
            let html = r.text().await.unwrap();
            let form: &[(&str, &str)] = if html.contains(r#"name="prompt" value="login""#) {
                &[("prompt", "login"), ("login", account), ("password", "any")]
            } else if html.contains(r#"name="prompt" value="consent""#) {
                &[("prompt", "consent")]
            } else {
                panic!("the provider showed a page the test does not know at {page_url}: {html}");
            };
            let r = browser.post(&page_url).form(form).send().await.unwrap();
            assert!(r.status().is_redirection(), "submitting {:?} at {page_url}: {}", form[0], r.status());
            let location = r.headers()["location"].to_str().unwrap().to_owned();
            next = if location.starts_with('/') { self.url(&location) } else { location };
        }
        panic!("the sign-in did not reach the loopback redirect; last address {next}");
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
