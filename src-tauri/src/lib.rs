//! Sentinela's desktop app: a thin Tauri shell over `sentinela-engine`.
//!
//! The shell starts the engine in-process ([`host`]), turns its events into the tray's state
//! ([`tray`], [`status`]), desktop notifications ([`desktop_alerts`]) and live updates for the
//! settings and history windows ([`windows`]), and exposes a few typed commands to them
//! ([`commands`]). No engine logic lives here.

#[cfg(test)]
mod bindings;
mod commands;
mod desktop_alerts;
mod error;
mod host;
mod i18n;
mod status;
mod tray;
mod windows;

use std::path::PathBuf;

use clap::Parser;
use tauri::RunEvent;
use tauri_plugin_autostart::MacosLauncher;

use crate::windows::WindowKind;

#[derive(Parser, Debug)]
#[command(name = "sentinela", version, about = "Sentinela: alert e-mails to WhatsApp and phone calls")]
struct Args {
    /// Configuration file (default: the OS config dir's sentinela.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the journal lives (default: the OS data dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Show this window at start (or in the instance already running).
    #[arg(long, value_parser = ["settings", "history"])]
    open: Option<String>,
}

/// GTK 3 on X11 loads the OpenGL driver as soon as it opens the display, only to pick visuals;
/// with Mesa's software renderer that is LLVM, some 30 MiB resident in an app that mostly sits
/// in the tray. The shell draws nothing with GL (the tray and menus are plain GTK, and WebKit
/// renders pages in its own web process), so GL stays off here unless the user asked otherwise.
/// Runs first, before any thread exists, because it changes the process environment.
fn skip_gl_in_the_tray_process() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("GDK_GL").is_none() {
        std::env::set_var("GDK_GL", "disable");
    }
}

/// The app's log: stderr, for whoever started it from a terminal, and a rotating file in the OS
/// log dir, which an operator can attach to a support request. The engine logs through
/// `tracing`; with no tracing subscriber installed its events arrive here as `log` records.
/// `SENTINELA_LOG` sets the level (error, warn, info, debug, trace; default info).
fn log_plugin() -> tauri::plugin::TauriPlugin<tauri::Wry> {
    use tauri_plugin_log::{RotationStrategy, Target, TargetKind, TimezoneStrategy};
    let level = std::env::var("SENTINELA_LOG").ok().and_then(|l| l.parse().ok()).unwrap_or(log::LevelFilter::Info);
    tauri_plugin_log::Builder::new()
        .clear_targets()
        .target(Target::new(TargetKind::Stderr))
        .target(Target::new(TargetKind::LogDir { file_name: Some("sentinela".into()) }))
        .level(level)
        .timezone_strategy(TimezoneStrategy::UseLocal)
        .max_file_size(1_000_000)
        .rotation_strategy(RotationStrategy::KeepSome(5))
        .build()
}

/// `--open X` from a second launch's arguments.
fn open_from(argv: &[String]) -> Option<WindowKind> {
    let i = argv.iter().position(|a| a == "--open")?;
    argv.get(i + 1).and_then(|w| WindowKind::parse(w))
}

pub fn run() {
    skip_gl_in_the_tray_process();
    let args = Args::parse();
    let config = args.config.unwrap_or_else(sentinela_engine::paths::default_config_file);
    let data_dir = args.data_dir.unwrap_or_else(sentinela_engine::paths::default_data_dir);
    let open_at_start = args.open.as_deref().and_then(WindowKind::parse);

    let app = tauri::Builder::default()
        // First: a second launch must reach the running instance before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            windows::show(app, open_from(&argv).unwrap_or(WindowKind::History));
        }))
        .plugin(log_plugin())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(MacosLauncher::LaunchAgent, None))
        .manage(host::AppState::new(config, data_dir))
        .invoke_handler(tauri::generate_handler![
            commands::get_settings,
            commands::validate_settings,
            commands::save_settings,
            commands::secret_status,
            commands::store_secret,
            commands::test_mailbox,
            commands::test_whatsapp,
            commands::test_call,
            commands::list_alerts,
            commands::alert_detail,
            commands::engine_status,
            commands::export_csv,
        ])
        .setup(move |app| {
            tray::create(app.handle())?;
            host::spawn_event_loop(app.handle().clone());
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { host::restart(&handle).await });
            if let Some(kind) = open_at_start {
                windows::show(app.handle(), kind);
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the Tauri application could not be built");

    app.run(|_app, event| {
        // Closing the last window keeps Sentinela in the tray; only Quit (exit code set) ends it.
        if let RunEvent::ExitRequested { code: None, api, .. } = event {
            api.prevent_exit();
        }
    });
}
