//! What may reach a log. The libraries that speak the wire protocols (the IMAP client, the HTTP
//! stack, TLS) print whole commands and headers at trace level — the IMAP LOGIN with its password,
//! the Authorization header with the Twilio token, whole e-mails. Their targets are capped at
//! `debug` whatever `SENTINELA_LOG` asks, so no log level prints a secret or a whole e-mail.

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
];

/// `SENTINELA_LOG`'s filter (default `info`), with the wire targets capped at `debug`.
pub fn filter(spec: Option<&str>) -> EnvFilter {
    let spec = spec.filter(|s| !s.trim().is_empty()).unwrap_or("info");
    // The caps come last: for the same target, a later directive replaces an earlier one, and
    // an `async_imap=trace` the user wrote is replaced too.
    let capped: String = WIRE_TARGETS.iter().map(|t| format!(",{t}=debug")).collect();
    let kept: Vec<&str> = spec.split(',').filter(|d| !WIRE_TARGETS.iter().any(|t| d.trim().starts_with(t))).collect();
    EnvFilter::try_new(format!("{}{capped}", kept.join(","))).unwrap_or_else(|_| EnvFilter::new(format!("info{capped}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_targets_never_go_below_debug() {
        for spec in ["trace", "trace,async_imap=trace,reqwest=trace", "async_imap=trace", "", "nonsense=[=="] {
            let f = filter(Some(spec)).to_string();
            for t in WIRE_TARGETS {
                assert!(f.contains(&format!("{t}=debug")) && !f.contains(&format!("{t}=trace")), "{spec}: {f}");
            }
        }
        assert!(filter(Some("trace")).to_string().contains("trace"), "the user's own level stays");
    }
}
