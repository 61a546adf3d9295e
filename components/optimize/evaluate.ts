/**
 * The optimizer's report figures: latency at a batch size (median of timed `session.run`s on
 * generated inputs) and a validation set scored through the original and the optimized model
 * (the metric on a label column, and how far each output moved).
 */
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { planGraph } from '../model-server/graph.ts';
import { fromHalfBits } from '../model-server/tensors.ts';
import { loadOrtModel, type OrtModel } from '../model-server/models.ts';
import { buildInputs, modelMeta } from '../batch/predict.ts';
import { formatOfPath, planFeatures, type TableFormat } from '../batch/plan.ts';
import { openReader } from '../batch/readers.ts';
import { rocAuc } from '../evaluate/metrics.ts';
import { OptimizeError } from './int8.ts';

export type OptimizeMetric = 'roc_auc' | 'accuracy' | 'rmse' | 'mae';
export const OPTIMIZE_METRICS: readonly OptimizeMetric[] = ['roc_auc', 'accuracy', 'rmse', 'mae'];
/** Whether a larger value is better (the drop is then original − optimized). */
export const HIGHER_IS_BETTER: Readonly<Record<OptimizeMetric, boolean>> = { roc_auc: true, accuracy: true, rmse: false, mae: false };

/**
 * The concrete shape of each input for a batch size: the first dimension, when symbolic, is the
 * batch; any other symbolic dimension needs a size from `dims` (by its name), else an error says so.
 */
export function inputShapes(inputs: readonly ort.InferenceSession.ValueMetadata[], batch: number, dims: Readonly<Record<string, number>>): number[][] {
  return inputs.map((m) => {
    if (!m.isTensor) throw new OptimizeError(`input '${m.name}' is not a tensor; the optimizer measures models with tensor inputs only`);
    return m.shape.map((d, i) => {
      if (typeof d === 'number' && d >= 0) return d;
      if (i === 0) return batch;
      const name = typeof d === 'string' && d !== '' ? d : undefined;
      if (name !== undefined && dims[name] !== undefined) return dims[name];
      throw new OptimizeError(
        `input '${m.name}' has a dynamic dimension ${name ? `'${name}'` : `#${i}`} besides the batch; the optimizer can't size it for the latency report: pass --dim ${name ?? `${m.name}.${i}`}=<size>`,
      );
    });
  });
}

function fill(type: string, n: number, seed: number): ort.Tensor['data'] {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  switch (type) {
    case 'float32':
      return Float32Array.from({ length: n }, next);
    case 'float64':
      return Float64Array.from({ length: n }, next);
    case 'float16':
      return new Uint16Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'bool':
      return new Uint8Array(n);
    case 'string':
      return Array.from({ length: n }, () => '');
    default:
      throw new OptimizeError(`the latency report can't generate inputs of type ${type}`);
  }
}

/** Median milliseconds of `session.run` at a batch size, after warm-up runs. */
export async function latencyMs(bytes: Uint8Array, batch: number, opts: { dims?: Record<string, number>; runs?: number; threads?: number }): Promise<number> {
  const served = planGraph(bytes).bytes ?? bytes; // ZipMap outputs as tensors, as the server runs it
  const session = await ort.InferenceSession.create(served, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.threads ?? 1,
    executionMode: 'sequential',
  });
  try {
    const shapes = inputShapes(session.inputMetadata, batch, opts.dims ?? {});
    const feeds: Record<string, ort.Tensor> = {};
    session.inputMetadata.forEach((m, i) => {
      const n = shapes[i].reduce((a, b) => a * b, 1);
      const type = (m as { type: string }).type;
      feeds[m.name] = new ort.Tensor(type as 'float32', fill(type, n, i + 1) as Float32Array, shapes[i]);
    });
    const fetches = session.outputMetadata.filter((m) => m.isTensor).map((m) => m.name);
    for (let i = 0; i < 3; i++) await session.run(feeds, fetches);
    const runs = opts.runs ?? 30;
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await session.run(feeds, fetches);
      t.push(performance.now() - t0);
    }
    t.sort((a, b) => a - b);
    return t[Math.floor(t.length / 2)];
  } finally {
    await session.release();
  }
}

export interface ValidationOptions {
  readonly file: string;
  /** The label column; without one only the outputs' differences are reported. */
  readonly label?: string;
  readonly features?: readonly string[];
  readonly metric?: OptimizeMetric;
  readonly delimiter?: string;
  /** @default from the file's extension */
  readonly format?: TableFormat;
}

export interface ValidationReport {
  readonly file: string;
  readonly rows: number;
  /** The output scored and how (the positive class's column for roc_auc). */
  readonly output: string;
  readonly metric?: OptimizeMetric;
  readonly original?: number;
  readonly optimized?: number;
  /** optimized − original. */
  readonly delta?: number;
  /** How much worse the optimized model scores (≤ 0: no worse). */
  readonly drop?: number;
  /** Largest absolute difference per float output, over every row. */
  readonly maxAbsDiff: Record<string, number>;
  /** Classifiers: share of rows whose predicted class is the same. */
  readonly agreement?: number;
}

const FLOATS = new Set(['FP16', 'FP32', 'FP64']);

/** Scores the validation table through both models. */
export async function validate(originalPath: string, optimizedPath: string, originalBytes: Uint8Array, v: ValidationOptions): Promise<ValidationReport> {
  const meta = modelMeta(originalBytes);
  const a = await loadOrtModel(originalPath, { intraOpThreads: 1 });
  let b: OrtModel | undefined;
  const reader = await openReader(v.file, formatOfPath(v.file, v.format), { batchRows: 8192, delimiter: v.delimiter });
  try {
    b = await loadOrtModel(optimizedPath, { intraOpThreads: 1 });
    if (v.label !== undefined && !reader.columns.includes(v.label))
      throw new OptimizeError(`${v.file} has no label column '${v.label}'; its columns are ${reader.columns.map((c) => `'${c}'`).join(', ')}`);
    const plan = planFeatures(a.inputs, meta, reader.columns, { features: v.features, keep: v.label !== undefined ? [v.label] : [] }, v.file);
    const scored = a.outputs.find((o) => FLOATS.has(o.datatype));
    if (!scored)
      throw new OptimizeError(`the model has no float output to compare; its outputs are ${a.outputs.map((o) => `'${o.name}' (${o.datatype})`).join(', ')}`);
    const labels = a.classLabels.get(scored.name) ?? meta.classes;
    const maxAbsDiff: Record<string, number> = {};
    const pa: number[][] = [];
    const pb: number[][] = [];
    const ys: unknown[] = [];
    let rows = 0;
    let width = 1;
    for await (const chunk of reader.chunks()) {
      const feeds = buildInputs(plan, chunk);
      const [oa, ob] = [await a.run(feeds), await b.run(feeds)];
      for (const o of a.outputs) {
        if (!FLOATS.has(o.datatype) || !oa[o.name] || !ob[o.name]) continue;
        const [x, y] = [oa[o.name].data as ArrayLike<number>, ob[o.name].data as ArrayLike<number>];
        const half = b.outputs.find((t) => t.name === o.name)?.datatype === 'FP16';
        let m = maxAbsDiff[o.name] ?? 0;
        for (let i = 0; i < x.length; i++) {
          const d = Math.abs(x[i] - (half ? fromHalfBits(y[i]) : y[i]));
          if (d > m || Number.isNaN(d)) m = Number.isNaN(d) ? Infinity : d;
        }
        maxAbsDiff[o.name] = m;
      }
      const da = oa[scored.name];
      width = da.dims.length === 2 ? da.dims[1] : 1;
      const xa = da.data as ArrayLike<number>;
      const xb = ob[scored.name].data as ArrayLike<number>;
      for (let r = 0; r < chunk.rows; r++) {
        pa.push(Array.from({ length: width }, (_, j) => xa[r * width + j]));
        pb.push(Array.from({ length: width }, (_, j) => xb[r * width + j]));
      }
      if (v.label !== undefined) {
        const col = chunk.columns.get(v.label)!;
        for (let r = 0; r < chunk.rows; r++) ys.push(col[r]);
      }
      rows += chunk.rows;
    }
    if (rows === 0) throw new OptimizeError(`${v.file} has no data rows to validate on`);
    const argmax = (p: number[]) => p.reduce((best, x, j) => (x > p[best] ? j : best), 0);
    const agreement = width > 1 ? pa.filter((p, i) => argmax(p) === argmax(pb[i])).length / rows : undefined;
    const base = { file: v.file, rows, maxAbsDiff, ...(agreement !== undefined ? { agreement } : {}) };
    if (v.label === undefined) return { ...base, output: scored.name };
    const metric: OptimizeMetric =
      v.metric ??
      (width === 2
        ? 'roc_auc'
        : width > 2
          ? 'accuracy'
          : meta.task === 'regression'
            ? 'rmse'
            : ys.every((y) => Number(y) === 0 || Number(y) === 1)
              ? 'roc_auc'
              : 'rmse');
    const same = (label: unknown, cls: string | number) => String(label) === String(cls) || (Number(label) === Number(cls) && String(label).trim() !== '');
    const score = (p: number[][]): number => {
      if (metric === 'roc_auc') {
        const pos = width === 2 ? (labels?.[1] ?? 1) : 1;
        const y = ys.map((l) => (same(l, pos) ? 1 : 0));
        return rocAuc(
          y,
          p.map((r) => r[width === 2 ? 1 : 0]),
        );
      }
      if (metric === 'accuracy') {
        if (width === 1) return ys.filter((l, i) => (p[i][0] >= 0.5 ? 1 : 0) === Number(l)).length / rows;
        return ys.filter((l, i) => same(l, labels?.[argmax(p[i])] ?? argmax(p[i]))).length / rows;
      }
      let s = 0;
      ys.forEach((l, i) => {
        const e = p[i][0] - Number(l);
        s += metric === 'rmse' ? e * e : Math.abs(e);
      });
      return metric === 'rmse' ? Math.sqrt(s / rows) : s / rows;
    };
    const original = score(pa);
    const optimized = score(pb);
    const delta = optimized - original;
    return {
      ...base,
      output: metric === 'roc_auc' && width === 2 ? `${scored.name}[${String(labels?.[1] ?? 1)}]` : scored.name,
      metric,
      original,
      optimized,
      delta,
      drop: HIGHER_IS_BETTER[metric] ? -delta : delta,
    };
  } finally {
    await reader.close();
    await a.release().catch(() => {});
    await b?.release().catch(() => {});
  }
}
