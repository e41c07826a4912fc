import { describe, expect, it } from "vitest";
import { current, guide, type Progress } from "./firstrun";
import { words } from "./i18n";
import { withProvider } from "./provider";
import { DEFAULTS } from "./settings";
import type { SecretStatus } from "./ipc";

const none: SecretStatus = { imap_password: false, twilio_auth_token: false, journal_password: false, oauth_client_secret: false, mailbox_signed_in: false };
const start: Progress = { whatsappTested: false, callTested: false, engine: "not_configured" };
const w = words("pt");

describe("the first-start guide", () => {
  it("starts at the mailbox and says what is missing for Microsoft: the registration, then the sign-in", () => {
    const ms = { ...DEFAULTS, twilio: undefined, mailbox: withProvider(DEFAULTS.mailbox, "microsoft", true) };
    let steps = guide(ms, none, start, w);
    expect(current(steps)).toBe("mailbox");
    expect(steps[0].says).toBe(w.need_client_id);
    ms.mailbox.oauth2!.client_id = "abc";
    steps = guide(ms, none, start, w);
    expect(steps[0].says).toBe(w.need_sign_in);
    steps = guide(ms, { ...none, mailbox_signed_in: true }, start, w);
    expect(steps[0].says).toBe(w.need_mailbox_test);
    steps = guide(ms, { ...none, mailbox_signed_in: true }, { ...start, mailboxFound: 2 }, w);
    expect(steps[0]).toEqual({ key: "mailbox", done: true, says: "Caixa OK: 2 e-mail(s) de alerta não lido(s) encontrados." });
    expect(current(steps)).toBe("who");
    expect(steps[1].says).toBe(w.need_twilio);
  });

  it("asks for the password of any other IMAP server", () => {
    expect(guide(DEFAULTS, none, start, w)[0].says).toBe(w.need_password);
  });

  it("then who to tell, the two tests, and watching", () => {
    const cfg = { ...DEFAULTS, twilio: { ...DEFAULTS.twilio!, account_sid: "AC1" }, whatsapp: { ...DEFAULTS.whatsapp!, to: [] as string[] }, calls: { ...DEFAULTS.calls!, to: [] as string[] } };
    const secrets = { ...none, imap_password: true };
    const found = { ...start, mailboxFound: 0 };
    expect(guide(cfg, secrets, found, w)[1].says).toBe(w.need_twilio_token);
    expect(guide(cfg, { ...secrets, twilio_auth_token: true }, found, w)[1].says).toBe(w.need_recipients);
    cfg.whatsapp.to = ["(11) 99999-0001"];
    cfg.calls.to = ["(11) 98888-0001", "(11) 98888-0002"];
    const ready = { ...secrets, twilio_auth_token: true };
    let steps = guide(cfg, ready, found, w);
    expect(steps[1]).toMatchObject({ done: true, says: "Avisa 1 pessoa(s) por WhatsApp e liga para 2, na ordem. Dê nomes a elas em Pessoas (opcional), para as mensagens e o histórico dizerem quem." });
    expect(guide({ ...cfg, people: { "+5511999990001": "Ana" } }, ready, found, w)[1].says).toContain("1 com nome.");
    expect(current(steps)).toBe("tests");
    expect(guide(cfg, ready, { ...found, whatsappTested: true }, w)[2].says).toBe(w.need_call_test);
    steps = guide(cfg, ready, { ...found, whatsappTested: true, callTested: true }, w);
    expect(current(steps)).toBe("watching");
    expect(steps[3].says).toBe(w.need_save);
    steps = guide(cfg, ready, { ...found, whatsappTested: true, callTested: true, engine: "watching" }, w);
    expect(current(steps)).toBeUndefined();
  });
});
