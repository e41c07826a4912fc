//! `[journal]` and `[history]`: the shared journal's URL and how long the history keeps texts.

use super::*;

/// `[journal]`: a journal shared by the team's workstations, in PostgreSQL. Every Sentinela on it
/// watches the mailbox; one at a time notifies, and another takes over when it dies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// `postgres://user@host:5432/database?sslmode=verify-full`, without the password (that is
    /// `SENTINELA_JOURNAL_PASSWORD` or the keyring user `journal-password`).
    pub url: String,
    /// How this workstation is named to the others ("notificando: NOC-02"). Empty: its host name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workstation: String,
}

impl JournalConfig {
    /// The configured name, else the host name.
    pub fn workstation_name(&self) -> String {
        let configured = self.workstation.trim();
        if configured.is_empty() {
            gethostname::gethostname().to_string_lossy().into_owned()
        } else {
            configured.to_owned()
        }
    }
}

/// `[history]`: how long the journal keeps the texts of what is over. Growth is bounded by it;
/// the incidents themselves, their e-mails' senders and subjects, who was told and called and
/// every timeline are kept whatever it says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// The e-mail bodies and message texts of incidents resolved more than this many days ago
    /// are emptied (`crate::retention`); 0 = keep everything.
    pub keep_days: u32,
}

impl HistoryConfig {
    /// The most days `keep_days` takes: a century.
    pub const MAX_DAYS: u32 = 36_500;

    pub(super) fn is_default(&self) -> bool {
        *self == HistoryConfig::default()
    }

    /// How long texts are kept, or None to keep them forever.
    pub fn keep(&self) -> Option<chrono::Duration> {
        (self.keep_days > 0).then(|| chrono::Duration::days(self.keep_days.into()))
    }
}

impl Config {
    /// `[journal]`: a URL the driver reads, without a password in it.
    pub(super) fn check_journal(&mut self) -> Result<(), ConfigError> {
        let Some(j) = &mut self.journal else { return Ok(()) };
        j.url = j.url.trim().to_owned();
        if let Err(e) = crate::journal::postgres::SharedJournal::new(&j.url, None, "check") {
            let problem = e.to_string();
            let problem = problem.trim_start_matches("journal.url: ").to_owned();
            return Err(ConfigError::invalid("journal.url", problem.clone(), "write it as postgres://user@host:5432/database?sslmode=verify-full, the password apart")
                .pt(problem, "escreva como postgres://usuario@servidor:5432/banco?sslmode=verify-full, sem a senha (ela fica no chaveiro ou em SENTINELA_JOURNAL_PASSWORD)"));
        }
        Ok(())
    }

    pub(super) fn check_history(&self) -> Result<(), ConfigError> {
        let days = self.history.keep_days;
        if days > HistoryConfig::MAX_DAYS {
            return Err(ConfigError::invalid(
                "history.keep_days",
                format!("{days} days is more than a century."),
                "write the days to keep (365 keeps a year), or 0 to keep everything.",
            )
            .pt(
                format!("{days} dias é mais de um século."),
                "escreva quantos dias manter (365 mantém um ano), ou 0 para manter tudo.",
            ));
        }
        Ok(())
    }
}
