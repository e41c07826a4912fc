import { describe, expect, it } from "vitest";
import { renderDetail, renderList } from "./render";
import { words } from "./i18n";
import type { AlertDetail } from "./ipc";

const hostile = `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">`;

const detail: AlertDetail = {
  alert: { id: 1, origin: { folder: "INBOX", uidvalidity: 1, uid: 7 }, message_id: null, journaled_at: "2026-11-01T10:00:01Z", sender: `"<b>x</b>" <s@x>`, subject: hostile, body: `Temperatura ${hostile} 31 °C`, truncated: false, received_at: "2026-11-01T10:00:00Z", state: "answered", is_test: false },
  whatsapp: [{ id: 1, alert_id: 1, recipient: "+5511999990001", state: "read", sid: "SM1", error_code: null, error_message: null, updated_at: "" }],
  calls: [
    { id: 1, alert_id: 1, round: 0, position: 0, number: "+5511988880001", state: "no-answer", sid: "CA1", answered_by: null, duration: null, outcome: "no-answer", error_code: null, error_message: null, updated_at: "" },
    { id: 2, alert_id: 1, round: 0, position: 1, number: "+5511988880002", state: "completed", sid: "CA2", answered_by: "human", duration: 31, outcome: "answered", error_code: null, error_message: null, updated_at: "" },
  ],
  answered_by: "+5511988880002",
  events: [],
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

  it("shows the call timeline in order with who answered", () => {
    const box = document.createElement("div");
    renderDetail(box, detail, words("en"), "en");
    const items = [...box.querySelectorAll("#detail-calls li")].map((li) => li.textContent);
    expect(items).toEqual(["round 1 — +5511988880001: no answer", "round 1 — +5511988880002: answered (person) — duration 31 s"]);
    expect(box.querySelector(".meta")!.textContent).toContain("answered by +5511988880002");
  });

  it("says states, who picked up and when in Portuguese, and why a message failed", () => {
    const box = document.createElement("div");
    const at = "2026-11-01T10:00:05Z";
    const clock = new Intl.DateTimeFormat("pt-BR", { timeStyle: "medium" }).format(new Date(at));
    renderDetail(box, {
      ...detail,
      whatsapp: [{ ...detail.whatsapp[0], state: "failed", error_code: 63015, error_message: "erro 63015: O destinatário não entrou no sandbox", updated_at: at }],
      calls: [{ ...detail.calls[1], answered_by: "machine_end_beep", outcome: "machine", updated_at: at }, { ...detail.calls[0], state: "some-new-state", outcome: null }],
    }, words("pt"), "pt");
    const text = (sel: string) => [...box.querySelectorAll(sel)].map((li) => li.textContent);
    expect(text("#detail-whatsapp li")).toEqual([`${clock} — +5511999990001: falhou — erro 63015: O destinatário não entrou no sandbox`]);
    expect(text("#detail-calls li")).toEqual([
      `${clock} — rodada 1 — +5511988880002: secretária eletrônica (secretária eletrônica) — duração 31 s`,
      "rodada 1 — +5511988880001: some-new-state",
    ]);
  });

  it("lists rows as text too", () => {
    const tbody = document.createElement("tbody");
    renderList(tbody, [{ id: 9, received_at: "2026-11-01T10:00:00Z", subject: hostile, sender: "s", state: "unanswered", is_test: false, answered_by: null }], words("pt"), "pt", () => {});
    expect(tbody.querySelector("img")).toBeNull();
    expect(tbody.textContent).toContain("ninguém atendeu");
  });
});
