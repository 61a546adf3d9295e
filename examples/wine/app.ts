/**
 * Wine cultivars, a multiclass example with the built-in steps: 178 wines, 13 chemical measurements,
 * 3 cultivars (scikit-learn's copy of the UCI Wine data, shipped as wine.csv; see DATA.md).
 *
 *   npx ghosteam run examples/wine/app.ts      # ingest → validate → split → train → evaluate → gate → export-onnx → register
 *   npx ghosteam synth examples/wine/app.ts    # Argo WorkflowTemplate + KServe + ghosteam YAML
 *
 * train-tabular trains a softmax MLP (task 'multiclass'); evaluate writes accuracy, macroF1, logLoss
 * and a confusion matrix; the gate names metrics a multiclass evaluate produces (checked at synth
 * time); the served ONNX model answers with the three class probabilities.
 */
import { fileURLToPath } from 'node:url';
import { Chart, type App } from 'cdk8s';
import { Model, Rollout } from '../../charts/index.ts';
import { Cache, Pipeline, Resources } from '../../pipelines/index.ts';
import { ensureShippedData } from '../shipped-data.ts';

export const MODEL_NAME = 'wine';
export const LABEL = 'target';
/** Where the app reads its data, relative to the directory `ghosteam run` starts in (copied there from this folder). */
export const WINE_CSV = 'data/wine/wine.csv';
export const SHIPPED_CSV = new URL('./wine.csv', import.meta.url);

export function winePipeline(chart: Chart): Pipeline {
  const p = new Pipeline(chart, 'wine-train', { description: 'Trains the wine cultivar classifier (3 classes) and registers it when it passes the gate' });
  const data = p.param('data', { type: 'string', default: WINE_CSV, description: 'Training data (CSV)' });
  const epochs = p.param('epochs', { type: 'number', default: 60, description: 'Training epochs' });
  const quality = p.param('gate', { type: 'json', default: { accuracy: '>= 0.9', macroF1: '>= 0.9' }, description: 'Quality gate on the multiclass metrics' });

  const ingest = p.component('ingest', 'ingest', { params: { path: data } });
  const validate = p.component('validate', 'validate', {
    inputs: { dataset: ingest.output('dataset') },
    params: { schema: { columns: { [LABEL]: { allowed: [0, 1, 2], nullable: false } }, rows: { min: 100 } } },
  });
  const split = p.component('split', 'split', {
    inputs: { dataset: ingest.output('dataset') },
    params: { stratify: LABEL, testFraction: 0.3, seed: 7 },
    after: [validate],
  });
  const train = p.component('train', 'train-tabular', {
    inputs: { train: split.output('train') },
    params: { label: LABEL, task: 'multiclass', model: 'mlp', hidden: [16], epochs, batchSize: 16, learningRate: 0.01, seed: 7 },
  });
  const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
  const gate = p.component('gate', 'gate', { inputs: { metrics: evaluate.output('metrics') }, params: { gate: quality } });
  const passed = gate.outputParam('passed').eq(true);
  const onnx = p.component('export-onnx', 'export-onnx', { inputs: { model: train.output('model') }, when: passed });
  p.component('register', 'register', {
    inputs: { model: onnx.output('onnx'), metrics: evaluate.output('metrics'), dataset: ingest.output('dataset'), trained: train.output('model') },
    params: { name: MODEL_NAME },
    when: passed,
    cache: Cache.disabled(),
  });
  return p;
}

export default function wineApp(app: App): void {
  ensureShippedData(fileURLToPath(SHIPPED_CSV), process.cwd(), WINE_CSV);
  const chart = new Chart(app, 'wine', { namespace: 'wine' });
  winePipeline(chart);
  new Model(chart, 'wine', {
    registry: MODEL_NAME,
    resources: Resources.of({ cpu: '500m', memory: '512Mi' }),
    rollout: Rollout.canary({ steps: [50, 100], interval: '1m' }),
  });
}
