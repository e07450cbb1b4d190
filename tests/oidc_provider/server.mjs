// A real OpenID Connect provider (panva/oidc-provider) for livc's single sign-on tests.
//
// Usage: node server.mjs '<config JSON>'   (or the same JSON in OIDC_PROVIDER_CONFIG)
//   {"port": 0,                      // 0: any free port on 127.0.0.1
//    "clients": [{client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//                 backchannel_logout_uri}],
//    "accounts": {"<login>": {"email": "...", "email_verified": true}}}
//
// Prints one line `oidc-provider ready <issuer>` on stdout once it listens. The login and
// consent pages are the provider's own development interactions (a real HTML form that tests
// submit over HTTP); a login listed in "accounts" signs in, whatever the password.
// Authorization code with PKCE (S256) only; RP-initiated and back-channel logout enabled.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] || process.env.OIDC_PROVIDER_CONFIG || '{}');
const accounts = config.accounts || {};

const server = createServer();
await new Promise((resolve) => { server.listen(config.port || 0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: (config.clients || []).map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    backchannel_logout_session_required: true,
    ...client,
  })),
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: Boolean(account.email_verified) };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'email'],
  pkce: { methods: ['S256'], required: () => true },
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  httpOptions: () => ({ signal: AbortSignal.timeout(10000) }),
});

server.on('request', provider.callback());
process.stdout.write(`oidc-provider ready ${issuer}\n`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => { server.close(); process.exit(0); });
}
