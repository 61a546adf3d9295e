// Protocol conformance against real, independent peers from the Python venv (usePeers(['python'])):
// tritonclient[http] drives health, metadata and infer; schemathesis fuzzes every operation of the
// Open Inference Protocol OpenAPI spec (../shared/upstream) and asserts no 5xx and no crash.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { denseNetForward } from '../../components/onnx/index.ts';
import { tempDir, writeFraudModel, writeIdentityModel, rows, get } from './fixtures.ts';

const run = promisify(execFile);
const peers = await usePeers(['python']);
const root = join(import.meta.dirname, '../..');
const token = 'conformance-token';

describe('conformance with real clients', { skip: peers.skip }, () => {
  const dir = tempDir();
  const m = writeFraudModel(dir, 1);
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({
      port: 0,
      token,
      processMetrics: false,
      models: [
        { name: 'fraud', path: m.path },
        ...['INT64', 'BOOL', 'BYTES', 'FP64'].map((d) => ({ name: `id-${d.toLowerCase()}`, path: writeIdentityModel(dir, d) })),
      ],
    });
  });
  after(() => s.close());

  test('tritonclient[http]: health, metadata, infer (versioned and not, JSON and binary), four datatypes, and a 400', async () => {
    const x = rows(3, 21);
    const { stdout } = await run(peers.python, [join(import.meta.dirname, 'py/triton_client.py'), s.url.replace('http://', ''), token, JSON.stringify(x)], {
      timeout: 60_000,
    });
    const out = JSON.parse(stdout);
    assert.equal(out.live, true);
    assert.equal(out.ready, true);
    assert.deepEqual(out.server, { name: 'ghosteam', version: '0.1.0', extensions: ['binary_tensor_data', 'model_repository'] });
    assert.equal(out.model_ready, true);
    assert.equal(out.model_ready_v1, true);
    assert.equal(out.model_ready_v9, false);
    assert.deepEqual(out.metadata.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 16] }]);
    assert.equal(out.infer.id, 'triton-1');
    assert.equal(out.infer.version, '1');
    const want = denseNetForward(m.net, x);
    (out.infer.probability as number[][]).forEach((r, i) => assert.ok(Math.abs(r[0] - want[i]) < 1e-5));
    assert.deepEqual(out.infer_v1, out.infer.probability);
    assert.deepEqual(out.infer_binary, out.infer.probability);
    assert.deepEqual(out.infer_binary_all_outputs, out.infer.probability);
    for (const dt of ['INT64', 'BOOL', 'BYTES', 'FP64']) {
      assert.equal(out[`identity_${dt}`], true, dt);
      assert.equal(out[`identity_${dt}_binary`], true, `${dt} binary`);
    }
    assert.deepEqual(out.bad, { status: '400', message: "inputs[0] ('input'): shape is [1, 3]; the model expects [-1, 16] (-1 = any size)" });
  });

  test('schemathesis over the OIP OpenAPI spec: no 5xx, server still healthy', async () => {
    // The upstream spec writes path templates as '${MODEL_NAME}'; rewrite them to OpenAPI's '{MODEL_NAME}' and
    // point the names at a served model (and a missing one) in a temp copy, so infer gets real traffic.
    const spec = readFileSync(join(root, '../shared/upstream/open-inference-protocol/open_inference_rest.yaml'), 'utf8')
      .replaceAll('${MODEL_NAME}', '{MODEL_NAME}')
      .replaceAll('${MODEL_VERSION}', '{MODEL_VERSION}')
      .replace(
        /(- schema:\n\s+type: string\n)(\s+)name: MODEL_NAME/g,
        (_m, a: string, ind: string) => `${a.replace('type: string', "type: string\n          enum: ['fraud', 'nope']")}${ind}name: MODEL_NAME`,
      )
      .replace(
        /(- schema:\n\s+type: string\n)(\s+)name: MODEL_VERSION/g,
        (_m, a: string, ind: string) => `${a.replace('type: string', "type: string\n          enum: ['1', '9']")}${ind}name: MODEL_VERSION`,
      );
    assert.match(spec, /enum: \['fraud', 'nope'\]/);
    const specPath = join(dir, 'oip.yaml');
    writeFileSync(specPath, spec);
    const st = join(dirname(peers.python), 'schemathesis');
    const r = await run(
      st,
      [
        'run',
        specPath,
        '--url',
        s.url,
        '--checks',
        'not_a_server_error',
        '--max-examples',
        '25',
        '--seed',
        '7',
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
      { timeout: 170_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_HOOKS: '' }, cwd: dir },
    ).catch((e: { code?: number; stdout?: string; stderr?: string }) => e);
    const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    assert.ok(!('code' in r) || r.code === 0, `schemathesis failed:\n${text.slice(-6000)}`);
    assert.match(text, /passed/i);
    if (process.env.SHOW_ST) console.log(text.slice(-3000));
    assert.equal((await get(`${s.url}/v2/health/live`)).status, 200);
  });
});
