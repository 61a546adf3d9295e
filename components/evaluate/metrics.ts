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
  let tp = 0, fp = 0, tn = 0, fn = 0;
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
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && p[idx[j + 1]] === p[idx[i]]) j++;
    const avgRank = (i + j + 2) / 2;
    for (let t = i; t <= j; t++) if (y[idx[t]] === 1) {
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
