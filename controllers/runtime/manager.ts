/**
 * The controller manager: shared informers per type, one work queue per controller with N workers
 * and rate-limited retries, optional leader election, health and metrics. A controller names its
 * primary type and the secondary types whose changes map back to primary keys (by default through
 * controller owner references).
 */
import type { HealthSecurity } from './health.ts';
import { objectKey, typeKey, type ObjectStore, type ResourceType } from './store.ts';
import { Informer, type InformerHandler } from './informer.ts';
import { WorkQueue } from './queue.ts';
import { OperatorMetrics } from './metrics.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { LeaderElector, type LeaderOptions } from './leader.ts';
import type { Logger } from './log.ts';
import { jsonEqual } from '../../api/json.ts';
import type { K8sObject } from '../../api/objects.ts';
import { TerminalError, type ReconcileResult, type Request } from './reconcile.ts';
import { classifyFailure } from '../../api/failure.ts';

/** Whether anything but status (and resourceVersion/managedFields) changed. */
export function metaChanged(a: K8sObject, b: K8sObject): boolean {
  const m = (o: K8sObject) => [
    o.metadata.generation,
    o.metadata.labels ?? {},
    o.metadata.annotations ?? {},
    o.metadata.finalizers ?? [],
    o.metadata.deletionTimestamp ?? null,
    o.metadata.ownerReferences ?? [],
  ];
  if (!jsonEqual(m(a), m(b))) return true;
  // Kinds without a status subresource (or without generation tracking) compare the rest too.
  const { metadata: _a, status: _s, ...ra } = a;
  const { metadata: _b, status: _t, ...rb } = b;
  return a.metadata.generation === undefined && !jsonEqual(ra, rb);
}

export interface Watches {
  readonly type: ResourceType;
  /** Primary keys ('namespace/name') affected by a change of this object. @default controller owner refs of the primary kind */
  readonly map?: (obj: K8sObject) => string[];
}

export interface Controller {
  readonly name: string;
  readonly type: ResourceType;
  readonly watches?: readonly Watches[];
  /** Sees every event of the primary informer, before the predicate (e.g. to learn when the cache caught up with a write). */
  readonly observe?: InformerHandler;
  reconcile(req: Request): Promise<ReconcileResult | void>;
}

export interface ManagerOptions {
  readonly store: ObjectStore;
  readonly log: Logger;
  /** Workers per controller. @default 4 */
  readonly workers?: number;
  /** Re-enqueue every cached object this often. @default 600000 (10 min) */
  readonly resyncMs?: number;
  readonly leaderElection?: LeaderOptions;
  /** Port for /healthz, /readyz, /metrics; undefined: no server. 0: any free port. */
  readonly healthPort?: number;
  readonly healthHost?: string;
  /** Auth (the `metrics` permission on /metrics) and TLS for the health/metrics server. */
  readonly healthSecurity?: HealthSecurity;
  readonly metrics?: OperatorMetrics;
  /** Restrict informers to one namespace. */
  readonly namespace?: string;
  /** Types the manager caches though no controller watches them (e.g. Nodes, Pods for GPU inventory). */
  readonly extraTypes?: readonly ResourceType[];
}

export class Manager {
  readonly metrics: OperatorMetrics;
  private readonly informers = new Map<string, Informer>();
  private readonly queues = new Map<string, WorkQueue>();
  private readonly controllers: Controller[] = [];
  private health?: HealthServer;
  private leader?: LeaderElector;
  private running = false;
  private workers: Promise<void>[] = [];
  private stopped = false;

  constructor(private readonly o: ManagerOptions) {
    this.metrics = o.metrics ?? new OperatorMetrics();
  }

  add(c: Controller): this {
    this.controllers.push(c);
    this.queues.set(c.name, new WorkQueue());
    return this;
  }

  get healthPort(): number | undefined {
    return this.health?.port;
  }

  /** The informer cache of a type (registered by start()). */
  informer(t: ResourceType): Informer | undefined {
    return this.informers.get(typeKey(t));
  }

  queue(name: string): WorkQueue | undefined {
    return this.queues.get(name);
  }

  /** Enqueues every cached object of a controller (e.g. when GPU capacity frees up). */
  enqueueAll(controller: string): void {
    const c = this.controllers.find((x) => x.name === controller);
    const inf = c && this.informer(c.type);
    const q = this.queues.get(controller);
    if (inf && q) for (const o of inf.list()) q.add(objectKey(o));
  }

  private ensureInformer(t: ResourceType): Informer {
    const k = typeKey(t);
    let inf = this.informers.get(k);
    if (!inf) {
      inf = new Informer(this.o.store, t, [], this.o.log, { namespace: t.namespaced ? this.o.namespace : undefined, resyncMs: this.o.resyncMs ?? 600_000 });
      this.informers.set(k, inf);
    }
    return inf;
  }

  async start(): Promise<void> {
    const log = this.o.log;
    if (this.o.healthPort !== undefined) {
      this.health = await startHealthServer({
        port: this.o.healthPort,
        host: this.o.healthHost,
        ...this.o.healthSecurity,
        metrics: this.metrics,
        ready: () => (this.running ? undefined : this.leader && !this.leader.isLeader ? 'waiting for the leader Lease' : 'informers not synced'),
      });
      log.info(`health and metrics on port ${this.health.port}`);
    }
    if (this.o.leaderElection) {
      this.leader = new LeaderElector(this.o.store, this.o.leaderElection, log);
      await this.leader.acquire();
      this.metrics.leader.set(1);
      this.leader.keepRenewing(() => {
        this.metrics.leader.set(0);
        log.error('leadership lost; stopping so a new leader takes over');
        void this.stop().then(() => {
          process.exitCode = 1;
        });
      });
    }
    // Wire informers to queues.
    for (const c of this.controllers) {
      const q = this.queues.get(c.name)!;
      const primary = this.ensureInformer(c.type);
      // Like controller-runtime's GenerationChanged predicate: a status-only update (our own status
      // write, mostly) does not need a reconcile; deadlines come back through requeueAfter.
      if (c.observe) primary.addHandler(c.observe);
      primary.addHandler((type, o, old) => {
        if (type === 'MODIFIED' && old && !metaChanged(old, o)) return;
        q.add(objectKey(o));
      });
      for (const w of c.watches ?? []) {
        const inf = this.ensureInformer(w.type);
        const map =
          w.map ??
          ((o: K8sObject) =>
            (o.metadata.ownerReferences ?? [])
              .filter((r) => r.controller && r.kind === c.type.kind)
              .map((r) => (o.metadata.namespace ? `${o.metadata.namespace}/${r.name}` : r.name)));
        inf.addHandler((type, o) => {
          if (type === 'RESYNC') return;
          for (const k of map(o)) q.add(k);
        });
      }
    }
    for (const t of this.o.extraTypes ?? []) this.ensureInformer(t);
    await Promise.all(
      [...this.informers.values()].map(async (i) => {
        if (await this.o.store.served(i.type)) await i.start();
        else log.info(`${i.type.kind} (${i.type.group}) is not served by the API server; not watching it`);
      }),
    );
    this.running = true;
    const n = this.o.workers ?? 4;
    for (const c of this.controllers) for (let i = 0; i < n; i++) this.workers.push(this.work(c));
    log.info(`operator started: ${this.controllers.map((c) => c.name).join(', ')} with ${n} workers each`);
  }

  private async work(c: Controller): Promise<void> {
    const q = this.queues.get(c.name)!;
    const log = this.o.log.with({ controller: c.name });
    for (;;) {
      const key = await q.get();
      if (key === undefined) return;
      this.metrics.depth.set({ controller: c.name }, q.depth);
      const [namespace, name] = key.includes('/') ? key.split('/', 2) : [undefined, key];
      const end = this.metrics.duration.startTimer({ controller: c.name });
      try {
        const r = await c.reconcile({ namespace, name });
        q.forget(key);
        this.metrics.reconciles.inc({ controller: c.name, result: r?.requeueAfterMs !== undefined ? 'requeue' : 'success' });
        if (r?.requeueAfterMs !== undefined) q.addAfter(key, Math.max(1, r.requeueAfterMs));
      } catch (e) {
        if (e instanceof TerminalError || classifyFailure(e).terminal) {
          // Retrying cannot help: forget the key; the object's next change brings it back.
          q.forget(key);
          this.metrics.reconciles.inc({ controller: c.name, result: 'terminal' });
          log.warn(`reconcile failed and will not be retried until the object changes: ${(e as Error).message}`, { kind: c.type.kind, namespace, name });
          continue;
        }
        const delay = q.addRateLimited(key);
        this.metrics.errors.inc({ controller: c.name });
        this.metrics.reconciles.inc({ controller: c.name, result: 'error' });
        const msg = (e as Error).message;
        (q.retries(key) > 3 ? log.warn.bind(log) : log.debug.bind(log))(`reconcile failed, retrying in ${delay} ms: ${msg}`, {
          kind: c.type.kind,
          namespace,
          name,
        });
      } finally {
        end();
        q.done(key);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    for (const q of this.queues.values()) q.shutdown();
    for (const i of this.informers.values()) i.stop();
    await Promise.allSettled(this.workers);
    await this.leader?.release().catch(() => undefined);
    await this.health?.close();
  }
}
