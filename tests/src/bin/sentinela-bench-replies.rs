//! Sentinela's reply benchmark (part of `scripts/bench`): acknowledging from the phone with the
//! engine's real polling (every 3 s while an incident is untaken, every 60 s otherwise) against
//! a real Dovecot and the Twilio fake. Prints figures; asserts nothing about time.
//!
//! 1. For 50 incidents, one after the other: from a reply naming the incident (`#12`) becoming
//!    visible in the message list to the ringing call being cancelled.
//! 2. With nothing open: the message-list requests over two minutes, per hour.

use std::time::{Duration, Instant};

use sentinela_engine::config::{CallsConfig, Security, WhatsAppConfig};
use sentinela_engine::events::EventBus;
use sentinela_engine::incident::IncidentState;
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_engine::secrets::Secret;
use sentinela_tests::dovecot::{Dovecot, SENSOR};
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, SENDER, WA1};
use sentinela_tests::twilio_fake::{TwilioFake, AUTH_TOKEN};
use sentinela_tests::wait_for;

const INCIDENTS: usize = 50;
const IDLE: Duration = Duration::from_secs(120);
const LIMIT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() {
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    fake.set_no_answer_ms(60_000);
    let data = tempfile::tempdir().unwrap();
    let mut config = server.config(Security::Tls);
    config.twilio = Some(fake.config());
    config.whatsapp = Some(WhatsAppConfig {
        from: SENDER.into(),
        to: vec![WA1.into()],
        content_sid: String::new(),
    });
    config.calls =
        Some(CallsConfig { ring_secs: 60, ..sentinela_tests::scenario::calls(SENDER, &[C1]) });
    let secrets = EngineSecrets {
        mailbox: Dovecot::password().into(),
        twilio_token: Some(Secret::new(AUTH_TOKEN)),
        journal_password: None,
    };
    let engine =
        RunningEngine::start(&config, secrets, data.path(), EventBus::default()).await.unwrap();
    println!("Sentinela reply benchmark — the engine's own polling (3 s while something is untaken, 60 s otherwise)");

    let mut took = Vec::with_capacity(INCIDENTS);
    for n in 0..INCIDENTS {
        let calls = fake.called_numbers().len();
        server.append("INBOX", &plain(SENSOR, &format!("ALERTA Sonda {n} fora do ar"), "x")).await;
        wait_for("the call ringing", LIMIT, || async {
            (fake.called_numbers().len() > calls).then_some(())
        })
        .await;
        // The reply arrives at a random moment of the polling cycle, as a person's would. It
        // names the incident: past the fifth alarm in ten minutes Ana's alarms wait for the
        // digest, and a bare "1" takes only an incident that reached her.
        let id = engine.journal.incidents(1, None, false).await.unwrap()[0].id;
        tokio::time::sleep(Duration::from_millis(fastrand::u64(200..3200))).await;
        fake.inbound(WA1, SENDER, &format!("#{id}"));
        let visible = Instant::now();
        let canceled =
            wait_for("the call cancelled", LIMIT, || async { fake.canceled_at(C1) }).await;
        took.push(canceled.saturating_duration_since(visible));
        wait_for("taken", LIMIT, || async {
            (engine.journal.incident(id).await.ok()??.state == IncidentState::Acknowledged)
                .then_some(())
        })
        .await;
    }
    took.sort();
    let pick = |p: f64| took[((took.len() as f64 - 1.0) * p).round() as usize];
    println!("\n6. A reply (\"#12\") visible in Twilio's message list → the ringing call cancelled ({INCIDENTS} incidents)");
    println!(
        "   p50 {:.2} s, p99 {:.2} s, max {:.2} s   (target p99 ≤ 4 s)",
        pick(0.5).as_secs_f64(),
        pick(0.99).as_secs_f64(),
        took[took.len() - 1].as_secs_f64()
    );

    let before = fake.message_lists().len();
    tokio::time::sleep(IDLE).await;
    let polls = fake.message_lists().len() - before;
    println!(
        "   nothing open: {polls} message-list requests in {} s = {:.0} per hour   (target ≤ 60)",
        IDLE.as_secs(),
        polls as f64 * 3600.0 / IDLE.as_secs_f64()
    );
    engine.stop(Duration::from_secs(10)).await;
}
