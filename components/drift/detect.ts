/**
 * Column and dataset drift from raw columns: profile each column once (sort numeric values, count
 * categories), pick a test per column, decide per column, then combine into a dataset verdict.
 *
 * `auto` follows Evidently's published default (evidently/calculations/stattests/registry.py,
 * `_get_default_stattest`), with n = the reference's non-missing count and u = distinct values in
 * reference ∪ current:
 *   n <= 1000:  numeric with u <= 5 → chi-square;  numeric → KS;  categorical → chi-square   (drift: p < 0.05)
 *   n >  1000:  numeric with u <= 5 → Jensen-Shannon;  numeric → Wasserstein (normed);  categorical → Jensen-Shannon
 *               (drift: distance >= 0.1)
 * Deviation: Evidently uses a two-proportion z-test for binary columns; we use the 2×2 chi-square
 * (with Yates' correction, as SciPy), the same homogeneity test.
 */
import { sortNumeric } from './sort.ts';
import { binCountsSorted, chi2Contingency, jensenShannon, ks2samp, psi, quantileEdges, stdDev, upperBound, wasserstein } from './stats.ts';
import {
  DEFAULT_THRESHOLDS,
  DriftError,
  isPValueTest,
  TEST_NAMES,
  type ColumnData,
  type ColumnDrift,
  type ColumnHistogram,
  type ColumnType,
  type Correction,
  type DriftOptions,
  type DriftResult,
  type TestName,
} from './types.ts';

/** Reference sizes up to this use p-value tests in `auto` (Evidently's rule). */
export const AUTO_SMALL_REFERENCE = 1000;
/** Numeric columns with at most this many distinct values are treated as categories in `auto`. */
export const AUTO_LOW_CARDINALITY = 5;
/** `--tests chisquare` applies to a numeric column only when it has at most this many distinct values. */
export const CHISQUARE_MAX_NUMERIC_VALUES = 50;
const HISTOGRAM_BINS = 30;
const HISTOGRAM_MAX_CATEGORIES = 20;
const WASSERSTEIN_MIN_NORM = 1e-3;

export interface NumericProfile {
  readonly type: 'numeric';
  /** Non-missing values, ascending. */
  readonly sorted: Float64Array;
  readonly missing: number;
}
export interface CategoricalProfile {
  readonly type: 'categorical';
  readonly counts: ReadonlyMap<string, number>;
  readonly n: number;
  readonly missing: number;
}
export type ColumnProfile = NumericProfile | CategoricalProfile;

export function profileColumn(col: ColumnData): ColumnProfile {
  if (col.type === 'numeric') {
    const { sorted, missing } = sortNumeric(col.values);
    return { type: 'numeric', sorted, missing };
  }
  return profileCategorical(col.values);
}

export function profileCategorical(values: ArrayLike<string | null | undefined>): CategoricalProfile {
  const counts = new Map<string, number>();
  let missing = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) missing++;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return { type: 'categorical', counts, n: values.length - missing, missing };
}

/** Distinct values of a sorted array, stopping once more than `limit` are seen. */
export function countDistinctSorted(a: Float64Array, limit: number): number {
  if (a.length === 0) return 0;
  let d = 1;
  let i = 0;
  const n = a.length;
  while (d <= limit) {
    const idx = upperBound(a, a[i], i);
    if (idx >= n) return d;
    i = idx;
    d++;
  }
  return d;
}

function distinctUnion(a: Float64Array, b: Float64Array, limit: number): number {
  let i = 0;
  let j = 0;
  let d = 0;
  while ((i < a.length || j < b.length) && d <= limit) {
    const x = i < a.length && (j >= b.length || a[i] <= b[j]) ? a[i] : b[j];
    i = upperBound(a, x, i);
    j = upperBound(b, x, j);
    d++;
  }
  return d;
}

/** Evidently's default test for a column (see the file header). */
export function selectTest(type: ColumnType, referenceCount: number, distinctValues: number): TestName {
  const lowCard = type === 'numeric' && distinctValues <= AUTO_LOW_CARDINALITY;
  if (referenceCount <= AUTO_SMALL_REFERENCE) {
    if (type === 'categorical' || lowCard) return 'chisquare';
    return 'ks';
  }
  if (type === 'categorical' || lowCard) return 'jensenshannon';
  return 'wasserstein';
}

/** Whether a test can run on a column of this type / cardinality. */
export function testApplies(test: TestName, type: ColumnType, distinctValues: number): boolean {
  if (type === 'categorical') return test === 'chisquare' || test === 'psi' || test === 'jensenshannon';
  if (test === 'chisquare') return distinctValues <= CHISQUARE_MAX_NUMERIC_VALUES;
  return true;
}

interface Resolved {
  readonly thresholds: Record<TestName, number>;
  readonly bins: number;
  readonly psiEpsilon: number;
  readonly normed: boolean;
  readonly histograms: boolean;
}

export function resolveOptions(opts: DriftOptions): Resolved {
  const thresholds = { ...DEFAULT_THRESHOLDS, ...(opts.thresholds ?? {}) };
  for (const [t, v] of Object.entries(thresholds)) {
    if (!TEST_NAMES.includes(t as TestName)) throw new DriftError(`thresholds.${t}: unknown test; use one of ${TEST_NAMES.join(', ')}`);
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new DriftError(`thresholds.${t}: ${v} is not a non-negative number`);
  }
  const bins = opts.bins ?? 10;
  if (!Number.isInteger(bins) || bins < 2 || bins > 10000) throw new DriftError(`bins: ${bins} must be an integer from 2 to 10000`);
  const share = opts.driftShare ?? 0.5;
  if (!(share >= 0 && share <= 1)) throw new DriftError(`driftShare: ${share} must be between 0 and 1`);
  const eps = opts.psiEpsilon ?? 1e-4;
  if (!(eps > 0 && eps < 1)) throw new DriftError(`psiEpsilon: ${eps} must be in (0, 1)`);
  return { thresholds, bins, psiEpsilon: eps, normed: opts.wassersteinNormed ?? true, histograms: opts.histograms ?? true };
}

function requestedTest(opts: DriftOptions, column: string): TestName | 'auto' {
  const t = opts.tests ?? 'auto';
  if (typeof t === 'string') return t;
  return t[column] ?? 'auto';
}

function verdictOf(test: TestName, statistic: number, pValue: number | null, threshold: number): boolean {
  return isPValueTest(test) ? (pValue as number) < threshold : statistic >= threshold;
}

/** Counts over the union of keys: reference first (in its order), then unseen current keys. */
function alignCounts(ref: ReadonlyMap<string, number>, cur: ReadonlyMap<string, number>) {
  const keys: string[] = [...ref.keys()];
  const unseen: Record<string, number> = {};
  for (const [k, c] of cur) {
    if (!ref.has(k)) {
      keys.push(k);
      unseen[k] = c;
    }
  }
  const r = new Float64Array(keys.length);
  const c = new Float64Array(keys.length);
  keys.forEach((k, i) => {
    r[i] = ref.get(k) ?? 0;
    c[i] = cur.get(k) ?? 0;
  });
  return { keys, r, c, unseen };
}

/** Counts of a sorted numeric sample by distinct value, as a category map (keys are the numbers). */
function valueCounts(a: Float64Array): Map<string, number> {
  const m = new Map<string, number>();
  let i = 0;
  while (i < a.length) {
    const j = upperBound(a, a[i], i);
    m.set(String(a[i]), j - i);
    i = j;
  }
  return m;
}

function categoricalHistogram(keys: string[], r: Float64Array, c: Float64Array): ColumnHistogram {
  const nr = r.reduce((s, x) => s + x, 0) || 1;
  const nc = c.reduce((s, x) => s + x, 0) || 1;
  const order = keys.map((_, i) => i).sort((a, b) => r[b] / nr + c[b] / nc - (r[a] / nr + c[a] / nc));
  const top = order.slice(0, HISTOGRAM_MAX_CATEGORIES);
  const rest = order.slice(HISTOGRAM_MAX_CATEGORIES);
  const categories = top.map((i) => keys[i]);
  const reference = top.map((i) => r[i] / nr);
  const current = top.map((i) => c[i] / nc);
  if (rest.length > 0) {
    categories.push(`(${rest.length} more)`);
    reference.push(rest.reduce((s, i) => s + r[i], 0) / nr);
    current.push(rest.reduce((s, i) => s + c[i], 0) / nc);
  }
  return { kind: 'categorical', categories, reference, current };
}

export function numericHistogram(ref: Float64Array, cur: Float64Array, bins = HISTOGRAM_BINS): ColumnHistogram {
  const lo = Math.min(ref.length ? ref[0] : Infinity, cur.length ? cur[0] : Infinity);
  const hi = Math.max(ref.length ? ref[ref.length - 1] : -Infinity, cur.length ? cur[cur.length - 1] : -Infinity);
  let a = lo;
  let b = hi;
  if (!(b > a)) {
    const w = Math.abs(a) * 0.05 || 0.5;
    a -= w;
    b += w;
  }
  const edges: number[] = [];
  for (let k = 0; k <= bins; k++) edges.push(a + ((b - a) * k) / bins);
  const share = (s: Float64Array): number[] => {
    const out: number[] = [];
    let prev = 0;
    for (let k = 1; k <= bins; k++) {
      const idx = k === bins ? s.length : upperBound(s, edges[k], prev);
      out.push(s.length ? (idx - prev) / s.length : 0);
      prev = idx;
    }
    return out;
  };
  return { kind: 'numeric', edges, reference: share(ref), current: share(cur) };
}

function nextDown(x: number): number {
  if (x === -Infinity || Number.isNaN(x)) return x;
  if (x === 0) return -Number.MIN_VALUE;
  const f = new Float64Array([x]);
  const u = new BigInt64Array(f.buffer);
  u[0] += x > 0 ? -1n : 1n;
  return f[0];
}

/** Bin edges for PSI/JS on a numeric column: reference quantiles; a constant reference gets below/equal/above. */
export function numericBinEdges(sortedRef: Float64Array, bins: number): Float64Array {
  const e = quantileEdges(sortedRef, bins);
  if (e.length > 0 || sortedRef.length === 0) return e;
  const c = sortedRef[0];
  return Float64Array.from([nextDown(c), c]);
}

/** Compares one column's reference and current profiles. Pure. */
export function compareProfiles(name: string, ref: ColumnProfile, cur: ColumnProfile, opts: DriftOptions = {}, resolved = resolveOptions(opts)): ColumnDrift {
  if (ref.type !== cur.type) throw new DriftError(`column '${name}': reference is ${ref.type} but current is ${cur.type}; declare one type for both`);
  const type = ref.type;
  const nRef = type === 'numeric' ? ref.sorted.length : ref.n;
  const nCur = type === 'numeric' ? (cur as NumericProfile).sorted.length : (cur as CategoricalProfile).n;
  const missing = { reference: ref.missing, current: cur.missing };
  const count = { reference: nRef, current: nCur };
  let distinct: number;
  if (type === 'numeric') distinct = distinctUnion(ref.sorted, (cur as NumericProfile).sorted, CHISQUARE_MAX_NUMERIC_VALUES);
  else {
    const keys = new Set([...ref.counts.keys(), ...(cur as CategoricalProfile).counts.keys()]);
    distinct = keys.size;
  }
  const requested = requestedTest(opts, name);
  let test: TestName;
  let note: string | undefined;
  if (requested === 'auto') test = selectTest(type, nRef, distinct);
  else if (testApplies(requested, type, distinct)) test = requested;
  else {
    test = selectTest(type, nRef, distinct);
    note = `${requested} does not apply to this ${type} column${type === 'numeric' ? ` (${distinct > CHISQUARE_MAX_NUMERIC_VALUES ? `more than ${CHISQUARE_MAX_NUMERIC_VALUES}` : distinct} distinct values)` : ''}; used ${test}`;
  }
  const threshold = resolved.thresholds[test];
  if (nRef === 0 || nCur === 0) {
    const which = nRef === 0 && nCur === 0 ? 'reference and current have' : nRef === 0 ? 'reference has' : 'current window has';
    return {
      name,
      type,
      test,
      statistic: null,
      pValue: null,
      threshold,
      drifted: false,
      verdict: 'empty',
      missing,
      count,
      note: `not tested: ${which} no non-missing values`,
    };
  }
  let statistic: number;
  let pValue: number | null = null;
  let unseen: Record<string, number> | undefined;
  let histogram: ColumnHistogram | undefined;
  let constant = false;
  const asCategories = type === 'categorical' || test === 'chisquare' || (distinct <= AUTO_LOW_CARDINALITY && test === 'jensenshannon');
  if (asCategories) {
    const rc = type === 'categorical' ? ref.counts : valueCounts(ref.sorted);
    const cc = type === 'categorical' ? (cur as CategoricalProfile).counts : valueCounts((cur as NumericProfile).sorted);
    const al = alignCounts(rc, cc);
    if (type === 'categorical' && Object.keys(al.unseen).length > 0) unseen = al.unseen;
    constant = al.keys.length === 1;
    if (test === 'chisquare') {
      const r = chi2Contingency(al.r, al.c);
      statistic = r.statistic;
      pValue = r.pValue;
    } else if (test === 'psi') statistic = psi(al.r, al.c, resolved.psiEpsilon);
    else statistic = jensenShannon(al.r, al.c);
    if (resolved.histograms) histogram = type === 'categorical' ? categoricalHistogram(al.keys, al.r, al.c) : undefined;
  } else {
    const a = ref.sorted;
    const b = (cur as NumericProfile).sorted;
    constant = a[0] === a[a.length - 1] && b[0] === b[b.length - 1] && a[0] === b[0];
    if (test === 'ks') {
      const r = ks2samp(a, b);
      statistic = r.statistic;
      pValue = r.pValue;
    } else if (test === 'wasserstein') {
      const w = wasserstein(a, b);
      statistic = resolved.normed ? w / Math.max(stdDev(a), WASSERSTEIN_MIN_NORM) : w;
    } else {
      const edges = numericBinEdges(a, resolved.bins);
      const rc = binCountsSorted(a, edges);
      const cc = binCountsSorted(b, edges);
      statistic = test === 'psi' ? psi(rc, cc, resolved.psiEpsilon) : jensenShannon(rc, cc);
    }
  }
  if (type === 'numeric' && resolved.histograms) histogram = numericHistogram(ref.sorted, (cur as NumericProfile).sorted);
  const drifted = verdictOf(test, statistic, pValue, threshold);
  if (constant && !note) note = 'constant column: reference and current hold one and the same value';
  return {
    name,
    type,
    test,
    statistic,
    pValue,
    threshold,
    drifted,
    verdict: constant && !drifted ? 'constant' : drifted ? 'drift' : 'no-drift',
    missing,
    count,
    ...(unseen ? { unseen } : {}),
    ...(note ? { note } : {}),
    ...(histogram ? { histogram } : {}),
  };
}

/** Benjamini-Hochberg adjusted p-values (step-up, monotone), same order as the input. */
export function fdrAdjust(p: readonly number[]): number[] {
  const m = p.length;
  const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
  const out = new Array<number>(m);
  let min = 1;
  for (let r = m - 1; r >= 0; r--) {
    const i = order[r];
    min = Math.min(min, (p[i] * m) / (r + 1));
    out[i] = min;
  }
  return out;
}

/** Applies the multiple-testing correction and the dataset rule to per-column results. Pure. */
export function combineColumns(columns: ColumnDrift[], rows: { reference: number; current: number }, opts: DriftOptions = {}): DriftResult {
  const correction: Correction = opts.correction ?? 'none';
  if (!['none', 'bonferroni', 'fdr'].includes(correction)) throw new DriftError(`correction: '${correction}' must be none, bonferroni or fdr`);
  const shareThreshold = opts.driftShare ?? 0.5;
  let cols = columns;
  if (correction !== 'none') {
    const idx = cols.map((c, i) => (c.pValue !== null && c.test !== null && isPValueTest(c.test) ? i : -1)).filter((i) => i >= 0);
    const ps = idx.map((i) => cols[i].pValue as number);
    const adj = correction === 'bonferroni' ? ps.map((p) => Math.min(1, p * ps.length)) : fdrAdjust(ps);
    cols = cols.slice();
    idx.forEach((i, k) => {
      const c = cols[i];
      const drifted = adj[k] < c.threshold;
      cols[i] = { ...c, adjustedPValue: adj[k], drifted, verdict: c.verdict === 'constant' && !drifted ? 'constant' : drifted ? 'drift' : 'no-drift' };
    });
  }
  const tested = cols.filter((c) => c.verdict !== 'empty');
  const drifted = tested.filter((c) => c.drifted).length;
  const share = tested.length === 0 ? 0 : drifted / tested.length;
  return {
    datasetDrift: tested.length > 0 && share >= shareThreshold,
    driftShare: share,
    driftShareThreshold: shareThreshold,
    driftedColumns: drifted,
    testedColumns: tested.length,
    correction,
    rows,
    columns: cols,
    status: rows.current === 0 ? 'empty' : 'ok',
  };
}

/**
 * Dataset drift between two sets of columns (matched by name; the reference decides which columns).
 * Missing values are counted per column; constant and empty columns get a verdict, never NaN.
 */
export function detectDrift(reference: readonly ColumnData[], current: readonly ColumnData[], opts: DriftOptions = {}): DriftResult {
  const resolved = resolveOptions(opts);
  const curByName = new Map(current.map((c) => [c.name, c]));
  const wanted = opts.columns ?? reference.map((c) => c.name);
  const refByName = new Map(reference.map((c) => [c.name, c]));
  const out: ColumnDrift[] = [];
  for (const name of wanted) {
    const r = refByName.get(name);
    if (!r) throw new DriftError(`column '${name}' is not in the reference; reference columns: ${reference.map((c) => c.name).join(', ')}`);
    const c = curByName.get(name);
    if (!c) throw new DriftError(`column '${name}' is in the reference but not in the current data; add it or pass columns to choose`);
    out.push(compareProfiles(name, profileColumn(r), profileColumn(c), opts, resolved));
  }
  const rows = { reference: reference[0]?.values.length ?? 0, current: current[0]?.values.length ?? 0 };
  return combineColumns(out, rows, opts);
}
