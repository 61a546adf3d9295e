/**
 * `ghosteam optimize`: a standard ONNX model made smaller or faster, with a report of what it cost.
 *
 * 1. onnxruntime's graph optimizations, saved as a model (`optimizedModelFilePath`; level 'basic'
 *    by default, which keeps to standard ONNX ops).
 * 2. `--int8`: dynamic quantization of MatMul/Gemm weights, as onnxruntime's `quantize_dynamic`
 *    (int8.ts), or `--fp16`: float16 weights and compute with float32 inputs and outputs (fp16.ts).
 * 3. The report: file sizes, latency at batch 1 and 64 of both models, and, with a validation
 *    table, the metric of both and how far each output moved. With `maxMetricDrop` a model that
 *    scores worse by more than that is refused: nothing is written.
 *
 * The model is written atomically with its report beside it (`<out>.optimize.json`, written first),
 * and carries its lineage in metadata_props (`ghosteam.optimizedFrom`).
 *
 * ```ts
 * const r = await optimizeModel({ model: './model.onnx', out: './model.int8.onnx', int8: true,
 *   validation: { file: 'valid.csv', label: 'is_fraud' }, maxMetricDrop: 0.01 });
 * console.log(r.sizeBytes, r.latencyMs, r.validation?.delta);
 * ```
 */
import { createHash } from 'node:crypto';
import { readFile, rm, stat, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { parseModelSpec, resolveSpec } from '../model-server/models.ts';
import { RequestError } from '../model-server/tensors.ts';
import type { ModelRegistry } from '../registry/types.ts';
import { latencyMs, validate, type OptimizeMetric, type ValidationOptions, type ValidationReport } from './evaluate.ts';
import { toFloat16 } from './fp16.ts';
import { OptimizeError, quantizeDynamic } from './int8.ts';
import { loadProblem, optimizeGraph, tensorTypes, type GraphLevel } from './ort.ts';
import { decodeModel, encodeModel, nameNodes, setMetadata } from './proto.ts';
import { describeNodes } from './describe.ts';

export { describeNodes };
export { OptimizeError, quantizeDynamic, quantizeWeight } from './int8.ts';
export { toFloat16, FP16_BLOCKED_OPS } from './fp16.ts';
export { optimizeGraph, tensorTypes, GRAPH_LEVELS, type GraphLevel } from './ort.ts';
export { inputShapes, OPTIMIZE_METRICS, type OptimizeMetric, type ValidationReport } from './evaluate.ts';

export interface OptimizeOptions {
  /** ./model.onnx, an MLflow model dir, or a registry reference (with `registry`). */
  readonly model: string;
  readonly registry?: ModelRegistry;
  readonly out: string;
  readonly fp16?: boolean;
  readonly int8?: boolean;
  /** onnxruntime graph optimization level. @default 'basic' */
  readonly level?: GraphLevel;
  readonly validation?: ValidationOptions;
  /** Refuse (write nothing) when the metric drops by more than this. Needs a validation table with a label. */
  readonly maxMetricDrop?: number;
  /** Sizes of symbolic input dimensions other than the batch, for the latency report. */
  readonly dims?: Record<string, number>;
  /** Skip the latency measurement. */
  readonly noLatency?: boolean;
  readonly latencyRuns?: number;
  readonly threads?: number;
  readonly overwrite?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export interface OptimizeReport {
  readonly kind: 'ghosteam.optimize-report';
  readonly model: { name: string; version: string; source: string; digest: string };
  readonly out: { path: string; digest: string };
  readonly steps: string[];
  readonly level: GraphLevel;
  readonly sizeBytes: { original: number; optimized: number; ratio: number };
  readonly latencyMs?: { original: { batch1: number; batch64: number }; optimized: { batch1: number; batch64: number } };
  readonly int8?: { quantized: string[]; skipped: { node: string; op: string; reason: string }[] };
  readonly fp16?: { converted: number; kept: { node: string; op: string; reason: string }[]; casts: number; clamped: number };
  readonly validation?: ValidationReport;
  readonly maxMetricDrop?: number;
  readonly accepted: boolean;
  readonly createdAt: string;
}

/** Where the report of an optimized model goes. */
export function reportPathFor(out: string): string {
  return `${out}.optimize.json`;
}

const sha256 = (b: Uint8Array) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Thrown when the optimized model scores worse than the tolerance; carries the report (nothing was written). */
export class MetricDropError extends OptimizeError {
  constructor(
    message: string,
    readonly report: OptimizeReport,
  ) {
    super(message);
  }
}

export async function optimizeModel(opts: OptimizeOptions): Promise<OptimizeReport> {
  const log = opts.log ?? (() => {});
  const level = opts.level ?? 'basic';
  if (opts.fp16 && opts.int8)
    throw new OptimizeError('--fp16 and --int8 are alternatives: INT8 dynamic quantization computes in float32 around its integer MatMuls; pick one');
  if (opts.maxMetricDrop !== undefined) {
    if (!(opts.maxMetricDrop >= 0)) throw new OptimizeError(`--max-metric-drop expects a number ≥ 0; got ${opts.maxMetricDrop}`);
    if (!opts.validation?.label) throw new OptimizeError('--max-metric-drop needs a validation table with a label column (--validation FILE --label COLUMN)');
  }
  let resolved;
  try {
    resolved = await resolveSpec(parseModelSpec(opts.model), opts.registry);
  } catch (e) {
    throw e instanceof RequestError ? new OptimizeError(e.message, { cause: e }) : e;
  }
  if (resolvePath(resolved.path) === resolvePath(opts.out))
    throw new OptimizeError(`--out ${opts.out} is the model itself; write the optimized model to another file`);
  const exists = await stat(opts.out).then(
    () => true,
    () => false,
  );
  if (exists && !opts.overwrite)
    throw new OptimizeError(`${opts.out} already exists; pass --overwrite to replace it (it is replaced only once the new model is complete)`);
  const original = new Uint8Array(await readFile(resolved.path));
  const where = `model ${resolved.path}`;
  try {
    decodeModel(original);
  } catch (e) {
    throw new OptimizeError(`${resolved.path} is not an ONNX model (protobuf: ${(e as Error).message})`);
  }

  const steps: string[] = [];
  log(`graph optimizations (onnxruntime, level ${level})`);
  let bytes = await optimizeGraph(original, level, where);
  if (level !== 'disabled') steps.push(`graph:${level}`);
  let int8: OptimizeReport['int8'];
  let fp16: OptimizeReport['fp16'];
  if (opts.int8) {
    const m = decodeModel(bytes);
    nameNodes(m.graph!);
    const types = await tensorTypes(m, where);
    const r = quantizeDynamic(m, types);
    if (r.quantized.length === 0)
      throw new OptimizeError(
        `INT8: nothing to quantize: the model has no MatMul or Gemm with constant float weights${r.skipped.length ? ` (${describeNodes(r.skipped)})` : ''}`,
      );
    bytes = encodeModel(m);
    int8 = r;
    steps.push('int8:dynamic');
    log(
      `INT8: quantized ${r.quantized.length} MatMul/Gemm weight${r.quantized.length === 1 ? '' : 's'}${r.skipped.length ? `, ${r.skipped.length} left in float` : ''}`,
    );
  }
  if (opts.fp16) {
    const base = decodeModel(bytes);
    nameNodes(base.graph!);
    const types = await tensorTypes(base, where);
    const blockNodes = new Map<string, string>();
    // Nodes onnxruntime's CPU provider has no float16 kernel for stay float32, so the model loads here.
    for (let attempt = 0; ; attempt++) {
      const m = decodeModel(encodeModel(base));
      const r = toFloat16(m, types, { blockNodes });
      const candidate = encodeModel(m);
      const problem = await loadProblem(candidate);
      if (!problem) {
        bytes = candidate;
        fp16 = r;
        break;
      }
      if (!problem.node || blockNodes.has(problem.node) || attempt > 200)
        throw new OptimizeError(`FP16: onnxruntime can't load the converted model: ${problem.message}`);
      blockNodes.set(problem.node, `no float16 ${problem.op} kernel in onnxruntime's CPU provider`);
    }
    if (fp16.converted === 0)
      throw new OptimizeError(
        `FP16: nothing to convert: no node of the model computes in float16 (${describeNodes(fp16.kept) || 'no node takes or gives a float32 tensor'}); float16 speeds up neural networks' MatMul, Gemm and Conv, while ai.onnx.ml ops (tree ensembles, linear models, scalers) run in float32 only; optimize without --fp16`,
      );
    steps.push('fp16');
    log(`FP16: ${fp16.converted} nodes in float16, ${fp16.kept.length} kept in float32, ${fp16.casts} casts`);
  }

  const digest = sha256(original);
  const m = decodeModel(bytes);
  setMetadata(m, 'ghosteam.optimizedFrom', JSON.stringify({ name: resolved.name, version: resolved.version, source: resolved.source, digest, steps }));
  bytes = encodeModel(m);
  const problem = await loadProblem(bytes);
  if (problem) throw new OptimizeError(`the optimized model does not load in onnxruntime: ${problem.message}`);

  let latency: OptimizeReport['latencyMs'];
  if (!opts.noLatency) {
    log('latency at batch 1 and 64');
    const lo = { dims: opts.dims, runs: opts.latencyRuns, threads: opts.threads };
    latency = {
      original: { batch1: await latencyMs(original, 1, lo), batch64: await latencyMs(original, 64, lo) },
      optimized: { batch1: await latencyMs(bytes, 1, lo), batch64: await latencyMs(bytes, 64, lo) },
    };
  }

  // The validation set goes through both models as files, as `ghosteam predict` loads them.
  let validation: ValidationReport | undefined;
  if (opts.validation) {
    log(`validation: ${opts.validation.file}`);
    const dir = await mkdtemp(join(tmpdir(), 'ghosteam-optimize-'));
    try {
      const tmp = join(dir, 'optimized.onnx');
      await writeFile(tmp, bytes);
      validation = await validate(resolved.path, tmp, original, opts.validation);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  const drop = validation?.drop;
  const accepted = opts.maxMetricDrop === undefined || (drop !== undefined && Number.isFinite(drop) && drop <= opts.maxMetricDrop);
  const report: OptimizeReport = {
    kind: 'ghosteam.optimize-report',
    model: { name: resolved.name, version: resolved.version, source: resolved.source, digest },
    out: { path: resolvePath(opts.out), digest: sha256(bytes) },
    steps,
    level,
    sizeBytes: { original: original.byteLength, optimized: bytes.byteLength, ratio: bytes.byteLength / original.byteLength },
    ...(latency ? { latencyMs: latency } : {}),
    ...(int8 ? { int8 } : {}),
    ...(fp16 ? { fp16 } : {}),
    ...(validation ? { validation } : {}),
    ...(opts.maxMetricDrop !== undefined ? { maxMetricDrop: opts.maxMetricDrop } : {}),
    accepted,
    createdAt: new Date().toISOString(),
  };
  if (!accepted) {
    const v = validation!;
    throw new MetricDropError(
      `refused: ${v.metric} ${fmt(v.original)} → ${fmt(v.optimized)} on ${v.file} (${v.rows} rows) drops ${fmt(v.drop)}, more than --max-metric-drop ${opts.maxMetricDrop}; nothing was written`,
      report,
    );
  }
  // The report first, then the model: a crash between them leaves a report naming a file that isn't there, never a model without its report.
  await writeFileAtomic(reportPathFor(opts.out), JSON.stringify(report, null, 2) + '\n');
  await writeFileAtomic(opts.out, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return report;
}

function fmt(x: number | undefined): string {
  return x === undefined ? '?' : Number(x.toPrecision(6)).toString();
}

export type { OptimizeMetric as Metric };
