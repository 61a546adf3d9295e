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

export const NS = 'fraud';
export const MODEL = 'fraud-model';
export const REGISTERED = 'fraud';

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
