/**
 * Batch prediction: a table file (CSV, JSON Lines, Parquet, Arrow IPC) streamed through an ONNX
 * model in large batches, written as a table of the kept input columns (ids) followed by the
 * model's outputs (and a class label for ghosteam classifiers), atomically, with lineage.
 *
 * The model is loaded as the model server loads it (models.ts: registry references resolved through
 * the registry, ZipMap outputs served as [N, classes] tensors with their labels); columns are bound
 * to the model's inputs by plan.ts; the readers and writers stream (readers.ts, writers.ts).
 */
import { availableParallelism } from 'node:os';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join, resolve as resolvePath } from 'node:path';
import onnxProto from 'onnx-proto';
import writeFileAtomic from 'write-file-atomic';
import { parseModelSpec, resolveSpec } from '../model-server/models.ts';
import { PayloadLogger } from '../model-server/payload-log.ts';
import { fromHalfBits, RequestError, type OipDatatype, type TensorSpec, type TypedData } from '../model-server/tensors.ts';
import type { BatchInput } from '../model-server/batcher.ts';
import { sha256File } from '../registry/local.ts';
import type { ModelRegistry } from '../registry/types.ts';
import {
  allocate,
  BatchPredictError,
  fillColumn,
  formatOfPath,
  labelIndex,
  outputValue,
  planFeatures,
  planOutputs,
  type FeaturePlan,
  type ModelMeta,
  type OutputColumn,
  type TableFormat,
} from './plan.ts';
import { openReader, type Chunk, type TableReader } from './readers.ts';
import { fastPathApplies, FastPathNulls, openFastParquet, parquetColumnTypes, type MatrixChunk } from './duckdb-reader.ts';
import { checkResumeState, chunkPartName, resumeStateDir, writeResumeState, type ResumeIdentity, type ResumeState } from './resume.ts';
import { kindOf, labelCodeArray, labelCodesApply, openWriter, type ColumnKind, type ColumnSpec, type OutChunk, type TableWriter } from './writers.ts';
import { digestInWorker, loadWorkerModel, type WorkerModel } from './worker-model.ts';

const { onnx } = onnxProto;

/** Rows per model run. @see PredictOptions.batchRows */
export const DEFAULT_BATCH_ROWS = 65536;

/** Batches read ahead of the one being written: one runs in the worker while the next is read. */
const IN_FLIGHT = 3;

/** Rows per resumable chunk. @see PredictOptions.chunkRows */
export const DEFAULT_CHUNK_ROWS = 1 << 20;

export interface PredictOptions {
  /** A model spec as `ghosteam serve` takes it: ./model.onnx, fraud@champion, fraud@3, models:/fraud/3. */
  readonly model: string;
  readonly input: string;
  readonly output: string;
  /** The input as the user named it (an s3://, https:// or postgres:// source whose local copy `input` is): the lineage records it and messages name it. @default input */
  readonly inputLabel?: string;
  /** The output as the user named it (an s3:// object written from the local `output`): the lineage records it. @default output */
  readonly outputLabel?: string;
  /** Needed for registry references. */
  readonly registry?: ModelRegistry;
  /** @default from the extension */
  readonly inputFormat?: TableFormat;
  /** @default from the extension */
  readonly outputFormat?: TableFormat;
  /** Columns of a single [N, k] model input, in order. @default the model's ghosteam.featureNames */
  readonly features?: readonly string[];
  /** Input columns copied to the output. @default every column that is not a feature */
  readonly keep?: readonly string[];
  /** Rows per model run (and per output row group / record batch). @default 65536 */
  readonly batchRows?: number;
  /** onnxruntime intra-op threads. @default os.availableParallelism() */
  readonly threads?: number;
  /** Replace an existing output file. @default false */
  readonly overwrite?: boolean;
  /** CSV delimiter for input and output. @default ',' (tab for .tsv) */
  readonly delimiter?: string;
  /** Also record each batch in this payload log (the model server's JSON Lines format) for the drift monitor. */
  readonly payloadLog?: string;
  /** Share of batches recorded in the payload log, 0–1. @default 1 */
  readonly payloadSample?: number;
  /**
   * Keep each finished chunk of `chunkRows` rows in a state folder beside the output
   * (`.<output name>.predict/`); a run stopped or killed midway, started again with `resume` and the
   * same model, input and options, continues at the first unfinished chunk. The output is the same
   * as an uninterrupted run's. @default false
   */
  readonly resume?: boolean;
  /**
   * Parquet into one float32 [N, k] input decoded by DuckDB (duckdb-reader.ts); false: the generic
   * streaming reader (hyparquet). @default true
   */
  readonly fastParquet?: boolean;
  /** Rows per resumable chunk (rounded up to a whole number of batches). @default 1,048,576 */
  readonly chunkRows?: number;
  /** Called with a line when a resumed run skips finished chunks. */
  readonly onResume?: (message: string) => void;
  /** Called after every batch. */
  readonly onProgress?: (p: PredictProgress) => void;
  /** Aborting stops after the batch in flight; nothing is written. */
  readonly signal?: AbortSignal;
}

export interface PredictProgress {
  readonly rows: number;
  /** 0–1 when the reader can tell (bytes read, rows of a Parquet file, record batches of an Arrow file). */
  readonly fraction: number;
  readonly seconds: number;
}

/** What the sidecar `<output>.lineage.json` holds (Parquet and Arrow outputs also carry it in their metadata). */
export interface PredictLineage {
  readonly kind: 'ghosteam.batch-prediction';
  readonly model: { readonly name: string; readonly version: string; readonly source: string; readonly digest: string };
  readonly input: { readonly path: string; readonly format: TableFormat; readonly digest: string; readonly rows: number };
  readonly output: { readonly path: string; readonly format: TableFormat; readonly digest: string; readonly columns: readonly ColumnSpec[] };
  readonly features: readonly { readonly input: string; readonly columns: readonly string[] }[];
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface PredictResult {
  readonly rows: number;
  /** Which reader decoded the input: DuckDB's (Parquet into one float32 [N, k] input) or the streaming readers. */
  readonly reader: 'duckdb' | 'streaming';
  readonly seconds: number;
  readonly rowsPerSec: number;
  readonly lineagePath: string;
  readonly lineage: PredictLineage;
}

/** A finished chunk's writer: flushed and renamed to its part name. */
async function finishPart(w: TableWriter): Promise<void> {
  await w.finish({});
  await w.commit();
}

/** Appends a finished chunk to the output: text bytes as they are, Parquet and Arrow read back a batch at a time. */
async function copyPart(
  path: string,
  format: TableFormat,
  specs: readonly ColumnSpec[],
  writer: TableWriter,
  batchRows: number,
  delimiter?: string,
): Promise<void> {
  if (writer.appendFile) return writer.appendFile(path);
  const r = await openReader(path, format, { batchRows, delimiter });
  try {
    for await (const c of r.chunks()) await writer.write({ rows: c.rows, values: specs.map((s) => c.columns.get(s.name)!) });
  } finally {
    await r.close();
  }
}

/** The sidecar next to an output. */
export function lineagePathFor(output: string): string {
  return `${output}.lineage.json`;
}

/** ghosteam's metadata_props (feature names, classes, task), when the model has them. */
export function modelMeta(bytes: Uint8Array): ModelMeta {
  let props: { key?: string | null; value?: string | null }[] = [];
  try {
    props = onnx.ModelProto.decode(bytes).metadataProps ?? [];
  } catch {
    return {};
  }
  const get = (k: string): unknown => {
    const v = props.find((p) => p.key === k)?.value;
    if (typeof v !== 'string') return undefined;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  };
  const strings = (x: unknown): string[] | undefined => (Array.isArray(x) && x.every((s) => typeof s === 'string') ? x : undefined);
  const task = get('ghosteam.task');
  return { featureNames: strings(get('ghosteam.featureNames')), classes: strings(get('ghosteam.classes')), task: typeof task === 'string' ? task : undefined };
}

function kindOfDatatype(dt: OipDatatype): ColumnKind {
  switch (dt) {
    case 'FP16':
    case 'BF16':
    case 'FP32':
      return 'float32';
    case 'FP64':
      return 'float64';
    case 'INT64':
    case 'UINT64':
    case 'UINT32':
      return 'int64';
    case 'BOOL':
      return 'bool';
    case 'BYTES':
      return 'string';
    default:
      return 'int32';
  }
}

/** The model's inputs for one chunk, filled from the bound columns. */
export function buildInputs(plan: FeaturePlan, chunk: Chunk): BatchInput[] {
  const matrix = (chunk as MatrixChunk).matrix;
  if (matrix) {
    const { input, columns } = plan.bindings[0];
    return [{ name: input.name, datatype: input.datatype, shape: [chunk.rows, columns.length], typed: matrix }];
  }
  return plan.bindings.map(({ input, columns }) => {
    const k = columns.length;
    const typed = allocate(input.datatype, chunk.rows * k);
    columns.forEach((col, j) => fillColumn(chunk.columns.get(col)!, chunk.rows, input.datatype, typed, j, k, col, input.name, (r) => chunk.where(r)));
    const shape = input.shape.length === 2 ? [chunk.rows, k] : [chunk.rows];
    return { name: input.name, datatype: input.datatype, shape, typed };
  });
}

/** Column values of the outputs for one chunk; `codes[i]`: column i's labels as their indexes (labelCodesApply). */
function outputValues(
  cols: readonly OutputColumn[],
  specs: readonly TensorSpec[],
  out: Record<string, { data: ArrayLike<unknown>; dims: readonly number[] }>,
  rows: number,
  codes: readonly boolean[] = [],
): ArrayLike<unknown>[] {
  return cols.map((c, i) => {
    const o = out[c.output];
    const width = o.dims.length === 2 ? o.dims[1] : 1;
    if (c.kind === 'label' && codes[i]) {
      // The index of the class outputValue picks.
      const v = labelCodeArray(c.classes!.length, rows);
      for (let r = 0; r < rows; r++) v[r] = labelIndex(o.data, width, r);
      return v;
    }
    const half = specs.find((s) => s.name === c.output)?.datatype === 'FP16';
    if (c.kind === 'value' && width === 1 && !half) return o.data;
    if (c.kind === 'value' && (o.data instanceof Float32Array || o.data instanceof Float64Array)) {
      const src = o.data;
      const dst = src instanceof Float32Array ? new Float32Array(rows) : new Float64Array(rows);
      for (let r = 0; r < rows; r++) dst[r] = src[r * width + c.col];
      return dst;
    }
    const v = new Array<unknown>(rows);
    for (let r = 0; r < rows; r++) {
      const x = outputValue(c, o.data, width, r);
      v[r] = half && c.kind === 'value' ? fromHalfBits(x as number) : x;
    }
    return v;
  });
}

/** The DuckDB reader when the plan is one float32 [N, k] input from numeric columns, else undefined. */
async function openFast(path: string, plan: FeaturePlan, batchRows: number, threads: number): Promise<TableReader | undefined> {
  const [b, ...more] = plan.bindings;
  if (more.length || b.input.datatype !== 'FP32' || b.input.shape.length !== 2) return undefined;
  const types = await parquetColumnTypes(path);
  const fplan = { features: b.columns, keep: plan.keep };
  if (!types || !fastPathApplies(types, fplan)) return undefined;
  try {
    return await openFastParquet(path, types, fplan, batchRows, threads);
  } catch (e) {
    if (e instanceof FastPathNulls) return undefined;
    throw e;
  }
}

/** Iterates `it` one item ahead: the next chunk is decoded (DuckDB's threads) while this one runs. */
export async function* readAhead<T>(it: AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    let next = it.next();
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = it.next();
      next.catch(() => {});
      yield r.value;
    }
  } finally {
    await it.return(undefined);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function asBatchError(e: unknown): Error {
  if (e instanceof RequestError) return new BatchPredictError(e.message, { cause: e });
  return e as Error;
}

export async function predictFile(opts: PredictOptions): Promise<PredictResult> {
  const label = opts.inputLabel;
  if (label === undefined || label === opts.input) return predictLocal(opts);
  try {
    return await predictLocal(opts);
  } catch (e) {
    // A message about the local copy of a remote input names the input as the user gave it (rows and columns are the same).
    if (e instanceof BatchPredictError) e.message = e.message.split(opts.input).join(label);
    throw e;
  }
}

async function predictLocal(opts: PredictOptions): Promise<PredictResult> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const inFormat = opts.inputFormat ?? formatOfPath(opts.input);
  const outFormat = opts.outputFormat ?? formatOfPath(opts.output);
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new BatchPredictError(`batch size must be a positive integer; got ${batchRows}`);
  if (resolvePath(opts.input) === resolvePath(opts.output))
    throw new BatchPredictError(`the output ${opts.output} is the input file; write the predictions to another file`);
  if (!opts.overwrite && (await exists(opts.output)))
    throw new BatchPredictError(`${opts.output} already exists; pass --overwrite to replace it (it is replaced only once the new file is complete)`);
  if (opts.payloadSample !== undefined && !(opts.payloadSample >= 0 && opts.payloadSample <= 1))
    throw new BatchPredictError(`payload sample must be between 0 and 1; got ${opts.payloadSample}`);

  // The model, loaded as the model server loads it.
  let resolved;
  let model: WorkerModel;
  try {
    resolved = await resolveSpec(parseModelSpec(opts.model), opts.registry);
    // In a worker thread: onnxruntime's run is synchronous, and the reader and writer keep going here.
    model = await loadWorkerModel(resolved.path, opts.threads ?? availableParallelism());
  } catch (e) {
    throw asBatchError(e);
  }
  try {
    const modelBytes = await readFile(resolved.path);
    const meta = modelMeta(modelBytes);
    const modelDigest = await sha256File(resolved.path);

    // A resumable run: finished chunks in the state folder, checked against what they were computed from.
    const resume = opts.resume === true;
    if (opts.chunkRows !== undefined && !(Number.isInteger(opts.chunkRows) && opts.chunkRows >= 1))
      throw new BatchPredictError(`chunk size must be a positive integer; got ${opts.chunkRows}`);
    const chunkRows = resume ? Math.ceil((opts.chunkRows ?? DEFAULT_CHUNK_ROWS) / batchRows) * batchRows : Infinity;
    const stateDir = resumeStateDir(opts.output);
    let state: ResumeState | undefined;
    let done = new Set<number>();
    if (resume) {
      const st = await stat(opts.input).catch(() => undefined);
      const identity: ResumeIdentity = {
        modelDigest,
        input: { path: resolvePath(opts.input), size: st?.size ?? -1, mtimeMs: st?.mtimeMs ?? -1 },
        format: outFormat,
        batchRows,
        chunkRows,
        features: opts.features ?? null,
        keep: opts.keep ?? null,
        delimiter: opts.delimiter ?? null,
      };
      ({ state, done } = await checkResumeState(stateDir, identity));
      if (!state) {
        await mkdir(stateDir, { recursive: true });
        state = { kind: 'ghosteam.predict-state', ...identity };
        await writeResumeState(stateDir, state);
      }
      if (done.size)
        opts.onResume?.(
          `resuming: ${done.size} finished chunk${done.size === 1 ? '' : 's'} of ${chunkRows.toLocaleString('en-US')} rows in ${stateDir} reused`,
        );
    }

    const stopped = () =>
      new BatchPredictError(
        resume
          ? `stopped; the output was not written; finished chunks are kept in ${stateDir}: run again with --resume to continue`
          : 'stopped; nothing was written',
      );

    const reader = await openReader(opts.input, inFormat, { batchRows, delimiter: opts.delimiter });
    // Off the critical path: a worker thread reads the input a second time (the page cache's copy) while the batches run.
    const inputDigest = digestInWorker(opts.input);
    inputDigest.catch(() => {});
    let writer: TableWriter | undefined;
    let part: { index: number; writer: TableWriter } | undefined;
    let logger: PayloadLogger | undefined;
    let fast: TableReader | undefined;
    let committed = false;
    const metadata = new Map([
      ['ghosteam.model', JSON.stringify({ name: resolved.name, version: resolved.version, source: resolved.source, digest: modelDigest })],
    ]);
    try {
      const plan = planFeatures(model.inputs, meta, reader.columns, { features: opts.features, keep: opts.keep }, opts.input);
      // Parquet into one float32 [N, k] input: DuckDB decodes on its own threads into the matrix (duckdb-reader.ts).
      if (inFormat === 'parquet' && opts.fastParquet !== false) fast = await openFast(opts.input, plan, batchRows, opts.threads ?? availableParallelism());
      const source = fast ?? reader;
      const recycle = source.recycle?.bind(source);
      if (opts.payloadLog)
        logger = new PayloadLogger({ file: opts.payloadLog, sampleRate: opts.payloadSample ?? 1, bufferSize: 1 << 20, flushIntervalMs: 1000 });
      const runId = randomUUID();
      let outCols: OutputColumn[] | undefined;
      let codes: boolean[] = [];
      let specs: readonly ColumnSpec[] = state?.columns ?? [];
      let rows = 0;
      let batch = 0;
      /** Where the rows of one batch go: the output, or (resumable) the part of their chunk. */
      const sink = async (out: OutChunk): Promise<void> => {
        if (!resume) {
          writer ??= await openWriter(opts.output, outFormat, specs, { delimiter: opts.delimiter, metadata });
          return writer.write(out);
        }
        const index = Math.floor(rows / chunkRows);
        if (part?.index !== index) {
          if (part) await finishPart(part.writer);
          if (!state!.columns) {
            state = { ...state!, columns: specs };
            await writeResumeState(stateDir, state);
          }
          part = { index, writer: await openWriter(join(stateDir, chunkPartName(index, outFormat)), outFormat, specs, { delimiter: opts.delimiter }) };
        }
        return part.writer.write(out);
      };
      /** A batch whose model run is in flight in the worker. */
      interface Flight {
        readonly chunk: Chunk;
        readonly feeds: BatchInput[];
        readonly out: Promise<Record<string, { data: ArrayLike<unknown>; dims: readonly number[] }>>;
      }
      /** Writes a finished batch: outputs appended to the kept columns, in the input's order. */
      const land = async ({ chunk, feeds, out: pending }: Flight): Promise<void> => {
        const out = await pending;
        if (!outCols) {
          outCols = planOutputs(model.outputs, Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.dims])), meta, plan.keep);
          const fresh: ColumnSpec[] = [
            ...plan.keep.map((name) => ({ name, kind: kindOf(chunk.columns.get(name)!) })),
            ...outCols.map((c): ColumnSpec => {
              if (c.kind === 'label')
                return typeof c.classes![0] === 'number' ? { name: c.name, kind: 'float64' } : { name: c.name, kind: 'string', labels: c.classes!.map(String) };
              return { name: c.name, kind: kindOfDatatype(model.outputs.find((o) => o.name === c.output)!.datatype) };
            }),
          ];
          // A resumed run keeps the kinds the finished chunks were written with.
          if (specs.length === 0) specs = fresh;
          codes = outCols.map((_, i) => labelCodesApply(outFormat, specs[plan.keep.length + i]));
        }
        for (const o of Object.values(out))
          if (o.dims[0] !== chunk.rows)
            throw new BatchPredictError(
              `the model answered ${o.dims[0]} rows for a batch of ${chunk.rows}; batch prediction needs one output row per input row`,
            );
        const kept = plan.keep.map((k) => chunk.columns.get(k)!);
        const values = [...kept, ...outputValues(outCols, model.outputs, out, chunk.rows, codes)];
        await sink({ rows: chunk.rows, values });
        // The Parquet writer has copied the kept columns into DuckDB's vectors: their buffers can fill later chunks.
        if (recycle && outFormat === 'parquet') for (const v of kept) if (ArrayBuffer.isView(v)) recycle(v.buffer);
        if (logger?.sample()) {
          const tensors = (ts: { name: string; datatype: OipDatatype; shape: readonly number[]; data: ArrayLike<unknown> | TypedData }[]) =>
            Object.fromEntries(ts.map((t) => [t.name, { shape: [...t.shape], datatype: t.datatype, data: t.data }]));
          logger.push({
            ts: new Date().toISOString(),
            model: resolved.name,
            version: resolved.version,
            id: `batch:${runId}:${batch}`,
            inputs: tensors(feeds.map((f) => ({ ...f, data: f.typed }))),
            outputs: tensors(
              model.outputs.filter((o) => out[o.name]).map((o) => ({ name: o.name, datatype: o.datatype, shape: out[o.name].dims, data: out[o.name].data })),
            ),
          });
          await logger.flush();
        }
        rows += chunk.rows;
        batch++;
        opts.onProgress?.({ rows, fraction: source.progress(), seconds: (Date.now() - started) / 1000 });
      };
      // Batches in flight: while the worker runs one, the next is read and the previous written.
      const inflight: Flight[] = [];
      let readRows = 0;
      try {
        for await (const chunk of readAhead(source.chunks())) {
          if (opts.signal?.aborted) throw stopped();
          if (resume && done.has(Math.floor(readRows / chunkRows))) {
            while (inflight.length) await land(inflight.shift()!);
            readRows += chunk.rows;
            rows += chunk.rows;
            batch++;
            opts.onProgress?.({ rows, fraction: source.progress(), seconds: (Date.now() - started) / 1000 });
            continue;
          }
          readRows += chunk.rows;
          const feeds = buildInputs(plan, chunk);
          // The payload log records the inputs after the run: those are sent as a copy, the others moved.
          const out = model.run(feeds, { transfer: !logger, recycle });
          out.catch(() => {}); // awaited in land(), in order
          inflight.push({ chunk, feeds, out });
          if (inflight.length >= IN_FLIGHT) await land(inflight.shift()!);
        }
        while (inflight.length) await land(inflight.shift()!);
      } finally {
        // A failed batch leaves the later ones running in the worker; release() below stops it.
        inflight.length = 0;
      }
      if (rows === 0) throw new BatchPredictError(`${opts.input} has no data rows; nothing to predict (no output written)`);
      if (opts.signal?.aborted) throw stopped();
      if (resume) {
        if (part) await finishPart(part.writer);
        part = undefined;
        // The output from the parts, in order, written as any run's output is.
        writer = await openWriter(opts.output, outFormat, specs, { delimiter: opts.delimiter, metadata });
        for (let i = 0; i * chunkRows < rows; i++) {
          if (opts.signal?.aborted) throw stopped();
          await copyPart(join(stateDir, chunkPartName(i, outFormat)), outFormat, specs, writer, batchRows, opts.delimiter);
        }
      }
      if (!writer) throw new BatchPredictError(`${opts.input} has no data rows; nothing to predict (no output written)`);
      if (opts.signal?.aborted) throw stopped();
      const finishedAt = new Date().toISOString();
      const lineage0 = {
        kind: 'ghosteam.batch-prediction' as const,
        model: { name: resolved.name, version: resolved.version, source: resolved.source, digest: modelDigest },
        input: { path: opts.inputLabel ?? resolvePath(opts.input), format: inFormat, digest: await inputDigest, rows },
        features: plan.bindings.map((b) => ({ input: b.input.name, columns: b.columns })),
        startedAt,
        finishedAt,
      };
      await writer.finish({ 'ghosteam.lineage': JSON.stringify(lineage0) });
      const lineage: PredictLineage = {
        ...lineage0,
        output: { path: opts.outputLabel ?? resolvePath(opts.output), format: outFormat, digest: await sha256File(writer.tempPath), columns: specs },
      };
      if (logger) await logger.close();
      // The sidecar first, then the output: a crash between them leaves a sidecar whose output
      // digest names the file that was about to be renamed, never an output with a stale sidecar.
      const lineagePath = lineagePathFor(opts.output);
      await writeFileAtomic(lineagePath, JSON.stringify(lineage, null, 2) + '\n');
      await writer.commit();
      committed = true;
      if (resume) await rm(stateDir, { recursive: true, force: true });
      const seconds = (Date.now() - started) / 1000;
      return { rows, reader: fast ? 'duckdb' : 'streaming', seconds, rowsPerSec: rows / Math.max(seconds, 1e-9), lineagePath, lineage };
    } catch (e) {
      throw asBatchError(e);
    } finally {
      if (!committed) await writer?.abort();
      if (part) await part.writer.abort();
      if (logger && !committed) await logger.close().catch(() => {});
      await reader.close();
      await fast?.close();
    }
  } finally {
    // Every way out stops the worker thread (a live one keeps the process running).
    await model.release().catch(() => {});
  }
}
