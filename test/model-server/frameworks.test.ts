// Bring your own model: the peers' Python trains real scikit-learn (LogisticRegression,
// RandomForest, a Pipeline with a ColumnTransformer and a string column, GradientBoosting
// regressor, IsolationForest), XGBoost and LightGBM models on scikit-learn's bundled datasets and
// exports them with their converters' default options (ZipMap outputs) and with zipmap=False
// (py/frameworks.py). ghosteam serves them all in one server, and its answers over OIP JSON, KServe
// V1 and tritonclient (JSON and binary) must match the frameworks' own predict/predict_proba.
// Native files (joblib, ubj, LightGBM txt) beside them are refused with the converter to use while
// the rest load. PyTorch is not in this suite: torch 2.15.0 on PyPI requires 17 CUDA packages and
// the CPU-only wheels are on download.pytorch.org, unreachable here (checked; see frameworks.py).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { readModelSignature } from '../../components/model-server/models.ts';
import { tempDir, post, get } from './fixtures.ts';

const run = promisify(execFile);
const peers = await usePeers(['python']);

interface Case {
  name: string;
  path: string;
  rows: unknown[];
  inputs: 'columns' | null;
  expect: { label?: (number | string)[]; proba?: number[][]; classes?: (number | string)[]; value?: number[]; scores?: number[] };
}

function close(got: readonly number[], want: readonly number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} values, want ${want.length}`);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= tol * Math.max(1, Math.abs(want[i])), `${what}[${i}]: ${g} vs ${want[i]}`));
}

describe('bring your own model: sklearn, XGBoost and LightGBM exports served as the frameworks predict', { skip: peers.skip }, () => {
  const dir = tempDir('ghosteam-fw-');
  let cases: Case[] = [];
  let s: ModelServer;
  before(
    async () => {
      await run(peers.python, [join(import.meta.dirname, 'py/frameworks.py'), 'train', dir], { timeout: 300_000, maxBuffer: 16 << 20 });
      cases = (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { cases: Case[] }).cases;
      s = await startModelServer({
        port: 0,
        processMetrics: false,
        models: [
          ...cases.map((c) => ({ name: c.name, path: c.path })),
          { name: 'native-joblib', path: join(dir, 'model.joblib') },
          { name: 'native-ubj', path: join(dir, 'model.ubj') },
          { name: 'native-txt', path: join(dir, 'model.txt') },
        ],
      });
    },
    { timeout: 330_000 },
  );
  after(() => s?.close());

  test('every export loads; native files are refused per model with the converter to use', async () => {
    assert.deepEqual(
      s
        .models()
        .map((m) => m.name)
        .sort(),
      cases.map((c) => c.name).sort(),
    );
    const failed = Object.fromEntries(s.failed.map((f) => [f.model, f.error]));
    assert.match(failed['native-joblib'], /is not an ONNX model; it looks like a scikit-learn model .*skl2onnx/);
    assert.match(failed['native-ubj'], /is not an ONNX model; it looks like an XGBoost model: convert it with onnxmltools/);
    assert.match(failed['native-txt'], /is not an ONNX model; it looks like a LightGBM model: convert it with onnxmltools/);
    const r = await get(`${s.url}/v2/models/native-ubj/ready`);
    assert.equal(r.status, 404);
    assert.match(r.json.error, /^model 'native-ubj' is not loaded: it failed to load: .*convert_xgboost/);
  });

  test("a memory budget's lazy registration reads the same signature from the graph as a session reports, for every export", async () => {
    const sessions = Object.fromEntries(s.models().map((m) => [m.name, m.versions[0]]));
    for (const c of cases) {
      const sig = await readModelSignature(c.path);
      assert.ok(sig, `${c.name}: its signature is read from the graph (no session needed to register it)`);
      const v = sessions[c.name];
      assert.deepEqual([sig.inputs, sig.outputs, sig.batchReason], [v.inputs, v.outputs, v.batchingReason], c.name);
    }
  });

  test('ZipMap outputs are FP32 [N, classes] with the class labels in the metadata; batching is proved from the graph', async () => {
    for (const c of cases.filter((x) => x.expect.classes && !x.name.endsWith('nozipmap') && x.name !== 'xgboost')) {
      const m = await get(`${s.url}/v2/models/${c.name}`);
      const p = (m.json.outputs as Array<{ name: string; datatype: string; shape: number[]; parameters?: { labels: unknown[] } }>)[1];
      assert.deepEqual(
        { datatype: p.datatype, shape: p.shape, labels: p.parameters?.labels },
        { datatype: 'FP32', shape: [-1, c.expect.classes!.length], labels: c.expect.classes },
        c.name,
      );
    }
    const info = Object.fromEntries(s.models().map((m) => [m.name, m.versions[0]]));
    // Proved, not assumed: the IsolationForest's and the pipeline's Reshape [-1, k] included.
    for (const c of cases) assert.deepEqual([info[c.name].batching, info[c.name].batchingReason], [true, 'every output carries the batch rows'], c.name);
  });

  test('OIP JSON: labels exact, probabilities / values / scores to 1e-4 of the framework (null = NaN for XGBoost)', async () => {
    for (const c of cases) {
      let inputs: unknown[];
      if (c.inputs === 'columns') {
        const recs = c.rows as Array<Record<string, unknown>>;
        inputs = Object.keys(recs[0]).map((k) => ({
          name: k,
          shape: [recs.length, 1],
          datatype: typeof recs[0][k] === 'string' ? 'BYTES' : 'FP32',
          data: recs.map((r) => r[k]),
        }));
      } else
        inputs = [
          {
            name: (await get(`${s.url}/v2/models/${c.name}`)).json.inputs[0].name,
            shape: [c.rows.length, (c.rows[0] as unknown[]).length],
            datatype: 'FP32',
            data: c.rows,
          },
        ];
      const r = await post(`${s.url}/v2/models/${c.name}/infer`, JSON.stringify({ inputs }));
      assert.equal(r.status, 200, `${c.name}: ${JSON.stringify(r.json)}`);
      const outs = Object.fromEntries((r.json.outputs as Array<{ name: string; data: unknown[]; shape: number[] }>).map((o, i) => [i, o]));
      if (c.expect.label) assert.deepEqual(outs[0].data, c.expect.label, `${c.name} labels`);
      if (c.expect.proba) {
        assert.deepEqual(outs[1].shape, [c.rows.length, c.expect.proba[0].length], `${c.name} probability shape`);
        close(outs[1].data as number[], c.expect.proba.flat(), 1e-4, `${c.name} probabilities`);
      }
      if (c.expect.value) close(outs[0].data as number[], c.expect.value, 1e-4, `${c.name} values`);
      if (c.expect.scores) close(outs[1].data as number[], c.expect.scores, 1e-4, `${c.name} scores`);
    }
  });

  test('KServe V1: rows and per-column records answer predict() labels; predict_proba answers probabilities with class_labels', async () => {
    for (const c of cases) {
      const r = await post(`${s.url}/v1/models/${c.name}:predict`, JSON.stringify({ instances: c.rows }));
      assert.equal(r.status, 200, `${c.name}: ${JSON.stringify(r.json)}`);
      if (c.expect.label) assert.deepEqual(r.json.predictions, c.expect.label, `${c.name} V1 labels`);
      if (c.expect.value) close(r.json.predictions, c.expect.value, 1e-4, `${c.name} V1 values`);
      if (c.expect.proba) {
        const p = await post(`${s.url}/v1/models/${c.name}:predict`, JSON.stringify({ instances: c.rows, parameters: { predict_proba: true } }));
        assert.equal(p.status, 200, `${c.name}: ${JSON.stringify(p.json)}`);
        close((p.json.predictions as number[][]).flat(), c.expect.proba.flat(), 1e-4, `${c.name} V1 probabilities`);
        if (!c.name.endsWith('nozipmap') && c.name !== 'xgboost') assert.deepEqual(p.json.class_labels, c.expect.classes, c.name);
      }
    }
    // The ZipMap's own semantics, per row, behind a parameter.
    const pipe = cases.find((c) => c.name === 'pipeline')!;
    const d = await post(`${s.url}/v1/models/pipeline:predict`, JSON.stringify({ instances: pipe.rows.slice(0, 1), parameters: { detailed: true } }));
    const row = d.json.predictions[0] as { output_label: string; output_probability: Record<string, number> };
    assert.equal(row.output_label, pipe.expect.label![0]);
    assert.deepEqual(Object.keys(row.output_probability), pipe.expect.classes);
    // A string column with null stays a clear 400.
    const bad = await post(`${s.url}/v1/models/pipeline:predict`, JSON.stringify({ instances: [{ ...(pipe.rows[0] as object), size: null }] }));
    assert.equal(bad.status, 400);
    assert.match(
      bad.json.error,
      /^instances\[0\]\.size: element 0 is null; expected a string for datatype BYTES \(null means a missing value only for FP16, BF16, FP32 and FP64 inputs\)$/,
    );
  });

  test('tritonclient: JSON and binary answers match, model config and Triton-shaped statistics', async () => {
    const { stdout } = await run(peers.python, [join(import.meta.dirname, 'py/frameworks.py'), 'triton', s.url.replace('http://', ''), dir], {
      timeout: 120_000,
      maxBuffer: 16 << 20,
    });
    const got = JSON.parse(stdout) as Record<
      string,
      { json: Record<string, unknown[]>; binary: Record<string, unknown[]>; config: Record<string, any>; stats: { model_stats: Array<Record<string, any>> } }
    >;
    for (const c of cases.filter((x) => x.inputs !== 'columns')) {
      const g = got[c.name];
      assert.ok(g, c.name);
      for (const form of ['json', 'binary'] as const) {
        const outs = Object.values(g[form]);
        if (c.expect.label) assert.deepEqual(outs[0].flat(), c.expect.label, `${c.name} ${form} labels`);
        if (c.expect.proba) close((outs[1] as number[][]).flat(), c.expect.proba.flat(), 1e-4, `${c.name} ${form} probabilities`);
        if (c.expect.value) close((outs[0] as number[][]).flat(), c.expect.value, 1e-4, `${c.name} ${form} values`);
      }
      assert.equal(g.config.platform, 'onnxruntime_onnx');
      assert.equal(g.config.max_batch_size, 64, c.name);
      assert.equal(g.config.input[0].data_type, 'TYPE_FP32');
      assert.deepEqual(g.config.input[0].dims, [(c.rows[0] as unknown[]).length]);
      const st = g.stats.model_stats[0];
      assert.equal(st.name, c.name);
      // This test's JSON and V1 requests before, and tritonclient's two: all counted.
      assert.ok(st.inference_stats.success.count >= 3, `${c.name}: ${JSON.stringify(st.inference_stats.success)}`);
      for (const k of ['queue', 'compute_input', 'compute_infer', 'compute_output']) {
        assert.ok(st.inference_stats[k].count >= 2 && st.inference_stats[k].ns > 0, `${c.name} ${k}: ${JSON.stringify(st.inference_stats[k])}`);
      }
      assert.ok(st.inference_count >= 3 * c.rows.length && st.execution_count >= 3, c.name);
    }
  });
});
