//! `[mailbox]` and `[filter]`: where the alert e-mails arrive and which are alerts, with the
//! checks TOML's types cannot make (ports, TLS, a CA file, IMAP-safe text, the sender rules).

use super::*;

/// Upper bound for `rescan_secs`: RFC 2177 asks clients to re-issue IDLE before 29 minutes.
pub const MAX_RESCAN_SECS: u64 = 29 * 60;

const MIN_RESCAN_SECS: u64 = 2;

/// Default cap on the bytes fetched per e-mail.
pub const DEFAULT_MAX_MESSAGE_BYTES: u32 = 1024 * 1024;

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
    pub(super) fn default_port(self) -> u16 {
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

fn default_security() -> Security {
    Security::Tls
}

fn default_folder() -> String {
    "INBOX".into()
}

fn default_rescan_secs() -> u64 {
    20
}

fn default_max_message_bytes() -> u32 {
    DEFAULT_MAX_MESSAGE_BYTES
}

impl Config {
    pub(super) fn check_mailbox(&self) -> Result<(), ConfigError> {
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
