//! Property tests — fuzzing on stable Rust, with proptest — of everything hostile input reaches:
//! the mail parser (arbitrary bytes, mutated real e-mails, deep MIME nesting), the TwiML builder,
//! the IMAP search quoting, the sender check and the incident key. No panic, bounded output, and
//! each one's own promise (well-formed XML within 4,000 characters, a quoted value that reads
//! back as written, only allowed senders accepted — an accepted From holding the allowed address
//! as its one mailbox, by the generator's own record — one key for one e-mail).
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
    let cases =
        std::env::var("SENTINELA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
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
    assert!(
        mail.body.chars().count() <= MAX_BODY_CHARS + 40,
        "body of {} chars",
        mail.body.chars().count()
    );
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
    fn an_accepted_from_holds_the_allowed_address_as_its_one_mailbox(from in from_header()) {
        let policy = SenderPolicy { allowed: vec![AllowedSender::parse("sensor@cpd.example.com.br").unwrap()], authserv_id: None };
        let raw = format!("From: {}\r\nSubject: ALERTA\r\n\r\nx\r\n", from.header);
        if let Ok(address) = policy.check(raw.as_bytes()) {
            prop_assert_eq!(&address, "sensor@cpd.example.com.br");
            // The oracle is the generator's own record of what it wrote, not a parser.
            prop_assert_eq!(&from.mailboxes, &vec![ALLOWED.to_owned()], "accepted {:?}", from.header);
        }
    }

    #[test]
    fn a_quoted_results_value_is_one_value(domain in "[a-z]{1,10}\\.example", trailer in "[a-z ]{0,10}", dmarc in any::<bool>()) {
        // Our server's topmost header, with the allowed domain only inside a quoted local part
        // or a comment: never authenticated.
        let policy = SenderPolicy { allowed: vec![AllowedSender::parse("sensor@cpd.example.com.br").unwrap()], authserv_id: Some("mx.example.com.br".into()) };
        let result = if dmarc {
            format!("dmarc=pass header.from=\"cpd.example.com.br{trailer}\"@{domain}")
        } else {
            format!("spf=pass smtp.mailfrom=\"cpd.example.com.br{trailer}\"@{domain} (cpd.example.com.br)")
        };
        let raw = format!("Authentication-Results: mx.example.com.br; {result}\r\nFrom: sensor@cpd.example.com.br\r\nSubject: ALERTA\r\n\r\nx\r\n");
        prop_assert!(policy.check(raw.as_bytes()).is_err(), "passed: {raw}");
    }

    #[test]
    fn one_email_one_key(sender in ".{0,100}", subject in ".{0,300}", body in ".{0,1000}") {
        let rules = KeyRules::default();
        let a = key::read(&sender, &subject, &body, &rules);
        let b = key::read(&sender, &subject, &body, &rules);
        prop_assert_eq!(a, b);
    }
}

const ALLOWED: &str = "sensor@cpd.example.com.br";

/// A From header the generator wrote, and the mailboxes it put in it (exactly as they would be
/// read by RFC 5322: comments and display names are not mailboxes, a group's members are).
#[derive(Debug, Clone)]
struct WrittenFrom {
    header: String,
    mailboxes: Vec<String>,
}

/// Addresses: the allowed one, and what only looks like it or hides it.
fn address() -> impl Strategy<Value = (String, Option<String>)> {
    // (as written, the mailbox it is — None when the text is no mailbox at all)
    prop_oneof![
        Just((ALLOWED.to_owned(), Some(ALLOWED.to_owned()))),
        Just(("SENSOR@CPD.EXAMPLE.COM.BR".to_owned(), Some(ALLOWED.to_owned()))),
        Just((
            "sensor@ｃｐｄ．example.com.br".to_owned(),
            Some("sensor@ｃｐｄ．example.com.br".to_owned())
        )),
        Just((
            "sensor@cpd.example.com.br.evil.example".to_owned(),
            Some("sensor@cpd.example.com.br.evil.example".to_owned())
        )),
        Just((
            "\"sensor@cpd.example.com.br\"@evil.example".to_owned(),
            Some("\"sensor@cpd.example.com.br\"@evil.example".to_owned())
        )),
        Just((
            "\"sensor\"@cpd.example.com.br".to_owned(),
            Some("\"sensor\"@cpd.example.com.br".to_owned())
        )),
        Just((
            "sensor(cpd.example.com.br)@evil.example".to_owned(),
            Some("sensor@evil.example".to_owned())
        )),
        Just(("sensor@[10.0.0.1]".to_owned(), Some("sensor@[10.0.0.1]".to_owned()))),
        Just(("@route.example:sensor@cpd.example.com.br".to_owned(), Some("route".to_owned()))),
        Just(("sensor@cpd.exаmple.com.br".to_owned(), Some("cyrillic".to_owned()))),
        "[a-z]{1,8}@[a-z]{1,8}\\.example".prop_map(|a| (a.clone(), Some(a))),
    ]
}

/// Display names and comments, some holding the allowed address as text.
fn words() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("Sensor CPD".to_owned()),
        Just(format!("\"{ALLOWED}\"")),
        Just(format!("({ALLOWED})")),
        Just("=?utf-8?q?Sensor_=C3=A7?=".to_owned()),
        Just("Ｓｅｎｓｏｒ".to_owned()),
        "[A-Za-z ]{0,12}",
    ]
}

/// What may follow an address: nothing, or comments (which may hold anything).
fn comment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(format!("({ALLOWED})")),
        Just("(a (nested) one)".to_owned()),
        "\\([A-Za-z@. ]{0,12}\\)"
    ]
}

fn mailbox() -> impl Strategy<Value = (String, Vec<String>)> {
    (words(), address(), any::<bool>(), comment()).prop_map(
        |(name, (written, is), angle, comment)| {
            let header = if angle || !name.is_empty() {
                format!("{name} <{written}> {comment}")
            } else {
                format!("{written} {comment}")
            };
            // The oracle records a look-alike as itself: only the plain allowed address is ALLOWED.
            let mailbox = is.map(|m| if m == ALLOWED { m } else { format!("other:{m}") });
            (header, mailbox.into_iter().collect())
        },
    )
}

fn from_header() -> impl Strategy<Value = WrittenFrom> {
    prop_oneof![
        // One mailbox.
        mailbox().prop_map(|(header, mailboxes)| WrittenFrom { header, mailboxes }),
        // A phrase and a comment, no address at all.
        words().prop_map(|w| WrittenFrom {
            header: format!("\"{ALLOWED}\" {w} (y)"),
            mailboxes: vec![]
        }),
        // A list.
        (mailbox(), mailbox()).prop_map(|((a, ma), (b, mb))| WrittenFrom {
            header: format!("{a}, {b}"),
            mailboxes: [ma, mb].concat()
        }),
        // A group (its members are mailboxes, but a group is not one sender).
        (mailbox(), "[A-Za-z]{1,8}").prop_map(|((a, ma), g)| WrittenFrom {
            header: format!("{g}: {a};"),
            mailboxes: [vec!["group".to_owned()], ma].concat()
        }),
        // Something after the address.
        (mailbox(), "[a-z]{1,8}@[a-z]{1,8}\\.example").prop_map(|((a, ma), tail)| WrittenFrom {
            header: format!("{a} {tail}"),
            mailboxes: [ma, vec![format!("other:{tail}")]].concat()
        }),
    ]
}

/// The generator is not a mere source of rejections: plain allowed senders are among its
/// headers and pass, so the property above is tested on acceptances too.
#[test]
fn the_from_generator_writes_acceptable_headers_too() {
    use proptest::strategy::ValueTree;
    let policy =
        SenderPolicy { allowed: vec![AllowedSender::parse(ALLOWED).unwrap()], authserv_id: None };
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let accepted = (0..500)
        .map(|_| from_header().new_tree(&mut runner).unwrap().current())
        .filter(|f| policy.check(format!("From: {}\r\n\r\nx\r\n", f.header).as_bytes()).is_ok())
        .count();
    assert!(accepted > 10, "only {accepted} of 500 generated From headers were accepted");
}
