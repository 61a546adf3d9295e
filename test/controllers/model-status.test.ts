import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modelStatus, rolloutFromStatus, policyOf, manualAction } from '../../controllers/reconcilers/model.ts';
import { planCanary, type RolloutStatus, type CanaryPolicy } from '../../controllers/planners/canary.ts';
import { modelObject } from './fakes.ts';

const T0 = Date.parse('2026-11-23T04:00:00Z');
const policy: CanaryPolicy = { steps: [10, 50], stepDurationMs: 60_000, maxErrorRate: 0.05, maxP99LatencyMs: 200, maxPredictionDrift: 0.2, minRequests: 10 };
const ok = { ok: true, reason: 'Serving', message: 'm' };

test('rollout state survives the round trip through Model status (what a restarted operator reads)', () => {
  const states: RolloutStatus[] = [
    { phase: 'Idle', stableVersion: 1, analyses: [] },
    {
      phase: 'Progressing',
      stableVersion: 1,
      canaryVersion: 2,
      stepIndex: 1,
      stepStartedAt: '2026-11-23T04:00:00Z',
      analyses: [
        {
          step: 1,
          version: 2,
          percent: 10,
          verdict: 'Passed',
          requests: 50,
          errorRate: 0,
          p99LatencyMs: 12,
          predictionDrift: null,
          at: '2026-11-23T04:01:00Z',
          message: 'ok',
        },
      ],
      reason: 'StepPassed',
      message: 'canary 2 at step 2 (50%)',
    },
    { phase: 'Paused', stableVersion: 1, canaryVersion: 2, stepIndex: 0, analyses: [], reason: 'Paused', message: 'paused at step 1' },
    {
      phase: 'RolledBack',
      stableVersion: 1,
      rejectedVersion: 2,
      analyses: [],
      reason: 'ErrorRateTooHigh',
      message: 'canary error rate 0.3 exceeds 0.05 at step 1 (10%)',
      handledAction: 'abort',
    },
  ];
  for (const r of states) {
    const st = modelStatus(undefined, r, policy, ok, 3, T0);
    const back = rolloutFromStatus(st);
    // status.rollout stores the whole state (reason and message included): it comes back unchanged.
    const core = ({ reason: _r, message: _m, ...rest }: RolloutStatus) => rest;
    assert.deepEqual(back, r, r.phase);
    assert.equal(st.rollout?.phase, r.phase);
    // Planning from the read-back state decides the same as planning from the original.
    const obs = {
      model: 'ml/x',
      targetVersion: r.canaryVersion ?? r.stableVersion,
      policy,
      serving: { stableVersion: 1, canaryVersion: 2, canaryPercent: 50 },
      champion: 1,
      manageAlias: true,
    };
    const p1 = planCanary({ ...obs, rollout: back }, T0 + 120_000);
    const p2 = planCanary({ ...obs, rollout: r }, T0 + 120_000);
    assert.deepEqual([p1.actions, core(p1.status), p1.requeueAfterMs], [p2.actions, core(p2.status), p2.requeueAfterMs]);
  }
});

test("a status in the shape an older operator wrote (phase in the conditions' reasons) reads back as the same rollout", () => {
  // What the operator wrote before status.rollout: the same status, minus that field.
  const states: RolloutStatus[] = [
    { phase: 'Idle', stableVersion: 1, analyses: [] },
    { phase: 'Paused', stableVersion: 1, canaryVersion: 2, stepIndex: 0, analyses: [], reason: 'Paused', message: 'paused at step 1' },
    { phase: 'Promoted', stableVersion: 2, promotedFrom: 1, analyses: [] },
    {
      phase: 'RolledBack',
      stableVersion: 1,
      rejectedVersion: 2,
      analyses: [],
      reason: 'ErrorRateTooHigh',
      message: 'canary error rate 0.3 exceeds 0.05 at step 1 (10%)',
      handledAction: 'abort',
    },
  ];
  for (const r of states) {
    const { rollout: _new, ...old } = modelStatus(undefined, r, policy, ok, 3, T0);
    const back = rolloutFromStatus(old);
    assert.deepEqual(
      [back.phase, back.stepIndex, back.canaryVersion, back.promotedFrom, back.handledAction],
      [r.phase, r.stepIndex, r.canaryVersion, r.promotedFrom, r.handledAction],
      r.phase,
    );
    // Written again, the status carries status.rollout; a promotion keeps the time the old condition recorded.
    const again = modelStatus(old, back, policy, ok, 3, T0 + 60_000);
    assert.equal(again.rollout?.phase, r.phase);
    if (r.phase === 'Promoted') assert.equal(again.rollout?.promotedAt, old.conditions?.find((c) => c.type === 'Progressing')?.lastTransitionTime);
  }
});

test('status fields: phase, trafficPercent, observedGeneration; lastTransitionTime kept when status holds', () => {
  const r: RolloutStatus = { phase: 'Progressing', stableVersion: 1, canaryVersion: 2, stepIndex: 0, analyses: [] };
  const a = modelStatus(undefined, r, policy, ok, 4, T0);
  assert.deepEqual({ phase: a.phase, traffic: a.trafficPercent, gen: a.observedGeneration }, { phase: 'Progressing', traffic: 10, gen: 4 });
  const b = modelStatus(a, { ...r, stepIndex: 1 }, policy, ok, 4, T0 + 60_000);
  assert.equal(b.trafficPercent, 50);
  assert.equal(b.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, '2026-11-23T04:00:00Z');
  const c = modelStatus(b, { phase: 'Promoted', stableVersion: 2, analyses: [] }, policy, ok, 4, T0 + 120_000);
  assert.equal(c.phase, 'Ready');
  assert.equal(c.conditions?.find((x) => x.type === 'Progressing')?.lastTransitionTime, '2026-11-23T04:02:00Z');
  assert.equal(modelStatus(undefined, { phase: 'Idle', analyses: [] }, undefined, { ok: false, reason: 'InvalidSpec', message: 'bad' }, 1, T0).phase, 'Failed');
});

test('policy from the spec: the trailing 100 is the promotion; direct means no canary; bad steps name the field', () => {
  assert.deepEqual(policyOf(modelObject('m', { steps: [10, 50, 100] }).spec)?.steps, [10, 50]);
  assert.equal(policyOf(modelObject('m', { strategy: 'direct' }).spec), undefined);
  assert.equal(policyOf(modelObject('m', { steps: [100] }).spec), undefined);
  assert.throws(() => policyOf(modelObject('m', { steps: [50, 20, 100] }).spec), {
    message: 'spec.rollout.steps[1] (20) must be greater than the step before it (50)',
  });
  assert.equal(manualAction({ apiVersion: 'x', kind: 'Model', metadata: { name: 'm', annotations: { 'ghosteam.io/rollout': 'pause' } } }), 'pause');
  assert.equal(manualAction({ apiVersion: 'x', kind: 'Model', metadata: { name: 'm', annotations: { 'ghosteam.io/rollout': 'explode' } } }), undefined);
});
