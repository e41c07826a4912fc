//! Sentinela's incident benchmark (part of `scripts/bench`): a flood against the real
//! `sentinela-headless`, a real Dovecot and the Twilio fake. Prints figures; asserts nothing
//! about time.
//!
//! 10,000 distinct alarm e-mails plus 1,000 repeats of 10 alarms wait in the mailbox when the
//! engine starts. Measured: the time to journal them all; the incidents formed (10,010 expected);
//! the WhatsApp messages each recipient got while the flood was handled (at most 5 alarm
//! messages in any 10 minutes, the rest gathered for a digest due at the end of the window);
//! then, one at a time, new alarms: from each one's journaling to the request of the call that
//! speaks it, next to the ringing time the call then in progress had left; and the peak resident
//! memory of `sentinela-headless`.

use std::time::{Duration, Instant};

use chrono::Utc;
use sentinela_engine::config::{CallsConfig, Security, WhatsAppConfig};
use sentinela_engine::journal::AlertJournal;
use sentinela_tests::dovecot::{Dovecot, PASSWORD, SENSOR};
use sentinela_tests::mail::plain;
use sentinela_tests::twilio_fake::{TwilioFake, AUTH_TOKEN};
use sentinela_tests::{wait_for, workspace_binary};

const DISTINCT: usize = 10_000;
const REPEATED: usize = 10;
const REPEATS: usize = 1_000;
const NEW_ALARMS: usize = 5;
const RING_MS: u64 = 3_000;
const RECIPIENTS: [&str; 2] = ["+5511999990001", "+5511999990002"];

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

#[tokio::main]
async fn main() {
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    // Nobody answers, and each call rings for RING_MS: the queue keeps calling about the flood.
    fake.set_no_answer_ms(RING_MS);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = server.config(Security::Tls);
    config.twilio = Some(fake.config());
    config.whatsapp = Some(WhatsAppConfig {
        from: "+14155238886".into(),
        to: RECIPIENTS.map(String::from).to_vec(),
        content_sid: String::new(),
    });
    config.calls = Some(CallsConfig {
        from: "+14155238886".into(),
        to: vec!["+5511988880001".into(), "+5511988880002".into()],
        ring_secs: 25,
        rounds: 2,
        round_pause_secs: 60,
        voice: "Polly.Camila".into(),
        language: "pt-BR".into(),
        require_human: true,
        keypress: false,
    });
    let path = dir.path().join("sentinela.toml");
    config.save(&path).unwrap();

    // The flood waits in the mailbox, interleaved: repeats among the distinct alarms.
    // Each of the REPEATED alarms is sent once, then REPEATS / REPEATED times again.
    let mut flood = Vec::with_capacity(DISTINCT + REPEATED + REPEATS);
    let rack = |k: usize, n: usize| {
        plain(SENSOR, &format!("ALERTA Temperatura Rack-R{k} High {}.5 C", 30 + n % 7), "x")
    };
    for k in 0..REPEATED {
        flood.push(rack(k, 0));
    }
    for n in 0..DISTINCT {
        flood.push(plain(SENSOR, &format!("ALERTA Sonda {n} fora do ar"), "x"));
        if n % (DISTINCT / REPEATS) == 0 {
            flood.push(rack((n / (DISTINCT / REPEATS)) % REPEATED, n));
        }
    }
    server.deliver_many_to_maildir(flood.iter().map(Vec::as_slice));
    let total = flood.len();
    drop(flood);
    println!("Sentinela incident benchmark — {total} e-mails waiting ({DISTINCT} distinct alarms, {REPEATED} more alarms and {REPEATS} repeats of them)");

    let started = Instant::now();
    let log = std::fs::File::create(dir.path().join("headless.log")).unwrap();
    let mut child = std::process::Command::new(workspace_binary("sentinela-headless"))
        .arg("run")
        .arg("--config")
        .arg(&path)
        .arg("--data-dir")
        .arg(&data)
        .env("SENTINELA_IMAP_PASSWORD", PASSWORD)
        .env("SENTINELA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("SENTINELA_LOG", "warn")
        .stderr(log)
        .spawn()
        .unwrap();
    let journal = wait_for("the journal", Duration::from_secs(30), || async {
        AlertJournal::open_in_dir(&data).ok()
    })
    .await;
    wait_for("every e-mail journaled", Duration::from_secs(600), || async {
        (journal.alert_count().await.ok()? as usize >= total).then_some(())
    })
    .await;
    let journaled = started.elapsed();
    let incidents = wait_for("every incident planned", Duration::from_secs(600), || async {
        let open = journal.open_incident_counts().await.ok()?.0 as usize;
        (open >= DISTINCT + REPEATED).then_some(open)
    })
    .await;
    let planned = started.elapsed();
    let repeats_counted: u32 = journal
        .incidents(DISTINCT + REPEATED, None, false)
        .await
        .unwrap()
        .iter()
        .filter(|i| i.emails > 1)
        .map(|i| i.emails)
        .sum();

    println!("\n5. A flood of {total} e-mails against sentinela-headless (Dovecot, Twilio fake, 2 recipients, 2 numbers)");
    println!(
        "   all journaled after                         {:>10.1} s   (target ≤ 60 s)",
        journaled.as_secs_f64()
    );
    println!("   all planned (told, gathered, escalated) after {:>8.1} s", planned.as_secs_f64());
    println!(
        "   incidents formed                            {incidents:>10}     (expected {})",
        DISTINCT + REPEATED
    );
    println!("   e-mails in the {REPEATED} repeated incidents         {repeats_counted:>10}     (expected {})", REPEATED + REPEATS);

    // New alarms, one at a time, while the queue calls about the flood.
    let (t0, w0) = (Instant::now(), Utc::now());
    let to_instant = |t: chrono::DateTime<Utc>| t0 + (t - w0).to_std().unwrap_or_default();
    let mut rows = Vec::new();
    for n in 0..NEW_ALARMS {
        let subject = format!("ALERTA Fumaça na Sala {n}");
        server.append("INBOX", &plain(SENSOR, &subject, "detector")).await;
        let alert = wait_for("the new alarm journaled", Duration::from_secs(30), || async {
            journal.alerts(1).await.ok()?.pop().filter(|a| a.subject == subject)
        })
        .await;
        let journaled = to_instant(alert.journaled_at);
        let call = wait_for("the call that speaks it", Duration::from_secs(120), || async {
            fake.creations("Calls")
                .into_iter()
                .find(|c| c.param("Twiml").is_some_and(|t| t.contains(&subject)))
        })
        .await;
        // The call ringing when the alarm was journaled, and the ringing time it had left.
        let before = fake.creations("Calls").into_iter().rfind(|c| c.at <= journaled);
        let left = before
            .map(|c| (c.at + Duration::from_millis(RING_MS)).saturating_duration_since(journaled))
            .unwrap_or_default();
        rows.push((call.at.saturating_duration_since(journaled), left));
    }
    println!("   new alarm journaled → call that speaks it requested (ring time left on the call in progress; target ≤ left + 1 s):");
    for (took, left) in &rows {
        println!(
            "      {:>7.2} s   (left {:.2} s, margin {:+.2} s)",
            took.as_secs_f64(),
            left.as_secs_f64(),
            (left.as_secs_f64() + 1.0) - took.as_secs_f64()
        );
    }

    let elapsed = started.elapsed();
    println!(
        "   WhatsApp per recipient in the first {:.0} s of the flood (within the first 10 min):",
        elapsed.as_secs_f64()
    );
    for to in RECIPIENTS {
        let bodies = fake.bodies_to(to);
        let alarms = bodies.iter().filter(|b| b.starts_with("🚨")).count();
        let digests = bodies.iter().filter(|b| b.starts_with("📋")).count();
        println!("      {to}: {alarms} alarm messages, {digests} digests (target ≤ 5 + digests; the digest is due at the end of the 10 minutes)");
    }
    println!(
        "   peak RSS of sentinela-headless              {:>10.1} MiB (target ≤ 64 MiB)",
        peak_rss_mib(child.id())
    );
    let _ = child.kill();
    let _ = child.wait();
}
