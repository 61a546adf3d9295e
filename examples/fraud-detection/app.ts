/**
 * Fraud detection, declared in TypeScript: a training pipeline, a served model with a canary
 * rollout, and a drift monitor that retrains with the pipeline when live traffic drifts.
 *
 *   npx ghosteam synth examples/fraud-detection/app.ts --out dist    # Argo + KServe + ghosteam YAML
 *   npx ghosteam run examples/fraud-detection/app.ts                 # the pipeline, locally
 *
 * The default export receives a fresh cdk8s App and adds one chart to it (see charts/synth.ts).
 */
import { Chart, type App } from 'cdk8s';
import { Autoscaling, DriftMonitor, Feature, Model, PayloadLogging, Retrain, Rollout } from '../../charts/index.ts';
import { Cache, Gpu, Pipeline, Resources, Retry, Schedule } from '../../pipelines/index.ts';
import { FEATURES, ensureExampleData } from './data.ts';

export const MODEL_NAME = 'fraud';
export const LABEL = 'is_fraud';
export const NAMESPACE = 'fraud';

/** ingest → validate → split → train (GPU) → evaluate → gate → export-onnx → register. */
export function trainingPipeline(chart: Chart): Pipeline {
  const p = new Pipeline(chart, 'fraud-train', {
    description: 'Trains the card-fraud classifier and registers it when it beats the quality gate',
    schedule: Schedule.cron('0 3 * * 1', { timezone: 'UTC' }),
  });
  const data = p.param('data', { type: 'string', default: 'data/fraud/reference.csv', description: 'Training data (CSV, JSON Lines or Parquet)' });
  const epochs = p.param('epochs', { type: 'number', default: 10, description: 'Training epochs' });
  const quality = p.param('gate', { type: 'json', default: { rocAuc: '>= 0.80' }, description: 'Quality gate: { metric: rule } on evaluation metrics' });

  const ingest = p.component('ingest', 'ingest', { params: { path: data } });
  const validate = p.component('validate', 'validate', {
    inputs: { dataset: ingest.output('dataset') },
    params: {
      schema: {
        columns: { [LABEL]: { allowed: [0, 1], nullable: false }, amount_log: { nullable: false } },
        rows: { min: 1000 },
      },
    },
  });
  const split = p.component('split', 'split', {
    inputs: { dataset: ingest.output('dataset') },
    params: { stratify: LABEL, testFraction: 0.2, seed: 7 },
    after: [validate],
  });
  const train = p.component('train', 'train-tabular', {
    inputs: { train: split.output('train') },
    params: { label: LABEL, model: 'mlp', hidden: [32, 16], epochs, batchSize: 512, l2: 0.001, seed: 7 },
    resources: Resources.of({ cpu: '4', memory: '8Gi', gpu: Gpu.count(1, { product: 'nvidia-a100' }) }),
    retry: Retry.onFailure({ limit: 2, backoff: '30s', maxBackoff: '5m' }),
    timeout: '2h',
  });
  const evaluate = p.component('evaluate', 'evaluate', {
    inputs: { model: train.output('model'), test: split.output('test') },
  });
  const gate = p.component('gate', 'gate', {
    inputs: { metrics: evaluate.output('metrics') },
    params: { gate: quality },
  });
  const passed = gate.outputParam('passed').eq(true);
  const onnx = p.component('export-onnx', 'export-onnx', { inputs: { model: train.output('model') }, when: passed });
  p.component('register', 'register', {
    inputs: { model: onnx.output('onnx'), metrics: evaluate.output('metrics'), dataset: ingest.output('dataset'), trained: train.output('model') },
    params: { name: MODEL_NAME },
    when: passed,
    cache: Cache.disabled(),
    retry: Retry.onFailure({ limit: 3, backoff: '10s' }),
  });
  return p;
}

export default function fraudDetection(app: App): void {
  // The seeded example data, generated on first use (a fresh clone has none; the demo writes its own).
  ensureExampleData(process.cwd());
  const chart = new Chart(app, 'fraud-detection', { namespace: NAMESPACE });
  const training = trainingPipeline(chart);

  const model = new Model(chart, 'fraud', {
    registry: MODEL_NAME,
    resources: Resources.of({ cpu: '1', memory: '1Gi' }),
    autoscaling: Autoscaling.of({ minReplicas: 1, maxReplicas: 4, targetConcurrency: 16 }),
    rollout: Rollout.canary({ steps: [10, 50, 100], interval: '1m', maxErrorRate: 0.01, maxP99LatencyMs: 50, maxPredictionDrift: 0.25, minRequests: 200 }),
    payloadLogging: PayloadLogging.enabled({ mode: 'all' }),
  });

  new DriftMonitor(chart, 'fraud-drift', {
    model,
    reference: 'data/fraud/reference.csv',
    features: FEATURES.map((f) => Feature.numerical(f)),
    test: 'auto',
    driftShare: 0.3,
    window: '1h',
    minSamples: 500,
    schedule: Schedule.cron('*/10 * * * *'),
    // Retraining learns from the most recent labelled period, not the reference one.
    retrain: Retrain.withPipeline(training, { cooldown: '6h', params: { data: 'data/fraud/recent.csv' } }),
  });
}
