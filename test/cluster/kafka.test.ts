/**
 * Kafka offsets under the real Argo controller (#17): `ghosteam synth` of
 * test/cluster/fixtures/kafka/app.ts (ingest from a kafka:// source → validate with the run's
 * schema) writes the WorkflowTemplate, applied unchanged to the cluster's Argo namespace; each run
 * is a Workflow from it (workflowTemplateRef) with nothing but its arguments: the source
 * `kafka://10.205.0.1:PORT/TOPIC` names the cluster's broker (`cluster:up` starts it on the node
 * address, CLUSTER_KAFKA_BROKERS; pods reach it as they reach s3proxy, and no other machine routes
 * to that address).
 *
 * The synthesized exit handler runs `ghosteam kafka-commit` with the range ingest read only when
 * `{{workflow.status}} == Succeeded`. Three runs on one topic, one group:
 *   1. 4 records; the run succeeds; the group's committed offsets become the end of the range it read.
 *   2. 3 more records; the run's schema wants 1000 rows, so validate fails after ingest read the 3
 *      new records (only those: it started at the commit); nothing is committed.
 *   3. The run (default schema) re-reads exactly run 2's range (same offsets, same dataset digest),
 *      succeeds, and commits its end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { parseAllDocuments } from 'yaml';
import { ARGO_NAMESPACE } from '../peers/cluster/config.ts';
import { WORKFLOW_SERVICE_ACCOUNT } from '../peers/cluster/argo.ts';
import { readClusterState } from '../peers/cluster/node.ts';
import type { KubeObject } from '../peers/index.ts';
import { noTrafficLeavesTheMachine, useCluster, waitFor, workflowLogs, type WorkflowLike } from './harness.ts';

const cluster = await useCluster(['components']);
const brokers = readClusterState()?.kafkaBrokers;
const skip =
  cluster.skip ??
  (brokers
    ? undefined
    : 'the test cluster runs no Kafka broker (a cluster started before cluster:up started one); run `npm run cluster:down` and `cluster:up`');
if (skip && process.env.CI === 'true') throw new Error(`kafka.test.ts: ${skip}`);
const repo = join(import.meta.dirname, '../..');
const topic = `events-${process.pid}-${randomBytes(3).toString('hex')}`;
const group = `ghosteam-ingest-${topic}`;
const PASSING_SCHEMA = '{"columns": {"id": {"min": 1}}, "rows": {"min": 1}}';
const FAILING_SCHEMA = '{"rows": {"min": 1000}}';

interface Range {
  topic: string;
  group: string;
  partitions: { partition: number; start: string; end: string }[];
}
type WfNode = NonNullable<NonNullable<WorkflowLike['status']>['nodes']>[string];

async function produce(ids: number[]): Promise<void> {
  // Idempotent, as in test/ingest: a retried produce request must not append its records twice.
  const p = new Producer({ clientId: 'test', bootstrapBrokers: [brokers!], serializers: stringSerializers, idempotent: true });
  try {
    await p.send({ messages: ids.map((id) => ({ topic, partition: id % 2, value: JSON.stringify({ id, amount: id * 1.5 }) })) });
  } finally {
    await p.close();
  }
}

/** The group's committed offset per partition (-1: none), read from the broker. */
async function committed(): Promise<string[]> {
  const c = new Consumer({ clientId: 'test', groupId: group, bootstrapBrokers: [brokers!], deserializers: stringDeserializers });
  try {
    const got = await c.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1] }] });
    return (got.get(topic) ?? []).map(String);
  } finally {
    await new Promise<void>((resolve) => c.close(true, () => resolve()));
  }
}

const ends = (r: Range) => r.partitions.map((p) => p.end);

describe('Kafka offsets committed by the exit handler under the real Argo controller', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ghosteam-cluster-kafka-'));
  const workflows: string[] = [];
  let templateName = '';

  before(async () => {
    const s = spawnSync(process.execPath, ['bin/ghosteam.mjs', 'synth', 'test/cluster/fixtures/kafka/app.ts', '--out', join(tmp, 'synth')], {
      cwd: repo,
      encoding: 'utf8',
    });
    assert.equal(s.status, 0, s.stderr);
    const template = parseAllDocuments(readFileSync(join(tmp, 'synth', 'kafka-fixture.yaml'), 'utf8'))
      .map((d) => d.toJS() as KubeObject)
      .find((o) => o?.kind === 'WorkflowTemplate')!;
    assert.ok(template, 'synth wrote the WorkflowTemplate');
    templateName = template.metadata!.name!;
    await cluster.kube.apply({ ...template, metadata: { ...template.metadata, namespace: ARGO_NAMESPACE } });
    const admin = new Admin({ clientId: 'test', bootstrapBrokers: [brokers!] });
    try {
      await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    } finally {
      await admin.close();
    }
  });
  after(async () => {
    for (const w of workflows) await cluster.kube?.request('DELETE', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${w}`).catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Submit a Workflow from the template with these arguments and wait until it is done. */
  async function runWorkflow(suffix: string, schema: string): Promise<{ phase: string; nodes: WfNode[]; summary: string; name: string }> {
    const name = `kafka-${suffix}-${process.pid}`;
    workflows.push(name);
    const t0 = Date.now();
    await cluster.kube.apply({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name, namespace: ARGO_NAMESPACE },
      spec: {
        workflowTemplateRef: { name: templateName },
        serviceAccountName: WORKFLOW_SERVICE_ACCOUNT,
        arguments: {
          parameters: [
            { name: 'source', value: `kafka://${brokers}/${topic}` },
            { name: 'schema', value: schema },
          ],
        },
      },
    });
    const wf = await waitFor(
      `Workflow ${name} to finish`,
      async () => {
        const w = await cluster.kube.request<WorkflowLike>('GET', `/apis/argoproj.io/v1alpha1/namespaces/${ARGO_NAMESPACE}/workflows/${name}`);
        // Done only when the exit handler is too: the Workflow's phase is set after it ran.
        return ['Succeeded', 'Failed', 'Error'].includes(w.status?.phase ?? '') ? w : undefined;
      },
      600_000,
    );
    const nodes = Object.values(wf.status?.nodes ?? {});
    const secs = (n: WfNode) => (n.startedAt && n.finishedAt ? ` ${Math.round((Date.parse(n.finishedAt) - Date.parse(n.startedAt)) / 1000)} s` : '');
    const summary = nodes
      .filter((n) => ['Pod', 'Retry', 'Skipped'].includes(n.type ?? ''))
      .map((n) => `${n.displayName}: ${n.phase}${secs(n)}${n.message ? ` (${n.message})` : ''}`)
      .join('\n');
    process.stderr.write(`[cluster] ${name} ${wf.status?.phase} in ${Math.round((Date.now() - t0) / 1000)} s:\n${summary}\n`);
    return { phase: wf.status?.phase ?? '', nodes, summary: `${wf.status?.message ?? ''}\n${summary}`, name };
  }

  const node = (nodes: WfNode[], displayName: string) =>
    nodes.find((n) => n.displayName === displayName && n.type !== 'Retry') ?? nodes.find((n) => n.displayName === displayName);
  const param = (n: WfNode | undefined, p: string) => n?.outputs?.parameters?.find((x) => x.name === p)?.value;

  let second: Range | undefined;
  let secondDigest: string | undefined;

  test('a run that succeeds commits the range it read; the next run starts there', async () => {
    await produce([1, 2, 3, 4]);
    assert.deepEqual(await committed(), ['-1', '-1'], 'a new group has committed nothing');
    const run = await runWorkflow('a', PASSING_SCHEMA);
    if (run.phase !== 'Succeeded') assert.fail(`${run.phase}: ${run.summary}\n${await workflowLogs(cluster.kube, ARGO_NAMESPACE, run.name)}`);
    const ingest = node(run.nodes, 'ingest');
    assert.equal(param(ingest, 'rows'), '4');
    const range = JSON.parse(param(ingest, 'kafkaOffsets') ?? 'null') as Range;
    assert.equal(range.topic, topic);
    assert.equal(range.group, group);
    assert.deepEqual(
      range.partitions.map((p) => [p.partition, p.start, p.end]),
      [
        [0, '0', '2'],
        [1, '0', '2'],
      ],
    );
    const commit = node(run.nodes, 'ingest-commit-offsets');
    assert.equal(commit?.phase, 'Succeeded', `the exit handler's commit step ran:\n${run.summary}`);
    assert.deepEqual(await committed(), ends(range), 'the committed offsets are the end of the range the run read');
  });

  test('a run that fails after ingest commits nothing', async () => {
    await produce([5, 6, 7]);
    const before = await committed();
    const run = await runWorkflow('b', FAILING_SCHEMA);
    assert.equal(run.phase, 'Failed', run.summary);
    const ingest = node(run.nodes, 'ingest');
    assert.equal(ingest?.phase, 'Succeeded', run.summary);
    assert.equal(node(run.nodes, 'check')?.phase, 'Failed', `validate failed the run:\n${run.summary}`);
    second = JSON.parse(param(ingest, 'kafkaOffsets') ?? 'null') as Range;
    secondDigest = param(ingest, 'digest');
    // Only the records produced after the first run's commit: p0 got 6, p1 got 5 and 7.
    assert.deepEqual(
      second.partitions.map((p) => [p.partition, p.start, p.end]),
      [
        [0, '2', '3'],
        [1, '2', '4'],
      ],
    );
    assert.equal(param(ingest, 'rows'), '3', 'the batch is the 3 new records');
    assert.notEqual(node(run.nodes, 'ingest-commit-offsets')?.phase, 'Succeeded', `no commit after a failed run:\n${run.summary}`);
    assert.deepEqual(await committed(), before, 'the committed offsets did not move');
  });

  test('the run after the failed one re-reads the same records, and commits them when it succeeds', async () => {
    assert.ok(second, 'the failed run ran');
    const run = await runWorkflow('c', PASSING_SCHEMA);
    if (run.phase !== 'Succeeded') assert.fail(`${run.phase}: ${run.summary}\n${await workflowLogs(cluster.kube, ARGO_NAMESPACE, run.name)}`);
    const ingest = node(run.nodes, 'ingest');
    const range = JSON.parse(param(ingest, 'kafkaOffsets') ?? 'null') as Range;
    assert.deepEqual(range.partitions, second.partitions, 'the same offsets as the failed run');
    assert.equal(param(ingest, 'digest'), secondDigest, 'the same dataset, byte for byte');
    assert.equal(node(run.nodes, 'ingest-commit-offsets')?.phase, 'Succeeded', run.summary);
    assert.deepEqual(await committed(), ['3', '4']);
  });

  noTrafficLeavesTheMachine();
});
