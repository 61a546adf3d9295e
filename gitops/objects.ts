/**
 * The sets of synthesized objects GitOps compares (the object shape and annotation keys are in
 * api/objects.ts). Pure: no I/O.
 */
import {
  annotation,
  apiGroup,
  displayName,
  objectKey,
  SOURCE_COMMIT_ANNOTATION,
  SOURCE_DIRTY_ANNOTATION,
  SPEC_HASH_ANNOTATION,
  type K8sObject,
} from '../api/objects.ts';

/** Annotations that legitimately differ between two syntheses of identical sources; ignored when comparing. */
export const VOLATILE_ANNOTATIONS: readonly string[] = [SOURCE_COMMIT_ANNOTATION, SOURCE_DIRTY_ANNOTATION];

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
  const { annotations: _volatile, ...rest } = obj.metadata;
  return { ...obj, metadata: Object.keys(kept).length > 0 ? { ...rest, annotations: kept } : rest };
}

export class ObjectSetError extends Error {
  constructor(
    message: string,
    readonly where: string,
  ) {
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
    if (!o || typeof o !== 'object' || Array.isArray(o))
      throw new ObjectSetError(`${at} is not a mapping; every synthesized document must be a Kubernetes object`, where);
    if (typeof o.apiVersion !== 'string' || o.apiVersion === '')
      throw new ObjectSetError(`${at} has no 'apiVersion'; set it (e.g. 'ghosteam.io/v1alpha1')`, where);
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
