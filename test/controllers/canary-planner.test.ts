import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  planCanary,
  validateCanaryPolicy,
  INITIAL_ROLLOUT,
  type CanaryObserved,
  type CanaryPolicy,
  type RolloutStatus,
} from '../../controllers/planners/canary.ts';

const T0 = Date.parse('2026-11-23T04:00:00Z');
const MIN = 60_000;
const policy: CanaryPolicy = { steps: [10, 50], stepDurationMs: 5 * MIN, maxErrorRate: 0.05, maxP99LatencyMs: 200, maxPredictionDrift: 0.2, minRequests: 100 };
const good = { canary: { requests: 500, errors: 1, p99LatencyMs: 80 }, stable: { requests: 4500, errors: 5, p99LatencyMs: 75 }, predictionDrift: 0.02 };

function obs(over: Partial<CanaryObserved>): CanaryObserved {
  return {
    model: 'ml/fraud',
    targetVersion: 2,
    policy,
    rollout: { phase: 'Idle', stableVersion: 1, analyses: [] },
    serving: { stableVersion: 1, canaryPercent: 0 },
    champion: 1,
    manageAlias: true,
    ...over,
  };
}
const prog = (over: Partial<RolloutStatus> = {}): RolloutStatus => ({
  phase: 'Progressing',
  stableVersion: 1,
  canaryVersion: 2,
  stepIndex: 0,
  analyses: [],
  ...over,
});

describe('planCanary', () => {
  test('first deploy serves the target at 100% and sets the champion alias', () => {
    const p = planCanary(obs({ rollout: INITIAL_ROLLOUT, serving: undefined, champion: undefined, targetVersion: 1 }), T0);
    assert.deepEqual(p.actions, [
      { type: 'event', eventType: 'Normal', reason: 'Deployed', message: 'version 1 deployed' },
      { type: 'serve', stableVersion: 1, canaryPercent: 0 },
      { type: 'setAlias', alias: 'champion', version: 1 },
    ]);
    assert.equal(p.status.phase, 'Idle');
    assert.equal(p.status.stableVersion, 1);
  });

  test('a new target starts the canary at the first step', () => {
    const p = planCanary(obs({}), T0);
    assert.deepEqual(p.actions, [
      { type: 'event', eventType: 'Normal', reason: 'RolloutStarted', message: 'canary of version 2 against 1 started at 10%' },
      { type: 'serve', stableVersion: 1, canaryVersion: 2, canaryPercent: 10 },
    ]);
    assert.deepEqual(
      { phase: p.status.phase, canary: p.status.canaryVersion, step: p.status.stepIndex, started: p.status.stepStartedAt },
      { phase: 'Progressing', canary: 2, step: 0, started: undefined },
    );
    assert.equal(p.requeueAfterMs, 2_000);
  });

  test('the step clock starts only once the split is observed in place', () => {
    const p = planCanary(obs({ rollout: prog(), serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 } }), T0);
    assert.deepEqual(p.actions, []);
    assert.equal(p.status.stepStartedAt, '2026-11-23T04:00:00Z');
    assert.equal(p.requeueAfterMs, 5 * MIN);
  });

  test('before the step deadline it waits exactly until the deadline', () => {
    const p = planCanary(
      obs({ rollout: prog({ stepStartedAt: '2026-11-23T04:00:00Z' }), serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 }, metrics: good }),
      T0 + 2 * MIN,
    );
    assert.deepEqual(p.actions, []);
    assert.equal(p.requeueAfterMs, 3 * MIN);
    assert.equal(p.status.stepIndex, 0);
  });

  test('a passing analysis moves to the next step and records the analysis', () => {
    const p = planCanary(
      obs({ rollout: prog({ stepStartedAt: '2026-11-23T04:00:00Z' }), serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 }, metrics: good }),
      T0 + 5 * MIN,
    );
    assert.deepEqual(p.actions, [
      { type: 'event', eventType: 'Normal', reason: 'StepPassed', message: 'step 1 (10%) passed: error rate 0.002, p99 80 ms, drift 0.02; moving to 50%' },
      { type: 'serve', stableVersion: 1, canaryVersion: 2, canaryPercent: 50 },
    ]);
    assert.equal(p.status.stepIndex, 1);
    assert.equal(p.status.stepStartedAt, undefined);
    assert.equal(p.status.analyses.length, 1);
    assert.equal(p.status.analyses[0].verdict, 'Passed');
  });

  test('the last passing step promotes: 100% to the canary and the alias moves', () => {
    const p = planCanary(
      obs({
        rollout: prog({ stepIndex: 1, stepStartedAt: '2026-11-23T04:00:00Z' }),
        serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 50 },
        metrics: good,
      }),
      T0 + 5 * MIN,
    );
    assert.deepEqual(p.actions, [
      { type: 'event', eventType: 'Normal', reason: 'Promoted', message: 'version 2 promoted: all 2 steps passed' },
      { type: 'serve', stableVersion: 2, canaryPercent: 0 },
      { type: 'setAlias', alias: 'champion', version: 2 },
    ]);
    assert.deepEqual(
      { phase: p.status.phase, stable: p.status.stableVersion, canary: p.status.canaryVersion, reason: p.status.reason, from: p.status.promotedFrom },
      { phase: 'Promoted', stable: 2, canary: undefined, reason: 'AnalysisPassed', from: 1 },
    );
    assert.equal(p.requeueAfterMs, undefined);
  });

  const failures: Array<[string, object, string, string]> = [
    ['error rate', { canary: { requests: 200, errors: 30, p99LatencyMs: 50 } }, 'ErrorRateTooHigh', 'canary error rate 0.15 exceeds 0.05 at step 1 (10%)'],
    ['latency', { canary: { requests: 200, errors: 0, p99LatencyMs: 450 } }, 'LatencyTooHigh', 'canary p99 latency 450 ms exceeds 200 ms at step 1 (10%)'],
    [
      'prediction drift',
      { canary: { requests: 200, errors: 0, p99LatencyMs: 50 }, predictionDrift: 0.35 },
      'PredictionDrift',
      'prediction drift between canary and stable 0.35 exceeds 0.2 at step 1 (10%)',
    ],
  ];
  for (const [name, metrics, reason, message] of failures) {
    test(`a failing ${name} rolls back to the stable version`, () => {
      const p = planCanary(
        obs({ rollout: prog({ stepStartedAt: '2026-11-23T04:00:00Z' }), serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 }, metrics }),
        T0 + 5 * MIN,
      );
      assert.deepEqual(p.actions, [
        { type: 'event', eventType: 'Warning', reason: 'RolledBack', message: `version 2 rolled back: ${message}; version 1 keeps serving` },
        { type: 'serve', stableVersion: 1, canaryPercent: 0 },
      ]);
      assert.deepEqual(
        { phase: p.status.phase, stable: p.status.stableVersion, rejected: p.status.rejectedVersion, reason: p.status.reason, message: p.status.message },
        { phase: 'RolledBack', stable: 1, rejected: 2, reason, message },
      );
      assert.equal(p.status.analyses.at(-1)?.verdict, 'Failed');
    });
  }

  test('a rolled-back version is not rolled out again; a newer one is', () => {
    const rolled: RolloutStatus = { phase: 'RolledBack', stableVersion: 1, rejectedVersion: 2, analyses: [] };
    assert.deepEqual(planCanary(obs({ rollout: rolled }), T0).actions, []);
    const p = planCanary(obs({ rollout: rolled, targetVersion: 3 }), T0);
    assert.equal(p.status.canaryVersion, 3);
    assert.equal(p.status.rejectedVersion, 2);
  });

  test('too few requests waits, then rolls back as inconclusive after one more step duration', () => {
    const base = obs({
      rollout: prog({ stepStartedAt: '2026-11-23T04:00:00Z' }),
      serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 },
      metrics: { canary: { requests: 40, errors: 0, p99LatencyMs: 10 } },
    });
    const wait = planCanary(base, T0 + 5 * MIN);
    assert.deepEqual(wait.actions, []);
    assert.equal(wait.status.message, 'step 1 (10%): 40 canary requests so far; the analysis needs 100');
    assert.equal(wait.requeueAfterMs, 75_000);
    const give = planCanary(base, T0 + 10 * MIN);
    assert.equal(give.status.phase, 'RolledBack');
    assert.equal(give.status.reason, 'InconclusiveAnalysis');
  });

  test('a restart after the status was written but before traffic moved re-applies the same step (no repeat, no skip)', () => {
    // Status already says step 2 (50%), the serving layer still shows 10%.
    const p = planCanary(
      obs({ rollout: prog({ stepIndex: 1 }), serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 }, metrics: good }),
      T0 + 20 * MIN,
    );
    assert.deepEqual(p.actions, [{ type: 'serve', stableVersion: 1, canaryVersion: 2, canaryPercent: 50 }]);
    assert.equal(p.status.stepIndex, 1);
    assert.equal(p.status.analyses.length, 0);
  });

  test('never promotes an unanalysed canary: status at the last step with no started clock only sets traffic', () => {
    const p = planCanary(
      obs({ rollout: prog({ stepIndex: 1 }), serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 50 }, metrics: good }),
      T0 + 60 * MIN,
    );
    assert.deepEqual(p.actions, []);
    assert.equal(p.status.phase, 'Progressing');
    assert.equal(p.status.stepStartedAt, '2026-11-23T05:00:00Z');
  });

  test('a tampered split resets the step clock', () => {
    const p = planCanary(
      obs({ rollout: prog({ stepStartedAt: '2026-11-23T04:00:00Z' }), serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 30 }, metrics: good }),
      T0 + 6 * MIN,
    );
    assert.deepEqual(p.actions, [{ type: 'serve', stableVersion: 1, canaryVersion: 2, canaryPercent: 10 }]);
    assert.equal(p.status.stepStartedAt, undefined);
  });

  test('pause freezes the step; resume continues it', () => {
    const r = prog({ stepStartedAt: '2026-11-23T04:00:00Z' });
    const serving = { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 };
    const paused = planCanary(obs({ rollout: r, serving, metrics: good, action: 'pause' }), T0 + 9 * MIN);
    assert.deepEqual(paused.actions, [{ type: 'event', eventType: 'Normal', reason: 'Paused', message: 'canary 2 paused at step 1' }]);
    assert.equal(paused.status.phase, 'Paused');
    assert.equal(paused.requeueAfterMs, undefined);
    const again = planCanary(obs({ rollout: paused.status, serving, metrics: good, action: 'pause' }), T0 + 20 * MIN);
    assert.deepEqual(again.actions, []);
    const resumed = planCanary(obs({ rollout: paused.status, serving, metrics: good, action: 'resume' }), T0 + 20 * MIN);
    assert.equal(resumed.actions[0].type === 'event' && resumed.actions[0].reason, 'Resumed');
    assert.equal(resumed.status.stepIndex, 1);
  });

  test('manual abort rolls back once; the same annotation does not abort the next version', () => {
    const serving = { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 };
    const p = planCanary(obs({ rollout: prog(), serving, action: 'abort' }), T0);
    assert.deepEqual(p.actions, [
      { type: 'event', eventType: 'Warning', reason: 'RolledBack', message: 'version 2 rolled back: aborted by a manual abort; version 1 keeps serving' },
      { type: 'serve', stableVersion: 1, canaryPercent: 0 },
    ]);
    assert.equal(p.status.handledAction, 'abort');
    const next = planCanary(obs({ rollout: p.status, serving: { stableVersion: 1, canaryPercent: 0 }, targetVersion: 3, action: 'abort' }), T0 + MIN);
    assert.equal(next.status.phase, 'Progressing');
    assert.equal(next.status.canaryVersion, 3);
    // Removing the annotation clears the record; giving it again aborts version 3.
    const cleared = planCanary(
      obs({ rollout: next.status, serving: { stableVersion: 1, canaryVersion: 3, canaryPercent: 10 }, targetVersion: 3 }),
      T0 + 2 * MIN,
    );
    assert.equal(cleared.status.handledAction, undefined);
    assert.equal(
      planCanary(
        obs({ rollout: cleared.status, serving: { stableVersion: 1, canaryVersion: 3, canaryPercent: 10 }, targetVersion: 3, action: 'abort' }),
        T0 + 3 * MIN,
      ).status.phase,
      'RolledBack',
    );
  });

  test('manual promote sends the canary to 100% and moves the alias', () => {
    const p = planCanary(obs({ rollout: prog(), serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 }, action: 'promote' }), T0);
    assert.deepEqual(
      p.actions.map((a) => a.type),
      ['event', 'serve', 'setAlias'],
    );
    assert.equal(p.status.reason, 'ManualPromote');
    assert.equal(p.status.stableVersion, 2);
  });

  test('a newer target supersedes the canary and restarts at step 1', () => {
    const p = planCanary(
      obs({
        rollout: prog({ stepIndex: 1, stepStartedAt: '2026-11-23T04:00:00Z' }),
        serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 50 },
        targetVersion: 3,
      }),
      T0,
    );
    assert.deepEqual(p.actions, [
      { type: 'event', eventType: 'Normal', reason: 'RolloutSuperseded', message: 'version 3 supersedes canary 2; restarting at step 1' },
      { type: 'serve', stableVersion: 1, canaryVersion: 3, canaryPercent: 10 },
    ]);
  });

  test('the target returning to stable withdraws the canary', () => {
    const p = planCanary(obs({ rollout: prog(), serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 10 }, targetVersion: 1 }), T0);
    assert.deepEqual(
      p.actions.map((a) => a.type),
      ['event', 'serve'],
    );
    assert.equal(p.status.phase, 'Idle');
  });

  test('without a policy a new version replaces the stable one', () => {
    const p = planCanary(obs({ policy: undefined }), T0);
    assert.deepEqual(p.actions.slice(1), [
      { type: 'serve', stableVersion: 2, canaryPercent: 0 },
      { type: 'setAlias', alias: 'champion', version: 2 },
    ]);
  });

  test('the alias is left alone when the spec targets it', () => {
    const p = planCanary(obs({ targetVersion: 1, champion: 5, manageAlias: false }), T0);
    assert.deepEqual(p.actions, []);
  });

  test('steady state: nothing to do', () => {
    const p = planCanary(obs({ targetVersion: 1 }), T0);
    assert.deepEqual(p, { actions: [], status: { phase: 'Idle', stableVersion: 1, analyses: [] } });
  });

  test('policy validation names the field', () => {
    assert.equal(validateCanaryPolicy({ ...policy, steps: [50, 10] }), 'spec.rollout.steps[1] (10) must be greater than the step before it (50)');
    assert.equal(validateCanaryPolicy({ ...policy, steps: [100] }), 'spec.rollout.steps[0] (100) must be an integer percentage from 1 to 99');
    assert.equal(validateCanaryPolicy({ ...policy, steps: [] }), 'spec.rollout.steps is empty; give at least one canary percentage, e.g. [10, 50]');
    // Errors name the Model's fields (spec.rollout.intervalSeconds, thresholds.*, minRequests), not the planner's.
    assert.equal(validateCanaryPolicy({ ...policy, maxErrorRate: 2 }), 'spec.rollout.thresholds.maxErrorRate (2) must be between 0 and 1');
    assert.equal(validateCanaryPolicy({ ...policy, stepDurationMs: 0 }), 'spec.rollout.intervalSeconds (0) must be positive');
    assert.equal(validateCanaryPolicy({ ...policy, maxP99LatencyMs: 0 }), 'spec.rollout.thresholds.maxP99LatencyMs (0) must be positive');
    assert.equal(validateCanaryPolicy({ ...policy, minRequests: -1 }), 'spec.rollout.minRequests (-1) must be zero or more');
    assert.equal(validateCanaryPolicy(policy), undefined);
  });
});
