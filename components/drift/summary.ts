/**
 * Streaming column summaries: fixed memory, mergeable, JSON-serializable, compared against a reference
 * summary built once from the reference data.
 *
 * Numeric columns: a fine histogram on the reference's own quantile edges (default 1000 quantile bins,
 * plus the PSI/JS bin edges, plus two open-ended outer bins), with count, missing, min, max, Σx, Σx² and
 * the exact value counts while a column has at most 50 distinct values. Memory is O(bins), independent of
 * the number of rows. Categorical columns: exact counts for up to `maxCategories` categories; later new
 * categories are pooled into one `other` count (reported).
 *
 * Error bounds of statistics computed from summaries (each comparison reports its own `errorBound`, and
 * test/drift/summary.test.ts checks that the exact statistic lies inside it):
 *  - KS: the ECDFs are exact at every bin edge, so D_edges <= D <= max over bins of the largest
 *    difference the two ECDFs can reach inside the bin. `statistic` = D_edges, errorBound = D_upper - D_edges.
 *    The p-value is the one of `statistic` (a lower-bound D gives an upper-bound p); `note` gives the range.
 *  - Wasserstein-1: ∫|F_r - F_c|. The reference's own minimum and maximum are bin edges, and every
 *    summary keeps the exact sums of distances beyond them (`below`, `above`), so the two outer bins,
 *    where F_r is 0 or 1, add their exact share (Σ (min - x) and Σ (x - max) over the current values
 *    there, / n_c) with no error: one out-of-range request moves the statistic exactly as it moves the
 *    exact one, however far out it is. Inside the reference's range both ECDFs are linearly
 *    interpolated in each bin; there the true and interpolated integrands lie in [L_b, U_b], so
 *      |W - Ŵ| <= errorBound = Σ_b width_b (U_b - L_b) <= Σ_b width_b (p_r,b + p_c,b)
 *             <= (max_r - min_r) * (max_b p_r,b + max_b p_c,b),
 *    p_r,b and p_c,b the shares of reference and current rows in bin b (about 1/fineBins for the
 *    reference's quantile bins). Divided by the reference std when normed, as is the bound.
 *    Missing values (null, NaN, ±Infinity) are left out on both sides, as the exact path does.
 *  - PSI and Jensen-Shannon: exact (errorBound 0): their bins are a subset of the summary's edges.
 *  - chi-square (categorical, or numeric with <= 50 distinct values): exact.
 */
import {
  countDistinctSorted,
  numericBinEdges,
  resolveOptions,
  selectTest,
  testApplies,
  combineColumns,
  numericHistogram,
  AUTO_LOW_CARDINALITY,
  CHISQUARE_MAX_NUMERIC_VALUES,
} from './detect.ts';
import { sortNumeric } from './sort.ts';
import { binCountsSorted, chi2Contingency, jensenShannon, ksPValue, psi, quantileEdges, upperBound } from './stats.ts';
import {
  DriftError,
  isPValueTest,
  type ColumnData,
  type ColumnDrift,
  type ColumnHistogram,
  type DriftOptions,
  type DriftResult,
  type TestName,
} from './types.ts';

export const SUMMARY_FORMAT = 'ghosteam.drift.summary/v1';

export interface NumericColumnSummary {
  readonly name: string;
  readonly type: 'numeric';
  /** Non-missing count. */
  n: number;
  missing: number;
  min: number | null;
  max: number | null;
  sum: number;
  sumSq: number;
  /** Counts per bin: (-∞, e0], (e0, e1], ..., (e_last, +∞). Length = edges + 1. */
  counts: number[];
  /** Exact counts by value while there are at most 50 distinct values; null after. */
  values: Record<string, number> | null;
  /**
   * Σ (edges[0] - x) over the values in the first bin and Σ (x - edges[last]) over those in the last:
   * with the reference's min and max as the outer edges, the exact Wasserstein share of everything
   * outside the reference's range. Absent in summaries written before they were kept (then the
   * outer bins are interpolated, with their error in the bound).
   */
  below?: number;
  above?: number;
}

export interface CategoricalColumnSummary {
  readonly name: string;
  readonly type: 'categorical';
  n: number;
  missing: number;
  counts: Record<string, number>;
  /** Values of categories that arrived after `maxCategories` distinct ones were already held. */
  other: number;
}

export type ColumnSummary = NumericColumnSummary | CategoricalColumnSummary;

export interface NumericBins {
  readonly name: string;
  /** Fine inner edges (ascending, distinct). */
  readonly edges: number[];
  /** PSI / JS inner edges (a subset of `edges`). */
  readonly coarseEdges: number[];
}

export interface ReferenceSummary {
  readonly format: typeof SUMMARY_FORMAT;
  readonly kind: 'reference';
  /** Identifies the bin layout; current summaries must carry the same id to be compared or merged. */
  readonly id: string;
  readonly rows: number;
  readonly maxCategories: number;
  readonly bins: readonly NumericBins[];
  readonly columns: readonly ColumnSummary[];
  /** Exact reference std (ddof 0) per numeric column, for the normed Wasserstein distance. */
  readonly std: Readonly<Record<string, number>>;
}

export interface CurrentSummary {
  readonly format: typeof SUMMARY_FORMAT;
  readonly kind: 'current';
  readonly referenceId: string;
  rows: number;
  /** ISO times of the first and last record summarized, when known. */
  start?: string;
  end?: string;
  readonly columns: ColumnSummary[];
}

export interface ReferenceSummaryOptions {
  /** Fine quantile bins per numeric column. @default 1000 */
  readonly fineBins?: number;
  /** PSI / JS bins (must match the DriftOptions.bins used to compare). @default 10 */
  readonly bins?: number;
  /** Categories held exactly per categorical column. @default 1000 */
  readonly maxCategories?: number;
}

function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

function emptyColumn(name: string, type: 'numeric' | 'categorical', nBins: number): ColumnSummary {
  if (type === 'numeric')
    return { name, type, n: 0, missing: 0, min: null, max: null, sum: 0, sumSq: 0, counts: new Array(nBins).fill(0), values: {}, below: 0, above: 0 };
  return { name, type, n: 0, missing: 0, counts: {}, other: 0 };
}

/** Builds the reference summary (exact data in, fixed-size summary out). */
export function buildReferenceSummary(columns: readonly ColumnData[], opts: ReferenceSummaryOptions = {}): ReferenceSummary {
  const fine = opts.fineBins ?? 1000;
  const coarse = opts.bins ?? 10;
  const maxCategories = opts.maxCategories ?? 1000;
  if (!Number.isInteger(fine) || fine < 2 || fine > 100000) throw new DriftError(`fineBins: ${fine} must be an integer from 2 to 100000`);
  if (!Number.isInteger(coarse) || coarse < 2 || coarse > fine) throw new DriftError(`bins: ${coarse} must be an integer from 2 to fineBins (${fine})`);
  const bins: NumericBins[] = [];
  const std: Record<string, number> = {};
  const summaries: ColumnSummary[] = [];
  for (const col of columns) {
    if (col.type === 'numeric') {
      const { sorted, missing } = sortNumeric(col.values);
      const coarseEdges = Array.from(numericBinEdges(sorted, coarse));
      const fineEdges = Array.from(quantileEdges(sorted, fine));
      // The reference's own min and max are edges too: outside them its ECDF is 0 or 1, so the
      // outer bins' Wasserstein share is exact from the current's sums beyond them (below/above).
      const own = sorted.length ? [sorted[0], sorted[sorted.length - 1]] : [];
      const edges = Array.from(new Set([...fineEdges, ...coarseEdges, ...own])).sort((a, b) => a - b);
      bins.push({ name: col.name, edges, coarseEdges });
      const s: NumericColumnSummary = {
        name: col.name,
        type: 'numeric',
        n: sorted.length,
        missing,
        min: sorted.length ? sorted[0] : null,
        max: sorted.length ? sorted[sorted.length - 1] : null,
        sum: 0,
        sumSq: 0,
        counts: Array.from(binCountsSorted(sorted, Float64Array.from(edges))),
        values: null,
        below: 0,
        above: 0,
      };
      let sum = 0;
      let sumSq = 0;
      let below = 0;
      let above = 0;
      const first = edges[0];
      const last = edges[edges.length - 1];
      for (let i = 0; i < sorted.length; i++) {
        const x = sorted[i];
        sum += x;
        sumSq += x * x;
        if (x <= first) below += first - x;
        else if (x > last) above += x - last;
      }
      s.sum = sum;
      s.sumSq = sumSq;
      s.below = below;
      s.above = above;
      const mean = sorted.length ? sum / sorted.length : 0;
      let ss = 0;
      for (let i = 0; i < sorted.length; i++) ss += (sorted[i] - mean) ** 2;
      std[col.name] = sorted.length ? Math.sqrt(ss / sorted.length) : 0;
      if (countDistinctSorted(sorted, CHISQUARE_MAX_NUMERIC_VALUES) <= CHISQUARE_MAX_NUMERIC_VALUES) {
        const values: Record<string, number> = {};
        let i = 0;
        while (i < sorted.length) {
          const j = upperBound(sorted, sorted[i], i);
          values[String(sorted[i])] = j - i;
          i = j;
        }
        s.values = values;
      }
      summaries.push(s);
    } else {
      const s = emptyColumn(col.name, 'categorical', 0) as CategoricalColumnSummary;
      for (let i = 0; i < col.values.length; i++) addCategorical(s, col.values[i], maxCategories);
      summaries.push(s);
    }
  }
  const rows = columns[0]?.values.length ?? 0;
  const id = fnv1a(JSON.stringify({ bins, cols: columns.map((c) => [c.name, c.type]), maxCategories }));
  return { format: SUMMARY_FORMAT, kind: 'reference', id, rows, maxCategories, bins, columns: summaries, std };
}

function addCategorical(s: CategoricalColumnSummary, v: string | null | undefined, maxCategories: number): void {
  if (v === null || v === undefined) {
    s.missing++;
    return;
  }
  s.n++;
  const c = s.counts[v];
  if (c !== undefined) s.counts[v] = c + 1;
  else if (Object.keys(s.counts).length < maxCategories) s.counts[v] = 1;
  else s.other++;
}

/** O(1)-average bin lookup: a uniform grid over the inner edges narrows the binary search. */
class BinIndex {
  private readonly lo: number;
  private readonly scale: number;
  private readonly lut: Int32Array;
  readonly edges: Float64Array;
  /** The outermost edges (the reference's min and max in a current layout); 0 without edges. */
  readonly first: number;
  readonly last: number;
  constructor(edges: readonly number[], cells = 4096) {
    this.edges = Float64Array.from(edges);
    const n = this.edges.length;
    this.first = n ? this.edges[0] : 0;
    this.last = n ? this.edges[n - 1] : 0;
    this.lo = n ? this.edges[0] : 0;
    const hi = n ? this.edges[n - 1] : 0;
    this.scale = hi > this.lo ? cells / (hi - this.lo) : 0;
    this.lut = new Int32Array(cells + 2);
    for (let c = 0; c <= cells + 1; c++) {
      const x = this.lo + c / (this.scale || 1);
      this.lut[c] = Math.min(upperBoundLeft(this.edges, x), n);
    }
  }
  /** Index of the bin holding x: the number of inner edges strictly below x. */
  bin(x: number): number {
    const e = this.edges;
    const n = e.length;
    if (n === 0 || x <= e[0]) return 0;
    if (x > e[n - 1]) return n;
    let c = Math.floor((x - this.lo) * this.scale);
    if (c < 0) c = 0;
    if (c > this.lut.length - 2) c = this.lut.length - 2;
    let lo = Math.max(0, this.lut[c] - 1);
    let hi = Math.min(n, this.lut[c + 1] + 1);
    // first edge >= x within [lo, hi)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (e[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    // The grid is only a hint: verify, and fall back to a full search if rounding misled it.
    if ((lo > 0 && !(e[lo - 1] < x)) || (lo < n && !(e[lo] >= x))) return upperBoundLeft(e, x);
    return lo;
  }
}

/** First index i with a[i] >= x. */
function upperBoundLeft(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Builds a current summary incrementally. Memory is fixed by the reference's bin layout.
 * Use addRow for row-shaped input (values in `columns` order), addColumn for column batches.
 */
export class SummaryAccumulator {
  readonly columns: readonly string[];
  private readonly summary: CurrentSummary;
  private readonly index: (BinIndex | null)[];
  private readonly maxCategories: number;

  constructor(readonly reference: ReferenceSummary) {
    this.columns = reference.columns.map((c) => c.name);
    this.maxCategories = reference.maxCategories;
    const binsByName = new Map(reference.bins.map((b) => [b.name, b]));
    this.index = reference.columns.map((c) => (c.type === 'numeric' ? new BinIndex(binsByName.get(c.name)!.edges) : null));
    this.summary = {
      format: SUMMARY_FORMAT,
      kind: 'current',
      referenceId: reference.id,
      rows: 0,
      columns: reference.columns.map((c, i) => emptyColumn(c.name, c.type, c.type === 'numeric' ? this.index[i]!.edges.length + 1 : 0)),
    };
  }

  /** Adds one value to column i (number for numeric — NaN/±Inf missing; string/null for categorical). */
  addValue(i: number, v: unknown): void {
    const s = this.summary.columns[i];
    if (s.type === 'numeric') {
      const x = typeof v === 'number' ? v : v === null || v === undefined || v === '' ? NaN : Number(v);
      if (!(x - x === 0)) {
        s.missing++;
        return;
      }
      s.n++;
      const index = this.index[i]!;
      const b = index.bin(x);
      s.counts[b]++;
      if (index.edges.length > 0) {
        if (b === 0) s.below = (s.below ?? 0) + (index.first - x);
        else if (b === index.edges.length) s.above = (s.above ?? 0) + (x - index.last);
      }
      if (s.min === null || x < s.min) s.min = x;
      if (s.max === null || x > s.max) s.max = x;
      s.sum += x;
      s.sumSq += x * x;
      if (s.values) {
        const k = String(x);
        const c = s.values[k];
        if (c !== undefined) s.values[k] = c + 1;
        else if (Object.keys(s.values).length < CHISQUARE_MAX_NUMERIC_VALUES) s.values[k] = 1;
        else s.values = null;
      }
    } else {
      addCategorical(s, v === null || v === undefined ? null : String(v), this.maxCategories);
    }
  }

  /**
   * Adds `rows` rows from a row-major batch of `width` values per row: batch column j goes to summary
   * column colIdx[j] (-1: ignored). Column by column, so each inner loop is monomorphic and allocation-free.
   */
  addRowMajor(data: ArrayLike<unknown>, rows: number, width: number, colIdx: ArrayLike<number>, fromRow = 0): void {
    for (let j = 0; j < width; j++) {
      const i = colIdx[j];
      if (i < 0) continue;
      const s = this.summary.columns[i];
      if (s.type !== 'numeric' || s.values !== null) {
        for (let r = fromRow; r < fromRow + rows; r++) this.addValue(i, data[r * width + j]);
        continue;
      }
      const index = this.index[i]!;
      const counts = s.counts;
      const top = index.edges.length;
      const first = index.first;
      const last = index.last;
      let below = 0;
      let above = 0;
      let n = 0;
      let missing = 0;
      let min = s.min ?? Infinity;
      let max = s.max ?? -Infinity;
      let sum = 0;
      let sumSq = 0;
      for (let r = fromRow; r < fromRow + rows; r++) {
        const v = data[r * width + j];
        const x = typeof v === 'number' ? v : v === null || v === undefined || v === '' ? NaN : Number(v);
        if (!(x - x === 0)) {
          missing++;
          continue;
        }
        n++;
        const b = index.bin(x);
        counts[b]++;
        if (top > 0) {
          if (b === 0) below += first - x;
          else if (b === top) above += x - last;
        }
        if (x < min) min = x;
        if (x > max) max = x;
        sum += x;
        sumSq += x * x;
      }
      s.n += n;
      s.missing += missing;
      if (n > 0) {
        s.min = min;
        s.max = max;
      }
      s.sum += sum;
      s.sumSq += sumSq;
      s.below = (s.below ?? 0) + below;
      s.above = (s.above ?? 0) + above;
    }
    this.summary.rows += rows;
  }

  /** Adds one row given in `columns` order. */
  addRow(values: ArrayLike<unknown>): void {
    for (let i = 0; i < this.summary.columns.length; i++) this.addValue(i, values[i]);
    this.summary.rows++;
  }

  /** Adds a batch of rows for all columns at once (columns keyed by name; all the same length). */
  addColumns(cols: Readonly<Record<string, ArrayLike<unknown>>>): void {
    let rows = -1;
    for (let i = 0; i < this.columns.length; i++) {
      const v = cols[this.columns[i]];
      if (!v) throw new DriftError(`column '${this.columns[i]}' is missing from the batch; the reference summary has ${this.columns.join(', ')}`);
      if (rows >= 0 && v.length !== rows) throw new DriftError(`column '${this.columns[i]}' has ${v.length} values but others have ${rows}`);
      rows = v.length;
      for (let r = 0; r < v.length; r++) this.addValue(i, v[r]);
    }
    this.summary.rows += Math.max(rows, 0);
  }

  /** Records the time span covered. */
  touch(ts: string): void {
    if (!this.summary.start || ts < this.summary.start) this.summary.start = ts;
    if (!this.summary.end || ts > this.summary.end) this.summary.end = ts;
  }

  get rows(): number {
    return this.summary.rows;
  }

  /** A deep copy of the summary so far (JSON-safe). */
  snapshot(): CurrentSummary {
    return structuredClone(this.summary);
  }
}

/** Merges two current summaries of the same reference layout (associative and commutative). */
export function mergeSummaries(a: CurrentSummary, b: CurrentSummary, maxCategories = 1000): CurrentSummary {
  if (a.referenceId !== b.referenceId) throw new DriftError(`cannot merge summaries of different references (${a.referenceId} and ${b.referenceId})`);
  const cols = a.columns.map((ca, i) => {
    const cb = b.columns[i];
    if (!cb || cb.name !== ca.name || cb.type !== ca.type)
      throw new DriftError(`cannot merge: column ${i} is '${ca.name}' in one summary and '${cb?.name}' in the other`);
    if (ca.type === 'numeric') {
      const nb = cb as NumericColumnSummary;
      let values: Record<string, number> | null = null;
      if (ca.values && nb.values) {
        values = { ...ca.values };
        for (const [k, c] of Object.entries(nb.values)) values[k] = (values[k] ?? 0) + c;
        if (Object.keys(values).length > CHISQUARE_MAX_NUMERIC_VALUES) values = null;
      }
      const out: NumericColumnSummary = {
        name: ca.name,
        type: 'numeric',
        n: ca.n + nb.n,
        missing: ca.missing + nb.missing,
        min: ca.min === null ? nb.min : nb.min === null ? ca.min : Math.min(ca.min, nb.min),
        max: ca.max === null ? nb.max : nb.max === null ? ca.max : Math.max(ca.max, nb.max),
        sum: ca.sum + nb.sum,
        sumSq: ca.sumSq + nb.sumSq,
        counts: ca.counts.map((c, k) => c + nb.counts[k]),
        values,
        // Sums beyond the outer edges merge by addition; a summary written without them leaves them out.
        ...(ca.below !== undefined && nb.below !== undefined ? { below: ca.below + nb.below } : {}),
        ...(ca.above !== undefined && nb.above !== undefined ? { above: ca.above + nb.above } : {}),
      };
      return out;
    }
    const cbc = cb as CategoricalColumnSummary;
    const out: CategoricalColumnSummary = {
      name: ca.name,
      type: 'categorical',
      n: ca.n + cbc.n,
      missing: ca.missing + cbc.missing,
      counts: { ...ca.counts },
      other: ca.other + cbc.other,
    };
    for (const [k, c] of Object.entries(cbc.counts)) {
      if (out.counts[k] !== undefined) out.counts[k] += c;
      else if (Object.keys(out.counts).length < maxCategories) out.counts[k] = c;
      else out.other += c;
    }
    return out;
  });
  const start = [a.start, b.start].filter(Boolean).sort()[0];
  const end = [a.end, b.end].filter(Boolean).sort().pop();
  return {
    format: SUMMARY_FORMAT,
    kind: 'current',
    referenceId: a.referenceId,
    rows: a.rows + b.rows,
    ...(start ? { start } : {}),
    ...(end ? { end } : {}),
    columns: cols,
  };
}

/** Summarizes in-memory current columns against a reference summary. */
export function summarizeColumns(reference: ReferenceSummary, columns: readonly ColumnData[]): CurrentSummary {
  const acc = new SummaryAccumulator(reference);
  const byName: Record<string, ArrayLike<unknown>> = {};
  for (const c of columns) byName[c.name] = c.values;
  acc.addColumns(byName);
  return acc.snapshot();
}

/** Checks a parsed JSON value is a summary of the given kind; says what is wrong and where. */
export function parseSummary(json: unknown, kind: 'reference', where?: string): ReferenceSummary;
export function parseSummary(json: unknown, kind: 'current', where?: string): CurrentSummary;
export function parseSummary(json: unknown, kind: 'reference' | 'current', where = 'summary'): ReferenceSummary | CurrentSummary {
  const o = json as { format?: unknown; kind?: unknown; columns?: unknown };
  if (!o || typeof o !== 'object') throw new DriftError(`${where}: not a JSON object`);
  if (o.format !== SUMMARY_FORMAT) throw new DriftError(`${where}: format is ${JSON.stringify(o.format)}, expected "${SUMMARY_FORMAT}"`);
  if (o.kind !== kind) throw new DriftError(`${where}: kind is ${JSON.stringify(o.kind)}, expected "${kind}"`);
  if (!Array.isArray(o.columns)) throw new DriftError(`${where}: columns must be an array`);
  (o.columns as ColumnSummary[]).forEach((c, i) => {
    if (!c || typeof c.name !== 'string' || (c.type !== 'numeric' && c.type !== 'categorical'))
      throw new DriftError(`${where}: columns[${i}] needs a name and a type of numeric or categorical`);
  });
  return json as ReferenceSummary | CurrentSummary;
}

// ---------------------------------------------------------------------------------------------
// Comparison

interface BinnedCdfs {
  readonly edges: readonly number[];
  readonly r: number[]; // reference counts
  readonly c: number[]; // current counts
  readonly nr: number;
  readonly nc: number;
}

/** KS statistic bounds from binned counts: [lower, upper]. */
export function ksBounds(b: BinnedCdfs): { lower: number; upper: number } {
  let fr = 0;
  let fc = 0;
  let lower = 0;
  let upper = 0;
  for (let k = 0; k < b.r.length; k++) {
    const fr1 = fr + b.r[k] / b.nr;
    const fc1 = fc + b.c[k] / b.nc;
    lower = Math.max(lower, Math.abs(fr1 - fc1));
    upper = Math.max(upper, fr1 - fc, fc1 - fr);
    fr = fr1;
    fc = fc1;
  }
  return { lower, upper: Math.min(1, Math.max(upper, lower)) };
}

/**
 * Wasserstein-1 estimate (linear interpolation inside bins) and its error bound. With `outer` (the
 * reference has no values outside [edges[0], edges[last]], and the current's sums of distances beyond
 * those edges), the two outer bins are exact; without it they are interpolated out to `min`/`max`.
 */
export function wassersteinFromBins(
  b: BinnedCdfs,
  min: number,
  max: number,
  outer?: { readonly below: number; readonly above: number },
): { estimate: number; bound: number } {
  const k = b.r.length;
  let fr = 0;
  let fc = 0;
  let est = 0;
  let bound = 0;
  for (let i = 0; i < k; i++) {
    if (outer && k > 1 && (i === 0 || i === k - 1)) {
      // F_r is 0 left of edges[0] and 1 right of edges[last]: ∫ F_c = Σ (e0 - x) / n_c on the left,
      // ∫ (1 - F_c) = Σ (x - e_last) / n_c on the right. Exact.
      est += (i === 0 ? outer.below : outer.above) / b.nc;
      fr += b.r[i] / b.nr;
      fc += b.c[i] / b.nc;
      continue;
    }
    const left = i === 0 ? min : b.edges[i - 1];
    const right = i === k - 1 ? max : b.edges[i];
    const fr1 = fr + b.r[i] / b.nr;
    const fc1 = fc + b.c[i] / b.nc;
    const w = Math.max(0, right - left);
    if (w > 0 && (b.r[i] > 0 || b.c[i] > 0 || fr !== fc)) {
      const d0 = fr - fc;
      const d1 = fr1 - fc1;
      // ∫ over the bin of |linear from d0 to d1|
      if (d0 * d1 >= 0) est += (w * (Math.abs(d0) + Math.abs(d1))) / 2;
      else est += (w * (d0 * d0 + d1 * d1)) / (2 * (Math.abs(d0) + Math.abs(d1)));
      const U = Math.max(Math.abs(fr1 - fc), Math.abs(fc1 - fr), Math.abs(d0), Math.abs(d1));
      // lowest |diff| possible in the bin: 0 if the value ranges overlap, else the gap
      const rLo = fr,
        rHi = fr1,
        cLo = fc,
        cHi = fc1;
      const L = rHi < cLo ? cLo - rHi : cHi < rLo ? rLo - cHi : 0;
      bound += w * (U - L);
    }
    fr = fr1;
    fc = fc1;
  }
  return { estimate: est, bound };
}

function coarseCounts(fineEdges: readonly number[], coarseEdges: readonly number[], counts: readonly number[]): number[] {
  const out = new Array<number>(coarseEdges.length + 1).fill(0);
  let j = 0;
  for (let k = 0; k < counts.length; k++) {
    // fine bin k is (fineEdges[k-1], fineEdges[k]]; it belongs to coarse bin j where coarseEdges[j-1] < right <= coarseEdges[j]
    const right = k < fineEdges.length ? fineEdges[k] : Infinity;
    while (j < coarseEdges.length && right > coarseEdges[j]) j++;
    out[j] += counts[k];
  }
  return out;
}

function summaryHistogram(edges: readonly number[], r: number[], c: number[], nr: number, nc: number, min: number, max: number): ColumnHistogram {
  // Re-bin the fine bins onto 30 equal-width display bins (each fine bin's mass goes to the bin holding its midpoint).
  const synth = (counts: number[]): Float64Array => {
    const xs: number[] = [];
    for (let k = 0; k < counts.length; k++) {
      const left = k === 0 ? min : edges[k - 1];
      const right = k === counts.length - 1 ? max : edges[k];
      xs.push((Math.max(left, min) + Math.min(right, max)) / 2);
    }
    return Float64Array.from(xs.map((x, k) => (counts[k] > 0 ? x : NaN)));
  };
  const xr = synth(r);
  const xc = synth(c);
  const h = numericHistogram(Float64Array.from([min]), Float64Array.from([max]));
  const bins = h.edges!.length - 1;
  const place = (xs: Float64Array, counts: number[], n: number): number[] => {
    const out = new Array<number>(bins).fill(0);
    xs.forEach((x, k) => {
      if (!(x === x) || n === 0) return;
      let b = Math.floor(((x - h.edges![0]) / (h.edges![bins] - h.edges![0])) * bins);
      b = Math.max(0, Math.min(bins - 1, b));
      out[b] += counts[k] / n;
    });
    return out;
  };
  return { kind: 'numeric', edges: h.edges, reference: place(xr, r, nr), current: place(xc, c, nc) };
}

function compareNumericSummary(
  ref: NumericColumnSummary,
  cur: NumericColumnSummary,
  bins: NumericBins,
  std: number,
  opts: DriftOptions,
  resolved: ReturnType<typeof resolveOptions>,
  requested: TestName | 'auto',
): ColumnDrift {
  const missing = { reference: ref.missing, current: cur.missing };
  const count = { reference: ref.n, current: cur.n };
  let distinct = CHISQUARE_MAX_NUMERIC_VALUES + 1;
  if (ref.values && cur.values) distinct = new Set([...Object.keys(ref.values), ...Object.keys(cur.values)]).size;
  let test: TestName;
  let note: string | undefined;
  if (requested === 'auto') test = selectTest('numeric', ref.n, distinct);
  else if (testApplies(requested, 'numeric', distinct)) test = requested;
  else {
    test = selectTest('numeric', ref.n, distinct);
    note = `${requested} does not apply to this numeric column (more than ${CHISQUARE_MAX_NUMERIC_VALUES} distinct values); used ${test}`;
  }
  const threshold = resolved.thresholds[test];
  if (ref.n === 0 || cur.n === 0) {
    const which = ref.n === 0 && cur.n === 0 ? 'reference and current have' : ref.n === 0 ? 'reference has' : 'current window has';
    return {
      name: ref.name,
      type: 'numeric',
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
  const min = Math.min(ref.min!, cur.min!);
  const max = Math.max(ref.max!, cur.max!);
  const constant = ref.min === ref.max && cur.min === cur.max && ref.min === cur.min;
  const binned: BinnedCdfs = { edges: bins.edges, r: ref.counts, c: cur.counts, nr: ref.n, nc: cur.n };
  let statistic: number;
  let pValue: number | null = null;
  let errorBound = 0;
  const asCategories = test === 'chisquare' || (distinct <= AUTO_LOW_CARDINALITY && test === 'jensenshannon');
  if (asCategories && ref.values && cur.values) {
    const keys = [...new Set([...Object.keys(ref.values), ...Object.keys(cur.values)])];
    const r = keys.map((k) => ref.values![k] ?? 0);
    const c = keys.map((k) => cur.values![k] ?? 0);
    if (test === 'chisquare') {
      const x = chi2Contingency(r, c);
      statistic = x.statistic;
      pValue = x.pValue;
    } else statistic = jensenShannon(r, c);
  } else if (test === 'ks') {
    const { lower, upper } = ksBounds(binned);
    const p = ksPValue(lower, ref.n, cur.n);
    statistic = lower;
    pValue = p.pValue;
    errorBound = upper - lower;
    if (errorBound > 0)
      note = `from summaries: true KS statistic in [${lower.toPrecision(4)}, ${upper.toPrecision(4)}], p-value in [${ksPValue(upper, ref.n, cur.n).pValue.toPrecision(3)}, ${p.pValue.toPrecision(3)}]`;
  } else if (test === 'wasserstein') {
    // Exact outer bins when the reference lies inside its outer edges (summaries built since it keeps
    // its own min/max as edges) and the current kept its sums beyond them.
    const e = bins.edges;
    const exactOuter = e.length > 0 && ref.min! >= e[0] && ref.max! <= e[e.length - 1] && cur.below !== undefined && cur.above !== undefined;
    const w = wassersteinFromBins(binned, min, max, exactOuter ? { below: cur.below!, above: cur.above! } : undefined);
    const norm = resolved.normed ? Math.max(std, 1e-3) : 1;
    statistic = w.estimate / norm;
    errorBound = w.bound / norm;
  } else {
    const r = coarseCounts(bins.edges, bins.coarseEdges, ref.counts);
    const c = coarseCounts(bins.edges, bins.coarseEdges, cur.counts);
    statistic = test === 'psi' ? psi(r, c, resolved.psiEpsilon) : jensenShannon(r, c);
  }
  const drifted = isPValueTest(test) ? (pValue as number) < threshold : statistic >= threshold;
  if (constant && !note) note = 'constant column: reference and current hold one and the same value';
  return {
    name: ref.name,
    type: 'numeric',
    test,
    statistic,
    pValue,
    threshold,
    drifted,
    verdict: constant && !drifted ? 'constant' : drifted ? 'drift' : 'no-drift',
    missing,
    count,
    errorBound,
    ...(note ? { note } : {}),
    ...(resolved.histograms ? { histogram: summaryHistogram(bins.edges, ref.counts, cur.counts, ref.n, cur.n, min, max) } : {}),
  };
}

function compareCategoricalSummary(
  ref: CategoricalColumnSummary,
  cur: CategoricalColumnSummary,
  resolved: ReturnType<typeof resolveOptions>,
  requested: TestName | 'auto',
): ColumnDrift {
  const missing = { reference: ref.missing, current: cur.missing };
  const count = { reference: ref.n, current: cur.n };
  const rc = new Map(Object.entries(ref.counts));
  if (ref.other > 0) rc.set('(other)', ref.other);
  const cc = new Map(Object.entries(cur.counts));
  if (cur.other > 0) cc.set('(other)', (cc.get('(other)') ?? 0) + cur.other);
  const distinct = new Set([...rc.keys(), ...cc.keys()]).size;
  let test: TestName;
  let note: string | undefined;
  if (requested === 'auto') test = selectTest('categorical', ref.n, distinct);
  else if (testApplies(requested, 'categorical', distinct)) test = requested;
  else {
    test = selectTest('categorical', ref.n, distinct);
    note = `${requested} does not apply to this categorical column; used ${test}`;
  }
  const threshold = resolved.thresholds[test];
  if (ref.n === 0 || cur.n === 0) {
    const which = ref.n === 0 && cur.n === 0 ? 'reference and current have' : ref.n === 0 ? 'reference has' : 'current window has';
    return {
      name: ref.name,
      type: 'categorical',
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
  const keys = [...rc.keys()];
  const unseen: Record<string, number> = {};
  for (const [k, c] of cc) {
    if (!rc.has(k)) {
      keys.push(k);
      unseen[k] = c;
    }
  }
  const r = keys.map((k) => rc.get(k) ?? 0);
  const c = keys.map((k) => cc.get(k) ?? 0);
  let statistic: number;
  let pValue: number | null = null;
  if (test === 'chisquare') {
    const x = chi2Contingency(r, c);
    statistic = x.statistic;
    pValue = x.pValue;
  } else if (test === 'psi') statistic = psi(r, c, resolved.psiEpsilon);
  else statistic = jensenShannon(r, c);
  const drifted = isPValueTest(test) ? (pValue as number) < threshold : statistic >= threshold;
  const constant = keys.length === 1;
  if (constant && !note) note = 'constant column: reference and current hold one and the same value';
  const nr = ref.n || 1;
  const ncur = cur.n || 1;
  return {
    name: ref.name,
    type: 'categorical',
    test,
    statistic,
    pValue,
    threshold,
    drifted,
    verdict: constant && !drifted ? 'constant' : drifted ? 'drift' : 'no-drift',
    missing,
    count,
    errorBound: 0,
    ...(Object.keys(unseen).length ? { unseen } : {}),
    ...(note ? { note } : {}),
    ...(resolved.histograms
      ? {
          histogram: {
            kind: 'categorical' as const,
            categories: keys.slice(0, 21),
            reference: r.slice(0, 21).map((x) => x / nr),
            current: c.slice(0, 21).map((x) => x / ncur),
          },
        }
      : {}),
  };
}

/**
 * Compares a current window with a reference summary. `current` is a summary (from a
 * SummaryAccumulator, mergeSummaries or summarizePayloadLog) or raw columns, which are summarized first.
 * Each column carries `errorBound` (see the file header); the dataset verdict is combineColumns'.
 */
export function compareToReference(reference: ReferenceSummary, current: CurrentSummary | readonly ColumnData[], opts: DriftOptions = {}): DriftResult {
  const resolved = resolveOptions(opts);
  const cur = Array.isArray(current) ? summarizeColumns(reference, current as readonly ColumnData[]) : (current as CurrentSummary);
  if (cur.referenceId !== reference.id)
    throw new DriftError(`the current summary was built for reference ${cur.referenceId}, not ${reference.id}; summarize against this reference`);
  const wanted = new Set(opts.columns ?? reference.columns.map((c) => c.name));
  const binsByName = new Map(reference.bins.map((b) => [b.name, b]));
  const tests = opts.tests ?? 'auto';
  const out: ColumnDrift[] = [];
  reference.columns.forEach((rc, i) => {
    if (!wanted.has(rc.name)) return;
    const cc = cur.columns[i];
    const requested = typeof tests === 'string' ? tests : (tests[rc.name] ?? 'auto');
    if (rc.type === 'numeric')
      out.push(compareNumericSummary(rc, cc as NumericColumnSummary, binsByName.get(rc.name)!, reference.std[rc.name] ?? 0, opts, resolved, requested));
    else out.push(compareCategoricalSummary(rc, cc as CategoricalColumnSummary, resolved, requested));
  });
  for (const name of wanted) if (!reference.columns.some((c) => c.name === name)) throw new DriftError(`column '${name}' is not in the reference summary`);
  return combineColumns(out, { reference: reference.rows, current: cur.rows }, opts);
}
