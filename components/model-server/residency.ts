/**
 * Model residency under a memory budget, as ModelMesh does for KServe: many models are registered
 * with the server, only as many onnxruntime sessions as fit in the budget are held, the least
 * recently used one is released to make room, and a request for a released (evicted) model loads
 * it again on its way in. `ghosteam serve --memory-budget 1GiB`.
 *
 * - **Single flight**: concurrent requests for an evicted model share one load (one promise).
 * - **In use is never evicted**: a request pins its model from before it is decoded until its
 *   answer is out (`acquire` → release); a pinned model is skipped by eviction. When every resident
 *   model is pinned and the budget is full, the load is refused with a 503 (retry), never overcommitted.
 * - **A model larger than the budget** is refused when it is registered, naming its estimate and
 *   what the budget leaves for models.
 * - **Lazy start**: a model is registered without a session (`register`; the server reads its
 *   signature from the ONNX graph), so it takes no budget and no load time until its first request,
 *   which loads it as it would an evicted one (cold, single flight).
 *
 * ## What a model costs (measured, not declared)
 * The budget is the server process's resident memory (RSS). A session's share is estimated from its
 * file: `file bytes × 2.2 + 128 KiB` (MEMORY_ESTIMATE). The factor is the RSS delta of live sessions
 * measured on this machine (onnxruntime-node 1.x, CPU, graph optimizations on): 2.2× for 1 MiB
 * MLPs, 2.85× for 134 KiB ones, i.e. 2.1× the file plus ~100 KiB per session (onnxruntime copies the
 * initializers out of the protobuf and pre-packs MatMul weights). What is not a live session — the
 * runtime itself, the JavaScript heap, file buffers of recent loads waiting for the garbage collector,
 * allocator fragmentation — is *measured*: after every load the server's own share is `RSS − the
 * most the resident models' estimates ever added up to`, and the largest value seen so far is kept
 * off the budget (`limit = budget − own share`). It only grows, so the limit converges instead of
 * oscillating, and an estimate that is too low shows up in the own share instead of in RSS.
 *
 * glibc's malloc keeps freed blocks of a released session (its mmap threshold rises after the first
 * large free), so RSS does not fall after an eviction; the next load reuses them. With
 * `MALLOC_MMAP_THRESHOLD_=131072` in the environment large blocks stay mmapped and go back to the
 * system at release: measured here, 50 live sessions of 1 MiB models cycling over 200 held RSS at
 * +126 MB with it and +196 MB without (117 MB estimated); bench:density, 1,000 models under 1 GiB,
 * peaked at 753 MiB with it and 1,274 MiB (over the budget) without. `ghosteam serve
 * --memory-budget` on Linux therefore runs itself again with it set (MALLOC_MMAP_THRESHOLD) when it
 * is unset; the model-server image sets it (images/model-server/Dockerfile ENV).
 *
 * Pure logic over injected hooks (load, evict) and an injected RSS probe: table-tested in
 * test/model-server/residency.test.ts, wired into the server in ./server.ts.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { RequestError } from './tensors.ts';

/** Bytes a session of a model file takes, as measured (see the module comment). */
export const MEMORY_ESTIMATE = { factor: 2.2, perSessionBytes: 128 * 1024 } as const;

/** The MALLOC_MMAP_THRESHOLD_ a server with a memory budget runs with (see the module comment). */
export const MALLOC_MMAP_THRESHOLD = '131072';

export function estimateModelBytes(fileBytes: number): number {
  return Math.ceil(fileBytes * MEMORY_ESTIMATE.factor) + MEMORY_ESTIMATE.perSessionBytes;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
};

/** `1GiB`, `512Mi`, `800MB`, `1073741824` → bytes. */
export function parseByteSize(s: string, what = '--memory-budget'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(s);
  const unit = m?.[2].toLowerCase();
  if (!m || unit === undefined || !(unit in UNITS)) throw new Error(`${what}: '${s}' is not a size; write e.g. 1GiB, 512MiB, 800MB or a number of bytes`);
  const n = Math.floor(Number(m[1]) * UNITS[unit]);
  if (!(n > 0)) throw new Error(`${what}: '${s}' must be more than 0 bytes`);
  return n;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export interface ResidentHooks {
  /** Creates the session again (the model was evicted). */
  load(): Promise<void>;
  /** Releases the session (the model stays registered). */
  evict(): Promise<void>;
}

type State = 'resident' | 'loading' | 'evicted';

interface Entry {
  readonly key: string;
  readonly bytes: number;
  readonly hooks: ResidentHooks;
  state: State;
  pins: number;
  loading?: Promise<void>;
}

export interface ResidencyEvents {
  /** A session was created: at registration ('admit') or for a request ('request'). */
  onLoad?(key: string, cause: 'admit' | 'request', seconds: number): void;
  onEvict?(key: string): void;
}

export interface ResidencyStats {
  readonly budgetBytes: number;
  /** The server's own share (RSS minus the resident estimates), the largest seen. */
  readonly ownBytes: number;
  /** What the budget leaves for models. */
  readonly limitBytes: number;
  /** Estimated bytes of resident (and loading) sessions. */
  readonly usedBytes: number;
  readonly resident: number;
  readonly evicted: number;
  readonly loads: number;
  readonly evictions: number;
}

/** A reservation of budget for a load in progress; `admit` turns it into a resident model. */
export interface Reservation {
  readonly bytes: number;
  cancel(): void;
}

export class Residency {
  /** Map order is recency: the first resident, unpinned entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  private usedPeak = 0;
  private own: number;
  private loads = 0;
  private evictions = 0;

  constructor(
    readonly budget: number,
    private readonly rss: () => number = () => process.memoryUsage().rss,
    private readonly events: ResidencyEvents = {},
  ) {
    this.own = rss();
  }

  /** Bytes the budget leaves for models now. */
  get limit(): number {
    return this.budget - this.own;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  isResident(key: string): boolean {
    return this.entries.get(key)?.state === 'resident';
  }

  /** Throws the clear error for a model that can never fit. */
  check(key: string, bytes: number): void {
    if (bytes > this.limit)
      throw new RequestError(
        400,
        `model '${key}' needs about ${mib(bytes)} (its file × ${MEMORY_ESTIMATE.factor} + ${MEMORY_ESTIMATE.perSessionBytes / 1024} KiB) but the memory budget of ${mib(this.budget)} leaves ${mib(Math.max(0, this.limit))} for models (the server itself takes ${mib(this.own)}); raise --memory-budget`,
      );
  }

  /**
   * Makes room for `bytes` by evicting the least recently used unpinned models, and holds it for a
   * load in progress. 503 when the models that would have to go are all in use.
   */
  async reserve(key: string, bytes: number): Promise<Reservation> {
    this.check(key, bytes);
    const victims: Entry[] = [];
    let freed = 0;
    if (this.used + bytes > this.limit) {
      for (const e of this.entries.values()) {
        if (e.key === key || e.state !== 'resident' || e.pins > 0) continue;
        victims.push(e);
        freed += e.bytes;
        if (this.used - freed + bytes <= this.limit) break;
      }
      if (this.used - freed + bytes > this.limit)
        throw new RequestError(
          503,
          `the memory budget (${mib(this.limit)} for models) is held by models in use by requests in flight; model '${key}' (about ${mib(bytes)}) can't be loaded now; retry`,
        );
    }
    for (const v of victims) {
      v.state = 'evicted';
      this.used -= v.bytes;
      this.evictions++;
      this.events.onEvict?.(v.key);
    }
    this.used += bytes;
    // Sessions go before the new one is created, so RSS never holds both.
    await Promise.all(victims.map((v) => v.hooks.evict().catch(() => undefined)));
    let open = true;
    return {
      bytes,
      cancel: () => {
        if (open) this.used -= bytes;
        open = false;
      },
    };
  }

  /** Registers a model whose session was just created under `r` (or replaces the entry of a reload). */
  admit(key: string, r: Reservation, hooks: ResidentHooks, seconds = 0): void {
    const old = this.entries.get(key);
    if (old && old.state !== 'evicted') this.used -= old.bytes;
    this.entries.delete(key);
    // A reload's requests in flight hold the old session (the server drains and releases it), not this one.
    this.entries.set(key, { key, bytes: r.bytes, hooks, state: 'resident', pins: 0 });
    this.loads++;
    this.events.onLoad?.(key, 'admit', seconds);
    this.measure();
  }

  /**
   * Registers a model without a session (or replaces the entry of a reload): it takes no budget
   * until a request loads it (acquire). Throws the clear error for a model that can never fit.
   */
  register(key: string, bytes: number, hooks: ResidentHooks): void {
    this.check(key, bytes);
    const old = this.entries.get(key);
    if (old && old.state !== 'evicted') this.used -= old.bytes;
    this.entries.delete(key);
    this.entries.set(key, { key, bytes, hooks, state: 'evicted', pins: 0 });
  }

  /** Forgets a model (explicit unload); the caller releases its session. */
  remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.state !== 'evicted') this.used -= e.bytes;
    this.entries.delete(key);
  }

  /**
   * Pins a model for one request, loading it first when it was evicted (one load for every request
   * that asks meanwhile). Returns the release and whether this request waited for a load.
   */
  async acquire(key: string): Promise<{ release: () => void; cold: boolean }> {
    const e = this.entries.get(key);
    if (!e) throw new RequestError(404, `model '${key}' is not registered with the memory budget`);
    e.pins++;
    let released = false;
    const release = (): void => {
      if (!released) e.pins--;
      released = true;
    };
    // Most recently used: to the end of the map.
    this.entries.delete(key);
    this.entries.set(key, e);
    if (e.state === 'resident') return { release, cold: false };
    try {
      e.loading ??= this.load(e);
      await e.loading;
    } catch (err) {
      release();
      throw err;
    }
    return { release, cold: true };
  }

  private async load(e: Entry): Promise<void> {
    const t = performance.now();
    e.state = 'loading';
    let r: Reservation | undefined;
    try {
      r = await this.reserve(e.key, e.bytes).catch((err: unknown) => {
        // The server's own share grew past what this model needs: for the request, the server is out of room.
        throw err instanceof RequestError && err.status === 400 ? new RequestError(503, err.message) : err;
      });
      await e.hooks.load();
      e.state = 'resident';
      this.loads++;
      this.events.onLoad?.(e.key, 'request', (performance.now() - t) / 1000);
      this.measure();
    } catch (err) {
      r?.cancel();
      e.state = 'evicted';
      throw err;
    } finally {
      e.loading = undefined;
    }
  }

  /**
   * The server's own share, from RSS after a load: RSS minus the most the resident models were ever
   * estimated to take together (the largest value seen is kept). Against the high-water mark, not
   * the models resident now: memory an allocator keeps after a release (glibc does, unless
   * MALLOC_MMAP_THRESHOLD_ is set) is reused by the next loads, and is not the server's own.
   */
  private measure(): void {
    if (this.used > this.usedPeak) this.usedPeak = this.used;
    const own = this.rss() - this.usedPeak;
    if (own > this.own) this.own = own;
  }

  stats(): ResidencyStats {
    let resident = 0;
    for (const e of this.entries.values()) if (e.state !== 'evicted') resident++;
    return {
      budgetBytes: this.budget,
      ownBytes: this.own,
      limitBytes: this.limit,
      usedBytes: this.used,
      resident,
      evicted: this.entries.size - resident,
      loads: this.loads,
      evictions: this.evictions,
    };
  }

  /** Keys from least to most recently used (tests, the admin listing). */
  order(): string[] {
    return [...this.entries.keys()];
  }
}

/**
 * The series of a server with a memory budget (docs/serving.md):
 * - ghosteam_model_cold_load_seconds                 histogram: a request's wait for its evicted model to load again
 * - ghosteam_model_loads_total{cause}                sessions created: 'admit' (start, admin, repository) or 'request' (cold)
 * - ghosteam_model_evictions_total                   sessions released to make room
 * - ghosteam_models_resident, ghosteam_models_evicted  models whose session is held / released
 * - ghosteam_model_memory_bytes{kind}                'budget', 'limit' (left for models), 'used' (resident estimates), 'own' (the server's measured share)
 */
export function residencyMetrics(registry: Registry): ResidencyEvents & { watch(r: Residency): void } {
  const cold = new Histogram({
    name: 'ghosteam_model_cold_load_seconds',
    help: 'Time a request waited for its evicted (or never loaded) model to be loaded again under the memory budget',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const loads = new Counter({
    name: 'ghosteam_model_loads_total',
    help: 'Model sessions created, by cause (admit: start/admin/repository; request: a cold load)',
    labelNames: ['cause'],
    registers: [registry],
  });
  const evictions = new Counter({
    name: 'ghosteam_model_evictions_total',
    help: 'Model sessions released to make room under the memory budget',
    registers: [registry],
  });
  let residency: Residency | undefined;
  new Gauge({
    name: 'ghosteam_models_resident',
    help: 'Models whose onnxruntime session is held',
    registers: [registry],
    collect() {
      if (residency) this.set(residency.stats().resident);
    },
  });
  new Gauge({
    name: 'ghosteam_models_evicted',
    help: 'Models registered whose session was released under the memory budget (the next request loads them)',
    registers: [registry],
    collect() {
      if (residency) this.set(residency.stats().evicted);
    },
  });
  new Gauge({
    name: 'ghosteam_model_memory_bytes',
    help: "The memory budget (budget), what it leaves for models (limit), the resident models' estimates (used), and the server's own measured share (own)",
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      if (!residency) return;
      const s = residency.stats();
      this.labels('budget').set(s.budgetBytes);
      this.labels('limit').set(s.limitBytes);
      this.labels('used').set(s.usedBytes);
      this.labels('own').set(s.ownBytes);
    },
  });
  return {
    watch: (r) => void (residency = r),
    onLoad(_key, cause, seconds) {
      loads.labels(cause).inc();
      if (cause === 'request') cold.observe(seconds);
    },
    onEvict() {
      evictions.inc();
    },
  };
}
