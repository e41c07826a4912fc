//! What may reach a log. The libraries that speak the wire protocols (the IMAP client, the HTTP
//! stack, TLS) print whole commands and headers at trace level — the IMAP LOGIN with its password,
//! the Authorization header with the Twilio token, whole e-mails. Their targets are capped at
//! `debug` whatever `SENTINELA_LOG` asks, so no log level prints a secret or a whole e-mail. The
//! PostgreSQL client prints every statement's parameters — e-mail bodies — already at `debug`:
//! it is capped at `info`.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The wire-level targets, capped at `debug`.
pub const WIRE_TARGETS: &[&str] = &[
    "async_imap",
    "imap_proto",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "native_tls",
    "async_native_tls",
    "tokio_native_tls",
    "rustls",
    "mail_parser",
    // The sign-in's loopback page: its requests carry the authorization code.
    "axum",
    "tower_http",
];

/// The database clients' targets, capped at `info`: their `debug` holds the statements'
/// parameters.
pub const QUERY_TARGETS: &[&str] = &["tokio_postgres", "postgres", "postgres_protocol"];

/// Every capped target with the most it may log (`"debug"` or `"info"`).
pub fn caps() -> impl Iterator<Item = (&'static str, &'static str)> {
    WIRE_TARGETS.iter().map(|t| (*t, "debug")).chain(QUERY_TARGETS.iter().map(|t| (*t, "info")))
}

/// `SENTINELA_LOG`'s filter (default `info`), with the wire targets capped at `debug` and the
/// database clients at `info`.
pub fn filter(spec: Option<&str>) -> EnvFilter {
    let spec = spec.filter(|s| !s.trim().is_empty()).unwrap_or("info");
    // The caps come last: for the same target, a later directive replaces an earlier one, and
    // an `async_imap=trace` the user wrote is replaced too.
    let capped: String = caps().map(|(t, level)| format!(",{t}={level}")).collect();
    let kept: Vec<&str> =
        spec.split(',').filter(|d| !caps().any(|(t, _)| d.trim().starts_with(t))).collect();
    EnvFilter::try_new(format!("{}{capped}", kept.join(",")))
        .unwrap_or_else(|_| EnvFilter::new(format!("info{capped}")))
}

/// Whether stderr is systemd's journal (systemd sets `JOURNAL_STREAM` to its device and inode).
pub fn stderr_is_the_journal() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Some(stream) = std::env::var_os("JOURNAL_STREAM") else { return false };
        let stderr = std::fs::metadata("/dev/stderr").ok();
        let here = stderr.map(|m| format!("{}:{}", m.dev(), m.ino()));
        here.is_some_and(|h| stream.to_string_lossy() == h)
    }
    #[cfg(not(unix))]
    false
}

/// Lines as the journal reads them from stderr: the level as a `<priority>` prefix (sd-daemon),
/// no timestamp (the journal keeps its own), then the target and the message with its fields.
pub struct JournalFormat;

/// syslog priorities: error 3, warning 4, info 6, debug and trace 7.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "<{}>{}: ", priority(meta.level()), meta.target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_targets_never_go_below_debug() {
        for spec in [
            "trace",
            "trace,async_imap=trace,reqwest=trace",
            "async_imap=trace",
            "",
            "nonsense=[==",
        ] {
            let f = filter(Some(spec)).to_string();
            for t in WIRE_TARGETS {
                assert!(
                    f.contains(&format!("{t}=debug")) && !f.contains(&format!("{t}=trace")),
                    "{spec}: {f}"
                );
            }
            for t in QUERY_TARGETS {
                assert!(
                    f.contains(&format!("{t}=info")) && !f.contains(&format!("{t}=debug")),
                    "{spec}: {f}"
                );
            }
        }
        assert!(filter(Some("trace")).to_string().contains("trace"), "the user's own level stays");
    }

    #[test]
    fn journal_lines_carry_the_priority_and_no_time() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .event_format(JournalFormat)
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "sentinela_engine::health", since = 3, "NOT WATCHING");
            tracing::info!(target: "sentinela_engine::imap", "watching");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "<3>sentinela_engine::health: NOT WATCHING since=3\n<6>sentinela_engine::imap: watching\n");
    }
}
