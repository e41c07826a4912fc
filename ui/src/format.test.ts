import { describe, expect, it } from "vitest";
import { appendPage, csvRows, outcome, parseDay, reportStates, splitNumbers, toQuery } from "./format";
import { words } from "./i18n";
import type { IncidentSummary } from "./ipc";

const row = (id: number, title: string, first_seen: string, last_seen = first_seen): IncidentSummary => ({
  id, state: "acknowledged", title, emails: 2, first_seen, last_seen, acknowledged_at: first_seen,
  acknowledged_by: "+5511999990001", acknowledged_via: "call", resolved_at: null, resolved_by: null, resolved_via: null,
  test: false, held_since: null, released_at: null, escalation: "answered",
});

describe("outcome", () => {
  const pt = words("pt");
  it("says the state, who took it and how", () => {
    expect(outcome(row(1, "x", "2026-11-01T10:00:00Z"), pt)).toBe("reconhecido — por +5511999990001 (atendeu a ligação)");
    expect(outcome({ ...row(1, "x", "2026-11-01T10:00:00Z"), state: "open", acknowledged_via: null, escalation: "unanswered" }, pt)).toBe("aberto — ninguém atendeu");
    expect(outcome({ ...row(1, "x", "2026-11-01T10:00:00Z"), state: "resolved", acknowledged_via: null, resolved_via: "recovery", test: true }, words("en")))
      .toBe("resolved — the sensor said it is back to normal (test)");
    expect(outcome({ ...row(1, "x", "2026-11-01T10:00:00Z"), acknowledged_via: "desktop", acknowledged_by: null, held_since: "2026-11-01T09:00:00Z" }, pt))
      .toBe("reconhecido — por no Sentinela (no Sentinela) — guardado durante a pausa");
  });
});

describe("parseDay", () => {
  it("reads days the Brazilian way, and ISO", () => {
    expect(parseDay("28/11/2026")).toBe("2026-11-28");
    expect(parseDay(" 1/2/26 ")).toBe("2026-02-01");
    expect(parseDay("28-11-2026")).toBe("2026-11-28");
    expect(parseDay("2026-11-28")).toBe("2026-11-28");
    expect(parseDay("")).toBe("");
  });
  it("refuses what is no date", () => {
    expect(parseDay("31/02/2026")).toBeNull();
    expect(parseDay("11/28/2026")).toBeNull();
    expect(parseDay("ontem")).toBeNull();
  });
});

describe("toQuery", () => {
  it("sends the words as typed and the days as the local instants they start and end", () => {
    const q = toQuery({ text: "  água sala 3 ", since: "2026-11-02", until: "2026-11-04" }, "unresolved", 40, 1000);
    expect(q.text).toBe("água sala 3");
    expect(q.since).toBe(new Date(2026, 10, 2).toISOString());
    expect(q.until).toBe(new Date(2026, 10, 5).toISOString());
    expect([q.state, q.before, q.limit]).toEqual(["unresolved", 40, 1000]);
  });
  it("leaves out what is empty", () => {
    expect(toQuery({ text: "", since: "", until: "" }, "all", null, 10)).toEqual({ text: "", since: null, until: null, state: "all", before: null, limit: 10 });
  });
  it("ends a month's last day at the next month's start", () => {
    expect(toQuery({ text: "", since: "", until: "2026-11-30" }, "all", null, 1).until).toBe(new Date(2026, 11, 1).toISOString());
  });
});

describe("csvRows and splitNumbers", () => {
  it("exports what the list shows", () => {
    expect(csvRows([row(1, "x", "2026-11-01T10:00:00Z")], words("en"))[0]).toEqual({
      id: 1, first_seen: "2026-11-01T10:00:00Z", last_seen: "2026-11-01T10:00:00Z", title: "x", emails: 2, state: "acknowledged",
      outcome: "acknowledged — by +5511999990001 (answered the call)",
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
  it("adds older incidents below, once each, and says when the history is all loaded", () => {
    const newest = [row(5, "e", "2026-11-05T10:00:00Z"), row(4, "d", "2026-11-04T10:00:00Z")];
    const older = appendPage(newest, [row(4, "d", "2026-11-04T10:00:00Z"), row(3, "c", "2026-11-03T10:00:00Z")], 2);
    expect(older.rows.map((r) => r.id)).toEqual([5, 4, 3]);
    expect(older.more).toBe(true);
    const last = appendPage(older.rows, [row(1, "a", "2026-11-01T10:00:00Z")], 2);
    expect(last.rows.map((r) => r.id)).toEqual([5, 4, 3, 1]);
    expect(last.more).toBe(false);
  });
});
