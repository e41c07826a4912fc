//! Sentinela's fault benchmark (part of `scripts/bench`): for each way it can stop notifying,
//! how long until it says so and how long until it says it recovered, on the real engine with a
//! real Dovecot and the Twilio fake. The alarm threshold (two minutes in production) is set to
//! 10 s here through its `EngineTiming`: the figures are that threshold plus what the
//! engine adds. Prints figures; asserts nothing about time.
//!
//! 1. The mailbox unreachable (Dovecot killed), then back.
//! 2. Twilio answering 503 to everything while an incident is open, then back.
//! 3. The journal full (SQLite's `max_page_count`) when an alert arrives, then space again.
//! 4. A restart with a year-old journal of 10,000 delivered messages: requests to Twilio.
//! 5. Twilio forgets a call it was ringing (404 while following it): until the next call.
//! 6. An e-mail the IMAP library cannot read (an IMAP proxy garbles its FETCH): until it is
//!    escalated as "E-mail ilegível" after its three tries.
//! 7. A server that refuses to mark mail read (`STORE` answered NO): each next alert's WhatsApp.

use std::time::{Duration, Instant};

use sentinela_engine::config::Security;
use sentinela_engine::events::EngineEvent;
use sentinela_engine::health::WatchAlarm;
use sentinela_engine::runner::RunningEngine;
use sentinela_engine::timing::EngineTiming;
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::imap_proxy::ImapProxy;
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, C2, WA1};
use sentinela_tests::scenario::Scenario;
use sentinela_tests::twilio_fake::{CallScript, Fault, AUTH_TOKEN};
use tokio::sync::broadcast;

const THRESHOLD_SECS: u64 = 10;
const LIMIT: Duration = Duration::from_secs(180);
const OLD_MESSAGES: usize = 10_000;
const AFTER_RESTART: Duration = Duration::from_secs(60);

async fn start(
    s: &Scenario,
    data: &std::path::Path,
) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    // The production intervals but the alarm threshold: the figures are what an operator would
    // see, less the two minutes of waiting.
    let timing = EngineTiming {
        watch_alarm_after: Duration::from_secs(THRESHOLD_SECS),
        ..EngineTiming::default()
    };
    s.start_in(data, AUTH_TOKEN, timing).await
}

/// Waits for an alarm `pick` accepts; returns when it came.
async fn alarm(
    rx: &mut broadcast::Receiver<EngineEvent>,
    what: &str,
    pick: impl Fn(&WatchAlarm) -> bool,
) -> Instant {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(EngineEvent::WatchAlarm(a))) if pick(&a) => return Instant::now(),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

/// Waits until `ready` holds (polled every 10 ms); returns when it did.
async fn until(what: &str, mut ready: impl FnMut() -> bool) -> Instant {
    let deadline = Instant::now() + LIMIT;
    while !ready() {
        assert!(Instant::now() < deadline, "waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Instant::now()
}

fn secs(from: Instant, to: Instant) -> String {
    format!("{:.1} s", to.saturating_duration_since(from).as_secs_f64())
}

#[tokio::main]
async fn main() {
    let mut s = Scenario::new(&[WA1], &[C1], 1).await;
    if let Some(calls) = s.config.calls.as_mut() {
        calls.ring_secs = 60;
    }
    s.fake.set_no_answer_ms(50_000);
    let data = tempfile::tempdir().unwrap();
    let (engine, mut rx) = start(&s, data.path()).await;
    println!(
        "Sentinela fault benchmark — alarm threshold {THRESHOLD_SECS} s (120 s in production)"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 1. The mailbox.
    s.server.kill();
    let down = Instant::now();
    let alarmed =
        alarm(&mut rx, "the mailbox alarm", |a| matches!(a, WatchAlarm::NotWatching { .. })).await;
    s.server.restart();
    let back = Instant::now();
    let recovered =
        alarm(&mut rx, "the mailbox recovery", |a| matches!(a, WatchAlarm::Recovered)).await;
    println!("\n1. Mailbox unreachable: alarm {} after the fault began; recovery said {} after the server was back", secs(down, alarmed), secs(back, recovered));

    // 2. Twilio, while an incident is open (its call rings, replies are read every 3 s).
    s.server.append("INBOX", &plain(SENSOR, "ALERTA bench Twilio", "x")).await;
    let calls = s.fake.called_numbers().len();
    while s.fake.called_numbers().len() == calls {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.fake.set_outage(Some((503, 20503)));
    let down = Instant::now();
    let alarmed =
        alarm(&mut rx, "the Twilio alarm", |a| matches!(a, WatchAlarm::TwilioUnreachable { .. }))
            .await;
    s.fake.set_outage(None);
    let back = Instant::now();
    let recovered =
        alarm(&mut rx, "the Twilio recovery", |a| matches!(a, WatchAlarm::TwilioRecovered)).await;
    println!(
        "2. Twilio answering 503: alarm {} after the outage began; recovery said {} after it ended",
        secs(down, alarmed),
        secs(back, recovered)
    );
    for i in engine.journal.incidents(10, None, true).await.unwrap() {
        engine
            .journal
            .resolve(i.id, Some("bench".into()), sentinela_engine::incident::ResolveVia::Cli)
            .await
            .unwrap();
    }

    // 3. The journal.
    s.fake.script_call(C1, CallScript::Human { answer_ms: 500, talk_ms: 500 });
    engine.journal.cap_growth(Some(0)).await.unwrap();
    let messages = s.fake.bodies_to(WA1).len();
    let body = "Leituras: 41 °C, 42 °C. ".repeat(400);
    s.server.append("INBOX", &plain(SENSOR, "ALERTA bench disco cheio", &body)).await;
    let arrived = Instant::now();
    let alarmed =
        alarm(&mut rx, "the journal alarm", |a| matches!(a, WatchAlarm::JournalFailing { .. }))
            .await;
    while s.fake.bodies_to(WA1).len() == messages {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let told = Instant::now();
    engine.journal.cap_growth(None).await.unwrap();
    let back = Instant::now();
    let recovered =
        alarm(&mut rx, "the journal recovery", |a| matches!(a, WatchAlarm::JournalRecovered)).await;
    println!(
        "3. Journal full when an alert arrives: alarm {} after the e-mail reached the mailbox, its WhatsApp sent from memory {} after it; recovery said {} after space came back",
        secs(arrived, alarmed),
        secs(arrived, told),
        secs(back, recovered)
    );
    engine.stop(Duration::from_secs(10)).await;

    // 4. A year-old journal.
    {
        let db = rusqlite::Connection::open(data.path().join("sentinela.db")).unwrap();
        let year_ago = (chrono::Utc::now() - chrono::Duration::days(365)).to_rfc3339();
        let tx = db.unchecked_transaction().unwrap();
        for n in 0..OLD_MESSAGES {
            tx.execute(
                "INSERT INTO deliveries (incident_id, purpose, recipient, headline, detail, state, sid, created_at, updated_at, sent_at)
                 VALUES (NULL, 'alarm', ?1, 'ALERTA antigo', '', 'delivered', ?2, ?3, ?3, ?3)",
                rusqlite::params![WA1, format!("SMold{n:030}"), year_ago],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let before = s.fake.requests().len();
    let (engine, _rx) = start(&s, data.path()).await;
    tokio::time::sleep(AFTER_RESTART).await;
    let after: Vec<_> = s.fake.requests().into_iter().skip(before).collect();
    let old = after.iter().filter(|r| r.path.contains("/Messages/SMold")).count();
    let per_hour = |n: usize| n as f64 * 3600.0 / AFTER_RESTART.as_secs_f64();
    println!(
        "4. Restart with {OLD_MESSAGES} delivered messages a year old: {old} requests for them in the first {} s; {} requests in all ({:.0} per hour: the reply polls and the idle account check)",
        AFTER_RESTART.as_secs(),
        after.len(),
        per_hour(after.len())
    );
    engine.stop(Duration::from_secs(10)).await;

    mailbox_and_call_faults().await;
}

/// Rows 5–7: a fresh journal, two numbers to call, and an IMAP proxy in front of Dovecot.
async fn mailbox_and_call_faults() {
    let mut s = Scenario::new(&[WA1], &[C1, C2], 1).await;
    let proxy = ImapProxy::start(s.server.imap_port).await;
    s.config.mailbox.security = Security::Plain;
    s.config.mailbox.port = Some(proxy.port);
    s.fake.set_no_answer_ms(50_000);
    let data = tempfile::tempdir().unwrap();
    let (engine, _rx) = start(&s, data.path()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 5. The first call is ringing when Twilio stops knowing it.
    s.server.append("INBOX", &plain(SENSOR, "ALERTA bench 404", "x")).await;
    until("the first call", || s.fake.called_numbers().len() == 1).await;
    let follows = || {
        s.fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.contains("/Calls/CA"))
            .collect::<Vec<_>>()
    };
    let before = follows().len();
    s.fake.fault_next("Calls/CA", Fault::Error { status: 404, code: 20404, retry_after: None });
    until("the next call", || s.fake.called_numbers().len() == 2).await;
    // Both moments as the fake received them: the follow that got the 404, the next create.
    let forgotten = follows()[before].at;
    let next = s.fake.creations("Calls")[1].at;
    println!("5. Twilio forgets a ringing call (404 while following it): the next number's call requested {:.1} ms after the 404", next.saturating_duration_since(forgotten).as_secs_f64() * 1000.0);
    for i in engine.journal.incidents(10, None, true).await.unwrap() {
        engine
            .journal
            .resolve(i.id, Some("bench".into()), sentinela_engine::incident::ResolveVia::Cli)
            .await
            .unwrap();
    }

    // 6. The next e-mail's FETCH answer is garbage, every time.
    let messages = s.fake.bodies_to(WA1).len();
    let next_uid = s.server.append("INBOX", &plain(SENSOR, "ALERTA bench antes", "x")).await + 1;
    until("the alert before", || s.fake.bodies_to(WA1).len() > messages).await;
    proxy.poison(next_uid);
    let appended = Instant::now();
    s.server.append("INBOX", &plain(SENSOR, "ALERTA bench ilegível", "x")).await;
    let escalated = until("the unreadable e-mail's WhatsApp", || {
        s.fake.bodies_to(WA1).iter().any(|b| b.contains("E-mail ilegível"))
    })
    .await;
    println!(
        "6. An e-mail the IMAP library cannot read: escalated as \"E-mail ilegível\" {} after it reached the mailbox ({} garbled answers, then given up)",
        secs(appended, escalated),
        proxy.poisoned_answers()
    );

    // 7. From now on the server refuses to mark mail read.
    proxy.refuse_store();
    let mut told = Vec::new();
    for n in 1..=2 {
        let before = s.fake.bodies_to(WA1).len();
        let appended = Instant::now();
        s.server
            .append("INBOX", &plain(SENSOR, &format!("ALERTA bench somente leitura {n}"), "x"))
            .await;
        told.push(secs(
            appended,
            until("its WhatsApp", || s.fake.bodies_to(WA1).len() > before).await,
        ));
    }
    println!("7. A server that refuses to mark mail read: each next alert's WhatsApp requested {} after it reached the mailbox", told.join(", "));
    engine.stop(Duration::from_secs(10)).await;
}
