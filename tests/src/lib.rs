//! Shared pieces of Sentinela's integration tests and benchmarks: a real Dovecot server
//! ([`dovecot`]), a stateful Twilio API fake ([`twilio_fake`]), e-mail builders ([`mail`]), a
//! private desktop for the real app ([`desktop`]) with a user's mouse and keyboard on it
//! ([`x11`]), a real OAuth2 server ([`oauth_server`]) and keyring ([`keyring_session`]), the notify side's scenario ([`scenario`]), and small waiting helpers.

pub mod desktop;
pub mod dovecot;
pub mod headless;
pub mod imap_proxy;
pub mod keyring_session;
pub mod mail;
pub mod monitor;
pub mod oauth_server;
pub mod people;
pub mod pgbouncer;
pub mod scenario;
pub mod tcp_cut;
pub mod twilio_fake;
pub mod x11;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Polls `check` every 50 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long a test waits for what the engine should do within seconds — on the desktop and
/// under Wine too. Only a failing test waits it out.
pub const WAIT: Duration = Duration::from_secs(40);

/// The next event on the engine's bus that `pick` accepts, within [`WAIT`]; events missed by a
/// lagging receiver are skipped. Panics naming `what` when none comes.
pub async fn next_event<T>(
    rx: &mut tokio::sync::broadcast::Receiver<sentinela_engine::events::EngineEvent>,
    what: &str,
    mut pick: impl FnMut(&sentinela_engine::events::EngineEvent) -> Option<T>,
) -> T {
    use tokio::sync::broadcast::error::RecvError;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
            Ok(Ok(e)) => {
                if let Some(v) = pick(&e) {
                    return v;
                }
            }
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) => panic!("the engine's bus closed waiting for {what}"),
        }
    }
}

/// The next incident event of `kind` on the engine's bus: its incident's id.
pub async fn next_incident(
    rx: &mut tokio::sync::broadcast::Receiver<sentinela_engine::events::EngineEvent>,
    kind: sentinela_engine::incident::IncidentEventKind,
) -> i64 {
    next_event(rx, &format!("an incident {kind}"), |e| match e {
        sentinela_engine::events::EngineEvent::Incident(c) if c.kind == kind => Some(c.incident.id),
        _ => None,
    })
    .await
}

/// Path of a binary built from this workspace (`cargo test --workspace` builds them all).
pub fn workspace_binary(name: &str) -> PathBuf {
    // Test executables sit in target/<profile>/deps, binaries (the benchmark too) in
    // target/<profile>.
    let exe = std::env::current_exe().unwrap();
    let mut profile_dir = exe.parent().unwrap();
    if profile_dir.ends_with("deps") {
        profile_dir = profile_dir.parent().unwrap();
    }
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --workspace` (the engine's own integration tests make cargo build it)",
        path.display()
    );
    path
}

/// The fixture folder `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
