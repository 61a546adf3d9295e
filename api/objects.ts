/**
 * The one shape of a Kubernetes object every folder passes around (synthesized YAML, GitOps plans,
 * the operator's stores), and the annotation and label keys ghosteam puts on objects. Pure: no I/O.
 */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** metav1.ObjectMeta, the fields ghosteam reads or writes. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** A Kubernetes object as plain JSON data: apiVersion, kind, metadata, and kind-specific fields (spec, status, data, ...). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Annotation and label keys

/** Annotation: the construct that produced the object ('fraud-detection/fraud/model'). */
/** The registered model a `Model` object serves: its spec.modelRef.name, else its own name. */
export function registeredModelOf(model: K8sObject): string {
  return (model.spec as { modelRef?: { name?: string } } | undefined)?.modelRef?.name ?? model.metadata.name;
}

export const CONSTRUCT_PATH_ANNOTATION = 'ghosteam.io/construct-path';
/** Annotation: the git commit the object was synthesized from. */
export const SOURCE_COMMIT_ANNOTATION = 'ghosteam.io/source-commit';
/** Annotation: present when the app was synthesized from a tree with uncommitted changes; its value is their digest (api/git-source.ts), so source-commit alone never passes for the code. */
export const SOURCE_DIRTY_ANNOTATION = 'ghosteam.io/source-dirty';
/** Annotation on pipelines (WorkflowTemplate, CronWorkflow, Workflow): a hash of everything that determines what the pipeline trains (pipelines/hash.ts). */
export const SPEC_HASH_ANNOTATION = 'ghosteam.io/spec-hash';
/** Annotation: Argo CD's ordering (string integer; lower applies first). */
export const SYNC_WAVE_ANNOTATION = 'argocd.argoproj.io/sync-wave';
/** Annotation: Argo CD's per-object sync options. */
export const SYNC_OPTIONS_ANNOTATION = 'argocd.argoproj.io/sync-options';

/** Label on everything ghosteam renders or creates. */
export const MANAGED_BY_LABEL = { 'app.kubernetes.io/managed-by': 'ghosteam' } as const;
/** Label: the registered model an object serves or trains. */
export const MODEL_LABEL = 'ghosteam.io/model';
/** Label: the pipeline a workflow runs. */
export const PIPELINE_LABEL = 'ghosteam.io/pipeline';
/** Label: the step (component) a pod runs. */
export const COMPONENT_LABEL = 'ghosteam.io/component';
/** Label: why a training run or workflow was started (a TrainingRun `spec.reason`). */
export const REASON_LABEL = 'ghosteam.io/reason';
/** Label: the TrainingRun a workflow executes. */
export const TRAINING_RUN_LABEL = 'ghosteam.io/training-run';
/** Label: the DriftMonitor that created a TrainingRun. */
export const DRIFT_MONITOR_LABEL = 'ghosteam.io/drift-monitor';

// ---------------------------------------------------------------------------------------------
// Identity

export function annotation(obj: K8sObject, key: string): string | undefined {
  return obj.metadata.annotations?.[key];
}

/** The API group of an apiVersion ('' for the core group). */
export function apiGroup(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

/**
 * The identity of an object across commits: group, kind, namespace and name. The version is left
 * out on purpose, so that moving `v1beta1` to `v1` reads as a change, not as a remove plus an add.
 */
export function objectKey(obj: K8sObject): string {
  const group = apiGroup(obj.apiVersion);
  return `${group ? `${group}/` : ''}${obj.kind}/${obj.metadata.namespace ?? '_'}/${obj.metadata.name}`;
}

/** 'Model fraud' or 'Model ml/fraud': how objects are named in messages. */
export function displayName(obj: K8sObject): string {
  const ns = obj.metadata.namespace;
  return `${obj.kind} ${ns ? `${ns}/` : ''}${obj.metadata.name}`;
}
