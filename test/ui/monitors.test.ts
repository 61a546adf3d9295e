// The drift-and-quality and experiments pages of `ghosteam ui` over a real local state: a
// DriftMonitor in the operator's LocalStore (its status as the drift reconciler writes it, with
// histograms and a history of checks) and real local-engine runs of a pipeline whose container
// step reports a metric. Every API response is checked against the served OpenAPI document.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { App, Chart } from 'cdk8s';
import { tempDir } from '../engine/helpers.ts';
import { startUi, type UiServer } from '../../ui/server.ts';
import { experimentsPage, histogramSvg } from '../../ui/monitor-pages.ts';
import { ContainerComponent, Pipeline } from '../../pipelines/index.ts';
import { runPipeline } from '../../pipelines/local/index.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import { get, schemaErrors } from './client.ts';
import { addDriftMonitor, at, DRIFT_STATUS as STATUS, MODEL, MONITOR, NS, uiFixture, type UiFixture } from './fixture.ts';

describe('ghosteam ui: drift and quality, experiments', () => {
  let fx: UiFixture;
  let ui: UiServer;
  let cleanup: () => Promise<void>;
  const runIds: string[] = [];
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    fx = await uiFixture(t.dir);
    await addDriftMonitor(fx.store);
    // Real runs of a pipeline whose container step reports auc from its learning rate.
    const step = ContainerComponent.define({
      name: 'fit',
      image: 'node:20',
      command: [
        'node',
        '-e',
        "require('fs').writeFileSync(process.env.GHOSTEAM_OUTPUT_PARAMS_DIR + '/auc', String(0.9 - Number(process.env.GHOSTEAM_PARAM_LR)))",
      ],
      params: { lr: { type: 'number', min: 0 } },
      outputParams: ['auc'],
    });
    for (const [i, lr] of [0.3, 0.05, 0.1].entries()) {
      const p = new Pipeline(new Chart(new App(), `e${i}`), 'lr-sweep');
      p.component('fit', step, { params: { lr } });
      const rec = await runPipeline(p.toSpec(), { storeDir: fx.runsRoot, cwd: fx.dir, runId: `lr-sweep-r${i}`, cache: false });
      assert.equal(rec.status, 'Succeeded', JSON.stringify(rec.nodes));
      runIds.push(rec.id);
    }
    ui = await startUi({ stateDir: fx.stateDir, runsRoot: fx.runsRoot, registry: fx.registry, watchDirs: [fx.stateDir], debounceMs: 50 });
  });
  after(async () => {
    await ui?.close();
    fx?.close();
    await cleanup?.();
  });

  test('GET /api/driftmonitors summarises each monitor from its status, as its schema says', async () => {
    const r = await get(`${ui.url}/api/driftmonitors`);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { driftMonitors: Record<string, unknown>[] };
    assert.deepEqual(schemaErrors('DriftMonitorsResponse', body), []);
    assert.equal(body.driftMonitors.length, 1);
    const m = body.driftMonitors[0];
    assert.equal(m.name, MONITOR);
    assert.equal(m.model, MODEL);
    assert.equal(m.state, 'Drift');
    assert.equal(m.driftShare, 0.5);
    assert.equal(m.driftedFeatures, 1);
    assert.equal(m.features, 2);
    assert.equal(m.qualityMetric, 'accuracy');
    assert.equal(m.qualityValue, 0.83);
    assert.equal(m.checks, 3);
    assert.equal(m.message, 'drift in 1 of 2 features (amount)', 'the Degraded condition says why');
  });

  test('the monitor page draws each feature histogram, the drift-share and quality histories with their thresholds', async () => {
    const api = await get(`${ui.url}/api/driftmonitors/${NS}/${MONITOR}`);
    assert.equal(api.status, 200);
    assert.deepEqual(schemaErrors('DriftMonitorResponse', JSON.parse(api.body)), []);
    const r = await get(`${ui.url}/drift/${NS}/${MONITOR}`);
    assert.equal(r.status, 200);
    assert.match(r.body, /<tr data-feature="amount">.*psi.*0\.412.*drift/);
    assert.match(r.body, /<tr data-feature="channel">.*chi2.*0\.55.*ok/);
    assert.equal((r.body.match(/class="hist"/g) ?? []).length, 2, 'one histogram per feature');
    assert.equal((r.body.match(/class="history"/g) ?? []).length, 2, 'drift share and quality histories');
    assert.equal((r.body.match(/class="threshold"/g) ?? []).length, 2, 'each history has its threshold line');
    assert.match(r.body.replace(/\s+/g, ' '), /accuracy of v1: 0\.83 over 300 labelled predictions \(threshold 0\.85\) — <b>breached<\/b>/);
    assert.match(r.body, /fraud-drift-20261202t0530/);
    const list = await get(`${ui.url}/drift`);
    assert.match(list.body, new RegExp(`href="/drift/${NS}/${MONITOR}"`));
    assert.match(list.body, /50\.0%.*\(1\/2; threshold 50\.0%\)/);
  });

  test('a histogram bar per bin and side, with the shares in its tooltip', () => {
    const svg = histogramSvg({ kind: 'categorical', categories: ['a', 'b'], reference: [0.25, 0.75], current: [0.5, 0.5] }).text;
    assert.equal((svg.match(/<rect /g) ?? []).length, 4);
    assert.match(svg, /<title>a: reference 25\.0%<\/title>/);
    assert.match(svg, /<title>b: current 50\.0%<\/title>/);
    assert.equal(histogramSvg({ kind: 'numeric', edges: [0], reference: [], current: [] }).text.includes('no histogram'), true);
  });

  test('a status change reaches the monitor page as a live change', async () => {
    const before = ui.changes();
    const cur = (await fx.store.get(TYPES.DriftMonitor, NS, MONITOR))!;
    await fx.store.replaceStatus(TYPES.DriftMonitor, {
      ...cur,
      status: { ...STATUS, driftShare: 0, datasetDrift: false, quality: { ...STATUS.quality!, value: 0.9, breached: false }, conditions: [] },
    });
    const deadline = Date.now() + 10_000;
    while (ui.changes() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(ui.changes() > before, 'one change event');
    const r = await get(`${ui.url}/fragments/drift/${NS}/${MONITOR}`);
    assert.match(r.body, /NoDrift/);
  });

  test('GET /api/experiments: runs best first by a metric, the params that differ, as its schema says', async () => {
    const r = await get(`${ui.url}/api/experiments?experiment=lr-sweep&metric=fit.auc`);
    assert.equal(r.status, 200);
    const e = JSON.parse(r.body) as {
      runs: { runId: string; metrics: Record<string, number>; params: Record<string, string> }[];
      params: string[];
      direction: string;
      experiments: string[];
    };
    assert.deepEqual(schemaErrors('ExperimentsResponse', e), []);
    assert.deepEqual(e.experiments, ['fraud-train', 'lr-sweep']);
    assert.equal(e.direction, 'maximize', 'auc is a score');
    assert.deepEqual(
      e.runs.map((x) => x.runId),
      ['lr-sweep-r1', 'lr-sweep-r2', 'lr-sweep-r0'],
      'best auc first (lr 0.05, 0.1, 0.3)',
    );
    for (const x of e.runs) assert.ok(Math.abs(x.metrics['fit.auc'] - (0.9 - Number(x.params['fit.lr'] ?? x.params.lr))) < 1e-9, JSON.stringify(x));
    assert.ok(e.params.length >= 1, 'the learning rate differs between the runs');
    const min = JSON.parse((await get(`${ui.url}/api/experiments?experiment=lr-sweep&metric=fit.auc&direction=minimize`)).body) as typeof e;
    assert.deepEqual(
      min.runs.map((x) => x.runId),
      ['lr-sweep-r0', 'lr-sweep-r2', 'lr-sweep-r1'],
    );
  });

  test('the experiments page lists runs with checkboxes; run= compares the chosen runs side by side', async () => {
    const list = await get(`${ui.url}/experiments?experiment=lr-sweep`);
    assert.equal(list.status, 200);
    assert.equal((list.body.match(/type="checkbox" name="run"/g) ?? []).length, 3);
    const cmp = await get(`${ui.url}/experiments?run=${runIds[0]}&run=${runIds[2]}`);
    assert.equal(cmp.status, 200);
    assert.match(cmp.body, /2 runs compared/);
    assert.equal((cmp.body.match(/<tr data-run=/g) ?? []).length, 2);
    // Curves come from per-step metrics; rendered from rows as the page gets them.
    const page = experimentsPage(
      {
        experiments: ['x'],
        params: [],
        metrics: ['train.loss'],
        runs: [
          {
            runId: 'a',
            experiment: 'x',
            status: 'Succeeded',
            startedAt: at(0),
            params: {},
            tags: {},
            metrics: { 'train.loss': 0.2 },
            history: {
              'train.loss': [
                { step: 1, value: 0.5 },
                { step: 2, value: 0.2 },
              ],
            },
          },
        ],
      },
      { compare: true },
    );
    assert.match(page, /<polyline[^>]*points="[^"]+"/);
  });

  test('bad input: unknown monitor, experiment or run is a 404 naming it; bad query parameters are 400s naming them', async () => {
    const cases: [string, number, RegExp][] = [
      [`/drift/${NS}/nope`, 404, /no DriftMonitor (&#39;|')nope(&#39;|') in namespace (&#39;|')fraud/],
      [`/api/driftmonitors/${NS}/nope`, 404, /no DriftMonitor 'nope'/],
      ['/api/experiments?experiment=nope', 404, /no experiment 'nope'/],
      ['/api/experiments?run=zzz', 404, /no run 'zzz'/],
      ['/api/experiments?run=lr-sweep', 404, /ambiguous/],
      ['/api/experiments?direction=up', 400, /direction=up must be minimize or maximize/],
      ['/api/experiments?limit=0', 400, /limit=0/],
      ['/api/experiments?metric=a&metric=b', 400, /metric is given 2 times/],
      ['/api/experiments?run=', 400, /run is empty/],
    ];
    for (const [path, status, msg] of cases) {
      const r = await get(`${ui.url}${path}`);
      assert.equal(r.status, status, `${path}: ${r.body}`);
      assert.match(r.body, msg, path);
    }
  });
});
