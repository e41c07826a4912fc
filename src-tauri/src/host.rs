//! Hosts the engine inside the tray process: starts it with the configuration file and the
//! keyring's secrets, restarts it when a window saved the settings or stored a secret, stops it
//! on Quit, and folds its events into the tray, desktop notifications and the windows (which
//! run in processes of their own and hear it over the [`crate::link`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sentinela_engine::config::Config;
use sentinela_engine::events::{EngineEvent, EventBus};
use sentinela_engine::runner::{EngineSecrets, RunningEngine, StartError};
use sentinela_engine::timing::EngineTiming;
use tauri::{AppHandle, Manager};
use tracing::{error, info, warn};

use crate::i18n::Lang;
use crate::launcher::WindowLauncher;
use crate::link::{LinkServer, ToTray, ToWindow};
use crate::status::EngineStatus;
use crate::windows::WindowKind;
use crate::{desktop_alerts, tray};

pub struct AppState {
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    pub lang: Lang,
    /// One bus for the app's whole life, so listeners survive engine restarts.
    pub events: EventBus,
    pub engine: tokio::sync::Mutex<Option<RunningEngine>>,
    pub status: Mutex<EngineStatus>,
    launcher: WindowLauncher,
    /// Set once at start; absent if the socket could not be made (then windows still open, but
    /// cannot show the engine's state: logged loudly).
    link: OnceLock<Arc<LinkServer>>,
    /// Counts (re)starts: a retry scheduled after a failed start runs only if no other start
    /// came since (a stored secret, a save).
    starts: std::sync::atomic::AtomicU64,
    /// Failed starts in a row, for the retry's backoff.
    failed_starts: std::sync::atomic::AtomicU32,
}

/// The wait before retrying a failed start: doubling from 2 s, at most 60 s. A keyring still
/// locked right after login, a network not up yet: time fixes them, and nobody has to click.
pub fn start_retry_delay(failures: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(failures.clamp(1, 6)).min(60))
}

impl AppState {
    pub fn new(config_path: PathBuf, data_dir: PathBuf) -> Self {
        AppState {
            launcher: WindowLauncher::new(config_path.clone(), data_dir.clone()),
            config_path,
            data_dir,
            lang: Lang::current(),
            events: EventBus::default(),
            engine: tokio::sync::Mutex::new(None),
            status: Mutex::new(EngineStatus::default()),
            link: OnceLock::new(),
            starts: std::sync::atomic::AtomicU64::new(0),
            failed_starts: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Sends `message` to every open window.
    fn tell_windows(&self, message: &ToWindow) {
        if let Some(link) = self.link.get() {
            link.broadcast(message);
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
    use std::sync::atomic::Ordering;
    let state = app.state::<AppState>();
    let mut slot = state.engine.lock().await;
    let this_start = state.starts.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(old) = slot.take() {
        old.stop(Duration::from_secs(5)).await;
    }
    if !state.config_path.exists() {
        info!(path = %state.config_path.display(), "no configuration yet: opening the settings window");
        state.update_status(|s| *s = EngineStatus::default());
        tray::refresh(app);
        show_window(app, WindowKind::Settings);
        return;
    }
    // Failures in the user's words: they end up in the status line and a notification.
    let lang = state.lang;
    let started = async {
        let config = Config::load(&state.config_path).map_err(|e| lang.config_problem(&e))?;
        let secrets = EngineSecrets::load(&config).await.map_err(|e| lang.secret_problem(&e))?;
        let (events, timing) = (state.events.clone(), EngineTiming::from_env());
        let engine =
            RunningEngine::start_with_timing(&config, secrets, &state.data_dir, events, timing)
                .await
                .map_err(|e| match e {
                    StartError::Secret(e) => lang.secret_problem(&e),
                    StartError::Journal(e) => lang.journal_problem(&e),
                    StartError::Locked(e) => match lang {
                        crate::i18n::Lang::Pt => e.in_portuguese(),
                        crate::i18n::Lang::En => e.to_string(),
                    },
                })?;
        let pause = engine.journal.pause_state().await.ok();
        Ok::<_, String>((engine, pause, crate::status::Unnotified::of(&config)))
    };
    match started.await {
        Ok((engine, pause, unnotified)) => {
            state.failed_starts.store(0, Ordering::SeqCst);
            let (open_incidents, untaken_incidents) =
                engine.journal.open_incident_counts().await.unwrap_or_default();
            state.update_status(|s| {
                *s = EngineStatus {
                    configured: true,
                    pause,
                    open_incidents,
                    untaken_incidents,
                    unnotified,
                    ..Default::default()
                }
            });
            *slot = Some(engine);
        }
        Err(message) => {
            let failures = state.failed_starts.fetch_add(1, Ordering::SeqCst) + 1;
            let wait = start_retry_delay(failures);
            error!("the engine could not start (trying again in {} s): {message}", wait.as_secs());
            state.update_status(|s| {
                *s = EngineStatus {
                    configured: true,
                    start_error: Some(message.clone()),
                    retry_in_secs: Some(wait.as_secs()),
                    ..Default::default()
                }
            });
            // Said once, not at every retry.
            if failures == 1 {
                desktop_alerts::cannot_start(app, &message);
            }
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(wait).await;
                // Only if nothing (a save, a stored secret, Quit) started or stopped it meanwhile.
                if app.state::<AppState>().starts.load(Ordering::SeqCst) == this_start {
                    restart_again(app).await;
                }
            });
        }
    }
    drop(slot);
    tray::refresh(app);
    // A failed start emits no engine event, yet the windows' status line must say it.
    state.tell_windows(&ToWindow::Status { status: tray::status_view(app) });
}

/// [`restart`] as a boxed `Send` future: a retry scheduled from inside `restart` itself.
fn restart_again(
    app: AppHandle,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move { restart(&app).await })
}

/// Stops the engine politely (IMAP DONE/LOGOUT) within a few seconds.
pub async fn stop(app: &AppHandle) {
    let state = app.state::<AppState>();
    // A pending retry must not start the engine again after Quit.
    state.starts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
            if matches!(event, EngineEvent::Incident(_) | EngineEvent::JournalChanged) {
                // The counts come from the journal: another process or workstation may have acted.
                if let Some(Ok(counts)) =
                    with_engine(&app, async |e| e.journal.open_incident_counts().await).await
                {
                    state.update_status(|s| (s.open_incidents, s.untaken_incidents) = counts);
                    changed = true;
                }
            }
            if changed {
                tray::refresh(&app);
                // Before the event itself, so a window that refreshes on it reads the new state.
                state.tell_windows(&ToWindow::Status { status: tray::status_view(&app) });
            }
            desktop_alerts::on_event(&app, &event);
            match serde_json::to_value(&event) {
                Ok(event) => state.tell_windows(&ToWindow::Event { event }),
                Err(e) => warn!("an engine event could not be sent to the windows: {e}"),
            }
        }
    });
}

/// Opens the windows' link. Call inside the async runtime.
pub fn listen_for_windows(app: &AppHandle) {
    let state = app.state::<AppState>();
    let handle = app.clone();
    let heard = move |message: ToTray| -> Option<ToWindow> {
        match message {
            ToTray::Hello { .. } => {
                return Some(ToWindow::Status { status: tray::status_view(&handle) })
            }
            ToTray::SettingsSaved => {
                let app = handle.clone();
                tauri::async_runtime::spawn(async move {
                    restart(&app).await;
                    app.state::<AppState>().tell_windows(&ToWindow::SettingsUpdated);
                });
            }
            // A new password or token takes effect at once, and an engine that could not start
            // for want of it starts now: no restart of the app, no second Save.
            ToTray::SecretStored => {
                let app = handle.clone();
                tauri::async_runtime::spawn(async move { restart(&app).await });
            }
        }
        None
    };
    match LinkServer::listen(&state.data_dir, heard) {
        Ok(link) => {
            let _ = state.link.set(link);
        }
        Err(e) => error!(
            "the windows cannot reach the tray (local socket in {}): {e}",
            state.data_dir.display()
        ),
    }
}

/// Shows a window: brought to the front if open, started in its own process otherwise.
pub fn show_window(app: &AppHandle, kind: WindowKind) {
    let state = app.state::<AppState>();
    state.launcher.show(state.link.get().map(|l| &**l), kind);
}

/// Runs `f` against the running engine.
pub async fn with_engine<T>(
    app: &AppHandle,
    f: impl AsyncFnOnce(&RunningEngine) -> T,
) -> Option<T> {
    let state = app.state::<AppState>();
    let guard = state.engine.lock().await;
    match guard.as_ref() {
        Some(engine) => Some(f(engine).await),
        None => None,
    }
}
