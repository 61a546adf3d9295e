/**
 * Two-sample statistics on sorted numeric samples and on category counts. Pure functions; every
 * numeric function takes already-sorted Float64Arrays (sort once with sortNumeric, reuse for all tests).
 *
 * Agreement with SciPy (checked in test/drift/scipy.test.ts to a relative 1e-9):
 *   ks2samp           scipy.stats.ks_2samp(a, b, alternative, method)
 *   wasserstein       scipy.stats.wasserstein_distance(a, b)
 *   jensenShannon     scipy.spatial.distance.jensenshannon(p, q)   (natural log, SciPy's default base)
 *   chi2Contingency   scipy.stats.chi2_contingency(table)          (Yates correction when dof = 1)
 */
import { binom, chi2Sf, kstwoSf } from './special.ts';

export type Alternative = 'two-sided' | 'less' | 'greater';
export type KsMethod = 'auto' | 'exact' | 'asymp';

export interface KsResult {
  readonly statistic: number;
  readonly pValue: number;
  /** The method actually used ('exact' falls back to 'asymp' as SciPy does). */
  readonly method: 'exact' | 'asymp';
  /** Where the ECDF difference is largest, and its sign (+1: cdf(a) above cdf(b)). */
  readonly location: number;
  readonly sign: 1 | -1;
}

/** SciPy's MAX_AUTO_N: 'auto' uses the exact distribution when both samples have at most this many values. */
export const KS_MAX_AUTO_N = 10000;
const INT32_MAX = 2147483647;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Two-sample KS statistic extremes from one merge walk over the sorted samples. */
export function ksExtremes(a: Float64Array, b: Float64Array): { maxS: number; minS: number; locMax: number; locMin: number } {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxD = -Infinity;
  let minD = Infinity;
  let locMax = NaN;
  let locMin = NaN;
  while (i < n1 || j < n2) {
    const x = i < n1 && (j >= n2 || a[i] <= b[j]) ? a[i] : b[j];
    while (i < n1 && a[i] <= x) i++;
    while (j < n2 && b[j] <= x) j++;
    const d = i / n1 - j / n2;
    if (d > maxD) {
      maxD = d;
      locMax = x;
    }
    if (d < minD) {
      minD = d;
      locMin = x;
    }
  }
  const minS = Math.min(1, Math.max(0, -minD));
  return { maxS: maxD, minS, locMax, locMin };
}

/**
 * Two-sample Kolmogorov-Smirnov test on sorted, non-empty samples, as scipy.stats.ks_2samp:
 * method 'auto' is exact when max(n1, n2) <= 10000 and asymptotic otherwise; the exact two-sided
 * p-value counts lattice paths (Hodges' inside method, or the closed form for n1 = n2); the asymptotic
 * two-sided p-value is kstwo.sf(D, round(n1 n2 / (n1 + n2))); the one-sided asymptotic one is Hodges' 5.3.
 */
export function ks2samp(a: Float64Array, b: Float64Array, alternative: Alternative = 'two-sided', method: KsMethod = 'auto'): KsResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('ks2samp: both samples must be non-empty');
  const { maxS, minS, locMax, locMin } = ksExtremes(a, b);
  let d: number;
  let location: number;
  let sign: 1 | -1;
  if (alternative === 'less' || (alternative === 'two-sided' && minS > maxS)) {
    d = minS;
    location = locMin;
    sign = -1;
  } else {
    d = maxS;
    location = locMax;
    sign = 1;
  }
  const r = ksPValue(d, n1, n2, alternative, method);
  return { statistic: r.statistic, pValue: r.pValue, method: r.method, location, sign };
}

/**
 * The p-value of a two-sample KS statistic d for sample sizes n1, n2, as ks_2samp computes it
 * (the exact method also snaps d to the lattice h/lcm(n1, n2) and returns that as `statistic`).
 */
export function ksPValue(
  d: number,
  n1: number,
  n2: number,
  alternative: Alternative = 'two-sided',
  method: KsMethod = 'auto',
): { statistic: number; pValue: number; method: 'exact' | 'asymp' } {
  const g = gcd(n1, n2);
  const n1g = n1 / g;
  const n2g = n2 / g;
  let mode: 'exact' | 'asymp';
  if (method === 'auto') mode = Math.max(n1, n2) <= KS_MAX_AUTO_N ? 'exact' : 'asymp';
  else if (method === 'exact') mode = n1g >= INT32_MAX / n2g ? 'asymp' : 'exact';
  else mode = 'asymp';
  let prob = NaN;
  if (mode === 'exact') {
    const r = attemptExact(n1, n2, g, d, alternative);
    d = r.d;
    if (r.success) prob = r.prob;
    else mode = 'asymp';
  }
  if (mode === 'asymp') {
    const m = Math.max(n1, n2);
    const n = Math.min(n1, n2);
    const en = (m * n) / (m + n);
    if (alternative === 'two-sided') {
      prob = kstwoSf(d, roundHalfEven(en));
    } else {
      const z = Math.sqrt(en) * d;
      const expt = -2 * z * z - (2 * z * (m + 2 * n)) / Math.sqrt(m * n * (m + n)) / 3;
      prob = Math.exp(expt);
    }
  }
  return { statistic: d, pValue: Math.min(1, Math.max(0, prob)), method: mode };
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function attemptExact(n1: number, n2: number, g: number, d: number, alternative: Alternative): { success: boolean; d: number; prob: number } {
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  d = h / lcm;
  if (h === 0) return { success: true, d, prob: 1 };
  let prob: number;
  if (alternative === 'two-sided') {
    prob = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
  } else if (n1 === n2) {
    prob = 1;
    for (let j = 0; j < h; j++) prob *= (n1 - j) / (n1 + j + 1);
  } else {
    const paths = countPathsOutside(n1, n2, g, h);
    const total = binom(n1 + n2, n1);
    if (!Number.isFinite(paths) || !Number.isFinite(total) || paths > total) return { success: false, d, prob: NaN };
    prob = paths / total;
  }
  if (!(prob >= 0 && prob <= 1)) return { success: false, d, prob };
  return { success: true, d, prob };
}

/** P(D_{n,n} >= h/n), Horner-like evaluation of the alternating binomial sum. */
function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  let k = Math.floor(n / h);
  while (k >= 0) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
    k--;
  }
  return 2 * P;
}

/** 1 - (share of lattice paths staying strictly inside |x/m - y/n| < h/lcm), Viehmann's stable recursion. */
function outerProbInside(m: number, n: number, g: number, h: number): number {
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  for (let t = minj; t < maxj; t++) A[t] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj] * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, Math.min(lenA, maxj - minj + (lastlen - curlen)));
  }
  return A[maxj - minj - 1];
}

/** Number of lattice paths from (0,0) to (m,n) that reach m*y <= n*x - h*g (one-sided exact). */
function countPathsOutside(m: number, n: number, g: number, h: number): number {
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  const lxj = n + Math.floor((mg - h) / mg);
  if (lxj <= 0) return binom(m + n, n);
  const xj = new Float64Array(lxj);
  for (let j = 0; j < lxj; j++) xj[j] = Math.floor((h + mg * j + ng - 1) / ng);
  const B = new Float64Array(lxj);
  B[0] = 1;
  for (let j = 1; j < lxj; j++) {
    let Bj = binom(xj[j] + j, j);
    for (let i = 0; i < j; i++) Bj -= binom(xj[j] - xj[i] + j - i, j - i) * B[i];
    B[j] = Bj;
  }
  let num = 0;
  for (let j = 0; j < lxj; j++) num += B[j] * binom(m - xj[j] + (n - j), n - j);
  return num;
}

/**
 * Wasserstein-1 distance between two sorted samples (scipy.stats.wasserstein_distance):
 * ∫ |U(x) - V(x)| dx over the merged support.
 */
export function wasserstein(u: Float64Array, v: Float64Array): number {
  const nu = u.length;
  const nv = v.length;
  if (nu === 0 || nv === 0) throw new RangeError('wasserstein: both samples must be non-empty');
  let i = 0;
  let j = 0;
  let sum = 0;
  let comp = 0; // Neumaier compensation
  let x = u[0] <= v[0] ? u[0] : v[0];
  for (;;) {
    while (i < nu && u[i] <= x) i++;
    while (j < nv && v[j] <= x) j++;
    if (i >= nu && j >= nv) break;
    const next = i < nu && (j >= nv || u[i] <= v[j]) ? u[i] : v[j];
    const term = Math.abs(i / nu - j / nv) * (next - x);
    const t = sum + term;
    comp += Math.abs(sum) >= Math.abs(term) ? sum - t + term : term - t + sum;
    sum = t;
    x = next;
  }
  return sum + comp;
}

/** Population standard deviation (ddof = 0) of a sample, two-pass. */
export function stdDev(x: Float64Array): number {
  const n = x.length;
  if (n === 0) return NaN;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - mean;
    ss += d * d;
  }
  return Math.sqrt(ss / n);
}

/** Jensen-Shannon distance between two count/probability vectors, natural log (SciPy's default base). */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const k = p.length;
  if (q.length !== k) throw new RangeError(`jensenShannon: vectors differ in length (${k} and ${q.length})`);
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < k; i++) {
    sp += p[i];
    sq += q[i];
  }
  let left = 0;
  let right = 0;
  for (let i = 0; i < k; i++) {
    const pi = p[i] / sp;
    const qi = q[i] / sq;
    const m = (pi + qi) / 2;
    if (pi > 0) left += pi * Math.log(pi / m);
    if (qi > 0) right += qi * Math.log(qi / m);
  }
  const js = left + right;
  return Math.sqrt(Math.max(0, js) / 2);
}

/** Default epsilon that replaces an empty bin's share in PSI (as Evidently does). */
export const PSI_EPSILON = 1e-4;

/**
 * Population Stability Index Σ (c_i - r_i) ln(c_i / r_i) over bin shares, where an empty bin's share is
 * replaced by `epsilon` so the index stays finite.
 */
export function psi(refCounts: ArrayLike<number>, curCounts: ArrayLike<number>, epsilon = PSI_EPSILON): number {
  const k = refCounts.length;
  if (curCounts.length !== k) throw new RangeError(`psi: count vectors differ in length (${k} and ${curCounts.length})`);
  let nr = 0;
  let nc = 0;
  for (let i = 0; i < k; i++) {
    nr += refCounts[i];
    nc += curCounts[i];
  }
  let s = 0;
  for (let i = 0; i < k; i++) {
    const r = refCounts[i] > 0 ? refCounts[i] / nr : epsilon;
    const c = curCounts[i] > 0 ? curCounts[i] / nc : epsilon;
    s += (c - r) * Math.log(c / r);
  }
  return s;
}

/** Index of the first element > x in a sorted array (numpy searchsorted side='right'). */
export function upperBound(a: Float64Array, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Linear-interpolated quantile of a sorted sample (numpy's default 'linear' method). */
export function quantileSorted(a: Float64Array, q: number): number {
  const n = a.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const f = pos - lo;
  return f === 0 ? a[lo] : a[lo] + (a[hi] - a[lo]) * f;
}

/**
 * Inner bin edges at the reference's quantiles k/bins (k = 1..bins-1), deduplicated so ties make
 * fewer, never empty-by-construction, bins. Bins are (-∞, e1], (e1, e2], ..., (e_last, +∞).
 */
export function quantileEdges(sortedRef: Float64Array, bins: number): Float64Array {
  const out: number[] = [];
  for (let k = 1; k < bins; k++) {
    const e = quantileSorted(sortedRef, k / bins);
    if (out.length === 0 || e > out[out.length - 1]) out.push(e);
  }
  // A top edge equal to the maximum would leave the last bin empty for the reference; drop it.
  while (out.length > 0 && out[out.length - 1] >= sortedRef[sortedRef.length - 1]) out.pop();
  return Float64Array.from(out);
}

/** Counts of a sorted sample in the bins defined by inner edges (right-closed), O(bins log n). */
export function binCountsSorted(sorted: Float64Array, edges: Float64Array): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  let prev = 0;
  for (let k = 0; k < edges.length; k++) {
    const idx = upperBound(sorted, edges[k], prev);
    counts[k] = idx - prev;
    prev = idx;
  }
  counts[edges.length] = sorted.length - prev;
  return counts;
}

export interface Chi2Result {
  readonly statistic: number;
  readonly pValue: number;
  readonly dof: number;
}

/**
 * Chi-square test of homogeneity on a 2×k table (scipy.stats.chi2_contingency with correction=True):
 * Yates' continuity correction when dof = 1; dof = 0 gives statistic 0 and p = 1. Columns whose total
 * is zero must be removed by the caller (SciPy rejects them).
 */
export function chi2Contingency(row0: ArrayLike<number>, row1: ArrayLike<number>): Chi2Result {
  const k = row0.length;
  if (row1.length !== k) throw new RangeError(`chi2Contingency: rows differ in length (${k} and ${row1.length})`);
  let r0 = 0;
  let r1 = 0;
  for (let j = 0; j < k; j++) {
    r0 += row0[j];
    r1 += row1[j];
  }
  const total = r0 + r1;
  const dof = k - 1;
  if (dof === 0) return { statistic: 0, pValue: 1, dof };
  let stat = 0;
  for (let r = 0; r < 2; r++) {
    const row = r === 0 ? row0 : row1;
    const rs = r === 0 ? r0 : r1;
    for (let j = 0; j < k; j++) {
      const colsum = row0[j] + row1[j];
      const expected = (rs * colsum) / total;
      if (!(expected > 0)) throw new RangeError(`chi2Contingency: expected frequency is zero at (${r}, ${j})`);
      let obs = row[j];
      if (dof === 1) {
        const diff = expected - obs;
        obs += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      }
      const dd = obs - expected;
      stat += (dd * dd) / expected;
    }
  }
  return { statistic: stat, pValue: chi2Sf(stat, dof), dof };
}
