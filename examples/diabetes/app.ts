/**
 * Diabetes progression, a regression example with the built-in steps: 442 patients, 10 baseline
 * variables (age, sex, BMI, blood pressure, six blood serum measurements), and a quantitative measure
 * of disease progression one year later (scikit-learn's copy of the Efron et al. data, unscaled,
 * shipped as diabetes.csv; see DATA.md).
 *
 *   npx ghosteam run examples/diabetes/app.ts      # ingest → validate → split → train → evaluate → gate → export-onnx → register
 *   npx ghosteam synth examples/diabetes/app.ts    # Argo WorkflowTemplate + KServe + ghosteam YAML
 *
 * train-tabular fits a linear model (task 'regression', on standardised inputs and target, folded
 * back into the label's units); evaluate writes rmse, mae and r2; the gate names regression metrics
 * (checked at synth time); the served ONNX model answers with the predicted progression.
 */
import { fileURLToPath } from 'node:url';
import { Chart, type App } from 'cdk8s';
import { Model, Rollout } from '../../charts/index.ts';
import { Cache, Pipeline, Resources } from '../../pipelines/index.ts';
import { ensureShippedData } from '../shipped-data.ts';

export const MODEL_NAME = 'diabetes';
export const LABEL = 'target';
/** Where the app reads its data, relative to the directory `ghosteam run` starts in (copied there from this folder). */
export const DIABETES_CSV = 'data/diabetes/diabetes.csv';
export const SHIPPED_CSV = new URL('./diabetes.csv', import.meta.url);

export function diabetesPipeline(chart: Chart): Pipeline {
  const p = new Pipeline(chart, 'diabetes-train', { description: 'Trains the diabetes progression regressor and registers it when it passes the gate' });
  const data = p.param('data', { type: 'string', default: DIABETES_CSV, description: 'Training data (CSV)' });
  const epochs = p.param('epochs', { type: 'number', default: 100, description: 'Training epochs' });
  const quality = p.param('gate', { type: 'json', default: { r2: '>= 0.3', rmse: '<= 65' }, description: 'Quality gate on the regression metrics' });

  const ingest = p.component('ingest', 'ingest', { params: { path: data } });
  const validate = p.component('validate', 'validate', {
    inputs: { dataset: ingest.output('dataset') },
    params: { schema: { columns: { [LABEL]: { min: 0, nullable: false }, bmi: { nullable: false } }, rows: { min: 100 } } },
  });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') }, params: { testFraction: 0.25, seed: 7 }, after: [validate] });
  const train = p.component('train', 'train-tabular', {
    inputs: { train: split.output('train') },
    params: { label: LABEL, task: 'regression', model: 'linear', epochs, batchSize: 32, learningRate: 0.01, seed: 7 },
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

export default function diabetesApp(app: App): void {
  ensureShippedData(fileURLToPath(SHIPPED_CSV), process.cwd(), DIABETES_CSV);
  const chart = new Chart(app, 'diabetes', { namespace: 'diabetes' });
  diabetesPipeline(chart);
  new Model(chart, 'diabetes', {
    registry: MODEL_NAME,
    resources: Resources.of({ cpu: '500m', memory: '512Mi' }),
    rollout: Rollout.canary({ steps: [50, 100], interval: '1m' }),
  });
}
