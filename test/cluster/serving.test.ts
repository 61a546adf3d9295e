/**
 * Bullet 4 of #13 on real pods: the model-server image serves a model registered in the real
 * MLflow, as a pod behind a Service. The pod is what `ghosteam synth` emits for serving (the `Model`
 * construct's InferenceService on the ghosteam ServingRuntime), made into a Deployment and Service
 * the way KServe's RawDeployment mode makes them (`rawDeployment` in harness.ts): KServe's
 * controller does not run here, and its storage-initializer image is not reachable, so the model's
 * download into /mnt/models is done by an init container of the model-server image with ghosteam's
 * own registry client (the version's digest checked). The test reaches the server from this node
 * through the Service's ClusterIP (kube-proxy's rules) and through the API server's service proxy,
 * and compares its answers with the network's reference forward pass. A capture on the outward
 * interface must see none of it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { App, Chart } from 'cdk8s';
import { Model } from '../../charts/index.ts';
import { Resources } from '../../pipelines/index.ts';
import { synthesize } from '../../charts/synth.ts';
import { denseNetForward, denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet } from '../../components/onnx/random.ts';
import { openRegistry } from '../../components/registry/index.ts';
import { CLUSTER_NET } from '../peers/cluster/config.ts';
import { usePeers } from '../peers/index.ts';
import { captureClusterEgress, peerService, rawDeployment, useCluster, waitFor, type Capture, type Forward, type PredictorSources } from './harness.ts';

const cluster = await useCluster(['model-server']);
const peers = await usePeers(['mlflow']);
const skip = cluster.skip ?? peers.skip;
const ns = `serving-${process.pid}`;
const modelName = `fraud-serving-${process.pid}`;

/**
 * The storage initializer's work, with the registry client the model-server image carries: the
 * version named by the predictor's GHOSTEAM_MODEL_NAME/GHOSTEAM_MODEL_VERSION must have the
 * storageUri as its source; its file is downloaded (digest checked) and copied into /mnt/models.
 */
const STORAGE_INITIALIZER = `
import { openRegistry } from '/app/components/registry/index.ts';
import { cpSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
const [uri, dest] = process.argv.slice(-2);
const registry = openRegistry();
const mv = await registry.getVersion(process.env.GHOSTEAM_MODEL_NAME, Number(process.env.GHOSTEAM_MODEL_VERSION));
if (mv.source !== uri) throw new Error('storageUri ' + uri + ' is not the source of ' + mv.name + ' version ' + mv.version + ' (' + mv.source + ')');
const file = await registry.fetchArtifact(mv);
cpSync(file, join(dest, basename(file)), { recursive: true });
console.log(JSON.stringify({ uri, digest: mv.digest, files: readdirSync(dest) }));
`;

describe('the model-server image serves a registered model behind a Service', { skip }, () => {
  let capture: Capture;
  let mlflow: Forward;
  const tmp = mkdtempSync(join(tmpdir(), 'ghosteam-serving-'));
  before(async () => {
    capture = await captureClusterEgress();
    await cluster.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    mlflow = await peerService(cluster.kube, peers.mlflowUrl, { namespace: ns, name: 'mlflow' });
  });
  after(async () => {
    await mlflow?.close();
    await cluster.kube?.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  const initLog = async (pod: string) => {
    // rawKube parses a log of one JSON line.
    const log = await cluster.kube.request<unknown>('GET', `/api/v1/namespaces/${ns}/pods/${pod}/log?container=storage-initializer`);
    return typeof log === 'string' ? log : JSON.stringify(log);
  };
  const net = randomDenseNet([4, 6, 1], 23);
  const rows = [
    [0, 0, 0, 0],
    [1, 2, 3, 4],
    [-1.5, 0.25, 8, -3],
  ];

  test('a version registered in MLflow, served from the synthesized predictor; OIP through the ClusterIP from the node and the API server proxy', async () => {
    // Register the model in the real MLflow, as the pipeline's register step does.
    const file = join(tmp, 'model.onnx');
    writeFileSync(file, denseNetToOnnx(net, { modelName }));
    const registry = openRegistry({ trackingUri: peers.mlflowUrl });
    const mv = await registry.registerVersion(modelName, { artifactPath: file, format: 'onnx', metrics: { rocAuc: 0.5 } });
    assert.match(mv.source, /^mlflow-artifacts:/);

    // What `ghosteam synth` emits for serving it; storageUri as the operator sets it (the version's source).
    const app = new App();
    const chart = new Chart(app, 'serving', { namespace: ns });
    new Model(chart, 'fraud', { registry: `${modelName}@${mv.version}`, storageUri: mv.source, resources: Resources.of({ cpu: '250m', memory: '512Mi' }) });
    const objects = synthesize(app, { crds: false }).objects;
    const isvc = objects.find((o) => o.kind === 'InferenceService') as unknown as PredictorSources['isvc'];
    const runtime = objects.find((o) => o.kind === 'ServingRuntime') as unknown as PredictorSources['runtime'];
    assert.ok(isvc && runtime, `synth emitted ${objects.map((o) => o.kind).join(', ')}`);
    const serverImage = (runtime.spec.containers[0] as { image: string }).image;
    assert.equal(serverImage, cluster.image('model-server'), "the ServingRuntime's default image is the one images:build built");

    const { deployment, service } = rawDeployment(
      { runtime, isvc },
      {
        image: serverImage,
        command: ['node', '--import', 'tsx', '--input-type=module', '-e', STORAGE_INITIALIZER],
        env: [{ name: 'MLFLOW_TRACKING_URI', value: mlflow.url }],
      },
    );
    await cluster.kube.apply(service);
    await cluster.kube.apply(deployment);

    const podName = await waitFor(
      'the predictor pod to be Ready',
      async () => {
        const pods = await cluster.kube.request<{
          items: {
            metadata: { name: string };
            status?: {
              conditions?: { type: string; status: string }[];
              initContainerStatuses?: { state?: { waiting?: { reason?: string; message?: string }; terminated?: { exitCode: number } } }[];
              containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[];
            };
          }[];
        }>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=serving.kserve.io/inferenceservice=fraud`);
        for (const p of pods.items) {
          const init = p.status?.initContainerStatuses?.[0]?.state;
          const failed = (init?.terminated && init.terminated.exitCode !== 0) || /Err|BackOff|Invalid/.test(init?.waiting?.reason ?? '');
          const bad = p.status?.containerStatuses?.map((c) => c.state?.waiting).find((w) => w && /Err|Invalid|BackOff/.test(w.reason ?? ''));
          if (failed || bad) {
            const log = await initLog(p.metadata.name).catch((e: Error) => e.message);
            throw Object.assign(new Error(`pod ${p.metadata.name}: ${JSON.stringify(p.status)}\nstorage-initializer: ${log}`), { fatal: true });
          }
          if (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return p.metadata.name;
        }
        return undefined;
      },
      240_000,
    );
    const init = JSON.parse((await initLog(podName)).trim().split('\n').pop()!) as { digest: string; files: string[] };
    assert.equal(init.digest, mv.digest, 'the storage initializer fetched the registered bytes');
    assert.deepEqual(init.files, ['model.onnx']);
    assert.ok(mlflow.url.startsWith(`http://${CLUSTER_NET.serviceCIDR.split('.').slice(0, 2).join('.')}.`), `MLflow by its Service: ${mlflow.url}`);

    // From this node through the Service's ClusterIP: kube-proxy's rules carry it to the pod.
    const svc = await cluster.kube.request<{ spec: { clusterIP: string } }>('GET', `/api/v1/namespaces/${ns}/services/fraud-predictor`);
    assert.ok(svc.spec.clusterIP.startsWith(CLUSTER_NET.serviceCIDR.split('.').slice(0, 2).join('.') + '.'), svc.spec.clusterIP);
    const base = `http://${svc.spec.clusterIP}:80`;
    // kube-proxy programs the Service's endpoint shortly after the pod turns Ready.
    let last = '';
    await waitFor(
      `the Service's ClusterIP ${svc.spec.clusterIP} to answer from the node`,
      () =>
        fetch(`${base}/v2/health/ready`).then(
          (r) => r.status === 200,
          (e: Error & { cause?: Error }) => ((last = `${e.message}: ${e.cause?.message ?? ''}`), false),
        ),
      60_000,
    ).catch((e: Error) => {
      const nat = spawnSync('iptables', ['-w', '-t', 'nat', '-S'], { encoding: 'utf8' }).stdout.split('\n');
      throw new Error(
        `${e.message} (last: ${last})\nkube-proxy's rules for it:\n${nat.filter((l) => l.includes(svc.spec.clusterIP) || l.includes(ns)).join('\n')}`,
      );
    });
    const meta = (await (await fetch(`${base}/v2/models/fraud`)).json()) as { name: string; inputs: { name: string }[]; outputs: { name: string }[] };
    assert.equal(meta.name, 'fraud', 'served under the InferenceService name ({{.Name}} in the runtime args)');
    const body = { inputs: [{ name: meta.inputs[0].name, shape: [rows.length, 4], datatype: 'FP32', data: rows.flat() }] };
    const res = await fetch(`${base}/v2/models/fraud/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.clone().text());
    const viaClusterIP = (await res.json()) as { model_name: string; outputs: { name: string; shape: number[]; data: number[] }[] };
    const want = denseNetForward(net, rows);
    const got = viaClusterIP.outputs[0].data;
    assert.equal(got.length, rows.length);
    for (let i = 0; i < rows.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `row ${i}: served ${got[i]}, reference ${want[i]}`);

    // And through the API server's service proxy: the same answer.
    const proxy = `/api/v1/namespaces/${ns}/services/http:fraud-predictor:80/proxy`;
    const viaProxy = await cluster.kube.request<{ outputs: { data: number[] }[] }>('POST', `${proxy}/v2/models/fraud/infer`, body);
    assert.deepEqual(viaProxy.outputs[0].data, got);

    // A client's mistake is a 400 naming the input, not a 5xx.
    const bad = await fetch(`${base}/v2/models/fraud/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: meta.inputs[0].name, shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }),
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), new RegExp(meta.inputs[0].name));
  });

  test('none of the cluster traffic left the machine', async () => {
    const packets = await capture.stop();
    assert.deepEqual(packets, [], `packets of the cluster's addresses on the outward interface:\n${packets.slice(0, 20).join('\n')}`);
  });
});
