// The DriftMonitor's status parts for people (controllers/planners/drift-history.ts): histograms
// made small for etcd and a bounded history of checks. Pure, table-tested.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendDriftHistory, compactHistogram, type HistogramInput } from '../../controllers/planners/drift-history.ts';
import { DRIFT_HISTORY_MAX, type DriftCheckRecord } from '../../api/crds/types.ts';

const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
const shares = (n: number, seed: number): number[] => {
  const raw = Array.from({ length: n }, (_, i) => ((i * 7919 + seed * 104729) % 97) + 1);
  const t = sum(raw);
  return raw.map((x) => x / t);
};

test('numeric bins are merged in runs of adjacent bins: shares summed, outer edges kept, at most maxBins', () => {
  for (const [n, maxBins] of [
    [30, 20],
    [30, 15],
    [30, 30],
    [31, 20],
    [7, 20],
    [100, 20],
    [2, 2],
  ] as const) {
    const edges = Array.from({ length: n + 1 }, (_, i) => -3 + (i * 6) / n);
    const reference = shares(n, 1);
    const current = shares(n, 2);
    const h = compactHistogram({ kind: 'numeric', edges, reference, current }, maxBins)!;
    const run = Math.ceil(n / maxBins);
    assert.ok(h.reference.length <= maxBins, `${n}/${maxBins}: ${h.reference.length} bins`);
    assert.equal(h.reference.length, Math.ceil(n / run));
    assert.equal(h.edges!.length, h.reference.length + 1);
    assert.equal(h.edges![0], edges[0]);
    assert.equal(h.edges!.at(-1), edges[n]);
    for (let b = 0; b < h.reference.length; b++) {
      assert.equal(h.edges![b], edges[b * run], 'each kept edge is an original edge');
      const want = sum(reference.slice(b * run, (b + 1) * run));
      assert.ok(Math.abs(h.reference[b] - want) <= 1e-6, `bin ${b}: ${h.reference[b]} vs ${want}`);
    }
    assert.ok(Math.abs(sum(h.reference) - 1) < 1e-4 && Math.abs(sum(h.current) - 1) < 1e-4, 'shares still sum to 1');
  }
});

test('categories are kept most frequent first; the rest are summed into (other)', () => {
  const categories = Array.from({ length: 25 }, (_, i) => `c${i}`);
  const reference = shares(25, 3);
  const current = shares(25, 4);
  const h = compactHistogram({ kind: 'categorical', categories, reference, current }, 20)!;
  assert.equal(h.categories!.length, 20);
  assert.equal(h.categories!.at(-1), '(other)');
  const weight = (c: string) => {
    const i = categories.indexOf(c);
    return Math.max(reference[i], current[i]);
  };
  const kept = h.categories!.slice(0, -1);
  for (let i = 1; i < kept.length; i++) assert.ok(weight(kept[i - 1]) >= weight(kept[i]), 'most frequent first');
  const dropped = categories.filter((c) => !kept.includes(c));
  assert.equal(dropped.length, 6);
  for (const d of dropped) assert.ok(weight(d) <= weight(kept.at(-1)!), `${d} was less frequent than every kept category`);
  const otherRef = sum(dropped.map((c) => reference[categories.indexOf(c)]));
  assert.ok(Math.abs(h.reference.at(-1)! - otherRef) <= 1e-6);
  // Few categories: all kept, no (other).
  const small = compactHistogram({ kind: 'categorical', categories: ['a', 'b'], reference: [0.25, 0.75], current: [0.5, 0.5] })!;
  assert.deepEqual(small, { kind: 'categorical', categories: ['b', 'a'], reference: [0.75, 0.25], current: [0.5, 0.5] });
});

test('inputs that cannot be drawn give nothing rather than a wrong chart', () => {
  const bad: HistogramInput[] = [
    { kind: 'numeric', edges: [0, 1], reference: [], current: [] },
    { kind: 'numeric', edges: [0, 1, 2], reference: [0.5, 0.5], current: [1] },
    { kind: 'numeric', reference: [1], current: [1] },
    { kind: 'numeric', edges: [0, 1], reference: [0.5, 0.5], current: [0.5, 0.5] },
    { kind: 'categorical', categories: ['a'], reference: [0.5, 0.5], current: [0.5, 0.5] },
  ];
  for (const h of bad) assert.equal(compactHistogram(h), undefined, JSON.stringify(h));
  const nan = compactHistogram({ kind: 'numeric', edges: [0, 1, 2], reference: [Number.NaN, 1], current: [2, -1] })!;
  assert.deepEqual(nan.reference, [0, 1], 'a non-finite share is 0');
  assert.deepEqual(nan.current, [1, 0], 'shares are clamped to [0, 1]');
});

test('the history keeps the newest checks in time order, at most the bound, one per time', () => {
  const rec = (m: number, share = m / 100): DriftCheckRecord => ({
    time: new Date(Date.UTC(2026, 11, 2, 0, m)).toISOString(),
    samples: 100 + m,
    driftShare: share,
  });
  let h: DriftCheckRecord[] | undefined;
  for (let m = 0; m < DRIFT_HISTORY_MAX + 10; m++) h = appendDriftHistory(h, rec(m));
  assert.equal(h!.length, DRIFT_HISTORY_MAX);
  assert.equal(h![0].time, rec(10).time, 'the oldest are dropped');
  assert.equal(h!.at(-1)!.time, rec(DRIFT_HISTORY_MAX + 9).time);
  const again = appendDriftHistory(h, rec(DRIFT_HISTORY_MAX + 9, 0.9));
  assert.equal(again.length, DRIFT_HISTORY_MAX, 'a record for a kept time replaces it');
  assert.equal(again.at(-1)!.driftShare, 0.9);
  const late = appendDriftHistory([rec(5), rec(7)], rec(6), 3);
  assert.deepEqual(
    late.map((r) => r.samples),
    [105, 106, 107],
    'out-of-order records are placed by time',
  );
  assert.deepEqual(appendDriftHistory(undefined, rec(1), 2), [rec(1)]);
  assert.equal(appendDriftHistory([rec(1), rec(2)], rec(3), 2)[0].samples, 102);
});
