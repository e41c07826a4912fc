//! The mailbox side: connecting to IMAP, watching a folder for alert e-mails, and probing a
//! configuration for the `check` command and the settings window's "Test mailbox" button.

mod backoff;
mod connection;
mod error;
mod fetch;
mod login;
mod probe;
mod search;
mod watcher;

pub use backoff::Backoff;
pub use connection::{connect, ImapSession};
pub use error::MailboxError;
pub use login::MailboxLogin;
pub use probe::{probe, ProbeReport};
pub use search::search_criteria;
pub use watcher::MailboxWatcher;
