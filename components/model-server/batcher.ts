/**
 * Dynamic batching for one model version: concurrent requests are concatenated along the batch
 * dimension into one onnxruntime `run`, and each caller gets back exactly its own rows.
 *
 * Policy (adaptive, as Triton's dynamic batcher with a queue delay):
 * - when the model is idle, a request runs at the end of the current event-loop turn, together with
 *   every request that arrived in the same turn (no added latency at low load);
 * - while a run is in flight, requests queue; they run as soon as it finishes, or when the queue
 *   reaches `maxBatchSize` rows, or after `maxQueueDelayMs`, whichever comes first;
 * - requests whose non-batch dimensions differ are never merged.
 * The decision is `planDispatch` (pure); the class only keeps the queue and the timers.
 *
 * At a moderate rate (bench:serve at 5,000 req/s) the model is idle when most requests arrive, so
 * each runs alone at the end of its turn: no request waits for company it may not get. What a
 * request costs then is the batcher's own bookkeeping plus one onnxruntime call, so the path for a
 * single job allocates little (no per-run arrays or promise chains beyond the run's own).
 */
import type { TypedData, TensorSpec, OipDatatype } from './tensors.ts';

export interface BatchInput {
  readonly name: string;
  readonly datatype: OipDatatype;
  readonly shape: readonly number[];
  readonly typed: TypedData;
}

export interface RawOutput {
  readonly data: TypedData | ArrayLike<unknown>;
  readonly dims: readonly number[];
}

/** What the batcher runs: onnxruntime's session.run behind a small adapter (injectable for tests). */
export type RunBatch = (inputs: readonly BatchInput[]) => Promise<Record<string, RawOutput>>;

export interface BatchingOptions {
  /** Largest number of rows merged into one run. @default 64 */
  readonly maxBatchSize?: number;
  /** Longest a request waits for others before its batch runs. @default 2 */
  readonly maxQueueDelayMs?: number;
  /** Runs in flight at once for this model version. @default 1 */
  readonly maxConcurrentRuns?: number;
}

export interface BatchObserver {
  /** Called once per run with the number of rows and each request's wait in the queue (ms). */
  onRun(rows: number, requests: number, queueDelaysMs: readonly number[]): void;
}

interface Job {
  readonly inputs: readonly BatchInput[];
  readonly rows: number;
  readonly key: string;
  readonly enqueuedAt: number;
  resolve(out: Record<string, RawOutput>): void;
  reject(err: unknown): void;
}

function sliceRows(data: TypedData | ArrayLike<unknown>, from: number, to: number): TypedData | ArrayLike<unknown> {
  const d = data as { subarray?: (a: number, b: number) => TypedData; slice?: (a: number, b: number) => unknown[] };
  if (typeof d.subarray === 'function') return d.subarray(from, to);
  return Array.prototype.slice.call(data, from, to) as unknown[];
}

function concat(parts: readonly TypedData[], total: number): TypedData {
  const first = parts[0];
  if (Array.isArray(first)) {
    const out: string[] = [];
    for (const p of parts) for (const v of p as string[]) out.push(v);
    return out;
  }
  // The parts share one typed-array class; `constructor` is typed as Function, so name its real type.
  const Ctor = (first as unknown as { constructor: new (n: number) => Exclude<TypedData, string[]> }).constructor;
  const out = new Ctor(total);
  let off = 0;
  for (const p of parts as Exclude<TypedData, string[]>[]) {
    (out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p, off);
    off += p.length;
  }
  return out;
}

/** What the queue looks like when a request arrives or a run finishes. */
export interface QueueState {
  readonly queuedJobs: number;
  readonly queuedRows: number;
  readonly running: number;
  readonly maxBatchSize: number;
  readonly maxConcurrentRuns: number;
}

/**
 * When the queued requests run:
 * - 'none': nothing queued, or every run slot is busy (the run that finishes plans again);
 * - 'end-of-turn': at the end of this event-loop turn, with whatever else arrived in it: the model
 *   is idle (waiting for company would only add latency) or a full batch is already queued;
 * - 'after-delay': a run is in flight and a slot is free: wait up to maxQueueDelayMs for more rows.
 */
export function planDispatch(s: QueueState): 'none' | 'end-of-turn' | 'after-delay' {
  if (s.queuedJobs === 0 || s.running >= s.maxConcurrentRuns) return 'none';
  if (s.running === 0 || s.queuedRows >= s.maxBatchSize) return 'end-of-turn';
  return 'after-delay';
}

/** The merge key: requests merge only when every input has the same non-batch dimensions. */
function shapeKey(inputs: readonly BatchInput[]): string {
  if (inputs.length === 1 && inputs[0].shape.length === 2) return `${inputs[0].shape[1]};`;
  let key = '';
  for (const i of inputs) key += i.shape.slice(1).join('x') + ';';
  return key;
}

export class Batcher {
  private readonly queue: Job[] = [];
  private queuedRows = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly maxConcurrentRuns: number;

  constructor(
    private readonly run: RunBatch,
    private readonly outputs: readonly TensorSpec[],
    opts: BatchingOptions,
    private readonly observer?: BatchObserver,
  ) {
    this.maxBatchSize = opts.maxBatchSize ?? 64;
    this.maxQueueDelayMs = opts.maxQueueDelayMs ?? 2;
    this.maxConcurrentRuns = opts.maxConcurrentRuns ?? 1;
    if (!Number.isInteger(this.maxBatchSize) || this.maxBatchSize < 1)
      throw new Error(`batching.maxBatchSize must be an integer ≥ 1; got ${this.maxBatchSize}`);
    if (!(this.maxQueueDelayMs >= 0)) throw new Error(`batching.maxQueueDelayMs must be ≥ 0; got ${this.maxQueueDelayMs}`);
    if (!Number.isInteger(this.maxConcurrentRuns) || this.maxConcurrentRuns < 1)
      throw new Error(`batching.maxConcurrentRuns must be an integer ≥ 1; got ${this.maxConcurrentRuns}`);
  }

  /** Requests waiting or running. */
  get pending(): number {
    return this.queue.length + this.running;
  }

  submit(inputs: readonly BatchInput[]): Promise<Record<string, RawOutput>> {
    if (this.closed) return Promise.reject(new Error('model version is unloading'));
    const rows = inputs[0]?.shape[0] ?? 0;
    const key = shapeKey(inputs);
    return new Promise((resolve, reject) => {
      this.queue.push({ inputs, rows, key, enqueuedAt: performance.now(), resolve, reject });
      this.queuedRows += rows;
      this.schedule();
    });
  }

  private readonly onImmediate = (): void => {
    this.immediate = undefined;
    this.flush();
  };
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flush();
  };

  private schedule(): void {
    const plan = planDispatch({
      queuedJobs: this.queue.length,
      queuedRows: this.queuedRows,
      running: this.running,
      maxBatchSize: this.maxBatchSize,
      maxConcurrentRuns: this.maxConcurrentRuns,
    });
    // End of turn: requests parsed in the same turn share the run.
    if (plan === 'end-of-turn') {
      if (!this.immediate) this.immediate = setImmediate(this.onImmediate);
    } else if (plan === 'after-delay') {
      if (!this.timer) this.timer = setTimeout(this.onTimer, this.maxQueueDelayMs);
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.queue.length > 0 && this.running < this.maxConcurrentRuns) {
      const head = this.queue[0];
      const jobs: Job[] = [];
      let rows = 0;
      // Take queued jobs with the head's non-batch shape, up to maxBatchSize rows (a larger request runs alone).
      if (this.queue.length === 1 || head.rows >= this.maxBatchSize) {
        // The common case at moderate load: one job, or one that fills a batch by itself.
        this.queue.shift();
        jobs.push(head);
        rows = head.rows;
      } else {
        for (let i = 0; i < this.queue.length;) {
          const j = this.queue[i];
          if (j.key === head.key && (jobs.length === 0 || rows + j.rows <= this.maxBatchSize)) {
            jobs.push(j);
            rows += j.rows;
            this.queue.splice(i, 1);
            if (rows >= this.maxBatchSize) break;
          } else i++;
        }
      }
      this.queuedRows -= rows;
      this.runJobs(jobs, rows);
    }
  }

  private runJobs(jobs: Job[], rows: number): void {
    this.running++;
    let feeds: readonly BatchInput[];
    if (jobs.length === 1) feeds = jobs[0].inputs;
    else {
      feeds = jobs[0].inputs.map((inp, k) => ({
        name: inp.name,
        datatype: inp.datatype,
        shape: [rows, ...inp.shape.slice(1)],
        typed: concat(
          jobs.map((j) => j.inputs[k].typed),
          jobs.reduce((s, j) => s + j.inputs[k].typed.length, 0),
        ),
      }));
    }
    if (this.observer) {
      const start = performance.now();
      this.observer.onRun(
        rows,
        jobs.length,
        jobs.map((j) => start - j.enqueuedAt),
      );
    }
    let p: Promise<Record<string, RawOutput>>;
    try {
      p = this.run(feeds);
    } catch (e) {
      p = Promise.reject(e);
    }
    // One reaction per run (not then/catch/finally: three promises and microtask hops per run).
    p.then(
      (out) => {
        try {
          this.deliver(jobs, rows, out);
        } catch (err) {
          for (const j of jobs) j.reject(err);
        }
        this.finished();
      },
      (err: unknown) => {
        for (const j of jobs) j.reject(err);
        this.finished();
      },
    );
  }

  private finished(): void {
    this.running--;
    this.schedule();
  }

  /** Gives each job its own rows of every output (a view, not a copy). */
  private deliver(jobs: readonly Job[], rows: number, out: Record<string, RawOutput>): void {
    if (jobs.length === 1) {
      jobs[0].resolve(out);
      return;
    }
    const per = jobs.map((): Record<string, RawOutput> => ({}));
    for (const spec of this.outputs) {
      const o = out[spec.name];
      if (!o) continue;
      if (o.dims[0] !== rows)
        throw new Error(`output '${spec.name}' has ${o.dims[0]} rows for a batch of ${rows}; this model can't be batched (set batching: false)`);
      const rowSize = rows === 0 ? 0 : o.data.length / rows;
      let offset = 0;
      jobs.forEach((j, ji) => {
        per[ji][spec.name] = { data: sliceRows(o.data, offset * rowSize, (offset + j.rows) * rowSize), dims: [j.rows, ...o.dims.slice(1)] };
        offset += j.rows;
      });
    }
    jobs.forEach((j, ji) => j.resolve(per[ji]));
  }

  /** Stops taking requests; resolves when every queued and running request has finished. */
  async drain(): Promise<void> {
    this.closed = true;
    while (this.pending > 0) {
      this.flush();
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
