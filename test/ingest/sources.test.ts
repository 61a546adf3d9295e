/**
 * ingest's remote sources against the real peers (`npm run peers:up`): S3 globs on s3proxy, a
 * PostgreSQL query on Debian's PostgreSQL, a bounded Kafka batch on an Apache Kafka broker (KRaft),
 * and an HTTPS-style resource from a node:http server of the test's own (plain HTTP on loopback: the
 * code path is the same fetch). Each bad input is a clear error naming the source.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import pg from 'pg';
import { cellAt } from '../../components/dataset/index.ts';
import { ingestFile } from '../../components/ingest/index.ts';
import { s3ClientConfig } from '../../components/ingest/s3.ts';
import { commitKafkaOffsets, globRegExp, kafkaRange, parsePostgres, sourceIdentity, sqlIdentity } from '../../components/ingest/sources.ts';
import { freePort } from '../peers/daemons.ts';
import { uniqueName, usePeers } from '../peers/index.ts';

const peers = await usePeers(['postgres', 's3', 'kafka']);

describe('source URIs, pure', () => {
  test('globRegExp: * and ? within a segment, ** across', () => {
    const cases: [string, string, boolean][] = [
      ['a/*.parquet', 'a/x.parquet', true],
      ['a/*.parquet', 'a/b/x.parquet', false],
      ['a/**/*.parquet', 'a/b/c/x.parquet', true],
      ['a/**/*.parquet', 'a/x.parquet', true],
      ['a/part-?.csv', 'a/part-1.csv', true],
      ['a/part-?.csv', 'a/part-10.csv', false],
      ['a/x+y.csv', 'a/x+y.csv', true],
    ];
    for (const [glob, key, want] of cases) assert.equal(globRegExp(glob).test(key), want, `${glob} ~ ${key}`);
  });

  test('postgres URIs take no password, need a query and a database', () => {
    assert.deepEqual(parsePostgres('postgres://127.0.0.1:5432/db?query=SELECT%201', undefined), {
      connectionString: 'postgres://127.0.0.1:5432/db',
      query: 'SELECT 1',
    });
    assert.throws(
      () => parsePostgres('postgres://u:secret@h/db', 'SELECT 1'),
      (e: Error) => /PGPASSWORD/.test(e.message) && !e.message.includes('secret'),
    );
    assert.throws(() => parsePostgres('postgres://h/db', undefined), /no SQL; set param query/);
    assert.throws(() => parsePostgres('postgres://h/', 'SELECT 1'), /no database/);
  });

  test('SQL identity: the query and the freshness window', () => {
    const t = Date.parse('2026-01-01T10:20:00Z');
    assert.equal(sqlIdentity('SELECT 1', '1h', t), sqlIdentity('SELECT 1', '1h', t + 30 * 60_000));
    assert.notEqual(sqlIdentity('SELECT 1', '1h', t), sqlIdentity('SELECT 1', '1h', t + 60 * 60_000));
    assert.notEqual(sqlIdentity('SELECT 1', '1h', t), sqlIdentity('SELECT 2', '1h', t));
    assert.match(sqlIdentity('SELECT 1', undefined, t), /no freshness declared \(not cached/);
    assert.throws(() => sqlIdentity('SELECT 1', 'soon'), /param freshness: 'soon' is not a duration/);
  });
});

describe('s3:// globs against s3proxy', { skip: peers.skip }, () => {
  const prefix = uniqueName('glob');
  const env = () => ({
    S3_ENDPOINT: peers.s3.endpoint,
    AWS_ACCESS_KEY_ID: peers.s3.accessKey,
    AWS_SECRET_ACCESS_KEY: peers.s3.secretKey,
    AWS_REGION: peers.s3.region,
  });
  let s3: S3Client;
  const put = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: 'data', Key: `${prefix}/${key}`, Body: body }));
  before(async () => {
    s3 = new S3Client({ ...s3ClientConfig(env()), credentials: { accessKeyId: peers.s3.accessKey, secretAccessKey: peers.s3.secretKey } });
    await put('part-b.csv', 'id,amount\n3,30\n4,40\n');
    await put('part-a.csv', 'amount,id\n10,1\n20,2\n');
    await put('sub/part-c.csv', 'id,amount\n5,50\n');
    await put('notes.txt', 'not data');
  });
  after(() => s3?.destroy());

  test('a glob reads every matching object in key order as one table', async () => {
    const ds = await ingestFile(`s3://data/${prefix}/*.csv`, { env: env() });
    const id = ds.columns.find((c) => c.name === 'id')!;
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => cellAt(id, i)),
      [1, 2, 3, 4],
    );
    assert.equal(ds.rows, 4);
    const all = await ingestFile(`s3://data/${prefix}/**/*.csv`, { env: env() });
    assert.equal(all.rows, 5);
  });

  test('the identity follows the objects’ ETags', async () => {
    const uri = `s3://data/${prefix}/*.csv`;
    const a = await sourceIdentity(uri, { env: env() });
    assert.match(a!.identity, /^2 objects, ETags sha256:[0-9a-f]{16}$/);
    assert.deepEqual(await sourceIdentity(uri, { env: env() }), a);
    await put('part-b.csv', 'id,amount\n3,31\n4,40\n');
    assert.notDeepEqual(await sourceIdentity(uri, { env: env() }), a);
    const one = await sourceIdentity(`s3://data/${prefix}/part-a.csv`, { env: env() });
    assert.match(one!.identity, /^ETag "[0-9a-f]{32}"/);
  });

  test('bad input: no match, different columns, a wrong key, an unreachable endpoint', async () => {
    await assert.rejects(ingestFile(`s3://data/${prefix}/*.parquet`, { env: env() }), /no object in bucket 'data' matches '.*\*\.parquet'/);
    await put('mixed/x.csv', 'a\n1\n');
    await put('mixed/y.csv', 'b\n1\n');
    await assert.rejects(ingestFile(`s3://data/${prefix}/mixed/*.csv`, { env: env() }), /y\.csv has columns b but .*x\.csv has a; every object a glob matches/);
    await assert.rejects(
      ingestFile(`s3://data/${prefix}/*.csv`, { env: { ...env(), AWS_SECRET_ACCESS_KEY: 'wrong' } }),
      /s3:\/\/data\/.*refused the credentials/,
    );
    await assert.rejects(
      ingestFile(`s3://data/${prefix}/part-a.csv`, { env: { ...env(), S3_ENDPOINT: 'http://127.0.0.1:1' } }),
      /cannot reach the object store/,
    );
  });
});

describe('https:// with headers from the environment', () => {
  let server: Server;
  let base = '';
  const etag = '"v1"';
  before(async () => {
    server = createServer((req, res) => {
      if (req.headers.authorization !== 'Bearer t0ken') {
        res.writeHead(401).end('no');
        return;
      }
      if (req.url !== '/export/rows.csv') {
        res.writeHead(404).end('gone');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/csv', etag });
      res.end(req.method === 'HEAD' ? undefined : 'a,b\n1,x\n2,y\n3,z\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(() => server?.close());
  const headers = { Authorization: 'env:TEST_API_AUTH' };
  const env = { TEST_API_AUTH: 'Bearer t0ken' };

  test('reads the resource with the header the env reference names; the identity is its ETag', async () => {
    const ds = await ingestFile(`${base}/export/rows.csv`, { headers, env });
    assert.equal(ds.rows, 3);
    assert.deepEqual(await sourceIdentity(`${base}/export/rows.csv`, { headers, env }), { identity: 'etag "v1"' });
  });

  test('bad input: a literal header, an unset env var, a refused credential, a missing resource, nothing listening', async () => {
    await assert.rejects(ingestFile(`${base}/export/rows.csv`, { headers: { Authorization: 'Bearer t0ken' }, env }), /must be a reference 'env:NAME'/);
    await assert.rejects(ingestFile(`${base}/export/rows.csv`, { headers, env: {} }), /reads env TEST_API_AUTH, which is not set/);
    await assert.rejects(
      ingestFile(`${base}/export/rows.csv`, { headers, env: { TEST_API_AUTH: 'Bearer nope' } }),
      /rows\.csv: HTTP 401 .*refused the credentials/,
    );
    await assert.rejects(ingestFile(`${base}/export/other.csv`, { headers, env }), /other\.csv: HTTP 404/);
    const closed = await freePort();
    await assert.rejects(ingestFile(`http://127.0.0.1:${closed}/x.csv`), /\/x\.csv: cannot reach the server \(ECONNREFUSED\)/);
  });
});

describe('postgres:// against PostgreSQL', { skip: peers.skip }, () => {
  const table = uniqueName('tx').replace(/-/g, '_');
  const u = () => new URL(peers.databaseUrl);
  const uri = () => `postgres://${u().host}${u().pathname}`;
  const env = () => ({ PGUSER: decodeURIComponent(u().username), PGPASSWORD: decodeURIComponent(u().password) });
  before(async () => {
    const c = new pg.Client({ connectionString: peers.databaseUrl });
    await c.connect();
    await c.query(`CREATE TABLE ${table} (id bigint, amount numeric, country text, at timestamptz)`);
    await c.query(`INSERT INTO ${table} VALUES (1, 1.5, 'FR', '2026-01-01T00:00:00Z'), (2, 2.5, 'US', '2026-01-02T00:00:00Z'), (3, NULL, 'FR', NULL)`);
    await c.end();
  });

  test('a query becomes a typed dataset, credentials from PGUSER/PGPASSWORD', async () => {
    const ds = await ingestFile(uri(), { query: `SELECT id, amount, country, at FROM ${table} ORDER BY id`, env: env(), types: { country: 'categorical' } });
    assert.equal(ds.rows, 3);
    assert.deepEqual(
      ds.columns.map((c) => [c.name, c.type]),
      [
        ['id', 'numeric'],
        ['amount', 'numeric'],
        ['country', 'categorical'],
        ['at', 'string'],
      ],
    );
    assert.equal(cellAt(ds.columns[1], 1), 2.5);
    assert.equal(cellAt(ds.columns[1], 2), null);
    assert.equal(cellAt(ds.columns[3], 0), '2026-01-01T00:00:00.000Z');
  });

  test('bad input: bad SQL, a missing table, a write, a wrong password, nothing listening', async () => {
    await assert.rejects(
      ingestFile(uri(), { query: 'SELEC 1', env: env() }),
      /postgres:\/\/.* \(query "SELEC 1"\): a syntax error in the query: .*at character 1/,
    );
    await assert.rejects(
      ingestFile(uri(), { query: 'SELECT * FROM nowhere', env: env() }),
      /no such table; check the query: relation "nowhere" does not exist/,
    );
    await assert.rejects(ingestFile(uri(), { query: `DELETE FROM ${table} RETURNING id`, env: env() }), /ingest runs queries read-only/);
    await assert.rejects(ingestFile(uri(), { query: 'SELECT 1', env: { ...env(), PGPASSWORD: 'wrong' } }), /refused the password; check PGUSER\/PGPASSWORD/);
    await assert.rejects(ingestFile('postgres://127.0.0.1:1/ghosteam', { query: 'SELECT 1', env: env() }), /cannot reach the database server \(ECONNREFUSED\)/);
    const c = new pg.Client({ connectionString: peers.databaseUrl });
    await c.connect();
    assert.equal((await c.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 3, 'the DELETE was rolled back');
    await c.end();
  });
});

describe('kafka:// bounded batches against Apache Kafka', { skip: peers.skip }, () => {
  const topic = uniqueName('events');
  const uri = () => `kafka://${peers.kafkaBrokers}/${topic}`;
  const produce = async (rows: object[]) => {
    const p = new Producer({ clientId: 'test', bootstrapBrokers: [peers.kafkaBrokers], serializers: stringSerializers, idempotent: true });
    await p.send({ messages: rows.map((r, i) => ({ topic, partition: i % 2, value: JSON.stringify(r) })) });
    await p.close();
  };
  before(async () => {
    const admin = new Admin({ clientId: 'test', bootstrapBrokers: [peers.kafkaBrokers] });
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    await admin.close();
    await produce([1, 2, 3, 4, 5].map((id) => ({ id, amount: id * 10 })));
  });

  test('reads from the committed offsets to the end; a commit moves the next batch on', async () => {
    const first = await kafkaRange(uri());
    assert.deepEqual(
      first.partitions.map((p) => [p.start, p.end]),
      [
        ['0', '3'],
        ['0', '2'],
      ],
    );
    const ds = await ingestFile(uri(), { kafkaRange: first });
    assert.equal(ds.rows, 5);
    const ids = [0, 1, 2, 3, 4].map((i) =>
      cellAt(
        ds.columns.find((c) => c.name === 'id')!,
        i,
      ),
    );
    assert.deepEqual(ids, [1, 3, 5, 2, 4], 'partition 0 then 1, each in offset order');
    // Not committed: the next read covers the same records.
    assert.deepEqual(await kafkaRange(uri()), first);
    await commitKafkaOffsets(first);
    await produce([{ id: 6, amount: 60 }]);
    const next = await kafkaRange(uri());
    assert.deepEqual(
      next.partitions.map((p) => [p.start, p.end]),
      [
        ['3', '4'],
        ['2', '2'],
      ],
    );
    assert.equal((await ingestFile(uri(), { kafkaRange: next })).rows, 1);
    assert.equal((await ingestFile(uri(), { from: 'earliest' })).rows, 6);
    assert.equal((await ingestFile(uri(), { from: new Date(Date.now() + 60_000).toISOString() })).rows, 0);
    assert.match((await sourceIdentity(uri()))!.identity, new RegExp(`topic ${topic}, group ghosteam-ingest-${topic}, offsets p0 3\\.\\.4, p1 2\\.\\.2`));
  });

  test('bad input: a missing topic, a bad start, nothing listening', async () => {
    await assert.rejects(kafkaRange(`kafka://${peers.kafkaBrokers}/no-such-topic-${process.pid}`), /no such topic/);
    await assert.rejects(kafkaRange(uri(), { from: 'yesterday' }), /param from \(--from\) 'yesterday' is not 'committed', 'earliest' or an ISO 8601 time/);
    await assert.rejects(kafkaRange(`kafka://127.0.0.1:1/${topic}`), /kafka:\/\/127\.0\.0\.1:1\/.*: cannot reach the Kafka broker/);
  });
});
