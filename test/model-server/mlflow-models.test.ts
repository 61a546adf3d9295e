// MLflow models both ways, against a real MLflow server and MLflow's own Python client:
// - a model Python logged with mlflow.onnx.log_model (and registered, alias 'champion') is served by
//   ghosteam from `models:/NAME@champion`, `models:/NAME/1` and `runs:/RUN_ID/model`;
// - a version ghosteam registers is a real MLflow onnx-flavor model: mlflow.pyfunc.load_model
//   ('models:/NAME/1') loads it in Python and answers what ghosteam answers.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { basename, join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { usePeers } from '../peers/index.ts';
import { MlflowRegistry } from '../../components/registry/index.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { denseNetForward } from '../../components/onnx/index.ts';
import { tempDir, writeFraudModel, rows, post } from './fixtures.ts';

const run = promisify(execFile);
const peers = await usePeers(['python', 'mlflow']);
const script = join(import.meta.dirname, 'py/mlflow_models.py');
const id = randomBytes(3).toString('hex');

describe('MLflow models: logged by Python and served by ghosteam; registered by ghosteam and loaded by mlflow.pyfunc', { skip: peers.skip }, () => {
  const dir = tempDir('ghosteam-mlflow-models-');
  let registry: MlflowRegistry;
  let s: ModelServer;
  let logged: { run_id: string; version: string; rows: number[][]; label: number[]; proba: number[][] };
  const name = `iris-${id}`;
  before(
    async () => {
      registry = new MlflowRegistry({ trackingUri: peers.mlflowUrl, experiment: `ghosteam-mlflow-models-${id}`, cacheDir: join(dir, 'cache') });
      const { stdout } = await run(peers.python, [script, 'log', peers.mlflowUrl, name], { timeout: 180_000, maxBuffer: 8 << 20 });
      logged = JSON.parse(stdout.trim().split('\n').pop()!);
      s = await startModelServer({ port: 0, processMetrics: false, registry, models: [{ ref: `models:/${name}@champion` }] });
    },
    { timeout: 240_000 },
  );
  after(() => s?.close());

  const check = async (model: string, version?: string) => {
    const path = version ? `/v2/models/${model}/versions/${version}/infer` : `/v2/models/${model}/infer`;
    const r = await post(`${s.url}${path}`, JSON.stringify({ inputs: [{ name: 'X', shape: [logged.rows.length, 4], datatype: 'FP32', data: logged.rows }] }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.outputs[0].data, logged.label);
    (r.json.outputs[1].data as number[]).forEach((p, i) => assert.ok(Math.abs(p - logged.proba.flat()[i]) < 1e-4, `${model} p[${i}]`));
  };

  test('models:/NAME@champion, models:/NAME/1 and runs:/RUN_ID/model serve the logged model as scikit-learn predicts', async () => {
    await check(name);
    const v1 = await post(`${s.url}/admin/models`, JSON.stringify({ ref: `models:/${name}/${logged.version}` }));
    assert.equal(v1.status, 200, JSON.stringify(v1.json));
    assert.equal(v1.json.version, logged.version);
    const byRun = await post(`${s.url}/admin/models`, JSON.stringify({ ref: `runs:/${logged.run_id}/model` }));
    assert.equal(byRun.status, 200, JSON.stringify(byRun.json));
    assert.equal(byRun.json.name, 'model');
    await check('model');
    const missing = await post(`${s.url}/admin/models`, JSON.stringify({ ref: `runs:/${logged.run_id}/nothing` }));
    assert.equal(missing.status, 404);
    assert.match(missing.json.error, /has no MLflow model at 'nothing'/);
  });

  test("the logged version's storageUri is its artifact location, and that folder, copied as KServe's storage initializer does, serves", async () => {
    // MLflow records the version's source as models:/m-<id>, which only MLflow resolves; the version's
    // source (what the InferenceService gets as storageUri) is where its files are.
    const mv = await registry.getVersion(name, Number(logged.version));
    assert.match(mv.source, /^mlflow-artifacts:\/.+/, mv.source);
    const rel = mv.source.replace(/^mlflow-artifacts:\/+/, '');
    const listing = (await (await fetch(`${peers.mlflowUrl}/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(rel)}`)).json()) as {
      files?: Array<{ path: string; is_dir?: boolean }>;
    };
    const files = (listing.files ?? []).filter((f) => !f.is_dir).map((f) => f.path);
    assert.ok(files.includes('MLmodel') && files.includes('model.onnx'), JSON.stringify(listing));
    const mnt = join(dir, 'mnt-models');
    mkdirSync(mnt, { recursive: true });
    for (const f of files) {
      const res = await fetch(`${peers.mlflowUrl}/api/2.0/mlflow-artifacts/artifacts/${rel}/${f}`);
      assert.equal(res.status, 200, f);
      writeFileSync(join(mnt, basename(f)), new Uint8Array(await res.arrayBuffer()));
    }
    const load = await post(`${s.url}/admin/models`, JSON.stringify({ name: 'from-storage-uri', version: logged.version, path: mnt }));
    assert.equal(load.status, 200, JSON.stringify(load.json));
    await check('from-storage-uri');
  });

  test('a version ghosteam registers loads with mlflow.pyfunc.load_model and answers as ghosteam does', async () => {
    const m = writeFraudModel(dir, 5);
    const reg = `fraud-${id}`;
    const mv = await registry.registerVersion(reg, { artifactPath: m.path, metrics: { auc: 0.9 } });
    const x = rows(3, 11);
    const { stdout } = await run(peers.python, [script, 'pyfunc', peers.mlflowUrl, `models:/${reg}/${mv.version}`, JSON.stringify(x)], {
      timeout: 180_000,
      maxBuffer: 8 << 20,
    });
    const got = JSON.parse(stdout.trim().split('\n').pop()!) as { flavors: string[]; outputs: Record<string, number[][]> };
    assert.deepEqual(got.flavors, ['onnx', 'python_function']);
    const want = denseNetForward(m.net, x);
    got.outputs.probability.flat().forEach((p, i) => assert.ok(Math.abs(p - want[i]) < 1e-5, `pyfunc row ${i}`));
    // ghosteam still serves it by its registry reference.
    const loaded = await post(`${s.url}/admin/models`, JSON.stringify({ ref: `models:/${reg}/${mv.version}` }));
    assert.equal(loaded.status, 200, JSON.stringify(loaded.json));
  });
});
