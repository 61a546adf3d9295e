/**
 * The names of the model-quality metrics (from delayed labels), shared by the model server's
 * exports, the CRDs (canary thresholds, the DriftMonitor's performance trigger, Model status) and
 * the constructs; and which way is worse for each, so that one threshold field works for both
 * accuracy-like metrics (a floor) and error-like ones (a ceiling).
 */

/** The learning tasks quality is computed for. */
export const QUALITY_TASKS = ['binary', 'multiclass', 'regression'] as const;
export type QualityTask = (typeof QUALITY_TASKS)[number];

/** Every quality metric the model server computes (components/model-server/quality.ts), by its key and `metric` label. */
export const QUALITY_METRICS = ['accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'calibrationError', 'macroF1', 'rmse', 'mae'] as const;
export type QualityMetric = (typeof QUALITY_METRICS)[number];

/** Metrics where a larger value is worse (errors); for the rest a smaller value is worse. */
export const LOWER_IS_BETTER: ReadonlySet<QualityMetric> = new Set<QualityMetric>(['calibrationError', 'rmse', 'mae']);

/** Labelled predictions a version needs in the window before its quality is judged. */
export const QUALITY_MIN_SAMPLES = 30;

/** Whether `value` is worse than `limit` for `metric` (below a floor, or above a ceiling). */
export function worseThan(metric: QualityMetric, value: number, limit: number): boolean {
  return LOWER_IS_BETTER.has(metric) ? value > limit : value < limit;
}

/** How much worse `value` is than `baseline` for `metric` (negative when better). */
export function worseBy(metric: QualityMetric, value: number, baseline: number): number {
  return LOWER_IS_BETTER.has(metric) ? value - baseline : baseline - value;
}

/** 'below' or 'above': the words for crossing a limit of `metric`. */
export function crossing(metric: QualityMetric): 'below' | 'above' {
  return LOWER_IS_BETTER.has(metric) ? 'above' : 'below';
}

/**
 * Where a quality figure comes from: `labels` (measured on delayed labels) or `estimate` (confidence-based
 * performance estimation, CBPE, from the logged probabilities before the labels arrive).
 */
export const QUALITY_SOURCES = ['labels', 'estimate'] as const;
export type QualitySource = (typeof QUALITY_SOURCES)[number];

/** The metrics CBPE estimates for binary classifiers (components/model-server/cbpe.ts CBPE_METRICS). */
export const ESTIMATED_QUALITY_METRICS = ['accuracy', 'precision', 'recall', 'f1', 'rocAuc'] as const satisfies readonly QualityMetric[];
export type EstimatedQualityMetric = (typeof ESTIMATED_QUALITY_METRICS)[number];
