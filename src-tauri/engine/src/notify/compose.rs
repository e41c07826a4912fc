//! The words of a WhatsApp message: what each incident message says, within Twilio's limits.
//!
//! The planner decides a message's words when it is owed (headline and detail, stored with it),
//! so a message sent after a restart says what it would have said; the sender only adds the mark
//! of its purpose and, for the operator's test, the test banner.

use chrono::{DateTime, Duration, Local, Utc};

use crate::incident::MessagePurpose;
use crate::journal::IncidentSummary;

/// Twilio's limit for a WhatsApp `Body`, in characters.
pub const MAX_WHATSAPP_CHARS: usize = 1600;
/// Template variables are kept well under the 1024-character template limit (error 63021).
const MAX_TEMPLATE_BODY_CHARS: usize = 900;
const CUT_MARK: &str = "… [mensagem cortada]";
const TEST_BANNER: &str = "[TESTE] Mensagem de teste do Sentinela — nenhuma ação é necessária.";
/// Incidents listed by name in a digest; the rest are counted.
const DIGEST_NAMED: usize = 10;

fn mark(purpose: MessagePurpose) -> &'static str {
    match purpose {
        MessagePurpose::Alarm | MessagePurpose::Legacy => "🚨",
        MessagePurpose::Reminder => "⏰",
        MessagePurpose::Resolved => "✅",
        MessagePurpose::Reopened => "⚠️",
        MessagePurpose::Digest => "📋",
        MessagePurpose::Acknowledged => "👍",
        MessagePurpose::Reescalated => "🔁",
    }
}

/// `🚨 headline` + blank line + detail, cut with a visible marker to fit 1600 characters.
pub fn whatsapp_text(
    purpose: MessagePurpose,
    headline: &str,
    detail: &str,
    is_test: bool,
) -> String {
    let head = format!("{} {headline}", mark(purpose));
    let head = if is_test { format!("{TEST_BANNER}\n{head}") } else { head };
    let full = if detail.is_empty() { head } else { format!("{head}\n\n{detail}") };
    cut(&full, MAX_WHATSAPP_CHARS)
}

/// The most SMS segments one message may cost: an alarm's subject and the start of its text,
/// never a long e-mail at a per-segment price.
pub const MAX_SMS_SEGMENTS: usize = 3;

/// What an SMS says its purpose is, in words: a mark outside GSM-7 (any emoji) would make the
/// whole text UCS-2, 70 characters a segment instead of 160.
fn sms_mark(purpose: MessagePurpose) -> &'static str {
    match purpose {
        MessagePurpose::Alarm | MessagePurpose::Legacy => "ALERTA",
        MessagePurpose::Reminder => "LEMBRETE",
        MessagePurpose::Resolved => "RESOLVIDO",
        MessagePurpose::Reopened => "VOLTOU A ALARMAR",
        MessagePurpose::Digest => "RESUMO",
        MessagePurpose::Acknowledged => "ASSUMIDO",
        MessagePurpose::Reescalated => "AINDA EM ALARME",
    }
}

/// How many segments `text` costs, and whether it fits GSM-7 (else UCS-2).
pub fn sms_segments(text: &str) -> (usize, bool) {
    let split = sms_splitter::SplitSms::default().split(String::from(text));
    (split.parts.len().max(1), split.character_set == "GSM")
}

/// `ALERTA: headline`, the detail's lines, and how to take the incident (`incident`'s code, kept
/// whatever is cut), within [`MAX_SMS_SEGMENTS`] in the encoding the text needs: GSM-7 when
/// every character allows, UCS-2 otherwise. What does not fit is cut from the detail.
pub fn sms_text(
    purpose: MessagePurpose,
    headline: &str,
    detail: &str,
    is_test: bool,
    incident: Option<i64>,
) -> String {
    let mark = if is_test {
        format!("[TESTE] {}", sms_mark(purpose))
    } else {
        sms_mark(purpose).to_owned()
    };
    // The WhatsApp line says "*1*" (bold there, stars here): the SMS says it plainly, last.
    let (detail, take) = match incident.map(|id| (id, how_to_take(id))) {
        Some((id, line)) if detail.contains(&line) => {
            (detail.replace(&line, ""), format!("\nResponda 1 para assumir (#{id})"))
        }
        _ => (detail.to_owned(), String::new()),
    };
    let lines: Vec<&str> = detail.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let head = format!("{mark}: {headline}");
    let with = |body: &str| {
        if body.is_empty() {
            format!("{head}{take}")
        } else {
            format!("{head}\n{body}{take}")
        }
    };
    let body = lines.join("\n");
    if sms_segments(&with(&body)).0 <= MAX_SMS_SEGMENTS {
        return with(&body);
    }
    // Cut the detail by characters until it fits, the cut marked in GSM-7 ("…" is not, and would
    // make the whole text UCS-2).
    let cut_at =
        |n: usize| with(&format!("{}...", body.chars().take(n).collect::<String>().trim_end()));
    let (mut low, mut high) = (0, body.chars().count());
    while low < high {
        let mid = (low + high).div_ceil(2);
        if sms_segments(&cut_at(mid)).0 <= MAX_SMS_SEGMENTS {
            low = mid
        } else {
            high = mid - 1
        }
    }
    cut_at(low)
}

/// `ContentVariables` for an approved template: `{"1": headline, "2": detail}` as a JSON string.
pub fn template_variables(headline: &str, detail: &str, is_test: bool) -> String {
    let headline = if is_test { format!("[TESTE] {headline}") } else { headline.to_owned() };
    serde_json::json!({ "1": cut(&template_safe(&headline), 200), "2": cut(&template_safe(detail), MAX_TEMPLATE_BODY_CHARS) }).to_string()
}

/// A template variable as Meta accepts it: no line break or tab, never more than four spaces in
/// a row (a variable that breaks these rules gets the whole message refused, error 63021). Lines
/// become ` | `-separated.
fn template_safe(text: &str) -> String {
    let one_line =
        text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ");
    let mut out = String::with_capacity(one_line.len());
    let mut spaces = 0;
    for c in one_line.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        spaces = if c == ' ' { spaces + 1 } else { 0 };
        if spaces <= 1 {
            out.push(c);
        }
    }
    out
}

/// How long, the way a person says it: "12 min", "2 h 05 min", "3 dias".
pub fn lasted(d: Duration) -> String {
    let mins = d.num_minutes().max(0);
    match mins {
        0 => "menos de 1 min".to_owned(),
        1..=59 => format!("{mins} min"),
        60..=2879 => format!("{} h {:02} min", mins / 60, mins % 60),
        _ => format!("{} dias", mins / 1440),
    }
}

fn clock(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M").to_string()
}

/// How to take an incident from the phone: the short code a reply may carry.
pub fn how_to_take(id: i64) -> String {
    format!("Responda *1* para assumir (#{id})")
}

/// Headline and detail of an incident message, in Portuguese.
pub fn incident_message(
    purpose: MessagePurpose,
    i: &IncidentSummary,
    latest_subject: &str,
    latest_body: &str,
    now: DateTime<Utc>,
) -> (String, String) {
    let with_code = |text: String| {
        if text.is_empty() {
            how_to_take(i.id)
        } else {
            format!("{text}\n\n{}", how_to_take(i.id))
        }
    };
    let who = i.acknowledged_by.clone().unwrap_or_else(|| {
        match i.acknowledged_via {
            Some(crate::incident::AckVia::Desktop) => "alguém no Sentinela",
            Some(crate::incident::AckVia::Cli) => "alguém na linha de comando",
            _ => "alguém",
        }
        .to_owned()
    });
    match purpose {
        MessagePurpose::Alarm | MessagePurpose::Legacy => {
            (latest_subject.to_owned(), with_code(latest_body.to_owned()))
        }
        MessagePurpose::Reminder => (
            format!(
                "Ainda em alarme — {} e-mails desde {}: {}",
                i.emails,
                clock(i.first_seen),
                i.title
            ),
            with_code(format!("Último: {latest_subject}\n\n{latest_body}")),
        ),
        MessagePurpose::Acknowledged => (
            format!(
                "Assumido por {who} às {} (#{})",
                i.acknowledged_at.map(clock).unwrap_or_else(|| clock(now)),
                i.id
            ),
            i.title.clone(),
        ),
        MessagePurpose::Reescalated => (
            format!(
                "Ainda em alarme {} depois de assumido por {who} (#{})",
                lasted(now - i.acknowledged_at.unwrap_or(now)),
                i.id
            ),
            with_code(format!("{}\n\n{latest_subject}", i.title)),
        ),
        MessagePurpose::Resolved => (
            format!("Resolvido: {}", i.title),
            format!(
                "Durou {} ({} e-mails, de {} a {}). {latest_subject}",
                lasted(now - i.first_seen),
                i.emails,
                clock(i.first_seen),
                clock(now)
            ),
        ),
        MessagePurpose::Reopened => (
            format!("Voltou a alarmar: {}", i.title),
            with_code(format!("{latest_subject}\n\n{latest_body}")),
        ),
        MessagePurpose::Digest => (i.title.clone(), String::new()),
    }
}

/// One message for the incident news a person could not get one by one: "+12 alertas novos: …".
pub fn digest(items: &[(MessagePurpose, Option<i64>, &str)]) -> (String, String) {
    let new = items
        .iter()
        .filter(|(p, ..)| matches!(p, MessagePurpose::Alarm | MessagePurpose::Reopened))
        .count();
    let other = items.len() - new;
    let headline = match (new, other) {
        (n, 0) => format!("+{n} alertas novos"),
        (0, o) => format!("+{o} atualizações de alertas"),
        (n, o) => format!("+{n} alertas novos e {o} atualizações"),
    };
    let mut lines: Vec<String> = items
        .iter()
        .take(DIGEST_NAMED)
        .map(|(p, id, h)| {
            let code = id.map(|i| format!("#{i} ")).unwrap_or_default();
            match p {
                MessagePurpose::Alarm => format!("• {code}{h}"),
                _ => format!("• {code}{} {h}", mark(*p)),
            }
        })
        .collect();
    if items.len() > DIGEST_NAMED {
        lines.push(format!(
            "… e mais {} (veja o histórico do Sentinela)",
            items.len() - DIGEST_NAMED
        ));
    }
    if new > 0 {
        lines.push("Para assumir um deles, responda com o número (ex.: #12).".to_owned());
    }
    (headline, lines.join("\n"))
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
    fn an_sms_fits_its_segments_and_keeps_the_code_to_take_it() {
        let (headline, detail) =
            ("ALERTA Temperatura Sala 2", format!("Sensor 4: 31 C\n\n{}", how_to_take(12)));
        let text = sms_text(MessagePurpose::Alarm, headline, &detail, false, Some(12));
        assert_eq!(
            text,
            "ALERTA: ALERTA Temperatura Sala 2\nSensor 4: 31 C\nResponda 1 para assumir (#12)"
        );
        assert_eq!(sms_segments(&text), (1, true), "one GSM-7 segment");
        // Portuguese accents outside GSM-7 make it UCS-2: 70 characters a segment (the README's
        // "two segments" for the same alarm with "crítica").
        let accented = sms_text(
            MessagePurpose::Alarm,
            "ALERTA Temperatura crítica Sala 2",
            &detail,
            false,
            Some(12),
        );
        assert_eq!(sms_segments(&accented), (2, false), "{accented}");
        // A long e-mail is cut to three segments, in the encoding it needs, its code kept.
        for body in ["x".repeat(5000), "ã".repeat(5000)] {
            let text = sms_text(
                MessagePurpose::Alarm,
                headline,
                &format!("{body}\n\n{}", how_to_take(7)),
                false,
                Some(7),
            );
            assert_eq!(sms_segments(&text).0, MAX_SMS_SEGMENTS, "{text}");
            assert!(text.ends_with("...\nResponda 1 para assumir (#7)"), "{text}");
        }
        assert!(
            sms_text(MessagePurpose::Alarm, "x", "y", true, None).starts_with("[TESTE] ALERTA: x")
        );
    }

    #[test]
    fn short_text_is_whole() {
        assert_eq!(
            whatsapp_text(MessagePurpose::Alarm, "ALERTA", "Sala 1: 31 °C", false),
            "🚨 ALERTA\n\nSala 1: 31 °C"
        );
    }

    #[test]
    fn long_text_is_cut_visibly_to_1600() {
        let t = whatsapp_text(MessagePurpose::Alarm, "ALERTA", &"ç".repeat(5000), false);
        assert_eq!(t.chars().count(), MAX_WHATSAPP_CHARS);
        assert!(t.ends_with(CUT_MARK));
    }

    #[test]
    fn tests_are_marked() {
        assert!(whatsapp_text(MessagePurpose::Alarm, "x", "y", true).starts_with("[TESTE]"));
        let v: serde_json::Value =
            serde_json::from_str(&template_variables("ALERTA \"q\"", "b", true)).unwrap();
        assert_eq!(v["1"], "[TESTE] ALERTA \"q\"");
    }

    #[test]
    fn template_variables_follow_metas_rules() {
        let body = format!("Sala 3:\t41 °C\n\n  Rack 7     aberto\r\nUPS{}", "x".repeat(5000));
        let v: serde_json::Value =
            serde_json::from_str(&template_variables("ALERTA\nduas linhas", &body, false)).unwrap();
        for var in [v["1"].as_str().unwrap(), v["2"].as_str().unwrap()] {
            assert!(!var.contains(['\n', '\t', '\r']) && !var.contains("     "), "{var:?}");
        }
        assert_eq!(v["1"], "ALERTA | duas linhas");
        assert!(
            v["2"].as_str().unwrap().starts_with("Sala 3: 41 °C | Rack 7 aberto | UPSxxx"),
            "{}",
            v["2"]
        );
        assert!(v["2"].as_str().unwrap().chars().count() <= MAX_TEMPLATE_BODY_CHARS);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        let cases = [
            (0, "menos de 1 min"),
            (12, "12 min"),
            (65, "1 h 05 min"),
            (60 * 30, "30 h 00 min"),
            (60 * 72, "3 dias"),
        ];
        for (mins, want) in cases {
            assert_eq!(lasted(Duration::minutes(mins)), want);
        }
    }

    #[test]
    fn a_digest_names_ten_and_counts_the_rest() {
        let names: Vec<String> = (1..=12).map(|n| format!("Rack {n} quente")).collect();
        let items: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (MessagePurpose::Alarm, Some(i as i64 + 1), n.as_str()))
            .collect();
        let (head, text) = digest(&items);
        assert_eq!(head, "+12 alertas novos");
        assert_eq!(text.lines().count(), 12);
        assert!(text.starts_with("• #1 Rack 1 quente\n"), "{text}");
        assert!(text.contains("\n… e mais 2 (veja o histórico do Sentinela)\nPara assumir um deles, responda com o número (ex.: #12)."), "{text}");
        let (head, _) = digest(&[
            (MessagePurpose::Alarm, Some(1), "a"),
            (MessagePurpose::Resolved, Some(2), "Resolvido: b"),
        ]);
        assert_eq!(head, "+1 alertas novos e 1 atualizações");
    }
}
