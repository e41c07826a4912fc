//! "Entrar com a Microsoft", as an operator does it in the real desktop app: the tray runs with a
//! mailbox that is not signed in yet and says so; the settings window's button opens the
//! provider's page in the system browser (here a script noting the address, followed by the
//! test through a real oidc-provider's login and consent pages); the window then says who is
//! connected and tests the mailbox, and the running engine starts watching without a restart.
//!
//! The Microsoft preset's endpoints are replaced in the file by the test server's (an
//! administrator may override them the same way); the rest is the real app on real parts.

use std::time::Duration;

use sentinela_engine::config::Security;
use sentinela_engine::oauth::OAuthProvider;
use sentinela_tests::desktop::{Desktop, WebDriver};
use sentinela_tests::dovecot::{Dovecot, USER};
use sentinela_tests::oauth_server::OAuthServer;
use sentinela_tests::workspace_binary;
use sentinela_tests::WAIT;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_with_the_button_connects_the_mailbox_and_the_engine_starts_watching() {
    let oauth = OAuthServer::start(600);
    let server = Dovecot::start_with_oauth(oauth.port);
    let desktop = Desktop::start();
    let config = desktop.path("sentinela.toml");
    let mut c = server.config(Security::Tls);
    let mut o = oauth.config();
    o.provider = OAuthProvider::Microsoft;
    c.mailbox.oauth2 = Some(o);
    c.save(&config).unwrap();
    let paths: Vec<String> = vec![
        "--config".into(),
        config.display().to_string(),
        "--data-dir".into(),
        desktop.path("data").display().to_string(),
    ];
    let mut tray = desktop.command(workspace_binary("sentinela")).args(&paths).spawn().unwrap();

    let window = [paths.clone(), vec!["--window".into(), "settings".into()]].concat();
    let wd = WebDriver::launch(desktop.driver_port, &workspace_binary("sentinela"), &window).await;
    wd.wait_for(
        "the settings form",
        WAIT,
        "return !!document.querySelector('#mailbox-provider')",
        |v| v == &json!(true),
    )
    .await;
    // Nobody signed in yet: the engine says what to do.
    wd.wait_for(
        "the sign-in alarm in the status line",
        WAIT,
        "return document.querySelector('#engine-status').textContent",
        |v| v.as_str().is_some_and(|s| s.contains("Entre de novo na conta de e-mail")),
    )
    .await;
    assert_eq!(
        wd.execute("return document.querySelector('#mailbox-provider').value", json!([])).await,
        json!("microsoft")
    );
    assert_eq!(wd.text("#sign-in").await, "Entrar com a Microsoft");
    wd.wait_for(
        "not connected yet",
        WAIT,
        "return document.querySelector('#signed-in').textContent",
        |v| v == &json!("Ainda não conectado: clique em Entrar."),
    )
    .await;

    wd.execute("document.querySelector('#sign-in').click()", json!([])).await;
    for _ in 0..300 {
        if !desktop.opened_urls().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !desktop.opened_urls().is_empty(),
        "the provider's page opened in the browser; the window says: {}",
        wd.text("#result").await
    );
    let url = desktop.opened_urls().remove(0);
    assert!(url.starts_with(&oauth.url("/auth?")), "{url}");
    let redirect = oauth.sign_in(&url, USER).await;
    let page = reqwest::Client::new()
        .get(&redirect)
        .header("accept-language", "pt-BR")
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("Você já pode fechar esta janela"));

    let result = wd
        .wait_for(
            "the window to say who is connected",
            WAIT,
            "return document.querySelector('#result').textContent",
            |v| v.as_str().is_some_and(|s| s.contains("Login OK")),
        )
        .await;
    let result = result.as_str().unwrap();
    assert!(
        result.starts_with(&format!("Conectado como {USER}. Token de acesso válido até ")),
        "{result}"
    );
    assert_eq!(wd.text("#signed-in").await, format!("Conectado como {USER}."));
    // The engine, waiting for a sign-in, takes it from the keyring by itself.
    wd.wait_for(
        "watching, without a restart",
        WAIT,
        "return document.querySelector('#engine-status').textContent",
        |v| v.as_str().is_some_and(|s| s.starts_with("Vigiando")),
    )
    .await;
    let toml = std::fs::read_to_string(&config).unwrap();
    let token = desktop
        .command("secret-tool")
        .args(["lookup", "service", "sentinela", "username", "oauth-refresh-token"])
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&token.stdout).into_owned();
    assert!(!token.is_empty(), "the refresh token is in the Secret Service");
    assert!(!toml.contains(&token), "and not in the file");
    wd.close().await;
    let _ = tray.kill();
    let _ = tray.wait();
}
