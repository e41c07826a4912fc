//! The tray process: the engine, the tray icon and menu, desktop notifications, single
//! instance and start-with-the-system. It never makes a webview: the windows are processes of
//! their own ([`crate::window_process`]), so the tray stays small for the days it runs alone.

use std::path::PathBuf;

use tauri::RunEvent;
use tauri_plugin_autostart::MacosLauncher;

use crate::windows::WindowKind;
use crate::{host, tray};

/// `--open X` from a second launch's arguments.
fn open_from(argv: &[String]) -> Option<WindowKind> {
    let i = argv.iter().position(|a| a == "--open")?;
    argv.get(i + 1).and_then(|w| WindowKind::parse(w))
}

pub fn run(config_path: PathBuf, data_dir: PathBuf, open_at_start: Option<WindowKind>) {
    let app = tauri::Builder::default()
        // First: a second launch must reach the running instance before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            host::show_window(app, open_from(&argv).unwrap_or(WindowKind::History));
        }))
        .plugin(crate::log_plugin("sentinela"))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(MacosLauncher::LaunchAgent, None))
        .manage(host::AppState::new(config_path, data_dir))
        .setup(move |app| {
            crate::private_logs(app.handle());
            tray::create(app.handle())?;
            // The link is served by the async runtime, so it is opened inside it.
            let handle = app.handle().clone();
            tauri::async_runtime::block_on(async { host::listen_for_windows(&handle) });
            host::spawn_event_loop(app.handle().clone());
            tauri::async_runtime::spawn(async move { host::restart(&handle).await });
            if let Some(kind) = open_at_start {
                host::show_window(app.handle(), kind);
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the Tauri application could not be built");

    app.run(|_app, event| {
        // With no window of its own the tray process would be asked to exit at once; only Quit
        // (exit code set) ends it.
        if let RunEvent::ExitRequested { code: None, api, .. } = event {
            api.prevent_exit();
        }
    });
}
