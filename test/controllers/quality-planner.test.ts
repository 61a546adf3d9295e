// Quality from delayed labels in the pure planners: canary analysis (rolled back when the canary is
// worse on ground truth) and the DriftMonitor's performance trigger (one TrainingRun per incident).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { planCanary, validateCanaryPolicy, type CanaryMetrics, type CanaryObserved, type CanaryPolicy } from '../../controllers/planners/canary.ts';
import { planDriftMonitor, type DriftObserved, type DriftPolicy, type DriftMonitorState } from '../../controllers/planners/drift.ts';
import { driftPolicyOf } from '../../controllers/reconcilers/drift-monitor.ts';
import { policyOf } from '../../controllers/reconcilers/model.ts';
import type { DriftMonitorSpec, ModelSpec } from '../../api/crds/types.ts';

const T0 = Date.parse('2026-11-23T04:00:00Z');
const MIN = 60_000;

describe('canary analysis with quality from labels', () => {
  const policy: CanaryPolicy = {
    steps: [10, 50],
    stepDurationMs: 5 * MIN,
    maxErrorRate: 0.05,
    maxP99LatencyMs: 200,
    maxPredictionDrift: Number.POSITIVE_INFINITY,
    minRequests: 100,
    quality: { metric: 'accuracy', threshold: 0.85, maxDegradation: 0.02, minSamples: 30 },
  };
  const traffic = { canary: { requests: 200, errors: 0, p99LatencyMs: 50 } };
  const analyse = (quality: CanaryMetrics['quality'], p: CanaryPolicy = policy, at = T0 + 5 * MIN) =>
    planCanary(
      {
        model: 'ml/fraud',
        targetVersion: 2,
        policy: p,
        rollout: { phase: 'Progressing', stableVersion: 1, canaryVersion: 2, stepIndex: 0, stepStartedAt: '2026-11-23T04:00:00Z', analyses: [] },
        serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 },
        champion: 1,
        manageAlias: true,
        metrics: { ...traffic, ...(quality ? { quality } : {}) },
      } satisfies CanaryObserved,
      at,
    );

  const table: Array<[string, CanaryMetrics['quality'], string, string | undefined, string]> = [
    [
      'below the threshold',
      { canary: { samples: 40, value: 0.6 }, stable: { samples: 400, value: 0.93 } },
      'RolledBack',
      'QualityTooLow',
      'canary accuracy 0.6 is below 0.85 on 40 labelled predictions at step 1 (10%)',
    ],
    [
      'worse than the stable version by more than maxDegradation',
      { canary: { samples: 40, value: 0.88 }, stable: { samples: 400, value: 0.93 } },
      'RolledBack',
      'QualityWorseThanStable',
      "canary accuracy 0.88 is worse than the stable version's 0.93 by more than 0.02 at step 1 (10%)",
    ],
    [
      'as good as the stable version',
      { canary: { samples: 40, value: 0.92 }, stable: { samples: 400, value: 0.93 } },
      'Progressing',
      'StepPassed',
      'step 1 (10%) passed: error rate 0, p99 50 ms, drift n/a, accuracy 0.92 (stable 0.93)',
    ],
    [
      'stable without enough labels: only the threshold applies',
      { canary: { samples: 40, value: 0.86 }, stable: { samples: 3, value: 1 } },
      'Progressing',
      'StepPassed',
      'step 1 (10%) passed: error rate 0, p99 50 ms, drift n/a, accuracy 0.86',
    ],
  ];
  for (const [name, quality, phase, reason, message] of table) {
    test(name, () => {
      const p = analyse(quality);
      assert.equal(p.status.phase, phase);
      assert.equal(p.status.reason, reason);
      const a = p.status.analyses.at(-1)!;
      assert.equal(a.message, message);
      if (phase === 'RolledBack') {
        assert.deepEqual(p.actions, [
          { type: 'event', eventType: 'Warning', reason: 'RolledBack', message: `version 2 rolled back: ${message}; version 1 keeps serving` },
          { type: 'serve', stableVersion: 1, canaryPercent: 0 },
        ]);
        assert.deepEqual(a.quality, { canary: quality!.canary!.value, stable: quality!.stable!.value, samples: 40 });
      }
    });
  }

  test('too few labels: the step waits for them, then (one step duration later) the other checks decide', () => {
    for (const quality of [{ canary: { samples: 29, value: 0.1 } }, undefined]) {
      const waiting = analyse(quality);
      assert.equal(waiting.status.phase, 'Progressing');
      assert.equal(waiting.status.stepIndex, 0);
      assert.deepEqual(waiting.actions, []);
      assert.equal(waiting.status.message, `step 1 (10%): waiting for labels (${quality ? 29 : 0} labelled canary predictions; needs 30)`);
      assert.equal(waiting.requeueAfterMs, 75_000);
      const decided = analyse(quality, policy, T0 + 10 * MIN);
      assert.equal(decided.status.reason, 'StepPassed');
      assert.equal(
        decided.status.analyses.at(-1)!.message,
        `step 1 (10%) passed: error rate 0, p99 50 ms, drift n/a, accuracy not judged (${quality ? 29 : 0} labelled canary predictions; needs 30)`,
      );
    }
  });

  test('an error-like metric is worse when higher', () => {
    const rmse: CanaryPolicy = { ...policy, quality: { metric: 'rmse', threshold: 2, minSamples: 30 } };
    assert.equal(analyse({ canary: { samples: 50, value: 2.5 } }, rmse).status.reason, 'QualityTooLow');
    assert.equal(
      analyse({ canary: { samples: 50, value: 2.5 } }, rmse).status.analyses[0].message,
      'canary rmse 2.5 is above 2 on 50 labelled predictions at step 1 (10%)',
    );
    assert.equal(analyse({ canary: { samples: 50, value: 1.5 } }, rmse).status.reason, 'StepPassed');
  });

  test('the policy names the field of a bad quality threshold', () => {
    assert.equal(
      validateCanaryPolicy({ ...policy, quality: { metric: 'accuracy', minSamples: 30 } }),
      'spec.rollout.thresholds.quality: give a threshold (e.g. 0.85 for accuracy) or a maxDegradation against the stable version (e.g. 0.02), or both',
    );
    const spec = {
      rollout: { strategy: 'canary', steps: [10, 100], intervalSeconds: 60, thresholds: { quality: { metric: 'f1', maxDegradation: -1 } } },
    } as unknown as ModelSpec;
    assert.throws(() => policyOf(spec), { message: 'spec.rollout.thresholds.quality.maxDegradation (-1) must be zero or more' });
    const ok = { ...spec, rollout: { ...spec.rollout, thresholds: { quality: { metric: 'f1', threshold: 0.7 } } } } as ModelSpec;
    assert.deepEqual(policyOf(ok)?.quality, { metric: 'f1', threshold: 0.7, minSamples: 30 });
  });
});

describe('DriftMonitor: retraining on quality (reason performance)', () => {
  const policy: DriftPolicy = {
    intervalMs: 5 * MIN,
    cooldownMs: 0,
    consecutive: 1,
    minRows: 100,
    quality: { metric: 'accuracy', threshold: 0.85, forMs: 10 * MIN, minSamples: 50 },
  };
  const obs = (state: DriftMonitorState, quality: DriftObserved['quality']): DriftObserved => ({
    namespace: 'ml',
    name: 'fraud-watch',
    model: 'fraud',
    pipeline: 'fraud-train',
    policy,
    state,
    ...(quality ? { quality } : {}),
  });
  const bad = { version: 3, samples: 200, value: 0.7 };

  test('a breach starts, lasts `for`, starts exactly one run, and starts no other while it lasts', () => {
    // Check 1 (04:00): the breach begins; nothing starts yet.
    let now = T0;
    let p = planDriftMonitor(obs({ consecutiveDrifted: 0, nextCheckAt: '2026-11-23T04:00:00Z' }, bad), now);
    assert.deepEqual(p.actions, []);
    assert.deepEqual(p.status.quality, { version: 3, value: 0.7, samples: 200, breached: true, breachedSince: '2026-11-23T04:00:00Z' });
    assert.match(p.status.message!, /accuracy 0\.7 on 200 labels of version 3 is below 0\.85 since 2026-11-23T04:00:00Z; retraining after 600s of it$/);
    // Check 2 (04:05): 5 min in, still waiting.
    now += 5 * MIN;
    p = planDriftMonitor(obs(p.status, bad), now);
    assert.deepEqual(p.actions, []);
    // Check 3 (04:10): 10 min in: one run, named by the monitor and the slot, reason performance.
    now += 5 * MIN;
    p = planDriftMonitor(obs(p.status, bad), now);
    assert.deepEqual(p.actions, [
      {
        type: 'createTrainingRun',
        run: {
          name: 'fraud-watch-performance-20261123t041000',
          namespace: 'ml',
          model: 'fraud',
          pipeline: 'fraud-train',
          reason: 'performance',
          triggeredBy: 'DriftMonitor/fraud-watch',
          message: 'accuracy of version 3 below 0.85 since 2026-11-23T04:00:00Z',
        },
      },
      {
        type: 'event',
        eventType: 'Warning',
        reason: 'RetrainTriggered',
        message: 'accuracy 0.7 on 200 labels of version 3; TrainingRun fraud-watch-performance-20261123t041000 created (performance)',
      },
    ]);
    assert.equal(p.status.quality?.incidentRun, 'fraud-watch-performance-20261123t041000');
    assert.equal(p.status.lastTrainingRun, 'fraud-watch-performance-20261123t041000');
    // The same plan again (a restart after the status write): the status already holds the run, so no second one.
    const again = planDriftMonitor(obs({ ...p.status, nextCheckAt: '2026-11-23T04:10:00Z' }, bad), now + 1000);
    assert.deepEqual(again.actions, []);
    // Check 4..6: the breach goes on: no other run.
    for (let i = 0; i < 3; i++) {
      now += 5 * MIN;
      p = planDriftMonitor(obs(p.status, bad), now);
      assert.deepEqual(p.actions, []);
      assert.match(p.status.message!, /TrainingRun fraud-watch-performance-20261123t041000 was started for it$/);
    }
    // The breach ends (accuracy recovers): a later breach is a new incident with its own run.
    now += 5 * MIN;
    p = planDriftMonitor(obs(p.status, { version: 3, samples: 200, value: 0.9 }), now);
    assert.deepEqual(p.status.quality, { version: 3, value: 0.9, samples: 200, breached: false });
    for (let i = 0; i < 3; i++) {
      now += 5 * MIN;
      p = planDriftMonitor(obs(p.status, bad), now);
    }
    assert.equal(p.actions[0]?.type, 'createTrainingRun');
  });

  test('a new stable version that breaches is a new incident; too few labels is no breach', () => {
    const state: DriftMonitorState = {
      consecutiveDrifted: 0,
      nextCheckAt: '2026-11-23T05:00:00Z',
      quality: { version: 3, value: 0.7, samples: 200, breached: true, breachedSince: '2026-11-23T04:00:00Z', incidentRun: 'r1' },
    };
    const p = planDriftMonitor(obs(state, { version: 4, samples: 200, value: 0.7 }), Date.parse('2026-11-23T05:00:00Z'));
    assert.deepEqual(p.status.quality, { version: 4, value: 0.7, samples: 200, breached: true, breachedSince: '2026-11-23T05:00:00Z' });
    const few = planDriftMonitor(obs(state, { version: 3, samples: 49, value: 0.1 }), Date.parse('2026-11-23T05:00:00Z'));
    assert.deepEqual(few.status.quality, { version: 3, value: 0.1, samples: 49, breached: false });
    assert.match(few.status.message!, /accuracy n\/a on 49 labels of version 3; quality is judged from 50$/);
  });

  test('the cooldown after a drift run holds a performance run back', () => {
    const state: DriftMonitorState = {
      consecutiveDrifted: 0,
      nextCheckAt: '2026-11-23T04:10:00Z',
      lastTriggeredAt: '2026-11-23T04:05:00Z',
      lastTrainingRun: 'fraud-watch-drift-20261123t040500',
      quality: { version: 3, value: 0.7, samples: 200, breached: true, breachedSince: '2026-11-23T03:50:00Z' },
    };
    const p = planDriftMonitor({ ...obs(state, bad), policy: { ...policy, cooldownMs: 60 * MIN } }, Date.parse('2026-11-23T04:10:00Z'));
    assert.deepEqual(p.actions, []);
    assert.match(p.status.message!, /in cooldown until 2026-11-23T05:05:00Z after fraud-watch-drift-20261123t040500$/);
  });

  test('spec.quality maps to the policy', () => {
    const spec = {
      model: 'fraud',
      reference: { uri: 'r.json', format: 'jsonl' },
      features: [{ name: 'amount', type: 'numerical' }],
      test: 'auto',
      thresholds: { driftShare: 0.5 },
      window: { seconds: 3600, minSamples: 100 },
      schedule: '*/5 * * * *',
      quality: { metric: 'rmse', threshold: 3, forSeconds: 900, minSamples: 40 },
      action: {},
    } satisfies DriftMonitorSpec;
    assert.deepEqual(driftPolicyOf(spec).quality, { metric: 'rmse', threshold: 3, forMs: 900_000, minSamples: 40 });
    // An estimate exists only for CBPE's metrics: the error names the field and the choices.
    assert.throws(
      () => driftPolicyOf({ ...spec, quality: { ...spec.quality, source: 'estimate' } }),
      /^Error: spec\.quality\.metric 'rmse' has no estimate \(CBPE estimates accuracy, precision, recall, f1, rocAuc of binary classifiers\); use one of them or source 'labels'$/,
    );
    assert.deepEqual(driftPolicyOf({ ...spec, quality: { metric: 'f1', threshold: 0.7, forSeconds: 0, minSamples: 40, source: 'estimate' } }).quality, {
      metric: 'f1',
      threshold: 0.7,
      forMs: 0,
      minSamples: 40,
      source: 'estimate',
    });
  });

  test("source 'estimate': CBPE's estimate breaches for `for`, one run per incident, said to be an estimate", () => {
    const est: DriftPolicy = { ...policy, quality: { ...policy.quality!, source: 'estimate', forMs: 5 * MIN } };
    const o = (state: DriftMonitorState, quality: DriftObserved['quality']) => ({ ...obs(state, quality), policy: est });
    let now = T0;
    let p = planDriftMonitor(o({ consecutiveDrifted: 0, nextCheckAt: '2026-11-23T04:00:00Z' }, bad), now);
    assert.deepEqual(p.actions, []);
    assert.match(
      p.status.message!,
      /^.*estimated accuracy \(CBPE\) 0\.7 on 200 unlabelled predictions of version 3 is below 0\.85 since 2026-11-23T04:00:00Z; retraining after 300s of it$/,
    );
    now += 5 * MIN;
    p = planDriftMonitor(o(p.status, bad), now);
    const runs = p.actions.filter((a) => a.type === 'createTrainingRun');
    assert.equal(runs.length, 1);
    assert.deepEqual(runs[0].type === 'createTrainingRun' && runs[0].run, {
      name: 'fraud-watch-performance-20261123t040500',
      namespace: 'ml',
      model: 'fraud',
      pipeline: 'fraud-train',
      reason: 'performance',
      triggeredBy: 'DriftMonitor/fraud-watch',
      message: 'estimated accuracy of version 3 below 0.85 since 2026-11-23T04:00:00Z',
    });
    for (let i = 0; i < 3; i++) {
      now += 5 * MIN;
      p = planDriftMonitor(o(p.status, bad), now);
      assert.deepEqual(p.actions, [], 'the same incident starts no second run');
    }
    // Too few predictions behind the estimate: not judged, and the breach ends.
    now += 5 * MIN;
    p = planDriftMonitor(o(p.status, { version: 3, samples: 10, value: 0.1 }), now);
    assert.equal(p.status.quality?.breached, false);
    assert.match(p.status.message!, /estimated accuracy \(CBPE\) n\/a on 10 unlabelled predictions of version 3; quality is judged from 50$/);
  });
});
