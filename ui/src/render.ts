// The history window's list and detail views, built only from text nodes.
import { clear, el } from "./dom";
import { answeredByWord, localClock, localTime, outcome, stateWord } from "./format";
import type { Words } from "./i18n";
import type { CallAttempt, Delivery, IncidentDetail, IncidentSummary, Lang, RejectedMail } from "./ipc";

export function renderList(tbody: HTMLElement, rows: IncidentSummary[], w: Words, lang: Lang, onPick: (id: number) => void): void {
  clear(tbody);
  if (rows.length === 0) {
    tbody.append(el("tr", {}, el("td", { colspan: "4", class: "empty" }, w.no_incidents)));
    return;
  }
  // One fragment: a single layout pass for a thousand rows.
  const frag = document.createDocumentFragment();
  for (const r of rows) {
    frag.append(el("tr", { "data-id": String(r.id), class: `state-${r.state}`, tabindex: "0" },
      el("td", {}, localTime(r.first_seen, lang)),
      el("td", {}, `#${r.id} ${r.test ? `[${w.test.toUpperCase()}] ` : ""}${r.title}`),
      el("td", { class: "emails" }, String(r.emails)),
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

/** E-mails whose sender failed the check: when, the real address, the subject, why. As text only. */
export function renderRejected(box: HTMLElement, rows: RejectedMail[], w: Words, lang: Lang): void {
  clear(box);
  box.hidden = rows.length === 0;
  if (rows.length === 0) return;
  box.append(el("h2", {}, w.rejected_title), el("p", { class: "hint" }, w.rejected_hint));
  const list = el("ul", { class: "rejected" });
  for (const r of rows) {
    list.append(el("li", { "data-id": String(r.id) },
      el("span", { class: "when" }, localTime(r.received_at, lang)), " ",
      el("strong", {}, r.sender || w.no_address), " — ", r.subject,
      el("div", { class: "why" }, r.reason)));
  }
  box.append(list);
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

type Names = IncidentDetail["names"];

/** "Ana (+5511999990001)" when `[people]` names the number. */
function who(number: string, names: Names): string {
  const name = names[number];
  return name ? `${name} (${number})` : number;
}

/** "SMS Ana (+55…) (alerta): entregue — no lugar do WhatsApp que não chegou". */
function deliveryLine(d: Delivery, w: Words, names: Names = {}): string {
  return `${w.channels[d.channel]} ${who(d.recipient, names)} (${w.purposes[d.purpose]}): ${stateWord(d.state, w)}` + problem(d) +
    (d.fallback_of !== null ? ` — ${w.sms_fallback}` : "");
}

function callLine(c: CallAttempt, w: Words, names: Names = {}): string {
  return `${w.round} ${c.round + 1} — ${who(c.number, names)}: ${stateWord(c.outcome ?? c.state, w)}` +
    (c.answered_by ? ` (${answeredByWord(c.answered_by, w)})` : "") +
    (c.duration !== null ? ` — ${w.duration} ${c.duration} s` : "") +
    problem(c);
}

/** The actions the detail offers; each is enabled only when it can change something. */
export interface DetailActions {
  acknowledge: (id: number) => void;
  resolve: (id: number) => void;
}

export function renderDetail(box: HTMLElement, d: IncidentDetail, w: Words, lang: Lang, actions?: DetailActions): void {
  clear(box);
  const i = d.incident;
  const latest = d.emails[d.emails.length - 1];
  const ack = el("button", { id: "acknowledge", type: "button" }, w.acknowledge);
  const resolve = el("button", { id: "resolve", type: "button" }, w.resolve);
  ack.disabled = i.state !== "open" || !actions;
  resolve.disabled = i.state === "resolved" || !actions;
  if (actions) {
    ack.addEventListener("click", () => actions.acknowledge(i.id));
    resolve.addEventListener("click", () => actions.resolve(i.id));
  }
  // Who acted and how, in the reader's words (an incident is taken and ended once each).
  const said = (kind: string, detail: string): string => {
    if (kind === "acknowledged" && i.acknowledged_via) return ` — ${w.by} ${i.acknowledged_by ?? w.ack_via[i.acknowledged_via]} (${w.ack_via[i.acknowledged_via]})`;
    if (kind === "resolved" && i.resolved_via) return ` — ${w.resolve_via[i.resolved_via]}${i.resolved_by ? ` (${i.resolved_by})` : ""}`;
    return detail && !["reopened", "acknowledged", "resolved"].includes(kind) ? ` — ${detail}` : "";
  };
  // One timeline: e-mails, what people and the engine did, messages and calls, by time.
  type Line = { at: string; kind: string; text: string };
  const lines: Line[] = [
    ...d.emails.map((e) => ({ at: e.journaled_at, kind: "email", text: `${w.email} (${e.kind ? w.alert_kinds[e.kind] : "?"}): ${e.subject}` })),
    ...d.log
      .filter((l) => !["opened", "repeat", "recovered"].includes(l.kind))
      .map((l) => ({ at: l.at, kind: `log-${l.kind}`, text: w.log_kinds[l.kind] + said(l.kind, l.detail) })),
    ...d.whatsapp.map((x) => ({ at: x.updated_at, kind: x.channel, text: deliveryLine(x, w, d.names) })),
    ...d.calls.map((c) => ({ at: c.updated_at, kind: "call", text: `${w.call} ${callLine(c, w, d.names)}` })),
  ];
  lines.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  box.append(
    el("h2", { id: "detail-title" }, `#${i.id} ${i.title}`),
    el("p", { id: "detail-state", class: "meta", "data-state": i.state }, outcome(i, w)),
    el("p", { class: "meta" }, `${w.first_seen} ${localTime(i.first_seen, lang)} — ${w.last_seen} ${localTime(i.last_seen, lang)} — ${w.emails_word(i.emails)}`),
    el("p", { class: "actions" }, ack, " ", resolve),
    el("h3", {}, w.body),
    el("pre", { id: "detail-body", class: "body" }, latest ? `${latest.sender}\n${latest.subject}\n\n${latest.body}` : ""),
    el("h3", {}, w.timeline_all),
    el("ol", { id: "detail-timeline" }, ...lines.map((l) => el("li", { "data-kind": l.kind }, step(l.at, lang) + l.text))),
    el("h3", {}, w.deliveries),
    el("ul", { id: "detail-whatsapp" }, ...d.whatsapp.map((x) =>
      el("li", { "data-state": x.state }, step(x.updated_at, lang) + deliveryLine(x, w, d.names)))),
    el("h3", {}, w.timeline),
    el("ol", { id: "detail-calls" }, ...d.calls.map((c) =>
      el("li", { "data-outcome": c.outcome ?? c.state }, step(c.updated_at, lang) + callLine(c, w, d.names)))),
  );
}
