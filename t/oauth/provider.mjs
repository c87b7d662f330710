// The suite's OAuth 2 authorization server: npm's oidc-provider (a
// certified implementation), configured for the module's authorization-code
// flow (client_secret_post, no PKCE, refresh tokens rotated on every use),
// with its development login and consent pages, which the tests drive over
// HTTP. Started by scripts/test.sh (or by hand) on loopback:
//
//   node t/oauth/provider.mjs PORT
//
// Clients (secrets are test values, known to t/lib/CETest/OAuth.pm):
//   ce-client   access tokens last 3600 s
//   ce-fast     access tokens last CE_OAUTH_FAST_TTL s (default 2)
//   ce-static   the same, but refresh tokens never rotated
// All redirect to https://app.example.test/cb.
//
// What the tests count comes from the provider's own events, served at
// GET /test/stats: token grants by type and client, each refresh with the
// grant it continued, refused grants with their error, revocations.
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 0);
if (!port) {
  console.error('usage: node provider.mjs PORT');
  process.exit(2);
}
const fastTtl = Number(process.env.CE_OAUTH_FAST_TTL || 2);
// ce-node: t/35's two nodes refreshing under load, with room for a loaded
// machine's delays (a quarter of the lifetime: 1 s).
const nodeTtl = Number(process.env.CE_OAUTH_NODE_TTL || 4);
const redirect = 'https://app.example.test/cb';
const client = (id, secret) => ({
  client_id: id,
  client_secret: secret,
  redirect_uris: [redirect],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_post',
});

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    client('ce-client', 'ce-client-secret-7Qm2'),
    client('ce-fast', 'ce-fast-secret-9Xa1'),
    client('ce-static', 'ce-static-secret-3Kd8'),
    client('ce-node', 'ce-node-secret-5Hq4'),
  ],
  pkce: { required: () => false },
  features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
  cookies: { keys: ['ce-test-cookie-key-0123456789'] },
  scopes: ['openid', 'offline_access', 'files'],
  // Every code grant of these clients gets a refresh token, as the
  // providers Cloud Elements talks to give one.
  issueRefreshToken: async (ctx, c) => c.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: (ctx) => ctx.oidc.client.clientId !== 'ce-static',
  ttl: {
    AccessToken: (ctx, token, c) => {
      if (!c || c.clientId === 'ce-client') return 3600;
      return c.clientId === 'ce-node' ? nodeTtl : fastTtl;
    },
    AuthorizationCode: 60,
    RefreshToken: 86400,
    Grant: 86400,
    Interaction: 600,
    Session: 86400,
  },
});
provider.proxy = false;

const stats = {
  grants: {},      // "grant_type client" -> count
  refreshes: [],   // {at, client, grantId}
  errors: [],      // {at, error, description}
  revocations: 0,
};
provider.on('grant.success', (ctx) => {
  const type = ctx.oidc.params.grant_type;
  const id = ctx.oidc.client && ctx.oidc.client.clientId;
  const key = `${type} ${id}`;
  stats.grants[key] = (stats.grants[key] || 0) + 1;
  if (type === 'refresh_token') {
    const rt = ctx.oidc.entities.RefreshToken;
    stats.refreshes.push({ at: Date.now(), client: id, grantId: rt && rt.grantId });
  }
});
provider.on('grant.error', (ctx, err) => {
  stats.errors.push({ at: Date.now(), error: err.error, description: err.error_description });
});
provider.on('server_error', (ctx, err) => {
  stats.errors.push({ at: Date.now(), error: 'server_error', description: String(err) });
});

provider.use(async (ctx, next) => {
  if (ctx.path === '/test/stats') {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(stats);
    return;
  }
  // A provider API as the gateway (CEInstancesProxy) calls it: the bearer
  // is checked by oidc-provider itself (unknown, revoked or expired: 401);
  // the answer says what arrived, for the test to check.
  if (ctx.path.startsWith('/test/api')) {
    const m = /^Bearer (.+)$/.exec(ctx.get('authorization') || '');
    const at = m ? await provider.AccessToken.find(m[1]) : undefined;
    ctx.status = at ? 200 : 401;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({
      valid: !!at, client: at ? at.clientId : null, method: ctx.method, path: ctx.path,
      query: ctx.querystring, headers: ctx.headers,
    });
    return;
  }
  if (ctx.path === '/token/revocation' && ctx.method === 'POST') {
    stats.revocations += 1;
  }
  await next();
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${port}`);
});
