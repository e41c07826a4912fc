//! The typed commands the windows call (through `ui/src/ipc.ts` only), run by the window's own
//! process. Every one returns `Result<_, AppError>`; secrets go in and never come back out.

use std::time::Duration;

use sentinela_engine::config::Config;
use sentinela_engine::imap::{probe, MailboxLogin, ProbeReport};
use sentinela_engine::incident::{AckVia, IncidentId, ResolveVia};
use sentinela_engine::journal::{
    ActionOutcome, IncidentDetail, IncidentQuery, IncidentSummary, RejectedMail,
};
use sentinela_engine::oauth::{LoopbackSignIn, TokenSource};
use sentinela_engine::runner::JournalProbe;
use sentinela_engine::secrets::{self, Secret, SecretName};
use sentinela_engine::selftest::{self, SelfTestReport};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::error::AppError;
use crate::i18n::Lang;
use crate::link::ToTray;
use crate::status::StatusView;
use crate::window_process::WindowProcess;

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingsView {
    pub path: String,
    /// None before the first save.
    pub config: Option<Config>,
    pub lang: Lang,
    /// Sentinela's version, for the window's footer.
    pub version: String,
}

#[tauri::command]
pub async fn get_settings(state: State<'_, WindowProcess>) -> Result<SettingsView, AppError> {
    let config =
        if state.config_path.exists() { Some(Config::load(&state.config_path)?) } else { None };
    Ok(SettingsView {
        path: state.config_path.display().to_string(),
        config,
        lang: state.lang,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// A cell a spreadsheet will not run: text that starts like a formula (`=`, `+`, `-`, `@`, tab,
/// carriage return) gets a leading apostrophe, as OWASP advises against CSV injection. A title is
/// written by whoever e-mails the box.
fn inert_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The language the windows speak: all the history window needs of the settings.
#[tauri::command]
pub async fn get_lang(state: State<'_, WindowProcess>) -> Result<Lang, AppError> {
    Ok(state.lang)
}

/// Validates with the engine's own rules and returns the normalised configuration (phone
/// numbers in E.164), so the window shows exactly what would be saved.
#[tauri::command]
pub async fn validate_settings(mut config: Config) -> Result<Config, AppError> {
    config.normalise()?;
    Ok(config)
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SavedSettings {
    /// As written: normalised (phone numbers in E.164).
    pub config: Config,
    /// Whether a running Sentinela took them at once; false when none is running (they apply
    /// at its next start).
    pub applied: bool,
}

/// Writes the file atomically; the tray process then restarts the engine with it (no app
/// restart needed) and tells the other window.
#[tauri::command]
pub async fn save_settings(
    state: State<'_, WindowProcess>,
    config: Config,
) -> Result<SavedSettings, AppError> {
    config.save(&state.config_path)?;
    let saved = Config::load(&state.config_path)?;
    let applied = state.tell_tray(ToTray::SettingsSaved);
    Ok(SavedSettings { config: saved, applied })
}

fn secret_name(name: &str) -> Result<SecretName, AppError> {
    match name {
        "imap-password" => Ok(secrets::IMAP_PASSWORD),
        "twilio-auth-token" => Ok(secrets::TWILIO_AUTH_TOKEN),
        "journal-password" => Ok(secrets::JOURNAL_PASSWORD),
        "oauth-client-secret" => Ok(secrets::OAUTH_CLIENT_SECRET),
        other => Err(AppError::new("invalid", format!("unknown secret {other:?}"))),
    }
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SecretStatus {
    pub imap_password: bool,
    pub twilio_auth_token: bool,
    pub journal_password: bool,
    pub oauth_client_secret: bool,
    /// A mailbox sign-in (OAuth2 refresh token) is in the keyring.
    pub mailbox_signed_in: bool,
}

/// Whether each secret is stored — never its value.
#[tauri::command]
pub async fn secret_status() -> Result<SecretStatus, AppError> {
    Ok(SecretStatus {
        imap_password: secrets::load(secrets::IMAP_PASSWORD).await.is_ok(),
        twilio_auth_token: secrets::load(secrets::TWILIO_AUTH_TOKEN).await.is_ok(),
        journal_password: secrets::load(secrets::JOURNAL_PASSWORD).await.is_ok(),
        oauth_client_secret: secrets::load(secrets::OAUTH_CLIENT_SECRET).await.is_ok(),
        mailbox_signed_in: secrets::load_from_keyring(secrets::OAUTH_REFRESH_TOKEN).await.is_ok(),
    })
}

/// Stores a secret in the OS keyring (the "Replace" button).
#[tauri::command]
pub async fn store_secret(
    state: State<'_, WindowProcess>,
    name: String,
    value: String,
) -> Result<(), AppError> {
    if value.is_empty() {
        return Err(AppError::new("invalid", "empty secret"));
    }
    secrets::store(secret_name(&name)?, Secret::new(value)).await?;
    // The engine restarts with it at once (an engine that could not start for want of it
    // starts now).
    state.tell_tray(ToTray::SecretStored);
    Ok(())
}

/// "Test mailbox": logs in, opens the folder, counts matching unread mail, reads IDLE support.
#[tauri::command]
pub async fn test_mailbox(mut config: Config) -> Result<ProbeReport, AppError> {
    config.normalise()?;
    let login = MailboxLogin::load(&config.mailbox).await?;
    Ok(probe(&config, &login).await?)
}

/// "Entrar com a Microsoft / com o Google": the provider's page in the system browser, the
/// answer on a loopback port, the refresh token into the keyring, then the mailbox test with it.
/// A running engine waiting for a sign-in picks it up from the keyring by itself.
#[tauri::command]
pub async fn sign_in_mailbox(
    app: tauri::AppHandle,
    mut config: Config,
) -> Result<ProbeReport, AppError> {
    use tauri_plugin_opener::OpenerExt as _;
    config.normalise()?;
    let Some(oauth) = &config.mailbox.oauth2 else {
        return Err(AppError::new("invalid", "this mailbox signs in with a password"));
    };
    let sign_in = LoopbackSignIn::start(oauth, &config.mailbox.username).await?;
    app.opener()
        .open_url(sign_in.url(), None::<&str>)
        .map_err(|e| AppError::new("sign-in", format!("{e}: {}", sign_in.url())))?;
    let signed_in = sign_in.finish(SIGN_IN_WAIT).await?;
    let tokens = TokenSource::signed_in(oauth, signed_in).await?;
    Ok(probe(&config, &MailboxLogin::OAuth2(std::sync::Arc::new(tokens))).await?)
}

/// How long the window waits for the person to finish signing in in the browser.
const SIGN_IN_WAIT: Duration = Duration::from_secs(300);

#[tauri::command]
pub async fn test_whatsapp(mut config: Config, to: String) -> Result<SelfTestReport, AppError> {
    config.normalise()?;
    let token = secrets::load(secrets::TWILIO_AUTH_TOKEN).await?;
    Ok(selftest::test_whatsapp(&config, token, &to, Duration::from_secs(20)).await?)
}

#[tauri::command]
pub async fn test_call(mut config: Config, to: String) -> Result<SelfTestReport, AppError> {
    config.normalise()?;
    let token = secrets::load(secrets::TWILIO_AUTH_TOKEN).await?;
    Ok(selftest::test_call(&config, token, &to).await?)
}

/// "Test shared journal": connects to `[journal] url` with the stored password, brings the
/// schema to this version, and says who notifies now.
#[tauri::command]
pub async fn test_journal(
    state: State<'_, WindowProcess>,
    mut config: Config,
) -> Result<JournalProbe, AppError> {
    config.normalise()?;
    sentinela_engine::runner::probe_journal(&config, &state.data_dir).await?.ok_or_else(|| {
        AppError {
            code: "config",
            field: Some("journal.url"),
            message: Lang::current().t(crate::i18n::Key::NoSharedJournal).to_owned(),
        }
    })
}

/// The history list: the incidents the window's search matches (words over every e-mail, days,
/// state), newest first, a page at a time (`before` an incident id for the older page that
/// follows it), found in the journal itself, so the whole history is searched. E-mail bodies stay
/// in the journal until an incident is opened.
#[tauri::command]
pub async fn list_incidents(
    state: State<'_, WindowProcess>,
    mut query: IncidentQuery,
) -> Result<Vec<IncidentSummary>, AppError> {
    // An export asks for everything found; a list longer than this is no longer read by a person.
    query.limit = query.limit.min(EXPORT_MAX);
    Ok(state.journal().await?.find_incidents(query).await?)
}

/// The most incidents one export writes.
const EXPORT_MAX: usize = 100_000;

/// E-mails whose sender failed the check, newest first: never escalated, shown so that an
/// attack or a `[filter] from` that misses the sensor is seen.
#[tauri::command]
pub async fn list_rejected(
    state: State<'_, WindowProcess>,
    limit: Option<usize>,
) -> Result<Vec<RejectedMail>, AppError> {
    Ok(state.journal().await?.rejected_mails(limit.unwrap_or(50)).await?)
}

/// An incident's timeline: its e-mails, WhatsApp messages, calls and what people did.
#[tauri::command]
pub async fn incident_detail(
    state: State<'_, WindowProcess>,
    id: IncidentId,
) -> Result<IncidentDetail, AppError> {
    let journal = state.journal().await?;
    let mut detail = journal
        .incident_detail(id)
        .await?
        .ok_or_else(|| AppError::new("not_found", format!("no incident #{id}")))?;
    let lang = state.lang;
    for d in &mut detail.whatsapp {
        d.error_message = lang.twilio_code_problem(d.error_code, d.error_message.take());
    }
    for c in &mut detail.calls {
        c.error_message = lang.twilio_code_problem(c.error_code, c.error_message.take());
    }
    // Numbers are shown with the names `[people]` gives them.
    if let Ok(config) = Config::load(&state.config_path) {
        detail.names = config.people;
    }
    Ok(detail)
}

/// *Reconhecer*: written to the journal, which the running engine watches (its calls for the
/// incident stop within a second).
#[tauri::command]
pub async fn acknowledge_incident(
    state: State<'_, WindowProcess>,
    id: IncidentId,
) -> Result<ActionOutcome, AppError> {
    Ok(state.journal().await?.acknowledge(id, None, AckVia::Desktop).await?)
}

/// *Resolver*: for devices that never send a recovery e-mail.
#[tauri::command]
pub async fn resolve_incident(
    state: State<'_, WindowProcess>,
    id: IncidentId,
) -> Result<ActionOutcome, AppError> {
    Ok(state.journal().await?.resolve(id, None, ResolveVia::Desktop).await?)
}

/// The engine's state in words, as the tray process last said it.
#[tauri::command]
pub async fn engine_status(state: State<'_, WindowProcess>) -> Result<StatusView, AppError> {
    Ok(state.status())
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CsvRow {
    pub id: IncidentId,
    pub first_seen: String,
    pub last_seen: String,
    pub title: String,
    pub emails: u32,
    pub state: String,
    pub outcome: String,
}

/// Writes the rows the history window shows to a CSV file in the user's Downloads folder (or
/// the data directory) and returns its path.
#[tauri::command]
pub async fn export_csv(
    state: State<'_, WindowProcess>,
    rows: Vec<CsvRow>,
) -> Result<String, AppError> {
    let dir = directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(|p| p.to_owned()))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| state.data_dir.clone());
    let path = dir
        .join(format!("sentinela-historico-{}.csv", chrono::Local::now().format("%Y%m%d-%H%M%S")));
    let io = |e: csv::Error| AppError::new("io", format!("cannot write {}: {e}", path.display()));
    let mut w = csv::Writer::from_path(&path).map_err(io)?;
    w.write_record(["id", "first_seen", "last_seen", "title", "emails", "state", "outcome"])
        .map_err(io)?;
    for r in rows {
        let record = [
            r.id.to_string(),
            r.first_seen,
            r.last_seen,
            r.title,
            r.emails.to_string(),
            r.state,
            r.outcome,
        ];
        w.write_record(record.iter().map(|cell| inert_cell(cell).into_owned())).map_err(io)?;
    }
    w.flush().map_err(|e| AppError::new("io", e))?;
    Ok(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::inert_cell;

    #[test]
    fn csv_cells_never_start_a_formula() {
        for hostile in ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(inert_cell(hostile), format!("'{hostile}"));
        }
        assert_eq!(inert_cell("ALERTA Sala 3"), "ALERTA Sala 3");
        assert_eq!(inert_cell("2026-11-28T06:14:05Z"), "2026-11-28T06:14:05Z");
    }
}
