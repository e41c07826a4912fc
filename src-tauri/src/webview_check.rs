//! The windows need a webview runtime — on Windows, Microsoft Edge WebView2, which Windows 11
//! and an updated Windows 10 have and an older Windows 10 may lack. Without it a window process
//! would end without a word; it says instead, natively, what to install — and that the tray,
//! which makes no webview, keeps watching the mailbox and notifying all the same.

use crate::i18n::Lang;

/// Where Microsoft's Evergreen WebView2 bootstrapper is.
pub const WEBVIEW2_DOWNLOAD: &str = "https://go.microsoft.com/fwlink/p/?LinkId=2124703";

/// What the user is told when the runtime is missing (`why`: what the system said).
pub fn missing_text(lang: Lang, why: &str) -> String {
    match lang {
        Lang::Pt => format!(
            "O Sentinela precisa do Microsoft Edge WebView2 Runtime para abrir esta janela, e ele não está instalado neste computador ({why}).\n\n\
             Instale-o de {WEBVIEW2_DOWNLOAD} (ou peça ao suporte de TI) e abra a janela de novo.\n\n\
             Os alertas continuam: o Sentinela na bandeja segue vigiando a caixa de e-mail e avisando a equipe."
        ),
        Lang::En => format!(
            "Sentinela needs the Microsoft Edge WebView2 Runtime to open this window, and it is not installed on this computer ({why}).\n\n\
             Install it from {WEBVIEW2_DOWNLOAD} (or ask your IT support) and open the window again.\n\n\
             Alerts go on: Sentinela in the tray keeps watching the mailbox and notifying the team."
        ),
    }
}

/// None when the webview runtime is there; else the message, already shown (a native dialog
/// on Windows) and written to stderr and the log.
pub fn tell_if_missing(lang: Lang) -> Option<String> {
    let why = tauri::webview_version().err()?.to_string();
    let text = missing_text(lang, &why);
    tracing::error!("{text}");
    eprintln!("sentinela: {text}");
    #[cfg(windows)]
    show_dialog(&text);
    Some(text)
}

#[cfg(windows)]
fn show_dialog(text: &str) {
    use windows_sys::Win32::UI::WindowsAndMessaging::{MessageBoxW, MB_ICONWARNING, MB_OK};
    let wide = |s: &str| s.encode_utf16().chain(std::iter::once(0)).collect::<Vec<u16>>();
    let (text, title) = (wide(text), wide("Sentinela"));
    // SAFETY: both strings are NUL-terminated and outlive the call; no owner window.
    unsafe {
        MessageBoxW(std::ptr::null_mut(), text.as_ptr(), title.as_ptr(), MB_OK | MB_ICONWARNING)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_what_to_install_and_that_alerts_go_on() {
        for (lang, goes_on) in [(Lang::Pt, "Os alertas continuam"), (Lang::En, "Alerts go on")] {
            let text = missing_text(lang, "no runtime");
            assert!(
                text.contains("WebView2")
                    && text.contains(WEBVIEW2_DOWNLOAD)
                    && text.contains(goes_on)
                    && text.contains("no runtime"),
                "{text}"
            );
        }
    }
}
