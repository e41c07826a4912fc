//! How the mailbox is logged in to: `LOGIN` with a password, or SASL `XOAUTH2`/`OAUTHBEARER`
//! with an OAuth2 access token (Microsoft 365, Google).
//!
//! A server refusing a token answers with an error challenge first; the SASL profiles require
//! the client to answer it (XOAUTH2: an empty line; OAUTHBEARER, RFC 7628: `%x01`) before the
//! final `NO`, which then reads like a refused password.

use std::sync::Arc;

use crate::config::MailboxConfig;
use crate::oauth::{SaslMechanism, SignInFlow, TokenSource};
use crate::secrets::{self, Secret, SecretError};

/// The mailbox's credentials: what [`super::connect`] logs in with.
#[derive(Debug, Clone)]
pub enum MailboxLogin {
    Password(Secret),
    OAuth2(Arc<TokenSource>),
}

impl From<Secret> for MailboxLogin {
    fn from(password: Secret) -> Self {
        MailboxLogin::Password(password)
    }
}

impl MailboxLogin {
    /// What `mailbox` logs in with: its OAuth2 sign-in when `[mailbox.oauth2]` is set, else the
    /// IMAP password from the environment or the keyring. Not being signed in yet is not an
    /// error here: the watcher says so, and waits for the sign-in.
    pub async fn load(mailbox: &MailboxConfig) -> Result<Self, SecretError> {
        Ok(match &mailbox.oauth2 {
            Some(o) => {
                MailboxLogin::OAuth2(Arc::new(TokenSource::load(o, &mailbox.username).await?))
            }
            None => MailboxLogin::Password(secrets::load(secrets::IMAP_PASSWORD).await?),
        })
    }

    /// How it logs in, for `check` and the settings window.
    pub fn method(&self) -> &'static str {
        match self {
            MailboxLogin::Password(_) => "password",
            MailboxLogin::OAuth2(t) => match (t.flow(), t.mechanism()) {
                (SignInFlow::User, SaslMechanism::Xoauth2) => "OAuth2 (signed-in user, XOAUTH2)",
                (SignInFlow::User, SaslMechanism::Oauthbearer) => {
                    "OAuth2 (signed-in user, OAUTHBEARER)"
                }
                (SignInFlow::App, SaslMechanism::Xoauth2) => "OAuth2 (app-only, XOAUTH2)",
                (SignInFlow::App, SaslMechanism::Oauthbearer) => "OAuth2 (app-only, OAUTHBEARER)",
            },
        }
    }
}

/// One SASL exchange carrying a bearer token.
pub(super) struct BearerAuthenticator {
    mechanism: SaslMechanism,
    user: String,
    token: Secret,
    sent: bool,
}

impl BearerAuthenticator {
    pub(super) fn new(mechanism: SaslMechanism, user: &str, token: Secret) -> Self {
        BearerAuthenticator { mechanism, user: user.to_owned(), token, sent: false }
    }

    pub(super) fn mechanism_name(&self) -> &'static str {
        match self.mechanism {
            SaslMechanism::Xoauth2 => "XOAUTH2",
            SaslMechanism::Oauthbearer => "OAUTHBEARER",
        }
    }
}

impl async_imap::Authenticator for &mut BearerAuthenticator {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        if self.sent {
            // The server's error challenge (a JSON status): answered as the profile requires,
            // and the command then ends with NO.
            return match self.mechanism {
                SaslMechanism::Xoauth2 => Vec::new(),
                SaslMechanism::Oauthbearer => vec![0x01],
            };
        }
        self.sent = true;
        let token = self.token.expose();
        match self.mechanism {
            SaslMechanism::Xoauth2 => {
                format!("user={}\x01auth=Bearer {token}\x01\x01", self.user).into_bytes()
            }
            // RFC 7628 §3.1: the GS2 header names the user (`,` and `=` escaped as =2C and =3D).
            SaslMechanism::Oauthbearer => {
                let user = self.user.replace('=', "=3D").replace(',', "=2C");
                format!("n,a={user},\x01auth=Bearer {token}\x01\x01").into_bytes()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::Authenticator as _;

    #[test]
    fn xoauth2_sends_the_token_once_then_answers_the_error_challenge_with_an_empty_line() {
        let mut a = BearerAuthenticator::new(
            SaslMechanism::Xoauth2,
            "alertas@cpd.test",
            Secret::new("tok"),
        );
        let mut r = &mut a;
        assert_eq!(r.process(b""), b"user=alertas@cpd.test\x01auth=Bearer tok\x01\x01");
        assert_eq!(r.process(br#"{"status":"401"}"#), b"");
    }

    #[test]
    fn oauthbearer_escapes_the_user_and_answers_the_error_with_ctrl_a() {
        let mut a =
            BearerAuthenticator::new(SaslMechanism::Oauthbearer, "a=b,c@x", Secret::new("tok"));
        let mut r = &mut a;
        assert_eq!(r.process(b""), b"n,a=a=3Db=2Cc@x,\x01auth=Bearer tok\x01\x01");
        assert_eq!(r.process(br#"{"status":"invalid_token"}"#), b"\x01");
    }
}
