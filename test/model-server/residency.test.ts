// Models under a memory budget (ModelMesh-style residency): the LRU, single-flight, pinning and
// budget logic table-tested over fake hooks and a fixed RSS probe, then the same through a real
// server with real ONNX models (answers compared with the network's own forward pass, the
// repository index, /metrics). The RSS probe is pinned in the server tests so that which model is
// evicted does not depend on this process's other allocations; the bench (npm run bench:density)
// runs with the real probe.
import { test, describe } from 'node:test';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Residency, estimateModelBytes, parseByteSize, MEMORY_ESTIMATE, type ResidentHooks } from '../../components/model-server/residency.ts';
import { RequestError } from '../../components/model-server/tensors.ts';
import { startModelServer } from '../../components/model-server/index.ts';
import { loadOrtModel, readModelSignature } from '../../components/model-server/models.ts';
import { EVICTED_REASON } from '../../components/model-server/repository.ts';
import { denseNetForward, denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet } from '../../components/onnx/random.ts';
import { tempDir, writeFraudModel, rows, inferBody, post, get } from './fixtures.ts';
import { writeBf16Model, writeFp16Model, writeTwoInputModel } from './graphs.ts';
import { usePeers } from '../peers/index.ts';

const peers = await usePeers(['python']);

const OWN = 1000;

/** A residency whose models take `size` bytes each, with a log of what the hooks were asked. */
function world(budgetModels: number, size = 100) {
  const log: string[] = [];
  const r = new Residency(OWN + budgetModels * size, () => OWN);
  const hooks = (k: string, opts: { loadMs?: number; fail?: () => boolean } = {}): ResidentHooks => ({
    async load() {
      log.push(`load ${k}`);
      if (opts.loadMs) await new Promise((res) => setTimeout(res, opts.loadMs));
      if (opts.fail?.()) throw new Error(`cannot read ${k}`);
    },
    async evict() {
      log.push(`evict ${k}`);
    },
  });
  const admit = async (k: string, opts?: Parameters<typeof hooks>[1]): Promise<void> => r.admit(k, await r.reserve(k, size), hooks(k, opts));
  const use = async (k: string): Promise<boolean> => {
    const { release, cold } = await r.acquire(k);
    release();
    return cold;
  };
  return { r, log, admit, use, hooks };
}

describe('residency (pure)', () => {
  const cases: Array<{ name: string; slots: number; admit: string[]; use: string[]; evicted: string[]; order: string[] }> = [
    { name: 'fits: nothing evicted', slots: 3, admit: ['a', 'b', 'c'], use: ['a'], evicted: [], order: ['b', 'c', 'a'] },
    { name: 'the first admitted goes first', slots: 2, admit: ['a', 'b', 'c'], use: [], evicted: ['a'], order: ['b', 'c'] },
    { name: 'a use makes it the most recent', slots: 2, admit: ['a', 'b'], use: ['a'], evicted: [], order: ['b', 'a'] },
    { name: 'recency decides, not admission', slots: 2, admit: ['a', 'b'], use: ['a', 'c'], evicted: ['b'], order: ['a', 'c'] },
    { name: 'an evicted model comes back and pushes out the oldest', slots: 2, admit: ['a', 'b', 'c'], use: ['a'], evicted: ['a', 'b'], order: ['c', 'a'] },
    { name: 'one slot: every other use evicts', slots: 1, admit: ['a', 'b'], use: ['a', 'b', 'a'], evicted: ['a', 'b', 'a', 'b'], order: ['a'] },
  ];
  for (const c of cases) {
    test(`eviction order: ${c.name}`, async () => {
      const w = world(c.slots);
      // Admit registers every model; 'use' of one not admitted registers it through admit first.
      for (const k of c.admit) await w.admit(k);
      for (const k of c.use) {
        if (!w.r.has(k)) await w.admit(k);
        else await w.use(k);
      }
      assert.deepEqual(
        w.log.filter((l) => l.startsWith('evict')).map((l) => l.slice(6)),
        c.evicted,
      );
      assert.deepEqual(
        w.r.order().filter((k) => w.r.isResident(k)),
        c.order,
      );
      assert.ok(w.r.stats().usedBytes <= w.r.limit, 'never over the limit');
      assert.equal(w.r.stats().resident, c.order.length);
    });
  }

  test('a resident model is warm; an evicted one is loaded again (cold) and counted', async () => {
    const w = world(1);
    await w.admit('a');
    assert.equal(await w.use('a'), false);
    await w.admit('b');
    assert.equal(await w.use('a'), true);
    assert.deepEqual(w.log, ['evict a', 'evict b', 'load a']);
    assert.deepEqual({ loads: w.r.stats().loads, evictions: w.r.stats().evictions }, { loads: 3, evictions: 2 });
  });

  test('single flight: concurrent requests for an evicted model share one load', async () => {
    const w = world(1);
    w.r.admit('a', await w.r.reserve('a', 100), w.hooks('a', { loadMs: 30 }));
    await w.admit('b');
    const got = await Promise.all(Array.from({ length: 10 }, () => w.r.acquire('a')));
    assert.deepEqual(
      got.map((g) => g.cold),
      Array(10).fill(true),
    );
    assert.equal(w.log.filter((l) => l === 'load a').length, 1);
    for (const g of got) g.release();
    assert.equal(w.r.stats().resident, 1);
  });

  test('a failed load reaches every waiter, frees its reservation, and the next request tries again', async () => {
    const w = world(1);
    let fail = true;
    w.r.admit('a', await w.r.reserve('a', 100), w.hooks('a', { loadMs: 10, fail: () => fail }));
    await w.admit('b');
    const results = await Promise.allSettled([w.r.acquire('a'), w.r.acquire('a')]);
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok')),
      ['cannot read a', 'cannot read a'],
    );
    assert.equal(w.r.stats().usedBytes, 0, 'b was evicted for a, and a failed');
    fail = false;
    assert.equal(await w.use('a'), true);
    assert.equal(w.r.stats().usedBytes, 100);
  });

  test('in flight: a pinned model is never evicted; others go instead, or the load is refused (503)', async () => {
    const w = world(2);
    await w.admit('a');
    await w.admit('b');
    const pinA = await w.r.acquire('a'); // 'a' is the least recently used but in use
    await w.r.acquire('b').then((p) => p.release());
    const pinA2 = await w.r.acquire('a');
    pinA2.release();
    // Order now b, a; but pin 'b' too: nothing can go.
    const pinB = await w.r.acquire('b');
    await assert.rejects(
      w.admit('c'),
      (e: unknown) => e instanceof RequestError && e.status === 503 && /held by models in use by requests in flight; model 'c'/.test(e.message),
    );
    pinB.release();
    await w.admit('c'); // 'b' goes, 'a' (still pinned) stays
    assert.deepEqual(
      w.log.filter((l) => l.startsWith('evict')),
      ['evict b'],
    );
    assert.ok(w.r.isResident('a'));
    pinA.release();
  });

  test('a model larger than what the budget leaves is a clear error', async () => {
    const w = world(2);
    await assert.rejects(w.r.reserve('huge:1', 201), (e: unknown) => {
      assert.ok(e instanceof RequestError && e.status === 400);
      assert.match(
        e.message,
        /^model 'huge:1' needs about 0\.0 MiB \(its file × 2\.2 \+ 128 KiB\) but the memory budget of 0\.0 MiB leaves 0\.0 MiB for models/,
      );
      assert.match(e.message, /raise --memory-budget$/);
      return true;
    });
    await w.r.reserve('ok:1', 200);
  });

  test("the server's own share is measured after each load and only grows", async () => {
    let rss = OWN;
    const r = new Residency(OWN + 300, () => rss);
    const noop: ResidentHooks = { load: async () => undefined, evict: async () => undefined };
    r.admit('a', await r.reserve('a', 100), noop);
    assert.equal(r.limit, 300);
    rss = OWN + 100 + 150; // a took 250, not 100: 150 more is the server's own
    r.admit('b', await r.reserve('b', 100), noop);
    assert.equal(r.stats().ownBytes, OWN + 50); // rss (1250) − used (200)
    rss = OWN; // RSS falling back does not give the budget back
    r.admit('c', await r.reserve('c', 100), noop);
    assert.equal(r.limit, 250);
    assert.equal(r.stats().resident, 2, 'a went to keep used ≤ limit');
  });

  test("a reload replaces the entry unpinned; a cold load refused for size is a 503 (the server is out of room), not the client's 400", async () => {
    let rss = OWN;
    const r = new Residency(OWN + 250, () => rss);
    const noop: ResidentHooks = { load: async () => undefined, evict: async () => undefined };
    r.admit('a', await r.reserve('a', 100), noop);
    const pinned = await r.acquire('a');
    r.admit('a', await r.reserve('a', 100), noop); // reloaded while a request holds the old session
    pinned.release();
    r.admit('b', await r.reserve('b', 100), noop);
    r.admit('c', await r.reserve('c', 100), noop); // 'a' must be evictable
    assert.equal(r.isResident('a'), false);
    rss = OWN + 500; // the server's own share grows: no model fits any more
    r.admit('d', await r.reserve('d', 10), noop);
    await assert.rejects(r.acquire('a'), (e: unknown) => e instanceof RequestError && e.status === 503 && /raise --memory-budget$/.test(e.message));
  });

  test('estimate and sizes', () => {
    assert.equal(estimateModelBytes(1_000_000), Math.ceil(1_000_000 * MEMORY_ESTIMATE.factor) + MEMORY_ESTIMATE.perSessionBytes);
    const table: Array<[string, number]> = [
      ['1GiB', 1024 ** 3],
      ['512Mi', 512 * 1024 ** 2],
      ['800MB', 800e6],
      ['1.5 GiB', 1.5 * 1024 ** 3],
      ['1048576', 1048576],
    ];
    for (const [s, n] of table) assert.equal(parseByteSize(s), n, s);
    assert.throws(() => parseByteSize('1 GB RAM'), /--memory-budget: '1 GB RAM' is not a size; write e\.g\. 1GiB, 512MiB, 800MB or a number of bytes/);
    assert.throws(() => parseByteSize('1TiB'), /is not a size/);
    assert.throws(() => parseByteSize('0'), /--memory-budget: '0' must be more than 0 bytes/);
  });
});

describe('memory budget (server, real ONNX models)', () => {
  const dir = tempDir();
  const models = [1, 2, 3, 4].map((seed) => ({ seed, ...writeFraudModel(dir, seed) }));
  const bytes = estimateModelBytes(statSync(models[0].path).size);
  const data = rows(3, 9);
  const RSS = 200 * 1024 * 1024;
  const start = (slots: number, extra: Parameters<typeof startModelServer>[0] = {}) =>
    startModelServer({
      port: 0,
      models: models.map((m) => ({ name: `m${m.seed}`, path: m.path })),
      memoryBudget: RSS + Math.floor((slots + 0.5) * bytes),
      memoryProbe: () => RSS,
      processMetrics: false,
      ...extra,
    });
  const metric = (text: string, series: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? NaN : Number(line.split(' ').pop());
  };
  const expected = (seed: number): number[] => denseNetForward(models[seed - 1].net, data);
  const close = (got: number[], want: number[]) => got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-5, `${g} vs ${want[i]}`));

  test('lazy start: models are registered without a session; metadata answers from the graph, and the first request loads it', async () => {
    const s = await start(2);
    try {
      const text0 = await (await fetch(`${s.url}/metrics`)).text();
      assert.equal(metric(text0, 'ghosteam_models_resident'), 0);
      assert.equal(metric(text0, 'ghosteam_models_evicted'), 4);
      assert.equal(metric(text0, 'ghosteam_model_memory_bytes{kind="used"}'), 0);
      assert.ok(!/ghosteam_model_loads_total\{cause="admit"\} [1-9]/.test(text0), 'no session created at start');
      // Metadata (OIP, Triton config, V1, admin listing) from the graph, as a session reports it, and still nothing loaded.
      const meta = await get(`${s.url}/v2/models/m3`);
      assert.equal(meta.status, 200);
      const session = await loadOrtModel(models[2].path);
      await session.release();
      assert.deepEqual([meta.json.inputs, meta.json.outputs], [session.inputs, session.outputs]);
      assert.equal((await get(`${s.url}/v2/models/m3/config`)).status, 200);
      assert.equal((await get(`${s.url}/v1/models/m3`)).status, 200);
      const listed = s.models().find((m) => m.name === 'm3')!.versions[0];
      assert.equal(listed.resident, false);
      assert.equal(listed.batching, true, 'the batcher is planned from the graph, without a session');
      assert.equal(metric(await (await fetch(`${s.url}/metrics`)).text(), 'ghosteam_models_resident'), 0, 'metadata loaded nothing');
      // The session, created for the first request, reports what the graph said (else the load is refused with a 409).
      const a = await post(`${s.url}/v2/models/m3/infer`, inferBody(data));
      assert.equal(a.status, 200);
      close(a.json.outputs[0].data, expected(3));
      const text1 = await (await fetch(`${s.url}/metrics`)).text();
      assert.equal(metric(text1, 'ghosteam_models_resident'), 1);
      assert.equal(metric(text1, 'ghosteam_model_loads_total{cause="request"}'), 1);
      assert.equal(metric(text1, 'ghosteam_model_cold_load_seconds_count'), 1);
      assert.deepEqual(s.models().find((m) => m.name === 'm3')!.versions[0], { ...listed, resident: true });
    } finally {
      await s.close();
    }
  });

  test('more models than fit: the least recently used are evicted, answer cold with the right values, and the index and /metrics say so', async () => {
    const s = await start(2);
    try {
      // Nothing is loaded at start: m1…m4 in turn leave m3 and m4 resident.
      for (const m of ['m1', 'm2', 'm3', 'm4']) assert.equal((await post(`${s.url}/v2/models/${m}/infer`, inferBody(data))).status, 200);
      const index = (await post(`${s.url}/v2/repository/index`, '{}')).json as Array<{ name: string; state: string; reason: string }>;
      assert.deepEqual(
        index.map((e) => [e.name, e.state, e.reason]),
        [
          ['m1', 'READY', EVICTED_REASON],
          ['m2', 'READY', EVICTED_REASON],
          ['m3', 'READY', ''],
          ['m4', 'READY', ''],
        ],
      );
      assert.equal((await get(`${s.url}/v2/models/m1/ready`)).json.ready, true, 'an evicted model still answers, so it is ready');
      const m1 = await post(`${s.url}/v2/models/m1/infer`, inferBody(data));
      assert.equal(m1.status, 200);
      close(m1.json.outputs[0].data, expected(1));
      // m1 came back and pushed out m3, the least recently used.
      assert.deepEqual(
        s.models().map((m) => [m.name, m.versions[0].resident]),
        [
          ['m1', true],
          ['m2', false],
          ['m3', false],
          ['m4', true],
        ],
      );
      const v1 = await post(`${s.url}/v1/models/m3:predict`, JSON.stringify({ instances: data }));
      assert.equal(v1.status, 200);
      const text = await (await fetch(`${s.url}/metrics`)).text();
      assert.equal(metric(text, 'ghosteam_model_cold_load_seconds_count'), 6);
      assert.equal(metric(text, 'ghosteam_model_loads_total{cause="request"}'), 6);
      assert.equal(metric(text, 'ghosteam_model_evictions_total'), 4);
      assert.equal(metric(text, 'ghosteam_models_resident'), 2);
      assert.equal(metric(text, 'ghosteam_models_evicted'), 2);
      assert.equal(metric(text, 'ghosteam_model_memory_bytes{kind="used"}'), 2 * bytes);
      // An explicit unload is different: UNAVAILABLE, and 404 until loaded again.
      await s.unload('m1');
      const after = (await post(`${s.url}/v2/repository/index`, '{}')).json as Array<{ name: string; state: string; reason: string }>;
      assert.deepEqual(after[0], { name: 'm1', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
      assert.equal((await post(`${s.url}/v2/models/m1/infer`, inferBody(data))).status, 404);
    } finally {
      await s.close();
    }
  });

  test('single flight over HTTP: concurrent requests for an evicted model share one load', async () => {
    const s = await start(1);
    try {
      // m1 loaded (the one slot), m2 never loaded: the 8 requests for m2 evict m1 once and load m2 once.
      assert.equal((await post(`${s.url}/v2/models/m1/infer`, inferBody(data))).status, 200);
      const answers = await Promise.all(Array.from({ length: 8 }, () => post(`${s.url}/v2/models/m2/infer`, inferBody(data))));
      for (const a of answers) {
        assert.equal(a.status, 200);
        close(a.json.outputs[0].data, expected(2));
      }
      const text = await (await fetch(`${s.url}/metrics`)).text();
      assert.equal(metric(text, 'ghosteam_model_loads_total{cause="request"}'), 2, "m1's load and one for m2's eight requests");
      assert.equal(metric(text, 'ghosteam_model_evictions_total'), 1);
    } finally {
      await s.close();
    }
  });

  test('a model in use by a request in flight is not evicted: a cold load that would need it is a 503, never a cut answer', async () => {
    // Two larger models, a budget that holds one. A request pins its model before the model loads
    // (onnxruntime-node runs a session synchronously, so the await of a cold load is where another
    // request can come in); the other cold request then finds the budget held and gets a 503.
    const nets = [5, 6].map((seed) => randomDenseNet([16, 2048, 1], seed));
    const paths = nets.map((n, i) => {
      const p = join(dir, `wide-${i}.onnx`);
      writeFileSync(p, denseNetToOnnx(n));
      return p;
    });
    const wide = estimateModelBytes(statSync(paths[0]).size);
    const s = await startModelServer({
      port: 0,
      models: [...paths.map((path, i) => ({ name: `w${i}`, path })), { name: 'm1', path: models[0].path }],
      memoryBudget: RSS + wide + Math.floor(bytes / 2),
      memoryProbe: () => RSS,
      processMetrics: false,
    });
    try {
      let refusals = 0;
      for (let attempt = 0; attempt < 5 && refusals === 0; attempt++) {
        // w0 and w1 have no session (not loaded yet, or evicted by the other or m1) and are asked for at once.
        const answers = await Promise.all([0, 1].map((i) => post(`${s.url}/v2/models/w${i}/infer`, inferBody(data))));
        for (const [i, a] of answers.entries()) {
          if (a.status === 503) {
            refusals++;
            assert.match(
              a.json.error,
              /^the memory budget \(.* for models\) is held by models in use by requests in flight; model 'w\d:1' \(about .*\) can't be loaded now; retry$/,
            );
          } else {
            assert.equal(a.status, 200);
            close(a.json.outputs[0].data, denseNetForward(nets[i], data));
          }
        }
        assert.ok(
          answers.some((a) => a.status === 200),
          'one of them loads',
        );
        assert.equal((await post(`${s.url}/v2/models/m1/infer`, inferBody(data))).status, 200);
      }
      assert.ok(refusals > 0, 'in five tries the two cold requests never overlapped');
    } finally {
      await s.close();
    }
  });

  test('a model larger than the budget: a clear error at start and on load', async () => {
    await assert.rejects(
      startModelServer({ port: 0, models: [{ name: 'm1', path: models[0].path }], memoryBudget: RSS + 1000, memoryProbe: () => RSS, processMetrics: false }),
      /model 'm1:1' needs about .* but the memory budget of .* leaves 0\.0 MiB for models \(the server itself takes 200\.0 MiB\); raise --memory-budget/,
    );
    const s = await start(1);
    try {
      const big = join(dir, 'big.onnx');
      writeFileSync(big, denseNetToOnnx(randomDenseNet([16, 2048, 1], 7)));
      const r = await post(`${s.url}/admin/models`, JSON.stringify({ name: 'big', path: big }));
      assert.equal(r.status, 400);
      assert.match(r.json.error, /^model 'big:1' needs about 0\.\d MiB .*; raise --memory-budget$/);
      assert.equal((await post(`${s.url}/v2/models/m4/infer`, inferBody(data))).status, 200, 'the models already there still answer');
    } finally {
      await s.close();
    }
  });
});

describe('lazy registration: the signature from the graph, or a session where only one can tell', () => {
  const dir = tempDir();
  test('FP16, two inputs and a dense net read as a session reports them; bfloat16 edges need a session, and such a model is loaded at registration', async () => {
    const paths = { fp16: writeFp16Model(dir), two: writeTwoInputModel(dir), fraud: writeFraudModel(dir, 1).path, bf16: writeBf16Model(dir) };
    for (const [name, path] of Object.entries(paths)) {
      const sig = await readModelSignature(path);
      if (name === 'bf16') {
        assert.equal(sig, undefined, 'onnxruntime-node reads bfloat16 edges only through the float32 rewrite (onnx-io.ts)');
        continue;
      }
      const m = await loadOrtModel(path);
      await m.release();
      assert.ok(sig, name);
      assert.deepEqual([sig.inputs, sig.outputs, sig.batchable, sig.batchReason], [m.inputs, m.outputs, m.batchable, m.batchReason], name);
    }
    const s = await startModelServer({
      port: 0,
      models: Object.entries(paths).map(([name, path]) => ({ name, path })),
      memoryBudget: 400 * 1024 ** 2,
      memoryProbe: () => 200 * 1024 ** 2,
      processMetrics: false,
    });
    try {
      assert.deepEqual(
        s.models().map((m) => [m.name, m.versions[0].resident]),
        [
          ['fp16', false],
          ['two', false],
          ['fraud', false],
          ['bf16', true],
        ],
      );
      const r = await post(
        `${s.url}/v2/models/two/infer`,
        JSON.stringify({
          inputs: [
            { name: 'features', datatype: 'FP32', shape: [1, 2], data: [1, 2] },
            { name: 'offset', datatype: 'INT64', shape: [1, 1], data: [3] },
          ],
        }),
      );
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.json.outputs.map((o: { name: string; data: number[] }) => [o.name, o.data]),
        [
          ['shifted', [4, 5]],
          ['doubled', [6]],
        ],
      );
    } finally {
      await s.close();
    }
  });
});

describe('ghosteam serve --memory-budget', () => {
  const bin = fileURLToPath(new URL('../../bin/ghosteam.mjs', import.meta.url));
  const dir = tempDir();
  const m = writeFraudModel(dir, 1);
  const serve = (...a: string[]) => spawnSync(process.execPath, [bin, 'serve', '--port', '0', '--model', `m=${m.path}`, ...a], { encoding: 'utf8' });
  test('a size that is not one, a budget with several workers, and a model larger than the budget are clear errors', () => {
    let r = serve('--memory-budget', 'lots');
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), "error: --memory-budget: 'lots' is not a size; write e.g. 1GiB, 512MiB, 800MB or a number of bytes");
    r = serve('--memory-budget', '1GiB', '--workers', '2');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--memory-budget is one process's resident memory; with --workers 2 every worker would hold its own copy of each model/);
    // 1 MiB is less than the server itself takes: nothing fits, and the one model is refused by name.
    r = serve('--memory-budget', '1MiB');
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /error: model 'm:1' needs about 0\.1 MiB .* but the memory budget of 1\.0 MiB leaves 0\.0 MiB for models \(the server itself takes \d+\.\d MiB\); raise --memory-budget/,
    );
  });

  test('serves with a budget (run again with MALLOC_MMAP_THRESHOLD_ set) and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--model', `m=${m.path}`, '--memory-budget', '1GiB'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const u = /listening on (\S+)/.exec(out);
        if (u) resolve(u[1]);
      });
      void exited.then((c) => reject(new Error(`exited ${c}`)));
    });
    const data = rows(2, 3);
    const r = await post(`${url}/v2/models/m/infer`, inferBody(data));
    assert.equal(r.status, 200);
    const want = denseNetForward(m.net, data);
    (r.json.outputs[0].data as number[]).forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-5));
    const listing = await get(`${url}/admin/models`);
    assert.equal(listing.json.models[0].versions[0].resident, true);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});

// What a Triton user's code sees (the real tritonclient, from the peers' venv): an evicted model is
// READY in the index and is_model_ready, and infer brings it back.
const TRITON = `
import sys, json, numpy as np
import tritonclient.http as http
c = http.InferenceServerClient(sys.argv[1])
out = {"index0": c.get_model_repository_index(), "ready_evicted": c.is_model_ready("m1")}
x = http.InferInput("input", [2, 16], "FP32")
x.set_data_from_numpy(np.array(json.loads(sys.argv[2]), dtype=np.float32))
r = c.infer("m1", [x])
out["y"] = r.as_numpy(r.get_response()["outputs"][0]["name"]).ravel().tolist()
out["index1"] = c.get_model_repository_index()
c.unload_model("m2")
out["ready_unloaded"] = c.is_model_ready("m2")
out["index2"] = c.get_model_repository_index()
print(json.dumps(out))
`;

describe('tritonclient against a server with a memory budget', { skip: peers.skip }, () => {
  test('evicted: READY with its reason, ready, answers; unloaded: UNAVAILABLE, not ready', async () => {
    const dir = tempDir();
    const ms = [1, 2, 3].map((seed) => writeFraudModel(dir, seed));
    const bytes = estimateModelBytes(statSync(ms[0].path).size);
    const RSS = 100 * 1024 * 1024;
    const s = await startModelServer({
      port: 0,
      models: ms.map((m, i) => ({ name: `m${i + 1}`, path: m.path })),
      memoryBudget: RSS + Math.floor(1.5 * bytes),
      memoryProbe: () => RSS,
      processMetrics: false,
    });
    try {
      const script = join(dir, 'triton_budget.py');
      writeFileSync(script, TRITON);
      const data = rows(2, 4);
      // Asynchronously: the server answers from this process's event loop.
      const { stdout } = await promisify(execFile)(peers.python, [script, s.url.replace('http://', ''), JSON.stringify(data)], { timeout: 60_000 });
      const out = JSON.parse(stdout);
      // Nothing is loaded at start (lazy registration); every version is READY all the same.
      assert.deepEqual(out.index0, [
        { name: 'm1', version: '1', state: 'READY', reason: EVICTED_REASON },
        { name: 'm2', version: '1', state: 'READY', reason: EVICTED_REASON },
        { name: 'm3', version: '1', state: 'READY', reason: EVICTED_REASON },
      ]);
      assert.equal(out.ready_evicted, true);
      const want = denseNetForward(ms[0].net, data);
      (out.y as number[]).forEach((y, i) => assert.ok(Math.abs(y - want[i]) < 1e-5, `${y} vs ${want[i]}`));
      assert.deepEqual(
        (out.index1 as Array<{ name: string; reason: string }>).map((e) => [e.name, e.reason]),
        [
          ['m1', ''],
          ['m2', EVICTED_REASON],
          ['m3', EVICTED_REASON],
        ],
      );
      assert.equal(out.ready_unloaded, false);
      assert.deepEqual(out.index2[1], { name: 'm2', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    } finally {
      await s.close();
    }
  });
});
