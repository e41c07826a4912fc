//! Builders for test e-mails.

use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique token per call, for Message-IDs and subjects.
pub fn unique() -> String {
    format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A plain-text e-mail with a fresh Message-ID.
pub fn plain(from: &str, subject: &str, body: &str) -> Vec<u8> {
    with_message_id(from, subject, body, &format!("{}@sentinela.test", unique()))
}

/// A plain-text e-mail with the given Message-ID (no angle brackets).
pub fn with_message_id(from: &str, subject: &str, body: &str, message_id: &str) -> Vec<u8> {
    format!(
        "From: Sensor CPD <{from}>\r\nTo: alertas@cpd.test\r\nSubject: {subject}\r\nDate: Tue, 03 Nov 2026 10:00:00 -0300\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}
