//! Tauri's build step. The app's own commands are declared here so that Tauri generates an
//! `allow-<command>` permission for each and checks every call against the window's
//! capabilities (`capabilities/`): without this list, any window could call any app command.

/// Every command of `window_process.rs`'s handler; a command missing here is refused to all.
const COMMANDS: &[&str] = &[
    "get_settings",
    "get_lang",
    "save_settings",
    "validate_settings",
    "secret_status",
    "store_secret",
    "test_mailbox",
    "sign_in_mailbox",
    "test_whatsapp",
    "test_call",
    "test_journal",
    "list_incidents",
    "list_rejected",
    "incident_detail",
    "acknowledge_incident",
    "resolve_incident",
    "engine_status",
    "export_csv",
];

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("Tauri's build step failed");
}
