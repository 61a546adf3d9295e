/**
 * KServe V1 (TensorFlow Serving REST) predict bodies → the model's input tensors, and outputs →
 * `predictions`. Pure; no I/O. The three request forms KServe's V1 protocol takes
 * (https://kserve.github.io/website/docs/concepts/architecture/data-plane/v1-protocol, after
 * https://www.tensorflow.org/tfx/serving/api_rest#request_format_2):
 *
 * - rows of a single-input model: `{"instances": [[0.1, 0.2], [0.3, 0.4]]}`;
 * - rows keyed by input name (any model): `{"instances": [{"features": [0.1, 0.2], "offset": [3]}, ...]}`;
 * - columns keyed by input name: `{"inputs": {"features": [[0.1, 0.2], ...], "offset": [[3], ...]}}`,
 *   or `{"inputs": [[...], ...]}` for a single-input model.
 *
 * Each instance is one row: the input's shape minus its batch dimension. Errors name the instance
 * and the input: `instances[2].offset: element 0 is "x"; expected an integer ...`. The answer is
 * `{"predictions": [...]}`, one entry per row: the value of the single output, or an object keyed by
 * output name.
 */
import { decodeInput, jsonArrayText, RequestError, toPlain, type DecodedTensor, type TensorSpec } from './tensors.ts';

const bad = (m: string): RequestError => new RequestError(400, m);

export interface V1Inputs {
  /** In the model's input order. */
  readonly inputs: DecodedTensor[];
  readonly rows: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Shape of nested arrays (of the first element at each level); [] for a scalar. */
function nestedShape(v: unknown): number[] {
  const dims: number[] = [];
  let cur = v;
  while (Array.isArray(cur)) {
    dims.push(cur.length);
    cur = cur[0];
  }
  return dims;
}

const list = (specs: readonly TensorSpec[]) => specs.map((s) => `'${s.name}'`).join(', ');
const dims = (d: readonly number[]) => `[${d.join(', ')}]`;

/**
 * Decodes one batched tensor with decodeInput and restates its errors in V1 terms: `base(row)`
 * names a row (`instances[3]`, `instances[3].offset`, `inputs.offset[3]`), `perRow` is the number
 * of values in a row, so element errors point at the row and the element in it.
 */
function decodeBatched(spec: TensorSpec, shape: number[], data: unknown[], base: (row?: number) => string): DecodedTensor {
  try {
    return decodeInput({ name: spec.name, datatype: spec.datatype, shape, data }, spec, 0);
  } catch (e) {
    if (!(e instanceof RequestError)) throw e;
    const rest = e.message.replace(/^inputs\[0\] \('[^']*'\): /, '');
    const el = /^data\[(\d+)\] is (.*)$/s.exec(rest);
    const perRow = shape.slice(1).reduce((a, b) => a * b, 1);
    if (el && perRow > 0) {
      const i = Number(el[1]);
      throw new RequestError(e.status, `${base(Math.floor(i / perRow))}: element ${i % perRow} is ${el[2]}`);
    }
    if (/^data has \d+ elements/.test(rest)) throw new RequestError(e.status, `${base()}: the rows are ragged: ${rest}`);
    throw new RequestError(e.status, `${base()}: ${rest}`);
  }
}

/**
 * A scalar sent for an input that takes one value per instance ([N, 1]): pandas' to_dict('records')
 * and KServe's sklearn/XGBoost clients send `{"age": 0.03}`, not `{"age": [0.03]}`.
 */
function scalarFitsRow(got: readonly number[], spec: TensorSpec): boolean {
  return got.length === 0 && spec.shape.length === 2 && (spec.shape[1] === 1 || spec.shape[1] === -1);
}

/** A row's shape against the input's shape without its batch dimension. */
function checkRowShape(where: string, got: readonly number[], spec: TensorSpec): void {
  if (scalarFitsRow(got, spec)) return;
  if (spec.shape.length === 0)
    throw bad(`${where}: input '${spec.name}' is a scalar with no batch dimension; V1 rows can't feed it, use POST /v2/models/{name}/infer`);
  const want = spec.shape.slice(1);
  if (got.length !== want.length || got.some((d, i) => want[i] !== -1 && want[i] !== d)) {
    throw bad(
      `${where}: shape is ${dims(got)}; input '${spec.name}' takes ${dims(want)} per instance (the model's input is ${dims(spec.shape)}, -1 = any size)`,
    );
  }
}

function decodeRows(instances: unknown[], spec: TensorSpec): V1Inputs {
  const shape0 = nestedShape(instances[0]);
  checkRowShape('instances[0]', shape0, spec);
  for (let r = 1; r < instances.length; r++) {
    if (isObject(instances[r])) throw bad(`instances[${r}] is an object but instances[0] is not; send every instance in one form`);
    const sh = nestedShape(instances[r]);
    if (sh.length !== shape0.length || sh.some((d, i) => d !== shape0[i]))
      throw bad(`instances[${r}]: shape is ${dims(sh)}; instances[0] is ${dims(shape0)}; every instance must have the same shape`);
  }
  const input = decodeBatched(spec, [instances.length, ...shape0], instances, (row) => (row === undefined ? 'instances' : `instances[${row}]`));
  return { inputs: [input], rows: instances.length };
}

function decodeNamedRows(instances: unknown[], specs: readonly TensorSpec[]): V1Inputs {
  const n = instances.length;
  const columns = specs.map(() => new Array<unknown>(n));
  const shapes: number[][] = specs.map(() => []);
  for (let r = 0; r < n; r++) {
    const inst = instances[r];
    if (!isObject(inst))
      throw bad(
        `instances[${r}] is ${Array.isArray(inst) ? 'an array' : JSON.stringify(inst)}; instances[0] is an object, so every instance must be an object keyed by input name (${list(specs)})`,
      );
    for (const k of Object.keys(inst)) {
      if (!specs.some((s) => s.name === k)) throw bad(`instances[${r}]: the model has no input named '${k}'; its inputs are ${list(specs)}`);
    }
    for (let j = 0; j < specs.length; j++) {
      const spec = specs[j];
      if (!Object.hasOwn(inst, spec.name)) throw bad(`instances[${r}]: missing input '${spec.name}'; every instance needs ${list(specs)}`);
      const v = inst[spec.name];
      const sh = nestedShape(v);
      if (r === 0) {
        checkRowShape(`instances[0].${spec.name}`, sh, spec);
        shapes[j] = sh;
      } else if (sh.length !== shapes[j].length || sh.some((d, i) => d !== shapes[j][i])) {
        throw bad(
          `instances[${r}].${spec.name}: shape is ${dims(sh)}; instances[0].${spec.name} is ${dims(shapes[j])}; every instance must have the same shape`,
        );
      }
      columns[j][r] = v;
    }
  }
  const inputs = specs.map((spec, j) =>
    decodeBatched(spec, [n, ...(scalarFitsRow(shapes[j], spec) ? [1] : shapes[j])], columns[j], (row) =>
      row === undefined ? `instances[*].${spec.name}` : `instances[${row}].${spec.name}`,
    ),
  );
  return { inputs, rows: n };
}

/**
 * Rows of named scalars for a single-input model `[N, F]` (pandas' `to_dict('records')`, as KServe's
 * sklearn and XGBoost servers take them): the values become the row's F columns in the order the
 * first instance names them, and every instance must name the same columns in the same order (as a
 * DataFrame's records do). An ONNX model does not keep its feature names, so the order sent is
 * the order used.
 */
function decodeFeatureRows(instances: unknown[], spec: TensorSpec): V1Inputs {
  const keys = Object.keys(instances[0] as Record<string, unknown>);
  const width = spec.shape.length === 2 ? spec.shape[1] : undefined;
  if (width === undefined)
    throw bad(
      `instances[0] is an object keyed ${keys
        .slice(0, 5)
        .map((k) => `'${k}'`)
        .join(', ')}; the model's one input '${spec.name}' is ${dims(spec.shape)}, so send {"instances": [{"${spec.name}": ...}]} or rows of values`,
    );
  if (width !== -1 && keys.length !== width)
    throw bad(
      `instances[0] has ${keys.length} columns (${keys
        .slice(0, 5)
        .map((k) => `'${k}'`)
        .join(', ')}${keys.length > 5 ? ', …' : ''}); input '${spec.name}' takes ${width} values per instance, one per feature in training order`,
    );
  const flat: unknown[] = new Array(instances.length * keys.length);
  for (let r = 0; r < instances.length; r++) {
    const inst = instances[r];
    if (!isObject(inst))
      throw bad(
        `instances[${r}] is ${Array.isArray(inst) ? 'an array' : JSON.stringify(inst)}; instances[0] is an object, so every instance must be an object of the same columns`,
      );
    const k = Object.keys(inst);
    if (k.length !== keys.length || k.some((x, i) => x !== keys[i]))
      throw bad(
        `instances[${r}]: columns are ${k.map((x) => `'${x}'`).join(', ')}; instances[0] has ${keys.map((x) => `'${x}'`).join(', ')}; every instance must name the same columns in the same order (they become the input's columns in that order)`,
      );
    for (let c = 0; c < keys.length; c++) {
      const v = inst[keys[c]];
      if (Array.isArray(v) || isObject(v))
        throw bad(`instances[${r}].${keys[c]}: is ${Array.isArray(v) ? 'an array' : 'an object'}; each column of a row takes one value`);
      flat[r * keys.length + c] = v;
    }
  }
  try {
    return {
      inputs: [decodeInput({ name: spec.name, datatype: spec.datatype, shape: [instances.length, keys.length], data: flat }, spec, 0)],
      rows: instances.length,
    };
  } catch (e) {
    if (!(e instanceof RequestError)) throw e;
    const el = /data\[(\d+)\] is (.*)$/s.exec(e.message);
    if (el) {
      const i = Number(el[1]);
      throw new RequestError(400, `instances[${Math.floor(i / keys.length)}].${keys[i % keys.length]}: is ${el[2]}`);
    }
    throw new RequestError(400, `instances: ${e.message.replace(/^inputs\[0\] \('[^']*'\): /, '')}`);
  }
}

function decodeColumns(raw: unknown, specs: readonly TensorSpec[]): V1Inputs {
  let cols: Record<string, unknown>;
  if (Array.isArray(raw)) {
    if (specs.length !== 1)
      throw bad(
        `'inputs' is an array, which feeds a single-input model; this model has ${specs.length} inputs, so send an object keyed by input name: {"inputs": {${specs.map((s) => `"${s.name}": [...]`).join(', ')}}}`,
      );
    cols = { [specs[0].name]: raw };
  } else if (isObject(raw)) {
    cols = raw;
  } else {
    throw bad(`'inputs' must be an object keyed by input name (${list(specs)}), each a batch of rows`);
  }
  for (const k of Object.keys(cols))
    if (!specs.some((s) => s.name === k)) throw bad(`inputs: the model has no input named '${k}'; its inputs are ${list(specs)}`);
  const missing = specs.filter((s) => !Object.hasOwn(cols, s.name));
  if (missing.length) throw bad(`inputs: missing ${missing.map((s) => `'${s.name}'`).join(', ')}; the model's inputs are ${list(specs)}`);
  let rows = -1;
  let rowsFrom = '';
  const inputs = specs.map((spec) => {
    const v = cols[spec.name];
    const where = Array.isArray(raw) ? 'inputs' : `inputs.${spec.name}`;
    if (!Array.isArray(v) || v.length === 0) throw bad(`${where} must be a non-empty array of rows`);
    const sh = nestedShape(v);
    checkRowShape(`${where}[0]`, sh.slice(1), spec);
    if (rows === -1) {
      rows = sh[0];
      rowsFrom = where;
    } else if (sh[0] !== rows) throw bad(`${where} has ${sh[0]} rows; ${rowsFrom} has ${rows}; every input needs one row per instance`);
    return decodeBatched(spec, sh, v, (row) => (row === undefined ? where : `${where}[${row}]`));
  });
  return { inputs, rows };
}

/** The input tensors of a V1 predict request body, in the model's input order. */
export function decodeV1Request(body: Record<string, unknown>, specs: readonly TensorSpec[], model: string): V1Inputs {
  if (body.instances !== undefined && body.inputs !== undefined) throw bad(`send either 'instances' (rows) or 'inputs' (columns), not both`);
  if (body.inputs !== undefined) return decodeColumns(body.inputs, specs);
  const instances = body.instances;
  if (!Array.isArray(instances) || instances.length === 0) throw bad(`'instances' must be a non-empty array of rows, e.g. {"instances": [[0.1, 0.2, ...]]}`);
  if (isObject(instances[0])) {
    const keys = Object.keys(instances[0]);
    if (specs.length === 1 && !keys.includes(specs[0].name)) return decodeFeatureRows(instances, specs[0]);
    return decodeNamedRows(instances, specs);
  }
  if (specs.length !== 1) {
    throw bad(
      `model '${model}' has ${specs.length} inputs (${list(specs)}); each instance must be an object keyed by input name, e.g. {"instances": [{${specs.map((s) => `"${s.name}": ...`).join(', ')}}]}, or send columns: {"inputs": {${specs.map((s) => `"${s.name}": [...]`).join(', ')}}}`,
    );
  }
  return decodeRows(instances, specs[0]);
}

/** Nests a flat row-major slice into arrays of `shape`. */
function nest(flat: readonly unknown[], from: number, shape: readonly number[]): unknown[] {
  if (shape.length === 1) return flat.slice(from, from + shape[0]);
  const step = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nest(flat, from + i * step, shape.slice(1)));
}

/** How a V1 answer is shaped (`parameters` of the request; see v1Shape). */
export type V1Shape = 'predict' | 'predict_proba' | 'detailed';

/**
 * The answer's shape from the request's `parameters` (KServe V1 bodies may carry them):
 * `{"predict_proba": true}` answers each row's class probabilities (KServe's sklearn server with
 * PREDICT_PROBA), `{"detailed": true}` one object per row keyed by output name; otherwise
 * `predict`: what KServe's sklearn/XGBoost/LightGBM servers answer for `model.predict`. `dflt`
 * is the server's default (`predict_proba` when started with PREDICT_PROBA=true, as sklearnserver).
 */
export function v1Shape(body: Record<string, unknown>, dflt: V1Shape = 'predict'): V1Shape {
  const p = body.parameters;
  if (p === undefined) return dflt;
  if (!isObject(p)) throw bad(`'parameters' must be an object, e.g. {"predict_proba": true} or {"detailed": true}`);
  for (const k of ['predict_proba', 'detailed']) if (p[k] !== undefined && typeof p[k] !== 'boolean') throw bad(`parameters.${k} must be true or false`);
  if (p.predict_proba === true && p.detailed === true) throw bad(`parameters: ask for predict_proba or detailed, not both`);
  if (p.detailed === true) return 'detailed';
  if (p.predict_proba === true) return 'predict_proba';
  if (p.predict_proba === false && dflt === 'predict_proba') return 'predict';
  return dflt;
}

/**
 * The output holding class probabilities: the ZipMap output served as a tensor (it has labels), or a
 * floating [N, C] output next to a label output. Undefined for a model that isn't a classifier.
 */
export function probabilityOutput(outputs: readonly TensorSpec[]): TensorSpec | undefined {
  const withLabels = outputs.find((o) => o.parameters?.labels);
  if (withLabels) return withLabels;
  if (outputs.length < 2) return undefined;
  const f = outputs.filter((o) => (o.datatype === 'FP32' || o.datatype === 'FP64') && o.shape.length === 2 && o.shape[1] !== 1);
  const label = outputs.some((o) => o.datatype !== 'FP32' && o.datatype !== 'FP64' && o.shape.length <= 2);
  return f.length === 1 && label ? f[0] : undefined;
}

type Outs = Record<string, { data: ArrayLike<unknown>; dims: readonly number[] }>;

/** Per row of one output: a scalar when the row is one value, else the nested row. */
function rowsOf(out: Outs, spec: TensorSpec, rows: number): (r: number) => unknown {
  const data = toPlain(out[spec.name].data, spec.datatype);
  const dimsN = out[spec.name].dims;
  const rowShape = dimsN[0] === rows ? dimsN.slice(1) : [data.length / rows];
  const w = rowShape.reduce((a, b) => a * b, 1);
  return (r: number): unknown => (w === 1 ? data[r] : nest(data, r * w, rowShape));
}

/**
 * The V1 answer: `{"predictions": [...]}`, one entry per row.
 * - `predict`: the model's first output (the converters put the label first: skl2onnx, onnxmltools;
 *   a regressor's value, an IsolationForest's -1/1), a scalar per row when the row is one value;
 *   as KServe's sklearn server answers `model.predict(X).tolist()`.
 * - `predict_proba`: each row's class probabilities (the probability output), and `class_labels`
 *   beside `predictions` saying which class each column is.
 * - `detailed`: one object per row keyed by output name; a probability output with labels is a map
 *   `{label: probability}`, as the model's own ZipMap would have answered.
 */
export function v1Answer(out: Outs, outputs: readonly TensorSpec[], rows: number, shape: V1Shape): Record<string, unknown> {
  if (shape === 'predict_proba') {
    const p = probabilityOutput(outputs);
    if (!p)
      throw bad(
        `parameters.predict_proba: this model has no class-probability output (its outputs are ${outputs.map((o) => `'${o.name}' ${o.datatype} [${o.shape.join(', ')}]`).join(', ')})`,
      );
    const get = rowsOf(out, p, rows);
    const predictions = Array.from({ length: rows }, (_, r) => get(r));
    return p.parameters?.labels ? { predictions, class_labels: p.parameters.labels } : { predictions };
  }
  if (shape === 'predict' || outputs.length === 1) {
    const get = rowsOf(out, outputs[0], rows);
    return { predictions: Array.from({ length: rows }, (_, r) => get(r)) };
  }
  const per = outputs.map((o) => {
    const get = rowsOf(out, o, rows);
    const labels = o.parameters?.labels;
    if (!labels) return get;
    return (r: number): unknown => {
      const row = get(r) as unknown[];
      return Object.fromEntries(labels.map((l, i) => [String(l), Array.isArray(row) ? row[i] : row]));
    };
  });
  return { predictions: Array.from({ length: rows }, (_, r) => Object.fromEntries(outputs.map((o, i) => [o.name, per[i](r)]))) };
}

/** Number datatypes whose JSON text jsonArrayText writes as JSON.stringify would (FP16 as its value, NaN as null). */
const NUMERIC = new Set(['FP16', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

/**
 * The V1 answer as JSON text: `JSON.stringify(v1Answer(...))`, written straight from the output's
 * typed array for the common answers (a classifier's labels, a regressor's values, rows of class
 * probabilities) without building the nested arrays first; any other answer goes through v1Answer.
 */
export function v1AnswerText(out: Outs, outputs: readonly TensorSpec[], rows: number, shape: V1Shape): string {
  const spec = shape === 'predict_proba' ? probabilityOutput(outputs) : shape === 'predict' || outputs.length === 1 ? outputs[0] : undefined;
  const o = spec && out[spec.name];
  if (!spec || !o || !NUMERIC.has(spec.datatype) || rows === 0) return JSON.stringify(v1Answer(out, outputs, rows, shape));
  const data = o.data as ArrayLike<number | bigint>;
  const rowShape = o.dims[0] === rows ? o.dims.slice(1) : [data.length / rows];
  const w = rowShape.reduce((a, b) => a * b, 1);
  if (rowShape.length > 1 || !Number.isInteger(w)) return JSON.stringify(v1Answer(out, outputs, rows, shape));
  let text: string;
  if (w === 1) text = jsonArrayText(data, spec.datatype);
  else {
    const sub = (data as { subarray?: (a: number, b: number) => ArrayLike<number | bigint> }).subarray;
    text = '[';
    for (let r = 0; r < rows; r++)
      text += (r ? ',' : '') + jsonArrayText(sub ? sub.call(data, r * w, (r + 1) * w) : Array.prototype.slice.call(data, r * w, (r + 1) * w), spec.datatype);
    text += ']';
  }
  const labels = shape === 'predict_proba' ? spec.parameters?.labels : undefined;
  return `{"predictions":${text}${labels ? `,"class_labels":${JSON.stringify(labels)}` : ''}}`;
}
