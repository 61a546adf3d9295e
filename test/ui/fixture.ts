// A real local state for the UI tests: the operator's LocalStore (the same code `ghosteam operator
// --local` writes with), a LocalRegistry with versions registered by a real pipeline run of the
// local engine, and that run's record.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { Artifact, Pipeline } from '../../pipelines/index.ts';
import { runPipeline } from '../../pipelines/local/index.ts';
import type { RunRecord } from '../../pipelines/local/types.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { LocalStore } from '../../controllers/runtime/local-store.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import type { DriftMonitorStatus } from '../../api/crds/types.ts';

export const NS = 'fraud';
export const MODEL = 'fraud-model';
export const REGISTERED = 'fraud';
/** A registered model no Model serves (a pipeline registered it; nothing serves it yet). */
export const UNSERVED = 'churn';

export interface UiFixture {
  readonly dir: string;
  readonly stateDir: string;
  readonly registryDir: string;
  readonly runsRoot: string;
  readonly store: LocalStore;
  readonly registry: LocalRegistry;
  readonly run: RunRecord;
  /** Moves the canary to the given step and traffic, with one more analysis result (what the operator does). */
  step(stepIndex: number, trafficPercent: number, passed?: boolean): Promise<void>;
  close(): void;
}

export async function uiFixture(dir: string): Promise<UiFixture> {
  const stateDir = join(dir, 'state');
  const registryDir = join(dir, 'registry');
  const runsRoot = join(dir, 'repo', '.ghosteam');
  await mkdir(join(dir, 'repo'), { recursive: true });

  // A real run of the local engine: two command steps, the second writing a model file.
  const p = new Pipeline(new Chart(new App(), 'c'), 'fraud-train');
  const prep = p.task('prep', { image: 'node:20', command: ['node', '-e', "console.log('prepared 100 rows')"] });
  p.task('train', {
    image: 'node:20',
    command: ['node', '-e', "require('fs').writeFileSync(process.env.GHOSTEAM_OUTPUT_MODEL, 'onnx-bytes'); console.log('trained')"],
    outputs: { model: Artifact.model() },
    after: [prep],
  });
  const run = await runPipeline(p.toSpec(), { storeDir: runsRoot, cwd: join(dir, 'repo'), runId: 'fraud-train-r1', cache: false });
  if (run.status !== 'Succeeded') throw new Error(`fixture run failed: ${JSON.stringify(run.nodes, null, 1)}`);

  const registry = new LocalRegistry({ dir: registryDir });
  const model = join(dir, 'model.onnx');
  for (const [v, auc] of [
    [1, 0.81],
    [2, 0.86],
  ] as const) {
    await writeFile(model, `model v${v}`);
    await registry.registerVersion(REGISTERED, {
      artifactPath: model,
      format: 'onnx',
      metrics: { rocAuc: auc },
      params: { epochs: String(5 * v) },
      lineage: {
        runId: v === 2 ? run.id : `older-run-${v}`,
        pipeline: 'fraud-train',
        datasetDigest: `sha256:${'ab'.repeat(32)}`,
        gitCommit: 'a'.repeat(40),
        reason: v === 2 ? 'drift' : 'manual',
        task: 'register',
      },
    });
  }
  await registry.setAlias(REGISTERED, 'champion', 1);
  await writeFile(model, 'churn v1');
  await registry.registerVersion(UNSERVED, {
    artifactPath: model,
    format: 'onnx',
    metrics: { accuracy: 0.91 },
    params: { maxDepth: '6' },
    lineage: { runId: run.id, pipeline: 'churn-train', reason: 'manual', task: 'register' },
  });

  const store = await LocalStore.open({ stateDir });
  const created = await store.create(TYPES.Model, {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'Model',
    metadata: { name: MODEL, namespace: NS },
    spec: { modelRef: { name: REGISTERED } },
  });
  const analysis: unknown[] = [];
  const setStatus = async (status: Record<string, unknown>) => {
    const cur = (await store.get(TYPES.Model, NS, MODEL)) ?? created;
    await store.replaceStatus(TYPES.Model, { ...cur, status });
  };
  const step = async (stepIndex: number, trafficPercent: number, passed = true) => {
    analysis.push({
      step: stepIndex,
      version: 2,
      trafficPercent,
      checkedAt: new Date(Date.UTC(2026, 11, 2, 4, analysis.length)).toISOString(),
      passed,
      requests: 120 * (analysis.length + 1),
      errorRate: 0.002,
      p99LatencyMs: 7.5,
    });
    await setStatus({
      phase: 'Progressing',
      stableVersion: 1,
      canaryVersion: 2,
      stepIndex,
      trafficPercent,
      analysis: [...analysis],
      rollout: { phase: 'Progressing', reason: 'StepPassed', message: `canary v2 at ${trafficPercent}%` },
      conditions: [
        { type: 'Progressing', status: 'True', reason: 'StepPassed', message: `canary v2 at ${trafficPercent}%`, lastTransitionTime: new Date().toISOString() },
      ],
    });
  };
  await step(0, 10);
  await store.create(TYPES.TrainingRun, {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name: 'fraud-train-drift-1', namespace: NS, creationTimestamp: '2026-12-02T04:00:00Z' },
    spec: { pipeline: 'fraud-train', reason: 'drift', specHash: `sha256:${'cd'.repeat(32)}`, model: REGISTERED },
    status: { phase: 'Succeeded', registeredVersion: 2 },
  });
  return { dir, stateDir, registryDir, runsRoot, store, registry, run, step, close: () => store.close() };
}

// A DriftMonitor of the Model, its status as the drift reconciler writes it: the last check found
// drift in one of two features (histograms kept), three checks of history, quality under its floor.
export const MONITOR = 'fraud-drift';
export const at = (m: number) => new Date(Date.UTC(2026, 11, 2, 5, m)).toISOString();
export const DRIFT_STATUS: DriftMonitorStatus = {
  lastCheckTime: at(30),
  nextCheckTime: at(45),
  samples: 640,
  datasetDrift: true,
  driftShare: 0.5,
  features: [
    {
      name: 'amount',
      test: 'psi',
      statistic: 0.412,
      threshold: 0.2,
      drifted: true,
      histogram: { kind: 'numeric', edges: [0, 50, 100, 150], reference: [0.6, 0.3, 0.1], current: [0.2, 0.3, 0.5] },
    },
    {
      name: 'channel',
      test: 'chi2',
      statistic: 1.2,
      pValue: 0.55,
      threshold: 0.05,
      drifted: false,
      histogram: { kind: 'categorical', categories: ['web', 'pos', '(other)'], reference: [0.5, 0.4, 0.1], current: [0.52, 0.38, 0.1] },
    },
  ],
  history: [
    { time: at(0), samples: 600, driftShare: 0, datasetDrift: false, quality: 0.91, qualityBreached: false },
    { time: at(15), samples: 620, driftShare: 0, datasetDrift: false, quality: 0.88, qualityBreached: false },
    { time: at(30), samples: 640, driftShare: 0.5, datasetDrift: true, quality: 0.83, qualityBreached: true },
  ],
  quality: { metric: 'accuracy', version: 1, value: 0.83, samples: 300, threshold: 0.85, breached: true, breachedSince: at(30) },
  lastTriggeredRun: 'fraud-drift-20261202t0530',
  lastTriggeredAt: at(30),
  conditions: [
    { type: 'Ready', status: 'True', reason: 'Checked', message: 'drift in 1 of 2 features', lastTransitionTime: at(30) },
    { type: 'Degraded', status: 'True', reason: 'DriftDetected', message: 'drift in 1 of 2 features (amount)', lastTransitionTime: at(30) },
  ],
};

/** Creates the DriftMonitor with DRIFT_STATUS in the store. */
export async function addDriftMonitor(store: LocalStore): Promise<void> {
  const created = await store.create(TYPES.DriftMonitor, {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'DriftMonitor',
    metadata: { name: MONITOR, namespace: NS },
    spec: {
      model: MODEL,
      reference: { uri: 'data/reference.parquet', format: 'parquet' },
      features: [
        { name: 'amount', type: 'numerical' },
        { name: 'channel', type: 'categorical' },
      ],
      test: 'auto',
      thresholds: { driftShare: 0.5 },
      window: { seconds: 3600, minSamples: 100 },
      schedule: '*/15 * * * *',
      quality: { metric: 'accuracy', threshold: 0.85, forSeconds: 0, minSamples: 100 },
      action: { retrain: { pipeline: 'fraud-train', cooldownSeconds: 3600 } },
    },
  });
  await store.replaceStatus(TYPES.DriftMonitor, { ...created, status: DRIFT_STATUS });
}
