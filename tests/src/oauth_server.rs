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
            panic!(
                "the OAuth2 server did not start: {line:?}; log: {}",
                std::fs::read_to_string(log_dir.path().join("server.log")).unwrap_or_default()
            );
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
        let r = reqwest::Client::new()
            .post(self.url(&format!("/test/revoke/{account}")))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "revoke: {}", r.status());
    }

    /// How many token requests (code exchanges, refreshes, client credentials) it answered.
    pub async fn token_requests(&self) -> u64 {
        let stats: serde_json::Value =
            reqwest::get(self.url("/test/stats")).await.unwrap().json().await.unwrap();
        stats["token_requests"].as_u64().unwrap()
    }

    /// A person in a browser: opens `authorize_url`, signs in as `account`, consents, and returns
    /// the address the provider redirects to (the loopback listener's, with `code` and `state`),
    /// without opening it.
    pub async fn sign_in(&self, authorize_url: &str, account: &str) -> String {
        match self.browse(authorize_url, account).await {
            Ok(redirect) => redirect,
            Err(page) => {
                panic!("the sign-in ended on a page instead of the loopback redirect: {page}")
            }
        }
    }

    /// A person on another device: opens the verification address that carries the user code,
    /// confirms it, signs in as `account` and consents. Returns the provider's last page.
    pub async fn confirm_device(&self, verification_uri_complete: &str, account: &str) -> String {
        match self.browse(verification_uri_complete, account).await {
            Ok(redirect) => panic!("the device sign-in redirected to {redirect}"),
            Err(page) => page,
        }
    }

    /// Follows redirects and fills the provider's forms (device confirmation, login, consent)
    /// until a redirect leaves for a loopback listener (`Ok`, its address) or a page has no form
    /// to fill (`Err`, the page).
    async fn browse(&self, start: &str, account: &str) -> Result<String, String> {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let absolute = |location: &str| {
            if location.starts_with('/') {
                self.url(location)
            } else {
                location.to_owned()
            }
        };
        let mut next = start.to_owned();
        // A page a form's submission answered with (instead of a redirect).
        let mut answered: Option<(String, String)> = None;
        for _ in 0..16 {
            let (page_url, html) = match answered.take() {
                Some(page) => page,
                None => {
                    if next.starts_with("http://127.0.0.1:") && !next.starts_with(&self.url("")) {
                        return Ok(next);
                    }
                    let r = browser.get(&next).send().await.unwrap();
                    if r.status().is_redirection() {
                        next = absolute(r.headers()["location"].to_str().unwrap());
                        continue;
                    }
                    (r.url().to_string(), r.text().await.unwrap())
                }
            };
            let hidden = |name: &str| {
                let marker = format!(r#"name="{name}" value=""#);
                html.split_once(&marker)
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(v, _)| v.to_owned())
            };
            let (action, form): (String, Vec<(&str, String)>) =
                if html.contains(r#"name="prompt" value="login""#) {
                    (
                        page_url.clone(),
                        vec![
                            ("prompt", "login".into()),
                            ("login", account.into()),
                            ("password", "any".into()),
                        ],
                    )
                } else if html.contains(r#"name="prompt" value="consent""#) {
                    (page_url.clone(), vec![("prompt", "consent".into())])
                } else if html.contains(r#"name="confirm" value="yes""#) {
                    let fields = vec![
                        ("xsrf", hidden("xsrf").unwrap()),
                        ("user_code", hidden("user_code").unwrap()),
                        ("confirm", "yes".into()),
                    ];
                    (self.url("/device"), fields)
                } else if html.contains("document.forms[0].submit()") {
                    // The page a browser submits by itself (the device flow's return after consent).
                    let action = html
                        .split_once(r#"action=""#)
                        .and_then(|(_, rest)| rest.split_once('"'))
                        .unwrap()
                        .0
                        .to_owned();
                    let fields = ["xsrf", "user_code"]
                        .into_iter()
                        .filter_map(|n| hidden(n).map(|v| (n, v)))
                        .collect();
                    (action, fields)
                } else {
                    return Err(html);
                };
            let r =
                browser.post(&action).form(&form).send().await.unwrap_or_else(|e| {
                    panic!("POST {action}: {e}; the server said: {}", self.log())
                });
            if r.status().is_redirection() {
                next = absolute(r.headers()["location"].to_str().unwrap());
            } else {
                answered = Some((action, r.text().await.unwrap()));
            }
        }
        panic!("the browser went round in circles; last address {next}");
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
