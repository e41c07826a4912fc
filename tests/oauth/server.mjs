// A real OAuth2 authorization server for the sign-in tests: oidc-provider (OpenID certified),
// configured the way Microsoft's and Google's are used by Sentinela — a public native client with
// authorization code + PKCE (S256) on a loopback redirect, rotating refresh tokens, device code;
// a confidential client for client credentials (app-only); and a client Dovecot uses to
// introspect the opaque access tokens it is given over XOAUTH2/OAUTHBEARER.
//
// Usage: node server.mjs <access token lifetime in seconds>
// Prints one line, `ready <port>`, once it answers. Test-only routes under /test/ let a test
// revoke everything a user granted (as "remove app access" does at the provider).

import http from 'node:http';
import Provider from 'oidc-provider';

const ttl = Number(process.argv[2] || 3600);
const RESOURCE = 'urn:sentinela:imap';
// App-only (client credentials) tokens act as this mailbox, as an Exchange service principal
// granted FullAccess to one mailbox does.
const APP_MAILBOX = 'alertas@cpd.test';

// The store: oidc-provider's adapter interface over a Map, so a test can revoke all of an
// account's grants and tokens at once.
const store = new Map();
class MemoryAdapter {
  constructor(model) { this.model = model; }
  key(id) { return `${this.model}:${id}`; }
  async upsert(id, payload, expiresIn) {
    store.set(this.key(id), { payload, expires: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
  }
  async find(id) {
    const e = store.get(this.key(id));
    if (!e || (e.expires && e.expires < Date.now())) return undefined;
    return e.payload;
  }
  async findByUserCode(userCode) {
    for (const [k, e] of store) if (k.startsWith(`${this.model}:`) && e.payload.userCode === userCode) return e.payload;
    return undefined;
  }
  async findByUid(uid) {
    for (const [k, e] of store) if (k.startsWith(`${this.model}:`) && e.payload.uid === uid) return e.payload;
    return undefined;
  }
  async consume(id) {
    const e = store.get(this.key(id));
    if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const [k, e] of store) if (e.payload.grantId === grantId) store.delete(k);
  }
}

function revokeAccount(accountId) {
  let n = 0;
  for (const [k, e] of store) {
    if (e.payload.accountId === accountId) {
      store.delete(k);
      n += 1;
    }
  }
  return n;
}

let port;
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: [
    {
      // Sentinela as an installed app: no secret, PKCE, any loopback port (RFC 8252).
      client_id: 'sentinela',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
    },
    {
      // Google's "Desktop app" clients have a secret that is not secret: the same flow with one.
      client_id: 'sentinela-desktop',
      client_secret: 'desktop-secret',
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_post',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: 'sentinela-app',
      client_secret: 'app-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    { client_id: 'dovecot', client_secret: 'dovecot-secret', grant_types: [], response_types: [], redirect_uris: [] },
  ],
  pkce: { methods: ['S256'], required: () => true },
  scopes: ['openid', 'offline_access'],
  claims: { openid: ['sub'], email: ['email'] },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, email: id }) }),
  features: {
    devInteractions: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    clientCredentials: { enabled: true },
    deviceFlow: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'imap',
        audience: RESOURCE,
        accessTokenTTL: ttl,
        accessTokenFormat: 'opaque',
      }),
    },
  },
  // Dovecot matches XOAUTH2's user= against this field of the introspection answer.
  extraTokenClaims: async (ctx, token) => ({ username: token.accountId || APP_MAILBOX }),
  rotateRefreshToken: true,
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: { AccessToken: ttl, ClientCredentials: ttl, RefreshToken: 86400, Interaction: 600, Session: 3600, Grant: 86400 },
  cookies: { keys: ['sentinela-test-cookie-key'] },
});
provider.proxy = false;

const callback = provider.callback();
// What a test reads to tell that nothing hammers the provider.
const stats = { token_requests: 0 };
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url.split('?')[0] === '/token') stats.token_requests += 1;
  if (req.url === '/test/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  const m = req.url.match(/^\/test\/revoke\/([^/?]+)/);
  if (m && req.method === 'POST') {
    const n = revokeAccount(decodeURIComponent(m[1]));
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`revoked ${n}\n`);
    return;
  }
  callback(req, res);
});
// Dovecot keeps its introspection connections open; Node's default 5 s keep-alive is longer than
// Dovecot's idle limit in the test configuration, so neither side closes under the other.
server.keepAliveTimeout = 5000;

// Standard output carries only the ready line: the test stops reading it after that, and a later
// write there (oidc-provider's own console output) would end the server with EPIPE.
for (const level of ['log', 'info', 'warn', 'debug']) console[level] = console.error;
process.stdout.write(`ready ${port}\n`);
