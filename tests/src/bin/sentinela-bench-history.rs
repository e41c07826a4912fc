//! The long-history benchmark (`scripts/bench history`): the journal's work at a million alerts
//! beside a fresh journal, in the same run, on SQLite. Prints figures; asserts nothing about time.
//!
//! The big journal is built by replicating what the engine's own write path wrote: a seed of
//! incidents (an alarm, a repeat and a recovery each, messages to two people, taken or resolved,
//! some with a note), written through `AlertJournal` as the engine writes them, then copied with
//! every id moved past the last copy's and every time one hour further back, until it holds
//! `SENTINELA_BENCH_ALERTS` alerts (default 1,000,000). The copies go in through the same
//! triggers, so the search index holds them as the engine's own writes would.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use sentinela_engine::incident::{AckVia, IncidentRules};
use sentinela_engine::journal::{AlertJournal, IncidentQuery, MailboxUid, NewAlert, PlanPolicy, Reply, StateFilter, JOURNAL_FILE};
use sentinela_engine::mail::parse_alert_mail;

const SEED_INCIDENTS: u32 = 100;
const PEOPLE: [&str; 2] = ["+5511999990001", "+5511999990002"];
const ROOMS: [&str; 5] = ["Temperatura", "Umidade", "Água no piso", "Fumaça", "Energia"];

fn mail(uid: u32, subject: &str, body: &str) -> NewAlert {
    let raw = format!("From: sensor@cpd.example\r\nSubject: {subject}\r\nMessage-ID: <h{uid}@cpd.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n");
    NewAlert { origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 1, uid }, mail: parse_alert_mail(raw.as_bytes(), false), received_at: Utc::now() }
}

/// Messages to both people and calls, now; no pause, reminders or re-escalation.
fn policy() -> PlanPolicy {
    PlanPolicy {
        recipients: PEOPLE.iter().map(|p| p.to_string()).collect(),
        calls: true,
        paused: false,
        remind_every: None,
        flood: Default::default(),
        reescalate_after: None,
        now: Utc::now(),
    }
}

/// Incidents as the engine writes them: alarm, repeat, messages, taken, recovery.
async fn seed(j: &AlertJournal, first_uid: u32) {
    let rules = IncidentRules::default();
    for n in 0..SEED_INCIDENTS {
        let what = ROOMS[n as usize % ROOMS.len()];
        let subject = format!("{what} na sala {n} do rack {}", n % 7);
        let body = format!("Sensor {n}: {what} fora do limite. Leitura 31,{n} °C às 03:{:02}. Verifique o CPD.", n % 60);
        let uid = first_uid + n * 3;
        j.record(vec![mail(uid, &format!("Problem: {subject}"), &body)], &rules).await.unwrap();
        j.plan(policy()).await.unwrap();
        j.record(vec![mail(uid + 1, &format!("Problem: {subject}"), &body)], &rules).await.unwrap();
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        if n % 2 == 0 {
            j.acknowledge(id, Some("Ana Souza".into()), AckVia::Whatsapp).await.unwrap();
        }
        j.record(vec![mail(uid + 2, &format!("Resolved: {subject}"), "Leitura normal")], &rules).await.unwrap();
        j.plan(policy()).await.unwrap();
    }
}

/// The seed's messages as Twilio would have left them: read.
fn mark_read(path: &Path) {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute("UPDATE deliveries SET state = 'read', sid = 'SM' || id, sent_at = created_at WHERE state = 'pending'", []).unwrap();
}

/// Copies the seed until the journal holds `alerts` alerts.
fn replicate(path: &Path, alerts: i64) -> i64 {
    let db = rusqlite::Connection::open(path).unwrap();
    let count = |table: &str| db.query_row(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap();
    let seed_alerts = count("alerts");
    let tables = ["incidents", "alerts", "sightings", "events", "incident_log", "deliveries"];
    let span = |t: &str| if t == "sightings" { 0 } else { count(t) };
    let spans: Vec<(&str, i64)> = tables.iter().map(|t| (*t, span(t))).collect();
    let off = |t: &str| spans.iter().find(|(n, _)| *n == t).unwrap().1;
    let statements: Vec<String> = tables
        .iter()
        .map(|table| {
            let columns: Vec<String> = db.prepare(&format!("SELECT name FROM pragma_table_info('{table}')")).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
            let exprs: Vec<String> = columns
                .iter()
                .map(|c| match c.as_str() {
                    "id" => format!("id + ?1 * {}", off(table)),
                    "incident_id" => format!("incident_id + ?1 * {}", off("incidents")),
                    "alert_id" | "latest_alert_id" | "uid" => format!("{c} + ?1 * {}", off("alerts")),
                    "digest_id" => format!("digest_id + ?1 * {}", off("deliveries")),
                    "message_id" | "sid" => format!("{c} || '-' || ?1"),
                    c if c.ends_with("_at") || c.ends_with("_seen") || c == "at" || c == "held_since" => format!("strftime('%Y-%m-%dT%H:%M:%fZ', {c}, '-' || ?1 || ' hours')"),
                    c => c.to_owned(),
                })
                .collect();
            let seed_only = if *table == "sightings" { format!("alert_id <= {seed_alerts}") } else { format!("id <= {}", off(table)) };
            format!("INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE {seed_only}", columns.join(", "), exprs.join(", "))
        })
        .collect();
    let copies = (alerts + seed_alerts - 1) / seed_alerts;
    for k in 1..copies {
        let tx = db.unchecked_transaction().unwrap();
        for sql in &statements {
            tx.execute(sql, [k]).unwrap();
        }
        tx.commit().unwrap();
    }
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;").unwrap();
    db.query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0)).unwrap()
}

/// The median of `runs` runs of `f`, in milliseconds.
async fn median<F, Fut>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut took = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        took.push(started.elapsed());
    }
    took.sort();
    ms(took[runs / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    ms(sorted[((sorted.len() as f64 - 1.0) * p).round() as usize])
}

/// One journal's figures, in the order `ROWS` names them.
async fn measure(dir: &Path) -> Vec<String> {
    let started = Instant::now();
    let j = AlertJournal::open_in_dir(dir).unwrap();
    let open = ms(started.elapsed());
    let alerts = j.alert_count().await.unwrap();
    let size = std::fs::metadata(dir.join(JOURNAL_FILE)).unwrap().len();

    // The engine's own share of one alert: journaled and planned (its messages written).
    let rules = IncidentRules::default();
    let mut took = Vec::new();
    for n in 0..40u32 {
        let started = Instant::now();
        j.record(vec![mail(900_000_000 + n, &format!("Problem: Sonda nova {n}"), "Leitura 40 °C")], &rules).await.unwrap();
        j.plan(policy()).await.unwrap();
        took.push(started.elapsed());
    }
    took.sort();
    let q = |text: &str, state: StateFilter| IncidentQuery { text: text.into(), state, limit: 1000, ..Default::default() };
    let month_ago = Utc::now() - chrono::Duration::days(30);
    let find = |query: IncidentQuery| {
        let j = j.clone();
        move || {
            let (j, query) = (j.clone(), query.clone());
            async move {
                j.find_incidents(query).await.unwrap();
            }
        }
    };
    let rare_id = j.incidents(1, None, false).await.unwrap()[0].id;
    let reply = || {
        let j = j.clone();
        async move {
            let sid = format!("SM{}", Instant::now().elapsed().as_nanos());
            let reply = Reply { sid, from: "+5511977770000".into(), body: "1".into(), sent_at: Some(Utc::now()) };
            j.handle_reply(reply, vec!["+5511977770000".into()], "Novo".into()).await.unwrap();
        }
    };
    vec![
        format!("{alerts}"),
        format!("{:.0} MB, {:.2} kB per alert", size as f64 / 1e6, size as f64 / 1e3 / alerts as f64),
        format!("{open:.1} ms"),
        format!("{:.1} / {:.1} ms", percentile(&took, 0.5), percentile(&took, 0.99)),
        format!("{:.1} ms", median(5, find(IncidentQuery { limit: 1000, ..Default::default() })).await),
        format!("{:.1} ms", median(5, find(q("", StateFilter::Unresolved))).await),
        format!("{:.1} ms", median(5, find(q("sonda nova 7", StateFilter::All))).await),
        format!("{:.1} ms", median(5, find(q("temperatura", StateFilter::All))).await),
        format!("{:.1} ms", median(5, find(q("agua", StateFilter::Resolved))).await),
        format!("{:.1} ms", median(5, find(q("energia", StateFilter::Unresolved))).await),
        format!("{:.1} ms", median(5, find(IncidentQuery { since: Some(month_ago), until: Some(month_ago + chrono::Duration::days(1)), ..q("fumaca", StateFilter::All) })).await),
        format!("{:.1} ms", median(5, find(q(&format!("#{rare_id}"), StateFilter::All))).await),
        format!("{:.1} ms", median(5, reply).await),
    ]
}

const ROWS: &[&str] = &[
    "alerts in the journal",
    "journal size",
    "open the journal (migrations checked)",
    "one alert journaled and planned, p50 / p99",
    "the history's first page (1,000 incidents)",
    "`incidents --open`",
    "search, words of a few incidents",
    "search, a word of every fifth incident",
    "search, a common word, resolved only",
    "search, a common word, not resolved (almost none)",
    "search, a word on one day a month ago",
    "search, `#id`",
    "a reply from a number never reached",
];

#[tokio::main]
async fn main() {
    let alerts: i64 = std::env::var("SENTINELA_BENCH_ALERTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let fresh = tempfile::tempdir().unwrap();
    let long = tempfile::tempdir().unwrap();
    {
        let j = AlertJournal::open_in_dir(fresh.path()).unwrap();
        seed(&j, 1).await;
        let j = AlertJournal::open_in_dir(long.path()).unwrap();
        seed(&j, 1).await;
    }
    mark_read(&fresh.path().join(JOURNAL_FILE));
    mark_read(&long.path().join(JOURNAL_FILE));
    let started = Instant::now();
    let built = replicate(&long.path().join(JOURNAL_FILE), alerts);
    println!("Sentinela history benchmark — SQLite journal of {built} alerts built in {:.0} s by replicating the engine's own rows", started.elapsed().as_secs_f64());
    let (a, b) = (measure(fresh.path()).await, measure(long.path()).await);
    println!("| | fresh | {built} alerts |");
    println!("|---|---|---|");
    for (i, row) in ROWS.iter().enumerate() {
        println!("| {row} | {} | {} |", a[i], b[i]);
    }
}
