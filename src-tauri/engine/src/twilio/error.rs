//! Twilio errors, each with what it means for an operator and what to do.

use serde::Deserialize;

/// Twilio's error body: `{"code":20003,"message":"Authenticate","more_info":"…","status":401}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    pub code: Option<u32>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TwilioError {
    #[error("Twilio refused the request (HTTP {status}{}): {message}. {hint}", code.map(|c| format!(", error {c}")).unwrap_or_default())]
    Api { status: u16, code: Option<u32>, message: String, hint: &'static str },
    #[error("cannot reach Twilio at {base_url}: {reason}. Check the network, a proxy or firewall, and twilio.base_url.")]
    Network { base_url: String, reason: String },
    #[error("Twilio's answer could not be read: {reason}")]
    Decode { reason: String },
}

impl TwilioError {
    pub fn code(&self) -> Option<u32> {
        match self {
            TwilioError::Api { code, .. } => *code,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            TwilioError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The account's credentials were refused: nothing will work until a person fixes them.
    pub fn is_auth(&self) -> bool {
        self.status() == Some(401) || self.code() == Some(20003)
    }

    /// Whether trying the same request again later can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            TwilioError::Network { .. } => true,
            TwilioError::Api { status, code, .. } => *status == 429 || *status >= 500 || *code == Some(20429),
            TwilioError::Decode { .. } => false,
        }
    }

    pub(crate) fn from_body(status: u16, body: &str) -> Self {
        let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
        let code = parsed.as_ref().and_then(|b| b.code);
        let message = parsed
            .and_then(|b| b.message)
            .unwrap_or_else(|| body.chars().take(200).collect::<String>());
        TwilioError::Api { status, code, message, hint: hint(status, code) }
    }
}

/// A delivery error code reported on a Message resource, in words: "error 63016: …".
pub fn describe_code(code: i64) -> String {
    format!("error {code}: {}", hint(400, u32::try_from(code).ok()))
}

/// What to do about an error, by Twilio code (codes from Twilio's error dictionary).
pub fn hint(status: u16, code: Option<u32>) -> &'static str {
    match code {
        Some(20003) => "The Account SID, API key or auth token is wrong: check twilio.account_sid / twilio.api_key_sid and the auth token in the keyring (or SENTINELA_TWILIO_AUTH_TOKEN).",
        Some(20404) => "Twilio does not know this resource: check twilio.account_sid.",
        Some(20429) => "Too many requests: Twilio asked to slow down; Sentinela retries with backoff.",
        Some(21211) | Some(21214) | Some(21217) | Some(13224) => "The destination number is invalid or cannot be reached: check the number in whatsapp.to / calls.to.",
        Some(21210) => "The sender number is not one of this Twilio account's numbers or verified caller IDs: check calls.from / whatsapp.from.",
        Some(21215) | Some(13227) | Some(32205) => "The account is not allowed to call this country: enable it in the Twilio console (Voice > Settings > Geo permissions).",
        Some(21216) => "This number is blocked by Twilio: use another number.",
        Some(21608) | Some(21219) | Some(573005) => "A trial account can only reach verified numbers: verify this number in the Twilio console or upgrade the account.",
        Some(63015) => "The recipient has not joined the WhatsApp sandbox: they must send \"join <code>\" to the sandbox number (it expires after 3 days).",
        Some(63016) => "Outside the 24-hour WhatsApp window: set whatsapp.content_sid to an approved template so business-initiated messages are allowed.",
        Some(63021) => "The WhatsApp template content is invalid or over 1024 characters: check whatsapp.content_sid and its variables.",
        Some(63007) => "Twilio has no WhatsApp sender for whatsapp.from: use the sandbox number or a registered WhatsApp sender.",
        _ if status == 401 => "The credentials were refused: check the Account SID and auth token.",
        _ if status == 429 => "Too many requests: Sentinela retries with backoff.",
        _ if status >= 500 => "Twilio had a problem on its side: Sentinela retries with backoff.",
        _ => "See the error code in Twilio's error dictionary.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_bodies_become_clear_messages() {
        let e = TwilioError::from_body(401, r#"{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}"#);
        assert!(e.is_auth() && !e.is_transient());
        let m = e.to_string();
        assert!(m.contains("HTTP 401, error 20003") && m.contains("auth token"), "{m}");
        let e = TwilioError::from_body(400, r#"{"code":63016,"message":"Failed to send freeform message","status":400}"#);
        assert!(e.to_string().contains("whatsapp.content_sid"));
        assert!(TwilioError::from_body(503, "<html>busy</html>").is_transient());
        assert!(TwilioError::from_body(429, "{}").is_transient());
    }
}
