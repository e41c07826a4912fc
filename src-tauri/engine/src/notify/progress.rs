//! Proof that the notify side is not stuck: the lease on a shared journal is renewed only on it.
//!
//! A process can look alive — its sockets open, its lease task answering — while the loop that
//! plans and places calls is stuck (a deadlock, a call into the journal that never returns).
//! So each manager that must keep turning runs inside [`NotifyProgress::watch`], which gives its
//! task a meter; the manager beats it wherever it waits or works in bounded steps
//! ([`beat`], [`sleep`], and the waits of `NotifyContext`), and the lease asks
//! [`NotifyProgress::stalled`] before every renewal. Code outside a watched task beats nothing.
//!
//! Every wait of a watched manager is cut into steps of at most [`BEAT_EVERY`], and every other
//! step is bounded (a Twilio request by its 15 s timeout, a journal statement by the session's
//! limits), so a manager that has not beaten for [`STALL_LIMIT`] is stuck, not busy.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// The longest a watched manager waits without beating.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);
/// A watched manager silent this long is stuck: longer than its longest bounded step (one
/// Twilio request, 15 s).
pub const STALL_LIMIT: Duration = Duration::from_secs(20);

tokio::task_local! {
    static METER: Meter;
}

/// One manager's last sign of progress.
#[derive(Debug, Clone)]
struct Meter {
    manager: &'static str,
    last: Arc<Mutex<Instant>>,
}

impl Meter {
    fn beat(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
    }
}

/// A manager that has not beaten for too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stall {
    pub manager: &'static str,
    pub silent_for: Duration,
}

/// The meters of one run of the notify side.
#[derive(Debug, Clone, Default)]
pub struct NotifyProgress {
    meters: Arc<Mutex<Vec<Meter>>>,
}

impl NotifyProgress {
    /// `manager`'s future, with a meter its task beats; a manager started again by its
    /// supervisor goes on with the same meter, beaten at the new start.
    pub fn watch<F: Future>(
        &self,
        manager: &'static str,
        run: F,
    ) -> impl Future<Output = F::Output> {
        let meter = {
            let mut meters = self.meters.lock().unwrap_or_else(|p| p.into_inner());
            match meters.iter().find(|m| m.manager == manager) {
                Some(m) => m.clone(),
                None => {
                    let m = Meter { manager, last: Arc::new(Mutex::new(Instant::now())) };
                    meters.push(m.clone());
                    m
                }
            }
        };
        meter.beat();
        METER.scope(meter, run)
    }

    /// The watched manager silent the longest, if it has been silent for `limit` or more.
    pub fn stalled(&self, limit: Duration) -> Option<Stall> {
        let meters = self.meters.lock().unwrap_or_else(|p| p.into_inner());
        meters
            .iter()
            .map(|m| Stall {
                manager: m.manager,
                silent_for: m.last.lock().map(|l| l.elapsed()).unwrap_or(Duration::MAX),
            })
            .max_by_key(|s| s.silent_for)
            .filter(|s| s.silent_for >= limit)
    }
}

/// Says that the current task's manager goes on (nothing outside a watched manager).
pub fn beat() {
    let _ = METER.try_with(Meter::beat);
}

/// Sleeps `d`, beating at least every [`BEAT_EVERY`]: a long wait is not a stall.
pub async fn sleep(d: Duration) {
    let end = Instant::now() + d;
    loop {
        beat();
        let now = Instant::now();
        if now >= end {
            return;
        }
        tokio::time::sleep_until(end.min(now + BEAT_EVERY)).await;
    }
}

/// Debug builds only: `SENTINELA_TEST_STALL=<manager>` makes that manager hang where it calls
/// this, as a deadlock would, so the tests can see a stuck notify side lose the lease on the
/// real engine. Release builds ignore it.
pub async fn test_hook_stall(manager: &str) {
    if cfg!(debug_assertions) && std::env::var("SENTINELA_TEST_STALL").is_ok_and(|v| v == manager) {
        tracing::warn!("test hook: the {manager} hangs (SENTINELA_TEST_STALL)");
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manager_that_waits_beats_and_one_that_hangs_is_stalled() {
        let (waiting, hung) = (NotifyProgress::default(), NotifyProgress::default());
        tokio::spawn(waiting.watch("planner", async { sleep(Duration::from_secs(3600)).await }));
        tokio::spawn(hung.watch("call queue", std::future::pending::<()>()));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // A long wait beats every step; a hang is silent since it began.
        let step = BEAT_EVERY + Duration::from_millis(400);
        assert_eq!(waiting.stalled(step), None);
        let stall = hung.stalled(Duration::from_secs(2)).expect("the hung manager");
        assert_eq!(stall.manager, "call queue");
        assert!(stall.silent_for >= Duration::from_secs(2), "{stall:?}");
    }

    #[tokio::test]
    async fn a_manager_started_again_keeps_its_meter_and_beats_at_the_start() {
        let progress = NotifyProgress::default();
        progress.watch("planner", async {}).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(progress.stalled(Duration::from_millis(50)).is_some());
        progress.watch("planner", async { beat() }).await;
        assert_eq!(progress.stalled(Duration::from_millis(50)), None);
        assert_eq!(progress.meters.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn beats_outside_a_watched_manager_change_nothing() {
        beat();
        sleep(Duration::from_millis(5)).await;
        assert_eq!(NotifyProgress::default().stalled(Duration::ZERO), None);
    }
}
