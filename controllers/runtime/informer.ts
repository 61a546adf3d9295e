/**
 * An informer: list, then watch from the list's resourceVersion, keeping a cache of the objects.
 * A 410 Gone (resourceVersion too old) re-lists; other watch endings re-watch after a backoff from
 * the last seen version. Every `resyncMs` all cached keys are handed to the handler again.
 */
import { isGone, objectKey, type ObjectStore, type ResourceType, type Watcher } from './store.ts';
import type { Logger } from './log.ts';
import type { K8sObject } from '../../api/objects.ts';

export interface InformerHandler {
  (type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'RESYNC', obj: K8sObject, old?: K8sObject): void;
}

/**
 * What the cache keeps of an object: all of it but metadata.managedFields (like controller-runtime's
 * TransformStripManagedFields). Nothing here reads them, and they are often the largest part of an
 * object; an update that omits them leaves the server's copy unchanged.
 */
export function cacheable(o: K8sObject): K8sObject {
  if (!(o.metadata as { managedFields?: unknown }).managedFields) return o;
  const { managedFields: _m, ...metadata } = o.metadata as K8sObject['metadata'] & { managedFields?: unknown };
  return { ...o, metadata };
}

export class Informer {
  readonly cache = new Map<string, K8sObject>();
  private rv = '0';
  private watcher?: Watcher;
  private stopped = false;
  private resyncTimer?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private synced = false;
  private backoff = 200;
  relists = 0;

  constructor(
    private readonly store: ObjectStore,
    readonly type: ResourceType,
    private readonly handlers: InformerHandler[],
    private readonly log: Logger,
    private readonly opts: { namespace?: string; resyncMs?: number } = {},
  ) {}

  addHandler(h: InformerHandler): void {
    this.handlers.push(h);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  async start(): Promise<void> {
    await this.relist();
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => {
        for (const o of this.cache.values()) this.fire('RESYNC', o);
      }, this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
    clearInterval(this.resyncTimer);
    clearTimeout(this.retry);
  }

  list(): K8sObject[] {
    return [...this.cache.values()];
  }

  get(namespace: string | undefined, name: string): K8sObject | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  private fire(type: Parameters<InformerHandler>[0], o: K8sObject, old?: K8sObject): void {
    for (const h of this.handlers) {
      try {
        h(type, o, old);
      } catch (e) {
        this.log.error(`informer handler failed: ${(e as Error).message}`, { kind: this.type.kind });
      }
    }
  }

  private async relist(): Promise<void> {
    this.relists++;
    const r = await this.store.list(this.type, this.opts.namespace);
    const seen = new Set<string>();
    for (const item of r.items) {
      const o = cacheable(item);
      const k = objectKey(o);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, o);
      if (!old) this.fire('ADDED', o);
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) this.fire('MODIFIED', o, old);
    }
    for (const [k, o] of this.cache) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.fire('DELETED', o);
      }
    }
    this.rv = r.resourceVersion;
    this.synced = true;
    await this.startWatch();
  }

  private async startWatch(): Promise<void> {
    if (this.stopped) return;
    this.watcher = await this.store.watch(
      this.type,
      this.opts.namespace,
      this.rv,
      (e) => {
        this.backoff = 200;
        if (e.type === 'BOOKMARK') {
          this.rv = e.object.metadata.resourceVersion ?? this.rv;
          return;
        }
        const k = objectKey(e.object);
        this.rv = e.object.metadata.resourceVersion ?? this.rv;
        const old = this.cache.get(k);
        if (e.type === 'DELETED') {
          this.cache.delete(k);
          this.fire('DELETED', e.object);
        } else {
          const o = cacheable(e.object);
          this.cache.set(k, o);
          this.fire(old ? 'MODIFIED' : 'ADDED', o, old);
        }
      },
      (err) => {
        if (this.stopped) return;
        if (isGone(err)) {
          this.log.info(`watch of ${this.type.kind} expired (410 Gone); re-listing`, { kind: this.type.kind });
          this.schedule(() => this.relist(), 0);
        } else {
          if (err) this.log.warn(`watch of ${this.type.kind} ended: ${(err as Error).message}; re-watching`, { kind: this.type.kind });
          this.schedule(() => this.startWatch(), err ? this.backoff : 0);
          this.backoff = Math.min(this.backoff * 2, 30_000);
        }
      },
    );
  }

  private schedule(fn: () => Promise<void>, ms: number): void {
    this.retry = setTimeout(() => {
      fn().catch((e) => {
        this.log.warn(`${this.type.kind} informer: ${(e as Error).message}; retrying`, { kind: this.type.kind });
        this.schedule(() => this.relist(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 30_000);
      });
    }, ms);
    this.retry.unref?.();
  }
}
