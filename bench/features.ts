/**
 * `npm run bench:features`: the feature store against Feast, one run.
 *
 * 1. Point-in-time join: ROWS entity rows (default 1M) against 3 feature views (10,000 drivers × 20
 *    rows each, 50 float features in all, Parquet written by pandas; the join asks for 5 of each
 *    view's: Feast's file store was killed for memory here joining all 50 over 1M rows), ghosteam (read the Parquet
 *    files + join, in this process) against Feast's file offline store (`get_historical_features
 *    (...).to_df()`, in the peers' Python), the results compared row for row by row id
 *    (bench/py/features_feast.py).
 * 2. Online over HTTP: 1 entity × 50 features at RATE req/s (default 1,000) for SECONDS, open loop
 *    (bench/open-loop.ts in its own process): `ghosteam features serve`'s server (its own process) on
 *    SQLite and on Redis, against `feast serve` on its SQLite online store. Feast's Redis store needs
 *    the Python `redis` package, which the peers' venv does not have: not measured.
 * 3. In-process: the model server's lookup (`getOnlineFeatures`, 1 entity × 50 features), p50/p99,
 *    on SQLite and Redis.
 * The last line is JSON. Env: BENCH_ROWS, BENCH_RATE, BENCH_SECONDS, GHOSTEAM_PYTHON.
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
import type { OpenLoopResult } from './open-loop.ts';
import { freePort } from './open-loop.ts';

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
function startChild(cmd: string, args: string[], match: RegExp, env: Record<string, string> = {}): Promise<{ url: string; stop: () => Promise<void> }> {
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

async function openLoop(url: string, body: string): Promise<OpenLoopResult> {
  const out = await run(process.execPath, [
    '--import',
    'tsx',
    openLoopScript,
    JSON.stringify({ url, body, rate: RATE, connections: 16, seconds: SECONDS, warmupSeconds: 1 }),
  ]);
  return lastJson<OpenLoopResult>(out);
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

  // 2. Materialize into both stores (ghosteam) and Feast's SQLite store.
  const sqlitePath = join(dir, 'online.db');
  const sqlite = SqliteOnlineStore.open({ path: sqlitePath });
  const rstore = await RedisOnlineStore.connect({ url: redis.url, prefix: 'bench:' });
  const tm = performance.now();
  for (const d of data) {
    const prepared = prepareView(d.name, d.spec, d.data);
    await materializeView(sqlite, d.name, prepared, { end: Date.parse(END), chunkMs: 86_400_000 });
    await materializeView(rstore, d.name, prepared, { end: Date.parse(END), chunkMs: 86_400_000 });
  }
  const materializeSeconds = (performance.now() - tm) / 1000;
  const feastRepo = lastJson<{ repo: string; materializeSeconds: number }>(await run(python, [feastScript, 'online', dir, END]));
  process.stdout.write(
    `materialize 3 views (10,000 drivers): ghosteam SQLite + Redis ${materializeSeconds.toFixed(1)} s, Feast SQLite ${feastRepo.materializeSeconds.toFixed(1)} s\n`,
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
  const http: Record<string, OpenLoopResult & { load: number[] }> = {};
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
      http[`ghosteam-${kind}`] = { ...(await openLoop(`${srv.url}/v1/features`, body)), load: load() };
    } finally {
      await srv.stop();
    }
  };
  await ours('sqlite');
  await ours('redis');
  let feastHttp: (OpenLoopResult & { load: number[] }) | undefined;
  let feastProblem: string | undefined;
  try {
    const port = await freePort();
    const feastBin = join(python, '..', 'feast');
    const srv = await startChild(
      feastBin,
      // --max-requests 0: feast serve's default (1000, gunicorn's worker recycling) restarts the worker
      // after ~1,000 requests, inside the warm-up at this rate, closing every keep-alive connection;
      // the generator does not reconnect, so the earlier runs counted nearly every request an error.
      ['-c', feastRepo.repo, 'serve', '-h', '127.0.0.1', '-p', String(port), '--workers', '1', '--max-requests', '0'],
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
      const theirs = refs.map((r) => check.results[names.indexOf(r.split(':')[1])]?.values[0]);
      if (JSON.stringify(theirs) !== JSON.stringify(probe.values[0]))
        throw new Error(`feast serve answers other values: ${JSON.stringify(theirs).slice(0, 200)}`);
      feastHttp = { ...(await openLoop(`${srv.url}/get-online-features`, body)), load: load() };
    } finally {
      await srv.stop();
    }
  } catch (e) {
    feastProblem = (e as Error).message.slice(0, 400);
  }
  const line = (name: string, r: OpenLoopResult & { load: number[] }) =>
    `${name}: ${r.rps.toFixed(0)} req/s achieved of ${RATE}, p50 ${r.latencyMs.p50} / p99 ${r.latencyMs.p99} ms (service p99 ${r.serviceMs.p99}, send lag p99 ${r.sendLagMs.p99}), ${r.non2xx + r.errors} errors; load ${r.load.join(' ')}`;
  for (const [k, r] of Object.entries(http)) process.stdout.write(`HTTP ${line(k, r)}\n`);
  if (feastHttp) process.stdout.write(`HTTP ${line('feast serve (SQLite)', feastHttp)}\n`);
  else process.stdout.write(`HTTP feast serve: not measured (${feastProblem})\n`);

  const onlineHttpP99Ms = Math.max(http['ghosteam-sqlite'].latencyMs.p99, http['ghosteam-redis'].latencyMs.p99);
  process.stdout.write(
    JSON.stringify({
      rows: ROWS,
      joinFeatures: joinRefs.length,
      onlineFeatures: refs.length,
      ghosteamJoinSeconds: Number(ghosteamSeconds.toFixed(3)),
      feastJoinSeconds: Number(feast.feastSeconds.toFixed(3)),
      joinSpeedupVsFeast: Number(joinSpeedup.toFixed(2)),
      identicalToFeast: identical,
      onlineHttpP99Ms,
      onlineHttpP50Ms: { sqlite: http['ghosteam-sqlite'].latencyMs.p50, redis: http['ghosteam-redis'].latencyMs.p50 },
      onlineHttpP99ByStore: { sqlite: http['ghosteam-sqlite'].latencyMs.p99, redis: http['ghosteam-redis'].latencyMs.p99 },
      feastHttpP50Ms: feastHttp?.latencyMs.p50 ?? null,
      feastHttpP99Ms: feastHttp?.latencyMs.p99 ?? null,
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
