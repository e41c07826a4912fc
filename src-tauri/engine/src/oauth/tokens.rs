//! The access tokens the IMAP server is given: refreshed before they expire, one refresh at a
//! time, the refresh token kept in the OS keyring and replaced there when the provider rotates it.
//!
//! A refresh token the provider refused is remembered, so the watcher's retries do not hammer the
//! provider with it: until a new sign-in puts another one in the keyring, asking for a token
//! answers "sign in again" at once, and [`TokenSource::wait_for_sign_in`] notices the new one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, ErrorResponseType, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse, TokenUrl,
};
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::{OAuth2Config, OAuthError, SaslMechanism, SignInFlow};
use crate::secrets::{self, Secret, SecretError};

/// How often a source waiting for a new sign-in looks into the keyring (a local read, not a
/// request to the provider).
const SIGN_IN_POLL: Duration = Duration::from_secs(2);
/// The longest a token endpoint may take to answer.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// A token the IMAP server accepts, and when it stops being accepted.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
}

impl AccessToken {
    /// Still good for long enough to log in with: a margin of a fifth of its life, at most 5 min.
    fn fresh(&self, lifetime: chrono::Duration) -> bool {
        let margin = (lifetime / 5).min(chrono::Duration::minutes(5));
        Utc::now() + margin < self.expires_at
    }
}

#[derive(Default)]
struct State {
    access: Option<(AccessToken, chrono::Duration)>,
    /// The refresh token last used or received.
    refresh: Option<Secret>,
    /// The keyring refused the rotated token in `refresh`: the keyring's copy is void, so
    /// `refresh` is the one to use until the keyring takes it.
    keyring_behind: bool,
    /// The refresh token the provider refused.
    rejected: Option<Secret>,
}

/// Hands out access tokens for one mailbox account.
pub struct TokenSource {
    config: OAuth2Config,
    account: String,
    client_secret: Option<Secret>,
    http: reqwest::Client,
    state: Mutex<State>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("account", &self.account)
            .field("flow", &self.config.flow)
            .finish_non_exhaustive()
    }
}

/// The HTTP client for token requests: it never follows a redirect (a token request answered with
/// one is refused, not replayed elsewhere with the code or the secret).
pub(super) fn token_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TOKEN_TIMEOUT)
        .build()
        .expect("a TLS backend for the token requests")
}

/// The client secret: required for the app flow, optional otherwise (Google's installed apps
/// have one; Microsoft's public clients do not).
pub(super) async fn client_secret(config: &OAuth2Config) -> Result<Option<Secret>, SecretError> {
    match secrets::load(secrets::OAUTH_CLIENT_SECRET).await {
        Ok(s) => Ok(Some(s)),
        Err(SecretError::Missing { .. }) if config.flow == SignInFlow::User => Ok(None),
        Err(e) => Err(e),
    }
}

/// The oauth2 crate's client with only the token endpoint set: all this app ever calls.
type TokenClient = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// The token endpoint's client, with the secret sent in the request body as both providers
/// document for installed and daemon apps.
pub(super) fn token_client(
    config: &OAuth2Config,
    secret: Option<&Secret>,
) -> Result<TokenClient, OAuthError> {
    let e = config.endpoints();
    let token_url = TokenUrl::new(e.token.clone()).map_err(|err| OAuthError::Refused {
        reason: format!("mailbox.oauth2.token_url {:?} is not a URL ({err})", e.token),
    })?;
    let mut client = BasicClient::new(ClientId::new(config.client_id.trim().to_owned()))
        .set_token_uri(token_url)
        .set_auth_type(AuthType::RequestBody);
    if let Some(s) = secret {
        client = client.set_client_secret(ClientSecret::new(s.expose().to_owned()));
    }
    Ok(client)
}

/// Turns a token endpoint's failure into what the operator must do.
pub(super) fn token_error<RE, ET>(
    account: &str,
    url: &str,
    e: RequestTokenError<RE, StandardErrorResponse<ET>>,
) -> OAuthError
where
    RE: std::error::Error + 'static,
    ET: ErrorResponseType + std::fmt::Display,
{
    match e {
        RequestTokenError::ServerResponse(r) => {
            let reason = match r.error_description() {
                Some(d) => format!("{}: {d}", r.error()),
                None => r.error().to_string(),
            };
            // RFC 6749 §5.2: the grant (refresh token, code) is invalid, expired or revoked.
            if r.error().to_string() == "invalid_grant" {
                OAuthError::SignInNeeded { account: account.to_owned(), reason }
            } else {
                OAuthError::Refused { reason }
            }
        }
        RequestTokenError::Request(e) => {
            let mut reason = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                reason = format!("{reason}: {s}");
                source = s.source();
            }
            OAuthError::Unreachable { url: url.to_owned(), reason }
        }
        RequestTokenError::Parse(e, _) => OAuthError::Unreachable {
            url: url.to_owned(),
            reason: format!("not a token answer ({e})"),
        },
        RequestTokenError::Other(reason) => OAuthError::Unreachable { url: url.to_owned(), reason },
    }
}

impl TokenSource {
    /// A source for `account` (the mailbox's username), its client secret loaded if there is one.
    pub async fn load(config: &OAuth2Config, account: &str) -> Result<Self, SecretError> {
        let client_secret = client_secret(config).await?;
        Ok(TokenSource {
            config: config.clone(),
            account: account.to_owned(),
            client_secret,
            http: token_http(),
            state: Mutex::new(State::default()),
        })
    }

    /// A source that starts with the access token a sign-in just gave, so the mailbox can be
    /// tested without spending the new refresh token.
    pub async fn signed_in(
        config: &OAuth2Config,
        signed_in: super::SignedIn,
    ) -> Result<Self, SecretError> {
        let source = Self::load(config, &signed_in.account).await?;
        let lifetime = (signed_in.access.expires_at - Utc::now()).max(chrono::Duration::seconds(1));
        source.state.lock().await.access = Some((signed_in.access, lifetime));
        Ok(source)
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn mechanism(&self) -> SaslMechanism {
        self.config.mechanism
    }

    pub fn flow(&self) -> SignInFlow {
        self.config.flow
    }

    /// A token to log in with: the one held while it stays fresh, else a new one.
    pub async fn access_token(&self) -> Result<AccessToken, OAuthError> {
        let mut state = self.state.lock().await;
        if let Some((token, lifetime)) = &state.access {
            if token.fresh(*lifetime) {
                return Ok(token.clone());
            }
        }
        let answer = match self.config.flow {
            SignInFlow::App => self.client_credentials().await?,
            SignInFlow::User => self.refresh(&mut state).await?,
        };
        let lifetime = answer.expires_in().unwrap_or(Duration::from_secs(3600));
        let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1));
        let token = AccessToken {
            token: Secret::new(answer.access_token().secret().clone()),
            expires_at: Utc::now() + lifetime,
        };
        info!(account = %self.account, expires_at = %token.expires_at, "mailbox sign-in: new access token");
        state.access = Some((token.clone(), lifetime));
        Ok(token)
    }

    /// The IMAP server refused the token it was given (revoked early): the next login asks anew.
    pub async fn forget_access_token(&self) {
        self.state.lock().await.access = None;
    }

    async fn client_credentials(&self) -> Result<BasicTokenResponse, OAuthError> {
        let client = token_client(&self.config, self.client_secret.as_ref())?;
        let scopes = self.config.endpoints().scopes.into_iter().map(Scope::new);
        client
            .exchange_client_credentials()
            .add_scopes(scopes)
            .request_async(&self.http)
            .await
            .map_err(|e| token_error(&self.account, &self.config.endpoints().token, e))
    }

    async fn refresh(&self, state: &mut State) -> Result<BasicTokenResponse, OAuthError> {
        // The keyring first: another process (a mailbox test, `check`, a new sign-in) may have
        // rotated the token since, and a provider may void the whole sign-in when a rotated
        // token is used again.
        let stored = match (state.keyring_behind, state.refresh.clone()) {
            (true, Some(ours)) => ours,
            _ => match secrets::load_from_keyring(secrets::OAUTH_REFRESH_TOKEN).await {
                Ok(r) => r,
                Err(e) => match (state.refresh.clone(), e) {
                    (Some(r), _) => r,
                    (None, SecretError::Missing { .. }) => {
                        return Err(OAuthError::NotSignedIn { account: self.account.clone() })
                    }
                    (None, e) => return Err(e.into()),
                },
            },
        };
        if state.rejected.as_ref() == Some(&stored) {
            return Err(OAuthError::SignInNeeded {
                account: self.account.clone(),
                reason: "the provider already refused this sign-in".into(),
            });
        }
        let client = token_client(&self.config, self.client_secret.as_ref())?;
        let answer = client
            .exchange_refresh_token(&RefreshToken::new(stored.expose().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error(&self.account, &self.config.endpoints().token, e));
        let answer = match answer {
            Ok(a) => a,
            Err(e @ OAuthError::SignInNeeded { .. }) => {
                warn!(account = %self.account, "mailbox sign-in: {e}");
                state.rejected = Some(stored);
                state.refresh = None;
                state.keyring_behind = false;
                state.access = None;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        match answer.refresh_token().map(|r| Secret::new(r.secret().clone())) {
            Some(rotated) if rotated != stored => {
                // The old one may already be void (rotation): the new one is used from memory
                // even if the keyring refuses it, and the refusal is said.
                let saved = secrets::store(secrets::OAUTH_REFRESH_TOKEN, rotated.clone()).await;
                state.keyring_behind = saved.is_err();
                match saved {
                    Err(e) => {
                        warn!(account = %self.account, "mailbox sign-in: the provider rotated the refresh token but the keyring refused the new one ({e}); it is used from memory, and a restart will need a new sign-in")
                    }
                    Ok(()) => {
                        info!(account = %self.account, "mailbox sign-in: the provider rotated the refresh token; the new one is in the keyring")
                    }
                }
                state.refresh = Some(rotated);
            }
            _ => state.refresh = Some(stored),
        }
        Ok(answer)
    }

    /// Returns once the keyring holds a refresh token other than the refused one (a new sign-in,
    /// from the settings window or `sentinela-headless login`).
    pub async fn wait_for_sign_in(&self) {
        loop {
            tokio::time::sleep(SIGN_IN_POLL).await;
            let Ok(now) = secrets::load_from_keyring(secrets::OAUTH_REFRESH_TOKEN).await else {
                continue;
            };
            let mut state = self.state.lock().await;
            if state.rejected.as_ref() != Some(&now) {
                info!(account = %self.account, "mailbox sign-in: a new sign-in is in the keyring");
                state.rejected = None;
                state.refresh = Some(now);
                state.keyring_behind = false;
                state.access = None;
                return;
            }
        }
    }
}
