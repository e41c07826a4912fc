//! The configuration file: one TOML document shared by `sentinela-headless` and the desktop app.
//!
//! Loading is all-or-nothing. A file with an unknown key, a wrong type, a missing field or a value
//! that cannot work is refused with a [`ConfigError`] that names the field and says how to fix it,
//! so the program never starts half-configured. Secrets never live here: see [`crate::secrets`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod heartbeat;
mod incidents;
mod journal;
mod mailbox;
mod twilio;

pub use heartbeat::*;
pub use incidents::*;
pub use journal::*;
pub use mailbox::*;
pub use twilio::*;

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

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn default_true() -> bool {
    true
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
        let text = include_str!("../../../../docs/sentinela.example.toml");
        let c = super::Config::parse(text).expect("docs/sentinela.example.toml parses");
        assert_eq!(c.mailbox.host, "imap.example.com");
    }
}
