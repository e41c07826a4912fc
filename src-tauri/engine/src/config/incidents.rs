//! `[incidents]`: how e-mails become incidents (keys, recoveries, reminders, re-escalation).

use super::*;

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
    pub(super) fn is_default(&self) -> bool {
        *self == IncidentsConfig::default()
    }
}

impl Config {
    pub(super) fn check_incidents(&self) -> Result<(), ConfigError> {
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
}
