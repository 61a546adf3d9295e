import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../../components/random.ts';
import {
  buildReferenceSummary,
  compareToReference,
  detectDrift,
  detectDriftFromPayloadLog,
  mergeSummaries,
  parseSummary,
  readPayloadLog,
  summarizeColumns,
  summarizePayloadLog,
  SummaryAccumulator,
  DriftError,
} from '../../components/drift/index.ts';

const rand = mulberry32(11);
const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const num = (name: string, n: number, f: () => number) => ({ name, type: 'numeric' as const, values: Float64Array.from({ length: n }, f) });
const cat = (name: string, values: (string | null)[]) => ({ name, type: 'categorical' as const, values });

describe('sketch error bounds hold against the exact statistics', () => {
  const shapes: [string, () => number, () => number][] = [
    ['normal shift', normal, () => normal() + 0.2],
    ['scale change', normal, () => normal() * 1.5],
    ['heavy tails', () => Math.tan(Math.PI * (rand() - 0.5)), () => Math.tan(Math.PI * (rand() - 0.5)) + 0.5],
    ['ties', () => Math.round(normal() * 3), () => Math.round(normal() * 3 + 0.5)],
    ['out of range', () => rand(), () => rand() * 3 - 1],
    ['identical', normal, normal],
  ];
  for (const [label, fr, fc] of shapes) {
    for (const [nr, nc] of [
      [800, 700],
      [20000, 15000],
    ]) {
      test(`${label}, ${nr} vs ${nc} rows: KS and Wasserstein within the bound; PSI and JS exact`, () => {
        const ref = [num('x', nr, fr)];
        const cur = [num('x', nc, fc)];
        const summary = buildReferenceSummary(ref, { fineBins: 200 });
        for (const t of ['ks', 'wasserstein', 'psi', 'jensenshannon'] as const) {
          const exact = detectDrift(ref, cur, { tests: t }).columns[0];
          const sketch = compareToReference(summary, cur, { tests: t }).columns[0];
          assert.equal(sketch.test, exact.test);
          const err = Math.abs(sketch.statistic! - exact.statistic!);
          const slack = 1e-12 * Math.max(1, Math.abs(exact.statistic!));
          if (t === 'ks') {
            assert.ok(
              exact.statistic! >= sketch.statistic! - slack && exact.statistic! <= sketch.statistic! + sketch.errorBound! + slack,
              `ks ${exact.statistic} not in [${sketch.statistic}, +${sketch.errorBound}]`,
            );
          } else if (t === 'wasserstein') {
            assert.ok(err <= sketch.errorBound! + slack, `wasserstein |${sketch.statistic} - ${exact.statistic}| > ${sketch.errorBound}`);
          } else {
            assert.ok(err <= slack, `${t}: ${sketch.statistic} vs ${exact.statistic}`);
            assert.equal(sketch.errorBound, 0);
          }
        }
      });
    }
  }
  test('categorical and low-cardinality numeric summaries are exact (chi-square and JS)', () => {
    const ref = [
      cat(
        'c',
        Array.from({ length: 900 }, () => ['a', 'b', 'c', null][Math.floor(rand() * 4)]),
      ),
      num('k', 900, () => Math.floor(rand() * 4)),
    ];
    const cur = [
      cat(
        'c',
        Array.from({ length: 500 }, () => ['a', 'b', 'z'][Math.floor(rand() * 3)]),
      ),
      num('k', 500, () => Math.floor(rand() * 5)),
    ];
    const exact = detectDrift(ref, cur);
    const sketch = compareToReference(buildReferenceSummary(ref), cur);
    exact.columns.forEach((e, i) => {
      const s = sketch.columns[i];
      assert.equal(s.test, e.test);
      assert.ok(Math.abs(s.statistic! - e.statistic!) <= 1e-12 * Math.max(1, e.statistic!), `${e.name}: ${s.statistic} vs ${e.statistic}`);
      assert.ok(Math.abs(s.pValue! - e.pValue!) <= 1e-12 * Math.max(1e-300, e.pValue!), `${e.name}: ${s.pValue} vs ${e.pValue}`);
      assert.deepEqual(s.missing, e.missing);
    });
    assert.deepEqual(sketch.columns[0].unseen, exact.columns[0].unseen);
  });
});

describe('summaries are fixed-memory, mergeable and serializable', () => {
  const ref = [
    num('x', 5000, normal),
    cat(
      'c',
      Array.from({ length: 5000 }, () => ['a', 'b'][Math.floor(rand() * 2)]),
    ),
  ];
  const summary = buildReferenceSummary(ref);
  test('size does not grow with rows', () => {
    const small = summarizeColumns(summary, [
      num('x', 1000, normal),
      cat(
        'c',
        Array.from({ length: 1000 }, () => 'a'),
      ),
    ]);
    const big = summarizeColumns(summary, [
      num('x', 200000, normal),
      cat(
        'c',
        Array.from({ length: 200000 }, () => 'a'),
      ),
    ]);
    // Same structure (every count slot, every key) whatever the row count: only the numbers differ.
    const shape = (o: unknown) => JSON.stringify(o).replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, '0');
    assert.equal(shape(big), shape(small));
    assert.equal((big.columns[0] as { counts: number[] }).counts.length, (summary.columns[0] as { counts: number[] }).counts.length);
  });
  test('merging two halves equals summarizing the whole', () => {
    const xs = Float64Array.from({ length: 4000 }, normal);
    const cs = Array.from({ length: 4000 }, (_, i) => (i % 3 ? 'a' : 'b'));
    const whole = summarizeColumns(summary, [{ name: 'x', type: 'numeric', values: xs }, cat('c', cs)]);
    const a = summarizeColumns(summary, [{ name: 'x', type: 'numeric', values: xs.subarray(0, 1500) }, cat('c', cs.slice(0, 1500))]);
    const b = summarizeColumns(summary, [{ name: 'x', type: 'numeric', values: xs.subarray(1500) }, cat('c', cs.slice(1500))]);
    const merged = mergeSummaries(a, b);
    const numericOf = (s: typeof whole) => s.columns[0] as { counts: number[]; n: number; min: number; max: number };
    assert.deepEqual(numericOf(merged).counts, numericOf(whole).counts);
    assert.equal(numericOf(merged).n, 4000);
    assert.deepEqual(merged.columns[1], whole.columns[1]);
    assert.deepEqual(
      compareToReference(summary, merged).columns.map((c) => c.statistic),
      compareToReference(summary, whole).columns.map((c) => c.statistic),
    );
  });
  test('JSON round trip gives the same comparison', () => {
    const cur = summarizeColumns(summary, [
      num('x', 3000, () => normal() + 0.5),
      cat(
        'c',
        Array.from({ length: 3000 }, () => 'a'),
      ),
    ]);
    const ref2 = parseSummary(JSON.parse(JSON.stringify(summary)), 'reference');
    const cur2 = parseSummary(JSON.parse(JSON.stringify(cur)), 'current');
    assert.deepEqual(compareToReference(ref2, cur2), compareToReference(summary, cur));
  });
  test('summaries of another reference are refused', () => {
    const other = buildReferenceSummary([
      num('x', 100, normal),
      cat(
        'c',
        Array.from({ length: 100 }, () => 'a'),
      ),
    ]);
    const cur = summarizeColumns(other, [
      num('x', 10, normal),
      cat(
        'c',
        Array.from({ length: 10 }, () => 'a'),
      ),
    ]);
    assert.throws(
      () => compareToReference(summary, cur),
      new DriftError(`the current summary was built for reference ${other.id}, not ${summary.id}; summarize against this reference`),
    );
    assert.throws(
      () => parseSummary({ format: 'x' }, 'reference', 'ref.json'),
      new DriftError('ref.json: format is "x", expected "ghosteam.drift.summary/v1"'),
    );
  });
  test('an empty window gives verdict empty, not NaN', () => {
    const r = compareToReference(summary, new SummaryAccumulator(summary).snapshot());
    assert.equal(r.status, 'empty');
    assert.ok(r.columns.every((c) => c.verdict === 'empty' && c.statistic === null));
    assert.ok(!JSON.stringify(r).includes('NaN'));
  });
  test('categories beyond maxCategories are pooled into other', () => {
    const s = buildReferenceSummary([cat('c', ['a', 'b', 'c'])], { maxCategories: 2 });
    const col = s.columns[0] as { counts: Record<string, number>; other: number };
    assert.deepEqual(col.counts, { a: 1, b: 1 });
    assert.equal(col.other, 1);
  });
});

describe('payload log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drift-log-'));
  const features = ['amount', 'age'];
  const refCols = [num('amount', 3000, () => 50 + 10 * normal()), num('age', 3000, () => 40 + 5 * normal())];
  const summary = buildReferenceSummary(refCols);
  const records: string[] = [];
  const t0 = Date.parse('2026-11-23T00:00:00Z');
  const allAmount: number[] = [];
  for (let i = 0; i < 120; i++) {
    const n = 1 + (i % 7);
    const data: number[] = [];
    const shift = i >= 60 ? 15 : 0;
    for (let r = 0; r < n; r++) {
      const amt = 50 + shift + 10 * normal();
      allAmount.push(amt);
      data.push(amt, 40 + 5 * normal());
    }
    records.push(
      JSON.stringify({
        ts: new Date(t0 + i * 60_000).toISOString(),
        model: 'fraud',
        version: '2',
        id: `r${i}`,
        inputs: { input: { shape: [n, 2], datatype: 'FP32', data } },
        outputs: { score: { shape: [n, 1], datatype: 'FP32', data: Array.from({ length: n }, () => rand()) } },
      }),
    );
  }
  const logPath = join(dir, 'payloads.jsonl');
  writeFileSync(logPath, records.join('\n') + '\n');

  test('the reader maps the tensor columns to the feature names and yields every row', async () => {
    let rows = 0;
    const amounts: number[] = [];
    for await (const b of readPayloadLog(logPath, { features })) {
      rows += b.rows;
      for (let r = 0; r < b.rows; r++) amounts.push(b.data[r * 2] as number);
    }
    assert.equal(rows, allAmount.length);
    assert.deepEqual(amounts, allAmount);
  });
  test('windows by count hold exactly that many rows; the last partial one is marked', async () => {
    const { windows } = await summarizePayloadLog(logPath, summary, { features, window: { count: 100 } });
    assert.equal(windows.length, Math.ceil(allAmount.length / 100));
    windows.slice(0, -1).forEach((w) => assert.equal(w.rows, 100));
    assert.equal(windows.at(-1)!.complete, allAmount.length % 100 === 0);
  });
  test('windows by time split at the duration boundaries', async () => {
    const { windows } = await summarizePayloadLog(logPath, summary, { features, window: { durationMs: 3600_000 } });
    assert.deepEqual(
      windows.map((w) => w.start),
      ['2026-11-23T00:00:00.000Z', '2026-11-23T01:00:00.000Z'],
    );
    assert.equal(windows[0].rows + windows[1].rows, allAmount.length);
  });
  test('detectDriftFromPayloadLog finds the drift in the second hour only', async () => {
    const r = await detectDriftFromPayloadLog(logPath, summary, { features, window: { durationMs: 3600_000 }, drift: { driftShare: 0.5 } });
    const amount = (i: number) => r.windows[i].result.columns.find((c) => c.name === 'amount')!;
    assert.equal(amount(0).drifted, false);
    assert.equal(amount(1).drifted, true);
    assert.equal(r.latest, r.windows[1].result);
    assert.equal(r.records, 120);
  });
  test('output tensors can be read as extra columns (prediction drift)', async () => {
    const withScore = buildReferenceSummary([...refCols, num('score', 1000, rand)]);
    const r = await summarizePayloadLog(logPath, withScore, { features, outputTensor: 'score', outputNames: ['score'] });
    assert.equal((r.windows[0].summary.columns[2] as { n: number }).n, allAmount.length);
  });
  test('bad records fail with file:line and the fix, or are skipped and counted', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${records[0]}\n{not json\n${JSON.stringify({ ts: '2026-11-23T00:00:00Z', inputs: { input: { shape: [1, 3], data: [1, 2, 3] } } })}\n`);
    await assert.rejects(summarizePayloadLog(bad, summary, { features }), { name: 'DriftError', message: `${bad}:2: not valid JSON` });
    const r = await summarizePayloadLog(bad, summary, { features, skipInvalid: true });
    assert.equal(r.skipped, 2);
    const third = join(dir, 'cols.jsonl');
    writeFileSync(third, `${JSON.stringify({ ts: '2026-11-23T00:00:00Z', inputs: { input: { shape: [1, 3], data: [1, 2, 3] } } })}\n`);
    await assert.rejects(summarizePayloadLog(third, summary, { features }), {
      name: 'DriftError',
      message: `${third}:1: inputs.input has 3 columns but 2 names are declared; make the DriftMonitor's feature list match the model's input`,
    });
    await assert.rejects(summarizePayloadLog(join(dir, 'nope.jsonl'), summary, { features }), {
      name: 'DriftError',
      message: `cannot read payload log ${join(dir, 'nope.jsonl')}: ENOENT`,
    });
  });
  test('model filter and an empty log give an empty verdict', async () => {
    const r = await detectDriftFromPayloadLog(logPath, summary, { features, model: 'other' });
    assert.equal(r.latest.status, 'empty');
    assert.equal(r.latest.datasetDrift, false);
  });
});
