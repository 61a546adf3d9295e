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
import { decodeInput, RequestError, toPlain, type DecodedTensor, type TensorSpec } from './tensors.ts';

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

/** A row's shape against the input's shape without its batch dimension. */
function checkRowShape(where: string, got: readonly number[], spec: TensorSpec): void {
  if (spec.shape.length === 0) throw bad(`${where}: input '${spec.name}' is a scalar with no batch dimension; V1 rows can't feed it, use POST /v2/models/{name}/infer`);
  const want = spec.shape.slice(1);
  if (got.length !== want.length || got.some((d, i) => want[i] !== -1 && want[i] !== d)) {
    throw bad(`${where}: shape is ${dims(got)}; input '${spec.name}' takes ${dims(want)} per instance (the model's input is ${dims(spec.shape)}, -1 = any size)`);
  }
}

function decodeRows(instances: unknown[], spec: TensorSpec): V1Inputs {
  const shape0 = nestedShape(instances[0]);
  checkRowShape('instances[0]', shape0, spec);
  for (let r = 1; r < instances.length; r++) {
    if (isObject(instances[r])) throw bad(`instances[${r}] is an object but instances[0] is not; send every instance in one form`);
    const sh = nestedShape(instances[r]);
    if (sh.length !== shape0.length || sh.some((d, i) => d !== shape0[i])) throw bad(`instances[${r}]: shape is ${dims(sh)}; instances[0] is ${dims(shape0)}; every instance must have the same shape`);
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
    if (!isObject(inst)) throw bad(`instances[${r}] is ${Array.isArray(inst) ? 'an array' : JSON.stringify(inst)}; instances[0] is an object, so every instance must be an object keyed by input name (${list(specs)})`);
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
        throw bad(`instances[${r}].${spec.name}: shape is ${dims(sh)}; instances[0].${spec.name} is ${dims(shapes[j])}; every instance must have the same shape`);
      }
      columns[j][r] = v;
    }
  }
  const inputs = specs.map((spec, j) => decodeBatched(spec, [n, ...shapes[j]], columns[j], (row) => (row === undefined ? `instances[*].${spec.name}` : `instances[${row}].${spec.name}`)));
  return { inputs, rows: n };
}

function decodeColumns(raw: unknown, specs: readonly TensorSpec[]): V1Inputs {
  let cols: Record<string, unknown>;
  if (Array.isArray(raw)) {
    if (specs.length !== 1) throw bad(`'inputs' is an array, which feeds a single-input model; this model has ${specs.length} inputs, so send an object keyed by input name: {"inputs": {${specs.map((s) => `"${s.name}": [...]`).join(', ')}}}`);
    cols = { [specs[0].name]: raw };
  } else if (isObject(raw)) {
    cols = raw;
  } else {
    throw bad(`'inputs' must be an object keyed by input name (${list(specs)}), each a batch of rows`);
  }
  for (const k of Object.keys(cols)) if (!specs.some((s) => s.name === k)) throw bad(`inputs: the model has no input named '${k}'; its inputs are ${list(specs)}`);
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
    if (rows === -1) { rows = sh[0]; rowsFrom = where; } else if (sh[0] !== rows) throw bad(`${where} has ${sh[0]} rows; ${rowsFrom} has ${rows}; every input needs one row per instance`);
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
  if (isObject(instances[0])) return decodeNamedRows(instances, specs);
  if (specs.length !== 1) {
    throw bad(`model '${model}' has ${specs.length} inputs (${list(specs)}); each instance must be an object keyed by input name, e.g. {"instances": [{${specs.map((s) => `"${s.name}": ...`).join(', ')}}]}, or send columns: {"inputs": {${specs.map((s) => `"${s.name}": [...]`).join(', ')}}}`);
  }
  return decodeRows(instances, specs[0]);
}

/** Nests a flat row-major slice into arrays of `shape`. */
function nest(flat: readonly unknown[], from: number, shape: readonly number[]): unknown[] {
  if (shape.length === 1) return flat.slice(from, from + shape[0]);
  const step = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nest(flat, from + i * step, shape.slice(1)));
}

/**
 * One prediction per row: for a single output its row (a scalar when the row is one value), else
 * an object keyed by output name. `out` holds each output's data and dims (first dim = rows).
 */
export function v1Predictions(out: Record<string, { data: ArrayLike<unknown>; dims: readonly number[] }>, outputs: readonly TensorSpec[], names: readonly string[], rows: number): unknown[] {
  const per = names.map((n) => {
    const spec = outputs.find((o) => o.name === n)!;
    const data = toPlain(out[n].data, spec.datatype);
    const dimsN = out[n].dims;
    const rowShape = dimsN[0] === rows ? dimsN.slice(1) : [data.length / rows];
    const w = rowShape.reduce((a, b) => a * b, 1);
    return (r: number): unknown => (w === 1 ? data[r] : nest(data, r * w, rowShape));
  });
  return Array.from({ length: rows }, (_, r) => (names.length === 1 ? per[0](r) : Object.fromEntries(names.map((n, i) => [n, per[i](r)]))));
}
