/**
 * A model loaded in a worker thread (worker.ts) for batch prediction. onnxruntime-node's
 * `session.run` is synchronous on the thread that calls it, so in the main thread it would stop the
 * reader (DuckDB's chunks) and the writer for the length of every batch; in a worker, reading the
 * next batches, running this one and writing the previous ones overlap. Inputs are transferred, not
 * copied (`run(feeds, { transfer: true })`): the main thread gives up their buffers.
 */
import { Worker } from 'node:worker_threads';
import type { BatchInput, RawOutput } from '../model-server/batcher.ts';
import { RequestError, type TensorSpec } from '../model-server/tensors.ts';

export type WorkerRequest =
  | { readonly type: 'load'; readonly id: number; readonly path: string; readonly threads: number }
  | { readonly type: 'run'; readonly id: number; readonly feeds: readonly BatchInput[]; readonly recycle?: boolean }
  | { readonly type: 'digest'; readonly id: number; readonly path: string }
  | { readonly type: 'release'; readonly id: number };

export interface WorkerReply {
  readonly id: number;
  readonly error?: string;
  /** A RequestError's status, so the main thread throws the same error. */
  readonly status?: number;
  readonly inputs?: TensorSpec[];
  readonly outputs?: TensorSpec[];
  readonly out?: Record<string, RawOutput>;
  readonly digest?: string;
  /** A run's input buffers, moved back to the main thread (run with `recycle`). */
  readonly buffers?: ArrayBuffer[];
}

/** One worker thread answering requests in order. */
class BatchWorker {
  readonly #worker = new Worker(new URL('./worker-entry.mjs', import.meta.url));
  readonly #pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  #next = 0;
  #dead: Error | undefined;

  constructor() {
    this.#worker.on('message', (r: WorkerReply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.error !== undefined) p.reject(r.status !== undefined ? new RequestError(r.status, r.error) : new Error(r.error));
      else p.resolve(r);
    });
    const fail = (e: Error) => {
      this.#dead = e;
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the batch prediction worker exited (code ${code})`)));
  }

  request(m: WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...m, id }, transfer);
    });
  }

  async terminate(): Promise<void> {
    this.#dead ??= new Error('the batch prediction worker was stopped');
    await this.#worker.terminate();
  }
}

export interface WorkerModel {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  /**
   * Runs one batch in the worker; with `transfer`, the feeds' buffers move there (unusable here
   * afterwards), and with `recycle` too they come back after the run and are handed to it.
   */
  run(feeds: readonly BatchInput[], opts?: { transfer?: boolean; recycle?: (buffer: ArrayBuffer) => void }): Promise<Record<string, RawOutput>>;
  release(): Promise<void>;
}

/** Loads the model at `path` (as the model server does: models.ts) in a new worker thread. */
export async function loadWorkerModel(path: string, threads: number): Promise<WorkerModel> {
  const w = new BatchWorker();
  let loaded: WorkerReply;
  try {
    loaded = await w.request({ type: 'load', path, threads });
  } catch (e) {
    await w.terminate();
    throw e;
  }
  return {
    inputs: loaded.inputs!,
    outputs: loaded.outputs!,
    async run(feeds, opts = {}) {
      const transfer: ArrayBuffer[] = [];
      if (opts.transfer)
        for (const f of feeds)
          if (!Array.isArray(f.typed) && f.typed.buffer instanceof ArrayBuffer && !transfer.includes(f.typed.buffer)) transfer.push(f.typed.buffer);
      const r = await w.request({ type: 'run', feeds, recycle: opts.recycle !== undefined && transfer.length > 0 }, transfer);
      for (const b of r.buffers ?? []) opts.recycle?.(b);
      return r.out!;
    },
    async release() {
      await w.request({ type: 'release' }).catch(() => {});
      await w.terminate();
    },
  };
}

/** The sha256 digest of a file ('sha256:<hex>', as registry/local.ts's sha256File), computed in a worker thread of its own. */
export async function digestInWorker(path: string): Promise<string> {
  const w = new BatchWorker();
  try {
    return (await w.request({ type: 'digest', path })).digest!;
  } finally {
    await w.terminate();
  }
}
