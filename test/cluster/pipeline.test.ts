/**
 * The example training pipeline on real pods: `ghosteam synth` of examples/fraud-detection writes
 * the WorkflowTemplate, the test applies it to the cluster's Argo namespace and submits a Workflow
 * from it (workflowTemplateRef, as the operator does). The real Argo controller runs every step in
 * the components image with the emissary executor: ingest reads an `s3://` source from the
 * cluster's object store, artifacts pass through the S3 artifact repository, the gate's output
 * parameter drives `when`, and register writes a version to the real MLflow peer.
 *
 * What differs from a production cluster, set by the submit and nothing else: this node has two
 * CPUs and no GPU, so a Workflow-level podSpecPatch lowers every step's requests and drops the
 * train step's GPU request and node selector; and the patch gives the steps the platform's
 * settings (MLFLOW_TRACKING_URI, S3_ENDPOINT, and the object store's keys from its Secret by
 * reference). MLflow listens on 127.0.0.1; pods reach it through a forwarder on the node address
 * (10.205.0.1, on `lo`: no other machine routes to it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseAllDocuments } from 'yaml';
import { openRegistry } from '../../components/registry/index.ts';
import { ARGO_NAMESPACE } from '../peers/cluster/config.ts';
import { S3_SECRET, WORKFLOW_SERVICE_ACCOUNT } from '../peers/cluster/argo.ts';
import { readClusterState } from '../peers/cluster/node.ts';
import { usePeers, type KubeObject } from '../peers/index.ts';
import { captureClusterEgress, peerService, useCluster, waitFor, workflowLogs, type Capture, type Forward, type WorkflowLike } from './harness.ts';

const cluster = await useCluster(['components']);
const peers = await usePeers(['mlflow']);
const skip = cluster.skip ?? peers.skip;
const repo = join(import.meta.dirname, '../..');
const name = `fraud-train-${process.pid}`;

describe('the example pipeline on real pods with the real Argo controller', { skip }, () => {
  let capture: Capture;
  let mlflow: Forward;
  const tmp = mkdtempSync(join(tmpdir(), 'ghosteam-cluster-pipeline-'));
  let wf: WorkflowLike;

  before(async () => {
    capture = await captureClusterEgress();
    // MLflow as pods reach it in a cluster: by a Service (its ClusterIP; pods resolve no names here).
    mlflow = await peerService(cluster.kube, peers.mlflowUrl, { namespace: ARGO_NAMESPACE, name: `mlflow-${process.pid}` });
  });
  after(async () => {
    await mlflow?.close();
    await cluster.kube?.request('DELETE', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  test('ghosteam synth → WorkflowTemplate → Workflow runs to Succeeded, data from s3://, model registered in MLflow', async () => {
    const t0 = Date.now();
    const s = spawnSync(process.execPath, ['bin/ghosteam.mjs', 'synth', 'examples/fraud-detection/app.ts', '--out', join(tmp, 'synth')], {
      cwd: repo,
      encoding: 'utf8',
    });
    assert.equal(s.status, 0, s.stderr);
    const template = parseAllDocuments(readFileSync(join(tmp, 'synth', 'fraud-detection.yaml'), 'utf8'))
      .map((d) => d.toJS() as KubeObject)
      .find((o) => o?.kind === 'WorkflowTemplate')!;
    await cluster.kube.apply({ ...template, metadata: { ...template.metadata, namespace: ARGO_NAMESPACE } });

    // The training data goes to the object store; the pipeline reads it as s3://data/<this run>/reference.csv
    // (a path of its own: the same path would let Argo reuse an earlier run's memoized ingest).
    const store = readClusterState()!.objectStore!;
    const csv = readFileSync(join(repo, 'data/fraud/reference.csv'));
    const s3 = new S3Client({
      endpoint: store.endpoint,
      region: store.region,
      forcePathStyle: true,
      credentials: { accessKeyId: store.accessKey, secretAccessKey: store.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: `${name}/reference.csv`, Body: csv }));

    const secretEnv = (env: string, key: string) => ({ name: env, valueFrom: { secretKeyRef: { name: S3_SECRET, key } } });
    const podSpecPatch = {
      nodeSelector: null,
      containers: [
        {
          name: 'main',
          resources: { requests: { cpu: '100m', memory: '256Mi', 'nvidia.com/gpu': null }, limits: { cpu: '2', memory: '2Gi', 'nvidia.com/gpu': null } },
          env: [
            { name: 'MLFLOW_TRACKING_URI', value: mlflow.url },
            { name: 'S3_ENDPOINT', value: store.endpoint },
            { name: 'AWS_REGION', value: store.region },
            secretEnv('AWS_ACCESS_KEY_ID', 'accessKey'),
            secretEnv('AWS_SECRET_ACCESS_KEY', 'secretKey'),
          ],
        },
      ],
    };
    await cluster.kube.apply({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name, namespace: ARGO_NAMESPACE },
      spec: {
        workflowTemplateRef: { name: template.metadata!.name },
        serviceAccountName: WORKFLOW_SERVICE_ACCOUNT,
        arguments: {
          // The example's own epochs and gate: fewer epochs fail its rocAuc >= 0.80 gate (2 did).
          parameters: [{ name: 'data', value: `s3://data/${name}/reference.csv` }],
        },
        podSpecPatch: JSON.stringify(podSpecPatch),
      },
    });
    wf = await waitFor(
      `Workflow ${name} to finish`,
      async () => {
        const w = await cluster.kube.request<WorkflowLike>('GET', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`);
        return ['Succeeded', 'Failed', 'Error'].includes(w.status?.phase ?? '') ? w : undefined;
      },
      900_000,
    );
    // A step with a retry strategy (train, register) is a Retry node over its attempts' pods (train(0)).
    const nodes = Object.values(wf.status?.nodes ?? {}).filter((n) => ['Pod', 'Retry', 'Skipped'].includes(n.type ?? '') && !/\(\d+\)$/.test(n.displayName));
    const secs = (n: (typeof nodes)[number]) =>
      n.startedAt && n.finishedAt ? ` ${Math.round((Date.parse(n.finishedAt) - Date.parse(n.startedAt)) / 1000)} s` : '';
    const summary = nodes.map((n) => `${n.displayName}: ${n.phase}${secs(n)}${n.message ? ` (${n.message})` : ''}`).join('\n');
    if (wf.status?.phase !== 'Succeeded')
      assert.fail(`${wf.status?.phase}: ${wf.status?.message ?? ''}\n${summary}\n${await workflowLogs(cluster.kube, ARGO_NAMESPACE, name)}`);
    const byName = (n: string) => nodes.find((x) => x.displayName === n);
    const param = (n: string, p: string) => byName(n)?.outputs?.parameters?.find((x) => x.name === p)?.value;
    for (const step of ['ingest', 'validate', 'split', 'train', 'evaluate', 'gate', 'export-onnx', 'register'])
      assert.equal(byName(step)?.phase, 'Succeeded', `${step}:\n${summary}`);
    assert.equal(param('ingest', 'rows'), '20000', 'ingest read every row of the s3:// source');
    assert.ok(!byName('ingest')?.message?.includes('memoiz'), 'ingest ran (no cache hit)');
    assert.equal(param('gate', 'passed'), 'true', 'the gate passed, so export-onnx and register ran (their `when`)');
    process.stderr.write(`[cluster] ${name} Succeeded in ${Math.round((Date.now() - t0) / 1000)} s:\n${summary}\n`);

    // The registered version in the real MLflow, with this Workflow's lineage.
    const registry = openRegistry({ trackingUri: peers.mlflowUrl });
    const version = Number(param('register', 'version'));
    const mv = await registry.getVersion('fraud', version);
    if (mv.lineage.runId !== name) {
      // The same data and seed train the same bytes: run again against the same MLflow, register
      // reuses the version an earlier run registered (`reuseIdentical`), lineage and all, and says so.
      const logs = await workflowLogs(cluster.kube, ARGO_NAMESPACE, name);
      assert.match(logs, new RegExp(`fraud version ${version} already holds these exact bytes`), `lineage ${JSON.stringify(mv.lineage)}; logs:\n${logs}`);
      assert.match(mv.lineage.runId ?? '', /^fraud-train-/, 'an earlier run of this test registered it');
    }
    assert.equal(mv.lineage.pipeline, 'fraud-train');
    assert.equal(mv.lineage.datasetDigest, param('ingest', 'digest'), 'the lineage names the dataset ingest produced');
    assert.ok(mv.metrics.rocAuc >= 0.8, `rocAuc ${mv.metrics.rocAuc}`);
    const file = await registry.fetchArtifact(mv);
    const bytes = readFileSync(file);
    assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, mv.digest, 'the model MLflow serves is the one registered');
  });

  test('ingest on a pod gives the dataset the local engine gives (same digest)', async () => {
    assert.ok(wf, 'the Workflow ran');
    const out = join(tmp, 'local');
    const r = spawnSync(
      process.execPath,
      [
        'bin/ghosteam.mjs',
        'component',
        'run',
        'ingest',
        '--param',
        'path=data/fraud/reference.csv',
        '--output',
        `dataset=${join(out, 'dataset')}`,
        '--output-params-dir',
        join(out, 'params'),
      ],
      { cwd: repo, encoding: 'utf8', env: { ...process.env, MLFLOW_TRACKING_URI: '' } },
    );
    assert.equal(r.status, 0, r.stderr);
    const ingest = Object.values(wf.status?.nodes ?? {}).find((n) => n.displayName === 'ingest');
    const podDigest = ingest?.outputs?.parameters?.find((p) => p.name === 'digest')?.value;
    assert.equal(readFileSync(join(out, 'params', 'digest'), 'utf8').trim(), podDigest);
  });

  test('none of the cluster traffic left the machine', async () => {
    const packets = await capture.stop();
    assert.deepEqual(packets, [], `packets of the cluster's addresses on the outward interface:\n${packets.slice(0, 20).join('\n')}`);
  });
});
