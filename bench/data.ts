/**
 * `npm run bench:data`: ingest → validate → split on 10M rows × 20 columns (CSV and Parquet),
 * streamed, next to DuckDB (Python, the peers' extra venv) reading and aggregating the same file in
 * the same run. The files are generated once (by DuckDB, deterministic) and cached under
 * tmp/cache/bench-data. Each of our runs is its own process, so its peak RSS (getrusage maxrss) is
 * the pipeline's. Goal (issue 17): ingest within 2× DuckDB's time, at most 1 GiB RSS.
 *
 * Ours is ingest with its DuckDB engine (components/ingest/duckdb.ts); "before" is the same ingest with
 * the JavaScript engine, whose dataset must have the same bytes. DuckDB's time is the mean of a run
 * before and a run after ours (the shared machine's load moves). The native reference is what the
 * goal allows at best on this machine: the same file made into an Arrow IPC dataset and hashed by
 * DuckDB's or Arrow's readers and pyarrow's writer, with no JavaScript (bench/py/duckdb_data.py).
 *
 * Env: BENCH_ROWS (default 10000000), BENCH_BEFORE=0 (skip the JavaScript engine's ingest), GHOSTEAM_DUCKDB_PYTHON (a python with duckdb; default: the
 * peers harness's extra venv 'duckdb', built on demand), GHOSTEAM_DUCKDB_NODE_API (a directory
 * where `@duckdb/node-api` is installed: also measures DuckDB in-process from Node, the engine
 * evaluated as a replacement). Last line: JSON with rows, peakRssMb, timeVsDuckdb (our CSV ingest
 * time / DuckDB's CSV read+aggregate time) and the rest of the figures.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const rows = Number(process.env.BENCH_ROWS ?? 10_000_000);
const cache = join(root, 'tmp', 'cache', 'bench-data');
const log = (s: string) => process.stdout.write(`${s}\n`);

async function duckdbPython(): Promise<string> {
  if (process.env.GHOSTEAM_DUCKDB_PYTHON) return process.env.GHOSTEAM_DUCKDB_PYTHON;
  const install = (await import('../test/peers/install.ts')) as Record<string, unknown>;
  const ensure = install.ensureExtraPython as ((name: string, log: (s: string) => void) => Promise<string>) | undefined;
  if (!ensure)
    throw new Error(
      'bench:data needs DuckDB for Python: set GHOSTEAM_DUCKDB_PYTHON to a python with duckdb, or use a checkout whose test/peers has ensureExtraPython',
    );
  const py = await ensure('duckdb', log);
  // ensureExtraPython gives the venv's python, or its directory.
  return existsSync(join(py, 'bin', 'python')) ? join(py, 'bin', 'python') : py;
}

/** Runs a step that ends its output with one JSON line, and returns that line parsed. */
function run<T = Record<string, unknown>>(cmd: string, args: string[]): T {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as T;
}

const py = await duckdbPython();
mkdirSync(cache, { recursive: true });
const csv = join(cache, `data-${rows}.csv`);
const parquet = join(cache, `data-${rows}.parquet`);
if (!existsSync(csv) || !existsSync(parquet)) {
  log(`generating ${rows} rows × 20 columns with DuckDB into ${cache} (once) …`);
  const t = performance.now();
  run(py, [join(root, 'bench/py/duckdb_data.py'), 'generate', String(rows), `${csv}.tmp`, `${parquet}.tmp`]);
  renameSync(`${csv}.tmp`, csv);
  renameSync(`${parquet}.tmp`, parquet);
  log(`  generated in ${((performance.now() - t) / 1000).toFixed(1)}s`);
}
const mb = (p: string) => Math.round(statSync(p).size / 2 ** 20);
const load0 = loadavg()[0];
log(`machine: ${cpus().length} cores, load ${load0.toFixed(1)} (shared: other agents run too)`);
log(`files: ${csv} (${mb(csv)} MiB), ${parquet} (${mb(parquet)} MiB)`);

interface Ours {
  rows: number;
  columns: number;
  passes: number;
  engine: string;
  fallback?: string;
  digest: string;
  ingestS: number;
  validateS: number;
  splitS: number;
  peakRssMb: number;
}
interface Duck {
  seconds: number;
  peakRssMb: number;
  threads: unknown;
  version: string;
}
/** The file made into an Arrow IPC dataset and hashed with no JavaScript (DuckDB or pyarrow reading, pyarrow writing): the faster run and both. */
interface NativeRun {
  seconds: number;
  readS: number;
  writeS: number;
  hashS: number;
  bytes: number;
}
interface Native extends NativeRun {
  via: string;
  runs: Record<string, NativeRun>;
  peakRssMb: number;
}
const results: Record<string, { duck: Duck[]; duckS: number; ours: Ours; before?: Ours; node?: number; native: Native }> = {};
/** BENCH_BEFORE=0 skips the JavaScript engine's ingest (the engine before DuckDB; minutes on CSV). */
const withBefore = process.env.BENCH_BEFORE !== '0';

function nodeApi(file: string): number | undefined {
  const dir = process.env.GHOSTEAM_DUCKDB_NODE_API;
  if (!dir) return undefined;
  const script = `
    const { DuckDBInstance } = require(${JSON.stringify(createRequire(join(dir, 'x.js')).resolve('@duckdb/node-api'))});
    (async () => {
      const db = await DuckDBInstance.create(':memory:');
      const con = await db.connect();
      const src = ${JSON.stringify(file)}.endsWith('.csv') ? "read_csv('${file}')" : "read_parquet('${file}')";
      const aggs = [...Array(14).keys()].map((k) => 'avg(f' + (k + 1) + '), min(f' + (k + 1) + '), max(f' + (k + 1) + '), count(f' + (k + 1) + ')').concat(['count(*)', 'max(id)', 'count(DISTINCT country)', 'max(segment)', 'count(DISTINCT channel)', 'sum(flag::INT)', 'sum(label)']).join(', ');
      const t = performance.now();
      await con.runAndReadAll('SELECT ' + aggs + ' FROM ' + src);
      console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000 }));
    })();`;
  return run(process.execPath, ['-e', script]).seconds as number;
}

const duckdb = (file: string, when: string): Duck => {
  const d = run<Duck>(py, [join(root, 'bench/py/duckdb_data.py'), 'aggregate', file]);
  log(
    `  DuckDB ${d.version} (Python, ${when}): ${d.seconds.toFixed(2)}s (${Math.round(rows / d.seconds).toLocaleString('en-US')} rows/s, ${String(d.threads)} threads), peak RSS ${d.peakRssMb} MiB, load ${loadavg()[0].toFixed(1)}`,
  );
  return d;
};

for (const [fmt, file] of [
  ['csv', csv],
  ['parquet', parquet],
] as const) {
  log(`\n${fmt}: DuckDB (Python) read + aggregate of all 20 columns, before and after ours (the load moves) …`);
  const duck = [duckdb(file, 'before')];
  const node = nodeApi(file);
  if (node !== undefined) log(`  DuckDB in-process from Node (@duckdb/node-api): ${node.toFixed(2)}s`);
  log(`${fmt}: ghosteam ingest (DuckDB engine) → validate (8 expectations + profile) → split, streamed …`);
  const ours = run<Ours>(process.execPath, ['--import', 'tsx', join(root, 'bench/data-run.ts'), file, join(cache, `work-${fmt}`), 'auto']);
  duck.push(duckdb(file, 'after'));
  const duckS = (duck[0].seconds + duck[1].seconds) / 2;
  // The floor of the goal: the same file made into an Arrow IPC dataset by DuckDB's and Arrow's own C++.
  const native = run<Native>(py, [join(root, 'bench/py/duckdb_data.py'), 'native', file, join(cache, `native-${fmt}.arrow`)]);
  const each = Object.entries(native.runs)
    .map(([via, x]) => `${via} ${x.seconds.toFixed(2)}s: read ${x.readS.toFixed(2)}, write ${x.writeS.toFixed(2)}, hash ${x.hashS.toFixed(2)}`)
    .join('; ');
  log(
    `  native reference (read into an Arrow table by DuckDB or by pyarrow, written by pyarrow's IPC writer, SHA-256; no JavaScript): ${native.seconds.toFixed(2)}s via ${native.via} (${each}), peak RSS ${native.peakRssMb} MiB → ${(native.seconds / duckS).toFixed(2)}× DuckDB's read + aggregate`,
  );
  const rps = (s: number) => Math.round(ours.rows / s).toLocaleString('en-US');
  log(
    `  ingest   ${ours.ingestS.toFixed(2)}s (${rps(ours.ingestS)} rows/s, engine ${ours.engine}${ours.fallback ? ` — fell back: ${ours.fallback}` : ''}${ours.passes > 1 ? ', 2 passes' : ''})`,
  );
  log(`  validate ${ours.validateS.toFixed(2)}s (${rps(ours.validateS)} rows/s)`);
  log(`  split    ${ours.splitS.toFixed(2)}s (${rps(ours.splitS)} rows/s)`);
  log(`  peak RSS ${ours.peakRssMb} MiB (goal ≤ 1024)`);
  log(
    `  ingest / DuckDB (mean of the two): ${(ours.ingestS / duckS).toFixed(2)}× (goal ≤ 2×); ingest / native reference: ${(ours.ingestS / native.seconds).toFixed(2)}×`,
  );
  let before: Ours | undefined;
  if (withBefore) {
    log(`${fmt}: before — the same ingest with the JavaScript engine (GHOSTEAM_INGEST_ENGINE=js) …`);
    before = run<Ours>(process.execPath, ['--import', 'tsx', join(root, 'bench/data-run.ts'), file, join(cache, `work-${fmt}-js`), 'js', 'ingest']);
    log(
      `  ingest   ${before.ingestS.toFixed(2)}s (${rps(before.ingestS)} rows/s), peak RSS ${before.peakRssMb} MiB → ${(before.ingestS / duckS).toFixed(2)}× DuckDB`,
    );
    if (before.digest !== ours.digest) throw new Error(`${fmt}: the engines wrote different datasets (${before.digest} vs ${ours.digest})`);
    log(`  the same dataset bytes from both engines: ${ours.digest}`);
  }
  results[fmt] = { duck, duckS, ours, before, node, native };
}
const load1 = loadavg()[0];
log(`\nload average during the run: ${load0.toFixed(1)} → ${load1.toFixed(1)} on ${cpus().length} cores`);
const r = (x: number) => Math.round(x * 100) / 100;
const both = (f: (x: (typeof results)[string]) => number | undefined) => ({ csv: f(results.csv), parquet: f(results.parquet) });
log(
  JSON.stringify({
    rows,
    columns: 20,
    peakRssMb: Math.max(results.csv.ours.peakRssMb, results.parquet.ours.peakRssMb),
    timeVsDuckdb: r(results.csv.ours.ingestS / results.csv.duckS),
    timeVsDuckdbParquet: r(results.parquet.ours.ingestS / results.parquet.duckS),
    beforeTimeVsDuckdb: both((x) => x.before && r(x.before.ingestS / x.duckS)),
    nativeVsDuckdb: both((x) => r(x.native.seconds / x.duckS)),
    timeVsNative: both((x) => r(x.ours.ingestS / x.native.seconds)),
    engine: both((x) => (x.ours.engine === 'duckdb' ? 1 : 0)),
    sameBytes: withBefore ? results.csv.before!.digest === results.csv.ours.digest && results.parquet.before!.digest === results.parquet.ours.digest : null,
    csv: {
      ingestS: r(results.csv.ours.ingestS),
      beforeIngestS: results.csv.before && r(results.csv.before.ingestS),
      validateS: r(results.csv.ours.validateS),
      splitS: r(results.csv.ours.splitS),
      duckdbS: results.csv.duck.map((d) => r(d.seconds)),
      peakRssMb: results.csv.ours.peakRssMb,
      duckdbNodeS: results.csv.node && r(results.csv.node),
      nativeS: r(results.csv.native.seconds),
    },
    parquet: {
      ingestS: r(results.parquet.ours.ingestS),
      beforeIngestS: results.parquet.before && r(results.parquet.before.ingestS),
      validateS: r(results.parquet.ours.validateS),
      splitS: r(results.parquet.ours.splitS),
      duckdbS: results.parquet.duck.map((d) => r(d.seconds)),
      peakRssMb: results.parquet.ours.peakRssMb,
      duckdbNodeS: results.parquet.node && r(results.parquet.node),
      nativeS: r(results.parquet.native.seconds),
    },
    ingestRowsPerSec: Math.round(rows / results.csv.ours.ingestS),
    duckdbPeakRssMb: Math.max(...results.csv.duck.map((d) => d.peakRssMb), ...results.parquet.duck.map((d) => d.peakRssMb)),
    load: r(load1),
    cores: cpus().length,
  }),
);
