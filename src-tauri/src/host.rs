//! Hosts the engine inside the app: starts it with the configuration file and the keyring's
//! secrets, restarts it when the settings are saved, stops it on Quit, and folds its events into
//! the tray, the windows and desktop notifications.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use sentinela_engine::config::Config;
use sentinela_engine::events::EventBus;
use sentinela_engine::journal::AlertJournal;
use sentinela_engine::runner::{EngineSecrets, RunningEngine, StartError};
use tauri::{AppHandle, Emitter, Manager};
use tracing::{error, info, warn};

use crate::i18n::Lang;
use crate::status::EngineStatus;
use crate::{desktop_alerts, tray, windows};

/// Event name under which engine events reach the windows.
pub const ENGINE_EVENT: &str = "engine://event";
/// Sent to every window when the settings file changed.
pub const SETTINGS_UPDATED: &str = "settings://updated";
/// Sent to every window after the engine was (re)started or failed to start: a failed start
/// emits no engine event, yet the status line must say it.
pub const STATUS_CHANGED: &str = "status://changed";

pub struct AppState {
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    pub lang: Lang,
    /// One bus for the app's whole life, so listeners survive engine restarts.
    pub events: EventBus,
    pub engine: tokio::sync::Mutex<Option<RunningEngine>>,
    pub status: Mutex<EngineStatus>,
}

impl AppState {
    pub fn new(config_path: PathBuf, data_dir: PathBuf) -> Self {
        AppState {
            config_path,
            data_dir,
            lang: Lang::current(),
            events: EventBus::default(),
            engine: tokio::sync::Mutex::new(None),
            status: Mutex::new(EngineStatus::default()),
        }
    }

    pub fn status(&self) -> EngineStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn update_status(&self, f: impl FnOnce(&mut EngineStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// (Re)starts the engine from the configuration file. With no file yet, opens the settings.
pub async fn restart(app: &AppHandle) {
    let state = app.state::<AppState>();
    let mut slot = state.engine.lock().await;
    if let Some(old) = slot.take() {
        old.stop(Duration::from_secs(5)).await;
    }
    if !state.config_path.exists() {
        info!(path = %state.config_path.display(), "no configuration yet: opening the settings window");
        state.update_status(|s| *s = EngineStatus::default());
        tray::refresh(app);
        windows::show(app, windows::WindowKind::Settings);
        return;
    }
    // Failures in the user's words: they end up in the status line and a notification.
    let lang = state.lang;
    let started = async {
        let config = Config::load(&state.config_path).map_err(|e| lang.config_problem(&e))?;
        let secrets = EngineSecrets::load(&config).await.map_err(|e| lang.secret_problem(&e))?;
        let engine = RunningEngine::start(&config, secrets, &state.data_dir, state.events.clone()).await.map_err(|e| match e {
            StartError::Secret(e) => lang.secret_problem(&e),
            other => other.to_string(),
        })?;
        let pause = engine.journal.pause_state().await.ok();
        Ok::<_, String>((engine, pause))
    };
    match started.await {
        Ok((engine, pause)) => {
            state.update_status(|s| *s = EngineStatus { configured: true, pause, ..Default::default() });
            *slot = Some(engine);
        }
        Err(message) => {
            error!("the engine could not start: {message}");
            state.update_status(|s| *s = EngineStatus { configured: true, start_error: Some(message.clone()), ..Default::default() });
            desktop_alerts::cannot_start(app, &message);
        }
    }
    drop(slot);
    tray::refresh(app);
    let _ = app.emit(STATUS_CHANGED, ());
}

/// Stops the engine politely (IMAP DONE/LOGOUT) within a few seconds.
pub async fn stop(app: &AppHandle) {
    let state = app.state::<AppState>();
    let engine = state.engine.lock().await.take();
    if let Some(engine) = engine {
        engine.stop(Duration::from_secs(5)).await;
    }
}

/// Forwards every engine event to the tray, the windows and desktop notifications.
pub fn spawn_event_loop(app: AppHandle) {
    let mut rx = app.state::<AppState>().events.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    warn!("the desktop missed {n} engine events");
                    continue;
                }
                Err(_) => return,
            };
            let state = app.state::<AppState>();
            let mut changed = false;
            state.update_status(|s| changed = s.apply(&event));
            if changed {
                tray::refresh(&app);
            }
            desktop_alerts::on_event(&app, &event);
            let _ = app.emit(ENGINE_EVENT, &event);
        }
    });
}

/// The journal: the running engine's, or opened from the data directory when the engine is not
/// running (not configured yet, or a secret missing) so the history stays readable.
pub async fn journal(app: &AppHandle) -> Result<AlertJournal, crate::error::AppError> {
    let state = app.state::<AppState>();
    if let Some(engine) = state.engine.lock().await.as_ref() {
        return Ok(engine.journal.clone());
    }
    Ok(AlertJournal::open_in_dir(&state.data_dir)?)
}

/// Runs `f` against the running engine.
pub async fn with_engine<T>(app: &AppHandle, f: impl AsyncFnOnce(&RunningEngine) -> T) -> Option<T> {
    let state = app.state::<AppState>();
    let guard = state.engine.lock().await;
    match guard.as_ref() {
        Some(engine) => Some(f(engine).await),
        None => None,
    }
}

/// Emitted after the settings were saved, so open windows reload their copy.
pub fn settings_updated(app: &AppHandle) {
    let _ = app.emit(SETTINGS_UPDATED, ());
}
