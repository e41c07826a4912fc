import { describe, expect, it, vi } from "vitest";
import { renderDetail, renderList } from "./render";
import { words } from "./i18n";
import type { IncidentDetail, IncidentSummary } from "./ipc";

const hostile = `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">`;

const incident: IncidentSummary = {
  id: 12, state: "acknowledged", title: hostile, emails: 3, first_seen: "2026-11-01T10:00:00Z", last_seen: "2026-11-01T10:10:00Z",
  acknowledged_at: "2026-11-01T10:01:00Z", acknowledged_by: "+5511988880002", acknowledged_via: "call",
  resolved_at: null, resolved_by: null, resolved_via: null, test: false, held_since: null, released_at: null, escalation: "answered",
};

const detail: IncidentDetail = {
  incident,
  emails: [
    { alert_id: 1, kind: "alarm", journaled_at: "2026-11-01T10:00:00Z", sender: `"<b>x</b>" <s@x>`, subject: hostile, body: "primeiro" },
    { alert_id: 2, kind: "repeat", journaled_at: "2026-11-01T10:10:00Z", sender: `"<b>x</b>" <s@x>`, subject: hostile, body: `Temperatura ${hostile} 31 °C` },
  ],
  whatsapp: [{ id: 1, incident_id: 12, purpose: "alarm", recipient: "+5511999990001", headline: hostile, detail: "", state: "read", sid: "SM1", error_code: null, error_message: null, updated_at: "2026-11-01T10:00:02Z", test: false, channel: "whatsapp", fallback_of: null }],
  calls: [
    { id: 1, round: 0, position: 0, number: "+5511988880001", state: "no-answer", sid: "CA1", execution_sid: null, answered_by: null, duration: null, outcome: "no-answer", error_code: null, error_message: null, updated_at: "", incidents: [12] },
    { id: 2, round: 0, position: 1, number: "+5511988880002", state: "completed", sid: "CA2", execution_sid: null, answered_by: "human", duration: 31, outcome: "answered", error_code: null, error_message: null, updated_at: "", incidents: [12] },
  ],
  log: [
    { at: "2026-11-01T10:00:00Z", kind: "opened", detail: hostile },
    { at: "2026-11-01T10:01:00Z", kind: "acknowledged", detail: "+5511988880002 (call)" },
  ],
  names: {},
};

describe("rendering attacker-controlled e-mail text", () => {
  it("shows markup as text and runs nothing", () => {
    const box = document.createElement("div");
    document.body.append(box);
    renderDetail(box, detail, words("pt"), "pt");
    expect(box.querySelector("script")).toBeNull();
    expect(box.querySelector("img")).toBeNull();
    expect(box.querySelector("b")).toBeNull();
    expect(box.querySelector("#detail-body")!.textContent).toContain("<img src=x onerror=");
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
  });

  it("shows the call timeline in order with who answered, and who took the incident", () => {
    const box = document.createElement("div");
    renderDetail(box, detail, words("en"), "en");
    const items = [...box.querySelectorAll("#detail-calls li")].map((li) => li.textContent);
    expect(items).toEqual(["round 1 — +5511988880001: no answer", "round 1 — +5511988880002: answered (person) — duration 31 s"]);
    expect(box.querySelector("#detail-state")!.textContent).toBe("acknowledged — by +5511988880002 (answered the call)");
  });

  it("tells the incident's story in one timeline, in Portuguese", () => {
    const box = document.createElement("div");
    renderDetail(box, detail, words("pt"), "pt");
    const kinds = [...box.querySelectorAll("#detail-timeline li")].map((li) => li.getAttribute("data-kind"));
    expect(kinds.slice(0, 4)).toEqual(["email", "whatsapp", "log-acknowledged", "email"]);
    const text = box.querySelector("#detail-timeline")!.textContent!;
    expect(text).toContain("e-mail (repetição)");
    expect(text).toContain("reconhecido — por +5511988880002 (atendeu a ligação)");
    expect(text).toContain("WhatsApp +5511999990001 (alerta): lida");
  });

  it("names the people [people] knows", () => {
    const box = document.createElement("div");
    renderDetail(box, { ...detail, names: { "+5511988880002": "Bruno" } }, words("pt"), "pt");
    expect([...box.querySelectorAll("#detail-calls li")].map((li) => li.textContent)[1]).toBe("rodada 1 — Bruno (+5511988880002): atendida (pessoa) — duração 31 s");
  });

  it("offers Reconhecer only while open and Resolver until resolved", () => {
    const acknowledge = vi.fn();
    const resolve = vi.fn();
    const box = document.createElement("div");
    renderDetail(box, { ...detail, incident: { ...incident, state: "open", acknowledged_via: null, acknowledged_by: null } }, words("pt"), "pt", { acknowledge, resolve });
    const ack = box.querySelector<HTMLButtonElement>("#acknowledge")!;
    expect([ack.textContent, ack.disabled]).toEqual(["Reconhecer", false]);
    ack.click();
    box.querySelector<HTMLButtonElement>("#resolve")!.click();
    expect(acknowledge).toHaveBeenCalledWith(12);
    expect(resolve).toHaveBeenCalledWith(12);
    renderDetail(box, { ...detail, incident: { ...incident, state: "resolved", resolved_via: "recovery", resolved_at: "2026-11-01T10:20:00Z" } }, words("pt"), "pt", { acknowledge, resolve });
    expect(box.querySelector<HTMLButtonElement>("#acknowledge")!.disabled).toBe(true);
    expect(box.querySelector<HTMLButtonElement>("#resolve")!.disabled).toBe(true);
  });

  it("says why a message failed in Portuguese", () => {
    const box = document.createElement("div");
    const at = "2026-11-01T10:00:05Z";
    const clock = new Intl.DateTimeFormat("pt-BR", { timeStyle: "medium" }).format(new Date(at));
    renderDetail(box, {
      ...detail,
      whatsapp: [{ ...detail.whatsapp[0], state: "failed", error_code: 63015, error_message: "erro 63015: O destinatário não entrou no sandbox", updated_at: at }],
    }, words("pt"), "pt");
    expect([...box.querySelectorAll("#detail-whatsapp li")].map((li) => li.textContent)).toEqual([
      `${clock} — WhatsApp +5511999990001 (alerta): falhou — erro 63015: O destinatário não entrou no sandbox`,
    ]);
  });

  it("says which channel each message went by, and an SMS that stood in for a WhatsApp", () => {
    const box = document.createElement("div");
    const at = "2026-11-01T10:00:05Z";
    const clock = new Intl.DateTimeFormat("pt-BR", { timeStyle: "medium" }).format(new Date(at));
    renderDetail(box, {
      ...detail,
      whatsapp: [{ ...detail.whatsapp[0], id: 2, channel: "sms", fallback_of: 1, state: "delivered", updated_at: at }],
    }, words("pt"), "pt");
    expect([...box.querySelectorAll("#detail-whatsapp li")].map((li) => li.textContent)).toEqual([
      `${clock} — SMS +5511999990001 (alerta): entregue — no lugar do WhatsApp que não chegou`,
    ]);
    expect(box.querySelector("#detail-timeline li[data-kind=sms]")).not.toBeNull();
  });

  it("lists rows as text too", () => {
    const tbody = document.createElement("tbody");
    renderList(tbody, [{ ...incident, state: "open", acknowledged_via: null, acknowledged_by: null, escalation: "unanswered" }], words("pt"), "pt", () => {});
    expect(tbody.querySelector("img")).toBeNull();
    expect(tbody.textContent).toContain("aberto — ninguém atendeu");
    expect(tbody.querySelector(".emails")!.textContent).toBe("3");
  });
});

describe("renderRejected", () => {
  it("lists the real address, the subject and why, as text; hidden when empty", async () => {
    const { renderRejected } = await import("./render");
    const box = document.createElement("section");
    renderRejected(box, [], words("pt"), "pt");
    expect(box.hidden).toBe(true);
    renderRejected(box, [{ id: 1, sender: "x@attacker.example", subject: "<img src=x onerror=alert(1)>", reason: "the sender x@attacker.example is not an allowed sender ([filter] from)", received_at: "2026-11-28T06:14:05Z", journaled_at: "2026-11-28T06:14:06Z" }], words("pt"), "pt");
    expect(box.hidden).toBe(false);
    expect(box.textContent).toContain("x@attacker.example");
    expect(box.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(box.querySelector("img")).toBeNull();
  });
});
