import { describe, expect, it } from "vitest";
import { appendPage, csvRows, filterRows, outcome, reportStates, splitNumbers } from "./format";
import { words } from "./i18n";
import type { AlertSummary } from "./ipc";

const row = (id: number, subject: string, received_at: string, state = "answered", answered_by: string | null = "+5511999990001"): AlertSummary =>
  ({ id, subject, sender: "sensor@cpd", received_at, state, is_test: false, answered_by });

describe("outcome", () => {
  const pt = words("pt");
  it("says who answered, or that nobody did", () => {
    expect(outcome(row(1, "x", "2026-11-01T10:00:00Z"), pt)).toBe("atendido por +5511999990001");
    expect(outcome({ state: "unanswered", answered_by: null, is_test: false }, pt)).toBe("ninguém atendeu");
    expect(outcome({ state: "notifying", answered_by: null, is_test: true }, words("en"))).toBe("in progress (test)");
  });
});

describe("filterRows", () => {
  const rows = [row(1, "ALERTA Temperatura crítica", "2026-11-01T12:00:00Z"), row(2, "ALERTA Água no piso", "2026-11-03T12:00:00Z")];
  it("matches text without caring about case or accents", () => {
    expect(filterRows(rows, { text: "agua", since: "", until: "" }).map((r) => r.id)).toEqual([2]);
    expect(filterRows(rows, { text: "CRITICA", since: "", until: "" }).map((r) => r.id)).toEqual([1]);
  });
  it("keeps the date range inclusive", () => {
    expect(filterRows(rows, { text: "", since: "2026-11-02", until: "" }).map((r) => r.id)).toEqual([2]);
    expect(filterRows(rows, { text: "", since: "", until: "2026-11-01" }).map((r) => r.id)).toEqual([1]);
  });
});

describe("csvRows and splitNumbers", () => {
  it("exports what the list shows", () => {
    expect(csvRows([row(1, "x", "2026-11-01T10:00:00Z")], words("en"))[0]).toEqual({
      id: 1, received_at: "2026-11-01T10:00:00Z", subject: "x", sender: "sensor@cpd", outcome: "answered by +5511999990001",
    });
  });
  it("reads numbers typed one per line or with commas", () => {
    expect(splitNumbers("(11) 99999-0001\n  11 99999 0002 ;+55 11 3333-4444,\n")).toEqual(["(11) 99999-0001", "11 99999 0002", "+55 11 3333-4444"]);
  });
});

describe("reportStates", () => {
  it("puts a test's states and who picked up in the reader's words", () => {
    expect(reportStates(["queued", "ringing", "in-progress (human)", "completed (human)"], words("pt"))).toBe("na fila → tocando → em andamento (pessoa) → concluída (pessoa)");
    expect(reportStates(["queued", "sent", "read"], words("en"))).toBe("queued → sent → read");
    expect(reportStates(["brand-new"], words("pt"))).toBe("brand-new");
  });
});

describe("appendPage", () => {
  it("adds older alerts below, once each, and says when the history is all loaded", () => {
    const newest = [row(5, "e", "2026-11-05T10:00:00Z"), row(4, "d", "2026-11-04T10:00:00Z")];
    const older = appendPage(newest, [row(4, "d", "2026-11-04T10:00:00Z"), row(3, "c", "2026-11-03T10:00:00Z")], 2);
    expect(older.rows.map((r) => r.id)).toEqual([5, 4, 3]);
    expect(older.more).toBe(true);
    const last = appendPage(older.rows, [row(1, "a", "2026-11-01T10:00:00Z")], 2);
    expect(last.rows.map((r) => r.id)).toEqual([5, 4, 3, 1]);
    expect(last.more).toBe(false);
  });
});
