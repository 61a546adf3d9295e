/**
 * `npm run bench:features`: the feature store against Feast, one run.
 *
 * 1. Point-in-time join: ROWS entity rows (default 1M) against 3 feature views (10,000 drivers × 20
 *    rows each, 50 float features in all, Parquet written by pandas; the join asks for 5 of each
 *    view's: Feast's file store was killed for memory here joining all 50 over 1M rows), ghosteam (read the Parquet
 *    files + join, in this process) against Feast's file offline store (`get_historical_features
 *    (...).to_df()`, in the peers' Python), the results compared row for row by row id
 *    (bench/py/features_feast.py).
 * 2. Materialization of the 3 views into each online store, timed: ghosteam into SQLite and into
 *    Redis, Feast into its SQLite and its Redis store (`materialize`, in the peers' Python, whose
 *    venv pins `redis` for Feast's Redis store). One redis-server (Debian's) holds both sides' keys.
 * 3. In-process: the model server's lookup (`getOnlineFeatures`, 1 entity × 50 features), p50/p99,
 *    on SQLite and Redis.
 * 4. Online over HTTP: 1 entity × 50 features at RATE req/s (default 1,000) for SECONDS, open loop
 *    (bench/open-loop.ts in its own process), against `ghosteam features serve`'s server (its own
 *    process) on SQLite and on Redis and `feast serve` (one worker) on its SQLite and its Redis store.
 *    Each window reports, apart from latency (due time → response), the generator's own send lag
 *    (due → write) and the service time (write → response), the machine's CPU pressure over the
 *    window (PSI: the share of time some task waited for a CPU, neighbours included) and whether
 *    the figure is a latency at the rate (`atRateProblem`: ≥ 97% of the rate answered, send lag p99
 *    ≤ 2 ms). BENCH_PIN=1 pins the generator to CPU 0 and the server to CPU 1 (taskset); default
 *    unpinned (see docs/features.md for what pinning did on the shared 2-core machine).
 * The last line is JSON. Env: BENCH_ROWS, BENCH_RATE, BENCH_SECONDS, BENCH_PIN, GHOSTEAM_PYTHON.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FeatureViewSpec } from '../api/crds/types.ts';
import { writeDataset } from '../components/dataset/index.ts';
import { getHistoricalFeatures } from '../components/features/historical.ts';
import { materializeView, prepareView, type OnlineStore } from '../components/features/materialize.ts';
import { getOnlineFeatures, type ServiceDef } from '../components/features/online.ts';
import { RedisOnlineStore } from '../components/features/redis-store.ts';
import { readViewSource } from '../components/features/sources.ts';
import { readParquetFast } from '../components/features/parquet-fast.ts';
import { SqliteOnlineStore } from '../components/features/sqlite-store.ts';
import { startTestRedis } from '../test/peers/index.ts';
import { VENV_COMPLETE_MARKER, venvDir, venvPython } from '../test/peers/config.ts';
import { atRateProblem, cpuPressureSomeUs, freePort, schedWaitNs, type OpenLoopResult } from './open-loop.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Features of each view in the join (Feast's file store ran out of memory here joining all 50 over 1M rows). */
const JOIN_PER_VIEW = Number(process.env.BENCH_JOIN_FEATURES_PER_VIEW ?? 5);
const VIEWS: Record<string, number> = { stats_a: 20, stats_b: 20, stats_c: 10 };
const END = '2026-11-04T00:00:00Z';
const feastScript = fileURLToPath(new URL('./py/features_feast.py', import.meta.url));
const openLoopScript = fileURLToPath(new URL('./open-loop.ts', import.meta.url));
const serveScript = fileURLToPath(new URL('./features-serve.ts', import.meta.url));
const load = () => loadavg().map((x) => Number(x.toFixed(1)));
/** BENCH_PIN=1: the generator on CPU 0, every server on CPU 1 (taskset; the exec'd process keeps the pid, its children the mask). */
const pin = process.env.BENCH_PIN === '1';
const pinned = (cpu: number, cmd: string, args: string[]): [string, string[]] => (pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

const python = [process.env.GHOSTEAM_PYTHON, existsSync(join(venvDir(), VENV_COMPLETE_MARKER)) ? venvPython() : undefined].find(
  (p): p is string => !!p && existsSync(p),
);
if (!python) throw new Error("bench:features needs the peers' Python with feast: run `npm run peers:up` (or set GHOSTEAM_PYTHON)");

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`${cmd} ${args[0]} ${args[1] ?? ''} exited ${code}: ${err.slice(-2000)}`))));
  });
}
const lastJson = <T>(out: string): T => JSON.parse(out.trim().split('\n').pop()!) as T;

function spec(view: string): FeatureViewSpec {
  return {
    entities: [{ name: 'driver', joinKeys: [{ name: 'driver_id', type: 'int64' }] }],
    source: { kind: 'file', uri: `${view}.parquet`, format: 'parquet', timestampField: 'event_timestamp' },
    ttlSeconds: 7 * 86_400,
    features: Array.from({ length: VIEWS[view] }, (_, j) => ({ name: `${view}_f${j}`, type: 'float64' as const })),
    online: true,
  };
}
const views = new Map(Object.keys(VIEWS).map((v) => [v, spec(v)]));
const refs = Object.entries(VIEWS).flatMap(([v, n]) => Array.from({ length: n }, (_, j) => `${v}:${v}_f${j}`));
const service: ServiceDef = {
  name: 'bench',
  spec: {
    features: Object.entries(VIEWS).map(([v, n]) => ({ featureView: v, features: Array.from({ length: n }, (_, j) => `${v}_f${j}`) })),
    onMissing: 'nan',
  },
  views,
};

/** Starts a server child that prints its URL on its first stdout line; resolves with the URL and a stop. */
function startChild(
  cmd0: string,
  args0: string[],
  match: RegExp,
  env: Record<string, string> = {},
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const [cmd, args] = pinned(1, cmd0, args0);
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: false });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      fail(new Error(`${cmd} did not start in 180 s: ${out.slice(-2000)}`));
    }, 180_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = match.exec(out);
      if (m) {
        clearTimeout(timer);
        done({
          url: m[1],
          pid: child.pid!,
          stop: () =>
            new Promise<void>((r) => {
              if (child.exitCode !== null) return r();
              child.once('exit', () => r());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => fail(new Error(`${cmd} exited ${code} before it listened: ${out.slice(-2000)}`)));
  });
}

/** One open-loop window, with the machine's CPU pressure over it and whether it is a latency at the rate. */
interface HttpWindow extends OpenLoopResult {
  load: number[];
  /** Share of the window some task waited for a CPU (PSI "some"), neighbours included; null without PSI. */
  cpuPressure: number | null;
  /** Why this is not a latency at RATE (too few answered, or the generator sent late), or null when it is. */
  notAtRate: string | null;
  /** How long the server's main thread sat runnable but off-CPU, ms per second of the window (ghosteam's server only). */
  serverRunqueueWaitMsPerS: number | null;
}

/** One window against the server; `serverPid`, when its main thread is the server's, also times its wait for a CPU. */
async function openLoop(url: string, body: string, serverPid?: number): Promise<HttpWindow> {
  const w0 = serverPid ? schedWaitNs(serverPid) : 0;
  const p0 = cpuPressureSomeUs();
  const t0 = performance.now();
  const [cmd, args] = pinned(0, process.execPath, [
    '--import',
    'tsx',
    openLoopScript,
    JSON.stringify({ url, body, rate: RATE, connections: 16, seconds: SECONDS, warmupSeconds: 1 }),
  ]);
  const r = lastJson<OpenLoopResult>(await run(cmd, args));
  const ms = performance.now() - t0;
  const pressure = (cpuPressureSomeUs() - p0) / (ms * 1000);
  const wait = serverPid ? (schedWaitNs(serverPid) - w0) / 1e6 / (ms / 1000) : null;
  return {
    ...r,
    load: load(),
    cpuPressure: Number.isFinite(pressure) ? Math.round(pressure * 100) / 100 : null,
    serverRunqueueWaitMsPerS: wait === null ? null : Math.round(wait * 10) / 10,
    notAtRate: atRateProblem({ rate: RATE, rps: r.rps, sendLagP99: r.sendLagMs.p99 }) ?? (r.errors + r.non2xx > 0 ? `${r.errors + r.non2xx} errors` : null),
  };
}

function percentiles(xs: number[]): { p50: number; p99: number } {
  xs.sort((a, b) => a - b);
  const q = (p: number) => Math.round(xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)] * 1000) / 1000;
  return { p50: q(0.5), p99: q(0.99) };
}

async function inProcess(store: OnlineStore, n = 20_000): Promise<{ p50: number; p99: number }> {
  const lat: number[] = [];
  for (let i = 0; i < n + 2000; i++) {
    const t = performance.now();
    const r = await getOnlineFeatures(store, service, [{ driver_id: 1 + (i % 10_000) }], { now: Date.parse(END) });
    const dt = performance.now() - t;
    if (r.values[0].length !== refs.length) throw new Error('short answer');
    if (i >= 2000) lat.push(dt);
  }
  return percentiles(lat);
}

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-bench-features-'));
const redis = await startTestRedis();
if (redis.skip) throw new Error(`bench:features needs redis-server: ${redis.skip}`);
try {
  process.stdout.write(`bench:features — load ${load().join(' ')}\n`);
  await run(python, [feastScript, 'gen', dir, String(ROWS)]);

  // 1. The point-in-time join.
  const t0 = performance.now();
  // The entity rows as the view sources: numbers and a timestamp, through DuckDB (parquet-fast.ts).
  const entities = await readParquetFast(join(dir, 'entities.parquet'), [
    { name: 'row_id', kind: 'number' },
    { name: 'driver_id', kind: 'number' },
    { name: 'event_timestamp', kind: 'time' },
  ]);
  if (!entities) throw new Error('entities.parquet: not read by the fast path');
  const data = [];
  for (const [name, s] of views) data.push({ name, spec: s, data: await readViewSource(name, s, { baseDir: dir }) });
  const joinRefs = Object.entries(VIEWS).flatMap(([v, n]) => Array.from({ length: Math.min(n, JOIN_PER_VIEW) }, (_, j) => `${v}:${v}_f${j}`));
  const joined = getHistoricalFeatures(entities, data, joinRefs);
  const ghosteamSeconds = (performance.now() - t0) / 1000;
  await writeDataset(join(dir, 'ghosteam.arrow'), joined);
  process.stdout.write(`ghosteam: read + join ${ghosteamSeconds.toFixed(2)} s; load ${load().join(' ')}\n`);
  const loadJoin = load();
  const feast = lastJson<{
    feastSeconds: number;
    feastRows: number;
    ghosteamRows: number;
    mismatches: number;
    firstMismatch: string | null;
    nullShare: number;
  }>(await run(python, [feastScript, 'join', dir, String(JOIN_PER_VIEW)]));
  const identical = feast.mismatches === 0 && feast.feastRows === ROWS && feast.ghosteamRows === ROWS;
  const joinSpeedup = feast.feastSeconds / ghosteamSeconds;
  process.stdout.write(
    `join ${ROWS} entity rows × 3 views (${joinRefs.length} features): ghosteam ${ghosteamSeconds.toFixed(2)} s (read + join), Feast ${feast.feastSeconds.toFixed(2)} s → ${joinSpeedup.toFixed(1)}×; ` +
      `${identical ? 'identical row for row' : `DIFFERENT: ${feast.mismatches} values, first ${feast.firstMismatch}`} (null share ${(feast.nullShare * 100).toFixed(1)}%); load ${loadJoin.join(' ')}\n`,
  );

  // 2. Materialize into both stores (ghosteam) and into Feast's SQLite and Redis stores.
  const sqlitePath = join(dir, 'online.db');
  const sqlite = SqliteOnlineStore.open({ path: sqlitePath });
  const rstore = await RedisOnlineStore.connect({ url: redis.url, prefix: 'bench:' });
  const prepared = data.map((d) => ({ name: d.name, view: prepareView(d.name, d.spec, d.data) }));
  const materializeInto = async (store: OnlineStore) => {
    const t = performance.now();
    for (const d of prepared) await materializeView(store, d.name, d.view, { end: Date.parse(END), chunkMs: 86_400_000 });
    return (performance.now() - t) / 1000;
  };
  const ghosteamMaterialize = { sqlite: await materializeInto(sqlite), redis: await materializeInto(rstore) };
  const feastRepo = {
    sqlite: lastJson<{ repo: string; materializeSeconds: number }>(await run(python, [feastScript, 'online', dir, END, 'sqlite'])),
    redis: lastJson<{ repo: string; materializeSeconds: number }>(await run(python, [feastScript, 'online', dir, END, 'redis', new URL(redis.url).host])),
  };
  const secs = (x: number) => `${x.toFixed(1)} s`;
  process.stdout.write(
    `materialize 3 views (10,000 drivers, ${prepared.reduce((n, d) => n + d.view.times.length, 0)} rows): SQLite ghosteam ${secs(ghosteamMaterialize.sqlite)}, Feast ${secs(feastRepo.sqlite.materializeSeconds)} (${(feastRepo.sqlite.materializeSeconds / ghosteamMaterialize.sqlite).toFixed(1)}×); ` +
      `Redis ghosteam ${secs(ghosteamMaterialize.redis)}, Feast ${secs(feastRepo.redis.materializeSeconds)} (${(feastRepo.redis.materializeSeconds / ghosteamMaterialize.redis).toFixed(1)}×); load ${load().join(' ')}\n`,
  );
  // The same values from both sides' stores, for one driver (the oracle test compares more).
  const probe = await getOnlineFeatures(sqlite, service, [{ driver_id: 42 }], { now: Date.parse(END) });
  const probeRedis = await getOnlineFeatures(rstore, service, [{ driver_id: 42 }], { now: Date.parse(END) });
  if (JSON.stringify(probe.values) !== JSON.stringify(probeRedis.values)) throw new Error('SQLite and Redis answer differently for driver 42');

  // 3. In-process lookups.
  const inSqlite = await inProcess(sqlite);
  const inRedis = await inProcess(rstore);
  process.stdout.write(
    `in-process lookup, 1 entity × ${refs.length} features: SQLite p50 ${inSqlite.p50} / p99 ${inSqlite.p99} ms, Redis p50 ${inRedis.p50} / p99 ${inRedis.p99} ms; load ${load().join(' ')}\n`,
  );
  await sqlite.close();
  await rstore.close();

  // 4. Over HTTP at a fixed rate.
  const http: Record<string, HttpWindow> = {};
  const ours = async (kind: 'sqlite' | 'redis') => {
    const port = await freePort();
    const srv = await startChild(
      process.execPath,
      ['--import', 'tsx', serveScript, JSON.stringify({ kind, path: sqlitePath, url: redis.url, port, views: Object.fromEntries(views), service })],
      /listening on (http:\/\/\S+)/,
    );
    try {
      const body = JSON.stringify({ service: 'bench', entities: [{ driver_id: 42 }] });
      const check = (await (await fetch(`${srv.url}/v1/features`, { method: 'POST', body })).json()) as { rows: { values: unknown[] }[] };
      if (JSON.stringify(check.rows[0].values) !== JSON.stringify(probe.values[0])) throw new Error(`ghosteam's ${kind} server answers other values`);
      http[`ghosteam-${kind}`] = await openLoop(`${srv.url}/v1/features`, body, srv.pid);
    } finally {
      await srv.stop();
    }
  };
  const feastProblem: Record<string, string> = {};
  const theirs = async (kind: 'sqlite' | 'redis') => {
    try {
      const port = await freePort();
      const feastBin = join(python, '..', 'feast');
      const srv = await startChild(
        feastBin,
        // --max-requests 0: feast serve's default (1000, gunicorn's worker recycling) restarts the worker
        // after ~1,000 requests, inside the warm-up at this rate, closing every keep-alive connection;
        // the generator does not reconnect, so the earlier runs counted nearly every request an error.
        ['-c', feastRepo[kind].repo, 'serve', '-h', '127.0.0.1', '-p', String(port), '--workers', '1', '--max-requests', '0'],
        /(?:Uvicorn running on|Listening at:) (http:\/\/\S+)/,
        {
          FEAST_USAGE: 'False',
        },
      );
      try {
        const body = JSON.stringify({ feature_service: 'bench', entities: { driver_id: [42] } });
        const check = (await (
          await fetch(`${srv.url}/get-online-features`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
        ).json()) as {
          metadata: { feature_names: string[] };
          results: { values: unknown[] }[];
        };
        const names = check.metadata.feature_names;
        const got = refs.map((r) => check.results[names.indexOf(r.split(':')[1])]?.values[0]);
        if (JSON.stringify(got) !== JSON.stringify(probe.values[0]))
          throw new Error(`feast serve (${kind}) answers other values: ${JSON.stringify(got).slice(0, 200)}`);
        http[`feast-${kind}`] = await openLoop(`${srv.url}/get-online-features`, body);
      } finally {
        await srv.stop();
      }
    } catch (e) {
      feastProblem[kind] = (e as Error).message.slice(0, 400);
    }
  };
  await ours('sqlite');
  await theirs('sqlite');
  await ours('redis');
  await theirs('redis');
  const line = (name: string, r: HttpWindow) =>
    `${name}: ${r.rps.toFixed(0)} req/s achieved of ${RATE}, p50 ${r.latencyMs.p50} / p99 ${r.latencyMs.p99} ms (service p50 ${r.serviceMs.p50} / p99 ${r.serviceMs.p99}, send lag p99 ${r.sendLagMs.p99}, ${r.backlogged} backlogged), ` +
    `${r.non2xx + r.errors} errors; CPU pressure ${r.cpuPressure ?? 'n/a'}${r.serverRunqueueWaitMsPerS === null ? '' : `, server off-CPU while runnable ${r.serverRunqueueWaitMsPerS} ms/s`}; ${r.notAtRate ? `NOT a latency at the rate: ${r.notAtRate}` : 'at the rate'}; load ${r.load.join(' ')}`;
  process.stdout.write(`HTTP, ${pin ? 'generator pinned to CPU 0, servers to CPU 1' : 'unpinned'}:\n`);
  for (const kind of ['sqlite', 'redis'] as const) {
    process.stdout.write(`HTTP ${line(`ghosteam (${kind})`, http[`ghosteam-${kind}`])}\n`);
    const f = http[`feast-${kind}`];
    if (f)
      process.stdout.write(
        `HTTP ${line(`feast serve (${kind})`, f)}; Feast's p99 / ghosteam's ${(f.latencyMs.p99 / http[`ghosteam-${kind}`].latencyMs.p99).toFixed(1)}×\n`,
      );
    else process.stdout.write(`HTTP feast serve (${kind}): not measured (${feastProblem[kind]})\n`);
  }
  const byStore = <T>(prefix: string, f: (r: HttpWindow) => T) => ({
    sqlite: http[`${prefix}-sqlite`] ? f(http[`${prefix}-sqlite`]) : null,
    redis: http[`${prefix}-redis`] ? f(http[`${prefix}-redis`]) : null,
  });
  const onlineHttpP99Ms = Math.max(http['ghosteam-sqlite'].latencyMs.p99, http['ghosteam-redis'].latencyMs.p99);
  const notAtRate = Object.entries(http)
    .filter(([k, r]) => k.startsWith('ghosteam-') && r.notAtRate)
    .map(([k, r]) => `${k}: ${r.notAtRate}`);
  process.stdout.write(
    JSON.stringify({
      rows: ROWS,
      joinFeatures: joinRefs.length,
      onlineFeatures: refs.length,
      ghosteamJoinSeconds: Number(ghosteamSeconds.toFixed(3)),
      feastJoinSeconds: Number(feast.feastSeconds.toFixed(3)),
      joinSpeedupVsFeast: Number(joinSpeedup.toFixed(2)),
      identicalToFeast: identical,
      ghosteamMaterializeSeconds: { sqlite: Number(ghosteamMaterialize.sqlite.toFixed(2)), redis: Number(ghosteamMaterialize.redis.toFixed(2)) },
      feastMaterializeSeconds: { sqlite: Number(feastRepo.sqlite.materializeSeconds.toFixed(2)), redis: Number(feastRepo.redis.materializeSeconds.toFixed(2)) },
      onlineHttpP99Ms,
      onlineHttpP50Ms: byStore('ghosteam', (r) => r.latencyMs.p50),
      onlineHttpP99ByStore: byStore('ghosteam', (r) => r.latencyMs.p99),
      onlineHttpServiceP99ByStore: byStore('ghosteam', (r) => r.serviceMs.p99),
      onlineHttpSendLagP99ByStore: byStore('ghosteam', (r) => r.sendLagMs.p99),
      onlineHttpCpuPressureByStore: byStore('ghosteam', (r) => r.cpuPressure),
      onlineHttpServerRunqueueWaitMsPerSByStore: byStore('ghosteam', (r) => r.serverRunqueueWaitMsPerS),
      // null when every ghosteam window was a latency at the rate; else why not (the p99 is then not the server's alone).
      onlineHttpNotAtRate: notAtRate.length ? notAtRate.join('; ') : null,
      feastHttpP50Ms: http['feast-sqlite']?.latencyMs.p50 ?? null,
      feastHttpP99Ms: http['feast-sqlite']?.latencyMs.p99 ?? null,
      feastHttpP50ByStore: byStore('feast', (r) => r.latencyMs.p50),
      feastHttpP99ByStore: byStore('feast', (r) => r.latencyMs.p99),
      feastHttpServiceP99ByStore: byStore('feast', (r) => r.serviceMs.p99),
      feastHttpNotAtRateByStore: byStore('feast', (r) => r.notAtRate),
      feastHttpProblem: Object.keys(feastProblem).length ? feastProblem : null,
      httpPinned: pin,
      rate: RATE,
      inProcessP99Ms: Math.max(inSqlite.p99, inRedis.p99),
      inProcessP99ByStore: { sqlite: inSqlite.p99, redis: inRedis.p99 },
      load: load(),
    }) + '\n',
  );
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
