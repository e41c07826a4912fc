//! Shared pieces of Sentinela's integration tests and benchmarks: a real Dovecot server
//! ([`dovecot`]), e-mail builders ([`mail`]) and small waiting helpers.

pub mod dovecot;
pub mod mail;

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

/// Path of a binary built from this workspace (`cargo test --workspace` builds them all).
pub fn workspace_binary(name: &str) -> PathBuf {
    // The test executable is target/<profile>/deps/<test>-<hash>; binaries sit in target/<profile>.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} is not built: run the tests with `cargo test --workspace`", path.display());
    path
}

/// The fixture folder `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
