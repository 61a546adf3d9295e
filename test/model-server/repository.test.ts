// The OIP model repository extension (index, load, unload) over the server's own load/unload:
// request parsing (pure, exact messages), then the routes against a real server with real ONNX
// models and a local registry. tritonclient drives the same routes in extensions.test.ts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { parseIndexRequest, parseLoadRequest, parseUnloadRequest } from '../../components/model-server/repository.ts';
import { RequestError } from '../../components/model-server/tensors.ts';
import { LocalRegistry } from '../../components/registry/index.ts';
import { denseNetForward } from '../../components/onnx/index.ts';
import { tempDir, writeFraudModel, rows, inferBody, post, get } from './fixtures.ts';

function throws400(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof RequestError && e.status === 400 && e.message === message);
}

describe('repository requests (pure)', () => {
  test('index: empty body or {"ready": bool}', () => {
    assert.deepEqual(parseIndexRequest(undefined), { ready: false });
    assert.deepEqual(parseIndexRequest({ ready: true }), { ready: true });
    throws400(() => parseIndexRequest({ ready: 'yes' }), "'ready' must be true or false");
    throws400(() => parseIndexRequest({ repository_name: 'x' }), `the index request has an unknown field 'repository_name'; only "ready" is allowed`);
    throws400(() => parseIndexRequest([]), 'the index request must be a JSON object like {"ready": true}, or empty');
  });
  test('load: nothing, a registry reference for this name, or a path with an optional version', () => {
    assert.deepEqual(parseLoadRequest('fraud', undefined), { kind: 'known' });
    assert.deepEqual(parseLoadRequest('fraud', {}), { kind: 'known' });
    assert.deepEqual(parseLoadRequest('fraud', { parameters: { ref: 'fraud@champion' } }), { kind: 'spec', spec: { ref: 'fraud@champion' } });
    assert.deepEqual(parseLoadRequest('fraud', { parameters: { path: '/m/f.onnx', version: 2 } }), {
      kind: 'spec',
      spec: { name: 'fraud', version: '2', path: '/m/f.onnx' },
    });
    throws400(
      () => parseLoadRequest('fraud', { parameters: { ref: 'churn@3' } }),
      "parameters.ref 'churn@3' names model 'churn', but the request loads 'fraud'",
    );
    throws400(() => parseLoadRequest('fraud', { parameters: { ref: 'fraud@3', path: '/x' } }), 'parameters.ref and parameters.path are exclusive; pass one');
    throws400(
      () => parseLoadRequest('fraud', { parameters: { ref: 'fraud@@' } }),
      "parameters.ref: 'fraud@@' is not a model reference; write NAME, NAME@ALIAS or NAME@VERSION (e.g. fraud@champion), or an MLflow URI (models:/fraud@champion, models:/fraud/3)",
    );
    throws400(() => parseLoadRequest('fraud', { parameters: { version: '2' } }), 'parameters.version goes with parameters.path');
    throws400(
      () => parseLoadRequest('fraud', { parameters: { config: '{"backend":"onnxruntime"}' } }),
      `parameters.config: Triton model configurations and files don't apply here (the server loads ONNX files); pass {"parameters": {"path": "/models/model.onnx"}} or {"parameters": {"ref": "model@champion"}}`,
    );
    throws400(
      () => parseLoadRequest('fraud', { parameters: { 'file:1/model.onnx': 'AAAA' } }),
      `parameters.file:1/model.onnx: Triton model configurations and files don't apply here (the server loads ONNX files); pass {"parameters": {"path": "/models/model.onnx"}} or {"parameters": {"ref": "model@champion"}}`,
    );
    throws400(() => parseLoadRequest('fraud', { parameters: { stable: true } }), "unknown parameter 'stable' for load; allowed: ref, path, version");
    throws400(() => parseLoadRequest('fraud', { model: 'fraud' }), `the load request has an unknown field 'model'; only "parameters" is allowed`);
  });
  test('unload: unload_dependents is accepted (nothing depends on a model here)', () => {
    assert.equal(parseUnloadRequest({ parameters: { unload_dependents: true } }), undefined);
    throws400(() => parseUnloadRequest({ parameters: { unload_dependents: 'no' } }), 'parameters.unload_dependents must be true or false');
  });
});

describe('model repository extension on a real server', () => {
  const dir = tempDir();
  const m1 = writeFraudModel(dir, 1);
  const m2 = writeFraudModel(dir, 2);
  const token = 'repository-token';
  const auth = { authorization: `Bearer ${token}` };
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({ port: 0, token, processMetrics: false, models: [{ name: 'fraud', path: m1.path }] });
  });
  after(() => s.close());
  const repo = (path: string, body?: unknown) => post(`${s.url}/v2/repository/${path}`, body === undefined ? '' : JSON.stringify(body), auth);

  test('advertised in GET /v2; needs the bearer token', async () => {
    assert.deepEqual((await get(`${s.url}/v2`, auth)).json.extensions, ['binary_tensor_data', 'model_repository']);
    const r = await post(`${s.url}/v2/repository/index`, '');
    assert.deepEqual({ status: r.status, json: r.json }, { status: 401, json: { error: 'missing bearer token; send Authorization: Bearer <token>' } });
  });

  test('index → unload → index shows it unavailable and infer 404s → load brings it back → a second version by path', async () => {
    assert.deepEqual((await repo('index')).json, [{ name: 'fraud', version: '1', state: 'READY', reason: '' }]);
    const u = await repo('models/fraud/unload', { parameters: { unload_dependents: false } });
    assert.deepEqual({ status: u.status, json: u.json }, { status: 200, json: { name: 'fraud', unload: true } });
    assert.deepEqual((await repo('index')).json, [{ name: 'fraud', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    assert.deepEqual((await repo('index', { ready: true })).json, []);
    assert.equal((await post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(1, 1)), auth)).status, 404);
    const l = await repo('models/fraud/load');
    assert.deepEqual({ status: l.status, json: l.json }, { status: 200, json: { name: 'fraud', load: true, versions: ['1'] } });
    const x = rows(2, 9);
    const r = await post(`${s.url}/v2/models/fraud/infer`, inferBody(x), auth);
    assert.equal(r.status, 200);
    denseNetForward(m1.net, x).forEach((p, i) => assert.ok(Math.abs(r.json.outputs[0].data[i] - p) < 1e-5));
    const l2 = await repo('models/fraud/load', { parameters: { path: m2.path, version: '2' } });
    assert.deepEqual(l2.json, { name: 'fraud', load: true, versions: ['2'] });
    assert.deepEqual((await repo('index')).json, [
      { name: 'fraud', version: '1', state: 'READY', reason: '' },
      { name: 'fraud', version: '2', state: 'READY', reason: '' },
    ]);
    const r2 = await post(`${s.url}/v2/models/fraud/versions/2/infer`, inferBody(x), auth);
    denseNetForward(m2.net, x).forEach((p, i) => assert.ok(Math.abs(r2.json.outputs[0].data[i] - p) < 1e-5));
    // Loading a model that is loaded already reads its files again (Triton: "or reloaded if the model
    // is already loaded"): a new model at version 1's path is served after the load, not before.
    const retrained = writeFraudModel(dir, 77, basename(m1.path));
    const before1 = await post(`${s.url}/v2/models/fraud/versions/1/infer`, inferBody(x), auth);
    denseNetForward(m1.net, x).forEach((p, i) => assert.ok(Math.abs(before1.json.outputs[0].data[i] - p) < 1e-5));
    assert.deepEqual((await repo('models/fraud/load', {})).json, { name: 'fraud', load: true, versions: ['1', '2'] });
    const after1 = await post(`${s.url}/v2/models/fraud/versions/1/infer`, inferBody(x), auth);
    denseNetForward(retrained.net, x).forEach((p, i) => assert.ok(Math.abs(after1.json.outputs[0].data[i] - p) < 1e-5));
    assert.ok(
      denseNetForward(m1.net, x).some((p, i) => Math.abs(after1.json.outputs[0].data[i] - p) > 1e-3),
      'the reloaded model answers differently',
    );
    // The admin API sees what the repository did: one concept, one place.
    assert.deepEqual(
      (await get(`${s.url}/admin/models/fraud`, auth)).json.versions.map((v: { version: string }) => v.version),
      ['1', '2'],
    );
  });

  test('unknown models and bad requests are 4xx with {"error"}', async () => {
    const cases: Array<[string, unknown, number, string]> = [
      [
        'models/nope/load',
        undefined,
        404,
        `model 'nope' is not in the repository: it was never loaded here and the server has no registry; pass {"parameters": {"path": "/models/nope.onnx"}}`,
      ],
      ['models/nope/unload', undefined, 404, "model 'nope' is not loaded"],
      ['models/nope/load', { parameters: { path: join(dir, 'missing.onnx') } }, 400, `model 'nope': ${join(dir, 'missing.onnx')} does not exist`],
      [
        'models/fraud/load',
        { parameters: { path: m2.path, version: '1' } },
        409,
        `model 'fraud' version '1' is already loaded from ${m1.path}; unload it first to load ${m2.path}`,
      ],
      [
        'models/fraud/reload',
        undefined,
        404,
        'no route for POST /v2/repository/models/fraud/reload; the repository extension has POST /v2/repository/index, /v2/repository/models/{name}/load and /v2/repository/models/{name}/unload',
      ],
    ];
    for (const [path, body, status, error] of cases) {
      const r = await repo(path, body);
      assert.deepEqual({ status: r.status, json: r.json }, { status, json: { error } }, path);
    }
    const bad = await post(`${s.url}/v2/repository/index`, '{"ready":', auth);
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /^request body is not valid JSON: /);
    const g = await get(`${s.url}/v2/repository/index`, auth);
    assert.deepEqual(g, { status: 405, json: { error: 'GET is not allowed on /v2/repository/index; use POST' } });
  });
});

describe('model repository with a registry, and with the admin API off', () => {
  test('the index lists registry models not loaded; load by name resolves the latest version', async () => {
    const dir = tempDir();
    const registry = new LocalRegistry({ dir: join(dir, 'registry') });
    const a = writeFraudModel(dir, 41);
    const b = writeFraudModel(dir, 42);
    await registry.registerVersion('churn', { artifactPath: a.path });
    await registry.registerVersion('churn', { artifactPath: b.path });
    const s = await startModelServer({ port: 0, processMetrics: false, registry });
    try {
      assert.deepEqual((await post(`${s.url}/v2/repository/index`, '')).json, [
        { name: 'churn', state: 'UNAVAILABLE', reason: 'in the local registry (latest version 2); not loaded' },
      ]);
      assert.deepEqual((await post(`${s.url}/v2/repository/models/churn/load`, '{}')).json, { name: 'churn', load: true, versions: ['2'] });
      assert.deepEqual((await post(`${s.url}/v2/repository/models/churn/load`, JSON.stringify({ parameters: { ref: 'churn:1' } }))).json, {
        name: 'churn',
        load: true,
        versions: ['1'],
      });
      assert.deepEqual((await post(`${s.url}/v2/repository/index`, '')).json, [
        { name: 'churn', version: '1', state: 'READY', reason: '' },
        { name: 'churn', version: '2', state: 'READY', reason: '' },
      ]);
      const x = rows(2, 3);
      const r = await post(`${s.url}/v2/models/churn/versions/1/infer`, inferBody(x));
      denseNetForward(a.net, x).forEach((p, i) => assert.ok(Math.abs(r.json.outputs[0].data[i] - p) < 1e-5));
      const miss = await post(`${s.url}/v2/repository/models/ghost/load`, '');
      assert.equal(miss.status, 404);
      assert.match(miss.json.error, /^can't resolve 'ghost' in the local registry: /);
    } finally {
      await s.close();
    }
  });

  test('admin: false takes the extension away too, and /v2 stops advertising it', async () => {
    const dir = tempDir();
    const s = await startModelServer({ port: 0, processMetrics: false, admin: false, models: [{ name: 'fraud', path: writeFraudModel(dir, 1).path }] });
    try {
      assert.deepEqual((await get(`${s.url}/v2`)).json.extensions, ['binary_tensor_data']);
      const r = await post(`${s.url}/v2/repository/models/fraud/unload`, '');
      assert.deepEqual(
        { status: r.status, json: r.json },
        {
          status: 404,
          json: {
            error:
              'no route for POST /v2/repository/models/fraud/unload: the model repository extension is off, as the admin API is (the server is reachable beyond loopback without a token; set a token or --admin)',
          },
        },
      );
      assert.equal((await post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(1, 2)))).status, 200);
    } finally {
      await s.close();
    }
  });
});
