//! `[twilio]`, `[whatsapp]`, `[sms]` and `[calls]`: the account and how the team is told, with
//! their checks (SIDs, URLs, numbers in E.164, the voice and the rounds).

use super::*;

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

const SANDBOX_WHATSAPP_FROM: &str = "+14155238886";

impl Config {
    pub(super) fn normalise_twilio(&mut self) -> Result<(), ConfigError> {
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

fn is_sid(value: &str, prefix: &str) -> bool {
    value.len() == 34
        && value.starts_with(prefix)
        && value[2..].chars().all(|c| c.is_ascii_hexdigit())
}
