//! What a WhatsApp reply to an alarm means: taking an incident, or a note.
//!
//! Technicians answer from a phone at 3 a.m.: `1`, `ok`, `Ciente!`, `assumo`, `eu`, or the
//! incident's code (`12`, `#12`) take it; case, accents, spaces and punctuation do not matter.
//! Anything else is kept as a note on the incident and takes nothing.

use super::IncidentId;

/// The words that take an incident.
const TAKE: &[&str] =
    &["1", "ok", "okay", "ciente", "assumo", "eu", "sim", "pego", "vou", "aceito"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyIntent {
    /// Take an incident: the one named by its code, or the newest open one that reached them.
    Take(Option<IncidentId>),
    /// Anything else: a note on the incident.
    Note(String),
}

/// Lower case, accents gone, only letters and digits kept.
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            other => other,
        })
        .filter(|c| c.is_alphanumeric())
        .collect()
}

pub fn read(body: &str) -> ReplyIntent {
    // `#1` is incident 1, where a bare `1` means "I take it".
    if let Some(code) = body
        .trim()
        .strip_prefix('#')
        .map(fold)
        .filter(|c| !c.is_empty() && c.len() <= 12 && c.chars().all(|d| d.is_ascii_digit()))
    {
        if let Ok(code) = code.parse::<IncidentId>() {
            return ReplyIntent::Take(Some(code));
        }
    }
    let folded = fold(body);
    if TAKE.contains(&folded.as_str()) {
        return ReplyIntent::Take(None);
    }
    let words: Vec<String> = body.split_whitespace().map(fold).filter(|w| !w.is_empty()).collect();
    // The code itself: `12`, `#12`, `# 12.` — one number and nothing else worth a word.
    if words.len() == 1 && words[0].chars().all(|c| c.is_ascii_digit()) && words[0].len() <= 12 {
        if let Ok(code) = words[0].parse::<IncidentId>() {
            return ReplyIntent::Take(Some(code));
        }
    }
    // `ok 12`, `assumo #12`: a taking word with the code.
    if words.len() == 2
        && TAKE.contains(&words[0].as_str())
        && words[1].chars().all(|c| c.is_ascii_digit())
    {
        if let Ok(code) = words[1].parse::<IncidentId>() {
            return ReplyIntent::Take(Some(code));
        }
    }
    ReplyIntent::Note(body.trim().chars().take(500).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReplyIntent::*;

    #[test]
    fn replies_that_take_and_replies_that_are_notes() {
        let cases: &[(&str, ReplyIntent)] = &[
            ("1", Take(None)),
            (" 1 ", Take(None)),
            ("OK", Take(None)),
            ("Ok!", Take(None)),
            ("ciente", Take(None)),
            ("Ciente.", Take(None)),
            ("CIENTE!!", Take(None)),
            ("assumo", Take(None)),
            ("Eu", Take(None)),
            ("12", Take(Some(12))),
            ("#12", Take(Some(12))),
            ("#1", Take(Some(1))),
            ("# 12.", Take(Some(12))),
            ("ok #12", Take(Some(12))),
            ("assumo 7", Take(Some(7))),
            ("estou a caminho", Note("estou a caminho".into())),
            ("já vi, chego em 20 min", Note("já vi, chego em 20 min".into())),
            ("1 2 3", Note("1 2 3".into())),
            ("", Note(String::new())),
        ];
        for (body, want) in cases {
            assert_eq!(&read(body), want, "{body:?}");
        }
    }
}
