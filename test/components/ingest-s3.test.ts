/**
 * ingest's s3:// sources against a real S3-compatible object store: s3proxy (Maven Central,
 * fetched once into the peers' cache) with its filesystem backend on 127.0.0.1, the same store the
 * test cluster runs. Objects are uploaded with the AWS SDK and read back through `ingest`; the
 * errors name the bucket, the key and the fix. The URL and environment rules are table-tested.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { cellAt, readDataset } from '../../components/dataset/index.ts';
import { ingest, ingestFile } from '../../components/ingest/index.ts';
import { explainS3Error, parseS3Url, s3ClientConfig } from '../../components/ingest/s3.ts';
import { runComponent } from '../../components/run.ts';
import { stopPid } from '../peers/daemons.ts';
import { startS3Proxy, type ObjectStore } from '../peers/cluster/argo.ts';

describe('s3:// URLs and settings', () => {
  test('parseS3Url', () => {
    const cases: [string, { bucket: string; key: string } | RegExp][] = [
      ['s3://data/fraud/reference.csv', { bucket: 'data', key: 'fraud/reference.csv' }],
      ['S3://my.bucket-1/a%20b.parquet', { bucket: 'my.bucket-1', key: 'a b.parquet' }],
      ['s3://data', /write it as s3:\/\/BUCKET\/KEY/],
      ['s3://data/', /write it as s3:\/\/BUCKET\/KEY/],
      ['s3://Data/x.csv', /'Data' is not a valid bucket name/],
      ['s3://ab/x.csv', /'ab' is not a valid bucket name/],
    ];
    for (const [url, want] of cases) {
      if (want instanceof RegExp) assert.throws(() => parseS3Url(url), want, url);
      else assert.deepEqual(parseS3Url(url), want, url);
    }
  });

  test('s3ClientConfig: endpoint precedence, path style and required-only checksums with an endpoint, region default', () => {
    const compat = { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' };
    const cases: [Record<string, string>, object | RegExp][] = [
      [{}, { region: 'us-east-1' }],
      [{ AWS_REGION: 'eu-west-3' }, { region: 'eu-west-3' }],
      [{ AWS_DEFAULT_REGION: 'ap-south-1' }, { region: 'ap-south-1' }],
      [
        { S3_ENDPOINT: 'http://10.0.0.5:9000', AWS_ENDPOINT_URL: 'http://x:1' },
        { region: 'us-east-1', endpoint: 'http://10.0.0.5:9000', ...compat },
      ],
      [
        { AWS_ENDPOINT_URL_S3: 'https://s3.local', AWS_ENDPOINT_URL: 'http://x:1' },
        { region: 'us-east-1', endpoint: 'https://s3.local', ...compat },
      ],
      [{ AWS_ENDPOINT_URL: 'http://x:1' }, { region: 'us-east-1', endpoint: 'http://x:1', ...compat }],
      [{ S3_ENDPOINT: '10.0.0.5:9000' }, /S3_ENDPOINT '10.0.0.5:9000' is not an http\(s\) URL/],
    ];
    for (const [env, want] of cases) {
      if (want instanceof RegExp) assert.throws(() => s3ClientConfig(env), want);
      else assert.deepEqual(s3ClientConfig(env), want, JSON.stringify(env));
    }
  });

  test('explainS3Error names the object and the fix', () => {
    const loc = { bucket: 'data', key: 'k.csv' };
    const ex = (err: object) => explainS3Error('s3://data/k.csv', loc, 'http://h:1', err);
    assert.match(ex({ name: 'NoSuchKey' }), /bucket 'data', key 'k\.csv', at http:\/\/h:1\): no such object; check the key/);
    assert.match(ex({ name: 'NoSuchBucket' }), /the bucket 'data' does not exist/);
    assert.match(ex({ name: 'SignatureDoesNotMatch' }), /refused the credentials .*set AWS_ACCESS_KEY_ID/);
    assert.match(ex({ name: 'CredentialsProviderError' }), /no AWS credentials found/);
    assert.match(ex({ name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }), /cannot reach the object store .*check S3_ENDPOINT/);
    assert.match(ex({ name: 'SlowDown', message: 'wait', $metadata: { httpStatusCode: 503 } }), /SlowDown \(HTTP 503\): wait/);
  });
});

describe('ingest from a real object store (s3proxy)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-s3-test-'));
  let pid = 0;
  let store: ObjectStore;
  const saved = { ...process.env };
  before(async () => {
    const s = await startS3Proxy(dir, { host: '127.0.0.1', buckets: ['data'] });
    pid = s.pid;
    store = s.store;
    process.env.S3_ENDPOINT = store.endpoint;
    process.env.AWS_ACCESS_KEY_ID = store.accessKey;
    process.env.AWS_SECRET_ACCESS_KEY = store.secretKey;
    process.env.AWS_REGION = store.region;
    const s3 = new S3Client({ ...s3ClientConfig(process.env), credentials: { accessKeyId: store.accessKey, secretAccessKey: store.secretKey } });
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'fraud/reference.csv', Body: 'amount,country,label\n1.5,FR,0\n2.5,US,1\n3.5,FR,0\n4.5,US,1\n' }));
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'rows.jsonl', Body: '{"a":1,"b":"x"}\n{"a":2,"b":"y"}\n' }));
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'bad.csv', Body: 'a,b\n1,2,3\n' }));
    s3.destroy();
  });
  after(async () => {
    for (const k of ['S3_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    if (pid) await stopPid(pid, 10_000);
    rmSync(dir, { recursive: true, force: true });
  });

  test('reads CSV and JSON Lines objects into typed datasets', async () => {
    const ds = await ingestFile('s3://data/fraud/reference.csv', { types: { label: 'categorical' } });
    assert.equal(ds.rows, 4);
    assert.deepEqual(
      ds.columns.map((c) => [c.name, c.type]),
      [
        ['amount', 'numeric'],
        ['country', 'categorical'],
        ['label', 'categorical'],
      ],
    );
    const amount = ds.columns[0];
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => cellAt(amount, i)),
      [1.5, 2.5, 3.5, 4.5],
    );
    const j = await ingestFile('s3://data/rows.jsonl');
    assert.equal(j.rows, 2);
  });

  test('the ingest component takes an s3:// path param', async () => {
    const out = mkdtempSync(join(dir, 'run-'));
    const res = await runComponent(ingest, { params: { path: 's3://data/fraud/reference.csv' }, inputs: {}, outputs: { dataset: join(out, 'ds.arrow') } });
    assert.equal(res.rows, 4);
    assert.equal((await readDataset(join(out, 'ds.arrow'))).rows, 4);
  });

  test('errors name the bucket, the key and the fix', async () => {
    await assert.rejects(
      ingestFile('s3://data/fraud/missing.csv'),
      /s3:\/\/data\/fraud\/missing\.csv \(bucket 'data', key 'fraud\/missing\.csv', at http:.*\): no such object; check the key/,
    );
    await assert.rejects(ingestFile('s3://nobucket/x.csv'), /the bucket 'nobucket' does not exist at this endpoint/);
    // A parse error names the s3:// URL, not the temp file it was downloaded to.
    await assert.rejects(ingestFile('s3://data/bad.csv'), (err: Error) => err.message.startsWith('s3://data/bad.csv') && !err.message.includes('ghosteam-s3-'));
    process.env.AWS_SECRET_ACCESS_KEY = 'wrong';
    try {
      await assert.rejects(
        ingestFile('s3://data/fraud/reference.csv'),
        /refused the credentials \((SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId)\); set AWS_ACCESS_KEY_ID/,
      );
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = store.secretKey;
    }
  });
});
