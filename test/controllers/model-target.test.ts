// decideTarget: which version a Model rolls out, for every shape of spec.modelRef.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decideTarget, followedAlias, type TargetDecision } from '../../controllers/planners/model-target.ts';
import { planCanary, type CanaryPolicy } from '../../controllers/planners/canary.ts';
import type { ModelRef, ModelStatus } from '../../api/crds/types.ts';

type St = Pick<ModelStatus, 'stableVersion' | 'canaryVersion' | 'lastFailedVersion'>;
const fixed: ModelRef = { name: 'fraud', version: 2 };
const latest: ModelRef = { name: 'fraud', alias: 'latest' };
const bare: ModelRef = { name: 'fraud' };
const champ: ModelRef = { name: 'fraud', alias: 'champion' };
const pinLatest: ModelRef = { name: 'fraud', version: 2, alias: 'latest' };
const pinChamp: ModelRef = { name: 'fraud', version: 2, alias: 'champion' };
const pinStaging: ModelRef = { name: 'fraud', version: 2, alias: 'staging' };

describe('followedAlias', () => {
  test('a fixed version follows nothing; no version defaults to latest; a pin keeps its alias', () => {
    assert.equal(followedAlias(fixed), undefined);
    assert.equal(followedAlias(bare), 'latest');
    assert.equal(followedAlias(champ), 'champion');
    assert.equal(followedAlias(pinStaging), 'staging');
  });
});

describe('decideTarget', () => {
  const d = (target: number | undefined, rule: TargetDecision['rule'], manageAlias: boolean): TargetDecision => ({ target, rule, manageAlias });
  const cases: Array<[string, ModelRef, number | undefined, St, TargetDecision]> = [
    // Fixed: exactly the version, whatever the registry or the rollout says; champion untouched.
    ['fixed, nothing served', fixed, undefined, {}, d(2, 'fixed', false)],
    ['fixed, older than serving (forces a rollback)', fixed, undefined, { stableVersion: 3 }, d(2, 'fixed', false)],
    ['fixed, ignores an alias version passed in', fixed, 5, { stableVersion: 2 }, d(2, 'fixed', false)],
    ['fixed, its version failed (the canary planner keeps it rejected)', fixed, undefined, { stableVersion: 1, lastFailedVersion: 2 }, d(2, 'fixed', false)],
    // Following only: the alias's version, as before; champion managed unless followed.
    ['latest resolved', latest, 3, { stableVersion: 2 }, d(3, 'alias', true)],
    ['no alias means latest', bare, 3, {}, d(3, 'alias', true)],
    ['latest unresolved: no target', latest, undefined, { stableVersion: 2 }, d(undefined, 'alias', true)],
    ['latest older than serving: followed (alias-only is unchanged)', latest, 1, { stableVersion: 2 }, d(1, 'alias', true)],
    ['latest at a failed version: left to the canary planner', latest, 3, { stableVersion: 2, lastFailedVersion: 3 }, d(3, 'alias', true)],
    ['champion followed: not managed', champ, 4, { stableVersion: 2 }, d(4, 'alias', false)],
    // Pinned and following: the pin is the baseline, the alias the source of candidates.
    ['pinned, nothing served: the pin first, even with a newer alias', pinLatest, 3, {}, d(2, 'pin', true)],
    ['pinned, nothing served, registry down', pinLatest, undefined, {}, d(2, 'pin', true)],
    ['pinned, alias newer: the candidate', pinLatest, 3, { stableVersion: 2 }, d(3, 'alias', true)],
    ['pinned, alias equal to the pin', pinLatest, 2, { stableVersion: 2 }, d(2, 'pin', true)],
    ['pinned, alias older than the pin', pinLatest, 1, { stableVersion: 2 }, d(2, 'pin', true)],
    ['pinned, alias newer but failed its canary: the pin', pinLatest, 3, { stableVersion: 2, lastFailedVersion: 3 }, d(2, 'pin', true)],
    ['pinned, a later version after a failed one', pinLatest, 4, { stableVersion: 2, lastFailedVersion: 3 }, d(4, 'alias', true)],
    ['pinned, registry down or alias missing: the pin, no error', pinLatest, undefined, { stableVersion: 2 }, d(2, 'pin', true)],
    ['pinned, registry down mid-canary: the canary goes on', pinLatest, undefined, { stableVersion: 2, canaryVersion: 3 }, d(3, 'canary', true)],
    ['pinned, alias moved on mid-canary: supersedes', pinLatest, 4, { stableVersion: 2, canaryVersion: 3 }, d(4, 'alias', true)],
    ['pinned, alias moved back mid-canary: the baseline', pinStaging, 2, { stableVersion: 2, canaryVersion: 3 }, d(2, 'pin', true)],
    [
      'pinned, canary of the pin itself in flight, registry down',
      { name: 'fraud', version: 4, alias: 'latest' },
      undefined,
      { stableVersion: 3, canaryVersion: 4 },
      d(4, 'pin', true),
    ],
    ['pin ahead of serving (bumped by hand): rolled out', { name: 'fraud', version: 4, alias: 'champion' }, 3, { stableVersion: 3 }, d(4, 'pin', false)],
    // A pin behind what serves (write-back pending, or reverted by hand in Git) never rolls back.
    ['pin reverted below serving, alias at serving', { name: 'fraud', version: 1, alias: 'latest' }, 3, { stableVersion: 3 }, d(3, 'serving', true)],
    ['pin reverted below serving, alias higher still', { name: 'fraud', version: 1, alias: 'latest' }, 4, { stableVersion: 3 }, d(4, 'alias', true)],
    ['pin behind serving, alias failed', pinLatest, 4, { stableVersion: 3, lastFailedVersion: 4 }, d(3, 'serving', true)],
    ['pin behind serving, registry down', pinLatest, undefined, { stableVersion: 3 }, d(3, 'serving', true)],
    ['pinned following champion, champion newer', pinChamp, 3, { stableVersion: 2 }, d(3, 'alias', false)],
    ['pinned following a custom alias', pinStaging, 5, { stableVersion: 2 }, d(5, 'alias', true)],
  ];
  for (const [name, ref, aliasVersion, status, want] of cases) {
    test(name, () => assert.deepEqual(decideTarget(ref, aliasVersion, status), want));
  }

  test('status is optional', () => {
    assert.deepEqual(decideTarget(pinLatest, 3), d(2, 'pin', true));
  });
});

// The decision feeds planCanary: a failed candidate is not retried, for either shape.
describe('decideTarget with planCanary: a failed version is not retried', () => {
  const policy: CanaryPolicy = {
    steps: [50],
    stepDurationMs: 1000,
    maxErrorRate: 0.05,
    maxP99LatencyMs: 500,
    maxPredictionDrift: Number.POSITIVE_INFINITY,
    minRequests: 1,
  };
  const rolledBack = { phase: 'RolledBack' as const, stableVersion: 2, rejectedVersion: 3, analyses: [] };
  for (const ref of [pinLatest, latest]) {
    test(`${ref.version === undefined ? 'following' : 'pinned'}: v3 rejected, latest still 3 -> no rollout; v4 -> a canary of v4`, () => {
      const observe = (aliasVersion: number) => {
        const t = decideTarget(ref, aliasVersion, { stableVersion: 2, lastFailedVersion: 3 });
        return planCanary(
          {
            model: 'ml/fraud',
            targetVersion: t.target,
            policy,
            rollout: rolledBack,
            serving: { stableVersion: 2, canaryPercent: 0 },
            champion: 2,
            manageAlias: t.manageAlias,
          },
          0,
        );
      };
      const stay = observe(3);
      assert.deepEqual(stay.actions, []);
      assert.equal(stay.status.phase, 'RolledBack');
      const next = observe(4);
      assert.equal(next.status.phase, 'Progressing');
      assert.equal(next.status.canaryVersion, 4);
      assert.deepEqual(
        next.actions.filter((a) => a.type === 'serve'),
        [{ type: 'serve', stableVersion: 2, canaryVersion: 4, canaryPercent: 50 }],
      );
    });
  }
});
