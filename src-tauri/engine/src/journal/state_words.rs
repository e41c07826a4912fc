//! Every state, purpose, outcome, channel and kind the journal's SQL spells as a word is one the
//! model's enums spell (`text_enum!`): a variant renamed or removed fails here, not as a query
//! that silently matches nothing. (Some words must stay literal — SQLite uses a partial index
//! only when the query's condition names the same word.)

use regex::Regex;

use crate::model::{
    AlertKind, CallOutcome, CallState, Channel, DeliveryState, EscalationState, IncidentEventKind,
    IncidentState, MessagePurpose,
};

/// The journal's files that speak SQL, as compiled.
const SOURCES: &[(&str, &str)] = &[
    ("heartbeat.rs", include_str!("heartbeat.rs")),
    ("incidents.rs", include_str!("incidents.rs")),
    ("lease_row.rs", include_str!("lease_row.rs")),
    ("mod.rs", include_str!("mod.rs")),
    ("notifications.rs", include_str!("notifications.rs")),
    ("pause.rs", include_str!("pause.rs")),
    ("planning.rs", include_str!("planning.rs")),
    ("postgres.rs", include_str!("postgres.rs")),
    ("rejected.rs", include_str!("rejected.rs")),
    ("replies.rs", include_str!("replies.rs")),
    ("retention.rs", include_str!("retention.rs")),
    ("schema.rs", include_str!("schema.rs")),
    ("search.rs", include_str!("search.rs")),
];

/// The words of the schema before incidents (alerts' own state, escalations, `legacy`
/// deliveries), read only by the migrations that carry them over.
const BEFORE_INCIDENTS: &[&str] = &["new", "notifying", "answered", "exhausted", "calling"];

fn known(column: &str, word: &str) -> bool {
    match column {
        "state" => {
            IncidentState::parse(word).is_some()
                || DeliveryState::parse(word).is_some()
                || CallState::parse(word).is_some()
        }
        "escalation" => EscalationState::parse(word).is_some(),
        "purpose" => MessagePurpose::parse(word).is_some(),
        "outcome" => CallOutcome::parse(word).is_some(),
        "channel" => Channel::parse(word).is_some(),
        "kind" => IncidentEventKind::parse(word).is_some() || AlertKind::parse(word).is_some(),
        _ => unreachable!("{column}"),
    }
}

#[test]
fn every_state_word_in_the_sql_is_a_variant_of_its_enum() {
    let compared = Regex::new(
        r"\b(state|escalation|purpose|outcome|channel|kind)\s+(?:NOT\s+)?(?:=|<>|!=|IN)\s*\(?((?:\s*'[a-z_-]+'\s*,?)+)",
    )
    .unwrap();
    let word = Regex::new(r"'([a-z_-]+)'").unwrap();
    let mut seen = 0;
    let mut unknown = Vec::new();
    for (file, text) in SOURCES {
        for c in compared.captures_iter(text) {
            for w in word.captures_iter(&c[2]) {
                seen += 1;
                if !known(&c[1], &w[1]) && !BEFORE_INCIDENTS.contains(&&w[1]) {
                    unknown.push(format!("{file}: {} '{}'", &c[1], &w[1]));
                }
            }
        }
    }
    assert!(seen > 50, "the pattern still finds the journal's comparisons ({seen})");
    assert!(unknown.is_empty(), "words no enum spells: {unknown:#?}");
}
