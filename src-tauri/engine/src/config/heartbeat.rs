//! `[heartbeat]`: the sign of life sent outside, and the sensor's silence alarm it goes with.

use super::*;

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

impl Config {
    pub(super) fn normalise_heartbeat(&mut self) -> Result<(), ConfigError> {
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
