import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  planDriftMonitor,
  nextSlot,
  validateDriftPolicy,
  retrainRunName,
  driftCheckDue,
  type DriftObserved,
  type DriftCheckResult,
  type DriftPolicy,
} from '../../controllers/planners/drift.ts';
import { driftPolicyOf } from '../../controllers/reconcilers/drift-monitor.ts';
import type { DriftMonitorSpec } from '../../api/crds/types.ts';

const T0 = Date.parse('2026-11-23T04:00:00Z');
const MIN = 60_000;
const policy: DriftPolicy = { cron: '*/15 * * * *', cooldownMs: 60 * MIN, consecutive: 1, minRows: 100 };
const result = (drifted: boolean, rows = 1000): DriftCheckResult => ({
  features: [
    { feature: 'amount', method: 'psi', statistic: drifted ? 0.4 : 0.01, threshold: 0.2, drifted },
    { feature: 'age', method: 'ks', statistic: 0.02, threshold: 0.1, drifted: false },
  ],
  share: drifted ? 0.5 : 0,
  drifted,
  rows,
  windowStart: '2026-11-23T03:45:00Z',
  windowEnd: '2026-11-23T04:00:00Z',
});
const obs = (over: Partial<DriftObserved>): DriftObserved => ({
  namespace: 'ml',
  name: 'fraud-drift',
  model: 'fraud',
  pipeline: 'fraud-train',
  policy,
  state: { consecutiveDrifted: 0, nextCheckAt: '2026-11-23T04:00:00Z' },
  ...over,
});

describe('planDriftMonitor', () => {
  test('not due: waits until the next slot, reads nothing', () => {
    const p = planDriftMonitor(obs({}), T0 - 5 * MIN);
    assert.deepEqual(p, { actions: [], status: { consecutiveDrifted: 0, nextCheckAt: '2026-11-23T04:00:00Z' }, requeueAfterMs: 5 * MIN });
    assert.equal(driftCheckDue(obs({}).state, T0 - 1), false);
    assert.equal(driftCheckDue(obs({}).state, T0), true);
  });

  test('drift holds and no cooldown: exactly one TrainingRun with a name derived from the slot', () => {
    const p = planDriftMonitor(obs({ result: result(true) }), T0 + 3_000);
    assert.deepEqual(p.actions, [
      {
        type: 'createTrainingRun',
        run: {
          name: 'fraud-drift-drift-20261123t040000',
          namespace: 'ml',
          model: 'fraud',
          pipeline: 'fraud-train',
          reason: 'drift',
          triggeredBy: 'DriftMonitor/fraud-drift',
          message: 'drift in amount at 2026-11-23T04:00:00Z',
        },
      },
      { type: 'event', eventType: 'Warning', reason: 'RetrainTriggered', message: 'drift in amount; TrainingRun fraud-drift-drift-20261123t040000 created' },
    ]);
    assert.equal(p.status.lastTrainingRun, 'fraud-drift-drift-20261123t040000');
    assert.equal(p.status.lastTriggeredAt, '2026-11-23T04:00:03Z');
    assert.equal(p.status.nextCheckAt, '2026-11-23T04:15:00Z');
    assert.equal(p.status.lastCheckAt, '2026-11-23T04:00:00Z');
    assert.equal(p.requeueAfterMs, 15 * MIN - 3_000);
    assert.equal(p.status.message, 'drift in 1 of 2 features (amount); 1 check(s) in a row; started TrainingRun fraud-drift-drift-20261123t040000');
  });

  test('replaying the same check after the status write finds it not due (no second run)', () => {
    const first = planDriftMonitor(obs({ result: result(true) }), T0 + 3_000);
    const again = planDriftMonitor(obs({ state: first.status, result: result(true) }), T0 + 4_000);
    assert.deepEqual(again.actions, []);
  });

  test('cooldown: drift within the cooldown does not retrain', () => {
    const state = { consecutiveDrifted: 0, nextCheckAt: '2026-11-23T04:15:00Z', lastTriggeredAt: '2026-11-23T04:00:03Z', lastTrainingRun: 'r1' };
    const p = planDriftMonitor(obs({ state, result: result(true) }), T0 + 15 * MIN);
    assert.deepEqual(p.actions, []);
    assert.equal(p.status.message, 'drift in 1 of 2 features (amount); 1 check(s) in a row; in cooldown until 2026-11-23T05:00:03Z after r1');
    const later = planDriftMonitor(obs({ state: { ...state, nextCheckAt: '2026-11-23T05:00:00Z' }, result: result(true) }), T0 + 61 * MIN);
    assert.equal(later.actions[0].type, 'createTrainingRun');
  });

  test('consecutive: retrain only after N drifted checks in a row; a clean check resets the count', () => {
    const pol = { ...policy, consecutive: 2 };
    const one = planDriftMonitor(obs({ policy: pol, result: result(true) }), T0);
    assert.deepEqual(one.actions, []);
    assert.equal(one.status.consecutiveDrifted, 1);
    const clean = planDriftMonitor(obs({ policy: pol, state: one.status, result: result(false) }), T0 + 15 * MIN);
    assert.equal(clean.status.consecutiveDrifted, 0);
    const two = planDriftMonitor(obs({ policy: pol, state: { ...one.status }, result: result(true) }), T0 + 15 * MIN);
    assert.equal(two.actions[0].type, 'createTrainingRun');
    assert.equal(two.status.consecutiveDrifted, 0);
  });

  test('too few rows: no verdict, the count is kept', () => {
    const p = planDriftMonitor(obs({ state: { consecutiveDrifted: 3, nextCheckAt: '2026-11-23T04:00:00Z' }, result: result(true, 20) }), T0);
    assert.deepEqual(p.actions, []);
    assert.equal(p.status.consecutiveDrifted, 3);
    assert.equal(p.status.message, '20 rows in the payload-log window; a verdict needs 100');
  });

  test('no drift: status holds the per-feature results', () => {
    const p = planDriftMonitor(obs({ result: result(false) }), T0);
    assert.deepEqual(p.actions, []);
    assert.equal(p.status.lastResult?.features.length, 2);
    assert.equal(p.status.message, 'no dataset drift (0 of 2 features drifted)');
  });

  test('schedules: cron and interval', () => {
    assert.equal(new Date(nextSlot(policy, T0)).toISOString(), '2026-11-23T04:15:00.000Z');
    assert.equal(new Date(nextSlot({ ...policy, cron: undefined, intervalMs: 10 * MIN }, T0 + 1)).toISOString(), '2026-11-23T04:10:00.000Z');
    assert.equal(validateDriftPolicy({ ...policy, intervalMs: 5000 }), 'spec.schedule: give exactly one of a cron expression or an interval');
    assert.match(validateDriftPolicy({ ...policy, cron: 'every tuesday' }) ?? '', /^spec\.schedule 'every tuesday' is not a valid cron expression/);
    assert.equal(validateDriftPolicy({ ...policy, consecutive: 0 }), 'spec.consecutive (0) must be an integer ≥ 1');
  });

  test('run names are DNS-1123 labels, even for long monitor names', () => {
    const n = retrainRunName('a'.repeat(80), '2026-11-23T04:00:00Z');
    assert.ok(n.length <= 63, n);
    assert.match(n, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.notEqual(n, retrainRunName('a'.repeat(81), '2026-11-23T04:00:00Z'));
  });
});

test("a DriftMonitor stored with a test the backend cannot run (mmd) is an invalid spec naming the field, not a silent 'auto'", () => {
  const spec: DriftMonitorSpec = {
    model: 'fraud',
    reference: { uri: 'ref.csv', format: 'csv' },
    test: 'psi',
    features: [
      { name: 'amount', type: 'numerical' },
      { name: 'age', type: 'numerical', test: 'ks' },
    ],
    thresholds: { driftShare: 0.5 },
    window: { seconds: 600, minSamples: 100 },
    schedule: '*/15 * * * *',
    action: {},
  };
  assert.equal(driftPolicyOf(spec).minRows, 100);
  // What an object written before mmd left the CRD holds.
  const stored = JSON.parse(JSON.stringify(spec).replace('"test":"ks"', '"test":"mmd"')) as DriftMonitorSpec;
  assert.throws(() => driftPolicyOf(stored), {
    message: "spec.features[1].test 'mmd' cannot be run per feature by a DriftMonitor; use one of auto, ks, psi, chi2, jensen-shannon, wasserstein",
  });
});
