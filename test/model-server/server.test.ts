import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'node:http';
import { connect } from 'node:net';
import {
  startModelServer,
  adminDefault,
  ModelServerAdminClient,
  type ModelServerAdminError,
  parseModelSpec,
  type ModelServer,
} from '../../components/model-server/index.ts';
import { LocalRegistry } from '../../components/registry/index.ts';
import { denseNetForward } from '../../components/onnx/index.ts';
import { tempDir, writeFraudModel, writeIdentityModel, rows, inferBody, post, get, IDENTITY_TYPES, completeJsonLines } from './fixtures.ts';

function close(a: number[], b: number[], tol = 1e-5): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < tol, `row ${i}: ${a[i]} vs ${b[i]}`);
}

describe('model server: protocol and errors', () => {
  const dir = tempDir();
  const m1 = writeFraudModel(dir, 1);
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({ port: 0, models: [{ name: 'fraud', path: m1.path }], processMetrics: false });
  });
  after(() => s.close());

  test('health, server metadata, model metadata and ready with and without version', async () => {
    assert.deepEqual(await get(`${s.url}/v2/health/live`), { status: 200, json: { live: true } });
    assert.deepEqual(await get(`${s.url}/v2/health/ready`), { status: 200, json: { ready: true } });
    assert.deepEqual((await get(`${s.url}/v2`)).json, { name: 'ghosteam', version: '0.1.0', extensions: ['binary_tensor_data', 'model_repository'] });
    const meta = {
      name: 'fraud',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 16] }],
      outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
    };
    assert.deepEqual((await get(`${s.url}/v2/models/fraud`)).json, meta);
    assert.deepEqual((await get(`${s.url}/v2/models/fraud/versions/1`)).json, meta);
    assert.deepEqual(await get(`${s.url}/v2/models/fraud/ready`), { status: 200, json: { name: 'fraud', version: '1', ready: true } });
    assert.equal((await get(`${s.url}/v2/models/fraud/versions/1/ready`)).status, 200);
    assert.equal((await get(`${s.url}/v2/models/fraud/versions/9/ready`)).status, 404);
  });

  test("infer returns the model's outputs for every row, with id and requested outputs", async () => {
    const x = rows(5, 42);
    const r = await post(
      `${s.url}/v2/models/fraud/versions/1/infer`,
      inferBody(x, { id: 'req-7', parameters: { foo: 1 }, outputs: [{ name: 'probability' }] }),
    );
    assert.equal(r.status, 200);
    assert.equal(r.json.model_name, 'fraud');
    assert.equal(r.json.model_version, '1');
    assert.equal(r.json.id, 'req-7');
    assert.deepEqual(r.json.outputs[0].shape, [5, 1]);
    assert.equal(r.json.outputs[0].datatype, 'FP32');
    close(r.json.outputs[0].data, denseNetForward(m1.net, x));
    // nested data is row-major too
    const nested = await post(`${s.url}/v2/models/fraud/infer`, JSON.stringify({ inputs: [{ name: 'input', shape: [5, 16], datatype: 'FP32', data: x }] }));
    assert.deepEqual(nested.json.outputs, r.json.outputs);
  });

  test('V1 predict', async () => {
    const x = rows(3, 5);
    const r = await post(`${s.url}/v1/models/fraud:predict`, JSON.stringify({ instances: x }));
    assert.equal(r.status, 200);
    close(r.json.predictions, denseNetForward(m1.net, x));
    assert.deepEqual((await post(`${s.url}/v1/models/fraud:predict`, '{"instances":[[1,2]]}')).json, {
      error: "instances[0]: shape is [2]; input 'input' takes [16] per instance (the model's input is [-1, 16], -1 = any size)",
    });
    assert.deepEqual((await post(`${s.url}/v1/models/fraud:predict`, '{"instances":[]}')).json, {
      error: `'instances' must be a non-empty array of rows, e.g. {"instances": [[0.1, 0.2, ...]]}`,
    });
  });

  const x1 = JSON.stringify(rows(1, 1)[0]);
  const badCases: Array<[string, string, string, number, string]> = [
    ['malformed JSON', '/v2/models/fraud/infer', '{"inputs": [', 400, 'request body is not valid JSON: '],
    ['empty body', '/v2/models/fraud/infer', '', 400, 'request body is empty; send a JSON object'],
    ['not an object', '/v2/models/fraud/infer', '[1,2]', 400, 'the inference request must be a JSON object'],
    ['no inputs', '/v2/models/fraud/infer', '{}', 400, "'inputs' must be an array of tensors; the model expects 'input'"],
    [
      'wrong tensor name',
      '/v2/models/fraud/infer',
      `{"inputs":[{"name":"x","shape":[1,16],"datatype":"FP32","data":${x1}}]}`,
      400,
      "inputs[0]: the model has no input named 'x'; its inputs are 'input'",
    ],
    [
      'wrong datatype',
      '/v2/models/fraud/infer',
      `{"inputs":[{"name":"input","shape":[1,16],"datatype":"FP64","data":${x1}}]}`,
      400,
      `inputs[0] ('input'): datatype is "FP64"; the model expects "FP32"`,
    ],
    [
      'wrong shape',
      '/v2/models/fraud/infer',
      `{"inputs":[{"name":"input","shape":[1,15],"datatype":"FP32","data":${x1}}]}`,
      400,
      "inputs[0] ('input'): shape is [1, 15]; the model expects [-1, 16] (-1 = any size)",
    ],
    [
      'wrong data length',
      '/v2/models/fraud/infer',
      '{"inputs":[{"name":"input","shape":[2,16],"datatype":"FP32","data":' + x1 + '}]}',
      400,
      "inputs[0] ('input'): data has 16 elements; shape [2, 16] needs 32",
    ],
    [
      'string in FP32 data',
      '/v2/models/fraud/infer',
      '{"inputs":[{"name":"input","shape":[1,16],"datatype":"FP32","data":' + x1.replace(/^\[[^,]+/, '["a"') + '}]}',
      400,
      `inputs[0] ('input'): data[0] is "a"; expected a number (or null for a missing value) for datatype FP32`,
    ],
    [
      'negative shape',
      '/v2/models/fraud/infer',
      '{"inputs":[{"name":"input","shape":[-1,16],"datatype":"FP32","data":[]}]}',
      400,
      "inputs[0] ('input'): shape must be an array of non-negative integers, e.g. [1, 16]",
    ],
    [
      'unknown requested output',
      '/v2/models/fraud/infer',
      `{"inputs":[{"name":"input","shape":[1,16],"datatype":"FP32","data":${x1}}],"outputs":[{"name":"logits"}]}`,
      400,
      "outputs[0]: the model has no output named 'logits'; its outputs are 'probability'",
    ],
    ['parameters not an object', '/v2/models/fraud/infer', `{"parameters":3,"inputs":[]}`, 400, "'parameters' must be a JSON object"],
    [
      'input twice',
      '/v2/models/fraud/infer',
      `{"inputs":[{"name":"input","shape":[1,16],"datatype":"FP32","data":${x1}},{"name":"input","shape":[1,16],"datatype":"FP32","data":${x1}}]}`,
      400,
      "inputs[1]: input 'input' is given twice",
    ],
    ['unknown model', '/v2/models/nope/infer', '{}', 404, "model 'nope' is not loaded; loaded models: fraud"],
    ['unknown version', '/v2/models/fraud/versions/7/infer', '{}', 404, "model 'fraud' has no loaded version '7'; loaded: 1"],
    ['unknown route', '/v2/models/fraud/explain', '{}', 404, 'no route for POST /v2/models/fraud/explain'],
  ];
  for (const [name, path, body, status, message] of badCases) {
    test(`bad input: ${name} → ${status} with a message`, async () => {
      const r = await post(s.url + path, body);
      assert.equal(r.status, status);
      if (message.endsWith(': ')) assert.ok(r.json.error.startsWith(message), r.json.error);
      else assert.deepEqual(r.json, { error: message });
    });
  }

  test('GET on infer is 405, pinned unknown version is 404, bad %-escape is 400', async () => {
    assert.deepEqual(await get(`${s.url}/v2/models/fraud/infer`), { status: 405, json: { error: 'GET is not allowed on /v2/models/fraud/infer; use POST' } });
    const r = await post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(1, 1)), { 'x-ghosteam-version': '5' });
    assert.deepEqual(r.json, { error: "model 'fraud': version '5' (from the pinning header) is not loaded; loaded: 1" });
    assert.equal((await get(`${s.url}/v2/models/%E0%A4%A`)).status, 400);
  });

  test('admin API bad input: exact 4xx messages', async () => {
    assert.deepEqual((await post(`${s.url}/admin/models`, '{}')).json, {
      error: 'load request needs {"ref": "fraud@champion"} or {"name": "fraud", "version": "2", "path": "/models/fraud.onnx"}',
    });
    const put = await fetch(`${s.url}/admin/models/fraud/traffic`, { method: 'PUT', body: 'nope' });
    assert.equal(put.status, 400);
    assert.match(((await put.json()) as { error: string }).error, /^request body is not valid JSON: /);
    const del = await fetch(`${s.url}/admin/models/nope/versions/1`, { method: 'DELETE' });
    assert.deepEqual({ status: del.status, json: await del.json() }, { status: 404, json: { error: "model 'nope' is not loaded" } });
    assert.deepEqual((await post(`${s.url}/admin/models/fraud/stats`, '')).json, { error: 'POST is not allowed on stats; use GET' });
    const st = await get(`${s.url}/admin/models/fraud/stats`);
    assert.equal(st.status, 200);
    assert.deepEqual(st.json.traffic, { stable: '1', canaryPercent: 0, shadow: false });
  });

  test('binary tensor extension: FP32 in, binary out, and exact 400s for bad framing', async () => {
    const x = rows(2, 3);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'input', shape: [2, 16], datatype: 'FP32', parameters: { binary_data_size: 128 } }],
        outputs: [{ name: 'probability', parameters: { binary_data: true } }],
      }),
    );
    const body = Buffer.concat([header, Buffer.from(Float32Array.from(x.flat()).buffer)]);
    const res = await fetch(`${s.url}/v2/models/fraud/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(header.length) }, body });
    assert.equal(res.status, 200);
    const raw = Buffer.from(await res.arrayBuffer());
    const n = Number(res.headers.get('inference-header-content-length'));
    const head = JSON.parse(raw.subarray(0, n).toString());
    assert.deepEqual(head.outputs[0], { name: 'probability', datatype: 'FP32', shape: [2, 1], parameters: { binary_data_size: 8 } });
    const probs = Array.from(new Float32Array(raw.subarray(n).buffer.slice(raw.byteOffset + n, raw.byteOffset + n + 8)));
    close(probs, denseNetForward(m1.net, x));
    const r = await post(`${s.url}/v2/models/fraud/infer`, '{}', { 'inference-header-content-length': '99' });
    assert.deepEqual(r.json, {
      error: 'Inference-Header-Content-Length is "99"; it must be the byte length of the JSON header, between 1 and the body size (2)',
    });
    const short = Buffer.concat([header, Buffer.alloc(64)]);
    const r2 = await fetch(`${s.url}/v2/models/fraud/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': String(header.length) },
      body: short,
    });
    assert.deepEqual(
      { status: r2.status, json: await r2.json() },
      { status: 400, json: { error: 'inputs[0]: binary_data_size 128 runs past the end of the body (64 bytes left)' } },
    );
  });

  test('metrics count requests, errors by code, latency and batch size per version', async () => {
    const text = (await get(`${s.url}/metrics`)).json as string;
    const count = (re: RegExp) => Number(re.exec(text)?.[1] ?? 'NaN');
    assert.ok(count(/ghosteam_model_requests_total\{model="fraud",version="1"\} (\d+)/) >= 3);
    assert.ok(count(/ghosteam_model_errors_total\{model="fraud",version="1",code="400"\} (\d+)/) >= 10);
    assert.ok(count(/ghosteam_model_request_duration_seconds_count\{model="fraud",version="1"\} (\d+)/) >= 3);
    assert.ok(count(/ghosteam_model_batch_size_count\{model="fraud",version="1"\} (\d+)/) >= 3);
    assert.match(text, /ghosteam_model_queue_delay_seconds_bucket\{le="0.001",model="fraud",version="1"\}/);
    assert.match(text, /ghosteam_model_errors_total\{model="",version="",code="404"\} \d+/);
  });
});

describe('model server: every JSON datatype round-trips', () => {
  const dir = tempDir();
  const samples: Record<string, unknown[]> = {
    BOOL: [true, false, false, true],
    UINT8: [0, 255, 7, 8],
    UINT16: [0, 65535, 1, 2],
    UINT32: [0, 4294967295, 3, 4],
    UINT64: [0, 9007199254740991, 5, 6],
    INT8: [-128, 127, 0, 1],
    INT16: [-32768, 32767, 0, 1],
    INT32: [-2147483648, 2147483647, 0, 1],
    INT64: [-9007199254740991, 9007199254740991, 0, -1],
    FP32: [1.5, -2.25, 0, 3],
    FP64: [0.1, 1e300, -1e-300, 2],
    BYTES: ['a', 'héllo', '', 'x y'],
  };
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({
      port: 0,
      processMetrics: false,
      models: Object.keys(IDENTITY_TYPES).map((dt) => ({ name: `id-${dt.toLowerCase()}`, path: writeIdentityModel(dir, dt) })),
    });
  });
  after(() => s.close());
  for (const [dt, data] of Object.entries(samples)) {
    test(`${dt}`, async () => {
      const r = await post(`${s.url}/v2/models/id-${dt.toLowerCase()}/infer`, JSON.stringify({ inputs: [{ name: 'x', shape: [2, 2], datatype: dt, data }] }));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(r.json.outputs[0], { name: 'y', datatype: dt, shape: [2, 2], data });
    });
  }
  test('out-of-range integer and non-boolean are 400s', async () => {
    const r = await post(`${s.url}/v2/models/id-uint8/infer`, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'UINT8', data: [1, 256] }] }));
    assert.deepEqual(r.json, { error: "inputs[0] ('x'): data[1] is 256; expected an integer in [0, 255] for datatype UINT8" });
    const b = await post(`${s.url}/v2/models/id-bool/infer`, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'BOOL', data: [1, 0] }] }));
    assert.deepEqual(b.json, { error: "inputs[0] ('x'): data[0] is 1; expected true or false for datatype BOOL" });
  });
});

describe('model server: dynamic batching', () => {
  test('200 concurrent callers with distinct inputs each get exactly their own rows, in fewer runs', async () => {
    const dir = tempDir();
    const m = writeFraudModel(dir, 3);
    const s = await startModelServer({
      port: 0,
      processMetrics: false,
      models: [{ name: 'fraud', path: m.path }],
      batching: { maxBatchSize: 32, maxQueueDelayMs: 5 },
    });
    try {
      const inputs = Array.from({ length: 200 }, (_, i) => rows(1 + (i % 3), 1000 + i));
      const results = await Promise.all(inputs.map((x) => post(`${s.url}/v2/models/fraud/infer`, inferBody(x))));
      results.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.deepEqual(r.json.outputs[0].shape, [inputs[i].length, 1]);
        close(r.json.outputs[0].data, denseNetForward(m.net, inputs[i]));
      });
      const text = await s.metrics.text();
      const runs = Number(/ghosteam_model_batch_size_count\{model="fraud",version="1"\} (\d+)/.exec(text)![1]);
      const rowsRun = Number(/ghosteam_model_batch_size_sum\{model="fraud",version="1"\} (\d+)/.exec(text)![1]);
      assert.equal(
        rowsRun,
        inputs.reduce((a, x) => a + x.length, 0),
      );
      assert.ok(runs < 200, `expected merged runs, got ${runs} runs for 200 requests`);
    } finally {
      await s.close();
    }
  });
});

describe('model server: versions, traffic split, pinning, shadow, admin', () => {
  const dir = tempDir();
  const v1 = writeFraudModel(dir, 11);
  const v2 = writeFraudModel(dir, 22);
  let s: ModelServer;
  let admin: ModelServerAdminClient;
  const token = 'secret-token-123';
  before(async () => {
    s = await startModelServer({
      port: 0,
      processMetrics: false,
      token,
      models: [{ name: 'fraud', version: '1', path: v1.path }],
      payloadLog: { file: join(dir, 'payload.jsonl'), flushIntervalMs: 20 },
    });
    admin = new ModelServerAdminClient(s.url, { token });
  });
  after(() => s.close());
  const auth = { authorization: `Bearer ${token}` };

  test('token: health stays open, others need it', async () => {
    assert.equal((await get(`${s.url}/v2/health/ready`)).status, 200);
    assert.deepEqual(await get(`${s.url}/v2`), { status: 401, json: { error: 'missing bearer token; send Authorization: Bearer <token>' } });
    assert.deepEqual(await get(`${s.url}/v2`, { authorization: 'Bearer nope' }), { status: 401, json: { error: 'invalid bearer token' } });
    assert.equal((await get(`${s.url}/v2`, auth)).status, 200);
    await assert.rejects(new ModelServerAdminClient(s.url).listModels(), { status: 401 });
  });

  test('load a second version at runtime; stable stays on the first', async () => {
    const info = await admin.load({ name: 'fraud', version: '2', path: v2.path });
    assert.equal(info.version, '2');
    const list = await admin.listModels();
    assert.deepEqual(
      list.map((m) => [m.name, m.versions.map((v) => v.version), m.traffic.stable]),
      [['fraud', ['1', '2'], '1']],
    );
    const x = rows(2, 9);
    const r = await post(`${s.url}/v2/models/fraud/infer`, inferBody(x), auth);
    assert.equal(r.json.model_version, '1');
    close(r.json.outputs[0].data, denseNetForward(v1.net, x));
    const r2 = await post(`${s.url}/v2/models/fraud/versions/2/infer`, inferBody(x), auth);
    close(r2.json.outputs[0].data, denseNetForward(v2.net, x));
    await assert.rejects(
      admin.load({ name: 'fraud', version: '2', path: v1.path }),
      (e: ModelServerAdminError) => e.status === 409 && e.message.includes(`is already loaded from ${v2.path}`),
    );
  });

  test('canary weight is honoured within statistical tolerance; pin header overrides it', async () => {
    await admin.setTraffic('fraud', { stable: '1', canary: '2', canaryPercent: 20 });
    const n = 600;
    const body = inferBody(rows(1, 3));
    const got = await Promise.all(Array.from({ length: n }, () => post(`${s.url}/v2/models/fraud/infer`, body, auth)));
    const canary = got.filter((r) => r.json.model_version === '2').length;
    // Binomial(600, 0.2): mean 120, sd ≈ 9.8; ±5 sd
    assert.ok(Math.abs(canary - 120) < 49, `canary answered ${canary} of ${n}`);
    got.forEach((r) => assert.equal(r.headers.get('x-ghosteam-version'), r.json.model_version));
    const pinned = await Promise.all(Array.from({ length: 50 }, () => post(`${s.url}/v2/models/fraud/infer`, body, { ...auth, 'x-ghosteam-version': '2' })));
    assert.ok(pinned.every((r) => r.json.model_version === '2'));
    const st = await admin.stats('fraud');
    assert.ok(st.versions['2'].requests >= canary + 50);
    assert.ok(st.versions['2'].latencyMs.p99 > 0);
    assert.equal(st.versions['2'].errorRate, 0);
  });

  test('shadow: stable answers everything, the canary gets copies', async () => {
    const before2 = (await admin.stats('fraud')).versions['2'].requests;
    await admin.setTraffic('fraud', { stable: '1', canary: '2', canaryPercent: 100, shadow: true });
    const got = await Promise.all(Array.from({ length: 40 }, () => post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(1, 4)), auth)));
    assert.ok(got.every((r) => r.json.model_version === '1'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await admin.stats('fraud')).versions['2'].requests - before2, 40);
  });

  test('traffic validation messages', async () => {
    await assert.rejects(admin.setTraffic('fraud', { stable: '1', canary: '3', canaryPercent: 10 }), {
      message: "PUT /admin/models/fraud/traffic: 400 traffic.canary: model 'fraud' has no loaded version '3'; loaded: 1, 2",
    });
    await assert.rejects(admin.setTraffic('fraud', { stable: '1', canary: '2', canaryPercent: 120 }), {
      message: 'PUT /admin/models/fraud/traffic: 400 traffic.canaryPercent must be a number from 0 to 100 when a canary is set',
    });
  });

  test('unload: stable is protected, canary unload resets traffic, requests keep working', async () => {
    await assert.rejects(admin.unload('fraud', '1'), { status: 409 });
    await admin.unload('fraud', '2');
    assert.deepEqual(await admin.getTraffic('fraud'), { stable: '1', canaryPercent: 0, shadow: false });
    const r = await post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(1, 4)), auth);
    assert.equal(r.json.model_version, '1');
    assert.equal((await post(`${s.url}/v2/models/fraud/versions/2/infer`, inferBody(rows(1, 4)), auth)).status, 404);
  });

  test('payload log records have the agreed shape', async () => {
    let lines: any[] = [];
    for (let i = 0; i < 100 && lines.length < 600; i++) {
      await new Promise((r) => setTimeout(r, 50));
      lines = completeJsonLines(join(dir, 'payload.jsonl'));
    }
    assert.ok(lines.length >= 600, `${lines.length} records`);
    const rec = lines.find((l) => l.id && l.version === '1')!;
    assert.deepEqual(Object.keys(rec), ['ts', 'model', 'version', 'id', 'inputs', 'outputs']);
    assert.ok(!Number.isNaN(Date.parse(rec.ts)));
    assert.equal(rec.model, 'fraud');
    assert.deepEqual(Object.keys(rec.inputs.input), ['shape', 'datatype', 'data']);
    assert.deepEqual(rec.inputs.input.shape, [rec.inputs.input.data.length / 16, 16]);
    assert.equal(rec.inputs.input.datatype, 'FP32');
    assert.deepEqual(rec.outputs.probability.shape, [rec.inputs.input.shape[0], 1]);
    assert.equal(typeof rec.outputs.probability.data[0], 'number');
    assert.ok(
      lines.some((l) => l.version === '2'),
      'shadow/canary records are logged too',
    );
  });
});

describe('model server: limits and shutdown', () => {
  const dir = tempDir();
  const m = writeFraudModel(dir, 5);

  test('body over the limit is 413', async () => {
    const s = await startModelServer({ port: 0, processMetrics: false, models: [{ name: 'fraud', path: m.path }], maxBodyBytes: 1000 });
    try {
      const r = await post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(20, 1)));
      assert.equal(r.status, 413);
      assert.match(r.json.error, /^request body is \d+ bytes; the limit is 1000$/);
      assert.equal((await post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(1, 1)))).status, 200);
    } finally {
      await s.close();
    }
  });

  test('past maxInflight the server answers 429', async () => {
    // Three pipelined requests whose bodies have all arrived: two are admitted, the third is a 429.
    const s = await startModelServer({
      port: 0,
      processMetrics: false,
      models: [{ name: 'fraud', path: m.path }],
      maxInflight: 2,
      batching: { maxBatchSize: 64, maxQueueDelayMs: 300 },
    });
    try {
      const body = inferBody(rows(1, 1));
      const one = `POST /v2/models/fraud/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const text = await new Promise<string>((resolve) => {
        let t = '';
        const sock = connect(s.port, '127.0.0.1');
        sock.on('data', (c) => (t += c));
        sock.on('error', () => {});
        setTimeout(() => {
          sock.destroy();
          resolve(t);
        }, 2000);
        sock.write(one.repeat(3));
      });
      assert.deepEqual(
        [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((x) => Number(x[1])),
        [200, 200, 429],
      );
      assert.match(text, /retry-after: 1\r\n[\s\S]*\{"error":"too many requests in flight \(limit 2\); retry later"\}/);
      assert.equal((await get(`${s.url}/v2/health/live`)).status, 200);
    } finally {
      await s.close();
    }
  });

  test('close() waits for an in-flight request to finish, refuses new connections, then resolves', async () => {
    const s = await startModelServer({ port: 0, processMetrics: false, models: [{ name: 'fraud', path: m.path }] });
    const x = rows(2, 8);
    const body = inferBody(x);
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const r = request(
        `${s.url}/v2/models/fraud/infer`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        },
      );
      r.on('error', reject);
      r.write(body.slice(0, 10));
      setTimeout(() => r.end(body.slice(10)), 300);
    });
    await new Promise((r) => setTimeout(r, 100));
    let closed = false;
    const closing = s.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await get(`${s.url}/v2/health/live`).catch(() => ({ status: 'refused' }))).status, 'refused');
    assert.equal(closed, false, 'close() resolved while a request was in flight');
    const a = await answer;
    assert.equal(a.status, 200);
    close(JSON.parse(a.text).outputs[0].data, denseNetForward(m.net, x));
    await closing;
    assert.equal(closed, true);
  });
});

describe('model server: startup errors', () => {
  test('a missing model file fails startup with the path', async () => {
    await assert.rejects(
      startModelServer({ port: 0, models: [{ name: 'x', path: '/nonexistent/m.onnx' }] }),
      (e: Error) => e.message === "model 'x': /nonexistent/m.onnx does not exist",
    );
  });
  test('a registry ref without a registry is explained', async () => {
    await assert.rejects(startModelServer({ port: 0, models: [{ ref: 'fraud@champion' }] }), {
      message: "model 'fraud@champion' is a registry reference but the server has no registry; pass a path instead (NAME=./model.onnx) or configure a registry",
    });
  });
});

describe('model server: models from the local registry', () => {
  test("serves fraud@champion, loads another version by ref at runtime, and follows the registry's numbering", async () => {
    const dir = tempDir();
    const registry = new LocalRegistry({ dir: join(dir, 'registry') });
    const a = writeFraudModel(dir, 31);
    const b = writeFraudModel(dir, 32);
    await registry.registerVersion('fraud', { artifactPath: a.path });
    const v2 = await registry.registerVersion('fraud', { artifactPath: b.path });
    await registry.setAlias('fraud', 'champion', 1);
    const s = await startModelServer({ port: 0, processMetrics: false, registry, models: [parseModelSpec('fraud@champion')] });
    try {
      const x = rows(3, 77);
      const r = await post(`${s.url}/v2/models/fraud/infer`, inferBody(x));
      assert.equal(r.json.model_version, '1');
      close(r.json.outputs[0].data, denseNetForward(a.net, x));
      const admin = new ModelServerAdminClient(s.url);
      const info = await admin.load({ ref: `fraud@${v2.version}` });
      assert.equal(info.source, 'registry:fraud@2');
      const r2 = await post(`${s.url}/v2/models/fraud/infer`, inferBody(x), { 'x-ghosteam-version': '2' });
      close(r2.json.outputs[0].data, denseNetForward(b.net, x));
      await assert.rejects(
        admin.load({ ref: 'fraud@nope' }),
        (e: ModelServerAdminError) => e.status === 404 && e.message.startsWith("POST /admin/models: 404 can't resolve 'fraud@nope' in the local registry: "),
      );
    } finally {
      await s.close();
    }
  });
});

describe('model server: admin API exposure', () => {
  test('off by default beyond loopback without a token (pure rule; tests bind loopback only)', () => {
    assert.equal(adminDefault('0.0.0.0', undefined), false);
    assert.equal(adminDefault('10.0.0.5', undefined), false);
    assert.equal(adminDefault('0.0.0.0', 'abcdefgh12'), true);
    assert.equal(adminDefault('127.0.0.1', undefined), true);
    assert.equal(adminDefault('::1', undefined), true);
  });
  test('admin: false removes the routes', async () => {
    const m = writeFraudModel(tempDir(), 6);
    const s = await startModelServer({ port: 0, processMetrics: false, models: [{ name: 'fraud', path: m.path }], admin: false });
    try {
      assert.equal(s.admin, false);
      assert.deepEqual(await get(`${s.url}/admin/models`), { status: 404, json: { error: 'no route for GET /admin/models' } });
    } finally {
      await s.close();
    }
  });
});
