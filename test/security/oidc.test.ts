// OIDC/JWT on the servers against a real OpenID Provider (test/peers/oidc.ts: zitadel/oidc's `op`,
// built from the Go module proxy), everything over TLS: tokens from its token endpoint are accepted
// (RS256 and ES256), scopes map to permissions (401/403), tokens after a key rotation are accepted
// once the JWKS is fetched again, and expired, wrong-audience, wrong-issuer, `alg: none` and
// HMAC-with-the-public-key tokens are refused. Clients: curl and Python requests; the CLI end to end.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { createHmac, createPublicKey } from 'node:crypto';
import { request } from 'node:https';
import { join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { startOidc, type OidcPeer } from '../peers/oidc.ts';
import { startModelServer, type ModelServer, type ModelServerOptions } from '../../components/model-server/index.ts';
import { startPayloadSink, type PayloadSink } from '../../components/payload-sink/index.ts';
import { tempDir, writeFraudModel, rows, inferBody } from '../model-server/fixtures.ts';
import { makeCa, makeLeaf } from './certs.ts';

const run = promisify(execFile);
const peers = await usePeers(['python']);
const root = join(import.meta.dirname, '../..');

/** A request over TLS trusting `ca`: status and body. */
function call(
  url: string,
  ca: string,
  opts: { method?: string; token?: string; body?: string } = {},
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    const req = request(url, { method: opts.method ?? (opts.body ? 'POST' : 'GET'), ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('OIDC/JWT against a real OpenID Provider, over TLS', () => {
  const dir = tempDir('ghosteam-oidc-');
  const ca = makeCa(dir);
  const idpLeaf = makeLeaf(dir, ca, 'issuer');
  const serverLeaf = makeLeaf(dir, ca, 'model-server');
  const caPem = readFileSync(ca.cert, 'utf8');
  const model = writeFraudModel(dir, 1);
  let rs: OidcPeer;
  let es: OidcPeer;
  const servers: ModelServer[] = [];
  let s: ModelServer;
  let sink: PayloadSink;
  const body = inferBody(rows(2, 3));

  async function server(
    issuer: string,
    extra: Partial<ModelServerOptions> & { audience?: string; jwksUrl?: string; now?: () => number } = {},
  ): Promise<ModelServer> {
    const x = await startModelServer({
      port: 0,
      processMetrics: false,
      models: [{ name: 'fraud', version: '1', path: model.path }],
      tls: { cert: serverLeaf.cert, key: serverLeaf.key },
      auth: {
        jwt: {
          issuer,
          audience: extra.audience ?? issuer,
          caFile: ca.cert,
          cooldownMs: 200,
          clockToleranceSec: 5,
          ...(extra.jwksUrl ? { jwksUrl: extra.jwksUrl } : {}),
        },
        ...(extra.now ? { now: extra.now } : {}),
        grants: extra.auth?.grants ?? [],
      },
      log: () => undefined,
    });
    servers.push(x);
    return x;
  }

  before(async () => {
    // A missing Go toolchain or a failed build is a failure, here as in CI: the peer builds from the module proxy.
    [rs, es] = await Promise.all([
      startOidc({ dir, cert: idpLeaf.cert, key: idpLeaf.key, ca: ca.cert }),
      startOidc({ dir, cert: idpLeaf.cert, key: idpLeaf.key, ca: ca.cert, alg: 'ES256' }),
    ]);
    s = await server(rs.issuer);
    sink = await startPayloadSink({
      file: join(dir, 'payloads.jsonl'),
      port: 0,
      tls: { cert: serverLeaf.cert, key: serverLeaf.key },
      auth: { jwt: { issuer: rs.issuer, audience: rs.issuer, caFile: ca.cert } },
      log: () => undefined,
    });
  });
  after(async () => {
    for (const x of servers) await x.close();
    await sink?.close();
    await rs?.stop();
    await es?.stop();
  });

  test('a token from the token endpoint with ghosteam:infer infers; without the scope 403; no token 401', async () => {
    const t = await rs.token(['ghosteam:infer']);
    const ok = await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: t, body });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(JSON.parse(ok.text).model_name, 'fraud');
    const plain = await rs.token();
    const denied = await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: plain, body });
    assert.equal(denied.status, 403, denied.text);
    assert.match(JSON.parse(denied.text).error, /does not grant 'infer' on model 'fraud'/);
    assert.equal(denied.headers['www-authenticate'], 'Bearer error="insufficient_scope"');
    assert.equal((await call(`${s.url}/v2/models/fraud/infer`, caPem, { body })).status, 401);
    // infer does not open /metrics or /admin
    assert.equal((await call(`${s.url}/metrics`, caPem, { token: t })).status, 403);
    assert.equal((await call(`${s.url}/admin/models`, caPem, { token: t })).status, 403);
    const ops = await rs.token(['ghosteam:metrics', 'ghosteam:admin']);
    assert.equal((await call(`${s.url}/metrics`, caPem, { token: ops })).status, 200);
    assert.equal((await call(`${s.url}/admin/models`, caPem, { token: ops })).status, 200);
  });

  test('a per-model scope grants that model only', async () => {
    const fraudOnly = await rs.token(['ghosteam:infer:fraud']);
    assert.equal((await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: fraudOnly, body })).status, 200);
    assert.equal((await call(`${s.url}/v1/models/fraud:predict`, caPem, { token: fraudOnly, body: JSON.stringify({ instances: rows(1, 1) }) })).status, 200);
    const other = await rs.token(['ghosteam:infer:churn']);
    assert.equal((await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: other, body })).status, 403);
  });

  test('grants on a claim (--auth-grant infer:fraud=sub:service) replace the default scope', async () => {
    const g = await server(rs.issuer, { auth: { grants: [{ permission: 'infer', model: 'fraud', claim: 'sub', value: 'service' }] } });
    assert.equal((await call(`${g.url}/v2/models/fraud/infer`, caPem, { token: await rs.token(), body })).status, 200);
    assert.equal((await call(`${g.url}/metrics`, caPem, { token: await rs.token() })).status, 403);
  });

  test('ES256 tokens from an ES256 issuer are accepted', async () => {
    const e = await server(es.issuer);
    const t = await es.token(['ghosteam:infer']);
    assert.equal(JSON.parse(Buffer.from(t.split('.')[0], 'base64url').toString()).alg, 'ES256');
    assert.equal((await call(`${e.url}/v2/models/fraud/infer`, caPem, { token: t, body })).status, 200);
    // the RS256 issuer's token is not this server's
    assert.equal((await call(`${e.url}/v2/models/fraud/infer`, caPem, { token: await rs.token(['ghosteam:infer']), body })).status, 401);
  });

  test('after a key rotation, tokens signed with the new key are accepted once the JWKS is fetched again; old ones while their key is published', async () => {
    const before = await rs.token(['ghosteam:infer']);
    assert.equal((await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: before, body })).status, 200);
    const kid = await rs.rotate();
    const after = await rs.token(['ghosteam:infer']);
    assert.equal(JSON.parse(Buffer.from(after.split('.')[0], 'base64url').toString()).kid, kid);
    let status = 0;
    const deadline = Date.now() + 10_000;
    while (status !== 200 && Date.now() < deadline) {
      status = (await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: after, body })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, 'the token signed with the rotated key was not accepted within 10 s');
    assert.equal((await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: before, body })).status, 200);
  });

  test('expired (the server 10 minutes ahead), wrong audience and wrong issuer are refused with the reason', async () => {
    const t = await rs.token(['ghosteam:infer']);
    const late = await server(rs.issuer, { now: () => Date.now() + 10 * 60_000 });
    const expired = await call(`${late.url}/v2/models/fraud/infer`, caPem, { token: t, body });
    assert.equal(expired.status, 401);
    assert.match(JSON.parse(expired.text).error, /expired/);
    const aud = await server(rs.issuer, { audience: 'ghosteam-model-server' });
    const wrongAud = await call(`${aud.url}/v2/models/fraud/infer`, caPem, { token: t, body });
    assert.equal(wrongAud.status, 401);
    assert.match(JSON.parse(wrongAud.text).error, /claim 'aud'/);
    const iss = await server(`${rs.issuer}other`, { audience: rs.issuer, jwksUrl: `${rs.issuer}keys` });
    const wrongIss = await call(`${iss.url}/v2/models/fraud/infer`, caPem, { token: t, body });
    assert.equal(wrongIss.status, 401);
    assert.match(JSON.parse(wrongIss.text).error, /claim 'iss'/);
  });

  test("alg: none and an HS256 token keyed with the issuer's public key (key confusion) are refused", async () => {
    const t = await rs.token(['ghosteam:infer']);
    const [h, p] = t.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`;
    const r1 = await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: none, body });
    assert.equal(r1.status, 401, r1.text);
    // the attacker's HMAC secret: the issuer's published key, as PEM and as the JWK's JSON
    const jwks = JSON.parse((await call(`${rs.issuer}keys`, caPem)).text) as { keys: Array<{ kid: string }> };
    const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    for (const secret of [pem, JSON.stringify(jwk)]) {
      const input = `${b64({ alg: 'HS256', kid: header.kid, typ: 'JWT' })}.${p}`;
      const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      const r = await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: forged, body });
      assert.equal(r.status, 401, r.text);
      assert.match(JSON.parse(r.text).error, /algorithm is not accepted/);
    }
    // a real token with its signature tampered
    const bad = `${h}.${p}.${t.split('.')[2].slice(0, -4)}AAAA`;
    assert.equal((await call(`${s.url}/v2/models/fraud/infer`, caPem, { token: bad, body })).status, 401);
  });

  test("an issuer that is down: well-formed tokens get 503 (not the client's fault), malformed ones still 401", async () => {
    const dead = await server('https://127.0.0.1:1/');
    const t = await rs.token(['ghosteam:infer']);
    const r = await call(`${dead.url}/v2/models/fraud/infer`, caPem, { token: t, body });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers['retry-after'], '5');
    assert.equal((await call(`${dead.url}/v2/models/fraud/infer`, caPem, { token: 'not-a-jwt', body })).status, 401);
  });

  test('the payload sink: POST needs ingest (403 without), /metrics needs metrics', async () => {
    const ev = JSON.stringify({
      specversion: '1.0',
      id: 'r1',
      source: 'test',
      type: 'org.kubeflow.serving.inference.request',
      data: { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] },
    });
    const post = (token?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          `${sink.url}/`,
          { method: 'POST', ca: caPem, headers: { 'content-type': 'application/cloudevents+json', ...(token ? { authorization: `Bearer ${token}` } : {}) } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(ev);
      });
    assert.equal(await post(), 401);
    assert.equal(await post(await rs.token(['ghosteam:infer'])), 403);
    assert.equal(await post(await rs.token(['ghosteam:ingest'])), 200);
    assert.equal((await call(`${sink.url}/metrics`, caPem, { token: await rs.token(['ghosteam:metrics']) })).status, 200);
  });

  test('Python requests with a bearer token from the issuer, over TLS', { skip: peers.skip }, async () => {
    const t = await rs.token(['ghosteam:infer']);
    const py = `
import requests, json, sys
url, ca, token, body = sys.argv[1:5]
r = requests.post(url + "/v2/models/fraud/infer", data=body, headers={"Authorization": "Bearer " + token}, verify=ca, timeout=10)
n = requests.post(url + "/v2/models/fraud/infer", data=body, verify=ca, timeout=10)
print(json.dumps([r.status_code, n.status_code, n.headers.get("www-authenticate")]))
`;
    const { stdout } = await run(peers.python, ['-c', py, s.url, ca.cert, t, body], { timeout: 60_000 });
    assert.deepEqual(JSON.parse(stdout), [200, 401, 'Bearer']);
  });

  test('ghosteam serve end to end: --tls-cert/--tls-key, --auth-issuer/--auth-audience/--auth-grant, --audit-log records a denied admin action', async () => {
    const audit = join(dir, 'audit.jsonl');
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin/ghosteam.mjs'),
        'serve',
        '--model',
        `fraud:1=${model.path}`,
        '--port',
        '0',
        '--tls-cert',
        serverLeaf.cert,
        '--tls-key',
        serverLeaf.key,
        '--auth-issuer',
        rs.issuer,
        '--auth-audience',
        rs.issuer,
        '--auth-ca-file',
        ca.cert,
        '--auth-grant',
        'infer:fraud=sub:service',
        '--auth-grant',
        'admin=client_id:ops',
        '--audit-log',
        audit,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 60_000);
        child.stdout.on('data', () => {
          const m = /listening on (https:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(t);
            resolve(m[1]);
          }
        });
        child.on('exit', () => reject(new Error(`serve exited:\n${out}`)));
      });
      assert.match(out, /OIDC tokens from https:\/\/127\.0\.0\.1:\d+\/ for audience/);
      const t = await rs.token();
      assert.equal((await call(`${url}/v2/models/fraud/infer`, caPem, { token: t, body })).status, 200);
      const denied = await call(`${url}/admin/models/fraud/traffic`, caPem, { method: 'PUT', token: t, body: JSON.stringify({ stable: '1' }) });
      assert.equal(denied.status, 403);
      const lines = readFileSync(audit, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        lines.map((l) => [l.who, l.what, l.target, l.outcome]),
        [['service', 'traffic', 'fraud', 'denied']],
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
