//! Sentinela's shared-journal benchmark (part of `scripts/bench`): several workstations on one
//! real PostgreSQL, a real Dovecot and the Twilio fake. Prints figures; asserts nothing about time.
//!
//! 1. Takeover: two `sentinela-headless run` processes; the lease holder is killed with SIGKILL
//!    and the time until the other holds the lease (as the database says) is taken, 20 times.
//! 2. APPEND → journaled: the same e-mails timed one by one with two engines on PostgreSQL and
//!    with one engine on its SQLite file, in the same run.
//! 3. The database's load at idle with two engines on it: transactions per second.

use std::path::Path;
use std::time::{Duration, Instant};

use sentinela_engine::config::{Config, JournalConfig};
use sentinela_engine::events::{EngineEvent, EventBus};
use sentinela_engine::journal::test_postgres::{self, TestPostgres};
use sentinela_engine::journal::AlertJournal;
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_engine::secrets::Secret;
use sentinela_engine::timing::EngineTiming;
use sentinela_tests::dovecot::{Dovecot, SENSOR};
use sentinela_tests::headless;
use sentinela_tests::mail::plain;
use sentinela_tests::scenario::Scenario;
use sentinela_tests::twilio_fake::AUTH_TOKEN;
use sentinela_tests::wait_for;
use tokio::sync::broadcast;

/// 20, or `SENTINELA_BENCH_TAKEOVERS`.
fn takeover_runs() -> usize {
    std::env::var("SENTINELA_BENCH_TAKEOVERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20)
}
const EMAILS: usize = 50;
const IDLE: Duration = Duration::from_secs(30);

fn on_shared(config: &Config, pg: &TestPostgres, workstation: &str) -> Config {
    let mut c = config.clone();
    c.journal = Some(JournalConfig { url: pg.url(), workstation: workstation.into() });
    c
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn sessions_of(pg: &TestPostgres, workstation: &str) -> usize {
    pg.query(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sentinela {workstation}'"
    ))[0]
        .parse()
        .unwrap_or(0)
}

fn run(config: &Path, dir: &Path, name: &str) -> tokio::process::Child {
    let mut c = tokio::process::Command::from(headless::run_command(
        config,
        &dir.join(name),
        &dir.join(format!("{name}.log")),
    ));
    c.env("SENTINELA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("SENTINELA_JOURNAL_PASSWORD", test_postgres::PASSWORD)
        .kill_on_drop(true);
    c.spawn().unwrap()
}

async fn takeovers(s: &Scenario, pg: &TestPostgres, journal: &AlertJournal) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let mut times = Vec::new();
    for n in 0..takeover_runs() {
        let (holder, standby) = (format!("NOC-A{n}"), format!("NOC-B{n}"));
        let paths: Vec<_> = [&holder, &standby]
            .iter()
            .map(|w| {
                let p = dir.path().join(format!("{w}.toml"));
                on_shared(&s.config, pg, w).save(&p).unwrap();
                p
            })
            .collect();
        let mut first = run(&paths[0], dir.path(), &holder);
        wait_for("the first to hold the lease", Duration::from_secs(30), || async {
            (journal.shared_status().await.ok()?.notifier? == holder).then_some(())
        })
        .await;
        let mut second = run(&paths[1], dir.path(), &standby);
        // The standby is up once its journal, listener and lease sessions are all open.
        wait_for("the standby connected", Duration::from_secs(30), || async {
            (sessions_of(pg, &standby) >= 3).then_some(())
        })
        .await;
        first.start_kill().unwrap(); // SIGKILL
        let killed = Instant::now();
        first.wait().await.unwrap();
        loop {
            if journal.shared_status().await.ok().and_then(|s| s.notifier).as_deref()
                == Some(standby.as_str())
            {
                break;
            }
            assert!(killed.elapsed() < Duration::from_secs(60), "no takeover");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        times.push(killed.elapsed());
        second.kill().await.unwrap();
    }
    times
}

async fn start(config: &Config, data: &Path) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    let bus = EventBus::default();
    let rx = bus.subscribe();
    let secrets = EngineSecrets {
        mailbox: Dovecot::password().into(),
        twilio_token: Some(Secret::new(AUTH_TOKEN)),
        journal_password: Some(TestPostgres::password()),
    };
    // The production intervals: the idle load is what a team's database would see.
    (
        RunningEngine::start_with_timing(config, secrets, data, bus, EngineTiming::default())
            .await
            .unwrap(),
        rx,
    )
}

/// Appends `EMAILS` e-mails one by one; each timed from the APPEND until the first engine
/// announces it journaled (committed).
async fn append_to_journaled(
    s: &Scenario,
    receivers: &mut [broadcast::Receiver<EngineEvent>],
    tag: &str,
) -> Vec<Duration> {
    let mut times = Vec::new();
    for n in 0..EMAILS {
        for rx in receivers.iter_mut() {
            while rx.try_recv().is_ok() {}
        }
        let t0 = Instant::now();
        s.server
            .append("INBOX", &plain(SENSOR, &format!("ALERTA {tag} sala {n}"), "temperatura alta"))
            .await;
        'wait: loop {
            for rx in receivers.iter_mut() {
                if let Ok(EngineEvent::AlertRecorded(_)) = rx.try_recv() {
                    break 'wait;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "e-mail {n} not journaled");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        times.push(t0.elapsed());
    }
    times.sort();
    times
}

fn transactions(pg: &TestPostgres) -> u64 {
    pg.query("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'postgres'")
        [0]
    .parse()
    .unwrap()
}

/// Transactions per second on the database over `IDLE`, nothing arriving: both engines watch,
/// one holds the lease.
async fn idle_load(pg: &TestPostgres) -> f64 {
    let before = transactions(pg);
    let from = Instant::now();
    tokio::time::sleep(IDLE).await;
    (transactions(pg) - before) as f64 / from.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let pg = TestPostgres::start();
    let s = Scenario::new(&["+5511999990001"], &["+5511988880001"], 1).await;
    let journal = pg.journal().await;
    println!("Sentinela shared-journal benchmark — PostgreSQL {}, Dovecot and the Twilio fake on loopback", pg.query("SHOW server_version")[0]);

    let mut t = takeovers(&s, &pg, &journal).await;
    t.sort();
    println!(
        "1. takeover after the holder is killed (SIGKILL), {} runs: p50 {}, max {} (the standby asks every 2 s)",
        t.len(),
        ms(percentile(&t, 0.5)),
        ms(*t.last().unwrap())
    );

    let (a, b, c) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (one, rx1) = start(&on_shared(&s.config, &pg, "NOC-01"), a.path()).await;
    let (two, rx2) = start(&on_shared(&s.config, &pg, "NOC-02"), b.path()).await;
    // Past the new schema's first autovacuum and the engines' first scans.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let quiet = idle_load(&pg).await;
    let mut receivers = [rx1, rx2];
    let shared = append_to_journaled(&s, &mut receivers, "pg").await;
    // Idle again, with the 50 incidents open and their calls over.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let busy = idle_load(&pg).await;
    one.stop(Duration::from_secs(5)).await;
    two.stop(Duration::from_secs(5)).await;

    let (alone, rx) = start(&s.config, c.path()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sqlite = append_to_journaled(&s, &mut [rx], "sqlite").await;
    alone.stop(Duration::from_secs(5)).await;
    println!(
        "2. APPEND → journaled, {EMAILS} e-mails one by one: two engines on PostgreSQL p50 {} p95 {} max {}; one engine on SQLite p50 {} p95 {} max {}",
        ms(percentile(&shared, 0.5)),
        ms(percentile(&shared, 0.95)),
        ms(*shared.last().unwrap()),
        ms(percentile(&sqlite, 0.5)),
        ms(percentile(&sqlite, 0.95)),
        ms(*sqlite.last().unwrap()),
    );
    println!("3. the database at idle with two engines on it, over {} s: {quiet:.2} transactions/s with nothing open, {busy:.2} with the 50 incidents above open", IDLE.as_secs());
}
