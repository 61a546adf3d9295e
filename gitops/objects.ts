/**
 * The synthesized Kubernetes objects GitOps works on, and the annotations ghosteam puts on them.
 * Pure: no I/O.
 */

/** A Kubernetes object as synthesized (plain JSON data). */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly [key: string]: unknown;
  };
  readonly [key: string]: unknown;
}

/** The construct that produced the object ('fraud-detection/fraud/model'). */
export const CONSTRUCT_PATH_ANNOTATION = 'ghosteam.io/construct-path';
/** The git commit the object was synthesized from. */
export const SOURCE_COMMIT_ANNOTATION = 'ghosteam.io/source-commit';
/** On pipelines: a hash of everything that determines what the pipeline trains. */
export const SPEC_HASH_ANNOTATION = 'ghosteam.io/spec-hash';
/** Argo CD's ordering annotation (string integer; lower applies first). */
export const SYNC_WAVE_ANNOTATION = 'argocd.argoproj.io/sync-wave';
export const SYNC_OPTIONS_ANNOTATION = 'argocd.argoproj.io/sync-options';

/** Annotations that legitimately differ between two syntheses of identical sources; ignored when comparing. */
export const VOLATILE_ANNOTATIONS: readonly string[] = [SOURCE_COMMIT_ANNOTATION];

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

/** 'Model fraud' or 'Model ml/fraud': how objects are named in plans. */
export function displayName(obj: K8sObject): string {
  const ns = obj.metadata.namespace;
  return `${obj.kind} ${ns ? `${ns}/` : ''}${obj.metadata.name}`;
}

/** Pipelines are exactly the objects that carry a spec hash (WorkflowTemplate, CronWorkflow, ...). */
export function isPipeline(obj: K8sObject): boolean {
  return annotation(obj, SPEC_HASH_ANNOTATION) !== undefined;
}

export function isGhosteamKind(obj: K8sObject, kind: string): boolean {
  return apiGroup(obj.apiVersion) === 'ghosteam.io' && obj.kind === kind;
}

/** A copy without the annotations that change on every commit (for comparing and diffing). */
export function withoutVolatile(obj: K8sObject): K8sObject {
  const annotations = obj.metadata.annotations;
  if (!annotations || !VOLATILE_ANNOTATIONS.some((k) => k in annotations)) return obj;
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations)) if (!VOLATILE_ANNOTATIONS.includes(k)) kept[k] = v;
  const metadata: Record<string, unknown> = { ...obj.metadata };
  if (Object.keys(kept).length > 0) metadata.annotations = kept;
  else delete metadata.annotations;
  return { ...obj, metadata: metadata as K8sObject['metadata'] };
}

/** Deep structural equality of JSON data (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}

/** A JSON copy with object keys sorted at every level: a stable form for hashing and printing. */
export function sortKeysDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => sortKeysDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeysDeep(v);
    }
    return out as T;
  }
  return value;
}

export class ObjectSetError extends Error {
  constructor(message: string, readonly where: string) {
    super(message);
    this.name = 'ObjectSetError';
  }
}

/**
 * Checks that a list of synthesized objects is well formed: each has apiVersion, kind and
 * metadata.name, and no two share an identity. `where` names the origin in messages
 * ('head (abc1234)'). Returns the objects indexed by key.
 */
export function indexObjects(objects: readonly unknown[], where: string): Map<string, K8sObject> {
  const out = new Map<string, K8sObject>();
  objects.forEach((raw, i) => {
    const o = raw as Partial<K8sObject> | null;
    const at = `${where}: object #${i + 1}`;
    if (!o || typeof o !== 'object' || Array.isArray(o)) throw new ObjectSetError(`${at} is not a mapping; every synthesized document must be a Kubernetes object`, where);
    if (typeof o.apiVersion !== 'string' || o.apiVersion === '') throw new ObjectSetError(`${at} has no 'apiVersion'; set it (e.g. 'ghosteam.io/v1alpha1')`, where);
    if (typeof o.kind !== 'string' || o.kind === '') throw new ObjectSetError(`${at} (${o.apiVersion}) has no 'kind'; set it (e.g. 'Model')`, where);
    if (!o.metadata || typeof o.metadata.name !== 'string' || o.metadata.name === '') {
      throw new ObjectSetError(`${at} (${o.kind}) has no 'metadata.name'; every object needs a name`, where);
    }
    const obj = o as K8sObject;
    const key = objectKey(obj);
    if (out.has(key)) throw new ObjectSetError(`${where}: ${displayName(obj)} is defined twice; give one of them another name`, where);
    out.set(key, obj);
  });
  return out;
}
