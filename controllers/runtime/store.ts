/**
 * The small client interface every reconciler uses. Two implementations with the same semantics
 * (resourceVersion, 409 on conflicts and duplicates, 404, watch with 410 Gone for a too-old
 * resourceVersion, finalizers, generation bumps on spec changes):
 *  - KubeStore (controllers/runtime/kube-store.ts): the Kubernetes API server;
 *  - LocalStore (controllers/runtime/local-store.ts): files under .ghosteam/state (local mode).
 * Both pass the shared suite in test/controllers/store-suite.ts.
 */
import type { K8sObject } from '../../api/objects.ts';

export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Whether writes to status go through the /status subresource (and replace ignores status). */
  readonly statusSubresource: boolean;
}

const rt = (group: string, version: string, kind: string, plural: string, namespaced = true, statusSubresource = true): ResourceType => ({
  group,
  version,
  kind,
  plural,
  namespaced,
  statusSubresource,
});

export const TYPES = {
  Model: rt('ghosteam.io', 'v1alpha1', 'Model', 'models'),
  DriftMonitor: rt('ghosteam.io', 'v1alpha1', 'DriftMonitor', 'driftmonitors'),
  TrainingRun: rt('ghosteam.io', 'v1alpha1', 'TrainingRun', 'trainingruns'),
  InferenceService: rt('serving.kserve.io', 'v1beta1', 'InferenceService', 'inferenceservices'),
  Workflow: rt('argoproj.io', 'v1alpha1', 'Workflow', 'workflows', true, false),
  WorkflowTemplate: rt('argoproj.io', 'v1alpha1', 'WorkflowTemplate', 'workflowtemplates', true, false),
  Node: rt('', 'v1', 'Node', 'nodes', false),
  Pod: rt('', 'v1', 'Pod', 'pods'),
  Event: rt('', 'v1', 'Event', 'events', true, false),
  Lease: rt('coordination.k8s.io', 'v1', 'Lease', 'leases', true, false),
  LocalQueue: rt('kueue.x-k8s.io', 'v1beta1', 'LocalQueue', 'localqueues'),
  ResourceQuota: rt('', 'v1', 'ResourceQuota', 'resourcequotas'),
} as const;

export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

export function typeKey(t: ResourceType): string {
  return `${t.kind}.${t.group || 'core'}`;
}

export function objectKey(o: { metadata: { namespace?: string; name: string } }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/** An API error with the HTTP status code the API server would return. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    /** Kubernetes StatusReason: NotFound, AlreadyExists, Conflict, Gone, Invalid, Forbidden, ... */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown): boolean => e instanceof ApiError && e.code === 409;
export const isAlreadyExists = (e: unknown): boolean => e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists';
export const isGone = (e: unknown): boolean => e instanceof ApiError && e.code === 410;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: K8sObject;
}

export interface Watcher {
  stop(): void;
}

export interface ListResult {
  readonly items: K8sObject[];
  readonly resourceVersion: string;
}

export interface ObjectStore {
  readonly kind: 'kube' | 'local';
  get(t: ResourceType, namespace: string | undefined, name: string): Promise<K8sObject | undefined>;
  list(t: ResourceType, namespace?: string, labelSelector?: string): Promise<ListResult>;
  /** 409 AlreadyExists when the name is taken. */
  create(t: ResourceType, obj: K8sObject): Promise<K8sObject>;
  /** Replaces spec/metadata; 409 Conflict when metadata.resourceVersion is stale. */
  replace(t: ResourceType, obj: K8sObject): Promise<K8sObject>;
  /** Replaces status only; 409 Conflict when metadata.resourceVersion is stale. */
  replaceStatus(t: ResourceType, obj: K8sObject): Promise<K8sObject>;
  /** Marks for deletion (finalizers) or deletes. NotFound is not an error. */
  delete(t: ResourceType, namespace: string | undefined, name: string): Promise<void>;
  /**
   * Streams changes after `resourceVersion`. `onDone` is called once when the watch ends: with an
   * ApiError 410 when the version is too old (the caller re-lists), with another error, or null.
   */
  watch(
    t: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (e: WatchEvent) => void,
    onDone: (err: unknown) => void,
  ): Promise<Watcher>;
  /** Whether the API type is served (e.g. Kueue's CRDs installed). */
  served(t: ResourceType): Promise<boolean>;
  /**
   * A pod container's log (the API server's pods/log), bounded: the last `tailLines` lines, at most
   * `limitBytes` of them. Only the API server has pods; the local store has none (absent).
   */
  podLog?(namespace: string, pod: string, o: PodLogOptions): Promise<PodLog>;
}

export interface PodLogOptions {
  /** @default the pod's only container (Argo steps: 'main') */
  readonly container?: string;
  readonly tailLines: number;
  readonly limitBytes: number;
}

/** A log read: its text, and whether `limitBytes` cut it (lines before the tail are never counted). */
export interface PodLog {
  readonly text: string;
  readonly truncated: boolean;
}
