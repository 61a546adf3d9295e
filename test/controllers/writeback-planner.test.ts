// The write-back planner (controllers/planners/writeback.ts): table tests with a fixed clock.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelStatus } from '../../api/crds/index.ts';
import { backoffMs, planWriteBack, writeBackStatus, type WriteBackOutcome } from '../../controllers/planners/writeback.ts';

const NOW = Date.parse('2026-11-23T08:00:00Z');
const PROMOTED_AT = '2026-11-23T07:59:00Z';
const progressing = (reason: string, status: 'True' | 'False' = 'False') => ({
  type: 'Progressing',
  status,
  reason,
  message: '',
  lastTransitionTime: PROMOTED_AT,
});
const promoted = (over: Partial<ModelStatus> = {}): ModelStatus => ({ stableVersion: 2, conditions: [progressing('Promoted')], ...over });
const B = { baseMs: 1000, maxMs: 8000 };
const TARGET = { repo: 'https://git.example/ml.git', branch: 'main', lockFile: 'deploy/models.lock.json' };

describe('planWriteBack', () => {
  const cases: Array<[string, ModelStatus | undefined, ReturnType<typeof planWriteBack>]> = [
    ['no status', undefined, { kind: 'none', why: 'no version is served yet' }],
    ['nothing served', { conditions: [] }, { kind: 'none', why: 'no version is served yet' }],
    [
      'a canary in progress',
      { stableVersion: 1, canaryVersion: 2, conditions: [progressing('CanaryProgressing', 'True')] },
      { kind: 'none', why: 'canary 2 is in progress' },
    ],
    ['the first deploy', { stableVersion: 1, conditions: [progressing('Idle')] }, { kind: 'none', why: 'version 1 was not promoted (rollout phase Idle)' }],
    ['no rollout condition yet', { stableVersion: 1 }, { kind: 'none', why: 'version 1 was not promoted (rollout phase Idle)' }],
    ['a promotion never written back', promoted(), { kind: 'write', version: 2, promotedAt: '2026-11-23T07:59:00.000Z' }],
    [
      'a promotion after an earlier write-back',
      promoted({ writeBack: { version: 1, commit: 'abcdef1' } }),
      { kind: 'write', version: 2, promotedAt: '2026-11-23T07:59:00.000Z' },
    ],
    ['already written back', promoted({ writeBack: { version: 2 } }), { kind: 'none', why: 'version 2 is already written back' }],
    [
      'in backoff after 1 failure (1 s)',
      promoted({ writeBack: { failures: 1, lastAttemptTime: '2026-11-23T07:59:59.500Z' } }),
      { kind: 'wait', version: 2, requeueAfterMs: 500 },
    ],
    [
      'in backoff after 3 failures (4 s)',
      promoted({ writeBack: { failures: 3, lastAttemptTime: '2026-11-23T07:59:57Z' } }),
      { kind: 'wait', version: 2, requeueAfterMs: 1000 },
    ],
    [
      'backoff over',
      promoted({ writeBack: { failures: 3, lastAttemptTime: '2026-11-23T07:59:56Z' } }),
      { kind: 'write', version: 2, promotedAt: '2026-11-23T07:59:00.000Z' },
    ],
    // status.rollout (what the operator writes now) decides; the conditions only report it.
    [
      'status.rollout Promoted, no conditions',
      { stableVersion: 2, rollout: { phase: 'Promoted', promotedAt: PROMOTED_AT } },
      { kind: 'write', version: 2, promotedAt: '2026-11-23T07:59:00.000Z' },
    ],
    [
      'status.rollout Idle wins over a stale Promoted reason',
      { stableVersion: 2, rollout: { phase: 'Idle', reason: 'Replaced' }, conditions: [progressing('Promoted')] },
      { kind: 'none', why: 'version 2 was not promoted (rollout phase Idle)' },
    ],
    [
      'status.rollout RolledBack',
      { stableVersion: 2, lastFailedVersion: 3, rollout: { phase: 'RolledBack', reason: 'ErrorRateTooHigh' } },
      { kind: 'none', why: 'version 2 was not promoted (rollout phase RolledBack)' },
    ],
    [
      'a rollback after a written-back promotion',
      { stableVersion: 2, lastFailedVersion: 3, conditions: [progressing('Idle')], writeBack: { version: 2 } },
      { kind: 'none', why: 'version 2 was not promoted (rollout phase Idle)' },
    ],
  ];
  for (const [name, status, want] of cases) {
    test(name, () => assert.deepEqual(planWriteBack(status, NOW, B), want));
  }

  test('backoff doubles from the base and stops at the cap', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 60].map((n) => backoffMs(n, B)),
      [0, 1000, 2000, 4000, 8000, 8000, 8000],
    );
    assert.equal(backoffMs(1), 5000);
  });
});

describe('writeBackStatus', () => {
  const at = '2026-11-23T08:00:00Z';
  const run = (prev: ModelStatus, o: WriteBackOutcome) => writeBackStatus(prev, 2, o, TARGET, NOW, 4, B);
  const wb = (prev: ModelStatus, o: WriteBackOutcome) => {
    const r = run(prev, o);
    return { writeBack: r.writeBack, cond: r.conditions.find((c) => c.type === 'WrittenBack'), event: r.event, requeueAfterMs: r.requeueAfterMs };
  };

  test('pushed: version and commit recorded, WrittenBack True, a Normal Event', () => {
    assert.deepEqual(wb(promoted(), { kind: 'pushed', commit: '0123456789abcdef' }), {
      writeBack: { version: 2, commit: '0123456789abcdef', lastAttemptTime: at },
      cond: {
        type: 'WrittenBack',
        status: 'True',
        reason: 'Pushed',
        message: 'version 2 pinned in deploy/models.lock.json on https://git.example/ml.git main (commit 0123456)',
        lastTransitionTime: at,
        observedGeneration: 4,
      },
      event: {
        type: 'Normal',
        reason: 'WrittenBack',
        message: 'version 2 pinned in deploy/models.lock.json on https://git.example/ml.git main (commit 0123456)',
      },
      requeueAfterMs: undefined,
    });
  });

  test('unchanged (a restart after the push): recorded without a commit or an Event', () => {
    assert.deepEqual(wb(promoted({ writeBack: { version: 1, commit: 'abcdef1' } }), { kind: 'unchanged' }), {
      writeBack: { version: 2, lastAttemptTime: at },
      cond: {
        type: 'WrittenBack',
        status: 'True',
        reason: 'AlreadyPinned',
        message: 'version 2 was already pinned in deploy/models.lock.json on https://git.example/ml.git main',
        lastTransitionTime: at,
        observedGeneration: 4,
      },
      event: undefined,
      requeueAfterMs: undefined,
    });
  });

  test('superseded: never downgrades, records the newer pin', () => {
    const r = wb(promoted(), { kind: 'superseded', pinned: 5 });
    assert.deepEqual(r.writeBack, { version: 2, supersededBy: 5, lastAttemptTime: at });
    assert.equal(r.cond?.reason, 'Superseded');
    assert.equal(r.cond?.message, 'deploy/models.lock.json on https://git.example/ml.git main pins version 5, newer than 2; not downgrading');
  });

  test('failed: counts the failure, keeps the last written version, backs off, one Warning per outage', () => {
    const first = run(promoted({ writeBack: { version: 1, commit: 'abcdef1' } }), { kind: 'failed', error: 'remote: hook declined' });
    assert.deepEqual(first.writeBack, { version: 1, commit: 'abcdef1', failures: 1, lastAttemptTime: at });
    assert.equal(first.requeueAfterMs, 1000);
    const cond = first.conditions.find((c) => c.type === 'WrittenBack')!;
    assert.deepEqual(cond, {
      type: 'WrittenBack',
      status: 'False',
      reason: 'PushFailed',
      message: 'writing version 2 to deploy/models.lock.json on https://git.example/ml.git main failed (attempt 1, next in 1 s): remote: hook declined',
      lastTransitionTime: at,
      observedGeneration: 4,
    });
    assert.deepEqual(first.event, { type: 'Warning', reason: 'WriteBackFailed', message: cond.message });
    // The second failure: the count grows, the transition time stays, no second Warning.
    const second = writeBackStatus(
      { ...promoted(), writeBack: first.writeBack, conditions: first.conditions },
      2,
      { kind: 'failed', error: 'remote: hook declined' },
      TARGET,
      NOW + 5000,
      4,
      B,
    );
    assert.equal(second.writeBack.failures, 2);
    assert.equal(second.requeueAfterMs, 2000);
    assert.equal(second.event, undefined);
    assert.equal(second.conditions.find((c) => c.type === 'WrittenBack')!.lastTransitionTime, at);
    // Then a success clears it: failures gone, True, and the Progressing condition untouched.
    const ok = writeBackStatus(
      { ...promoted(), writeBack: second.writeBack, conditions: second.conditions },
      2,
      { kind: 'pushed', commit: 'fedcba9876' },
      TARGET,
      NOW + 9000,
      4,
      B,
    );
    assert.deepEqual(ok.writeBack, { version: 2, commit: 'fedcba9876', lastAttemptTime: '2026-11-23T08:00:09Z' });
    assert.equal(ok.conditions.find((c) => c.type === 'WrittenBack')!.status, 'True');
    assert.deepEqual(
      ok.conditions.find((c) => c.type === 'Progressing'),
      progressing('Promoted'),
    );
  });
});
