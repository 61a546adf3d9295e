// The point-in-time join: table cases for each rule, then every small case exhaustively against the
// definition written the slow way (scan all rows, keep the admissible one with the greatest
// (event time, created time, row)).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPitIndex, pitLookup, pointInTimeJoin } from '../../components/features/pit.ts';

const H = 3_600_000;

function naive(keys: (string | null)[], times: number[], created: number[] | undefined, key: string | null, t: number, ttl: number): number {
  let best = -1;
  for (let i = 0; i < keys.length; i++) {
    if (key === null || keys[i] !== key || Number.isNaN(times[i]) || times[i] > t) continue;
    if (ttl > 0 && times[i] < t - ttl) continue;
    // Not yet written at t (or never known when): not usable.
    if (created && !(created[i] <= t)) continue;
    if (best < 0) {
      best = i;
      continue;
    }
    const a = [times[i], created ? (Number.isNaN(created[i]) ? -Infinity : created[i]) : 0, i];
    const b = [times[best], created ? (Number.isNaN(created[best]) ? -Infinity : created[best]) : 0, best];
    if (a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])))) best = i;
  }
  return best;
}

describe('pitLookup', () => {
  // Feature rows of key 'a' at 1h, 3h, 5h and of key 'b' at 2h.
  const keys = ['a', 'a', 'b', 'a'];
  const times = new Float64Array([1 * H, 5 * H, 2 * H, 3 * H]);
  const index = buildPitIndex({ keys, times });
  const cases: [string, string | null, number, number, number][] = [
    ['latest at or before the time', 'a', 4 * H, 0, 3],
    ['a value at exactly the entity time is used', 'a', 3 * H, 0, 3],
    ['never a value from the future', 'a', 0.5 * H, 0, -1],
    ['the last value, long after', 'a', 100 * H, 0, 1],
    ['TTL: the latest value is too old', 'a', 4 * H, 0.5 * H, -1],
    ['TTL: exactly ttl old is still usable', 'a', 4 * H, 1 * H, 3],
    ['TTL: one ms older is not', 'a', 4 * H + 1, 1 * H, -1],
    ['TTL does not fall back to an older value', 'a', 3.5 * H, 0.25 * H, -1],
    ['another key', 'b', 3 * H, 0, 2],
    ['an unknown key', 'c', 3 * H, 0, -1],
    ['a missing key', null, 3 * H, 0, -1],
    ['a missing time', 'a', NaN, 0, -1],
  ];
  for (const [name, key, t, ttl, want] of cases) test(name, () => assert.equal(pitLookup(index, key, t, ttl), want));

  test('ties: the later created time wins, then the later row', () => {
    const k = ['a', 'a', 'a', 'a'];
    const ts = new Float64Array([H, H, H, 2 * H]);
    assert.equal(pitLookup(buildPitIndex({ keys: k, times: ts, created: new Float64Array([5, 9, 7, 0]) }), 'a', H, 0), 1);
    assert.equal(pitLookup(buildPitIndex({ keys: k, times: ts }), 'a', H, 0), 2);
    assert.equal(pitLookup(buildPitIndex({ keys: k, times: ts, created: new Float64Array([5, 5, 3, 0]) }), 'a', H, 0), 1);
  });

  test('created time: a row written after the entity time is not used (no leakage of late corrections); one without is never used', () => {
    const k = ['a', 'a', 'a'];
    const ts = new Float64Array([H, 2 * H, 2 * H]);
    // At 2h: the 2h rows were written at 3h and never → the 1h row (written at 1h).
    const index = buildPitIndex({ keys: k, times: ts, created: new Float64Array([H, 3 * H, NaN]) });
    assert.equal(pitLookup(index, 'a', 2 * H, 0), 0);
    assert.equal(pitLookup(index, 'a', 3 * H, 0), 1);
    // The TTL still counts from the event time: at 2h with a 30 min TTL the 1h row is too old.
    assert.equal(pitLookup(index, 'a', 2 * H, 0.5 * H), -1);
  });

  test('late rows (out of time order in the source) are ordered by time, not position', () => {
    const index2 = buildPitIndex({ keys: ['a', 'a', 'a'], times: new Float64Array([5 * H, 1 * H, 3 * H]) });
    assert.equal(pitLookup(index2, 'a', 4 * H, 0), 2);
    assert.equal(pitLookup(index2, 'a', 2 * H, 0), 1);
    assert.equal(pitLookup(index2, 'a', 6 * H, 0), 0);
  });

  test('rows with a missing key or time never match', () => {
    const index3 = buildPitIndex({ keys: [null, 'a', 'a'], times: new Float64Array([H, NaN, 2 * H]) });
    assert.equal(pitLookup(index3, 'a', 1.5 * H, 0), -1);
    assert.equal(pitLookup(index3, 'a', 2 * H, 0), 2);
  });
});

describe('pointInTimeJoin equals the definition on every small case', () => {
  test('all feature tables of up to 4 rows over 2 keys, 3 times and 3 created times, every query', () => {
    const keyOpts = ['a', 'b'];
    const timeOpts = [0, 1, 2];
    const createdOpts = [NaN, 1, 2];
    let checked = 0;
    // Each row is (key, time, created): 2*3*3 = 18 choices; enumerate tables of 0..3 rows fully, and 4 rows sampled.
    const rowChoices: [string, number, number][] = [];
    for (const k of keyOpts) for (const t of timeOpts) for (const c of createdOpts) rowChoices.push([k, t, c]);
    const tables: [string, number, number][][] = [[]];
    for (let n = 1; n <= 3; n++) {
      const prev = tables.filter((t) => t.length === n - 1);
      for (const p of prev) for (const r of rowChoices) tables.push([...p, r]);
    }
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 3000; i++) tables.push(Array.from({ length: 4 }, () => rowChoices[Math.floor(rnd() * rowChoices.length)]));
    const queries: [string | null, number][] = [];
    for (const k of ['a', 'b', 'z', null]) for (const t of [-1, 0, 0.5, 1, 1.5, 2, 3]) queries.push([k, t]);
    for (const table of tables) {
      const keys = table.map((r) => r[0]);
      const times = table.map((r) => r[1]);
      for (const withCreated of [false, true]) {
        const created = withCreated ? table.map((r) => r[2]) : undefined;
        const index = buildPitIndex({ keys, times: Float64Array.from(times), created: created && Float64Array.from(created) });
        for (const ttl of [0, 1, 2]) {
          for (const [k, t] of queries) {
            const got = pitLookup(index, k, t, ttl);
            const want = naive(keys, times, created, k, t, ttl);
            if (got !== want) assert.fail(`table ${JSON.stringify(table)} created=${withCreated} ttl=${ttl} query ${k}@${t}: got row ${got}, want ${want}`);
            checked++;
          }
        }
      }
    }
    assert.ok(checked > 1_000_000, `checked ${checked}`);
  });

  test('pointInTimeJoin maps every entity row', () => {
    const rows = pointInTimeJoin(
      { keys: ['a', 'b', 'a', null], times: new Float64Array([2, 2, 0.5, 2]) },
      { keys: ['a', 'b', 'a'], times: new Float64Array([1, 3, 2]) },
      0,
    );
    assert.deepEqual([...rows], [2, -1, -1, -1]);
  });
});
