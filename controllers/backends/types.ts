/**
 * The I/O seams of the reconcilers. Each has a Kubernetes implementation and a local one; the
 * planners never see which.
 */
import type { ServingState, VersionMetrics } from '../planners/canary.ts';
import type { ModelSpec } from '../../api/crds/index.ts';
import type { NodeAffinity, Toleration } from '../planners/placement.ts';
import type { WorkflowObserved, WorkflowSubmission } from '../planners/training-run.ts';
import type { K8sObject } from '../../api/objects.ts';
import type { EstimatedQualityMetric, QualityMetric, QualityTask } from '../../api/quality.ts';

/** One version's quality from delayed labels, over the model server's quality window. */
export interface VersionQualityObserved {
  readonly task: QualityTask;
  /** Labelled predictions in the window. */
  readonly samples: number;
  readonly windowSeconds: number;
  readonly metrics: { readonly [M in QualityMetric]?: number };
}

/** A quality estimate (CBPE) of one version: an estimate, not a measurement. */
export interface VersionQualityEstimated {
  /** Predictions the estimate covers. */
  readonly samples: number;
  readonly metrics: { readonly [M in EstimatedQualityMetric]?: number };
}

export interface ServingObserved {
  /** What is served, when the serving layer reports it in place; undefined otherwise. */
  readonly serving?: ServingState;
  /** Whether the serving layer reports ready. */
  readonly ready: boolean;
  readonly url?: string;
  readonly message?: string;
  /** Whether the serving object exists at all. */
  readonly exists: boolean;
}

export interface ServeRequest {
  readonly model: K8sObject & { spec: ModelSpec };
  readonly stable: { version: number; source: string };
  readonly canary?: { version: number; source: string };
  readonly canaryPercent: number;
  readonly placement?: { affinity: NodeAffinity; tolerations: Toleration[] };
}

/**
 * A serving layer declares what it can do; the reconciler asks these, never which class it is
 * (controller-runtime style: a backend is known by its capabilities).
 */
export interface ServingBackend {
  /** Whether remove() must run before the Model goes (false when owner references clean up). */
  readonly needsFinalizer: boolean;
  /** Whether a change made by serve() comes back as a watch event (else the reconciler polls for it). */
  readonly notifies: boolean;
  /** How messages name what serves a Model: `waitingFor` in Ready's message ('InferenceService'), `applied` in the log ('InferenceService', 'Served model'). */
  readonly names: { readonly waitingFor: string; readonly applied: string };
  observe(model: K8sObject & { spec: ModelSpec }): Promise<ServingObserved>;
  /** Idempotent: writes only what differs. */
  serve(req: ServeRequest): Promise<'unchanged' | 'created' | 'updated'>;
  /** Cleanup when the Model is deleted. */
  remove(model: K8sObject & { spec: ModelSpec }): Promise<void>;
}

export interface MetricsSource {
  /** Metrics of one version over [sinceMs, now]. undefined when unknown. */
  versionMetrics(model: K8sObject & { spec: ModelSpec }, version: number, sinceMs: number, now: number): Promise<VersionMetrics | undefined>;
  /** Drift between the canary's and the stable's prediction distributions; null when unavailable. */
  predictionDrift?(model: K8sObject & { spec: ModelSpec }, stable: number, canary: number, sinceMs: number, now: number): Promise<number | null>;
  /** Quality from delayed labels of one version now; undefined when no label has joined its predictions. */
  versionQuality?(model: K8sObject & { spec: ModelSpec }, version: number, now: number): Promise<VersionQualityObserved | undefined>;
  /** CBPE's estimate of one version's quality over its predictions still waiting for labels; undefined when there is none. */
  versionQualityEstimate?(model: K8sObject & { spec: ModelSpec }, version: number, now: number): Promise<VersionQualityEstimated | undefined>;
}

export interface PipelineBackend {
  templateExists(namespace: string, pipeline: string): Promise<boolean>;
  observe(namespace: string, name: string): Promise<WorkflowObserved | undefined>;
  /** Idempotent: AlreadyExists is success. */
  submit(w: WorkflowSubmission, owner: K8sObject): Promise<'created' | 'unchanged'>;
  /** The pipeline's spec hash (annotation ghosteam.io/spec-hash), when known. */
  specHash?(namespace: string, pipeline: string): Promise<string | undefined>;
}
