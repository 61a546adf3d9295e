// Sync stability against the real kube-apiserver (peers harness, upstream + ghosteam CRDs): the
// synthesized example and the Argo CD Applications are server-side applied, then server-side
// dry-run applied again: the result must equal what is stored, and every field we set must come
// back unchanged (Argo CD would otherwise sit OutOfSync on defaulted or normalised fields).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject, type KubeConfig } from '@kubernetes/client-node';
import { App, Chart } from 'cdk8s';
import { synthApp } from '../../charts/synth.ts';
import { ArgoCdApps, Environment } from '../../charts/argocd.ts';
import { applySyncWaves } from '../../api/sync-waves.ts';
import { unstableFields } from '../../gitops/sync-stability.ts';
import { kubeConfig, uniqueName, usePeers } from '../peers/index.ts';
import { rawKube } from '../peers/raw.ts';
import type { K8sObject } from '../../api/objects.ts';

describe('unstableFields (pure)', () => {
  test('values the server rewrote or dropped are reported; fields it added are not', () => {
    assert.deepEqual(
      unstableFields({ a: { cpu: '1000m', keep: 1 }, l: [{ x: 1 }] }, { a: { cpu: '1', keep: 1, extra: true }, l: [{ x: 1, d: 0 }], status: {} }),
      [{ path: 'a.cpu', desired: '1000m', live: '1' }],
    );
    assert.deepEqual(unstableFields({ gone: { x: 1 } }, {}), [{ path: 'gone', desired: { x: 1 }, live: undefined }]);
    assert.deepEqual(unstableFields({ l: [1, 2] }, { l: [1] }), [{ path: 'l', desired: [1, 2], live: [1] }]);
    assert.deepEqual(unstableFields({ a: 1, b: [{ c: 'x' }] }, { a: 1, b: [{ c: 'x' }] }), []);
  });
});

const peers = await usePeers(['kube']);

/** What changes on every write and so is no difference: managedFields timestamps. */
function comparable(o: KubernetesObject): unknown {
  const c = structuredClone(o) as KubernetesObject & { metadata: { managedFields?: { time?: string }[] } };
  for (const f of c.metadata?.managedFields ?? []) delete f.time;
  return c;
}

describe('sync stability on a real API server', { skip: peers.skip }, () => {
  let kc: KubeConfig;
  let api: KubernetesObjectApi;
  let raw: ReturnType<typeof rawKube>;
  let ns: string;
  const cleanup: K8sObject[] = [];

  before(async () => {
    kc = kubeConfig(peers);
    api = KubernetesObjectApi.makeApiClient(kc);
    raw = rawKube(peers.kubeconfig);
    ns = uniqueName('gitops-sync');
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  });
  after(async () => {
    for (const o of cleanup.reverse()) await api.delete(o as KubernetesObject).catch(() => undefined);
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: ns })
      .catch(() => undefined);
  });

  async function applyTwice(objects: readonly K8sObject[]): Promise<void> {
    for (const desired of objects) {
      // As JSON, the way Argo CD sends it (client-node's KubernetesObjectApi would run a NetworkPolicy
      // through its typed model, which drops the ingress peers' `from`).
      const live = await raw.apply<KubernetesObject>(desired as never, { fieldManager: 'argocd-controller' });
      cleanup.push(desired);
      const what = `${desired.kind}/${desired.metadata.name}`;
      assert.deepEqual(unstableFields(desired, live), [], `${what}: the server changed fields we set`);
      const again = await raw.apply<KubernetesObject>(desired as never, { fieldManager: 'argocd-controller', dryRun: true });
      assert.deepEqual(comparable(again), comparable(live), `${what}: a second (dry-run) apply would change it`);
      assert.equal(again.metadata?.resourceVersion, live.metadata?.resourceVersion, `${what}: dry-run re-apply bumped resourceVersion`);
    }
  }

  test('the synthesized example (sync waves applied) is stable', async () => {
    const { objects } = await synthApp('examples/fraud-detection/app.ts', { sourceCommit: '0123456789abcdef0123456789abcdef01234567' });
    // The CRDs are cluster-wide and already installed by the harness; everything else goes into a
    // namespace of this test, in sync-wave order.
    const wave = (o: K8sObject) => Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
    const namespaced = applySyncWaves(objects as K8sObject[])
      .filter((o) => o.kind !== 'CustomResourceDefinition')
      .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: ns } }))
      .sort((a, b) => wave(a) - wave(b));
    assert.ok(namespaced.length >= 6);
    await applyTwice(namespaced);
  });

  test('the check has teeth: a normalised quantity is reported, an undeclared field is refused', async () => {
    const quota = { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'unstable', namespace: ns }, spec: { hard: { 'requests.cpu': '1000m' } } };
    const live = await api.patch(quota, undefined, undefined, 'argocd-controller', true, PatchStrategy.ServerSideApply);
    cleanup.push(quota);
    assert.deepEqual(unstableFields(quota, live), [{ path: 'spec.hard.requests.cpu', desired: '1000m', live: '1' }]);
    const drift = {
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'DriftMonitor',
      metadata: { name: 'pruned', namespace: ns },
      spec: {
        model: 'fraud',
        reference: { uri: 'data.csv', format: 'csv' },
        features: [{ name: 'x', type: 'numerical' }],
        thresholds: { driftShare: 0.3 },
        window: { seconds: 3600 },
        schedule: '*/10 * * * *',
        notInTheSchema: true,
      },
    };
    // Server-side apply refuses a field the CRD schema doesn't declare (instead of pruning it), so an
    // unknown field in synthesized output fails the apply above loudly.
    await assert.rejects(
      api.patch(drift, undefined, undefined, 'argocd-controller', true, PatchStrategy.ServerSideApply),
      /\.spec\.notInTheSchema: field not declared in schema/,
    );
  });

  test('the Argo CD Applications are stable', async () => {
    const app = new App();
    const chart = new Chart(app, 'gitops');
    new ArgoCdApps(chart, 'fraud', {
      repoURL: 'https://git.example.com/acme/ml.git',
      argocdNamespace: ns,
      environments: [Environment.of('dev', { values: { replicas: 1 } }), Environment.of('prod', { autoSync: false })],
    });
    await applyTwice(chart.toJson() as K8sObject[]);
  });
});

describe('watch --apply against a real API server', { skip: peers.skip }, () => {
  test('applies a commit in sync-wave order and creates a git-change TrainingRun the CRD accepts', async () => {
    const { clusterRuntime } = await import('../../gitops/runtimes.ts');
    const kc = kubeConfig(peers);
    const api = KubernetesObjectApi.makeApiClient(kc);
    const ns = uniqueName('gitops-apply');
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    try {
      const lines: string[] = [];
      const runtime = await clusterRuntime({ kubeconfig: peers.kubeconfig, log: (l) => lines.push(l) });
      const { objects } = await synthApp('examples/fraud-detection/app.ts', { sourceCommit: 'abcdef0123456789abcdef0123456789abcdef01', crds: false });
      const inNs = (objects as K8sObject[]).map((o) => ({ ...o, metadata: { ...o.metadata, namespace: ns } }));
      await runtime.apply(inNs, 'abcdef0123456789abcdef0123456789abcdef01');
      const wt = inNs.find((o) => o.kind === 'WorkflowTemplate') as K8sObject;
      const hash = wt.metadata.annotations?.['ghosteam.io/spec-hash'] as string;
      await runtime.retrain(
        { pipeline: 'fraud-train', namespace: ns, key: `${ns}/fraud-train`, hash, reason: 'git-change', commit: 'abcdef0123456789abcdef0123456789abcdef01' },
        { repoDir: '', commit: '', app: '', objects: inNs },
      );
      const name = `fraud-train-${hash.replace('sha256:', '').slice(0, 10)}`;
      const run = await api.read<KubernetesObject & { spec: Record<string, unknown> }>({
        apiVersion: 'ghosteam.io/v1alpha1',
        kind: 'TrainingRun',
        metadata: { name, namespace: ns },
      });
      assert.deepEqual(run.spec, {
        pipeline: 'fraud-train',
        reason: 'git-change',
        specHash: hash,
        gitCommit: 'abcdef0123456789abcdef0123456789abcdef01',
        model: 'fraud',
      });
      assert.deepEqual(lines, [`TrainingRun ${ns}/${name} created (git-change); the operator runs and promotes it`]);
      const live = await api.read({ apiVersion: 'ghosteam.io/v1alpha1', kind: 'Model', metadata: { name: 'fraud', namespace: ns } });
      assert.equal(live.metadata?.annotations?.['argocd.argoproj.io/sync-wave'], '0');
      // The Model's NetworkPolicy arrives whole: its ingress peers are what confine the predictor
      // (without them the rule would let everyone in).
      const np = await rawKube(peers.kubeconfig).request<{ spec: { ingress: Array<{ from?: unknown[] }> } }>(
        'GET',
        `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies/fraud-predictor`,
      );
      assert.deepEqual(np.spec.ingress, (inNs.find((o) => o.kind === 'NetworkPolicy') as K8sObject & { spec: { ingress: unknown } }).spec.ingress);
      assert.ok((np.spec.ingress[0].from ?? []).length >= 3);
    } finally {
      await kc
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: ns })
        .catch(() => undefined);
    }
  });
});
