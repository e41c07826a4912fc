//! Several workstations on one shared journal (a real PostgreSQL), one real Dovecot mailbox and
//! the Twilio fake: an e-mail is one incident whoever sees it, one engine notifies at a time,
//! and another takes over when it dies — following the call in flight, not placing it again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sentinela_engine::config::{Config, JournalConfig};
use sentinela_engine::events::{EngineEvent, EventBus, NotifierState};
use sentinela_engine::incident::{AckVia, EscalationState, IncidentState};
use sentinela_engine::journal::test_postgres::{self, TestPostgres};
use sentinela_engine::journal::{AlertJournal, IncidentSummary, LocalOutbox};
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_engine::secrets::Secret;
use sentinela_engine::timing::EngineTiming;
use sentinela_tests::dovecot::{Dovecot, SENSOR};
use sentinela_tests::headless::{self, text};
use sentinela_tests::mail::plain;
use sentinela_tests::people::{C1, C2, WA1, WA2};
use sentinela_tests::scenario::{fast, Scenario};
use sentinela_tests::tcp_cut::TcpCut;
use sentinela_tests::twilio_fake::{CallScript, AUTH_TOKEN};
use sentinela_tests::wait_for;
use sentinela_tests::WAIT;
use tempfile::TempDir;
use tokio::sync::broadcast;

/// The lease holder's session, as `pg_locks` shows it: the one holding a liveness lock.
const HOLDER_SESSION: &str =
    "l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = 1397642316";

fn on_shared(config: &Config, pg: &TestPostgres, workstation: &str) -> Config {
    let mut c = config.clone();
    c.journal = Some(JournalConfig { url: pg.url(), workstation: workstation.into() });
    c
}

async fn start(config: &Config, data: &Path) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    start_timed(config, data, fast()).await
}

async fn start_timed(
    config: &Config,
    data: &Path,
    timing: EngineTiming,
) -> (RunningEngine, broadcast::Receiver<EngineEvent>) {
    let bus = EventBus::default();
    let rx = bus.subscribe();
    let secrets = EngineSecrets {
        mailbox: Dovecot::password().into(),
        twilio_token: Some(Secret::new(AUTH_TOKEN)),
        journal_password: Some(TestPostgres::password()),
    };
    (RunningEngine::start_with_timing(config, secrets, data, bus, timing).await.unwrap(), rx)
}

/// Waits for the workstation with data directory `data` to hold exactly `n` alerts in its outbox.
async fn outbox_holds(data: &Path, n: usize) -> Vec<sentinela_engine::journal::outbox::HeldAlert> {
    let outbox = LocalOutbox::open_in_dir(data).unwrap();
    wait_for(&format!("{n} alert(s) held in {}", data.display()), WAIT, || async {
        let held = outbox.held().await.ok()?;
        (held.len() == n).then_some(held)
    })
    .await
}

/// What the memory notifier says first when the shared journal is out of reach.
const FROM_MEMORY: &str = "não alcança o histórico compartilhado";

fn told_from_memory(s: &Scenario, to: &str) -> usize {
    s.fake.bodies_to(to).iter().filter(|b| b.contains(FROM_MEMORY)).count()
}

/// Waits for the lease to be with `name`, as `check` reads it from the database.
async fn notifier_is(journal: &AlertJournal, name: &str) {
    wait_for(&format!("{name} notifying"), WAIT, || async {
        (journal.shared_status().await.ok()?.notifier.as_deref() == Some(name)).then_some(())
    })
    .await;
}

/// After the database came back: the held e-mail journaled and its call answered, the outbox
/// empty, the e-mail marked read.
async fn caught_up(engine: &RunningEngine, s: &Scenario, data: &Path, uid: u32) {
    wait_for("the incident answered", WAIT, || async {
        let i = engine.journal.incidents(5, None, false).await.ok()?.pop()?;
        (i.escalation == EscalationState::Answered).then_some(())
    })
    .await;
    outbox_holds(data, 0).await;
    wait_for("the e-mail marked seen", WAIT, || async {
        s.server.seen_state("INBOX").await.0.contains(&uid).then_some(())
    })
    .await;
}

/// Waits for the newest incident's escalation to be answered.
async fn answered(journal: &AlertJournal) {
    wait_for("the incident answered", WAIT, || async {
        let i = journal.incidents(1, None, false).await.ok()?.pop()?;
        (i.escalation == EscalationState::Answered).then_some(())
    })
    .await;
}

fn alarms_to(s: &Scenario, to: &str) -> usize {
    s.fake.bodies_to(to).into_iter().filter(|b| b.starts_with("🚨")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_one_email_one_incident_one_fan_out_one_call_per_person() {
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1, WA2], &[C1, C2], 1).await;
    s.fake.script_call(C1, CallScript::NoAnswer);
    s.fake.set_no_answer_ms(600);
    s.fake.script_call(C2, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let (first, mut first_events) = start(&on_shared(&s.config, &pg, "NOC-01"), a.path()).await;
    let (second, mut second_events) = start(&on_shared(&s.config, &pg, "NOC-02"), b.path()).await;

    // Each says who notifies: one of them, the other seen from it.
    let said = |rx: &mut broadcast::Receiver<EngineEvent>| -> Option<NotifierState> {
        let mut last = None;
        while let Ok(e) = rx.try_recv() {
            if let EngineEvent::Notifier(n) = e {
                last = Some(n);
            }
        }
        last
    };
    let (mut one, mut two) = (None, None);
    wait_for("both engines to say who notifies", WAIT, || {
        one = said(&mut first_events).or(one.take());
        two = said(&mut second_events).or(two.take());
        let settled = matches!((&one, &two),
            (Some(NotifierState::ThisWorkstation { .. }), Some(NotifierState::Elsewhere { name, .. })) if name == "NOC-01")
            || matches!((&one, &two), (Some(NotifierState::Elsewhere { name, .. }), Some(NotifierState::ThisWorkstation { .. })) if name == "NOC-02");
        async move { settled.then_some(()) }
    })
    .await;

    s.server.append("INBOX", &plain(SENSOR, "ALERTA temperatura alta", "Sala 1: 41 °C")).await;
    let incident = wait_for("the incident answered by C2", WAIT, || async {
        let i = first.journal.incidents(5, None, false).await.ok()?.pop()?;
        (i.escalation == EscalationState::Answered).then_some(i)
    })
    .await;
    // Let a second notifier, were there one, catch up before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    assert_eq!(
        first.journal.alert_count().await.unwrap(),
        1,
        "one e-mail, journaled once though both engines saw it"
    );
    let seen_by_second = second.journal.incidents(5, None, false).await.unwrap();
    assert_eq!(
        seen_by_second.iter().map(|i| i.id).collect::<Vec<_>>(),
        [incident.id],
        "the same incident on both workstations"
    );
    assert_eq!(seen_by_second[0].state, IncidentState::Acknowledged);
    assert_eq!(s.fake.called_numbers(), [C1, C2], "one call per person");
    for to in [WA1, WA2] {
        assert_eq!(alarms_to(&s, to), 1, "{to}: one alarm");
    }
    first.stop(Duration::from_secs(5)).await;
    second.stop(Duration::from_secs(5)).await;
}

fn write(config: &Config, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    config.save(&path).unwrap();
    path
}

fn run(config: &Path, data: &Path, log: &Path) -> tokio::process::Child {
    run_with(config, data, log, &[])
}

/// `run`, with `env` added to the process's environment (the debug builds' test hooks).
fn run_with(config: &Path, data: &Path, log: &Path, env: &[(&str, &str)]) -> tokio::process::Child {
    let mut c = tokio::process::Command::from(headless::run_command(config, data, log));
    c.env("SENTINELA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("SENTINELA_JOURNAL_PASSWORD", test_postgres::PASSWORD)
        .kill_on_drop(true);
    c.envs(env.iter().copied());
    c.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_holder_killed_mid_call_is_taken_over_and_its_ringing_call_followed_not_placed_again() {
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1, WA2], &[C1, C2], 1).await;
    // C1 rings long enough for the kill and the takeover to land while it is in flight.
    s.fake.script_call(C1, CallScript::Human { answer_ms: 9000, talk_ms: 500 });
    let dir = TempDir::new().unwrap();
    let configs = [
        write(&on_shared(&s.config, &pg, "NOC-01"), dir.path(), "noc1.toml"),
        write(&on_shared(&s.config, &pg, "NOC-02"), dir.path(), "noc2.toml"),
    ];
    let journal = pg.journal().await;
    let mut noc1 = run(&configs[0], &dir.path().join("data1"), &dir.path().join("noc1.log"));
    notifier_is(&journal, "NOC-01").await;
    let mut noc2 = run(&configs[1], &dir.path().join("data2"), &dir.path().join("noc2.log"));

    s.server.append("INBOX", &plain(SENSOR, "ALERTA queda de energia", "QGBT sem tensão")).await;
    let incident = wait_for("the first call placed and journaled", WAIT, || async {
        let i = journal.incidents(1, None, false).await.ok()?.pop()?;
        let calls = journal.calls_of(i.id).await.ok()?;
        calls.first().is_some_and(|c| c.sid.is_some()).then_some(i)
    })
    .await;
    // Both watchers are up by now (the second journaled nothing new: one alert).
    noc1.kill().await.unwrap(); // SIGKILL, mid-call
    let killed = Instant::now();
    noc1.wait().await.unwrap();
    notifier_is(&journal, "NOC-02").await;
    let takeover = killed.elapsed();
    assert!(takeover < Duration::from_secs(15), "took over in {takeover:?}");

    wait_for("the escalation answered by C1", WAIT, || async {
        let i = journal.incidents(1, None, false).await.ok()?.pop()?;
        (i.escalation == EscalationState::Answered).then_some(())
    })
    .await;
    noc2.kill().await.unwrap();
    assert_eq!(
        s.fake.called_numbers(),
        [C1],
        "the ringing call was followed by NOC-02, not placed again"
    );
    for to in [WA1, WA2] {
        assert_eq!(alarms_to(&s, to), 1, "{to}: the alarm not sent twice across the takeover");
    }
    assert_eq!(journal.alert_count().await.unwrap(), 1);
    let log = std::fs::read_to_string(dir.path().join("noc2.log")).unwrap();
    assert!(
        log.contains("this workstation notifies now")
            && log.contains("resuming a call placed before the restart"),
        "{log}"
    );

    // The CLI reads the same shared journal through either configuration.
    let listed = headless::command()
        .env("SENTINELA_JOURNAL_PASSWORD", test_postgres::PASSWORD)
        .args(["incidents", "--config"])
        .arg(&configs[0])
        .output()
        .unwrap();
    let out = text(&listed);
    assert!(out.contains(&format!("#{}", incident.id)) && out.contains("acknowledged"), "{out}");
}

/// Two teams' journals in two databases of one server: advisory locks are per database, so who
/// notifies in one is never read from the other's lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn who_notifies_is_read_in_this_database_only() {
    use sentinela_engine::journal::postgres::SharedJournal;
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    let journal = pg.journal().await;
    // Team A's lease row names a workstation that crashed (the row stays; its lease lapsed).
    let admin = SharedJournal::new(&pg.url(), Some(&TestPostgres::password()), "admin").unwrap();
    let (client, _) = admin.connect_async().await.unwrap();
    client
        .batch_execute("INSERT INTO leases (name, holder, since, renewed_at) VALUES ('notify', 'NOC-A', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')
                        ON CONFLICT (name) DO UPDATE SET holder = 'NOC-A'")
        .await
        .unwrap();
    assert_eq!(journal.shared_status().await.unwrap().notifier, None);

    // Team B's Sentinela, in a database of its own on the same server, takes its lease.
    client.batch_execute("CREATE DATABASE team_b").await.unwrap();
    let mut team_b = on_shared(&s.config, &pg, "NOC-B");
    team_b.journal.as_mut().unwrap().url = pg.url().replace("/postgres?", "/team_b?");
    let b = TempDir::new().unwrap();
    let (noc_b, _eb) = start(&team_b, b.path()).await;
    let shared_b = AlertJournal::open_shared(
        SharedJournal::new(
            &team_b.journal.as_ref().unwrap().url,
            Some(&TestPostgres::password()),
            "x",
        )
        .unwrap(),
    )
    .await
    .unwrap();
    notifier_is(&shared_b, "NOC-B").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        journal.shared_status().await.unwrap().notifier,
        None,
        "team A's journal is not notified by team B's lease"
    );
    noc_b.stop(Duration::from_secs(5)).await;
}

/// The standby that takes the lease pings the heartbeat URL at once: its mailbox has been
/// watched all along, and the heartbeat reads that state when it starts (not only the next
/// change, which a healthy IDLE connection may never bring).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_takeover_the_new_holder_pings_the_heartbeat_at_once() {
    use std::sync::atomic::Ordering;
    let pg = TestPostgres::start();
    let mut s = Scenario::new(&[WA1], &[C1], 1).await;
    let (url, pings) = sentinela_tests::monitor::monitor().await;
    // Every 60 minutes: only the first, immediate ping can come within the test.
    s.config.heartbeat = Some(sentinela_engine::config::HeartbeatConfig {
        url,
        every_mins: 60,
        ..Default::default()
    });
    let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let (noc1, _e1) = start(&on_shared(&s.config, &pg, "NOC-01"), a.path()).await;
    let journal = pg.journal().await;
    notifier_is(&journal, "NOC-01").await;
    wait_for("NOC-01's first ping", WAIT, || async {
        (pings.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let (noc2, mut e2) = start(&on_shared(&s.config, &pg, "NOC-02"), b.path()).await;
    // NOC-02 watching well before it takes over.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !matches!(
        tokio::time::timeout_at(deadline, e2.recv()).await.expect("NOC-02 watching").unwrap(),
        EngineEvent::Mailbox(sentinela_engine::events::MailboxState::Watching { .. })
    ) {}
    tokio::time::sleep(Duration::from_secs(1)).await;

    noc1.stop(Duration::from_secs(5)).await;
    notifier_is(&journal, "NOC-02").await;
    wait_for("NOC-02's first ping, at once", Duration::from_secs(10), || async {
        (pings.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;
    noc2.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ack_from_another_workstations_cli_stops_the_holders_call_within_two_seconds() {
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1], &[C1, C2], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 20_000, talk_ms: 500 });
    let dir = TempDir::new().unwrap();
    let (holder, _events) = start(&on_shared(&s.config, &pg, "NOC-01"), dir.path()).await;
    notifier_is(&holder.journal, "NOC-01").await;
    let other = write(&on_shared(&s.config, &pg, "NOC-02"), dir.path(), "noc2.toml");

    s.server.append("INBOX", &plain(SENSOR, "ALERTA incêndio", "detector 3")).await;
    let incident = wait_for("the call ringing", WAIT, || async {
        let i = holder.journal.incidents(1, None, false).await.ok()?.pop()?;
        holder.journal.calls_of(i.id).await.ok()?.first()?.sid.as_ref()?;
        Some(i)
    })
    .await;
    let ack = headless::command()
        .env("SENTINELA_JOURNAL_PASSWORD", test_postgres::PASSWORD)
        .args(["ack", &incident.id.to_string(), "--by", "Bruno", "--config"])
        .arg(&other)
        .output()
        .unwrap();
    let acked = Instant::now();
    assert!(ack.status.success(), "{}", text(&ack));
    wait_for("the ringing call canceled", Duration::from_secs(2), || async {
        s.fake.canceled(C1).then_some(())
    })
    .await;
    let stopped_in = acked.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.fake.called_numbers(), [C1], "no call after the ack (stopped in {stopped_in:?})");
    let i = holder.journal.incidents(1, None, false).await.unwrap().remove(0);
    assert_eq!(
        (i.state, i.acknowledged_by.as_deref()),
        (IncidentState::Acknowledged, Some("Bruno"))
    );
    holder.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_leaves_one_notifier_and_the_next_email_is_told_once() {
    let mut pg = TestPostgres::start();
    let s = Scenario::new(&[WA1, WA2], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 200 });
    let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let (first, _e1) = start(&on_shared(&s.config, &pg, "NOC-01"), a.path()).await;
    let (second, _e2) = start(&on_shared(&s.config, &pg, "NOC-02"), b.path()).await;
    wait_for("someone notifying", WAIT, || async {
        first.journal.shared_status().await.ok()?.notifier
    })
    .await;

    pg.restart(); // every session cut: the lease's with them (the row outlives them)
    let holders = || {
        pg.query(&format!("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE {HOLDER_SESSION}"))
    };
    wait_for("a session holding the lease again", WAIT, || async {
        (!holders().is_empty()).then_some(())
    })
    .await;
    // Settled: a second engine would have had a round or two to take it too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let notifier =
        first.journal.shared_status().await.unwrap().notifier.expect("someone notifying");
    assert_eq!(holders(), [format!("sentinela {notifier}")], "exactly one session holds the lease");

    s.server.append("INBOX", &plain(SENSOR, "ALERTA umidade", "Sala 2: 85 %")).await;
    answered(&second.journal).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.fake.called_numbers(), [C1]);
    for to in [WA1, WA2] {
        assert_eq!(alarms_to(&s, to), 1, "{to}: one alarm after the restart");
    }
    first.stop(Duration::from_secs(5)).await;
    second.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_whose_lease_session_is_cut_as_an_alert_arrives_leaves_the_team_told_once() {
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1, WA2], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let (first, _e1) = start(&on_shared(&s.config, &pg, "NOC-01"), a.path()).await;
    notifier_is(&first.journal, "NOC-01").await;
    let (second, _e2) = start(&on_shared(&s.config, &pg, "NOC-02"), b.path()).await;
    wait_for("NOC-02 connected", WAIT, || async {
        (pg.query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sentinela NOC-02'",
        )[0] == "3")
            .then_some(())
    })
    .await;

    // NOC-01's journal still works, but the session that held its lease is gone (as for a
    // machine that slept past the server's keepalive): until its next check it still believes
    // it notifies, and the e-mail arrives in that window.
    let cut = pg.query(&format!(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE {HOLDER_SESSION}"
    ));
    assert_eq!(cut, ["t"]);
    s.server.append("INBOX", &plain(SENSOR, "ALERTA temperatura", "Sala 3: 39 °C")).await;
    answered(&second.journal).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.fake.called_numbers(), [C1], "one call");
    for to in [WA1, WA2] {
        assert_eq!(alarms_to(&s, to), 1, "{to}: one alarm");
    }
    first.stop(Duration::from_secs(5)).await;
    second.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_email_that_arrives_while_the_database_is_down_is_held_here_then_journaled_and_told_once(
) {
    let mut pg = TestPostgres::start();
    let s = Scenario::new(&[WA1, WA2], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 200 });
    let data = TempDir::new().unwrap();
    // A grace far longer than the outage: the team hears of the alert once, from the journal.
    let timing = EngineTiming { outbox_grace: Duration::from_secs(300), ..fast() };
    let (engine, _events) =
        start_timed(&on_shared(&s.config, &pg, "NOC-01"), data.path(), timing).await;
    notifier_is(&engine.journal, "NOC-01").await;

    pg.kill();
    let uid =
        s.server.append("INBOX", &plain(SENSOR, "ALERTA temperatura alta", "Sala 4: 42 °C")).await;
    let held = outbox_holds(data.path(), 1).await;
    assert_eq!(
        (
            held[0].alert.origin.uid,
            held[0].alert.mail.subject.as_str(),
            held[0].alert.mail.body.trim()
        ),
        (uid, "ALERTA temperatura alta", "Sala 4: 42 °C")
    );
    // Two more scans (every 5 s while alerts are held) change nothing: one row, nobody told,
    // and the e-mail left unread for whoever reaches the database.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(outbox_holds(data.path(), 1).await[0].held_at, held[0].held_at);
    assert!(
        s.fake
            .requests()
            .iter()
            .all(|r| !r.path.contains("/Messages.json") && !r.path.contains("/Calls.json")),
        "nothing sent while the database is away"
    );
    assert_eq!(s.server.seen_state("INBOX").await.1, [uid], "the e-mail stays unread");

    pg.spawn();
    caught_up(&engine, &s, data.path(), uid).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(engine.journal.alert_count().await.unwrap(), 1);
    assert_eq!(s.fake.called_numbers(), [C1], "one call");
    for to in [WA1, WA2] {
        assert_eq!(
            (alarms_to(&s, to), told_from_memory(&s, to)),
            (1, 0),
            "{to}: one alarm, from the journal"
        );
    }
    engine.stop(Duration::from_secs(5)).await;
}

/// A workstation that boots while the database is down (a Windows update at 3 a.m. during the
/// database's maintenance): its engine starts, watches and holds, and — the database never having
/// seen a Sentinela — makes the schema and journals what it held once it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_started_while_the_database_is_down_watches_holds_and_catches_up() {
    let mut pg = TestPostgres::start();
    pg.kill();
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 200 });
    let data = TempDir::new().unwrap();
    let timing = EngineTiming { outbox_grace: Duration::from_secs(300), ..fast() };
    let (engine, mut events) =
        start_timed(&on_shared(&s.config, &pg, "NOC-01"), data.path(), timing).await;
    let uid = s.server.append("INBOX", &plain(SENSOR, "ALERTA energia", "UPS 2 em bateria")).await;
    let held = outbox_holds(data.path(), 1).await;
    assert_eq!(held[0].alert.origin.uid, uid);
    assert!(
        s.fake
            .requests()
            .iter()
            .all(|r| !r.path.contains("/Messages.json") && !r.path.contains("/Calls.json")),
        "nothing sent while the database is away"
    );
    // It says it cannot tell who notifies, which is what the "not working" alarm is made of.
    let mut unsure = false;
    while let Ok(e) = events.try_recv() {
        unsure |= matches!(e, EngineEvent::Notifier(NotifierState::Unknown { .. }));
    }
    assert!(unsure, "the lease's doubt was said");

    pg.spawn();
    notifier_is(&engine.journal, "NOC-01").await;
    caught_up(&engine, &s, data.path(), uid).await;
    assert_eq!(engine.journal.alert_count().await.unwrap(), 1);
    // The schema this engine made on its first connection (read raw: opening a journal would make it).
    assert_eq!(
        pg.query("SELECT MAX(version) FROM schema_version"),
        [sentinela_engine::journal::postgres::SCHEMA_VERSION.to_string()]
    );
    assert_eq!(
        (s.fake.called_numbers(), alarms_to(&s, WA1), told_from_memory(&s, WA1)),
        (vec![C1.to_owned()], 1, 0)
    );
    engine.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_workstation_cut_from_the_database_holds_what_it_sees_tells_nobody_and_catches_up_without_duplicates(
) {
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1, WA2], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    let route = TcpCut::start(pg.port).await;
    let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let mut cut_config = on_shared(&s.config, &pg, "NOC-02");
    cut_config.journal.as_mut().unwrap().url = TestPostgres::url_at(route.port);
    let grace = Duration::from_secs(10);
    let (cut_off, mut cut_events) =
        start_timed(&cut_config, b.path(), EngineTiming { outbox_grace: grace, ..fast() }).await;
    notifier_is(&pg.journal().await, "NOC-02").await;

    // NOC-02 loses its route to the database (the lease with it); the e-mail comes; it holds it.
    route.cut();
    let uid =
        s.server.append("INBOX", &plain(SENSOR, "ALERTA água no piso", "Sensor de água 2")).await;
    let held = outbox_holds(b.path(), 1).await;
    assert_eq!(held[0].alert.origin.uid, uid);
    let lost = wait_for("NOC-02 to say it cannot reach the database", WAIT, || {
        let mut unknown = None;
        while let Ok(e) = cut_events.try_recv() {
            if let EngineEvent::Notifier(NotifierState::Unknown { reason }) = e {
                unknown = Some(reason);
            }
        }
        async move { unknown }
    })
    .await;
    assert!(!lost.is_empty());

    // NOC-01 reaches the database: it takes the lease, journals the e-mail and tells the team.
    let (reaching, _e1) = start(&on_shared(&s.config, &pg, "NOC-01"), a.path()).await;
    wait_for("the incident answered", WAIT, || async {
        let i = reaching.journal.incidents(5, None, false).await.ok()?.pop()?;
        (i.escalation == EscalationState::Answered).then_some(())
    })
    .await;
    // Past NOC-02's grace, and a scan after it: the e-mail is read now, so NOC-02 tells nobody.
    let past_grace =
        held[0].held_at + chrono::Duration::from_std(grace + Duration::from_secs(6)).unwrap();
    tokio::time::sleep((past_grace - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    for to in [WA1, WA2] {
        assert_eq!(
            (alarms_to(&s, to), told_from_memory(&s, to)),
            (1, 0),
            "{to}: told once, by NOC-01"
        );
    }

    // The route back: NOC-02 hands over what it held, and it is the same alert.
    route.restore();
    outbox_holds(b.path(), 0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        reaching.journal.alert_count().await.unwrap(),
        1,
        "the held e-mail became a sighting of the journaled alert"
    );
    assert_eq!(reaching.journal.incidents(5, None, false).await.unwrap().len(), 1);
    assert_eq!(s.fake.called_numbers(), [C1]);
    for to in [WA1, WA2] {
        assert_eq!(alarms_to(&s, to), 1, "{to}: no second alarm after the catch-up");
    }
    assert_eq!(
        pg.journal().await.shared_status().await.unwrap().notifier.as_deref(),
        Some("NOC-01"),
        "NOC-01 keeps notifying"
    );
    cut_off.stop(Duration::from_secs(5)).await;
    reaching.stop(Duration::from_secs(5)).await;
}

/// A workstation frozen inside a journal write (its session holding the writers' lock, its
/// route still open but silent: suspended, hung) does not silence the team: the server ends
/// that session by the journal's own limits (`SESSION_LIMITS`), and the next e-mail is
/// journaled and its call placed by another workstation within 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_workstation_frozen_inside_a_write_holds_the_team_back_for_seconds_not_hours() {
    use sentinela_engine::journal::postgres::{SharedJournal, WRITE_LOCK};
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    pg.journal().await;
    let route = TcpCut::start(pg.port).await;
    // NOC-02's session, with the journal's connection settings, inside a write as every
    // journal transaction begins it; then NOC-02 freezes.
    let frozen = SharedJournal::new(
        &TestPostgres::url_at(route.port),
        Some(&TestPostgres::password()),
        "NOC-02",
    )
    .unwrap();
    let (client, _changes) = frozen.connect_async().await.unwrap();
    client
        .batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"))
        .await
        .unwrap();
    // And NOC-03, a whole workstation on the same frozen route: it must say so itself.
    let dir = TempDir::new().unwrap();
    let mut noc03 = s.config.clone();
    noc03.journal =
        Some(JournalConfig { url: TestPostgres::url_at(route.port), workstation: "NOC-03".into() });
    let noc03_log = dir.path().join("noc3.log");
    let mut noc03 = run_with(
        &write(&noc03, dir.path(), "noc3.toml"),
        &dir.path().join("data3"),
        &noc03_log,
        &[("SENTINELA_WATCH_ALARM_SECS", "5")],
    );
    logged(&noc03_log, "mailbox: watching").await;
    route.freeze();
    let frozen_at = Instant::now();

    let data = TempDir::new().unwrap();
    // Bounded: without the limits, NOC-01 would wait for the writers' lock for as long as the
    // OS keeps the frozen connection (hours), already while it starts.
    let noc01 = tokio::time::timeout(Duration::from_secs(30), async {
        let (noc01, _events) = start(&on_shared(&s.config, &pg, "NOC-01"), data.path()).await;
        s.server.append("INBOX", &plain(SENSOR, "ALERTA fumaça na sala 3", "detector 3")).await;
        wait_for("NOC-01's call placed", Duration::from_secs(30), || async {
            (!s.fake.called_numbers().is_empty()).then_some(())
        })
        .await;
        noc01
    })
    .await
    .expect("the team silenced by a frozen workstation: no call within 30 s");
    assert!(frozen_at.elapsed() < Duration::from_secs(30), "{:?}", frozen_at.elapsed());
    assert_eq!(noc01.journal.alert_count().await.unwrap(), 1);
    // The server ended the frozen session: nothing of NOC-02 holds a lock any more.
    let watcher = pg.journal().await;
    let sessions = watcher.shared_status().await.unwrap();
    assert_eq!(sessions.notifier.as_deref(), Some("NOC-01"));
    // The frozen workstation raised its own alarm (its lease's questions went unanswered).
    logged(&noc03_log, "THE SHARED JOURNAL IS OUT OF REACH").await;
    noc03.kill().await.unwrap();
    drop(client);
    noc01.stop(Duration::from_secs(5)).await;
}

/// With `mark_seen = false` the old alerts stay unread. When the database goes away they are
/// not taken for new ones — held and told again from memory, one escalation after another —
/// only the new alarm is, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn old_unread_alerts_are_not_told_again_while_the_database_is_away() {
    let mut pg = TestPostgres::start();
    let mut s = Scenario::new(&[WA1], &[C1], 1).await;
    s.config.mailbox.mark_seen = false;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 200 });
    for i in 0..50 {
        s.server
            .append(
                "INBOX",
                &plain(SENSOR, "ALERTA Temperatura Sala 1 alta", &format!("leitura {i}")),
            )
            .await;
    }
    let data = TempDir::new().unwrap();
    let timing = EngineTiming { outbox_grace: Duration::from_secs(2), ..fast() };
    let (engine, _events) =
        start_timed(&on_shared(&s.config, &pg, "NOC-01"), data.path(), timing).await;
    wait_for("the fifty journaled, their incident answered", WAIT, || async {
        let i = engine.journal.incidents(5, None, false).await.ok()?.pop()?;
        (engine.journal.alert_count().await.ok()? == 50
            && i.escalation == EscalationState::Answered)
            .then_some(())
    })
    .await;
    assert_eq!(s.server.seen_state("INBOX").await.1.len(), 50, "left unread");

    pg.kill();
    s.server.append("INBOX", &plain(SENSOR, "ALERTA fumaça na sala 9", "Detector 9")).await;
    wait_for("the new alarm told from memory", WAIT, || async {
        (told_from_memory(&s, WA1) == 1).then_some(())
    })
    .await;
    // Scans go on (every e-mail still unread); the old ones are never held.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let held = outbox_holds(data.path(), 1).await;
    assert_eq!(held[0].alert.mail.subject, "ALERTA fumaça na sala 9");
    assert_eq!(told_from_memory(&s, WA1), 1, "told once: {:?}", s.fake.bodies_to(WA1));
    assert!(
        s.fake
            .bodies_to(WA1)
            .iter()
            .filter(|b| b.contains(FROM_MEMORY))
            .all(|b| !b.contains("Sala 1")),
        "no old alert told again"
    );

    pg.spawn();
    outbox_holds(data.path(), 0).await;
    wait_for("the new alarm journaled", WAIT, || async {
        (engine.journal.alert_count().await.ok()? == 51).then_some(())
    })
    .await;
    engine.stop(Duration::from_secs(5)).await;
}

/// What [`database_away_past_the_grace`] leaves: the engine running on the database again.
struct AfterOutage {
    s: Scenario,
    engine: RunningEngine,
    /// The incident as the hand-over journaled it.
    incident: IncidentSummary,
    _pg: TestPostgres,
    _data: TempDir,
}

/// The database away past the grace: the alert is told from memory, then journaled with that
/// said. `answered`: whether the memory call reaches a person.
async fn database_away_past_the_grace(answered: bool) -> AfterOutage {
    let mut pg = TestPostgres::start();
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    match answered {
        true => s.fake.script_call(C1, CallScript::Human { answer_ms: 200, talk_ms: 200 }),
        false => {
            s.fake.script_call(C1, CallScript::NoAnswer);
            s.fake.set_no_answer_ms(300);
        }
    }
    let data = TempDir::new().unwrap();
    let timing = EngineTiming { outbox_grace: Duration::from_secs(2), ..fast() };
    let (engine, _events) =
        start_timed(&on_shared(&s.config, &pg, "NOC-01"), data.path(), timing).await;
    notifier_is(&engine.journal, "NOC-01").await;

    pg.kill();
    s.server.append("INBOX", &plain(SENSOR, "ALERTA fumaça", "Detector 7 na sala 2")).await;
    wait_for("the alert told from memory", WAIT, || async {
        (told_from_memory(&s, WA1) == 1 && s.fake.called_numbers() == [C1]).then_some(())
    })
    .await;
    assert!(s.fake.bodies_to(WA1)[0].contains("Detector 7 na sala 2"));
    let held = outbox_holds(data.path(), 1).await;
    assert!(held[0].told_at.is_some());
    if answered {
        // Who answered waits with the alert for the database.
        let outbox = LocalOutbox::open_in_dir(data.path()).unwrap();
        let answer = wait_for("the answer kept in the outbox", WAIT, || async {
            outbox.held().await.ok()?.pop()?.answer
        })
        .await;
        assert_eq!(answer.number, C1);
    }

    pg.spawn();
    outbox_holds(data.path(), 0).await;
    let alert = wait_for("the alert journaled", WAIT, || async {
        engine.journal.alerts(5).await.ok()?.pop()
    })
    .await;
    let log = engine.journal.events_of(alert.id).await.unwrap();
    assert!(
        log.iter().any(|e| e.kind == "told_from_memory" && e.detail.contains("out of reach")),
        "{log:?}"
    );
    let incident = engine.journal.incidents(5, None, false).await.unwrap().pop().unwrap();
    AfterOutage { s, engine, incident, _pg: pg, _data: data }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_away_past_the_grace_has_the_alert_told_from_memory_and_who_answered_takes_it_at_hand_over(
) {
    let AfterOutage { s, engine, incident, _pg, _data } = database_away_past_the_grace(true).await;
    // Handed over already taken by who answered: nothing is owed for it.
    assert_eq!(
        (incident.state, incident.acknowledged_by.as_deref(), incident.acknowledged_via),
        (IncidentState::Acknowledged, Some("(11) 98888-0001"), Some(AckVia::Call)),
        "taken by C1, as people see the number"
    );
    assert_eq!(incident.escalation, EscalationState::Answered);
    // The notifier has had the incident for many polling rounds (50 ms) by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        (told_from_memory(&s, WA1), alarms_to(&s, WA1), s.fake.called_numbers()),
        (1, 1, vec![C1.to_owned()]),
        "told once, called once"
    );
    engine.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_away_past_the_grace_with_nobody_answering_is_escalated_again_from_the_journal()
{
    let AfterOutage { s, engine, _pg, _data, .. } = database_away_past_the_grace(false).await;
    // Nobody heard it: journaled, it is escalated as any alert — the one duplicate a whole outage
    // can cause, said in the README (better twice than never).
    wait_for("the journaled incident told and called again", WAIT, || async {
        (s.fake.called_numbers().len() == 2 && alarms_to(&s, WA1) == 2).then_some(())
    })
    .await;
    assert_eq!(told_from_memory(&s, WA1), 1, "the second alarm is the journal's own");
    engine.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_verifies_the_shared_journal_its_schema_and_who_notifies() {
    let mut pg = TestPostgres::start();
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    s.fake.own_number(&s.config.calls.as_ref().unwrap().from);
    let dir = TempDir::new().unwrap();
    let config = write(&on_shared(&s.config, &pg, "NOC-02"), dir.path(), "noc2.toml");
    let check = || {
        let out = headless::command()
            .env("SENTINELA_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("SENTINELA_JOURNAL_PASSWORD", test_postgres::PASSWORD)
            .args(["check", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        (out.status.code(), text(&out))
    };

    let (code, out) = check();
    assert_eq!(code, Some(0), "{out}");
    let version = sentinela_engine::journal::postgres::SCHEMA_VERSION;
    let target =
        format!("Journal: shared, 127.0.0.1:{}/postgres (schema version {version},", pg.port);
    assert!(out.contains(&target) && out.contains("This workstation is \"NOC-02\""), "{out}");
    assert!(out.contains("Notifying now: nobody"), "{out}");

    let (engine, _events) = start(&on_shared(&s.config, &pg, "NOC-01"), dir.path()).await;
    notifier_is(&engine.journal, "NOC-01").await;
    let (code, out) = check();
    assert!(code == Some(0) && out.contains("Notifying now: NOC-01"), "{out}");
    engine.stop(Duration::from_secs(5)).await;

    // A newer Sentinela migrated the database: this one says so rather than run on it.
    pg.query("INSERT INTO schema_version (version) VALUES (99)");
    let (code, out) = check();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("schema is version 99, newer than this Sentinela's {version}"))
            && out.contains("update this one"),
        "{out}"
    );

    pg.kill();
    let (code, out) = check();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("cannot reach the shared journal (127.0.0.1:{}/postgres)", pg.port)),
        "{out}"
    );
    assert!(!out.contains(test_postgres::PASSWORD), "no password in messages: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_database_checks_the_certificate_and_the_host_name() {
    use sentinela_engine::journal::postgres::SharedJournal;
    let pg = TestPostgres::start();
    let url = |host: &str, extra: &str| {
        format!("postgres://sentinela@{host}:{}/postgres?sslmode=verify-full{extra}", pg.port)
    };
    let open = |url: String| async move {
        AlertJournal::open_shared(
            SharedJournal::new(&url, Some(&TestPostgres::password()), "NOC-TLS").unwrap(),
        )
        .await
    };
    let trusted = format!("&sslrootcert={}", pg.cert_path().display());

    let journal = open(url("localhost", &trusted)).await.unwrap();
    assert_eq!(journal.alert_count().await.unwrap(), 0);
    let ssl = pg.query("SELECT s.ssl::text FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.application_name = 'sentinela NOC-TLS'");
    assert!(
        !ssl.is_empty() && ssl.iter().all(|t| t == "true"),
        "every connection encrypted: {ssl:?}"
    );

    // The right CA but another name (the certificate is for "localhost"), then no CA for it.
    for (what, u) in [
        ("a host name the certificate does not name", url("127.0.0.1", &trusted)),
        ("an unknown CA", url("localhost", "")),
    ] {
        let e = open(u).await.map(drop).unwrap_err().to_string();
        assert!(
            e.contains("cannot reach the shared journal") && e.contains("certificate"),
            "{what}: {e}"
        );
        assert!(!e.contains(test_postgres::PASSWORD), "{e}");
    }
}

/// `sslrootcert` is the whole trust, as in libpq: with it, a certificate the system trusts
/// (here the system's roots are the test server's own, through `SSL_CERT_FILE`) but that CA does
/// not sign is refused.
#[test]
fn sslrootcert_replaces_the_systems_roots() {
    let pg = TestPostgres::start();
    let dir = tempfile::TempDir::new().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Outra CA",
            "-keyout",
        ])
        .arg(dir.path().join("other-key.pem"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(made.status.success());
    let incidents = |extra: &str| {
        let config = dir.path().join("sentinela.toml");
        std::fs::write(
            &config,
            format!(
                "[mailbox]\nhost = \"localhost\"\nusername = \"alertas@cpd.test\"\n[filter]\nfrom = \"sensor@cpd.example.com.br\"\nsubject = \"ALERTA\"\n\
                 [journal]\nurl = \"postgres://sentinela@localhost:{}/postgres?sslmode=verify-full{extra}\"\n",
                pg.port
            ),
        )
        .unwrap();
        let out = headless::command()
            .args(["incidents", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("SENTINELA_JOURNAL_PASSWORD", TestPostgres::password().expose())
            .env("SSL_CERT_FILE", pg.cert_path())
            .output()
            .unwrap();
        (out.status.code(), headless::text(&out))
    };
    let (code, out) = incidents("");
    assert_eq!(code, Some(0), "the system's roots (SSL_CERT_FILE) trust the server: {out}");
    let (code, out) = incidents(&format!("&sslrootcert={}", other_ca.display()));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("certificate"), "{out}");
}

/// The fence alone: a client whose fence says "not the notifier" sends no create at all, and
/// says why; one whose fence agrees sends.
#[tokio::test]
async fn a_create_the_lease_does_not_confirm_never_leaves_for_twilio() {
    use sentinela_engine::twilio::{CreateFence, NewMessage, TwilioClient, TwilioError};
    struct Fence(bool);
    impl CreateFence for Fence {
        fn confirm(
            &self,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>>
        {
            let held = self.0;
            Box::pin(async move {
                if held {
                    Ok(())
                } else {
                    Err("the lease is no longer this session's".into())
                }
            })
        }
    }
    let fake = sentinela_tests::twilio_fake::TwilioFake::start().await;
    let client = TwilioClient::new(&fake.config(), Secret::new(AUTH_TOKEN));
    let message = NewMessage {
        from: "+14155238886".into(),
        to: WA1.into(),
        body: "🚨 teste".into(),
        template: None,
        channel: sentinela_engine::model::Channel::Whatsapp,
    };
    let refused = client
        .fenced(std::sync::Arc::new(Fence(false)))
        .create_message(&message, None)
        .await
        .unwrap_err();
    assert!(
        matches!(refused.error, TwilioError::NotTheNotifier { .. })
            && refused.is_transient()
            && refused.unsure_since.is_none(),
        "{refused:?}"
    );
    assert!(fake.creations("Messages").is_empty(), "nothing reached Twilio");
    client.fenced(std::sync::Arc::new(Fence(true))).create_message(&message, None).await.unwrap();
    assert_eq!(fake.creations("Messages").len(), 1);
}

/// Sends `signal` (`STOP`, `CONT`) to a workstation's process: stopped, it hangs as a frozen VM,
/// a debugger or a stuck runtime would, its sockets open and its kernel answering keepalives.
fn signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("the workstation runs").to_string();
    assert!(std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap()
        .success());
}

/// NOC-01 as its own process (so that it can be stopped) holding the lease, and NOC-02 in this
/// one (so that its events can be read), its sessions up.
async fn frozen_holder_pair(
    s: &Scenario,
    pg: &TestPostgres,
    dir: &Path,
    noc1_env: &[(&str, &str)],
) -> (tokio::process::Child, RunningEngine, broadcast::Receiver<EngineEvent>) {
    holder_pair(s, &s.config, pg, dir, noc1_env).await
}

/// [`frozen_holder_pair`], NOC-01 with its own configuration `noc1`.
async fn holder_pair(
    s: &Scenario,
    noc1: &Config,
    pg: &TestPostgres,
    dir: &Path,
    noc1_env: &[(&str, &str)],
) -> (tokio::process::Child, RunningEngine, broadcast::Receiver<EngineEvent>) {
    let config = write(&on_shared(noc1, pg, "NOC-01"), dir, "noc1.toml");
    let noc1 = run_with(&config, &dir.join("data1"), &dir.join("noc1.log"), noc1_env);
    let journal = pg.journal().await;
    notifier_is(&journal, "NOC-01").await;
    let (noc2, events) = start(&on_shared(&s.config, pg, "NOC-02"), &dir.join("data2")).await;
    wait_for("NOC-02 connected", WAIT, || async {
        (pg.query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sentinela NOC-02'",
        )[0] == "3")
            .then_some(())
    })
    .await;
    (noc1, noc2, events)
}

/// Waits for an engine event of `kind` whose detail starts with `detail` in the journal.
async fn journaled(journal: &AlertJournal, kind: &str, detail: &str) {
    wait_for(&format!("{kind} journaled"), WAIT, || async {
        let events = journal.engine_events(50).await.ok()?;
        events.iter().any(|e| e.kind == kind && e.detail.starts_with(detail)).then_some(())
    })
    .await;
}

/// Waits for `what` in the log at `path`.
async fn logged(path: &Path, what: &str) -> String {
    wait_for(&format!("{what:?} in {}", path.display()), WAIT, || async {
        let log = std::fs::read_to_string(path).ok()?;
        log.contains(what).then_some(log)
    })
    .await
}

/// The bound a frozen holder is replaced within: its lease lapses, then a standby's next look.
fn takeover_bound() -> Duration {
    use sentinela_engine::lease::{LEASE_TTL, TRY_EVERY};
    LEASE_TTL + TRY_EVERY
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_frozen_while_idle_is_replaced_within_the_bound_and_resumed_places_nothing() {
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1, WA2], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    let dir = TempDir::new().unwrap();
    let (mut noc1, noc2, mut events) = frozen_holder_pair(&s, &pg, dir.path(), &[]).await;

    signal(&noc1, "STOP");
    let frozen = Instant::now();
    s.server.append("INBOX", &plain(SENSOR, "ALERTA temperatura", "Sala 1: 41 °C")).await;
    wait_for("the call placed by the standby", WAIT, || async {
        (!s.fake.called_numbers().is_empty()).then_some(())
    })
    .await;
    let called_after = frozen.elapsed();
    // The bound, plus one call's setup (journal, plan, Twilio) and the test's own polling.
    assert!(
        called_after < takeover_bound() + Duration::from_secs(5),
        "called {called_after:?} after the holder froze"
    );
    notifier_is(&noc2.journal, "NOC-02").await;
    // Meanwhile NOC-02's tray said that NOC-01 had stopped answering.
    let mut said_silent = None;
    while let Ok(e) = events.try_recv() {
        if let EngineEvent::Notifier(NotifierState::Elsewhere {
            name,
            silent_secs: Some(secs),
            ..
        }) = e
        {
            said_silent = Some((name, secs));
        }
    }
    let (name, secs) = said_silent.expect("NOC-02 said that the holder was silent");
    assert!(
        name == "NOC-01" && secs >= sentinela_engine::lease::SILENT_AFTER.as_secs(),
        "{name} {secs}"
    );
    answered(&noc2.journal).await;

    // Resumed, the old holder finds its lease gone, says so, and creates nothing.
    signal(&noc1, "CONT");
    let log = logged(&dir.path().join("noc1.log"), "lease: lost").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.fake.called_numbers(), [C1], "nobody called twice");
    for to in [WA1, WA2] {
        assert_eq!(alarms_to(&s, to), 1, "{to}: one alarm");
    }
    assert_eq!(log.matches("this workstation notifies now").count(), 1, "NOC-01 stands by: {log}");
    notifier_is(&noc2.journal, "NOC-02").await;
    journaled(&noc2.journal, "lease_lost", "NOC-01 stopped notifying").await;
    noc1.kill().await.unwrap();
    noc2.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_frozen_mid_call_is_replaced_and_the_queue_goes_on_without_calling_anyone_twice() {
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1], &[C1, C2], 1).await;
    // C1 rings, unanswered, well past the takeover; C2 answers.
    s.fake.set_no_answer_ms(16_000);
    s.fake.script_call(C2, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    let dir = TempDir::new().unwrap();
    let (mut noc1, noc2, _events) = frozen_holder_pair(&s, &pg, dir.path(), &[]).await;

    s.server.append("INBOX", &plain(SENSOR, "ALERTA água", "Piso elevado: sensor molhado")).await;
    wait_for("C1 ringing, placed by NOC-01", WAIT, || async {
        let i = noc2.journal.incidents(1, None, false).await.ok()?.pop()?;
        let calls = noc2.journal.calls_of(i.id).await.ok()?;
        calls.first().is_some_and(|c| c.sid.is_some()).then_some(())
    })
    .await;
    signal(&noc1, "STOP");
    wait_for("the incident answered by C2", Duration::from_secs(60), || async {
        let i = noc2.journal.incidents(1, None, false).await.ok()?.pop()?;
        (i.escalation == EscalationState::Answered).then_some(())
    })
    .await;
    assert_eq!(
        s.fake.called_numbers(),
        [C1, C2],
        "C1's ringing call followed by NOC-02, then C2: each once"
    );

    signal(&noc1, "CONT");
    logged(&dir.path().join("noc1.log"), "lease: lost").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.fake.called_numbers(), [C1, C2], "the resumed NOC-01 placed nothing");
    assert_eq!(alarms_to(&s, WA1), 1);
    noc1.kill().await.unwrap();
    noc2.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_whose_planner_is_stuck_gives_the_lease_up_and_says_why() {
    use sentinela_engine::notify::progress::STALL_LIMIT;
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    let dir = TempDir::new().unwrap();
    // NOC-01's process lives, its lease task answers, its planner hangs at its first turn.
    let (mut noc1, noc2, _events) =
        frozen_holder_pair(&s, &pg, dir.path(), &[("SENTINELA_TEST_STALL", "planner")]).await;
    let held = Instant::now();
    s.server.append("INBOX", &plain(SENSOR, "ALERTA fumaça", "Sala 2: detector ativo")).await;

    wait_for("the call placed by NOC-02", STALL_LIMIT + WAIT, || async {
        (!s.fake.called_numbers().is_empty()).then_some(())
    })
    .await;
    let called_after = held.elapsed();
    assert!(
        called_after < STALL_LIMIT + Duration::from_secs(12),
        "called {called_after:?} after the stuck holder took the lease"
    );
    notifier_is(&noc2.journal, "NOC-02").await;
    let log = logged(&dir.path().join("noc1.log"), "the notify side is stuck (planner").await;
    assert!(log.contains("the lease was given up so that another workstation notifies"), "{log}");
    journaled(&noc2.journal, "notify_side_stuck", "NOC-01: planner").await;
    answered(&noc2.journal).await;
    assert_eq!(s.fake.called_numbers(), [C1]);
    assert_eq!(alarms_to(&s, WA1), 1);
    noc1.kill().await.unwrap();
    noc2.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_that_cannot_reach_twilio_hands_the_lease_to_a_workstation_that_can() {
    let pg = TestPostgres::start();
    let s = Scenario::new(&[WA1, WA2], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    // NOC-01 reaches Twilio through a relay that the test cuts; NOC-02 directly.
    let twilio = &s.config.twilio.as_ref().unwrap().base_url;
    let relay = TcpCut::start(twilio.rsplit(':').next().unwrap().parse().unwrap()).await;
    let mut noc1 = s.config.clone();
    noc1.twilio.as_mut().unwrap().base_url = format!("http://127.0.0.1:{}", relay.port);
    let dir = TempDir::new().unwrap();
    let (mut noc1, noc2, mut events) =
        holder_pair(&s, &noc1, &pg, dir.path(), &[("SENTINELA_WATCH_ALARM_SECS", "3")]).await;

    relay.cut();
    s.server.append("INBOX", &plain(SENSOR, "ALERTA energia", "UPS em bateria")).await;
    notifier_is(&noc2.journal, "NOC-02").await;
    answered(&noc2.journal).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.fake.called_numbers(), [C1]);
    for to in [WA1, WA2] {
        assert_eq!(alarms_to(&s, to), 1, "{to}: one alarm");
    }
    // Before taking over, NOC-02's tray said why NOC-01's notifying was not to be trusted.
    let mut said = None;
    while let Ok(e) = events.try_recv() {
        if let EngineEvent::Notifier(NotifierState::Elsewhere {
            name,
            twilio_problem: Some(p),
            ..
        }) = e
        {
            said = Some((name, p));
        }
    }
    assert!(said.as_ref().is_some_and(|(name, _)| name == "NOC-01"), "{said:?}");
    let log = logged(&dir.path().join("noc1.log"), "lease: lost").await;
    assert!(
        log.contains("cannot reach Twilio")
            && log.contains("a workstation that can takes the lease over"),
        "{log}"
    );
    noc1.kill().await.unwrap();
    noc2.stop(Duration::from_secs(5)).await;
}

/// PgBouncer in transaction mode hands a client's statements to whichever server connection is
/// free: a session lock is left on a connection that others then use, or lost with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_journal_behind_a_transaction_pooler_is_refused_with_the_fix() {
    use sentinela_tests::pgbouncer::PgBouncer;
    let pg = TestPostgres::start();
    let journal = pg.journal().await;
    let bouncer = PgBouncer::start(pg.port, "transaction");
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    let mut config = s.config.clone();
    config.journal = Some(JournalConfig {
        url: TestPostgres::url_at(bouncer.port),
        workstation: "NOC-01".into(),
    });
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("noc1.log");
    let mut noc1 = run(&write(&config, dir.path(), "noc1.toml"), &dir.path().join("data1"), &log);
    // The pooler recycles a server connection (as its `server_lifetime` does every hour): the
    // lease's session goes on through another one, which holds no lock.
    notifier_is(&journal, "NOC-01").await;
    let cut = pg.query(&format!(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE {HOLDER_SESSION}"
    ));
    assert_eq!(cut, ["t"]);
    let said = logged(&log, "pool_mode = session").await;
    assert!(
        said.contains("connection pooler in transaction mode") && said.contains("does not notify"),
        "{said}"
    );
    // Journaled just after the log line.
    journaled(&journal, "lease_refused", "NOC-01: ").await;
    // And it stays refused: an alarm is journaled but told by nobody here.
    s.server.append("INBOX", &plain(SENSOR, "ALERTA temperatura", "Sala 1: 40 °C")).await;
    wait_for("the alarm journaled", WAIT, || async {
        (journal.alert_count().await.ok()? == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        s.fake.called_numbers().is_empty() && s.fake.bodies_to(WA1).is_empty(),
        "nothing sent through a pooled lease"
    );
    noc1.kill().await.unwrap();
}

/// Session pooling keeps a client on one server connection: the lease holds, the team is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_journal_behind_a_session_pooler_notifies() {
    use sentinela_tests::pgbouncer::PgBouncer;
    let pg = TestPostgres::start();
    let journal = pg.journal().await;
    let bouncer = PgBouncer::start(pg.port, "session");
    let s = Scenario::new(&[WA1], &[C1], 1).await;
    s.fake.script_call(C1, CallScript::Human { answer_ms: 300, talk_ms: 300 });
    let mut config = s.config.clone();
    config.journal = Some(JournalConfig {
        url: TestPostgres::url_at(bouncer.port),
        workstation: "NOC-01".into(),
    });
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("noc1.log");
    let mut noc1 = run(&write(&config, dir.path(), "noc1.toml"), &dir.path().join("data1"), &log);
    notifier_is(&journal, "NOC-01").await;
    s.server.append("INBOX", &plain(SENSOR, "ALERTA temperatura", "Sala 1: 40 °C")).await;
    answered(&journal).await;
    assert_eq!((s.fake.called_numbers(), alarms_to(&s, WA1)), (vec![C1.to_owned()], 1));
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains("connection pooler in transaction mode"), "{log}");
    noc1.kill().await.unwrap();
}
