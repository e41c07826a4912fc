// The first start: until the engine is watching, the top of the settings window leads a newcomer
// through what is still missing, one step at a time — mailbox (provider, sign-in or password,
// test), who to tell, a test message and a test call, then "Vigiando". Each step says what is
// missing and what to do. The form below stays available for everything else.
import type { Config, SecretStatus, TrayState } from "./ipc";
import { providerOf } from "./provider";

export type StepKey = "mailbox" | "who" | "tests" | "watching";

/** What the window has seen happen since it opened. */
export interface Progress {
  /** Unread alert e-mails the last successful mailbox test found (undefined: no test passed yet). */
  mailboxFound?: number;
  whatsappTested: boolean;
  callTested: boolean;
  engine: TrayState | undefined;
}

export interface Step {
  key: StepKey;
  done: boolean;
  /** What is missing and what to do, or what was found once done. */
  says: string;
}

export interface GuideWords {
  step_titles: Record<StepKey, string>;
  need_client_id: string;
  need_sign_in: string;
  need_password: string;
  need_mailbox_test: string;
  mailbox_found: (n: number) => string;
  need_twilio: string;
  need_twilio_token: string;
  need_recipients: string;
  who_ok: (whatsapp: number, calls: number, named: number) => string;
  need_tests: string;
  need_call_test: string;
  need_whatsapp_test: string;
  tests_ok: string;
  need_save: string;
  watching_ok: string;
}

export function guide(cfg: Config, secrets: SecretStatus, p: Progress, w: GuideWords): Step[] {
  const provider = providerOf(cfg);
  const mailbox: Step =
    p.mailboxFound !== undefined ? { key: "mailbox", done: true, says: w.mailbox_found(p.mailboxFound) }
    : provider !== "imap" && !cfg.mailbox.oauth2?.client_id ? { key: "mailbox", done: false, says: w.need_client_id }
    : provider !== "imap" && !secrets.mailbox_signed_in ? { key: "mailbox", done: false, says: w.need_sign_in }
    : provider === "imap" && !secrets.imap_password ? { key: "mailbox", done: false, says: w.need_password }
    : { key: "mailbox", done: false, says: w.need_mailbox_test };
  const wa = cfg.whatsapp?.to.length ?? 0;
  const calls = cfg.calls?.to.length ?? 0;
  const who: Step =
    !cfg.twilio?.account_sid ? { key: "who", done: false, says: w.need_twilio }
    : !cfg.twilio.dry_run && !secrets.twilio_auth_token ? { key: "who", done: false, says: w.need_twilio_token }
    : wa + calls === 0 ? { key: "who", done: false, says: w.need_recipients }
    : { key: "who", done: true, says: w.who_ok(wa, calls, Object.keys(cfg.people ?? {}).length) };
  const tests: Step =
    p.whatsappTested && p.callTested ? { key: "tests", done: true, says: w.tests_ok }
    : p.whatsappTested ? { key: "tests", done: false, says: w.need_call_test }
    : p.callTested ? { key: "tests", done: false, says: w.need_whatsapp_test }
    : { key: "tests", done: false, says: w.need_tests };
  const watching: Step = p.engine === "watching" || p.engine === "alerting"
    ? { key: "watching", done: true, says: w.watching_ok }
    : { key: "watching", done: false, says: w.need_save };
  return [mailbox, who, tests, watching];
}

/** The step to work on now: the first not done. */
export function current(steps: Step[]): StepKey | undefined {
  return steps.find((s) => !s.done)?.key;
}
