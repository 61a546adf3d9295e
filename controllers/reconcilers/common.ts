/** Shared pieces of the reconcilers: finalizers, status writes, log lines (the framework types are in runtime/reconcile.ts). */
import { type ObjectStore, type ResourceType } from '../runtime/store.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Logger } from '../runtime/log.ts';
import { jsonEqual } from '../../api/json.ts';
import type { K8sObject } from '../../api/objects.ts';

export const FINALIZER = 'ghosteam.io/finalizer';

export interface ReconcileContext {
  readonly store: ObjectStore;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly now: () => number;
}

/** Adds the finalizer when missing; returns the (possibly updated) object. */
export async function ensureFinalizer(store: ObjectStore, t: ResourceType, obj: K8sObject): Promise<K8sObject> {
  if (obj.metadata.finalizers?.includes(FINALIZER)) return obj;
  return store.replace(t, { ...obj, metadata: { ...obj.metadata, finalizers: [...(obj.metadata.finalizers ?? []), FINALIZER] } });
}

export async function removeFinalizer(store: ObjectStore, t: ResourceType, obj: K8sObject): Promise<void> {
  if (!obj.metadata.finalizers?.includes(FINALIZER)) return;
  await store.replace(t, { ...obj, metadata: { ...obj.metadata, finalizers: obj.metadata.finalizers.filter((f) => f !== FINALIZER) } });
}

/**
 * Writes status when it differs (optimistic: a stale resourceVersion is a 409 and the reconcile is
 * retried). Returns the stored object.
 */
export async function writeStatus(
  store: ObjectStore,
  t: ResourceType,
  obj: K8sObject,
  status: object,
): Promise<{ obj: K8sObject; result: 'unchanged' | 'updated' }> {
  if (jsonEqual(obj.status, status)) return { obj, result: 'unchanged' };
  const next = await store.replaceStatus(t, { ...obj, status });
  return { obj: next, result: 'updated' };
}

export function coords(o: K8sObject) {
  return { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, resourceVersion: o.metadata.resourceVersion };
}

export function logApplied(log: Logger, what: string, result: string, o: K8sObject): void {
  if (result === 'unchanged') log.debug(`${what} is unchanged`, coords(o));
  else log.info(`${what} has been ${result}`, coords(o));
}
