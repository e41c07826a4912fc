//! The one error type the UI sees: a stable `code` to branch on, a `message` to show, and the
//! configuration `field` when there is one. The UI never matches on message text.

use serde::Serialize;

use crate::i18n::Lang;
use crate::status::Problem;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[error("{message}")]
pub struct AppError {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub field: Option<&'static str>,
}

impl AppError {
    pub fn new(code: &'static str, message: impl ToString) -> Self {
        AppError { code, message: message.to_string(), field: None }
    }
}

impl From<sentinela_engine::config::ConfigError> for AppError {
    fn from(e: sentinela_engine::config::ConfigError) -> Self {
        AppError { code: "config", field: e.field(), message: Lang::current().config_problem(&e) }
    }
}

impl From<sentinela_engine::journal::JournalError> for AppError {
    fn from(e: sentinela_engine::journal::JournalError) -> Self {
        AppError::new("journal", Lang::current().journal_problem(&e))
    }
}

impl From<sentinela_engine::runner::StartError> for AppError {
    fn from(e: sentinela_engine::runner::StartError) -> Self {
        match e {
            sentinela_engine::runner::StartError::Journal(j) => AppError::from(j),
            sentinela_engine::runner::StartError::Secret(s) => AppError::from(s),
            other => AppError::new("journal", other),
        }
    }
}

impl From<sentinela_engine::secrets::SecretError> for AppError {
    fn from(e: sentinela_engine::secrets::SecretError) -> Self {
        AppError::new("keyring", Lang::current().secret_problem(&e))
    }
}

impl From<sentinela_engine::imap::MailboxError> for AppError {
    fn from(e: sentinela_engine::imap::MailboxError) -> Self {
        let message =
            Lang::current().explain(Problem::Mailbox { kind: e.kind(), message: &e.to_string() });
        AppError::new(e.kind().as_str(), message)
    }
}

impl From<sentinela_engine::oauth::OAuthError> for AppError {
    fn from(e: sentinela_engine::oauth::OAuthError) -> Self {
        match e {
            sentinela_engine::oauth::OAuthError::Secret(s) => AppError::from(s),
            e => AppError::new("sign-in", Lang::current().sign_in_problem(&e)),
        }
    }
}

impl From<sentinela_engine::selftest::SelfTestError> for AppError {
    fn from(e: sentinela_engine::selftest::SelfTestError) -> Self {
        AppError::new("twilio", Lang::current().self_test_problem(&e))
    }
}
