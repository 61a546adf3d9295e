/**
 * Confidence-based performance estimation (CBPE, NannyML's algorithm) for binary classifiers: the
 * quality of predictions whose labels have not arrived yet, estimated from the model's own
 * probabilities. Fitted on a reference of labelled predictions (probability, label), it
 *
 * 1. calibrates the probabilities with isotonic regression fitted on the reference (scikit-learn's
 *    `IsotonicRegression(out_of_bounds='clip')`: pool-adjacent-violators over the distinct scores,
 *    linear interpolation between them), when the reference says they need it;
 * 2. estimates the confusion matrix of the unlabelled predictions as expectations — a prediction of
 *    class 1 with calibrated probability p is a true positive with probability p and a false positive
 *    with 1 − p — and from it accuracy, precision, recall and F1; ROC AUC from the expected true and
 *    false positive counts along the scores (NannyML's `estimate_roc_auc`);
 * 3. bounds each estimate by NannyML's sampling error (standard deviations measured on the
 *    reference, scaled by 1/√n of the estimated sample): value ± 3σ, clipped to [0, 1].
 *
 * Every figure is an estimate and says so (`estimated: true`); it is only as good as the calibration
 * and the assumption that the relation between score and outcome has not changed (no concept drift).
 * Checked against NannyML 0.13.1 on the same data (test/model-server/cbpe.test.ts).
 *
 * @see https://nannyml.readthedocs.io/en/stable/how_it_works/performance_estimation.html
 */

import { ESTIMATED_QUALITY_METRICS } from '../../api/quality.ts';

/** The metrics CBPE estimates for a binary classifier (api/quality.ts names). */
export const CBPE_METRICS = ESTIMATED_QUALITY_METRICS;
export type CbpeMetric = (typeof CBPE_METRICS)[number];

/** NannyML's SAMPLING_ERROR_RANGE: the bound is ±3 sampling errors. */
export const CBPE_SAMPLING_ERROR_RANGE = 3;

/** 'auto': calibrate when isotonic calibration lowers the calibration error on held-out folds of the reference. */
export type CbpeCalibration = 'auto' | 'isotonic' | 'none';

export interface CbpeOptions {
  /** Score at or above which the prediction is class 1. @default 0.5 */
  readonly threshold?: number;
  /** @default 'auto' */
  readonly calibration?: CbpeCalibration;
}

/** What a fitted CBPE keeps from its reference. */
export interface CbpeReference {
  readonly threshold: number;
  readonly samples: number;
  /** The isotonic calibration (distinct scores and their calibrated values), or undefined when the scores are used as they are. */
  readonly calibrator?: { readonly x: Float64Array; readonly y: Float64Array };
  /** Per metric: the reference standard deviation and the fraction of relevant rows (NannyML's sampling-error components). */
  readonly components: { readonly [M in CbpeMetric]?: { readonly std: number; readonly fraction: number } };
}

export interface CbpeMetricEstimate {
  readonly value: number;
  /** NannyML's sampling error of the estimate. */
  readonly samplingError: number;
  /** value ± CBPE_SAMPLING_ERROR_RANGE × samplingError, within [0, 1]. */
  readonly lower: number;
  readonly upper: number;
}

export interface CbpeEstimate {
  readonly estimated: true;
  /** Predictions the estimate covers. */
  readonly samples: number;
  /** Labelled predictions the estimator was fitted on. */
  readonly referenceSamples: number;
  readonly calibrated: boolean;
  /** Undefined metrics are absent (precision with no positive prediction, ROC AUC with all scores equal). */
  readonly metrics: { readonly [M in CbpeMetric]?: CbpeMetricEstimate };
}

/** Fits CBPE on labelled predictions: `scores[i]` the probability of class 1, `labels[i]` 0 or 1. */
export function fitCbpe(scores: ArrayLike<number>, labels: ArrayLike<number>, options: CbpeOptions = {}): CbpeReference {
  const n = scores.length;
  if (labels.length !== n) throw new Error(`CBPE: ${n} scores but ${labels.length} labels; give one label per score`);
  if (n === 0) throw new Error('CBPE: the reference is empty; it needs labelled predictions of both classes');
  const threshold = options.threshold ?? 0.5;
  const y = new Float64Array(n);
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l !== 0 && l !== 1) throw new Error(`CBPE: reference label ${i} is ${l}; a binary classifier's labels are 0 or 1`);
    const s = scores[i];
    if (!(s >= 0 && s <= 1)) throw new Error(`CBPE: reference score ${i} is ${s}; CBPE needs the probability of class 1 (0 to 1)`);
    y[i] = l;
    p[i] = s;
  }
  const positives = y.reduce((a, b) => a + b, 0);
  if (positives === 0 || positives === n) throw new Error(`CBPE: the reference has labels of one class only (${n} × ${positives ? 1 : 0}); it needs both`);
  const pred = p.map((s) => (s >= threshold ? 1 : 0));

  const mode = options.calibration ?? 'auto';
  const calibrator = mode === 'isotonic' || (mode === 'auto' && needsCalibration(p, y)) ? fitIsotonic(p, y) : undefined;
  return { threshold, samples: n, ...(calibrator ? { calibrator } : {}), components: samplingComponents(y, pred, p) };
}

/** Estimates the quality of predictions with scores `scores` (no labels) from a fitted reference. */
export function estimateCbpe(ref: CbpeReference, scores: ArrayLike<number>): CbpeEstimate {
  const n = scores.length;
  const raw = Float64Array.from(scores);
  const cal = ref.calibrator ? predictIsotonic(ref.calibrator, raw) : raw;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < n; i++) {
    if (raw[i] >= ref.threshold) {
      tp += cal[i];
      fp += 1 - cal[i];
    } else {
      fn += cal[i];
      tn += 1 - cal[i];
    }
  }
  const values: { [M in CbpeMetric]?: number } = {};
  if (n > 0) values.accuracy = (tp + tn) / n;
  if (tp + fp > 0) values.precision = tp / (tp + fp);
  if (tp + fn > 0) values.recall = tp / (tp + fn);
  if (tp + 0.5 * (fp + fn) > 0) values.f1 = tp / (tp + 0.5 * (fp + fn));
  const auc = n > 0 ? estimateRocAuc(cal, raw) : NaN;
  if (Number.isFinite(auc)) values.rocAuc = auc;

  const metrics: { [M in CbpeMetric]?: CbpeMetricEstimate } = {};
  for (const m of CBPE_METRICS) {
    const value = values[m];
    const c = ref.components[m];
    if (value === undefined || !c) continue;
    const samplingError = c.std / Math.sqrt(n * c.fraction);
    metrics[m] = {
      value,
      samplingError,
      lower: Math.max(0, value - CBPE_SAMPLING_ERROR_RANGE * samplingError),
      upper: Math.min(1, value + CBPE_SAMPLING_ERROR_RANGE * samplingError),
    };
  }
  return { estimated: true, samples: n, referenceSamples: ref.samples, calibrated: ref.calibrator !== undefined, metrics };
}

/** numpy's round(x, 5): round half to even on x·10⁵. */
function round5(x: number): number {
  const v = x * 1e5;
  const f = Math.floor(v);
  const d = v - f;
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return r / 1e5;
}

/** NannyML's estimate_roc_auc: expected TP/FP counts along the raw scores, descending, with calibrated probabilities. */
function estimateRocAuc(calibrated: Float64Array, raw: Float64Array): number {
  const n = raw.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => raw[b] - raw[a] || b - a);
  const tps = new Float64Array(n + 1);
  const fps = new Float64Array(n + 1);
  let cum = 0;
  for (let j = 0; j < n; j++) {
    cum += calibrated[order[j]];
    tps[j + 1] = cum;
    fps[j + 1] = 1 + j - cum;
  }
  for (let j = 0; j <= n; j++) {
    tps[j] = round5(tps[j]);
    fps[j] = round5(fps[j]);
  }
  const tMax = tps[n];
  const fMax = fps[n];
  if (!(tMax > 0) || !(fMax > 0)) return NaN;
  let area = 0;
  for (let j = 1; j <= n; j++) area += ((fps[j] - fps[j - 1]) / fMax) * ((tps[j] + tps[j - 1]) / tMax / 2);
  return area;
}

/** Population standard deviation (numpy's default, ddof = 0). */
function std(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return Math.sqrt(ss / n);
}

/** NannyML's sampling-error components (nannyml/sampling_error/binary_classification.py), from the reference. */
function samplingComponents(y: Float64Array, pred: Uint8Array | Float64Array, p: Float64Array): CbpeReference['components'] {
  const n = y.length;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let positives = 0;
  let predictedPositive = 0;
  for (let i = 0; i < n; i++) {
    if (pred[i] === 1 && y[i] === 1) tp++;
    if (pred[i] === 1 && y[i] === 0) fp++;
    if (pred[i] === 0 && y[i] === 1) fn++;
    positives += y[i];
    predictedPositive += pred[i];
  }
  const ones = (k: number, zeros: number, scale = 1) => [...Array<number>(k).fill(scale), ...Array<number>(zeros).fill(0)];
  const correctTable = Array.from(y, (v, i) => (v === pred[i] ? 1 : 0));
  const out: { -readonly [M in CbpeMetric]?: { std: number; fraction: number } } = {
    accuracy: { std: std(correctTable), fraction: 1 },
  };
  if (tp + fp > 0) out.precision = { std: std(ones(tp, fp)), fraction: predictedPositive / n };
  if (tp + fn > 0) out.recall = { std: std(ones(tp, fn)), fraction: positives / n };
  const relevant = tp + fp + fn;
  if (relevant > 0) out.f1 = { std: std(ones(tp, fp + fn, relevant / ((fn + fp) * 0.5 + tp))), fraction: relevant / n };
  out.rocAuc = aurocComponents(y, p);
  return out;
}

/** NannyML's auroc_sampling_error_components: the Mann-Whitney view of AUROC over the reference. */
function aurocComponents(yIn: Float64Array, pIn: Float64Array): { std: number; fraction: number } {
  const n = yIn.length;
  const flip = yIn.reduce((a, b) => a + b, 0) / n > 0.5;
  const y = flip ? yIn.map((v) => 1 - v) : yIn;
  const p = flip ? pIn.map((v) => 1 - v) : pIn;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[a] - p[b] || a - b);
  // The distinct values of y·rank, sorted, without the smallest (as numpy's unique(...)[1:]).
  const ranks = new Set<number>();
  for (let r = 0; r < n; r++) ranks.add(y[order[r]] * r);
  const indexes = [...ranks].sort((a, b) => a - b).slice(1);
  const nPos = y.reduce((a, b) => a + b, 0);
  const nNeg = n - nPos;
  const ser = indexes.map((index, i) => (index - i) / nNeg);
  return { std: std(ser), fraction: nPos / n };
}

/** scikit-learn's IsotonicRegression(increasing=True, out_of_bounds='clip').fit(x, y), as the points to interpolate. */
export function fitIsotonic(x: ArrayLike<number>, y: ArrayLike<number>): { x: Float64Array; y: Float64Array } {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  // Ties in x become one point: the mean of their y, weighted by their count.
  const ux: number[] = [];
  const uy: number[] = [];
  const uw: number[] = [];
  for (const i of order) {
    const last = ux.length - 1;
    if (last >= 0 && ux[last] === x[i]) {
      uy[last] += y[i];
      uw[last] += 1;
    } else {
      ux.push(x[i]);
      uy.push(y[i]);
      uw.push(1);
    }
  }
  for (let i = 0; i < uy.length; i++) uy[i] /= uw[i];
  // Pool adjacent violators: blocks of (mean, weight, length).
  const mean: number[] = [];
  const weight: number[] = [];
  const size: number[] = [];
  for (let i = 0; i < uy.length; i++) {
    mean.push(uy[i]);
    weight.push(uw[i]);
    size.push(1);
    while (mean.length > 1 && mean[mean.length - 2] >= mean[mean.length - 1]) {
      const w = weight[weight.length - 2] + weight[weight.length - 1];
      const m = (mean[mean.length - 2] * weight[weight.length - 2] + mean[mean.length - 1] * weight[weight.length - 1]) / w;
      const s = size[size.length - 2] + size[size.length - 1];
      mean.splice(-2, 2, m);
      weight.splice(-2, 2, w);
      size.splice(-2, 2, s);
    }
  }
  const fitted = new Float64Array(ux.length);
  let k = 0;
  for (let b = 0; b < mean.length; b++) for (let j = 0; j < size[b]; j++) fitted[k++] = mean[b];
  return { x: Float64Array.from(ux), y: fitted };
}

/** Linear interpolation between the fitted points; clipped to the end values outside them. */
export function predictIsotonic(model: { x: Float64Array; y: Float64Array }, values: ArrayLike<number>): Float64Array {
  const { x, y } = model;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (x.length === 1 || v <= x[0]) out[i] = y[0];
    else if (v >= x[x.length - 1]) out[i] = y[y.length - 1];
    else {
      let lo = 0;
      let hi = x.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (x[mid] <= v) lo = mid;
        else hi = mid;
      }
      out[i] = x[hi] === x[lo] ? y[lo] : y[lo] + ((y[hi] - y[lo]) * (v - x[lo])) / (x[hi] - x[lo]);
    }
  }
  return out;
}

/** Expected calibration error over 10 equal-width bins. */
function calibrationError(p: ArrayLike<number>, y: ArrayLike<number>): number {
  const bins = 10;
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < p.length; i++) {
    const b = Math.min(bins - 1, Math.floor(p[i] * bins));
    sumP[b] += p[i];
    sumY[b] += y[i];
    count[b]++;
  }
  let e = 0;
  for (let b = 0; b < bins; b++) if (count[b] > 0) e += Math.abs(sumP[b] - sumY[b]);
  return e / p.length;
}

/**
 * Whether isotonic calibration helps: on 10 interleaved folds of the reference (ordered by score),
 * calibrated on the other nine, is the held-out calibration error lower? (NannyML asks the same on
 * ten random stratified splits, so on a borderline reference the two may decide differently.)
 */
function needsCalibration(p: Float64Array, y: Float64Array): boolean {
  const n = p.length;
  if (n < 20) return false;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[a] - p[b] || a - b);
  const folds = 10;
  const before: number[] = [];
  const after: number[] = [];
  const truth: number[] = [];
  for (let f = 0; f < folds; f++) {
    const test = order.filter((_, r) => r % folds === f);
    const train = order.filter((_, r) => r % folds !== f);
    const model = fitIsotonic(
      train.map((i) => p[i]),
      train.map((i) => y[i]),
    );
    const cal = predictIsotonic(
      model,
      test.map((i) => p[i]),
    );
    for (const [j, i] of test.entries()) {
      before.push(p[i]);
      after.push(cal[j]);
      truth.push(y[i]);
    }
  }
  return calibrationError(before, truth) > calibrationError(after, truth);
}
