//! Why the mailbox could not be watched, in words an administrator can act on.

use crate::events::MailboxProblem;
use crate::journal::JournalError;
use crate::oauth::OAuthError;

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("cannot reach the IMAP server {host}:{port}: {reason}. Check mailbox.host, mailbox.port and the network.")]
    Connect { host: String, port: u16, reason: String },
    #[error("TLS with {host} failed: {reason}. Check that mailbox.security matches the port (tls: 993, starttls: 143) and that the server's certificate is trusted (mailbox.ca_file for a private CA).")]
    Tls { host: String, reason: String },
    #[error("the IMAP server {host} does not offer STARTTLS. Use security = \"tls\" (port 993) instead.")]
    NoStartTls { host: String },
    #[error("the IMAP server refused the login of {username}: {reason}. Check mailbox.username and the IMAP password (SENTINELA_IMAP_PASSWORD or the OS keyring).")]
    AuthFailed { username: String, reason: String },
    #[error("the IMAP server refused the access token for {username}: {reason}. A new token is asked for at the next try; if this repeats, check that the app registration has the IMAP permission (Microsoft: IMAP.AccessAsUser.All, or IMAP.AccessAsApp with the mailbox permission; Google: https://mail.google.com/) and that IMAP is enabled for the mailbox.")]
    TokenRefused { username: String, reason: String },
    #[error("mailbox sign-in: {0}")]
    OAuth(#[from] OAuthError),
    #[error("the folder {folder:?} cannot be opened: {reason}. Check mailbox.folder (folder names are case-sensitive, except INBOX).")]
    Folder { folder: String, reason: String },
    #[error("the IMAP server rejected the search: {reason}. Check filter.search.")]
    Search { reason: String },
    #[error("the IMAP server did not answer {operation} within {secs} s")]
    Timeout { operation: &'static str, secs: u64 },
    #[error("the IMAP connection failed during {operation}: {reason}")]
    Protocol { operation: &'static str, reason: String },
    /// The server answered NO or BAD: the connection is fine, the command was refused.
    #[error("the IMAP server refused {operation}: {reason}")]
    Refused { operation: &'static str, reason: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl MailboxError {
    /// The stable code for UIs and logs.
    pub fn kind(&self) -> MailboxProblem {
        match self {
            MailboxError::Connect { .. } => MailboxProblem::Connect,
            MailboxError::Tls { .. } | MailboxError::NoStartTls { .. } => MailboxProblem::Tls,
            MailboxError::AuthFailed { .. } | MailboxError::TokenRefused { .. } => {
                MailboxProblem::Auth
            }
            MailboxError::OAuth(OAuthError::Unreachable { .. }) => MailboxProblem::Connect,
            MailboxError::OAuth(_) => MailboxProblem::SignIn,
            MailboxError::Folder { .. } => MailboxProblem::Folder,
            MailboxError::Search { .. } => MailboxProblem::Search,
            MailboxError::Timeout { .. } => MailboxProblem::Timeout,
            MailboxError::Protocol { .. } => MailboxProblem::Protocol,
            MailboxError::Refused { .. } => MailboxProblem::Refused,
            MailboxError::Journal(_) => MailboxProblem::Journal,
        }
    }

    /// Errors that retrying quickly cannot fix: a person must change something. They are retried
    /// at the slowest pace only, so a server does not lock the account for brute force.
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            MailboxError::AuthFailed { .. }
                | MailboxError::Folder { .. }
                | MailboxError::Search { .. }
                | MailboxError::NoStartTls { .. }
        ) || matches!(self, MailboxError::OAuth(e) if e.needs_attention())
    }

    /// Only a new sign-in fixes it (the watcher waits for one instead of retrying blindly).
    pub fn needs_sign_in(&self) -> bool {
        matches!(
            self,
            MailboxError::OAuth(OAuthError::SignInNeeded { .. } | OAuthError::NotSignedIn { .. })
        )
    }

    pub(crate) fn protocol(operation: &'static str, e: async_imap::error::Error) -> Self {
        match e {
            async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason) => {
                MailboxError::Refused { operation, reason }
            }
            e => MailboxError::Protocol { operation, reason: e.to_string() },
        }
    }
}
