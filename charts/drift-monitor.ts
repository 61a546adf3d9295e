/**
 * `DriftMonitor`: compare the live traffic of a `Model` with a reference dataset on a schedule, per
 * feature, and retrain with a pipeline when enough features drift. Synthesizes a ghosteam
 * `DriftMonitor` resource (the operator runs the checks and creates `TrainingRun`s).
 */
import { Construct } from 'constructs';
import { messages } from '../pipelines/check.ts';
import { dnsLabelProblem, parseDuration } from '../api/names.ts';
import type { Pipeline } from '../pipelines/pipeline.ts';
import { Schedule } from '../pipelines/resources.ts';
import { API_VERSION, DRIFT_TESTS, type DriftFeature, type DriftMonitorSpec, type DriftTest } from '../api/crds/types.ts';
import { ValidationError, type Issue } from '../api/errors.ts';
import type { Model } from './model.ts';
import { RenderedObject } from '../api/rendered-object.ts';
import { MODEL_LABEL } from '../api/objects.ts';
import { ESTIMATED_QUALITY_METRICS, QUALITY_METRICS, QUALITY_SOURCES, crossing, type QualityMetric, type QualitySource } from '../api/quality.ts';

const NUMERICAL_ONLY: readonly DriftTest[] = ['ks', 'wasserstein'];
const CATEGORICAL_ONLY: readonly DriftTest[] = ['chi2'];

export class Feature {
  private constructor(readonly spec: DriftFeature) {}
  /** A numeric feature. @param opts.test @default - the monitor's test */
  static numerical(name: string, opts: { test?: DriftTest; threshold?: number } = {}): Feature {
    return Feature.make(name, 'numerical', opts);
  }
  static categorical(name: string, opts: { test?: DriftTest; threshold?: number } = {}): Feature {
    return Feature.make(name, 'categorical', opts);
  }
  private static make(name: string, type: DriftFeature['type'], opts: { test?: DriftTest; threshold?: number }): Feature {
    if (!name) throw new Error('Feature: give the column name');
    if (opts.test !== undefined) checkTest(opts.test, type, `Feature.${type}('${name}')`);
    if (opts.threshold !== undefined && !(opts.threshold >= 0)) throw new Error(`Feature.${type}('${name}'): threshold ${opts.threshold} must be >= 0`);
    return new Feature({ name, type, ...(opts.test ? { test: opts.test } : {}), ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}) });
  }
}

function checkTest(test: string, type: DriftFeature['type'] | undefined, where: string): void {
  if (test === 'mmd')
    throw new Error(
      `${where}: test 'mmd' compares whole samples, not one feature, so a DriftMonitor cannot run it; use one of ${DRIFT_TESTS.join(', ')} (or 'ghosteam drift' for MMD over all features)`,
    );
  if (!(DRIFT_TESTS as readonly string[]).includes(test)) throw new Error(`${where}: test '${test}' is unknown; use one of ${DRIFT_TESTS.join(', ')}`);
  if (type === 'categorical' && NUMERICAL_ONLY.includes(test as DriftTest))
    throw new Error(`${where}: test '${test}' needs numbers; use chi2, psi or jensen-shannon for a categorical feature`);
  if (type === 'numerical' && CATEGORICAL_ONLY.includes(test as DriftTest))
    throw new Error(`${where}: test '${test}' needs categories; use ks, psi, wasserstein or jensen-shannon for a numerical feature`);
}

export class Retrain {
  private constructor(readonly spec: NonNullable<DriftMonitorSpec['action']['retrain']>) {}
  /**
   * Start the pipeline when dataset drift is detected, at most once per `cooldown`.
   * @param opts.cooldown @default '6h'
   */
  static withPipeline(pipeline: Pipeline | string, opts: { cooldown?: string | number; params?: Record<string, string> } = {}): Retrain {
    const name = typeof pipeline === 'string' ? pipeline : pipeline.name;
    if (dnsLabelProblem(name)) throw new Error(`Retrain.withPipeline: ${messages.notDns(name)}`);
    return new Retrain({ pipeline: name, ...(opts.params ? { params: { ...opts.params } } : {}), cooldownSeconds: parseDuration(opts.cooldown ?? '6h') });
  }
}

/** Retraining on model quality from delayed labels (TrainingRun reason 'performance'). */
export class QualityTrigger {
  private constructor(readonly spec: NonNullable<DriftMonitorSpec['quality']>) {}
  /**
   * Retrain when the Model's stable version's `metric` is worse than `threshold` (below it for
   * accuracy-like metrics, above it for rmse, mae and calibrationError) at every check for `for`.
   * @param opts.for @default '30m'
   * @param opts.minSamples labelled predictions (with `source: 'estimate'`, predictions) needed before quality is judged; @default 100
   * @param opts.source 'labels' (measured on delayed labels) or 'estimate' (CBPE's estimate from the logged
   *   probabilities before the labels arrive; binary classifiers; accuracy, precision, recall, f1, rocAuc); @default 'labels'
   */
  static of(metric: QualityMetric, threshold: number, opts: { for?: string | number; minSamples?: number; source?: QualitySource } = {}): QualityTrigger {
    if (!(QUALITY_METRICS as readonly string[]).includes(metric))
      throw new Error(`QualityTrigger.of: metric '${String(metric)}' is unknown; use one of ${QUALITY_METRICS.join(', ')}`);
    const source = opts.source ?? 'labels';
    if (!(QUALITY_SOURCES as readonly string[]).includes(source))
      throw new Error(`QualityTrigger.of('${metric}'): source '${String(source)}' is unknown; use one of ${QUALITY_SOURCES.join(', ')}`);
    if (source === 'estimate' && !(ESTIMATED_QUALITY_METRICS as readonly string[]).includes(metric))
      throw new Error(
        `QualityTrigger.of('${metric}'): ${metric} has no estimate (CBPE estimates ${ESTIMATED_QUALITY_METRICS.join(', ')} of binary classifiers); use one of them or source 'labels'`,
      );
    if (!Number.isFinite(threshold)) throw new Error(`QualityTrigger.of('${metric}'): threshold ${threshold} must be a number, e.g. 0.85`);
    const minSamples = opts.minSamples ?? 100;
    if (!(Number.isInteger(minSamples) && minSamples >= 1))
      throw new Error(`QualityTrigger.of('${metric}'): minSamples ${minSamples} must be a whole number >= 1`);
    let forSeconds: number;
    try {
      forSeconds = parseDuration(opts.for ?? '30m');
    } catch (e) {
      throw new Error(`QualityTrigger.of('${metric}'): for ${(e as Error).message}`);
    }
    return new QualityTrigger({ metric, threshold, forSeconds, minSamples, ...(source === 'estimate' ? { source } : {}) });
  }
  /** E.g. 'accuracy below 0.85 for 1800s'. */
  toString(): string {
    return `${this.spec.source === 'estimate' ? 'estimated ' : ''}${this.spec.metric} ${crossing(this.spec.metric)} ${this.spec.threshold} for ${this.spec.forSeconds}s`;
  }
}

export interface DriftMonitorProps {
  /** @default - the construct id */
  readonly name?: string;
  /** The Model (or its name) whose traffic is monitored. */
  readonly model: Model | string;
  /** The reference dataset (URI or path); the format comes from the extension. */
  readonly reference: string;
  /** @default - from the extension of `reference` (.parquet, .csv, .jsonl) */
  readonly referenceFormat?: 'parquet' | 'csv' | 'jsonl';
  readonly features: readonly Feature[];
  /** Default test per feature. @default 'auto' (by type and sample size) */
  readonly test?: DriftTest;
  /** Per-feature threshold. @default - each test's default */
  readonly featureThreshold?: number;
  /** Dataset drift when at least this share of features drifted. @default 0.5 */
  readonly driftShare?: number;
  /** How much recent traffic each check looks at. @default '1h' */
  readonly window?: string | number;
  /** @default 100 */
  readonly minSamples?: number;
  /** @default Schedule.cron('*\/15 * * * *') */
  readonly schedule?: Schedule;
  /** @default - report only, never retrain */
  readonly retrain?: Retrain;
  /**
   * Also watch the Model's quality from delayed labels and retrain (with `retrain`'s pipeline) when
   * it stays bad: `QualityTrigger.of('accuracy', 0.85, { for: '30m' })`.
   * @default - quality is not watched
   */
  readonly quality?: QualityTrigger;
  /** @default - the chart's namespace */
  readonly namespace?: string;
}

export class DriftMonitor extends Construct {
  readonly name: string;
  private readonly spec: DriftMonitorSpec;

  constructor(scope: Construct, id: string, props: DriftMonitorProps) {
    super(scope, id);
    const path = this.node.path;
    this.name = props.name ?? id;
    const issues: Issue[] = [];
    if (dnsLabelProblem(this.name)) issues.push({ path, field: 'name', message: messages.notDns(this.name) });
    const modelName = typeof props.model === 'string' ? props.model : props.model.name;
    const format = props.referenceFormat ?? formatOf(props.reference);
    if (!format)
      issues.push({
        path,
        field: 'referenceFormat',
        message: `can't be told from '${props.reference}'; name a .parquet, .csv or .jsonl file or set referenceFormat`,
      });
    if (props.features.length === 0)
      issues.push({ path, field: 'features', message: "is empty; list the features to monitor, e.g. [Feature.numerical('amount')]" });
    const seen = new Set<string>();
    for (const f of props.features) {
      if (seen.has(f.spec.name)) issues.push({ path, field: 'features', message: `lists '${f.spec.name}' twice; keep one` });
      seen.add(f.spec.name);
    }
    const test = props.test ?? 'auto';
    try {
      checkTest(test, undefined, 'test');
    } catch (err) {
      issues.push({ path, field: 'test', message: (err as Error).message.replace(/^test: /, '') });
    }
    const driftShare = props.driftShare ?? 0.5;
    if (!(driftShare > 0 && driftShare <= 1))
      issues.push({ path, field: 'driftShare', message: `${driftShare} must be in (0, 1]; e.g. 0.3 means 30% of features` });
    const minSamples = props.minSamples ?? 100;
    if (!Number.isInteger(minSamples) || minSamples < 1) issues.push({ path, field: 'minSamples', message: `${minSamples} must be a whole number >= 1` });
    let windowSeconds = 3600;
    try {
      windowSeconds = parseDuration(props.window ?? '1h');
      if (windowSeconds < 1) issues.push({ path, field: 'window', message: 'must be at least 1s' });
    } catch (err) {
      issues.push({ path, field: 'window', message: (err as Error).message });
    }
    if (issues.length) throw new ValidationError(issues);

    this.spec = {
      model: modelName,
      reference: { uri: props.reference, format: format! },
      features: props.features.map((f) => ({ ...f.spec })),
      test,
      thresholds: { ...(props.featureThreshold !== undefined ? { feature: props.featureThreshold } : {}), driftShare },
      window: { seconds: windowSeconds, minSamples },
      schedule: (props.schedule ?? Schedule.cron('*/15 * * * *')).spec.cron,
      ...(props.quality ? { quality: { ...props.quality.spec } } : {}),
      action: props.retrain ? { retrain: props.retrain.spec } : {},
    };
    new RenderedObject(this, 'DriftMonitor', {
      apiVersion: API_VERSION,
      kind: 'DriftMonitor',
      name: this.name,
      namespace: props.namespace,
      owner: this,
      render: () => ({ labels: { [MODEL_LABEL]: modelName }, body: { spec: this.spec } }),
    });
  }
}

function formatOf(uri: string): 'parquet' | 'csv' | 'jsonl' | undefined {
  const ext = /\.([a-z]+)$/i.exec(uri.replace(/[?#].*$/, ''))?.[1]?.toLowerCase();
  if (ext === 'parquet' || ext === 'pq') return 'parquet';
  if (ext === 'csv') return 'csv';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  return undefined;
}
