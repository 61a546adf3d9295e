// The pure and file-level parts of the local GitOps loop (the whole loop: test/e2e/loop.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildStatus, renderStatus } from '../../controllers/status-report.ts';
import { manualTrainingRun } from '../../controllers/actions.ts';
import { installCommand } from '../../gitops/checkout.ts';
import { gateOfNodes, gateNote } from '../../pipelines/local/outcome.ts';
import { looksLikeOnnx, onnxArtifactOf } from '../../controllers/backends/local-pipelines.ts';
import { localRegistryChoice } from '../../controllers/local-service.ts';
import { finishInboxEntry, inboxOutcome, readInbox, readStateObjects, writeInboxEntry } from '../../controllers/runtime/inbox.ts';
import { LocalStore } from '../../controllers/runtime/local-store.ts';
import { TYPES } from '../../controllers/runtime/store.ts';
import { gitChangeTrainingRun, operatorObjects } from '../../controllers/watch-runtime.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'ghosteam-loop-parts-'));

describe('the gate and the ONNX artifact of a local run', () => {
  test('a rejection anywhere wins; no gate node: undefined', () => {
    assert.deepEqual(
      gateOfNodes([{ outputParams: { passed: true, reasons: [] } }, { outputParams: { passed: false, reasons: ['rocAuc is 0.808827; needs >= 0.9'] } }]),
      { passed: false, reasons: ['rocAuc is 0.808827; needs >= 0.9'] },
    );
    assert.deepEqual(gateOfNodes([{ outputParams: { passed: true } }]), { passed: true, reasons: [] });
    assert.equal(gateOfNodes([{ outputParams: { version: 3 } }, {}]), undefined);
    assert.equal(
      gateNote({ passed: false, reasons: ['rocAuc is 0.8; needs >= 0.9'] }),
      'the gate rejected the model (rocAuc is 0.8; needs >= 0.9); nothing was registered',
    );
    assert.equal(gateNote({ passed: true, reasons: [] }), undefined);
  });

  test("only an ONNX file is taken for the model: export-onnx's output, never train's TensorFlow.js JSON", () => {
    const store = tmp();
    try {
      const put = (hex: string, bytes: Buffer) => {
        mkdirSync(join(store, 'store', 'sha256', hex.slice(0, 2)), { recursive: true });
        writeFileSync(join(store, 'store', 'sha256', hex.slice(0, 2), hex), bytes);
      };
      put('aa11', Buffer.from('{"format":"ghosteam.densenet/v1"}'));
      put('bb22', Buffer.from([0x08, 0x09, 0x12, 0x00]));
      const train = { state: 'Succeeded', outputs: { model: { digest: 'sha256:aa11' } } };
      const exp = { state: 'Succeeded', outputs: { onnx: { digest: 'sha256:bb22' } } };
      assert.equal(onnxArtifactOf([train, exp], store), join(store, 'store', 'sha256', 'bb', 'bb22'));
      assert.equal(onnxArtifactOf([train], store), undefined, 'the JSON model is not ONNX');
      assert.equal(looksLikeOnnx(join(store, 'missing')), false);
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });
});

describe('status and retrain', () => {
  const model = {
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'Model',
    metadata: { name: 'fraud', namespace: 'ml' },
    spec: { modelRef: { name: 'fraud' } },
    status: {
      phase: 'Progressing',
      stableVersion: 1,
      canaryVersion: 2,
      trafficPercent: 10,
      conditions: [{ type: 'Progressing', status: 'True', message: 'step 1 (10%)' }],
    },
  };
  const run = (name: string, created: string, status: Record<string, unknown>) => ({
    apiVersion: 'ghosteam.io/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name, namespace: 'ml', creationTimestamp: created },
    spec: { pipeline: 'fraud-train', reason: 'git-change' },
    status,
  });

  test('models with versions, the rollout in progress, and TrainingRuns newest first', () => {
    const r = buildStatus({
      models: [model],
      trainingRuns: [
        run('a', '2026-12-01T10:00:00Z', { phase: 'Succeeded', registeredVersion: 1 }),
        run('b', '2026-12-01T11:00:00Z', { phase: 'Succeeded', gate: { passed: false, reasons: ['x'] } }),
      ],
      versions: { fraud: [{ version: 1, aliases: ['champion'] }, { version: 2 }] },
    });
    assert.deepEqual(r.rollouts, [{ namespace: 'ml', name: 'fraud', canary: 2, trafficPercent: 10, message: 'step 1 (10%)' }]);
    assert.deepEqual(
      r.trainingRuns.map((t) => [t.name, t.gateRejected ?? false, t.registeredVersion]),
      [
        ['b', true, undefined],
        ['a', false, 1],
      ],
    );
    assert.equal(
      renderStatus(r),
      `Models
  ml/fraud (fraud): Progressing, v1 + canary v2 at 10%; versions 1, 2 (champion v1) — step 1 (10%)

Rollouts in progress
  ml/fraud: canary v2 at 10% — step 1 (10%)

Recent TrainingRuns (newest first, at most 10)
  ml/b: fraud-train (git-change) Succeeded — gate rejected, nothing registered
  ml/a: fraud-train (git-change) Succeeded — registered v1
`,
    );
  });

  test('retrain makes a manual TrainingRun the CRD accepts; a bad pipeline name is refused', async () => {
    const r = manualTrainingRun('fraud-train', 'ml', new Date('2026-12-01T22:30:05.123Z'), { epochs: '20' }, `sha256:${'0'.repeat(64)}`, 'fraud', 'k3x9');
    assert.deepEqual(r.metadata, {
      name: 'fraud-train-manual-20261201223005123-k3x9',
      namespace: 'ml',
      labels: { 'ghosteam.io/pipeline': 'fraud-train', 'ghosteam.io/reason': 'manual' },
    });
    const { validateGhosteamObject } = await import('../../api/crds/validate.ts');
    assert.deepEqual(validateGhosteamObject(r as never), []);
    assert.throws(() => manualTrainingRun('Fraud_Train', 'ml', new Date(), {}, 'sha256:0'), /'Fraud_Train' is not a pipeline name/);
    // Two retrains in the same millisecond still get two names; the longest fits a label value.
    const at = new Date('2026-12-01T22:30:05.123Z');
    const names = new Set(Array.from({ length: 200 }, () => manualTrainingRun('fraud-train', 'ml', at, {}, 'sha256:0').metadata.name));
    assert.equal(names.size, 200);
    const long = manualTrainingRun('p'.repeat(63), 'ml', at, {}, 'sha256:0').metadata.name;
    assert.ok(long.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(long), long);
  });
});

describe('watch → operator: the inbox and the shared state directory', () => {
  test('entries apply in order and leave an outcome; the store ignores the inbox folder', async () => {
    const dir = tmp();
    try {
      const a = await writeInboxEntry(dir, { source: 'watch', commit: 'c1', objects: [] }, new Date('2026-12-01T10:00:00Z'));
      const b = await writeInboxEntry(dir, { source: 'retrain', objects: [] }, new Date('2026-12-01T10:00:01Z'));
      const got = await readInbox(dir);
      assert.deepEqual(
        got.map((g) => g.entry?.id),
        [a, b],
      );
      await finishInboxEntry(got[0].file, { id: a, appliedAt: 'now', applied: ['Model ml/x created'], refused: [] });
      assert.deepEqual(inboxOutcome(dir, a)?.applied, ['Model ml/x created']);
      assert.equal(inboxOutcome(dir, b), undefined);
      const store = await LocalStore.open({ stateDir: dir });
      try {
        await store.create(TYPES.Model, { apiVersion: 'ghosteam.io/v1alpha1', kind: 'Model', metadata: { name: 'x', namespace: 'ml' }, spec: {} });
      } finally {
        store.close();
      }
      // Reopened with inbox/done/*.json beside the tables: loads, and another process reads the objects.
      (await LocalStore.open({ stateDir: dir })).close();
      assert.deepEqual(
        readStateObjects(dir, 'Model').map((m) => m.metadata.name),
        ['x'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('git-change TrainingRuns are named per hash and attempt; only ghosteam objects go to the operator', () => {
    const start = {
      pipeline: 'fraud-train',
      namespace: 'ml',
      key: 'ml/fraud-train',
      hash: 'sha256:0123456789abcdef',
      reason: 'git-change' as const,
      commit: 'abc',
    };
    assert.equal(gitChangeTrainingRun(start, 'fraud').metadata.name, 'fraud-train-git-0123456789ab');
    assert.equal(gitChangeTrainingRun(start, 'fraud', 2).metadata.name, 'fraud-train-git-0123456789ab-r2');
    assert.deepEqual(
      operatorObjects([
        { apiVersion: 'argoproj.io/v1alpha1', kind: 'WorkflowTemplate', metadata: { name: 'w' } },
        { apiVersion: 'ghosteam.io/v1alpha1', kind: 'Model', metadata: { name: 'm' } },
      ] as never).map((o) => o.kind),
      ['Model'],
    );
  });

  test('dependencies: npm ci with a lockfile, npm install without, nothing without package.json', () => {
    assert.deepEqual(installCommand({ packageJson: true, packageLock: true }), ['ci', '--no-audit', '--no-fund']);
    assert.deepEqual(installCommand({ packageJson: true, packageLock: false }), ['install', '--no-audit', '--no-fund', '--no-package-lock']);
    assert.equal(installCommand({ packageJson: false, packageLock: false }), undefined);
  });

  test('one registry: the flag, else MLflow from the environment, else GHOSTEAM_REGISTRY_DIR — and the engine is pointed at it', () => {
    assert.deepEqual(localRegistryChoice({ registryDir: '/r' }, { MLFLOW_TRACKING_URI: 'http://m' }), {
      dir: '/r',
      label: 'local registry /r',
      env: { GHOSTEAM_REGISTRY_DIR: '/r', MLFLOW_TRACKING_URI: '' },
    });
    assert.deepEqual(localRegistryChoice({}, { MLFLOW_TRACKING_URI: 'http://u:p@m' }), {
      trackingUri: 'http://u:p@m',
      label: 'MLflow registry http://m',
      env: { MLFLOW_TRACKING_URI: 'http://u:p@m' },
    });
    assert.equal(localRegistryChoice({}, { GHOSTEAM_REGISTRY_DIR: '/g' }).dir, '/g');
  });
});
