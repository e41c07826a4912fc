//! Turns one raw e-mail into an [`AlertMail`]. Never fails and never panics: whatever arrives in
//! the mailbox from the configured sender is an alert, so a mail that cannot be parsed still
//! yields a record (with its raw text as the body) rather than being dropped.

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{MessageParser, PartType};

use super::text::{normalise_whitespace, one_line};

/// Cap on the body kept per alert, in characters. Larger bodies are cut and marked.
pub const MAX_BODY_CHARS: usize = 16 * 1024;
const MAX_SUBJECT_CHARS: usize = 500;
/// Appended to a body that was cut, by us or by the fetch size cap.
pub const TRUNCATION_MARK: &str = "[… mensagem truncada]";
const NO_SUBJECT: &str = "(sem assunto)";
/// A sender longer than this (its display name) is cut.
pub const MAX_SENDER_CHARS: usize = 200;

/// What an operator needs from an alert e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMail {
    pub subject: String,
    /// `Name <address>` when the sender gave a name, else the address.
    pub sender: String,
    /// The `Date:` header, when present and readable.
    pub sent_at: Option<DateTime<Utc>>,
    /// Without the angle brackets.
    pub message_id: Option<String>,
    pub body: String,
    /// True when the body was cut (by [`MAX_BODY_CHARS`] or because the fetch was capped).
    pub truncated: bool,
}

/// Parses raw RFC 5322 bytes. `fetch_was_capped` says the bytes are only the start of the mail.
pub fn parse_alert_mail(raw: &[u8], fetch_was_capped: bool) -> AlertMail {
    let Some(message) = MessageParser::default().parse(raw) else {
        // mail-parser only gives up on input with no headers at all: keep what there is.
        return finish(
            NO_SUBJECT.to_owned(),
            String::new(),
            None,
            None,
            String::from_utf8_lossy(raw).into_owned(),
            fetch_was_capped,
        );
    };

    let subject = message
        .subject()
        .map(one_line)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| NO_SUBJECT.to_owned());
    let sender = message
        .from()
        .and_then(|a| a.first())
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(name), Some(address)) if !name.trim().is_empty() => {
                format!("{} <{address}>", name.trim())
            }
            (_, Some(address)) => address.to_owned(),
            (Some(name), None) => name.to_owned(),
            (None, None) => String::new(),
        })
        .unwrap_or_default();
    let sent_at = message.date().and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single());
    let message_id =
        message.message_id().map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());

    // Every inline text part, in order. mail-parser lists the text/plain alternative in
    // `text_body` when there is one and the HTML otherwise; HTML is only used when the mail has no
    // plain text at all, and `body_text` turns it into readable text (tags, style and script
    // gone, entities decoded). Attachments are never in `text_body`.
    let is_plain = |i: usize| {
        message
            .text_body
            .get(i)
            .and_then(|&p| message.parts.get(p as usize))
            .is_some_and(|p| matches!(p.body, PartType::Text(_)))
    };
    let has_plain = (0..message.text_body.len()).any(is_plain);
    let body = (0..message.text_body.len())
        .filter(|&i| !has_plain || is_plain(i))
        .filter_map(|i| message.body_text(i))
        .collect::<Vec<_>>()
        .join("\n\n");

    // Nothing recognisable (no subject, sender or text): keep the raw bytes as the body, so the
    // operator still sees what arrived.
    let body = if body.trim().is_empty() && sender.is_empty() && message.subject().is_none() {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        body
    };
    finish(subject, sender, sent_at, message_id, body, fetch_was_capped)
}

fn finish(
    subject: String,
    sender: String,
    sent_at: Option<DateTime<Utc>>,
    message_id: Option<String>,
    body: String,
    fetch_was_capped: bool,
) -> AlertMail {
    let mut body = normalise_whitespace(&body);
    let mut truncated = fetch_was_capped;
    if let Some((cut, _)) = body.char_indices().nth(MAX_BODY_CHARS) {
        body.truncate(cut);
        truncated = true;
    }
    if truncated {
        body.push_str("\n\n");
        body.push_str(TRUNCATION_MARK);
    }
    let subject = match subject.char_indices().nth(MAX_SUBJECT_CHARS) {
        Some((cut, _)) => format!("{}…", &subject[..cut]),
        None => subject,
    };
    // A display name of any length (or with line breaks) cannot reach the link, a notification
    // or the journal whole.
    let sender = one_line(&sender);
    let sender = match sender.char_indices().nth(MAX_SENDER_CHARS) {
        Some((cut, _)) => format!("{}…", &sender[..cut]),
        None => sender,
    };
    AlertMail { subject, sender, sent_at, message_id, body, truncated }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_display_name_or_subject_of_any_length_is_capped() {
        let name = "N".repeat(100_000);
        let subject = "ALERTA ".repeat(20_000);
        let raw = format!("From: \"{name}\" <s@x.example>\r\nSubject: {subject}\r\n\r\nx\r\n");
        let m = parse_alert_mail(raw.as_bytes(), false);
        assert!(m.sender.chars().count() <= MAX_SENDER_CHARS + 1, "{}", m.sender.len());
        assert!(m.subject.chars().count() <= MAX_SUBJECT_CHARS + 1, "{}", m.subject.len());
    }

    #[test]
    fn a_subject_with_line_breaks_is_one_line() {
        // An encoded-word may carry a LF (=0A); a damaged fold can leave one as well (found by
        // the property test on mutated real e-mails).
        let raw = b"From: s@x.example\r\nSubject: =?utf-8?Q?ALERTA:_Umidade_alta=0Ano_corredor?=\r\n\r\nx\r\n";
        assert_eq!(parse_alert_mail(raw, false).subject, "ALERTA: Umidade alta no corredor");
    }

    #[test]
    fn plain_mail() {
        let raw = b"From: Sensor <sensor@cpd.example>\r\nSubject: ALERTA temp\r\nMessage-ID: <a1@x>\r\nDate: Tue, 3 Nov 2026 10:00:00 -0300\r\n\r\nTemperatura 31 C\r\n";
        let m = parse_alert_mail(raw, false);
        assert_eq!(m.subject, "ALERTA temp");
        assert_eq!(m.sender, "Sensor <sensor@cpd.example>");
        assert_eq!(m.message_id.as_deref(), Some("a1@x"));
        assert_eq!(m.sent_at.unwrap().to_rfc3339(), "2026-11-03T13:00:00+00:00");
        assert_eq!(m.body, "Temperatura 31 C");
        assert!(!m.truncated);
    }

    #[test]
    fn headerless_garbage_still_gives_an_alert() {
        let m = parse_alert_mail(b"\xff\xfe garbage", false);
        assert_eq!(m.subject, NO_SUBJECT);
        assert!(!m.body.is_empty());
    }

    #[test]
    fn long_body_is_cut_and_marked() {
        let mut raw = b"Subject: x\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'a', MAX_BODY_CHARS + 10));
        let m = parse_alert_mail(&raw, false);
        assert!(m.truncated);
        assert!(m.body.ends_with(TRUNCATION_MARK));
        assert!(m.body.chars().count() < MAX_BODY_CHARS + 40);
    }

    #[test]
    fn capped_fetch_is_marked() {
        let m = parse_alert_mail(b"Subject: x\r\n\r\nstart of a long", true);
        assert!(m.truncated);
        assert!(m.body.starts_with("start of a long"));
    }
}
