/**
 * train-tabular: trains a tabular model with TensorFlow.js — a one-layer model or a dense MLP (ReLU
 * hidden layers), Adam, standardised inputs — for one of four tasks:
 *   binary      sigmoid output, the positive class's probability
 *   multiclass  softmax over the classes (categories, strings, or a few distinct integers)
 *   regression  a linear output in the label's units (mean squared error)
 *   anomaly     an autoencoder trained on the features only; its score is the reconstruction error
 *
 * Params:
 *   task           'binary' | 'multiclass' | 'regression' | 'anomaly' (default: inferred from the
 *                  label, see inferTask: none → anomaly; boolean/0-1/2 categories → binary; more
 *                  categories, strings or 3..20 integers → multiclass; other numbers → regression)
 *   label          label column — required except for anomaly (where it is only kept out of the features)
 *   positive       binary: the label value read as class 1 (default: true / 1 / the second category, sorted)
 *   features       feature columns (list; default every numeric and boolean column but the label)
 *   model          'logistic' | 'linear' | 'mlp' (default 'logistic'; 'mlp' for anomaly, which needs hidden layers)
 *   hidden         MLP hidden sizes (list, default [32,16]; anomaly: [max(2, ceil(features/2))])
 *   epochs (20), batchSize (256), learningRate (0.01), l2 (0), seed (42)
 *   backend        'auto' | 'tensorflow' | 'wasm' | 'cpu' (default auto: tfjs-node-gpu, wasm, cpu)
 *   validationFraction  the share of the `train` rows held out (a seeded draw, never trained on) to
 *                  report a validation loss per epoch (default 0: none); or give the optional
 *                  `validation` input (a dataset of its own; not both)
 * Progress: ctx.progress({ epoch, epochs, loss, valLoss }) after each epoch (valLoss only with
 * a validation slice): the held-out loss is what early stopping of a sweep should judge.
 * Output: `model`, a JSON ModelArtifact whose `net` is the DenseNet the ONNX writer consumes.
 * Output params: finalLoss, valLoss (the last epoch's validation loss; null without a slice),
 * backend, rows (the rows trained on), task.
 */
import writeFileAtomic from 'write-file-atomic';
import { defineComponent } from '../component.ts';
import { readDataset } from '../dataset/index.ts';
import { Params, ParamError } from '../params.ts';
import { PARAMS, TRAIN_TABULAR_DEFAULT_EPOCHS } from '../param-decls.ts';
import type { BackendChoice } from './backend.ts';
import { classesOf, classVector, defaultFeatures, featureMatrix, inferTask, labelInfo, labelVector, regressionVector, TASKS, type Task } from './features.ts';
import { MODEL_FORMAT, type ModelArtifact } from './model.ts';
import { trainDenseNet } from './train.ts';
import { mulberry32, shuffleInPlace } from '../random.ts';

export { loadTf } from './backend.ts';
export {
  predictDenseNet,
  forwardDenseNet,
  featureMatrix,
  labelVector,
  labelInfo,
  defaultFeatures,
  inferTask,
  classesOf,
  TASKS,
  type Task,
} from './features.ts';
export { readModel, MODEL_FORMAT, type ModelArtifact } from './model.ts';
export { trainDenseNet, predictWithTf, type TrainOptions, type TrainResult } from './train.ts';

export const trainTabular = defineComponent({
  name: 'train-tabular',
  version: '2',
  description:
    'Trains a binary, multiclass, regression or anomaly (autoencoder) model: one layer or a dense MLP (TensorFlow.js; tfjs-node-gpu, wasm or cpu backend)',
  inputs: [
    { name: 'train', kind: 'dataset' },
    { name: 'validation', kind: 'dataset', optional: true },
  ],
  outputs: [{ name: 'model', kind: 'model', description: 'ModelArtifact JSON (DenseNet + metadata)' }],
  outputParams: ['finalLoss', 'valLoss', 'backend', 'rows', 'task'],
  params: PARAMS['train-tabular'],
  async run(ctx) {
    const p = new Params('train-tabular', ctx, PARAMS['train-tabular']);
    const where = 'train-tabular';
    const ds = await readDataset(p.input('train'));
    const givenTask = p.has('task') ? p.oneOf<Task>('task', TASKS, 'binary') : undefined;
    const label = p.string('label', undefined);
    if (label === undefined && givenTask !== undefined && givenTask !== 'anomaly')
      throw new ParamError(`${where}: param 'label' is required for task '${givenTask}'; name the label column, or use task 'anomaly' to train without labels`);
    const inferred = givenTask === undefined ? inferTask(ds, label) : undefined;
    const task: Task = givenTask ?? inferred!.task;
    if (inferred) ctx.log(`task ${task}: ${inferred.why} (set param task to choose)`);
    const features = p.has('features') ? p.list('features') : defaultFeatures(ds, label ?? '');
    if (label !== undefined && features.includes(label)) throw new ParamError(`${where}: the label '${label}' is also listed in 'features'; remove it`);
    const kind = p.oneOf('model', ['logistic', 'linear', 'mlp'], task === 'anomaly' ? 'mlp' : 'logistic');
    if (task === 'anomaly' && kind !== 'mlp')
      throw new ParamError(`${where}: task 'anomaly' trains an autoencoder, which needs hidden layers; set model to 'mlp' (or leave it out)`);
    const hidden = p.has('hidden')
      ? p.list('hidden').map((h) => {
          const n = Number(h);
          if (!Number.isInteger(n) || n < 1) throw new ParamError(`${where}: param 'hidden' must list positive integers, got '${h}'`);
          return n;
        })
      : task === 'anomaly'
        ? [Math.max(2, Math.ceil(features.length / 2))]
        : [32, 16];
    const opts = {
      kind,
      hidden,
      epochs: p.number('epochs', TRAIN_TABULAR_DEFAULT_EPOCHS, { min: 1, integer: true }),
      batchSize: p.number('batchSize', 256, { min: 1, integer: true }),
      learningRate: p.number('learningRate', 0.01, { min: 0 }),
      l2: p.number('l2', 0, { min: 0 }),
      seed: p.number('seed', 42, { integer: true }),
      backend: p.oneOf<BackendChoice>('backend', ['auto', 'tensorflow', 'wasm', 'cpu'], 'auto'),
    } as const;
    const fraction = p.number('validationFraction', 0, { min: 0 });
    if (fraction >= 1)
      throw new ParamError(`${where}: param 'validationFraction' is ${fraction}; give a share below 1 (e.g. 0.2), or 0 for no validation slice`);
    const valPath = ctx.inputs.validation;
    if (valPath && fraction > 0)
      throw new ParamError(`${where}: both the 'validation' input and param 'validationFraction' are given; use one source of held-out rows`);
    let x = featureMatrix(ds, features, where);
    let y: Float32Array;
    let positive: string | undefined;
    let classes: string[] | undefined;
    let vds: Awaited<ReturnType<typeof readDataset>> | undefined;
    if (valPath) vds = await readDataset(valPath);
    const vwhere = `${where} (validation input)`;
    let vy: Float32Array = new Float32Array(0);
    if (task === 'binary') {
      const info = labelInfo(ds, label!, p.string('positive', undefined), where);
      positive = info.positive;
      y = labelVector(ds, info, where);
      if (vds) vy = labelVector(vds, info, vwhere);
    } else if (task === 'multiclass') {
      classes = classesOf(ds, label!, where);
      y = classVector(ds, label!, classes, where);
      if (vds) vy = classVector(vds, label!, classes, vwhere);
    } else if (task === 'regression') {
      y = regressionVector(ds, label!, where);
      if (vds) vy = regressionVector(vds, label!, vwhere);
    } else y = new Float32Array(0);
    let rows = ds.rows;
    let validation: { x: Float32Array; y: Float32Array; rows: number } | undefined;
    if (vds) validation = { x: featureMatrix(vds, features, vwhere), y: vy, rows: vds.rows };
    else if (fraction > 0) {
      const held = heldOutRows(ds.rows, fraction, opts.seed);
      if (held.length === 0 || held.length === ds.rows)
        throw new ParamError(
          `${where}: param 'validationFraction' ${fraction} of ${ds.rows} rows holds out ${held.length}; give a share that leaves rows on both sides`,
        );
      const parts = splitRows(x, y, features.length, task, held);
      x = parts.train.x;
      y = parts.train.y;
      rows = parts.train.rows;
      validation = parts.validation;
    }
    const r = await trainDenseNet(x, y, rows, features, {
      ...opts,
      task,
      ...(classes ? { classes } : {}),
      ...(validation ? { validation } : {}),
      signal: ctx.signal,
      onEpoch: (epoch, epochs, loss, valLoss) => ctx.progress({ epoch, epochs, loss, ...(valLoss !== undefined ? { valLoss } : {}) }),
    });
    const artifact: ModelArtifact = {
      format: MODEL_FORMAT,
      net: r.net,
      task,
      ...(label !== undefined ? { label } : {}),
      ...(positive !== undefined ? { positive } : {}),
      ...(classes ? { classes } : {}),
      training: {
        rows,
        ...(validation ? { validationRows: validation.rows, valLosses: r.valLosses } : {}),
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        learningRate: opts.learningRate,
        seed: opts.seed,
        ...(kind === 'mlp' ? { hidden } : {}),
        backend: r.backend,
        losses: r.losses,
        durationMs: Math.round(r.durationMs),
      },
    };
    await writeFileAtomic(p.output('model'), JSON.stringify(artifact) + '\n');
    const finalLoss = r.losses[r.losses.length - 1];
    const valLoss = r.valLosses.length ? r.valLosses[r.valLosses.length - 1] : null;
    ctx.log(
      `trained ${kind} (${task}${classes ? `, ${classes.length} classes` : ''}) on ${rows} rows × ${features.length} features, ${opts.epochs} epochs on ${r.backend} in ${(r.durationMs / 1000).toFixed(2)} s; final loss ${finalLoss.toFixed(4)}${valLoss !== null ? `, validation loss ${valLoss.toFixed(4)} on ${validation!.rows} held-out rows` : ''}`,
    );
    ctx.setOutput('finalLoss', finalLoss);
    ctx.setOutput('valLoss', valLoss);
    ctx.setOutput('backend', r.backend);
    ctx.setOutput('rows', rows);
    ctx.setOutput('task', task);
  },
});

/** The indices of the rows held out for validation: a seeded draw of round(rows · fraction), ascending. */
export function heldOutRows(rows: number, fraction: number, seed: number): number[] {
  const order = Array.from({ length: rows }, (_, i) => i);
  // Its own stream (the seed's bits flipped), so the trained model's initialisation is not shifted.
  shuffleInPlace(order, mulberry32(seed ^ 0x5bd1e995));
  return order.slice(0, Math.round(rows * fraction)).sort((a, b) => a - b);
}

function splitRows(x: Float32Array, y: Float32Array, k: number, task: Task, held: readonly number[]) {
  const rows = x.length / k;
  const isHeld = new Uint8Array(rows);
  for (const i of held) isHeld[i] = 1;
  const hasY = task !== 'anomaly';
  const tx = new Float32Array((rows - held.length) * k);
  const ty = new Float32Array(hasY ? rows - held.length : 0);
  const vx = new Float32Array(held.length * k);
  const vy = new Float32Array(hasY ? held.length : 0);
  let t = 0;
  let v = 0;
  for (let i = 0; i < rows; i++) {
    if (isHeld[i]) {
      vx.set(x.subarray(i * k, (i + 1) * k), v * k);
      if (hasY) vy[v] = y[i];
      v++;
    } else {
      tx.set(x.subarray(i * k, (i + 1) * k), t * k);
      if (hasY) ty[t] = y[i];
      t++;
    }
  }
  return { train: { x: tx, y: ty, rows: t }, validation: { x: vx, y: vy, rows: v } };
}
