//! A window process: `sentinela --window settings|history` shows one window and ends when it is
//! closed, taking WebKit's processes and memory with it. The tray process starts it; so may an
//! administrator or a test. It reads and writes the settings file, the keyring and the journal
//! itself, and hears the engine's state from the tray process over the [`crate::link`]: it tells
//! the tray when the settings or a secret changed, and closes when the tray process ends (Quit).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use sentinela_engine::journal::AlertJournal;
use tauri::{AppHandle, Emitter, Manager};
use tracing::info;

use crate::error::AppError;
use crate::i18n::{Key, Lang};
use crate::link::{LinkClient, ToTray, ToWindow};
use crate::status::{StatusView, TrayState};
use crate::windows::{self, WindowKind};

/// Event names under which the tray's news reach the page (`ui/src/ipc.ts`).
const ENGINE_EVENT: &str = "engine://event";
const SETTINGS_UPDATED: &str = "settings://updated";
/// The engine was (re)started or failed to start, or the tray came or went: ask the status again.
const STATUS_CHANGED: &str = "status://changed";

/// How often a window with no tray to talk to looks for one again.
const RECONNECT_EVERY: Duration = Duration::from_secs(2);

/// What the commands of a window process work with.
pub struct WindowProcess {
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    pub lang: Lang,
    journal: Mutex<Option<AlertJournal>>,
    link: Mutex<Option<LinkClient>>,
    /// The tray's last word on the engine; None while no tray process is linked.
    status: Mutex<Option<StatusView>>,
}

impl WindowProcess {
    fn new(config_path: PathBuf, data_dir: PathBuf) -> Self {
        WindowProcess {
            config_path,
            data_dir,
            lang: Lang::current(),
            journal: Mutex::default(),
            link: Mutex::default(),
            status: Mutex::default(),
        }
    }

    /// The journal the configuration names, opened on first use: the SQLite file in the data
    /// directory (WAL mode: the engine in the tray process writes it meanwhile), or the team's
    /// shared journal with `[journal]`, so the history shows what every workstation journaled.
    pub async fn journal(&self) -> Result<AlertJournal, AppError> {
        if let Some(j) = self.journal.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(j.clone());
        }
        let shared = sentinela_engine::config::Config::load(&self.config_path)
            .ok()
            .filter(|c| c.journal.is_some());
        let journal = match shared {
            Some(config) => {
                let password = sentinela_engine::runner::journal_password().await;
                sentinela_engine::runner::open_journal(&config, &self.data_dir, password.as_ref())
                    .await?
            }
            None => AlertJournal::open_in_dir(&self.data_dir)?,
        };
        *self.journal.lock().unwrap_or_else(|p| p.into_inner()) = Some(journal.clone());
        Ok(journal)
    }

    /// The engine's state, or that nothing is watching when no tray process is running.
    pub fn status(&self) -> StatusView {
        let status = self.status.lock().unwrap_or_else(|p| p.into_inner()).clone();
        status.unwrap_or_else(|| StatusView {
            state: TrayState::Degraded,
            text: self.lang.t(Key::NotRunning).to_owned(),
        })
    }

    /// Tells the tray process what changed, so the engine restarts with it. False without a
    /// tray: there is no engine to restart, and its next start reads the new settings anyway.
    pub fn tell_tray(&self, message: ToTray) -> bool {
        match self.link.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(link) => link.send(message),
            None => false,
        }
    }
}

/// Keeps the window linked to the tray process: waits for one if none is running yet, and
/// closes the window when the tray process it was linked to ends.
async fn stay_linked(app: AppHandle, kind: WindowKind) {
    let state = app.state::<WindowProcess>();
    let mut inbox = loop {
        match LinkClient::connect(&state.data_dir, kind).await {
            Ok((client, inbox)) => {
                *state.link.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
                break inbox;
            }
            Err(_) => tokio::time::sleep(RECONNECT_EVERY).await,
        }
    };
    while let Some(message) = inbox.recv().await {
        let _ = match message {
            ToWindow::Status { status } => {
                *state.status.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
                app.emit(STATUS_CHANGED, ())
            }
            ToWindow::Event { event } => app.emit(ENGINE_EVENT, event),
            ToWindow::SettingsUpdated => app.emit(SETTINGS_UPDATED, ()),
            ToWindow::Focus => {
                windows::focus(&app, kind);
                Ok(())
            }
        };
    }
    info!("the tray process ended: closing the {} window", kind.label());
    app.exit(0);
}

pub fn run(config_path: PathBuf, data_dir: PathBuf, kind: WindowKind) {
    let lang = Lang::current();
    if crate::webview_check::tell_if_missing(lang).is_some() {
        // The tray sees this window end, as when it is closed.
        std::process::exit(3);
    }
    let app = tauri::Builder::default()
        .plugin(crate::log_plugin("sentinela-window"))
        .plugin(tauri_plugin_opener::init())
        .manage(WindowProcess::new(config_path, data_dir))
        .invoke_handler(tauri::generate_handler![
            crate::commands::get_settings,
            crate::commands::get_lang,
            crate::commands::validate_settings,
            crate::commands::save_settings,
            crate::commands::secret_status,
            crate::commands::store_secret,
            crate::commands::test_mailbox,
            crate::commands::sign_in_mailbox,
            crate::commands::test_whatsapp,
            crate::commands::test_call,
            crate::commands::test_journal,
            crate::commands::list_incidents,
            crate::commands::list_rejected,
            crate::commands::incident_detail,
            crate::commands::acknowledge_incident,
            crate::commands::resolve_incident,
            crate::commands::engine_status,
            crate::commands::export_csv,
        ])
        .setup(move |app| {
            windows::build(app.handle(), kind, lang)?;
            tauri::async_runtime::spawn(stay_linked(app.handle().clone(), kind));
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the Tauri application could not be built");
    // Closing the window ends the process: Tauri exits when its last window is gone.
    app.run(|_, _| {});
}
