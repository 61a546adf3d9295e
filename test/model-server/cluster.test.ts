// `ghosteam serve --workers 2`: two server processes behind one port (components/model-server/cluster.ts),
// driven by real HTTP clients over fresh connections (node:cluster hands each connection to the next
// worker), so every check below would fail if a worker answered from its own state alone: the
// counters in /metrics, Triton's statistics and the admin stats, the models and canary split the
// admin API set, a worker killed with SIGKILL and replaced, and the drain on SIGTERM with the payload
// log holding every answered request exactly once. Pure parts (cgroup quota, merges) are table-tested.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { tempDir, writeFraudModel, rows, inferBody, watchServe } from './fixtures.ts';
import { cgroupCpus, mergeModelStats, workersFlag } from '../../components/model-server/cluster.ts';
import { mergeTritonStats } from '../../components/model-server/triton.ts';

const root = join(import.meta.dirname, '../..');
const bin = join(root, 'bin/ghosteam.mjs');

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request on a connection of its own (agent: false), so the cluster hands it to the next worker. */
function fresh(method: string, url: string, body?: string, agent: Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The direct children of `pid` (the cluster's workers). */
function children(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out.sort();
}

async function eventually<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const metric = (text: string, line: RegExp): number => Number(line.exec(text)?.[1] ?? NaN);

describe('ghosteam serve --workers 2', () => {
  const dir = tempDir('ghosteam-cluster-');
  const v1 = writeFraudModel(dir, 1);
  const v2 = writeFraudModel(dir, 2);
  const logFile = join(dir, 'payloads.jsonl');
  const body = inferBody(rows(1, 5));
  const child = spawn(process.execPath, [bin, 'serve', '--workers', '2', '--model', `fraud=${v1.path}`, '--port', '0', '--payload-log', logFile]);
  const served = watchServe(child);
  const exit = new Promise<number | null>((r) => child.on('exit', r));
  /** Inference requests answered 200, each of which the payload log must hold once. */
  let answered = 0;
  const infer = async (url: string, agent: Agent | false = false): Promise<Answer> => {
    const a = await fresh('POST', `${url}/v2/models/fraud/infer`, body, agent);
    if (a.status === 200) answered++;
    return a;
  };
  after(() => child.kill('SIGKILL'));

  test('starts two workers on one port', async () => {
    const url = await served.url;
    assert.match(served.output(), /2 server workers/);
    assert.equal(children(child.pid!).length, 2, served.output());
    assert.equal((await fresh('GET', `${url}/v2/health/ready`)).status, 200);
  });

  test('/metrics, Triton statistics and admin stats count the requests of both workers', async () => {
    const url = await served.url;
    for (let i = 0; i < 40; i++) assert.equal((await infer(url)).status, 200);
    // Each worker counted about half; a worker answering from its own counters alone would say ~20.
    const m = (await fresh('GET', `${url}/metrics`)).body;
    assert.equal(metric(m, /^ghosteam_model_requests_total\{model="fraud",version="1"\} (\d+)/m), 40, m);
    assert.equal(metric(m, /^ghosteam_model_request_duration_seconds_count\{model="fraud",version="1"\} (\d+)/m), 40);
    assert.equal(metric(m, /^ghosteam_server_inflight_requests (\d+)/m), 0);
    const t = JSON.parse((await fresh('GET', `${url}/v2/models/fraud/stats`)).body);
    assert.equal(t.model_stats.length, 1);
    assert.equal(t.model_stats[0].inference_stats.success.count, 40);
    assert.equal(t.model_stats[0].inference_count, 40);
    const s = JSON.parse((await fresh('GET', `${url}/admin/models/fraud/stats`)).body);
    assert.equal(s.versions['1'].requests, 40);
    assert.equal(s.versions['1'].latencyMs.window, 40);
  });

  test('a version loaded and a canary split set through one connection hold on every connection', async () => {
    const url = await served.url;
    const load = await fresh('POST', `${url}/admin/models`, JSON.stringify({ name: 'fraud', version: '2', path: v2.path }));
    assert.equal(load.status, 200, load.body);
    const split = await fresh('PUT', `${url}/admin/models/fraud/traffic`, JSON.stringify({ stable: '1', canary: '2', canaryPercent: 50 }));
    assert.equal(split.status, 200, split.body);
    const listings = new Set<string>();
    for (let i = 0; i < 8; i++) listings.add((await fresh('GET', `${url}/admin/models`)).body);
    assert.equal(listings.size, 1, `the workers list different models:\n${[...listings].join('\n')}`);
    const listed = JSON.parse([...listings][0]).models[0];
    assert.deepEqual(
      listed.versions.map((v: { version: string }) => v.version),
      ['1', '2'],
    );
    assert.deepEqual(listed.traffic, { stable: '1', canary: '2', canaryPercent: 50, shadow: false });
    const versions = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const a = await infer(url);
      assert.equal(a.status, 200);
      const v = String(a.headers['x-ghosteam-version']);
      versions.set(v, (versions.get(v) ?? 0) + 1);
    }
    assert.ok((versions.get('1') ?? 0) > 5 && (versions.get('2') ?? 0) > 5, `both versions answer: ${JSON.stringify([...versions])}`);
    // An invalid change is refused by every worker alike, and changes nothing.
    const bad = await fresh('PUT', `${url}/admin/models/fraud/traffic`, JSON.stringify({ stable: '1', canary: '9', canaryPercent: 10 }));
    assert.equal(bad.status, 400, bad.body);
    assert.match(JSON.parse(bad.body).error, /9/);
  });

  test('a worker killed with SIGKILL is replaced, and the replacement serves what the admin API set', async () => {
    const url = await served.url;
    // The payload log is flushed every 100 ms; a worker killed with SIGKILL loses what it had not
    // flushed, so wait until the log holds every answer so far.
    await eventually('the payload log flushed', () => {
      const n = readFileSync(logFile, 'utf8').split('\n').length - 1;
      return n === answered ? n : undefined;
    });
    const before = children(child.pid!);
    process.kill(before[0], 'SIGKILL');
    const after = await eventually('a replacement worker', () => {
      const now = children(child.pid!);
      return now.length === 2 && !now.includes(before[0]) ? now : undefined;
    });
    const replacement = after.find((p) => !before.includes(p))!;
    await eventually('the replacement serving', () => (served.output().includes(`server worker ${replacement} is serving`) ? true : undefined));
    // It replayed the changes before it listened: every connection lists the same.
    const listings = new Set<string>();
    for (let i = 0; i < 8; i++) listings.add(JSON.stringify(JSON.parse((await fresh('GET', `${url}/admin/models`)).body).models));
    assert.equal(listings.size, 1, [...listings].join('\n'));
    const listed = JSON.parse([...listings][0])[0];
    assert.deepEqual(listed.traffic, { stable: '1', canary: '2', canaryPercent: 50, shadow: false });
    for (let i = 0; i < 10; i++) assert.equal((await infer(url)).status, 200);
    assert.match(served.output(), /server worker \d+ exited \(SIGKILL\); starting another/);
  });

  test('SIGTERM drains both workers: in-flight keep-alive clients answered, exit 0, every answer in the payload log once', async () => {
    const url = await served.url;
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    let stop = false;
    const errors: string[] = [];
    const loops = Array.from({ length: 16 }, async () => {
      while (!stop) {
        try {
          const a = await infer(url, agent);
          if (a.status !== 200) errors.push(`status ${a.status}`);
          if (a.headers.connection === 'close') return;
        } catch (e) {
          errors.push((e as Error).message);
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGTERM');
    setTimeout(() => (stop = true), 15_000).unref();
    await Promise.all(loops);
    agent.destroy();
    assert.equal(await exit, 0, served.output());
    assert.deepEqual(errors, []);
    const lines = readFileSync(logFile, 'utf8').split('\n');
    assert.equal(lines.pop(), '', 'the log ends with a whole line');
    const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
    assert.equal(new Set(ids).size, ids.length, 'no record twice');
    assert.equal(ids.length, answered, 'every answered request is in the payload log');
  });
});

describe('cluster pure parts', () => {
  test('cgroupCpus reads cgroup v2 cpu.max and v1 quota/period', () => {
    const cases: Array<[string | undefined, string | undefined, string | undefined, number | undefined]> = [
      ['max 100000\n', undefined, undefined, undefined],
      ['200000 100000\n', undefined, undefined, 2],
      ['150000 100000', undefined, undefined, 1.5],
      ['50000', undefined, undefined, 0.5],
      [undefined, '-1\n', '100000\n', undefined],
      [undefined, '300000\n', '100000\n', 3],
      [undefined, undefined, undefined, undefined],
    ];
    for (const [v2, q, p, want] of cases) assert.equal(cgroupCpus(v2, q, p), want, JSON.stringify([v2, q, p]));
  });

  test('workersFlag: one process unless asked; auto is one per CPU; a count above 1 with OIDC/TLS/audit/feedback is refused with the fix', () => {
    const cpus = () => 6;
    const cases: Array<[string | undefined, boolean, number | RegExp]> = [
      [undefined, true, 1],
      [undefined, false, 1],
      ['1', false, 1],
      ['3', true, 3],
      ['auto', true, 6],
      ['auto', false, 1],
      ['3', false, /does not combine with --auth-issuer.*pass --workers 1/],
      ['0', true, /--workers expects an integer ≥ 1 or 'auto', got '0'/],
      ['two', true, /got 'two'/],
      ['', true, /got ''/],
    ];
    for (const [v, clusterable, want] of cases) {
      if (typeof want === 'number') assert.equal(workersFlag(v, { clusterable, cpus }), want, JSON.stringify([v, clusterable]));
      else assert.throws(() => workersFlag(v, { clusterable, cpus }), want, JSON.stringify([v, clusterable]));
    }
  });

  test('mergeModelStats adds counts and takes p50/p99 over every worker’s recent latencies', () => {
    const traffic = { stable: '1', canaryPercent: 0, shadow: false };
    const s = (requests: number, errors: number, byCode: Record<string, number>) => ({
      requests,
      errors,
      errorsByCode: byCode,
      errorRate: 0,
      latencyMs: { p50: 0, p99: 0, window: 0 },
    });
    const merged = mergeModelStats([
      { stats: { model: 'm', traffic, versions: { '1': s(10, 1, { '400': 1 }) } }, recent: { '1': [1, 2, 3] } },
      { stats: { model: 'm', traffic, versions: { '1': s(30, 2, { '400': 1, '500': 1 }), '2': s(5, 0, {}) } }, recent: { '1': [4, 100], '2': [7] } },
    ]);
    assert.deepEqual(merged.versions['1'], {
      requests: 40,
      errors: 3,
      errorsByCode: { '400': 2, '500': 1 },
      errorRate: 3 / 40,
      latencyMs: { p50: 3, p99: 100, window: 5 },
    });
    assert.deepEqual(merged.versions['2'].latencyMs, { p50: 7, p99: 7, window: 1 });
  });

  test('mergeTritonStats sums counts and ns per version, merges batch_stats by size, keeps the latest last_inference', () => {
    const d = (count: number, ns: number) => ({ count, ns });
    const one = (last: number, n: number, batches: Array<[number, number]>) => ({
      name: 'm',
      version: '1',
      last_inference: last,
      inference_count: n,
      execution_count: n,
      inference_stats: { success: d(n, n * 10), queue: d(n, 5) },
      batch_stats: batches.map(([b, c]) => ({ batch_size: b, compute_infer: d(c, c * 3) })),
      memory_usage: [],
    });
    const merged = mergeTritonStats([
      [one(100, 2, [[1, 2]])],
      [
        one(300, 3, [
          [1, 1],
          [4, 1],
        ]),
        { ...one(50, 1, []), version: '2' },
      ],
    ]);
    assert.deepEqual(merged[0], {
      name: 'm',
      version: '1',
      last_inference: 300,
      inference_count: 5,
      execution_count: 5,
      inference_stats: { success: d(5, 50), queue: d(5, 10) },
      batch_stats: [
        { batch_size: 1, compute_infer: d(3, 9) },
        { batch_size: 4, compute_infer: d(1, 3) },
      ],
      memory_usage: [],
    });
    assert.equal(merged[1].version, '2');
    assert.equal(merged.length, 2);
  });
});
