//! Signing the mailbox in with OAuth2, on real parts: oidc-provider as the authorization server
//! (authorization code + PKCE, rotating refresh tokens, client credentials), Dovecot taking
//! `XOAUTH2`/`OAUTHBEARER` and introspecting each token there, gnome-keyring holding the refresh
//! token, and the real `sentinela-headless` (`login`, `check`, `run`). The browser is the test,
//! clicking through the provider's login and consent pages.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use sentinela_engine::config::{Config, Security, WhatsAppConfig};
use sentinela_engine::journal::AlertJournal;
use sentinela_engine::oauth::{SaslMechanism, SignInFlow};
use sentinela_tests::dovecot::{Dovecot, SENSOR, USER};
use sentinela_tests::headless;
use sentinela_tests::keyring_session::KeyringSession;
use sentinela_tests::mail::plain;
use sentinela_tests::oauth_server::{OAuthServer, APP_CLIENT_ID, APP_CLIENT_SECRET};
use sentinela_tests::people::WA1;
use sentinela_tests::twilio_fake::{TwilioFake, AUTH_TOKEN};
use sentinela_tests::wait_for;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};

const REFRESH_TOKEN: &str = "oauth-refresh-token";

struct Setup {
    oauth: OAuthServer,
    server: Dovecot,
    keyring: KeyringSession,
    dir: TempDir,
    config: PathBuf,
}

impl Setup {
    /// A provider whose access tokens live `token_secs`, a Dovecot that trusts it, a keyring.
    fn start(token_secs: u64) -> Setup {
        let oauth = OAuthServer::start(token_secs);
        let server = Dovecot::start_with_oauth(oauth.port);
        let dir = TempDir::new().unwrap();
        let config = dir.path().join("sentinela.toml");
        let mut c = server.config(Security::Tls);
        c.mailbox.oauth2 = Some(oauth.config());
        c.save(&config).unwrap();
        Setup { oauth, server, keyring: KeyringSession::start(), dir, config }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// `sentinela-headless <args>` in the keyring session, with no IMAP password anywhere.
    fn command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::from(headless::command());
        c.envs(self.keyring.env()).env_remove("SENTINELA_IMAP_PASSWORD").kill_on_drop(true);
        c
    }

    /// Starts `login` and returns it with the address it asks the person to open.
    async fn start_login(&self) -> (tokio::process::Child, String) {
        let mut login = self
            .command()
            .args(["login", "--wait-secs", "60", "--config"])
            .arg(&self.config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(login.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line
                    .trim()
                    .strip_prefix("http://127.0.0.1:")
                    .map(|rest| format!("http://127.0.0.1:{rest}"))
                {
                    return url;
                }
            }
            panic!("login ended without printing the sign-in address");
        })
        .await
        .expect("login printed the sign-in address");
        // The rest of its output is read at the end.
        tokio::spawn(async move {
            let mut rest = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                rest.push_str(&line);
                rest.push('\n');
            }
            rest
        });
        (login, url)
    }

    /// The whole sign-in, as an operator does it: `login`, the browser, the page saying it is done.
    async fn sign_in(&self) {
        let (login, url) = self.start_login().await;
        let redirect = self.oauth.sign_in(&url, USER).await;
        let page = reqwest::Client::new()
            .get(&redirect)
            .header("accept-language", "pt-BR,pt;q=0.9")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("Você já pode fechar esta janela"));
        let out = login.wait_with_output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "login failed: {stderr}");
    }

    /// Notifies through the Twilio fake: a WhatsApp to `to` for each incident.
    fn notify_by_whatsapp(&self, fake: &TwilioFake, to: &str) {
        let mut c = Config::load(&self.config).unwrap();
        c.twilio = Some(fake.config());
        c.whatsapp = Some(WhatsAppConfig {
            from: "+14155238886".into(),
            to: vec![to.into()],
            content_sid: String::new(),
        });
        c.save(&self.config).unwrap();
    }

    fn run(&self, log: &str) -> Child {
        let mut c = headless::run_command(&self.config, &self.data(), &self.dir.path().join(log));
        c.envs(self.keyring.env())
            .env_remove("SENTINELA_IMAP_PASSWORD")
            .env("SENTINELA_LOG", "trace")
            .env("SENTINELA_TWILIO_AUTH_TOKEN", AUTH_TOKEN);
        c.spawn().unwrap()
    }

    async fn wait_log(&self, log: &str, needle: &str, within: Duration) {
        wait_for(&format!("{needle:?} in {log}"), within, || async {
            self.log(log).contains(needle).then_some(())
        })
        .await;
    }
}

async fn wait_alerts(data: &Path, n: u64) -> AlertJournal {
    wait_for(&format!("{n} alerts in the journal"), Duration::from_secs(20), || async {
        let j = AlertJournal::open_in_dir(data).ok()?;
        (j.alert_count().await.ok()? >= n).then_some(j)
    })
    .await
}

/// No token of any kind in `text`: neither refresh token, nor a SASL exchange (plain or base64).
fn assert_no_token(text: &str, refresh_tokens: &[&str]) {
    for t in refresh_tokens {
        assert!(!text.contains(t), "a refresh token is in the log");
    }
    assert!(!text.contains("auth=Bearer"), "a SASL exchange is in the log");
    // "user=alertas@cpd.test\x01auth=Bearer …" in base64, as it goes on the wire.
    assert!(
        !text.contains("dXNlcj1hbGVydGFzQGNwZC50ZXN0AWF1dGg9QmVhcmVy"),
        "a base64 SASL exchange is in the log"
    );
}

#[tokio::test]
async fn signed_in_once_it_watches_across_expired_tokens_and_keeps_the_rotated_refresh_token() {
    // Access tokens live 4 s: every reconnection after that needs a refreshed one.
    let mut s = Setup::start(4);
    s.sign_in().await;
    let first = s.keyring.lookup(REFRESH_TOKEN).expect("the refresh token is in the keyring");
    assert!(
        !std::fs::read_to_string(&s.config).unwrap().contains(&first),
        "the refresh token stays out of the file"
    );

    let mut engine = s.run("run.log");
    s.wait_log("run.log", "watching (IDLE push)", Duration::from_secs(20)).await;
    assert!(s.log("run.log").contains("mailbox sign-in: new access token"), "{}", s.log("run.log"));

    // The token expires; the server goes away and back, so the engine must log in again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    s.server.restart();
    s.server.append("INBOX", &plain(SENSOR, "ALERTA sala quente", "Temperatura 35 C")).await;
    let journal = wait_alerts(&s.data(), 1).await;
    assert_eq!(journal.alert_count().await.unwrap(), 1);

    let second = s.keyring.lookup(REFRESH_TOKEN).unwrap();
    assert_ne!(first, second, "the provider rotated the refresh token and the new one was kept");
    let log = s.log("run.log");
    assert!(log.contains("rotated the refresh token; the new one is in the keyring"), "{log}");
    engine.kill().unwrap();
    engine.wait().unwrap();
    assert_no_token(&log, &[&first, &second]);
}

#[tokio::test]
async fn a_revoked_sign_in_alarms_without_hammering_the_provider_and_a_new_sign_in_resumes_watching(
) {
    let mut s = Setup::start(3600);
    let fake = TwilioFake::start().await;
    s.notify_by_whatsapp(&fake, WA1);
    s.sign_in().await;
    let mut engine = s.run("run.log");
    s.wait_log("run.log", "watching (IDLE push)", Duration::from_secs(20)).await;

    // The user removes the app's access at the provider; the next login finds it out.
    s.oauth.revoke(USER).await;
    s.server.restart();
    s.wait_log("run.log", "Sign in to the e-mail account again", Duration::from_secs(30)).await;
    let log = s.log("run.log");
    assert!(log.contains("kind=sign-in") || log.contains("sign-in"), "{log}");

    // An alarm arrives while nobody can read the mailbox.
    s.server.append("INBOX", &plain(SENSOR, "ALERTA agua no piso", "Sensor de agua")).await;
    let before = s.oauth.token_requests().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        s.oauth.token_requests().await,
        before,
        "a refused sign-in is not retried against the provider"
    );
    assert!(AlertJournal::open_in_dir(&s.data()).unwrap().alert_count().await.unwrap() == 0);

    // A new sign-in, from another process: the engine picks it up by itself, no restart.
    s.sign_in().await;
    let journal = wait_alerts(&s.data(), 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        journal.alert_count().await.unwrap(),
        1,
        "the alarm that arrived meanwhile is journaled once"
    );
    assert!(s.log("run.log").contains("a new sign-in is in the keyring"));
    let told = wait_for("the team told", Duration::from_secs(20), || async {
        let bodies = fake.bodies_to(WA1);
        (!bodies.is_empty()).then_some(bodies)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let told_again = fake.bodies_to(WA1);
    assert_eq!(told_again.len(), 1, "escalated once: {told_again:?}");
    assert!(told[0].contains("ALERTA agua no piso"), "{told:?}");
    engine.kill().unwrap();
    engine.wait().unwrap();
}

#[tokio::test]
async fn the_loopback_listener_takes_one_answer_with_this_sign_ins_state_and_nothing_else() {
    let s = Setup::start(3600);
    let (login, url) = s.start_login().await;
    let redirect = s.oauth.sign_in(&url, USER).await;
    let query = redirect.split_once('?').unwrap().1;
    let state = query.split('&').find_map(|kv| kv.strip_prefix("state=")).unwrap();
    let forged = redirect.replace(&format!("state={state}"), "state=forged");
    assert_ne!(forged, redirect);
    let browser = reqwest::Client::new();

    let refused = browser.get(&forged).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("did not come from the sign-in Sentinela started"));

    let done = browser.get(&redirect).send().await.unwrap();
    assert_eq!(done.status(), 200);
    let out = login.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.keyring.lookup(REFRESH_TOKEN).is_some());

    // The listener is gone: a second answer finds nobody.
    assert!(browser.get(&redirect).send().await.is_err(), "a second request was answered");
}

#[tokio::test]
async fn the_headless_login_says_who_is_signed_in_and_check_says_the_method_and_expiry() {
    let s = Setup::start(600);
    let (login, url) = s.start_login().await;
    assert!(url.contains("code_challenge_method=S256") && url.contains("login_hint="), "{url}");
    let redirect = s.oauth.sign_in(&url, USER).await;
    reqwest::get(&redirect).await.unwrap();
    let out = login.wait_with_output().await.unwrap();
    assert!(out.status.success());

    let check = s.command().args(["check", "--config"]).arg(&s.config).output().await.unwrap();
    let text = headless::text(&check);
    assert!(text.contains(&format!("as {USER}")), "{text}");
    assert!(text.contains("OAuth2 (signed-in user, XOAUTH2)"), "{text}");
    assert!(text.contains("Access token: expires at"), "{text}");
}

#[tokio::test]
async fn app_only_sign_in_with_client_credentials_over_oauthbearer() {
    let s = Setup::start(600);
    let mut c = sentinela_engine::config::Config::load(&s.config).unwrap();
    let o = c.mailbox.oauth2.as_mut().unwrap();
    o.flow = SignInFlow::App;
    o.client_id = APP_CLIENT_ID.into();
    o.mechanism = SaslMechanism::Oauthbearer;
    c.save(&s.config).unwrap();

    let check = s
        .command()
        .env("SENTINELA_OAUTH_CLIENT_SECRET", APP_CLIENT_SECRET)
        .args(["check", "--config"])
        .arg(&s.config)
        .output()
        .await
        .unwrap();
    let text = headless::text(&check);
    assert!(check.status.success(), "{text}");
    assert!(text.contains("OAuth2 (app-only, OAUTHBEARER)"), "{text}");

    let wrong = s
        .command()
        .env("SENTINELA_OAUTH_CLIENT_SECRET", "not-the-secret")
        .args(["check", "--config"])
        .arg(&s.config)
        .output()
        .await
        .unwrap();
    let text = headless::text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{text}");
    assert!(text.contains("the provider refused the token request"), "{text}");
    assert!(!text.contains("not-the-secret"), "the secret is not repeated: {text}");
}

#[tokio::test]
async fn device_code_sign_in_from_another_device_and_its_refusal_says_what_to_do_instead() {
    let s = Setup::start(600);
    let mut login = s
        .command()
        .args(["login", "--device", "--wait-secs", "60", "--config"])
        .arg(&s.config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(login.stdout.take().unwrap()).lines();
    let mut said = String::new();
    let complete = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("the code");
        said.push_str(&line);
        if let Some(url) = line.strip_prefix("Or open this address, which carries the code: ") {
            break url.to_owned();
        }
    };
    assert!(said.contains("and enter the code"), "{said}");
    let page = s.oauth.confirm_device(&complete, USER).await;
    assert!(page.contains("Sign-in Success"), "{page}");
    let status =
        tokio::time::timeout(Duration::from_secs(30), login.wait()).await.unwrap().unwrap();
    assert!(status.success());
    assert!(s.keyring.lookup(REFRESH_TOKEN).is_some());
    let check = s.command().args(["check", "--config"]).arg(&s.config).output().await.unwrap();
    assert!(check.status.success(), "{}", headless::text(&check));

    // A client the provider does not allow the device flow (as a tenant that blocks it).
    let mut c = sentinela_engine::config::Config::load(&s.config).unwrap();
    c.mailbox.oauth2.as_mut().unwrap().client_id = "sentinela-desktop".into();
    c.save(&s.config).unwrap();
    let refused = s
        .command()
        .env("SENTINELA_OAUTH_CLIENT_SECRET", "desktop-secret")
        .args(["login", "--device", "--config"])
        .arg(&s.config)
        .output()
        .await
        .unwrap();
    let text = headless::text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(text.contains("refused the device-code sign-in"), "{text}");
    assert!(text.contains("without --device"), "{text}");
}
