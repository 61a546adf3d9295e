// TLS on every server (model server, payload sink with mutual TLS, operator health/metrics, feature
// server), its
// reload without a restart, handshake fuzzing, malformed Authorization headers, and the audit log of
// admin actions. Real servers on loopback; real clients: curl, Python's requests (the peers' venv),
// node's tls; certificates from the openssl CLI.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect, createServer as netServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { usePeers } from '../peers/index.ts';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { startPayloadSink, type PayloadSink } from '../../components/payload-sink/index.ts';
import { startHealthServer } from '../../controllers/runtime/health.ts';
import { startFeatureServer, type FeatureServer } from '../../components/features/server.ts';
import { materializeView, prepareView } from '../../components/features/materialize.ts';
import { SqliteOnlineStore } from '../../components/features/sqlite-store.ts';
import { datasetFromColumns } from '../../components/dataset/index.ts';
import type { FeatureViewSpec } from '../../api/crds/types.ts';
import { OperatorMetrics } from '../../controllers/runtime/metrics.ts';
import { openAuditLog, verifyAuditChain, type AuditLog } from '../../components/security/audit.ts';
import { tempDir, writeFraudModel, rows, inferBody } from '../model-server/fixtures.ts';
import { makeCa, makeLeaf } from './certs.ts';

const run = promisify(execFile);
const peers = await usePeers(['python']);
const token = 'tls-test-token-123';

/** curl's status code, or its exit code as a negative number when the connection failed. */
async function curl(args: string[]): Promise<{ status: number; body: string; exit: number }> {
  try {
    const { stdout } = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', '--max-time', '10', ...args], { timeout: 20_000 });
    const i = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i), exit: 0 };
  } catch (e) {
    return { status: 0, body: String((e as { stderr?: string }).stderr ?? e), exit: (e as { code?: number }).code ?? -1 };
  }
}

/** The serial of the certificate a fresh TLS connection is shown. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca: readFileSync(ca), servername: 'localhost' }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.end();
    });
    s.on('error', reject);
  });
}

function serialOf(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).serialNumber;
}

/** Sends raw bytes and waits for the server to close or answer (never a crash). */
function rawBytes(port: number, bytes: Buffer, ms = 2000): Promise<void> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => s.write(bytes));
    const done = (): void => {
      clearTimeout(t);
      s.destroy();
      resolve();
    };
    const t = setTimeout(done, ms);
    s.on('data', () => undefined);
    s.on('error', done);
    s.on('close', done);
  });
}

describe('TLS on the model server', { skip: peers.skip }, () => {
  const dir = tempDir('ghosteam-tls-');
  const ca = makeCa(dir);
  const leaf1 = makeLeaf(dir, ca, 'server1');
  const leaf2 = makeLeaf(dir, ca, 'server2');
  const other = makeCa(dir, 'other-ca');
  const foreign = makeLeaf(dir, other, 'foreign');
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  copyFileSync(leaf1.cert, cert);
  copyFileSync(leaf1.key, key);
  const model = writeFraudModel(dir, 1);
  const logs: string[] = [];
  let s: ModelServer;
  let audit: AuditLog;
  const auditFile = join(dir, 'audit.jsonl');
  before(async () => {
    audit = await openAuditLog(auditFile);
    s = await startModelServer({
      port: 0,
      token,
      processMetrics: false,
      models: [{ name: 'fraud', version: '1', path: model.path }],
      tls: { cert, key, reloadIntervalMs: 100 },
      audit,
      log: (l) => logs.push(l),
    });
  });
  after(async () => {
    await s.close();
    await audit.close();
  });

  test('the URL is https; curl verifies the chain, health is open, infer needs the token', async () => {
    assert.match(s.url, /^https:\/\//);
    const health = await curl(['--cacert', ca.cert, `${s.url}/v2/health/ready`]);
    assert.equal(health.status, 200, health.body);
    const anon = await curl(['--cacert', ca.cert, '-X', 'POST', '--data', inferBody(rows(1, 1)), `${s.url}/v2/models/fraud/infer`]);
    assert.equal(anon.status, 401);
    const ok = await curl(['--cacert', ca.cert, '-H', `authorization: Bearer ${token}`, '--data', inferBody(rows(2, 1)), `${s.url}/v2/models/fraud/infer`]);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).model_name, 'fraud');
    // a client that does not trust the CA refuses the server (curl exit 60: peer certificate not trusted)
    const untrusted = await curl([`${s.url}/v2/health/ready`]);
    assert.equal(untrusted.status, 0);
    assert.equal(untrusted.exit, 60, untrusted.body);
  });

  test('Python requests (verify=CA) infers over TLS, and plain HTTP to the TLS port gets no answer, not a crash', async () => {
    const py = `
import requests, json, sys
url, ca, token, body = sys.argv[1:5]
r = requests.post(url + "/v2/models/fraud/infer", data=body, headers={"authorization": "Bearer " + token}, verify=ca, timeout=10)
print(json.dumps({"status": r.status_code, "outputs": len(r.json()["outputs"])}))
try:
    requests.get(url.replace("https://", "http://") + "/v2/health/ready", timeout=5)
    print(json.dumps({"plain": "answered"}))
except requests.exceptions.ConnectionError as e:
    print(json.dumps({"plain": "refused"}))
`;
    const { stdout } = await run(peers.python, ['-c', py, s.url, ca.cert, token, inferBody(rows(3, 2))], { timeout: 60_000 });
    const [a, b] = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(a, { status: 200, outputs: 1 });
    assert.deepEqual(b, { plain: 'refused' });
  });

  test('TLS 1.1 and older are refused; truncated and garbage handshakes and a wrong SNI leave the server serving', async () => {
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const c = tlsConnect({ port: s.port, host: '127.0.0.1', ca: readFileSync(ca.cert), maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => {
          c.end();
          resolve();
        });
        c.on('error', reject);
      }),
    );
    // a real ClientHello cut short, random bytes, an HTTP request in clear, a zero-length record
    const hello = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const srv = netServer((sock) => {
        sock.once('data', (c: Buffer) => {
          chunks.push(c);
          sock.destroy();
          srv.close();
          resolve(Buffer.concat(chunks));
        });
      });
      srv.listen(0, '127.0.0.1', () => {
        const c = tlsConnect({ port: (srv.address() as AddressInfo).port, host: '127.0.0.1', servername: 'localhost' });
        c.on('error', () => undefined);
      });
    });
    for (let cut = 1; cut < hello.length; cut += Math.max(1, Math.floor(hello.length / 25))) await rawBytes(s.port, hello.subarray(0, cut), 300);
    for (let i = 0; i < 20; i++) await rawBytes(s.port, randomBytes(1 + Math.floor(Math.random() * 600)), 300);
    await rawBytes(s.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await rawBytes(s.port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]));
    // a wrong SNI still gets the one certificate; a client checking the name refuses it
    await assert.rejects(servedSerialFor(s.port, ca.cert, 'not-this-host.example'));
    const health = await curl(['--cacert', ca.cert, `${s.url}/v2/health/live`]);
    assert.equal(health.status, 200);
  });

  test('a new certificate is served without a restart; a broken pair is refused and the last good one stays', async () => {
    assert.equal(await servedSerial(s.port, ca.cert), serialOf(leaf1.cert));
    // a key that does not match its certificate: refused, reported, old one kept
    copyFileSync(leaf2.cert, cert);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await servedSerial(s.port, ca.cert), serialOf(leaf1.cert));
    assert.ok(
      logs.some((l) => /NOT reloaded/.test(l)),
      logs.join('\n'),
    );
    copyFileSync(leaf2.key, key);
    const deadline = Date.now() + 5000;
    while ((await servedSerial(s.port, ca.cert)) !== serialOf(leaf2.cert)) {
      assert.ok(Date.now() < deadline, 'the new certificate was not served within 5 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(logs.some((l) => /TLS certificate reloaded/.test(l)));
    // a certificate from a CA the client does not trust is served as given (the client refuses it)
    copyFileSync(foreign.cert, cert);
    copyFileSync(foreign.key, key);
    await new Promise((r) => setTimeout(r, 400));
    await assert.rejects(servedSerial(s.port, ca.cert));
    copyFileSync(leaf1.cert, cert);
    copyFileSync(leaf1.key, key);
    await new Promise((r) => setTimeout(r, 400));
  });

  test('malformed Authorization headers: 401 every time, never a 5xx, and the server keeps serving', async () => {
    const headers = [
      '',
      'Bearer',
      'Bearer ',
      'Basic dXNlcjpwYXNz',
      `Bearer ${token}x`,
      `Bearer  ${'a'.repeat(8000)}`,
      'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
      'Bearer a.b.c',
      'Bearer ....',
      'Bearer \u00ff\u00fe',
      'bearer\t' + 'x'.repeat(3),
      'Negotiate abc',
      ...Array.from(
        { length: 30 },
        () => `Bearer ${randomBytes(40).toString('base64url')}.${randomBytes(60).toString('base64url')}.${randomBytes(30).toString('base64url')}`,
      ),
      ...Array.from({ length: 20 }, () =>
        randomBytes(30)
          .toString('latin1')
          .replace(/[\r\n\0]/g, 'x'),
      ),
    ];
    for (const h of headers) {
      const r = await curl(['--cacert', ca.cert, '-H', `authorization: ${h}`, '--data', inferBody(rows(1, 1)), `${s.url}/v2/models/fraud/infer`]);
      assert.ok(r.status === 401 || r.status === 400, `${JSON.stringify(h.slice(0, 40))}: ${r.status} ${r.body}`);
    }
    const ok = await curl(['--cacert', ca.cert, '-H', `authorization: Bearer ${token}`, '--data', inferBody(rows(1, 1)), `${s.url}/v2/models/fraud/infer`]);
    assert.equal(ok.status, 200);
  });

  test('admin actions are in the audit log: who, what, when, outcome, chained; an edit shows', async () => {
    const h = ['--cacert', ca.cert, '-H', `authorization: Bearer ${token}`, '-H', 'content-type: application/json'];
    const v2 = writeFraudModel(dir, 2);
    assert.equal((await curl([...h, '--data', JSON.stringify({ name: 'fraud', version: '2', path: v2.path }), `${s.url}/admin/models`])).status, 200);
    assert.equal(
      (await curl([...h, '-X', 'PUT', '--data', JSON.stringify({ stable: '1', canary: '2', canaryPercent: 10 }), `${s.url}/admin/models/fraud/traffic`]))
        .status,
      200,
    );
    assert.equal((await curl([...h, '-X', 'DELETE', `${s.url}/admin/models/nope`])).status, 404);
    assert.equal((await curl([...h, `${s.url}/admin/models`])).status, 200); // a read: not audited
    const text = readFileSync(auditFile, 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.who, l.via, l.what, l.target, l.outcome]),
      [
        ['static-token', 'token', 'load', 'fraud/2', 'success'],
        ['static-token', 'token', 'traffic', 'fraud', 'success'],
        ['static-token', 'token', 'unload', 'nope', 'failure'],
      ],
    );
    assert.deepEqual(lines[1].detail, { stable: '1', canary: '2', canaryPercent: 10 });
    assert.match(lines[2].error, /not loaded/);
    for (const l of lines) assert.ok(Date.now() - Date.parse(l.when) < 60_000);
    assert.equal(verifyAuditChain(text), undefined);
    const tampered = text.replace('"canaryPercent":10', '"canaryPercent":0');
    assert.deepEqual(verifyAuditChain(tampered)?.line, 3);
    const removed = text
      .split('\n')
      .filter((_, i) => i !== 0)
      .join('\n');
    assert.deepEqual(verifyAuditChain(removed)?.line, 1);
  });
});

function servedSerialFor(port: number, ca: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca: readFileSync(ca), servername }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.end();
    });
    s.on('error', reject);
  });
}

describe('mutual TLS on the payload sink', () => {
  const dir = tempDir('ghosteam-mtls-');
  const ca = makeCa(dir);
  const server = makeLeaf(dir, ca, 'sink');
  const clientCa = makeCa(dir, 'client-ca');
  const predictor = makeLeaf(dir, clientCa, 'predictor');
  const stranger = makeLeaf(dir, ca, 'stranger'); // signed by the server CA, not the client CA
  let sink: PayloadSink;
  before(async () => {
    sink = await startPayloadSink({ file: join(dir, 'payloads.jsonl'), port: 0, tls: { cert: server.cert, key: server.key, clientCa: clientCa.cert } });
  });
  after(() => sink.close());
  const event = JSON.stringify({
    specversion: '1.0',
    id: 'r1',
    source: 'test',
    type: 'org.kubeflow.serving.inference.request',
    datacontenttype: 'application/json',
    data: { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] },
  });
  test('a client certificate from the client CA is required: without one, or from another CA, no connection', async () => {
    assert.match(sink.url, /^https:/);
    const ct = ['-H', 'content-type: application/cloudevents+json'];
    const none = await curl(['--cacert', ca.cert, ...ct, '--data', event, `${sink.url}/`]);
    assert.equal(none.status, 0, none.body);
    const wrong = await curl(['--cacert', ca.cert, '--cert', stranger.cert, '--key', stranger.key, ...ct, '--data', event, `${sink.url}/`]);
    assert.equal(wrong.status, 0, wrong.body);
    const ok = await curl(['--cacert', ca.cert, '--cert', predictor.cert, '--key', predictor.key, ...ct, '--data', event, `${sink.url}/`]);
    assert.equal(ok.status, 200, ok.body);
    const health = await curl(['--cacert', ca.cert, '--cert', predictor.cert, '--key', predictor.key, `${sink.url}/healthz`]);
    assert.equal(health.status, 200);
  });
});

describe("the operator's health/metrics server", () => {
  const dir = tempDir('ghosteam-health-tls-');
  const ca = makeCa(dir);
  const leaf = makeLeaf(dir, ca, 'operator');
  test('HTTPS; probes open; /metrics needs the token (401 without, 200 with)', async () => {
    const h = await startHealthServer({
      port: 0,
      metrics: new OperatorMetrics(),
      ready: () => undefined,
      auth: { token },
      tls: { cert: leaf.cert, key: leaf.key },
    });
    try {
      const base = `https://127.0.0.1:${h.port}`;
      assert.equal((await curl(['--cacert', ca.cert, `${base}/healthz`])).status, 200);
      assert.equal((await curl(['--cacert', ca.cert, `${base}/readyz`])).status, 200);
      const anon = await curl(['--cacert', ca.cert, `${base}/metrics`]);
      assert.equal(anon.status, 401);
      const ok = await curl(['--cacert', ca.cert, '-H', `authorization: Bearer ${token}`, `${base}/metrics`]);
      assert.equal(ok.status, 200);
      assert.match(ok.body, /# HELP/);
    } finally {
      await h.close();
    }
  });
});

test('an audit log reopened after a crash continues the chain past a torn line', async () => {
  const dir = tempDir('ghosteam-audit-');
  const file = join(dir, 'audit.jsonl');
  let a = await openAuditLog(file, { log: () => undefined });
  await a.record({ who: 'alice', via: 'jwt', what: 'promote', target: 'ml/fraud', outcome: 'success', detail: { version: 3 } });
  await a.close();
  writeFileSync(file, readFileSync(file, 'utf8') + '{"when":"torn');
  a = await openAuditLog(file, { log: () => undefined });
  await a.record({ who: 'bob', via: 'jwt', what: 'rollback', target: 'ml/fraud', outcome: 'success' });
  await a.close();
  const text = readFileSync(file, 'utf8');
  assert.equal(text.trim().split('\n').length, 2);
  assert.equal(verifyAuditChain(text), undefined);
});

describe('TLS on the feature server', () => {
  const dir = tempDir('ghosteam-tls-features-');
  const ca = makeCa(dir);
  const leaf1 = makeLeaf(dir, ca, 'server1');
  const leaf2 = makeLeaf(dir, ca, 'server2');
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  copyFileSync(leaf1.cert, cert);
  copyFileSync(leaf1.key, key);
  const view: FeatureViewSpec = {
    entities: [{ name: 'driver', joinKeys: [{ name: 'driver_id', type: 'int64' }] }],
    source: { kind: 'file', uri: 'd.parquet', format: 'parquet', timestampField: 'ts' },
    ttlSeconds: 3600,
    features: [{ name: 'conv_rate', type: 'float64' }],
    online: true,
  };
  const now = Date.parse('2026-11-01T10:00:00Z');
  const conv = 0.25 + randomBytes(1)[0] / 1024; // a value this run wrote, not a constant the server could answer anyway
  let writer: SqliteOnlineStore;
  let store: SqliteOnlineStore;
  let s: FeatureServer;
  const logs: string[] = [];
  const origWrite = process.stderr.write.bind(process.stderr);
  before(async () => {
    const path = join(dir, 'online.db');
    writer = SqliteOnlineStore.open({ path });
    const data = datasetFromColumns({
      driver_id: { type: 'numeric', cells: [7] },
      ts: { type: 'string', cells: [new Date(now - 60_000).toISOString()] },
      conv_rate: { type: 'numeric', cells: [conv] },
    });
    await materializeView(writer, 'driver_stats', prepareView('driver_stats', view, data), { end: now, chunkMs: 3_600_000 });
    store = SqliteOnlineStore.open({ path, readOnly: true });
    process.stderr.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
      logs.push(String(chunk));
      return (origWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    };
    s = await startFeatureServer({
      store,
      services: [
        {
          name: 'driver-features',
          spec: { features: [{ featureView: 'driver_stats', features: ['conv_rate'] }], onMissing: 'nan' },
          views: new Map([['driver_stats', view]]),
        },
      ],
      now: () => now,
      token,
      tls: { cert, key, reloadIntervalMs: 100 },
    });
  });
  after(async () => {
    process.stderr.write = origWrite;
    await s?.close();
    await store?.close();
    await writer?.close();
  });

  test('HTTPS with the chain verified by curl; the token still required; plain HTTP gets no answer', async () => {
    assert.match(s.url, /^https:\/\//);
    const health = await curl(['--cacert', ca.cert, `${s.url}/healthz`]);
    assert.equal(health.status, 200, health.body);
    const anon = await curl(['--cacert', ca.cert, `${s.url}/v1/features?service=driver-features&driver_id=7`]);
    assert.equal(anon.status, 401);
    const ok = await curl(['--cacert', ca.cert, '-H', `authorization: Bearer ${token}`, `${s.url}/v1/features?service=driver-features&driver_id=7`]);
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body).rows, [{ values: [conv], status: ['present'] }]);
    const plain = await curl([`${s.url.replace('https://', 'http://')}/healthz`]);
    assert.notEqual(plain.status, 200, 'plain HTTP must not be answered on the TLS port');
  });

  test('a new certificate is served without a restart', async () => {
    const port = Number(new URL(s.url).port);
    assert.equal(await servedSerial(port, ca.cert), serialOf(leaf1.cert));
    copyFileSync(leaf2.key, key);
    copyFileSync(leaf2.cert, cert);
    const deadline = Date.now() + 5000;
    while ((await servedSerial(port, ca.cert)) !== serialOf(leaf2.cert)) {
      assert.ok(Date.now() < deadline, 'the new certificate was not served within 5 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(
      logs.some((l) => /ghosteam features serve: .*reloaded/.test(l)),
      logs.join(''),
    );
  });
});
