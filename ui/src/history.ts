// The history window: incidents newest first, searched in the whole journal by words, by days
// typed the reader's way and by state; an incident's timeline (its e-mails, WhatsApp messages, calls and who took it) with
// *Reconhecer* and *Resolver*, live updates from the engine, CSV export.
import { appendPage, csvRows, parseDay, toQuery, type Filter } from "./format";
import { showEngineStatus } from "./status";
import { words } from "./i18n";
import { ipc, isAppError, onEngineEvent, type IncidentSummary, type Lang, type StateFilter } from "./ipc";
import { renderDetail, renderList, renderRejected } from "./render";

async function main(): Promise<void> {
  const l: Lang = await ipc.getLang();
  const w = words(l);
  document.documentElement.lang = l === "pt" ? "pt-BR" : "en";
  document.title = `Sentinela — ${w.history}`;
  void showEngineStatus(document.getElementById("engine-status")!);
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const text = $<HTMLInputElement>("filter-text");
  const since = $<HTMLInputElement>("filter-since");
  const until = $<HTMLInputElement>("filter-until");
  const stateFilter = $<HTMLSelectElement>("filter-state");
  for (const option of Array.from(stateFilter.options)) option.textContent = w.state_filter[option.value as StateFilter];
  text.placeholder = w.search_ph;
  since.placeholder = w.date_ph;
  until.placeholder = w.date_ph;
  $("label-since").textContent = w.since;
  $("label-until").textContent = w.until;
  $("export").textContent = w.export_csv;
  $("col-time").textContent = w.col_time;
  $("col-subject").textContent = w.col_subject;
  $("col-emails").textContent = w.col_emails;
  $("col-outcome").textContent = w.col_state;
  $("detail").textContent = w.choose_incident;
  const older = $<HTMLButtonElement>("older");
  older.textContent = w.older;
  const status = $("status");

  let rows: IncidentSummary[] = [];
  let selected: number | null = null;
  /** The filter as typed; a date that is no date is said, and ignored until fixed. */
  const filter = (): Filter => {
    const [s, u] = [parseDay(since.value), parseDay(until.value)];
    for (const [input, day] of [[since, s], [until, u]] as const) input.setCustomValidity(day === null ? w.bad_date : "");
    status.textContent = s === null || u === null ? w.bad_date : "";
    return { text: text.value, since: s ?? "", until: u ?? "" };
  };
  const act = async (f: () => Promise<unknown>, done: string, id: number) => {
    try {
      await f();
      status.textContent = done;
      await reload();
      await showDetail(id);
    } catch (e) {
      status.textContent = isAppError(e) ? e.message : String(e);
    }
  };
  const actions = {
    acknowledge: (id: number) => void act(() => ipc.acknowledgeIncident(id), w.acked_now, id),
    resolve: (id: number) => void act(() => ipc.resolveIncident(id), w.resolved_now, id),
  };
  const showDetail = async (id: number) => {
    selected = id;
    renderDetail($("detail"), await ipc.incidentDetail(id), w, l, actions);
  };
  const draw = () => renderList($("rows"), rows, w, l, (id) => void showDetail(id));
  const query = (before: number | null, limit: number) => toQuery(filter(), stateFilter.value as StateFilter, before, limit);
  // The newest page first; older pages on demand, so the whole history can be read.
  const PAGE = 1000;
  const reload = async () => {
    const started = performance.now();
    const limit = Math.max(PAGE, rows.length);
    rows = await ipc.listIncidents(query(null, limit));
    older.hidden = rows.length < limit;
    draw();
    renderRejected($("rejected"), await ipc.listRejected(50), w, l);
    // Read by the benchmark: the list's fetch and render, and the time since the window's
    // navigation started (performance.now() counts from there).
    document.body.dataset.reloadMs = String(Math.round(performance.now() - started));
    document.body.dataset.shownAtMs = String(Math.round(performance.now()));
    document.body.dataset.rows = String(rows.length);
  };
  older.addEventListener("click", async () => {
    const oldest = rows[rows.length - 1];
    if (!oldest) return;
    const next = appendPage(rows, await ipc.listIncidents(query(oldest.id, PAGE)), PAGE);
    rows = next.rows;
    older.hidden = !next.more;
    draw();
  });
  // A new search starts at the newest page again; typing waits for a pause.
  let typing: ReturnType<typeof setTimeout> | undefined;
  const search = () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      rows = [];
      void reload().catch((e) => (status.textContent = isAppError(e) ? e.message : String(e)));
    }, 250);
  };
  for (const input of [text, since, until, stateFilter]) input.addEventListener("input", search);
  // The export writes everything the search found, not only the pages loaded.
  $("export").addEventListener("click", async () => {
    try {
      const found = await ipc.listIncidents(query(null, 100_000));
      status.textContent = `${w.exported} ${await ipc.exportCsv(csvRows(found, w))}`;
    } catch (e) {
      status.textContent = isAppError(e) ? e.message : String(e);
    }
  });

  // Live: incident changes, new e-mails, deliveries and call progress refresh the list and the
  // open detail — and so does any write to the journal by the CLI or another workstation.
  let pending = false;
  await onEngineEvent((e) => {
    if (!["incident", "alert_recorded", "delivery", "call", "escalation_started", "journal_changed"].includes(e.event) || pending) return;
    pending = true;
    setTimeout(async () => {
      pending = false;
      await reload();
      if (selected !== null) await showDetail(selected);
    }, 150);
  });
  await reload();
}

main().catch((e) => {
  document.getElementById("status")!.textContent = isAppError(e) ? e.message : String(e);
});
