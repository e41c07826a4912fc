//! The configuration file: one TOML document shared by `sentinela-headless` and the desktop app.
//!
//! Loading is all-or-nothing. A file with an unknown key, a wrong type, a missing field or a value
//! that cannot work is refused with a [`ConfigError`] that names the field and says how to fix it,
//! so the program never starts half-configured. Secrets never live here: see [`crate::secrets`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Upper bound for `rescan_secs`: RFC 2177 asks clients to re-issue IDLE before 29 minutes.
pub const MAX_RESCAN_SECS: u64 = 29 * 60;
const MIN_RESCAN_SECS: u64 = 2;
/// Default cap on the bytes fetched per e-mail.
pub const DEFAULT_MAX_MESSAGE_BYTES: u32 = 1024 * 1024;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub mailbox: MailboxConfig,
    pub filter: FilterConfig,
    /// Without `[twilio]` Sentinela only journals alerts (and says so loudly at start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub twilio: Option<TwilioConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub whatsapp: Option<WhatsAppConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub calls: Option<CallsConfig>,
    /// Text messages: the fallback when WhatsApp cannot deliver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub sms: Option<SmsConfig>,
    /// How e-mails become incidents, and how often the team is reminded.
    #[serde(default, skip_serializing_if = "IncidentsConfig::is_default")]
    #[cfg_attr(feature = "ts", ts(as = "Option<IncidentsConfig>", optional))]
    pub incidents: IncidentsConfig,
    /// Names for numbers (`"+5511999990001" = "Ana"`), used in messages, calls and the history.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[cfg_attr(
        feature = "ts",
        ts(as = "Option<std::collections::BTreeMap<String, String>>", optional)
    )]
    pub people: std::collections::BTreeMap<String, String>,
    /// Telling someone outside that this Sentinela is alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub heartbeat: Option<HeartbeatConfig>,
    /// How long the journal keeps what e-mails and messages said.
    #[serde(default, skip_serializing_if = "HistoryConfig::is_default")]
    #[cfg_attr(feature = "ts", ts(as = "Option<HistoryConfig>", optional))]
    pub history: HistoryConfig,
    /// Where the journal lives: without `[journal]`, the SQLite file in the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub journal: Option<JournalConfig>,
}

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

/// `[heartbeat]`: a sign of life out of this workstation, so that someone notices when it dies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatConfig {
    /// Fetched (GET) every `every_mins` while the mailbox is watched and Twilio answers: a
    /// Healthchecks, Uptime Kuma or Better Stack check URL. Empty: none.
    pub url: String,
    pub every_mins: u32,
    /// A daily "Sentinela ativo" WhatsApp with yesterday's counts, to these numbers.
    pub whatsapp_to: Vec<String>,
    /// When the daily WhatsApp goes, local time, `HH:MM`.
    pub daily_at: String,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            url: String::new(),
            every_mins: 5,
            whatsapp_to: Vec::new(),
            daily_at: "08:00".into(),
        }
    }
}

impl HeartbeatConfig {
    /// `daily_at` as a time of day (checked when the configuration is loaded).
    pub fn daily_time(&self) -> Option<chrono::NaiveTime> {
        chrono::NaiveTime::parse_from_str(self.daily_at.trim(), "%H:%M").ok()
    }
}

/// `[incidents]`: grouping e-mails into incidents. Every field is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsConfig {
    /// A regex with a named group `key`, tried on the subject then the body, for devices the
    /// built-in rule groups wrongly. Empty: the built-in rule.
    pub key_pattern: String,
    /// Words that mean "back to normal", added to the built-in list.
    pub recovery_words: Vec<String>,
    /// A WhatsApp reminder at most this often while nobody has taken an incident; 0 = never.
    pub remind_every_mins: u32,
    /// A problem back this soon after its recovery reopens the same incident; 0 = never.
    pub reopen_within_mins: u32,
    /// An incident taken but still open this long is escalated again, once per period; 0 = never.
    pub reescalate_after_mins: u32,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig {
            key_pattern: String::new(),
            recovery_words: Vec::new(),
            remind_every_mins: 30,
            reopen_within_mins: 15,
            reescalate_after_mins: 60,
        }
    }
}

impl IncidentsConfig {
    fn is_default(&self) -> bool {
        *self == IncidentsConfig::default()
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

    fn is_default(&self) -> bool {
        *self == HistoryConfig::default()
    }

    /// How long texts are kept, or None to keep them forever.
    pub fn keep(&self) -> Option<chrono::Duration> {
        (self.keep_days > 0).then(|| chrono::Duration::days(self.keep_days.into()))
    }
}

/// `[twilio]`: the account. The auth token (or API key secret) is a secret: see [`crate::secrets`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    pub account_sid: String,
    /// Optional API key (`SK…`) used instead of the Account SID to authenticate.
    #[serde(default)]
    pub api_key_sid: String,
    #[serde(default = "default_twilio_url")]
    pub base_url: String,
    /// Twilio Studio's API, for calls with `[calls] keypress`.
    #[serde(default = "default_studio_url")]
    pub studio_url: String,
    /// Journal what would be sent, send nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// `[whatsapp]`: who gets the alert text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct WhatsAppConfig {
    pub from: String,
    pub to: Vec<String>,
    /// Optional approved template (`HX…`), needed outside the 24-hour window.
    #[serde(default)]
    pub content_sid: String,
}

/// `[sms]`: text messages from a number of the Twilio account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// A number of the account able to send SMS, in E.164.
    pub from: String,
    /// A WhatsApp message that fails or is undelivered (sandbox left, no template, a phone
    /// without WhatsApp) goes to the same number by SMS, once.
    #[serde(default = "yes")]
    pub fallback: bool,
    /// People told by SMS only (not in `[whatsapp] to`): every alert, as WhatsApp's recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub to: Vec<String>,
}

fn yes() -> bool {
    true
}

/// `[calls]`: the phone queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CallsConfig {
    pub from: String,
    /// Called one at a time, in this order.
    pub to: Vec<String>,
    #[serde(default = "default_ring_secs")]
    pub ring_secs: u32,
    #[serde(default = "default_rounds")]
    pub rounds: u32,
    #[serde(default = "default_round_pause_secs")]
    pub round_pause_secs: u64,
    #[serde(default = "default_voice")]
    pub voice: String,
    #[serde(default = "default_language")]
    pub language: String,
    /// Answering machines and voicemail do not count as answered.
    #[serde(default = "default_true")]
    pub require_human: bool,
    /// "Tecle 1 para assumir": a call takes its incidents only when the person presses 1 (the
    /// call runs as a Twilio Studio flow, polled for the key); one who answers and presses
    /// nothing is told again, and the queue goes on. Off: a person answering takes them.
    #[serde(default)]
    pub keypress: bool,
}

/// How the connection to the IMAP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS from the first byte (usually port 993).
    Tls,
    /// Plain connection upgraded with STARTTLS before login (usually port 143).
    Starttls,
    /// No encryption at all; only accepted for a loopback host.
    Plain,
}

impl Security {
    fn default_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::Starttls | Security::Plain => 143,
        }
    }
}

/// `[mailbox]`: where the alert e-mails arrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    pub host: String,
    /// Defaults to 993 for `tls`, 143 otherwise.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub port: Option<u16>,
    #[serde(default = "default_security")]
    pub security: Security,
    pub username: String,
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Optional PEM file whose certificates are added to the trusted roots.
    #[serde(default, skip_serializing_if = "path_is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<PathBuf>", optional))]
    pub ca_file: PathBuf,
    #[serde(default = "default_rescan_secs")]
    pub rescan_secs: u64,
    #[serde(default = "default_true")]
    pub mark_seen: bool,
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u32,
    /// `[mailbox.oauth2]`: sign in with Microsoft 365, Google or another OAuth2 provider instead
    /// of a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub oauth2: Option<crate::oauth::OAuth2Config>,
}

impl MailboxConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.security.default_port())
    }

    pub fn ca_file(&self) -> Option<&Path> {
        (!path_is_empty(&self.ca_file)).then_some(self.ca_file.as_path())
    }
}

/// `[filter]`: which unread e-mails are alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Who may raise an alert: addresses (`sensor@cpd.example.com.br`), domains
    /// (`@cpd.example.com.br`, no subdomains) or domains with their subdomains (`@.example.com.br`);
    /// one, or a list. Checked exactly on the parsed From address (see [`crate::mail::sender`]).
    #[serde(deserialize_with = "one_or_many")]
    pub from: Vec<String>,
    /// Substring of the Subject, case-insensitive (IMAP `SUBJECT`).
    pub subject: String,
    /// Extra IMAP SEARCH criteria appended verbatim, e.g. `SINCE 1-Jan-2026`.
    #[serde(default)]
    pub search: String,
    /// Raise the "sensor silent" alarm when nothing at all (matching or not) came from `from`
    /// for this many hours — for devices that mail a periodic report. 0: off.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[cfg_attr(feature = "ts", ts(as = "Option<u32>", optional))]
    pub silence_alarm_hours: u32,
    /// The receiving mail server's id in `Authentication-Results` (e.g. `mx.empresa.com.br`):
    /// when set, an alert also needs its DMARC, aligned DKIM or aligned SPF pass.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>", optional))]
    pub authserv_id: String,
}

impl FilterConfig {
    /// The sender check these settings describe (entries that do not parse are left out: a
    /// loaded configuration has none).
    pub fn sender_policy(&self) -> crate::mail::SenderPolicy {
        crate::mail::SenderPolicy {
            allowed: self
                .from
                .iter()
                .filter_map(|e| crate::mail::AllowedSender::parse(e).ok())
                .collect(),
            authserv_id: Some(self.authserv_id.trim().to_owned()).filter(|id| !id.is_empty()),
        }
    }
}

/// `from = "a@b"` or `from = ["a@b", "@c"]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn default_twilio_url() -> String {
    "https://api.twilio.com".into()
}
fn default_studio_url() -> String {
    "https://studio.twilio.com".into()
}
fn default_ring_secs() -> u32 {
    25
}
fn default_rounds() -> u32 {
    2
}
fn default_round_pause_secs() -> u64 {
    60
}
fn default_voice() -> String {
    "Polly.Camila".into()
}
fn default_language() -> String {
    "pt-BR".into()
}
fn default_security() -> Security {
    Security::Tls
}
fn default_folder() -> String {
    "INBOX".into()
}
fn default_rescan_secs() -> u64 {
    20
}
fn default_true() -> bool {
    true
}
fn default_max_message_bytes() -> u32 {
    DEFAULT_MAX_MESSAGE_BYTES
}
// serde's `skip_serializing_if` passes the field's own type.
#[allow(clippy::ptr_arg)]
fn path_is_empty(p: &PathBuf) -> bool {
    p.as_os_str().is_empty()
}

/// Why a configuration was refused. Every variant names the file or the field and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}. Check that the path is right and readable.")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the configuration file {path} is not valid: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("configuration field `{field}`: {problem} Fix: {fix}")]
    Invalid {
        field: &'static str,
        problem: String,
        fix: String,
        in_portuguese: Option<Box<(String, String)>>,
    },
    #[error("cannot write the configuration file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl ConfigError {
    fn invalid(field: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field,
            problem: problem.into(),
            fix: fix.into(),
            in_portuguese: None,
        }
    }

    /// The same problem and fix in Portuguese, for the settings window of a Brazilian NOC.
    fn pt(self, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        match self {
            ConfigError::Invalid { field, problem: en, fix: en_fix, .. } => ConfigError::Invalid {
                field,
                problem: en,
                fix: en_fix,
                in_portuguese: Some(Box::new((problem.into(), fix.into()))),
            },
            other => other,
        }
    }

    /// The message in Portuguese, when there is one (field checks; the rest stays in English,
    /// like the file paths and the parser's detail it carries).
    pub fn in_portuguese(&self) -> Option<String> {
        match self {
            ConfigError::Invalid { field, in_portuguese: Some(pt), .. } => {
                Some(format!("campo `{field}`: {} Como corrigir: {}", pt.0, pt.1))
            }
            _ => None,
        }
    }

    /// The dotted name of the offending field, when the error is about one field.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ConfigError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Syntax { message, .. } => {
                ConfigError::Syntax { path: path.to_owned(), message }
            }
            other => other,
        })
    }

    /// Parses and validates TOML text (the path in syntax errors is left empty). A leading
    /// byte-order mark, which Windows' Notepad writes, is not part of the text; CRLF line ends
    /// are TOML's own.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: PathBuf::new(),
            // toml's message already names the key and shows the offending line.
            message: e.to_string(),
        })?;
        config.normalise()?;
        Ok(config)
    }

    /// Writes the file atomically and private to the user (see [`crate::files::write_atomically`]),
    /// so a crash mid-write never leaves a half-written configuration behind.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let mut normalised = self.clone();
        normalised.normalise()?;
        let text = toml::to_string_pretty(&normalised).expect("a Config always serialises");
        crate::files::write_atomically(path, text.as_bytes())
            .map_err(|source| ConfigError::Write { path: path.to_owned(), source })
    }

    /// Checks every value that TOML's types cannot express, and writes phone numbers in E.164.
    pub fn normalise(&mut self) -> Result<(), ConfigError> {
        self.check_mailbox()?;
        self.check_incidents()?;
        self.check_history()?;
        self.normalise_people()?;
        self.normalise_twilio()?;
        self.normalise_heartbeat()?;
        self.check_journal()
    }

    /// `[journal]`: a URL the driver reads, without a password in it.
    fn check_journal(&mut self) -> Result<(), ConfigError> {
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

    /// `[people]`: numbers typed the Brazilian way become E.164; names must say something.
    fn normalise_people(&mut self) -> Result<(), ConfigError> {
        let mut people = std::collections::BTreeMap::new();
        for (number, name) in &self.people {
            let e164 = phone_field("people", number)?;
            let name = name.trim();
            if name.is_empty() || name.chars().any(char::is_control) {
                return Err(ConfigError::invalid(
                    "people",
                    format!("the name for {number} is empty or has control characters."),
                    "write the person's name, e.g. \"+5511999990001\" = \"Ana\".",
                )
                .pt(
                    format!("o nome para {number} está vazio ou tem caracteres de controle."),
                    "escreva o nome da pessoa, por exemplo \"+5511999990001\" = \"Ana\".",
                ));
            }
            if people.insert(e164.clone(), name.chars().take(60).collect::<String>()).is_some() {
                return Err(ConfigError::invalid(
                    "people",
                    format!("{e164} is named twice."),
                    "keep one name per number.",
                )
                .pt(format!("{e164} tem dois nomes."), "deixe um nome por número."));
            }
        }
        self.people = people;
        Ok(())
    }

    /// What a number is called: its name in `[people]`, else the number written the Brazilian
    /// way (`(11) 99999-0001`).
    pub fn person(&self, number: &str) -> String {
        self.people.get(number).cloned().unwrap_or_else(|| crate::phone::display(number))
    }

    fn check_incidents(&self) -> Result<(), ConfigError> {
        let i = &self.incidents;
        if !i.key_pattern.is_empty() {
            let re = regex::Regex::new(&i.key_pattern).map_err(|e| {
                let detail = e.to_string().lines().last().unwrap_or_default().trim().to_owned();
                ConfigError::invalid("incidents.key_pattern", format!("{:?} is not a valid regular expression ({detail}).", i.key_pattern), "fix the expression, e.g. key_pattern = \"Sensor (?P<key>\\w+)\", or leave it empty to use the built-in rule.")
                    .pt(format!("{:?} não é uma expressão regular válida ({detail}).", i.key_pattern), "corrija a expressão, por exemplo Sensor (?P<key>\\w+), ou deixe vazio para usar a regra padrão.")
            })?;
            if !re.capture_names().any(|n| n == Some("key")) {
                return Err(ConfigError::invalid(
                    "incidents.key_pattern",
                    format!("{:?} has no group named `key`.", i.key_pattern),
                    "mark the part that names the problem with (?P<key>…), e.g. \"Sensor (?P<key>\\w+)\".",
                )
                .pt(format!("{:?} não tem um grupo chamado `key`.", i.key_pattern), "marque a parte que identifica o problema com (?P<key>…), por exemplo Sensor (?P<key>\\w+)."));
            }
        }
        if i.recovery_words.iter().any(|w| w.trim().is_empty()) {
            return Err(ConfigError::invalid(
                "incidents.recovery_words",
                "one of the words is empty.",
                "remove the empty entry from the list.",
            )
            .pt("uma das palavras está vazia.", "remova a entrada vazia da lista."));
        }
        Ok(())
    }

    fn check_history(&self) -> Result<(), ConfigError> {
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

    fn check_mailbox(&self) -> Result<(), ConfigError> {
        let m = &self.mailbox;
        if m.host.trim().is_empty() || m.host.contains(char::is_whitespace) {
            return Err(ConfigError::invalid(
                "mailbox.host",
                format!("{:?} is not a host name.", m.host),
                "write the IMAP server's name or address, e.g. host = \"imap.example.com\".",
            )
            .pt(
                format!("{:?} não é um nome de servidor.", m.host),
                "escreva o nome ou o endereço do servidor IMAP, por exemplo imap.empresa.com.br.",
            ));
        }
        if m.port == Some(0) {
            return Err(ConfigError::invalid(
                "mailbox.port",
                "0 is not a usable port.",
                "use 993 for security = \"tls\" or 143 for \"starttls\" (1-65535).",
            )
            .pt(
                "0 não é uma porta utilizável.",
                "use 993 com segurança \"tls\" ou 143 com \"starttls\" (1 a 65535).",
            ));
        }
        if m.security == Security::Plain && !is_loopback(&m.host) {
            return Err(ConfigError::invalid(
                "mailbox.security",
                format!("\"plain\" would send the password unencrypted to {}.", m.host),
                "use security = \"tls\" (port 993) or \"starttls\" (port 143); \"plain\" is only accepted for localhost.",
            )
            .pt(
                format!("\"plain\" mandaria a senha sem criptografia para {}.", m.host),
                "use segurança \"tls\" (porta 993) ou \"starttls\" (porta 143); \"plain\" só é aceito para localhost.",
            ));
        }
        if m.username.trim().is_empty() {
            return Err(ConfigError::invalid(
                "mailbox.username",
                "it is empty.",
                "write the mailbox login, e.g. username = \"alertas@example.com\".",
            )
            .pt(
                "está vazio.",
                "escreva o login da caixa de e-mail, por exemplo alertas@empresa.com.br.",
            ));
        }
        if let Some((field, [problem, fix, problema, correcao])) =
            m.oauth2.as_ref().and_then(|o| o.problem())
        {
            return Err(ConfigError::invalid(field, problem, fix).pt(problema, correcao));
        }
        if m.folder.trim().is_empty() {
            return Err(ConfigError::invalid(
                "mailbox.folder",
                "it is empty.",
                "use folder = \"INBOX\" or the folder's name.",
            )
            .pt("está vazio.", "use INBOX ou o nome da pasta."));
        }
        check_imap_text("mailbox.folder", &m.folder)?;
        if let Some(ca) = m.ca_file() {
            let pem = std::fs::read(ca).map_err(|e| {
                ConfigError::invalid(
                    "mailbox.ca_file",
                    format!("cannot read {}: {e}.", ca.display()),
                    "point it at a readable PEM certificate file, or leave it empty to use the system's trusted roots.",
                )
                .pt(
                    format!("não consigo ler {}: {e}.", ca.display()),
                    "indique um arquivo de certificado PEM legível, ou deixe vazio para usar os certificados confiáveis do sistema.",
                )
            })?;
            if async_native_tls::Certificate::from_pem(&pem).is_err() {
                return Err(ConfigError::invalid(
                    "mailbox.ca_file",
                    format!("{} is not a PEM certificate.", ca.display()),
                    "use the server's (or its CA's) certificate in PEM form (-----BEGIN CERTIFICATE-----).",
                )
                .pt(
                    format!("{} não é um certificado PEM.", ca.display()),
                    "use o certificado do servidor (ou da sua CA) em formato PEM (-----BEGIN CERTIFICATE-----).",
                ));
            }
        }
        if !(MIN_RESCAN_SECS..=MAX_RESCAN_SECS).contains(&m.rescan_secs) {
            return Err(ConfigError::invalid(
                "mailbox.rescan_secs",
                format!("{} is out of range.", m.rescan_secs),
                format!("use a value between {MIN_RESCAN_SECS} and {MAX_RESCAN_SECS} seconds (20 is a good default)."),
            )
            .pt(
                format!("{} está fora do intervalo.", m.rescan_secs),
                format!("use um valor entre {MIN_RESCAN_SECS} e {MAX_RESCAN_SECS} segundos (20 é um bom padrão)."),
            ));
        }
        if m.max_message_bytes < 4096 {
            return Err(ConfigError::invalid(
                "mailbox.max_message_bytes",
                format!("{} bytes is too small to hold an e-mail's headers.", m.max_message_bytes),
                "use at least 4096; the default is 1048576 (1 MiB).",
            )
            .pt(
                format!(
                    "{} bytes é pouco demais para os cabeçalhos de um e-mail.",
                    m.max_message_bytes
                ),
                "use pelo menos 4096; o padrão é 1048576 (1 MiB).",
            ));
        }
        let f = &self.filter;
        if f.from.iter().all(|e| e.trim().is_empty()) {
            return Err(ConfigError::invalid(
                "filter.from",
                "it is empty, so any sender would raise alerts.",
                "write the sensor's sender address, e.g. from = \"sensor@cpd.example.com.br\" (or a list, or \"@domain\").",
            )
            .pt("está vazio, e qualquer remetente geraria alertas.", "escreva o endereço do remetente do sensor, por exemplo sensor@cpd.empresa.com.br (ou vários, ou @domínio)."));
        }
        for entry in &f.from {
            check_imap_text("filter.from", entry)?;
            if let Err(problem) = crate::mail::AllowedSender::parse(entry) {
                return Err(ConfigError::invalid("filter.from", format!("{problem}."), "write an address (sensor@cpd.example.com.br), @domain (that domain only) or @.domain (with its subdomains).")
                    .pt(format!("{entry:?} não é um endereço, @domínio nem @.domínio."), "escreva um endereço (sensor@cpd.empresa.com.br), @domínio (só esse domínio) ou @.domínio (com subdomínios)."));
            }
        }
        check_imap_text("filter.authserv_id", &f.authserv_id)?;
        if f.authserv_id.trim().contains(char::is_whitespace) || f.authserv_id.contains(';') {
            return Err(ConfigError::invalid("filter.authserv_id", format!("{:?} is not a server id.", f.authserv_id), "write the id your mail server puts first in Authentication-Results, e.g. \"mx.empresa.com.br\".")
                .pt(format!("{:?} não é o id de um servidor.", f.authserv_id), "escreva o id que o seu servidor de e-mail põe no início de Authentication-Results, por exemplo mx.empresa.com.br."));
        }
        if f.subject.trim().is_empty() {
            return Err(ConfigError::invalid(
                "filter.subject",
                "it is empty.",
                "write the text the alert subjects contain, e.g. subject = \"ALERTA\".",
            )
            .pt(
                "está vazio.",
                "escreva o texto que os assuntos dos alertas contêm, por exemplo ALERTA.",
            ));
        }
        check_imap_text("filter.subject", &f.subject)?;
        if f.search.contains(['\r', '\n']) {
            return Err(ConfigError::invalid(
                "filter.search",
                "it contains a line break.",
                "write the extra criteria on one line.",
            )
            .pt("contém uma quebra de linha.", "escreva o critério extra numa linha só."));
        }
        Ok(())
    }
}

const SANDBOX_WHATSAPP_FROM: &str = "+14155238886";

impl Config {
    fn normalise_twilio(&mut self) -> Result<(), ConfigError> {
        if self.twilio.is_none()
            && (self.whatsapp.is_some() || self.calls.is_some() || self.sms.is_some())
        {
            return Err(ConfigError::invalid(
                "twilio",
                "[whatsapp], [sms] or [calls] is set but there is no [twilio] section.",
                "add [twilio] with account_sid = \"AC...\" (the auth token goes in the keyring or SENTINELA_TWILIO_AUTH_TOKEN).",
            )
            .pt(
                "WhatsApp ou chamadas estão configurados, mas falta a seção Twilio.",
                "preencha o Account SID do Twilio (AC…); o auth token vai para o cofre de senhas do sistema.",
            ));
        }
        if let Some(t) = &mut self.twilio {
            if !is_sid(&t.account_sid, "AC") {
                return Err(ConfigError::invalid(
                    "twilio.account_sid",
                    format!("{:?} is not an Account SID.", t.account_sid),
                    "copy it from the Twilio console: AC followed by 32 hexadecimal characters.",
                )
                .pt(
                    format!("{:?} não é um Account SID.", t.account_sid),
                    "copie-o do console do Twilio: AC seguido de 32 caracteres hexadecimais.",
                ));
            }
            if !t.api_key_sid.is_empty() && !is_sid(&t.api_key_sid, "SK") {
                return Err(ConfigError::invalid(
                    "twilio.api_key_sid",
                    format!("{:?} is not an API key SID.", t.api_key_sid),
                    "use SK followed by 32 hexadecimal characters, or leave it empty to use the auth token.",
                )
                .pt(
                    format!("{:?} não é o SID de uma API key.", t.api_key_sid),
                    "use SK seguido de 32 caracteres hexadecimais, ou deixe vazio para usar o auth token.",
                ));
            }
            let url = t.base_url.trim_end_matches('/');
            checked_url("twilio.base_url", url, "https://api.twilio.com")?;
            t.base_url = url.to_owned();
            let url = t.studio_url.trim_end_matches('/');
            checked_url("twilio.studio_url", url, "https://studio.twilio.com")?;
            t.studio_url = url.to_owned();
        }
        if let Some(w) = &mut self.whatsapp {
            w.from = phone_field("whatsapp.from", &w.from)?;
            w.to = phone_list("whatsapp.to", &w.to)?;
            if !w.content_sid.is_empty() && !is_sid(&w.content_sid, "HX") {
                return Err(ConfigError::invalid(
                    "whatsapp.content_sid",
                    format!("{:?} is not a Content SID.", w.content_sid),
                    "use HX followed by 32 hexadecimal characters, or leave it empty to send plain text.",
                )
                .pt(
                    format!("{:?} não é um Content SID.", w.content_sid),
                    "use HX seguido de 32 caracteres hexadecimais, ou deixe vazio para mandar texto simples.",
                ));
            }
        }
        if let Some(m) = &mut self.sms {
            m.from = phone_field("sms.from", &m.from)?;
            if !m.to.is_empty() {
                m.to = phone_list("sms.to", &m.to)?;
            }
            let on_whatsapp = self.whatsapp.as_ref().map(|w| w.to.clone()).unwrap_or_default();
            if let Some(both) = m.to.iter().find(|n| on_whatsapp.contains(n)) {
                let shown = crate::phone::display(both);
                return Err(ConfigError::invalid("sms.to", format!("{shown} is in [whatsapp] to already."), "keep each person in one list: SMS reaches WhatsApp's recipients anyway when their WhatsApp fails.")
                    .pt(format!("{shown} já está nos destinatários do WhatsApp."), "deixe cada pessoa em uma lista só: o SMS já chega a quem está no WhatsApp quando o WhatsApp falha."));
            }
        }
        if let Some(c) = &mut self.calls {
            c.from = phone_field("calls.from", &c.from)?;
            c.to = phone_list("calls.to", &c.to)?;
            if !(5..=120).contains(&c.ring_secs) {
                return Err(ConfigError::invalid(
                    "calls.ring_secs",
                    format!("{} is out of range.", c.ring_secs),
                    "use 5 to 120 seconds (25 rings about 5 times).",
                )
                .pt(
                    format!("{} está fora do intervalo.", c.ring_secs),
                    "use de 5 a 120 segundos (25 tocam umas 5 vezes).",
                ));
            }
            if !(1..=10).contains(&c.rounds) {
                return Err(ConfigError::invalid(
                    "calls.rounds",
                    format!("{} is out of range.", c.rounds),
                    "use 1 to 10 rounds through the list.",
                )
                .pt(
                    format!("{} está fora do intervalo.", c.rounds),
                    "use de 1 a 10 rodadas pela lista.",
                ));
            }
            if c.round_pause_secs > 3600 {
                return Err(ConfigError::invalid(
                    "calls.round_pause_secs",
                    format!("{} is too long.", c.round_pause_secs),
                    "use at most 3600 seconds.",
                )
                .pt(
                    format!("{} é longo demais.", c.round_pause_secs),
                    "use no máximo 3600 segundos.",
                ));
            }
            if c.voice.trim().is_empty() || c.voice.contains(['"', '<', '>', '&']) {
                return Err(ConfigError::invalid(
                    "calls.voice",
                    format!("{:?} is not a voice name.", c.voice),
                    "use a Portuguese voice such as \"Polly.Camila\" or \"Polly.Vitoria-Neural\".",
                )
                .pt(
                    format!("{:?} não é um nome de voz.", c.voice),
                    "use uma voz em português, como Polly.Camila ou Polly.Vitoria-Neural.",
                ));
            }
            if c.language.trim().is_empty() || c.language.contains(['"', '<', '>', '&']) {
                return Err(ConfigError::invalid(
                    "calls.language",
                    format!("{:?} is not a language tag.", c.language),
                    "use \"pt-BR\".",
                )
                .pt(format!("{:?} não é um código de idioma.", c.language), "use pt-BR."));
            }
        }
        Ok(())
    }

    /// True when the WhatsApp sender is Twilio's shared sandbox number.
    pub fn whatsapp_uses_sandbox(&self) -> bool {
        self.whatsapp.as_ref().is_some_and(|w| w.from == SANDBOX_WHATSAPP_FROM)
    }
}

/// A URL a secret or a sign of life may be sent to: parsed (never compared by prefix), `https`
/// — or `http` to this machine only — and without a user-info part, so that
/// `http://localhost:1@evil.example` is seen for what it is.
fn checked_url(
    field: &'static str,
    value: &str,
    example: &str,
) -> Result<reqwest::Url, ConfigError> {
    let refuse = |problem: String, pt: String| {
        Err(ConfigError::invalid(
            field,
            problem,
            format!("use an https URL such as {example} (plain http only to localhost)."),
        )
        .pt(pt, format!("use um endereço https como {example} (http simples só para localhost).")))
    };
    let Ok(url) = reqwest::Url::parse(value) else {
        return refuse(format!("{value:?} is not a URL."), format!("{value:?} não é um endereço."));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return refuse(
            format!("{value:?} has a user name or password before the host."),
            format!("{value:?} tem usuário ou senha antes do servidor."),
        );
    }
    let local = url.host_str().is_some_and(is_loopback);
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(url),
        "http" if local => Ok(url),
        _ => refuse(
            format!("{value:?} is not an https URL."),
            format!("{value:?} não é um endereço https."),
        ),
    }
}

impl Config {
    fn normalise_heartbeat(&mut self) -> Result<(), ConfigError> {
        if self.filter.silence_alarm_hours > 24 * 31 {
            return Err(ConfigError::invalid(
                "filter.silence_alarm_hours",
                format!("{} is too long.", self.filter.silence_alarm_hours),
                "use at most 744 hours (31 days), or 0 for no silence alarm.",
            )
            .pt(
                format!("{} é longo demais.", self.filter.silence_alarm_hours),
                "use no máximo 744 horas (31 dias), ou 0 para não vigiar o silêncio.",
            ));
        }
        let has_whatsapp = self.whatsapp.is_some();
        let Some(h) = &mut self.heartbeat else { return Ok(()) };
        h.url = h.url.trim().to_owned();
        if !h.url.is_empty() {
            checked_url("heartbeat.url", &h.url, "https://hc-ping.com/<uuid>")?;
        }
        if !(1..=1440).contains(&h.every_mins) {
            return Err(ConfigError::invalid(
                "heartbeat.every_mins",
                format!("{} is out of range.", h.every_mins),
                "use 1 to 1440 minutes (5 suits most monitors).",
            )
            .pt(
                format!("{} está fora do intervalo.", h.every_mins),
                "use de 1 a 1440 minutos (5 serve para a maioria dos monitores).",
            ));
        }
        if h.daily_time().is_none() {
            return Err(ConfigError::invalid(
                "heartbeat.daily_at",
                format!("{:?} is not a time of day.", h.daily_at),
                "write it as HH:MM, e.g. \"08:00\".",
            )
            .pt(
                format!("{:?} não é um horário.", h.daily_at),
                "escreva como HH:MM, por exemplo 08:00.",
            ));
        }
        if !h.whatsapp_to.is_empty() {
            h.whatsapp_to = phone_list("heartbeat.whatsapp_to", &h.whatsapp_to)?;
            if !has_whatsapp {
                return Err(ConfigError::invalid(
                    "heartbeat.whatsapp_to",
                    "the daily WhatsApp needs the [whatsapp] section (its sender).",
                    "fill [whatsapp], or empty heartbeat.whatsapp_to.",
                )
                .pt(
                    "o WhatsApp diário precisa da seção WhatsApp (o remetente).",
                    "preencha o WhatsApp, ou esvazie a lista do aviso diário.",
                ));
            }
        }
        Ok(())
    }
}

fn is_sid(value: &str, prefix: &str) -> bool {
    value.len() == 34
        && value.starts_with(prefix)
        && value[2..].chars().all(|c| c.is_ascii_hexdigit())
}

fn phone_field(field: &'static str, value: &str) -> Result<String, ConfigError> {
    crate::phone::normalise(value).map_err(|e| {
        ConfigError::invalid(field, e.to_string(), "correct the number.").pt(
            e.in_portuguese(),
            "escreva com o DDD, por exemplo (11) 99999-0001, ou no formato internacional, por exemplo +55 11 99999-0001.",
        )
    })
}

fn phone_list(field: &'static str, values: &[String]) -> Result<Vec<String>, ConfigError> {
    if values.is_empty() {
        return Err(ConfigError::invalid(
            field,
            "the list is empty.",
            "add at least one number, e.g. [\"(11) 99999-0001\"].",
        )
        .pt(
            "a lista está vazia.",
            "acrescente pelo menos um número, por exemplo (11) 99999-0001.",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let n = phone_field(field, v)?;
        if out.contains(&n) {
            return Err(ConfigError::invalid(
                field,
                format!("{v:?} is in the list twice."),
                "remove the repeated number.",
            )
            .pt(format!("{v:?} está duas vezes na lista."), "tire o número repetido."));
        }
        out.push(n);
    }
    Ok(out)
}

/// Line breaks would end the IMAP command early and let the rest be read as a new command.
fn check_imap_text(field: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(ConfigError::invalid(
            field,
            "it contains a line break or NUL character.",
            "write it on one line.",
        )
        .pt("contém uma quebra de linha ou um caractere NUL.", "escreva numa linha só."));
    }
    Ok(())
}

/// True for `localhost` and loopback addresses (127.0.0.0/8, ::1).
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[mailbox]
host = "imap.example.com"
username = "alertas@example.com"

[filter]
from = "sensor@cpd.example.com.br"
subject = "ALERTA"
"#;

    fn field_of(text: &str) -> Option<&'static str> {
        Config::parse(text).unwrap_err().field()
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.mailbox.port(), 993);
        assert_eq!(c.mailbox.security, Security::Tls);
        assert_eq!(c.mailbox.folder, "INBOX");
        assert_eq!(c.mailbox.rescan_secs, 20);
        assert!(c.mailbox.mark_seen);
        assert_eq!(c.mailbox.ca_file(), None);
        assert_eq!(c.filter.search, "");
    }

    #[test]
    fn a_file_as_notepad_writes_it_reads_the_same() {
        let notepad = format!(
            "\u{FEFF}{}",
            GOOD.replace('\n', "\r\n").replace("alertas@example.com", "joão@example.com")
        );
        let c = Config::parse(&notepad).unwrap();
        assert_eq!(
            (c.mailbox.host.as_str(), c.mailbox.username.as_str()),
            ("imap.example.com", "joão@example.com")
        );
        assert_eq!(c.filter.subject, "ALERTA", "no \\r left at the end of a value");
    }

    #[test]
    fn starttls_defaults_to_port_143() {
        let c = Config::parse(&GOOD.replace("[mailbox]", "[mailbox]\nsecurity = \"starttls\""))
            .unwrap();
        assert_eq!(c.mailbox.port(), 143);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse(&GOOD.replace("[mailbox]", "[mailbox]\nhots = \"x\"")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("hots"), "{msg}");
        assert!(msg.contains("unknown field"), "{msg}");
    }

    #[test]
    fn incident_options_are_checked_with_the_field_and_the_fix() {
        let with = |section: &str| Config::parse(&format!("{GOOD}\n[incidents]\n{section}\n"));
        let c = with("remind_every_mins = 0\nrecovery_words = [\"liberado\"]\nkey_pattern = 'Sonda (?P<key>\\w+)'").unwrap();
        assert_eq!(
            (c.incidents.remind_every_mins, c.incidents.reopen_within_mins),
            (0, 15),
            "unset fields keep their default"
        );
        let e = with("key_pattern = 'Sonda (\\w+'").unwrap_err();
        assert_eq!(e.field(), Some("incidents.key_pattern"));
        assert!(e.to_string().contains("is not a valid regular expression"), "{e}");
        assert!(e.in_portuguese().unwrap().contains("não é uma expressão regular válida"));
        let e = with("key_pattern = 'Sonda (\\w+)'").unwrap_err();
        assert!(
            e.to_string().contains("no group named `key`") && e.to_string().contains("(?P<key>"),
            "{e}"
        );
        assert_eq!(
            with("recovery_words = [\" \"]").unwrap_err().field(),
            Some("incidents.recovery_words")
        );
        assert!(
            with("remind_every = 3").unwrap_err().to_string().contains("remind_every"),
            "unknown keys are named"
        );
        // A file without [incidents] is written without it.
        let plain = Config::parse(GOOD).unwrap();
        assert!(!toml::to_string(&plain).unwrap().contains("[incidents]"));
    }

    #[test]
    fn sms_and_history_are_checked_with_the_field_and_the_fix() {
        let twilio = "[twilio]\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\n[whatsapp]\nfrom = \"+14155238886\"\nto = [\"(11) 99999-0001\"]\n";
        let with = |extra: &str| Config::parse(&format!("{GOOD}\n{twilio}\n{extra}\n"));
        let c = with("[sms]\nfrom = \"+1 415 555 0100\"\nto = [\"(21) 98888-0003\"]").unwrap();
        let sms = c.sms.unwrap();
        assert_eq!(
            (sms.from.as_str(), sms.fallback, sms.to.as_slice()),
            ("+14155550100", true, &["+5521988880003".to_owned()][..])
        );
        let e = with("[sms]\nfrom = \"+14155550100\"\nto = [\"+5511999990001\"]").unwrap_err();
        assert_eq!(e.field(), Some("sms.to"));
        assert!(e.to_string().contains("(11) 99999-0001 is in [whatsapp] to already"), "{e}");
        assert_eq!(with("[sms]\nfrom = \"123\"").unwrap_err().field(), Some("sms.from"));
        assert_eq!(
            Config::parse(&format!("{GOOD}\n[sms]\nfrom = \"+14155550100\"\n"))
                .unwrap_err()
                .field(),
            Some("twilio"),
            "SMS needs the account"
        );
        let e = Config::parse(&format!("{GOOD}\n[history]\nkeep_days = 40000\n")).unwrap_err();
        assert_eq!(e.field(), Some("history.keep_days"));
        assert_eq!(
            Config::parse(&format!("{GOOD}\n[history]\nkeep_days = 365\n")).unwrap().history.keep(),
            Some(chrono::Duration::days(365))
        );
    }

    #[test]
    fn wrong_type_and_missing_field_are_named() {
        let msg = Config::parse(&GOOD.replace("[mailbox]", "[mailbox]\nport = \"993\""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("port"), "{msg}");
        let msg = Config::parse(&GOOD.replace("username = \"alertas@example.com\"", ""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("username"), "{msg}");
    }

    #[test]
    fn invalid_port_is_refused() {
        assert_eq!(
            field_of(&GOOD.replace("[mailbox]", "[mailbox]\nport = 0")),
            Some("mailbox.port")
        );
        // Out of u16 range is a type error from TOML that still names the key.
        let msg = Config::parse(&GOOD.replace("[mailbox]", "[mailbox]\nport = 70000"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("port"), "{msg}");
    }

    #[test]
    fn plain_text_only_to_loopback() {
        let plain = GOOD.replace("[mailbox]", "[mailbox]\nsecurity = \"plain\"");
        assert_eq!(field_of(&plain), Some("mailbox.security"));
        let local = plain.replace("imap.example.com", "127.0.0.1");
        assert!(Config::parse(&local).is_ok());
        assert!(
            is_loopback("localhost")
                && is_loopback("::1")
                && is_loopback("[::1]")
                && !is_loopback("10.0.0.1")
        );
    }

    #[test]
    fn empty_filter_and_line_breaks_are_refused() {
        assert_eq!(field_of(&GOOD.replace("\"ALERTA\"", "\"\"")), Some("filter.subject"));
        assert_eq!(
            field_of(&GOOD.replace("\"sensor@cpd.example.com.br\"", "\"a\\r\\nb\"")),
            Some("filter.from")
        );
        assert_eq!(
            field_of(&GOOD.replace("[mailbox]", "[mailbox]\nrescan_secs = 0")),
            Some("mailbox.rescan_secs")
        );
    }

    #[test]
    fn ca_file_must_be_a_readable_pem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = GOOD.replace(
            "[mailbox]",
            &format!("[mailbox]\nca_file = {:?}", dir.path().join("nope.pem")),
        );
        assert_eq!(field_of(&missing), Some("mailbox.ca_file"));
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let bad = GOOD.replace("[mailbox]", &format!("[mailbox]\nca_file = {:?}", junk));
        assert_eq!(field_of(&bad), Some("mailbox.ca_file"));
    }

    const TWILIO: &str = r#"
[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"

[whatsapp]
from = "+14155238886"
to = ["(11) 99999-0001", "+55 11 99999-0002"]

[calls]
from = "+1 415 523 8886"
to = ["11 99999 0001", "(21) 98888-7777"]
"#;

    #[test]
    fn twilio_sections_normalise_phone_numbers() {
        let c = Config::parse(&format!("{GOOD}{TWILIO}")).unwrap();
        assert_eq!(c.whatsapp.as_ref().unwrap().to, ["+5511999990001", "+5511999990002"]);
        let calls = c.calls.as_ref().unwrap();
        assert_eq!(calls.to, ["+5511999990001", "+5521988887777"]);
        assert_eq!(calls.from, "+14155238886");
        assert_eq!(
            (calls.ring_secs, calls.rounds, calls.voice.as_str(), calls.language.as_str()),
            (25, 2, "Polly.Camila", "pt-BR")
        );
        assert!(calls.require_human);
        assert!(c.whatsapp_uses_sandbox());
        assert_eq!(c.twilio.as_ref().unwrap().base_url, "https://api.twilio.com");
    }

    #[test]
    fn twilio_mistakes_name_their_field() {
        let full = format!("{GOOD}{TWILIO}");
        assert_eq!(field_of(&full.replace("(21) 98888-7777", "(21) 9888")), Some("calls.to"));
        assert_eq!(
            field_of(&full.replace(
                "\"(11) 99999-0001\", \"+55",
                "\"(11) 99999-0001\", \"(11) 99999-0001\", \"+55"
            )),
            Some("whatsapp.to")
        );
        assert_eq!(field_of(&full.replace("AC0123", "XX0123")), Some("twilio.account_sid"));
        assert_eq!(
            field_of(&format!(
                "{GOOD}[calls]\nfrom = \"+14155238886\"\nto = [\"+5511999990001\"]\n"
            )),
            Some("twilio")
        );
        assert_eq!(field_of(&full.replace("[calls]", "[calls]\nrounds = 0")), Some("calls.rounds"));
        let http = full.replace("[twilio]", "[twilio]\nbase_url = \"http://api.example.com\"");
        assert_eq!(field_of(&http), Some("twilio.base_url"));
        let local = full.replace("[twilio]", "[twilio]\nbase_url = \"http://127.0.0.1:8080/\"");
        assert_eq!(
            Config::parse(&local).unwrap().twilio.unwrap().base_url,
            "http://127.0.0.1:8080"
        );
        let msg = Config::parse(&full.replace("(21) 98888-7777", "abc")).unwrap_err().to_string();
        assert!(msg.contains("calls.to") && msg.contains("\"abc\""), "{msg}");
        // Parsed as a URL, not by prefix: a user-info part hides the real host.
        for tricky in [
            "http://localhost:1@evil.example",
            "http://localhost@evil.example",
            "https://user:pw@api.twilio.com",
            "ftp://localhost",
            "http://127.0.0.1.evil.example",
            "api.twilio.com",
        ] {
            let bad = full.replace("[twilio]", &format!("[twilio]\nbase_url = \"{tricky}\""));
            assert_eq!(field_of(&bad), Some("twilio.base_url"), "{tricky}");
        }
        let v6 = full.replace("[twilio]", "[twilio]\nbase_url = \"http://[::1]:9000\"");
        assert!(Config::parse(&v6).is_ok());
    }

    #[test]
    fn the_heartbeat_and_the_silence_alarm_are_checked() {
        let full = format!("{GOOD}{TWILIO}");
        let c = Config::parse(&format!("{full}\n[heartbeat]\nurl = \"https://hc-ping.com/abc\"\nwhatsapp_to = [\"(11) 99999-0001\"]\n")).unwrap();
        let h = c.heartbeat.as_ref().unwrap();
        assert_eq!(
            (h.every_mins, h.daily_at.as_str(), h.whatsapp_to.clone()),
            (5, "08:00", vec!["+5511999990001".to_owned()])
        );
        assert_eq!(
            field_of(&format!("{full}\n[heartbeat]\nurl = \"http://monitor.example\"\n")),
            Some("heartbeat.url")
        );
        assert_eq!(
            field_of(&format!("{full}\n[heartbeat]\nevery_mins = 0\n")),
            Some("heartbeat.every_mins")
        );
        assert_eq!(
            field_of(&format!("{full}\n[heartbeat]\ndaily_at = \"25:00\"\n")),
            Some("heartbeat.daily_at")
        );
        assert_eq!(
            field_of(&format!("{GOOD}\n[heartbeat]\nwhatsapp_to = [\"(11) 99999-0001\"]\n")),
            Some("heartbeat.whatsapp_to")
        );
        let silent = GOOD.replace("[filter]", "[filter]\nsilence_alarm_hours = 26");
        assert_eq!(Config::parse(&silent).unwrap().filter.silence_alarm_hours, 26);
        assert_eq!(
            field_of(&GOOD.replace("[filter]", "[filter]\nsilence_alarm_hours = 800")),
            Some("filter.silence_alarm_hours")
        );
        // Written back only when set.
        let text = toml::to_string(&Config::parse(GOOD).unwrap()).unwrap();
        assert!(!text.contains("silence_alarm_hours") && !text.contains("heartbeat"), "{text}");
    }

    #[test]
    fn field_mistakes_are_also_said_in_portuguese() {
        let full = format!("{GOOD}{TWILIO}");
        let e = Config::parse(&full.replace("(21) 98888-7777", "abc")).unwrap_err();
        let pt = e.in_portuguese().expect("a Portuguese message");
        assert!(
            pt.starts_with("campo `calls.to`: \"abc\" não é um número de telefone válido"),
            "{pt}"
        );
        assert!(pt.contains("Como corrigir: escreva com o DDD"), "{pt}");
        assert!(
            e.to_string().starts_with("configuration field `calls.to`"),
            "English stays for logs and the CLI"
        );
        // Every field check carries its Portuguese text, whichever field it is about.
        for broken in [
            full.replace("AC0123", "XX0123"),
            full.replace("[calls]", "[calls]\nrounds = 0"),
            full.replace("[twilio]", "[twilio]\nbase_url = \"http://api.example.com\""),
            GOOD.replace("host = \"imap.example.com\"", "host = \"\""),
        ] {
            let e = Config::parse(&broken).unwrap_err();
            assert!(e.in_portuguese().is_some_and(|m| m.contains("Como corrigir:")), "{e}");
        }
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/sentinela.toml");
        let c = Config::parse(GOOD).unwrap();
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        assert!(!path.with_extension("toml.tmp").exists());
    }
}

#[cfg(test)]
mod example_file {
    #[test]
    fn the_documented_example_is_valid() {
        let text = include_str!("../../../docs/sentinela.example.toml");
        let c = super::Config::parse(text).expect("docs/sentinela.example.toml parses");
        assert_eq!(c.mailbox.host, "imap.example.com");
    }
}
