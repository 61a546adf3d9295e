// The open-loop generator bench:serve uses for its fixed-rate figures, against a real HTTP server on
// loopback: every request is sent and answered, and `authorizations` rotate as the (f) phase of
// bench:serve relies on (static token against JWT verification).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { openLoop, postBytes } from '../../bench/open-loop.ts';

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
