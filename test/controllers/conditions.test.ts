import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setConditions } from '../../controllers/planners/conditions.ts';
import { jsonEqual } from '../../api/json.ts';

const T0 = Date.parse('2026-11-23T04:00:00.700Z');
test('lastTransitionTime changes only when the status flips', () => {
  const a = setConditions(undefined, [{ type: 'Ready', status: 'False', reason: 'Progressing', message: 'm1' }], T0, 1);
  assert.deepEqual(a, [
    { type: 'Ready', status: 'False', reason: 'Progressing', message: 'm1', lastTransitionTime: '2026-11-23T04:00:00Z', observedGeneration: 1 },
  ]);
  const b = setConditions(a, [{ type: 'Ready', status: 'False', reason: 'Other', message: 'm2' }], T0 + 60_000, 2);
  assert.equal(b[0].lastTransitionTime, '2026-11-23T04:00:00Z');
  assert.equal(b[0].reason, 'Other');
  const c = setConditions(b, [{ type: 'Ready', status: 'True', reason: 'Ready', message: '' }], T0 + 120_000, 2);
  assert.equal(c[0].lastTransitionTime, '2026-11-23T04:02:00Z');
});
test('jsonEqual ignores undefined fields and compares deeply', () => {
  assert.equal(jsonEqual({ a: 1, b: undefined, c: [1, { d: 2 }] }, { c: [1, { d: 2 }], a: 1 }), true);
  assert.equal(jsonEqual({ a: [1, 2] }, { a: [2, 1] }), false);
  assert.equal(jsonEqual({ a: null }, { a: 0 }), false);
});
