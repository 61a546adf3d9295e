/**
 * Pure: turns a dataset into the model's feature matrix and binary label, the same way for
 * training, evaluation and (through the DenseNet's normalisation) serving.
 */
import type { DenseNet, DenseNetTask } from '../onnx/index.ts';
import { cellAt, getColumn, type Column, type Dataset } from '../dataset/index.ts';
import { TerminalFailure } from '../../api/failure.ts';

export interface LabelInfo {
  readonly column: string;
  /** The value read as class 1, as a string ('true', '1', or the category). */
  readonly positive: string;
}

/** The default features: every numeric and boolean column except the label. */
export function defaultFeatures(ds: Dataset, label: string): string[] {
  return ds.columns.filter((c) => c.name !== label && (c.type === 'numeric' || c.type === 'boolean')).map((c) => c.name);
}

function featureValues(c: Column, where: string): Float64Array {
  if (c.type === 'numeric') return c.values;
  if (c.type === 'boolean') return Float64Array.from(c.values, (v) => (v === 2 ? NaN : v));
  throw new TerminalFailure(
    'InvalidInput',
    `${where}: feature '${c.name}' is ${c.type}; features must be numeric or boolean (drop it from 'features' or encode it as numbers first)`,
  );
}

/**
 * Row-major float matrix [rows][features]. Missing values (NaN) are replaced by `fill[j]` when
 * given (the training mean), else left as NaN.
 */
export function featureMatrix(ds: Dataset, features: readonly string[], where: string, fill?: readonly number[]): Float32Array {
  const k = features.length;
  const x = new Float32Array(ds.rows * k);
  features.forEach((name, j) => {
    const v = featureValues(getColumn(ds, name), where);
    const f = fill ? fill[j] : NaN;
    for (let i = 0; i < ds.rows; i++) {
      const a = v[i];
      x[i * k + j] = Number.isNaN(a) ? f : a;
    }
  });
  return x;
}

/** Column means and standard deviations, ignoring NaN (population std, as StandardScaler). */
export function meanStd(x: Float32Array, rows: number, k: number): { mean: number[]; std: number[] } {
  const mean = new Array<number>(k).fill(0);
  const std = new Array<number>(k).fill(0);
  const n = new Array<number>(k).fill(0);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < k; j++) {
      const a = x[i * k + j];
      if (!Number.isNaN(a)) {
        mean[j] += a;
        n[j]++;
      }
    }
  for (let j = 0; j < k; j++) mean[j] = n[j] ? mean[j] / n[j] : 0;
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < k; j++) {
      const a = x[i * k + j];
      if (!Number.isNaN(a)) std[j] += (a - mean[j]) ** 2;
    }
  for (let j = 0; j < k; j++) std[j] = n[j] ? Math.sqrt(std[j] / n[j]) : 0;
  return { mean, std };
}

/** Resolves which value of the label column is the positive class. */
export function labelInfo(ds: Dataset, label: string, positive: string | undefined, where: string): LabelInfo {
  const c = getColumn(ds, label);
  if (c.type === 'boolean') return { column: label, positive: positive ?? 'true' };
  if (c.type === 'numeric') return { column: label, positive: positive ?? '1' };
  if (c.type === 'categorical') {
    if (positive !== undefined) {
      if (!c.categories.includes(positive))
        throw new TerminalFailure('InvalidInput', `${where}: positive class '${positive}' is not a value of '${label}' (${c.categories.join(', ')})`);
      return { column: label, positive };
    }
    if (c.categories.length !== 2)
      throw new Error(
        `${where}: label '${label}' has ${c.categories.length} classes (${c.categories.join(', ')}); binary classification needs 2, or set param 'positive'`,
      );
    return { column: label, positive: c.categories[1] };
  }
  throw new TerminalFailure('InvalidInput', `${where}: label '${label}' is a string column; make it boolean, 0/1 or categorical`);
}

/** 1 for the positive class, 0 otherwise; throws on a missing label or a numeric label other than 0/1. */
export function labelVector(ds: Dataset, info: LabelInfo, where: string): Float32Array {
  const c = getColumn(ds, info.column);
  const y = new Float32Array(ds.rows);
  for (let i = 0; i < ds.rows; i++) {
    let v: number;
    if (c.type === 'boolean') v = c.values[i] === 2 ? NaN : (c.values[i] === 1) === (info.positive === 'true') ? 1 : 0;
    else if (c.type === 'numeric') {
      const a = c.values[i];
      if (!Number.isNaN(a) && a !== 0 && a !== 1 && info.positive === '1')
        throw new TerminalFailure('InvalidInput', `${where}: label '${info.column}' row ${i + 1} is ${a}; a numeric label must be 0 or 1`);
      v = Number.isNaN(a) ? NaN : String(a) === info.positive ? 1 : 0;
    } else if (c.type === 'categorical') v = c.codes[i] < 0 ? NaN : c.categories[c.codes[i]] === info.positive ? 1 : 0;
    else v = NaN;
    if (Number.isNaN(v))
      throw new TerminalFailure('InvalidInput', `${where}: label '${info.column}' is missing in row ${i + 1}; drop or fill unlabeled rows first`);
    y[i] = v;
  }
  return y;
}

const act = (a: string, z: number): number => {
  switch (a) {
    case 'relu':
      return z > 0 ? z : 0;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-z));
    case 'tanh':
      return Math.tanh(z);
    default:
      return z;
  }
};

/**
 * Pure-JS forward pass of a DenseNet (float64): the probability of the positive class per row.
 * The same semantics as the ONNX graph (std 0 read as 1; a 2-unit softmax head gives column 1).
 */
export function predictDenseNet(net: DenseNet, x: Float32Array | Float64Array, rows: number): Float64Array {
  const k = net.featureNames.length;
  const out = new Float64Array(rows);
  let cur = new Float64Array(k);
  for (let i = 0; i < rows; i++) {
    cur = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let a = x[i * k + j];
      if (net.normalize) a = (a - net.normalize.mean[j]) / (net.normalize.std[j] || 1);
      cur[j] = a;
    }
    for (const layer of net.layers) {
      const nOut = layer.bias.length;
      const next = new Float64Array(nOut);
      for (let o = 0; o < nOut; o++) {
        let z = layer.bias[o];
        for (let j = 0; j < cur.length; j++) z += cur[j] * layer.weights[j][o];
        next[o] = layer.activation === 'softmax' ? z : act(layer.activation, z);
      }
      if (layer.activation === 'softmax') {
        const m = Math.max(...next);
        let s = 0;
        for (let o = 0; o < nOut; o++) s += next[o] = Math.exp(next[o] - m);
        for (let o = 0; o < nOut; o++) next[o] /= s;
      }
      cur = next;
    }
    out[i] = cur.length === 2 ? cur[1] : cur[0];
  }
  return out;
}

/** What train-tabular learns: see components/onnx DenseNetTask. */
export type Task = DenseNetTask;
export const TASKS: readonly Task[] = ['binary', 'multiclass', 'regression', 'anomaly'];

/** Most distinct integer values a numeric label may have to be read as classes rather than a quantity. */
export const MAX_INFERRED_CLASSES = 20;

/**
 * The task a label implies when `task` isn't given: no label → anomaly; boolean, 0/1 or two
 * categories → binary; more categories, strings, or 3..20 distinct integers → multiclass; any
 * other number → regression. `why` says what decided it, for the log.
 */
export function inferTask(ds: Dataset, label: string | undefined): { task: Task; why: string } {
  if (label === undefined) return { task: 'anomaly', why: 'no label column is given' };
  const c = getColumn(ds, label);
  if (c.type === 'boolean') return { task: 'binary', why: `label '${label}' is boolean` };
  if (c.type === 'categorical')
    return c.categories.length <= 2
      ? { task: 'binary', why: `label '${label}' has 2 categories` }
      : { task: 'multiclass', why: `label '${label}' has ${c.categories.length} categories` };
  if (c.type === 'string') return { task: 'multiclass', why: `label '${label}' holds strings` };
  const distinct = new Set<number>();
  let integers = true;
  for (let i = 0; i < ds.rows; i++) {
    const v = c.values[i];
    if (Number.isNaN(v)) continue;
    if (!Number.isInteger(v)) integers = false;
    if (distinct.size <= MAX_INFERRED_CLASSES) distinct.add(v);
  }
  const values = [...distinct].sort((a, b) => a - b);
  if (values.every((v) => v === 0 || v === 1)) return { task: 'binary', why: `label '${label}' holds only 0 and 1` };
  if (integers && distinct.size <= MAX_INFERRED_CLASSES)
    return { task: 'multiclass', why: `label '${label}' holds ${distinct.size} integer values (${values.join(', ')})` };
  return {
    task: 'regression',
    why: `label '${label}' is numeric with ${integers ? `more than ${MAX_INFERRED_CLASSES} distinct values` : 'fractional values'}`,
  };
}

/** The class labels of a multiclass label column, in output order: categories as declared, else sorted values. */
export function classesOf(ds: Dataset, label: string, where: string): string[] {
  const c = getColumn(ds, label);
  if (c.type === 'categorical') return [...c.categories];
  const seen = new Set<string>();
  let numeric = true;
  for (let i = 0; i < ds.rows; i++) {
    const v = cellAt(c, i);
    if (v === null) continue;
    if (typeof v !== 'number') numeric = false;
    seen.add(String(v));
  }
  const out = [...seen];
  if (seen.size < 2)
    throw new TerminalFailure('InvalidInput', `${where}: label '${label}' has ${seen.size} class${seen.size === 1 ? '' : 'es'}; multiclass needs at least 2`);
  return numeric ? out.sort((a, b) => Number(a) - Number(b)) : out.sort();
}

/** multiclass: each row's class index in `classes`; throws naming the row on a missing or unknown label. */
export function classVector(ds: Dataset, label: string, classes: readonly string[], where: string): Float32Array {
  const c = getColumn(ds, label);
  const index = new Map(classes.map((k, i) => [k, i]));
  const y = new Float32Array(ds.rows);
  for (let i = 0; i < ds.rows; i++) {
    const v = cellAt(c, i);
    if (v === null) throw new TerminalFailure('InvalidInput', `${where}: label '${label}' is missing in row ${i + 1}; drop or fill unlabeled rows first`);
    const k = index.get(String(v));
    if (k === undefined)
      throw new TerminalFailure(
        'InvalidInput',
        `${where}: label '${label}' row ${i + 1} is '${String(v)}', a class the model was not trained on (${classes.join(', ')})`,
      );
    y[i] = k;
  }
  return y;
}

/** regression: the numeric target; throws naming the row on a missing value or a non-numeric label. */
export function regressionVector(ds: Dataset, label: string, where: string): Float32Array {
  const c = getColumn(ds, label);
  if (c.type !== 'numeric')
    throw new TerminalFailure(
      'InvalidInput',
      `${where}: label '${label}' is ${c.type}; regression needs a numeric label (or set task to 'binary' or 'multiclass')`,
    );
  const y = new Float32Array(ds.rows);
  for (let i = 0; i < ds.rows; i++) {
    if (Number.isNaN(c.values[i]))
      throw new TerminalFailure('InvalidInput', `${where}: label '${label}' is missing in row ${i + 1}; drop or fill unlabeled rows first`);
    y[i] = c.values[i];
  }
  return y;
}

/**
 * Pure-JS forward pass of any task's DenseNet (float64, the ONNX graph's semantics) over a row-major
 * matrix: `out` is rows × width, width 1 except multiclass (one probability per class).
 */
export function forwardDenseNet(net: DenseNet, x: Float32Array | Float64Array, rows: number): { width: number; out: Float64Array } {
  const k = net.featureNames.length;
  const task = net.task ?? 'binary';
  const width = task === 'multiclass' ? net.layers[net.layers.length - 1].bias.length : 1;
  if (task === 'binary') return { width, out: predictDenseNet(net, x, rows) };
  const out = new Float64Array(rows * width);
  for (let i = 0; i < rows; i++) {
    const x0 = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let a = x[i * k + j];
      if (net.normalize) a = (a - net.normalize.mean[j]) / (net.normalize.std[j] || 1);
      x0[j] = a;
    }
    let cur = x0;
    for (const layer of net.layers) {
      const nOut = layer.bias.length;
      const next = new Float64Array(nOut);
      for (let o = 0; o < nOut; o++) {
        let z = layer.bias[o];
        for (let j = 0; j < cur.length; j++) z += cur[j] * layer.weights[j][o];
        next[o] = layer.activation === 'softmax' ? z : act(layer.activation, z);
      }
      if (layer.activation === 'softmax') {
        let m = -Infinity;
        for (let o = 0; o < nOut; o++) m = Math.max(m, next[o]);
        let s = 0;
        for (let o = 0; o < nOut; o++) s += next[o] = Math.exp(next[o] - m);
        for (let o = 0; o < nOut; o++) next[o] /= s;
      }
      cur = next;
    }
    if (task === 'anomaly') {
      let e = 0;
      for (let j = 0; j < k; j++) e += (x0[j] - cur[j]) ** 2;
      out[i] = e / k;
    } else for (let o = 0; o < width; o++) out[i * width + o] = cur[o];
  }
  return { width, out };
}
