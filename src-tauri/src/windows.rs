//! The two windows, settings and history. Each lives in a process of its own
//! ([`crate::window_process`]), started by the tray ([`crate::launcher`]): closing the window
//! ends that process and gives back all the memory its webview took.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

use crate::i18n::{Key, Lang};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    Settings,
    History,
}

impl WindowKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "settings" => Some(WindowKind::Settings),
            "history" => Some(WindowKind::History),
            _ => None,
        }
    }

    /// The window's label (what the capabilities name) and its command-line name.
    pub fn label(self) -> &'static str {
        match self {
            WindowKind::Settings => "settings",
            WindowKind::History => "history",
        }
    }

    fn page(self) -> &'static str {
        match self {
            WindowKind::Settings => "settings.html",
            WindowKind::History => "history.html",
        }
    }

    fn title(self, lang: Lang) -> String {
        let name = match self {
            WindowKind::Settings => lang.t(Key::Settings),
            WindowKind::History => match lang {
                Lang::Pt => "Histórico",
                Lang::En => "History",
            },
        };
        format!("Sentinela — {name}")
    }
}

/// Builds the window in this process.
pub fn build(app: &AppHandle, kind: WindowKind, lang: Lang) -> tauri::Result<()> {
    WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::App(kind.page().into()))
        .title(kind.title(lang))
        .inner_size(980.0, 720.0)
        .min_inner_size(640.0, 480.0)
        .build()
        .map(|_| ())
}

/// Brings the window to the front.
pub fn focus(app: &AppHandle, kind: WindowKind) {
    if let Some(w) = app.get_webview_window(kind.label()) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}
