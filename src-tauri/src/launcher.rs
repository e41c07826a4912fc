//! Opens the windows from the tray process: brings a window to the front when a process already
//! shows it, otherwise starts `sentinela --window KIND` with the tray's own configuration file
//! and data directory. The tray process itself never makes a webview.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tracing::{error, info};

use crate::link::LinkServer;
use crate::windows::WindowKind;

pub struct WindowLauncher {
    config_path: PathBuf,
    data_dir: PathBuf,
    /// Window processes started here and still running; one may not have connected yet.
    running: Arc<Mutex<HashSet<WindowKind>>>,
}

impl WindowLauncher {
    pub fn new(config_path: PathBuf, data_dir: PathBuf) -> Self {
        WindowLauncher { config_path, data_dir, running: Arc::default() }
    }

    /// Shows the window: focused if open, started otherwise.
    pub fn show(&self, link: Option<&LinkServer>, kind: WindowKind) {
        if link.is_some_and(|l| l.focus(kind)) {
            return;
        }
        if !self.running.lock().unwrap_or_else(|p| p.into_inner()).insert(kind) {
            // Started a moment ago and not connected yet (or the link is down): one is enough.
            return;
        }
        let (config, data, running) =
            (self.config_path.clone(), self.data_dir.clone(), self.running.clone());
        // Spawned inside the async runtime, which reaps the child when its window closes.
        tauri::async_runtime::spawn(async move {
            let spawned = std::env::current_exe().and_then(|exe| {
                tokio::process::Command::new(exe)
                    .arg("--window")
                    .arg(kind.label())
                    .arg("--config")
                    .arg(&config)
                    .arg("--data-dir")
                    .arg(&data)
                    .stdin(std::process::Stdio::null())
                    .spawn()
            });
            match spawned {
                Ok(mut child) => {
                    info!("opening the {} window (process {:?})", kind.label(), child.id());
                    let _ = child.wait().await;
                }
                Err(e) => error!("cannot open the {} window: {e}", kind.label()),
            }
            running.lock().unwrap_or_else(|p| p.into_inner()).remove(&kind);
        });
    }
}
