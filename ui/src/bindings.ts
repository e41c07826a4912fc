// Generated from the Rust types by src-tauri/src/bindings.rs; do not edit by hand.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p sentinela bindings

export type AckVia = "call" | "keypress" | "whatsapp" | "sms" | "desktop" | "cli";

export type ActionOutcome = "done" | "already_acknowledged" | "already_resolved" | "not_found";

export type AlertKind = "alarm" | "repeat" | "recovery";

export type AlertNotice = { id: number, subject: string, sender: string, received_at: string, 
/**
 * When the engine learned of the new mail (IDLE push or scan start).
 */
noticed_at: string, uid: number, };

export type AlertRecord = { id: number, origin: MailboxUid, message_id: string | null, sender: string, subject: string, body: string, truncated: boolean, received_at: string, journaled_at: string, state: string, 
/**
 * A test alert from "Send test alert": every text and call says so.
 */
is_test: boolean, 
/**
 * The incident this e-mail opened, repeated or ended (None for a recovery of nothing).
 */
incident_id: number | null, 
/**
 * None only while the e-mail waits to be placed (an alert of an older Sentinela).
 */
kind: AlertKind | null, };

export type AppError = { code: string, message: string, field?: string, };

export type CallAttempt = { id: number, 
/**
 * How many times the queue had gone through the list for these incidents before.
 */
round: number, position: number, number: string, state: CallState, sid: string | null, 
/**
 * With `[calls] keypress`: the Studio execution that places the call.
 */
execution_sid: string | null, answered_by: string | null, duration: number | null, 
/**
 * Set once the attempt is over.
 */
outcome: CallOutcome | null, error_code: number | null, error_message: string | null, updated_at: string, 
/**
 * The incidents this call speaks, newest first.
 */
incidents: Array<number>, };

export type CallOutcome = "answered" | "machine" | "unconfirmed" | "heard" | "no-answer" | "busy" | "failed" | "canceled" | "error" | "dry_run";

export type CallState = "placing" | "queued" | "ringing" | "in-progress" | "completed" | "busy" | "failed" | "no-answer" | "canceled" | "error" | "dry_run" | "unknown";

export type CallsConfig = { from: string, 
/**
 * Called one at a time, in this order.
 */
to: Array<string>, ring_secs: number, rounds: number, round_pause_secs: number, voice: string, language: string, 
/**
 * Answering machines and voicemail do not count as answered.
 */
require_human: boolean, 
/**
 * "Tecle 1 para assumir": a call takes its incidents only when the person presses 1 (the
 * call runs as a Twilio Studio flow, polled for the key); one who answers and presses
 * nothing is told again, and the queue goes on. Off: a person answering takes them.
 */
keypress: boolean, };

export type Channel = "whatsapp" | "sms";

export type Config = { mailbox: MailboxConfig, filter: FilterConfig, 
/**
 * Without `[twilio]` Sentinela only journals alerts (and says so loudly at start).
 */
twilio?: TwilioConfig, whatsapp?: WhatsAppConfig, calls?: CallsConfig, 
/**
 * Text messages: the fallback when WhatsApp cannot deliver.
 */
sms?: SmsConfig, 
/**
 * How e-mails become incidents, and how often the team is reminded.
 */
incidents?: IncidentsConfig, 
/**
 * Names for numbers (`"+5511999990001" = "Ana"`), used in messages, calls and the history.
 */
people?: { [key in string]?: string }, 
/**
 * Telling someone outside that this Sentinela is alive.
 */
heartbeat?: HeartbeatConfig, 
/**
 * How long the journal keeps what e-mails and messages said.
 */
history?: HistoryConfig, 
/**
 * Where the journal lives: without `[journal]`, the SQLite file in the data directory.
 */
journal?: JournalConfig, };

export type CsvRow = { id: number, first_seen: string, last_seen: string, title: string, emails: number, state: string, outcome: string, };

export type Delivery = { id: number, channel: Channel, 
/**
 * An SMS sent because this WhatsApp message could not be delivered: its id.
 */
fallback_of: number | null, 
/**
 * None for a digest (it speaks of several incidents).
 */
incident_id: number | null, purpose: MessagePurpose, recipient: string, 
/**
 * The first line (or the template's first variable).
 */
headline: string, detail: string, state: DeliveryState, sid: string | null, error_code: number | null, error_message: string | null, updated_at: string, 
/**
 * The incident is the operator's test.
 */
test: boolean, };

export type DeliveryState = "pending" | "sending" | "gathered" | "digested" | "queued" | "accepted" | "scheduled" | "sent" | "delivered" | "read" | "failed" | "undelivered" | "partially_delivered" | "receiving" | "received" | "canceled" | "error" | "dry_run" | "unknown";

export type EngineEvent = { "event": "mailbox" } & MailboxState | { "event": "checked", at: string, matching_unseen: number, } | { "event": "sensor_heard", newest: string | null, } | { "event": "alert_recorded" } & AlertNotice | { "event": "delivery" } & Delivery | { "event": "call" } & CallAttempt | { "event": "escalation_started", incident_id: number, } | { "event": "incident" } & IncidentChange | { "event": "twilio" } & TwilioState | { "event": "pause" } & PauseState | { "event": "watch_alarm" } & WatchAlarm | { "event": "manager_failed", manager: string, reason: string, restart_in_secs: number, } | { "event": "manager_restarted", manager: string, } | { "event": "notifier" } & NotifierState | { "event": "journal_changed" };

export type EscalationState = "none" | "owed" | "calling" | "answered" | "unanswered" | "stopped" | "dry_run";

export type FilterConfig = { 
/**
 * Who may raise an alert: addresses (`sensor@cpd.example.com.br`), domains
 * (`@cpd.example.com.br`, no subdomains) or domains with their subdomains (`@.example.com.br`);
 * one, or a list. Checked exactly on the parsed From address (see [`crate::mail::sender`]).
 */
from: Array<string>, 
/**
 * Substring of the Subject, case-insensitive (IMAP `SUBJECT`).
 */
subject: string, 
/**
 * Extra IMAP SEARCH criteria appended verbatim, e.g. `SINCE 1-Jan-2026`.
 */
search: string, 
/**
 * Raise the "sensor silent" alarm when nothing at all (matching or not) came from `from`
 * for this many hours — for devices that mail a periodic report. 0: off.
 */
silence_alarm_hours?: number, 
/**
 * The receiving mail server's id in `Authentication-Results` (e.g. `mx.empresa.com.br`):
 * when set, an alert also needs its DMARC, aligned DKIM or aligned SPF pass.
 */
authserv_id?: string, };

export type HeartbeatConfig = { 
/**
 * Fetched (GET) every `every_mins` while the mailbox is watched and Twilio answers: a
 * Healthchecks, Uptime Kuma or Better Stack check URL. Empty: none.
 */
url: string, every_mins: number, 
/**
 * A daily "Sentinela ativo" WhatsApp with yesterday's counts, to these numbers.
 */
whatsapp_to: Array<string>, 
/**
 * When the daily WhatsApp goes, local time, `HH:MM`.
 */
daily_at: string, };

export type HistoryConfig = { 
/**
 * The e-mail bodies and message texts of incidents resolved more than this many days ago
 * are emptied (`crate::retention`); 0 = keep everything.
 */
keep_days: number, };

export type IncidentChange = { incident: IncidentSummary, kind: IncidentEventKind, detail: string, };

export type IncidentDetail = { incident: IncidentSummary, emails: Array<IncidentEmail>, whatsapp: Array<Delivery>, calls: Array<CallAttempt>, log: Array<IncidentLogLine>, 
/**
 * Names of the numbers above (`[people]`), filled by whoever has the configuration.
 */
names: { [key in string]?: string }, };

export type IncidentEmail = { alert_id: number, kind: AlertKind | null, journaled_at: string, sender: string, subject: string, body: string, };

export type IncidentEventKind = "opened" | "repeat" | "recovered" | "reopened" | "acknowledged" | "resolved" | "held" | "released" | "unanswered" | "migrated" | "note" | "reescalated";

export type IncidentLogLine = { at: string, kind: IncidentEventKind, detail: string, };

export type IncidentQuery = { 
/**
 * Words, all of which must appear; `#12` alone is incident 12. Empty: every incident.
 */
text: string, 
/**
 * Active at or after this instant (its last e-mail is not older).
 */
since: string | null, 
/**
 * Active before this instant (its first e-mail is older).
 */
until: string | null, state: StateFilter, 
/**
 * The page below this incident id (the next older page).
 */
before: number | null, limit: number, };

export type IncidentState = "open" | "acknowledged" | "resolved";

export type IncidentSummary = { id: number, state: IncidentState, title: string, 
/**
 * E-mails about it: the alarm, its repeats and its recovery.
 */
emails: number, first_seen: string, last_seen: string, acknowledged_at: string | null, acknowledged_by: string | null, acknowledged_via: AckVia | null, resolved_at: string | null, resolved_by: string | null, resolved_via: ResolveVia | null, 
/**
 * The operator's test alert.
 */
test: boolean, 
/**
 * Opened while notifications were paused: held since then.
 */
held_since: string | null, 
/**
 * When the pause ended and it was told (None while still held or never held).
 */
released_at: string | null, escalation: EscalationState, };

export type IncidentsConfig = { 
/**
 * A regex with a named group `key`, tried on the subject then the body, for devices the
 * built-in rule groups wrongly. Empty: the built-in rule.
 */
key_pattern: string, 
/**
 * Words that mean "back to normal", added to the built-in list.
 */
recovery_words: Array<string>, 
/**
 * A WhatsApp reminder at most this often while nobody has taken an incident; 0 = never.
 */
remind_every_mins: number, 
/**
 * A problem back this soon after its recovery reopens the same incident; 0 = never.
 */
reopen_within_mins: number, 
/**
 * An incident taken but still open this long is escalated again, once per period; 0 = never.
 */
reescalate_after_mins: number, };

export type JournalConfig = { 
/**
 * `postgres://user@host:5432/database?sslmode=verify-full`, without the password (that is
 * `SENTINELA_JOURNAL_PASSWORD` or the keyring user `journal-password`).
 */
url: string, 
/**
 * How this workstation is named to the others ("notificando: NOC-02"). Empty: its host name.
 */
workstation?: string, };

export type JournalEvent = { at: string, kind: string, detail: string, };

export type JournalProbe = { 
/**
 * The database, as the driver reads the URL (never with a password).
 */
target: string, 
/**
 * This Sentinela's schema version, which the database now has.
 */
schema_version: number, 
/**
 * How this workstation is named to the others.
 */
workstation: string, 
/**
 * The workstation that notifies now, or None when no Sentinela holds the lease.
 */
notifier: string | null, };

export type Lang = "pt" | "en";

export type MailboxConfig = { host: string, 
/**
 * Defaults to 993 for `tls`, 143 otherwise.
 */
port?: number | null, security: Security, username: string, folder: string, 
/**
 * Optional PEM file whose certificates are added to the trusted roots.
 */
ca_file?: string, rescan_secs: number, mark_seen: boolean, max_message_bytes: number, 
/**
 * `[mailbox.oauth2]`: sign in with Microsoft 365, Google or another OAuth2 provider instead
 * of a password.
 */
oauth2?: OAuth2Config, };

export type MailboxProblem = "connect" | "tls" | "auth" | "sign-in" | "folder" | "search" | "timeout" | "protocol" | "refused" | "journal";

export type MailboxState = { "state": "connecting", attempt: number, } | { "state": "watching", idle: boolean, } | { "state": "degraded", kind: MailboxProblem, message: string, retry_in_secs: number, } | { "state": "stopped" };

export type MailboxUid = { folder: string, uidvalidity: number, uid: number, };

export type MessagePurpose = "alarm" | "reminder" | "resolved" | "reopened" | "digest" | "legacy" | "acknowledged" | "reescalated";

export type NotifierState = { "state": "this_workstation", name: string, } | { "state": "elsewhere", name: string, silent_secs: number | null, twilio_problem: string | null, } | { "state": "nobody" } | { "state": "unknown", reason: string, };

export type OAuth2Config = { provider: OAuthProvider, 
/**
 * The app's registration: Entra ID's "Application (client) ID", or Google's OAuth client ID.
 */
client_id: string, 
/**
 * Microsoft only: the directory (tenant) id or domain; `organizations` when empty.
 */
tenant?: string, flow: SignInFlow, mechanism: SaslMechanism, 
/**
 * Overrides (required for `other`): the authorization, token and device-code endpoints
 * and the scopes, space-separated.
 */
authorize_url?: string, token_url?: string, device_url?: string, scope?: string, };

export type OAuthProvider = "microsoft" | "google" | "other";

export type PauseState = { "state": "active" } | { "state": "paused_until", until: string, } | { "state": "paused_until_resumed" };

export type ProbeReport = { folder: string, uidvalidity: number, messages: number, 
/**
 * Unread e-mails that match the filter right now (they would become alerts).
 */
matching_unseen: number, 
/**
 * Whether the server offers IDLE (push) or the watcher will poll every `rescan_secs`.
 */
idle: boolean, 
/**
 * Of the matching unread e-mails (the newest [`PROBE_CHECKS`]), how many the exact sender
 * check would reject — they would never ring a phone — and why, most frequent first
 * ("2 × the sender x@y is not an allowed sender").
 */
rejected: number, rejected_reasons: Array<string>, 
/**
 * With `[filter] authserv_id`: the id of the server whose `Authentication-Results` header
 * sits on top of the newest matching e-mail when it is not ours — the receiving server then
 * does not put its own verdict first, and a forged header below could be read as ours.
 */
results_on_top: string | null, 
/**
 * The account logged in and how: "password", "OAuth2 (signed-in user, XOAUTH2)", …
 */
account: string, login_method: string, 
/**
 * With OAuth2: when the access token used expires (a new one is fetched before then).
 */
token_expires_at: string | null, };

export type RejectedMail = { id: number, 
/**
 * The real address(es) of the From header, never its display name.
 */
sender: string, subject: string, 
/**
 * Why, in English (the sender check's words).
 */
reason: string, received_at: string, journaled_at: string, };

export type ResolveVia = "recovery" | "desktop" | "cli";

export type SaslMechanism = "xoauth2" | "oauthbearer";

export type SavedSettings = { 
/**
 * As written: normalised (phone numbers in E.164).
 */
config: Config, 
/**
 * Whether a running Sentinela took them at once; false when none is running (they apply
 * at its next start).
 */
applied: boolean, };

export type SecretStatus = { imap_password: boolean, twilio_auth_token: boolean, journal_password: boolean, oauth_client_secret: boolean, 
/**
 * A mailbox sign-in (OAuth2 refresh token) is in the keyring.
 */
mailbox_signed_in: boolean, };

export type Security = "tls" | "starttls" | "plain";

export type SelfTestReport = { to: string, sid: string, 
/**
 * Every state seen, in order (`queued`, `ringing`, `in-progress`, …).
 */
states: Array<string>, 
/**
 * For calls: `answered`, `machine`, `no-answer`, …; for messages: the last state.
 */
outcome: string, duration_secs: number | null, };

export type SettingsView = { path: string, 
/**
 * None before the first save.
 */
config: Config | null, lang: Lang, 
/**
 * Sentinela's version, for the window's footer.
 */
version: string, };

export type SignInFlow = "user" | "app";

export type SmsConfig = { 
/**
 * A number of the account able to send SMS, in E.164.
 */
from: string, 
/**
 * A WhatsApp message that fails or is undelivered (sandbox left, no template, a phone
 * without WhatsApp) goes to the same number by SMS, once.
 */
fallback: boolean, 
/**
 * People told by SMS only (not in `[whatsapp] to`): every alert, as WhatsApp's recipients.
 */
to?: Array<string>, };

export type StateFilter = "all" | "unresolved" | "resolved";

export type StatusView = { state: TrayState, text: string, };

export type TrayState = "watching" | "alerting" | "degraded" | "paused" | "not_configured" | "unnotified";

export type TwilioConfig = { account_sid: string, 
/**
 * Optional API key (`SK…`) used instead of the Account SID to authenticate.
 */
api_key_sid: string, base_url: string, 
/**
 * Twilio Studio's API, for calls with `[calls] keypress`.
 */
studio_url: string, 
/**
 * Journal what would be sent, send nothing.
 */
dry_run: boolean, };

export type TwilioProblem = "auth" | "unreachable";

export type TwilioState = { "state": "ok" } | { "state": "degraded", kind: TwilioProblem, message: string, };

export type WatchAlarm = { "alarm": "not_watching", since: string, reason: string, } | { "alarm": "credentials_refused", reason: string, } | { "alarm": "recovered" } | { "alarm": "twilio_unreachable", since: string, reason: string, } | { "alarm": "twilio_recovered" } | { "alarm": "sensor_silent", since: string, } | { "alarm": "sensor_heard_again" } | { "alarm": "journal_failing", reason: string, } | { "alarm": "journal_recovered" } | { "alarm": "journal_replaced", moved_to: string, } | { "alarm": "shared_journal_unreachable", since: string, reason: string, } | { "alarm": "shared_journal_reachable" };

export type WhatsAppConfig = { from: string, to: Array<string>, 
/**
 * Optional approved template (`HX…`), needed outside the 24-hour window.
 */
content_sid: string, };
