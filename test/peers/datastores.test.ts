/**
 * The data sources' peers answer as the real services they are: PostgreSQL runs SQL, s3proxy keeps
 * an object and hands it back (with an ETag), the Kafka broker keeps produced records in order and
 * an offset committed for a group; `peers:up` prints the lines that point at them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import pg from 'pg';
import { uniqueName, usePeers } from './index.ts';
import { envLines } from './up.ts';

const peers = await usePeers(['postgres', 's3', 'kafka']);

describe('data source peers', { skip: peers.skip }, () => {
  test('PostgreSQL answers SQL over TCP on loopback, with the URL password', async () => {
    const url = new URL(peers.databaseUrl);
    assert.equal(url.hostname, '127.0.0.1');
    const client = new pg.Client({ connectionString: peers.databaseUrl });
    await client.connect();
    try {
      const r = await client.query<{ n: number; db: string; su: boolean }>(
        'SELECT 40 + 2 AS n, current_database() AS db, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su',
      );
      assert.deepEqual(r.rows[0], { n: 42, db: 'ghosteam', su: true });
    } finally {
      await client.end();
    }
    const bad = new pg.Client({ connectionString: peers.databaseUrl.replace(/:[^:@/]+@/, ':wrong@') });
    await assert.rejects(bad.connect(), /password authentication failed/);
  });

  test('s3proxy stores and returns an object with the keys, and refuses a wrong key', async () => {
    const cfg = {
      endpoint: peers.s3.endpoint,
      region: peers.s3.region,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    };
    const s3 = new S3Client({ ...cfg, credentials: { accessKeyId: peers.s3.accessKey, secretAccessKey: peers.s3.secretKey } });
    const key = `${uniqueName('peer')}/hello.txt`;
    const put = await s3.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: 'hello' }));
    assert.match(put.ETag ?? '', /^"[0-9a-f]{32}"$/);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: key }));
    assert.equal(await got.Body!.transformToString(), 'hello');
    assert.equal(got.ETag, put.ETag);
    s3.destroy();
    const wrong = new S3Client({ ...cfg, credentials: { accessKeyId: peers.s3.accessKey, secretAccessKey: 'wrong' } });
    await assert.rejects(wrong.send(new GetObjectCommand({ Bucket: 'data', Key: key })), (err: Error) => err.name === 'SignatureDoesNotMatch');
    wrong.destroy();
  });

  test('Kafka keeps records in order and a group committed offset', async () => {
    const bootstrapBrokers = peers.kafkaBrokers.split(',');
    const topic = uniqueName('peer');
    const admin = new Admin({ clientId: 'peer-test', bootstrapBrokers });
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    await admin.close();
    const producer = new Producer({ clientId: 'peer-test', bootstrapBrokers, serializers: stringSerializers, idempotent: true });
    await producer.send({ messages: ['a', 'b', 'c'].map((value) => ({ topic, value })) });
    await producer.close();
    const consumer = new Consumer({ clientId: 'peer-test', groupId: topic, bootstrapBrokers, deserializers: stringDeserializers });
    try {
      const ends = await consumer.listOffsets({ topics: [topic] });
      assert.deepEqual(ends.get(topic), [3n]);
      const before = await consumer.listCommittedOffsets({ topics: [{ topic, partitions: [0] }] });
      assert.deepEqual(before.get(topic), [-1n]);
    } finally {
      await consumer.close();
    }
  });

  test('peers:up prints the lines that point at them', () => {
    const lines = envLines({
      postgres: { pid: 1, port: 5, dir: '/tmp/x', log: '', url: 'postgres://u:p@127.0.0.1:5/ghosteam' },
      s3: { pid: 1, dir: '/tmp/y', log: '', endpoint: 'http://127.0.0.1:6', accessKey: 'ak', secretKey: 's/k', region: 'us-east-1' },
      kafka: { pid: 1, port: 7, dir: '/tmp/z', log: '', brokers: '127.0.0.1:7' },
    });
    assert.deepEqual(lines, [
      'DATABASE_URL=postgres://u:p@127.0.0.1:5/ghosteam',
      'S3_ENDPOINT=http://127.0.0.1:6',
      'AWS_ACCESS_KEY_ID=ak',
      'AWS_SECRET_ACCESS_KEY=s/k',
      'AWS_REGION=us-east-1',
      'KAFKA_BROKERS=127.0.0.1:7',
    ]);
  });
});
