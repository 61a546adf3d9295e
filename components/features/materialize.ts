/**
 * Materialization: the latest value of every entity, within an event-time window, written into an
 * online store. The pure part picks, per chunk of event time, each key's latest row (the same order
 * as the point-in-time join: event time, then created time, then source position); the driver
 * walks the window a chunk at a time, writes each chunk, and records how far it got, so a stopped
 * run resumes after the last whole chunk and memory stays bounded by one chunk's keys.
 */
import type { FeatureViewSpec } from '../../api/crds/types.ts';
import { cellAt, type Cell, type Dataset } from '../dataset/index.ts';
import { encodeKeys, featureColumn, FeaturesError, joinKeysOf, timestampsOf } from './columns.ts';

/** One entity's values, as written to and read from an online store. */
export interface OnlineRow {
  /** Encoded entity key (columns.ts `encodeKeys`). */
  readonly key: string;
  /** Event time of the values, epoch ms. */
  readonly eventTime: number;
  /** Feature → value (null: missing). */
  readonly values: Readonly<Record<string, Cell>>;
}

/** The store the materializer writes to and the lookup reads from (Redis; SQLite). */
export interface OnlineStore {
  /** Writes each row unless the store already holds a newer event time for the key (idempotent, order-free). */
  write(view: string, rows: readonly OnlineRow[]): Promise<void>;
  /** The stored rows for `keys` (undefined where none), with only `features`. */
  read(view: string, keys: readonly string[], features: readonly string[]): Promise<(OnlineRow | undefined)[]>;
  /** How far materialization of `view` got (epoch ms), or undefined. */
  getWatermark(view: string): Promise<number | undefined>;
  setWatermark(view: string, until: number): Promise<void>;
  close(): Promise<void>;
}

/** The view's rows read once: keys, times, feature columns. */
export interface PreparedView {
  readonly keys: (string | null)[];
  readonly times: Float64Array;
  readonly created?: Float64Array;
  readonly features: { name: string; cell: (row: number) => Cell }[];
}

export function prepareView(name: string, spec: FeatureViewSpec, data: Dataset): PreparedView {
  const where = `feature view '${name}'`;
  return {
    keys: encodeKeys(data, joinKeysOf(spec.entities), where),
    times: timestampsOf(data, spec.source.timestampField, where),
    created: spec.source.createdTimestampField ? timestampsOf(data, spec.source.createdTimestampField, where) : undefined,
    features: spec.features.map((f) => {
      const c = featureColumn(data, f, where);
      return { name: f.name, cell: (row: number) => cellAt(c, row) };
    }),
  };
}

/** Each key's latest row with start <= time <= end (rows in `order` only, when given). Pure. */
export function latestPerKey(v: PreparedView, start: number, end: number, order?: Int32Array): OnlineRow[] {
  const best = new Map<string, number>();
  const n = order ? order.length : v.keys.length;
  for (let j = 0; j < n; j++) {
    const i = order ? order[j] : j;
    const k = v.keys[i];
    const t = v.times[i];
    if (k === null || Number.isNaN(t) || t < start || t > end) continue;
    const b = best.get(k);
    if (b === undefined || newer(v, i, b)) best.set(k, i);
  }
  const out: OnlineRow[] = [];
  for (const [key, i] of best) {
    const values: Record<string, Cell> = {};
    for (const f of v.features) values[f.name] = f.cell(i);
    out.push({ key, eventTime: v.times[i], values });
  }
  return out;
}

/** Whether row a comes after row b in (event time, created time, position) order. */
function newer(v: PreparedView, a: number, b: number): boolean {
  if (v.times[a] !== v.times[b]) return v.times[a] > v.times[b];
  if (v.created) {
    const ca = v.created[a];
    const cb = v.created[b];
    if (Number.isNaN(ca) !== Number.isNaN(cb)) return Number.isNaN(cb);
    if (!Number.isNaN(ca) && ca !== cb) return ca > cb;
  }
  return a > b;
}

/** The chunks [start, end] is walked in: consecutive, each `chunkMs` long (the last shorter). Pure. */
export function chunks(start: number, end: number, chunkMs: number): { start: number; end: number }[] {
  if (!(chunkMs > 0)) throw new FeaturesError(`materialize: chunk ${chunkMs} ms must be positive`);
  if (!(end >= start)) throw new FeaturesError(`materialize: the end ${new Date(end).toISOString()} is before the start ${new Date(start).toISOString()}`);
  const out: { start: number; end: number }[] = [];
  for (let s = start; s <= end; s += chunkMs) out.push({ start: s, end: Math.min(end, s + chunkMs - 1) });
  return out;
}

export interface MaterializeResult {
  readonly view: string;
  readonly chunks: number;
  readonly rowsWritten: number;
  /** Where the view's watermark is now (epoch ms). */
  readonly until: number;
  /** Whether the run began after a watermark left by an earlier run. */
  readonly resumed: boolean;
}

/**
 * Materialize [start, end] of one view into `store`, chunk by chunk, resuming after the view's
 * watermark when it lies inside the window (incremental: a scheduled run gives only `end`).
 */
export async function materializeView(
  store: OnlineStore,
  name: string,
  v: PreparedView,
  window: { start?: number; end: number; chunkMs: number },
  signal?: AbortSignal,
): Promise<MaterializeResult> {
  const mark = await store.getWatermark(name);
  // Resume after the watermark when it lies inside the window (or no start was given: incremental).
  const resumed = mark !== undefined && mark < window.end && (window.start === undefined || mark >= window.start);
  let start = resumed ? mark + 1 : (window.start ?? -8.64e15);
  if (start > window.end) return { view: name, chunks: 0, rowsWritten: 0, until: mark ?? window.end, resumed };
  // Rows sorted by time once, so each chunk scans only its own rows.
  const order = Int32Array.from({ length: v.times.length }, (_, i) => i).filter(
    (i) => !Number.isNaN(v.times[i]) && v.times[i] >= start && v.times[i] <= window.end,
  );
  order.sort((a, b) => v.times[a] - v.times[b] || a - b);
  if (window.start === undefined) {
    // No start given and no watermark: begin at the first row (walking from the dawn of time would be all empty chunks).
    if (order.length === 0) {
      await store.setWatermark(name, window.end);
      return { view: name, chunks: 0, rowsWritten: 0, until: window.end, resumed };
    }
    start = Math.max(start, v.times[order[0]]);
  }
  let rowsWritten = 0;
  let n = 0;
  let lo = 0;
  for (const c of chunks(start, window.end, window.chunkMs)) {
    signal?.throwIfAborted();
    let hi = lo;
    while (hi < order.length && v.times[order[hi]] <= c.end) hi++;
    const rows = latestPerKey(v, c.start, c.end, order.subarray(lo, hi));
    lo = hi;
    if (rows.length) await store.write(name, rows);
    await store.setWatermark(name, c.end);
    rowsWritten += rows.length;
    n++;
  }
  return { view: name, chunks: n, rowsWritten, until: window.end, resumed };
}
