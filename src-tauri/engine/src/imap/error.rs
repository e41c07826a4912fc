//! Why the mailbox could not be watched, in words an administrator can act on.

use crate::events::MailboxProblem;
use crate::journal::JournalError;

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
            MailboxError::AuthFailed { .. } => MailboxProblem::Auth,
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
        )
    }

    pub(crate) fn protocol(operation: &'static str, e: async_imap::error::Error) -> Self {
        match e {
            async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason) => MailboxError::Refused { operation, reason },
            e => MailboxError::Protocol { operation, reason: e.to_string() },
        }
    }
}
