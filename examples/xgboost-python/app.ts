/**
 * Bring your own training step: XGBoost in Python as a container component, between ghosteam's
 * built-in steps. `train.py` reads the datasets `split` wrote with pandas, trains, exports ONNX with
 * onnxmltools and writes metrics; the built-in `gate` checks them, `register` records the model, and
 * the `Model` serves it.
 *
 *   npx ghosteam run examples/xgboost-python/app.ts     # locally: python from examples/xgboost-python/.venv
 *   npx ghosteam synth examples/xgboost-python/app.ts   # Argo WorkflowTemplate + KServe + ghosteam YAML
 *
 * Locally the step runs `python train.py` in this folder with the virtual environment named below
 * (create it with `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt`, or point
 * XGB_VENV at one); in a cluster it runs in `image`, built from this folder (see Dockerfile).
 */
import { Chart, type App } from 'cdk8s';
import { Model, Rollout } from '../../charts/index.ts';
import { Cache, ContainerComponent, Pipeline, Resources } from '../../pipelines/index.ts';
import { ensureExampleData } from '../fraud-detection/data.ts';

export const MODEL_NAME = 'fraud-xgb';

/** Defined once; any pipeline can use it. */
export const trainXgboost = ContainerComponent.define({
  name: 'train-xgboost',
  version: '1',
  description: 'XGBoost binary classifier, exported to ONNX with onnxmltools',
  image: 'ghcr.io/ghosteam/examples-xgboost:0.1.0',
  command: ['python', 'train.py'],
  inputs: { train: 'dataset', test: 'dataset' },
  outputs: { model: { kind: 'model', description: 'model.onnx' }, metrics: 'metrics', predictions: 'file' },
  params: {
    label: { type: 'string' },
    rounds: { type: 'number', default: 200, min: 1 },
    maxDepth: { type: 'number', default: 2, min: 1, max: 16 },
    learningRate: { type: 'number', default: 0.1, min: 0.001, max: 1 },
    seed: { type: 'number', default: 7 },
  },
  outputParams: ['auc', 'rows', 'features'],
  resources: Resources.of({ cpu: '2', memory: '2Gi' }),
  local: { venv: process.env.XGB_VENV ?? '.venv' },
});

export function xgboostPipeline(chart: Chart): Pipeline {
  const p = new Pipeline(chart, 'fraud-xgb-train', {
    description: 'Trains the fraud classifier with XGBoost (Python) and registers it when it passes the gate',
  });
  const data = p.param('data', { type: 'string', default: 'data/fraud/reference.csv' });
  const rounds = p.param('rounds', { type: 'number', default: 200 });
  const ingest = p.component('ingest', 'ingest', { params: { path: data } });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') }, params: { stratify: 'is_fraud', testFraction: 0.2, seed: 7 } });
  const train = p.component('train', trainXgboost, {
    inputs: { train: split.output('train'), test: split.output('test') },
    params: { label: 'is_fraud', rounds },
  });
  const gate = p.component('gate', 'gate', { inputs: { metrics: train.output('metrics') }, params: { gate: { auc: '>= 0.78' } } });
  const passed = gate.outputParam('passed').eq(true);
  p.component('register', 'register', {
    inputs: { model: train.output('model'), metrics: train.output('metrics'), dataset: ingest.output('dataset') },
    params: { name: MODEL_NAME },
    when: passed,
    cache: Cache.disabled(),
  });
  return p;
}

export default function xgboostApp(app: App): void {
  ensureExampleData(process.cwd());
  const chart = new Chart(app, 'fraud-xgb', { namespace: 'fraud' });
  xgboostPipeline(chart);
  new Model(chart, 'fraud-xgb', {
    registry: MODEL_NAME,
    resources: Resources.of({ cpu: '1', memory: '1Gi' }),
    rollout: Rollout.canary({ steps: [25, 100], interval: '2m' }),
  });
}
