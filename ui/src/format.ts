// Pure helpers of the history window: incident labels, the search's query, CSV rows, local times,
// dates typed the reader's way.
import type { CsvRow, IncidentQuery, IncidentState, IncidentSummary, StateFilter } from "./ipc";
import type { Words } from "./i18n";

/** An incident's state in the reader's words. Typed by the generated enum: a new state fails the
 * typecheck until it has words. */
export function incidentState(state: IncidentState, w: Words): string {
  return w.incident_states[state];
}

/** What the list's last column says: the state, who took it and how, whether its calls went
 * unanswered, whether a pause held it. */
export function outcome(row: Pick<IncidentSummary, "state" | "acknowledged_by" | "acknowledged_via" | "resolved_via" | "escalation" | "test" | "held_since">, w: Words): string {
  const parts = [incidentState(row.state, w)];
  if (row.acknowledged_via) parts.push(`${w.by} ${row.acknowledged_by ?? w.ack_via[row.acknowledged_via]} (${w.ack_via[row.acknowledged_via]})`);
  if (row.state === "resolved" && row.resolved_via) parts.push(w.resolve_via[row.resolved_via]);
  if (row.escalation === "unanswered") parts.push(w.nobody);
  if (row.held_since) parts.push(w.held);
  const base = parts.join(" — ");
  return row.test ? `${base} (${w.test})` : base;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local date-time, as operators read it (Brazil has several time zones). One formatter per
 * language: building an Intl formatter per row costs more than the whole rest of the list. */
export function localTime(iso: string, lang: "pt" | "en"): string {
  let f = formatters.get(lang);
  if (!f) {
    f = new Intl.DateTimeFormat(lang === "pt" ? "pt-BR" : "en-GB", { dateStyle: "short", timeStyle: "medium" });
    formatters.set(lang, f);
  }
  return f.format(new Date(iso));
}

const clocks = new Map<string, Intl.DateTimeFormat>();

/** Local time of day (`13:00:05`), for the steps of one alert; "" for a missing time. */
export function localClock(iso: string, lang: "pt" | "en"): string {
  if (!iso || Number.isNaN(Date.parse(iso))) return "";
  let f = clocks.get(lang);
  if (!f) {
    f = new Intl.DateTimeFormat(lang === "pt" ? "pt-BR" : "en-GB", { timeStyle: "medium" });
    clocks.set(lang, f);
  }
  return f.format(new Date(iso));
}

/** A call or WhatsApp state in the reader's words; a state this version does not know as is. */
export function stateWord(state: string, w: Words): string {
  return w.states[state] ?? state;
}

/** Who or what picked up a call (Twilio's `answered_by`) in the reader's words. */
export function answeredByWord(kind: string, w: Words): string {
  return w.answered_by_kinds[kind] ?? kind;
}

/** A test's report: the states it went through (`completed (human)` for a call picked up),
 * in the reader's words: "na fila → tocando → concluída (pessoa)". */
export function reportStates(states: string[], w: Words): string {
  return states.map((s) => {
    const m = /^(\S+) \((.+)\)$/.exec(s);
    return m ? `${stateWord(m[1], w)} (${answeredByWord(m[2], w)})` : stateWord(s, w);
  }).join(" → ");
}

/** The list once an older `page` (newest first) is loaded below the `loaded` rows; `more` says
 * whether a page older still may exist (this one was full). */
export function appendPage<T extends { id: number }>(loaded: T[], page: T[], pageSize: number): { rows: T[]; more: boolean } {
  const seen = new Set(loaded.map((r) => r.id));
  return { rows: [...loaded, ...page.filter((r) => !seen.has(r.id))], more: page.length >= pageSize };
}

export interface Filter { text: string; since: string; until: string }

/** A day typed the reader's way — `28/11/2026` (or `28/11/26`, `28-11-2026`, or ISO
 * `2026-11-28`) — as `YYYY-MM-DD`; "" for an empty field, null for something that is no date. */
export function parseDay(typed: string): string | null {
  const t = typed.trim();
  if (!t) return "";
  let y: number, m: number, d: number;
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(t);
  const local = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$/.exec(t);
  if (iso) [y, m, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  else if (local) [d, m, y] = [Number(local[1]), Number(local[2]), Number(local[3].length === 2 ? `20${local[3]}` : local[3])];
  else return null;
  const date = new Date(y, m - 1, d);
  if (date.getFullYear() !== y || date.getMonth() !== m - 1 || date.getDate() !== d) return null;
  return `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** The history's search as the journal takes it: the words as typed, the days (`YYYY-MM-DD`,
 * inclusive, the reader's local time) as the instants they start and end, the state. */
export function toQuery(f: Filter, state: StateFilter, before: number | null, limit: number): IncidentQuery {
  const startOf = (day: string) => new Date(`${day}T00:00:00`);
  const dayAfter = (day: string) => {
    const d = startOf(day);
    d.setDate(d.getDate() + 1);
    return d;
  };
  return {
    text: f.text.trim(),
    since: f.since ? startOf(f.since).toISOString() : null,
    until: f.until ? dayAfter(f.until).toISOString() : null,
    state,
    before,
    limit,
  };
}

export function csvRows(rows: IncidentSummary[], w: Words): CsvRow[] {
  return rows.map((r) => ({
    id: r.id, first_seen: r.first_seen, last_seen: r.last_seen, title: r.title, emails: r.emails,
    state: r.state, outcome: outcome(r, w),
  }));
}

/** Phone lists are typed one per line (or separated by commas/semicolons). */
export function splitNumbers(text: string): string[] {
  return text.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean);
}
