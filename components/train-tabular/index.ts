/**
 * train-tabular: binary classification on a tabular dataset with TensorFlow.js — a logistic
 * regression or a dense MLP (ReLU hidden layers, sigmoid output), Adam, standardised inputs.
 *
 * Params:
 *   label          label column (boolean, 0/1 numeric, or categorical with two classes) — required
 *   positive       the label value read as class 1 (default: true / 1 / the second category, sorted)
 *   features       feature columns (list; default every numeric and boolean column but the label)
 *   model          'logistic' | 'mlp' (default 'logistic')
 *   hidden         MLP hidden sizes (list, default [32,16])
 *   epochs (20), batchSize (256), learningRate (0.01), l2 (0), seed (42)
 *   backend        'auto' | 'tensorflow' | 'wasm' | 'cpu' (default auto: tfjs-node-gpu, wasm, cpu)
 * Progress: ctx.progress({ epoch, epochs, loss }) after each epoch.
 * Output: `model`, a JSON ModelArtifact whose `net` is the DenseNet the ONNX writer consumes.
 * Output params: finalLoss, backend, rows.
 */
import writeFileAtomic from 'write-file-atomic';
import { defineComponent } from '../component.ts';
import { readDataset } from '../dataset/index.ts';
import { Params } from '../params.ts';
import type { BackendChoice } from './backend.ts';
import { defaultFeatures, featureMatrix, labelInfo, labelVector } from './features.ts';
import { MODEL_FORMAT, type ModelArtifact } from './model.ts';
import { trainDenseNet } from './train.ts';

export { loadTf } from './backend.ts';
export { predictDenseNet, featureMatrix, labelVector, labelInfo, defaultFeatures } from './features.ts';
export { readModel, MODEL_FORMAT, type ModelArtifact } from './model.ts';
export { trainDenseNet, predictWithTf, type TrainOptions, type TrainResult } from './train.ts';

export const trainTabular = defineComponent({
  name: 'train-tabular',
  version: '1',
  description: 'Trains a logistic regression or dense MLP (TensorFlow.js; tfjs-node-gpu, wasm or cpu backend)',
  inputs: [{ name: 'train', kind: 'dataset' }],
  outputs: [{ name: 'model', kind: 'model', description: 'ModelArtifact JSON (DenseNet + metadata)' }],
  outputParams: ['finalLoss', 'backend', 'rows'],
  async run(ctx) {
    const p = new Params('train-tabular', ctx);
    const where = 'train-tabular';
    const ds = await readDataset(p.input('train'));
    const label = p.string('label');
    const info = labelInfo(ds, label, p.string('positive', undefined), where);
    const features = p.has('features') ? p.list('features') : defaultFeatures(ds, label);
    if (features.includes(label)) throw new Error(`${where}: the label '${label}' is also listed in 'features'; remove it`);
    const kind = p.oneOf('model', ['logistic', 'mlp'], 'logistic');
    const hidden = p.has('hidden') ? p.list('hidden').map((h) => {
      const n = Number(h);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${where}: param 'hidden' must list positive integers, got '${h}'`);
      return n;
    }) : [32, 16];
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
    const y = labelVector(ds, info, where);
    const r = await trainDenseNet(x, y, ds.rows, features, {
      ...opts,
      signal: ctx.signal,
      onEpoch: (epoch, epochs, loss) => ctx.progress({ epoch, epochs, loss }),
    });
    const artifact: ModelArtifact = {
      format: MODEL_FORMAT,
      net: r.net,
      label,
      positive: info.positive,
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
    ctx.log(`trained ${kind} on ${ds.rows} rows × ${features.length} features, ${opts.epochs} epochs on ${r.backend} in ${(r.durationMs / 1000).toFixed(2)} s; final loss ${finalLoss.toFixed(4)}`);
    ctx.setOutput('finalLoss', finalLoss);
    ctx.setOutput('backend', r.backend);
    ctx.setOutput('rows', ds.rows);
  },
});
