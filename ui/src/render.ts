// The history window's list and detail views, built only from text nodes.
import { clear, el } from "./dom";
import { answeredByWord, localClock, localTime, outcome, stateWord } from "./format";
import type { Words } from "./i18n";
import type { AlertDetail, AlertSummary, Lang } from "./ipc";

export function renderList(tbody: HTMLElement, rows: AlertSummary[], w: Words, lang: Lang, onPick: (id: number) => void): void {
  clear(tbody);
  if (rows.length === 0) {
    tbody.append(el("tr", {}, el("td", { colspan: "3", class: "empty" }, w.no_alerts)));
    return;
  }
  // One fragment: a single layout pass for a thousand rows.
  const frag = document.createDocumentFragment();
  for (const r of rows) {
    frag.append(el("tr", { "data-id": String(r.id), class: `state-${r.state}`, tabindex: "0" },
      el("td", {}, localTime(r.received_at, lang)),
      el("td", {}, r.is_test ? `[${w.test.toUpperCase()}] ${r.subject}` : r.subject),
      el("td", {}, outcome(r, w))));
  }
  tbody.append(frag);
  // One listener for the whole list instead of two per row.
  const pick = (ev: Event) => {
    const id = (ev.target as Element | null)?.closest("tr")?.getAttribute("data-id");
    if (id) onPick(Number(id));
  };
  tbody.onclick = pick;
  tbody.onkeydown = (ev) => { if (ev.key === "Enter") pick(ev); };
}

/** "13:00:05 — " before a step, when its time is known. */
function step(at: string, lang: Lang): string {
  const clock = localClock(at, lang);
  return clock ? `${clock} — ` : "";
}

/** Why a delivery or call failed: the explanation (which names the code) or just the code. */
function problem(x: { error_code: number | null; error_message: string | null }): string {
  if (x.error_message) return ` — ${x.error_message}`;
  return x.error_code !== null ? ` — ${x.error_code}` : "";
}

export function renderDetail(box: HTMLElement, d: AlertDetail, w: Words, lang: Lang): void {
  clear(box);
  const a = d.alert;
  box.append(
    el("h2", { id: "detail-subject" }, a.subject),
    el("p", { class: "meta" }, `${localTime(a.received_at, lang)} — ${a.sender} — ${outcome({ state: a.state, answered_by: d.answered_by, is_test: a.is_test }, w)}`),
    el("h3", {}, w.body),
    el("pre", { id: "detail-body", class: "body" }, a.body),
    el("h3", {}, w.deliveries),
    el("ul", { id: "detail-whatsapp" }, ...d.whatsapp.map((x) =>
      el("li", { "data-state": x.state }, step(x.updated_at, lang) + `${x.recipient}: ${stateWord(x.state, w)}` + problem(x)))),
    el("h3", {}, w.timeline),
    el("ol", { id: "detail-calls" }, ...d.calls.map((c) =>
      el("li", { "data-outcome": c.outcome ?? c.state },
        step(c.updated_at, lang) + `${w.round} ${c.round + 1} — ${c.number}: ${stateWord(c.outcome ?? c.state, w)}` +
        (c.answered_by ? ` (${answeredByWord(c.answered_by, w)})` : "") +
        (c.duration !== null ? ` — ${w.duration} ${c.duration} s` : "") +
        problem(c)))),
  );
}
