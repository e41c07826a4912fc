//! `sentinela-headless`: the engine without a GUI, for servers and for tests.
//!
//! `run` watches until SIGINT/SIGTERM, `check` tests a configuration for real, `test-whatsapp`
//! and `test-call` prove the Twilio side, `history` prints the journal's e-mails, `incidents`
//! its incidents, and `ack` / `resolve` act on one (a running engine on the same data directory
//! takes it within two seconds). Exit codes: 0 success, 1 a check failed (or the incident was
//! already in that state), 2 the configuration or setup is wrong.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use sentinela_engine::config::Config;
use sentinela_engine::events::EventBus;
use sentinela_engine::imap::{probe, MailboxLogin};
use sentinela_engine::journal::{AlertJournal, CallOutcome, IncidentQuery, StateFilter};
use sentinela_engine::model::Channel;
use sentinela_engine::oauth::{DeviceSignIn, LoopbackSignIn, SignInFlow, TokenSource};
use sentinela_engine::paths;
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_engine::secrets;
use sentinela_engine::selftest;
use sentinela_engine::timing::EngineTiming;
use sentinela_engine::twilio::TwilioClient;

#[derive(Parser)]
#[command(
    name = "sentinela-headless",
    version,
    about = "Sentinela's alert engine without the desktop app"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format (`journal` is chosen by itself under systemd).
    #[arg(long, value_enum, global = true)]
    log_format: Option<LogFormat>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
    /// systemd's journal: `<priority>` prefixes, no timestamps.
    Journal,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the mailbox and journal alerts until stopped (Ctrl+C or SIGTERM).
    Run {
        /// Configuration file (default: the OS config dir's sentinela.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the journal lives (default: the OS data dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Validate the configuration and test the mailbox for real.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Send a test WhatsApp message (clearly marked as a test) to one number.
    TestWhatsapp {
        #[arg(long)]
        config: Option<PathBuf>,
        /// The number to send to, e.g. "(11) 99999-0001" or "+5511999990001".
        #[arg(long)]
        to: String,
    },
    /// Place a test call (clearly marked as a test) to one number and report what happened.
    TestCall {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        to: String,
    },
    /// Sign the mailbox in with its provider (`[mailbox.oauth2]`): prints an address to open in a
    /// browser and waits for the sign-in on a loopback port (over SSH: forward that port), then
    /// keeps the refresh token in the OS keyring and tests the mailbox.
    Login {
        #[arg(long)]
        config: Option<PathBuf>,
        /// How long to wait for the browser, in seconds.
        #[arg(long, default_value_t = 300)]
        wait_secs: u64,
        /// Sign in with a code typed on another device instead (where the tenant allows it).
        #[arg(long)]
        device: bool,
    },
    /// Store a secret in the OS keyring, read from standard input (one line).
    StoreSecret {
        /// Which secret: `imap-password`, `twilio-auth-token`, `journal-password` or
        /// `oauth-client-secret`.
        #[arg(value_parser = ["imap-password", "twilio-auth-token", "journal-password", "oauth-client-secret"])]
        name: String,
    },
    /// Print the journaled alerts, newest first.
    History {
        #[command(flatten)]
        at: JournalArgs,
        /// Print JSON (one array) instead of text.
        #[arg(long)]
        json: bool,
        /// How many alerts at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print the incidents (one per problem), newest first.
    Incidents {
        #[command(flatten)]
        at: JournalArgs,
        /// Print JSON (one array) instead of text.
        #[arg(long)]
        json: bool,
        /// Only incidents not yet resolved.
        #[arg(long, conflicts_with = "resolved")]
        open: bool,
        /// Only resolved incidents.
        #[arg(long)]
        resolved: bool,
        /// Words the incident's title, e-mails (sender, subject, body), takers or notes hold,
        /// accents ignored ("agua" finds "Água"); `#12` is incident 12.
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Active on this day or after (local time): 28/11/2026 or 2026-11-28.
        #[arg(long, value_name = "DAY", value_parser = parse_day)]
        since: Option<chrono::NaiveDate>,
        /// Active on this day or before (local time).
        #[arg(long, value_name = "DAY", value_parser = parse_day)]
        until: Option<chrono::NaiveDate>,
        /// How many incidents at most.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Acknowledge an incident: no more calls for it (it stays open until its recovery).
    Ack {
        /// The incident's number, as `incidents` prints it.
        id: i64,
        #[command(flatten)]
        at: JournalArgs,
        /// Who takes it (a name), shown in the history.
        #[arg(long)]
        by: Option<String>,
    },
    /// Resolve an incident by hand (for devices that never send a recovery e-mail).
    Resolve {
        id: i64,
        #[command(flatten)]
        at: JournalArgs,
        #[arg(long)]
        by: Option<String>,
    },
}

/// Which journal a command reads: `--config FILE`'s (a shared one when it has `[journal]`), else
/// the SQLite file in `--data-dir` (default: the OS data dir).
#[derive(clap::Args)]
struct JournalArgs {
    /// A configuration file: its `[journal]`, when it has one, is the journal used.
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl JournalArgs {
    /// Where the journal is, for messages.
    fn place(&self, journal: &AlertJournal) -> String {
        match journal.shared_target() {
            Some(target) => format!("the shared journal {target}"),
            None => {
                self.data_dir.clone().unwrap_or_else(paths::default_data_dir).display().to_string()
            }
        }
    }

    async fn open(&self) -> Result<AlertJournal, Failure> {
        if let Some(path) = &self.config {
            let (config, _) = load_config(Some(path.clone()))?;
            if config.journal.is_some() {
                let data_dir = self.data_dir.clone().unwrap_or_else(paths::default_data_dir);
                let password = sentinela_engine::runner::journal_password().await;
                return sentinela_engine::runner::open_journal(
                    &config,
                    &data_dir,
                    password.as_ref(),
                )
                .await
                .map_err(setup_error);
            }
        }
        open_existing_journal(&self.data_dir.clone().unwrap_or_else(paths::default_data_dir))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let journal = sentinela_engine::logging::stderr_is_the_journal();
    init_logging(cli.log_format.unwrap_or(if journal {
        LogFormat::Journal
    } else {
        LogFormat::Human
    }));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run { config, data_dir } => run(config, data_dir).await,
            Command::Check { config } => check(config).await,
            Command::History { at, json, limit } => history(at, json, limit).await,
            Command::Incidents { at, json, open, resolved, search, since, until, limit } => {
                let state = match (open, resolved) {
                    (true, _) => StateFilter::Unresolved,
                    (_, true) => StateFilter::Resolved,
                    _ => StateFilter::All,
                };
                let query = IncidentQuery {
                    text: search.unwrap_or_default(),
                    since: since.map(local_midnight),
                    until: until.map(|d| local_midnight(d + chrono::Days::new(1))),
                    state,
                    before: None,
                    limit,
                };
                incidents(at, json, query).await
            }
            Command::Ack { id, at, by } => act(at, id, by, Action::Ack).await,
            Command::Resolve { id, at, by } => act(at, id, by, Action::Resolve).await,
            Command::TestWhatsapp { config, to } => test_whatsapp(config, &to).await,
            Command::TestCall { config, to } => test_call(config, &to).await,
            Command::Login { config, wait_secs, device } => {
                login(config, Duration::from_secs(wait_secs), device).await
            }
            Command::StoreSecret { name } => store_secret(&name).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, message }) => {
            eprintln!("sentinela: {message}");
            ExitCode::from(code)
        }
    }
}

struct Failure {
    code: u8,
    message: String,
}

fn setup_error(e: impl ToString) -> Failure {
    Failure { code: 2, message: e.to_string() }
}

fn init_logging(format: LogFormat) {
    let filter = sentinela_engine::logging::filter(std::env::var("SENTINELA_LOG").ok().as_deref());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Journal => {
            builder.with_ansi(false).event_format(sentinela_engine::logging::JournalFormat).init()
        }
    }
}

fn load_config(path: Option<PathBuf>) -> Result<(Config, PathBuf), Failure> {
    let path = path.unwrap_or_else(paths::default_config_file);
    let config = Config::load(&path).map_err(setup_error)?;
    Ok((config, path))
}

async fn run(config: Option<PathBuf>, data_dir: Option<PathBuf>) -> Result<(), Failure> {
    let (config, path) = load_config(config)?;
    let data_dir = data_dir.unwrap_or_else(paths::default_data_dir);
    tracing::info!(config = %path.display(), data_dir = %data_dir.display(), "sentinela starting");
    let secrets = EngineSecrets::load(&config).await.map_err(setup_error)?;
    let timing = EngineTiming::from_env();
    let engine =
        RunningEngine::start_with_timing(&config, secrets, &data_dir, EventBus::default(), timing)
            .await
            .map_err(setup_error)?;
    wait_for_stop_signal().await;
    tracing::info!("stop requested; closing the mailbox connection");
    engine.stop(Duration::from_secs(10)).await;
    tracing::info!("sentinela stopped");
    Ok(())
}

#[cfg(unix)]
async fn wait_for_stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// On Windows: Ctrl+C or Ctrl+Break in its console, the console window closed, the user logging
/// off or the machine shutting down — each leaves a few seconds to log out cleanly. A listener
/// Windows refuses to register is said once and never fires; the others still stop the engine.
#[cfg(windows)]
async fn wait_for_stop_signal() {
    use tokio::signal::windows::{ctrl_break, ctrl_close, ctrl_logoff, ctrl_shutdown};
    macro_rules! first {
        ($listener:expr, $what:literal) => {
            async {
                match $listener {
                    Ok(mut listener) => {
                        listener.recv().await;
                    }
                    Err(e) => {
                        tracing::warn!(
                            "cannot listen for {} ({e}): stop the engine another way",
                            $what
                        );
                        std::future::pending::<()>().await
                    }
                }
            }
        };
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = first!(ctrl_break(), "Ctrl+Break") => {}
        _ = first!(ctrl_close(), "the console closing") => {}
        _ = first!(ctrl_logoff(), "the user logging off") => {}
        _ = first!(ctrl_shutdown(), "the machine shutting down") => {}
    }
}

#[cfg(not(any(unix, windows)))]
async fn wait_for_stop_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn check(config: Option<PathBuf>) -> Result<(), Failure> {
    let (config, path) = load_config(config)?;
    println!("sentinela-headless {}", env!("CARGO_PKG_VERSION"));
    println!("Configuration OK: {}", path.display());
    let login = MailboxLogin::load(&config.mailbox).await.map_err(setup_error)?;
    let m = &config.mailbox;
    let mut failures = Vec::new();
    match probe(&config, &login).await {
        Ok(report) => {
            println!(
                "Mailbox: logged in to {}:{} as {} ({:?}, {})",
                m.host,
                m.port(),
                report.account,
                m.security,
                report.login_method
            );
            if let Some(expires) = report.token_expires_at {
                println!(
                    "Access token: expires at {} (a new one is fetched before then)",
                    expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
            println!(
                "Folder {}: {} messages, UIDVALIDITY {}",
                report.folder, report.messages, report.uidvalidity
            );
            println!("Matching unread e-mails: {}", report.matching_unseen);
            if report.rejected > 0 {
                println!(
                    "Of these, {} would be REJECTED by the sender check (never escalated):",
                    report.rejected
                );
                for reason in &report.rejected_reasons {
                    println!("  {reason}");
                }
            }
            if let Some(top) = &report.results_on_top {
                println!(
                    "WARNING: the newest matching e-mail's topmost Authentication-Results header is {top:?}'s, not {:?}'s. \
                     Your receiving server must remove (or override) incoming Authentication-Results headers that carry its id and add its own on top, \
                     or a forged header could be read as its verdict: check its settings, or that authserv_id names the server that receives the mail last.",
                    config.filter.authserv_id
                );
            }
            if report.idle {
                println!("IDLE: supported (new mail is pushed within about a second)");
            } else {
                println!(
                    "IDLE: not supported (the mailbox will be polled every {} s)",
                    m.rescan_secs
                );
            }
        }
        Err(e) => failures.push(format!("mailbox check failed: {e}")),
    }
    if let Err(e) = check_twilio(&config).await {
        failures.push(e);
    }
    if let Err(e) = check_journal(&config).await {
        failures.push(e);
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(Failure { code: 1, message: failures.join("\nsentinela: ") })
}

/// `[journal]`: the database answers, its schema is this version's, and who notifies now.
async fn check_journal(config: &Config) -> Result<(), String> {
    let probe = sentinela_engine::runner::probe_journal(config, &paths::default_data_dir()).await;
    let Some(probe) = probe.map_err(|e| format!("shared journal check failed: {e}"))? else {
        println!("Journal: this workstation's own (SQLite in the data directory)");
        return Ok(());
    };
    println!(
        "Journal: shared, {} (schema version {}, as this Sentinela expects)",
        probe.target, probe.schema_version
    );
    println!("This workstation is {:?} to the others", probe.workstation);
    match probe.notifier {
        Some(name) => println!("Notifying now: {name}"),
        None => println!("Notifying now: nobody (no Sentinela holds the lease: start one)"),
    }
    Ok(())
}

async fn check_twilio(config: &Config) -> Result<(), String> {
    let Some(twilio) = &config.twilio else {
        println!("Twilio: not configured — alerts will be journaled but NOBODY will be notified");
        return Ok(());
    };
    if twilio.dry_run {
        println!("Twilio: dry run — nothing will be sent (twilio.dry_run = true)");
        return Ok(());
    }
    let client = twilio_client(config).await.map_err(|f| f.message)?;
    let account = client.fetch_account().await.map_err(|e| format!("Twilio check failed: {e}"))?;
    println!(
        "Twilio: credentials accepted for account {} \"{}\" ({}, {})",
        account.sid, account.friendly_name, account.kind, account.status
    );
    if account.kind.eq_ignore_ascii_case("trial") {
        println!(
            "Twilio: trial account — it can only reach numbers verified in the Twilio console"
        );
    }
    let mut problems = Vec::new();
    if let Some(w) = &config.whatsapp {
        if config.whatsapp_uses_sandbox() {
            println!("WhatsApp sender {}: Twilio's sandbox (each recipient must send \"join <code>\" first; it lasts 3 days)", w.from);
        } else {
            match client.can_send_from(&w.from).await {
                Ok(true) => println!("WhatsApp sender {}: a number of this account", w.from),
                Ok(false) => problems.push(format!(
                    "whatsapp.from {} is not a number of this Twilio account",
                    w.from
                )),
                Err(e) => problems.push(format!("cannot check whatsapp.from: {e}")),
            }
        }
        println!("WhatsApp recipients: {}", w.to.join(", "));
    }
    if let Some(c) = &config.calls {
        match client.can_send_from(&c.from).await {
            Ok(true) => println!("Caller ID {}: a number (or verified caller ID) of this account", c.from),
            Ok(false) => problems.push(format!("calls.from {} is neither a number nor a verified caller ID of this Twilio account: calls would fail with error 21210", c.from)),
            Err(e) => problems.push(format!("cannot check calls.from: {e}")),
        }
        println!(
            "Call queue: {} — {} round(s), {} s ringing, voice {} ({})",
            c.to.join(" → "),
            c.rounds,
            c.ring_secs,
            c.voice,
            c.language
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\nsentinela: "))
    }
}

async fn twilio_client(config: &Config) -> Result<TwilioClient, Failure> {
    let twilio = config.twilio.as_ref().ok_or_else(|| {
        setup_error("the configuration has no [twilio] section: add one with account_sid")
    })?;
    let token = secrets::load(secrets::TWILIO_AUTH_TOKEN).await.map_err(setup_error)?;
    Ok(TwilioClient::new(twilio, token))
}

async fn test_whatsapp(config: Option<PathBuf>, to: &str) -> Result<(), Failure> {
    let (config, _) = load_config(config)?;
    let token = secrets::load(secrets::TWILIO_AUTH_TOKEN).await.map_err(setup_error)?;
    let r = selftest::test_whatsapp(&config, token, to, Duration::from_secs(30))
        .await
        .map_err(selftest_failure)?;
    println!("WhatsApp accepted by Twilio: {} ({})", r.sid, r.states.join(" → "));
    println!("WhatsApp to {}: {}", r.to, r.outcome);
    Ok(())
}

async fn test_call(config: Option<PathBuf>, to: &str) -> Result<(), Failure> {
    let (config, _) = load_config(config)?;
    let token = secrets::load(secrets::TWILIO_AUTH_TOKEN).await.map_err(setup_error)?;
    let r = selftest::test_call(&config, token, to).await.map_err(selftest_failure)?;
    println!("Called {}: {} ({})", r.to, r.sid, r.states.join(" → "));
    println!(
        "Outcome: {}{}",
        r.outcome,
        r.duration_secs.map(|d| format!(", {d} s")).unwrap_or_default()
    );
    Ok(())
}

fn selftest_failure(e: selftest::SelfTestError) -> Failure {
    match e {
        selftest::SelfTestError::Setup { en, .. } => setup_error(en),
        selftest::SelfTestError::Failed { en, .. } => Failure { code: 1, message: en },
    }
}

async fn history(at: JournalArgs, json: bool, limit: usize) -> Result<(), Failure> {
    let journal = at.open().await?;
    let alerts = journal.alerts(limit).await.map_err(setup_error)?;
    let rejected = journal.rejected_mails(limit).await.map_err(setup_error)?;
    if json {
        let mut out = Vec::with_capacity(alerts.len() + rejected.len());
        // E-mails whose sender failed the check: items of their own kind, with the real address.
        for r in &rejected {
            out.push(serde_json::json!({ "kind": "rejected_sender", "rejected": r }));
        }
        for a in alerts {
            let events = journal.events_of(a.id).await.map_err(setup_error)?;
            out.push(serde_json::json!({
                "incident_id": a.incident_id,
                "kind": a.kind,
                "alert": a,
                "events": events,
            }));
        }
        println!("{}", serde_json::to_string_pretty(&out).map_err(setup_error)?);
        return Ok(());
    }
    if alerts.is_empty() {
        println!("No alerts journaled in {}", at.place(&journal));
    }
    for a in alerts {
        let local = a.received_at.with_timezone(&chrono::Local);
        let test = if a.is_test { " [TESTE]" } else { "" };
        let place = match (a.kind, a.incident_id) {
            (Some(kind), Some(i)) => format!("{kind} of incident #{i}"),
            (Some(kind), None) => format!("{kind} of no open incident (nobody notified)"),
            (None, _) => "not placed yet".to_owned(),
        };
        println!(
            "#{}  {}  [{place}]{test}  {}",
            a.id,
            local.format("%Y-%m-%d %H:%M:%S %z"),
            a.subject
        );
        println!("    from {}", a.sender);
        for line in a.body.lines().take(3) {
            println!("    | {line}");
        }
    }
    if !rejected.is_empty() {
        println!();
        println!("Rejected senders (never escalated, left unread):");
    }
    for r in rejected {
        let local = r.received_at.with_timezone(&chrono::Local);
        println!(
            "  {}  from {}  {}",
            local.format("%Y-%m-%d %H:%M:%S %z"),
            if r.sender.is_empty() { "(no address)" } else { &r.sender },
            r.subject
        );
        println!("    rejected: {}", r.reason);
    }
    Ok(())
}

/// A day as people here write it, or as ISO writes it.
fn parse_day(typed: &str) -> Result<chrono::NaiveDate, String> {
    ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"]
        .iter()
        .find_map(|f| chrono::NaiveDate::parse_from_str(typed.trim(), f).ok())
        .ok_or_else(|| format!("{typed:?} is no day: write it as 28/11/2026 or 2026-11-28"))
}

/// The instant a local day starts: the first instant that exists (a day whose midnight daylight
/// saving skips starts an hour later), or midnight UTC if the zone knows neither.
fn local_midnight(day: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    let start = day.and_time(chrono::NaiveTime::MIN);
    let local = |t: chrono::NaiveDateTime| t.and_local_timezone(chrono::Local).earliest();
    local(start)
        .or_else(|| local(start + chrono::Duration::hours(1)))
        .map_or_else(|| start.and_utc(), |t| t.to_utc())
}

async fn incidents(at: JournalArgs, json: bool, query: IncidentQuery) -> Result<(), Failure> {
    let journal = at.open().await?;
    let filtered = !query.text.is_empty()
        || query.since.is_some()
        || query.until.is_some()
        || query.state != StateFilter::All;
    let list = journal.find_incidents(query).await.map_err(setup_error)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list).map_err(setup_error)?);
        return Ok(());
    }
    if list.is_empty() {
        println!(
            "No {}incidents in {}",
            if filtered { "matching " } else { "" },
            at.place(&journal)
        );
    }
    for i in list {
        let local = |t: chrono::DateTime<chrono::Utc>| {
            t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string()
        };
        let test = if i.test { " [TESTE]" } else { "" };
        println!("#{}  [{}]{test}  {}", i.id, i.state, i.title);
        println!(
            "    {} e-mail(s), first {}, last {}; calls: {}",
            i.emails,
            local(i.first_seen),
            local(i.last_seen),
            i.escalation
        );
        if let Some(held) = i.held_since {
            println!(
                "    held by a pause since {}{}",
                local(held),
                i.released_at.map(|r| format!(", told at {}", local(r))).unwrap_or_default()
            );
        }
        if let (Some(at), Some(via)) = (i.acknowledged_at, i.acknowledged_via) {
            println!(
                "    acknowledged {} via {via}{}",
                local(at),
                i.acknowledged_by.map(|b| format!(" by {b}")).unwrap_or_default()
            );
        }
        if let Some(at) = i.resolved_at {
            let via = i.resolved_via.map(|v| format!(" via {v}")).unwrap_or_default();
            println!(
                "    resolved {}{via}{}",
                local(at),
                i.resolved_by.map(|b| format!(" by {b}")).unwrap_or_default()
            );
        }
        for d in journal.deliveries_of(i.id).await.map_err(setup_error)? {
            let err = d.error_code.map(|c| format!(" (error {c})")).unwrap_or_default();
            let instead =
                if d.fallback_of.is_some() { " (instead of an undelivered WhatsApp)" } else { "" };
            let channel = match d.channel {
                Channel::Whatsapp => "WhatsApp",
                Channel::Sms => "SMS",
            };
            println!("    {channel} {} {} {}{err}{instead}", d.purpose, d.recipient, d.state);
        }
        for c in journal.calls_of(i.id).await.map_err(setup_error)? {
            println!(
                "    call {}.{} {} {}{}{}",
                c.round + 1,
                c.position + 1,
                c.number,
                c.outcome.map_or(c.state.as_str(), CallOutcome::as_str),
                c.answered_by.as_deref().map(|b| format!(", answered by {b}")).unwrap_or_default(),
                c.duration.map(|d| format!(", {d} s")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Action {
    Ack,
    Resolve,
}

async fn act(at: JournalArgs, id: i64, by: Option<String>, action: Action) -> Result<(), Failure> {
    use sentinela_engine::incident::{AckVia, ResolveVia};
    use sentinela_engine::journal::ActionOutcome;
    let journal = at.open().await?;
    let outcome = match action {
        Action::Ack => journal.acknowledge(id, by, AckVia::Cli).await,
        Action::Resolve => journal.resolve(id, by, ResolveVia::Cli).await,
    }
    .map_err(setup_error)?;
    let verb = match action {
        Action::Ack => "acknowledged",
        Action::Resolve => "resolved",
    };
    match outcome {
        ActionOutcome::Done => {
            println!("Incident #{id} {verb}.");
            Ok(())
        }
        ActionOutcome::AlreadyAcknowledged => {
            Err(Failure { code: 1, message: format!("incident #{id} was already acknowledged") })
        }
        ActionOutcome::AlreadyResolved => {
            Err(Failure { code: 1, message: format!("incident #{id} is already resolved") })
        }
        ActionOutcome::NotFound => Err(setup_error(format!(
            "there is no incident #{id} in {}: list them with `sentinela-headless incidents`",
            at.place(&journal)
        ))),
    }
}

/// `login`: the browser sign-in for `[mailbox.oauth2]`, then the mailbox test with it.
async fn login(config: Option<PathBuf>, wait: Duration, device: bool) -> Result<(), Failure> {
    let (config, path) = load_config(config)?;
    let Some(oauth) = &config.mailbox.oauth2 else {
        return Err(setup_error(format!(
            "{} has no [mailbox.oauth2] section: this mailbox logs in with a password (store it with `sentinela-headless store-secret imap-password`)",
            path.display()
        )));
    };
    let signed_in = if oauth.flow == SignInFlow::App {
        println!("mailbox.oauth2.flow is \"app\": nobody signs in; the app's own sign-in is tested instead.");
        None
    } else if device {
        let sign_in =
            DeviceSignIn::start(oauth, &config.mailbox.username).await.map_err(setup_error)?;
        println!(
            "On any device, open {} and enter the code {} (sign in as {}).",
            sign_in.verification_uri(),
            sign_in.user_code(),
            config.mailbox.username
        );
        if let Some(complete) = sign_in.verification_uri_complete() {
            println!("Or open this address, which carries the code: {complete}");
        }
        println!("Waiting up to {} s.", wait.as_secs());
        let signed_in = sign_in.finish(wait).await.map_err(setup_error)?;
        println!("Signed in as {}; the sign-in is kept in the OS keyring.", signed_in.account);
        Some(signed_in)
    } else {
        let sign_in =
            LoopbackSignIn::start(oauth, &config.mailbox.username).await.map_err(setup_error)?;
        println!("Open this address in a browser and sign in as {}:", config.mailbox.username);
        println!();
        println!("  {}", sign_in.url());
        println!();
        println!(
            "Waiting up to {} s for the browser on {} (from another computer, forward that port over SSH first).",
            wait.as_secs(),
            sign_in.redirect_uri()
        );
        let signed_in = sign_in.finish(wait).await.map_err(setup_error)?;
        println!("Signed in as {}; the sign-in is kept in the OS keyring.", signed_in.account);
        Some(signed_in)
    };
    // Tested with the access token the sign-in gave: a running engine may be using the new
    // refresh token already.
    let tokens = match signed_in {
        Some(s) => TokenSource::signed_in(oauth, s).await,
        None => TokenSource::load(oauth, &config.mailbox.username).await,
    }
    .map_err(setup_error)?;
    let report = probe(&config, &MailboxLogin::OAuth2(std::sync::Arc::new(tokens)))
        .await
        .map_err(|e| Failure { code: 1, message: format!("mailbox check failed: {e}") })?;
    println!(
        "Mailbox: logged in to {} as {} ({}); {} matching unread e-mails.",
        config.mailbox.host, report.account, report.login_method, report.matching_unseen
    );
    Ok(())
}

async fn store_secret(name: &str) -> Result<(), Failure> {
    let which = match name {
        "imap-password" => secrets::IMAP_PASSWORD,
        "journal-password" => secrets::JOURNAL_PASSWORD,
        "oauth-client-secret" => secrets::OAUTH_CLIENT_SECRET,
        _ => secrets::TWILIO_AUTH_TOKEN,
    };
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(setup_error)?;
    let value = line.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err(setup_error(format!(
            "no {} on standard input: type it (or pipe it) followed by Enter",
            which.label
        )));
    }
    secrets::store(which, secrets::Secret::new(value)).await.map_err(setup_error)?;
    println!(
        "Stored the {} in the OS keyring (service \"{}\", user \"{}\")",
        which.label,
        secrets::KEYRING_SERVICE,
        which.keyring_user
    );
    Ok(())
}

fn open_existing_journal(data_dir: &Path) -> Result<AlertJournal, Failure> {
    let file = data_dir.join(sentinela_engine::journal::JOURNAL_FILE);
    if !file.exists() {
        return Err(setup_error(format!(
            "no journal at {}: check --data-dir (it is created by `sentinela-headless run`)",
            file.display()
        )));
    }
    AlertJournal::open(&file).map_err(setup_error)
}
