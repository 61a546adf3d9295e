/**
 * Writes a dense network (logistic regression or MLP, as trained by ghosteam's training step) as a
 * real ONNX ModelProto that onnxruntime (Node, Python, C++) and KServe runtimes load.
 *
 * Graph: input FP32 [N, k] (symbolic batch dim `N`) → optional Sub(mean)/Div(std) → per layer
 * Gemm(X, W[in][out], b) → activation (Relu | Sigmoid | Tanh | Softmax(axis=-1) | none) → output
 * FP32 [N, 1]. A final layer with 2 outputs and softmax is sliced to the positive class's column,
 * so the output is always the probability [N, 1].
 *
 * Opset 17 (ai.onnx) with IR version 8, the pair the ONNX spec defines for it.
 *
 * ```ts
 * const bytes = denseNetToOnnx({ kind: 'logistic', featureNames: ['a', 'b'],
 *   layers: [{ weights: [[0.5], [-1]], bias: [0.1], activation: 'sigmoid' }] });
 * writeFileSync('model.onnx', bytes);
 * ```
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX TensorProto element type → onnxruntime-node's tensor type name (the types a session reports as they are). */
export const ORT_TYPE_OF_ONNX: Readonly<Record<number, string>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
};

export type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'softmax';

export interface DenseLayer {
  /** Kernel as [in][out], the layout of a tfjs Dense layer's kernel. */
  weights: number[][];
  bias: number[];
  activation: Activation;
}

/** What the network predicts; it decides the output tensor (see denseNetToOnnx). */
export type DenseNetTask = 'binary' | 'multiclass' | 'regression' | 'anomaly';
export const DENSENET_TASKS: readonly DenseNetTask[] = ['binary', 'multiclass', 'regression', 'anomaly'];

/** The output tensor's default name per task. */
export const DEFAULT_OUTPUT_NAME: Readonly<Record<DenseNetTask, string>> = {
  binary: 'probability',
  multiclass: 'probabilities',
  regression: 'prediction',
  anomaly: 'score',
};

export interface DenseNet {
  /** 'logistic' and 'linear' are one layer; 'mlp' has hidden layers (an autoencoder for anomaly). */
  kind: 'logistic' | 'linear' | 'mlp';
  /**
   * binary: output [N, 1], the positive class's probability. multiclass: [N, C] class probabilities
   * (softmax), in the order of `classes`. regression: [N, 1] the prediction. anomaly: the layers
   * reconstruct the (normalized) input and the output [N, 1] is the mean squared reconstruction
   * error per row. @default 'binary'
   */
  task?: DenseNetTask;
  /** multiclass: the class label of each output column. */
  classes?: string[];
  featureNames: string[];
  /** @default 'input' */
  inputName?: string;
  /** @default DEFAULT_OUTPUT_NAME[task]: 'probability' | 'probabilities' | 'prediction' | 'score' */
  outputName?: string;
  /**
   * Per-feature standardisation applied first: (x - mean) / std. A std of 0 (a constant feature)
   * is treated as 1, as scikit-learn's StandardScaler does.
   */
  normalize?: { mean: number[]; std: number[] };
  layers: DenseLayer[];
}

export interface OnnxWriteOptions {
  /** Graph name. @default 'ghosteam-<kind>' */
  modelName?: string;
  /** @default 'ghosteam' */
  producer?: string;
}

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax'];

export class DenseNetError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'DenseNetError';
  }
}

function checkVector(v: unknown, len: number, path: string, what: string): number[] {
  if (!Array.isArray(v)) throw new DenseNetError(path, `expected an array of ${len} numbers (${what})`);
  if (v.length !== len) throw new DenseNetError(path, `has ${v.length} values; expected ${len} (${what})`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number' || !Number.isFinite(v[i]))
      throw new DenseNetError(`${path}[${i}]`, `is ${typeof v[i] === 'number' ? String(v[i]) : JSON.stringify(v[i])}; expected a finite number`);
  }
  return v as number[];
}

/** Validates a DenseNet and returns its input width and output width. Throws DenseNetError naming the field. */
export function validateDenseNet(net: DenseNet): { inputs: number; outputs: number } {
  if (!net || typeof net !== 'object') throw new DenseNetError('net', 'expected a DenseNet object');
  if (net.kind !== 'logistic' && net.kind !== 'linear' && net.kind !== 'mlp')
    throw new DenseNetError('kind', `is ${JSON.stringify(net.kind)}; expected 'logistic', 'linear' or 'mlp'`);
  const task = net.task ?? 'binary';
  if (!DENSENET_TASKS.includes(task)) throw new DenseNetError('task', `is ${JSON.stringify(task)}; expected one of ${DENSENET_TASKS.join(', ')}`);
  if (!Array.isArray(net.featureNames) || net.featureNames.length === 0) throw new DenseNetError('featureNames', 'expected a non-empty array of feature names');
  net.featureNames.forEach((f, i) => {
    if (typeof f !== 'string' || f === '') throw new DenseNetError(`featureNames[${i}]`, 'expected a non-empty string');
  });
  for (const key of ['inputName', 'outputName'] as const) {
    const v = net[key];
    if (v !== undefined && (typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.:-]*$/.test(v))) {
      throw new DenseNetError(key, `is ${JSON.stringify(v)}; expected a tensor name such as 'input' (letters, digits, _ . : -)`);
    }
  }
  if ((net.inputName ?? 'input') === (net.outputName ?? DEFAULT_OUTPUT_NAME[task])) throw new DenseNetError('outputName', 'must differ from inputName');
  const k = net.featureNames.length;
  if (net.normalize !== undefined) {
    checkVector(net.normalize.mean, k, 'normalize.mean', 'one per feature');
    const std = checkVector(net.normalize.std, k, 'normalize.std', 'one per feature');
    std.forEach((s, i) => {
      if (s < 0) throw new DenseNetError(`normalize.std[${i}]`, `is ${s}; a standard deviation can't be negative`);
    });
  }
  if (!Array.isArray(net.layers) || net.layers.length === 0) throw new DenseNetError('layers', 'expected at least one layer');
  if (net.kind !== 'mlp' && net.layers.length !== 1)
    throw new DenseNetError('layers', `a ${net.kind} model has exactly one layer; got ${net.layers.length} (use kind 'mlp')`);
  let width = k;
  net.layers.forEach((layer, li) => {
    const p = `layers[${li}]`;
    if (!layer || typeof layer !== 'object') throw new DenseNetError(p, 'expected { weights, bias, activation }');
    if (!ACTIVATIONS.includes(layer.activation))
      throw new DenseNetError(`${p}.activation`, `is ${JSON.stringify(layer.activation)}; expected one of ${ACTIVATIONS.join(', ')}`);
    if (!Array.isArray(layer.weights)) throw new DenseNetError(`${p}.weights`, 'expected a [in][out] array of arrays');
    if (layer.weights.length !== width) {
      throw new DenseNetError(
        `${p}.weights`,
        `has ${layer.weights.length} rows; expected ${width} (${li === 0 ? 'the number of features' : "the previous layer's output size"}); weights are [in][out]`,
      );
    }
    const out = Array.isArray(layer.weights[0]) ? layer.weights[0].length : 0;
    if (out === 0) throw new DenseNetError(`${p}.weights[0]`, 'expected a non-empty array of output weights');
    layer.weights.forEach((row, r) => checkVector(row, out, `${p}.weights[${r}]`, 'one per output unit'));
    checkVector(layer.bias, out, `${p}.bias`, 'one per output unit');
    width = out;
  });
  const last = net.layers[net.layers.length - 1];
  const lastPath = `layers[${net.layers.length - 1}]`;
  if (task === 'binary' && width !== 1 && !(width === 2 && last.activation === 'softmax')) {
    throw new DenseNetError(lastPath, `has ${width} outputs; the last layer must have 1 output (or 2 with softmax, of which the second is the probability)`);
  }
  if (task === 'multiclass') {
    if (width < 2 || last.activation !== 'softmax')
      throw new DenseNetError(
        lastPath,
        `has ${width} outputs with activation '${last.activation}'; a multiclass model ends in a softmax over 2 or more classes`,
      );
    if (net.classes !== undefined && (!Array.isArray(net.classes) || net.classes.length !== width))
      throw new DenseNetError('classes', `has ${Array.isArray(net.classes) ? net.classes.length : 'no'} labels; expected ${width}, one per output column`);
  }
  if (task === 'regression' && width !== 1) throw new DenseNetError(lastPath, `has ${width} outputs; a regression model has 1`);
  if (task === 'anomaly' && width !== k) throw new DenseNetError(lastPath, `has ${width} outputs; an anomaly autoencoder reconstructs its ${k} inputs`);
  return { inputs: k, outputs: task === 'multiclass' ? width : 1 };
}

function floatTensor(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  const f = Float32Array.from(values);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

function int64Tensor(name: string, values: number[]): onnxProto.onnx.ITensorProto {
  const b = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(b.buffer) };
}

function valueInfo(name: string, dims: Array<string | number>): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/** The standard deviations as written to the graph: 0 becomes 1. */
function safeStd(std: number[]): number[] {
  return std.map((s) => (s === 0 ? 1 : s));
}

/** Serialises a validated DenseNet as ONNX bytes. Throws DenseNetError on an invalid description. */
export function denseNetToOnnx(net: DenseNet, opts: OnnxWriteOptions = {}): Uint8Array {
  const { inputs: k, outputs } = validateDenseNet(net);
  const task = net.task ?? 'binary';
  const inputName = net.inputName ?? 'input';
  const outputName = net.outputName ?? DEFAULT_OUTPUT_NAME[task];
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const inits: onnxProto.onnx.ITensorProto[] = [];
  let cur = inputName;
  const node = (opType: string, input: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = []): void => {
    nodes.push({ opType, input, output: [output], name: `${opType.toLowerCase()}_${nodes.length}`, attribute });
    cur = output;
  };
  if (net.normalize) {
    inits.push(floatTensor('norm_mean', [k], net.normalize.mean), floatTensor('norm_std', [k], safeStd(net.normalize.std)));
    node('Sub', [cur, 'norm_mean'], 'centered');
    node('Div', ['centered', 'norm_std'], 'normalized');
  }
  net.layers.forEach((layer, li) => {
    const out = layer.bias.length;
    const w: number[] = [];
    for (const row of layer.weights) for (const x of row) w.push(x);
    inits.push(floatTensor(`dense_${li}_kernel`, [layer.weights.length, out], w), floatTensor(`dense_${li}_bias`, [out], layer.bias));
    node('Gemm', [cur, `dense_${li}_kernel`, `dense_${li}_bias`], `dense_${li}_linear`);
    switch (layer.activation) {
      case 'relu':
        node('Relu', [cur], `dense_${li}_relu`);
        break;
      case 'sigmoid':
        node('Sigmoid', [cur], `dense_${li}_sigmoid`);
        break;
      case 'tanh':
        node('Tanh', [cur], `dense_${li}_tanh`);
        break;
      case 'softmax':
        node('Softmax', [cur], `dense_${li}_softmax`, [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }]);
        break;
      case 'linear':
        break;
    }
  });
  if (task === 'binary' && net.layers[net.layers.length - 1].bias.length === 2) {
    inits.push(int64Tensor('slice_starts', [1]), int64Tensor('slice_ends', [2]), int64Tensor('slice_axes', [1]));
    node('Slice', [cur, 'slice_starts', 'slice_ends', 'slice_axes'], 'positive_class');
  }
  if (task === 'anomaly') {
    // Mean squared reconstruction error of the normalized input, per row.
    const target = net.normalize ? 'normalized' : inputName;
    node('Sub', [target, cur], 'reconstruction_error');
    node('Mul', ['reconstruction_error', 'reconstruction_error'], 'squared_error');
    node('ReduceMean', ['squared_error'], 'score', [
      { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] },
      { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
    ]);
  }
  // Rename the last node's output to the graph output (or add Identity when the graph is empty of ops after input).
  const lastNode = nodes[nodes.length - 1];
  lastNode.output = [outputName];
  const model: onnxProto.onnx.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: opts.producer ?? 'ghosteam',
    producerVersion: '0.1.0',
    docString: `ghosteam ${net.kind} (${task}): ${k} features → ${outputName}`,
    metadataProps: [
      { key: 'ghosteam.kind', value: net.kind },
      { key: 'ghosteam.task', value: task },
      { key: 'ghosteam.featureNames', value: JSON.stringify(net.featureNames) },
      ...(net.classes ? [{ key: 'ghosteam.classes', value: JSON.stringify(net.classes) }] : []),
    ],
    graph: {
      name: opts.modelName ?? `ghosteam-${net.kind}`,
      node: nodes,
      initializer: inits,
      input: [valueInfo(inputName, ['N', k])],
      output: [valueInfo(outputName, ['N', outputs])],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/**
 * Reference forward pass in plain JS (float64), the same computation the ONNX graph performs.
 * `rows` is [N][k]; returns each row's output vector: [probability] (binary), the class
 * probabilities (multiclass), [prediction] (regression) or [score] (anomaly).
 */
export function denseNetOutputs(net: DenseNet, rows: number[][]): number[][] {
  const { inputs: k } = validateDenseNet(net);
  const task = net.task ?? 'binary';
  const std = net.normalize ? safeStd(net.normalize.std) : undefined;
  return rows.map((row, r) => {
    if (row.length !== k) throw new DenseNetError(`rows[${r}]`, `has ${row.length} values; expected ${k}`);
    const x0 = net.normalize ? row.map((v, i) => (v - net.normalize!.mean[i]) / std![i]) : row.slice();
    let x = x0;
    for (const layer of net.layers) {
      const out = layer.bias.length;
      const y = layer.bias.slice();
      for (let i = 0; i < x.length; i++) for (let j = 0; j < out; j++) y[j] += x[i] * layer.weights[i][j];
      switch (layer.activation) {
        case 'relu':
          for (let j = 0; j < out; j++) y[j] = Math.max(0, y[j]);
          break;
        case 'sigmoid':
          for (let j = 0; j < out; j++) y[j] = 1 / (1 + Math.exp(-y[j]));
          break;
        case 'tanh':
          for (let j = 0; j < out; j++) y[j] = Math.tanh(y[j]);
          break;
        case 'softmax': {
          const m = Math.max(...y);
          const e = y.map((v) => Math.exp(v - m));
          const s = e.reduce((a, b) => a + b, 0);
          for (let j = 0; j < out; j++) y[j] = e[j] / s;
          break;
        }
        case 'linear':
          break;
      }
      x = y;
    }
    if (task === 'anomaly') return [x.reduce((a, v, i) => a + (x0[i] - v) ** 2, 0) / k];
    if (task === 'binary' && x.length === 2) return [x[1]];
    return x;
  });
}

/** The first output per row: the probability (binary), prediction (regression) or score (anomaly). */
export function denseNetForward(net: DenseNet, rows: number[][]): number[] {
  return denseNetOutputs(net, rows).map((o) => o[0]);
}
