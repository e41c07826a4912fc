//! The tray icon: its shape says the state at a glance, its tooltip and first menu line say it in
//! words, and its menu holds the operator's actions. Menu ids are constants; the texts are
//! updated in place when the state changes.

use std::sync::Mutex;

use chrono::Utc;
use sentinela_engine::events::NotifierState;
use sentinela_engine::journal::PauseState;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};
use tauri_plugin_autostart::ManagerExt;
use tracing::{error, warn};

use crate::host::{self, AppState};
use crate::i18n::{Key, Lang};
use crate::status::{StatusView, TrayState};
use crate::windows::WindowKind;

pub const TRAY_ID: &str = "sentinela";
pub mod ids {
    pub const STATUS: &str = "status";
    pub const HISTORY: &str = "open-history";
    pub const SETTINGS: &str = "open-settings";
    pub const PAUSE_30: &str = "pause-30m";
    pub const PAUSE_2H: &str = "pause-2h";
    pub const PAUSE_FOREVER: &str = "pause-until-resumed";
    pub const RESUME: &str = "resume";
    pub const TEST_ALERT: &str = "send-test-alert";
    pub const ACK_ALL: &str = "acknowledge-all";
    pub const AUTOSTART: &str = "autostart";
    pub const QUIT: &str = "quit";
}

/// Handles to the items whose text or state changes.
pub struct TrayMenu {
    status: MenuItem<tauri::Wry>,
    resume: MenuItem<tauri::Wry>,
    ack_all: MenuItem<tauri::Wry>,
}

fn icon(state: TrayState) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        TrayState::Watching => include_bytes!("../icons/tray-watching.png"),
        TrayState::Alerting => include_bytes!("../icons/tray-alerting.png"),
        TrayState::Degraded | TrayState::NotConfigured | TrayState::Unnotified => {
            include_bytes!("../icons/tray-degraded.png")
        }
        TrayState::Paused => include_bytes!("../icons/tray-paused.png"),
    };
    Image::from_bytes(bytes).expect("bundled tray icons are valid PNG")
}

pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let lang = app.state::<AppState>().lang;
    let item = |id: &str, key: Key| MenuItem::with_id(app, id, lang.t(key), true, None::<&str>);
    let status =
        MenuItem::with_id(app, ids::STATUS, lang.t(Key::NotConfigured), false, None::<&str>)?;
    let resume = MenuItem::with_id(app, ids::RESUME, lang.t(Key::Resume), false, None::<&str>)?;
    let ack_all = MenuItem::with_id(app, ids::ACK_ALL, lang.t(Key::AckAll), false, None::<&str>)?;
    let autostart_on = app.autolaunch().is_enabled().unwrap_or(false);
    let autostart = CheckMenuItem::with_id(
        app,
        ids::AUTOSTART,
        lang.t(Key::Autostart),
        true,
        autostart_on,
        None::<&str>,
    )?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &item(ids::HISTORY, Key::OpenHistory)?,
            &ack_all,
            &item(ids::SETTINGS, Key::Settings)?,
            &PredefinedMenuItem::separator(app)?,
            &item(ids::PAUSE_30, Key::Pause30)?,
            &item(ids::PAUSE_2H, Key::Pause2h)?,
            &item(ids::PAUSE_FOREVER, Key::PauseForever)?,
            &resume,
            &PredefinedMenuItem::separator(app)?,
            &item(ids::TEST_ALERT, Key::TestAlert)?,
            &autostart,
            &PredefinedMenuItem::separator(app)?,
            &item(ids::QUIT, Key::Quit)?,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(TrayState::NotConfigured))
        .tooltip("Sentinela")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(Mutex::new(TrayMenu { status, resume, ack_all }));
    Ok(())
}

fn on_menu(app: &AppHandle, id: &str) {
    let minutes = |m: i64| Some(Utc::now() + chrono::Duration::minutes(m));
    match id {
        ids::HISTORY => host::show_window(app, WindowKind::History),
        ids::SETTINGS => host::show_window(app, WindowKind::Settings),
        ids::PAUSE_30 => pause(app, minutes(30)),
        ids::PAUSE_2H => pause(app, minutes(120)),
        ids::PAUSE_FOREVER => pause(app, None),
        ids::RESUME => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                host::with_engine(&app, async |e| {
                    if let Err(err) = e.resume_notifications().await {
                        error!("cannot resume notifications: {err}");
                    }
                })
                .await;
            });
        }
        ids::ACK_ALL => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                match host::with_engine(&app, async |e| e.acknowledge_all(None).await).await {
                    Some(Ok(n)) => tracing::info!("{n} incident(s) acknowledged from the tray"),
                    Some(Err(err)) => error!("cannot acknowledge the incidents: {err}"),
                    None => warn!("the engine is not running"),
                }
            });
        }
        ids::TEST_ALERT => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let sent = host::with_engine(&app, async |e| {
                    e.send_test_alert().await.map_err(|err| err.to_string())
                })
                .await;
                match sent {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => error!("cannot send the test alert: {e}"),
                    None => warn!("the engine is not running: configure Sentinela first"),
                }
            });
        }
        ids::AUTOSTART => {
            let launcher = app.autolaunch();
            let result = if launcher.is_enabled().unwrap_or(false) {
                launcher.disable()
            } else {
                launcher.enable()
            };
            if let Err(e) = result {
                error!("cannot change start-with-the-system: {e}");
            }
        }
        ids::QUIT => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                host::stop(&app).await;
                app.exit(0);
            });
        }
        _ => {}
    }
}

fn pause(app: &AppHandle, until: Option<chrono::DateTime<Utc>>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        host::with_engine(&app, async |e| {
            if let Err(err) = e.pause_notifications(until).await {
                error!("cannot pause notifications: {err}");
            }
        })
        .await;
    });
}

/// The status line, in words: the same text as the tooltip.
pub fn status_view(app: &AppHandle) -> StatusView {
    let state = app.state::<AppState>();
    let s = state.status();
    status_text(&s, state.lang, Utc::now())
}

/// The status line of `s` in `lang` at `now`.
fn status_text(
    s: &crate::status::EngineStatus,
    lang: Lang,
    now: chrono::DateTime<Utc>,
) -> StatusView {
    let tray_state = s.state(now);
    let text = match tray_state {
        TrayState::Watching | TrayState::Alerting => {
            let word = lang.t(if tray_state == TrayState::Watching {
                Key::Watching
            } else {
                Key::Alerting
            });
            let word = match (s.open_incidents, s.untaken_incidents) {
                (0, _) => word.to_owned(),
                (open, 0) => format!("{word} — {open} {}", lang.t(Key::OpenIncidents)),
                (open, untaken) => format!(
                    "{word} — {open} {} ({untaken} {})",
                    lang.t(Key::OpenIncidents),
                    lang.t(Key::Untaken)
                ),
            };
            let word = match s.last_check {
                Some(t) => format!(
                    "{word} — {} {}",
                    lang.t(Key::LastCheck),
                    t.with_timezone(&chrono::Local).format("%H:%M:%S")
                ),
                None => word,
            };
            // On a shared journal, who sends the messages and places the calls.
            match &s.notifier {
                Some(NotifierState::ThisWorkstation { .. }) => {
                    format!("{word} — {}", lang.t(Key::NotifyingHere))
                }
                Some(NotifierState::Elsewhere { name, silent_secs, twilio_problem }) => {
                    let mut line = format!("{word} — {} {name}", lang.t(Key::NotifyingElsewhere));
                    // It cannot reach Twilio: a workstation that can takes over.
                    if twilio_problem.is_some() {
                        line = format!("{line} ({})", lang.t(Key::TwilioDownThere));
                    }
                    // Frozen or stuck there: this workstation takes over when its lease lapses.
                    if let Some(secs) = silent_secs {
                        line = format!("{line} — {} {secs} s", lang.t(Key::NoAnswerFor));
                    }
                    line
                }
                Some(NotifierState::Nobody) => format!("{word} — {}", lang.t(Key::NobodyNotifying)),
                // Out of reach: said by the alarm once it lasts, not by every blip.
                Some(NotifierState::Unknown { .. }) | None => word,
            }
        }
        TrayState::Degraded => match s.problem() {
            Some(problem @ crate::status::Problem::Start(_)) if s.retry_in_secs.is_some() => {
                format!(
                    "{}: {} ({} {} s)",
                    lang.t(Key::Degraded),
                    lang.explain(problem),
                    lang.t(Key::RetryIn),
                    s.retry_in_secs.unwrap_or_default()
                )
            }
            Some(problem) => format!("{}: {}", lang.t(Key::Degraded), lang.explain(problem)),
            None => lang.t(Key::Connecting).to_owned(),
        },
        TrayState::Paused => match s.pause {
            Some(PauseState::PausedUntil { until }) => {
                format!(
                    "{} {} {}",
                    lang.t(Key::Paused),
                    lang.t(Key::Until),
                    until.with_timezone(&chrono::Local).format("%H:%M")
                )
            }
            _ => lang.t(Key::Paused).to_owned(),
        },
        TrayState::NotConfigured => lang.t(Key::NotConfigured).to_owned(),
        TrayState::Unnotified => {
            let why = match s.unnotified {
                Some(crate::status::Unnotified::DryRun) => Key::WhyDryRun,
                Some(crate::status::Unnotified::NoChannel) => Key::WhyNoChannel,
                _ => Key::WhyNoTwilio,
            };
            format!("{} ({})", lang.t(Key::Unnotified), lang.t(why))
        }
    };
    StatusView { state: tray_state, text }
}

/// Redraws icon, tooltip and menu from the current status.
pub fn refresh(app: &AppHandle) {
    let StatusView { state, text } = status_view(app);
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_icon(Some(icon(state)));
        let _ = tray.set_tooltip(Some(format!("Sentinela — {text}")));
    }
    if let Some(menu) = app.try_state::<Mutex<TrayMenu>>() {
        let menu = menu.lock().unwrap_or_else(|p| p.into_inner());
        let _ = menu.status.set_text(crate::status::menu_line(&format!("Sentinela — {text}"), 72));
        let _ = menu.resume.set_enabled(state == TrayState::Paused);
        let _ = menu.ack_all.set_enabled(app.state::<AppState>().status().untaken_incidents > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinela_engine::events::{EngineEvent, MailboxState};

    #[test]
    fn the_status_line_says_who_notifies_and_how_long_a_silent_holder_has_not_answered() {
        let mut s = crate::status::EngineStatus { configured: true, ..Default::default() };
        s.apply(&EngineEvent::Mailbox(MailboxState::Watching { idle: true }));
        s.apply(&EngineEvent::Notifier(NotifierState::Elsewhere {
            name: "NOC-02".into(),
            silent_secs: None,
            twilio_problem: None,
        }));
        assert_eq!(status_text(&s, Lang::Pt, Utc::now()).text, "Vigiando — notificando: NOC-02");
        s.apply(&EngineEvent::Notifier(NotifierState::Elsewhere {
            name: "NOC-02".into(),
            silent_secs: Some(12),
            twilio_problem: None,
        }));
        assert_eq!(
            status_text(&s, Lang::Pt, Utc::now()).text,
            "Vigiando — notificando: NOC-02 — sem resposta há 12 s"
        );
        assert_eq!(
            status_text(&s, Lang::En, Utc::now()).text,
            "Watching — notifying: NOC-02 — no answer for 12 s"
        );
        s.apply(&EngineEvent::Notifier(NotifierState::Elsewhere {
            name: "NOC-02".into(),
            silent_secs: None,
            twilio_problem: Some("connection refused".into()),
        }));
        assert_eq!(
            status_text(&s, Lang::Pt, Utc::now()).text,
            "Vigiando — notificando: NOC-02 (Twilio fora do ar)"
        );
        s.apply(&EngineEvent::Notifier(NotifierState::ThisWorkstation { name: "NOC-01".into() }));
        assert_eq!(status_text(&s, Lang::Pt, Utc::now()).text, "Vigiando — esta estação notifica");
    }
}
