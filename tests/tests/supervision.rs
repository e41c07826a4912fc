//! Supervision on the real engine: a manager that panics (the debug-build test hook makes the
//! planner panic once at its start) is announced and started again, and alerts still go out.

use std::time::Duration;

use sentinela_engine::events::EngineEvent;
use sentinela_engine::incident::MessagePurpose;
use sentinela_tests::dovecot::SENSOR;
use sentinela_tests::mail::plain;
use sentinela_tests::scenario::Scenario;
use sentinela_tests::wait_for;

#[tokio::test]
async fn a_panicking_manager_is_announced_started_again_and_alerts_still_go_out() {
    std::env::set_var("SENTINELA_TEST_PANIC", "planner");
    let s = Scenario::new(&["+5511999990001"], &["+5511988880001"], 1).await;
    let (engine, mut rx) = s.start_fast().await;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        match e {
            EngineEvent::ManagerFailed { manager, reason, .. } => {
                seen.push(format!("failed {manager}: {reason}"))
            }
            EngineEvent::ManagerRestarted { manager } => {
                seen.push(format!("restarted {manager}"));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].starts_with("failed planner: it panicked: test hook"), "{seen:?}");
    assert_eq!(seen[1], "restarted planner");

    s.server.append("INBOX", &plain(SENSOR, "ALERTA depois do reinício", "x")).await;
    wait_for("the alarm sent by the restarted planner", Duration::from_secs(20), || async {
        let i = engine.journal.incidents(1, None, false).await.unwrap().pop()?;
        let sent = engine
            .journal
            .deliveries_of(i.id)
            .await
            .unwrap()
            .into_iter()
            .any(|d| d.purpose == MessagePurpose::Alarm && d.sid.is_some());
        sent.then_some(())
    })
    .await;
    engine.stop(Duration::from_secs(10)).await;
}
