/**
 * Pure parts of batch prediction: which columns of the input feed which model input, which are
 * kept as they are (ids), what the appended output columns are called (and the class label a
 * classifier's probabilities mean), and the conversion of one column's values into the model
 * input's element type, with errors that name the row and the column. No I/O here.
 */
import type { ClassLabels } from '../model-server/graph.ts';
import type { OipDatatype, TensorSpec, TypedData } from '../model-server/tensors.ts';

export class BatchPredictError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BatchPredictError';
  }
}

/** One model input and the input file's columns that fill it, in order (a [N, k] input takes k columns). */
export interface InputBinding {
  readonly input: TensorSpec;
  readonly columns: readonly string[];
}

export interface FeaturePlan {
  readonly bindings: readonly InputBinding[];
  /** Columns copied to the output unchanged (the ids and anything else that is not a feature). */
  readonly keep: readonly string[];
}

/** What ghosteam's own ONNX writer records in the model's metadata_props (components/onnx). */
export interface ModelMeta {
  readonly featureNames?: readonly string[];
  readonly classes?: readonly string[];
  readonly task?: string;
}

export interface FeatureOptions {
  /** Columns for a single [N, k] input, in order (overrides the model's `ghosteam.featureNames`). */
  readonly features?: readonly string[];
  /** Columns to copy to the output. @default every column that is not a feature */
  readonly keep?: readonly string[];
}

const list = (xs: readonly string[]): string => xs.map((x) => `'${x}'`).join(', ');

/**
 * Binds the model's inputs to the file's columns. A [N] or [N, 1] input takes the column of its
 * name (skl2onnx's per-column inputs); a single [N, k] input takes `features`, else the model's
 * recorded feature names. `file` names the input in errors.
 */
export function planFeatures(inputs: readonly TensorSpec[], meta: ModelMeta, fileColumns: readonly string[], opts: FeatureOptions, file: string): FeaturePlan {
  const have = new Set(fileColumns);
  const missing = (col: string, what: string): BatchPredictError =>
    new BatchPredictError(`${file} has no column '${col}' (${what}); its columns are ${list(fileColumns)}`);
  const bindings: InputBinding[] = [];
  for (const input of inputs) {
    if (input.shape.length === 0 || input.shape.length > 2)
      throw new BatchPredictError(
        `model input '${input.name}' has shape [${input.shape.join(', ')}]; batch prediction feeds tabular inputs shaped [N] or [N, k] (one row per record)`,
      );
    const width = input.shape.length === 2 ? input.shape[1] : 1;
    const named = opts.features ?? (inputs.length === 1 && width !== 1 ? meta.featureNames : undefined);
    let columns: readonly string[];
    if (width === 1 && !(inputs.length === 1 && named?.length === 1)) {
      columns = [input.name];
      if (!have.has(input.name)) throw missing(input.name, `the model's input '${input.name}' [${input.shape.join(', ')}] reads the column of its name`);
    } else {
      if (inputs.length > 1)
        throw new BatchPredictError(
          `model input '${input.name}' is [${input.shape.join(', ')}] beside other inputs (${list(inputs.map((i) => i.name))}); batch prediction maps a [N, k] input only when it is the model's one input`,
        );
      if (!named)
        throw new BatchPredictError(
          `model input '${input.name}' [${input.shape.join(', ')}] takes ${width === -1 ? 'several' : width} columns but the model doesn't name them (no ghosteam.featureNames metadata); pass --features with the columns in the order the model was trained on (the file's columns: ${list(fileColumns)})`,
        );
      if (width !== -1 && named.length !== width)
        throw new BatchPredictError(
          `model input '${input.name}' takes ${width} columns but ${opts.features ? '--features names' : "the model's ghosteam.featureNames names"} ${named.length} (${list(named)})`,
        );
      const dup = named.find((c, i) => named.indexOf(c) !== i);
      if (dup !== undefined) throw new BatchPredictError(`feature column '${dup}' is named twice; name each column once`);
      for (const c of named) if (!have.has(c)) throw missing(c, `feature ${named.indexOf(c) + 1} of ${named.length} of model input '${input.name}'`);
      columns = named;
    }
    bindings.push({ input, columns });
  }
  const features = new Set(bindings.flatMap((b) => b.columns));
  let keep: readonly string[];
  if (opts.keep) {
    for (const c of opts.keep) if (!have.has(c)) throw missing(c, 'named by --keep');
    keep = opts.keep;
  } else keep = fileColumns.filter((c) => !features.has(c));
  return { bindings, keep };
}

/** One appended column: column `col` of model output `output` (or a class label derived from it). */
export interface OutputColumn {
  readonly name: string;
  readonly output: string;
  /** Column of the output's row ([N, C] outputs), 0 for [N] and [N, 1]. */
  readonly col: number;
  /** 'label': the class whose probability is highest (classifiers whose model has no label output). */
  readonly kind: 'value' | 'label';
  /** For kind 'label': the classes, in the output's column order (binary [N, 1]: [negative, positive]). */
  readonly classes?: ClassLabels;
}

/**
 * Names the appended columns from the outputs' actual dims (first batch): [N] and [N, 1] →
 * the output's name; [N, C] → `<output>_<label>` with the ZipMap labels or the model's classes,
 * else `<output>_<j>`. A ghosteam classifier (task binary/multiclass with classes) also gets a
 * `label` column. Names already in `taken` (kept input columns) are refused: the fix is --keep.
 */
export function planOutputs(
  outputs: readonly TensorSpec[],
  dims: Readonly<Record<string, readonly number[]>>,
  meta: ModelMeta,
  taken: readonly string[],
): OutputColumn[] {
  const cols: OutputColumn[] = [];
  for (const o of outputs) {
    const d = dims[o.name];
    if (!d) continue;
    if (d.length > 2)
      throw new BatchPredictError(
        `model output '${o.name}' has ${d.length} dimensions [${d.join(', ')}]; batch prediction writes outputs of shape [N] or [N, C] as columns`,
      );
    const width = d.length === 2 ? d[1] : 1;
    if (d.length < 2 || width === 1) cols.push({ name: o.name, output: o.name, col: 0, kind: 'value' });
    else {
      const labels = o.parameters?.labels ?? (meta.classes?.length === width ? meta.classes : undefined);
      for (let j = 0; j < width; j++) cols.push({ name: `${o.name}_${labels ? String(labels[j]) : j}`, output: o.name, col: j, kind: 'value' });
    }
  }
  const classifier = (meta.task === 'binary' || meta.task === 'multiclass') && meta.classes && meta.classes.length >= 2;
  if (classifier && !outputs.some((o) => o.name === 'label') && outputs.length === 1) {
    const o = outputs[0];
    const d = dims[o.name] ?? [];
    const width = d.length === 2 ? d[1] : 1;
    if ((width === 1 && meta.classes.length === 2) || width === meta.classes.length)
      cols.push({ name: 'label', output: o.name, col: 0, kind: 'label', classes: meta.classes });
  }
  const seen = new Set<string>();
  for (const c of cols) {
    if (taken.includes(c.name))
      throw new BatchPredictError(
        `output column '${c.name}' would overwrite the input's column of that name; leave it out of the kept columns with --keep (e.g. --keep ${taken.filter((t) => t !== c.name).join(',') || 'id'})`,
      );
    if (seen.has(c.name)) throw new BatchPredictError(`two output columns would be named '${c.name}'; rename the model's outputs`);
    seen.add(c.name);
  }
  return cols;
}

/** The value of output column `c` at row `r`, given the output's data and row width. */
export function outputValue(c: OutputColumn, data: ArrayLike<unknown>, width: number, r: number): unknown {
  if (c.kind === 'value') return data[r * width + c.col];
  return c.classes![labelIndex(data, width, r)];
}

/** The class a label column picks at row `r`: ≥ 0.5 for one probability column, else the first highest. */
export function labelIndex(data: ArrayLike<unknown>, width: number, r: number): number {
  if (width === 1) return Number(data[r]) >= 0.5 ? 1 : 0;
  let best = 0;
  for (let j = 1; j < width; j++) if (Number(data[r * width + j]) > Number(data[r * width + best])) best = j;
  return best;
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|Infinity|nan|NaN)$/;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}…` : v);
  return String(v);
}

/**
 * Writes column `values` (rows of one chunk) into `out` at `offset + r * stride`, as the model
 * input's element type wants. Null (and NaN) is a missing value, fed as NaN to float inputs (as
 * XGBoost, LightGBM and sklearn imputers read it); integer, bool and string inputs refuse it.
 * `where(r)` names row r in errors (file:line or row number).
 */
export function fillColumn(
  values: ArrayLike<unknown>,
  rows: number,
  datatype: OipDatatype,
  out: TypedData,
  offset: number,
  stride: number,
  column: string,
  input: string,
  where: (r: number) => string,
): void {
  const bad = (r: number, want: string): BatchPredictError =>
    new BatchPredictError(
      `${where(r)}, column '${column}': ${values[r] === null || values[r] === undefined ? 'missing value' : describe(values[r])} is not ${want} (model input '${input}' is ${datatype})`,
    );
  switch (datatype) {
    case 'FP32':
    case 'FP64': {
      const o = out as Float32Array | Float64Array;
      if (values instanceof Float64Array || values instanceof Float32Array || values instanceof Int32Array) {
        for (let r = 0; r < rows; r++) o[offset + r * stride] = values[r];
        return;
      }
      for (let r = 0; r < rows; r++) {
        const v = values[r];
        let x: number;
        if (typeof v === 'number') x = v;
        else if (v === null || v === undefined) x = NaN;
        else if (typeof v === 'string' && NUMBER.test(v.trim()))
          x = /nan/i.test(v) ? NaN : /inf/i.test(v) ? (v.trim().startsWith('-') ? -Infinity : Infinity) : Number(v);
        else if (typeof v === 'boolean') x = v ? 1 : 0;
        else if (typeof v === 'bigint') x = Number(v);
        else throw bad(r, 'a number');
        o[offset + r * stride] = x;
      }
      return;
    }
    case 'INT64':
    case 'INT32':
    case 'INT16':
    case 'INT8':
    case 'UINT8':
    case 'UINT16':
    case 'UINT32':
    case 'UINT64': {
      const big = datatype === 'INT64' || datatype === 'UINT64';
      for (let r = 0; r < rows; r++) {
        const v = values[r];
        const x = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && /^[-+]?\d+$/.test(v.trim()) ? Number(v) : NaN;
        if (!Number.isInteger(x) || (datatype.startsWith('U') && x < 0)) throw bad(r, 'an integer');
        if (big) (out as BigInt64Array)[offset + r * stride] = BigInt(x);
        else (out as Int32Array)[offset + r * stride] = x;
      }
      return;
    }
    case 'BOOL': {
      const o = out as Uint8Array;
      for (let r = 0; r < rows; r++) {
        const v = values[r];
        const x =
          v === true || v === 1 || v === 'true' || v === 'True' || v === '1'
            ? 1
            : v === false || v === 0 || v === 'false' || v === 'False' || v === '0'
              ? 0
              : -1;
        if (x < 0) throw bad(r, 'true or false');
        o[offset + r * stride] = x;
      }
      return;
    }
    case 'BYTES': {
      const o = out as string[];
      for (let r = 0; r < rows; r++) {
        const v = values[r];
        if (v === null || v === undefined) throw bad(r, 'a string');
        const s = String(v);
        if (s.includes('\0')) throw bad(r, 'a string without NUL characters');
        o[offset + r * stride] = s;
      }
      return;
    }
    default:
      throw new BatchPredictError(`model input '${input}' is ${datatype}; batch prediction feeds FP32, FP64, integer, BOOL and BYTES inputs`);
  }
}

/** A typed array for `n` elements of `datatype`. */
export function allocate(datatype: OipDatatype, n: number): TypedData {
  switch (datatype) {
    case 'FP32':
      return new Float32Array(n);
    case 'FP64':
      return new Float64Array(n);
    case 'INT64':
      return new BigInt64Array(n);
    case 'UINT64':
      return new BigUint64Array(n);
    case 'INT32':
      return new Int32Array(n);
    case 'INT16':
      return new Int16Array(n);
    case 'INT8':
      return new Int8Array(n);
    case 'UINT8':
    case 'BOOL':
      return new Uint8Array(n);
    case 'UINT16':
      return new Uint16Array(n);
    case 'UINT32':
      return new Uint32Array(n);
    case 'BYTES':
      return new Array<string>(n);
    default:
      throw new BatchPredictError(`model input datatype ${datatype} is not supported by batch prediction; use FP32, FP64, integer, BOOL or BYTES`);
  }
}

/** Output file format from the extension (or an explicit --format). */
export type TableFormat = 'csv' | 'jsonl' | 'parquet' | 'arrow';

export function formatOfPath(path: string, declared?: string): TableFormat {
  if (declared) {
    if (!['csv', 'jsonl', 'parquet', 'arrow'].includes(declared)) throw new BatchPredictError(`format '${declared}' is not one of csv, jsonl, parquet, arrow`);
    return declared as TableFormat;
  }
  const m = /\.([A-Za-z0-9]+)$/.exec(path);
  const ext = (m?.[1] ?? '').toLowerCase();
  if (ext === 'csv' || ext === 'tsv') return 'csv';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'parquet' || ext === 'pq') return 'parquet';
  if (ext === 'arrow' || ext === 'feather' || ext === 'ipc') return 'arrow';
  throw new BatchPredictError(`${path}: can't tell the format from the extension '${ext ? `.${ext}` : ''}'; use .csv, .jsonl, .parquet or .arrow (Feather v2)`);
}
