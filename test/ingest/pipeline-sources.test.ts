/**
 * Remote sources inside a pipeline run (the local engine) against the real peers: the step cache
 * keys a kafka:// source on its offset range and an s3:// object on its ETag, `runs show` says so,
 * and Kafka offsets are committed only when the run succeeds (a failed run re-reads them).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import { ingest } from '../../components/ingest/index.ts';
import { s3ClientConfig } from '../../components/ingest/s3.ts';
import { kafkaRange } from '../../components/ingest/sources.ts';
import { runPipeline } from '../../pipelines/local/index.ts';
import { catalog, comp, lit, pipeline, task, tempDir } from '../engine/helpers.ts';
import { uniqueName, usePeers } from '../peers/index.ts';

const peers = await usePeers(['s3', 'kafka']);
const repo = fileURLToPath(new URL('../..', import.meta.url));

/** A downstream step that fails while `failing.on` is set: the run fails after ingest succeeded. */
const failing = { on: false };
const check = comp(
  'check',
  () => {
    if (failing.on) throw new Error('downstream check failed');
  },
  { inputs: [{ name: 'data', kind: 'dataset' }] },
);
const components = catalog(ingest, check);

function spec(path: string) {
  return pipeline('sources', [
    task('read', { component: { name: 'ingest', version: ingest.version }, params: { path: lit(path) }, outputs: { dataset: { kind: 'dataset' } } }),
    task('check', { component: { name: 'check', version: '1' }, inputs: { data: { task: 'read', output: 'dataset', kind: 'dataset' } } }),
  ]);
}

describe('remote sources in a pipeline run', { skip: peers.skip }, () => {
  const saved = { ...process.env };
  let store: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    store = await tempDir();
    Object.assign(process.env, {
      S3_ENDPOINT: peers.s3.endpoint,
      AWS_ACCESS_KEY_ID: peers.s3.accessKey,
      AWS_SECRET_ACCESS_KEY: peers.s3.secretKey,
      AWS_REGION: peers.s3.region,
    });
  });
  after(async () => {
    for (const k of ['S3_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await store?.cleanup();
  });

  test('kafka://: a failed run commits nothing and the next run re-reads; a succeeded run commits; the cache keys on the range', async () => {
    const topic = uniqueName('pipe');
    const uri = `kafka://${peers.kafkaBrokers}/${topic}`;
    const admin = new Admin({ clientId: 'test', bootstrapBrokers: [peers.kafkaBrokers] });
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    await admin.close();
    const producer = new Producer({ clientId: 'test', bootstrapBrokers: [peers.kafkaBrokers], serializers: stringSerializers, idempotent: true });
    await producer.send({ messages: [1, 2, 3].map((id) => ({ topic, value: JSON.stringify({ id, v: id * 2 }) })) });

    failing.on = true;
    const r1 = await runPipeline(spec(uri), { storeDir: store.dir, components });
    assert.equal(r1.status, 'Failed');
    assert.equal(r1.nodes.read.outputParams.rows, 3);
    assert.deepEqual(
      (await kafkaRange(uri)).partitions.map((p) => [p.start, p.end]),
      [['0', '3']],
      'nothing committed after the failed run',
    );

    failing.on = false;
    const r2 = await runPipeline(spec(uri), { storeDir: store.dir, components });
    assert.equal(r2.status, 'Succeeded');
    assert.equal(r2.nodes.read.cached, true, 'the same offset range: the cached dataset of the failed run');
    assert.match(r2.nodes.read.sources?.path.identity ?? '', /offsets p0 0\.\.3$/);
    assert.deepEqual(
      (await kafkaRange(uri)).partitions.map((p) => [p.start, p.end]),
      [['3', '3']],
      'committed after the run succeeded',
    );

    await producer.send({ messages: [{ topic, value: JSON.stringify({ id: 4, v: 8 }) }] });
    await producer.close();
    const r3 = await runPipeline(spec(uri), { storeDir: store.dir, components });
    assert.equal(r3.status, 'Succeeded');
    assert.equal(r3.nodes.read.cached, undefined);
    assert.equal(r3.nodes.read.outputParams.rows, 1, 'only the new record');

    const show = spawnSync(process.execPath, ['--import', 'tsx', 'bin/ghosteam.mjs', 'runs', 'show', r2.id, '--store-dir', store.dir], {
      cwd: repo,
      encoding: 'utf8',
    });
    assert.equal(show.status, 0, show.stderr);
    assert.match(
      show.stdout,
      new RegExp(
        `sources\\n  read\\.path  kafka://${peers.kafkaBrokers}/${topic}  cache key: topic ${topic}, group ghosteam-ingest-${topic}, offsets p0 0\\.\\.3 \\(cached\\)`,
      ),
    );
  });

  test('s3://: the ETag keys the cache; a changed object runs ingest again', async () => {
    const key = `${uniqueName('pipe')}/rows.csv`;
    const s3 = new S3Client(s3ClientConfig(process.env));
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: 'a,b\n1,2\n3,4\n' }));
    const uri = `s3://data/${key}`;
    const r1 = await runPipeline(spec(uri), { storeDir: store.dir, components });
    assert.equal(r1.status, 'Succeeded');
    const r2 = await runPipeline(spec(uri), { storeDir: store.dir, components });
    assert.equal(r2.nodes.read.cached, true);
    assert.match(r2.nodes.read.sources?.path.identity ?? '', /^ETag "[0-9a-f]{32}"$/);
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: 'a,b\n1,2\n3,4\n5,6\n' }));
    s3.destroy();
    const r3 = await runPipeline(spec(uri), { storeDir: store.dir, components });
    assert.equal(r3.nodes.read.cached, undefined);
    assert.equal(r3.nodes.read.outputParams.rows, 3);
    assert.notEqual(r3.nodes.read.sources?.path.identity, r2.nodes.read.sources?.path.identity);
  });
});
