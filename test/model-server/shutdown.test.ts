// Graceful shutdown (issue #25): on close()/SIGTERM every request a client has sent is answered,
// keep-alive connections get `Connection: close` on their last answer; and a SIGTERM sent to
// `npx ghosteam serve` reaches the server (real process trees, real npm).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { startModelServer } from '../../components/model-server/index.ts';
import { tempDir, writeFraudModel, rows, inferBody, watchServe } from './fixtures.ts';

const root = join(import.meta.dirname, '../..');
const bin = join(root, 'bin/ghosteam.mjs');

interface Looped {
  statuses: number[];
  errors: string[];
  lastConnection?: string;
}

/** One keep-alive client: POSTs one request after another until an answer says `Connection: close` (or fails). */
async function loop(url: string, body: string, agent: Agent, answered: () => void): Promise<Looped> {
  const out: Looped = { statuses: [], errors: [] };
  for (;;) {
    const r = await new Promise<{ status: number; connection?: string } | { error: string }>((resolve) => {
      const req = request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
          res.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
        },
      );
      req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
      req.end(body);
    });
    if ('error' in r) {
      out.errors.push(r.error);
      return out;
    }
    out.statuses.push(r.status);
    if (out.statuses.length === 1) answered();
    out.lastConnection = r.connection;
    if (r.connection === 'close') return out;
  }
}

function checkLoops(results: Looped[]): void {
  const errors = results.flatMap((r) => r.errors);
  assert.deepEqual(errors, [], `${errors.length} of ${results.length} clients lost a request`);
  for (const r of results) {
    assert.ok(r.statuses.length > 0);
    assert.deepEqual([...new Set(r.statuses)], [200]);
    assert.equal(r.lastConnection, 'close', 'the last answer on each connection says Connection: close');
  }
}

/** Every descendant pid of `pid` (from /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}
/** 32 keep-alive clients looping on `url`; resolves `connected` once each has had an answer (its connection is up). */
function clients(url: string, body: string, agent: Agent): { connected: Promise<void>; done: Promise<Looped[]> } {
  let n = 0;
  let ready!: () => void;
  const connected = new Promise<void>((r) => (ready = r));
  const done = Promise.all(
    Array.from({ length: 32 }, () =>
      loop(url, body, agent, () => {
        if (++n === 32) ready();
      }),
    ),
  );
  return { connected, done };
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('graceful shutdown', () => {
  const dir = tempDir();
  const m = writeFraudModel(dir, 2);
  const body = inferBody(rows(1, 3));

  test('close() with 32 keep-alive clients mid-request: every request answered, each last answer says Connection: close', async () => {
    // The batcher's 150 ms queue delay keeps requests in flight when close() starts.
    const s = await startModelServer({
      port: 0,
      processMetrics: false,
      batching: { maxBatchSize: 64, maxQueueDelayMs: 150 },
      models: [{ name: 'fraud', path: m.path }],
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    try {
      const c = clients(`${s.url}/v2/models/fraud/infer`, body, agent);
      await c.connected;
      await new Promise((r) => setTimeout(r, 50)); // the next requests are in the batcher's queue
      await s.close();
      checkLoops(await c.done);
    } finally {
      agent.destroy();
    }
  });

  test('SIGTERM to `ghosteam serve`: 32 in-flight keep-alive clients all answered, then exit 0', async () => {
    const child = spawn(process.execPath, [bin, 'serve', '--model', `fraud=${m.path}`, '--port', '0', '--max-queue-delay-ms', '150']);
    const served = watchServe(child);
    const url = await served.url;
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    try {
      const c = clients(`${url}/v2/models/fraud/infer`, body, agent);
      await c.connected;
      await new Promise((r) => setTimeout(r, 50));
      const exit = new Promise<number | null>((r) => child.on('exit', r));
      child.kill('SIGTERM');
      checkLoops(await c.done);
      assert.equal(await exit, 0);
      assert.match(served.output(), /SIGTERM: draining in-flight requests/);
    } finally {
      agent.destroy();
      child.kill('SIGKILL');
    }
  });

  test('SIGTERM to `npx ghosteam serve` (npm → sh → node) stops the server; no process is left', async () => {
    // A project that depends on ghosteam, as a user's would (linked, not copied), run through the real npm.
    const proj = tempDir('ghosteam-npx-');
    writeFileSync(
      join(proj, 'package.json'),
      JSON.stringify({ name: 'npx-user', version: '1.0.0', private: true, dependencies: { ghosteam: `file:${root}` } }),
    );
    mkdirSync(join(proj, 'node_modules/.bin'), { recursive: true });
    symlinkSync(root, join(proj, 'node_modules/ghosteam'));
    symlinkSync('../ghosteam/bin/ghosteam.mjs', join(proj, 'node_modules/.bin/ghosteam'));
    let tree: number[] = [];
    const npm = spawn('npm', ['exec', '--offline', '--', 'ghosteam', 'serve', '--model', `fraud=${m.path}`, '--port', '0'], {
      cwd: proj,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    try {
      const served = watchServe(npm);
      await served.url;
      tree = descendants(npm.pid!);
      const server = tree.find((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('serve');
        } catch {
          return false;
        }
      });
      assert.ok(server !== undefined && tree.length >= 1, `the server process under npm: ${tree.join(', ')}`);
      npm.kill('SIGTERM');
      const deadline = Date.now() + 15_000;
      while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(tree.filter(alive), [], `left running after npm got SIGTERM: ${tree.filter(alive).join(', ')}`);
      assert.match(served.output(), /SIGTERM: draining in-flight requests/);
    } finally {
      npm.kill('SIGKILL');
      for (const p of tree) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  });
});

describe('ghosteam serve beyond loopback', () => {
  test('without a token it refuses, naming the fixes', () => {
    const r = spawnSync(process.execPath, [bin, 'serve', '--model', 'x.onnx', '--host', '0.0.0.0'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      'error: --host 0.0.0.0 without a token: anyone who can reach this address could use the server. Pass --token-env NAME (a variable holding the token) or --auth-issuer/--auth-audience (OIDC tokens), bind 127.0.0.1, or pass --unauthenticated to serve without a token on purpose',
    );
  });
  test('--unauthenticated (and --admin) serves only after a loud warning', () => {
    // The model path does not exist, so nothing is bound: the warning comes before loading.
    const r = spawnSync(process.execPath, [bin, 'serve', '--model', '/nonexistent/x.onnx', '--host', '0.0.0.0', '--unauthenticated', '--admin'], {
      encoding: 'utf8',
    });
    assert.equal(
      r.stderr.split('\n')[0],
      'WARNING: the model server listens on 0.0.0.0 with NO token: anyone who can reach this address can use it; its /admin API loads any file this process can read and changes traffic for anyone who asks. Set a token (--token-env NAME) or bind 127.0.0.1.',
    );
    assert.match(r.stderr, /error: .*\/nonexistent\/x\.onnx/);
  });
  test('the image binds 0.0.0.0 only with a token or the explicit flag from its runtime', () => {
    const dockerfile = readFileSync(join(root, 'images/model-server/Dockerfile'), 'utf8');
    const entry = /^ENTRYPOINT (.*)$/m.exec(dockerfile)![1];
    assert.ok(!/--unauthenticated/.test(entry), 'the image itself does not opt out of the token');
    assert.match(entry, /"--host", "0\.0\.0\.0"/);
  });
});
