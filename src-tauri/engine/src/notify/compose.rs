//! The words of a WhatsApp alert: the subject and the cleaned body, within Twilio's limits.

/// Twilio's limit for a WhatsApp `Body`, in characters.
pub const MAX_WHATSAPP_CHARS: usize = 1600;
/// Template variables are kept well under the 1024-character template limit (error 63021).
const MAX_TEMPLATE_BODY_CHARS: usize = 900;
const CUT_MARK: &str = "… [mensagem cortada]";
const TEST_BANNER: &str = "[TESTE] Mensagem de teste do Sentinela — nenhuma ação é necessária.";

/// `🚨 subject` + blank line + body, cut with a visible marker to fit 1600 characters.
pub fn whatsapp_text(subject: &str, body: &str, is_test: bool) -> String {
    let head = if is_test { format!("{TEST_BANNER}\n🚨 {subject}") } else { format!("🚨 {subject}") };
    let full = if body.is_empty() { head } else { format!("{head}\n\n{body}") };
    cut(&full, MAX_WHATSAPP_CHARS)
}

/// `ContentVariables` for an approved template: `{"1": subject, "2": body}` as a JSON string.
pub fn template_variables(subject: &str, body: &str, is_test: bool) -> String {
    let subject = if is_test { format!("[TESTE] {subject}") } else { subject.to_owned() };
    serde_json::json!({ "1": cut(&subject, 200), "2": cut(body, MAX_TEMPLATE_BODY_CHARS) }).to_string()
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max - CUT_MARK.chars().count();
    let mut s: String = text.chars().take(keep).collect();
    s.push_str(CUT_MARK);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_whole() {
        assert_eq!(whatsapp_text("ALERTA", "Sala 1: 31 °C", false), "🚨 ALERTA\n\nSala 1: 31 °C");
    }

    #[test]
    fn long_text_is_cut_visibly_to_1600() {
        let t = whatsapp_text("ALERTA", &"ç".repeat(5000), false);
        assert_eq!(t.chars().count(), MAX_WHATSAPP_CHARS);
        assert!(t.ends_with(CUT_MARK));
    }

    #[test]
    fn tests_are_marked() {
        assert!(whatsapp_text("x", "y", true).starts_with("[TESTE]"));
        let v: serde_json::Value = serde_json::from_str(&template_variables("ALERTA \"q\"", "b", true)).unwrap();
        assert_eq!(v["1"], "[TESTE] ALERTA \"q\"");
    }
}
