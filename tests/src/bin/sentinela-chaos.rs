//! The shared journal under chaos (`scripts/bench chaos`): three `sentinela-headless run`
//! workstations on one real PostgreSQL, a real Dovecot and the Twilio fake; alarms arrive while
//! the lease holder is killed (SIGKILL), hangs (SIGSTOP for 5–30 s) or the database restarts,
//! at random. At the end, from the journal and from what the Twilio fake received:
//! - every alarm is one incident, answered, and reached every WhatsApp recipient once (by
//!   itself or in a digest);
//! - Twilio created exactly the messages and calls the journal knows (a duplicate would be one
//!   more), and no number was called twice in one round of one incident.
//!
//! Prints the takeover times (p50/max) after a kill and after a hang. Exits 1 when an invariant
//! fails. Options (environment): `SENTINELA_CHAOS_ALARMS` (50), `SENTINELA_CHAOS_SEED`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sentinela_engine::config::{Config, JournalConfig};
use sentinela_engine::incident::{EscalationState, MessagePurpose};
use sentinela_engine::journal::test_postgres::{self, TestPostgres};
use sentinela_engine::journal::{AlertJournal, DeliveryState};
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::headless;
use sentinela_tests::mail::plain;
use sentinela_tests::scenario::Scenario;
use sentinela_tests::twilio_fake::{CallScript, AUTH_TOKEN};
use sentinela_tests::wait_for;

const WHATSAPP: [&str; 2] = ["+5511999990001", "+5511999990002"];
const CALLS: [&str; 2] = ["+5511988880001", "+5511988880002"];
const WORKSTATIONS: [&str; 3] = ["NOC-01", "NOC-02", "NOC-03"];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One workstation: its configuration, data directory and, while it runs, its process.
struct Workstation {
    name: &'static str,
    config: PathBuf,
    dir: PathBuf,
    process: Option<tokio::process::Child>,
    stopped_until: Option<Instant>,
}

impl Workstation {
    fn new(name: &'static str, config: &Config, pg: &TestPostgres, dir: &Path) -> Self {
        let mut c = config.clone();
        c.journal = Some(JournalConfig { url: pg.url(), workstation: name.into() });
        let path = dir.join(format!("{name}.toml"));
        c.save(&path).unwrap();
        Workstation { name, config: path, dir: dir.to_owned(), process: None, stopped_until: None }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{}.log", self.name)))
            .unwrap();
        let mut c = headless::run_command(
            &self.config,
            &self.dir.join(self.name),
            &self.dir.join("unused.log"),
        );
        c.stderr(log);
        let mut c = tokio::process::Command::from(c);
        c.env("SENTINELA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("SENTINELA_JOURNAL_PASSWORD", test_postgres::PASSWORD)
            .kill_on_drop(true);
        self.process = Some(c.spawn().unwrap());
    }

    fn signal(&self, signal: &str) {
        if let Some(pid) = self.process.as_ref().and_then(|p| p.id()) {
            let _ = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &pid.to_string()])
                .status();
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> String {
    match sorted.len() {
        0 => "—".into(),
        n => format!("{:.1} s", sorted[((n - 1) as f64 * p).round() as usize].as_secs_f64()),
    }
}

/// Waits until the lease is with someone other than `from` (as the database says).
async fn moved_from(journal: &AlertJournal, from: &str, since: Instant) -> Option<Duration> {
    let deadline = since + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(n)) = journal.shared_status().await.map(|s| s.notifier) {
            if n != from {
                return Some(since.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::main]
async fn main() {
    let alarms: usize = env_or("SENTINELA_CHAOS_ALARMS", 50);
    let seed: u64 = env_or("SENTINELA_CHAOS_SEED", fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut pg = TestPostgres::start();
    let s = Scenario::new(&WHATSAPP, &CALLS, 1).await;
    for number in CALLS {
        s.fake.script_call(number, CallScript::Human { answer_ms: 1500, talk_ms: 500 });
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = pg.journal().await;
    let mut stations: Vec<Workstation> =
        WORKSTATIONS.iter().map(|w| Workstation::new(w, &s.config, &pg, dir.path())).collect();
    for w in &mut stations {
        w.start();
    }
    wait_for("someone notifying", Duration::from_secs(60), || async {
        journal.shared_status().await.ok()?.notifier
    })
    .await;
    println!("Sentinela chaos run — {alarms} alarms, 3 workstations, seed {seed} (SENTINELA_CHAOS_SEED to repeat)");

    let (mut after_kill, mut after_hang, mut restarts) = (Vec::new(), Vec::new(), 0);
    let started = Instant::now();
    for n in 0..alarms {
        s.server
            .append(
                "INBOX",
                &plain(
                    SENSOR,
                    &format!("ALERTA sensor {n}: temperatura"),
                    &format!("Sala {n}: 40 °C"),
                ),
            )
            .await;
        // Those whose freeze is over go on.
        for w in
            stations.iter_mut().filter(|w| w.stopped_until.is_some_and(|t| Instant::now() >= t))
        {
            w.signal("CONT");
            w.stopped_until = None;
        }
        if n % 4 == 3 {
            let holder = journal.shared_status().await.ok().and_then(|s| s.notifier);
            let target = holder.as_deref().and_then(|h| {
                stations.iter().position(|w| w.name == h && w.stopped_until.is_none())
            });
            match (rng.u8(..3), target) {
                (0, Some(i)) => {
                    stations[i].signal("KILL");
                    let _ = stations[i].process.take().unwrap().wait().await;
                    let t0 = Instant::now();
                    if let Some(t) = moved_from(&journal, stations[i].name, t0).await {
                        after_kill.push(t);
                    }
                    stations[i].start();
                }
                (1, Some(i)) => {
                    let freeze = Duration::from_secs(rng.u64(5..=30));
                    stations[i].signal("STOP");
                    stations[i].stopped_until = Some(Instant::now() + freeze);
                    let t0 = Instant::now();
                    if let Some(t) = moved_from(&journal, stations[i].name, t0).await {
                        after_hang.push(t);
                    }
                }
                _ => {
                    pg.restart();
                    restarts += 1;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(1000..5000))).await;
    }
    for w in &mut stations {
        if w.stopped_until.take().is_some() {
            w.signal("CONT");
        }
    }
    let answered = wait_for("every incident answered", Duration::from_secs(300), || async {
        let all = journal.incidents(alarms + 10, None, false).await.ok()?;
        (all.len() >= alarms && all.iter().all(|i| i.escalation == EscalationState::Answered))
            .then_some(all)
    })
    .await;
    // Whatever was still following or sending lands.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let run_time = started.elapsed();

    let mut failures = Vec::new();
    if answered.len() != alarms {
        failures.push(format!("{} incidents for {alarms} alarms", answered.len()));
    }
    let (mut told_directly, mut awaiting_digest) = (0, 0);
    let mut deliveries = BTreeMap::new();
    let mut calls = BTreeMap::new();
    for i in &answered {
        let of = journal.deliveries_of(i.id).await.unwrap();
        for to in WHATSAPP {
            let alarms: Vec<_> = of
                .iter()
                .filter(|d| {
                    d.recipient == to
                        && matches!(d.purpose, MessagePurpose::Alarm | MessagePurpose::Digest)
                })
                .collect();
            let told = alarms
                .iter()
                .filter(|d| d.sid.is_some() && d.state != DeliveryState::Failed)
                .count();
            // Past the flood limit, an alarm waits for its digest at the end of the window (10
            // min): gathered, not lost, and not sent twice.
            let gathered = alarms.iter().any(|d| d.state == DeliveryState::Gathered);
            match (told, gathered) {
                (1, false) => told_directly += 1,
                (0, true) => awaiting_digest += 1,
                _ => failures.push(format!(
                    "incident #{} reached {to} {told} times: {:?}",
                    i.id,
                    alarms.iter().map(|d| (d.purpose, d.state)).collect::<Vec<_>>()
                )),
            }
        }
        let placed: Vec<_> =
            journal.calls_of(i.id).await.unwrap().into_iter().filter(|c| c.sid.is_some()).collect();
        let mut rounds = BTreeSet::new();
        for c in &placed {
            if !rounds.insert((c.number.clone(), c.round)) {
                failures.push(format!(
                    "incident #{}: {} called twice in round {}",
                    i.id, c.number, c.round
                ));
            }
        }
        deliveries.extend(of.into_iter().filter_map(|d| Some((d.sid.clone()?, d))));
        calls.extend(placed.into_iter().filter_map(|c| Some((c.sid.clone()?, c))));
    }
    for to in WHATSAPP {
        let (at_twilio, journaled) =
            (s.fake.bodies_to(to).len(), deliveries.values().filter(|d| d.recipient == to).count());
        if at_twilio != journaled {
            failures.push(format!(
                "{to}: Twilio received {at_twilio} messages, the journal knows {journaled}"
            ));
        }
    }
    let at_twilio = s.fake.called_numbers().len();
    if at_twilio != calls.len() {
        failures
            .push(format!("Twilio placed {at_twilio} calls, the journal knows {}", calls.len()));
    }

    after_kill.sort();
    after_hang.sort();
    println!(
        "{alarms} alarms over {:.0} s: {} kills, {} hangs (5–30 s), {restarts} database restarts; {} messages and {} calls, each once",
        run_time.as_secs_f64(),
        after_kill.len(),
        after_hang.len(),
        deliveries.len(),
        calls.len()
    );
    println!(
        "takeover after a kill: p50 {}, max {}",
        percentile(&after_kill, 0.5),
        after_kill.last().map_or("—".into(), |_| percentile(&after_kill, 1.0))
    );
    println!(
        "takeover after a hang: p50 {}, max {}",
        percentile(&after_hang, 0.5),
        after_hang.last().map_or("—".into(), |_| percentile(&after_hang, 1.0))
    );
    for w in &mut stations {
        if let Some(mut p) = w.process.take() {
            let _ = p.kill().await;
        }
    }
    if failures.is_empty() {
        println!(
            "every alarm reached every recipient once ({told_directly} alarm messages; {awaiting_digest} past the flood limit wait for their digest), and no number was called twice in one round"
        );
    } else {
        for f in &failures {
            println!("FAILED: {f}");
        }
        println!("logs: {}", dir.keep().display());
        std::process::exit(1);
    }
}
