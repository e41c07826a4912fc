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
    Network {
        base_url: String,
        reason: String,
        /// The request may have reached Twilio (a timeout or a connection lost after it was
        /// written); false only when the connection was never made.
        maybe_sent: bool,
    },
    #[error("Twilio's answer could not be read: {reason}")]
    Decode { reason: String },
    /// On a shared journal, this workstation may no longer be the one that notifies: the
    /// create was not sent (the lease holder sends it).
    #[error("not sent: this workstation may no longer hold the notify lease ({reason})")]
    NotTheNotifier { reason: String },
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

    /// Whether Twilio may have acted on a request that failed this way: a create that failed
    /// so must be looked up before it is sent again.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            TwilioError::Network { maybe_sent, .. } => *maybe_sent,
            TwilioError::Api { status, .. } => *status >= 500,
            TwilioError::Decode { .. } => true,
            TwilioError::NotTheNotifier { .. } => false,
        }
    }

    /// Whether trying the same request again later can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            TwilioError::Network { .. } => true,
            TwilioError::Api { status, code, .. } => {
                *status == 429 || *status >= 500 || *code == Some(20429)
            }
            TwilioError::Decode { .. } => false,
            // Left owed: whoever holds the lease sends it.
            TwilioError::NotTheNotifier { .. } => true,
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

/// The same in Portuguese: "erro 63016: …".
pub fn describe_code_in_portuguese(code: i64) -> String {
    format!("erro {code}: {}", hints(400, u32::try_from(code).ok()).1)
}

/// What to do about an error, by Twilio code (codes from Twilio's error dictionary).
pub fn hint(status: u16, code: Option<u32>) -> &'static str {
    hints(status, code).0
}

/// What to do about an error, in English and in Portuguese (for the settings window of a
/// Brazilian NOC): one table, so the two languages cannot drift apart.
fn hints(status: u16, code: Option<u32>) -> (&'static str, &'static str) {
    match code {
        Some(20003) => (
            "The Account SID, API key or auth token is wrong: check twilio.account_sid / twilio.api_key_sid and the auth token in the keyring (or SENTINELA_TWILIO_AUTH_TOKEN).",
            "O Account SID, a API key ou o auth token está errado: confira twilio.account_sid / twilio.api_key_sid nas Configurações e guarde o auth token de novo.",
        ),
        Some(20404) => (
            "Twilio does not know this resource: check twilio.account_sid.",
            "O Twilio não conhece este recurso: confira twilio.account_sid.",
        ),
        Some(20429) => (
            "Too many requests: Twilio asked to slow down; Sentinela retries with backoff.",
            "Pedidos demais: o Twilio pediu para ir mais devagar; o Sentinela tenta de novo, aos poucos.",
        ),
        Some(21211) | Some(21214) | Some(21217) | Some(13224) => (
            "The destination number is invalid or cannot be reached: check the number in whatsapp.to / calls.to.",
            "O número de destino é inválido ou não pode ser alcançado: confira o número em whatsapp.to / calls.to.",
        ),
        Some(21210) => (
            "The sender number is not one of this Twilio account's numbers or verified caller IDs: check calls.from / whatsapp.from.",
            "O número de origem não é um número desta conta Twilio nem um caller ID verificado: confira calls.from / whatsapp.from.",
        ),
        Some(21215) | Some(13227) | Some(32205) => (
            "The account is not allowed to call this country: enable it in the Twilio console (Voice > Settings > Geo permissions).",
            "A conta não tem permissão para ligar para este país: habilite-o no console do Twilio (Voice > Settings > Geo permissions).",
        ),
        Some(21216) => (
            "This number is blocked by Twilio: use another number.",
            "Este número está bloqueado pelo Twilio: use outro número.",
        ),
        Some(21608) | Some(21219) | Some(573005) => (
            "A trial account can only reach verified numbers: verify this number in the Twilio console or upgrade the account.",
            "Uma conta de teste (trial) só alcança números verificados: verifique este número no console do Twilio ou faça o upgrade da conta.",
        ),
        Some(63015) => (
            "The recipient has not joined the WhatsApp sandbox: they must send \"join <code>\" to the sandbox number (it expires after 3 days).",
            "O destinatário não entrou no sandbox do WhatsApp: ele precisa enviar \"join <código>\" ao número do sandbox (vale por 3 dias).",
        ),
        Some(63016) => (
            "Outside the 24-hour WhatsApp window: set whatsapp.content_sid to an approved template so business-initiated messages are allowed.",
            "Fora da janela de 24 horas do WhatsApp: defina whatsapp.content_sid com um modelo aprovado para poder enviar mensagens iniciadas pela empresa.",
        ),
        Some(63021) => (
            "The WhatsApp template content is invalid or over 1024 characters: check whatsapp.content_sid and its variables.",
            "O conteúdo do modelo do WhatsApp é inválido ou passa de 1024 caracteres: confira whatsapp.content_sid e suas variáveis.",
        ),
        Some(63007) => (
            "Twilio has no WhatsApp sender for whatsapp.from: use the sandbox number or a registered WhatsApp sender.",
            "O Twilio não tem remetente de WhatsApp para whatsapp.from: use o número do sandbox ou um remetente de WhatsApp registrado.",
        ),
        _ if status == 401 => (
            "The credentials were refused: check the Account SID and auth token.",
            "As credenciais foram recusadas: confira o Account SID e o auth token.",
        ),
        _ if status == 429 => (
            "Too many requests: Sentinela retries with backoff.",
            "Pedidos demais: o Sentinela tenta de novo, aos poucos.",
        ),
        _ if status >= 500 => (
            "Twilio had a problem on its side: Sentinela retries with backoff.",
            "O Twilio teve um problema do lado dele: o Sentinela tenta de novo, aos poucos.",
        ),
        _ => (
            "See the error code in Twilio's error dictionary.",
            "Veja o código do erro no dicionário de erros do Twilio.",
        ),
    }
}

impl TwilioError {
    /// The error in Portuguese: what happened and what to do, then Twilio's own words.
    pub fn in_portuguese(&self) -> String {
        match self {
            TwilioError::Api { status, code, message, .. } => format!(
                "O Twilio recusou o pedido (HTTP {status}{}). {} Detalhe técnico: {message}",
                code.map(|c| format!(", erro {c}")).unwrap_or_default(),
                hints(*status, *code).1
            ),
            TwilioError::Network { base_url, reason, .. } => format!(
                "Não foi possível falar com o Twilio em {base_url}: confira a rede, um proxy ou firewall, e o campo twilio.base_url. Detalhe técnico: {reason}"
            ),
            TwilioError::Decode { reason } => format!("A resposta do Twilio não pôde ser lida. Detalhe técnico: {reason}"),
            TwilioError::NotTheNotifier { reason } => {
                format!("Não enviado: esta estação pode não ser mais a que notifica (outra assume). Detalhe técnico: {reason}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_bodies_become_clear_messages() {
        let e = TwilioError::from_body(
            401,
            r#"{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}"#,
        );
        assert!(e.is_auth() && !e.is_transient());
        let m = e.to_string();
        assert!(m.contains("HTTP 401, error 20003") && m.contains("auth token"), "{m}");
        let e = TwilioError::from_body(
            400,
            r#"{"code":63016,"message":"Failed to send freeform message","status":400}"#,
        );
        assert!(e.to_string().contains("whatsapp.content_sid"));
        assert!(TwilioError::from_body(503, "<html>busy</html>").is_transient());
        assert!(TwilioError::from_body(429, "{}").is_transient());
    }

    #[test]
    fn the_same_advice_in_portuguese_with_twilios_words_after_it() {
        let e =
            TwilioError::from_body(401, r#"{"code":20003,"message":"Authenticate","status":401}"#);
        let pt = e.in_portuguese();
        assert!(pt.starts_with("O Twilio recusou o pedido (HTTP 401, erro 20003). O Account SID, a API key ou o auth token está errado"), "{pt}");
        assert!(pt.ends_with("Detalhe técnico: Authenticate"), "{pt}");
        assert!(describe_code_in_portuguese(63015)
            .starts_with("erro 63015: O destinatário não entrou no sandbox"));
        let offline = TwilioError::Network {
            base_url: "https://api.twilio.com".into(),
            reason: "dns error".into(),
            maybe_sent: false,
        };
        assert!(offline.in_portuguese().contains("confira a rede"));
        // Every code with advice has it in both languages, and the two differ.
        for code in
            [20003, 20404, 20429, 21211, 21210, 21215, 21216, 21608, 63015, 63016, 63021, 63007, 1]
        {
            let (en, pt) = hints(400, Some(code));
            assert!(!pt.is_empty() && en != pt, "{code}");
        }
    }
}
