/**
 * The training loop: a seeded, deterministic (on CPU backends) fit of a one-layer model or a dense
 * MLP with Adam, per task: binary (sigmoid, cross-entropy), multiclass (softmax, cross-entropy),
 * regression (linear, mean squared error on the standardised target, folded back into the last
 * layer so the net predicts in the label's units), anomaly (an autoencoder reconstructing the
 * standardised inputs; no label), written on tfjs-core ops so that initialisation and
 * shuffling come from our own seeded PRNG (tfjs's layers API shuffles with Math.random).
 */
import type { DenseLayer, DenseNet, DenseNetTask } from '../onnx/index.ts';
import { mulberry32, shuffleInPlace } from '../random.ts';
import { loadTf, type BackendChoice } from './backend.ts';
import { meanStd } from './features.ts';

export interface TrainOptions {
  readonly kind: 'logistic' | 'linear' | 'mlp';
  /** @default 'binary' */
  readonly task?: DenseNetTask;
  /** multiclass: the class labels (y holds indices into it). */
  readonly classes?: readonly string[];
  /** Hidden layer sizes for 'mlp'. @default [32, 16] */
  readonly hidden?: readonly number[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** L2 penalty on weights. @default 0 */
  readonly l2?: number;
  readonly seed: number;
  readonly backend?: BackendChoice;
  readonly signal?: AbortSignal;
  /**
   * Held-out rows (not trained on): after each epoch their loss — the training loss's formula without
   * the L2 term, on inputs standardised with the training rows' mean/std — is reported as `valLoss`.
   */
  readonly validation?: { readonly x: Float32Array; readonly y: Float32Array; readonly rows: number };
  readonly onEpoch?: (epoch: number, epochs: number, loss: number, valLoss?: number) => void;
}

export interface TrainResult {
  readonly net: DenseNet;
  readonly backend: string;
  readonly losses: number[];
  /** Per-epoch loss on `validation` (empty without it). */
  readonly valLosses: number[];
  readonly durationMs: number;
}

/** Glorot-uniform init from the seeded generator. */
function glorot(nIn: number, nOut: number, rand: () => number): Float32Array {
  const limit = Math.sqrt(6 / (nIn + nOut));
  const w = new Float32Array(nIn * nOut);
  for (let i = 0; i < w.length; i++) w[i] = (rand() * 2 - 1) * limit;
  return w;
}

/**
 * Trains on x (row-major [rows][k], NaN allowed: filled with the column mean) and y: 0/1 (binary),
 * class indices (multiclass), values (regression), ignored (anomaly). Inputs are standardised; the
 * mean/std go into the DenseNet so serving applies them.
 */
export async function trainDenseNet(x: Float32Array, y: Float32Array, rows: number, featureNames: string[], opts: TrainOptions): Promise<TrainResult> {
  const start = performance.now();
  const k = featureNames.length;
  if (k === 0) throw new Error('train-tabular: no features to train on; set param features');
  if (rows === 0) throw new Error('train-tabular: the training set is empty');
  const { tf, backend } = await loadTf(opts.backend ?? 'auto');
  const { mean, std } = meanStd(x, rows, k);
  const standardise = (src: Float32Array, n: number): Float32Array => {
    const out = new Float32Array(n * k);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < k; j++) {
        const a = src[i * k + j];
        out[i * k + j] = Number.isNaN(a) ? 0 : (a - mean[j]) / (std[j] || 1);
      }
    return out;
  };
  const xn = standardise(x, rows);
  const task = opts.task ?? 'binary';
  const classes = opts.classes ?? [];
  if (task === 'multiclass' && classes.length < 2) throw new Error('train-tabular: multiclass needs at least 2 classes');
  const nOut = task === 'multiclass' ? classes.length : task === 'anomaly' ? k : 1;
  // regression: fit the standardised target; the last layer is rescaled afterwards.
  let yMean = 0;
  let yStd = 1;
  if (task === 'regression') {
    const ms = meanStd(y, rows, 1);
    yMean = ms.mean[0];
    yStd = ms.std[0] || 1;
  }
  const rand = mulberry32(opts.seed);
  const sizes = [k, ...(opts.kind === 'mlp' ? (opts.hidden ?? [32, 16]) : []), nOut];
  const vars = sizes.slice(1).map((nOut, l) => ({
    w: tf.variable(tf.tensor2d(glorot(sizes[l], nOut, rand), [sizes[l], nOut])),
    b: tf.variable(tf.zeros([nOut])),
  }));
  const targets = (X: import('@tensorflow/tfjs').Tensor2D, y: Float32Array, rows: number): import('@tensorflow/tfjs').Tensor2D =>
    task === 'multiclass'
      ? (tf.oneHot(tf.tensor1d(Int32Array.from(y), 'int32'), nOut).toFloat() as import('@tensorflow/tfjs').Tensor2D)
      : task === 'regression'
        ? tf.tensor2d(
            Float32Array.from(y, (v) => (v - yMean) / yStd),
            [rows, 1],
          )
        : task === 'anomaly'
          ? X
          : tf.tensor2d(y, [rows, 1]);
  const X = tf.tensor2d(xn, [rows, k]);
  const Y = targets(X, y, rows);
  const val = opts.validation && opts.validation.rows > 0 ? opts.validation : undefined;
  const XV = val ? tf.tensor2d(standardise(val.x, val.rows), [val.rows, k]) : undefined;
  const YV = val && XV ? targets(XV, val.y, val.rows) : undefined;
  const optimizer = tf.train.adam(opts.learningRate);
  const l2 = opts.l2 ?? 0;
  const logits = (xb: import('@tensorflow/tfjs').Tensor2D) => {
    let h = xb;
    vars.forEach((v, l) => {
      h = tf.add(tf.matMul(h, v.w), v.b);
      if (l < vars.length - 1) h = tf.relu(h);
    });
    return h;
  };
  const lossOf = (yb: import('@tensorflow/tfjs').Tensor2D, z: import('@tensorflow/tfjs').Tensor2D): import('@tensorflow/tfjs').Scalar =>
    task === 'binary' ? tf.losses.sigmoidCrossEntropy(yb, z) : task === 'multiclass' ? tf.losses.softmaxCrossEntropy(yb, z) : tf.losses.meanSquaredError(yb, z);
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  const losses: number[] = [];
  const valLosses: number[] = [];
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      if (opts.signal?.aborted) throw new Error('train-tabular: cancelled');
      shuffleInPlace(order, rand);
      // Shuffle once per epoch (one gather), then take contiguous batches (cheap slices).
      const idx = tf.tensor1d(order, 'int32');
      const Xs = tf.gather<import('@tensorflow/tfjs').Tensor2D>(X, idx);
      const Ys = tf.gather<import('@tensorflow/tfjs').Tensor2D>(Y, idx);
      const batchLosses: import('@tensorflow/tfjs').Scalar[] = [];
      for (let s = 0; s < rows; s += opts.batchSize) {
        if (opts.signal?.aborted) {
          tf.dispose([idx, Xs, Ys, ...batchLosses]);
          throw new Error('train-tabular: cancelled');
        }
        const n = Math.min(opts.batchSize, rows - s);
        const cost = tf.tidy(() => {
          const xb = tf.slice(Xs, [s, 0], [n, k]);
          const yb = tf.slice(Ys, [s, 0], [n, task === 'multiclass' || task === 'anomaly' ? nOut : 1]);
          const c = optimizer.minimize(() => {
            const z = logits(xb);
            let loss: import('@tensorflow/tfjs').Scalar = lossOf(yb, z);
            if (l2 > 0) for (const v of vars) loss = tf.add(loss, tf.mul(l2, tf.sum(tf.square(v.w))));
            return loss;
          }, true)!;
          return tf.mul<import('@tensorflow/tfjs').Scalar>(c, n);
        });
        batchLosses.push(cost);
      }
      const total = tf.addN(batchLosses);
      const loss = (await total.data())[0] / rows;
      tf.dispose([total, idx, Xs, Ys, ...batchLosses]);
      losses.push(loss);
      let valLoss: number | undefined;
      if (XV && YV) {
        const v = tf.tidy(() => lossOf(YV, logits(XV)));
        valLoss = (await v.data())[0];
        v.dispose();
        valLosses.push(valLoss);
      }
      opts.onEpoch?.(epoch, opts.epochs, loss, valLoss);
      // Yield so an abort or a progress line gets through between epochs.
      await new Promise((r) => setImmediate(r));
    }
    const layers: DenseLayer[] = [];
    const lastActivation = task === 'binary' ? 'sigmoid' : task === 'multiclass' ? 'softmax' : 'linear';
    for (let l = 0; l < vars.length; l++) {
      let w = await vars[l].w.array();
      let b = Array.from(await vars[l].b.data());
      if (task === 'regression' && l === vars.length - 1) {
        w = w.map((row) => row.map((v) => v * yStd));
        b = b.map((v) => v * yStd + yMean);
      }
      layers.push({ weights: w, bias: b, activation: l < vars.length - 1 ? 'relu' : lastActivation });
    }
    const net: DenseNet = {
      kind: opts.kind,
      ...(task !== 'binary' ? { task } : {}),
      ...(task === 'multiclass' ? { classes: [...classes] } : {}),
      featureNames,
      normalize: { mean, std },
      layers,
    };
    return { net, backend, losses, valLosses, durationMs: performance.now() - start };
  } finally {
    tf.dispose([X, ...(Y === X ? [] : [Y]), ...(XV ? [XV] : []), ...(YV && YV !== XV ? [YV] : []), ...vars.flatMap((v) => [v.w, v.b])]);
    optimizer.dispose();
  }
}

/**
 * The DenseNet's output computed with TensorFlow.js ops on the current backend (float32), row-major:
 * the probability (binary), the class probabilities (multiclass, rows × classes), the prediction
 * (regression) or the reconstruction-error score (anomaly).
 */
export async function predictWithTf(net: DenseNet, x: Float32Array, rows: number, backend: BackendChoice = 'auto'): Promise<Float32Array> {
  const { tf } = await loadTf(backend);
  const k = net.featureNames.length;
  const task = net.task ?? 'binary';
  const out = tf.tidy(() => {
    let h: import('@tensorflow/tfjs').Tensor2D = tf.tensor2d(x, [rows, k]);
    if (net.normalize) h = tf.div(tf.sub(h, tf.tensor1d(net.normalize.mean)), tf.tensor1d(net.normalize.std.map((s) => s || 1)));
    const input = h;
    for (const layer of net.layers) {
      h = tf.add(tf.matMul(h, tf.tensor2d(layer.weights)), tf.tensor1d(layer.bias));
      if (layer.activation === 'relu') h = tf.relu(h);
      else if (layer.activation === 'sigmoid') h = tf.sigmoid(h);
      else if (layer.activation === 'tanh') h = tf.tanh(h);
      else if (layer.activation === 'softmax') h = tf.softmax(h);
    }
    if (task === 'anomaly') return tf.mean(tf.square(tf.sub(input, h)), 1, true);
    return task === 'binary' && h.shape[1] === 2 ? tf.slice(h, [0, 1], [rows, 1]) : h;
  });
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}
