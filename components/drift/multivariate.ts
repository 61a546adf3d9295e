/**
 * Multivariate drift on numeric features (rows × features, row-major):
 *  - MMD² (unbiased) with an RBF kernel k(x,y) = exp(-|x-y|² / (2σ²)); σ = median pairwise distance of the
 *    pooled (standardized) sample (median heuristic); p-value from a seeded permutation test
 *    p = (1 + #{perm >= observed}) / (1 + permutations). Rows are subsampled (seeded) to `maxSamples` per side.
 *  - PCA reconstruction error: fit PCA on the standardized reference, keep the components explaining
 *    `varianceKept` of the variance (at most rank − 1, so errors are never rounding noise), and compare per-row reconstruction errors of reference and current
 *    (KS two-sample on the errors, and the ratio of mean errors). Drift: KS p < alpha and ratio >= minRatio.
 * Rows with a missing value are left out (and counted).
 */
import { mulberry32 } from '../random.ts';
import { sortNumeric } from './sort.ts';
import { ks2samp } from './stats.ts';
import { DriftError, type MultivariateDrift } from './types.ts';

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** Row-major, rows × cols; NaN is missing. */
  readonly data: Float64Array;
}

export interface MmdOptions {
  /** @default 500 */
  readonly maxSamples?: number;
  /** @default 200 */
  readonly permutations?: number;
  /** @default 0 */
  readonly seed?: number;
  /** @default 0.05 */
  readonly alpha?: number;
}

function completeRows(m: Matrix): number[] {
  const out: number[] = [];
  for (let r = 0; r < m.rows; r++) {
    let ok = true;
    for (let c = 0; c < m.cols; c++) {
      const v = m.data[r * m.cols + c];
      if (!(v - v === 0)) {
        ok = false;
        break;
      }
    }
    if (ok) out.push(r);
  }
  return out;
}

function sample(idx: number[], k: number, rand: () => number): number[] {
  if (idx.length <= k) return idx.slice();
  const a = idx.slice();
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}

/** Column means and stds (ddof 0, floored at 1e-12) over the given rows. */
function standardizer(m: Matrix, rows: number[]): { mean: Float64Array; std: Float64Array } {
  const d = m.cols;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const r of rows) for (let c = 0; c < d; c++) mean[c] += m.data[r * d + c];
  for (let c = 0; c < d; c++) mean[c] /= Math.max(1, rows.length);
  for (const r of rows) for (let c = 0; c < d; c++) std[c] += (m.data[r * d + c] - mean[c]) ** 2;
  for (let c = 0; c < d; c++) std[c] = Math.max(1e-12, Math.sqrt(std[c] / Math.max(1, rows.length)));
  return { mean, std };
}

function checkShapes(ref: Matrix, cur: Matrix): void {
  if (ref.cols !== cur.cols) throw new DriftError(`multivariate drift: reference has ${ref.cols} features but current has ${cur.cols}`);
  if (ref.data.length !== ref.rows * ref.cols || cur.data.length !== cur.rows * cur.cols)
    throw new DriftError('multivariate drift: data length must be rows × cols');
}

export function mmdTest(
  ref: Matrix,
  cur: Matrix,
  opts: MmdOptions = {},
): NonNullable<MultivariateDrift['mmd']> & { missingRows: { reference: number; current: number } } {
  checkShapes(ref, cur);
  const maxSamples = opts.maxSamples ?? 500;
  const perms = opts.permutations ?? 200;
  const alpha = opts.alpha ?? 0.05;
  const rand = mulberry32(opts.seed ?? 0);
  const rAll = completeRows(ref);
  const cAll = completeRows(cur);
  const missingRows = { reference: ref.rows - rAll.length, current: cur.rows - cAll.length };
  if (rAll.length < 2 || cAll.length < 2) {
    return { statistic: 0, pValue: 1, bandwidth: 0, permutations: 0, sampleSize: Math.min(rAll.length, cAll.length), drifted: false, missingRows };
  }
  const rs = sample(rAll, maxSamples, rand);
  const cs = sample(cAll, maxSamples, rand);
  const { mean, std } = standardizer(ref, rAll);
  const d = ref.cols;
  const n = rs.length;
  const m = cs.length;
  const N = n + m;
  const X = new Float64Array(N * d);
  rs.forEach((r, i) => {
    for (let c = 0; c < d; c++) X[i * d + c] = (ref.data[r * d + c] - mean[c]) / std[c];
  });
  cs.forEach((r, i) => {
    for (let c = 0; c < d; c++) X[(n + i) * d + c] = (cur.data[r * d + c] - mean[c]) / std[c];
  });
  const D2 = new Float64Array(N * N);
  const dists = new Float64Array((N * (N - 1)) / 2);
  let t = 0;
  for (let i = 0; i < N; i++) {
    for (let j = i + 1; j < N; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) {
        const diff = X[i * d + c] - X[j * d + c];
        s += diff * diff;
      }
      D2[i * N + j] = D2[j * N + i] = s;
      dists[t++] = Math.sqrt(s);
    }
  }
  const sorted = sortNumeric(dists).sorted;
  const med = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  const sigma = med > 0 ? med : 1;
  const K = new Float64Array(N * N);
  const g = 1 / (2 * sigma * sigma);
  for (let i = 0; i < N * N; i++) K[i] = Math.exp(-D2[i] * g);
  const labels = new Uint8Array(N);
  for (let i = n; i < N; i++) labels[i] = 1;
  const mmd2 = (lab: Uint8Array): number => {
    let sxx = 0;
    let syy = 0;
    let sxy = 0;
    for (let i = 0; i < N; i++) {
      const li = lab[i];
      for (let j = i + 1; j < N; j++) {
        const k = K[i * N + j];
        if (li !== lab[j]) sxy += k;
        else if (li === 0) sxx += k;
        else syy += k;
      }
    }
    return (2 * sxx) / (n * (n - 1)) + (2 * syy) / (m * (m - 1)) - (2 * sxy) / (n * m);
  };
  const observed = mmd2(labels);
  let ge = 0;
  const perm = labels.slice();
  for (let p = 0; p < perms; p++) {
    for (let i = N - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const tmp = perm[i];
      perm[i] = perm[j];
      perm[j] = tmp;
    }
    if (mmd2(perm) >= observed) ge++;
  }
  const pValue = (1 + ge) / (1 + perms);
  return { statistic: observed, pValue, bandwidth: sigma, permutations: perms, sampleSize: Math.min(n, m), drifted: pValue < alpha, missingRows };
}

/** Symmetric eigen-decomposition (cyclic Jacobi). Returns eigenvalues descending and column eigenvectors. */
export function symmetricEigen(a: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const A = a.slice();
  const V = new Float64Array(d * d);
  for (let i = 0; i < d; i++) V[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += A[p * d + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = A[p * d + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * d + q] - A[p * d + p]) / (2 * apq);
        const tt = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(tt * tt + 1);
        const s = tt * c;
        for (let k = 0; k < d; k++) {
          const akp = A[k * d + p];
          const akq = A[k * d + q];
          A[k * d + p] = c * akp - s * akq;
          A[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = A[p * d + k];
          const aqk = A[q * d + k];
          A[p * d + k] = c * apk - s * aqk;
          A[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = V[k * d + p];
          const vkq = V[k * d + q];
          V[k * d + p] = c * vkp - s * vkq;
          V[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((x, y) => A[y * d + y] - A[x * d + x]);
  const values = Float64Array.from(order.map((i) => A[i * d + i]));
  const vectors = new Float64Array(d * d);
  order.forEach((src, dst) => {
    for (let k = 0; k < d; k++) vectors[k * d + dst] = V[k * d + src];
  });
  return { values, vectors };
}

export interface PcaOptions {
  /** Keep the fewest components explaining at least this share of variance. @default 0.9 */
  readonly varianceKept?: number;
  /** Or a fixed number of components. */
  readonly components?: number;
  /** @default 0.05 */
  readonly alpha?: number;
  /** @default 1.1 */
  readonly minRatio?: number;
}

export function pcaReconstructionDrift(ref: Matrix, cur: Matrix, opts: PcaOptions = {}): NonNullable<MultivariateDrift['pca']> {
  checkShapes(ref, cur);
  const d = ref.cols;
  const rRows = completeRows(ref);
  const cRows = completeRows(cur);
  if (rRows.length < 2 || cRows.length < 1) {
    return { components: 0, referenceError: 0, currentError: 0, ratio: 1, ks: { statistic: 0, pValue: 1 }, drifted: false };
  }
  const { mean, std } = standardizer(ref, rRows);
  const cov = new Float64Array(d * d);
  const z = new Float64Array(d);
  for (const r of rRows) {
    for (let c = 0; c < d; c++) z[c] = (ref.data[r * d + c] - mean[c]) / std[c];
    for (let i = 0; i < d; i++) for (let j = i; j < d; j++) cov[i * d + j] += z[i] * z[j];
  }
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) cov[j * d + i] = cov[i * d + j] /= rRows.length;
  const { values, vectors } = symmetricEigen(cov, d);
  let k = opts.components ?? 0;
  if (!k) {
    const total = values.reduce((s, v) => s + Math.max(0, v), 0);
    let acc = 0;
    k = d;
    for (let i = 0; i < d; i++) {
      acc += Math.max(0, values[i]);
      if (acc >= (opts.varianceKept ?? 0.9) * total) {
        k = i + 1;
        break;
      }
    }
  }
  // Components beyond the reference's numerical rank reconstruct it exactly: errors would be rounding noise.
  const rank = values.filter((v) => v > 1e-9 * Math.max(values[0], 1e-300)).length;
  if (rank < 2) return { components: 0, referenceError: 0, currentError: 0, ratio: 1, ks: { statistic: 0, pValue: 1 }, drifted: false };
  k = Math.max(1, Math.min(rank - 1, k));
  const errors = (m: Matrix, rows: number[]): Float64Array => {
    const out = new Float64Array(rows.length);
    const proj = new Float64Array(k);
    rows.forEach((r, t) => {
      for (let c = 0; c < d; c++) z[c] = (m.data[r * d + c] - mean[c]) / std[c];
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += z[c] * vectors[c * d + j];
        proj[j] = s;
      }
      let e = 0;
      for (let c = 0; c < d; c++) {
        let rec = 0;
        for (let j = 0; j < k; j++) rec += proj[j] * vectors[c * d + j];
        e += (z[c] - rec) ** 2;
      }
      out[t] = e;
    });
    return out;
  };
  const er = sortNumeric(errors(ref, rRows)).sorted;
  const ec = sortNumeric(errors(cur, cRows)).sorted;
  const meanOf = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  const referenceError = meanOf(er);
  const currentError = meanOf(ec);
  const ratio = referenceError > 0 ? currentError / referenceError : currentError > 0 ? Infinity : 1;
  const ks = ks2samp(er, ec);
  const drifted = ks.pValue < (opts.alpha ?? 0.05) && ratio >= (opts.minRatio ?? 1.1);
  return {
    components: k,
    referenceError,
    currentError,
    ratio: Number.isFinite(ratio) ? ratio : 1e308,
    ks: { statistic: ks.statistic, pValue: ks.pValue },
    drifted,
  };
}

/** Numeric columns (same length) → a row-major matrix. */
export function matrixFromColumns(cols: readonly ArrayLike<number>[]): Matrix {
  const rows = cols[0]?.length ?? 0;
  const d = cols.length;
  const data = new Float64Array(rows * d);
  cols.forEach((c, j) => {
    if (c.length !== rows) throw new DriftError(`matrixFromColumns: column ${j} has ${c.length} values, expected ${rows}`);
    for (let r = 0; r < rows; r++) data[r * d + j] = c[r];
  });
  return { rows, cols: d, data };
}
