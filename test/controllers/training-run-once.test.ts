// A TrainingRun registers its model exactly once (#25): the registration passes the registry's
// exactly-once key (lineage.runId + lineage.task), so a reconcile that runs again after a crash
// between the registry commit and the status write, with the registry's version list unavailable,
// gets the same version back instead of a second one. Real local registry and local state store;
// the pipeline backend stands in for a finished Argo Workflow (the operator-kube suite runs the
// whole path against a real API server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRegistry } from '../../components/registry/local.ts';
import type { ModelRegistry } from '../../components/registry/types.ts';
import { LocalStore } from '../../controllers/runtime/local-store.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import { silentLogger } from '../../controllers/runtime/log.ts';
import { reconcileTrainingRun, TRAINING_RUN_TASK, type TrainingRunDeps } from '../../controllers/reconcilers/training-run.ts';
import type { PipelineBackend } from '../../controllers/backends/types.ts';
import type { TrainingRunStatus } from '../../api/crds/index.ts';

test('a TrainingRun reconciled again after the registry commit (status lost, version list failing) registers nothing new', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-trun-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const model = join(dir, 'model.onnx');
  writeFileSync(model, 'trained bytes');
  const real = new LocalRegistry({ dir: join(dir, 'registry') });
  let listFails = false;
  const registered: number[] = [];
  // The real registry, with listVersions failing on demand (a registry that is briefly unreachable for reads).
  const registry: ModelRegistry = Object.assign(Object.create(real) as ModelRegistry, {
    listVersions: (name: string) => (listFails ? Promise.reject(new Error('registry unavailable')) : real.listVersions(name)),
    registerVersion: async (...a: Parameters<ModelRegistry['registerVersion']>) => {
      const v = await real.registerVersion(...a);
      registered.push(v.version);
      return v;
    },
  });
  const pipelines: PipelineBackend = {
    templateExists: () => Promise.resolve(true),
    observe: () => Promise.resolve({ phase: 'Succeeded', startedAt: '2026-12-01T00:00:00Z', finishedAt: '2026-12-01T00:01:00Z', modelSource: model }),
    submit: () => Promise.resolve('unchanged'),
  };
  const store = await LocalStore.open();
  t.after(() => store.close());
  const d: TrainingRunDeps = {
    store,
    pipelines,
    registry,
    log: silentLogger,
    now: Date.now,
    events: { record: () => Promise.resolve(), flush: () => Promise.resolve() },
  };
  await store.create(TYPES.TrainingRun, {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name: 'fraud-drift-1', namespace: 'ml' },
    spec: { pipeline: 'fraud-train', reason: 'drift', model: 'fraud', specHash: `sha256:${'ab'.repeat(32)}` },
  });
  const running = await store.get(TYPES.TrainingRun, 'ml', 'fraud-drift-1');
  await store.replaceStatus(TYPES.TrainingRun, { ...running!, status: { phase: 'Running', workflowName: 'fraud-drift-1' } });
  const req = { namespace: 'ml', name: 'fraud-drift-1' };
  // First pass: the workflow succeeded; the run registers.
  await reconcileTrainingRun(d, req);
  assert.deepEqual(registered, [1]);
  const v1 = await real.getVersion('fraud', 1);
  assert.deepEqual([v1.lineage.runId, v1.lineage.task], ['fraud-drift-1', TRAINING_RUN_TASK]);
  // The crash: the status that would say "registered" is lost, and on restart the registry cannot list.
  const after = await store.get(TYPES.TrainingRun, 'ml', 'fraud-drift-1');
  await store.replaceStatus(TYPES.TrainingRun, { ...after!, status: { phase: 'Running', workflowName: 'fraud-drift-1' } });
  listFails = true;
  await reconcileTrainingRun(d, req);
  listFails = false;
  await reconcileTrainingRun(d, req);
  assert.deepEqual(registered, [1, 1], 'the second registration returned version 1 again');
  assert.equal((await real.listVersions('fraud')).length, 1);
  const done = (await store.get(TYPES.TrainingRun, 'ml', 'fraud-drift-1'))!.status as TrainingRunStatus;
  assert.deepEqual([done.phase, done.registeredVersion], ['Succeeded', 1]);
});
