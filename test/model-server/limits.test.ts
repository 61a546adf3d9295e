// Every request bounded by its size and by limits the operator sets (issue #25): repeated output
// names, the response cap, slow senders, deadlines (408), oversized bodies (413 every client reads),
// the bearer scheme. Real server on loopback, real sockets; no mocks.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request, type IncomingMessage } from 'node:http';
import { startModelServer, type ModelServer } from '../../components/model-server/index.ts';
import { bearerCheck, exposureWarning } from '../../components/model-server/http.ts';
import { tempDir, writeFraudModel, writeIdentityModel, rows, inferBody, post } from './fixtures.ts';
import { startSlowClients } from './slow-clients.ts';

/** Sends `raw` on a fresh connection and reads until the server closes it (or `ms` pass). */
function rawExchange(url: string, raw: string | Buffer, ms = 5000): Promise<{ text: string; closed: boolean; error?: string }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    let text = '';
    let error: string | undefined;
    const sock: Socket = connect(Number(u.port), u.hostname);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ text, closed: false, error });
    }, ms);
    sock.on('data', (c) => (text += c.toString('latin1')));
    sock.on('error', (e) => (error = (e as NodeJS.ErrnoException).code ?? e.message));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, error });
    });
    sock.write(raw);
  });
}

function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}
function bodyOf(text: string): any {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

describe('model server: amplification and the response cap', () => {
  const dir = tempDir();
  const identity = writeIdentityModel(dir, 'FP32');
  const fraud = writeFraudModel(dir, 3);
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({
      port: 0,
      processMetrics: false,
      models: [
        { name: 'id', path: identity },
        { name: 'fraud', path: fraud.path },
      ],
    });
  });
  after(() => s.close());

  test('a 290 KB request naming one output 2,000 times is a 400 naming it, not a 2,000x answer', async () => {
    // The probe from the issue: before, this built a ~500 MB answer (500 Invalid string length, or an OOM).
    const n = 11_200;
    const data = Array.from({ length: n * 2 }, (_, i) => 1.25 + (i % 1000) / 1024);
    const body = JSON.stringify({
      inputs: [{ name: 'x', shape: [n, 2], datatype: 'FP32', data }],
      outputs: Array.from({ length: 2000 }, () => ({ name: 'y' })),
    });
    assert.ok(body.length > 280_000 && body.length < 300_000, `${body.length} bytes`);
    const r = await post(`${s.url}/v2/models/id/infer`, body);
    assert.deepEqual({ status: r.status, json: r.json }, { status: 400, json: { error: "outputs[1]: output 'y' is requested twice; name each output once" } });
  });

  test('an answer over maxResponseBytes is a 413 with the reason (JSON, binary and V1); under it is a 200', async () => {
    const small = await startModelServer({ port: 0, processMetrics: false, maxResponseBytes: 4096, models: [{ name: 'id', path: identity }] });
    try {
      const x = Array.from({ length: 600 }, (_, i) => i / 7);
      const infer = (extra: Record<string, unknown> = {}) =>
        post(`${small.url}/v2/models/id/infer`, JSON.stringify({ inputs: [{ name: 'x', shape: [300, 2], datatype: 'FP32', data: x }], ...extra }));
      const json = await infer();
      assert.equal(json.status, 413);
      assert.equal(json.headers.get('connection'), 'close');
      assert.match(
        json.json.error,
        /^the answer would be larger than the server's response limit of 4096 bytes \(output 'y' (alone does not fit|has 600 elements)\); ask for fewer rows or fewer outputs, or raise the limit \(--max-response-bytes\)$/,
      );
      // binary: 600 FP32 = 2400 bytes of blocks fits, 1,200 rows do not
      const bin = await post(
        `${small.url}/v2/models/id/infer`,
        JSON.stringify({
          inputs: [{ name: 'x', shape: [1200, 2], datatype: 'FP32', data: [...x, ...x, ...x, ...x] }],
          parameters: { binary_data_output: true },
        }),
      );
      assert.equal(bin.status, 413);
      assert.match(bin.json.error, /output 'y' has 2400 elements/);
      const v1 = await post(`${small.url}/v1/models/id:predict`, JSON.stringify({ instances: Array.from({ length: 300 }, (_, i) => [i / 7, i / 3]) }));
      assert.equal(v1.status, 413);
      assert.match(v1.json.error, /^the answer would be larger than the server's response limit of 4096 bytes/);
      const ok = await post(
        `${small.url}/v2/models/id/infer`,
        JSON.stringify({ inputs: [{ name: 'x', shape: [10, 2], datatype: 'FP32', data: x.slice(0, 20) }] }),
      );
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.json.outputs[0].data, x.slice(0, 20).map(Math.fround));
      // the server is fine afterwards
      assert.equal((await post(`${small.url}/v1/models/id:predict`, JSON.stringify({ instances: [[1, 2]] }))).status, 200);
    } finally {
      await small.close();
    }
  });
});

describe('model server: slow clients hold no capacity', () => {
  const dir = tempDir();
  const m = writeFraudModel(dir, 4);

  test('200 connections dribbling their bodies do not make normal requests 429', async () => {
    // Before, each dribbling request held a maxInflight slot until the request timeout: with 64 slots
    // every normal request was a 429.
    // requestTimeoutMs past the test's length: the slow clients stay connected throughout, even on a loaded machine.
    const s = await startModelServer({ port: 0, processMetrics: false, maxInflight: 64, requestTimeoutMs: 300_000, models: [{ name: 'fraud', path: m.path }] });
    const slow = await startSlowClients({ url: `${s.url}/v2/models/fraud/infer`, connections: 200, bodyBytes: 4000, bytePeriodMs: 50 });
    try {
      assert.equal(slow.open(), 200, 'every slow client is connected and sending');
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const batch = await Promise.all(Array.from({ length: 5 }, (_, j) => post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(1, i * 5 + j)))));
        for (const r of batch) statuses.push(r.status);
      }
      assert.deepEqual([...new Set(statuses)], [200], `normal requests got ${statuses.filter((x) => x !== 200).length} non-200s`);
      assert.equal(slow.open(), 200, 'the slow clients were still sending throughout');
    } finally {
      slow.stop();
      await s.close();
    }
  });

  test('one connection holds at most maxInflightPerConnection requests; others still get in', async () => {
    const s = await startModelServer({
      port: 0,
      processMetrics: false,
      maxInflightPerConnection: 2,
      batching: { maxBatchSize: 64, maxQueueDelayMs: 300 },
      models: [{ name: 'fraud', path: m.path }],
    });
    try {
      const body = inferBody(rows(1, 1));
      const one = `POST /v2/models/fraud/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const pipelined = rawExchange(s.url, one.repeat(5), 3000);
      await new Promise((r) => setTimeout(r, 100));
      const other = await post(`${s.url}/v2/models/fraud/infer`, body);
      assert.equal(other.status, 200, 'another connection is admitted');
      const { text } = await pipelined;
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((x) => Number(x[1]));
      assert.deepEqual(statuses, [200, 200, 429, 429, 429]);
      assert.match(text, /too many requests in flight on this connection \(limit 2\); wait for answers before sending more, or open another connection/);
    } finally {
      await s.close();
    }
  });
});

describe('model server: deadlines answer 408', () => {
  const dir = tempDir();
  const m = writeFraudModel(dir, 6);
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({ port: 0, processMetrics: false, headersTimeoutMs: 300, requestTimeoutMs: 600, models: [{ name: 'fraud', path: m.path }] });
  });
  after(() => s.close());

  test('headers that never finish: 408 and the connection closes', async () => {
    const r = await rawExchange(s.url, 'POST /v2/models/fraud/infer HTTP/1.1\r\nhost: x\r\n');
    assert.equal(statusOf(r.text), 408, r.text);
    assert.equal(r.closed, true);
    assert.match(r.text, /\r\nconnection: close\r\n/i);
    assert.deepEqual(bodyOf(r.text), { error: 'the request did not arrive in time (headers within 300 ms, the whole request within 600 ms)' });
  });

  test('a body that never finishes: 408 and the connection closes', async () => {
    const r = await rawExchange(
      s.url,
      'POST /v2/models/fraud/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"inputs":',
    );
    assert.equal(statusOf(r.text), 408, r.text);
    assert.equal(r.closed, true);
    assert.deepEqual(bodyOf(r.text), { error: 'the request did not arrive in time (headers within 300 ms, the whole request within 600 ms)' });
  });

  test('headersTimeoutMs longer than requestTimeoutMs is refused with both values', async () => {
    await assert.rejects(startModelServer({ port: 0, headersTimeoutMs: 2000, requestTimeoutMs: 1000 }), {
      message: 'headersTimeoutMs (2000) is longer than requestTimeoutMs (1000), which includes the headers; lower it or raise requestTimeoutMs',
    });
  });
});

describe('model server: an oversized body gets a 413 the client reads', () => {
  const dir = tempDir();
  const m = writeFraudModel(dir, 7);
  let s: ModelServer;
  before(async () => {
    s = await startModelServer({ port: 0, processMetrics: false, maxBodyBytes: 100_000, drainBodyBytes: 4_000_000, models: [{ name: 'fraud', path: m.path }] });
  });
  after(() => s.close());

  test('a client that writes the whole body before reading reads the 413 (Connection: close), with and without Content-Length', async () => {
    const big = Buffer.alloc(3_000_000, 0x20);
    for (const framing of ['length', 'chunked'] as const) {
      const head =
        framing === 'length'
          ? `POST /v2/models/fraud/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${big.length}\r\n\r\n`
          : 'POST /v2/models/fraud/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n';
      const payload =
        framing === 'length'
          ? Buffer.concat([Buffer.from(head), big])
          : Buffer.concat([Buffer.from(head), Buffer.from(`${big.length.toString(16)}\r\n`), big, Buffer.from('\r\n0\r\n\r\n')]);
      const r = await rawExchange(s.url, payload);
      assert.equal(r.error, undefined, `${framing}: ${r.error}`);
      assert.equal(statusOf(r.text), 413, `${framing}: ${r.text.slice(0, 200)}`);
      assert.match(r.text, /\r\nconnection: close\r\n/i);
      assert.equal(r.closed, true);
      assert.match(
        bodyOf(r.text).error,
        framing === 'length' ? /^request body is 3000000 bytes; the limit is 100000$/ : /^request body exceeds the limit of 100000 bytes$/,
      );
    }
  });

  test('past the drain bound the 413 goes out at once and the connection closes', async () => {
    const r = await new Promise<{ status: number; connection?: string }>((resolve, reject) => {
      const req = request(
        `${s.url}/v2/models/fraud/infer`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(50_000_000) } },
        (res: IncomingMessage) => {
          res.resume();
          resolve({ status: res.statusCode!, connection: res.headers.connection });
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(1000));
    });
    assert.deepEqual(r, { status: 413, connection: 'close' });
  });
});

describe('bearer scheme and exposure warnings', () => {
  const fake = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as IncomingMessage;
  test('the scheme is case-insensitive (RFC 7235); the token is exact', () => {
    const ok = bearerCheck('secret-token');
    const table: Array<[string | undefined, boolean]> = [
      ['Bearer secret-token', true],
      ['bearer secret-token', true],
      ['BEARER secret-token', true],
      ['Bearer  secret-token ', true],
      ['Bearer secret-Token', false],
      ['Basic secret-token', false],
      ['secret-token', false],
      ['Bearersecret-token', false],
      [undefined, false],
      ['Bearer ', false],
    ];
    for (const [h, want] of table) assert.equal(ok(fake(h)), want, String(h));
  });
  test('a lowercase scheme is accepted by the server', async () => {
    const dir = tempDir();
    const s = await startModelServer({
      port: 0,
      processMetrics: false,
      token: 'secret-token',
      models: [{ name: 'fraud', path: writeFraudModel(dir, 1).path }],
    });
    try {
      assert.equal((await post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(1, 1)), { authorization: 'bearer secret-token' })).status, 200);
      assert.equal((await post(`${s.url}/v2/models/fraud/infer`, inferBody(rows(1, 1)), { authorization: 'bearer wrong-token' })).status, 401);
    } finally {
      await s.close();
    }
  });
  test('exposureWarning: only beyond loopback without a token', () => {
    assert.equal(exposureWarning('the model server', '127.0.0.1', undefined), undefined);
    assert.equal(exposureWarning('the model server', '0.0.0.0', 'a-token-123'), undefined);
    assert.equal(
      exposureWarning('the model server', '0.0.0.0', undefined),
      'WARNING: the model server listens on 0.0.0.0 with NO token: anyone who can reach this address can use it. Set a token (--token-env NAME) or bind 127.0.0.1.',
    );
    assert.match(exposureWarning('the model server', '::', undefined, true)!, /its \/admin API loads any file this process can read/);
  });
});
