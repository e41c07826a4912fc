// The settings window: every field of the configuration file, grouped, validated as you type by
// the engine's own rules, saved atomically by Rust. Secrets go to the OS keyring and never come
// back into the page.
import { clear, el } from "./dom";
import { reportStates, splitNumbers, stateWord } from "./format";
import { showEngineStatus } from "./status";
import { words, type Words } from "./i18n";
import { ipc, isAppError, onEngineEvent, onSettingsUpdated, onStatusChanged, type Config, type Lang, type ProbeReport, type SecretStatus } from "./ipc";
import { providerOf, withProvider, withRegistration, type MailProvider } from "./provider";
import { current, guide, type Progress } from "./firstrun";

type Kind = "text" | "number" | "bool" | "list" | "words" | "people" | "security";
interface Field { path: string; label: keyof Words; kind: Kind }

const SECTIONS: { title: keyof Words; optional?: boolean; fields: Field[] }[] = [
  { title: "mailbox", fields: [
    { path: "mailbox.host", label: "host", kind: "text" },
    { path: "mailbox.port", label: "port", kind: "number" },
    { path: "mailbox.security", label: "security", kind: "security" },
    { path: "mailbox.username", label: "username", kind: "text" },
    { path: "mailbox.folder", label: "folder", kind: "text" },
    { path: "mailbox.ca_file", label: "ca_file", kind: "text" },
    { path: "mailbox.rescan_secs", label: "rescan_secs", kind: "number" },
    { path: "mailbox.mark_seen", label: "mark_seen", kind: "bool" },
    { path: "mailbox.max_message_bytes", label: "max_message_bytes", kind: "number" },
  ] },
  { title: "filter", fields: [
    { path: "filter.from", label: "from", kind: "words" },
    { path: "filter.subject", label: "subject", kind: "text" },
    { path: "filter.search", label: "search", kind: "text" },
    { path: "filter.silence_alarm_hours", label: "silence_alarm_hours", kind: "number" },
    { path: "filter.authserv_id", label: "authserv_id", kind: "text" },
  ] },
  { title: "twilio", optional: true, fields: [
    { path: "twilio.account_sid", label: "account_sid", kind: "text" },
    { path: "twilio.api_key_sid", label: "api_key_sid", kind: "text" },
    { path: "twilio.base_url", label: "base_url", kind: "text" },
    { path: "twilio.studio_url", label: "studio_url", kind: "text" },
    { path: "twilio.dry_run", label: "dry_run", kind: "bool" },
  ] },
  { title: "whatsapp", optional: true, fields: [
    { path: "whatsapp.from", label: "wa_from", kind: "text" },
    { path: "whatsapp.to", label: "wa_to", kind: "list" },
    { path: "whatsapp.content_sid", label: "content_sid", kind: "text" },
  ] },
  { title: "sms", optional: true, fields: [
    { path: "sms.from", label: "sms_from", kind: "text" },
    { path: "sms.fallback", label: "sms_fallback_on", kind: "bool" },
    { path: "sms.to", label: "sms_to", kind: "list" },
  ] },
  { title: "calls", optional: true, fields: [
    { path: "calls.from", label: "calls_from", kind: "text" },
    { path: "calls.to", label: "calls_to", kind: "list" },
    { path: "calls.ring_secs", label: "ring_secs", kind: "number" },
    { path: "calls.rounds", label: "rounds", kind: "number" },
    { path: "calls.round_pause_secs", label: "round_pause_secs", kind: "number" },
    { path: "calls.voice", label: "voice", kind: "text" },
    { path: "calls.language", label: "language", kind: "text" },
    { path: "calls.require_human", label: "require_human", kind: "bool" },
    { path: "calls.keypress", label: "keypress", kind: "bool" },
  ] },
  { title: "incidents", fields: [
    { path: "incidents.remind_every_mins", label: "remind_every_mins", kind: "number" },
    { path: "incidents.reopen_within_mins", label: "reopen_within_mins", kind: "number" },
    { path: "incidents.reescalate_after_mins", label: "reescalate_after_mins", kind: "number" },
    { path: "incidents.recovery_words", label: "recovery_words", kind: "words" },
    { path: "incidents.key_pattern", label: "key_pattern", kind: "text" },
  ] },
  { title: "people", fields: [
    { path: "people", label: "people_names", kind: "people" },
  ] },
  { title: "history", fields: [
    { path: "history.keep_days", label: "keep_days", kind: "number" },
  ] },
  { title: "heartbeat", optional: true, fields: [
    { path: "heartbeat.url", label: "heartbeat_url", kind: "text" },
    { path: "heartbeat.every_mins", label: "heartbeat_every_mins", kind: "number" },
    { path: "heartbeat.whatsapp_to", label: "heartbeat_whatsapp_to", kind: "list" },
    { path: "heartbeat.daily_at", label: "heartbeat_daily_at", kind: "text" },
  ] },
  { title: "journal", optional: true, fields: [
    { path: "journal.url", label: "journal_url", kind: "text" },
    { path: "journal.workstation", label: "workstation", kind: "text" },
  ] },
];

/** `[people]` typed one per line, `(11) 99999-0001 = Ana`; the engine checks the numbers. */
export function parsePeople(text: string): Record<string, string> {
  const people: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    const [number, name] = at < 0 ? [line, ""] : [line.slice(0, at), line.slice(at + 1)];
    people[number.trim()] = name.trim();
  }
  return people;
}

export const DEFAULTS: Config = {
  mailbox: { host: "", port: null, security: "tls", username: "", folder: "INBOX", ca_file: "", rescan_secs: 20, mark_seen: true, max_message_bytes: 1048576 },
  filter: { from: [], subject: "ALERTA", search: "", silence_alarm_hours: 0, authserv_id: "" },
  twilio: { account_sid: "", api_key_sid: "", base_url: "https://api.twilio.com", studio_url: "https://studio.twilio.com", dry_run: false },
  whatsapp: { from: "+14155238886", to: [], content_sid: "" },
  calls: { from: "", to: [], ring_secs: 25, rounds: 2, round_pause_secs: 60, voice: "Polly.Camila", language: "pt-BR", require_human: true, keypress: false },
  incidents: { key_pattern: "", recovery_words: [], remind_every_mins: 30, reopen_within_mins: 15, reescalate_after_mins: 60 },
  people: {},
  history: { keep_days: 0 },
  heartbeat: { url: "", every_mins: 5, whatsapp_to: [], daily_at: "08:00" },
  // No `journal`: one workstation keeps its own, until someone switches sharing on.
};

/** What a section switched off by default shows when it is switched on (its absence from
 * `DEFAULTS` keeps it off for a new setup). */
const SWITCHED_OFF_DEFAULTS: Partial<Config> = {
  sms: { from: "", fallback: true },
};

const id = (path: string) => path.replace(/\./g, "-");

function get(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | null | undefined)?.[k], obj);
}

/** Reads the form into a configuration (optional sections only when switched on). */
export function readForm(root: ParentNode, base: Config = DEFAULTS): Config {
  const cfg = structuredClone(base) as unknown as Record<string, Record<string, unknown> | null>;
  for (const s of SECTIONS) {
    const on = !s.optional || (root.querySelector<HTMLInputElement>(`#enable-${s.title}`)?.checked ?? false);
    if (!on) {
      cfg[s.title] = null;
      continue;
    }
    const section = (cfg[s.title] ??= {});
    for (const f of s.fields) {
      const input = root.querySelector<HTMLInputElement & HTMLTextAreaElement & HTMLSelectElement>(`#${id(f.path)}`);
      if (!input) continue;
      if (f.kind === "people") {
        cfg.people = parsePeople(input.value);
        continue;
      }
      const key = f.path.split(".")[1];
      section[key] =
        f.kind === "bool" ? input.checked
        : f.kind === "number" ? (input.value.trim() === "" ? null : Number(input.value))
        : f.kind === "list" ? splitNumbers(input.value)
        : f.kind === "words" ? input.value.split(/[\n,;]+/).map((w) => w.trim()).filter(Boolean)
        : input.value;
    }
  }
  const config = cfg as unknown as Config;
  const provider = root.querySelector<HTMLSelectElement>("#mailbox-provider");
  if (provider) {
    const value = (name: string) => root.querySelector<HTMLInputElement>(`#${name}`)?.value ?? "";
    config.mailbox = withRegistration(withProvider(config.mailbox, provider.value as MailProvider, false), value("mailbox-oauth2-client_id"), value("mailbox-oauth2-tenant"));
  }
  return config;
}

/** Shows the sign-in rows for Microsoft and Google, the tenant for Microsoft only, and the
 * sign-in button's words for the chosen provider. */
function showProvider(root: ParentNode, provider: MailProvider, w: Words): void {
  const oauth = provider !== "imap";
  root.querySelectorAll<HTMLElement>(".oauth-only").forEach((n) => (n.hidden = !oauth));
  root.querySelectorAll<HTMLElement>(".microsoft-only").forEach((n) => (n.hidden = provider !== "microsoft"));
  const button = root.querySelector<HTMLButtonElement>("#sign-in");
  if (button) button.textContent = provider === "google" ? w.sign_in_google : w.sign_in_microsoft;
}

export function fillForm(root: ParentNode, cfg: Config): void {
  for (const s of SECTIONS) {
    // A file without [incidents] or [people] shows their defaults.
    const present = get(cfg, s.title) != null;
    const toggle = root.querySelector<HTMLInputElement>(`#enable-${s.title}`);
    if (toggle) toggle.checked = present;
    const source = present ? cfg : DEFAULTS;
    for (const f of s.fields) {
      const input = root.querySelector<HTMLInputElement & HTMLTextAreaElement>(`#${id(f.path)}`);
      if (!input) continue;
      // A field the file leaves out (written only when set) shows its default.
      const v = get(source, f.path) ?? get(DEFAULTS, f.path) ?? get(SWITCHED_OFF_DEFAULTS, f.path);
      if (f.kind === "bool") input.checked = Boolean(v);
      else if (f.kind === "people") input.value = Object.entries((v as Record<string, string> | undefined) ?? {}).map(([n, name]) => `${n} = ${name}`).join("\n");
      else if (f.kind === "list" || f.kind === "words") input.value = ((v as string[] | undefined) ?? []).join("\n");
      else input.value = v == null ? "" : String(v);
    }
  }
  const provider = root.querySelector<HTMLSelectElement>("#mailbox-provider");
  if (provider) {
    provider.value = providerOf(cfg);
    for (const key of ["client_id", "tenant"] as const) {
      const input = root.querySelector<HTMLInputElement>(`#mailbox-oauth2-${key}`);
      if (input) input.value = cfg.mailbox.oauth2?.[key] ?? "";
    }
  }
}

/** The provider choice and the app registration, at the top of the mailbox section. Choosing a
 * provider fills the server fields (they stay editable). */
function providerControls(w: Words, onChange: () => void): HTMLElement[] {
  const select = el("select", { id: "mailbox-provider" },
    el("option", { value: "microsoft" }, w.provider_microsoft),
    el("option", { value: "google" }, w.provider_google),
    el("option", { value: "imap" }, w.provider_imap));
  select.addEventListener("change", () => {
    const root = select.closest("form") ?? document;
    const chosen = select.value as MailProvider;
    const filled = withProvider(DEFAULTS.mailbox, chosen, true);
    if (chosen !== "imap") {
      for (const key of ["host", "port", "security"] as const) {
        const input = root.querySelector<HTMLInputElement>(`#mailbox-${key}`);
        if (input) input.value = String(filled[key]);
      }
    }
    showProvider(root, chosen, w);
    onChange();
  });
  const row = (id: string, label: string, cls: string) => {
    const input = el("input", { id, type: "text" });
    input.addEventListener("input", onChange);
    return el("div", { class: cls }, el("label", { for: id }, label), input, el("span", { class: "field-error", id: `${id}-error` }));
  };
  const signIn = el("div", { class: "oauth-only sign-in" }, el("button", { id: "sign-in", type: "button" }, w.sign_in_microsoft), el("span", { id: "signed-in" }));
  return [
    el("label", { for: "mailbox-provider" }, w.provider), select,
    row("mailbox-oauth2-client_id", w.client_id, "oauth-only"),
    row("mailbox-oauth2-tenant", w.tenant, "oauth-only microsoft-only"),
    signIn,
  ];
}

/** What a mailbox test found, in the window's words. */
function probeWords(r: ProbeReport, w: Words): string {
  const login = r.token_expires_at ? `${w.signed_in_as(r.account)} ${w.token_expires(new Date(r.token_expires_at).toLocaleString())} ` : "";
  return login + w.probe_ok(r.matching_unseen, r.idle) + (r.rejected > 0 ? ` ${w.probe_rejected(r.rejected, r.rejected_reasons)}` : "") + (r.results_on_top ? ` ${w.probe_results_on_top(r.results_on_top)}` : "");
}

export function buildForm(form: HTMLElement, w: Words, onChange: () => void): void {
  for (const s of SECTIONS) {
    const fs = el("fieldset", { id: `section-${s.title}` }, el("legend", {}, String(w[s.title])));
    if (s.title === "mailbox") fs.append(...providerControls(w, onChange));
    if (s.optional) {
      const toggle = el("input", { type: "checkbox", id: `enable-${s.title}` });
      toggle.addEventListener("change", onChange);
      const label = s.title === "twilio" ? w.enable_twilio : s.title === "journal" ? w.enable_journal : String(w[s.title]);
      fs.append(el("label", { class: "toggle" }, toggle, ` ${label}`));
    }
    for (const f of s.fields) {
      const input =
        f.kind === "security" ? el("select", { id: id(f.path) }, el("option", { value: "tls" }, "TLS (993)"), el("option", { value: "starttls" }, "STARTTLS (143)"), el("option", { value: "plain" }, "plain (localhost)"))
        : f.kind === "list" || f.kind === "words" || f.kind === "people" ? el("textarea", { id: id(f.path), rows: "3" })
        : el("input", { id: id(f.path), type: f.kind === "bool" ? "checkbox" : f.kind === "number" ? "number" : f.path.includes("password") ? "password" : "text" });
      input.addEventListener("input", onChange);
      input.addEventListener("change", onChange);
      fs.append(el("label", { for: id(f.path) }, String(w[f.label])), input, el("span", { class: "field-error", id: `${id(f.path)}-error` }));
    }
    form.append(fs);
  }
}

function showFieldError(root: ParentNode, field: string | undefined, message: string): void {
  root.querySelectorAll(".invalid").forEach((n) => n.classList.remove("invalid"));
  root.querySelectorAll(".field-error").forEach((n) => (n.textContent = ""));
  if (!field) return;
  const input = root.querySelector(`#${id(field)}`) ?? root.querySelector(`#section-${field}`);
  input?.classList.add("invalid");
  const slot = root.querySelector(`#${id(field)}-error`);
  if (slot) slot.textContent = message;
}

async function main(): Promise<void> {
  const view = await ipc.getSettings();
  const lang: Lang = view.lang;
  const w = words(lang);
  document.documentElement.lang = lang === "pt" ? "pt-BR" : "en";
  document.title = `Sentinela — ${w.settings}`;
  void showEngineStatus(document.getElementById("engine-status")!);
  const form = document.getElementById("form")!;
  const result = document.getElementById("result")!;
  document.getElementById("footer")!.textContent = `Sentinela ${view.version} — ${view.path}`;
  const say = (text: string, ok: boolean) => { result.textContent = text; result.className = ok ? "ok" : "error"; };
  let base: Config = view.config ?? DEFAULTS;

  let timer: number | undefined;
  const validate = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      try {
        await ipc.validateSettings(readForm(form, base));
        showFieldError(form, undefined, "");
      } catch (e) {
        if (isAppError(e)) showFieldError(form, e.field, e.message);
      }
    }, 300);
  };
  buildForm(form, w, validate);
  fillForm(form, base);
  showProvider(form, providerOf(base), w);

  document.getElementById("save")!.addEventListener("click", async () => {
    try {
      const saved = await ipc.saveSettings(readForm(form, base));
      base = saved.config;
      fillForm(form, base);
      showFieldError(form, undefined, "");
      say(saved.applied ? w.saved : w.saved_not_running, true);
    } catch (e) {
      if (isAppError(e)) { showFieldError(form, e.field, e.message); say(e.message, false); }
    }
  });

  // First start: the guide at the top, until the engine watches.
  const firstRun = document.getElementById("first-run")!;
  const progress: Progress = { whatsappTested: false, callTested: false, engine: undefined };
  let lastSecrets: SecretStatus | undefined;
  const showGuide = async () => {
    if (view.config) return;
    progress.engine = (await ipc.engineStatus()).state;
    if (!lastSecrets) return;
    const steps = guide(readForm(form, base), lastSecrets, progress, w);
    const now = current(steps);
    clear(firstRun);
    firstRun.hidden = false;
    firstRun.append(el("h2", {}, w.guide_title), el("ol", {}, ...steps.map((s) =>
      el("li", { class: s.done ? "done" : s.key === now ? "current" : "todo", id: `step-${s.key}` }, el("strong", {}, `${s.done ? "✔ " : ""}${w.step_titles[s.key]}`), " ", el("span", {}, s.says)))));
  };
  form.addEventListener("change", () => void showGuide());
  await onEngineEvent(() => void showGuide());
  await onStatusChanged(() => void showGuide());

  const run = async (what: () => Promise<string>) => {
    say("…", true);
    try { say(await what(), true); } catch (e) { say(isAppError(e) ? e.message : String(e), false); }
  };
  const testTo = () => (document.getElementById("test-to") as HTMLInputElement).value;
  document.getElementById("test-mailbox")!.addEventListener("click", () =>
    run(async () => {
      const r = await ipc.testMailbox(readForm(form, base));
      progress.mailboxFound = r.matching_unseen;
      void showGuide();
      return probeWords(r, w);
    }));
  document.getElementById("sign-in")!.addEventListener("click", () =>
    run(async () => {
      say(w.signing_in, true);
      const r = await ipc.signInMailbox(readForm(form, base));
      progress.mailboxFound = r.matching_unseen;
      await refreshSecrets();
      return probeWords(r, w);
    }));
  document.getElementById("test-whatsapp")!.addEventListener("click", () =>
    run(async () => { const r = await ipc.testWhatsapp(readForm(form, base), testTo()); progress.whatsappTested = true; void showGuide(); return `${r.to}: ${reportStates(r.states, w)}`; }));
  document.getElementById("test-call")!.addEventListener("click", () =>
    run(async () => { const r = await ipc.testCall(readForm(form, base), testTo()); progress.callTested = true; void showGuide(); return `${r.to}: ${reportStates(r.states, w)} — ${stateWord(r.outcome, w)}`; }));
  document.getElementById("test-journal")!.addEventListener("click", () =>
    run(async () => w.journal_ok(await ipc.testJournal(readForm(form, base)))));
  for (const [key, elId] of [["test_mailbox", "test-mailbox"], ["test_whatsapp", "test-whatsapp"], ["test_call", "test-call"], ["test_journal", "test-journal"], ["save", "save"]] as const) {
    document.getElementById(elId)!.textContent = String(w[key]);
  }
  (document.getElementById("test-to") as HTMLInputElement).placeholder = w.test_to;

  // Secrets: status only; the value goes one way, into the keyring.
  const secrets = document.getElementById("secrets")!;
  const refreshSecrets = async () => {
    let st;
    try {
      st = await ipc.secretStatus();
    } catch (e) {
      say(isAppError(e) ? e.message : String(e), false);
      return;
    }
    lastSecrets = st;
    void showGuide();
    const account = (document.getElementById("mailbox-username") as HTMLInputElement | null)?.value ?? "";
    document.getElementById("signed-in")!.textContent = st.mailbox_signed_in ? w.signed_in_as(account) : w.not_signed_in;
    for (const [name, stored] of [["imap-password", st.imap_password], ["twilio-auth-token", st.twilio_auth_token], ["journal-password", st.journal_password], ["oauth-client-secret", st.oauth_client_secret]] as const) {
      document.getElementById(`secret-${name}-status`)!.textContent = stored ? `✔ ${w.stored}` : `✘ ${w.not_stored}`;
      document.getElementById(`secret-${name}-store`)!.textContent = stored ? w.replace : w.store;
    }
  };
  clear(secrets);
  for (const [name, label] of [["imap-password", w.imap_password], ["twilio-auth-token", w.twilio_token], ["journal-password", w.journal_password], ["oauth-client-secret", w.oauth_client_secret]] as const) {
    const input = el("input", { type: "password", id: `secret-${name}-input`, autocomplete: "off" });
    const button = el("button", { id: `secret-${name}-store`, type: "button" }, w.store);
    button.addEventListener("click", async () => {
      try {
        await ipc.storeSecret(name, input.value);
        input.value = "";
        await refreshSecrets();
        say(`${label}: ${w.stored}`, true);
      } catch (e) {
        if (isAppError(e)) say(e.message, false);
      }
    });
    secrets.append(el("div", { class: "secret" }, el("label", { for: input.id }, label), input, button, el("span", { id: `secret-${name}-status` })));
  }
  await refreshSecrets();

  await onSettingsUpdated(async () => {
    const v = await ipc.getSettings();
    if (v.config) { base = v.config; fillForm(form, base); }
  });
}

if (typeof window !== "undefined" && document.getElementById("form")) {
  main().catch((e) => { document.getElementById("result")!.textContent = String(isAppError(e) ? e.message : e); });
}
