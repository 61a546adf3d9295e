/**
 * The operator chart (`ghosteam install --helm`) installed on the test cluster by the real helm, in
 * namespace scope: the operator pod runs with the chart's RBAC only (a Role in the watched
 * namespace, a ClusterRole for nodes), becomes leader, serves /healthz and reconciles a Model in
 * the namespace it watches. `helm uninstall` then removes what the chart made (the CRDs stay, as
 * Helm keeps crds/).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { installCrds, loadCrdFile } from '../peers/crds.ts';
import { repoRoot, upstreamDir } from '../peers/config.ts';
import { ensureHelm } from '../peers/helm.ts';
import { noTrafficLeavesTheMachine, useCluster, waitFor } from './harness.ts';

const cluster = await useCluster(['operator']);
const ns = `ghosteam-helm-${process.pid}`;
const watched = `helm-models-${process.pid}`;

describe('the operator installed from its Helm chart, as a pod', { skip: cluster.skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'helm-cluster-'));
  let helm = '';
  const h = (...args: string[]) =>
    spawnSync(helm, [...args, '--kubeconfig', cluster.kubeconfig], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, HELM_CACHE_HOME: join(tmp, 'cache'), HELM_CONFIG_HOME: join(tmp, 'config'), HELM_DATA_HOME: join(tmp, 'data') },
    });
  before(async () => {
    helm = await ensureHelm((l) => process.stderr.write(`[helm] ${l}\n`));
    const kserve = ['serving.kserve.io_inferenceservices.yaml', 'serving.kserve.io_servingruntimes.yaml'].flatMap((f) =>
      loadCrdFile(join(upstreamDir, 'kserve', f)),
    );
    await installCrds(cluster.kubeconfig, kserve, 300_000);
    await cluster.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: watched } });
    const chart = join(tmp, 'chart');
    const w = spawnSync(
      process.execPath,
      [join(repoRoot, 'bin/ghosteam.mjs'), 'install', '--helm', chart, '--image', cluster.image('operator'), '--replicas', '1', '--watch-namespace', watched],
      { encoding: 'utf8' },
    );
    assert.equal(w.status, 0, w.stderr);
    const i = h('install', 'ghosteam-operator', chart, '-n', ns, '--create-namespace', '--set', 'createNamespace=false');
    assert.equal(i.status, 0, `helm install failed:\n${i.stdout}\n${i.stderr}`);
  });
  after(async () => {
    h('uninstall', 'ghosteam-operator', '-n', ns);
    await cluster.kube?.request('DELETE', `/api/v1/namespaces/${watched}`).catch(() => {});
    await cluster.kube?.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  test('runs, leads, serves /healthz and reconciles a Model in the namespace it watches', async () => {
    const pod = await waitFor(
      'the operator pod (from the chart) to be Ready',
      async () => {
        const pods = await cluster.kube.request<{
          items: { metadata: { name: string }; spec: { serviceAccountName: string }; status: { conditions?: { type: string; status: string }[] } }[];
        }>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app.kubernetes.io/name=ghosteam-operator`);
        return pods.items.find((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      },
      240_000,
    );
    assert.equal(pod.spec.serviceAccountName, 'ghosteam-operator');
    const health = await cluster.kube.request('GET', `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}:8081/proxy/healthz`);
    assert.match(String(health), /ok/i);
    await waitFor('the leader Lease', async () => {
      const leases = await cluster.kube.request<{ items: { spec: { holderIdentity?: string } }[] }>(
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      );
      return leases.items.find((l) => l.spec.holderIdentity?.includes(pod.metadata.name));
    });
    await cluster.kube.apply({
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'Model',
      metadata: { name: 'fraud', namespace: watched },
      spec: {
        modelRef: { name: 'fraud', alias: 'latest' },
        format: 'onnx',
        inferenceService: 'fraud',
        runtime: 'ghosteam-onnx',
        resources: { cpu: '100m', memory: '256Mi' },
        autoscaling: { minReplicas: 1, maxReplicas: 1, targetConcurrency: 8 },
        rollout: { strategy: 'direct', steps: [100], intervalSeconds: 1, thresholds: { maxErrorRate: 0.05, maxP99LatencyMs: 500 }, minRequests: 10 },
        payloadLogging: { enabled: false, mode: 'all' },
      },
    });
    const m = await waitFor('the Model status from the operator pod', async () => {
      const r = await cluster.kube.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
        'GET',
        `/apis/ghosteam.io/v1alpha1/namespaces/${watched}/models/fraud`,
      );
      return r.status?.conditions?.length ? r : undefined;
    });
    assert.ok(m.status!.conditions!.some((c) => c.type === 'Ready'));
  });

  noTrafficLeavesTheMachine();
});
