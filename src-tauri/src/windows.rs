//! The two windows. Closing one destroys it, which releases its webview (memory); the app lives
//! on in the tray, and opening the window again builds a fresh one.

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};
use tracing::error;

use crate::host::AppState;
use crate::i18n::{Key, Lang};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    fn label(self) -> &'static str {
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

/// Shows the window, building it if it is not open, and brings it to the front.
pub fn show(app: &AppHandle, kind: WindowKind) {
    if let Some(w) = app.get_webview_window(kind.label()) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let lang = app.state::<AppState>().lang;
    let built = WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::App(kind.page().into()))
        .title(kind.title(lang))
        .inner_size(980.0, 720.0)
        .min_inner_size(640.0, 480.0)
        .build();
    if let Err(e) = built {
        error!("cannot open the {} window: {e}", kind.label());
    }
}
