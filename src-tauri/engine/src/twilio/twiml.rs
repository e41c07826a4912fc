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
/// Titles are long only when something is wrong; 200 characters is about 15 seconds.
const MAX_SPOKEN_TITLE_CHARS: usize = 200;

const PREAMBLE: &str = "Atenção. Alerta do Sentinela no CPD.";
const TEST_PREAMBLE: &str =
    "Atenção: esta é uma chamada de teste do Sentinela. Nenhuma ação é necessária.";
const REPEAT: &str = "Repetindo.";

/// One open incident as a call speaks it.
#[derive(Debug, Clone, Copy)]
pub struct Spoken<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub test: bool,
}

/// How many incidents a call reads in full; the rest are counted ("e mais 4 alertas").
pub const SPOKEN_IN_FULL: usize = 3;

/// Builds the TwiML of one alert (the test call, the contract test).
pub fn alert_twiml(
    voice: &str,
    language: &str,
    subject: &str,
    body: &str,
    is_test: bool,
) -> String {
    incidents_twiml(voice, language, &[Spoken { title: subject, body, test: is_test }], None)
}

/// Builds the call's TwiML for the open incidents, newest first: the first three in full, then
/// how many more. `voice` and `language` come from the validated configuration. Bodies, then
/// titles, are shortened until the whole document fits Twilio's limit.
pub fn incidents_twiml(
    voice: &str,
    language: &str,
    items: &[Spoken<'_>],
    callee: Option<&str>,
) -> String {
    let say = |text: &str| {
        format!(
            r#"<Say voice="{}" language="{}">{}</Say>"#,
            escape(voice),
            escape(language),
            escape(text)
        )
    };
    let mut body_budget = SPOKEN_BODY_CHARS;
    let mut title_budget = MAX_SPOKEN_TITLE_CHARS;
    loop {
        let spoken = spoken_text(items, callee, body_budget, title_budget);
        let twiml = format!(
            "<Response>{}<Pause length=\"2\"/>{}</Response>",
            say(&spoken),
            say(&format!("{REPEAT} {spoken}"))
        );
        if twiml.chars().count() <= MAX_TWIML_CHARS || (body_budget == 0 && title_budget == 0) {
            return twiml;
        }
        if body_budget > 0 {
            body_budget = body_budget.saturating_sub(50);
        } else {
            title_budget = title_budget.saturating_sub(20);
        }
    }
}

/// What a call that asks for a key says (`[calls] keypress`, through Studio, which repeats it
/// itself): the same words as [`incidents_twiml`], then how to take the incidents.
pub fn incidents_text_asking_for_key(items: &[Spoken<'_>], callee: Option<&str>) -> String {
    format!(
        "{} Tecle 1 para assumir.",
        spoken_text(items, callee, SPOKEN_BODY_CHARS, MAX_SPOKEN_TITLE_CHARS)
    )
}

/// The words of a call: the preamble (with the person's name), then the incidents, newest
/// first, the first three in full within the budgets, then how many more.
fn spoken_text(
    items: &[Spoken<'_>],
    callee: Option<&str>,
    body_budget: usize,
    title_budget: usize,
) -> String {
    let all_tests = items.iter().all(|i| i.test);
    let preamble = match (all_tests, callee) {
        (true, _) => TEST_PREAMBLE.to_owned(),
        // "Ana, alerta do Sentinela no CPD." — the person hears their name first.
        (false, Some(name)) => format!(
            "{}, alerta do Sentinela no CPD.",
            name.trim().chars().take(60).collect::<String>()
        ),
        (false, None) => PREAMBLE.to_owned(),
    };
    let mut parts = vec![preamble];
    if items.len() > 1 {
        parts.push(format!("{} alertas abertos.", items.len()));
    }
    for (n, item) in items.iter().take(SPOKEN_IN_FULL).enumerate() {
        let label = match (items.len() > 1, item.test && !all_tests) {
            (true, true) => format!("Alerta {} (teste): ", n + 1),
            (true, false) => format!("Alerta {}: ", n + 1),
            (false, _) => String::new(),
        };
        let title = speakable(sentence(item.title), title_budget);
        parts.push(
            format!("{label}{}. {}", sentence(&title), speakable(item.body, body_budget))
                .trim_end()
                .to_owned(),
        );
    }
    if items.len() > SPOKEN_IN_FULL {
        parts.push(format!(
            "E mais {} alertas. Veja todos no Sentinela.",
            items.len() - SPOKEN_IN_FULL
        ));
    }
    parts.join(" ")
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
        .map(|l| {
            if l.ends_with(['.', '!', '?', ':', ';', ',']) {
                l.to_owned()
            } else {
                format!("{l}.")
            }
        })
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
    fn a_call_asking_for_a_key_says_the_same_words_and_how_to_take_them() {
        let items =
            [Spoken { title: "ALERTA: Temperatura alta", body: "Sala 1: 31 °C", test: false }];
        assert_eq!(incidents_text_asking_for_key(&items, Some("Ana")), "Ana, alerta do Sentinela no CPD. ALERTA: Temperatura alta. Sala 1: 31 °C. Tecle 1 para assumir.");
    }

    #[test]
    fn speaks_twice_in_portuguese_with_a_pause() {
        let t = alert_twiml(
            "Polly.Camila",
            "pt-BR",
            "ALERTA: Temperatura alta",
            "Sala 1: 31 °C\nRack 3",
            false,
        );
        assert!(t.starts_with(r#"<Response><Say voice="Polly.Camila" language="pt-BR">Atenção. Alerta do Sentinela no CPD. ALERTA: Temperatura alta. Sala 1: 31 °C. Rack 3.</Say><Pause length="2"/>"#), "{t}");
        assert_eq!(t.matches("<Say ").count(), 2);
        assert!(t.contains(">Repetindo. Atenção."));
        assert!(!t.contains("loop="));
    }

    #[test]
    fn any_subject_fits_after_escaping_and_stays_well_formed() {
        let amps = "&".repeat(2000);
        let lt = "<".repeat(30_000);
        let many: Vec<Spoken<'_>> =
            (0..40).map(|_| Spoken { title: &amps, body: &lt, test: false }).collect();
        for items in [vec![Spoken { title: &amps, body: &amps, test: false }], many] {
            let t = incidents_twiml("Polly.Camila", "pt-BR", &items, Some(&"\"&".repeat(500)));
            assert!(t.chars().count() <= MAX_TWIML_CHARS, "{} chars", t.chars().count());
            let mut reader = quick_xml::Reader::from_str(&t);
            let mut says = 0;
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) => break,
                    Ok(quick_xml::events::Event::Start(e)) if e.name().as_ref() == b"Say" => {
                        says += 1
                    }
                    Ok(_) => {}
                    Err(e) => panic!("not well-formed: {e}: {t}"),
                }
            }
            assert_eq!(says, 2);
        }
    }

    #[test]
    fn hostile_text_is_escaped() {
        let t = alert_twiml(
            "Polly.Camila",
            "pt-BR",
            "<Hangup/> & \"x\"",
            "</Say><Dial>+5511</Dial> 'q'",
            false,
        );
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
    fn several_incidents_are_spoken_newest_first_three_in_full() {
        let items: Vec<Spoken> = ["Rack E", "Rack D", "Rack C", "Rack B", "Rack A"]
            .iter()
            .map(|t| Spoken { title: t, body: "quente", test: false })
            .collect();
        let t = incidents_twiml("Polly.Camila", "pt-BR", &items, Some("Ana"));
        assert!(t.contains(">Ana, alerta do Sentinela no CPD. 5 alertas abertos."), "{t}");
        assert!(t.contains("5 alertas abertos. Alerta 1: Rack E. quente. Alerta 2: Rack D. quente. Alerta 3: Rack C. quente. E mais 2 alertas."), "{t}");
        assert!(!t.contains("Rack B") && !t.contains("Rack A"));
    }

    #[test]
    fn any_subject_fits_twilios_limit() {
        for title in ["&".repeat(2000), "<".repeat(500), "x".repeat(5000)] {
            let items: Vec<Spoken> =
                (0..5).map(|_| Spoken { title: &title, body: &title, test: false }).collect();
            let t = incidents_twiml("Polly.Camila", "pt-BR", &items, Some(&title));
            assert!(t.chars().count() <= MAX_TWIML_CHARS, "{}", t.chars().count());
            quick_xml::Reader::from_str(&t).read_event().expect("well-formed");
        }
    }

    #[test]
    fn test_calls_say_so() {
        let t = alert_twiml("Polly.Camila", "pt-BR", "TESTE", "x", true);
        assert!(t.contains("chamada de teste"));
    }
}
