/**
 * SASL and TLS for ingest's Kafka and PostgreSQL sources, against real servers this test starts
 * with those listeners (not peers:up's shared, plain ones): an Apache Kafka broker (KRaft) with
 * SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SSL and SASL_PLAINTEXT listeners, and Debian's
 * PostgreSQL with ssl=on, both with a certificate from a CA made here with openssl. Credentials come
 * from the environment only; a wrong one, an untrusted certificate or a missing CA file is an error
 * naming the source and what to set.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import pg from 'pg';
import { cellAt } from '../../components/dataset/index.ts';
import { ingestFile } from '../../components/ingest/index.ts';
import { commitKafkaOffsets, kafkaRange, kafkaSecurity, postgresTls } from '../../components/ingest/sources.ts';
import { startKafka, startPostgres, type KafkaSecured } from '../peers/datastores.ts';
import { stopPid } from '../peers/daemons.ts';
import { uniqueName, usePeers } from '../peers/index.ts';
import { makeCa, makeLeaf } from '../security/certs.ts';

// The shared peers only tell whether PostgreSQL and Kafka can run here (their binaries); this test
// starts its own servers.
const peers = await usePeers(['postgres', 'kafka']);
const dir = mkdtempSync(join(tmpdir(), 'ghosteam-secure-sources-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('security settings, pure', () => {
  test('Kafka: the protocol follows what is set; a password never goes out in the clear unless asked for by name', () => {
    assert.equal(kafkaSecurity('kafka://h:1/t', {}).protocol, 'PLAINTEXT');
    const s = kafkaSecurity('kafka://h:1/t', { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'alice', KAFKA_SASL_PASSWORD: 'pw' });
    assert.equal(s.protocol, 'SASL_SSL');
    assert.deepEqual(s.sasl, { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'pw' });
    assert.equal(s.text, 'SASL_SSL, SCRAM-SHA-512 as alice');
    assert.throws(
      () => kafkaSecurity('kafka://h:1/t', { KAFKA_SASL_MECHANISM: 'GSSAPI' }),
      /KAFKA_SASL_MECHANISM 'GSSAPI' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/,
    );
    assert.throws(() => kafkaSecurity('kafka://h:1/t', { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }), /needs KAFKA_SASL_MECHANISM/);
    assert.throws(
      () => kafkaSecurity('kafka://h:1/t', { KAFKA_SASL_MECHANISM: 'PLAIN' }),
      /SASL \(PLAIN\) needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD in the environment \(in a pod, from a Secret/,
    );
    assert.throws(
      () => kafkaSecurity('kafka://h:1/t', { KAFKA_SSL_CA_FILE: join(dir, 'none.pem') }),
      /KAFKA_SSL_CA_FILE: cannot read the CA file .*none\.pem \(ENOENT\)/,
    );
    assert.throws(() => kafkaSecurity('kafka://h:1/t', { KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT', KAFKA_SASL_MECHANISM: 'PLAIN' }), /use SASL_SSL/);
  });

  test('Kafka: credentials in the URI are refused without echoing them', async () => {
    await assert.rejects(
      kafkaRange('kafka://alice:hunter2@127.0.0.1:9092/t'),
      (e: Error) => /credentials in the URI; set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/.test(e.message) && !e.message.includes('hunter2'),
    );
  });

  test('PostgreSQL: sslmode and sslrootcert as libpq reads them, from the URI or PGSSLMODE/PGSSLROOTCERT', () => {
    const ca = makeCa(dir, 'pure-ca');
    assert.deepEqual(postgresTls('postgres://h/db', {}), { connectionString: 'postgres://h/db', ssl: false, mode: 'prefer' });
    assert.deepEqual(postgresTls('postgres://h/db?sslmode=require', {}).ssl, { rejectUnauthorized: false });
    const full = postgresTls(`postgres://h/db?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca.cert)}`, {});
    assert.equal(full.connectionString, 'postgres://h/db', 'the TLS params do not reach pg as a connection string');
    assert.match(String((full.ssl as { ca: string }).ca), /BEGIN CERTIFICATE/);
    assert.equal((full.ssl as { checkServerIdentity?: unknown }).checkServerIdentity, undefined, 'verify-full checks the host name');
    const byEnv = postgresTls('postgres://h/db', { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: ca.cert });
    assert.equal(byEnv.mode, 'verify-ca');
    assert.equal(typeof (byEnv.ssl as { checkServerIdentity?: unknown }).checkServerIdentity, 'function', 'verify-ca checks the chain only');
    assert.throws(
      () => postgresTls('postgres://h/db?sslmode=verify-full', {}),
      /sslmode verify-full checks the server against a CA; name its file with \?sslrootcert=PATH or PGSSLROOTCERT/,
    );
    assert.throws(
      () => postgresTls('postgres://h/db?sslmode=strict', {}),
      /sslmode 'strict' is not one of disable, allow, prefer, require, verify-ca, verify-full/,
    );
    assert.throws(
      () => postgresTls('postgres://h/db?sslmode=verify-ca', { PGSSLROOTCERT: join(dir, 'missing.crt') }),
      /sslrootcert \(or PGSSLROOTCERT\): cannot read the CA file .*missing\.crt \(ENOENT\)/,
    );
  });
});

describe('kafka:// over SASL_SSL, SSL and SASL_PLAINTEXT against Apache Kafka', { skip: peers.skip }, () => {
  const users = { alice: 'alice-secret-1', bob: 'bob-secret-2' };
  let broker: Awaited<ReturnType<typeof startKafka>> | undefined;
  let sec: KafkaSecured;
  const topic = uniqueName('secure');
  before(async () => {
    broker = await startKafka(() => {}, { secure: { users } });
    sec = broker.secured!;
    // Set up over the plain listener (the test's own, on loopback).
    const admin = new Admin({ clientId: 'test', bootstrapBrokers: [broker.brokers] });
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    await admin.close();
    const p = new Producer({ clientId: 'test', bootstrapBrokers: [broker.brokers], serializers: stringSerializers, idempotent: true });
    await p.send({ messages: [1, 2, 3].map((id) => ({ topic, partition: 0, value: JSON.stringify({ id, amount: id * 10 }) })) });
    await p.close();
  });
  after(async () => {
    if (broker) await stopPid(broker.pid);
    if (broker) rmSync(broker.dir, { recursive: true, force: true });
  });
  const sasl = (mechanism: string, user = 'alice', password: string = users.alice) => ({
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: user,
    KAFKA_SASL_PASSWORD: password,
    KAFKA_SSL_CA_FILE: sec.caFile,
  });

  test('SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN over SASL_SSL read the batch; offsets commit over the same connection', async () => {
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN']) {
      const ds = await ingestFile(`kafka://${sec.saslSslBrokers}/${topic}`, { env: sasl(mechanism, 'bob', users.bob), from: 'earliest' });
      assert.equal(ds.rows, 3, mechanism);
      assert.deepEqual(
        [0, 1, 2].map((i) =>
          cellAt(
            ds.columns.find((c) => c.name === 'amount')!,
            i,
          ),
        ),
        [10, 20, 30],
      );
    }
    const uri = `kafka://${sec.saslSslBrokers}/${topic}`;
    const env = sasl('SCRAM-SHA-512');
    const range = await kafkaRange(uri, { env, group: 'secure-group' });
    assert.deepEqual(
      range.partitions.map((p) => [p.start, p.end]),
      [['0', '3']],
    );
    await commitKafkaOffsets(range, env);
    assert.deepEqual(
      (await kafkaRange(uri, { env, group: 'secure-group' })).partitions.map((p) => [p.start, p.end]),
      [['3', '3']],
      'committed over SASL_SSL',
    );
  });

  test('SSL without SASL, and SASL_PLAINTEXT when asked for by name', async () => {
    assert.equal((await ingestFile(`kafka://${sec.sslBrokers}/${topic}`, { env: { KAFKA_SSL_CA_FILE: sec.caFile }, from: 'earliest' })).rows, 3);
    const env = { KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'alice', KAFKA_SASL_PASSWORD: users.alice };
    assert.equal((await ingestFile(`kafka://${sec.saslPlaintextBrokers}/${topic}`, { env, from: 'earliest' })).rows, 3);
  });

  test('a wrong password, an unknown user, an untrusted certificate: errors naming the source and what to set', async () => {
    const uri = `kafka://${sec.saslSslBrokers}/${topic}`;
    for (const [mechanism, user, password] of [
      ['SCRAM-SHA-512', 'alice', 'wrong-password'],
      ['SCRAM-SHA-256', 'mallory', 'mallory-guess'],
      ['PLAIN', 'alice', 'wrong-password'],
    ]) {
      await assert.rejects(
        kafkaRange(uri, { env: sasl(mechanism, user, password) }),
        (e: Error) =>
          e.message.startsWith(uri) &&
          e.message.includes(`the broker refused the SASL login (SASL_SSL, ${mechanism} as ${user})`) &&
          e.message.includes('check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM') &&
          !e.message.includes(password),
        `${mechanism} ${user}`,
      );
    }
    const other = makeCa(dir, 'other-ca');
    await assert.rejects(
      kafkaRange(uri, { env: { ...sasl('SCRAM-SHA-512'), KAFKA_SSL_CA_FILE: other.cert } }),
      (e: Error) =>
        e.message.startsWith(uri) &&
        /the server's TLS certificate is not signed by a trusted CA \(.+\); set KAFKA_SSL_CA_FILE to the CA that signed it/.test(e.message),
    );
  });
});

describe('postgres:// over TLS against PostgreSQL with ssl=on', { skip: peers.skip }, () => {
  let server: Awaited<ReturnType<typeof startPostgres>> | undefined;
  let ca: { cert: string };
  const query = 'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
  before(async () => {
    ca = makeCa(dir, 'pg-ca');
    const leaf = makeLeaf(dir, ca as ReturnType<typeof makeCa>, 'pg-server');
    server = await startPostgres(() => {}, { tls: leaf });
  });
  after(async () => {
    if (server) await stopPid(server.pid);
    if (server) rmSync(server.dir, { recursive: true, force: true });
  });
  const u = () => new URL(server!.url);
  const env = () => ({ PGUSER: decodeURIComponent(u().username), PGPASSWORD: decodeURIComponent(u().password) });
  const at = (host: string, params: string) => `postgres://${host}:${u().port}/ghosteam?${params}`;

  test('verify-full and verify-ca with the CA by path; the session is encrypted (pg_stat_ssl)', async () => {
    for (const params of [`sslmode=verify-full&sslrootcert=${encodeURIComponent(ca.cert)}`, `sslmode=verify-ca&sslrootcert=${encodeURIComponent(ca.cert)}`]) {
      const ds = await ingestFile(at('127.0.0.1', params), { query, env: env() });
      assert.equal(cellAt(ds.columns[0], 0), true, params);
      assert.match(String(cellAt(ds.columns[1], 0)), /^TLSv1\.[23]$/);
    }
    const byEnv = await ingestFile(`postgres://localhost:${u().port}/ghosteam`, { query, env: { ...env(), PGSSLMODE: 'verify-full', PGSSLROOTCERT: ca.cert } });
    assert.equal(cellAt(byEnv.columns[0], 0), true, 'PGSSLMODE/PGSSLROOTCERT, and the certificate names localhost too');
    const plain = await ingestFile(at('127.0.0.1', 'sslmode=disable'), { query, env: env() });
    assert.equal(cellAt(plain.columns[0], 0), false, 'sslmode=disable stays plain');
  });

  test('an untrusted certificate, a wrong password over TLS: errors naming the source and what to set', async () => {
    const other = makeCa(dir, 'pg-other-ca');
    await assert.rejects(
      ingestFile(at('127.0.0.1', `sslmode=verify-full&sslrootcert=${encodeURIComponent(other.cert)}`), { query, env: env() }),
      (e: Error) =>
        e.message.startsWith(`postgres://127.0.0.1:${u().port}/ghosteam`) &&
        /the server's TLS certificate is not signed by a trusted CA \(.+\); set \?sslrootcert=PATH \(or PGSSLROOTCERT\) to the CA that signed it/.test(
          e.message,
        ),
    );
    await assert.rejects(
      ingestFile(at('127.0.0.1', `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca.cert)}`), { query, env: { ...env(), PGPASSWORD: 'wrong-password' } }),
      (e: Error) => /refused the password; check PGUSER\/PGPASSWORD/.test(e.message) && !e.message.includes('wrong-password'),
    );
    // TLS asked of a server without it (the shared peer runs plain).
    const shared = new URL(peers.databaseUrl);
    await assert.rejects(
      ingestFile(`postgres://${shared.host}/ghosteam?sslmode=require`, {
        query,
        env: { PGUSER: decodeURIComponent(shared.username), PGPASSWORD: decodeURIComponent(shared.password) },
      }),
      /postgres:\/\/.*: the server does not offer TLS; use sslmode=disable or turn ssl on at the server/,
    );
    const c = new pg.Client({ connectionString: server!.url });
    await c.connect();
    assert.equal((await c.query('SHOW ssl')).rows[0].ssl, 'on');
    await c.end();
  });
});
