//! Signing a person in: authorization code with PKCE (S256) and a loopback redirect (RFC 8252),
//! the way installed mail programs reach Microsoft 365 and Google.
//!
//! [`LoopbackSignIn::start`] listens on `127.0.0.1` at a port the system picks and builds the
//! provider's address for the browser; [`LoopbackSignIn::finish`] waits for the one redirect
//! that carries this sign-in's `state`, refuses any other, answers the browser with a page
//! saying the window can be closed, stops listening, exchanges the code and stores the refresh
//! token in the keyring. The protocol is the `oauth2` crate's; the page is served by axum.
//!
//! Where no browser can reach this machine, [`DeviceSignIn`] is the device-code flow (RFC 8628):
//! a code typed on any other device. Many Microsoft 365 tenants block it (Conditional Access),
//! and the refusal says to use the loopback sign-in over an SSH port forward instead.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Html;
use chrono::Utc;
use oauth2::basic::BasicTokenResponse;
use oauth2::{
    AuthUrl, AuthorizationCode, CsrfToken, DeviceAuthorizationUrl, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse,
};
use tokio::sync::oneshot;
use tracing::info;

use super::tokens::{client_secret, token_client, token_error, token_http, AccessToken};
use super::{OAuth2Config, OAuthError};
use crate::secrets::{self, Secret};

/// What a finished sign-in gives.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: String,
    pub access: AccessToken,
}

/// One sign-in in progress: its loopback listener, its `state` and its PKCE verifier.
pub struct LoopbackSignIn {
    config: OAuth2Config,
    account: String,
    listener: tokio::net::TcpListener,
    redirect: String,
    url: String,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
}

/// What the browser's redirect brought: the code, or the provider's refusal.
type Outcome = Result<String, String>;

struct Callback {
    expected_state: String,
    /// Taken by the first request with the right `state`: there is only one.
    done: Mutex<Option<oneshot::Sender<Outcome>>>,
}

impl LoopbackSignIn {
    /// Listens on the loopback and builds the provider's sign-in address for `account`.
    pub async fn start(config: &OAuth2Config, account: &str) -> Result<Self, OAuthError> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .map_err(|e| OAuthError::SignIn {
                reason: format!("cannot listen on 127.0.0.1 for the browser's answer: {e}"),
            })?;
        let port =
            listener.local_addr().map_err(|e| OAuthError::SignIn { reason: e.to_string() })?.port();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let e = config.endpoints();
        let auth_url = AuthUrl::new(e.authorize.clone()).map_err(|err| OAuthError::Refused {
            reason: format!("mailbox.oauth2.authorize_url {:?} is not a URL ({err})", e.authorize),
        })?;
        let client = token_client(config, None)?.set_auth_uri(auth_url).set_redirect_uri(
            RedirectUrl::new(redirect.clone())
                .map_err(|err| OAuthError::SignIn { reason: err.to_string() })?,
        );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(e.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .add_extra_param("login_hint", account);
        for (k, v) in e.extra_params {
            request = request.add_extra_param(*k, *v);
        }
        let (url, state) = request.url();
        Ok(LoopbackSignIn {
            config: config.clone(),
            account: account.to_owned(),
            listener,
            redirect,
            url: url.to_string(),
            state,
            verifier,
        })
    }

    /// The address to open in the browser.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where the browser is sent back to (`http://127.0.0.1:<port>/callback`).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect
    }

    /// Waits up to `limit` for the browser, then exchanges the code and keeps the refresh token.
    pub async fn finish(self, limit: Duration) -> Result<SignedIn, OAuthError> {
        let (tx, rx) = oneshot::channel();
        let callback = Arc::new(Callback {
            expected_state: self.state.secret().clone(),
            done: Mutex::new(Some(tx)),
        });
        let app = axum::Router::new()
            .route("/callback", axum::routing::get(answer_browser))
            .with_state(callback);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let serve = axum::serve(self.listener, app).with_graceful_shutdown(async {
            let _ = stop_rx.await;
        });
        let server = tokio::spawn(async move { serve.await });
        let outcome = tokio::time::timeout(limit, rx).await;
        // One redirect only: the listener closes whatever came.
        let _ = stop_tx.send(());
        let _ = server.await;
        let code = match outcome {
            Err(_) => {
                return Err(OAuthError::SignIn {
                    reason: format!("nobody signed in within {} s; start again", limit.as_secs()),
                })
            }
            Ok(Err(_)) => {
                return Err(OAuthError::SignIn { reason: "the sign-in listener stopped".into() })
            }
            Ok(Ok(Err(refusal))) => {
                return Err(OAuthError::SignIn {
                    reason: format!("the provider answered: {refusal}"),
                })
            }
            Ok(Ok(Ok(code))) => code,
        };

        let secret = client_secret(&self.config).await?;
        let client = token_client(&self.config, secret.as_ref())?.set_redirect_uri(
            RedirectUrl::new(self.redirect.clone())
                .map_err(|err| OAuthError::SignIn { reason: err.to_string() })?,
        );
        let answer = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(self.verifier)
            .request_async(&token_http())
            .await
            .map_err(|e| token_error(&self.account, &self.config.endpoints().token, e))?;
        keep(self.account, &answer).await
    }
}

/// Keeps a sign-in's refresh token in the keyring; refuses one that has none.
async fn keep(account: String, answer: &BasicTokenResponse) -> Result<SignedIn, OAuthError> {
    let Some(refresh) = answer.refresh_token() else {
        return Err(OAuthError::SignIn {
            reason: "the provider gave no refresh token, so the sign-in would end within the hour. Check the scopes (Microsoft: offline_access) and, for Google, that the consent screen was shown".into(),
        });
    };
    secrets::store(secrets::OAUTH_REFRESH_TOKEN, Secret::new(refresh.secret().clone())).await?;
    let lifetime = answer
        .expires_in()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .unwrap_or(chrono::Duration::hours(1));
    info!(account = %account, "mailbox sign-in: signed in; the refresh token is in the keyring");
    Ok(SignedIn {
        account,
        access: AccessToken {
            token: Secret::new(answer.access_token().secret().clone()),
            expires_at: Utc::now() + lifetime,
        },
    })
}

const DEVICE_REFUSED: &str = "Many Microsoft 365 tenants block the device-code sign-in (Conditional Access, since 2025): \
     sign in with `sentinela-headless login` without --device instead (from another computer, forward the loopback port it prints over SSH)";

/// One device-code sign-in in progress: the code the person types elsewhere.
pub struct DeviceSignIn {
    config: OAuth2Config,
    account: String,
    secret: Option<Secret>,
    details: StandardDeviceAuthorizationResponse,
}

impl DeviceSignIn {
    /// Asks the provider for a user code.
    pub async fn start(config: &OAuth2Config, account: &str) -> Result<Self, OAuthError> {
        let e = config.endpoints();
        if e.device.is_empty() {
            return Err(OAuthError::SignIn {
                reason: "this provider has no device-code endpoint (mailbox.oauth2.device_url)"
                    .into(),
            });
        }
        let device_url =
            DeviceAuthorizationUrl::new(e.device.clone()).map_err(|err| OAuthError::Refused {
                reason: format!("mailbox.oauth2.device_url {:?} is not a URL ({err})", e.device),
            })?;
        let secret = client_secret(config).await?;
        let client =
            token_client(config, secret.as_ref())?.set_device_authorization_url(device_url);
        let details = client
            .exchange_device_code()
            .add_scopes(e.scopes.iter().cloned().map(Scope::new))
            .request_async(&token_http())
            .await
            .map_err(|err| device_refused(token_error(account, &e.device, err)))?;
        Ok(DeviceSignIn { config: config.clone(), account: account.to_owned(), secret, details })
    }

    /// Where to type the code.
    pub fn verification_uri(&self) -> &str {
        self.details.verification_uri()
    }

    /// The same address with the code in it, where the provider gives one.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.details.verification_uri_complete().map(|u| u.secret().as_str())
    }

    pub fn user_code(&self) -> &str {
        self.details.user_code().secret()
    }

    /// Polls the provider (at the interval it asks for) until the person confirmed, then keeps
    /// the refresh token.
    pub async fn finish(self, limit: Duration) -> Result<SignedIn, OAuthError> {
        let e = self.config.endpoints();
        let client = token_client(&self.config, self.secret.as_ref())?;
        let http = token_http();
        let answer = client
            .exchange_device_access_token(&self.details)
            .request_async(&http, tokio::time::sleep, Some(limit))
            .await
            .map_err(|err| device_refused(token_error(&self.account, &e.token, err)))?;
        keep(self.account, &answer).await
    }
}

fn device_refused(e: OAuthError) -> OAuthError {
    match e {
        OAuthError::Refused { reason } | OAuthError::SignInNeeded { reason, .. } => {
            OAuthError::SignIn {
                reason: format!(
                    "the provider refused the device-code sign-in ({reason}). {DEVICE_REFUSED}"
                ),
            }
        }
        other => other,
    }
}

async fn answer_browser(
    State(callback): State<Arc<Callback>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Html<String>) {
    let pt = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("pt"));
    let page = |status, pt_text: &str, en_text: &str| {
        (status, Html(page(if pt { pt_text } else { en_text }, pt)))
    };
    if query.get("state").map(String::as_str) != Some(callback.expected_state.as_str()) {
        return page(
            StatusCode::BAD_REQUEST,
            "Pedido recusado: ele não veio do login que o Sentinela começou.",
            "Request refused: it did not come from the sign-in Sentinela started.",
        );
    }
    let Some(done) = callback.done.lock().unwrap().take() else {
        return page(
            StatusCode::CONFLICT,
            "Este login já foi concluído.",
            "This sign-in is already finished.",
        );
    };
    if let Some(code) = query.get("code") {
        let _ = done.send(Ok(code.clone()));
        page(
            StatusCode::OK,
            "Pronto: o Sentinela recebeu o login. Você já pode fechar esta janela.",
            "Done: Sentinela received the sign-in. You can close this window now.",
        )
    } else {
        let refusal = match (query.get("error"), query.get("error_description")) {
            (Some(e), Some(d)) => format!("{e}: {d}"),
            (Some(e), None) => e.clone(),
            _ => "no code and no error".into(),
        };
        let _ = done.send(Err(refusal));
        page(
            StatusCode::OK,
            "O login não foi concluído. Volte ao Sentinela para ver o motivo.",
            "The sign-in did not finish. Go back to Sentinela to see why.",
        )
    }
}

/// The page the browser lands on: text only, nothing from the request echoed back.
fn page(text: &str, pt: bool) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>Sentinela</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>Sentinela</h1><p>{text}</p></body></html>",
        if pt { "pt-BR" } else { "en" }
    )
}
