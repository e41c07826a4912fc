//! The IMAP SEARCH criteria for alert e-mails, built from `[filter]`.

use crate::config::FilterConfig;

/// `UNSEEN <senders> SUBJECT "<subject>" <search>`, with `CHARSET UTF-8` first when any value
/// is not ASCII. `<senders>` is `FROM "…"` for one sender entry, `OR FROM "…" FROM "…"` for more:
/// a cheap pre-filter only — the parsed From address is checked exactly afterwards. The
/// configuration refuses line breaks, so the values cannot end the command.
pub fn search_criteria(filter: &FilterConfig) -> String {
    let utf8 = !(filter.from.iter().all(|f| f.is_ascii())
        && filter.subject.is_ascii()
        && filter.search.is_ascii());
    let mut s = String::new();
    if utf8 {
        s.push_str("CHARSET UTF-8 ");
    }
    s.push_str("UNSEEN ");
    s.push_str(&senders(filter));
    s.push_str(" SUBJECT ");
    s.push_str(&quote(&filter.subject));
    let extra = filter.search.trim();
    if !extra.is_empty() {
        s.push(' ');
        s.push_str(extra);
    }
    s
}

/// `FROM "a"`, or `OR FROM "a" FROM "b"`, `OR FROM "a" OR FROM "b" FROM "c"`…
fn senders(filter: &FilterConfig) -> String {
    let texts: Vec<String> =
        filter.sender_policy().allowed.iter().map(|a| a.search_text()).collect();
    let texts = if texts.is_empty() { filter.from.clone() } else { texts };
    let mut out = String::new();
    for (i, t) in texts.iter().enumerate() {
        if i + 1 < texts.len() {
            out.push_str("OR ");
        }
        out.push_str("FROM ");
        out.push_str(&quote(t));
        out.push(' ');
    }
    out.trim_end().to_owned()
}

/// `<senders> SINCE <day>`: everything from the sensor's addresses, read or not, matching or
/// not, since the day of `since` (SINCE compares days only: the caller filters the time).
pub fn sensor_criteria(filter: &FilterConfig, since: chrono::DateTime<chrono::Utc>) -> String {
    let charset = if filter.from.iter().all(|f| f.is_ascii()) { "" } else { "CHARSET UTF-8 " };
    format!("{charset}{} SINCE {}", senders(filter), since.format("%-d-%b-%Y"))
}

/// An IMAP quoted string (RFC 3501 §4.3): backslash and double quote escaped.
fn quote(value: &str) -> String {
    let mut q = String::with_capacity(value.len() + 2);
    q.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Selects `folder` and returns its UIDVALIDITY.
pub(crate) async fn select_folder(
    session: &mut super::ImapSession,
    folder: &str,
) -> Result<(u32, u32), super::MailboxError> {
    use super::MailboxError;
    let mailbox = match tokio::time::timeout(
        super::connection::COMMAND_TIMEOUT,
        session.select(folder),
    )
    .await
    {
        Err(_) => {
            return Err(MailboxError::Timeout {
                operation: "SELECT",
                secs: super::connection::COMMAND_TIMEOUT.as_secs(),
            })
        }
        Ok(Err(async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason))) => {
            return Err(MailboxError::Folder { folder: folder.to_owned(), reason });
        }
        Ok(Err(e)) => return Err(MailboxError::protocol("SELECT", e)),
        Ok(Ok(m)) => m,
    };
    // A server without UIDVALIDITY cannot give stable identities; 0 still works with Message-ID.
    Ok((mailbox.uid_validity.unwrap_or(0), mailbox.exists))
}

/// The UIDs of unseen alert e-mails, ascending.
pub(crate) async fn search_alert_uids(
    session: &mut super::ImapSession,
    criteria: &str,
) -> Result<Vec<u32>, super::MailboxError> {
    use super::MailboxError;
    let found = match tokio::time::timeout(
        super::connection::COMMAND_TIMEOUT,
        session.uid_search(criteria),
    )
    .await
    {
        Err(_) => {
            return Err(MailboxError::Timeout {
                operation: "SEARCH",
                secs: super::connection::COMMAND_TIMEOUT.as_secs(),
            })
        }
        Ok(Err(async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason))) => {
            return Err(MailboxError::Search { reason });
        }
        Ok(Err(e)) => return Err(MailboxError::protocol("SEARCH", e)),
        Ok(Ok(found)) => found,
    };
    let mut uids: Vec<u32> = found.into_iter().collect();
    uids.sort_unstable();
    Ok(uids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(from: &str, subject: &str, search: &str) -> FilterConfig {
        FilterConfig {
            from: vec![from.into()],
            subject: subject.into(),
            search: search.into(),
            silence_alarm_hours: 0,
            authserv_id: String::new(),
        }
    }

    #[test]
    fn ascii_criteria() {
        assert_eq!(
            search_criteria(&filter("sensor@cpd", "ALERTA", "")),
            r#"UNSEEN FROM "sensor@cpd" SUBJECT "ALERTA""#
        );
    }

    #[test]
    fn the_sensor_search_takes_everything_from_it_since_a_day() {
        let f = filter("sensor@cpd.example", "ALERTA", "");
        let since = chrono::DateTime::parse_from_rfc3339("2026-03-05T23:10:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(sensor_criteria(&f, since), "FROM \"sensor@cpd.example\" SINCE 5-Mar-2026");
    }

    #[test]
    fn quotes_are_escaped_and_extra_appended() {
        assert_eq!(
            search_criteria(&filter("a\"b", "x\\y", " SINCE 1-Jan-2026 ")),
            r#"UNSEEN FROM "a\"b" SUBJECT "x\\y" SINCE 1-Jan-2026"#
        );
    }

    #[test]
    fn several_senders_are_ored_and_domains_searched_by_their_text() {
        let mut f = filter("sensor@cpd.example", "ALERTA", "");
        f.from = vec!["Sensor@CPD.example".into(), "@ups.example".into(), "@.rack.example".into()];
        assert_eq!(
            search_criteria(&f),
            r#"UNSEEN OR FROM "sensor@cpd.example" OR FROM "@ups.example" FROM "rack.example" SUBJECT "ALERTA""#
        );
    }

    #[test]
    fn non_ascii_declares_charset() {
        assert!(search_criteria(&filter("s@x", "Atenção", "")).starts_with("CHARSET UTF-8 UNSEEN"));
    }
}
