/**
 * The model server's payload log (JSON Lines, one record per inference request) as drift input:
 *   {"ts":"<ISO>","model":"fraud","version":"2","id":"…",
 *    "inputs":{"<tensor>":{"shape":[n,k],"datatype":"FP32","data":[…row-major…]}},
 *    "outputs":{"<tensor>":{"shape":[n,1],"datatype":"FP32","data":[…]}}}
 * The reader maps the k columns of a 2-D input tensor to the declared feature names in order and yields
 * one batch per record (no per-row allocation). Summaries are built per window, by row count or by time.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { SummaryAccumulator, compareToReference, type CurrentSummary, type ReferenceSummary } from './summary.ts';
import { DriftError, type DriftOptions, type DriftResult } from './types.ts';

export interface PayloadLogOptions {
  /** Feature names for the k columns of the input tensor, in order (the DriftMonitor's feature list). */
  readonly features: readonly string[];
  /** Input tensor name. @default the record's only input tensor */
  readonly tensor?: string;
  /** Also read this output tensor as extra columns (prediction drift), named `outputNames`. */
  readonly outputTensor?: string;
  readonly outputNames?: readonly string[];
  /** Only records of this model / version. @default all */
  readonly model?: string;
  readonly version?: string;
  /** Only records of this Kubernetes namespace; records without one (a local server's) always match. @default all */
  readonly namespace?: string;
  /** Only records with since <= ts < until (ISO strings or Dates). */
  readonly since?: string | Date;
  readonly until?: string | Date;
  /** Skip malformed lines (and count them) instead of failing. @default false */
  readonly skipInvalid?: boolean;
}

export interface PayloadBatch {
  readonly ts: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly line: number;
  /** Rows in this record. */
  readonly rows: number;
  /** Number of columns (features, then outputs). */
  readonly width: number;
  /** Row-major values: rows × width. Numbers, or strings for BYTES tensors. */
  readonly data: ArrayLike<unknown>;
}

interface Tensor {
  shape?: unknown;
  datatype?: unknown;
  data?: unknown;
}

/** Splits a byte stream into lines without materializing the file. */
export async function* readLines(source: string | AsyncIterable<string | Buffer>): AsyncGenerator<string> {
  const stream = typeof source === 'string' ? createReadStream(source, { highWaterMark: 1 << 20 }) : source;
  const dec = new StringDecoder('utf8');
  let rest = '';
  try {
    for await (const chunk of stream) {
      const text = rest + (typeof chunk === 'string' ? chunk : dec.write(chunk as Buffer));
      let start = 0;
      let nl = text.indexOf('\n', start);
      while (nl >= 0) {
        yield text.slice(start, nl);
        start = nl + 1;
        nl = text.indexOf('\n', start);
      }
      rest = text.slice(start);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof source === 'string') throw new DriftError(`cannot read payload log ${source}: ${e.code ?? e.message}`, source);
    throw err;
  }
  rest += dec.end();
  if (rest.length > 0) yield rest;
}

function toTime(v: string | Date | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = v instanceof Date ? v.getTime() : Date.parse(v);
  if (!Number.isFinite(t)) throw new DriftError(`'${String(v)}' is not a valid time; use an ISO-8601 timestamp`);
  return t;
}

function flatData(t: Tensor): unknown[] | null {
  if (!Array.isArray(t.data)) return null;
  const d = t.data as unknown[];
  return d.length > 0 && Array.isArray(d[0]) ? d.flat<unknown[], number>(Infinity) : d;
}

function tensorRows(t: Tensor, k: number, where: string, what: string): { rows: number; data: unknown[] } {
  const data = flatData(t);
  if (!data) throw new DriftError(`${where}: ${what}.data must be an array`);
  const shape = Array.isArray(t.shape) ? (t.shape as number[]) : [data.length / k, k];
  let rows: number;
  let cols: number;
  if (shape.length === 2) [rows, cols] = shape;
  else if (shape.length === 1) [rows, cols] = k === 1 ? [shape[0], 1] : [1, shape[0]];
  else throw new DriftError(`${where}: ${what}.shape ${JSON.stringify(shape)} must be [rows, ${k}]`);
  if (cols !== k)
    throw new DriftError(`${where}: ${what} has ${cols} columns but ${k} names are declared; make the DriftMonitor's feature list match the model's input`);
  if (rows * cols !== data.length)
    throw new DriftError(`${where}: ${what}.shape ${JSON.stringify(shape)} needs ${rows * cols} values, data has ${data.length}`);
  return { rows, data };
}

/** Reads a payload log and yields one batch per matching record. */
export async function* readPayloadLog(
  source: string | AsyncIterable<string | Buffer>,
  opts: PayloadLogOptions,
  stats?: { skipped: number; records: number; firstSkipped?: string },
): AsyncGenerator<PayloadBatch> {
  const k = opts.features.length;
  if (k === 0) throw new DriftError('features: declare at least one feature name for the input tensor columns');
  const outNames = opts.outputNames ?? [];
  if (opts.outputTensor && outNames.length === 0) throw new DriftError('outputNames: name the columns of the output tensor');
  const since = toTime(opts.since);
  const until = toTime(opts.until);
  const file = typeof source === 'string' ? source : 'payload log';
  const width = k + (opts.outputTensor ? outNames.length : 0);
  let lineNo = 0;
  for await (const raw of readLines(source)) {
    lineNo++;
    const line = raw.trim();
    if (line === '') continue;
    const where = `${file}:${lineNo}`;
    try {
      let rec: { ts?: unknown; model?: unknown; version?: unknown; namespace?: unknown; inputs?: Record<string, Tensor>; outputs?: Record<string, Tensor> };
      try {
        rec = JSON.parse(line);
      } catch {
        throw new DriftError(`${where}: not valid JSON`);
      }
      if (opts.model !== undefined && rec.model !== opts.model) continue;
      if (opts.version !== undefined && String(rec.version) !== opts.version) continue;
      if (opts.namespace !== undefined && rec.namespace !== undefined && rec.namespace !== opts.namespace) continue;
      if (typeof rec.ts !== 'string') throw new DriftError(`${where}: ts must be an ISO-8601 string`);
      const time = Date.parse(rec.ts);
      if (!Number.isFinite(time)) throw new DriftError(`${where}: ts '${rec.ts}' is not a valid time`);
      if (since !== undefined && time < since) continue;
      if (until !== undefined && time >= until) continue;
      const inputs = rec.inputs;
      if (!inputs || typeof inputs !== 'object') throw new DriftError(`${where}: inputs must be an object of tensors`);
      const names = Object.keys(inputs);
      const tname = opts.tensor ?? (names.length === 1 ? names[0] : undefined);
      if (tname === undefined) throw new DriftError(`${where}: the record has input tensors ${names.join(', ')}; set tensor to choose one`);
      const t = inputs[tname];
      if (!t) throw new DriftError(`${where}: no input tensor '${tname}' (has ${names.join(', ') || 'none'})`);
      const inp = tensorRows(t, k, where, `inputs.${tname}`);
      stats && stats.records++;
      if (!opts.outputTensor) {
        yield { ts: rec.ts, time, line: lineNo, rows: inp.rows, width, data: inp.data };
        continue;
      }
      const o = rec.outputs?.[opts.outputTensor];
      if (!o) throw new DriftError(`${where}: no output tensor '${opts.outputTensor}'`);
      const out = tensorRows(o, outNames.length, where, `outputs.${opts.outputTensor}`);
      if (out.rows !== inp.rows) throw new DriftError(`${where}: inputs have ${inp.rows} rows but outputs have ${out.rows}`);
      const merged = new Array<unknown>(inp.rows * width);
      for (let r = 0; r < inp.rows; r++) {
        for (let j = 0; j < k; j++) merged[r * width + j] = inp.data[r * k + j];
        for (let j = 0; j < outNames.length; j++) merged[r * width + k + j] = out.data[r * outNames.length + j];
      }
      yield { ts: rec.ts, time, line: lineNo, rows: inp.rows, width, data: merged };
    } catch (err) {
      if (opts.skipInvalid && err instanceof DriftError) {
        if (stats) {
          stats.skipped++;
          stats.firstSkipped ??= err.message;
        }
        continue;
      }
      throw err;
    }
  }
}

/** Tumbling windows: every `count` rows, or every `durationMs` of record time (aligned to the epoch). */
export type WindowSpec = { readonly count: number } | { readonly durationMs: number } | 'all';

export interface SummaryWindow {
  readonly start: string;
  readonly end: string;
  readonly rows: number;
  /** False for the last count window when it has fewer rows than asked for. */
  readonly complete: boolean;
  readonly summary: CurrentSummary;
}

export interface SummarizeOptions extends PayloadLogOptions {
  /** @default 'all' (one window over the whole log) */
  readonly window?: WindowSpec;
}

function columnIndexMap(reference: ReferenceSummary, names: readonly string[]): Int32Array {
  const idx = new Int32Array(names.length).fill(-1);
  const known = reference.columns.map((c) => c.name);
  names.forEach((n, j) => {
    idx[j] = known.indexOf(n);
  });
  const missing = known.filter((n) => !names.includes(n));
  if (missing.length > 0)
    throw new DriftError(
      `the reference summary has columns ${missing.join(', ')} that the payload log's feature list lacks; declare them or rebuild the reference`,
    );
  return idx;
}

/**
 * Builds current summaries over a payload log, one per window. Memory: one fixed-size summary per
 * open window (count windows: one at a time).
 */
export async function summarizePayloadLog(
  source: string | AsyncIterable<string | Buffer>,
  reference: ReferenceSummary,
  opts: SummarizeOptions,
): Promise<{ windows: SummaryWindow[]; skipped: number; records: number; firstSkipped?: string }> {
  const names = [...opts.features, ...(opts.outputTensor ? (opts.outputNames ?? []) : [])];
  const colIdx = columnIndexMap(reference, names);
  const spec = opts.window ?? 'all';
  if (spec !== 'all' && 'count' in spec && !(Number.isInteger(spec.count) && spec.count > 0))
    throw new DriftError(`window.count: ${spec.count} must be a positive integer`);
  if (spec !== 'all' && 'durationMs' in spec && !(spec.durationMs > 0)) throw new DriftError(`window.durationMs: ${spec.durationMs} must be positive`);
  const stats: { skipped: number; records: number; firstSkipped?: string } = { skipped: 0, records: 0 };
  const windows: SummaryWindow[] = [];
  const open = new Map<number, SummaryAccumulator>();
  let acc: SummaryAccumulator | null = null;
  const finish = (a: SummaryAccumulator, complete: boolean): void => {
    const s = a.snapshot();
    windows.push({ start: s.start ?? '', end: s.end ?? '', rows: s.rows, complete, summary: s });
  };
  const width = names.length;
  const addRows = (a: SummaryAccumulator, b: PayloadBatch, from: number, to: number): void => {
    a.addRowMajor(b.data, to - from, width, colIdx, from);
    a.touch(b.ts);
  };
  for await (const b of readPayloadLog(source, opts, stats)) {
    if (spec === 'all') {
      acc ??= new SummaryAccumulator(reference);
      addRows(acc, b, 0, b.rows);
    } else if ('count' in spec) {
      let r = 0;
      while (r < b.rows) {
        acc ??= new SummaryAccumulator(reference);
        const take = Math.min(b.rows - r, spec.count - acc.rows);
        addRows(acc, b, r, r + take);
        r += take;
        if (acc.rows >= spec.count) {
          finish(acc, true);
          acc = null;
        }
      }
    } else {
      const key = Math.floor(b.time / spec.durationMs) * spec.durationMs;
      let a = open.get(key);
      if (!a) {
        a = new SummaryAccumulator(reference);
        open.set(key, a);
      }
      addRows(a, b, 0, b.rows);
    }
  }
  if (spec === 'all') finish(acc ?? new SummaryAccumulator(reference), true);
  else if ('count' in spec) {
    if (acc && acc.rows > 0) finish(acc, false);
  } else {
    for (const key of [...open.keys()].sort((x, y) => x - y)) {
      const s = open.get(key)!.snapshot();
      windows.push({
        start: new Date(key).toISOString(),
        end: new Date(key + spec.durationMs).toISOString(),
        rows: s.rows,
        complete: true,
        summary: { ...s, start: new Date(key).toISOString(), end: new Date(key + spec.durationMs).toISOString() },
      });
    }
  }
  return { windows, ...stats };
}

export interface PayloadDriftWindow {
  readonly start: string;
  readonly end: string;
  readonly rows: number;
  readonly complete: boolean;
  readonly result: DriftResult;
}

export interface PayloadDriftReport {
  readonly windows: PayloadDriftWindow[];
  /** The last window's result (the one a monitor acts on); status 'empty' when the log had no rows. */
  readonly latest: DriftResult;
  readonly records: number;
  /** Lines skipped as unreadable (with skipInvalid), and the first one's reason (file:line: why). */
  readonly skipped: number;
  readonly firstSkipped?: string;
}

/**
 * What the DriftMonitor reconciler calls: summarize the payload log per window and compare each window
 * with the reference summary.
 *   const r = await detectDriftFromPayloadLog('payloads.jsonl', referenceSummary,
 *     { features: ['amount', 'age', …], window: { durationMs: 3600_000 }, since, drift: { driftShare: 0.3 } });
 *   if (r.latest.datasetDrift) …
 */
export async function detectDriftFromPayloadLog(
  source: string | AsyncIterable<string | Buffer>,
  reference: ReferenceSummary,
  opts: SummarizeOptions & { readonly drift?: DriftOptions },
): Promise<PayloadDriftReport> {
  const { windows, records, skipped, firstSkipped } = await summarizePayloadLog(source, reference, opts);
  const out = windows.map((w) => ({
    start: w.start,
    end: w.end,
    rows: w.rows,
    complete: w.complete,
    result: compareToReference(reference, w.summary, opts.drift),
  }));
  const latest = out.length > 0 ? out[out.length - 1].result : compareToReference(reference, new SummaryAccumulator(reference).snapshot(), opts.drift);
  return { windows: out, latest, records, skipped, ...(firstSkipped ? { firstSkipped } : {}) };
}
