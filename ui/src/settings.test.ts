import { describe, expect, it } from "vitest";
import { buildForm, DEFAULTS, fillForm, parsePeople, readForm } from "./settings";
import { words } from "./i18n";

describe("parsePeople", () => {
  it("reads one person per line, the number before the equals sign", () => {
    expect(parsePeople("(11) 99999-0001 = Ana\n\n  +55 11 98888-0002=Bruno Souza \n")).toEqual({
      "(11) 99999-0001": "Ana",
      "+55 11 98888-0002": "Bruno Souza",
    });
  });
  it("keeps a line without a name, for the engine to say what is missing", () => {
    expect(parsePeople("(11) 99999-0001")).toEqual({ "(11) 99999-0001": "" });
  });
});

describe("readForm", () => {
  function form(html: string): HTMLElement {
    const root = document.createElement("div");
    root.innerHTML = html;
    return root;
  }
  const heartbeat = `<input type="checkbox" id="enable-heartbeat" checked>
    <input id="heartbeat-url" value="https://hc-ping.com/abc"><input id="heartbeat-every_mins" value="10">
    <textarea id="heartbeat-whatsapp_to">(11) 99999-0001</textarea><input id="heartbeat-daily_at" value="07:30">
    <input id="filter-silence_alarm_hours" value="26">`;

  it("reads the sign of life and the silence alarm", () => {
    const cfg = readForm(form(heartbeat));
    expect(cfg.heartbeat).toEqual({ url: "https://hc-ping.com/abc", every_mins: 10, whatsapp_to: ["(11) 99999-0001"], daily_at: "07:30" });
    expect(cfg.filter.silence_alarm_hours).toBe(26);
  });
  it("reads the shared journal when it is switched on, and none when off", () => {
    const journal = `<input type="checkbox" id="enable-journal" checked>
      <input id="journal-url" value="postgres://sentinela@db.cpd/sentinela?sslmode=verify-full"><input id="journal-workstation" value="NOC-02">`;
    expect(readForm(form(journal)).journal).toEqual({ url: "postgres://sentinela@db.cpd/sentinela?sslmode=verify-full", workstation: "NOC-02" });
    const base = readForm(form(journal));
    expect(readForm(form(journal.replace(" checked", "")), base).journal).toBeNull();
  });
  it("drops the section when it is switched off", () => {
    const cfg = readForm(form(heartbeat.replace(" checked", "")));
    expect(cfg.heartbeat).toBeNull();
  });
});

describe("the form at first launch", () => {
  it("has Twilio on and the shared journal off, and reads back without one", () => {
    const root = document.createElement("form");
    buildForm(root, words("pt"), () => {});
    fillForm(root, DEFAULTS);
    expect(root.querySelector<HTMLInputElement>("#enable-twilio")!.checked).toBe(true);
    expect(root.querySelector<HTMLInputElement>("#enable-journal")!.checked).toBe(false);
    expect(readForm(root).journal).toBeNull();
  });
  it("has SMS off, with the fallback ticked for when it is switched on", () => {
    const root = document.createElement("form");
    buildForm(root, words("pt"), () => {});
    fillForm(root, DEFAULTS);
    const toggle = root.querySelector<HTMLInputElement>("#enable-sms")!;
    expect(toggle.checked).toBe(false);
    expect(readForm(root).sms).toBeNull();
    expect(root.querySelector<HTMLInputElement>("#sms-fallback")!.checked).toBe(true);
    toggle.checked = true;
    root.querySelector<HTMLInputElement>("#sms-from")!.value = "+1 415 555 0100";
    expect(readForm(root).sms).toEqual({ from: "+1 415 555 0100", fallback: true, to: [] });
  });
});
