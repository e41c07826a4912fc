//! Desktop notifications: one per incident opened, acknowledged, resolved (never per repeat
//! e-mail), when its calls went unanswered, and when watching stops working or recovers. The
//! e-mail's text is shown as plain text by the notification daemon.

use sentinela_engine::events::{EngineEvent, TwilioProblem, TwilioState};
use sentinela_engine::health::WatchAlarm;
use sentinela_engine::incident::IncidentEventKind;
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
        EngineEvent::Incident(change) => {
            let i = &change.incident;
            let key = match change.kind {
                IncidentEventKind::Opened | IncidentEventKind::Released => Key::IncidentOpened,
                IncidentEventKind::Reopened => Key::IncidentReopened,
                IncidentEventKind::Acknowledged => Key::IncidentAcknowledged,
                IncidentEventKind::Recovered | IncidentEventKind::Resolved => Key::IncidentResolved,
                IncidentEventKind::Held => Key::IncidentHeld,
                IncidentEventKind::Unanswered => Key::NobodyAnswered,
                _ => return,
            };
            let test = if i.test { format!("{} ", lang.t(Key::TestMark)) } else { String::new() };
            let title = format!("{test}{} #{} — {}", lang.t(key), i.id, i.title);
            let title: String = title.chars().take(BODY_PREVIEW_CHARS).collect();
            match (change.kind, &i.acknowledged_by) {
                (IncidentEventKind::Acknowledged, Some(by)) => {
                    show(app, &title, &format!("{} {by}", lang.t(Key::By)))
                }
                (
                    IncidentEventKind::Opened
                    | IncidentEventKind::Reopened
                    | IncidentEventKind::Released,
                    _,
                ) => {
                    // The text is in the journal, not in the event: the latest e-mail's start.
                    let (app, id) = (app.clone(), i.id);
                    tauri::async_runtime::spawn(async move {
                        let latest = crate::host::with_engine(&app, async |e| {
                            e.journal.alerts_of(id).await.ok()
                        })
                        .await
                        .flatten();
                        let preview: String = latest
                            .and_then(|mut a| a.pop())
                            .map(|a| a.body.chars().take(BODY_PREVIEW_CHARS).collect())
                            .unwrap_or_default();
                        show(&app, &title, &preview);
                    });
                }
                _ => show(app, &title, ""),
            }
        }
        EngineEvent::WatchAlarm(
            WatchAlarm::NotWatching { reason, .. } | WatchAlarm::CredentialsRefused { reason },
        ) => {
            // The status already holds the watcher's problem with its kind: say it in the
            // user's language, the engine's technical words after it.
            let status = app.state::<AppState>().status();
            let body = status.problem().map(|p| lang.explain(p)).unwrap_or_else(|| reason.clone());
            show(app, lang.t(Key::NotWatching), &body)
        }
        EngineEvent::WatchAlarm(WatchAlarm::Recovered) => show(app, lang.t(Key::WatchingAgain), ""),
        EngineEvent::WatchAlarm(WatchAlarm::TwilioUnreachable { reason, .. }) => {
            show(app, lang.t(Key::TwilioDown), &lang.explain(Problem::TwilioUnreachable(reason)))
        }
        EngineEvent::WatchAlarm(WatchAlarm::TwilioRecovered) => {
            show(app, lang.t(Key::TwilioBack), "")
        }
        EngineEvent::WatchAlarm(WatchAlarm::SensorSilent { since }) => {
            show(app, lang.t(Key::SensorSilent), &lang.explain(Problem::SensorSilent(*since)))
        }
        EngineEvent::WatchAlarm(WatchAlarm::SensorHeardAgain) => {
            show(app, lang.t(Key::SensorBack), "")
        }
        EngineEvent::WatchAlarm(WatchAlarm::JournalFailing { reason }) => {
            show(app, lang.t(Key::JournalFailing), &lang.explain(Problem::Journal(reason)))
        }
        EngineEvent::WatchAlarm(WatchAlarm::JournalRecovered) => {
            show(app, lang.t(Key::JournalBack), "")
        }
        EngineEvent::WatchAlarm(WatchAlarm::JournalReplaced { moved_to }) => {
            show(app, lang.t(Key::JournalReplaced), moved_to)
        }
        EngineEvent::WatchAlarm(WatchAlarm::SharedJournalUnreachable { reason, .. }) => {
            show(app, lang.t(Key::SharedJournalDown), &lang.explain(Problem::SharedJournal(reason)))
        }
        EngineEvent::WatchAlarm(WatchAlarm::SharedJournalReachable) => {
            show(app, lang.t(Key::SharedJournalBack), "")
        }
        EngineEvent::ManagerFailed { manager, reason, .. } => show(
            app,
            lang.t(Key::ManagerStopped),
            &lang.explain(Problem::Manager { name: manager, reason }),
        ),
        EngineEvent::Twilio(TwilioState::Degraded { kind: TwilioProblem::Auth, message }) => show(
            app,
            lang.t(Key::TwilioRefused),
            &lang.explain(Problem::TwilioCredentials(message)),
        ),
        _ => {}
    }
}
