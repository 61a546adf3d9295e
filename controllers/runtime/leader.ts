/**
 * Leader election on a coordination.k8s.io/v1 Lease, with optimistic concurrency (resourceVersion):
 * a replica takes the Lease when it is free or expired, renews it every `renewMs`, and calls
 * `onLost` when a renewal fails past the lease duration (the operator then stops reconciling).
 */
import { isConflict, TYPES, type ObjectStore } from './store.ts';
import type { Logger } from './log.ts';
import type { K8sObject } from '../../api/objects.ts';

export interface LeaderOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** @default 15000 */
  readonly leaseDurationMs?: number;
  /** @default 5000 */
  readonly renewMs?: number;
  readonly now?: () => number;
}

const micro = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

export class LeaderElector {
  private timer?: NodeJS.Timeout;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly o: LeaderOptions,
    private readonly log: Logger,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this replica leads. */
  async acquire(): Promise<void> {
    const dur = this.o.leaseDurationMs ?? 15_000;
    for (;;) {
      if (this.stopped) throw new Error('leader election stopped');
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        this.log.info(`became leader (Lease ${this.o.namespace}/${this.o.name})`, { identity: this.o.identity });
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(dur / 3, 2_000)));
    }
  }

  /** Keeps renewing; calls onLost once if leadership is lost. */
  keepRenewing(onLost: () => void): void {
    const renew = this.o.renewMs ?? 5_000;
    const dur = this.o.leaseDurationMs ?? 15_000;
    this.timer = setInterval(() => {
      this.tryAcquireOrRenew().then(
        (ok) => {
          if (!ok && this.leading && (this.o.now ?? Date.now)() - this.lastRenew > dur) this.lose(onLost);
        },
        (e) => {
          this.log.warn(`lease renewal failed: ${(e as Error).message}`);
          if ((this.o.now ?? Date.now)() - this.lastRenew > dur) this.lose(onLost);
        },
      );
    }, renew);
    this.timer.unref();
  }

  private lose(onLost: () => void): void {
    if (!this.leading) return;
    this.leading = false;
    clearInterval(this.timer);
    this.log.error(`lost the leader Lease ${this.o.namespace}/${this.o.name}`);
    onLost();
  }

  async release(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (!this.leading) return;
    this.leading = false;
    const cur = await this.store.get(TYPES.Lease, this.o.namespace, this.o.name);
    const spec = cur?.spec as { holderIdentity?: string } | undefined;
    if (cur && spec?.holderIdentity === this.o.identity) {
      await this.store.replace(TYPES.Lease, { ...cur, spec: { ...(cur.spec as object), holderIdentity: '', leaseDurationSeconds: 1 } }).catch(() => undefined);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = (this.o.now ?? Date.now)();
    const durS = Math.ceil((this.o.leaseDurationMs ?? 15_000) / 1000);
    const cur = await this.store.get(TYPES.Lease, this.o.namespace, this.o.name);
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: durS,
      renewTime: micro(now),
    };
    try {
      if (!cur) {
        await this.store.create(TYPES.Lease, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { ...spec, acquireTime: micro(now), leaseTransitions: 0 },
        });
        this.lastRenew = now;
        return true;
      }
      const s = (cur.spec ?? {}) as {
        holderIdentity?: string;
        renewTime?: string;
        leaseDurationSeconds?: number;
        acquireTime?: string;
        leaseTransitions?: number;
      };
      const mine = s.holderIdentity === this.o.identity;
      const expired = !s.holderIdentity || !s.renewTime || Date.parse(s.renewTime) + (s.leaseDurationSeconds ?? durS) * 1000 < now;
      if (!mine && !expired) return false;
      const next: K8sObject = {
        ...cur,
        spec: { ...s, ...spec, acquireTime: mine ? s.acquireTime : micro(now), leaseTransitions: (s.leaseTransitions ?? 0) + (mine ? 0 : 1) },
      };
      await this.store.replace(TYPES.Lease, next);
      this.lastRenew = now;
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }
}
