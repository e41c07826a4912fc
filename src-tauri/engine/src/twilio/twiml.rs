//! The TwiML a call speaks: a short Portuguese preamble, the alert's subject and body, said twice
//! with a pause in between.
//!
//! The text comes from an e-mail anyone can send, so every character is XML-escaped (quick-xml)
//! and the whole document is kept within Twilio's 4000-character limit for inline `Twiml` by
//! shortening the body, never by cutting the markup.

use quick_xml::escape::escape;

/// Twilio's limit for the `Twiml` parameter, counted after escaping.
pub const MAX_TWIML_CHARS: usize = 4000;
/// How much of the body is read aloud: about 40 seconds of speech.
pub const SPOKEN_BODY_CHARS: usize = 600;

const PREAMBLE: &str = "Atenção. Alerta do Sentinela no CPD.";
const TEST_PREAMBLE: &str = "Atenção: esta é uma chamada de teste do Sentinela. Nenhuma ação é necessária.";
const REPEAT: &str = "Repetindo.";

/// Builds the call's TwiML. `voice` and `language` come from the validated configuration.
pub fn alert_twiml(voice: &str, language: &str, subject: &str, body: &str, is_test: bool) -> String {
    let preamble = if is_test { TEST_PREAMBLE } else { PREAMBLE };
    let mut budget = SPOKEN_BODY_CHARS;
    loop {
        let spoken = format!("{preamble} {}. {}", sentence(subject), speakable(body, budget));
        let say = |text: &str| format!(r#"<Say voice="{}" language="{}">{}</Say>"#, escape(voice), escape(language), escape(text));
        let twiml = format!(
            "<Response>{}<Pause length=\"2\"/>{}</Response>",
            say(&spoken),
            say(&format!("{REPEAT} {spoken}"))
        );
        if twiml.chars().count() <= MAX_TWIML_CHARS || budget == 0 {
            return twiml;
        }
        budget = budget.saturating_sub(50);
    }
}

fn sentence(s: &str) -> &str {
    s.trim().trim_end_matches(['.', '!', '?', ':', ';'])
}

/// The body as one paragraph of speech, cut at a word boundary to `max` characters. Line breaks
/// become sentence breaks so the voice pauses between a sensor's lines.
fn speakable(body: &str, max: usize) -> String {
    let joined = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| if l.ends_with(['.', '!', '?', ':', ';', ',']) { l.to_owned() } else { format!("{l}.") })
        .collect::<Vec<_>>()
        .join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let cut: String = joined.chars().take(max).collect();
    let at_word = cut.rfind(' ').map(|i| &cut[..i]).unwrap_or(&cut);
    format!("{at_word}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaks_twice_in_portuguese_with_a_pause() {
        let t = alert_twiml("Polly.Camila", "pt-BR", "ALERTA: Temperatura alta", "Sala 1: 31 °C\nRack 3", false);
        assert!(t.starts_with(r#"<Response><Say voice="Polly.Camila" language="pt-BR">Atenção. Alerta do Sentinela no CPD. ALERTA: Temperatura alta. Sala 1: 31 °C. Rack 3.</Say><Pause length="2"/>"#), "{t}");
        assert_eq!(t.matches("<Say ").count(), 2);
        assert!(t.contains(">Repetindo. Atenção."));
        assert!(!t.contains("loop="));
    }

    #[test]
    fn hostile_text_is_escaped() {
        let t = alert_twiml("Polly.Camila", "pt-BR", "<Hangup/> & \"x\"", "</Say><Dial>+5511</Dial> 'q'", false);
        assert!(!t.contains("<Hangup/>") && !t.contains("<Dial>") && !t.contains("</Say><Dial"));
        assert!(t.contains("&lt;Hangup/&gt; &amp; &quot;x&quot;"));
        assert!(t.contains("&apos;q&apos;"));
    }

    #[test]
    fn stays_within_twilios_limit_even_for_ampersand_floods() {
        let body = "&<>\"'".repeat(3000);
        let t = alert_twiml("Polly.Camila", "pt-BR", &"S&".repeat(100), &body, false);
        assert!(t.chars().count() <= MAX_TWIML_CHARS, "{}", t.chars().count());
        assert!(t.ends_with("</Say></Response>"));
    }

    #[test]
    fn test_calls_say_so() {
        let t = alert_twiml("Polly.Camila", "pt-BR", "TESTE", "x", true);
        assert!(t.contains("chamada de teste"));
    }
}
