/**
 * Which metrics `evaluate` produces for each training task: plain data, so the pipeline checks
 * (pipelines/check.ts) can tell at synth time whether a gate rule names a metric the upstream
 * evaluate really writes, without loading the components.
 */
export type TrainingTask = 'binary' | 'multiclass' | 'regression' | 'anomaly';

export const TASK_METRICS: Readonly<Record<TrainingTask, readonly string[]>> = {
  binary: ['accuracy', 'precision', 'recall', 'f1', 'rocAuc', 'auc', 'logLoss', 'ece', 'positiveRate'],
  multiclass: ['accuracy', 'macroF1', 'logLoss'],
  regression: ['rmse', 'mae', 'r2'],
  // rocAuc/auc only when the test set has a label column; the quantiles always.
  anomaly: ['scoreMean', 'scoreP50', 'scoreP90', 'scoreP95', 'scoreP99', 'rocAuc', 'auc'],
};

/** Every metric any task produces: evaluate's output params (one that doesn't apply is null). */
export const ALL_METRICS: readonly string[] = [...new Set(Object.values(TASK_METRICS).flat())];
