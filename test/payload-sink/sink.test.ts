// The payload sink end to end: the real model server posting CloudEvents batches, and KServe
// logger-shaped binary events, through the real sink (node:http) into the file the drift library
// and a DriftMonitor check read. KServe's logger itself is Go inside the KServe agent and can't run
// here, so its events are sent with the headers and bodies of kserve pkg/logger/worker.go.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startPayloadSink, KSERVE_REQUEST, KSERVE_RESPONSE } from '../../components/payload-sink/index.ts';
import { startModelServer } from '../../components/model-server/index.ts';
import { buildReferenceSummary, detectDriftFromPayloadLog, readPayloadLog } from '../../components/drift/index.ts';
import { payloadDriftChecker } from '../../controllers/backends/drift-check.ts';
import type { DriftMonitorObject } from '../../controllers/reconcilers/drift-monitor.ts';
import { tempDir, writeFraudModel, rows, inferBody, post } from '../model-server/fixtures.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tempDir('ghosteam-sink-');
  dirs.push(d);
  return d;
};

function kserveEvent(url: string, type: string, id: string, body: unknown, time: string, isvc = 'fraud') {
  return fetch(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': 'http://localhost:9081/',
      'ce-type': type,
      'ce-time': time,
      'ce-inferenceservicename': isvc,
      'ce-namespace': 'ml',
      'ce-component': 'predictor',
      'ce-endpoint': `${isvc}-predictor-default`,
      'ce-metadata': '{}',
    },
  });
}

describe('ghosteam model server → sink → payload log → drift', () => {
  test('every served row arrives with its features and prediction, and drift detection sees them', async () => {
    const d = dir();
    const file = join(d, 'payloads', 'payloads.jsonl');
    const sink = await startPayloadSink({ port: 0, file, flushIntervalMs: 10 });
    const m = writeFraudModel(d, 9);
    const server = await startModelServer({
      port: 0,
      processMetrics: false,
      models: [{ name: 'fraud', path: m.path }],
      payloadLog: { sinkUrl: `${sink.url}/`, flushIntervalMs: 10 },
    });
    const sent = [rows(2, 1), rows(3, 2), rows(1, 3)];
    for (const x of sent) assert.equal((await post(`${server.url}/v2/models/fraud/infer`, inferBody(x))).status, 200);
    await server.close(); // posts what's buffered
    await sink.close(); // flushes the file
    const features = m.net.featureNames;
    const batches = [];
    for await (const b of readPayloadLog(file, { features, outputTensor: 'probability', outputNames: ['p'], model: 'fraud', version: '1' })) batches.push(b);
    assert.deepEqual(
      batches.map((b) => b.rows),
      [2, 3, 1],
    );
    batches.forEach((b, i) => {
      for (let r = 0; r < b.rows; r++) for (let c = 0; c < 16; c++) assert.equal(b.data[r * 17 + c], sent[i][r][c]);
    });
    const reference = buildReferenceSummary(
      features.map((name, j) => ({ name, type: 'numeric', values: Float64Array.from(rows(200, 5).map((r) => r[j])) })) as never,
    );
    const report = await detectDriftFromPayloadLog(file, reference, { features, model: 'fraud' });
    assert.equal(report.records, 3);
    assert.equal(report.latest.rows.current, 6);
    assert.equal(sink.stats().written, 3);
    assert.equal(sink.stats().accepted, 3);
  });
});

describe('KServe logger events → sink → DriftMonitor check', () => {
  test('paired V2 events in either order become rows the DriftMonitor check finds drifted', async () => {
    const d = dir();
    const file = join(d, 'payloads.jsonl');
    const sink = await startPayloadSink({ port: 0, file, flushIntervalMs: 10 });
    let seed = 11;
    const rnd = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const normal = (mean: number) => mean + Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    const ref = Array.from({ length: 1000 }, () => [normal(0), normal(5)]);
    writeFileSync(
      join(d, 'reference.json'),
      JSON.stringify(
        buildReferenceSummary([
          { name: 'amount', type: 'numeric', values: Float64Array.from(ref.map((x) => x[0])) },
          { name: 'age', type: 'numeric', values: Float64Array.from(ref.map((x) => x[1])) },
        ] as never),
      ),
    );
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 150; i++) {
      const batch = [
        [normal(2), normal(5)],
        [normal(2), normal(5)],
      ]; // amount shifted by 2 sd
      const req = { id: `r${i}`, inputs: [{ name: 'input', shape: [2, 2], datatype: 'FP32', data: batch }] };
      const res = {
        model_name: 'fraud',
        model_version: '4',
        id: `r${i}`,
        outputs: [{ name: 'probability', shape: [2, 1], datatype: 'FP32', data: [0.1, 0.2] }],
      };
      const time = new Date(t0 + i * 100).toISOString();
      const [a, b] =
        i % 2 === 0
          ? ([
              [KSERVE_REQUEST, req],
              [KSERVE_RESPONSE, res],
            ] as const)
          : ([
              [KSERVE_RESPONSE, res],
              [KSERVE_REQUEST, req],
            ] as const);
      assert.equal((await kserveEvent(`${sink.url}/`, a[0], `id-${i}`, a[1], time)).status, 200);
      assert.equal((await kserveEvent(`${sink.url}/`, b[0], `id-${i}`, b[1], time)).status, 200);
    }
    await sink.close();
    assert.deepEqual(
      { ...sink.stats(), pending: undefined },
      { accepted: 300, rejected: 0, refused: 0, written: 150, dropped: 0, pending: undefined, requestsAlone: 0, responsesDropped: 0, requestsDropped: 0 },
    );
    const first = JSON.parse(readFileSync(file, 'utf8').split('\n')[0]);
    assert.equal(first.model, 'fraud');
    assert.equal(first.version, '4');
    assert.equal(first.id, 'id-0');
    assert.equal(first.namespace, 'ml', 'the record keeps the InferenceService namespace (ce-namespace)');
    const check = payloadDriftChecker({ payloadLog: () => file });
    const monitor = {
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'DriftMonitor',
      metadata: { name: 'fraud-drift', namespace: 'ml' },
      spec: {
        model: 'fraud',
        reference: { uri: join(d, 'reference.json'), format: 'jsonl' },
        features: [
          { name: 'amount', type: 'numerical' },
          { name: 'age', type: 'numerical' },
        ],
        test: 'psi',
        thresholds: { driftShare: 0.5 },
        window: { seconds: 3600, minSamples: 100 },
        schedule: '0 * * * *',
      },
    } as unknown as DriftMonitorObject;
    const r = await check(monitor, { startMs: t0 - 1000, endMs: Date.now() });
    assert.equal(r.rows, 300);
    assert.equal(r.drifted, true);
    assert.deepEqual(
      r.features.map((f) => [f.feature, f.drifted]),
      [
        ['amount', true],
        ['age', false],
      ],
    );
    // A DriftMonitor of the same model name in another namespace reads none of ml's traffic.
    const elsewhere = { ...monitor, metadata: { name: 'fraud-drift', namespace: 'other' } } as DriftMonitorObject;
    const none = await check(elsewhere, { startMs: t0 - 1000, endMs: Date.now() }).then(
      (x) => x.rows,
      (e: Error) => e.message,
    );
    assert.equal(none, 0);
    // Unreadable lines (a torn record, garbage) are skipped and counted; the check uses the rest (#25).
    writeFileSync(file, readFileSync(file, 'utf8') + 'garbage\n{"ts":"2026', { flag: 'w' });
    const again = await check(monitor, { startMs: t0 - 1000, endMs: Date.now() });
    assert.deepEqual([again.rows, again.drifted, again.skippedLines], [300, true, 2]);
    assert.equal(r.skippedLines, undefined);
  });

  test('a request whose response never comes is written after the TTL, without outputs', async () => {
    const file = join(dir(), 'p.jsonl');
    const sink = await startPayloadSink({ port: 0, file, flushIntervalMs: 10, pairTtlMs: 100 });
    assert.equal((await kserveEvent(`${sink.url}/`, KSERVE_REQUEST, 'lone', { instances: [[1, 2]] }, '2026-11-23T07:00:00Z')).status, 200);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(sink.stats().pending, 0);
    assert.equal(sink.stats().requestsAlone, 1);
    const metrics = await (await fetch(`${sink.url}/metrics`)).text();
    assert.match(metrics, /ghosteam_payload_sink_unpaired_total\{outcome="request_written"\} 1/);
    await sink.close();
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      ts: '2026-11-23T07:00:00.000Z',
      model: 'fraud',
      version: '',
      id: 'lone',
      namespace: 'ml',
      inputs: { instances: { shape: [1, 2], datatype: 'FP64', data: [1, 2] } },
      outputs: {},
    });
  });
});

describe('HTTP surface', () => {
  test('health, errors with exact messages, token, limits; nothing is a 5xx', async () => {
    const file = join(dir(), 'p.jsonl');
    const sink = await startPayloadSink({ port: 0, file, token: 'secret-token', maxBodyBytes: 1000 });
    try {
      const call = async (path: string, init: RequestInit = {}) => {
        const res = await fetch(`${sink.url}${path}`, init);
        return { status: res.status, body: await res.json().catch(() => null), headers: res.headers };
      };
      const auth = { authorization: 'Bearer secret-token' };
      assert.deepEqual((await call('/healthz')).body, { ok: true });
      const noToken = await call('/', { method: 'POST', body: '{}' });
      assert.deepEqual(
        [noToken.status, noToken.body, noToken.headers.get('www-authenticate')],
        [401, { error: 'missing bearer token; send Authorization: Bearer <token>' }, 'Bearer'],
      );
      assert.deepEqual(await call('/', { method: 'POST', body: '{}', headers: { authorization: 'Bearer wrong' } }).then((r) => [r.status, r.body]), [
        401,
        { error: 'invalid bearer token' },
      ]);
      const cases: Array<[string, RequestInit, number, string]> = [
        [
          '/',
          { method: 'POST', body: '{}', headers: { ...auth, 'content-type': 'application/json' } },
          400,
          'missing header ce-specversion: send a CloudEvent (binary mode with ce-* headers, or content-type application/cloudevents+json)',
        ],
        [
          '/',
          {
            method: 'POST',
            body: '{"instances": 3}',
            headers: {
              ...auth,
              'content-type': 'application/json',
              'ce-specversion': '1.0',
              'ce-id': 'q',
              'ce-source': 's',
              'ce-type': KSERVE_REQUEST,
              'ce-inferenceservicename': 'fraud',
            },
          },
          400,
          "event q: 'instances' must be a non-empty array of rows",
        ],
        [
          '/',
          {
            method: 'POST',
            body: JSON.stringify([
              {
                specversion: '1.0',
                id: 'a',
                source: 's',
                type: 'io.ghosteam.inference.payload',
                data: { ts: '2026-01-01T00:00:00Z', model: 'm', version: '1', inputs: { x: { shape: [1], datatype: 'FP32', data: [1] } } },
              },
              { specversion: '1.0', id: 'b', source: 's', type: 'nope' },
            ]),
            headers: { ...auth, 'content-type': 'application/cloudevents-batch+json' },
          },
          400,
          "event 1 (b): type 'nope' is not supported; expected org.kubeflow.serving.inference.request, org.kubeflow.serving.inference.response or io.ghosteam.inference.payload",
        ], // a batch that doesn't parse is refused whole
        [
          '/',
          {
            method: 'POST',
            body: JSON.stringify([
              { specversion: '1.0', id: 'k1', source: 's', type: KSERVE_REQUEST, inferenceservicename: 'fraud', data: { instances: [[1]] } },
              { specversion: '1.0', id: 'k2', source: 's', type: KSERVE_REQUEST, inferenceservicename: 'fraud', data: { nothing: 1 } },
            ]),
            headers: { ...auth, 'content-type': 'application/cloudevents-batch+json' },
          },
          400,
          "event k2: the request body has neither 'inputs' (V2) nor 'instances' (V1) (the 1 events before it were accepted)",
        ],
        ['/', { method: 'POST', body: 'x'.repeat(1001), headers: auth }, 413, 'request body is 1001 bytes; the limit is 1000'],
        ['/', { method: 'GET', headers: auth }, 405, 'GET is not allowed on /; POST CloudEvents'],
        ['/events', { method: 'POST', body: '{}', headers: auth }, 404, 'no route /events; POST CloudEvents to /'],
      ];
      for (const [path, init, status, error] of cases)
        assert.deepEqual(await call(path, init).then((r) => [r.status, r.body]), [status, { error }], `${init.method} ${path}`);
      const good = {
        specversion: '1.0',
        id: 'g',
        source: 's',
        type: 'io.ghosteam.inference.payload',
        data: { ts: '2026-01-01T00:00:00Z', model: 'm', version: '1', inputs: { x: { shape: [1], datatype: 'FP32', data: [1] } } },
      };
      assert.deepEqual(
        await call('/', { method: 'POST', body: JSON.stringify(good), headers: { ...auth, 'content-type': 'application/cloudevents+json' } }).then((r) => [
          r.status,
          r.body,
        ]),
        [200, { accepted: 1 }],
      );
      const metrics = await (await fetch(`${sink.url}/metrics`, { headers: auth })).text();
      assert.match(metrics, /ghosteam_payload_sink_rejected_total\{code="400"\} 4/);
      assert.match(metrics, /ghosteam_payload_sink_events_total\{kind="record"\} 1/);
      assert.equal(sink.stats().accepted, 2);
    } finally {
      await sink.close();
    }
    // The good record, and k1 written alone at close (its response never came).
    assert.deepEqual(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id)
        .sort(),
      ['', 'k1'],
    );
    await assert.rejects(startPayloadSink({ file, token: 'short' }), { message: 'token must be at least 8 characters' });
  });
});

describe('ghosteam payload-sink (CLI)', () => {
  test('receives an event, writes DIR/payloads.jsonl, flushes on SIGTERM', async () => {
    const d = dir();
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/ghosteam.mjs'), 'payload-sink', '--port', '0', '--dir', d], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c) => {
        out += c;
        const m = /listening on (\S+),/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    assert.match(out, new RegExp(`writing ${join(d, 'payloads.jsonl').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    const rec = {
      ts: '2026-11-23T07:00:00.000Z',
      model: 'fraud',
      version: '1',
      id: 'x',
      inputs: { input: { shape: [1, 2], datatype: 'FP32', data: [1, 2] } },
      outputs: {},
    };
    const res = await fetch(`${url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({ specversion: '1.0', id: 'x', source: 's', type: 'io.ghosteam.inference.payload', data: rec }),
    });
    assert.deepEqual([res.status, await res.json()], [200, { accepted: 1 }]);
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(readFileSync(join(d, 'payloads.jsonl'), 'utf8')), rec);
  });
  test("bound beyond loopback without a token it warns on stderr first (KServe's logger sends none, so it still starts); with a token it does not", () => {
    // 192.0.2.1 (TEST-NET-1) is on no interface here: the bind fails right after the warning, so nothing listens.
    const bin = join(import.meta.dirname, '../../bin/ghosteam.mjs');
    const open = spawnSync(process.execPath, [bin, 'payload-sink', '--port', '0', '--dir', dir(), '--host', '192.0.2.1'], { encoding: 'utf8' });
    assert.equal(
      open.stderr.split('\n')[0],
      'WARNING: the payload sink listens on 192.0.2.1 with NO token: anyone who can reach this address can use it. Set a token (--token-env NAME) or bind 127.0.0.1.',
    );
    assert.match(open.stderr, /EADDRNOTAVAIL/);
    const closed = spawnSync(process.execPath, [bin, 'payload-sink', '--port', '0', '--dir', dir(), '--host', '192.0.2.1', '--token-env', 'SINK_T'], {
      encoding: 'utf8',
      env: { ...process.env, SINK_T: 'a-long-token' },
    });
    assert.doesNotMatch(closed.stderr, /NO token/);
    // still plain HTTP beyond loopback: said too (#23)
    assert.match(closed.stderr, /WARNING: the payload sink listens on 192\.0\.2\.1 over plain HTTP/);
    assert.match(closed.stderr, /EADDRNOTAVAIL/);
  });
});

describe('ghosteam operator --payload-sink-port', () => {
  test('hosts the sink, writing the --payload-log its DriftMonitors read', async () => {
    const d = dir();
    const file = join(d, 'payloads.jsonl');
    // The local operator checks at start that its model server answers: a real one, serving nothing yet.
    const server = await startModelServer({ port: 0, processMetrics: false, models: [] });
    after(() => server.close());
    const child = spawn(
      process.execPath,
      [
        join(import.meta.dirname, '../../bin/ghosteam.mjs'),
        'operator',
        '--local',
        '--model-server',
        server.url,
        '--state-dir',
        join(d, 'state'),
        '--registry-dir',
        join(d, 'registry'),
        '--payload-log',
        file,
        '--payload-sink-port',
        '0',
      ],
      { cwd: d, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const on = (c: Buffer) => {
        out += c;
        const m = /payload sink listening on (\S+),/.exec(out);
        if (m) resolve(m[1]);
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const time = '2026-11-23T07:00:00Z';
    assert.equal((await kserveEvent(`${url}/`, KSERVE_RESPONSE, 'op-1', { predictions: [0.5] }, time)).status, 200);
    assert.equal((await kserveEvent(`${url}/`, KSERVE_REQUEST, 'op-1', { instances: [[1, 2]] }, time)).status, 200);
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      ts: '2026-11-23T07:00:00.000Z',
      model: 'fraud',
      version: '',
      id: 'op-1',
      namespace: 'ml',
      inputs: { instances: { shape: [1, 2], datatype: 'FP64', data: [1, 2] } },
      outputs: { predictions: { shape: [1], datatype: 'FP64', data: [0.5] } },
    });
  });

  test('--payload-sink-port needs --payload-log', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/ghosteam.mjs'), 'operator', '--payload-sink-port', '8090'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), 'error: --payload-sink-port needs --payload-log <file> (the file the sink writes and DriftMonitors read)');
  });

  test('payload-sink --help', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/ghosteam.mjs'), 'payload-sink', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: ghosteam payload-sink/);
  });
});
