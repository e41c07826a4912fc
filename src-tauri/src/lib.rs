//! Sentinela's desktop app: a thin Tauri shell over `sentinela-engine`, in two kinds of process.
//!
//! The tray process ([`tray_process`]) runs the engine ([`host`]) and turns its events into the
//! tray's state ([`tray`], [`status`]) and desktop notifications ([`desktop_alerts`]). Each
//! window (settings, history) is a process of its own ([`window_process`], [`windows`]), started
//! by the tray ([`launcher`]) and linked to it ([`link`]); its page calls a few typed commands
//! ([`commands`]). No engine logic lives here.

#[cfg(test)]
mod bindings;
mod commands;
mod desktop_alerts;
mod error;
mod host;
mod i18n;
mod launcher;
mod link;
mod status;
mod tray;
mod tray_process;
mod webview_check;
mod window_process;
mod windows;

use std::path::PathBuf;

use clap::Parser;

use crate::windows::WindowKind;

#[derive(Parser, Debug)]
#[command(
    name = "sentinela",
    version,
    about = "Sentinela: alert e-mails to WhatsApp and phone calls"
)]
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
    /// Be that window's process (the tray process starts one per open window).
    #[arg(long, value_parser = ["settings", "history"], hide = true)]
    window: Option<String>,
}

/// GTK 3 on X11 loads the OpenGL driver as soon as it opens the display, only to pick visuals;
/// with Mesa's software renderer that is LLVM, some 30 MiB resident in an app that mostly sits
/// in the tray. The shell draws nothing with GL (the tray and menus are plain GTK, and WebKit
/// renders pages in its own web process), so GL stays off here unless the user asked otherwise.
/// Runs first, before any thread exists, because it changes the process environment.
fn skip_gl() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("GDK_GL").is_none() {
        std::env::set_var("GDK_GL", "disable");
    }
}

/// The app's log: stderr, for whoever started it from a terminal, and a rotating file in the OS
/// log dir (`file_name`.log: one per kind of process), which an operator can attach to a support
/// request. The engine logs through
/// `tracing`; with no tracing subscriber installed its events arrive here as `log` records.
/// `SENTINELA_LOG` sets the level (error, warn, info, debug, trace; default info).
fn log_plugin(file_name: &str) -> tauri::plugin::TauriPlugin<tauri::Wry> {
    use tauri_plugin_log::{RotationStrategy, Target, TargetKind, TimezoneStrategy};
    let level = std::env::var("SENTINELA_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(log::LevelFilter::Info);
    // The wire protocols' libraries print secrets and whole e-mails at trace, the database
    // client statements' parameters at debug: capped (see sentinela_engine::logging).
    let builder = sentinela_engine::logging::caps()
        .fold(tauri_plugin_log::Builder::new(), |b, (t, most)| {
            b.level_for(t, level.min(most.parse().unwrap_or(log::LevelFilter::Info)))
        });
    builder
        .clear_targets()
        .target(Target::new(TargetKind::Stderr))
        .target(Target::new(TargetKind::LogDir { file_name: Some(file_name.into()) }))
        .level(level)
        .timezone_strategy(TimezoneStrategy::UseLocal)
        .max_file_size(1_000_000)
        .rotation_strategy(RotationStrategy::KeepSome(5))
        .build()
}

/// The logs hold alert subjects and addresses: their folder is private to the user (0700), and
/// so are the files already in it.
fn private_logs(app: &tauri::AppHandle) {
    use tauri::Manager;
    let Ok(dir) = app.path().app_log_dir() else { return };
    if let Err(e) = sentinela_engine::files::private_dir(&dir) {
        log::warn!("cannot make the log folder {} private: {e}", dir.display());
    }
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let _ = sentinela_engine::files::private_file(&entry.path());
    }
}

pub fn run() {
    skip_gl();
    let args = Args::parse();
    let config = args.config.unwrap_or_else(sentinela_engine::paths::default_config_file);
    let data_dir = args.data_dir.unwrap_or_else(sentinela_engine::paths::default_data_dir);
    match args.window.as_deref().and_then(WindowKind::parse) {
        Some(kind) => window_process::run(config, data_dir, kind),
        None => {
            tray_process::run(config, data_dir, args.open.as_deref().and_then(WindowKind::parse))
        }
    }
}
