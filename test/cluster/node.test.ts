/**
 * The test cluster runs pods for real (`npm run cluster:up`, `npm run images:build`): the model
 * server image serves a model as a pod behind a Service, reached through the API server's service
 * proxy; a pod reaches that Service's ClusterIP and the `kubernetes` Service with its ServiceAccount
 * token (kube-proxy's rules on this node); every component reports its real version; and a capture
 * on the machine's outward interface sees none of the cluster's traffic.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet } from '../../components/onnx/random.ts';
import { versions } from '../peers/config.ts';
import { CLUSTER_NET } from '../peers/cluster/config.ts';
import { captureClusterEgress, podLogs, RESTRICTED, useCluster, waitFor, waitPod, type Capture } from './harness.ts';

const cluster = await useCluster(['model-server', 'components']);
const ns = `node-${process.pid}`;

describe('the test cluster', { skip: cluster.skip }, () => {
  let capture: Capture;
  before(async () => {
    capture = await captureClusterEgress();
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

  test(`the API server and the node report Kubernetes ${versions.kubernetes}`, async () => {
    const v = await cluster.kube.request<{ gitVersion: string; major: string; minor: string }>('GET', '/version');
    assert.equal(v.gitVersion, versions.kubernetes);
    assert.equal(`v${v.major}.${v.minor}.`, versions.kubernetes.replace(/\d+$/, ''));
    const node = await cluster.kube.request<{ status: { nodeInfo: { kubeletVersion: string; kubeProxyVersion?: string; containerRuntimeVersion: string } } }>(
      'GET',
      '/api/v1/nodes/ghosteam-node',
    );
    assert.equal(node.status.nodeInfo.kubeletVersion, versions.kubernetes);
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\/1\.6\./);
  });

  test('the model-server image serves a model as a pod behind a Service, through the API server proxy and the ClusterIP', async () => {
    const model = Buffer.from(denseNetToOnnx(randomDenseNet([4, 3, 1], 11), { modelName: 'fraud' }));
    await cluster.kube.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'fraud-model', namespace: ns },
      binaryData: { 'model.onnx': model.toString('base64') },
    });
    const labels = { app: 'fraud-server' };
    await cluster.kube.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'fraud-server', namespace: ns, labels },
      spec: {
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'server',
            image: cluster.image('model-server'),
            imagePullPolicy: 'Never',
            // Beyond loopback the server wants a token or --unauthenticated said on purpose (as the ServingRuntime does).
            args: ['--port', '8080', '--model', 'fraud=/mnt/models', '--unauthenticated'],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/v2/health/ready', port: 8080 }, periodSeconds: 1 },
            securityContext: RESTRICTED,
            volumeMounts: [
              { name: 'model', mountPath: '/mnt/models', readOnly: true },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          },
        ],
        volumes: [
          { name: 'model', configMap: { name: 'fraud-model' } },
          { name: 'tmp', emptyDir: {} },
        ],
      },
    });
    await cluster.kube.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'fraud', namespace: ns },
      spec: { selector: labels, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
    });
    await waitPod(cluster.kube, ns, 'fraud-server', ['Running']);
    const proxy = `/api/v1/namespaces/${ns}/services/http:fraud:8080/proxy`;
    await waitFor('the model server to be ready behind its Service', () =>
      cluster.kube.request('GET', `${proxy}/v2/health/ready`).then(
        () => true,
        () => false,
      ),
    );
    const meta = await cluster.kube.request<{ name: string; inputs: { name: string; shape: number[] }[] }>('GET', `${proxy}/v2/models/fraud`);
    assert.equal(meta.name, 'fraud');
    const infer = await cluster.kube.request<{ outputs: { data: number[] }[] }>('POST', `${proxy}/v2/models/fraud/infer`, {
      inputs: [{ name: meta.inputs[0].name, shape: [2, 4], datatype: 'FP32', data: [0, 0, 0, 0, 1, 2, 3, 4] }],
    });
    assert.equal(infer.outputs[0].data.length, 2);
    for (const p of infer.outputs[0].data) assert.ok(p > 0 && p < 1, `a probability, got ${p}`);

    // A second pod calls the Service by its ClusterIP, and the `kubernetes` Service with its token.
    const svc = await cluster.kube.request<{ spec: { clusterIP: string } }>('GET', `/api/v1/namespaces/${ns}/services/fraud`);
    assert.ok(svc.spec.clusterIP.startsWith(CLUSTER_NET.serviceCIDR.split('.').slice(0, 2).join('.') + '.'), svc.spec.clusterIP);
    // kube-proxy programs the Service shortly after its pod turns Ready; a pod that called the
    // ClusterIP before that would time out and its packets would leave by the default route (one CI
    // run, 2026-12-04). Wait for the rules — the ClusterIP's match and an endpoint for the Service.
    const programmed = () => {
      const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout ?? '';
      return nat.includes(`-d ${svc.spec.clusterIP}/32`) && nat.split('\n').some((l) => l.includes(`${ns}/fraud`) && l.includes('-j KUBE-SEP-'));
    };
    await waitFor(`kube-proxy's rules for the Service's ClusterIP ${svc.spec.clusterIP}`, async () => programmed(), 60_000);
    const script = `
      const fs = require('node:fs'), https = require('node:https');
      const sa = '/var/run/secrets/kubernetes.io/serviceaccount/';
      const get = (path) => new Promise((resolve, reject) => https.get({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, path,
        ca: fs.readFileSync(sa + 'ca.crt'), headers: { authorization: 'Bearer ' + fs.readFileSync(sa + 'token', 'utf8') } }, (res) => {
        let body = ''; res.on('data', (c) => body += c); res.on('end', () => resolve({ status: res.statusCode, body }));
      }).on('error', reject));
      (async () => {
        const ready = await fetch('http://${svc.spec.clusterIP}:8080/v2/health/ready');
        const version = await get('/version');
        const pods = await get('/api/v1/namespaces/${ns}/pods');
        console.log(JSON.stringify({ host: process.env.KUBERNETES_SERVICE_HOST, ready: ready.status, version: JSON.parse(version.body).gitVersion, podsStatus: pods.status, podsMessage: JSON.parse(pods.body).message }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    await cluster.kube.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: ns },
      spec: {
        restartPolicy: 'Never',
        containers: [
          { name: 'client', image: cluster.image('components'), imagePullPolicy: 'Never', command: ['node', '-e', script], securityContext: RESTRICTED },
        ],
      },
    });
    const done = await waitPod(cluster.kube, ns, 'client', ['Succeeded', 'Failed']);
    const logs = await podLogs(cluster.kube, ns, 'client');
    assert.equal(done.status?.phase, 'Succeeded', logs);
    const seen = JSON.parse(logs.trim().split('\n').pop()!) as { host: string; ready: number; version: string; podsStatus: number; podsMessage: string };
    assert.equal(seen.host, CLUSTER_NET.apiServiceIP);
    assert.equal(seen.ready, 200);
    assert.equal(seen.version, versions.kubernetes);
    // Authenticated as its ServiceAccount (a bad token is 401), which may not list pods.
    assert.equal(seen.podsStatus, 403);
    assert.match(seen.podsMessage, new RegExp(`system:serviceaccount:${ns}:default`));
  });

  test('none of the cluster traffic left the machine', async () => {
    const packets = await capture.stop();
    assert.deepEqual(packets, [], `packets of the cluster's addresses on the outward interface:\n${packets.slice(0, 20).join('\n')}`);
  });
});
