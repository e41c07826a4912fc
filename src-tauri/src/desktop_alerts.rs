//! Desktop notifications: each new alert, each escalation's outcome, and when watching stops
//! working or recovers. The e-mail's text is shown as plain text by the notification daemon.

use sentinela_engine::events::{EngineEvent, TwilioState};
use sentinela_engine::health::WatchAlarm;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;
use tracing::warn;

use crate::host::AppState;
use crate::i18n::Key;
use crate::status::Problem;

const BODY_PREVIEW_CHARS: usize = 200;

/// Linux notification daemons read a subset of HTML in the body (`<b>`, `<img>`, …); the alert's
/// text comes from an e-mail anyone can send, so it is escaped there to stay plain text.
fn plain(text: &str) -> std::borrow::Cow<'_, str> {
    if cfg!(target_os = "linux") {
        quick_xml::escape::escape(text)
    } else {
        text.into()
    }
}

fn show(app: &AppHandle, title: &str, body: &str) {
    if let Err(e) = app.notification().builder().title(title).body(plain(body)).show() {
        warn!("desktop notification failed: {e}");
    }
}

pub fn cannot_start(app: &AppHandle, message: &str) {
    let lang = app.state::<AppState>().lang;
    show(app, lang.t(Key::NotWatching), &lang.explain(Problem::Start(message)));
}

pub fn on_event(app: &AppHandle, event: &EngineEvent) {
    let lang = app.state::<AppState>().lang;
    match event {
        EngineEvent::AlertRecorded(n) => {
            let app = app.clone();
            let (id, subject) = (n.id, n.subject.clone());
            // The body is in the journal, not in the notice: read its start for the pop-up.
            tauri::async_runtime::spawn(async move {
                let body = crate::host::with_engine(&app, async |e| e.journal.alert(id).await.ok().flatten()).await.flatten();
                let test = body.as_ref().is_some_and(|a| a.is_test);
                let preview: String = body.map(|a| a.body.chars().take(BODY_PREVIEW_CHARS).collect()).unwrap_or_default();
                let title = if test {
                    format!("{} {} — {subject}", lang.t(Key::TestMark), lang.t(Key::NewAlert))
                } else {
                    format!("{} — {subject}", lang.t(Key::NewAlert))
                };
                show(&app, &title, &preview);
            });
        }
        EngineEvent::EscalationFinished { outcome, answered_by, .. } => match (outcome.as_str(), answered_by) {
            ("answered", Some(by)) => show(app, &format!("{} {by}", lang.t(Key::AnsweredBy)), ""),
            ("unanswered", _) => show(app, lang.t(Key::NobodyAnswered), ""),
            _ => {}
        },
        EngineEvent::WatchAlarm(WatchAlarm::NotWatching { reason, .. } | WatchAlarm::CredentialsRefused { reason }) => {
            // The status already holds the watcher's problem with its kind: say it in the
            // user's language, the engine's technical words after it.
            let status = app.state::<AppState>().status();
            let body = status.problem().map(|p| lang.explain(p)).unwrap_or_else(|| reason.clone());
            show(app, lang.t(Key::NotWatching), &body)
        }
        EngineEvent::WatchAlarm(WatchAlarm::Recovered) => show(app, lang.t(Key::WatchingAgain), ""),
        EngineEvent::Twilio(TwilioState::Degraded { kind: "auth", message }) => {
            show(app, lang.t(Key::TwilioRefused), &lang.explain(Problem::TwilioCredentials(message)))
        }
        _ => {}
    }
}
