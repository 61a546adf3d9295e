// The open-loop generator bench:serve uses for its fixed-rate figures, against a real HTTP server on
// loopback: every request is sent and answered, and `authorizations` rotate as the (f) phase of
// bench:serve relies on (static token against JWT verification).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { closedLoop } from '../../bench/closed-loop.ts';
import { atRateProblem, declaredBodyLength, FramingError, openLoop, postBytes } from '../../bench/open-loop.ts';

test('postBytes carries the Authorization header only when given', () => {
  const plain = postBytes('http://127.0.0.1:1/x', '{}').toString('latin1');
  assert.doesNotMatch(plain, /authorization/i);
  const auth = postBytes('http://127.0.0.1:1/x?y=1', '{}', 'Bearer abc').toString('latin1');
  assert.match(
    auth,
    /^POST \/x\?y=1 HTTP\/1\.1\r\nhost: 127\.0\.0\.1:1\r\nauthorization: Bearer abc\r\ncontent-type: application\/json\r\ncontent-length: 2\r\n\r\n\{\}$/,
  );
});

test('openLoop rotates the given Authorization values over its requests', async () => {
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const a = req.headers.authorization ?? '(none)';
    seen.set(a, (seen.get(a) ?? 0) + 1);
    req.resume();
    req.on('end', () => res.writeHead(a === '(none)' ? 401 : 200, { 'content-length': '2' }).end('{}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v2/models/m/infer`;
    const r = await openLoop({
      url,
      body: '{}',
      rate: 200,
      connections: 4,
      seconds: 0.5,
      warmupSeconds: 0.1,
      authorizations: ['Bearer a', 'Bearer b', 'Bearer c'],
    });
    assert.equal(r.errors, 0);
    assert.equal(r.non2xx, 0);
    assert.deepEqual([...seen.keys()].sort(), ['Bearer a', 'Bearer b', 'Bearer c']);
    // An even rotation: each value within one request of the others.
    const counts = [...seen.values()];
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, JSON.stringify(Object.fromEntries(seen)));
  } finally {
    server.close();
  }
});

test('atRateProblem: a figure counts as "at the rate" only when the rate was reached and the generator was on time', () => {
  assert.equal(atRateProblem({ rate: 5000, rps: 4990, sendLagP99: 0.6 }), null);
  assert.equal(atRateProblem({ rate: 5000, rps: 4850, sendLagP99: 2 }), null);
  assert.equal(atRateProblem({ rate: 5000, rps: 3100, sendLagP99: 0.5 }), '3100 req/s achieved, under 97% of 5000');
  assert.equal(atRateProblem({ rate: 5000, rps: 5000, sendLagP99: 7.5 }), 'the load generator sent late (lag p99 7.5 ms > 2 ms)');
  assert.match(atRateProblem({ rate: 5000, rps: 100, sendLagP99: 40 })!, /^100 req\/s achieved.*, the load generator sent late/);
});

test('a server slower than the schedule: the open loop reports the rate it achieved, and atRateProblem refuses the figure', async () => {
  // One connection, 10 ms per answer: at most ~100 answers a second against 400 due.
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(200, { 'content-length': '2' }).end('{}'), 10));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/x`;
    const r = await openLoop({ url, body: '{}', rate: 400, connections: 1, seconds: 1, warmupSeconds: 0.1 });
    assert.ok(r.rps < 400 * 0.5, `achieved ${r.rps} req/s`);
    assert.match(atRateProblem({ rate: 400, rps: r.rps, sendLagP99: r.sendLagMs.p99 })!, /achieved, under 97% of 400/);
  } finally {
    server.close();
  }
});

test('declaredBodyLength: Content-Length framing only; bodiless statuses are 0; chunked or no length is undefined', () => {
  const head = (status: string, ...h: string[]) => [`HTTP/1.1 ${status}`, ...h].join('\r\n');
  assert.equal(declaredBodyLength(head('200 OK', 'content-type: application/json', 'Content-Length: 17')), 17);
  assert.equal(declaredBodyLength(head('200 OK', 'content-length:  3 ', 'x: y')), 3);
  assert.equal(declaredBodyLength(head('200 OK', 'transfer-encoding: chunked')), undefined);
  assert.equal(declaredBodyLength(head('200 OK', 'content-length: 3', 'transfer-encoding: chunked')), undefined);
  assert.equal(declaredBodyLength(head('200 OK', 'connection: close')), undefined);
  assert.equal(declaredBodyLength(head('200 OK', 'x-content-length: 5')), undefined);
  assert.equal(declaredBodyLength(head('204 No Content')), 0);
  assert.equal(declaredBodyLength(head('304 Not Modified')), 0);
  assert.equal(declaredBodyLength(head('100 Continue')), 0);
});

test('a chunked answer is refused with a FramingError naming the fix, not timed at its headers (open and closed loop)', async () => {
  // node:http sends chunked framing when the handler writes without a Content-Length.
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"a":');
      setTimeout(() => res.end('1}'), 5);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/features`;
    await assert.rejects(
      openLoop({ url, body: '{}', rate: 100, connections: 2, seconds: 0.3, warmupSeconds: 0.1 }),
      (e: unknown) => e instanceof FramingError && /without Content-Length.*transfer-encoding: chunked.*send Content-Length/i.test(e.message),
    );
    await assert.rejects(closedLoop({ url, body: '{}', connections: 2, seconds: 0.3, warmupSeconds: 0.1 }), FramingError);
  } finally {
    server.close();
  }
});

test('requests never answered count as errors and at least the time until the generator gave up, never as 0 ms', async () => {
  // A server that answers the first 20 requests, then holds every later one open.
  let n = 0;
  const held: import('node:http').ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => (++n <= 20 ? res.writeHead(200, { 'content-length': '2' }).end('{}') : held.push(res)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/x`;
    const r = await openLoop({ url, body: '{}', rate: 100, connections: 4, seconds: 1, warmupSeconds: 0.1, giveUpSeconds: 0.3 });
    assert.ok(r.errors >= 100 - 20 - 10, `errors ${r.errors}`);
    // Most measured requests were never answered: their latency is at least the 0.3 s grace, so even the median is.
    assert.ok(r.latencyMs.p50 >= 300, `p50 ${r.latencyMs.p50} ms`);
    assert.ok(r.latencyMs.max >= 1000, `max ${r.latencyMs.max} ms`);
    // Send lag and service time describe the answered requests only.
    assert.ok(r.serviceMs.p99 < 300, `service p99 ${r.serviceMs.p99} ms`);
  } finally {
    for (const res of held) res.destroy();
    server.close();
  }
});
