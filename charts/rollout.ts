/**
 * Value classes for how a model is served: rollout policy, autoscaling, payload logging.
 */
import { parseDuration } from '../api/names.ts';
import { payloadSinkUrl } from './operator-install.ts';
import { QUALITY_METRICS, QUALITY_MIN_SAMPLES } from '../api/quality.ts';
import {
  ROLLOUT_DEFAULTS,
  type RolloutQuality,
  type Autoscaling as AutoscalingSpec,
  type PayloadLogging as PayloadLoggingSpec,
  type RolloutPolicy,
} from '../api/crds/types.ts';

export interface CanaryOptions {
  /** Canary traffic percent per step, strictly increasing; 100 is appended when missing. */
  readonly steps: readonly number[];
  /** How long each step is analysed, e.g. '1m'. @default '5m' (ROLLOUT_DEFAULTS.intervalSeconds) */
  readonly interval?: string | number;
  /** Max fraction of failed canary requests (0..1). @default 0.05 (ROLLOUT_DEFAULTS.maxErrorRate, applied by the operator) */
  readonly maxErrorRate?: number;
  /** Max canary p99 latency in ms. @default - not checked */
  readonly maxP99LatencyMs?: number;
  /** Max drift between canary and stable predictions. @default - not checked */
  readonly maxPredictionDrift?: number;
  /** Requests a step needs before it can pass. @default 20 (ROLLOUT_DEFAULTS.minRequests, applied by the operator) */
  readonly minRequests?: number;
  /**
   * Judge the canary on delayed labels too (POST /v2/models/{name}/feedback): roll back when its
   * `metric` is worse than `threshold`, or worse than the stable version's by more than
   * `maxDegradation`, once it has `minSamples` labelled predictions (not judged before that).
   * `minSamples` @default 30 (QUALITY_MIN_SAMPLES, applied by the operator)
   * @default - quality not checked
   */
  readonly quality?: RolloutQuality;
}

export class Rollout {
  private constructor(readonly spec: RolloutPolicy) {}

  /** Shift traffic to a new version in steps, analysing each against the thresholds; roll back on failure. */
  static canary(opts: CanaryOptions): Rollout {
    const steps = [...opts.steps];
    if (steps.length === 0) throw new Error('Rollout.canary: give at least one step, e.g. steps: [10, 50, 100]');
    for (const [i, s] of steps.entries()) {
      if (!Number.isInteger(s) || s < 1 || s > 100) throw new Error(`Rollout.canary: step ${i} (${s}) must be a whole percent from 1 to 100`);
      if (i > 0 && s <= steps[i - 1]) throw new Error(`Rollout.canary: steps must increase; step ${i} (${s}) is not above ${steps[i - 1]}`);
    }
    if (steps[steps.length - 1] !== 100) steps.push(100);
    let intervalSeconds: number;
    try {
      intervalSeconds = parseDuration(opts.interval ?? ROLLOUT_DEFAULTS.intervalSeconds);
    } catch (err) {
      throw new Error(`Rollout.canary: interval ${(err as Error).message}`);
    }
    if (intervalSeconds < 1) throw new Error('Rollout.canary: interval must be at least 1s');
    if (opts.maxErrorRate !== undefined && !(opts.maxErrorRate >= 0 && opts.maxErrorRate <= 1)) {
      throw new Error(`Rollout.canary: maxErrorRate ${opts.maxErrorRate} is a fraction; write e.g. 0.01 for 1%`);
    }
    for (const k of ['maxP99LatencyMs', 'maxPredictionDrift', 'minRequests'] as const) {
      const v = opts[k];
      if (v !== undefined && !(v >= 0)) throw new Error(`Rollout.canary: ${k} ${v} must be >= 0`);
    }
    const q = opts.quality;
    if (q) {
      if (!(QUALITY_METRICS as readonly string[]).includes(q.metric))
        throw new Error(`Rollout.canary: quality.metric '${String(q.metric)}' is unknown; use one of ${QUALITY_METRICS.join(', ')}`);
      if (q.threshold === undefined && q.maxDegradation === undefined)
        throw new Error(`Rollout.canary: quality needs a threshold (e.g. 0.85 for accuracy) or a maxDegradation against the stable version (e.g. 0.02)`);
      if (q.threshold !== undefined && !Number.isFinite(q.threshold)) throw new Error(`Rollout.canary: quality.threshold ${q.threshold} must be a number`);
      if (q.maxDegradation !== undefined && !(q.maxDegradation >= 0))
        throw new Error(`Rollout.canary: quality.maxDegradation ${q.maxDegradation} must be >= 0`);
      if (q.minSamples !== undefined && !(Number.isInteger(q.minSamples) && q.minSamples >= 1))
        throw new Error(`Rollout.canary: quality.minSamples ${q.minSamples} must be a whole number >= 1 (default ${QUALITY_MIN_SAMPLES})`);
    }
    return new Rollout({
      strategy: 'canary',
      steps,
      intervalSeconds,
      thresholds: {
        ...(opts.maxErrorRate !== undefined ? { maxErrorRate: opts.maxErrorRate } : {}),
        ...(opts.maxP99LatencyMs !== undefined ? { maxP99LatencyMs: opts.maxP99LatencyMs } : {}),
        ...(opts.maxPredictionDrift !== undefined ? { maxPredictionDrift: opts.maxPredictionDrift } : {}),
        ...(q ? { quality: { ...q } } : {}),
      },
      ...(opts.minRequests !== undefined ? { minRequests: opts.minRequests } : {}),
    });
  }

  /** Replace the stable version at once (no analysis). */
  static direct(): Rollout {
    return new Rollout({ strategy: 'direct', steps: [100], intervalSeconds: 1, thresholds: {} });
  }
}

export class Autoscaling {
  private constructor(readonly spec: AutoscalingSpec) {}
  /**
   * @param a.minReplicas @default 1
   * @param a.maxReplicas @default 3
   * @param a.targetConcurrency in-flight requests per replica; @default 10
   */
  static of(a: { minReplicas?: number; maxReplicas?: number; targetConcurrency?: number } = {}): Autoscaling {
    const min = a.minReplicas ?? 1;
    const max = a.maxReplicas ?? Math.max(3, min);
    const target = a.targetConcurrency ?? 10;
    if (!Number.isInteger(min) || min < 0) throw new Error(`Autoscaling: minReplicas ${min} must be a whole number >= 0`);
    if (!Number.isInteger(max) || max < 1) throw new Error(`Autoscaling: maxReplicas ${max} must be a whole number >= 1`);
    if (max < min) throw new Error(`Autoscaling: maxReplicas (${max}) is below minReplicas (${min}); raise maxReplicas`);
    if (!Number.isInteger(target) || target < 1) throw new Error(`Autoscaling: targetConcurrency ${target} must be a whole number >= 1`);
    return new Autoscaling({ minReplicas: min, maxReplicas: max, targetConcurrency: target });
  }
  static readonly DEFAULT = Autoscaling.of();
}

export class PayloadLogging {
  private constructor(readonly spec: PayloadLoggingSpec) {}
  static disabled(): PayloadLogging {
    return new PayloadLogging({ enabled: false, mode: 'all' });
  }
  /**
   * Log requests and/or responses (KServe logger; the drift monitor reads them).
   * @param opts.url CloudEvents sink; @default - KServe's default logger URL (its inferenceservice-config);
   *   `toPayloadSink()` points at ghosteam's sink, which is what DriftMonitors read in a cluster
   * @param opts.sampleRate fraction of requests logged; @default 1
   */
  static enabled(opts: { mode?: PayloadLoggingSpec['mode']; url?: string; sampleRate?: number } = {}): PayloadLogging {
    if (opts.sampleRate !== undefined && !(opts.sampleRate > 0 && opts.sampleRate <= 1))
      throw new Error(`PayloadLogging: sampleRate ${opts.sampleRate} must be in (0, 1]`);
    if (opts.url !== undefined && !/^https?:\/\//.test(opts.url)) throw new Error(`PayloadLogging: url '${opts.url}' must start with http:// or https://`);
    return new PayloadLogging({
      enabled: true,
      mode: opts.mode ?? 'all',
      ...(opts.url ? { url: opts.url } : {}),
      ...(opts.sampleRate !== undefined ? { sampleRate: opts.sampleRate } : {}),
    });
  }
  /**
   * Log to the payload sink the operator hosts (`ghosteam install --payload-sink`), whose payload
   * log the cluster's DriftMonitors read.
   * @param opts.operatorNamespace where the operator is installed; @default 'ghosteam-system'
   */
  static toPayloadSink(opts: { mode?: PayloadLoggingSpec['mode']; sampleRate?: number; operatorNamespace?: string } = {}): PayloadLogging {
    const { operatorNamespace, ...rest } = opts;
    return PayloadLogging.enabled({ ...rest, url: payloadSinkUrl(operatorNamespace) });
  }
}
