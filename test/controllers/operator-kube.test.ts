/**
 * The operator against the REAL kube-apiserver + etcd from the peers harness, with the upstream
 * Argo and KServe CRDs and ghosteam's CRDs installed. The tests play KServe, Argo and the kubelet
 * by writing status. Canary metrics come from a test MetricsSource (no model server runs in this
 * cluster); the registry is the real local registry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, uniqueName, usePeers } from '../peers/index.ts';
import { ghosteamCrdObjects, installCrds } from '../peers/crds.ts';
import { KubeStore, loadKubeConfig } from '../../controllers/runtime/kube-store.ts';
import { ApiError, TYPES } from '../../controllers/runtime/store.ts';
import { startOperator, type RunningOperator } from '../../controllers/operator.ts';
import { LocalRegistry } from '../../components/registry/local.ts';
import { createLogger } from '../../controllers/runtime/log.ts';
import type { DriftChecker } from '../../controllers/reconcilers/drift-monitor.ts';
import type { ModelStatus, TrainingRunStatus, DriftMonitorStatus } from '../../api/crds/index.ts';
import { conditionOf, createNamespace, playKServe, TestMetrics } from './kube-helpers.ts';
import { modelObject } from './fakes.ts';
import { runStoreSuite } from './store-suite.ts';

const peers = await usePeers(['kube']);
const quiet = createLogger({ level: 'error' });
const HASH = `sha256:${'ab'.repeat(32)}`;

describe('operator against the real API server', { skip: peers.skip }, () => {
  let store: KubeStore;
  let dir: string;
  let registry: LocalRegistry;
  const stops: Array<() => unknown> = [];
  const register = async (name: string, tag: string) => {
    const f = join(dir, `${name}-${tag}.onnx`);
    writeFileSync(f, `model ${name} ${tag}`);
    return registry.registerVersion(name, { artifactPath: f, lineage: { reason: 'manual' } });
  };
  const newNs = async (p: string) => {
    const ns = uniqueName(p);
    await createNamespace(store, ns);
    return ns;
  };
  const operator = async (ns: string, extra: Partial<Parameters<typeof startOperator>[0]> = {}): Promise<RunningOperator> => {
    const op = await startOperator({ kubeconfig: peers.kubeconfig, registry, namespace: ns, log: quiet, gpuScheduling: false, workers: 2, ...extra });
    stops.push(() => op.stop());
    return op;
  };

  before(async () => {
    store = new KubeStore(loadKubeConfig(peers.kubeconfig));
    dir = mkdtempSync(join(tmpdir(), 'gt-opkube-'));
    registry = new LocalRegistry({ dir: join(dir, 'registry') });
  });
  after(async () => {
    for (const s of stops.reverse()) await s();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('KubeStore: the shared store suite', () => {
    runStoreSuite(async () => ({ store, ns: await newNs('store') }));
  });

  test('a canary is promoted: InferenceService canaryTrafficPercent steps, analysis, alias moves', async () => {
    const ns = await newNs('canary');
    stops.push(playKServe(store, ns));
    const metrics = new TestMetrics();
    await operator(ns, { metrics });
    await register('fraud', 'a');
    const m = await store.create(TYPES.Model, { ...modelObject('fraud', { namespace: ns, steps: [20, 100], intervalSeconds: 1 }) });
    const ready = await eventually(
      'Model Ready',
      async () => {
        const o = await store.get(TYPES.Model, ns, 'fraud');
        return conditionOf(o, 'Ready')?.status === 'True' ? o : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.equal((ready.status as ModelStatus).stableVersion, 1);
    assert.equal((ready.status as ModelStatus).observedGeneration, 1);
    const isvc = await store.get(TYPES.InferenceService, ns, 'fraud');
    assert.equal(isvc?.metadata.ownerReferences?.[0].uid, m.metadata.uid);
    assert.equal((isvc?.spec as { predictor: { model: { runtime: string } } }).predictor.model.runtime, 'ghosteam-onnx');
    assert.ok(m.metadata.uid);

    metrics.set('fraud', 2, { requests: 500, errors: 2, p99LatencyMs: 30 });
    await register('fraud', 'b');
    // The registry is not watched: a spec touch (or the periodic resync) makes the operator look.
    const cur = (await store.get(TYPES.Model, ns, 'fraud'))!;
    await store.replace(TYPES.Model, { ...cur, metadata: { ...cur.metadata, labels: { touched: '1' } } });
    const canary = await eventually(
      'canary at 20%',
      async () => {
        const i = await store.get(TYPES.InferenceService, ns, 'fraud');
        return (i?.spec as { predictor: { canaryTrafficPercent?: number } })?.predictor.canaryTrafficPercent === 20 ? i : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.equal(canary.metadata.annotations?.['ghosteam.io/canary-version'], '2');
    const promoted = await eventually(
      'promoted',
      async () => {
        const o = await store.get(TYPES.Model, ns, 'fraud');
        return (o?.status as ModelStatus | undefined)?.stableVersion === 2 ? o : undefined;
      },
      { timeoutMs: 15_000 },
    );
    const st = promoted.status as ModelStatus;
    assert.equal(st.canaryVersion, undefined);
    assert.equal(st.analysis?.[0].passed, true);
    assert.equal(conditionOf(promoted, 'Progressing')?.reason, 'Promoted');
    const finalIsvc = await eventually('ISVC at 100% of v2', async () => {
      const i = await store.get(TYPES.InferenceService, ns, 'fraud');
      const p = (i?.spec as { predictor: { canaryTrafficPercent?: number; model: { storageUri: string } } }).predictor;
      return p.canaryTrafficPercent === undefined && i?.metadata.annotations?.['ghosteam.io/stable-version'] === '2' ? p : undefined;
    });
    assert.match(finalIsvc.model.storageUri, /fraud/);
    await eventually('champion moved', async () => (await registry.resolve('fraud', 'champion')).version === 2);
    // Events are posted in the background (they never hold a reconcile): wait for it.
    await eventually('a Promoted Event', async () => (await store.list(TYPES.Event, ns)).items.some((e) => e.reason === 'Promoted'));
  });

  test('a canary is rolled back on error rate; the reason is in status and an Event', async () => {
    const ns = await newNs('rollback');
    stops.push(playKServe(store, ns));
    const metrics = new TestMetrics();
    await operator(ns, { metrics });
    await register('churn', 'a');
    await register('churn', 'b');
    // Pin v1 first, then move the pin to v2: a spec change synced from Git.
    const m = await store.create(TYPES.Model, modelObject('churn', { namespace: ns, version: 1, steps: [10, 50, 100], intervalSeconds: 1 }));
    await eventually('v1 ready', async () => conditionOf(await store.get(TYPES.Model, ns, 'churn'), 'Ready')?.status === 'True', { timeoutMs: 15_000 });
    metrics.set('churn', 2, { requests: 100, errors: 20, p99LatencyMs: 30 });
    const cur = (await store.get(TYPES.Model, ns, 'churn'))!;
    await store.replace(TYPES.Model, { ...cur, spec: modelObject('churn', { namespace: ns, version: 2, steps: [10, 50, 100], intervalSeconds: 1 }).spec });
    const rolled = await eventually(
      'rolled back',
      async () => {
        const o = await store.get(TYPES.Model, ns, 'churn');
        return (o?.status as ModelStatus | undefined)?.phase === 'RolledBack' ? o : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.equal((rolled.status as ModelStatus).stableVersion, 1);
    assert.equal((rolled.status as ModelStatus).lastFailedVersion, 2);
    assert.equal(conditionOf(rolled, 'Degraded')?.message, 'canary error rate 0.2 exceeds 0.05 at step 1 (10%)');
    const isvc = await eventually('ISVC back on v1', async () => {
      const i = await store.get(TYPES.InferenceService, ns, 'churn');
      return i?.metadata.annotations?.['ghosteam.io/canary-version'] === undefined && i?.metadata.annotations?.['ghosteam.io/stable-version'] === '1'
        ? i
        : undefined;
    });
    assert.equal((isvc.spec as { predictor: { canaryTrafficPercent?: number } }).predictor.canaryTrafficPercent, undefined);
    await eventually('a RolledBack Warning Event', async () =>
      (await store.list(TYPES.Event, ns)).items.some((e) => e.reason === 'RolledBack' && e.type === 'Warning'),
    );
    assert.ok(m.metadata.uid);
  });

  test('an operator killed mid-step resumes at the same step: no repeat, no skip, no 100% before analysis', async () => {
    const ns = await newNs('resume');
    stops.push(playKServe(store, ns));
    const metricsFile = join(dir, `${ns}-metrics.json`);
    const regDir = join(dir, 'registry');
    await register('resume', 'a');
    await register('resume', 'b');
    const spawnOp = () => {
      const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'test/controllers/operator-proc.ts'], {
        env: { ...process.env, KUBECONFIG: peers.kubeconfig, GT_REGISTRY_DIR: regDir, GT_METRICS_FILE: metricsFile, GT_NAMESPACE: ns },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      return child;
    };
    let child = spawnOp();
    stops.push(() => child.kill('SIGKILL'));
    await store.create(TYPES.Model, modelObject('resume', { namespace: ns, version: 1, steps: [30, 60, 100], intervalSeconds: 3 }));
    await eventually('v1 ready', async () => conditionOf(await store.get(TYPES.Model, ns, 'resume'), 'Ready')?.status === 'True', { timeoutMs: 30_000 });
    writeFileSync(metricsFile, JSON.stringify({ 'resume@2': { requests: 300, errors: 0, p99LatencyMs: 20 } }));
    const cur = (await store.get(TYPES.Model, ns, 'resume'))!;
    await store.replace(TYPES.Model, { ...cur, spec: modelObject('resume', { namespace: ns, version: 2, steps: [30, 60, 100], intervalSeconds: 3 }).spec });
    const inStep = await eventually(
      'step 1 running',
      async () => {
        const o = await store.get(TYPES.Model, ns, 'resume');
        const st = o?.status as ModelStatus | undefined;
        return st?.canaryVersion === 2 && st.stepIndex === 0 && st.stepStartedAt ? st : undefined;
      },
      { timeoutMs: 20_000 },
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // While no operator runs, nothing moves.
    await new Promise((r) => setTimeout(r, 1000));
    const frozen = (await store.get(TYPES.Model, ns, 'resume'))!.status as ModelStatus;
    assert.equal(frozen.stepIndex, 0);
    assert.equal(frozen.stepStartedAt, inStep.stepStartedAt);
    child = spawnOp();
    // Watch every traffic value the InferenceService takes from now on.
    const seen: number[] = [];
    let watching = true;
    void (async () => {
      while (watching) {
        const i = await store.get(TYPES.InferenceService, ns, 'resume').catch(() => undefined);
        const p = (i?.spec as { predictor: { canaryTrafficPercent?: number } } | undefined)?.predictor.canaryTrafficPercent ?? 100;
        if (seen.at(-1) !== p) seen.push(p);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const done = await eventually(
      'promoted after restart',
      async () => {
        const o = await store.get(TYPES.Model, ns, 'resume');
        return (o?.status as ModelStatus | undefined)?.stableVersion === 2 ? o : undefined;
      },
      { timeoutMs: 30_000 },
    );
    // Status is the commit point; the InferenceService follows it.
    await eventually(
      'ISVC on v2 only',
      async () => (await store.get(TYPES.InferenceService, ns, 'resume'))?.metadata.annotations?.['ghosteam.io/stable-version'] === '2',
      { timeoutMs: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 100));
    watching = false;
    const st = done.status as ModelStatus;
    // Step 1 (30%) analysed once, step 2 (60%) analysed once: nothing repeated, nothing skipped.
    assert.deepEqual(
      st.analysis?.map((a) => [a.step, a.trafficPercent, a.passed]),
      [
        [0, 30, true],
        [1, 60, true],
      ],
    );
    assert.deepEqual(
      seen.filter((p, i) => i === 0 || p !== seen[i - 1]),
      [30, 60, 100],
    );
    child.kill('SIGTERM');
  });

  test('a Model whose status has the shape an older operator wrote (rollout phase in condition reasons) keeps reconciling', async () => {
    // Before status.rollout, the operator kept the rollout phase in the Progressing reason ('Paused',
    // 'Promoted'). Such objects are in clusters today: they must reconcile as they did, and get
    // status.rollout on their next status write.
    // This test reads status.rollout back, so the API server must have this tree's Model CRD (a
    // shared peer may have been seeded from an older one, which prunes the field): install it, as
    // envtest does per suite. Create-or-replace, then wait until Established.
    await installCrds(peers.kubeconfig, await ghosteamCrdObjects());
    const ns = await newNs('legacy');
    stops.push(playKServe(store, ns));
    const metrics = new TestMetrics();
    for (const n of ['paused', 'promoted']) {
      await register(n, 'a');
      await register(n, 'b');
    }
    metrics.set('paused', 2, { requests: 100, errors: 0, p99LatencyMs: 20 });
    const t0 = '2026-11-30T10:00:00Z';
    const cond = (type: string, status: 'True' | 'False', reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastTransitionTime: t0,
      observedGeneration: 1,
    });
    const legacy: Record<string, ModelStatus> = {
      // A canary of v2 paused at step 1 (30%); the pause annotation has since been removed.
      paused: {
        phase: 'Progressing',
        observedGeneration: 1,
        stableVersion: 1,
        canaryVersion: 2,
        stepIndex: 0,
        trafficPercent: 30,
        stepStartedAt: t0,
        conditions: [
          cond('Ready', 'True', 'Serving', 'version 1 stable, version 2 canary at 30%'),
          cond('Progressing', 'True', 'Paused', 'paused at step 1'),
          cond('Degraded', 'False', 'AsExpected', ''),
        ],
      },
      // v2 promoted over v1.
      promoted: {
        phase: 'Ready',
        observedGeneration: 1,
        stableVersion: 2,
        promotedFrom: 1,
        trafficPercent: 0,
        conditions: [
          cond('Ready', 'True', 'Serving', 'version 2 serving'),
          cond('Progressing', 'False', 'Promoted', 'version 2 serves all traffic'),
          cond('Degraded', 'False', 'AsExpected', ''),
        ],
      },
    };
    for (const [name, status] of Object.entries(legacy)) {
      const created = await store.create(TYPES.Model, modelObject(name, { namespace: ns, version: 2, steps: [30, 100], intervalSeconds: 1 }));
      const stored = await store.replaceStatus(TYPES.Model, { ...created, status });
      assert.equal((stored.status as ModelStatus).rollout, undefined);
      assert.equal((stored.status as ModelStatus).conditions?.find((c) => c.type === 'Progressing')?.reason, status.conditions![1].reason);
    }
    await operator(ns, { metrics });
    // Paused read from the old reason: with no pause annotation the canary resumes (an Event says so),
    // then passes its analysis and is promoted.
    await eventually(
      'a Resumed Event for the paused canary',
      async () =>
        (await store.list(TYPES.Event, ns)).items.some((e) => e.reason === 'Resumed' && (e.involvedObject as { name?: string } | undefined)?.name === 'paused'),
      { timeoutMs: 15_000 },
    );
    const paused = await eventually(
      'the resumed canary is promoted',
      async () => {
        const st = (await store.get(TYPES.Model, ns, 'paused'))?.status as ModelStatus | undefined;
        return st?.stableVersion === 2 && st.canaryVersion === undefined ? st : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(paused.rollout?.phase, 'Promoted');
    assert.equal(paused.promotedFrom, 1);
    // Promoted read from the old reason: the state is kept (an Idle reading would drop promotedFrom),
    // now stored in status.rollout, with the promotion time the old condition recorded.
    const promoted = await eventually(
      'the promoted Model carries status.rollout',
      async () => {
        const st = (await store.get(TYPES.Model, ns, 'promoted'))?.status as ModelStatus | undefined;
        return st?.rollout ? st : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.deepEqual(promoted.rollout, { phase: 'Promoted', reason: 'Promoted', message: 'version 2 serves all traffic', promotedAt: t0 });
    assert.equal(promoted.stableVersion, 2);
    assert.equal(promoted.promotedFrom, 1);
    assert.equal(promoted.conditions?.find((c) => c.type === 'Progressing')?.reason, 'Promoted');
  });

  test('drift → exactly one TrainingRun, even with two operators racing', async () => {
    const ns = await newNs('drift');
    let checks = 0;
    const check: DriftChecker = async () => {
      checks++;
      return {
        features: [{ feature: 'amount', method: 'psi', statistic: 0.5, threshold: 0.2, drifted: true }],
        share: 1,
        drifted: true,
        rows: 1000,
        windowStart: '',
        windowEnd: '',
      };
    };
    await store.create(TYPES.WorkflowTemplate, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'WorkflowTemplate',
      metadata: { name: 'fraud-train', namespace: ns, annotations: { 'ghosteam.io/spec-hash': HASH } },
      spec: { entrypoint: 'main', templates: [{ name: 'main', container: { image: 'busybox', command: ['true'] } }] },
    });
    await store.create(TYPES.DriftMonitor, {
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'DriftMonitor',
      metadata: { name: 'fraud-drift', namespace: ns },
      spec: {
        model: 'fraud',
        reference: { uri: 'file:///ref.parquet', format: 'parquet' },
        features: [{ name: 'amount', type: 'numerical' }],
        test: 'psi',
        thresholds: { driftShare: 0.5 },
        window: { seconds: 3600, minSamples: 100 },
        schedule: '0 * * * *',
        action: { retrain: { pipeline: 'fraud-train', cooldownSeconds: 86400 } },
      },
    });
    await Promise.all([operator(ns, { driftCheck: check }), operator(ns, { driftCheck: check })]);
    const mon = await eventually(
      'drift checked',
      async () => {
        const o = await store.get(TYPES.DriftMonitor, ns, 'fraud-drift');
        return (o?.status as DriftMonitorStatus | undefined)?.lastTriggeredRun ? o : undefined;
      },
      { timeoutMs: 15_000 },
    );
    await new Promise((r) => setTimeout(r, 1500));
    const { items } = await store.list(TYPES.TrainingRun, ns);
    assert.equal(items.length, 1, items.map((i) => i.metadata.name).join(','));
    const st = mon.status as DriftMonitorStatus;
    assert.equal(items[0].metadata.name, st.lastTriggeredRun);
    assert.equal((items[0].spec as { reason: string }).reason, 'drift');
    assert.equal((items[0].spec as { specHash: string }).specHash, HASH);
    assert.equal(st.datasetDrift, true);
    assert.equal(st.features?.[0].name, 'amount');
    assert.ok(checks >= 1);
  });

  test('TrainingRun → Workflow (workflowTemplateRef) → registered version with lineage', async () => {
    const ns = await newNs('train');
    await operator(ns);
    await store.create(TYPES.WorkflowTemplate, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'WorkflowTemplate',
      metadata: { name: 'churn-train', namespace: ns },
      spec: {
        entrypoint: 'main',
        arguments: { parameters: [{ name: 'epochs', value: '1' }] },
        templates: [{ name: 'main', container: { image: 'busybox', command: ['true'] } }],
      },
    });
    const run = await store.create(TYPES.TrainingRun, {
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'TrainingRun',
      metadata: { name: 'churn-manual-1', namespace: ns },
      spec: { pipeline: 'churn-train', reason: 'manual', model: 'churn-trained', specHash: HASH, gitCommit: 'abc1234', params: { epochs: '3' } },
    });
    const wf = await eventually('Workflow created', () => store.get(TYPES.Workflow, ns, 'churn-manual-1'), { timeoutMs: 15_000 });
    assert.deepEqual((wf.spec as { workflowTemplateRef: unknown }).workflowTemplateRef, { name: 'churn-train' });
    assert.deepEqual((wf.spec as { arguments: unknown }).arguments, { parameters: [{ name: 'epochs', value: '3' }] });
    assert.equal(wf.metadata.ownerReferences?.[0].uid, run.metadata.uid);
    // Play Argo: the workflow runs, then succeeds with the model as an output parameter.
    const modelFile = join(dir, 'trained.onnx');
    writeFileSync(modelFile, 'trained model');
    await store.replace(TYPES.Workflow, { ...wf, status: { phase: 'Running', startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } });
    await eventually(
      'run Running',
      async () => ((await store.get(TYPES.TrainingRun, ns, 'churn-manual-1'))?.status as TrainingRunStatus | undefined)?.phase === 'Running',
    );
    const wf2 = (await store.get(TYPES.Workflow, ns, 'churn-manual-1'))!;
    await store.replace(TYPES.Workflow, {
      ...wf2,
      status: {
        ...(wf2.status as object),
        phase: 'Succeeded',
        finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        nodes: { n1: { id: 'n1', name: 'n1', type: 'Pod', outputs: { parameters: [{ name: 'model-uri', value: modelFile }] } } },
      },
    });
    const done = await eventually(
      'run Succeeded',
      async () => {
        const o = await store.get(TYPES.TrainingRun, ns, 'churn-manual-1');
        return (o?.status as TrainingRunStatus | undefined)?.phase === 'Succeeded' ? o : undefined;
      },
      { timeoutMs: 15_000 },
    );
    const v = (done.status as TrainingRunStatus).registeredVersion!;
    const mv = await registry.getVersion('churn-trained', v);
    assert.deepEqual(
      { runId: mv.lineage.runId, reason: mv.lineage.reason, gitCommit: mv.lineage.gitCommit, pipeline: mv.lineage.pipeline },
      { runId: 'churn-manual-1', reason: 'manual', gitCommit: 'abc1234', pipeline: 'churn-train' },
    );
    assert.equal((await registry.listVersions('churn-trained')).length, 1);
  });

  test('git-change: a new spec hash on an opted-in WorkflowTemplate starts one TrainingRun per hash', async () => {
    const ns = await newNs('gitchange');
    await operator(ns);
    const wt = await store.create(TYPES.WorkflowTemplate, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'WorkflowTemplate',
      metadata: {
        name: 'p',
        namespace: ns,
        labels: { 'ghosteam.io/retrain-on-change': 'true' },
        annotations: { 'ghosteam.io/spec-hash': HASH, 'ghosteam.io/git-commit': 'abcdef1' },
      },
      spec: { entrypoint: 'main', templates: [{ name: 'main', container: { image: 'busybox' } }] },
    });
    await eventually('first run', async () => (await store.list(TYPES.TrainingRun, ns)).items.length === 1, { timeoutMs: 10_000 });
    const hash2 = `sha256:${'cd'.repeat(32)}`;
    await store.replace(TYPES.WorkflowTemplate, { ...wt, metadata: { ...wt.metadata, annotations: { 'ghosteam.io/spec-hash': hash2 } } });
    const items = await eventually(
      'second run',
      async () => {
        const l = (await store.list(TYPES.TrainingRun, ns)).items;
        return l.length === 2 ? l : undefined;
      },
      { timeoutMs: 10_000 },
    );
    assert.deepEqual(items.map((i) => i.metadata.name).sort(), ['p-git-abababababab', 'p-git-cdcdcdcdcdcd']);
    assert.ok(items.every((i) => (i.spec as { reason: string }).reason === 'git-change'));
  });

  test('GPU placement with fake GPU Nodes: queued with a reason, then placed when capacity frees', async () => {
    const ns = await newNs('gpu');
    const a = uniqueName('gpu-a');
    const b = uniqueName('gpu-b');
    const node = async (name: string, gpus: number) => {
      const n = await store.create(TYPES.Node, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB', 'nvidia.com/gpu.memory': '40960', 'kubernetes.io/hostname': name } },
        spec: { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] },
      });
      // Play the kubelet and the node lifecycle controller: report capacity and Ready, lift the not-ready taint.
      const withStatus = await store.replaceStatus(TYPES.Node, {
        ...n,
        status: {
          capacity: { 'nvidia.com/gpu': String(gpus), cpu: '8', memory: '32Gi', pods: '110' },
          allocatable: { 'nvidia.com/gpu': String(gpus), cpu: '8', memory: '32Gi', pods: '110' },
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              message: 'fake',
              lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
              lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
            },
          ],
        },
      });
      const taints = ((withStatus.spec as { taints?: Array<{ key: string }> }).taints ?? []).filter((t) => !t.key.startsWith('node.kubernetes.io/'));
      await store.replace(TYPES.Node, { ...withStatus, spec: { ...(withStatus.spec as object), taints } });
      stops.push(() => store.delete(TYPES.Node, undefined, name));
    };
    await node(a, 1);
    await node(b, 2);
    // A pod already holds one GPU on node b (the kubelet would report it Running).
    const pod = await store.create(TYPES.Pod, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'busy', namespace: ns },
      spec: {
        nodeName: b,
        containers: [{ name: 'c', image: 'busybox', resources: { limits: { 'nvidia.com/gpu': '1' } } }],
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' }],
      },
    });
    await store.create(TYPES.WorkflowTemplate, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'WorkflowTemplate',
      metadata: { name: 'big-train', namespace: ns },
      spec: {
        entrypoint: 'main',
        templates: [
          {
            name: 'main',
            nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB' },
            container: { image: 'busybox', resources: { limits: { 'nvidia.com/gpu': '2' } } },
          },
        ],
      },
    });
    await operator(ns, { gpuScheduling: true });
    await store.create(TYPES.TrainingRun, {
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'TrainingRun',
      metadata: { name: 'big-1', namespace: ns },
      spec: { pipeline: 'big-train', reason: 'manual', specHash: HASH },
    });
    const queued = await eventually(
      'queued',
      async () => {
        const o = await store.get(TYPES.TrainingRun, ns, 'big-1');
        return (o?.status as TrainingRunStatus | undefined)?.gpu?.queuePosition !== undefined ? o : undefined;
      },
      { timeoutMs: 15_000 },
    );
    // Other clusters' nodes may exist in the shared API server; ours are the only GPU nodes.
    const why = new RegExp(`^2 × NVIDIA-A100-SXM4-40GB requested; the largest free block is 1 on node (${a}|${b})$`);
    // The queue is state (status.gpu); the Progressing condition reports it.
    const gq = (queued.status as TrainingRunStatus).gpu!;
    assert.equal(gq.queuePosition, 1);
    assert.match(gq.queueReason!, why);
    assert.equal(conditionOf(queued, 'Progressing')?.reason, 'Queued');
    assert.match(conditionOf(queued, 'Progressing')!.message, why);
    assert.equal(await store.get(TYPES.Workflow, ns, 'big-1'), undefined);
    // Play the kubelet: the busy pod finishes.
    await store.replaceStatus(TYPES.Pod, { ...pod, status: { phase: 'Succeeded' } });
    const wf = await eventually('placed and submitted', () => store.get(TYPES.Workflow, ns, 'big-1'), { timeoutMs: 15_000 });
    const aff = (
      wf.spec as {
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: Array<{ matchExpressions: Array<{ values: string[] }> }> } };
        };
      }
    ).affinity;
    assert.deepEqual(aff.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values, [b]);
    assert.deepEqual((wf.spec as { tolerations: unknown }).tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    const placed = await store.get(TYPES.TrainingRun, ns, 'big-1');
    assert.deepEqual((placed!.status as TrainingRunStatus).gpu, { admittedNode: b });
    assert.equal(conditionOf(placed, 'GpuAdmitted')?.message, b);
  });

  test('a spec change that keeps the version (autoscaling) reaches the InferenceService', async () => {
    const ns = await newNs('specchange');
    stops.push(playKServe(store, ns));
    await register('sc', 'a');
    await operator(ns);
    await store.create(TYPES.Model, modelObject('sc', { namespace: ns, version: 1 }));
    await eventually('ready', async () => conditionOf(await store.get(TYPES.Model, ns, 'sc'), 'Ready')?.status === 'True', { timeoutMs: 15_000 });
    const cur = (await store.get(TYPES.Model, ns, 'sc'))!;
    const spec = modelObject('sc', { namespace: ns, version: 1 }).spec;
    await store.replace(TYPES.Model, { ...cur, spec: { ...spec, autoscaling: { ...spec.autoscaling, maxReplicas: 7 } } });
    await eventually(
      'maxReplicas 7',
      async () => ((await store.get(TYPES.InferenceService, ns, 'sc'))?.spec as { predictor: { maxReplicas: number } }).predictor.maxReplicas === 7,
      { timeoutMs: 10_000 },
    );
    const m = await eventually('observedGeneration 2', async () => {
      const o = await store.get(TYPES.Model, ns, 'sc');
      return (o?.status as ModelStatus | undefined)?.observedGeneration === 2 ? o : undefined;
    });
    assert.equal((m.status as ModelStatus).stableVersion, 1);
  });

  test('409 on a concurrent update; the operator retries and converges', async () => {
    const ns = await newNs('conflict');
    const m = await store.create(TYPES.Model, modelObject('c', { namespace: ns, version: 1 }));
    const a = store.replaceStatus(TYPES.Model, { ...m, status: { phase: 'Pending' } });
    const b = store.replaceStatus(TYPES.Model, { ...m, status: { phase: 'Ready' } });
    const results = await Promise.allSettled([a, b]);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(rejected.length, 1);
    assert.ok(rejected[0].reason instanceof ApiError && rejected[0].reason.code === 409, String(rejected[0].reason));
    stops.push(playKServe(store, ns));
    await register('c', 'a');
    const op = await operator(ns);
    // A competing writer keeps touching the Model while the operator reconciles it.
    for (let i = 0; i < 5; i++) {
      const cur = (await store.get(TYPES.Model, ns, 'c'))!;
      await store.replace(TYPES.Model, { ...cur, metadata: { ...cur.metadata, labels: { n: String(i) } } }).catch(() => undefined);
    }
    await eventually('converged', async () => conditionOf(await store.get(TYPES.Model, ns, 'c'), 'Ready')?.status === 'True', { timeoutMs: 15_000 });
    const text = await op.manager.metrics.registry.metrics();
    assert.match(text, /ghosteam_reconcile_total\{controller="model",result="success"\} \d+/);
  });
});
