/** Kubernetes Events (core/v1) for transitions, attached to the object they are about. */
import { randomBytes } from 'node:crypto';
import { TYPES, type KObject, type ObjectStore } from './store.ts';
import type { Logger } from './log.ts';

export interface EventRecorder {
  record(obj: KObject, eventType: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export function eventRecorder(store: ObjectStore, component: string, log: Logger, now: () => number = Date.now): EventRecorder {
  return {
    async record(obj, eventType, reason, message) {
      const ts = new Date(now()).toISOString().replace(/\.\d+Z$/, 'Z');
      const ev: KObject = {
        apiVersion: 'v1', kind: 'Event',
        metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: obj.metadata.namespace ?? 'default' },
        involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
        reason, message: message.slice(0, 1024), type: eventType, source: { component },
        firstTimestamp: ts, lastTimestamp: ts, count: 1, reportingComponent: component,
      };
      try {
        await store.create(TYPES.Event, ev);
      } catch (e) {
        log.warn(`could not record event ${reason}: ${(e as Error).message}`, { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name });
      }
    },
  };
}
