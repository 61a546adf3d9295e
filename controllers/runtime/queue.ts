/**
 * A work queue keyed by object ("namespace/name"), with client-go semantics: a key is queued at most
 * once, a key being processed is never handed to a second worker (a re-add marks it dirty and it is
 * queued again when done), per-key exponential backoff with jitter for failures (api/failure.ts
 * `backoffMs`, so many objects failing together do not retry in lockstep), and delayed adds.
 */
import { backoffMs } from '../../api/failure.ts';

export interface QueueOptions {
  /** First retry delay. @default 100 */
  readonly baseDelayMs?: number;
  /** Cap on the retry delay. @default 300000 */
  readonly maxDelayMs?: number;
  /** [0, 1) for the jitter. @default Math.random */
  readonly random?: () => number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private waiters: Array<(key: string | undefined) => void> = [];
  private closed = false;
  private readonly base: number;
  private readonly max: number;
  private readonly random: () => number;

  constructor(opts: QueueOptions = {}) {
    this.base = opts.baseDelayMs ?? 100;
    this.max = opts.maxDelayMs ?? 300_000;
    this.random = opts.random ?? Math.random;
  }

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.closed) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const w = this.waiters.shift();
    if (w) {
      this.processing.add(key);
      w(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
  }

  /** Adds the key after `ms`; an earlier pending delayed add wins. */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const prev = this.timers.get(key);
    if (prev && prev.at <= at) return;
    if (prev) clearTimeout(prev.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Re-adds after an exponential, per-key backoff with jitter, capped; returns the delay. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = backoffMs(n + 1, { baseMs: this.base, capMs: this.max, random: this.random });
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves with the next key (now marked processing), or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  shutdown(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    for (const w of this.waiters) w(undefined);
    this.waiters = [];
  }
}
