//! The TypeScript side of the IPC contract, generated from the Rust types: `ui/src/bindings.ts`
//! holds the declaration of every type a command takes or returns and of every engine event.
//! The test fails when the committed file differs from what the types say now, so the windows
//! cannot drift from the shell unnoticed. To regenerate after changing a type:
//! `UPDATE_BINDINGS=1 cargo test -p sentinela bindings`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sentinela_engine::config::{
    CallsConfig, Config, FilterConfig, HeartbeatConfig, HistoryConfig, IncidentsConfig,
    JournalConfig, MailboxConfig, Security, SmsConfig, TwilioConfig, WhatsAppConfig,
};
use sentinela_engine::events::{
    AlertNotice, EngineEvent, MailboxProblem, MailboxState, NotifierState, TwilioProblem,
    TwilioState,
};
use sentinela_engine::health::WatchAlarm;
use sentinela_engine::imap::ProbeReport;
use sentinela_engine::incident::{
    AckVia, AlertKind, EscalationState, IncidentEventKind, IncidentState, MessagePurpose,
    ResolveVia,
};
use sentinela_engine::journal::{
    ActionOutcome, AlertRecord, CallAttempt, CallOutcome, CallState, Delivery, DeliveryState,
    IncidentChange, IncidentDetail, IncidentEmail, IncidentLogLine, IncidentQuery, IncidentSummary,
    JournalEvent, MailboxUid, PauseState, RejectedMail, StateFilter,
};
use sentinela_engine::model::Channel;
use sentinela_engine::oauth::{OAuth2Config, OAuthProvider, SaslMechanism, SignInFlow};
use sentinela_engine::runner::JournalProbe;
use sentinela_engine::selftest::SelfTestReport;
use ts_rs::TS;

use crate::commands::{CsvRow, SavedSettings, SecretStatus, SettingsView};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::status::{StatusView, TrayState};

/// Name → declaration of one type, and the names it refers to.
type Declarations = BTreeMap<String, (String, Vec<String>)>;

fn declare<T: TS + 'static>(out: &mut Declarations) {
    let refs = T::dependencies().into_iter().map(|d| d.ts_name).collect();
    out.insert(T::ident(), (T::decl(), refs));
}

fn generate() -> String {
    let mut d = Declarations::new();
    // Engine: configuration, reports, journal records, events.
    declare::<Config>(&mut d);
    declare::<MailboxConfig>(&mut d);
    declare::<Security>(&mut d);
    declare::<OAuth2Config>(&mut d);
    declare::<OAuthProvider>(&mut d);
    declare::<SignInFlow>(&mut d);
    declare::<SaslMechanism>(&mut d);
    declare::<FilterConfig>(&mut d);
    declare::<TwilioConfig>(&mut d);
    declare::<WhatsAppConfig>(&mut d);
    declare::<CallsConfig>(&mut d);
    declare::<IncidentsConfig>(&mut d);
    declare::<HeartbeatConfig>(&mut d);
    declare::<HistoryConfig>(&mut d);
    declare::<JournalConfig>(&mut d);
    declare::<ProbeReport>(&mut d);
    declare::<SelfTestReport>(&mut d);
    declare::<JournalProbe>(&mut d);
    declare::<AlertRecord>(&mut d);
    declare::<IncidentSummary>(&mut d);
    declare::<IncidentQuery>(&mut d);
    declare::<Channel>(&mut d);
    declare::<SmsConfig>(&mut d);
    declare::<StateFilter>(&mut d);
    declare::<RejectedMail>(&mut d);
    declare::<IncidentDetail>(&mut d);
    declare::<IncidentEmail>(&mut d);
    declare::<IncidentLogLine>(&mut d);
    declare::<IncidentChange>(&mut d);
    declare::<ActionOutcome>(&mut d);
    declare::<IncidentState>(&mut d);
    declare::<AlertKind>(&mut d);
    declare::<AckVia>(&mut d);
    declare::<ResolveVia>(&mut d);
    declare::<EscalationState>(&mut d);
    declare::<IncidentEventKind>(&mut d);
    declare::<MessagePurpose>(&mut d);
    declare::<MailboxUid>(&mut d);
    declare::<JournalEvent>(&mut d);
    declare::<Delivery>(&mut d);
    declare::<DeliveryState>(&mut d);
    declare::<CallAttempt>(&mut d);
    declare::<CallState>(&mut d);
    declare::<CallOutcome>(&mut d);
    declare::<EngineEvent>(&mut d);
    declare::<MailboxState>(&mut d);
    declare::<MailboxProblem>(&mut d);
    declare::<AlertNotice>(&mut d);
    declare::<TwilioState>(&mut d);
    declare::<NotifierState>(&mut d);
    declare::<TwilioProblem>(&mut d);
    declare::<PauseState>(&mut d);
    declare::<WatchAlarm>(&mut d);
    // Shell: command results and arguments, the one error type.
    declare::<SettingsView>(&mut d);
    declare::<SavedSettings>(&mut d);
    declare::<Lang>(&mut d);
    declare::<SecretStatus>(&mut d);
    declare::<StatusView>(&mut d);
    declare::<TrayState>(&mut d);
    declare::<CsvRow>(&mut d);
    declare::<AppError>(&mut d);

    for (name, (_, refs)) in &d {
        for r in refs {
            assert!(
                d.contains_key(r),
                "{name} refers to {r}, which bindings.rs does not declare: add it to generate()"
            );
        }
    }
    let mut text = String::from(
        "// Generated from the Rust types by src-tauri/src/bindings.rs; do not edit by hand.\n\
         // Regenerate: UPDATE_BINDINGS=1 cargo test -p sentinela bindings\n",
    );
    for (decl, _) in d.values() {
        // 64-bit integers cross as JSON numbers (ids, seconds, Twilio error codes, all far below
        // 2^53), and JSON.parse gives the windows a `number`, never a `bigint`.
        text.push_str(&format!("\nexport {}\n", decl.replace("bigint", "number")));
    }
    text
}

#[test]
fn ui_bindings_match_the_rust_types() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
    let generated = generate();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from the Rust types. Regenerate it with `UPDATE_BINDINGS=1 cargo test -p sentinela bindings`, then fix the windows' code until `npm run build` passes.",
        path.display()
    );
}
