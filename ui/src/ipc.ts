// The one place the windows talk to the Rust side: typed wrappers over Tauri's invoke/listen.
// The types come from ./bindings.ts, generated from the Rust types (a test keeps them in step).
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import type {
  ActionOutcome,
  AppError,
  Config,
  CsvRow,
  EngineEvent,
  IncidentDetail,
  IncidentQuery,
  IncidentSummary,
  JournalProbe,
  Lang,
  ProbeReport,
  RejectedMail,
  SavedSettings,
  SecretStatus,
  SelfTestReport,
  SettingsView,
  StatusView,
} from "./bindings";

// The windows use these names; they are generated from the Rust types (see bindings.ts).
export type * from "./bindings";

export function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

export const ipc = {
  getSettings: () => invoke<SettingsView>("get_settings"),
  getLang: () => invoke<Lang>("get_lang"),
  validateSettings: (config: Config) => invoke<Config>("validate_settings", { config }),
  saveSettings: (config: Config) => invoke<SavedSettings>("save_settings", { config }),
  secretStatus: () => invoke<SecretStatus>("secret_status"),
  storeSecret: (name: "imap-password" | "twilio-auth-token" | "journal-password" | "oauth-client-secret", value: string) => invoke<void>("store_secret", { name, value }),
  testMailbox: (config: Config) => invoke<ProbeReport>("test_mailbox", { config }),
  /** "Entrar com a Microsoft / o Google": the browser sign-in, then the mailbox test with it. */
  signInMailbox: (config: Config) => invoke<ProbeReport>("sign_in_mailbox", { config }),
  testWhatsapp: (config: Config, to: string) => invoke<SelfTestReport>("test_whatsapp", { config, to }),
  testCall: (config: Config, to: string) => invoke<SelfTestReport>("test_call", { config, to }),
  testJournal: (config: Config) => invoke<JournalProbe>("test_journal", { config }),
  /** The incidents a search matches in the whole journal, newest first; `query.before` an
   * incident id for the older page that follows it. */
  listIncidents: (query: IncidentQuery) => invoke<IncidentSummary[]>("list_incidents", { query }),
  listRejected: (limit: number) => invoke<RejectedMail[]>("list_rejected", { limit }),
  incidentDetail: (id: number) => invoke<IncidentDetail>("incident_detail", { id }),
  acknowledgeIncident: (id: number) => invoke<ActionOutcome>("acknowledge_incident", { id }),
  resolveIncident: (id: number) => invoke<ActionOutcome>("resolve_incident", { id }),
  engineStatus: () => invoke<StatusView>("engine_status"),
  exportCsv: (rows: CsvRow[]) => invoke<string>("export_csv", { rows }),
};

/** Engine events (connection state, alerts, deliveries, calls, outcomes). */
export function onEngineEvent(handler: (e: EngineEvent) => void): Promise<UnlistenFn> {
  return listen<EngineEvent>("engine://event", (msg) => handler(msg.payload));
}

export function onSettingsUpdated(handler: () => void): Promise<UnlistenFn> {
  return listen("settings://updated", () => handler());
}

/** The engine was (re)started, or failed to start: time to ask for its status again. */
export function onStatusChanged(handler: () => void): Promise<UnlistenFn> {
  return listen("status://changed", () => handler());
}
