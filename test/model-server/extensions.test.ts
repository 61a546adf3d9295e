// FP16 and BF16 tensors and the model repository extension against the real tritonclient (Python, from the
// peers harness): what a Triton user's code does, unchanged, against our server.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { fromHalfBits, toHalfBits } from '../../components/model-server/tensors.ts';
import { tempDir, writeFraudModel, get } from './fixtures.ts';
import { writeFp16Model, writeBf16Model, writeTwoInputModel, FP16_W, FP16_B } from './graphs.ts';

const run = promisify(execFile);
const peers = await usePeers(['python']);
const token = 'extensions-token';
const half = (v: number) => fromHalfBits(toHalfBits(v));

describe('tritonclient: FP16, BF16 and the model repository extension', { skip: peers.skip }, () => {
  const dir = tempDir();
  const m1 = writeFraudModel(dir, 1);
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({
      port: 0,
      token,
      processMetrics: false,
      models: [
        { name: 'fraud', path: m1.path },
        { name: 'affine16', path: writeFp16Model(dir) },
        { name: 'scale16', path: writeBf16Model(dir) },
        { name: 'two', path: writeTwoInputModel(dir) },
      ],
    });
  });
  after(() => s.close());

  test('FP16 over JSON and binary and BF16 over binary get the right answers; index, unload, load and their errors', async () => {
    const { stdout } = await run(peers.python, [join(import.meta.dirname, 'py/triton_extensions.py'), s.url.replace('http://', ''), token], {
      timeout: 60_000,
    });
    const out = JSON.parse(stdout);
    const x16 = (out.x16 as number[][]).flat();
    for (const mode of ['fp16_json', 'fp16_binary']) {
      const r = out[mode];
      assert.equal(r.y_dtype, 'float16', mode);
      assert.equal(r.datatype, 'FP16', mode);
      assert.deepEqual(r.x32.flat(), x16, `${mode}: the server received exactly numpy's halves`);
      assert.deepEqual(r.y.flat(), r.y32.flat(), `${mode}: y as FP16 equals its exact FP32 cast`);
      (r.y.flat() as number[]).forEach((y, i) => {
        const want = half(Math.fround(x16[i] * FP16_W[i % 3] + half(FP16_B[i % 3])));
        assert.equal(y, want, `${mode} y[${i}]`);
        const np = out.numpy_y.flat()[i];
        const ulp = 2 ** (Math.floor(Math.log2(Math.abs(np) || 2 ** -14)) - 10);
        assert.ok(Math.abs(y - np) <= ulp, `${mode} y[${i}] = ${y}; numpy says ${np}`);
      });
    }
    assert.deepEqual(out.fp16_json.y, out.fp16_binary.y);
    // BF16 from ml_dtypes arrays, binary both ways: the server got numpy's bfloat16s and answered ml_dtypes' rounding of x * w.
    assert.equal(out.bf16.y_dtype, 'bfloat16');
    assert.deepEqual(out.bf16.x32, out.bf16.x);
    assert.deepEqual(out.bf16.y, out.bf16.numpy_y);

    assert.deepEqual(out.index0, [
      { name: 'affine16', version: '1', state: 'READY', reason: '' },
      { name: 'fraud', version: '1', state: 'READY', reason: '' },
      { name: 'scale16', version: '1', state: 'READY', reason: '' },
      { name: 'two', version: '1', state: 'READY', reason: '' },
    ]);
    assert.equal(out.ready_after_unload, false);
    assert.deepEqual(out.index_unloaded[1], { name: 'fraud', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    assert.equal(out.ready_after_load, true);
    assert.deepEqual(out.load_config, {
      status: '400',
      message: `parameters.config: Triton model configurations and files don't apply here (the server loads ONNX files); pass {"parameters": {"path": "/models/model.onnx"}} or {"parameters": {"ref": "model@champion"}}`,
    });
    assert.deepEqual(out.load_unknown, {
      status: '404',
      message: `model 'nope' is not in the repository: it was never loaded here and the server has no registry; pass {"parameters": {"path": "/models/nope.onnx"}}`,
    });
    assert.deepEqual(out.unload_unknown, { status: '404', message: "model 'nope' is not loaded" });
    assert.deepEqual(out.index_no_token, { status: '401', message: 'missing bearer token; send Authorization: Bearer <token>' });
    assert.deepEqual(out.index_final, out.index0);
  });

  // The OIP OpenAPI spec has neither the repository extension, Triton's config and statistics, KServe V1,
  // feedback nor the admin API: fuzz every route from the server's own OpenAPI document, generated from
  // the TypeBox types (components/model-server/openapi.ts) and fetched from GET /openapi.json. The test
  // only narrows {name} and {version} to loaded models and a missing one (random names would all be
  // 404s), and keeps the unload routes off 'two' and 'fraud', which the next test uses. Besides "no
  // 5xx", schemathesis checks every answer against the document's response schemas: the document
  // says what the server really answers.
  test('schemathesis over the generated OpenAPI document (every route): no 5xx, answers conform, server still healthy', async () => {
    const doc = (await (await fetch(`${s.url}/openapi.json`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; schema: Record<string, unknown> }> }>>;
    };
    assert.equal(doc.openapi, '3.1.0');
    for (const want of [
      '/v2/repository/index',
      '/v2/models/{name}/config',
      '/v2/models/{name}/stats',
      '/v1/models/{name}:predict',
      '/admin/models/{name}/traffic',
    ])
      assert.ok(doc.paths[want], `the document has ${want}`);
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops))
        for (const p of op.parameters ?? []) {
          const removes = path.endsWith('/unload') || method === 'delete';
          if (p.name === 'name')
            p.schema.enum = removes
              ? ['affine16', 'nope']
              : path.endsWith('/load')
                ? ['fraud', 'nope', 'two']
                : ['fraud', 'two', 'scale16', 'affine16', 'nope'];
          if (p.name === 'version') p.schema.enum = ['1', '2', 'x'];
        }
    const specPath = join(dir, 'openapi.json');
    writeFileSync(specPath, JSON.stringify(doc));
    const st = join(dirname(peers.python), 'schemathesis');
    const r = await run(
      st,
      [
        'run',
        specPath,
        '--url',
        s.url,
        '--checks',
        'not_a_server_error,response_schema_conformance',
        '--max-examples',
        '20',
        '--seed',
        '11',
        '--workers',
        '1',
        '--phases',
        'examples,coverage,fuzzing',
        '-H',
        `Authorization: Bearer ${token}`,
        '--no-color',
        '--request-timeout',
        '10',
        '--suppress-health-check',
        'all',
      ],
      { timeout: 300_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_HOOKS: '' }, cwd: dir },
    ).catch((e: { code?: number; stdout?: string; stderr?: string }) => e);
    const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    assert.ok(!('code' in r) || r.code === 0, `schemathesis failed:\n${text.slice(-6000)}`);
    assert.match(text, /\d+ generated, \d+ passed/);
    assert.equal((await get(`${s.url}/v2/health/live`)).status, 200);
  });

  test("KServe's own V1 REST client: liveness, readiness, rows keyed by input name, columns, a 400, the model list", async () => {
    const { stdout } = await run(peers.python, [join(import.meta.dirname, 'py/kserve_v1.py'), s.url, token], { timeout: 60_000 });
    const out = JSON.parse(stdout);
    assert.equal(out.live, true);
    assert.equal(out.ready_two, true);
    // As KServe's own servers answer: the first output per row; every output behind parameters.detailed.
    const want = {
      predictions: [
        [1.5, 2],
        [-2, -7],
      ],
    };
    assert.deepEqual(out.rows, want);
    assert.deepEqual(out.columns, want);
    assert.deepEqual(out.rows_detailed, {
      predictions: [
        { shifted: [1.5, 2], doubled: 2 },
        { shifted: [-2, -7], doubled: -8 },
      ],
    });
    assert.deepEqual(out.bad, { status: 400, error: "instances[0]: missing input 'offset'; every instance needs 'features', 'offset'" });
    // The fuzz test above may have unloaded or reloaded models: the list is whatever is loaded now.
    assert.deepEqual(
      out.list.models.sort(),
      s
        .models()
        .map((m) => m.name)
        .sort(),
    );
    assert.ok(out.list.models.includes('two'));
  });
});
