//! `sentinela-headless`: the engine without a GUI, for servers and for tests.
//!
//! `run` watches until SIGINT/SIGTERM, `check` tests a configuration for real, `history` prints
//! the journal. Exit codes: 0 success, 1 a check failed, 2 the configuration or setup is wrong.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use sentinela_engine::config::Config;
use sentinela_engine::events::EventBus;
use sentinela_engine::imap::probe;
use sentinela_engine::journal::AlertJournal;
use sentinela_engine::paths;
use sentinela_engine::runner::{EngineSecrets, RunningEngine};
use sentinela_engine::secrets;

#[derive(Parser)]
#[command(name = "sentinela-headless", version, about = "Sentinela's alert engine without the desktop app")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
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
    /// Print the journaled alerts, newest first.
    History {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Print JSON (one array) instead of text.
        #[arg(long)]
        json: bool,
        /// How many alerts at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run { config, data_dir } => run(config, data_dir).await,
            Command::Check { config } => check(config).await,
            Command::History { data_dir, json, limit } => history(data_dir, json, limit).await,
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
    let filter = tracing_subscriber::EnvFilter::try_from_env("SENTINELA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
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
    let engine = RunningEngine::start(&config, secrets, &data_dir, EventBus::default()).await.map_err(setup_error)?;
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

#[cfg(not(unix))]
async fn wait_for_stop_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn check(config: Option<PathBuf>) -> Result<(), Failure> {
    let (config, path) = load_config(config)?;
    println!("Configuration OK: {}", path.display());
    let password = secrets::load(secrets::IMAP_PASSWORD).await.map_err(setup_error)?;
    let m = &config.mailbox;
    let report = probe(&config, &password)
        .await
        .map_err(|e| Failure { code: 1, message: format!("mailbox check failed: {e}") })?;
    println!("Mailbox: logged in to {}:{} as {} ({:?})", m.host, m.port(), m.username, m.security);
    println!("Folder {}: {} messages, UIDVALIDITY {}", report.folder, report.messages, report.uidvalidity);
    println!("Matching unread e-mails: {}", report.matching_unseen);
    if report.idle {
        println!("IDLE: supported (new mail is pushed within about a second)");
    } else {
        println!("IDLE: not supported (the mailbox will be polled every {} s)", m.rescan_secs);
    }
    Ok(())
}

async fn history(data_dir: Option<PathBuf>, json: bool, limit: usize) -> Result<(), Failure> {
    let data_dir = data_dir.unwrap_or_else(paths::default_data_dir);
    let journal = open_existing_journal(&data_dir)?;
    let alerts = journal.alerts(limit).await.map_err(setup_error)?;
    if json {
        let mut out = Vec::with_capacity(alerts.len());
        for a in alerts {
            let events = journal.events_of(a.id).await.map_err(setup_error)?;
            out.push(serde_json::json!({ "alert": a, "events": events }));
        }
        println!("{}", serde_json::to_string_pretty(&out).expect("JSON"));
        return Ok(());
    }
    if alerts.is_empty() {
        println!("No alerts journaled in {}", data_dir.display());
    }
    for a in alerts {
        let local = a.received_at.with_timezone(&chrono::Local);
        println!("#{}  {}  [{}]  {}", a.id, local.format("%Y-%m-%d %H:%M:%S %z"), a.state, a.subject);
        println!("    from {}", a.sender);
        for line in a.body.lines().take(3) {
            println!("    | {line}");
        }
    }
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
