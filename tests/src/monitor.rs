//! An outside monitor's check URL, as Healthchecks or Uptime Kuma give one, that counts the
//! pings it receives — the other end of `[heartbeat] url`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;

/// The check URL and the count of pings it has had.
pub async fn monitor() -> (String, Arc<AtomicUsize>) {
    let pings = Arc::new(AtomicUsize::new(0));
    let counter = pings.clone();
    let app = Router::new().route(
        "/ping/abc",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "OK" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ping/abc", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (url, pings)
}
