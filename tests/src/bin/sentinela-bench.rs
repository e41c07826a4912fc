//! Sentinela's benchmark: `scripts/bench` (or `cargo run --release -p sentinela-tests --bin
//! sentinela-bench`). Prints figures; asserts nothing about time.
//!
//! 1. Latency from APPEND to "alert committed in the journal", one e-mail at a time, with a
//!    second IMAP connection in IDLE measuring Dovecot's own push delay for the same e-mail, so
//!    the engine's share is the difference.
//! 2. A burst of 1,000 matching e-mails appended at once: time until all are journaled, and a
//!    count that proves none was lost or doubled.
//! 3. The idle cost of the real `sentinela-headless` process: RSS and CPU over a quiet period.
//! 4. Latency from APPEND to the first Twilio request (WhatsApp and call) against the Twilio
//!    fake, and the engine's own share from its IDLE push to each request.

use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use sentinela_engine::config::Security;
use sentinela_engine::events::{EngineEvent, EventBus, MailboxState};
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_tests::dovecot::{Dovecot, PASSWORD, SENSOR};
use sentinela_tests::mail::plain;
use sentinela_tests::twilio_fake::{CallScript, TwilioFake, AUTH_TOKEN};
use sentinela_tests::workspace_binary;
use tokio::sync::{broadcast, mpsc};

const LATENCY_SAMPLES: usize = 200;
const BURST: usize = 1000;
const IDLE_SECS: u64 = 10;

#[tokio::main]
async fn main() {
    let samples = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(LATENCY_SAMPLES);
    println!("Sentinela benchmark — {}", machine());
    latency(samples).await;
    burst().await;
    idle_cost().await;
    to_twilio(samples).await;
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap().trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{} cores, {cpu}", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn start_engine(
    server: &Dovecot,
    data: &std::path::Path,
) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    let bus = EventBus::default();
    let mut rx = bus.subscribe();
    let engine = RunningEngine::start(
        &server.config(Security::Tls),
        EngineSecrets {
            mailbox: Dovecot::password().into(),
            twilio_token: None,
            journal_password: None,
        },
        data,
        bus,
    )
    .await
    .expect("engine");
    loop {
        if let EngineEvent::Mailbox(MailboxState::Watching { .. }) = rx.recv().await.unwrap() {
            break;
        }
    }
    (engine, rx)
}

/// A second client in IDLE that reports when the server announces new mail.
async fn idle_observer(server: &Dovecot) -> mpsc::UnboundedReceiver<Instant> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut session = server.client().await;
    session.select("INBOX").await.unwrap();
    tokio::spawn(async move {
        // Ends quietly when the server goes away at the end of the measurement.
        loop {
            let mut handle = session.idle();
            if handle.init().await.is_err() {
                return;
            }
            let (wait, _stop) = handle.wait_with_timeout(Duration::from_secs(600));
            match wait.await {
                Ok(IdleResponse::NewData(_)) if tx.send(Instant::now()).is_ok() => {}
                Ok(IdleResponse::Timeout) => {}
                _ => return,
            }
            session = match handle.done().await {
                Ok(s) => s,
                Err(_) => return,
            };
        }
    });
    rx
}

/// Waits for the next journaled alert: when it was committed, and how long after the engine
/// learned of the mail (its own IDLE push) that was.
async fn next_alert(rx: &mut broadcast::Receiver<EngineEvent>) -> (Instant, Duration) {
    loop {
        if let EngineEvent::AlertRecorded(notice) = rx.recv().await.unwrap() {
            let own = (chrono::Utc::now() - notice.noticed_at).to_std().unwrap_or_default();
            return (Instant::now(), own);
        }
    }
}

async fn latency(samples: usize) {
    let server = Dovecot::start();
    let data = tempfile::tempdir().unwrap();
    let (engine, mut alerts) = start_engine(&server, data.path()).await;
    let mut pushes = idle_observer(&server).await;
    let mut appender = server.client().await;
    let mut total = Vec::with_capacity(samples);
    let mut floor = Vec::with_capacity(samples);
    let mut overhead = Vec::with_capacity(samples);
    let mut engine_own = Vec::with_capacity(samples);
    for i in 0..samples {
        let raw = plain(SENSOR, &format!("ALERTA latência {i}"), "Temperatura 30 °C");
        tokio::time::sleep(Duration::from_millis(20)).await; // both clients back in IDLE
        let appended = {
            appender.append("INBOX", None, None, &raw).await.unwrap();
            Instant::now()
        };
        let (committed, own) = next_alert(&mut alerts).await;
        engine_own.push(own);
        let pushed = pushes.recv().await.unwrap();
        while pushes.try_recv().is_ok() {} // the \Seen flag change wakes the observer too
        total.push(committed - appended);
        floor.push(pushed.saturating_duration_since(appended));
        overhead.push(committed.saturating_duration_since(pushed));
    }
    for v in [&mut total, &mut floor, &mut overhead, &mut engine_own] {
        v.sort();
    }
    println!(
        "\n1. APPEND → alert committed, {samples} e-mails one at a time (Dovecot, implicit TLS)"
    );
    println!("   {:<44} {:>10} {:>10}", "", "p50", "p99");
    for (label, v) in [
        ("APPEND → alert committed", &total),
        ("APPEND → IDLE push seen by a bare client", &floor),
        ("bare client's push → committed", &overhead),
        ("engine's own push → committed", &engine_own),
    ] {
        println!("   {:<44} {:>10} {:>10}", label, ms(percentile(v, 0.5)), ms(percentile(v, 0.99)));
    }
    engine.stop(Duration::from_secs(10)).await;
}

async fn burst() {
    let server = Dovecot::start();
    let data = tempfile::tempdir().unwrap();
    let (engine, _alerts) = start_engine(&server, data.path()).await;
    let mut appender = server.client().await;
    let start = Instant::now();
    for i in 0..BURST {
        appender
            .append("INBOX", None, None, plain(SENSOR, &format!("ALERTA rajada {i}"), "x"))
            .await
            .unwrap();
    }
    let appended = start.elapsed();
    loop {
        if engine.journal.alert_count().await.unwrap() >= BURST as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let journaled = start.elapsed();
    // Let any straggling scan finish, then count again: none doubled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let count = engine.journal.alert_count().await.unwrap();
    let unseen = server.seen_state("INBOX").await.1.len();
    println!("\n2. Burst of {BURST} matching e-mails appended back to back");
    println!(
        "   appended in {}, all journaled {} after the first APPEND",
        ms(appended),
        ms(journaled)
    );
    println!("   alerts in the journal: {count} (expected {BURST}); e-mails left unseen: {unseen}");
    engine.stop(Duration::from_secs(10)).await;
}

fn proc_stat(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    // After the ")": state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks, rss_kb)
}

async fn idle_cost() {
    let server = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sentinela.toml");
    server.config(Security::Tls).save(&config).unwrap();
    let mut child = std::process::Command::new(workspace_binary("sentinela-headless"))
        .env("SENTINELA_IMAP_PASSWORD", PASSWORD)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await; // connected and idling
    let (t0, _) = proc_stat(child.id());
    tokio::time::sleep(Duration::from_secs(IDLE_SECS)).await;
    let (t1, rss_kb) = proc_stat(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu = (t1 - t0) as f64 / hz / IDLE_SECS as f64 * 100.0;
    println!("\n3. sentinela-headless idle in IDLE for {IDLE_SECS} s (rescan every 20 s)");
    println!(
        "   RSS {:.1} MiB, CPU {:.2} % of one core ({} ticks of 1/{} s)",
        rss_kb as f64 / 1024.0,
        cpu,
        t1 - t0,
        hz
    );
}

async fn to_twilio(samples: usize) {
    use sentinela_engine::config::WhatsAppConfig;
    use sentinela_engine::secrets::Secret;
    use sentinela_engine::timing::EngineTiming;

    const TO: &str = "+5511999990001";
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    fake.script_call(TO, CallScript::Human { answer_ms: 20, talk_ms: 20 });
    let mut config = server.config(Security::Tls);
    config.twilio = Some(fake.config());
    config.whatsapp = Some(WhatsAppConfig {
        from: "+14155238886".into(),
        to: vec![TO.into()],
        content_sid: String::new(),
    });
    config.calls = Some(sentinela_tests::scenario::calls("+14155238886", &[TO]));
    // Short polling so each escalation ends quickly; polling does not affect the first request.
    let timing = EngineTiming {
        call_poll: Duration::from_millis(20),
        message_poll: Duration::from_millis(200),
        message_follow_for: Duration::from_millis(500),
        retry_wait: Duration::from_secs(1),
        ..EngineTiming::default()
    };
    let mut appender = server.client().await;
    let (mut wa, mut call, mut wa_own, mut call_own) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // The flood limit sends a person at most 5 alarm messages in 10 minutes (the rest wait for a
    // digest): a fresh journal every 5 e-mails keeps every sample a first message.
    let mut engine: Option<(
        RunningEngine,
        tempfile::TempDir,
        tokio::sync::broadcast::Receiver<EngineEvent>,
    )> = None;
    for i in 0..samples {
        if i % 5 == 0 {
            if let Some((e, _, _)) = engine.take() {
                e.stop(Duration::from_secs(10)).await;
            }
            let data = tempfile::tempdir().unwrap();
            let bus = EventBus::default();
            let rx = bus.subscribe();
            let secrets = EngineSecrets {
                mailbox: Dovecot::password().into(),
                twilio_token: Some(Secret::new(AUTH_TOKEN)),
                journal_password: None,
            };
            let e = RunningEngine::start_with_timing(&config, secrets, data.path(), bus, timing)
                .await
                .unwrap();
            engine = Some((e, data, rx));
            // Connected and idling before the next APPEND (the old e-mails are already seen).
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let Some((_, _, rx)) = engine.as_mut() else { unreachable!() };
        tokio::time::sleep(Duration::from_millis(20)).await;
        appender
            .append("INBOX", None, None, plain(SENSOR, &format!("ALERTA twilio sonda-{i}"), "x"))
            .await
            .unwrap();
        let (appended, appended_utc) = (Instant::now(), chrono::Utc::now());
        let mut noticed = None;
        loop {
            match rx.recv().await.unwrap() {
                EngineEvent::AlertRecorded(n) => noticed = Some(n.noticed_at),
                EngineEvent::Incident(c)
                    if c.kind == sentinela_engine::incident::IncidentEventKind::Acknowledged =>
                {
                    break
                }
                _ => {}
            }
        }
        let noticed = appended + (noticed.unwrap() - appended_utc).to_std().unwrap_or_default();
        let first = |resource: &str| {
            fake.creations(resource).into_iter().find(|r| r.at >= appended).expect("request").at
        };
        let (m, c) = (first("Messages"), first("Calls"));
        wa.push(m - appended);
        call.push(c - appended);
        wa_own.push(m.saturating_duration_since(noticed));
        call_own.push(c.saturating_duration_since(noticed));
    }
    if let Some((e, _, _)) = engine.take() {
        e.stop(Duration::from_secs(10)).await;
    }
    for v in [&mut wa, &mut call, &mut wa_own, &mut call_own] {
        v.sort();
    }
    println!("\n4. APPEND → first Twilio request, {samples} e-mails one at a time (Twilio fake on loopback)");
    println!("   {:<44} {:>10} {:>10}", "", "p50", "p99");
    for (label, v) in [
        ("APPEND → POST Messages (WhatsApp)", &wa),
        ("APPEND → POST Calls", &call),
        ("engine's own push → POST Messages", &wa_own),
        ("engine's own push → POST Calls", &call_own),
    ] {
        println!("   {:<44} {:>10} {:>10}", label, ms(percentile(v, 0.5)), ms(percentile(v, 0.99)));
    }
}
