// Quality from delayed labels in the constructs: Rollout.canary({ quality }) and a DriftMonitor's
// QualityTrigger render the fields the operator reads, and the synthesized objects pass the CRD schemas.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DriftMonitor, Feature, Model, QualityTrigger, Retrain, Rollout } from '../../charts/index.ts';
import { validateGhosteamObject } from '../../api/crds/validate.ts';
import { rolloutQualityErrors } from '../../api/crds/semantics.ts';
import { chart, find, synth } from './helpers.ts';

describe('quality in the constructs', () => {
  test('a canary judged on accuracy, and a DriftMonitor that retrains on it, synthesize valid objects', () => {
    const { app, chart: c } = chart('ml');
    const model = new Model(c, 'fraud', {
      registry: 'fraud',
      useLockFile: false,
      rollout: Rollout.canary({ steps: [10, 50], interval: '10m', quality: { metric: 'accuracy', threshold: 0.85, maxDegradation: 0.02 } }),
    });
    new DriftMonitor(c, 'fraud-drift', {
      model,
      reference: 's3://data/ref.parquet',
      features: [Feature.numerical('amount')],
      retrain: Retrain.withPipeline('fraud-train'),
      quality: QualityTrigger.of('accuracy', 0.85, { for: '1h' }),
    });
    const objs = synth(app).objects;
    const m = find(objs, 'Model', 'fraud');
    assert.deepEqual(m.spec.rollout.thresholds.quality, { metric: 'accuracy', threshold: 0.85, maxDegradation: 0.02 });
    const d = find(objs, 'DriftMonitor', 'fraud-drift');
    assert.deepEqual(d.spec.quality, { metric: 'accuracy', threshold: 0.85, forSeconds: 3600, minSamples: 100 });
    for (const o of [m, d]) assert.deepEqual(validateGhosteamObject(o as never), [], `${o.kind} is valid`);
    assert.equal(String(QualityTrigger.of('rmse', 3, { for: '5m' })), 'rmse above 3 for 300s');
  });

  test('a hand-written Model whose canary quality has no limit is refused where it is validated (synth, validate, the operator)', () => {
    assert.deepEqual(rolloutQualityErrors({ thresholds: { quality: {} } }), [
      {
        field: 'spec.rollout.thresholds.quality',
        message: 'has no limit; give a threshold (e.g. 0.85 for accuracy) or a maxDegradation against the stable version (e.g. 0.02), or both',
      },
    ]);
    assert.deepEqual(rolloutQualityErrors({ thresholds: { quality: { maxDegradation: 0 } } }), []);
  });

  const refused: Array<[string, () => unknown, string]> = [
    [
      'a canary quality without a limit',
      () => Rollout.canary({ steps: [10], quality: { metric: 'accuracy' } }),
      'Rollout.canary: quality needs a threshold (e.g. 0.85 for accuracy) or a maxDegradation against the stable version (e.g. 0.02)',
    ],
    [
      'an unknown metric',
      () => Rollout.canary({ steps: [10], quality: { metric: 'acc' as never, threshold: 0.8 } }),
      "Rollout.canary: quality.metric 'acc' is unknown; use one of accuracy, precision, recall, f1, rocAuc, calibrationError, macroF1, rmse, mae",
    ],
    [
      'a negative degradation',
      () => Rollout.canary({ steps: [10], quality: { metric: 'f1', maxDegradation: -0.1 } }),
      'Rollout.canary: quality.maxDegradation -0.1 must be >= 0',
    ],
    ['a bad duration', () => QualityTrigger.of('accuracy', 0.8, { for: 'soon' }), "QualityTrigger.of('accuracy'): for "],
    ['zero samples', () => QualityTrigger.of('accuracy', 0.8, { minSamples: 0 }), "QualityTrigger.of('accuracy'): minSamples 0 must be a whole number >= 1"],
  ];
  for (const [what, fn, message] of refused) test(`refuses ${what}`, () => assert.throws(fn, (e: Error) => e.message.startsWith(message)));
});
