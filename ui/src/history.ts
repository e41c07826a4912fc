// The history window: alerts newest first, filter by text and date, an alert's detail with its
// WhatsApp deliveries and call timeline, live updates from the engine, CSV export.
import { appendPage, csvRows, filterRows, type Filter } from "./format";
import { showEngineStatus } from "./status";
import { words } from "./i18n";
import { ipc, isAppError, onEngineEvent, type AlertSummary, type Lang } from "./ipc";
import { renderDetail, renderList } from "./render";

async function main(): Promise<void> {
  const { lang } = await ipc.getSettings();
  const l: Lang = lang;
  const w = words(l);
  document.documentElement.lang = l === "pt" ? "pt-BR" : "en";
  document.title = `Sentinela — ${w.history}`;
  void showEngineStatus(document.getElementById("engine-status")!);
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const text = $<HTMLInputElement>("filter-text");
  const since = $<HTMLInputElement>("filter-since");
  const until = $<HTMLInputElement>("filter-until");
  text.placeholder = w.search_ph;
  $("label-since").textContent = w.since;
  $("label-until").textContent = w.until;
  $("export").textContent = w.export_csv;
  $("col-time").textContent = w.col_time;
  $("col-subject").textContent = w.col_subject;
  $("col-outcome").textContent = w.col_outcome;
  $("detail").textContent = w.choose;
  const older = $<HTMLButtonElement>("older");
  older.textContent = w.older;

  let rows: AlertSummary[] = [];
  let visible: AlertSummary[] = [];
  let selected: number | null = null;
  const filter = (): Filter => ({ text: text.value, since: since.value, until: until.value });
  const showDetail = async (id: number) => {
    selected = id;
    renderDetail($("detail"), await ipc.alertDetail(id), w, l);
  };
  const draw = () => {
    visible = filterRows(rows, filter());
    renderList($("rows"), visible, w, l, (id) => void showDetail(id));
  };
  // The newest page first; older pages on demand, so the whole history can be read.
  const PAGE = 1000;
  const reload = async () => {
    const started = performance.now();
    const limit = Math.max(PAGE, rows.length);
    rows = await ipc.listAlerts(limit);
    older.hidden = rows.length < limit;
    draw();
    // Read by the benchmark: the list's fetch and render, and the time since the window's
    // navigation started (performance.now() counts from there).
    document.body.dataset.reloadMs = String(Math.round(performance.now() - started));
    document.body.dataset.shownAtMs = String(Math.round(performance.now()));
    document.body.dataset.rows = String(rows.length);
  };
  older.addEventListener("click", async () => {
    const oldest = rows[rows.length - 1];
    if (!oldest) return;
    const next = appendPage(rows, await ipc.listAlerts(PAGE, oldest.id), PAGE);
    rows = next.rows;
    older.hidden = !next.more;
    draw();
  });
  for (const input of [text, since, until]) input.addEventListener("input", draw);
  $("export").addEventListener("click", async () => {
    try {
      $("status").textContent = `${w.exported} ${await ipc.exportCsv(csvRows(visible, w))}`;
    } catch (e) {
      $("status").textContent = isAppError(e) ? e.message : String(e);
    }
  });

  // Live: new alerts, deliveries and call progress refresh the list and the open detail.
  let pending = false;
  await onEngineEvent((e) => {
    if (!["alert_recorded", "delivery", "call", "escalation_finished"].includes(e.event) || pending) return;
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
