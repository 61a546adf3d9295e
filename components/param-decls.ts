/**
 * The params every built-in component reads, declared once: the component passes its entry to
 * `Params` (reading an undeclared param throws) and pipelines/catalog.ts hands it to the synth-time
 * checks (pipelines/check.ts). Plain data, no dependencies, so both the DSL and the components image
 * load it without the components' heavy modules.
 */
import type { ParamDecl } from './component.ts';
import { TEST_NAMES } from './drift/types.ts';

type Decls = Readonly<Record<string, ParamDecl>>;

/** train-tabular's epochs when the task does not set them (also what an epoch budget counts a trial as). */
export const TRAIN_TABULAR_DEFAULT_EPOCHS = 20;

export const PARAMS = {
  ingest: {
    path: { type: 'string' },
    format: { type: 'string', enum: ['auto', 'csv', 'jsonl', 'parquet'] },
    delimiter: { type: 'string' },
    types: { type: 'json' },
    columns: { type: 'list' },
    query: { type: 'string' },
    freshness: { type: 'string' },
    headers: { type: 'json' },
    group: { type: 'string' },
    from: { type: 'string' },
    offsets: { type: 'json' },
  },
  validate: { schema: { type: 'json' }, suite: { type: 'json' }, maxFailureRate: { type: 'number', min: 0, max: 1 }, failOnViolation: { type: 'boolean' } },
  split: { testFraction: { type: 'number', min: 0, max: 1 }, seed: { type: 'number', integer: true }, stratify: { type: 'string' } },
  'train-tabular': {
    task: { type: 'string', enum: ['binary', 'multiclass', 'regression', 'anomaly'] },
    label: { type: 'string' },
    positive: { type: 'string' },
    features: { type: 'list' },
    model: { type: 'string', enum: ['logistic', 'linear', 'mlp'] },
    hidden: { type: 'list' },
    epochs: { type: 'number', integer: true, min: 1 },
    batchSize: { type: 'number', integer: true, min: 1 },
    learningRate: { type: 'number', min: 0 },
    l2: { type: 'number', min: 0 },
    seed: { type: 'number', integer: true },
    backend: { type: 'string', enum: ['auto', 'tensorflow', 'wasm', 'cpu'] },
    validationFraction: { type: 'number', min: 0, max: 1 },
  },
  evaluate: {
    threshold: { type: 'number', min: 0, max: 1 },
    bins: { type: 'number', integer: true, min: 1 },
    gate: { type: 'json' },
    label: { type: 'string' },
    positive: { type: 'string' },
  },
  gate: { gate: { type: 'json' }, failOnReject: { type: 'boolean' } },
  'export-onnx': { inputName: { type: 'string' }, outputName: { type: 'string' } },
  register: {
    name: { type: 'string' },
    alias: { type: 'string' },
    tags: { type: 'json' },
    registry: { type: 'string' },
    format: { type: 'string' },
    datasetDigest: { type: 'string' },
    reason: { type: 'string' },
    runId: { type: 'string' },
    pipeline: { type: 'string' },
    gitCommit: { type: 'string' },
  },
  'sweep-controller': { spec: { type: 'json' }, state: { type: 'string' }, results: { type: 'string' } },
  'get-historical-features': {
    views: { type: 'json' },
    features: { type: 'list' },
    timestampColumn: { type: 'string' },
    fullFeatureNames: { type: 'boolean' },
  },
  'materialize-features': { view: { type: 'string' }, spec: { type: 'json' }, start: { type: 'string' }, end: { type: 'string' } },
  'optimize-onnx': {
    model: { type: 'string' },
    modelName: { type: 'string' },
    mode: { type: 'string', enum: ['graph', 'int8', 'fp16'] },
    level: { type: 'string', enum: ['disabled', 'basic', 'extended', 'all'] },
    label: { type: 'string' },
    features: { type: 'list' },
    metric: { type: 'string', enum: ['roc_auc', 'accuracy', 'rmse', 'mae'] },
    maxMetricDrop: { type: 'number', min: 0 },
    dims: { type: 'json' },
    latency: { type: 'boolean' },
    threads: { type: 'number', integer: true, min: 1 },
    name: { type: 'string' },
    alias: { type: 'string' },
    tags: { type: 'json' },
    registry: { type: 'string' },
  },
  'batch-predict': {
    model: { type: 'string' },
    input: { type: 'string' },
    output: { type: 'string' },
    idColumns: { type: 'list' },
    features: { type: 'list' },
    payloadLog: { type: 'string' },
    payloadSample: { type: 'number', min: 0, max: 1 },
    batchRows: { type: 'number', integer: true, min: 1 },
    threads: { type: 'number', integer: true, min: 1 },
    overwrite: { type: 'boolean' },
    registry: { type: 'string' },
    runTime: { type: 'string' },
    format: { type: 'string', enum: ['csv', 'jsonl', 'parquet', 'arrow'] },
    query: { type: 'string' },
    headers: { type: 'json' },
  },
  drift: {
    tests: { type: 'string', enum: ['auto', ...TEST_NAMES] },
    driftShare: { type: 'number', min: 0, max: 1 },
    correction: { type: 'string', enum: ['none', 'bonferroni', 'fdr'] },
    bins: { type: 'number', integer: true, min: 2, max: 10000 },
    columns: { type: 'list' },
    failOnDrift: { type: 'boolean' },
  },
} as const satisfies Record<string, Decls>;
