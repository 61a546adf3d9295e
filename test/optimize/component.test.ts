// The optimize-onnx component as a pipeline step on the local engine, with the real catalog:
// ingest (the validation CSV) → optimize-onnx (fraud@champion from a local registry, INT8, the gate)
// → the optimized model registered as a version whose lineage names the original; the gate fails
// the step (terminally, GateRejected) when the metric drops past the tolerance and nothing is
// registered; bad params are errors that say what to connect.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { App, Chart } from 'cdk8s';
import { Pipeline } from '../../pipelines/index.ts';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { ArtifactStore } from '../../pipelines/local/store.ts';
import { openRegistry } from '../../components/registry/index.ts';
import { denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet, seededRandom } from '../../components/onnx/random.ts';
import { optimizeOnnxComponent, reportMetrics } from '../../components/optimize/component.ts';
import { tempDir } from '../engine/helpers.ts';
import { synthesize } from '../../charts/synth.ts';
import { upstreamErrors } from '../constructs/upstream.ts';
import { find } from '../constructs/helpers.ts';
import type { ParamValue } from '../../components/component.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/ghosteam.mjs');
let dir: string;
let cleanup: () => Promise<void>;
let registryDir: string;
let csv: string;
let originalDigest: string;
const K = 8;
const ROWS = 600;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  registryDir = join(dir, 'registry');
  // A ghosteam MLP (Gemm layers) registered as fraud v1 @champion.
  const bytes = denseNetToOnnx(randomDenseNet([K, 256, 128, 1], 7));
  const model = join(dir, 'fraud.onnx');
  await writeFile(model, bytes);
  originalDigest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  const reg = openRegistry({ dir: registryDir });
  const mv = await reg.registerVersion('fraud', { artifactPath: model });
  await reg.setAlias('fraud', 'champion', mv.version);
  // Validation rows: y = the original's probability (for rmse) and its class (for roc_auc).
  const r = seededRandom(3);
  const x = Float32Array.from({ length: ROWS * K }, () => (r() * 2 - 1) * 12);
  const s = await ort.InferenceSession.create(bytes);
  const res = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [ROWS, K]) });
  const p = res[s.outputNames[0]].data as Float32Array;
  const lines = [[...Array.from({ length: K }, (_, j) => `f${j}`), 'p', 'y'].join(',')];
  for (let i = 0; i < ROWS; i++) lines.push([...x.subarray(i * K, (i + 1) * K)].join(',') + `,${p[i]},${p[i] >= 0.5 ? 1 : 0}`);
  csv = join(dir, 'valid.csv');
  await writeFile(csv, lines.join('\n') + '\n');
});
after(() => cleanup());

function spec(params: Record<string, ParamValue>) {
  const p = new Pipeline(new Chart(new App(), 'c'), 'opt');
  const data = p.component('ingest', 'ingest', { params: { path: csv } });
  p.component('optimize', 'optimize-onnx', {
    inputs: { validation: data.outputs.dataset },
    params: { model: 'fraud@champion', registry: registryDir, features: Array.from({ length: K }, (_, j) => `f${j}`), latency: false, ...params },
  });
  return p.toSpec();
}

describe('optimize-onnx on the local engine', () => {
  test('INT8 within the tolerance: optimized, reported, registered with lineage to fraud@1', { timeout: 240_000 }, async () => {
    const rec = await runPipeline(spec({ mode: 'int8', label: 'y', maxMetricDrop: 0.05, name: 'fraud-int8', alias: 'candidate', tags: { purpose: 'edge' } }), {
      storeDir: join(dir, 'ok'),
      isolation: 'inline',
      cache: false,
      runId: 'opt-ok',
      gitCommit: null,
    });
    assert.equal(rec.status, 'Succeeded', JSON.stringify(rec.nodes.optimize, null, 1));
    const o = rec.nodes.optimize.outputParams;
    assert.equal(o.accepted, true);
    assert.equal(o.version, 1);
    assert.equal(o.modelRef, 'fraud-int8@1');
    assert.ok(typeof o.sizeRatio === 'number' && o.sizeRatio < 0.6, `INT8 weights are a quarter of float32's: ratio ${o.sizeRatio}`);
    const reg = openRegistry({ dir: registryDir });
    const mv = await reg.resolve('fraud-int8', 'candidate');
    assert.equal(mv.version, 1);
    assert.equal(mv.lineage.derivedFrom, 'fraud@1');
    assert.equal(mv.lineage.derivedFromDigest, originalDigest);
    assert.equal(mv.lineage.runId, 'opt-ok');
    assert.equal(mv.lineage.pipeline, 'opt');
    assert.equal(mv.params.optimize, 'graph:basic+int8:dynamic');
    assert.equal(mv.tags.purpose, 'edge');
    assert.ok(mv.metrics.roc_auc > 0.95 && mv.metrics.original_roc_auc === 1, JSON.stringify(mv.metrics));
    assert.equal(mv.metrics.metricDrop, mv.metrics.original_roc_auc - mv.metrics.roc_auc);
    // The registered file is the step's output artifact, and the report artifact carries the flat metrics.
    const artifact = rec.nodes.optimize.outputs?.optimized;
    assert.ok(artifact, JSON.stringify(rec.nodes.optimize.outputs));
    assert.equal(mv.digest, artifact.digest);
    const report = JSON.parse(await readFile(new ArtifactStore(join(dir, 'ok')).pathOf(rec.nodes.optimize.outputs.report.digest), 'utf8')) as {
      kind: string;
      metrics: Record<string, number>;
      int8: { quantized: string[] };
    };
    assert.equal(report.kind, 'ghosteam.optimize-report');
    assert.deepEqual(report.metrics, mv.metrics);
    assert.equal(report.int8.quantized.length, 3, 'the three Gemm layers');
  });

  test('the gate: a metric drop past maxMetricDrop fails the step as GateRejected and registers nothing', { timeout: 240_000 }, async () => {
    // rmse against the original's own probabilities: the original scores 0, INT8 a little more.
    const rec = await runPipeline(spec({ mode: 'int8', label: 'p', metric: 'rmse', maxMetricDrop: 0, name: 'fraud-refused' }), {
      storeDir: join(dir, 'refused'),
      isolation: 'inline',
      cache: false,
      runId: 'opt-refused',
      gitCommit: null,
    });
    assert.equal(rec.status, 'Failed');
    const n = rec.nodes.optimize;
    assert.match(n.message ?? '', /refused: rmse 0 → [0-9.e-]+ on .* \(600 rows\) drops [0-9.e-]+, more than --max-metric-drop 0; nothing was written/);
    assert.equal(n.reason, 'GateRejected');
    assert.equal(n.terminal, true);
    const models = await openRegistry({ dir: registryDir }).listModels();
    assert.ok(!models.some((m) => m.name === 'fraud-refused'), 'nothing registered');
  });
});

test('as its container runs it: `ghosteam component run optimize-onnx` on an input artifact, params as text', { timeout: 240_000 }, async () => {
  const out = join(dir, 'cli');
  const model = join(dir, 'artifact-model'); // an artifact has no extension
  await writeFile(model, await readFile(join(dir, 'fraud.onnx')));
  await run(
    process.execPath,
    [
      BIN,
      'component',
      'run',
      'optimize-onnx',
      '--input',
      `model=${model}`,
      ...['mode=fp16', 'modelName=fraud', 'latency=true', 'dims={}', 'threads=1'].flatMap((p) => ['--param', p]),
      '--output',
      `optimized=${join(out, 'optimized')}`,
      '--output',
      `report=${join(out, 'report')}`,
      '--output-params-dir',
      join(out, 'params'),
    ],
    { timeout: 200_000 },
  );
  assert.equal(await readFile(join(out, 'params', 'accepted'), 'utf8'), 'true');
  assert.equal(await readFile(join(out, 'params', 'version'), 'utf8'), 'null', 'not registered without name');
  const report = JSON.parse(await readFile(join(out, 'report'), 'utf8')) as { model: { name: string }; steps: string[]; metrics: Record<string, number> };
  assert.equal(report.model.name, 'fraud');
  assert.deepEqual(report.steps, ['graph:basic', 'fp16']);
  assert.ok(report.metrics.latencyMsBatch64 > 0 && report.metrics.sizeRatio < 0.6, JSON.stringify(report.metrics));
  // The optimized file loads in onnxruntime and answers for a batch.
  const s = await ort.InferenceSession.create(join(out, 'optimized'));
  const r = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', new Float32Array(2 * K), [2, K]) });
  assert.equal(r[s.outputNames[0]].dims[0], 2);
});

test('in a cluster: the WorkflowTemplate with an optimize-onnx step is valid against the upstream Argo CRD', () => {
  const app = new App();
  const p = new Pipeline(new Chart(app, 'c', { namespace: 'ml' }), 'optimize-champion');
  const data = p.component('ingest', 'ingest', { params: { path: 's3://data/fraud/valid.csv' } });
  const opt = p.component('optimize', 'optimize-onnx', {
    inputs: { validation: data.outputs.dataset },
    params: { model: 'fraud@champion', mode: 'int8', label: 'is_fraud', maxMetricDrop: 0.005, name: 'fraud-int8', alias: 'challenger' },
  });
  p.component('check', 'gate', { inputs: { metrics: opt.outputs.report }, params: { gate: { latencyMsBatch64: '<= 2' } } });
  const wt = find(synthesize(app, { sourceCommit: false, crds: false }).objects, 'WorkflowTemplate');
  assert.deepEqual(upstreamErrors(wt), []);
  const tpl = wt.spec.templates.find((t: { name: string }) => t.name === 'optimize');
  assert.ok(tpl.container.args.includes('validation=/tmp/inputs/validation'), tpl.container.args.join(' '));
  assert.ok(!tpl.container.args.some((a: string) => a.startsWith('model=/tmp/inputs')), 'the unwired model input is not passed');
});

describe('optimize-onnx: bad params say what to connect', () => {
  const run = async (params: Record<string, ParamValue>, inputs: Record<string, string> = {}) => {
    const { dir: work, cleanup: done } = await tempDir();
    try {
      await optimizeOnnxComponent.run({
        params,
        inputs,
        outputs: { optimized: join(work, 'o'), report: join(work, 'r') },
        workDir: join(work, 'w'),
        signal: new AbortController().signal,
        log: () => {},
        progress: () => {},
        setOutput: () => {},
      });
      return '';
    } catch (e) {
      return (e as Error).message;
    } finally {
      await done();
    }
  };
  test('no model at all', async () =>
    assert.match(await run({}), /no model; connect an upstream model artifact \(inputs.model\) or set param 'model' \(e.g. fraud@champion\)/));
  test('both an input and a param', async () =>
    assert.match(await run({ model: 'fraud@1' }, { model: csv }), /both input 'model' and param 'model' are given/));
  test('a gate without a validation set', async () =>
    assert.match(
      await run({ model: 'fraud@1', registry: registryDir, maxMetricDrop: 0.01 }),
      /'maxMetricDrop' needs a validation dataset with a label: connect inputs.validation/,
    ));
  test('an input that is not an ONNX model', async () => assert.match(await run({}, { model: csv }), /is not an ONNX model/));
  test('a reference the registry lacks', async () =>
    assert.match(await run({ model: 'nope@champion', registry: registryDir }), /can't resolve 'nope@champion'/));
});

test('reportMetrics flattens the report (table)', () => {
  const base = {
    kind: 'ghosteam.optimize-report' as const,
    model: { name: 'm', version: '1', source: 's', digest: 'd' },
    out: { path: 'o', digest: 'e' },
    steps: [],
    level: 'basic' as const,
    sizeBytes: { original: 100, optimized: 25, ratio: 0.25 },
    accepted: true,
    createdAt: '',
  };
  assert.deepEqual(reportMetrics(base), { sizeBytes: 25, originalSizeBytes: 100, sizeRatio: 0.25 });
  const v = { file: 'f', rows: 3, output: 'o', metric: 'rmse' as const, original: 0.1, optimized: 0.3, delta: 0.2, drop: 0.2, maxAbsDiff: {} };
  assert.deepEqual(reportMetrics({ ...base, validation: v }), {
    sizeBytes: 25,
    originalSizeBytes: 100,
    sizeRatio: 0.25,
    rmse: 0.3,
    original_rmse: 0.1,
    metricDelta: 0.2,
    metricDrop: 0.2,
  });
});
