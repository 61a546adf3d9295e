/**
 * A construct's `@default` is the value the operator applies: the docs name ROLLOUT_DEFAULTS, the
 * operator's policyOf uses it, and this reads both back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROLLOUT_DEFAULTS } from '../../api/crds/types.ts';
import { parseDuration } from '../../api/names.ts';
import { Rollout } from '../../charts/rollout.ts';
import { policyOf } from '../../controllers/reconcilers/model.ts';
import { modelObject } from '../controllers/fakes.ts';

const root = resolve(import.meta.dirname, '../..');

test("Rollout.canary's @default docs state the values in ROLLOUT_DEFAULTS", () => {
  const src = readFileSync(resolve(root, 'charts/rollout.ts'), 'utf8');
  const docs = [...src.matchAll(/@default (\S+) \(ROLLOUT_DEFAULTS\.(\w+)/g)].map((m) => [m[2], m[1]] as const);
  assert.deepEqual(docs.map(([k]) => k).sort(), ['intervalSeconds', 'maxErrorRate', 'minRequests']);
  for (const [key, shown] of docs) {
    const value = key === 'intervalSeconds' ? parseDuration(shown.replace(/'/g, '')) : Number(shown);
    assert.equal(value, ROLLOUT_DEFAULTS[key as keyof typeof ROLLOUT_DEFAULTS], `@default of ${key}`);
  }
});

test('a canary Model that sets no thresholds gets ROLLOUT_DEFAULTS from the operator', () => {
  const spec = structuredClone(modelObject('fraud').spec);
  const canary = Rollout.canary({ steps: [10, 50] }).spec;
  assert.equal(canary.intervalSeconds, ROLLOUT_DEFAULTS.intervalSeconds);
  const policy = policyOf({ ...spec, rollout: canary });
  assert.deepEqual(
    [policy?.stepDurationMs, policy?.maxErrorRate, policy?.minRequests, policy?.maxP99LatencyMs, policy?.maxPredictionDrift],
    [ROLLOUT_DEFAULTS.intervalSeconds * 1000, 0.05, 20, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY],
  );
});
