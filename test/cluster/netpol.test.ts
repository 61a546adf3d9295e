/**
 * #23 on real pods: a `Model`'s synthesized NetworkPolicy is enforced. The test cluster runs
 * kube-router's NetworkPolicy firewall (test/peers/cluster/netpol.ts) beside the bridge CNI. The predictor is what
 * `ghosteam synth` emits for the Model (its InferenceService on the ghosteam ServingRuntime made
 * into a Deployment as KServe's RawDeployment mode makes it; the model file comes from a
 * ConfigMap instead of a registry), and the NetworkPolicy is the one synth emits with it, applied
 * unchanged. Real client pods connect to the predictor pod's address and to its Service: before the
 * policy both reach it (the network works), after it the caller the Model declares
 * (`network.allowFrom`) still gets answers and any other pod's connections are dropped. All the
 * traffic stays between pods on this node's bridge; the capture on the outward interface must see
 * none of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { App, Chart } from 'cdk8s';
import { Model } from '../../charts/index.ts';
import { synthesize } from '../../charts/synth.ts';
import { denseNetForward, denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet } from '../../components/onnx/random.ts';
import { Resources } from '../../pipelines/index.ts';
import { logTail } from '../peers/daemons.ts';
import { netpolRules } from '../peers/cluster/netpol.ts';
import { readClusterState } from '../peers/cluster/node.ts';
import type { KubeObject } from '../peers/raw.ts';
import { noTrafficLeavesTheMachine, podLogs, rawDeployment, RESTRICTED, useCluster, waitFor, waitPod, type PredictorSources } from './harness.ts';

const cluster = await useCluster(['model-server']);
const ns = `netpol-${process.pid}`;
const ALLOWED = { 'app.kubernetes.io/name': 'fraud-client' };
const OTHER = { 'app.kubernetes.io/name': 'someone-else' };

interface Attempt {
  ok: boolean;
  status?: number;
  error?: string;
  outputs?: number[];
}

/** kube-router's log, for a failure message. */
const enforcerLog = () => logTail(readClusterState()?.daemons.netpol?.log ?? '', 40);

/**
 * A client pod's script: up to `tries` attempts (2 s each) to POST an OIP request to each target,
 * stopping at the first answer (the enforcer writes a brand-new pod's address into its ipsets a
 * moment after the pod starts); one JSON line with every attempt per target.
 */
function clientScript(targets: readonly string[], body: object, tries: number): string {
  return `
    const body = ${JSON.stringify(JSON.stringify(body))};
    (async () => {
      const out = {};
      for (const t of ${JSON.stringify(targets)}) {
        const attempts = [];
        for (let i = 0; i < ${tries}; i++) {
          const t0 = Date.now();
          try {
            const res = await fetch(t + '/v2/models/fraud/infer', { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(2000) });
            const json = await res.json();
            attempts.push({ ok: res.status === 200, status: res.status, outputs: json.outputs?.[0]?.data });
            if (res.status === 200) break;
          } catch (e) {
            attempts.push({ ok: false, error: String(e.cause?.code ?? e.name ?? e) });
            await new Promise((r) => setTimeout(r, Math.max(0, 2000 - (Date.now() - t0))));
          }
        }
        out[t] = attempts;
      }
      console.log(JSON.stringify(out));
    })().catch((e) => { console.error(e); process.exit(1); });`;
}

describe('a Model’s synthesized NetworkPolicy is enforced on the test cluster', { skip: cluster.skip }, () => {
  const net = randomDenseNet([4, 5, 1], 31);
  const rows = [
    [1, 2, 3, 4],
    [0.5, -1, 2, 0],
  ];
  const body = { inputs: [{ name: 'input', shape: [rows.length, 4], datatype: 'FP32', data: rows.flat() }] };
  let objects: KubeObject[] = [];
  let targets: string[] = [];
  let run = 0;

  before(async () => {
    await cluster.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await waitFor(`the default ServiceAccount in ${ns}`, () =>
      cluster.kube.request('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`).then(
        () => true,
        () => false,
      ),
    );
  });
  after(async () => {
    await cluster.kube?.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
  });

  /** Run one client pod with `labels` against every target; its attempts per target. */
  async function call(labels: Record<string, string>, tries: number): Promise<Record<string, Attempt[]>> {
    const name = `client-${++run}`;
    await cluster.kube.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels },
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'client',
            image: cluster.image('model-server'),
            imagePullPolicy: 'Never',
            command: ['node', '-e', clientScript(targets, body, tries)],
            securityContext: RESTRICTED,
          },
        ],
      },
    });
    const done = await waitPod(cluster.kube, ns, name, ['Succeeded', 'Failed'], 240_000);
    const logs = await podLogs(cluster.kube, ns, name);
    assert.equal(done.status?.phase, 'Succeeded', logs);
    return JSON.parse(logs.trim().split('\n').pop()!) as Record<string, Attempt[]>;
  }

  test('the predictor synthesized for the Model serves, and every pod reaches it while no policy selects it', async () => {
    const app = new App();
    const chart = new Chart(app, 'netpol', { namespace: ns });
    new Model(chart, 'fraud', {
      registry: 'fraud@1',
      storageUri: 'configmap://fraud-model/model.onnx',
      resources: Resources.of({ cpu: '250m', memory: '512Mi' }),
      network: { allowFrom: [{ podLabels: ALLOWED }] },
    });
    objects = synthesize(app, { crds: false }).objects as KubeObject[];
    const isvc = objects.find((o) => o.kind === 'InferenceService') as unknown as PredictorSources['isvc'];
    const runtime = objects.find((o) => o.kind === 'ServingRuntime') as unknown as PredictorSources['runtime'];
    assert.ok(isvc && runtime, `synth emitted ${objects.map((o) => o.kind).join(', ')}`);

    // The storage initializer's work from a ConfigMap: copy the model file into /mnt/models.
    const model = Buffer.from(denseNetToOnnx(net, { modelName: 'fraud' }));
    await cluster.kube.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'fraud-model', namespace: ns },
      binaryData: { 'model.onnx': model.toString('base64') },
    });
    const serverImage = (runtime.spec.containers[0] as { image: string }).image;
    const { deployment, service } = rawDeployment(
      { runtime, isvc },
      {
        image: serverImage,
        command: ['sh', '-c', 'cp /model-src/model.onnx "$2"/', 'sh'],
        env: [],
        source: { volume: { name: 'model-src', configMap: { name: 'fraud-model' } }, mountPath: '/model-src' },
      },
    );
    await cluster.kube.apply(service);
    await cluster.kube.apply(deployment);

    const pod = await waitFor(
      'the predictor pod to be Ready',
      async () => {
        const pods = await cluster.kube.request<{
          items: { metadata: { name: string; labels: Record<string, string> }; status?: { podIP?: string; conditions?: { type: string; status: string }[] } }[];
        }>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=serving.kserve.io/inferenceservice=fraud`);
        return pods.items.find((p) => p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      },
      240_000,
    );
    const svc = await cluster.kube.request<{ spec: { clusterIP: string } }>('GET', `/api/v1/namespaces/${ns}/services/fraud-predictor`);
    const port = (runtime.spec.containers[0] as { ports: { containerPort: number }[] }).ports[0].containerPort;
    targets = [`http://${pod.status!.podIP}:${port}`, `http://${svc.spec.clusterIP}:80`];

    const want = denseNetForward(net, rows);
    for (const labels of [ALLOWED, OTHER]) {
      const seen = await call(labels, 10);
      for (const t of targets) {
        const last = seen[t].at(-1)!;
        assert.ok(last.ok, `${labels['app.kubernetes.io/name']} → ${t} with no policy: ${JSON.stringify(seen[t])}`);
        for (let i = 0; i < rows.length; i++) assert.ok(Math.abs(last.outputs![i] - want[i]) < 1e-5, `row ${i}: ${last.outputs![i]} vs ${want[i]}`);
      }
    }
  });

  test('with the synthesized NetworkPolicy the declared caller still gets answers and another pod is refused', async () => {
    assert.ok(targets.length > 0, 'the predictor runs (previous test)');
    const policy = objects.find((o) => o.kind === 'NetworkPolicy');
    assert.ok(policy, `synth emitted a NetworkPolicy: ${objects.map((o) => o.kind).join(', ')}`);
    assert.equal(policy.metadata?.name, 'fraud-predictor');
    await cluster.kube.apply(policy);
    // kube-router gives every pod on the node a firewall chain; once it has read the policy, the
    // predictor's chain sends traffic to the pod through the policy's own chain (by the policy's name).
    const podIP = new URL(targets[0]).hostname;
    const ip = new RegExp(`(^|[^0-9.])${podIP.replaceAll('.', '\\.')}([^0-9.]|$)`);
    const policed = () =>
      netpolRules()
        .split('\n')
        .some((l) => l.includes('KUBE-POD-FW-') && l.includes('run through nw policy fraud-predictor') && ip.test(l));
    await waitFor(`the enforcer to police ${podIP}`, async () => policed(), 60_000).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${netpolRules()}\n${enforcerLog()}`);
    });

    const allowed = await call(ALLOWED, 10);
    for (const t of targets) assert.ok(allowed[t].at(-1)!.ok, `the declared caller → ${t}: ${JSON.stringify(allowed[t])}`);

    const other = await call(OTHER, 6);
    for (const t of targets) {
      assert.equal(other[t].length, 6, `every attempt made: ${JSON.stringify(other[t])}`);
      for (const a of other[t]) {
        assert.equal(a.ok, false, `a pod the policy does not name got an answer from ${t}: ${JSON.stringify(other[t])}\n${enforcerLog()}`);
        // Stopped at the node (kube-router rejects the connection): no HTTP answer at all.
        assert.equal(a.status, undefined, JSON.stringify(a));
      }
    }

    // Without the policy the same pod gets answers again: it was the policy that dropped them.
    await cluster.kube.request('DELETE', `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies/fraud-predictor`);
    await waitFor(`the enforcer to stop policing ${podIP}`, async () => !policed(), 60_000);
    const again = await call(OTHER, 10);
    for (const t of targets) assert.ok(again[t].at(-1)!.ok, `after the policy is deleted → ${t}: ${JSON.stringify(again[t])}`);
  });

  noTrafficLeavesTheMachine();
});
