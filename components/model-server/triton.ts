/**
 * Triton's model configuration and statistics extensions, as tritonclient reads them
 * (`get_model_config`, `get_inference_statistics`):
 * - `GET /v2/models/{m}[/versions/{v}]/config` → Triton's ModelConfig JSON: platform, max_batch_size
 *   (the dynamic batcher's when the model batches, else 0 and full dims), inputs and outputs with
 *   `TYPE_*` data types and dims (without the batch dim when max_batch_size > 0), dynamic_batching.
 * - `GET /v2/models[/{m}[/versions/{v}]]/stats` → `{"model_stats": [...]}` with Triton's fields:
 *   inference_count (rows), execution_count (runs), last_inference (ms since epoch) and
 *   `inference_stats` of `{count, ns}` for success, fail, queue, compute_input, compute_infer,
 *   compute_output (cumulative nanoseconds), cache_hit/cache_miss (always 0: there is no cache),
 *   and `batch_stats` per batch size.
 * Counting follows Triton: every request in a batched run is charged that run's compute time.
 * Pure apart from the clock the caller passes in.
 */
import type { TensorSpec } from './tensors.ts';

export interface Duration {
  count: number;
  ns: number;
}

const zero = (): Duration => ({ count: 0, ns: 0 });

/** Nanoseconds from a millisecond duration (performance.now() differences), as an integer. */
const ns = (ms: number): number => Math.max(0, Math.round(ms * 1e6));

export class TritonStats {
  inferenceCount = 0;
  executionCount = 0;
  lastInference = 0;
  readonly success = zero();
  readonly fail = zero();
  readonly queue = zero();
  readonly computeInput = zero();
  readonly computeInfer = zero();
  readonly computeOutput = zero();
  private readonly batches = new Map<number, { computeInput: Duration; computeInfer: Duration; computeOutput: Duration }>();

  /** One run of the model over `rows` rows for `requests` requests, taking `inferMs`, after waiting `queueMs` each. */
  run(rows: number, requests: number, inferMs: number, queueMs: readonly number[]): void {
    this.executionCount++;
    this.inferenceCount += rows;
    this.computeInfer.count += requests;
    this.computeInfer.ns += ns(inferMs) * requests;
    for (const q of queueMs) {
      this.queue.count++;
      this.queue.ns += ns(q);
    }
    let b = this.batches.get(rows);
    if (!b) this.batches.set(rows, (b = { computeInput: zero(), computeInfer: zero(), computeOutput: zero() }));
    b.computeInfer.count++;
    b.computeInfer.ns += ns(inferMs);
  }

  /** A request answered: its decode and encode times, and its whole time in the server. */
  ok(inputMs: number, outputMs: number, totalMs: number, rows: number, nowMs: number): void {
    this.success.count++;
    this.success.ns += ns(totalMs);
    this.computeInput.count++;
    this.computeInput.ns += ns(inputMs);
    this.computeOutput.count++;
    this.computeOutput.ns += ns(outputMs);
    const b = this.batches.get(rows);
    if (b) {
      b.computeInput.count++;
      b.computeInput.ns += ns(inputMs);
      b.computeOutput.count++;
      b.computeOutput.ns += ns(outputMs);
    }
    this.lastInference = Math.floor(nowMs);
  }

  failed(totalMs: number, nowMs: number): void {
    this.fail.count++;
    this.fail.ns += ns(totalMs);
    this.lastInference = Math.floor(nowMs);
  }

  json(name: string, version: string): Record<string, unknown> {
    return {
      name,
      version,
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: this.success,
        fail: this.fail,
        queue: this.queue,
        compute_input: this.computeInput,
        compute_infer: this.computeInfer,
        compute_output: this.computeOutput,
        cache_hit: zero(),
        cache_miss: zero(),
      },
      batch_stats: [...this.batches.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([batch_size, b]) => ({
          batch_size,
          compute_input: b.computeInput,
          compute_infer: b.computeInfer,
          compute_output: b.computeOutput,
        })),
      memory_usage: [],
    };
  }
}

const TRITON_TYPE: Record<string, string> = {
  BOOL: 'TYPE_BOOL',
  UINT8: 'TYPE_UINT8',
  UINT16: 'TYPE_UINT16',
  UINT32: 'TYPE_UINT32',
  UINT64: 'TYPE_UINT64',
  INT8: 'TYPE_INT8',
  INT16: 'TYPE_INT16',
  INT32: 'TYPE_INT32',
  INT64: 'TYPE_INT64',
  FP16: 'TYPE_FP16',
  BF16: 'TYPE_BF16',
  FP32: 'TYPE_FP32',
  FP64: 'TYPE_FP64',
  BYTES: 'TYPE_STRING',
};

export interface ConfigSource {
  readonly name: string;
  readonly version: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** The dynamic batcher's limits when the version batches. */
  readonly batching?: { readonly maxBatchSize: number; readonly maxQueueDelayMs: number };
}

/** Triton's ModelConfig for one loaded version. */
export function modelConfig(c: ConfigSource): Record<string, unknown> {
  const b = c.batching;
  const io = (t: TensorSpec) => ({
    name: t.name,
    data_type: TRITON_TYPE[t.datatype],
    dims: b ? t.shape.slice(1) : [...t.shape],
    ...(t.parameters?.labels ? { parameters: { labels: { string_value: JSON.stringify(t.parameters.labels) } } } : {}),
  });
  return {
    name: c.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { specific: { versions: [Number.isInteger(Number(c.version)) ? Number(c.version) : c.version] } },
    max_batch_size: b ? b.maxBatchSize : 0,
    input: c.inputs.map(io),
    output: c.outputs.map(io),
    ...(b ? { dynamic_batching: { max_queue_delay_microseconds: Math.round(b.maxQueueDelayMs * 1000), preserve_ordering: false } } : {}),
    instance_group: [{ name: c.name, kind: 'KIND_CPU', count: 1 }],
  };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** b added into a: numbers summed (last_inference: the latest), objects field by field, batch_stats row by batch size. */
function addStats(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const mine = out[k];
    if (typeof v === 'number' && typeof mine === 'number') out[k] = k === 'last_inference' ? Math.max(mine, v) : mine + v;
    else if (isRecord(v) && isRecord(mine)) out[k] = addStats(mine, v);
    else if (k === 'batch_stats' && Array.isArray(v) && Array.isArray(mine)) {
      const rows = new Map<unknown, Record<string, unknown>>();
      for (const r of [...(mine as unknown[]), ...v].filter(isRecord)) {
        const had = rows.get(r.batch_size);
        rows.set(r.batch_size, had ? { ...addStats(had, r), batch_size: r.batch_size } : r);
      }
      out[k] = [...rows.values()].sort((x, y) => Number(x.batch_size) - Number(y.batch_size));
    } else if (mine === undefined) out[k] = v;
  }
  return out;
}

/**
 * Triton statistics of several server processes (a cluster's workers), each a list of
 * TritonStats.json entries: one entry per (name, version) with every count and duration summed,
 * batch_stats merged by batch size and last_inference the latest.
 */
export function mergeTritonStats(lists: ReadonlyArray<readonly Record<string, unknown>[]>): Record<string, unknown>[] {
  const byKey = new Map<string, Record<string, unknown>>();
  for (const list of lists)
    for (const s of list) {
      const key = `${String(s.name)}\u0000${String(s.version)}`;
      const had = byKey.get(key);
      byKey.set(key, had ? { ...addStats(had, s), name: s.name, version: s.version } : s);
    }
  return [...byKey.values()];
}
