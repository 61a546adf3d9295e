/**
 * `npm run bench:density`: thousands of models in one server (issue #21, "model density").
 *
 * 1,000 MLPs with distinct weights (64 → 4096 → 1, ~1 MiB each, ~1 GiB of files) behind one
 * `ghosteam serve --memory-budget 1GiB` process (the CLI), registered through its admin API. In the same run, a second server holds one model of the same shape with no budget: the
 * baseline. Figures:
 * - **RSS**: the server's resident memory sampled every 20 ms and its kernel high-water mark
 *   (VmHWM, start included); goal: under the budget.
 * - **warm p99**: a closed loop (4 connections, batch-1 requests) over 50 resident models, in
 *   windows alternating with the same loop against the one-model server; goal: unchanged from one model.
 * - **start**: the seconds to register all 1,000 through the admin API and the RSS then. Under a
 *   budget a model is registered from its graph without a session (lazy start), so nothing is
 *   resident until requests come; the eager start this replaced took 34.7 s (1,000 sessions
 *   created, 367 left resident; README, 2026-12-02, load 21–23), not re-measured here.
 * - **cold-load p99**: one request each to 200 models without a session (never loaded at this
 *   point), one at a time (the request's whole latency, load included), and the server's own
 *   `ghosteam_model_cold_load_seconds` mean.
 * - **churn**: uniform random requests over all 1,000 models (4 connections): p50/p99 and the share
 *   that found its model resident.
 * The last line is JSON. Model files are cached in $TMPDIR/ghosteam-density-v1 (regenerated when missing).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { mulberry32 } from '../components/random.ts';
import { estimateModelBytes } from '../components/model-server/residency.ts';

const { onnx } = onnxProto;
const root = fileURLToPath(new URL('..', import.meta.url));
const MODELS = Number(process.env.DENSITY_MODELS ?? 1000);
const BUDGET = 1024 ** 3;
const IN = 64;
const HIDDEN = 4096;
const HOT = 50;
const COLD = Math.min(200, MODELS);
const WARM_REQUESTS = 2000;
const WINDOWS = 3;
const CONNECTIONS = 4;

function log(s: string): void {
  process.stderr.write(`${s}\n`);
}

/** x[N,64] → MatMul W1 → Add b1 → Relu → MatMul W2 → Add b2 → Sigmoid: y[N,1]. Weights seeded by `seed`. */
function mlp(seed: number): Uint8Array {
  const rnd = mulberry32(seed);
  const t = (name: string, dims: number[]) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    const lim = Math.sqrt(6 / (dims[0] + (dims[1] ?? 1)));
    for (let i = 0; i < n; i++) a[i] = (rnd() * 2 - 1) * lim;
    return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(a.buffer) };
  };
  const vi = (name: string, w: number) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: w }] } } },
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'ghosteam-bench-density',
      graph: {
        name: `mlp${seed}`,
        initializer: [t('W1', [IN, HIDDEN]), t('b1', [HIDDEN]), t('W2', [HIDDEN, 1]), t('b2', [1])],
        node: [
          { opType: 'MatMul', input: ['input', 'W1'], output: ['h0'] },
          { opType: 'Add', input: ['h0', 'b1'], output: ['h1'] },
          { opType: 'Relu', input: ['h1'], output: ['h2'] },
          { opType: 'MatMul', input: ['h2', 'W2'], output: ['o0'] },
          { opType: 'Add', input: ['o0', 'b2'], output: ['o1'] },
          { opType: 'Sigmoid', input: ['o1'], output: ['y'] },
        ],
        input: [vi('input', IN)],
        output: [vi('y', 1)],
      },
    }),
  ).finish();
}

function modelFiles(): string[] {
  const dir = join(tmpdir(), `ghosteam-density-v1-${HIDDEN}`);
  mkdirSync(dir, { recursive: true });
  const t = performance.now();
  let made = 0;
  const paths = Array.from({ length: MODELS }, (_, i) => {
    const p = join(dir, `m${String(i).padStart(4, '0')}.onnx`);
    if (!existsSync(p)) {
      writeFileSync(p, mlp(i + 1));
      made++;
    }
    return p;
  });
  log(
    `${MODELS} model files in ${dir} (${made} written in ${((performance.now() - t) / 1000).toFixed(1)} s), ${(statSync(paths[0]).size / 1024).toFixed(0)} KiB each`,
  );
  return paths;
}

function procStatus(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function serve(args: string[], what: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(root, 'bin/ghosteam.mjs'), 'serve', '--port', '0', '--no-batching', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // What `ghosteam serve --memory-budget` would set by running itself again (serve.ts), set here so
    // that the process measured is the server itself rather than that wrapper.
    env: { ...process.env, GHOSTEAM_FROM_SOURCE: '1', MALLOC_MMAP_THRESHOLD_: '131072' },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (c, sig) => reject(new Error(`${what} exited with ${c ?? sig}`)));
  });
  return { url, child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const BODY = JSON.stringify({ inputs: [{ name: 'input', shape: [1, IN], datatype: 'FP32', data: Array.from({ length: IN }, (_, i) => (i % 7) / 7) }] });

function infer(url: string, model: string): Promise<{ ms: number; status: number }> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v2/models/${model}/infer`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - t, status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(BODY);
  });
}

/** A closed loop of `connections` workers, each taking the next model from `pick`. */
async function loop(url: string, n: number, pick: (i: number) => string, connections = CONNECTIONS): Promise<{ ms: Float64Array; errors: number }> {
  const ms = new Float64Array(n);
  let next = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const r = await infer(url, pick(i));
        if (r.status !== 200) errors++;
        ms[i] = r.ms;
      }
    }),
  );
  return { ms, errors };
}

function q(xs: Float64Array, p: number): number {
  const s = Float64Array.from(xs).sort();
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] * 100) / 100 : 0;
}

async function metricsOf(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {
    'ghosteam_model_loads_total{cause="request"}': 0,
    ghosteam_model_cold_load_seconds_sum: 0,
    ghosteam_model_cold_load_seconds_count: 0,
  };
  for (const line of text.split('\n')) {
    if (!line.startsWith('ghosteam_model_') && !line.startsWith('ghosteam_models_')) continue;
    if (line.includes('{model=')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

async function main(): Promise<void> {
  const load0 = loadavg()[0];
  const paths = modelFiles();
  const perModel = estimateModelBytes(statSync(paths[0]).size);
  log(`estimate ${(perModel / 1024 ** 2).toFixed(2)} MiB per model: ${((perModel * MODELS) / 1024 ** 3).toFixed(2)} GiB for all ${MODELS}, budget 1 GiB`);

  const one = await serve(['--model', `one=${paths[0]}`], 'the one-model server');
  const t0 = performance.now();
  // Models are registered through the admin API: onnxruntime-node 1.x crashes in its first session
  // (a native stack overflow in its initialisation) when the process's command line is ~60 KB, as
  // 1,000 --model flags make it; 400 flags start.
  const dense = await serve(['--memory-budget', '1GiB', '--registry-dir', mkdtempSync(join(tmpdir(), 'ghosteam-density-reg-'))], 'the density server');
  let nextModel = 0;
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      for (;;) {
        const i = nextModel++;
        if (i >= paths.length) return;
        const r = await fetch(`${dense.url}/admin/models`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: `m${String(i).padStart(4, '0')}`, path: paths[i] }),
        });
        if (!r.ok) throw new Error(`loading model ${i}: ${r.status} ${await r.text()}`);
      }
    }),
  );
  const startS = (performance.now() - t0) / 1000;
  // Registration reads each model's graph and creates no session (lazy start): RSS now is the server's own.
  const rssAtStart = procStatus(dense.child.pid!, 'VmRSS');
  let maxRss = 0;
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, procStatus(dense.child.pid!, 'VmRSS'))), 20);
  log(`density server up in ${startS.toFixed(1)} s, RSS ${(procStatus(dense.child.pid!, 'VmRSS') / 1024 ** 2).toFixed(0)} MiB`);
  try {
    const listing = async () =>
      ((await (await fetch(`${dense.url}/admin/models`)).json()) as { models: Array<{ name: string; versions: Array<{ resident: boolean }> }> }).models;
    const before = await listing();
    const resident = before.filter((m) => m.versions[0].resident).map((m) => m.name);
    const evicted = before.filter((m) => !m.versions[0].resident).map((m) => m.name);
    log(`${resident.length} resident, ${evicted.length} without a session after start`);
    // Warm: the 50 last registered models, loaded by the warm-up below; windows alternate with the one-model server.
    const hot = before.slice(-HOT).map((m) => m.name);
    await loop(dense.url, 200, (i) => hot[i % hot.length]);
    await loop(one.url, 200, () => 'one');
    const warm: Float64Array[] = [];
    const base: Float64Array[] = [];
    let warmErrors = 0;
    for (let w = 0; w < WINDOWS; w++) {
      const a = await loop(one.url, WARM_REQUESTS, () => 'one');
      const b = await loop(dense.url, WARM_REQUESTS, (i) => hot[(i * 7 + w) % hot.length]);
      base.push(a.ms);
      warm.push(b.ms);
      warmErrors += a.errors + b.errors;
      log(`window ${w + 1}: one model p99 ${q(a.ms, 0.99)} ms, ${HOT} warm of ${MODELS} p99 ${q(b.ms, 0.99)} ms`);
    }
    const cat = (xs: Float64Array[]) => Float64Array.from(xs.flatMap((x) => Array.from(x)));
    const warmAll = cat(warm);
    const baseAll = cat(base);
    // Cold: one request each to evicted models, one at a time.
    const m0 = await metricsOf(dense.url);
    const coldModels = evicted.filter((m) => !hot.includes(m)).slice(0, COLD);
    const cold = await loop(dense.url, coldModels.length, (i) => coldModels[i], 1);
    const m1 = await metricsOf(dense.url);
    const coldLoads = m1['ghosteam_model_loads_total{cause="request"}'] - m0['ghosteam_model_loads_total{cause="request"}'];
    const coldServerMeanMs =
      ((m1.ghosteam_model_cold_load_seconds_sum - m0.ghosteam_model_cold_load_seconds_sum) /
        (m1.ghosteam_model_cold_load_seconds_count - m0.ghosteam_model_cold_load_seconds_count)) *
      1000;
    log(
      `cold: ${coldModels.length} requests, ${coldLoads} loads; p50 ${q(cold.ms, 0.5)} ms p99 ${q(cold.ms, 0.99)} ms (server's load mean ${coldServerMeanMs.toFixed(1)} ms)`,
    );
    // Churn: uniform over every model.
    const rnd = mulberry32(42);
    const churnN = 2000;
    const picks = Array.from({ length: churnN }, () => `m${String(Math.floor(rnd() * MODELS)).padStart(4, '0')}`);
    const c0 = await metricsOf(dense.url);
    const churn = await loop(dense.url, churnN, (i) => picks[i]);
    const c1 = await metricsOf(dense.url);
    const churnLoads = c1['ghosteam_model_loads_total{cause="request"}'] - c0['ghosteam_model_loads_total{cause="request"}'];
    log(
      `churn: ${churnN} uniform requests over ${MODELS}: p50 ${q(churn.ms, 0.5)} ms p99 ${q(churn.ms, 0.99)} ms, ${churnLoads} cold loads (hit ratio ${(1 - churnLoads / churnN).toFixed(2)}), ${churn.errors} errors`,
    );
    clearInterval(sampler);
    const hwm = procStatus(dense.child.pid!, 'VmHWM');
    const mEnd = await metricsOf(dense.url);
    const mib = (b: number) => Math.round(b / 1024 ** 2);
    const warmP99 = q(warmAll, 0.99);
    const baseP99 = q(baseAll, 0.99);
    const result = {
      bench: 'density',
      models: MODELS,
      modelFileKiB: Math.round(statSync(paths[0]).size / 1024),
      estimateMiBPerModel: Math.round((perModel / 1024 ** 2) * 100) / 100,
      budgetMiB: mib(BUDGET),
      peakRssMiB: mib(hwm),
      maxSampledRssMiB: mib(maxRss),
      rssUnderBudget: hwm < BUDGET,
      serverOwnMiB: mib(mEnd['ghosteam_model_memory_bytes{kind="own"}']),
      residentModels: mEnd.ghosteam_models_resident,
      evictions: mEnd.ghosteam_model_evictions_total,
      startS: Math.round(startS * 10) / 10,
      startSeconds: Math.round(startS * 10) / 10,
      rssAtStartMiB: mib(rssAtStart),
      residentAtStart: resident.length,
      warmP50Ms: q(warmAll, 0.5),
      warmP99Ms: warmP99,
      oneModelP50Ms: q(baseAll, 0.5),
      oneModelP99Ms: baseP99,
      warmVsOneModelP99: Math.round((warmP99 / baseP99) * 100) / 100,
      coldLoadP50Ms: q(cold.ms, 0.5),
      coldLoadP99Ms: q(cold.ms, 0.99),
      coldLoadServerMeanMs: Math.round(coldServerMeanMs * 10) / 10,
      churnP50Ms: q(churn.ms, 0.5),
      churnP99Ms: q(churn.ms, 0.99),
      churnHitRatio: Math.round((1 - churnLoads / churnN) * 100) / 100,
      errors: warmErrors + cold.errors + churn.errors,
      loadavg: [Math.round(load0 * 10) / 10, Math.round(loadavg()[0] * 10) / 10],
    };
    log(
      `RSS peak ${result.peakRssMiB} MiB (budget ${result.budgetMiB} MiB: ${result.rssUnderBudget ? 'under' : 'OVER'}); warm p99 ${warmP99} ms vs one model ${baseP99} ms (${result.warmVsOneModelP99}x); cold-load p99 ${result.coldLoadP99Ms} ms; load ${result.loadavg.join(' → ')}`,
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    clearInterval(sampler);
    agent.destroy();
    await Promise.all([stop(one.child), stop(dense.child)]);
  }
}

main().catch((e: unknown) => {
  log(`bench:density failed: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
