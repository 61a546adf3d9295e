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
 * Progress: ctx.progress({ epoch, epochs, loss }) after each epoch.
 * Output: `model`, a JSON ModelArtifact whose `net` is the DenseNet the ONNX writer consumes.
 * Output params: finalLoss, backend, rows, task.
 */
import writeFileAtomic from 'write-file-atomic';
import { defineComponent } from '../component.ts';
import { readDataset } from '../dataset/index.ts';
import { Params, ParamError } from '../params.ts';
import { PARAMS } from '../param-decls.ts';
import type { BackendChoice } from './backend.ts';
import { classesOf, classVector, defaultFeatures, featureMatrix, inferTask, labelInfo, labelVector, regressionVector, TASKS, type Task } from './features.ts';
import { MODEL_FORMAT, type ModelArtifact } from './model.ts';
import { trainDenseNet } from './train.ts';

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
  inputs: [{ name: 'train', kind: 'dataset' }],
  outputs: [{ name: 'model', kind: 'model', description: 'ModelArtifact JSON (DenseNet + metadata)' }],
  outputParams: ['finalLoss', 'backend', 'rows', 'task'],
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
      epochs: p.number('epochs', 20, { min: 1, integer: true }),
      batchSize: p.number('batchSize', 256, { min: 1, integer: true }),
      learningRate: p.number('learningRate', 0.01, { min: 0 }),
      l2: p.number('l2', 0, { min: 0 }),
      seed: p.number('seed', 42, { integer: true }),
      backend: p.oneOf<BackendChoice>('backend', ['auto', 'tensorflow', 'wasm', 'cpu'], 'auto'),
    } as const;
    const x = featureMatrix(ds, features, where);
    let y: Float32Array;
    let positive: string | undefined;
    let classes: string[] | undefined;
    if (task === 'binary') {
      const info = labelInfo(ds, label!, p.string('positive', undefined), where);
      positive = info.positive;
      y = labelVector(ds, info, where);
    } else if (task === 'multiclass') {
      classes = classesOf(ds, label!, where);
      y = classVector(ds, label!, classes, where);
    } else if (task === 'regression') y = regressionVector(ds, label!, where);
    else y = new Float32Array(0);
    const r = await trainDenseNet(x, y, ds.rows, features, {
      ...opts,
      task,
      ...(classes ? { classes } : {}),
      signal: ctx.signal,
      onEpoch: (epoch, epochs, loss) => ctx.progress({ epoch, epochs, loss }),
    });
    const artifact: ModelArtifact = {
      format: MODEL_FORMAT,
      net: r.net,
      task,
      ...(label !== undefined ? { label } : {}),
      ...(positive !== undefined ? { positive } : {}),
      ...(classes ? { classes } : {}),
      training: {
        rows: ds.rows,
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
    ctx.log(
      `trained ${kind} (${task}${classes ? `, ${classes.length} classes` : ''}) on ${ds.rows} rows × ${features.length} features, ${opts.epochs} epochs on ${r.backend} in ${(r.durationMs / 1000).toFixed(2)} s; final loss ${finalLoss.toFixed(4)}`,
    );
    ctx.setOutput('finalLoss', finalLoss);
    ctx.setOutput('backend', r.backend);
    ctx.setOutput('rows', ds.rows);
    ctx.setOutput('task', task);
  },
});
