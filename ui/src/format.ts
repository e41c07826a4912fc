// Pure helpers of the history window: outcome labels, filtering, CSV rows, local times.
import type { AlertSummary, CsvRow } from "./ipc";
import type { Words } from "./i18n";

export function outcome(row: Pick<AlertSummary, "state" | "answered_by" | "is_test">, w: Words): string {
  const base = (() => {
    switch (row.state) {
      case "answered": return `${w.answered_by} ${row.answered_by ?? "?"}`;
      case "unanswered": return w.nobody;
      case "notifying": return w.in_progress;
      case "paused": return w.paused;
      case "dry_run": return w.st_dry_run;
      case "notified": return w.notified;
      default: return w.new;
    }
  })();
  return row.is_test ? `${base} (${w.test})` : base;
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
export function appendPage(loaded: AlertSummary[], page: AlertSummary[], pageSize: number): { rows: AlertSummary[]; more: boolean } {
  const seen = new Set(loaded.map((r) => r.id));
  return { rows: [...loaded, ...page.filter((r) => !seen.has(r.id))], more: page.length >= pageSize };
}

export interface Filter { text: string; since: string; until: string }

/** Rows matching the text (subject or sender, case- and accent-insensitive) and the date range
 * (`YYYY-MM-DD`, inclusive, in local time). */
export function filterRows(rows: AlertSummary[], f: Filter): AlertSummary[] {
  const fold = (s: string) => s.normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();
  const text = fold(f.text.trim());
  const since = f.since ? new Date(`${f.since}T00:00:00`).getTime() : -Infinity;
  const until = f.until ? new Date(`${f.until}T23:59:59.999`).getTime() : Infinity;
  return rows.filter((r) => {
    const t = new Date(r.received_at).getTime();
    return t >= since && t <= until && (!text || fold(`${r.subject} ${r.sender}`).includes(text));
  });
}

export function csvRows(rows: AlertSummary[], w: Words): CsvRow[] {
  return rows.map((r) => ({ id: r.id, received_at: r.received_at, subject: r.subject, sender: r.sender, outcome: outcome(r, w) }));
}

/** Phone lists are typed one per line (or separated by commas/semicolons). */
export function splitNumbers(text: string): string[] {
  return text.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean);
}
