/**
 * Kafka offsets in a cluster run: the synthesized Workflow exports each Kafka ingest step's range
 * (`kafkaOffsets`) as a global output and commits it in the exit handler only when the workflow
 * succeeded, with the step's own image and env (SASL password as the same Secret reference); valid
 * against the upstream Argo CRD in ../shared/upstream. The commit command itself
 * (`ghosteam kafka-commit`, what that exit step runs) is tested against the real Kafka peer.
 * Under the real Argo controller, on pods, against the test cluster's own broker (on the node
 * address): test/cluster/kafka.test.ts — a run that succeeds commits the range it read, a run that
 * fails after ingest commits nothing and the next run re-reads the same records.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import { ingest } from '../../components/ingest/index.ts';
import { runComponent } from '../../components/run.ts';
import { kafkaRange } from '../../components/ingest/sources.ts';
import { Pipeline, Secret } from '../../pipelines/index.ts';
import { COMMIT_EXIT_TEMPLATE } from '../../pipelines/argo.ts';
import { chart, find, objectsOf, synth } from '../constructs/helpers.ts';
import { upstreamErrors } from '../constructs/upstream.ts';
import { uniqueName, usePeers } from '../peers/index.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const peers = await usePeers(['kafka']);

function kafkaPipeline(opts: { exit?: boolean; path?: 'literal' | 'param' } = {}) {
  const { app, chart: c } = chart();
  const p = new Pipeline(c, 'events');
  const path = opts.path === 'param' ? p.param('source', { type: 'string', default: 'kafka:///events' }) : 'kafka:///events';
  const env = {
    KAFKA_BROKERS: 'kafka.data:9093',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: 'etl',
    KAFKA_SASL_PASSWORD: Secret.fromSecret('kafka-etl', 'password'),
  };
  const read = p.component('read', 'ingest', { params: { path }, env });
  p.component('split', 'split', { inputs: { dataset: read.output('dataset') } });
  p.component('files', 'ingest', { params: { path: 's3://bucket/x.csv' } });
  if (opts.exit) p.onExit('notify', { image: 'busybox:1.36' });
  return { app, c, p };
}

describe('the synthesized Workflow commits Kafka offsets when it succeeded', () => {
  test('the range is a global output; the exit handler commits it under `{{workflow.status}} == Succeeded` with the step’s image and Secret refs', () => {
    for (const path of ['literal', 'param'] as const) {
      const { c } = kafkaPipeline({ path });
      const wt = find(objectsOf(c), 'WorkflowTemplate', 'events');
      assert.deepEqual(upstreamErrors(wt as never), [], 'valid against the upstream Argo CRD');
      const tpl = (name: string) => wt.spec.templates.find((t: { name: string }) => t.name === name);
      assert.deepEqual(
        tpl('read').outputs.parameters.find((p: { name: string }) => p.name === 'kafkaOffsets'),
        { name: 'kafkaOffsets', valueFrom: { path: '/tmp/outputs/params/kafkaOffsets' }, globalName: 'read-kafkaOffsets' },
      );
      assert.equal(
        tpl('files').outputs.parameters.find((p: { name: string }) => p.name === 'kafkaOffsets').globalName,
        undefined,
        'an s3:// ingest exports nothing',
      );
      assert.equal(wt.spec.onExit, COMMIT_EXIT_TEMPLATE);
      assert.deepEqual(tpl(COMMIT_EXIT_TEMPLATE).dag.tasks, [
        {
          name: 'read-commit-offsets',
          template: 'read-commit-offsets',
          when: '{{workflow.status}} == Succeeded',
          arguments: { parameters: [{ name: 'offsets', value: '{{workflow.outputs.parameters.read-kafkaOffsets}}' }] },
        },
      ]);
      const commit = tpl('read-commit-offsets');
      assert.equal(commit.container.image, tpl('read').container.image);
      assert.deepEqual(commit.container.command, ['ghosteam', 'kafka-commit']);
      assert.deepEqual(commit.container.args, ['--offsets', '{{inputs.parameters.offsets}}']);
      assert.deepEqual(
        commit.container.env.find((e: { name: string }) => e.name === 'KAFKA_SASL_PASSWORD'),
        { name: 'KAFKA_SASL_PASSWORD', valueFrom: { secretKeyRef: { name: 'kafka-etl', key: 'password' } } },
        'the password by the same Secret reference, never a value',
      );
      assert.equal(commit.container.securityContext.runAsNonRoot, true);
      assert.equal(tpl('read').memoize, undefined, 'a Kafka read is never memoized: the same URI names new records each run');
      // Nor is any read of data by path by default: Argo's key cannot see the data (Cache.contentKeyedOnly).
      assert.equal(tpl('files').memoize, undefined, 'a read of data by path is not memoized by default');
    }
  });

  test('`ghosteam synth` accepts it: the commit step sets cpu and memory limits, as synth requires of every container', () => {
    // The commit step once set a memory limit only, and synth refused every pipeline with a Kafka ingest.
    const { app } = kafkaPipeline();
    const wt = find(synth(app).objects, 'WorkflowTemplate', 'events');
    const commit = wt.spec.templates.find((t: { name: string }) => t.name === 'read-commit-offsets');
    assert.ok(commit.container.resources.limits.cpu && commit.container.resources.limits.memory);
  });

  test('beside the pipeline’s own exit handler, in one exit DAG; no Kafka source, no commit step', () => {
    const { c } = kafkaPipeline({ exit: true });
    const wt = find(objectsOf(c), 'WorkflowTemplate', 'events');
    assert.deepEqual(upstreamErrors(wt as never), []);
    assert.equal(wt.spec.onExit, 'notify-exit');
    assert.deepEqual(
      wt.spec.templates.find((t: { name: string }) => t.name === 'notify-exit').dag.tasks.map((t: { name: string; when?: string }) => [t.name, t.when]),
      [
        ['notify', undefined],
        ['read-commit-offsets', '{{workflow.status}} == Succeeded'],
      ],
    );
    const { chart: c2 } = chart();
    const plain = new Pipeline(c2, 'plain');
    plain.component('files', 'ingest', { params: { path: 's3://bucket/x.csv' } });
    const wt2 = find(objectsOf(c2), 'WorkflowTemplate', 'plain');
    assert.equal(wt2.spec.onExit, undefined);
    assert.ok(!wt2.spec.templates.some((t: { name: string }) => t.name.endsWith('-commit-offsets')));
  });
});

describe('ghosteam kafka-commit against Apache Kafka', { skip: peers.skip }, () => {
  const topic = uniqueName('commit');
  const uri = () => `kafka://${peers.kafkaBrokers}/${topic}`;
  const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/ghosteam.mjs', 'kafka-commit', ...args], { encoding: 'utf8', timeout: 120_000 });
  before(async () => {
    const admin = new Admin({ clientId: 'test', bootstrapBrokers: [peers.kafkaBrokers] });
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    await admin.close();
    // Idempotent: a produce request retried under load (the topic's leader just elected) would
    // otherwise append its records twice, and the read would rightly count 6 rows, not 4.
    const p = new Producer({ clientId: 'test', bootstrapBrokers: [peers.kafkaBrokers], serializers: stringSerializers, idempotent: true });
    await p.send({ messages: [1, 2, 3, 4].map((id) => ({ topic, partition: id % 2, value: JSON.stringify({ id }) })) });
    await p.close();
  });

  test('the ingest component’s kafkaOffsets output, committed by the command, moves the next batch on; null commits nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-kafka-commit-'));
    try {
      const out = await runComponent(
        ingest,
        { params: { path: uri() }, inputs: {}, outputs: { dataset: join(dir, 'd.arrow') }, outputParamsDir: join(dir, 'params') },
        { log: () => {} },
      );
      assert.equal(out.rows, 4);
      const written = readFileSync(join(dir, 'params', 'kafkaOffsets'), 'utf8');
      assert.deepEqual(
        (JSON.parse(written) as { partitions: { start: string; end: string }[] }).partitions.map((p) => [p.start, p.end]),
        [
          ['0', '2'],
          ['0', '2'],
        ],
      );
      assert.deepEqual(await kafkaRange(uri()), JSON.parse(written), 'not committed by the step itself');
      const none = cli('--offsets', 'null');
      assert.equal(none.status, 0, none.stderr);
      assert.match(none.stdout, /nothing to commit/);
      const r = cli('--offsets', written);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`committed topic ${topic}, group ghosteam-ingest-${topic}, offsets p0 0\\.\\.2, p1 0\\.\\.2`));
      assert.deepEqual(
        (await kafkaRange(uri())).partitions.map((p) => [p.start, p.end]),
        [
          ['2', '2'],
          ['2', '2'],
        ],
      );
      const bad = cli('--offsets', '{"topic": 1}');
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /--offsets: not an offset range/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
