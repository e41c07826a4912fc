import { describe, expect, it } from "vitest";
import { providerOf, withProvider, withRegistration } from "./provider";
import { DEFAULTS } from "./settings";

describe("the mailbox provider", () => {
  it("fills Microsoft's server and makes an OAuth2 section; the password server drops it", () => {
    const ms = withProvider(DEFAULTS.mailbox, "microsoft", true);
    expect(ms).toMatchObject({ host: "outlook.office365.com", port: 993, security: "tls" });
    expect(ms.oauth2).toEqual({ provider: "microsoft", client_id: "", flow: "user", mechanism: "xoauth2" });
    expect(providerOf({ ...DEFAULTS, mailbox: ms })).toBe("microsoft");
    const back = withProvider(ms, "imap", true);
    expect(back.oauth2).toBeUndefined();
    expect(providerOf({ ...DEFAULTS, mailbox: back })).toBe("imap");
  });

  it("keeps what an administrator set in the file when only the provider changes", () => {
    const custom = { ...DEFAULTS.mailbox, host: "imap.empresa.com.br", oauth2: { provider: "microsoft" as const, client_id: "abc", tenant: "empresa.com.br", flow: "app" as const, mechanism: "oauthbearer" as const } };
    const g = withProvider(custom, "google", false);
    expect(g.host).toBe("imap.empresa.com.br");
    expect(g.oauth2).toMatchObject({ provider: "google", client_id: "abc", flow: "app", mechanism: "oauthbearer" });
  });

  it("puts the tenant only on a Microsoft registration", () => {
    const ms = withRegistration(withProvider(DEFAULTS.mailbox, "microsoft", true), " id-1 ", " empresa.com.br ");
    expect(ms.oauth2).toMatchObject({ client_id: "id-1", tenant: "empresa.com.br" });
    const g = withRegistration(withProvider(DEFAULTS.mailbox, "google", true), "id-2", "ignored");
    expect(g.oauth2?.tenant).toBeUndefined();
    expect(withRegistration(DEFAULTS.mailbox, "x", "y")).toEqual(DEFAULTS.mailbox);
  });
});
