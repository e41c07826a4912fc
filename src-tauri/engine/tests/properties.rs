//! Property tests — fuzzing on stable Rust, with proptest — of everything hostile input reaches:
//! the mail parser (arbitrary bytes, mutated real e-mails, deep MIME nesting), the TwiML builder,
//! the IMAP search quoting, the sender check and the incident key. No panic, bounded output, and
//! each one's own promise (well-formed XML within 4,000 characters, a quoted value that reads
//! back as written, only allowed senders accepted, one key for one e-mail).
//!
//! Every test run does 256 cases of each (a few seconds). The long run, for a night:
//! `SENTINELA_FUZZ_CASES=200000 cargo test --release -p sentinela-engine --test properties`.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use sentinela_engine::config::FilterConfig;
use sentinela_engine::imap::search_criteria;
use sentinela_engine::incident::{key, KeyRules};
use sentinela_engine::mail::{parse_alert_mail, AllowedSender, SenderPolicy, MAX_BODY_CHARS};
use sentinela_engine::twilio::twiml::{incidents_twiml, Spoken, MAX_TWIML_CHARS};

fn config() -> ProptestConfig {
    let cases = std::env::var("SENTINELA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// One parse may not take long whatever it is given.
const PARSE_BUDGET: Duration = Duration::from_secs(2);

fn real_emails() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mail");
    let mut mails: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    mails.sort();
    assert!(!mails.is_empty());
    mails
}

fn parse_within_bounds(raw: &[u8]) {
    let started = Instant::now();
    let mail = parse_alert_mail(raw, false);
    assert!(started.elapsed() < PARSE_BUDGET, "{:?} for {} bytes", started.elapsed(), raw.len());
    assert!(mail.body.chars().count() <= MAX_BODY_CHARS + 40, "body of {} chars", mail.body.chars().count());
    assert!(mail.subject.chars().count() <= 400 && mail.sender.chars().count() <= 201);
    assert!(!mail.subject.chars().any(|c| c.is_control()), "{:?}", mail.subject);
}

/// The values of an IMAP command's quoted strings, unescaped.
fn quoted_values(command: &str) -> Vec<String> {
    let (mut out, mut cur, mut inside, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in command.chars() {
        match (inside, escaped, c) {
            (true, true, c) => {
                cur.push(c);
                escaped = false;
            }
            (true, false, '\\') => escaped = true,
            (true, false, '"') => {
                out.push(std::mem::take(&mut cur));
                inside = false;
            }
            (true, false, c) => cur.push(c),
            (false, _, '"') => inside = true,
            _ => {}
        }
    }
    assert!(!inside, "an unterminated quoted string in {command:?}");
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_parser_takes_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..8192)) {
        parse_within_bounds(&raw);
    }

    #[test]
    fn the_parser_takes_mutated_real_emails(pick in any::<prop::sample::Index>(), edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..64), cut in any::<prop::sample::Index>()) {
        let mails = real_emails();
        let mut raw = mails[pick.index(mails.len())].clone();
        for (at, byte) in edits {
            let i = at.index(raw.len());
            raw[i] = byte;
        }
        raw.truncate(cut.index(raw.len() + 1).max(1));
        parse_within_bounds(&raw);
    }

    #[test]
    fn the_parser_takes_deep_nesting(depth in 0usize..400, leaf in "[ -~]{0,200}") {
        let mut raw = String::from("From: s@x.example\r\nSubject: ALERTA\r\n");
        for level in 0..depth {
            raw.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"));
        }
        raw.push_str(&format!("Content-Type: text/plain\r\n\r\n{leaf}\r\n"));
        for level in (0..depth).rev() {
            raw.push_str(&format!("--b{level}--\r\n"));
        }
        parse_within_bounds(raw.as_bytes());
    }

    #[test]
    fn twiml_is_always_well_formed_and_within_twilios_limit(titles in proptest::collection::vec(".{0,2500}", 1..6), body in ".{0,6000}", name in proptest::option::of(".{0,100}")) {
        let items: Vec<Spoken<'_>> = titles.iter().map(|t| Spoken { title: t, body: &body, test: false }).collect();
        let t = incidents_twiml("Polly.Camila", "pt-BR", &items, name.as_deref());
        prop_assert!(t.chars().count() <= MAX_TWIML_CHARS, "{} chars", t.chars().count());
        let mut reader = quick_xml::Reader::from_str(&t);
        let mut says = 0;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(e)) => {
                    prop_assert!(matches!(e.name().as_ref(), b"Response" | b"Say"), "only our elements");
                    says += usize::from(e.name().as_ref() == b"Say");
                }
                Ok(quick_xml::events::Event::Empty(e)) => prop_assert!(e.name().as_ref() == b"Pause"),
                Ok(_) => {}
                Err(e) => prop_assert!(false, "not well-formed: {e}"),
            }
        }
        prop_assert_eq!(says, 2);
    }

    #[test]
    fn imap_quoting_reads_back_as_written(subject in "[^\r\n\0]{1,80}", local in "[a-z0-9._%+-]{1,20}") {
        let from = format!("{local}@cpd.example.com.br");
        let f = FilterConfig { from: vec![from.clone()], subject: subject.clone(), search: String::new(), silence_alarm_hours: 0, authserv_id: String::new() };
        let values = quoted_values(&search_criteria(&f));
        prop_assert_eq!(values, vec![from, subject]);
    }

    #[test]
    fn only_an_allowed_sender_is_accepted(header in "[^\r\n]{0,200}", extra in proptest::option::of("[^\r\n]{0,100}")) {
        let policy = SenderPolicy { allowed: vec![AllowedSender::parse("sensor@cpd.example.com.br").unwrap()], authserv_id: None };
        let mut raw = format!("From: {header}\r\n");
        if let Some(second) = &extra {
            raw.push_str(&format!("From: {second}\r\n"));
        }
        raw.push_str("Subject: ALERTA\r\n\r\nx\r\n");
        if let Ok(address) = policy.check(raw.as_bytes()) {
            prop_assert_eq!(address, "sensor@cpd.example.com.br");
        }
    }

    #[test]
    fn one_email_one_key(sender in ".{0,100}", subject in ".{0,300}", body in ".{0,1000}") {
        let rules = KeyRules::default();
        let a = key::read(&sender, &subject, &body, &rules);
        let b = key::read(&sender, &subject, &body, &rules);
        prop_assert_eq!(a, b);
    }
}
