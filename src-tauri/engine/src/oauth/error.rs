//! Why the mailbox could not be signed in, in words an operator can act on. No message carries
//! a token: the provider's own error text and the endpoint's address are all that is shown.

use crate::secrets::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider no longer accepts the stored sign-in (`invalid_grant`: password changed,
    /// consent revoked, token expired). Only a person signing in again fixes it.
    #[error("the sign-in of {account} is no longer accepted by the provider ({reason}). Sign in to the e-mail account again: `sentinela-headless login`, or Settings → Sign in.")]
    SignInNeeded { account: String, reason: String },
    #[error("{account} has not been signed in on this computer yet. Sign in: `sentinela-headless login`, or Settings → Sign in.")]
    NotSignedIn { account: String },
    /// The provider refused the request itself: the app registration or the configuration is wrong.
    #[error("the provider refused the token request: {reason}. Check mailbox.oauth2 (client_id, tenant, scope) against the app registration, and the client secret.")]
    Refused { reason: String },
    #[error("the provider's token endpoint {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the sign-in did not finish: {reason}")]
    SignIn { reason: String },
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl OAuthError {
    /// A person must act: retrying against the provider cannot fix it.
    pub fn needs_attention(&self) -> bool {
        !matches!(self, OAuthError::Unreachable { .. })
    }
}
