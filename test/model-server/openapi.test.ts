// The model server's OpenAPI document (components/model-server/openapi.ts) against the server itself:
// every route the document lists is one the server routes (no 'no route' 404, no 405), and every
// answer of the read routes and of a real inference, load, traffic change and feedback validates
// against the document's response schema (TypeBox's own validator over the same schemas). The
// schemathesis fuzz over the served document is in extensions.test.ts (it needs the peers' Python).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { ROUTES } from '../../components/model-server/openapi.ts';
import { tempDir, writeFraudModel, rows, inferBody } from './fixtures.ts';

const token = 'openapi-token';
// TypeBox's validator knows no formats until told; RFC 3339 date-times as the document declares them.
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v));
const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

describe('the model server OpenAPI document', () => {
  const dir = tempDir('ghosteam-openapi-');
  const m1 = writeFraudModel(dir, 1);
  const m2 = writeFraudModel(dir, 2);
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({ port: 0, token, processMetrics: false, models: [{ name: 'fraud', path: m1.path }] });
  });
  after(() => s.close());

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const r = await fetch(`${s.url}${path}`, { method: method.toUpperCase(), headers: auth, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, text: await r.text() };
  }

  test('served at /openapi.json: OpenAPI 3.1, bearer auth declared, every route with its responses', async () => {
    const r = await call('get', '/openapi.json');
    assert.equal(r.status, 200);
    const doc = JSON.parse(r.text);
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc.components.securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } });
    assert.equal(Object.values(doc.paths).flatMap((p) => Object.keys(p as object)).length, ROUTES.length);
    assert.deepEqual(doc.paths['/v2/models/{name}/infer'].post.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/InferRequest' });
    assert.ok(doc.components.schemas.TrafficSplit.properties.canaryPercent);
    assert.equal((await fetch(`${s.url}/openapi.json`)).status, 401, 'the document needs the token as the model list does');
  });

  test('every route of the document is routed by the server (no "no route" 404, no 405)', async () => {
    for (const r of ROUTES) {
      if (r.method === 'delete' || r.path.endsWith('/unload')) continue; // the next test unloads, in order
      const path = r.path.replace('{name}', 'fraud').replace('{version}', '1');
      const body =
        r.body === undefined ? undefined : r.path.endsWith('/load') ? {} : r.path.endsWith('/index') ? {} : r.method === 'put' ? { stable: '1' } : {};
      const got = await call(r.method, path, body);
      assert.ok(got.status !== 405 && !(got.status === 404 && /no route|no admin route/.test(got.text)), `${r.method} ${path}: ${got.status} ${got.text}`);
    }
  });

  test('answers validate against the response schemas: reads, inference, V1, load, traffic, feedback, stats, unload', async () => {
    const ok = (method: string, path: string, body?: unknown) => ({ method, path, body });
    const steps = [
      ok('get', '/'),
      ok('get', '/v2/health/live'),
      ok('get', '/v2'),
      ok('post', '/v2/models/fraud/infer', JSON.parse(inferBody(rows(3, 1), { id: 'req-1' }))),
      ok('post', '/v1/models/fraud:predict', { instances: rows(2, 2) }),
      ok('post', '/admin/models', { name: 'fraud', version: '2', path: m2.path }),
      ok('put', '/admin/models/fraud/traffic', { stable: '1', canary: '2', canaryPercent: 10 }),
      ok('post', '/v2/models/fraud/feedback', { id: 'req-1', label: [1, 0, 1] }),
      ok('get', '/v2/models/fraud'),
      ok('get', '/v2/models/fraud/versions/2'),
      ok('get', '/v2/models/fraud/ready'),
      ok('get', '/v2/models/fraud/config'),
      ok('get', '/v2/models/fraud/versions/1/stats'),
      ok('get', '/v2/models/stats'),
      ok('post', '/v2/repository/index', {}),
      ok('get', '/v1/models'),
      ok('get', '/v1/models/fraud'),
      ok('get', '/admin/models'),
      ok('get', '/admin/models/fraud'),
      ok('get', '/admin/models/fraud/traffic'),
      ok('get', '/admin/models/fraud/stats'),
      ok('put', '/admin/models/fraud/traffic', { stable: '1' }),
      ok('delete', '/admin/models/fraud/versions/2'),
      ok('post', '/v2/repository/models/fraud/load', {}),
      ok('post', '/v2/repository/models/fraud/unload', {}),
      ok('post', '/v2/repository/models/fraud/load', { parameters: { path: m1.path, version: '1' } }),
      ok('delete', '/admin/models/fraud'),
    ];
    const pattern = (p: string) => new RegExp(`^${p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}$`);
    for (const st of steps) {
      // A literal segment wins over a template ('/v2/models/stats' is not model 'stats').
      const route = ROUTES.filter((r) => r.method === st.method && pattern(r.path).test(st.path)).sort(
        (a, b) => a.path.split('{').length - b.path.split('{').length,
      )[0];
      assert.ok(route, `${st.method} ${st.path} is in the document`);
      const got = await call(st.method, st.path, st.body);
      assert.equal(got.status, 200, `${st.method} ${st.path}: ${got.text}`);
      if (route.ok === 'text') continue;
      const answer = JSON.parse(got.text);
      const errors = [...Value.Errors(route.ok, answer)].map((e) => `${e.path}: ${e.message}`);
      assert.deepEqual(errors, [], `${st.method} ${st.path} answered ${got.text.slice(0, 400)}`);
    }
    // An error answer is the Error schema.
    const missing = await call('get', '/v2/models/nope');
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.text).error, /nope/);
  });
});
