//! Every statement the engine runs per alert, per poll or per reply finds its rows through an
//! index: a year of journal must not slow every alert. The tests run those paths on a journal
//! with a history and fail on a plan that scans a table that grows with the history: on SQLite,
//! each statement as its trace hook saw it, through `EXPLAIN QUERY PLAN`; on PostgreSQL, each
//! statement the connection prepared, its generic plan with sequential scans switched off (and no
//! index read whole to filter it). Both are needed: SQLite words a full walk of a `WITHOUT ROWID`
//! table as "SEARCH … USING PRIMARY KEY".

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{Duration, Utc};

use super::sql::Conn;
use super::*;
use crate::incident::flood::FloodLimit;
use crate::incident::IncidentRules;
use crate::mail::parse_alert_mail;
use crate::notify::planner::{plan, PlanPolicy};

static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn capture(sql: &str) {
    CAPTURED.lock().unwrap().push(sql.to_owned());
}

fn mail(uid: u32, subject: &str) -> NewAlert {
    let raw = format!(
        "From: sensor@cpd\r\nSubject: {subject}\r\nMessage-ID: <m{uid}@x>\r\n\r\nleitura\r\n"
    );
    NewAlert {
        origin: MailboxUid { folder: "INBOX".into(), uidvalidity: 1, uid },
        mail: parse_alert_mail(raw.as_bytes(), false),
        received_at: Utc::now(),
    }
}

fn policy() -> PlanPolicy {
    PlanPolicy {
        recipients: vec!["+5511999990001".into()],
        sms_only: vec!["+5511999990009".into()],
        calls: true,
        paused: false,
        remind_every: Some(Duration::minutes(30)),
        flood: FloodLimit::default(),
        reescalate_after: Some(Duration::minutes(60)),
        now: Utc::now(),
    }
}

/// Tables that stay a few rows long whatever the history.
const SMALL: &[&str] = &["engine_state", "schema_version", "CONSTANT ROW"];
/// Partial indexes over the live rows only (open incidents, unfinished calls, unplanned log
/// lines): walking one is bounded by what is under way, not by the history.
const LIVE_ONLY: &[&str] = &[
    "incidents_one_live_per_key",
    "incidents_unresolved",
    "incidents_acknowledged",
    "calls_unfinished",
    "incident_log_unplanned",
    "alerts_unplaced",
    "incidents_held",
    "incidents_escalating",
    "deliveries_gathered",
];

/// The per-alert, per-poll and per-reply paths, each once.
async fn run_hot_paths(j: &AlertJournal) {
    let rules = IncidentRules::default();
    // Per alert: journaled, planned, its messages and calls.
    j.record(vec![mail(100, "ALERTA sala 100")], &rules).await.unwrap();
    plan(j, policy()).await.unwrap();
    j.owed_deliveries(false, 8, vec![]).await.unwrap();
    j.speakable_incidents(3).await.unwrap();
    j.unfinished_call().await.unwrap();
    j.last_call().await.unwrap();
    let call = j.call_intent(0, 0, "+5511988880001", vec![], vec![]).await.unwrap();
    j.call_wanted(call.id).await.unwrap();
    j.finish_unanswered(3).await.unwrap();
    // Per poll: messages followed, the pause, the tray's counts, the open incidents.
    j.deliveries_to_follow(Utc::now() - Duration::minutes(15)).await.unwrap();
    j.pause_state().await.unwrap();
    j.open_incident_counts().await.unwrap();
    j.incidents(50, None, true).await.unwrap();
    j.any_untaken().await.unwrap();
    j.newest_reply().await.unwrap();
    // Per reply: from a number reached, then from one never reached (a person just added).
    for (sid, from) in [("SM1", "+5511999990001"), ("SM2", "+5511977770000")] {
        let reply = crate::journal::replies::Reply {
            sid: sid.into(),
            from: from.into(),
            body: "ok".into(),
            sent_at: Some(Utc::now()),
            channel: crate::model::Channel::Sms,
        };
        j.handle_reply(reply, vec!["+5511999990001".into(), "+5511977770000".into()], "Ana".into())
            .await
            .unwrap();
    }
    // Once a day and at start.
    j.day_counts(Utc::now() - Duration::days(1), Utc::now()).await.unwrap();
    j.place_unplaced(&rules).await.unwrap();
    // The history window: an incident's detail; its search by words, by days and state without
    // words, and by words on some days.
    let newest = j.incidents(1, None, false).await.unwrap()[0].id;
    j.deliveries_of(newest).await.unwrap();
    j.calls_of(newest).await.unwrap();
    let query = IncidentQuery {
        text: "sala".into(),
        limit: 50,
        state: StateFilter::Unresolved,
        ..Default::default()
    };
    j.find_incidents(query.clone()).await.unwrap();
    j.find_incidents(IncidentQuery {
        text: String::new(),
        since: Some(Utc::now() - Duration::days(2)),
        until: Some(Utc::now()),
        ..query.clone()
    })
    .await
    .unwrap();
    j.find_incidents(IncidentQuery {
        since: Some(Utc::now() - Duration::days(2)),
        until: Some(Utc::now()),
        state: StateFilter::All,
        ..query.clone()
    })
    .await
    .unwrap();
    j.find_incidents(IncidentQuery { state: StateFilter::All, ..query }).await.unwrap();
}

async fn with_history(j: &AlertJournal) {
    for uid in 1..=20 {
        j.record(vec![mail(uid, &format!("ALERTA sala {uid}"))], &IncidentRules::default())
            .await
            .unwrap();
    }
    plan(j, policy()).await.unwrap();
}

/// Tables that grow with the history (PostgreSQL's check names them; SQLite's plans say SCAN).
#[cfg(unix)]
const GROWING: &[&str] = &[
    "alerts",
    "sightings",
    "events",
    "incidents",
    "incident_log",
    "deliveries",
    "calls",
    "call_incidents",
    "replies",
    "rejected_mails",
];

/// FTS5 words every query of its index (the only virtual table) "SCAN <table or alias> VIRTUAL
/// TABLE INDEX n:…": a lookup when the index string holds a MATCH constraint (`M`), a walk of the
/// whole index when it does not.
fn full_text_lookup(detail: &str) -> bool {
    detail
        .split_once(" VIRTUAL TABLE INDEX ")
        .and_then(|(_, i)| i.split_once(':'))
        .is_some_and(|(_, constraints)| constraints.contains('M'))
}

#[tokio::test]
async fn per_alert_per_poll_and_per_reply_statements_use_an_index() {
    let j = AlertJournal::open_in_memory().unwrap();
    with_history(&j).await;
    j.call(|conn| {
        if let Conn::Sqlite(c) = conn {
            c.trace(Some(capture));
        }
        Ok(())
    })
    .await
    .unwrap();
    run_hot_paths(&j).await;
    let statements: BTreeSet<String> = std::mem::take(&mut *CAPTURED.lock().unwrap())
        .into_iter()
        .filter(|s| !s.trim_start().starts_with("--"))
        .collect();
    let plans = j
        .call(move |conn| {
            let Conn::Sqlite(c) = conn else { unreachable!() };
            c.trace(None);
            let mut plans = Vec::new();
            for sql in statements {
                let head = sql.trim_start().to_ascii_uppercase();
                if !["SELECT", "UPDATE", "DELETE", "INSERT", "WITH"]
                    .iter()
                    .any(|k| head.starts_with(k))
                {
                    continue;
                }
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let details: Vec<String> =
                    stmt.query_map([], |r| r.get::<_, String>(3))?.collect::<Result<_, _>>()?;
                plans.push((sql, details));
            }
            Ok(plans)
        })
        .await
        .unwrap();
    let scans: Vec<String> = plans
        .iter()
        .flat_map(|(sql, details)| {
            details
                .iter()
                .filter(|d| {
                    d.starts_with("SCAN ")
                        && !SMALL.iter().any(|t| d[5..].starts_with(t))
                        && !LIVE_ONLY.iter().any(|i| d.ends_with(&format!("USING INDEX {i}")))
                        && !full_text_lookup(d)
                })
                .map(move |d| {
                    format!("{d}\n    in: {}", sql.split_whitespace().collect::<Vec<_>>().join(" "))
                })
        })
        .collect();
    assert!(scans.is_empty(), "{} scans of growing tables:\n{}", scans.len(), scans.join("\n"));
}

/// The index scans of a PostgreSQL plan that read a whole growing table through an index to
/// filter it: no `Index Cond` bounds them (an `OR` over a subquery gets such a plan). A walk
/// without a filter is a join's side on the test's few rows, not a search; a partial index over
/// the live rows is bounded by what is under way.
#[cfg(unix)]
fn unbounded_index_walks(plan: &str) -> Vec<&str> {
    let lines: Vec<&str> = plan.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("Index Scan") || l.contains("Index Only Scan"))
        .filter(|(_, l)| {
            GROWING.iter().any(|t| l.contains(&format!(" on {t} ")))
                && !LIVE_ONLY.iter().any(|i| l.contains(&format!(" using {i} ")))
        })
        .filter(|(n, l)| {
            let details = lines[n + 1..]
                .iter()
                .take_while(|d| indent(d) > indent(l) && !d.trim_start().starts_with("->"));
            let details: Vec<&&str> = details.collect();
            details.iter().any(|d| d.trim_start().starts_with("Filter:"))
                && !details.iter().any(|d| d.contains("Index Cond"))
        })
        .map(|(_, l)| *l)
        .collect()
}

/// The same paths on PostgreSQL, each statement's generic plan with sequential scans switched off:
/// a "Seq Scan" on a growing table is one no index serves.
#[cfg(unix)]
#[tokio::test]
async fn on_postgresql_too() {
    let pg = crate::journal::test_postgres::TestPostgres::start();
    let j = pg.journal().await;
    with_history(&j).await;
    run_hot_paths(&j).await;
    let plans = j
        .call(|conn| match conn {
            Conn::Postgres(c) => c.generic_plans(),
            Conn::Sqlite(_) => unreachable!(),
        })
        .await
        .unwrap();
    assert!(plans.len() > 20, "{} statements seen", plans.len());
    let scans: Vec<String> = plans
        .iter()
        .filter(|(_, plan)| {
            GROWING.iter().any(|t| plan.contains(&format!("Seq Scan on {t} ")))
                || !unbounded_index_walks(plan).is_empty()
        })
        .map(|(sql, plan)| {
            format!("{}\n{plan}", sql.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect();
    assert!(
        scans.is_empty(),
        "{} statements scan a growing table:\n{}",
        scans.len(),
        scans.join("\n\n")
    );
}
