// The mailbox's provider, chosen first in the settings window: Microsoft 365 and Google fill the
// server, port and security and sign in through the browser (OAuth2); any other IMAP server takes
// a password. The URLs and scopes of each provider are the engine's (src-tauri/engine/src/oauth).
import type { Config, MailboxConfig, OAuth2Config } from "./ipc";

export type MailProvider = "microsoft" | "google" | "imap";

const SERVERS: Record<Exclude<MailProvider, "imap">, { host: string; port: number }> = {
  microsoft: { host: "outlook.office365.com", port: 993 },
  google: { host: "imap.gmail.com", port: 993 },
};

/** Which provider a saved configuration uses. */
export function providerOf(cfg: Config | null | undefined): MailProvider {
  const p = cfg?.mailbox.oauth2?.provider;
  return p === "microsoft" || p === "google" ? p : "imap";
}

/** The mailbox with `provider` chosen: its server filled in (still editable), and the OAuth2
 * section kept, made or dropped. The rest of an existing OAuth2 section is kept as it was. */
export function withProvider(mailbox: MailboxConfig, provider: MailProvider, fill: boolean): MailboxConfig {
  if (provider === "imap") {
    const { oauth2: _, ...rest } = mailbox;
    return rest;
  }
  const oauth2: OAuth2Config = { ...(mailbox.oauth2 ?? { client_id: "", flow: "user", mechanism: "xoauth2" }), provider };
  const next = { ...mailbox, oauth2 };
  if (fill) Object.assign(next, { host: SERVERS[provider].host, port: SERVERS[provider].port, security: "tls" });
  return next;
}

/** The client id and tenant typed in the form, onto the mailbox's OAuth2 section. */
export function withRegistration(mailbox: MailboxConfig, clientId: string, tenant: string): MailboxConfig {
  if (!mailbox.oauth2) return mailbox;
  const oauth2: OAuth2Config = { ...mailbox.oauth2, client_id: clientId.trim() };
  if (mailbox.oauth2.provider === "microsoft" && tenant.trim()) oauth2.tenant = tenant.trim();
  else delete oauth2.tenant;
  return { ...mailbox, oauth2 };
}
