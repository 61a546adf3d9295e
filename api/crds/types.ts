/**
 * The ghosteam custom resources (group `ghosteam.io`, version `v1alpha1`): `Model`, `DriftMonitor`,
 * `TrainingRun`, and the feature registry: `FeatureView`, `FeatureService`. Each spec and status is written ONCE here as a TypeBox schema; the TypeScript types
 * (`Static<>`), the CRDs' structural openAPIV3Schema (api/crds/index.ts) and the run-time ajv
 * validation (api/crds/validate.ts) are all derived from these schemas.
 *
 * Durations are integer seconds (unambiguous for every consumer); the constructs accept '1m'-style
 * strings and convert. Times are RFC 3339 strings (`date-time`).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ObjectMeta } from '../objects.ts';
import { QUALITY_METRICS, QUALITY_MIN_SAMPLES, QUALITY_SOURCES, QUALITY_TASKS, type QualityMetric, type QualityTask } from '../quality.ts';
import { AUTOSCALING_CEL_RULES, ROLLOUT_CEL_RULES } from './semantics.ts';

export const GROUP = 'ghosteam.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A string restricted to a fixed set of values (renders as `enum`, which Kubernetes prefers to `anyOf`). */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const DnsName = (description: string) => Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63, description });
const Quantity = (description: string) => Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$', description });

// ---------------------------------------------------------------------------------------------
// Shared pieces

export const ConditionStatusSchema = StringEnum(['True', 'False', 'Unknown'] as const);

/** A Kubernetes-style condition (metav1.Condition). `lastTransitionTime` changes only when `status` flips. */
export const ConditionSchema = Type.Object({
  type: Type.String({ description: "PascalCase condition type, e.g. 'Ready'", minLength: 1, maxLength: 316 }),
  status: ConditionStatusSchema,
  reason: Type.String({ description: 'PascalCase reason constant', pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', maxLength: 1024 }),
  message: Type.String({ maxLength: 32768 }),
  lastTransitionTime: DateTime('When status last changed'),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type Condition = Static<typeof ConditionSchema>;
export type ConditionStatus = Static<typeof ConditionStatusSchema>;

export const GpuSchema = Type.Object({
  count: Type.Integer({ minimum: 1, description: 'GPUs per replica (or MIG slices when mig is set)' }),
  product: Type.Optional(Type.String({ description: "Node label nvidia.com/gpu.product, e.g. 'NVIDIA-A100-SXM4-40GB'" })),
  minMemoryMiB: Type.Optional(Type.Integer({ minimum: 1, description: 'Minimum memory per GPU in MiB' })),
  mig: Type.Optional(Type.String({ pattern: '^[0-9]+g\\.[0-9]+gb$', description: "MIG profile, e.g. '1g.10gb'" })),
});
export type GpuRequest = Static<typeof GpuSchema>;

export const ResourcesSchema = Type.Object({
  cpu: Quantity('CPU request (limit defaults to the request)'),
  memory: Quantity('Memory request and limit'),
  cpuLimit: Type.Optional(Quantity('CPU limit')),
  memoryLimit: Type.Optional(Quantity('Memory limit')),
  gpu: Type.Optional(GpuSchema),
});
export type Resources = Static<typeof ResourcesSchema>;

// ---------------------------------------------------------------------------------------------
// Model

export const ModelRefSchema = Type.Object({
  name: Type.String({ minLength: 1, description: 'Registered model name in the model registry' }),
  version: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        'Without alias: the fixed version to serve, exactly (older ones included: this is how to force a version). ' +
        'With alias: the promoted baseline (models.lock.json, written back on promotion); a newer version of the alias that has not failed its canary is canaried against it. ' +
        'A pin older than the version serving never rolls the Model back; use a fixed version for that',
    }),
  ),
  alias: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "Registry alias new versions come from, e.g. 'champion'; 'latest' follows the newest version (the default without version). " +
        "Unless it is 'champion', promotions move the registry's champion alias",
    }),
  ),
});
export type ModelRef = Static<typeof ModelRefSchema>;

/**
 * What the operator applies for a rollout field a Model leaves out. Exported once: the operator uses
 * these values and the constructs' `@default` docs name them (charts/rollout.ts).
 */
export const ROLLOUT_DEFAULTS = {
  /** Seconds each canary step runs before it is analysed. */
  intervalSeconds: 300,
  /** Highest acceptable fraction of failed canary requests. */
  maxErrorRate: 0.05,
  /** Canary p99 latency: not checked unless set. */
  maxP99LatencyMs: Number.POSITIVE_INFINITY,
  /** Prediction drift between canary and stable: not checked unless set. */
  maxPredictionDrift: Number.POSITIVE_INFINITY,
  /** Canary requests a step needs before its analysis can pass. */
  minRequests: 20,
} as const;

export const QualityMetricSchema = StringEnum(QUALITY_METRICS, { description: 'A quality metric from delayed labels (POST /v2/models/{name}/feedback)' });

/** Quality from labels in canary analysis: judged once the canary has minSamples labelled predictions in the quality window; until then it is reported as not judged. */
export const RolloutQualitySchema = Type.Object({
  metric: QualityMetricSchema,
  threshold: Type.Optional(
    Type.Number({
      description:
        'The worst acceptable canary value: a floor for accuracy, precision, recall, f1, rocAuc and macroF1; a ceiling for rmse, mae and calibrationError',
    }),
  ),
  maxDegradation: Type.Optional(
    Type.Number({ minimum: 0, description: 'How much worse than the stable version (same window, same metric units) the canary may be' }),
  ),
  minSamples: Type.Optional(
    Type.Integer({ minimum: 1, description: `Labelled canary predictions needed before quality is judged (default ${QUALITY_MIN_SAMPLES})` }),
  ),
});
export type RolloutQuality = Static<typeof RolloutQualitySchema>;

export const RolloutThresholdsSchema = Type.Object({
  maxErrorRate: Type.Optional(
    Type.Number({ minimum: 0, maximum: 1, description: `Max fraction of failed requests on the canary (default ${ROLLOUT_DEFAULTS.maxErrorRate})` }),
  ),
  maxP99LatencyMs: Type.Optional(Type.Number({ minimum: 0, description: 'Max p99 latency of the canary in ms (default: not checked)' })),
  maxPredictionDrift: Type.Optional(Type.Number({ minimum: 0, description: 'Max drift score between canary and stable predictions (default: not checked)' })),
  quality: Type.Optional(RolloutQualitySchema),
});
export type RolloutThresholds = Static<typeof RolloutThresholdsSchema>;

export const RolloutSchema = Type.Object(
  {
    strategy: StringEnum(['canary', 'direct'] as const, { description: "'direct' replaces the stable version at once" }),
    /** Canary traffic percentages, strictly increasing, ending at 100. */
    steps: Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), { description: 'Canary traffic percent per step', maxItems: 100 }),
    intervalSeconds: Type.Integer({ minimum: 1, description: 'How long each step is analysed before the next' }),
    thresholds: RolloutThresholdsSchema,
    /** Minimum requests observed on the canary in a step before it can pass. */
    minRequests: Type.Optional(
      Type.Integer({ minimum: 0, description: `Canary requests a step needs before it can pass (default ${ROLLOUT_DEFAULTS.minRequests})` }),
    ),
  },
  { 'x-kubernetes-validations': ROLLOUT_CEL_RULES },
);
export type RolloutPolicy = Static<typeof RolloutSchema>;

export const AutoscalingSchema = Type.Object(
  {
    minReplicas: Type.Integer({ minimum: 0 }),
    maxReplicas: Type.Integer({ minimum: 1 }),
    targetConcurrency: Type.Integer({ minimum: 1, description: 'In-flight requests per replica' }),
  },
  { 'x-kubernetes-validations': AUTOSCALING_CEL_RULES },
);
export type Autoscaling = Static<typeof AutoscalingSchema>;

export const PayloadLoggingSchema = Type.Object({
  enabled: Type.Boolean(),
  mode: StringEnum(['all', 'request', 'response'] as const),
  /** Where KServe's logger sends CloudEvents; absent means the operator's default sink. */
  url: Type.Optional(Type.String()),
  sampleRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
});
export type PayloadLogging = Static<typeof PayloadLoggingSchema>;

export const ModelSpecSchema = Type.Object({
  modelRef: ModelRefSchema,
  format: StringEnum(['onnx'] as const),
  /** The KServe InferenceService (same namespace) whose predictor the operator manages. */
  inferenceService: DnsName('InferenceService name'),
  /** The KServe ServingRuntime the predictor uses. */
  runtime: DnsName('ServingRuntime name'),
  resources: ResourcesSchema,
  autoscaling: AutoscalingSchema,
  rollout: RolloutSchema,
  payloadLogging: PayloadLoggingSchema,
  /** The FeatureService (same namespace) whose features the model takes: requests may send entity keys instead of tensors. */
  featureService: Type.Optional(DnsName('FeatureService name')),
  /** The service's features ('view:feature') in the order the model's input takes them. */
  features: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
});
export type ModelSpec = Static<typeof ModelSpecSchema>;

export const ModelPhaseSchema = StringEnum(['Pending', 'Progressing', 'Ready', 'RolledBack', 'Failed'] as const);
export type ModelPhase = Static<typeof ModelPhaseSchema>;

export const AnalysisResultSchema = Type.Object({
  step: Type.Integer({ minimum: 0, description: 'Index into spec.rollout.steps' }),
  version: Type.Integer({ minimum: 1, description: 'Canary version analysed' }),
  trafficPercent: Type.Integer({ minimum: 0, maximum: 100 }),
  checkedAt: DateTime('When the analysis ran'),
  passed: Type.Boolean(),
  requests: Type.Optional(Type.Integer({ minimum: 0 })),
  errorRate: Type.Optional(Type.Number({ minimum: 0 })),
  p99LatencyMs: Type.Optional(Type.Number({ minimum: 0 })),
  predictionDrift: Type.Optional(Type.Number({ minimum: 0 })),
  /** The canary's quality metric (spec.rollout.thresholds.quality.metric) when it was judged. */
  quality: Type.Optional(Type.Number()),
  /** The stable version's value of the same metric over the same window. */
  stableQuality: Type.Optional(Type.Number()),
  /** Labelled canary predictions behind `quality`. */
  qualitySamples: Type.Optional(Type.Integer({ minimum: 0 })),
  message: Type.Optional(Type.String()),
});
export type AnalysisResult = Static<typeof AnalysisResultSchema>;

export const ROLLOUT_PHASES = ['Idle', 'Progressing', 'Paused', 'Promoted', 'RolledBack'] as const;
export const RolloutPhaseSchema = StringEnum(ROLLOUT_PHASES, {
  description:
    'Idle (nothing to roll out), Progressing or Paused (a canary is under way; the step is status.stepIndex), Promoted (the last canary became stable), RolledBack (the last canary failed)',
});
export type RolloutPhase = Static<typeof RolloutPhaseSchema>;

/** The one-shot rollout actions (annotation `ghosteam.io/rollout`) that act once per canary. */
export const HandledActionSchema = StringEnum(['promote', 'abort'] as const);
export type HandledAction = Static<typeof HandledActionSchema>;

/**
 * The rollout state machine's stored state (as Argo Rollouts keeps `status.canary`): the planner
 * reads it back after a restart. The Progressing/Degraded/RolloutAction conditions report it.
 */
export const RolloutStateSchema = Type.Object({
  phase: RolloutPhaseSchema,
  /** PascalCase outcome of the last rollout decision (RolloutStarted, StepPassed, ErrorRateTooHigh, Aborted, ...). */
  reason: Type.Optional(Type.String({ maxLength: 1024 })),
  message: Type.Optional(Type.String({ maxLength: 32768 })),
  /** The one-shot action already handled, so an annotation left in place acts once. */
  handledAction: Type.Optional(HandledActionSchema),
  /** When the stable version was promoted (phase Promoted); write-back records it. */
  promotedAt: Type.Optional(DateTime('When the last promotion happened')),
});
export type RolloutState = Static<typeof RolloutStateSchema>;

/** One version's quality from delayed labels over the model server's quality window. */
export const VersionQualityStatusSchema = Type.Object({
  version: Type.Integer({ minimum: 1 }),
  task: StringEnum(QUALITY_TASKS),
  /** Labelled predictions in the window. */
  samples: Type.Integer({ minimum: 0 }),
  windowSeconds: Type.Number({ minimum: 0 }),
  ...Object.fromEntries(QUALITY_METRICS.map((m) => [m, Type.Optional(Type.Number())])),
});
export type VersionQualityStatus = { version: number; task: QualityTask; samples: number; windowSeconds: number } & Partial<Record<QualityMetric, number>>;

export const ModelStatusSchema = Type.Object({
  phase: Type.Optional(ModelPhaseSchema),
  /** The rollout state (phase, last outcome, handled action); the step is stepIndex. Absent in a status written by an operator from before this field: then it is read from the conditions, once (controllers/planners/rollout-state.ts). */
  rollout: Type.Optional(RolloutStateSchema),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The version serving the stable share of traffic. */
  stableVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  /** The version being rolled out (absent when no rollout is in progress). */
  canaryVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Index into spec.rollout.steps of the current step. */
  stepIndex: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Percent of traffic on the canary now. */
  trafficPercent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  stepStartedAt: Type.Optional(DateTime('When the current step began')),
  /** Analysis results of the current (or last) rollout, oldest first. */
  analysis: Type.Optional(Type.Array(AnalysisResultSchema)),
  /** The last version that failed analysis and was rolled back (not retried until a newer one appears). */
  lastFailedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  /** The stable version the last promotion replaced (while the Model is in its Promoted state); write-back records it as the pin's `previous`. */
  promotedFrom: Type.Optional(Type.Integer({ minimum: 1 })),
  url: Type.Optional(Type.String()),
  /** Quality from delayed labels of the stable (and canary) version, once labels have joined their predictions. */
  quality: Type.Optional(Type.Object({ stable: Type.Optional(VersionQualityStatusSchema), canary: Type.Optional(VersionQualityStatusSchema) })),
  /** Git write-back of the promoted version (operator started with --git-repo); see controllers/planners/writeback.ts. */
  writeBack: Type.Optional(
    Type.Object({
      /** The last stable version found pinned in (or pushed to) the lock file: it is not written again. */
      version: Type.Optional(Type.Integer({ minimum: 1 })),
      /** The write-back commit (absent when the version was already pinned). */
      commit: Type.Optional(Type.String({ pattern: '^[0-9a-f]{7,64}$' })),
      /** The lock file pinning a newer version than this Model's stable one (another writer won). */
      supersededBy: Type.Optional(Type.Integer({ minimum: 1 })),
      /** Failed attempts in a row for the pending version; sets the backoff. */
      failures: Type.Optional(Type.Integer({ minimum: 0 })),
      lastAttemptTime: Type.Optional(DateTime('When the last write-back attempt finished')),
    }),
  ),
  conditions: Type.Optional(Type.Array(ConditionSchema)),
});
export type ModelStatus = Omit<Static<typeof ModelStatusSchema>, 'quality'> & {
  quality?: { stable?: VersionQualityStatus; canary?: VersionQualityStatus };
};
export type ModelWriteBack = NonNullable<ModelStatus['writeBack']>;

// ---------------------------------------------------------------------------------------------
// DriftMonitor

/**
 * The per-feature drift tests a DriftMonitor can run. MMD is not among them: it compares whole
 * multivariate samples, not one feature (use `ghosteam drift` for it); a spec asking for it is an error.
 */
export const DRIFT_TESTS = ['auto', 'ks', 'psi', 'chi2', 'jensen-shannon', 'wasserstein'] as const;
export const DriftTestSchema = StringEnum(DRIFT_TESTS);
export type DriftTest = Static<typeof DriftTestSchema>;

export const FeatureTypeSchema = StringEnum(['numerical', 'categorical'] as const);
export type FeatureType = Static<typeof FeatureTypeSchema>;

export const DriftFeatureSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  type: FeatureTypeSchema,
  /** Overrides spec.test for this feature. */
  test: Type.Optional(DriftTestSchema),
  /** Overrides spec.thresholds.feature for this feature. */
  threshold: Type.Optional(Type.Number({ minimum: 0 })),
});
export type DriftFeature = Static<typeof DriftFeatureSchema>;

export const DriftMonitorSpecSchema = Type.Object({
  /** The ghosteam `Model` (same namespace) whose traffic is monitored. */
  model: DnsName('Model name'),
  /** The reference dataset artifact (URI or local path) that current traffic is compared against. */
  reference: Type.Object({
    uri: Type.String({ minLength: 1 }),
    format: StringEnum(['parquet', 'csv', 'jsonl'] as const),
  }),
  features: Type.Array(DriftFeatureSchema, { minItems: 1 }),
  /** Default test for every feature ('auto' picks by type and sample size). */
  test: DriftTestSchema,
  thresholds: Type.Object({
    /** Per-feature threshold: a p-value for ks/chi2, a distance for psi/jensen-shannon/wasserstein. Absent = the test's default. */
    feature: Type.Optional(Type.Number({ minimum: 0 })),
    /** Dataset drift when at least this share of features drifted. */
    driftShare: Type.Number({ minimum: 0, maximum: 1 }),
  }),
  window: Type.Object({
    seconds: Type.Integer({ minimum: 1, description: 'How much recent traffic each check looks at' }),
    minSamples: Type.Integer({ minimum: 1, description: 'Checks with fewer samples are inconclusive' }),
  }),
  /** Standard 5-field cron expression for checks. */
  schedule: Type.String({ minLength: 9 }),
  /**
   * Retrain on model quality too (reason 'performance'): when the Model's stable version has at
   * least minSamples labelled predictions and the metric stays worse than threshold for forSeconds.
   * One run per incident: once a run started, the same breach of the same version starts no other.
   */
  quality: Type.Optional(
    Type.Object({
      metric: QualityMetricSchema,
      threshold: Type.Number({ description: 'A floor for accuracy-like metrics, a ceiling for rmse, mae and calibrationError' }),
      forSeconds: Type.Integer({ minimum: 0, description: 'How long the breach must last (checked on the schedule) before retraining' }),
      minSamples: Type.Integer({ minimum: 1, description: 'Labelled predictions (or, with source estimate, predictions) needed before quality is judged' }),
      source: Type.Optional(
        StringEnum(QUALITY_SOURCES, {
          description:
            "labels (default): quality measured on delayed labels; estimate: CBPE's estimate from the logged probabilities before the labels arrive (binary classifiers; accuracy, precision, recall, f1, rocAuc)",
        }),
      ),
    }),
  ),
  action: Type.Object({
    retrain: Type.Optional(
      Type.Object({
        /** The pipeline (WorkflowTemplate) name to run. */
        pipeline: DnsName('Pipeline name'),
        params: Type.Optional(Type.Record(Type.String(), Type.String())),
        /** No new run is started within this many seconds of the last one. */
        cooldownSeconds: Type.Integer({ minimum: 0 }),
      }),
    ),
  }),
});
export type DriftMonitorSpec = Static<typeof DriftMonitorSpecSchema>;

/** Bins (or categories) kept per feature histogram in status. */
export const DRIFT_HISTOGRAM_MAX_BINS = 20;
/** Checks kept in a DriftMonitor's status.history. */
export const DRIFT_HISTORY_MAX = 48;

/** One feature's reference and current distributions at a check, for charts: shares per bin or category. */
export const DriftHistogramSchema = Type.Object({
  kind: StringEnum(['numeric', 'categorical'] as const),
  /** Numeric: bin edges (one more than the shares). */
  edges: Type.Optional(Type.Array(Type.Number(), { maxItems: DRIFT_HISTOGRAM_MAX_BINS + 1 })),
  /** Categorical: the categories, most frequent first; the rest are summed into the last, '(other)'. */
  categories: Type.Optional(Type.Array(Type.String(), { maxItems: DRIFT_HISTOGRAM_MAX_BINS })),
  /** Shares of the reference's non-missing values per bin (sum to 1). */
  reference: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { maxItems: DRIFT_HISTOGRAM_MAX_BINS }),
  /** Shares of the window's non-missing values per bin (sum to 1). */
  current: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { maxItems: DRIFT_HISTOGRAM_MAX_BINS }),
});
export type DriftHistogram = Static<typeof DriftHistogramSchema>;

export const FeatureDriftResultSchema = Type.Object({
  name: Type.String(),
  test: DriftTestSchema,
  /** The test statistic (distance or score). */
  statistic: Type.Number(),
  pValue: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  threshold: Type.Number(),
  drifted: Type.Boolean(),
  histogram: Type.Optional(DriftHistogramSchema),
});

/** One kept check of a DriftMonitor (status.history, newest last). */
export const DriftCheckRecordSchema = Type.Object({
  time: DateTime('When the check ran'),
  samples: Type.Integer({ minimum: 0 }),
  driftShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  datasetDrift: Type.Optional(Type.Boolean()),
  /** The quality metric (spec.quality) of the stable version at the check, when known. */
  quality: Type.Optional(Type.Number()),
  qualityBreached: Type.Optional(Type.Boolean()),
});
export type DriftCheckRecord = Static<typeof DriftCheckRecordSchema>;
export type FeatureDriftResult = Static<typeof FeatureDriftResultSchema>;

export const DriftMonitorStatusSchema = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  lastCheckTime: Type.Optional(DateTime('When drift was last checked')),
  nextCheckTime: Type.Optional(DateTime('When the next check is due')),
  samples: Type.Optional(Type.Integer({ minimum: 0 })),
  skippedLines: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Unreadable payload-log lines (torn or corrupt records) the last check skipped; it used the rest' }),
  ),
  features: Type.Optional(Type.Array(FeatureDriftResultSchema)),
  datasetDrift: Type.Optional(Type.Boolean()),
  driftShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  /** The last checks (at most DRIFT_HISTORY_MAX, newest last): drift share and quality over time. */
  history: Type.Optional(Type.Array(DriftCheckRecordSchema, { maxItems: DRIFT_HISTORY_MAX })),
  /** Name of the last TrainingRun this monitor created. */
  lastTriggeredRun: Type.Optional(Type.String()),
  lastTriggeredAt: Type.Optional(DateTime('When lastTriggeredRun was created')),
  /** The last quality check (spec.quality) of the Model's stable version, and the breach in progress. */
  quality: Type.Optional(
    Type.Object({
      metric: QualityMetricSchema,
      /** Where value comes from: delayed labels, or CBPE's estimate (an estimate, not a measurement). */
      source: Type.Optional(StringEnum(QUALITY_SOURCES)),
      version: Type.Optional(Type.Integer({ minimum: 1 })),
      value: Type.Optional(Type.Number()),
      samples: Type.Integer({ minimum: 0 }),
      threshold: Type.Number(),
      breached: Type.Boolean(),
      /** When the current breach began (the first check that found it). */
      breachedSince: Type.Optional(DateTime('When the current breach began')),
      /** The TrainingRun started for the current breach: no other is started until the breach ends or the version changes. */
      incidentRun: Type.Optional(Type.String()),
    }),
  ),
  conditions: Type.Optional(Type.Array(ConditionSchema)),
});
export type DriftMonitorStatus = Static<typeof DriftMonitorStatusSchema>;

// ---------------------------------------------------------------------------------------------
// TrainingRun

export const TRAINING_REASONS = ['drift', 'performance', 'git-change', 'schedule', 'manual'] as const;
export const TrainingReasonSchema = StringEnum(TRAINING_REASONS);
export type TrainingReason = Static<typeof TrainingReasonSchema>;

export const TrainingRunSpecSchema = Type.Object({
  /** The pipeline (WorkflowTemplate) name. */
  pipeline: DnsName('Pipeline name'),
  /** Argument values (Argo parameters are strings; non-strings are JSON-encoded). */
  params: Type.Optional(Type.Record(Type.String(), Type.String())),
  reason: TrainingReasonSchema,
  /** The registered model name the run produces a version of. */
  model: Type.Optional(Type.String()),
  /** The pipeline's `ghosteam.io/spec-hash` when the run was requested. */
  specHash: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
  gitCommit: Type.Optional(Type.String({ pattern: '^[0-9a-f]{7,64}$' })),
  /** The DriftMonitor that requested the run (reason 'drift' or 'performance'). */
  driftMonitor: Type.Optional(Type.String()),
});
export type TrainingRunSpec = Static<typeof TrainingRunSpecSchema>;

export const TrainingRunPhaseSchema = StringEnum(['Pending', 'Running', 'Succeeded', 'Failed'] as const);
export type TrainingRunPhase = Static<typeof TrainingRunPhaseSchema>;

export const TrainingRunStatusSchema = Type.Object({
  phase: Type.Optional(TrainingRunPhaseSchema),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The Argo Workflow (or local run id) executing the pipeline. */
  workflowName: Type.Optional(Type.String()),
  startedAt: Type.Optional(DateTime('When the run started')),
  finishedAt: Type.Optional(DateTime('When the run finished')),
  /** The model version the run registered, if any. */
  registeredVersion: Type.Optional(Type.Integer({ minimum: 1 })),
  /** The pipeline's quality gate, when it has one; a rejected model is never registered. */
  gate: Type.Optional(
    Type.Object({
      passed: Type.Boolean(),
      /** Why the gate rejected the model (one line per failed rule). */
      reasons: Type.Array(Type.String()),
    }),
  ),
  /**
   * GPU placement while the run needs GPUs: the node its GPUs are reserved on (admitted), or its
   * place in the queue and why it waits. Gone once the run has finished (the GPUs are released).
   */
  gpu: Type.Optional(
    Type.Object({
      admittedNode: Type.Optional(Type.String()),
      queuePosition: Type.Optional(Type.Integer({ minimum: 1 })),
      queueReason: Type.Optional(Type.String()),
    }),
  ),
  /**
   * A Failed run: why (api/failure.ts `FailureReason`, e.g. InvalidParam, Network), and whether
   * running it again would fail the same way. A terminal failure is not retried by the operator or
   * `ghosteam watch`; the Degraded condition's reason says the same.
   */
  failureReason: Type.Optional(Type.String()),
  terminal: Type.Optional(Type.Boolean()),
  message: Type.Optional(Type.String()),
  conditions: Type.Optional(Type.Array(ConditionSchema)),
});
export type TrainingRunStatus = Static<typeof TrainingRunStatusSchema>;

// ---------------------------------------------------------------------------------------------
// FeatureView and FeatureService: the registry of declared features (the feature store)

/** The value types a feature can have (Feast's Float64, Int64, String, Bool). */
export const FEATURE_VALUE_TYPES = ['float64', 'int64', 'string', 'bool'] as const;
export const FeatureValueTypeSchema = StringEnum(FEATURE_VALUE_TYPES);
export type FeatureValueType = Static<typeof FeatureValueTypeSchema>;

/** The types a join key can have (Feast's entity value types Int64 and String). */
export const JOIN_KEY_TYPES = ['int64', 'string'] as const;
export const JoinKeyTypeSchema = StringEnum(JOIN_KEY_TYPES);
export type JoinKeyType = Static<typeof JoinKeyTypeSchema>;

const ColumnName = (description: string) => Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 128, description });

export const EntitySchema = Type.Object({
  name: ColumnName('Entity name, e.g. driver'),
  joinKeys: Type.Array(Type.Object({ name: ColumnName('Join key column'), type: JoinKeyTypeSchema }), { minItems: 1 }),
  description: Type.Optional(Type.String()),
});
export type EntityDef = Static<typeof EntitySchema>;

export const FEATURE_SOURCE_KINDS = ['file', 'uri', 'sql', 'dataset'] as const;
export const FeatureSourceSchema = Type.Object({
  /** file: a local path; uri: s3:// or http(s)://; sql: a query; dataset: a pipeline's output dataset. */
  kind: StringEnum(FEATURE_SOURCE_KINDS),
  /** Path or URI (file, uri). */
  uri: Type.Optional(Type.String({ minLength: 1 })),
  format: Type.Optional(StringEnum(['parquet', 'csv', 'jsonl', 'arrow'] as const)),
  /** The query (sql). */
  query: Type.Optional(Type.String({ minLength: 1 })),
  /** The pipeline and its output dataset (dataset), as `pipeline/task.output`. */
  dataset: Type.Optional(Type.String({ minLength: 1 })),
  /** The event-timestamp column: when each feature value became true. */
  timestampField: ColumnName('Event-timestamp column'),
  /** Breaks ties between rows with the same event timestamp: the later-created row wins. */
  createdTimestampField: Type.Optional(ColumnName('Created-timestamp column')),
});
export type FeatureSource = Static<typeof FeatureSourceSchema>;

export const FeatureFieldSchema = Type.Object({
  name: ColumnName('Feature column'),
  type: FeatureValueTypeSchema,
  description: Type.Optional(Type.String()),
});
export type FeatureField = Static<typeof FeatureFieldSchema>;

export const ONLINE_STORE_TYPES = ['sqlite', 'redis'] as const;
export const OnlineStoreSchema = Type.Object({
  type: StringEnum(ONLINE_STORE_TYPES),
  /** sqlite: the database file. */
  path: Type.Optional(Type.String({ minLength: 1 })),
  /** redis: the Secret (same namespace) whose key holds the connection URL (redis://…); never the URL itself. */
  secretRef: Type.Optional(Type.Object({ name: DnsName('Secret name'), key: Type.String({ minLength: 1 }) })),
});
export type OnlineStoreRef = Static<typeof OnlineStoreSchema>;

export const FeatureViewSpecSchema = Type.Object({
  entities: Type.Array(EntitySchema, { minItems: 1 }),
  source: FeatureSourceSchema,
  /** A value older than this (relative to the row's or the request's time) is not used; 0 = no limit (as Feast's ttl=0). */
  ttlSeconds: Type.Integer({ minimum: 0 }),
  features: Type.Array(FeatureFieldSchema, { minItems: 1 }),
  /** Whether materialization writes the latest values to the online store. */
  online: Type.Boolean(),
  onlineStore: Type.Optional(OnlineStoreSchema),
  /** When materialization runs (5-field cron), and how much event time each chunk covers. */
  materialization: Type.Optional(Type.Object({ schedule: Type.String({ minLength: 9 }), chunkSeconds: Type.Integer({ minimum: 1 }) })),
  description: Type.Optional(Type.String()),
});
export type FeatureViewSpec = Static<typeof FeatureViewSpecSchema>;

export const FeatureViewStatusSchema = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Materialized into the online store up to this event time. */
  materializedUntil: Type.Optional(DateTime('Online store holds values up to this event time')),
  conditions: Type.Optional(Type.Array(ConditionSchema)),
});
export type FeatureViewStatus = Static<typeof FeatureViewStatusSchema>;

/** What a lookup does with a feature that is missing or older than its view's TTL. */
export const MISSING_FEATURE_POLICIES = ['nan', 'default', 'reject'] as const;
export const MissingFeaturePolicySchema = StringEnum(MISSING_FEATURE_POLICIES);
export type MissingFeaturePolicy = Static<typeof MissingFeaturePolicySchema>;

export const FeatureServiceSpecSchema = Type.Object({
  /** The features, per view, in the order a model sees them. */
  features: Type.Array(Type.Object({ featureView: DnsName('FeatureView name'), features: Type.Array(ColumnName('Feature'), { minItems: 1 }) }), {
    minItems: 1,
  }),
  /** Missing or stale features: NaN/null (nan), the declared default (default), or a 4xx (reject). */
  onMissing: MissingFeaturePolicySchema,
  /** Per feature (`view:feature`), the value used when onMissing is 'default'. */
  defaults: Type.Optional(
    Type.Record(
      Type.String(),
      // A number, string or boolean by the feature's type (checked by the construct); free-form in the CRD, which has no scalar unions.
      Type.Unsafe<number | string | boolean>({ description: 'A number, string or boolean, by the feature type' }),
    ),
  ),
  description: Type.Optional(Type.String()),
});
export type FeatureServiceSpec = Static<typeof FeatureServiceSpecSchema>;

/**
 * What a model server needs to feed a model from a feature service, as one JSON document (the
 * `<model>-features` ConfigMap a `Model` with `features` synthesizes, read by `ghosteam serve
 * --feature-spec`): the service and every view it reads, with their online store. The store's
 * connection URL is never in it: it comes from the Secret the views name (GHOSTEAM_ONLINE_STORE_URL).
 */
export const ModelFeaturesSchema = Type.Object({
  service: DnsName('FeatureService name'),
  spec: FeatureServiceSpecSchema,
  views: Type.Record(Type.String(), FeatureViewSpecSchema),
});
export type ModelFeatures = Static<typeof ModelFeaturesSchema>;

export const FeatureServiceStatusSchema = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  conditions: Type.Optional(Type.Array(ConditionSchema)),
});
export type FeatureServiceStatus = Static<typeof FeatureServiceStatusSchema>;

// ---------------------------------------------------------------------------------------------
// Whole objects

export interface GhosteamResource<K extends string, S, St> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
  status?: St;
}
export type ModelResource = GhosteamResource<'Model', ModelSpec, ModelStatus>;
export type DriftMonitorResource = GhosteamResource<'DriftMonitor', DriftMonitorSpec, DriftMonitorStatus>;
export type TrainingRunResource = GhosteamResource<'TrainingRun', TrainingRunSpec, TrainingRunStatus>;
export type FeatureViewResource = GhosteamResource<'FeatureView', FeatureViewSpec, FeatureViewStatus>;
export type FeatureServiceResource = GhosteamResource<'FeatureService', FeatureServiceSpec, FeatureServiceStatus>;

export interface KindDef {
  readonly kind: 'Model' | 'DriftMonitor' | 'TrainingRun' | 'FeatureView' | 'FeatureService';
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly spec: TSchema;
  readonly status: TSchema;
  readonly printerColumns: readonly { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
}

export const KINDS: readonly KindDef[] = [
  {
    kind: 'Model',
    plural: 'models',
    singular: 'model',
    shortNames: ['gmodel', 'mdl'],
    spec: ModelSpecSchema,
    status: ModelStatusSchema,
    printerColumns: [
      { name: 'Stable', type: 'integer', jsonPath: '.status.stableVersion', description: 'Version serving stable traffic' },
      { name: 'Canary', type: 'integer', jsonPath: '.status.canaryVersion', description: 'Version being rolled out' },
      { name: 'Traffic', type: 'integer', jsonPath: '.status.trafficPercent', description: 'Percent of traffic on the canary' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Accuracy', type: 'number', jsonPath: '.status.quality.stable.accuracy', description: "Stable version's accuracy from delayed labels" },
      { name: 'Labels', type: 'integer', jsonPath: '.status.quality.stable.samples', description: 'Labelled predictions in the quality window', priority: 1 },
      { name: 'RMSE', type: 'number', jsonPath: '.status.quality.stable.rmse', priority: 1 },
      { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status" },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
  {
    kind: 'DriftMonitor',
    plural: 'driftmonitors',
    singular: 'driftmonitor',
    shortNames: ['dm', 'drift'],
    spec: DriftMonitorSpecSchema,
    status: DriftMonitorStatusSchema,
    printerColumns: [
      { name: 'Model', type: 'string', jsonPath: '.spec.model' },
      { name: 'Drift', type: 'boolean', jsonPath: '.status.datasetDrift' },
      { name: 'Share', type: 'number', jsonPath: '.status.driftShare' },
      { name: 'Quality', type: 'number', jsonPath: '.status.quality.value', description: 'The quality metric of spec.quality' },
      { name: 'Last-Check', type: 'date', jsonPath: '.status.lastCheckTime' },
      { name: 'Last-Run', type: 'string', jsonPath: '.status.lastTriggeredRun', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
  {
    kind: 'TrainingRun',
    plural: 'trainingruns',
    singular: 'trainingrun',
    shortNames: ['tr', 'trun'],
    spec: TrainingRunSpecSchema,
    status: TrainingRunStatusSchema,
    printerColumns: [
      { name: 'Pipeline', type: 'string', jsonPath: '.spec.pipeline' },
      { name: 'Reason', type: 'string', jsonPath: '.spec.reason' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Version', type: 'integer', jsonPath: '.status.registeredVersion' },
      { name: 'Workflow', type: 'string', jsonPath: '.status.workflowName', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
  {
    kind: 'FeatureView',
    plural: 'featureviews',
    singular: 'featureview',
    shortNames: ['fv'],
    spec: FeatureViewSpecSchema,
    status: FeatureViewStatusSchema,
    printerColumns: [
      { name: 'Entities', type: 'string', jsonPath: '.spec.entities[*].name' },
      { name: 'TTL', type: 'integer', jsonPath: '.spec.ttlSeconds', description: 'Seconds a value stays usable (0: no limit)' },
      { name: 'Online', type: 'boolean', jsonPath: '.spec.online' },
      { name: 'Materialized', type: 'date', jsonPath: '.status.materializedUntil' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
  {
    kind: 'FeatureService',
    plural: 'featureservices',
    singular: 'featureservice',
    shortNames: ['fs'],
    spec: FeatureServiceSpecSchema,
    status: FeatureServiceStatusSchema,
    printerColumns: [
      { name: 'Views', type: 'string', jsonPath: '.spec.features[*].featureView' },
      { name: 'On-Missing', type: 'string', jsonPath: '.spec.onMissing' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
];
