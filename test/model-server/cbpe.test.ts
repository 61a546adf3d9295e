/**
 * CBPE (components/model-server/cbpe.ts) against NannyML 0.13.1 itself on the same data: the estimated
 * accuracy, precision, recall, F1 and ROC AUC, their sampling errors and confidence bounds, with the
 * scores used as they are (NannyML given an identity calibrator) and with isotonic calibration on a
 * miscalibrated model (NannyML decides by itself that it needs calibration). NannyML's own tolerance
 * is its confidence band (±3 sampling errors): the realized metric of the analysis data, whose labels
 * this test knows, must fall inside ours. Then the model server's own estimate from logged
 * probabilities, before any label for them arrived: in the stats and /metrics, marked as an estimate.
 *
 * NannyML cannot live in the peers' main venv (it pins lightgbm < 4.6), so it has its own
 * (test/peers/versions.json pythonExtras.nannyml, built by `peers:up`).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../components/random.ts';
import { CBPE_METRICS, estimateCbpe, fitCbpe, type CbpeEstimate } from '../../components/model-server/cbpe.ts';
import { evaluateBinary } from '../../components/evaluate/metrics.ts';
import { startModelServer } from '../../components/model-server/server.ts';
import { ModelServerAdminClient } from '../../components/model-server/admin-client.ts';
import { inferBody, post, rows, tempDir, writeFraudModel } from './fixtures.ts';
import { ensureExtraPython, isExtraPythonInstalled } from '../peers/install.ts';
import { UP_HINT } from '../peers/config.ts';

/** NannyML's venv (test/peers: pythonExtras.nannyml, built by `peers:up`); GHOSTEAM_NANNYML_PYTHON overrides. */
async function nannymlPython(): Promise<{ python: string; skip?: string }> {
  const env = process.env.GHOSTEAM_NANNYML_PYTHON;
  if (env && existsSync(env)) return { python: env };
  if (isExtraPythonInstalled('nannyml') || process.env.GHOSTEAM_PEERS === 'auto' || process.env.CI === 'true')
    return { python: await ensureExtraPython('nannyml', () => {}) };
  return { python: '', skip: `needs NannyML 0.13.1 (its own venv); ${UP_HINT}` };
}

const { python, skip } = await nannymlPython();

const NML = String.raw`
import json, sys, warnings
warnings.filterwarnings('ignore')
import numpy as np, pandas as pd, nannyml as nml
from nannyml.calibration import Calibrator

class Identity(Calibrator):
    def fit(self, y_pred_proba, y_true): pass
    def calibrate(self, y_pred_proba): return y_pred_proba

cases = json.load(open(sys.argv[1]))
out = {}
metrics = ['accuracy', 'precision', 'recall', 'f1', 'roc_auc']
for name, c in cases.items():
    ref = pd.DataFrame({'p': c['refP'], 'y': c['refY']}); ref['pred'] = (ref['p'] >= 0.5).astype(int)
    ana = pd.DataFrame({'p': c['anaP']}); ana['pred'] = (ana['p'] >= 0.5).astype(int)
    kw = {} if c['calibration'] == 'isotonic' else {'calibrator': Identity()}
    est = nml.CBPE(y_pred_proba='p', y_pred='pred', y_true='y', metrics=metrics, chunk_number=1, problem_type='classification_binary', **kw)
    est.fit(ref)
    df = est.estimate(ana).filter(period='analysis').to_df()
    r = {'needs_calibration': bool(est.needs_calibration)}
    for m in metrics:
        r[m] = {k: float(df[(m, k)].iloc[0]) for k in ['value', 'sampling_error', 'lower_confidence_boundary', 'upper_confidence_boundary']}
    out[name] = r
print(json.dumps(out))
`;

const NAMES: Record<(typeof CBPE_METRICS)[number], string> = { accuracy: 'accuracy', precision: 'precision', recall: 'recall', f1: 'f1', rocAuc: 'roc_auc' };

/** Scores with outcomes drawn from them (a calibrated model), then shown through `distort` (a miscalibrated one). */
function dataset(seed: number, n: number, shape: (u: number) => number, distort: (p: number) => number = (p) => p) {
  const r = mulberry32(seed);
  const p: number[] = [];
  const shown: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = shape(r());
    p.push(t);
    shown.push(distort(t));
    y.push(r() < t ? 1 : 0);
  }
  return { p, shown, y };
}

const wide = (u: number) => 0.02 + 0.96 * u;
/** Analysis traffic drifted toward the uncertain middle: the real accuracy drops. */
const middle = (u: number) => 0.3 + 0.4 * u;
const sharpen = (p: number) => p ** 2.5 / (p ** 2.5 + (1 - p) ** 2.5);

describe('CBPE against NannyML 0.13.1', { skip }, () => {
  const dir = tempDir('gt-cbpe-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the same estimates, sampling errors and bounds; the realized metric inside the bound', () => {
    const cases = {
      calibrated: { ref: dataset(1, 4000, wide), ana: dataset(2, 1500, middle), calibration: 'none' as const },
      miscalibrated: { ref: dataset(3, 4000, wide, sharpen), ana: dataset(4, 1500, middle, sharpen), calibration: 'isotonic' as const },
    };
    const input = Object.fromEntries(
      Object.entries(cases).map(([k, c]) => [k, { refP: c.ref.shown, refY: c.ref.y, anaP: c.ana.shown, calibration: c.calibration }]),
    );
    writeFileSync(join(dir, 'cases.json'), JSON.stringify(input));
    const nml = JSON.parse(
      execFileSync(python, ['-c', NML, join(dir, 'cases.json')], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
        // NannyML reports usage to segment.io unless told not to; nothing may leave this machine.
        env: { ...process.env, NML_DISABLE_USAGE_LOGGING: '1' },
      }),
    ) as Record<
      string,
      { needs_calibration: boolean } & Record<
        string,
        { value: number; sampling_error: number; lower_confidence_boundary: number; upper_confidence_boundary: number }
      >
    >;
    assert.equal(nml.miscalibrated.needs_calibration, true, 'NannyML calibrates the sharpened scores');
    // 'auto' decides as NannyML did on this clear case.
    assert.ok(fitCbpe(cases.miscalibrated.ref.shown, cases.miscalibrated.ref.y).calibrator, 'auto calibrates the sharpened scores');
    for (const [name, c] of Object.entries(cases)) {
      const ref = fitCbpe(c.ref.shown, c.ref.y, { calibration: c.calibration });
      assert.equal(ref.calibrator !== undefined, c.calibration === 'isotonic');
      const est: CbpeEstimate = estimateCbpe(ref, c.ana.shown);
      assert.equal(est.estimated, true);
      const realized = evaluateBinary(Float64Array.from(c.ana.y), Float64Array.from(c.ana.shown), 0.5, 10).metrics;
      for (const m of CBPE_METRICS) {
        const ours = est.metrics[m]!;
        const theirs = nml[name][NAMES[m]];
        const tol = 1e-9;
        assert.ok(Math.abs(ours.value - theirs.value) < tol, `${name} ${m}: ${ours.value} vs NannyML ${theirs.value}`);
        assert.ok(Math.abs(ours.samplingError - theirs.sampling_error) < tol, `${name} ${m} sampling error: ${ours.samplingError} vs ${theirs.sampling_error}`);
        assert.ok(Math.abs(ours.lower - theirs.lower_confidence_boundary) < tol, `${name} ${m} lower`);
        assert.ok(Math.abs(ours.upper - theirs.upper_confidence_boundary) < tol, `${name} ${m} upper`);
        const real = { accuracy: realized.accuracy, precision: realized.precision, recall: realized.recall, f1: realized.f1, rocAuc: realized.rocAuc }[m];
        assert.ok(real >= ours.lower && real <= ours.upper, `${name} ${m}: realized ${real} outside [${ours.lower}, ${ours.upper}]`);
      }
    }
    // The drift toward uncertain scores is visible before any label: estimated accuracy well below the reference's.
    const ref = fitCbpe(cases.calibrated.ref.shown, cases.calibrated.ref.y, { calibration: 'none' });
    // (expected: E[max(p, 1 − p)] is 0.745 for scores uniform on [0.02, 0.98], 0.6 on [0.3, 0.7])
    const [before, now] = [cases.calibrated.ref.shown, cases.calibrated.ana.shown].map((x) => estimateCbpe(ref, x).metrics.accuracy!.value);
    assert.ok(before - now > 0.1, `estimated accuracy ${before} → ${now}`);
  });
});

describe('CBPE input checks', () => {
  test('bad references are refused with the reason', () => {
    assert.throws(() => fitCbpe([0.2, 0.9], [0, 1, 1]), /2 scores but 3 labels/);
    assert.throws(() => fitCbpe([0.2, 0.9], [0, 0]), /one class only/);
    assert.throws(() => fitCbpe([0.2, 1.5], [0, 1]), /reference score 1 is 1.5; CBPE needs the probability/);
    assert.throws(() => fitCbpe([0.2, 0.9], [0, 2]), /reference label 1 is 2/);
  });
});

describe('the model server estimates quality from logged probabilities before the labels arrive', () => {
  test('stats and /metrics carry the estimate, its error and coverage, marked as an estimate', async () => {
    const dir = tempDir('gt-cbpe-ms-');
    const s = await startModelServer({ port: 0 });
    try {
      await new ModelServerAdminClient(s.url).load({ name: 'fraud', version: '3', path: writeFraudModel(dir, 4).path, stable: true });
      const r = mulberry32(7);
      const scores: number[] = [];
      const ids: string[] = [];
      for (const [j, row] of rows(120, 30).entries()) {
        const res = await post(`${s.url}/v2/models/fraud/infer`, inferBody([row], { id: `c${j}` }));
        scores.push(res.json.outputs[0].data[0] as number);
        ids.push(res.json.id as string);
      }
      // Labels for the first 80 (drawn from the scores, both classes); the last 40 still wait.
      const labels = scores.slice(0, 80).map((p, i) => (i % 10 === 0 ? (i / 10) % 2 : r() < p ? 1 : 0));
      assert.equal((await post(`${s.url}/v2/models/fraud/feedback`, JSON.stringify(labels.map((label, i) => ({ id: ids[i], label }))))).status, 200);
      const expected = estimateCbpe(fitCbpe(scores.slice(0, 80), labels), scores.slice(80));
      const v = s.stats('fraud').versions['3'];
      assert.ok(v.qualityEstimate, JSON.stringify(v));
      assert.equal(v.quality?.samples, 80, 'the measured quality covers the labelled 80');
      assert.equal(v.qualityEstimate.estimated, true);
      assert.equal(v.qualityEstimate.samples, 40);
      assert.equal(v.qualityEstimate.referenceSamples, 80);
      assert.ok(Math.abs(v.qualityEstimate.metrics.accuracy!.value - expected.metrics.accuracy!.value) < 1e-12);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      const line = metrics.split('\n').find((l) => l.startsWith('ghosteam_model_quality_estimate{') && l.includes('metric="accuracy"'));
      assert.ok(line, 'ghosteam_model_quality_estimate{metric="accuracy"} exported');
      assert.ok(Math.abs(Number(line.split(' ').at(-1)) - expected.metrics.accuracy!.value) < 1e-9);
      assert.match(metrics, /ghosteam_model_quality_estimate_samples\{model="fraud",version="3"\} 40/);
      assert.match(metrics, /ghosteam_model_quality_estimate_sampling_error\{model="fraud",version="3",metric="accuracy"\} /);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
