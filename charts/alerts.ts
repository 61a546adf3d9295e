/**
 * Alerts for a Model: `alerts: Alerts.of({ minAccuracy, maxP99LatencyMs, maxErrorRate })` on a
 * `Model` synthesizes a prometheus-operator `PrometheusRule` whose expressions use the model server's
 * real series (components/model-server/metrics.ts and quality.ts). Defaults are the usual serving
 * thresholds: accuracy below 0.85, p99 latency above 500 ms, error rate above 5%.
 *
 * @see https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.PrometheusRule
 */
import { ValidationError } from '../api/errors.ts';
import { parseDuration } from '../api/names.ts';
import { promql, type AlertRule } from '../api/alert-rules.ts';

/** @see AlertsOptions */
export const ALERT_DEFAULTS = {
  minAccuracy: 0.85,
  minEstimatedAccuracy: 0.85,
  maxP99LatencyMs: 500,
  maxErrorRate: 0.05,
  for: '5m',
  rateWindow: '5m',
  minSamples: 30,
  severity: 'warning',
} as const;

export interface AlertsOptions {
  /** Fire when a version's accuracy from feedback (ghosteam_model_quality) is below this; false: no accuracy alert. @default 0.85 */
  readonly minAccuracy?: number | false;
  /**
   * Fire when a version's accuracy estimated by CBPE before the labels arrive (ghosteam_model_quality_estimate,
   * binary classifiers) is below this; false: none. An earlier, noisier signal than minAccuracy.
   * @default - minAccuracy's value (0.85), or none when minAccuracy is false
   */
  readonly minEstimatedAccuracy?: number | false;
  /** Fire when a version's p99 latency is above this many milliseconds; false: none. @default 500 */
  readonly maxP99LatencyMs?: number | false;
  /** Fire when a version's share of non-2xx answers is above this (0–1); false: none. @default 0.05 */
  readonly maxErrorRate?: number | false;
  /** How long a condition must hold before the alert fires. @default '5m' */
  readonly for?: string;
  /** The window of the rate() behind latency and error rate. @default '5m' */
  readonly rateWindow?: string;
  /** Labelled predictions (for the estimate: predictions it covers) a version needs before accuracy can alert. @default 30 */
  readonly minSamples?: number;
  /** The `severity` label of every rule (what Alertmanager routes on). @default 'warning' */
  readonly severity?: string;
}

export interface PrometheusRuleSpec {
  readonly groups: ReadonlyArray<{
    readonly name: string;
    readonly rules: ReadonlyArray<{
      readonly alert: string;
      readonly expr: string;
      readonly for: string;
      readonly labels: Readonly<Record<string, string>>;
      readonly annotations: Readonly<Record<string, string>>;
    }>;
  }>;
}

/** Alert names, one per condition. */
export const ALERT_NAMES = {
  accuracy: 'GhosteamModelAccuracyLow',
  estimatedAccuracy: 'GhosteamModelEstimatedAccuracyLow',
  latency: 'GhosteamModelLatencyHigh',
  errors: 'GhosteamModelErrorRateHigh',
} as const;

export class Alerts {
  private constructor(readonly options: Required<AlertsOptions>) {}

  /** Validates the thresholds; `path` names the construct in errors. */
  static of(options: AlertsOptions = {}): Alerts {
    const o: Required<AlertsOptions> = {
      minAccuracy: options.minAccuracy ?? ALERT_DEFAULTS.minAccuracy,
      minEstimatedAccuracy: options.minEstimatedAccuracy ?? (options.minAccuracy === undefined ? ALERT_DEFAULTS.minEstimatedAccuracy : options.minAccuracy),
      maxP99LatencyMs: options.maxP99LatencyMs ?? ALERT_DEFAULTS.maxP99LatencyMs,
      maxErrorRate: options.maxErrorRate ?? ALERT_DEFAULTS.maxErrorRate,
      for: options.for ?? ALERT_DEFAULTS.for,
      rateWindow: options.rateWindow ?? ALERT_DEFAULTS.rateWindow,
      minSamples: options.minSamples ?? ALERT_DEFAULTS.minSamples,
      severity: options.severity ?? ALERT_DEFAULTS.severity,
    };
    const issues: Array<{ field: string; message: string }> = [];
    if (o.minAccuracy !== false && !(o.minAccuracy > 0 && o.minAccuracy <= 1))
      issues.push({ field: 'alerts.minAccuracy', message: `(${o.minAccuracy}) must be above 0 and at most 1, e.g. 0.85; or false for no accuracy alert` });
    if (o.minEstimatedAccuracy !== false && !(o.minEstimatedAccuracy > 0 && o.minEstimatedAccuracy <= 1))
      issues.push({
        field: 'alerts.minEstimatedAccuracy',
        message: `(${o.minEstimatedAccuracy}) must be above 0 and at most 1, e.g. 0.85; or false for no alert on the estimate`,
      });
    if (o.maxP99LatencyMs !== false && !(o.maxP99LatencyMs > 0))
      issues.push({ field: 'alerts.maxP99LatencyMs', message: `(${o.maxP99LatencyMs}) must be a number of milliseconds above 0, e.g. 500; or false` });
    if (o.maxErrorRate !== false && !(o.maxErrorRate >= 0 && o.maxErrorRate < 1))
      issues.push({ field: 'alerts.maxErrorRate', message: `(${o.maxErrorRate}) must be a share from 0 to below 1, e.g. 0.05 for 5%; or false` });
    if (!(Number.isInteger(o.minSamples) && o.minSamples >= 1))
      issues.push({ field: 'alerts.minSamples', message: `(${o.minSamples}) must be an integer >= 1` });
    for (const f of ['for', 'rateWindow'] as const) {
      try {
        if (parseDuration(o[f]) <= 0) throw new Error(`'${o[f]}' must be longer than 0s`);
      } catch (e) {
        issues.push({ field: `alerts.${f}`, message: (e as Error).message });
      }
    }
    if (!/^[a-z][a-z0-9_-]*$/.test(o.severity))
      issues.push({ field: 'alerts.severity', message: `'${o.severity}' must be a lowercase word like warning or critical` });
    if (issues.length > 0) throw new ValidationError(issues.map((i) => ({ path: 'Alerts.of', ...i })));
    return new Alerts(o);
  }

  /** The rules for model `model` (its registered name, the `model` label of the series): one definition for Prometheus and the local evaluator. */
  rules(model: string): AlertRule[] {
    const o = this.options;
    const labels = { severity: o.severity, model };
    const rules: AlertRule[] = [];
    if (o.minAccuracy !== false)
      rules.push({
        alert: ALERT_NAMES.accuracy,
        model,
        condition: {
          kind: 'gauge',
          metric: 'ghosteam_model_quality',
          match: { metric: 'accuracy' },
          op: '<',
          threshold: o.minAccuracy,
          guard: { metric: 'ghosteam_model_quality_samples', min: o.minSamples },
        },
        for: o.for,
        labels,
        annotations: {
          summary: `${model} version {{ $labels.version }}: accuracy {{ $value | humanizePercentage }} is below ${o.minAccuracy * 100}%`,
          description: `Accuracy from delayed labels (POST /v2/models/${model}/feedback) over the quality window has been below ${o.minAccuracy} for ${o.for}.`,
        },
      });
    if (o.minEstimatedAccuracy !== false)
      rules.push({
        alert: ALERT_NAMES.estimatedAccuracy,
        model,
        condition: {
          kind: 'gauge',
          metric: 'ghosteam_model_quality_estimate',
          match: { metric: 'accuracy' },
          op: '<',
          threshold: o.minEstimatedAccuracy,
          guard: { metric: 'ghosteam_model_quality_estimate_samples', min: o.minSamples },
        },
        for: o.for,
        labels,
        annotations: {
          summary: `${model} version {{ $labels.version }}: estimated accuracy {{ $value | humanizePercentage }} is below ${o.minEstimatedAccuracy * 100}% (CBPE, before labels)`,
          description: `Accuracy estimated by CBPE from the logged probabilities of predictions still waiting for labels has been below ${o.minEstimatedAccuracy} for ${o.for}: an estimate, not a measurement.`,
        },
      });
    if (o.maxP99LatencyMs !== false)
      rules.push({
        alert: ALERT_NAMES.latency,
        model,
        condition: {
          kind: 'quantile',
          histogram: 'ghosteam_model_request_duration_seconds',
          quantile: 0.99,
          window: o.rateWindow,
          threshold: o.maxP99LatencyMs / 1000,
        },
        for: o.for,
        labels,
        annotations: {
          summary: `${model} version {{ $labels.version }}: p99 latency {{ $value | humanizeDuration }} is above ${o.maxP99LatencyMs} ms`,
          description: `The 99th percentile of inference latency over ${o.rateWindow} has been above ${o.maxP99LatencyMs} ms for ${o.for}.`,
        },
      });
    if (o.maxErrorRate !== false)
      rules.push({
        alert: ALERT_NAMES.errors,
        model,
        condition: {
          kind: 'ratio',
          numerator: 'ghosteam_model_errors_total',
          denominator: 'ghosteam_model_requests_total',
          window: o.rateWindow,
          threshold: o.maxErrorRate,
        },
        for: o.for,
        labels,
        annotations: {
          summary: `${model} version {{ $labels.version }}: {{ $value | humanizePercentage }} of requests fail (limit ${o.maxErrorRate * 100}%)`,
          description: `The share of non-2xx answers over ${o.rateWindow} has been above ${o.maxErrorRate} for ${o.for}.`,
        },
      });
    return rules;
  }

  /** The PrometheusRule spec for model `model`: each rule's expression rendered from its condition. */
  ruleSpec(model: string): PrometheusRuleSpec {
    return {
      groups: [
        {
          name: `ghosteam-model-${model}`,
          rules: this.rules(model).map((r) => ({ alert: r.alert, expr: promql(r), for: r.for, labels: r.labels, annotations: r.annotations })),
        },
      ],
    };
  }

  /** The conditions behind ruleSpec's rules, for the PrometheusRule's ghosteam.io/alert-conditions annotation (read by the local evaluator). */
  conditionsAnnotation(model: string): string {
    return JSON.stringify(this.rules(model).map((r) => ({ alert: r.alert, condition: r.condition })));
  }
}
