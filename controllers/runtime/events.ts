/**
 * Kubernetes Events (core/v1) for transitions, attached to the object they are about.
 *
 * Like client-go's event broadcaster, recording does not wait for the API server: an Event is
 * informational, so a reconcile queues it and moves on. A few requests post the queue in the
 * background (so Events never crowd out the status and serving writes that readiness waits on);
 * when the queue is full, new Events are dropped with a warning rather than holding workers.
 */
import { randomBytes } from 'node:crypto';
import { TYPES, type ObjectStore } from './store.ts';
import type { Logger } from './log.ts';
import type { K8sObject } from '../../api/objects.ts';

export interface EventRecorder {
  /** Queues the Event; resolves at once (the post happens in the background). */
  record(obj: K8sObject, eventType: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
  /** Resolves once every queued Event has been posted (or has failed). */
  flush(): Promise<void>;
}

export interface EventRecorderOptions {
  /** Events posted at once. @default 4 */
  readonly concurrency?: number;
  /** Events waiting to be posted before new ones are dropped. @default 10000 (a burst of new objects must not lose its Events; about 1 KB each) */
  readonly maxQueued?: number;
}

export function eventRecorder(
  store: ObjectStore,
  component: string,
  log: Logger,
  now: () => number = Date.now,
  opts: EventRecorderOptions = {},
): EventRecorder {
  const concurrency = opts.concurrency ?? 4;
  const maxQueued = opts.maxQueued ?? 10_000;
  const queue: K8sObject[] = [];
  let inFlight = 0;
  let dropped = 0;
  let idle: Array<() => void> = [];
  const post = async (ev: K8sObject) => {
    try {
      await store.create(TYPES.Event, ev);
    } catch (e) {
      const o = ev.involvedObject as { kind: string; namespace?: string; name: string };
      log.warn(`could not record event ${ev.reason}: ${(e as Error).message}`, { kind: o.kind, namespace: o.namespace, name: o.name });
    }
  };
  const pump = () => {
    while (inFlight < concurrency && queue.length) {
      const ev = queue.shift()!;
      inFlight++;
      void post(ev).finally(() => {
        inFlight--;
        pump();
      });
    }
    if (inFlight === 0 && queue.length === 0) {
      const waiting = idle;
      idle = [];
      for (const w of waiting) w();
    }
  };
  return {
    async record(obj, eventType, reason, message) {
      const ts = new Date(now()).toISOString().replace(/\.\d+Z$/, 'Z');
      if (queue.length >= maxQueued) {
        if (dropped++ % 100 === 0)
          log.warn(`event queue full (${maxQueued}); dropping event ${reason} (${dropped} dropped so far)`, {
            kind: obj.kind,
            namespace: obj.metadata.namespace,
            name: obj.metadata.name,
          });
        return;
      }
      queue.push({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: obj.metadata.namespace ?? 'default' },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata.name,
          namespace: obj.metadata.namespace,
          uid: obj.metadata.uid,
          resourceVersion: obj.metadata.resourceVersion,
        },
        reason,
        message: message.slice(0, 1024),
        type: eventType,
        source: { component },
        firstTimestamp: ts,
        lastTimestamp: ts,
        count: 1,
        reportingComponent: component,
      });
      pump();
    },
    flush() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
  };
}
