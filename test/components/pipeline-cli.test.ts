import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { getComponent, listComponents } from '../../components/index.ts';
import { LocalRegistry } from '../../components/registry/index.ts';
import { lineageFrom } from '../../components/register/index.ts';
import { parseAssignments, runComponent } from '../../components/run.ts';
import { mulberry32 } from '../../components/random.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-pipe-'));
const quiet = { log: () => undefined };

function csv(rows: number): string {
  const r = mulberry32(5);
  const lines = ['amount,age,country,is_new,fraud'];
  for (let i = 0; i < rows; i++) {
    const amount = r() * 1000;
    const age = 18 + Math.floor(r() * 60);
    const isNew = r() < 0.3;
    const z = amount / 150 - 3.5 + (isNew ? 1.5 : 0) - age / 40;
    lines.push(`${amount.toFixed(2)},${age},${['US', 'FR', 'DE'][i % 3]},${isNew},${r() < 1 / (1 + Math.exp(-z)) ? 'yes' : 'no'}`);
  }
  return lines.join('\n') + '\n';
}

describe('catalog', () => {
  test('every built-in is found by name, and names are unique', () => {
    const names = listComponents().map((c) => c.name);
    assert.deepEqual(names, [
      'batch-predict',
      'drift',
      'evaluate',
      'export-onnx',
      'gate',
      'get-historical-features',
      'ingest',
      'materialize-features',
      'optimize-onnx',
      'register',
      'split',
      'sweep-controller',
      'train-tabular',
      'validate',
    ]);
    for (const n of names) assert.equal(getComponent(n)?.name, n);
    assert.equal(getComponent('nope'), undefined);
  });

  test('lineage comes from params, then the engine context, then the environment', () => {
    assert.deepEqual(
      lineageFrom(
        { 'ghosteam.runId': 'r-engine', 'ghosteam.gitCommit': 'abc', datasetDigest: 'sha256:1' },
        { GHOSTEAM_RUN_ID: 'r-env', GHOSTEAM_PIPELINE: 'fraud', GHOSTEAM_REASON: 'drift' },
      ),
      {
        runId: 'r-engine',
        pipeline: 'fraud',
        gitCommit: 'abc',
        datasetDigest: 'sha256:1',
        reason: 'drift',
      },
    );
    assert.deepEqual(lineageFrom({ runId: 'explicit', 'ghosteam.runId': 'r' }, {}), { runId: 'explicit' });
    assert.equal(
      lineageFrom({ 'ghosteam.reason': 'drift' }, { GHOSTEAM_REASON: 'manual' }).reason,
      'drift',
      "the engine's run reason wins over the environment",
    );
  });

  test('parseAssignments', () => {
    assert.deepEqual(parseAssignments(['a=1', 'b=x=y'], '--param'), { a: '1', b: 'x=y' });
    assert.throws(() => parseAssignments(['a'], '--param'), { message: "--param 'a' must be NAME=VALUE" });
    assert.throws(() => parseAssignments(['a=1', 'a=2'], '--input'), { message: "--input 'a' is given twice" });
  });
});

describe('the whole chain: ingest → validate → split → train → evaluate → gate → export-onnx → register', () => {
  test('runs in-process with the same component objects the engine uses', async () => {
    const src = join(dir, 'data.csv');
    writeFileSync(src, csv(4000));
    const c = (n: string) => getComponent(n)!;
    const p = (n: string) => join(dir, 'chain', n);
    const ing = await runComponent(c('ingest'), { params: { path: src, types: { fraud: 'categorical' } }, inputs: {}, outputs: { dataset: p('ds') } }, quiet);
    assert.equal(ing.rows, 4000);
    await runComponent(
      c('validate'),
      {
        params: { schema: { columns: { amount: { min: 0, nullable: false }, fraud: { allowed: ['yes', 'no'] } }, rows: { min: 100 } } },
        inputs: { dataset: p('ds') },
        outputs: { report: p('report'), dataReport: p('report.html') },
      },
      quiet,
    );
    await runComponent(
      c('split'),
      { params: { stratify: 'fraud', seed: 1 }, inputs: { dataset: p('ds') }, outputs: { train: p('train'), test: p('test') } },
      quiet,
    );
    const progress: number[] = [];
    const tr = await runComponent(
      c('train-tabular'),
      {
        params: { label: 'fraud', positive: 'yes', model: 'mlp', hidden: '16', epochs: 6, learningRate: 0.02, backend: 'wasm' },
        inputs: { train: p('train') },
        outputs: { model: p('model.json') },
      },
      { log: () => undefined, progress: (e) => progress.push(e.epoch!) },
    );
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6]);
    assert.equal(tr.backend, 'wasm');
    const model = JSON.parse(readFileSync(p('model.json'), 'utf8'));
    assert.deepEqual(model.net.featureNames, ['amount', 'age', 'is_new']);
    const ev = await runComponent(
      c('evaluate'),
      { params: {}, inputs: { model: p('model.json'), test: p('test') }, outputs: { metrics: p('metrics.json') } },
      quiet,
    );
    assert.ok((ev.rocAuc as number) > 0.75, `rocAuc ${ev.rocAuc}`);
    assert.equal(ev.auc, ev.rocAuc);
    const rejected = await runComponent(
      c('gate'),
      { params: { gate: { rocAuc: '>= 0.999' } }, inputs: { metrics: p('metrics.json') }, outputs: {}, outputParamsDir: p('gate-params') },
      quiet,
    );
    assert.equal(rejected.passed, false);
    assert.equal(readFileSync(join(p('gate-params'), 'passed'), 'utf8'), 'false');
    assert.equal(readFileSync(join(p('gate-params'), 'reasons'), 'utf8'), JSON.stringify(rejected.reasons));
    const gated = await runComponent(
      c('gate'),
      { params: { gate: JSON.stringify({ rocAuc: '>= 0.7', logLoss: '<= 0.7' }) }, inputs: { metrics: p('metrics.json') }, outputs: {} },
      quiet,
    );
    assert.equal(gated.passed, true);
    const ex = await runComponent(c('export-onnx'), { params: {}, inputs: { model: p('model.json') }, outputs: { onnx: p('model.onnx') } }, quiet);
    // The exported model scores the test set like evaluate did.
    const session = await ort.InferenceSession.create(p('model.onnx'));
    const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from([900, 20, 1, 10, 70, 0]), [2, 3]) });
    const probs = out[session.outputNames[0]].data as Float32Array;
    assert.ok(probs[0] > probs[1], `a large new-account amount should score higher: ${probs[0]} vs ${probs[1]}`);
    const regDir = join(dir, 'registry');
    const reg = await runComponent(
      c('register'),
      {
        params: {
          name: 'fraud',
          alias: 'challenger',
          registry: regDir,
          'ghosteam.runId': 'run-7',
          'ghosteam.pipeline': 'fraud-train',
          'ghosteam.gitCommit': 'cafe',
          datasetDigest: ing.digest,
          reason: 'manual',
        },
        inputs: { model: p('model.onnx'), metrics: p('metrics.json'), trained: p('model.json') },
        outputs: {},
      },
      quiet,
    );
    assert.deepEqual(reg, { version: 1, modelRef: 'fraud@1', registry: 'local' });
    const mv = await new LocalRegistry({ dir: regDir }).resolve('fraud', 'challenger');
    assert.equal(mv.digest, ex.digest);
    assert.equal(mv.metrics.rocAuc, ev.rocAuc);
    assert.equal(mv.params.kind, 'mlp');
    assert.equal(mv.params.hidden, '16');
    assert.deepEqual(mv.lineage, { runId: 'run-7', pipeline: 'fraud-train', gitCommit: 'cafe', datasetDigest: ing.digest, reason: 'manual' });
  });
});
