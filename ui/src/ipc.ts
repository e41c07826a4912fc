// The one place the windows talk to the Rust side: typed wrappers over Tauri's invoke/listen.
// Types mirror the Rust structs in src-tauri/src/commands.rs and the engine's serde shapes.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export type Lang = "pt" | "en";

export interface Config {
  mailbox: {
    host: string;
    port?: number | null;
    security: "tls" | "starttls" | "plain";
    username: string;
    folder: string;
    ca_file?: string;
    rescan_secs: number;
    mark_seen: boolean;
    max_message_bytes: number;
  };
  filter: { from: string; subject: string; search: string };
  twilio?: { account_sid: string; api_key_sid: string; base_url: string; dry_run: boolean } | null;
  whatsapp?: { from: string; to: string[]; content_sid: string } | null;
  calls?: {
    from: string;
    to: string[];
    ring_secs: number;
    rounds: number;
    round_pause_secs: number;
    voice: string;
    language: string;
    require_human: boolean;
  } | null;
}

/** The one error shape every command returns. */
export interface AppError {
  code: string;
  message: string;
  field?: string;
}

export function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

export interface SettingsView { path: string; config: Config | null; lang: Lang }
export interface SecretStatus { imap_password: boolean; twilio_auth_token: boolean }
export interface ProbeReport { folder: string; uidvalidity: number; messages: number; matching_unseen: number; idle: boolean }
export interface SelfTestReport { to: string; sid: string; states: string[]; outcome: string; duration_secs: number | null }
export interface AlertRow { id: number; received_at: string; subject: string; sender: string; state: string; is_test: boolean; answered_by: string | null }
export interface Delivery { id: number; recipient: string; state: string; sid: string | null; error_code: number | null; error_message: string | null; updated_at: string }
export interface CallAttempt {
  id: number; round: number; position: number; number: string; state: string; sid: string | null;
  answered_by: string | null; duration: number | null; outcome: string | null; error_code: number | null; error_message: string | null; updated_at: string;
}
export interface AlertRecord { id: number; sender: string; subject: string; body: string; truncated: boolean; received_at: string; state: string; is_test: boolean }
export interface AlertDetail { alert: AlertRecord; whatsapp: Delivery[]; calls: CallAttempt[]; answered_by: string | null; events: { at: string; kind: string; detail: string }[] }
export interface StatusView { state: "watching" | "alerting" | "degraded" | "paused" | "not_configured"; text: string }
export interface CsvRow { id: number; received_at: string; subject: string; sender: string; outcome: string }

export const ipc = {
  getSettings: () => invoke<SettingsView>("get_settings"),
  validateSettings: (config: Config) => invoke<Config>("validate_settings", { config }),
  saveSettings: (config: Config) => invoke<Config>("save_settings", { config }),
  secretStatus: () => invoke<SecretStatus>("secret_status"),
  storeSecret: (name: "imap-password" | "twilio-auth-token", value: string) => invoke<void>("store_secret", { name, value }),
  testMailbox: (config: Config) => invoke<ProbeReport>("test_mailbox", { config }),
  testWhatsapp: (config: Config, to: string) => invoke<SelfTestReport>("test_whatsapp", { config, to }),
  testCall: (config: Config, to: string) => invoke<SelfTestReport>("test_call", { config, to }),
  listAlerts: (limit?: number) => invoke<AlertRow[]>("list_alerts", { limit }),
  alertDetail: (id: number) => invoke<AlertDetail>("alert_detail", { id }),
  engineStatus: () => invoke<StatusView>("engine_status"),
  exportCsv: (rows: CsvRow[]) => invoke<string>("export_csv", { rows }),
};

/** Engine events (connection state, alerts, deliveries, calls, outcomes). */
export function onEngineEvent(handler: (e: { event: string }) => void): Promise<UnlistenFn> {
  return listen<{ event: string }>("engine://event", (msg) => handler(msg.payload));
}

export function onSettingsUpdated(handler: () => void): Promise<UnlistenFn> {
  return listen("settings://updated", () => handler());
}
