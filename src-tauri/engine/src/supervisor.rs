//! Every manager of the engine runs under supervision: a panic, or a manager that ends while the
//! engine is not stopping, is logged, announced (the "not working" alarm: tray, status line,
//! notification, headless error log) and the manager is started again with backoff. An alerting
//! tool that stops quietly is worse than none.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::{error, info};

use crate::events::{EngineEvent, EventBus};
use crate::shutdown::Shutdown;

/// Waits before a manager is started again: 1 s doubling to 60 s.
pub fn restart_delay(failures: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(failures.saturating_sub(1).min(6)).min(60))
}

/// Aborts the supervised task when the supervisor itself is aborted (the engine's stop).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Clone)]
pub struct Supervisor {
    events: EventBus,
    shutdown: Shutdown,
}

impl Supervisor {
    pub fn new(events: EventBus, shutdown: Shutdown) -> Self {
        Supervisor { events, shutdown }
    }

    /// Runs the manager `make` builds, again and again until the engine stops.
    pub fn spawn<F, Fut>(&self, tasks: &mut JoinSet<()>, name: &'static str, make: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (events, shutdown) = (self.events.clone(), self.shutdown.clone());
        tasks.spawn(async move {
            let mut failures = 0;
            loop {
                let handle = if failures == 0 && test_hook_panics(name) {
                    tokio::spawn(async move { panic!("test hook: {name} panics at its start") })
                } else {
                    tokio::spawn(make())
                };
                let _abort = AbortOnDrop(handle.abort_handle());
                let result = handle.await;
                if shutdown.is_shutdown() {
                    return;
                }
                let reason = match result {
                    Ok(()) => "it ended although the engine is running".to_owned(),
                    Err(e) if e.is_panic() => {
                        let payload = e.into_panic();
                        let text = payload
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a panic".to_owned());
                        format!("it panicked: {text}")
                    }
                    Err(e) => e.to_string(),
                };
                failures += 1;
                let wait = restart_delay(failures);
                error!(
                    manager = name,
                    "SENTINELA'S {name} STOPPED ({reason}); starting it again in {} s",
                    wait.as_secs()
                );
                events.emit(EngineEvent::ManagerFailed {
                    manager: name.to_owned(),
                    reason,
                    restart_in_secs: wait.as_secs(),
                });
                let mut stop = shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.recv() => return,
                }
                info!(manager = name, "{name} started again");
                events.emit(EngineEvent::ManagerRestarted { manager: name.to_owned() });
            }
        });
    }
}

/// Debug builds only: `SENTINELA_TEST_PANIC=<manager>` makes that manager panic once at start,
/// so the tests can see supervision work on the real engine. Release builds ignore it.
fn test_hook_panics(name: &str) -> bool {
    cfg!(debug_assertions) && std::env::var("SENTINELA_TEST_PANIC").is_ok_and(|v| v == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_come_soon_then_every_minute() {
        let waits: Vec<u64> = (1..=9).map(|n| restart_delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[tokio::test]
    async fn a_manager_that_panics_or_ends_is_announced_and_started_again() {
        let events = EventBus::default();
        let mut rx = events.subscribe();
        let (trigger, shutdown) = crate::shutdown::channel();
        let mut tasks = JoinSet::new();
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = runs.clone();
        Supervisor::new(events, shutdown).spawn(&mut tasks, "planner", move || {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                if n == 0 {
                    panic!("journal row without a SID");
                }
                // The second run ends by itself: also a failure.
            }
        });
        let failed = rx.recv().await.unwrap();
        assert!(
            matches!(&failed, EngineEvent::ManagerFailed { manager, reason, restart_in_secs: 1 } if manager == "planner" && reason.contains("journal row without a SID")),
            "{failed:?}"
        );
        assert!(matches!(rx.recv().await.unwrap(), EngineEvent::ManagerRestarted { .. }));
        let ended = rx.recv().await.unwrap();
        assert!(
            matches!(&ended, EngineEvent::ManagerFailed { reason, restart_in_secs: 2, .. } if reason.contains("ended")),
            "{ended:?}"
        );
        trigger.fire();
        while tasks.join_next().await.is_some() {}
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
