/**
 * A Sweep under the real Argo controller (#19): `ghosteam synth` of test/cluster/fixtures/sweep/app.ts
 * writes the sweep's WorkflowTemplate, the test applies it unchanged to the cluster's Argo namespace
 * and submits a Workflow from it (workflowTemplateRef). Every step is a pod of the components image:
 * the `sweep-controller` step proposes each round, the round's trials (ingest → train-tabular) fan
 * out with the sweep's parallelism, ASHA (η 2, rungs of 1, 2 and 4 epochs) promotes the best half of
 * each rung by the held-out loss the trials report and stops the rest, and when the controller says
 * done the best trial's params run the whole pipeline, whose evaluate step scores the model.
 *
 * The grid is 3 learning rates × 2 feature sets, and one feature set names a column the data lacks:
 * those three trials fail in their training pods. The sweep must record them as failed and go on.
 *
 * What differs from a production cluster is set by the submit alone, as in pipeline.test.ts: a
 * Workflow-level podSpecPatch lowers requests (two CPUs here) and gives the steps the object store's
 * endpoint and keys (from Secret argo/ghosteam-s3 by reference); the data is a 4,000-row slice of
 * data/fraud/reference.csv in the cluster's object store.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseAllDocuments } from 'yaml';
import type { ControllerState } from '../../components/tuning/controller.ts';
import { ARGO_NAMESPACE } from '../peers/cluster/config.ts';
import { S3_SECRET, WORKFLOW_SERVICE_ACCOUNT } from '../peers/cluster/argo.ts';
import { readClusterState } from '../peers/cluster/node.ts';
import type { KubeObject } from '../peers/index.ts';
import { BAD_FEATURES, EPOCHS, GOOD_FEATURES, LEARNING_RATES } from './fixtures/sweep/app.ts';
import { captureClusterEgress, useCluster, waitFor, workflowLogs, type Capture } from './harness.ts';

const cluster = await useCluster(['components']);
const repo = join(import.meta.dirname, '../..');
const name = `sweep-${process.pid}`;
const ROWS = 4000;

interface Param {
  name: string;
  value?: string;
}
interface WfNode {
  id: string;
  displayName: string;
  type?: string;
  templateName?: string;
  phase: string;
  message?: string;
  boundaryID?: string;
  startedAt?: string;
  finishedAt?: string;
  inputs?: { parameters?: Param[] };
  outputs?: { parameters?: Param[] };
}
interface Wf {
  status?: { phase?: string; message?: string; nodes?: Record<string, WfNode> };
}

const param = (n: WfNode | undefined, p: string, where: 'inputs' | 'outputs' = 'outputs'): string | undefined =>
  n?.[where]?.parameters?.find((x) => x.name === p)?.value;

describe('a Sweep on real pods with the real Argo controller', { skip: cluster.skip }, () => {
  let capture: Capture;
  const tmp = mkdtempSync(join(tmpdir(), 'ghosteam-cluster-sweep-'));
  let wf: Wf;
  let nodes: WfNode[] = [];

  before(async () => {
    capture = await captureClusterEgress();
  });
  after(async () => {
    await cluster.kube?.request('DELETE', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  test('ghosteam synth → the sweep WorkflowTemplate → a Workflow that runs to Succeeded', async () => {
    const t0 = Date.now();
    const s = spawnSync(process.execPath, ['bin/ghosteam.mjs', 'synth', 'test/cluster/fixtures/sweep/app.ts', '--out', join(tmp, 'synth')], {
      cwd: repo,
      encoding: 'utf8',
    });
    assert.equal(s.status, 0, s.stderr);
    const template = parseAllDocuments(readFileSync(join(tmp, 'synth', 'sweep-fixture.yaml'), 'utf8'))
      .map((d) => d.toJS() as KubeObject)
      .find((o) => o?.kind === 'WorkflowTemplate' && o.metadata?.name === 'fraud-small-tune')!;
    assert.ok(template, 'synth wrote the sweep WorkflowTemplate');
    await cluster.kube.apply({ ...template, metadata: { ...template.metadata, namespace: ARGO_NAMESPACE } });

    const store = readClusterState()!.objectStore!;
    const csv =
      readFileSync(join(repo, 'data/fraud/reference.csv'), 'utf8')
        .split('\n')
        .slice(0, ROWS + 1)
        .join('\n') + '\n';
    const s3 = new S3Client({
      endpoint: store.endpoint,
      region: store.region,
      forcePathStyle: true,
      credentials: { accessKeyId: store.accessKey, secretAccessKey: store.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: `${name}/train.csv`, Body: csv }));

    const secretEnv = (env: string, key: string) => ({ name: env, valueFrom: { secretKeyRef: { name: S3_SECRET, key } } });
    const podSpecPatch = {
      containers: [
        {
          name: 'main',
          resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '2', memory: '2Gi' } },
          env: [
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
        arguments: { parameters: [{ name: 'data', value: `s3://data/${name}/train.csv` }] },
        podSpecPatch: JSON.stringify(podSpecPatch),
      },
    });
    wf = await waitFor(
      `Workflow ${name} to finish`,
      async () => {
        const w = await cluster.kube.request<Wf>('GET', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`);
        return ['Succeeded', 'Failed', 'Error'].includes(w.status?.phase ?? '') ? w : undefined;
      },
      900_000,
    );
    nodes = Object.values(wf.status?.nodes ?? {});
    const secs = (n: WfNode) => (n.startedAt && n.finishedAt ? ` ${Math.round((Date.parse(n.finishedAt) - Date.parse(n.startedAt)) / 1000)} s` : '');
    const summary = nodes
      .filter((n) => n.type === 'Pod' || ((n.templateName === 'trial' || n.templateName === 'final') && n.type === 'DAG'))
      .sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''))
      .map((n) => `${n.displayName} [${n.templateName}]: ${n.phase}${secs(n)}${n.message ? ` (${n.message})` : ''}`)
      .join('\n');
    if (wf.status?.phase !== 'Succeeded')
      assert.fail(`${wf.status?.phase}: ${wf.status?.message ?? ''}\n${summary}\n${await workflowLogs(cluster.kube, ARGO_NAMESPACE, name)}`);
    process.stderr.write(`[cluster] ${name} Succeeded in ${Math.round((Date.now() - t0) / 1000)} s:\n${summary}\n`);
  });

  test('the controller step proposed each round; ASHA stopped the trials it stopped; the failed trials were recorded, not fatal', async () => {
    assert.ok(wf, 'the Workflow ran');
    const proposals = nodes
      .filter((n) => n.templateName === 'sweep-controller' && n.type === 'Pod')
      .sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''));
    assert.ok(proposals.every((n) => n.phase === 'Succeeded'));
    const items = proposals.map((n) => (JSON.parse(param(n, 'items') ?? 'null') as Record<string, unknown>[]).map((i) => ({ ...i })));
    // Round 0: the whole grid at rung 0 (1 epoch). 3 trials fail, so the rung ranks the other 3 and
    // promotes ⌊3/2⌋ = 1 to 2 epochs, then to 4 (the task's epochs), where it completes.
    assert.deepEqual(
      items.map((r) => r.length),
      [6, 1, 1, 0],
      'rounds of 6, 1, 1 trials, then done',
    );
    assert.deepEqual(
      items.slice(0, 3).map((r) => [...new Set(r.map((i) => Number(i.epochs)))]),
      [[1], [2], [EPOCHS]],
      'rung by rung: 1, 2, 4 epochs',
    );
    assert.deepEqual(
      proposals.map((n) => param(n, 'done')),
      ['false', 'false', 'false', 'true'],
    );
    const state = JSON.parse(param(proposals.at(-1), 'state')!) as ControllerState;
    const byState = (s: string) => state.trials.filter((t) => t.state === s);
    assert.deepEqual([byState('Failed').length, byState('Pruned').length, byState('Complete').length], [3, 2, 1]);
    assert.ok(byState('Failed').every((t) => t.params.features === BAD_FEATURES && /^failed at 1 epochs: the trial gave no result/.test(t.message!)));
    assert.ok(byState('Pruned').every((t) => t.params.features === GOOD_FEATURES && /^pruned at step 1: rung 0 /.test(t.message!)));

    // The trials ran as pods: each trial a DAG of ingest (memoized after the first) and train pods.
    // (A round without items leaves a Skipped `trial` node, and one not done a Skipped `final`: only DAG nodes ran.)
    const trials = nodes.filter((n) => n.templateName === 'trial' && n.type === 'DAG');
    assert.equal(trials.length, 8, '6 + 1 + 1 trial runs');
    const trainOf = (t: WfNode) => nodes.find((n) => n.boundaryID === t.id && n.displayName === 'train' && n.type === 'Pod');
    const failed = trials.filter((t) => t.phase === 'Failed');
    assert.equal(failed.length, 3, trials.map((t) => `${t.displayName}: ${t.phase}`).join('\n'));
    assert.ok(failed.every((t) => param(t, 'features', 'inputs') === BAD_FEATURES && trainOf(t)?.phase === 'Failed'));
    assert.match(await workflowLogs(cluster.kube, ARGO_NAMESPACE, name), /no column 'no_such_column'/, "the failed trials' pods say why");
    // A stopped trial is not trained further: the pruned ones have one train pod, at 1 epoch.
    for (const t of byState('Pruned')) {
      const runs = trials.filter((n) => param(n, 'trial', 'inputs') === String(t.number));
      assert.deepEqual(
        runs.map((n) => [param(n, 'epochs', 'inputs'), trainOf(n)?.phase]),
        [['1', 'Succeeded']],
        `trial ${t.number}`,
      );
    }
    // The promoted trial had the best held-out loss of rung 0 among those that reported.
    const rung0 = trials.filter((n) => param(n, 'epochs', 'inputs') === '1' && n.phase === 'Succeeded');
    const loss = (n: WfNode) => Number(param(n, 'intermediate'));
    const won = rung0.reduce((a, b) => (loss(b) < loss(a) ? b : a));
    const complete = byState('Complete')[0];
    assert.equal(param(won, 'trial', 'inputs'), String(complete.number));
    assert.deepEqual(complete.rungValues.length, 3, 'it reported at 1, 2 and 4 epochs');
    const epochs = trials.reduce((a, n) => a + Number(param(n, 'epochs', 'inputs')), 0);
    process.stderr.write(`[cluster] sweep epochs ${epochs} of the grid's ${LEARNING_RATES.length * 2 * EPOCHS}\n`);
    assert.equal(epochs, 6 * 1 + 2 + EPOCHS);
  });

  test('the best trial is chosen and its params run the whole pipeline: its model flows on to evaluate', async () => {
    assert.ok(wf, 'the Workflow ran');
    const proposals = nodes
      .filter((n) => n.templateName === 'sweep-controller' && n.type === 'Pod')
      .sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''));
    const best = JSON.parse(param(proposals.at(-1), 'best')!) as { number: number; value: number; params: Record<string, unknown> };
    const lastTrial = nodes.find(
      (n) =>
        n.templateName === 'trial' &&
        n.type === 'DAG' &&
        param(n, 'trial', 'inputs') === String(best.number) &&
        param(n, 'epochs', 'inputs') === String(EPOCHS),
    );
    assert.equal(Number(param(lastTrial, 'value')), best.value, "the best value is the trial's own objective at full epochs");
    const final = nodes.filter((n) => n.templateName === 'final' && n.type === 'DAG');
    assert.equal(final.length, 1);
    assert.equal(final[0].phase, 'Succeeded');
    const inFinal = (step: string) => nodes.find((n) => n.boundaryID === final[0].id && n.displayName === step && n.type === 'Pod');
    const train = inFinal('train');
    assert.equal(param(train, 'learningRate', 'inputs'), String(best.params.learningRate));
    assert.equal(param(train, 'features', 'inputs'), best.params.features);
    assert.equal(param(train, 'epochs', 'inputs'), String(EPOCHS));
    // The same data, params and seed train the same model: its held-out loss is the best trial's.
    assert.ok(Math.abs(Number(param(train, 'valLoss')) - best.value) < 1e-6, `${param(train, 'valLoss')} vs ${best.value}`);
    const evaluate = inFinal('evaluate');
    assert.equal(evaluate?.phase, 'Succeeded', 'evaluate scored the best model');
    const auc = Number(param(evaluate, 'rocAuc'));
    assert.ok(auc > 0.5 && auc <= 1, `rocAuc ${auc}`);
  });

  test('none of the cluster traffic left the machine', async () => {
    const packets = await capture.stop();
    assert.deepEqual(packets, [], `packets of the cluster's addresses on the outward interface:\n${packets.slice(0, 20).join('\n')}`);
  });
});
