import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../components/random.ts';
import {
  detectDrift,
  detectDriftParallel,
  selectTest,
  ks2samp,
  wasserstein,
  stdDev,
  psi,
  jensenShannon,
  sortNumeric,
  quantileEdges,
  mmdTest,
  pcaReconstructionDrift,
  matrixFromColumns,
  DriftError,
  type ColumnData,
} from '../../components/drift/index.ts';
import { radixSortInPlace } from '../../components/drift/sort.ts';

const rand = mulberry32(7);
const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const num = (name: string, n: number, f: () => number) => ({ name, type: 'numeric' as const, values: Float64Array.from({ length: n }, f) });
const cat = (name: string, values: (string | null)[]): ColumnData => ({ name, type: 'categorical', values });

describe('sorting', () => {
  test('radix sort equals Float64Array#sort, with negatives, zeros, subnormals and ties', () => {
    const a = Float64Array.from({ length: 50000 }, (_, i) =>
      i % 7 === 0 ? 0 : i % 11 === 0 ? -0 : i % 13 === 0 ? 5e-324 : i % 5 === 0 ? Math.round(normal()) : normal() * 10 ** (i % 9),
    );
    const expected = a.slice().sort();
    const got = a.slice();
    radixSortInPlace(got);
    assert.deepEqual(
      Array.from(got, (x) => x + 0),
      Array.from(expected, (x) => x + 0),
    );
  });
  test('sortNumeric drops and counts NaN and ±Infinity', () => {
    const r = sortNumeric([3, NaN, 1, Infinity, -Infinity, 2]);
    assert.deepEqual(Array.from(r.sorted), [1, 2, 3]);
    assert.equal(r.missing, 3);
  });
});

describe('auto test selection (Evidently rule)', () => {
  test('reference <= 1000 rows: KS for numeric, chi-square for categorical and low-cardinality numeric', () => {
    assert.equal(selectTest('numeric', 1000, 100), 'ks');
    assert.equal(selectTest('numeric', 1000, 5), 'chisquare');
    assert.equal(selectTest('categorical', 10, 50), 'chisquare');
  });
  test('reference > 1000 rows: Wasserstein for numeric, Jensen-Shannon for categorical and low-cardinality numeric', () => {
    assert.equal(selectTest('numeric', 1001, 6), 'wasserstein');
    assert.equal(selectTest('numeric', 1001, 5), 'jensenshannon');
    assert.equal(selectTest('categorical', 5000, 3), 'jensenshannon');
  });
  test('detectDrift applies the rule and the thresholds (p < 0.05, distance >= 0.1)', () => {
    const small = detectDrift([num('x', 500, normal)], [num('x', 400, () => normal() + 1)]);
    assert.equal(small.columns[0].test, 'ks');
    assert.equal(small.columns[0].threshold, 0.05);
    assert.ok(small.columns[0].pValue! < 0.05 && small.columns[0].drifted);
    const big = detectDrift([num('x', 2000, normal)], [num('x', 2000, () => normal() + 0.05)]);
    assert.equal(big.columns[0].test, 'wasserstein');
    assert.equal(big.columns[0].pValue, null);
    assert.equal(big.columns[0].drifted, big.columns[0].statistic! >= 0.1);
  });
});

describe('column statistics', () => {
  test('normed Wasserstein is the distance over the reference std', () => {
    const ref = num('x', 3000, () => normal() * 4);
    const cur = num('x', 3000, () => normal() * 4 + 1);
    const r = detectDrift([ref], [cur]);
    const a = sortNumeric(ref.values).sorted;
    const b = sortNumeric(cur.values).sorted;
    assert.equal(r.columns[0].statistic, wasserstein(a, b) / stdDev(a));
    const raw = detectDrift([ref], [cur], { wassersteinNormed: false });
    assert.equal(raw.columns[0].statistic, wasserstein(a, b));
  });
  test('PSI uses reference quantile bins; identical data gives 0 and a shift gives > 0.1', () => {
    const ref = num('x', 5000, normal);
    assert.equal(detectDrift([ref], [ref], { tests: 'psi' }).columns[0].statistic, 0);
    const r = detectDrift([ref], [num('x', 5000, () => normal() + 1)], { tests: 'psi', bins: 10 });
    assert.ok(r.columns[0].statistic! > 0.1, String(r.columns[0].statistic));
    const a = sortNumeric(ref.values).sorted;
    assert.equal(quantileEdges(a, 10).length, 9);
  });
  test('PSI replaces empty shares with epsilon and stays finite', () => {
    const v = psi([10, 0], [0, 10], 1e-4);
    assert.ok(Number.isFinite(v));
    assert.equal(v, (1e-4 - 1) * Math.log(1e-4) + (1 - 1e-4) * Math.log(1 / 1e-4));
  });
  test('Jensen-Shannon distance of disjoint distributions is sqrt(ln 2) (natural log)', () => {
    assert.equal(jensenShannon([1, 0], [0, 1]), Math.sqrt(Math.LN2));
  });
  test('KS forced with tests: ks on big data uses the asymptotic method', () => {
    const ref = num('x', 20000, normal);
    const cur = num('x', 15000, normal);
    const r = detectDrift([ref], [cur], { tests: 'ks' });
    const direct = ks2samp(sortNumeric(ref.values).sorted, sortNumeric(cur.values).sorted);
    assert.equal(direct.method, 'asymp');
    assert.equal(r.columns[0].test, 'ks');
    assert.equal(r.columns[0].statistic, direct.statistic);
    assert.equal(r.columns[0].pValue, direct.pValue);
  });
});

describe('categorical columns', () => {
  test('unseen categories are listed with their counts and tested', () => {
    const ref = cat(
      'c',
      Array.from({ length: 600 }, (_, i) => ['a', 'b', 'c'][i % 3]),
    );
    const cur = cat(
      'c',
      Array.from({ length: 600 }, (_, i) => ['a', 'b', 'c', 'NEW'][i % 4]),
    );
    const r = detectDrift([ref], [cur]);
    assert.deepEqual(r.columns[0].unseen, { NEW: 150 });
    assert.equal(r.columns[0].test, 'chisquare');
    assert.ok(r.columns[0].drifted);
  });
  test('a numeric test forced on a categorical column falls back to auto and says so', () => {
    const r = detectDrift([cat('c', ['a', 'b'])], [cat('c', ['a', 'b'])], { tests: 'ks' });
    assert.equal(r.columns[0].test, 'chisquare');
    assert.equal(r.columns[0].note, 'ks does not apply to this categorical column; used chisquare');
  });
});

describe('missing, constant and empty', () => {
  test('missing values are counted per column, not dropped silently', () => {
    const r = detectDrift(
      [num('x', 100, () => (rand() < 0.25 ? NaN : normal())), cat('c', ['a', null, 'b', null])],
      [num('x', 50, () => NaN), cat('c', [null, 'a'])],
    );
    const x = r.columns[0];
    assert.equal(x.missing.reference + x.count.reference, 100);
    assert.ok(x.missing.reference > 0);
    assert.deepEqual(x.missing, { reference: x.missing.reference, current: 50 });
    assert.deepEqual(r.columns[1].missing, { reference: 2, current: 1 });
  });
  test('an all-missing current column gets verdict empty and no NaN', () => {
    const r = detectDrift([num('x', 100, normal)], [num('x', 50, () => NaN)]);
    assert.equal(r.columns[0].verdict, 'empty');
    assert.equal(r.columns[0].statistic, null);
    assert.equal(r.columns[0].note, 'not tested: current window has no non-missing values');
    assert.equal(r.testedColumns, 0);
    assert.equal(r.driftShare, 0);
    assert.equal(r.datasetDrift, false);
  });
  test('an empty current window gives status empty, never NaN', () => {
    const r = detectDrift([num('x', 100, normal), cat('c', ['a', 'b'])], [num('x', 0, normal), cat('c', [])]);
    assert.equal(r.status, 'empty');
    assert.ok(!JSON.stringify(r).includes('NaN'));
    assert.ok(r.columns.every((c) => c.verdict === 'empty'));
  });
  test('constant columns: same constant is verdict constant; a moved constant drifts', () => {
    for (const n of [500, 5000]) {
      const same = detectDrift([num('k', n, () => 3)], [num('k', n, () => 3)]);
      assert.equal(same.columns[0].verdict, 'constant');
      assert.equal(same.columns[0].drifted, false);
      assert.ok(Number.isFinite(same.columns[0].statistic!));
      for (const t of ['ks', 'wasserstein', 'psi', 'jensenshannon', 'chisquare'] as const) {
        const moved = detectDrift([num('k', n, () => 3)], [num('k', n, () => 4)], { tests: t });
        assert.equal(moved.columns[0].drifted, true, `${t} n=${n}`);
        assert.ok(Number.isFinite(moved.columns[0].statistic!), `${t} n=${n}`);
      }
    }
  });
});

describe('dataset drift and corrections', () => {
  const ref = [num('a', 300, normal), num('b', 300, normal), num('c', 300, normal), num('d', 300, normal)];
  const cur = [num('a', 300, () => normal() + 1), num('b', 300, () => normal() + 0.3), num('c', 300, normal), num('d', 300, normal)];
  test('dataset drift is the drifted share against the threshold (default 0.5)', () => {
    const r = detectDrift(ref, cur);
    assert.equal(r.driftShare, r.driftedColumns / 4);
    assert.equal(r.datasetDrift, r.driftShare >= 0.5);
    const strict = detectDrift(ref, cur, { driftShare: 0.25 });
    assert.equal(strict.datasetDrift, strict.driftedColumns >= 1);
  });
  test('Bonferroni multiplies p-values by the number of tests; FDR is Benjamini-Hochberg', () => {
    const plain = detectDrift(ref, cur);
    const bon = detectDrift(ref, cur, { correction: 'bonferroni' });
    bon.columns.forEach((c, i) => {
      assert.equal(c.adjustedPValue, Math.min(1, plain.columns[i].pValue! * 4));
      assert.equal(c.drifted, c.adjustedPValue < 0.05);
    });
    const fdr = detectDrift(ref, cur, { correction: 'fdr' });
    fdr.columns.forEach((c, i) => assert.ok(c.adjustedPValue! >= plain.columns[i].pValue! && c.adjustedPValue! <= bon.columns[i].adjustedPValue!));
  });
  test('bad options name the option and the fix', () => {
    assert.throws(() => detectDrift(ref, cur, { bins: 1 }), new DriftError('bins: 1 must be an integer from 2 to 10000'));
    assert.throws(() => detectDrift(ref, cur, { driftShare: 2 }), new DriftError('driftShare: 2 must be between 0 and 1'));
    assert.throws(
      () => detectDrift(ref, [cur[0]]),
      new DriftError("column 'b' is in the reference but not in the current data; add it or pass columns to choose"),
    );
  });
  test('worker threads give the same result as inline', async () => {
    const wideRef = Array.from({ length: 6 }, (_, j) => num(`f${j}`, 200000, () => normal() + j));
    const wideCur = Array.from({ length: 6 }, (_, j) => num(`f${j}`, 200000, () => normal() + j * 1.01));
    const inline = detectDrift(wideRef, wideCur);
    const par = await detectDriftParallel(wideRef, wideCur, {}, { threads: 2, minValues: 0 });
    assert.deepEqual(par, inline);
  });
});

describe('multivariate', () => {
  const gen = (n: number, rho: number, shift = 0) => {
    const x: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = normal();
      x.push(a + shift);
      y.push(rho * a + Math.sqrt(1 - rho * rho) * normal());
    }
    return matrixFromColumns([x, y]);
  };
  test('MMD: same distribution is not significant, a shift is; the seed makes it reproducible', () => {
    const ref = gen(400, 0.5);
    const same = mmdTest(ref, gen(400, 0.5), { permutations: 100, seed: 1 });
    const shifted = mmdTest(ref, gen(400, 0.5, 1), { permutations: 100, seed: 1 });
    assert.ok(same.pValue > 0.01, String(same.pValue));
    assert.ok(shifted.pValue < 0.05 && shifted.drifted);
    assert.ok(shifted.bandwidth > 0);
    assert.deepEqual(mmdTest(ref, gen(400, 0.5, 1), { permutations: 50, seed: 3 }).permutations, 50);
    const a = mmdTest(ref, ref, { permutations: 30, seed: 9 });
    const b = mmdTest(ref, ref, { permutations: 30, seed: 9 });
    assert.deepEqual(a, b);
  });
  test('PCA reconstruction error catches a broken correlation that marginal tests miss', () => {
    const ref = gen(3000, 0.95);
    const cur = gen(3000, -0.95);
    const r = pcaReconstructionDrift(ref, cur, { components: 1 });
    assert.ok(r.ratio > 5 && r.drifted, JSON.stringify(r));
    const ok = pcaReconstructionDrift(ref, gen(3000, 0.95), { components: 1 });
    assert.equal(ok.drifted, false);
  });
});
