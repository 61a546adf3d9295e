/** Pure binary-classification metrics. y is 0/1, p the predicted probability of class 1. */

export interface Confusion {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

export interface CalibrationBin {
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
  /** Mean predicted probability in the bin (null when empty). */
  readonly meanPredicted: number | null;
  /** Observed share of positives in the bin (null when empty). */
  readonly fractionPositive: number | null;
}

export interface BinaryMetrics {
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly rocAuc: number;
  readonly logLoss: number;
  /** Expected calibration error over the bins. */
  readonly ece: number;
  readonly positiveRate: number;
}

export interface Evaluation {
  readonly rows: number;
  readonly threshold: number;
  readonly metrics: BinaryMetrics;
  readonly confusion: Confusion;
  readonly calibration: readonly CalibrationBin[];
}

export function confusion(y: ArrayLike<number>, p: ArrayLike<number>, threshold: number): Confusion {
  let tp = 0,
    fp = 0,
    tn = 0,
    fn = 0;
  for (let i = 0; i < y.length; i++) {
    const pred = p[i] >= threshold;
    if (y[i] === 1) pred ? tp++ : fn++;
    else pred ? fp++ : tn++;
  }
  return { tp, fp, tn, fn };
}

/** ROC AUC as the Mann–Whitney U statistic, ties counted half. NaN when one class is absent. */
export function rocAuc(y: ArrayLike<number>, p: ArrayLike<number>): number {
  const n = y.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[a] - p[b]);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && p[idx[j + 1]] === p[idx[i]]) j++;
    const avgRank = (i + j + 2) / 2;
    for (let t = i; t <= j; t++)
      if (y[idx[t]] === 1) {
        rankSumPos += avgRank;
        nPos++;
      }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function logLoss(y: ArrayLike<number>, p: ArrayLike<number>, eps = 1e-15): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(1 - eps, Math.max(eps, p[i]));
    s -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return y.length ? s / y.length : NaN;
}

export function calibration(y: ArrayLike<number>, p: ArrayLike<number>, bins: number): CalibrationBin[] {
  const count = new Array<number>(bins).fill(0);
  const sumP = new Array<number>(bins).fill(0);
  const sumY = new Array<number>(bins).fill(0);
  // Bins are (lower, upper] (the first also holds 0), with edges i * (1 / bins), exactly as
  // scikit-learn's calibration_curve(strategy='uniform') computes them, so the tables agree.
  const step = 1 / bins;
  for (let i = 0; i < y.length; i++) {
    let b = 0;
    while (b < bins - 1 && (b + 1) * step < p[i]) b++;
    count[b]++;
    sumP[b] += p[i];
    sumY[b] += y[i];
  }
  return count.map((c, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    count: c,
    meanPredicted: c ? sumP[b] / c : null,
    fractionPositive: c ? sumY[b] / c : null,
  }));
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

export function evaluateBinary(y: ArrayLike<number>, p: ArrayLike<number>, threshold = 0.5, bins = 10): Evaluation {
  const cm = confusion(y, p, threshold);
  const n = y.length;
  const precision = ratio(cm.tp, cm.tp + cm.fp);
  const recall = ratio(cm.tp, cm.tp + cm.fn);
  const cal = calibration(y, p, bins);
  const ece = cal.reduce((a, b) => a + (b.count ? (b.count / n) * Math.abs(b.meanPredicted! - b.fractionPositive!) : 0), 0);
  return {
    rows: n,
    threshold,
    metrics: {
      accuracy: ratio(cm.tp + cm.tn, n),
      precision,
      recall,
      f1: ratio(2 * precision * recall, precision + recall),
      rocAuc: rocAuc(y, p),
      logLoss: logLoss(y, p),
      ece,
      positiveRate: ratio(cm.tp + cm.fn, n),
    },
    confusion: cm,
    calibration: cal,
  };
}

/** multiclass: y holds class indices, p is rows × classes (row-major). */
export interface MulticlassEvaluation {
  readonly task: 'multiclass';
  readonly rows: number;
  readonly classes: readonly string[];
  readonly metrics: { readonly accuracy: number; readonly macroF1: number; readonly logLoss: number };
  /** confusion[true][predicted] counts, in the order of `classes`. */
  readonly confusion: readonly (readonly number[])[];
  readonly perClass: readonly { readonly class: string; readonly precision: number; readonly recall: number; readonly f1: number; readonly support: number }[];
}

export function evaluateMulticlass(y: ArrayLike<number>, p: ArrayLike<number>, classes: readonly string[]): MulticlassEvaluation {
  const n = y.length;
  const c = classes.length;
  const cm = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  let correct = 0;
  let ll = 0;
  // The clip scikit-learn's log_loss applies (float64 machine epsilon).
  const eps = Number.EPSILON;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (p[i * c + k] > p[i * c + best]) best = k;
    cm[y[i]][best]++;
    if (best === y[i]) correct++;
    ll -= Math.log(Math.min(1 - eps, Math.max(eps, p[i * c + y[i]])));
  }
  const perClass = classes.map((name, k) => {
    const tp = cm[k][k];
    const support = cm[k].reduce((a, b) => a + b, 0);
    const predicted = cm.reduce((a, row) => a + row[k], 0);
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    return { class: name, precision, recall, f1: ratio(2 * precision * recall, precision + recall), support, predicted };
  });
  // Macro average over the classes present in the labels or the predictions (scikit-learn's default).
  const present = perClass.filter((x) => x.support > 0 || x.predicted > 0);
  const macroF1 = present.length ? present.reduce((a, x) => a + x.f1, 0) / present.length : NaN;
  return {
    task: 'multiclass',
    rows: n,
    classes,
    metrics: { accuracy: ratio(correct, n), macroF1, logLoss: n ? ll / n : NaN },
    confusion: cm,
    perClass: perClass.map(({ predicted: _p, ...rest }) => rest),
  };
}

export interface RegressionEvaluation {
  readonly task: 'regression';
  readonly rows: number;
  readonly metrics: { readonly rmse: number; readonly mae: number; readonly r2: number };
}

export function evaluateRegression(y: ArrayLike<number>, pred: ArrayLike<number>): RegressionEvaluation {
  const n = y.length;
  let se = 0;
  let ae = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i];
  mean /= n || 1;
  let tot = 0;
  for (let i = 0; i < n; i++) {
    const d = y[i] - pred[i];
    se += d * d;
    ae += Math.abs(d);
    tot += (y[i] - mean) ** 2;
  }
  // r2 of a constant target: 1 when predicted exactly, else 0 (scikit-learn's force_finite).
  const r2 = tot === 0 ? (se === 0 ? 1 : 0) : 1 - se / tot;
  return { task: 'regression', rows: n, metrics: { rmse: n ? Math.sqrt(se / n) : NaN, mae: n ? ae / n : NaN, r2 } };
}

/** The q-quantile with linear interpolation between order statistics (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export interface AnomalyEvaluation {
  readonly task: 'anomaly';
  readonly rows: number;
  readonly metrics: {
    readonly scoreMean: number;
    readonly scoreP50: number;
    readonly scoreP90: number;
    readonly scoreP95: number;
    readonly scoreP99: number;
    readonly rocAuc?: number;
  };
}

/** Score quantiles; with labels (1 = anomaly) also ROC AUC of the score. */
export function evaluateAnomaly(score: ArrayLike<number>, y?: ArrayLike<number>): AnomalyEvaluation {
  const sorted = Float64Array.from(score).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return {
    task: 'anomaly',
    rows: sorted.length,
    metrics: {
      scoreMean: sorted.length ? sum / sorted.length : NaN,
      scoreP50: quantile(sorted, 0.5),
      scoreP90: quantile(sorted, 0.9),
      scoreP95: quantile(sorted, 0.95),
      scoreP99: quantile(sorted, 0.99),
      ...(y ? { rocAuc: rocAuc(y, score) } : {}),
    },
  };
}
