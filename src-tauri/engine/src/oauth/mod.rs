//! Signing the mailbox in with OAuth2 instead of a password: Microsoft 365 and Google refuse
//! passwords for IMAP, so their mailboxes are opened with an access token (SASL `XOAUTH2` or
//! `OAUTHBEARER`, see [`crate::imap`]).
//!
//! [`provider`] knows where each provider's endpoints are, [`login`] signs a person in through
//! the browser, and [`tokens`] hands out fresh access tokens for as long as the sign-in holds.
//! The protocol itself is the `oauth2` crate's.

mod error;
mod login;
mod provider;
mod tokens;

pub use error::OAuthError;
pub use login::{DeviceSignIn, LoopbackSignIn, SignedIn};
pub use provider::{
    imap_server, Endpoints, OAuth2Config, OAuthProvider, SaslMechanism, SignInFlow,
};
pub use tokens::{AccessToken, TokenSource};
