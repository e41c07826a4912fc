//! The long-history benchmark (`scripts/bench history`): the journal's work at a million alerts
//! beside a fresh journal, in the same run, on SQLite and on the shared journal's PostgreSQL.
//! Prints figures; asserts nothing about time.
//!
//! Then the real engine runs on each journal (a real Dovecot, the Twilio fake): start → watching,
//! APPEND → the first WhatsApp and the first call (a person answers at once), and the process's
//! CPU while idle for a minute.
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
use sentinela_engine::config::{Config, JournalConfig, Security, WhatsAppConfig};
use sentinela_engine::events::{EngineEvent, EventBus, MailboxState};
use sentinela_engine::incident::flood::FloodLimit;
use sentinela_engine::incident::{AckVia, IncidentEventKind, IncidentRules};
use sentinela_engine::journal::test_postgres::TestPostgres;
use sentinela_engine::journal::{
    AlertJournal, IncidentQuery, MailboxUid, NewAlert, Reply, StateFilter, JOURNAL_FILE,
};
use sentinela_engine::mail::parse_alert_mail;
use sentinela_engine::notify::planner::{plan, PlanPolicy};
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_engine::secrets::Secret;
use sentinela_engine::timing::EngineTiming;
use sentinela_tests::dovecot::{Dovecot, SENSOR};
use sentinela_tests::mail::plain;
use sentinela_tests::twilio_fake::{CallScript, TwilioFake, AUTH_TOKEN};
use sentinela_tests::wait_for;

const SEED_INCIDENTS: u32 = 100;
const PEOPLE: [&str; 2] = ["+5511999990001", "+5511999990002"];
const ROOMS: [&str; 5] = ["Temperatura", "Umidade", "Água no piso", "Fumaça", "Energia"];

fn mail(uid: u32, subject: &str, body: &str) -> NewAlert {
    let raw = format!("From: sensor@cpd.example\r\nSubject: {subject}\r\nMessage-ID: <h{uid}@cpd.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n");
    NewAlert {
        origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 1, uid },
        mail: parse_alert_mail(raw.as_bytes(), false),
        received_at: Utc::now(),
    }
}

/// Messages to both people and calls, now; no pause, reminders or re-escalation.
fn policy() -> PlanPolicy {
    PlanPolicy {
        recipients: PEOPLE.iter().map(|p| p.to_string()).collect(),
        sms_only: Vec::new(),
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
        let body = format!(
            "Sensor {n}: {what} fora do limite. Leitura 31,{n} °C às 03:{:02}. Verifique o CPD.",
            n % 60
        );
        let uid = first_uid + n * 3;
        j.record(vec![mail(uid, &format!("Problem: {subject}"), &body)], &rules).await.unwrap();
        plan(j, policy()).await.unwrap();
        j.record(vec![mail(uid + 1, &format!("Problem: {subject}"), &body)], &rules).await.unwrap();
        let id = j.incidents(1, None, false).await.unwrap()[0].id;
        if n % 2 == 0 {
            j.acknowledge(id, Some("Ana Souza".into()), AckVia::Whatsapp).await.unwrap();
        }
        j.record(vec![mail(uid + 2, &format!("Resolved: {subject}"), "Leitura normal")], &rules)
            .await
            .unwrap();
        plan(j, policy()).await.unwrap();
    }
}

/// The tables copied, parents first.
const TABLES: [&str; 6] =
    ["incidents", "alerts", "sightings", "events", "incident_log", "deliveries"];

/// A column of copy `k` of `copies`, as SQL over `k`: ids moved past the seed's `span` of each
/// table, times moved `copies - k` hours back (so newer ids are newer, as in a real journal),
/// keys made unique.
fn copied(
    table: &str,
    column: &str,
    span: &dyn Fn(&str) -> i64,
    copies: i64,
    dialect: Dialect,
) -> String {
    let back = |c: &str| {
        match dialect {
        Dialect::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', {c}, '-' || ({copies} - k) || ' hours')"),
        Dialect::Postgres => format!("to_char(({c}::timestamptz - make_interval(hours => ({copies} - k)::int)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"),
    }
    };
    match column {
        "id" => format!("id + k * {}", span(table)),
        "incident_id" => format!("incident_id + k * {}", span("incidents")),
        "alert_id" | "latest_alert_id" | "uid" => format!("{column} + k * {}", span("alerts")),
        "digest_id" => format!("digest_id + k * {}", span("deliveries")),
        "message_id" | "sid" => format!("{column} || '-' || k"),
        c if c.ends_with("_at") || c.ends_with("_seen") || c == "at" || c == "held_since" => {
            back(c)
        }
        c => c.to_owned(),
    }
}

#[derive(Clone, Copy)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// One `INSERT … SELECT` per table making `copies - 1` copies of the seed at once.
fn copy_statements(
    columns: &dyn Fn(&str) -> Vec<String>,
    span: &dyn Fn(&str) -> i64,
    copies: i64,
    dialect: Dialect,
) -> Vec<String> {
    TABLES
        .iter()
        .map(|table| {
            let columns = columns(table);
            let exprs: Vec<String> = columns.iter().map(|c| copied(table, c, span, copies, dialect)).collect();
            let seed_only = if *table == "sightings" { format!("alert_id <= {}", span("alerts")) } else { format!("id <= {}", span(table)) };
            let series = match dialect {
                Dialect::Sqlite => format!("(WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < {}) SELECT k FROM n) AS copies", copies - 1),
                Dialect::Postgres => format!("generate_series(1, {}) AS k", copies - 1),
            };
            format!("INSERT INTO {table} ({}) SELECT {} FROM {table} CROSS JOIN {series} WHERE {seed_only}", columns.join(", "), exprs.join(", "))
        })
        .collect()
}

/// The seed's messages as Twilio would have left them: read.
/// (The seed's recoveries come before any message is sent, which cancels them: a real team
/// reads its alarms first.)
const MARK_READ: &str = "UPDATE deliveries SET state = 'read', sid = 'SM' || id, sent_at = created_at WHERE state IN ('pending', 'canceled')";

/// Copies a SQLite journal's seed until it holds `alerts` alerts; returns how many it holds.
fn replicate_sqlite(path: &Path, alerts: i64) -> i64 {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute(MARK_READ, []).unwrap();
    let max = |table: &str| {
        if table == "sightings" {
            0
        } else {
            db.query_row(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
        }
    };
    let spans: Vec<(&str, i64)> = TABLES.iter().map(|t| (*t, max(t))).collect();
    let span = |t: &str| spans.iter().find(|(n, _)| *n == t).unwrap().1;
    let columns = |t: &str| {
        db.prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let copies = (alerts + span("alerts") - 1) / span("alerts");
    let tx = db.unchecked_transaction().unwrap();
    for sql in copy_statements(&columns, &span, copies, Dialect::Sqlite) {
        tx.execute(&sql, []).unwrap();
    }
    tx.commit().unwrap();
    // No ANALYZE: the engine never runs it, so a real journal has no statistics either (the
    // planner then trusts its indexes).
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    db.query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0)).unwrap()
}

/// The same on PostgreSQL; identities moved past the copies, statistics made.
fn replicate_postgres(pg: &TestPostgres, alerts: i64) -> i64 {
    pg.query(MARK_READ);
    let max = |table: &str| {
        if table == "sightings" {
            0
        } else {
            pg.query(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"))[0]
                .parse::<i64>()
                .unwrap()
        }
    };
    let spans: Vec<(&str, i64)> = TABLES.iter().map(|t| (*t, max(t))).collect();
    let span = |t: &str| spans.iter().find(|(n, _)| *n == t).unwrap().1;
    let columns = |t: &str| {
        pg.query(&format!("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{t}' ORDER BY ordinal_position"))
    };
    let copies = (alerts + span("alerts") - 1) / span("alerts");
    for sql in copy_statements(&columns, &span, copies, Dialect::Postgres) {
        pg.query(&sql);
    }
    for table in TABLES.iter().filter(|t| **t != "sightings") {
        pg.query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        ));
    }
    pg.query("VACUUM ANALYZE");
    pg.query("SELECT COUNT(*) FROM alerts")[0].parse().unwrap()
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

/// Where a journal lives, to open it again and weigh it.
enum Place<'a> {
    Sqlite(&'a Path),
    Postgres(&'a TestPostgres),
}

impl Place<'_> {
    async fn open(&self) -> AlertJournal {
        match self {
            Place::Sqlite(dir) => AlertJournal::open_in_dir(dir).unwrap(),
            Place::Postgres(pg) => pg.journal().await,
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Place::Sqlite(dir) => std::fs::metadata(dir.join(JOURNAL_FILE)).unwrap().len(),
            Place::Postgres(pg) => {
                pg.query("SELECT pg_database_size(current_database())")[0].parse().unwrap()
            }
        }
    }
}

/// One journal's figures, in the order `ROWS` names them.
async fn measure(place: Place<'_>) -> Vec<String> {
    let started = Instant::now();
    let j = place.open().await;
    let open = ms(started.elapsed());
    let alerts = j.alert_count().await.unwrap();
    let size = place.bytes();

    // The engine's own share of one alert: journaled and planned (its messages written).
    let rules = IncidentRules::default();
    let mut took = Vec::new();
    for n in 0..BURST {
        let started = Instant::now();
        j.record(
            vec![mail(900_000_000 + n, &format!("Problem: Sonda nova {n}"), "Leitura 40 °C")],
            &rules,
        )
        .await
        .unwrap();
        plan(&j, policy()).await.unwrap();
        took.push(started.elapsed());
    }
    took.sort();
    // Taken, so the engine that runs on this journal next does not call about them.
    j.acknowledge_all(Some("bench".into()), AckVia::Cli).await.unwrap();
    let q = |text: &str, state: StateFilter| IncidentQuery {
        text: text.into(),
        state,
        limit: 1000,
        ..Default::default()
    };
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
            let reply = Reply {
                sid,
                from: "+5511977770000".into(),
                body: "1".into(),
                sent_at: Some(Utc::now()),
                channel: sentinela_engine::model::Channel::Whatsapp,
            };
            j.handle_reply(reply, vec!["+5511977770000".into()], "Novo".into()).await.unwrap();
        }
    };
    // What `incidents` and `history` read to print their default listings.
    let cli_incidents = || {
        let j = j.clone();
        async move {
            for i in j.incidents(100, None, false).await.unwrap() {
                j.deliveries_of(i.id).await.unwrap();
                j.calls_of(i.id).await.unwrap();
            }
        }
    };
    let cli_history = || {
        let j = j.clone();
        async move {
            j.alerts(100).await.unwrap();
        }
    };
    vec![
        format!("{alerts}"),
        format!(
            "{:.0} MB, {:.2} kB per alert",
            size as f64 / 1e6,
            size as f64 / 1e3 / alerts as f64
        ),
        format!("{open:.1} ms"),
        format!(
            "{:.1} / {:.1} / {:.1} ms",
            percentile(&took, 0.5),
            percentile(&took, 0.99),
            ms(*took.last().unwrap())
        ),
        format!(
            "{:.1} ms",
            median(5, find(IncidentQuery { limit: 1000, ..Default::default() })).await
        ),
        format!("{:.1} ms", median(5, cli_incidents).await),
        format!("{:.1} ms", median(5, cli_history).await),
        format!("{:.1} ms", median(5, find(q("", StateFilter::Unresolved))).await),
        format!("{:.1} ms", median(5, find(q("sonda nova 7", StateFilter::All))).await),
        format!("{:.1} ms", median(5, find(q("temperatura", StateFilter::All))).await),
        format!("{:.1} ms", median(5, find(q("agua", StateFilter::Resolved))).await),
        format!("{:.1} ms", median(5, find(q("energia", StateFilter::Unresolved))).await),
        format!(
            "{:.1} ms",
            median(
                5,
                find(IncidentQuery {
                    since: Some(month_ago),
                    until: Some(month_ago + chrono::Duration::days(1)),
                    ..q("fumaca", StateFilter::All)
                })
            )
            .await
        ),
        format!("{:.1} ms", median(5, find(q(&format!("#{rare_id}"), StateFilter::All))).await),
        format!("{:.1} ms", median(5, reply).await),
    ]
}

/// Alerts journaled back to back for the engine's own share: enough for the search index's own
/// merges to show in the p99, not only in the maximum.
const BURST: u32 = 400;

const ROWS: &[&str] = &[
    "alerts in the journal",
    "journal size",
    "open the journal (migrations checked)",
    "one alert journaled and planned in a burst, p50 / p99 / max",
    "the history's first page (1,000 incidents)",
    "`incidents` (100, with their messages and calls)",
    "`history` (the newest 100 e-mails)",
    "`incidents --open`",
    "search, words of a few incidents",
    "search, a word of every fifth incident",
    "search, a common word, resolved only",
    "search, a common word, not resolved (almost none)",
    "search, a word on one day a month ago",
    "search, `#id`",
    "a reply from a number never reached",
];

const ENGINE_ROWS: &[&str] = &[
    "engine start → watching, cold (its journal's files out of the page cache)",
    "engine start → watching the mailbox",
    "APPEND → journaled, p50 / max",
    "APPEND → first WhatsApp, p50 / max",
    "APPEND → first call, p50 / max",
    "CPU while idle (a minute), this process",
];
const ENGINE_SAMPLES: usize = 10;
/// How long the idle CPU is measured (`SENTINELA_BENCH_IDLE_SECS`, default 60).
fn idle() -> Duration {
    Duration::from_secs(
        std::env::var("SENTINELA_BENCH_IDLE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(60),
    )
}

/// CPU time this process has used.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// The real engine on a journal: `config` says where it lives.
/// Drops every file under `dir` from the page cache (synced first, then `posix_fadvise`
/// DONTNEED): what a workstation that just booted reads from its disk. Needs no privilege,
/// unlike dropping the whole cache.
fn evict(dir: &Path) {
    use std::os::fd::AsRawFd;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            evict(&path);
        } else if let Ok(file) = std::fs::File::open(&path) {
            let _ = file.sync_all();
            // SAFETY: a valid open descriptor; the call only advises the kernel.
            unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        }
    }
}

/// The engine started on a journal whose files are not in the page cache, until it watches the
/// mailbox; then stopped.
async fn cold_start(
    fake: &TwilioFake,
    config: Config,
    data: &Path,
    journal_password: Option<Secret>,
) -> String {
    let config = notifying(fake, config);
    let bus = EventBus::default();
    let mut rx = bus.subscribe();
    let secrets = EngineSecrets {
        mailbox: Dovecot::password().into(),
        twilio_token: Some(Secret::new(AUTH_TOKEN)),
        journal_password,
    };
    let started = Instant::now();
    let engine = RunningEngine::start(&config, secrets, data, bus).await.unwrap();
    while !matches!(rx.recv().await.unwrap(), EngineEvent::Mailbox(MailboxState::Watching { .. })) {
    }
    let took = started.elapsed();
    engine.stop(Duration::from_secs(10)).await;
    format!("{:.0} ms", ms(took))
}

const TO: &str = "+5511977770001";

/// `config` telling one person by WhatsApp and calling them, through the Twilio fake.
fn notifying(fake: &TwilioFake, mut config: Config) -> Config {
    config.twilio = Some(fake.config());
    config.whatsapp = Some(WhatsAppConfig {
        from: "+14155238886".into(),
        to: vec![TO.into()],
        content_sid: String::new(),
    });
    config.calls = Some(sentinela_tests::scenario::calls("+14155238886", &[TO]));
    config
}

async fn engine_figures(
    server: &Dovecot,
    fake: &TwilioFake,
    config: Config,
    data: &Path,
    journal_password: Option<Secret>,
) -> Vec<String> {
    fake.script_call(TO, CallScript::Human { answer_ms: 20, talk_ms: 20 });
    let config = notifying(fake, config);
    // Every sample a first message: no digest however many alarms a minute brings.
    let timing = EngineTiming {
        call_poll: Duration::from_millis(20),
        message_poll: Duration::from_millis(200),
        message_follow_for: Duration::from_millis(500),
        flood: FloodLimit { per_window: 10_000, ..FloodLimit::default() },
        ..EngineTiming::default()
    };
    let bus = EventBus::default();
    let mut rx = bus.subscribe();
    let secrets = EngineSecrets {
        mailbox: Dovecot::password().into(),
        twilio_token: Some(Secret::new(AUTH_TOKEN)),
        journal_password,
    };
    let started = Instant::now();
    let engine =
        RunningEngine::start_with_timing(&config, secrets, data, bus, timing).await.unwrap();
    while !matches!(rx.recv().await.unwrap(), EngineEvent::Mailbox(MailboxState::Watching { .. })) {
    }
    let start = started.elapsed();
    // On a shared journal the notify side starts with the lease: wait for it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut appender = server.client().await;
    let (mut wa, mut call, mut journaled) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..ENGINE_SAMPLES {
        tokio::time::sleep(Duration::from_millis(200)).await;
        appender
            .append(
                "INBOX",
                None,
                None,
                plain(
                    SENSOR,
                    &format!("ALERTA história sonda-{i} {}", started.elapsed().as_nanos()),
                    "x",
                ),
            )
            .await
            .unwrap();
        let appended = Instant::now();
        // This sample's incident: opened by its e-mail, then taken by the call.
        let mark = format!("sonda-{i} ");
        let mut incident = None;
        loop {
            match rx.recv().await.unwrap() {
                EngineEvent::AlertRecorded(n) if n.subject.contains(&mark) => {
                    journaled.push(appended.elapsed())
                }
                EngineEvent::Incident(c)
                    if c.kind == IncidentEventKind::Opened && c.incident.title.contains(&mark) =>
                {
                    incident = Some(c.incident.id)
                }
                EngineEvent::Incident(c)
                    if c.kind == IncidentEventKind::Acknowledged
                        && Some(c.incident.id) == incident =>
                {
                    break
                }
                _ => {}
            }
        }
        // The call may be answered before the WhatsApp went: wait for both requests.
        let first = |resource: &'static str| async move {
            wait_for(resource, Duration::from_secs(30), || async {
                fake.creations(resource).into_iter().find(|r| r.at >= appended).map(|r| r.at)
            })
            .await
        };
        wa.push(first("Messages").await - appended);
        call.push(first("Calls").await - appended);
    }
    wa.sort();
    call.sort();
    journaled.sort();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = cpu_time();
    tokio::time::sleep(idle()).await;
    let cpu = (cpu_time() - before).as_secs_f64() / idle().as_secs_f64() * 100.0;
    engine.stop(Duration::from_secs(10)).await;
    vec![
        format!("{:.0} ms", ms(start)),
        format!("{:.0} / {:.0} ms", percentile(&journaled, 0.5), ms(*journaled.last().unwrap())),
        format!("{:.0} / {:.0} ms", percentile(&wa, 0.5), ms(*wa.last().unwrap())),
        format!("{:.0} / {:.0} ms", percentile(&call, 0.5), ms(*call.last().unwrap())),
        format!("{cpu:.2} %"),
    ]
}

fn table(title: &str, built: i64, fresh: &[String], long: &[String]) {
    println!();
    println!("{title}");
    println!("| | fresh | {built} alerts |");
    println!("|---|---|---|");
    for (i, row) in ROWS.iter().chain(ENGINE_ROWS).enumerate() {
        println!("| {row} | {} | {} |", fresh[i], long[i]);
    }
}

/// The copies went into the search index at once; the running engine's upkeep merges its
/// segments a step a minute (`AlertJournal::merge_search_index`), so a journal a year old has
/// been merged between its alerts. The same step, until FTS5 says it had nothing left to do (a
/// step that did work changes at least two rows): how many steps, and how long they took.
fn merge_like_the_upkeep(file: &Path) -> (u64, f64) {
    let c = rusqlite::Connection::open(file).unwrap();
    let started = Instant::now();
    let mut steps = 0;
    loop {
        let before = c.total_changes();
        c.execute_batch("INSERT INTO incident_text (incident_text, rank) VALUES ('merge', 64);")
            .unwrap();
        steps += 1;
        if c.total_changes() - before < 2 {
            return (steps, started.elapsed().as_secs_f64());
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let alerts: i64 = std::env::var("SENTINELA_BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!("Sentinela history benchmark — journals of {alerts} alerts built by replicating the engine's own rows, beside fresh ones");

    let (fresh, long) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [fresh.path(), long.path()] {
        seed(&AlertJournal::open_in_dir(dir).unwrap(), 1).await;
    }
    rusqlite::Connection::open(fresh.path().join(JOURNAL_FILE))
        .unwrap()
        .execute(MARK_READ, [])
        .unwrap();
    let started = Instant::now();
    let built = replicate_sqlite(&long.path().join(JOURNAL_FILE), alerts);
    // `SENTINELA_BENCH_KEEP=FILE`: a copy of the long journal is kept there, to look into.
    if let Some(kept) = std::env::var_os("SENTINELA_BENCH_KEEP") {
        std::fs::copy(long.path().join(JOURNAL_FILE), &kept).unwrap();
        println!("the long journal copied to {}", Path::new(&kept).display());
    }
    let took = started.elapsed().as_secs_f64();
    let (steps, merging) = merge_like_the_upkeep(&long.path().join(JOURNAL_FILE));
    println!("the long journal's search index merged in {steps} steps of the engine's upkeep ({merging:.0} s; the engine takes one a minute)");
    let (mut a, mut b) =
        (measure(Place::Sqlite(fresh.path())).await, measure(Place::Sqlite(long.path())).await);
    let server = Dovecot::start();
    let fake = TwilioFake::start().await;
    let base = server.config(Security::Tls);
    for (figures, dir) in [(&mut a, fresh.path()), (&mut b, long.path())] {
        evict(dir);
        figures.push(cold_start(&fake, base.clone(), dir, None).await);
        figures.extend(engine_figures(&server, &fake, base.clone(), dir, None).await);
    }
    table(&format!("SQLite (the long journal built in {took:.0} s)"), built, &a, &b);

    let (fresh, long) = (TestPostgres::start(), TestPostgres::start());
    for pg in [&fresh, &long] {
        seed(&pg.journal().await, 1).await;
    }
    fresh.query(MARK_READ);
    let started = Instant::now();
    let built = replicate_postgres(&long, alerts);
    let took = started.elapsed().as_secs_f64();
    let (mut a, mut b) =
        (measure(Place::Postgres(&fresh)).await, measure(Place::Postgres(&long)).await);
    let (mut fresh, mut long) = (fresh, long);
    for (figures, pg) in [(&mut a, &mut fresh), (&mut b, &mut long)] {
        let config = Config {
            journal: Some(JournalConfig { url: pg.url(), workstation: "bench".into() }),
            ..base.clone()
        };
        let data = tempfile::tempdir().unwrap();
        // Cold: the server restarted (its own buffers empty) with its files out of the cache.
        pg.kill();
        evict(pg.dir());
        pg.spawn();
        let password = Some(TestPostgres::password());
        figures.push(cold_start(&fake, config.clone(), data.path(), password).await);
        figures.extend(
            engine_figures(&server, &fake, config, data.path(), Some(TestPostgres::password()))
                .await,
        );
    }
    table(
        &format!(
            "PostgreSQL {} (the long journal built in {took:.0} s)",
            fresh.query("SHOW server_version")[0]
        ),
        built,
        &a,
        &b,
    );
}
