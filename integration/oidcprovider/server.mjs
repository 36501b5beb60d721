// An oidc-provider (node-oidc-provider) instance configured the way Logto configures its
// engine, so that integration tests get real client-credentials access tokens.
//
// Environment:
//   PORT         port to listen on (default 0: any free port) on 127.0.0.1
//   OIDC_KEY     fixture file name(s) in ./keys, comma separated; the first one signs, the
//                others are only published in the JWKS (default ec-p384.json)
//   OIDC_CONFIG  JSON {"clients":[{client_id,client_secret,scopes}],
//                      "resources":[{indicator,scopes,ttl}]} (default below)
//
// Prints exactly one line "LISTENING http://127.0.0.1:<port>" on stdout once ready.
// The issuer is that URL + "/oidc".

import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

const PREFIX = '/oidc';
const HERE = path.dirname(fileURLToPath(import.meta.url));

const DEFAULT_CONFIG = {
  clients: [
    { client_id: 'm2m-app', client_secret: 's3cret', scopes: ['read:products', 'write:products'] },
  ],
  resources: [
    { indicator: 'https://api.example.com', scopes: ['read:products', 'write:products'], ttl: 3600 },
  ],
};

const SIGNING_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'ES512'];

function fail(message) {
  process.stderr.write(`oidcprovider: ${message}\n`);
  process.exit(1);
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}

function thumbprint(jwk) {
  let members;
  switch (jwk.kty) {
    case 'RSA':
      members = { e: jwk.e, kty: jwk.kty, n: jwk.n };
      break;
    case 'EC':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
      break;
    default:
      fail(`unsupported key type ${jwk.kty}`);
  }
  return crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function signingAlg(jwk) {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') {
    const alg = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv];
    if (alg) return alg;
  }
  return fail(`no signing algorithm for key type ${jwk.kty} ${jwk.crv ?? ''}`);
}

function loadKey(name) {
  if (!name || path.basename(name) !== name) {
    fail(`OIDC_KEY entries must be file names in ${path.join(HERE, 'keys')}, got ${JSON.stringify(name)}`);
  }
  let jwk;
  try {
    jwk = JSON.parse(readFileSync(path.join(HERE, 'keys', name), 'utf8'));
  } catch (err) {
    fail(`cannot read key fixture ${name}: ${err.message}`);
  }
  if (!jwk.d) {
    fail(`key fixture ${name} is not a private key`);
  }
  const kid = thumbprint(jwk);
  if (jwk.kid !== undefined && jwk.kid !== kid) {
    fail(`key fixture ${name} has kid ${jwk.kid}, its RFC 7638 thumbprint is ${kid}`);
  }
  return { ...jwk, kid };
}

function loadConfig(raw) {
  let config = DEFAULT_CONFIG;
  if (raw) {
    try {
      config = JSON.parse(raw);
    } catch (err) {
      fail(`OIDC_CONFIG is not valid JSON: ${err.message}`);
    }
  }
  const clients = config.clients ?? [];
  const resources = config.resources ?? [];
  if (!Array.isArray(clients) || !Array.isArray(resources)) {
    fail('OIDC_CONFIG clients and resources must be arrays');
  }
  for (const c of clients) {
    if (typeof c.client_id !== 'string' || !c.client_id || typeof c.client_secret !== 'string' || !c.client_secret) {
      fail(`OIDC_CONFIG client needs client_id and client_secret: ${JSON.stringify(c)}`);
    }
  }
  for (const r of resources) {
    if (typeof r.indicator !== 'string' || !r.indicator) {
      fail(`OIDC_CONFIG resource needs an indicator: ${JSON.stringify(r)}`);
    }
    if (r.ttl !== undefined && (!Number.isSafeInteger(r.ttl) || r.ttl <= 0)) {
      fail(`OIDC_CONFIG resource ${r.indicator} ttl must be a positive integer`);
    }
  }
  return { clients, resources };
}

const keyNames = (process.env.OIDC_KEY || 'ec-p384.json').split(',').map((s) => s.trim()).filter(Boolean);
const keys = keyNames.map(loadKey);
const signingKey = keys[0];
const alg = signingAlg(signingKey);
const { clients, resources } = loadConfig(process.env.OIDC_CONFIG);

const grantedScopes = new Map(clients.map((c) => [c.client_id, new Set(c.scopes ?? [])]));
const resourceByIndicator = new Map(resources.map((r) => [r.indicator, r]));

const server = http.createServer();
server.on('error', (err) => fail(`server error: ${err.message}`));

const port = Number.parseInt(process.env.PORT || '0', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`invalid PORT ${process.env.PORT}`);
}

server.listen(port, '127.0.0.1', () => {
  const origin = `http://127.0.0.1:${server.address().port}`;
  const issuer = `${origin}${PREFIX}`;

  let provider;
  try {
    provider = new Provider(issuer, {
      jwks: { keys },
      enabledJWA: {
        idTokenSigningAlgValues: SIGNING_ALGS,
        userinfoSigningAlgValues: SIGNING_ALGS,
        introspectionSigningAlgValues: SIGNING_ALGS,
        authorizationSigningAlgValues: SIGNING_ALGS,
      },
      clientDefaults: {
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
      },
      clients: clients.map((c) => ({
        client_id: c.client_id,
        client_secret: c.client_secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
      })),
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: false },
        revocation: { enabled: false },
        resourceIndicators: {
          enabled: true,
          // Logto answers a client-credentials request that names no resource (and no
          // organization) with invalid_target; upstream would issue an opaque token.
          defaultResource(ctx, _client, oneOf) {
            if (oneOf) return oneOf;
            if (ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials') {
              throw new errors.InvalidTarget('both `resource` and `organization_id` are not provided');
            }
            return undefined;
          },
          useGrantedResource: () => false,
          getResourceServerInfo(_ctx, indicator, client) {
            const resource = resourceByIndicator.get(indicator);
            if (!resource) {
              throw new errors.InvalidTarget();
            }
            const granted = grantedScopes.get(client?.clientId) ?? new Set();
            const scope = (resource.scopes ?? []).filter((s) => granted.has(s)).join(' ');
            return {
              scope,
              accessTokenFormat: 'jwt',
              accessTokenTTL: resource.ttl ?? 3600,
              jwt: { sign: { alg, kid: signingKey.kid } },
            };
          },
        },
      },
    });
  } catch (err) {
    fail(`cannot configure oidc-provider: ${err.stack || err.message}`);
  }

  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body;
    // Logto's JWKS responses (1.40+): no-cache with an ETag, and 304 on If-None-Match.
    if (ctx.path === '/jwks' && ctx.status === 200 && body && typeof body === 'object') {
      ctx.set('Cache-Control', 'no-cache, max-age=0, must-revalidate');
      ctx.etag = crypto.createHash('sha256').update(JSON.stringify(body)).digest('base64url');
      if (ctx.fresh) {
        ctx.status = 304;
        ctx.body = null;
      }
      return;
    }
    // Logto's error bodies carry `code` and `message` beside `error` and `error_description`.
    if (ctx.status >= 400 && body && typeof body === 'object' && typeof body.error === 'string' && !body.code) {
      ctx.body = { code: `oidc.${body.error}`, message: body.error_description ?? body.error, ...body };
    }
  });

  provider.on('server_error', (_ctx, err) => {
    process.stderr.write(`oidcprovider: server_error: ${err.stack || err}\n`);
  });

  const callback = provider.callback();
  server.on('request', (req, res) => {
    const { url } = req;
    if (url === PREFIX || url.startsWith(`${PREFIX}/`) || url.startsWith(`${PREFIX}?`)) {
      req.originalUrl = url;
      req.url = url.slice(PREFIX.length) || '/';
      if (req.url.startsWith('?')) req.url = `/${req.url}`;
      callback(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not_found', error_description: `no route ${req.method} ${url}` }));
  });

  process.stdout.write(`LISTENING ${origin}\n`);
});
