/**
 * Types shared by the drift library, the streaming summaries, the CLI and the operator.
 * A DriftResult is plain JSON (no NaN, no Infinity): every number is finite or null.
 */

export type ColumnType = 'numeric' | 'categorical';

/** Univariate tests. p-value tests: ks, chisquare. Distance tests: wasserstein, psi, jensenshannon. */
export type TestName = 'ks' | 'chisquare' | 'wasserstein' | 'psi' | 'jensenshannon';
export const TEST_NAMES: readonly TestName[] = ['ks', 'chisquare', 'wasserstein', 'psi', 'jensenshannon'];

/** Default thresholds: p < 0.05 for p-value tests; distance >= 0.1 for distances (Evidently's defaults). */
export const DEFAULT_THRESHOLDS: Readonly<Record<TestName, number>> = {
  ks: 0.05,
  chisquare: 0.05,
  wasserstein: 0.1,
  psi: 0.1,
  jensenshannon: 0.1,
};

export function isPValueTest(t: TestName): boolean {
  return t === 'ks' || t === 'chisquare';
}

/** One column of raw data. Numeric: NaN/±Infinity are missing. Categorical: null/undefined are missing. */
export type ColumnData =
  | { readonly name: string; readonly type: 'numeric'; readonly values: ArrayLike<number> }
  | { readonly name: string; readonly type: 'categorical'; readonly values: ArrayLike<string | null | undefined> };

export type Correction = 'none' | 'bonferroni' | 'fdr';

export interface DriftOptions {
  /**
   * 'auto' (Evidently's rule, see selectTest), one test for every column where it applies, or a map
   * column → test. Where a forced test does not apply to a column, 'auto' is used and a note says so.
   * @default 'auto'
   */
  readonly tests?: TestName | 'auto' | Readonly<Record<string, TestName | 'auto'>>;
  /** Per-test thresholds. @default DEFAULT_THRESHOLDS */
  readonly thresholds?: Partial<Record<TestName, number>>;
  /** The dataset drifts when the share of drifted columns is >= this. @default 0.5 */
  readonly driftShare?: number;
  /** Multiple-testing correction over the p-value tests. @default 'none' */
  readonly correction?: Correction;
  /** Quantile bins (from the reference) for numeric PSI and Jensen-Shannon. @default 10 */
  readonly bins?: number;
  /** Share used for an empty bin in PSI. @default 1e-4 */
  readonly psiEpsilon?: number;
  /** Divide the Wasserstein distance by the reference's std (ddof 0, floored at 1e-3). @default true */
  readonly wassersteinNormed?: boolean;
  /** Only these columns (others ignored). @default every column of the reference */
  readonly columns?: readonly string[];
  /** Keep per-column histograms for the report. @default true */
  readonly histograms?: boolean;
}

/** Binned view of one column for charts (numeric: shared equal-width bins; categorical: categories). */
export interface ColumnHistogram {
  readonly kind: 'numeric' | 'categorical';
  /** Numeric: bin edges (length = bins + 1). */
  readonly edges?: number[];
  /** Categorical: category labels. */
  readonly categories?: string[];
  /** Shares (sum to 1 over non-missing values). */
  readonly reference: number[];
  readonly current: number[];
}

export type Verdict = 'drift' | 'no-drift' | 'empty' | 'constant';

export interface ColumnDrift {
  readonly name: string;
  readonly type: ColumnType;
  readonly test: TestName | null;
  /** The test statistic or distance; null when the column could not be tested (empty). */
  readonly statistic: number | null;
  /** For p-value tests (ks, chisquare); null for distances. */
  readonly pValue: number | null;
  /** The corrected p-value when a correction is on. */
  readonly adjustedPValue?: number | null;
  readonly threshold: number;
  readonly drifted: boolean;
  readonly verdict: Verdict;
  readonly missing: { readonly reference: number; readonly current: number };
  readonly count: { readonly reference: number; readonly current: number };
  /** Categories in the current data that the reference never had, with their counts. */
  readonly unseen?: Readonly<Record<string, number>>;
  /** When computed from sketches: the largest possible difference from the exact statistic. */
  readonly errorBound?: number;
  readonly note?: string;
  readonly histogram?: ColumnHistogram;
}

export interface DriftResult {
  readonly datasetDrift: boolean;
  /** Share of tested columns that drifted (0 when none could be tested). */
  readonly driftShare: number;
  readonly driftShareThreshold: number;
  readonly driftedColumns: number;
  /** Columns that could be tested (not empty). */
  readonly testedColumns: number;
  readonly correction: Correction;
  readonly rows: { readonly reference: number; readonly current: number };
  readonly columns: ColumnDrift[];
  /** 'ok' normally; 'empty' when the current window has no rows. */
  readonly status: 'ok' | 'empty';
  readonly multivariate?: MultivariateDrift;
}

export interface MultivariateDrift {
  readonly mmd?: {
    readonly statistic: number;
    readonly pValue: number;
    readonly bandwidth: number;
    readonly permutations: number;
    readonly sampleSize: number;
    readonly drifted: boolean;
  };
  readonly pca?: {
    readonly components: number;
    readonly referenceError: number;
    readonly currentError: number;
    readonly ratio: number;
    readonly ks: { readonly statistic: number; readonly pValue: number };
    readonly drifted: boolean;
  };
}

export class DriftError extends Error {
  constructor(
    message: string,
    readonly where?: string,
  ) {
    super(message);
    this.name = 'DriftError';
  }
}
