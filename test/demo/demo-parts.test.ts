/**
 * The demo's pure parts: the import rewrite of the copied app, the register reason and repository
 * path params, the demo clock, the broken v3 (run in the real onnxruntime) and the report's
 * self-containment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { denseNetToOnnx } from '../../components/onnx/index.ts';
import { rewriteImports, repoPathParams } from '../../examples/fraud-detection/demo.ts';
import { DemoClock } from '../../examples/fraud-detection/demo-clock.ts';
import { brokenLookupModel } from '../../examples/fraud-detection/demo-broken.ts';
import { renderDemoReport, trafficChartSvg, type DemoRecord } from '../../examples/fraud-detection/demo-report.ts';
import type { PipelineSpec } from '../../pipelines/spec.ts';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('the copied app imports ghosteam by its package name', () => {
  const src = "import { Model } from '../../charts/index.ts';\nimport { Pipeline } from '../../pipelines/index.ts';\nimport { FEATURES } from './data.ts';\n";
  assert.equal(
    rewriteImports(src, 'app.ts'),
    "import { Model } from 'ghosteam/charts';\nimport { Pipeline } from 'ghosteam/pipelines';\nimport { FEATURES } from './data.ts';\n",
  );
});

test('an import the rewrite cannot map is refused with the file and a fix', () => {
  assert.throws(() => rewriteImports("import { x } from '../../charts/model.ts';\n", 'examples/fraud-detection/app.ts'), {
    message:
      "examples/fraud-detection/app.ts: import '../../charts/model.ts' points outside the example; import ghosteam by its package name (ghosteam/charts, ghosteam/pipelines)",
  });
});

const spec = {
  name: 'p',
  path: 'p',
  params: [
    { name: 'data', type: 'string', default: 'data/a.csv' },
    { name: 'epochs', type: 'number', default: 3 },
    { name: 'other', type: 'string', default: 'missing.csv' },
  ],
  tasks: [
    { name: 'train', component: { name: 'train-tabular', version: '1' }, params: { epochs: { kind: 'param', name: 'epochs' } } },
    { name: 'register', component: { name: 'register', version: '1' }, params: { name: { kind: 'literal', value: 'fraud' } } },
  ],
} as unknown as PipelineSpec;

test('string params naming a file of the repository become absolute; others stay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gt-demo-parts-'));
  try {
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'a.csv'), 'x\n1\n');
    writeFileSync(join(dir, 'data', 'b.csv'), 'x\n1\n');
    assert.deepEqual(repoPathParams(spec, {}, dir), { data: join(dir, 'data/a.csv') });
    assert.deepEqual(repoPathParams(spec, { data: 'data/b.csv', epochs: '2' }, dir), { data: join(dir, 'data/b.csv'), epochs: '2' });
    assert.deepEqual(repoPathParams(spec, { data: '/abs/x.csv' }, dir), { data: '/abs/x.csv' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the demo clock runs speed times faster from its start and maps back exactly', () => {
  const c = new DemoClock(20, 1_000_000, 5_000_000);
  assert.equal(c.toDemo(1_000_000), 5_000_000);
  assert.equal(c.toDemo(1_003_000), 5_060_000);
  assert.equal(c.toReal(5_060_000), 1_003_000);
  assert.equal(c.toReal(c.toDemo(1_234_567)), 1_234_567);
  assert.throws(() => new DemoClock(0.5), { message: 'demo clock speed must be 1 or more; got 0.5' });
  const live = new DemoClock(30);
  const before = Date.now();
  assert.ok(Math.abs(live.now() - live.toDemo(before)) < 30 * 50);
});

test('the broken v3 answers like the healthy model for small amounts and fails in onnxruntime for large ones', async () => {
  const healthy = denseNetToOnnx({
    kind: 'logistic',
    featureNames: ['amount_log', 'b'],
    layers: [{ weights: [[0.5], [-1]], bias: [0.1], activation: 'sigmoid' }],
  });
  const broken = brokenLookupModel(healthy, 0, 5);
  const a = await ort.InferenceSession.create(healthy);
  const b = await ort.InferenceSession.create(broken, { logSeverityLevel: 4 });
  assert.deepEqual(b.inputNames, a.inputNames);
  assert.deepEqual(b.outputNames, a.outputNames);
  const feed = (rows: number[][]) => ({ [a.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 2]) });
  const small = [
    [0.5, 1],
    [4.99, -2],
  ];
  assert.deepEqual(
    [...((await b.run(feed(small)))[b.outputNames[0]].data as Float32Array)],
    [...((await a.run(feed(small)))[a.outputNames[0]].data as Float32Array)],
  );
  await assert.rejects(b.run(feed([[5.01, 0]])), /out of data bounds/);
  await assert.rejects(
    b.run(
      feed([
        [1, 0],
        [7.3, 0],
      ]),
    ),
    /out of data bounds/,
  );
  assert.throws(() => brokenLookupModel(new Uint8Array([1, 2, 3]), 0), Error);
});

function record(): DemoRecord {
  const t = Date.parse('2026-01-01T00:00:00Z');
  return {
    startedAt: new Date(t).toISOString(),
    speed: 20,
    rows: 100,
    seed: 1,
    rate: 10,
    repo: 'r',
    firstCommit: 'abcdef1234',
    features: ['a'],
    timeline: [{ t: t + 1000, demoT: t + 20000, step: 'train', text: 'registered <v1>' }],
    versions: [
      {
        name: 'fraud',
        version: 1,
        source: '/x',
        format: 'onnx',
        tags: {},
        metrics: { rocAuc: 0.81 },
        params: {},
        lineage: { reason: 'manual' },
        createdAt: '',
      },
    ] as never,
    driftChecks: [],
    rollouts: [{ version: 2, outcome: 'rolled back', reason: 'ErrorRateTooHigh', message: 'canary error rate 0.2 exceeds 0.01', analysis: [] }],
    traffic: [
      { t: 0, ok: { '1': 5 }, errors: {}, phase: 'reference' },
      { t: 1000, ok: { '1': 3, '2': 1 }, errors: { '500': 1 }, phase: 'drifted' },
    ],
    driftSeries: [{ t: 0, share: 0.5, rows: 100, drifted: true }],
    driftCharts: [],
    markers: [{ t: 1000, label: 'v2 registered' }],
    gitLog: [{ hash: 'abc', author: 'ghosteam', subject: 'pin', trailers: 'Ghosteam-Writeback: true' }],
    alerts: [
      {
        t: 4000,
        demoTime: '2026-01-01T00:01:20.000Z',
        alert: 'GhosteamModelAccuracyLow',
        state: 'firing',
        labels: { model: 'fraud', version: '2', metric: 'accuracy' },
        annotations: { summary: 'fraud version 2: accuracy 41% is below <85%>' },
        value: 0.41,
      },
    ],
    quality: { version: 2, samples: 100, metrics: { accuracy: 0.41 } },
    plan: 'plan text',
    checks: [{ name: 'c', ok: true, detail: '' }],
    wallMs: 5000,
    cpuMs: 2000,
  };
}

test('the report is self-contained (no scripts, no external references) and escapes text', () => {
  const html = renderDemoReport(record());
  assert.ok(html.startsWith('<!doctype html>'));
  assert.doesNotMatch(html, /<script|<link|src="http|href="http|@import/);
  assert.match(html, /registered &lt;v1&gt;/);
  assert.match(html, /canary error rate 0.2 exceeds 0.01/);
  assert.match(html, /Ghosteam-Writeback: true/);
  assert.match(html, /every step happened/);
  // The alerts section: the alert that fired, its version and summary (escaped), and the quality behind it.
  assert.match(
    html,
    /<td>GhosteamModelAccuracyLow<\/td><td><span class="bad">firing<\/span><\/td><td>2<\/td><td>0\.41<\/td><td>fraud version 2: accuracy 41% is below &lt;85%&gt;<\/td>/,
  );
  assert.match(html, /<td>v2<\/td><td>100<\/td><td>0\.41<\/td>/);
  assert.match(renderDemoReport({ ...record(), checks: [{ name: 'c', ok: false, detail: '' }] }), /incomplete/);
});

test('the traffic chart stacks answers per version and errors', () => {
  const svg = trafficChartSvg(record().traffic, []);
  assert.equal((svg.match(/fill="#4C78A8"/g) ?? []).length, 3); // v1: two bars and the legend
  assert.equal((svg.match(/fill="#C0392B"/g) ?? []).length, 2); // errors: one bar and the legend
});
