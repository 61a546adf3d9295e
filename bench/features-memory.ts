/**
 * bench:features-memory — the out-of-core goal: the get-historical-features step joins
 * ROWS entity rows (default 10M) × 3 feature views × 10 features (10,000 drivers × 20 rows per view)
 * within 1 GiB of resident memory. The data are written first (Arrow files, in a separate process),
 * then the step runs in a fresh process as a pipeline runs it (`runComponent`: entity rows streamed a
 * record batch at a time); that process reports its peak RSS (getrusage maxrss). Same run, as the
 * baseline: the whole-table path (readDataset + getHistoricalFeatures + writeDataset, what the step
 * did before) on BASELINE_ROWS (default 1M) rows. Env: BENCH_ROWS, BENCH_BASELINE_ROWS.
 * The last line is JSON.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureViewSpec } from '../api/crds/types.ts';
import { readDataset, writeDataset, type Column, type Dataset } from '../components/dataset/index.ts';
import { readDatasetChunks, writeDatasetChunks } from '../components/dataset/stream.ts';
import { getHistoricalFeaturesComponent } from '../components/features/component.ts';
import { getHistoricalFeatures } from '../components/features/historical.ts';
import { runComponent } from '../components/run.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000_000);
const BASELINE_ROWS = Number(process.env.BENCH_BASELINE_ROWS ?? 1_000_000);
const DRIVERS = 10_000;
const PER_DRIVER = 20;
const FEATURES = 10;
const VIEWS = ['driver_hourly', 'driver_daily', 'driver_quality'];
const T0 = Date.parse('2026-10-01T00:00:00Z');
const SPAN = 30 * 86_400_000;
/** Rows per record batch of the entity file: what ingest's writer and pyarrow's Feather writer use. */
const CHUNK = 65_536;
/** Event times as Arrow carries them to the reader here: RFC 3339 text (whole seconds). */
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString();

const viewSpec = (name: string): FeatureViewSpec => ({
  entities: [{ name: 'driver', joinKeys: [{ name: 'driver_id', type: 'int64' }] }],
  source: { kind: 'file', uri: `${name}.arrow`, format: 'arrow', timestampField: 'ts' },
  ttlSeconds: 7 * 86_400,
  features: Array.from({ length: FEATURES }, (_, j) => ({ name: `${name}_f${j}`, type: 'float64' as const })),
  online: false,
});

/** A seeded stream of numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function num(name: string, values: Float64Array): Column {
  return { name, type: 'numeric', values };
}

async function gen(dir: string, rows: number, entitiesFile: string): Promise<void> {
  for (const [v, name] of VIEWS.entries()) {
    const n = DRIVERS * PER_DRIVER;
    const r = rng(v + 1);
    const id = new Float64Array(n);
    const ts: string[] = new Array<string>(n);
    const cols = Array.from({ length: FEATURES }, () => new Float64Array(n));
    for (let i = 0; i < n; i++) {
      id[i] = (i % DRIVERS) + 1;
      ts[i] = iso(T0 + Math.floor(r() * SPAN));
      for (const c of cols) c[i] = r();
    }
    await writeDataset(join(dir, `${name}.arrow`), {
      rows: n,
      columns: [num('driver_id', id), { name: 'ts', type: 'string', values: ts }, ...cols.map((c, j) => num(`${name}_f${j}`, c))],
    });
  }
  const r = rng(99);
  await writeDatasetChunks(
    join(dir, entitiesFile),
    (function* () {
      for (let off = 0; off < rows; off += CHUNK) {
        const n = Math.min(CHUNK, rows - off);
        const id = new Float64Array(n);
        const ts: string[] = new Array<string>(n);
        const label = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          id[i] = 1 + Math.floor(r() * DRIVERS);
          ts[i] = iso(T0 + Math.floor(r() * SPAN));
          label[i] = r() < 0.1 ? 1 : 0;
        }
        yield { rows: n, columns: [num('driver_id', id), { name: 'event_timestamp', type: 'string', values: ts }, num('label', label)] } satisfies Dataset;
      }
    })(),
  );
}

const refs = VIEWS.flatMap((v) => Array.from({ length: FEATURES }, (_, j) => `${v}:${v}_f${j}`));
const views = Object.fromEntries(VIEWS.map((v) => [v, viewSpec(v)]));

async function child(mode: string, dir: string): Promise<void> {
  process.chdir(dir);
  const t = performance.now();
  let rows = 0;
  if (mode === 'stream') {
    const out = await runComponent(getHistoricalFeaturesComponent, {
      inputs: { entities: join(dir, 'entities.arrow') },
      outputs: { dataset: join(dir, 'out.arrow') },
      params: { views: JSON.parse(JSON.stringify(views)), features: refs },
    });
    rows = Number(out.rows);
  } else {
    // What the step did before: the whole entity table, the whole training set, in memory.
    const data = await Promise.all(VIEWS.map(async (v) => ({ name: v, spec: views[v], data: await readDataset(join(dir, `${v}.arrow`)) })));
    const ds = getHistoricalFeatures(await readDataset(join(dir, 'baseline.arrow')), data, refs, { where: 'entities' });
    await writeDataset(join(dir, 'baseline-out.arrow'), ds);
    rows = ds.rows;
  }
  const seconds = (performance.now() - t) / 1000;
  process.stdout.write(`${JSON.stringify({ rows, seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args[0]} exited ${code}: ${out}`))));
  });
}

const last = <T>(s: string): T => JSON.parse(s.trim().split('\n').pop()!) as T;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

if (process.argv[2] === 'gen') await gen(process.argv[3], Number(process.argv[4]), process.argv[5]);
else if (process.argv[2] === 'stream' || process.argv[2] === 'whole') await child(process.argv[2], process.argv[3]);
else {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-bench-features-memory-'));
  try {
    process.stdout.write(`bench:features-memory — ${ROWS} entity rows × ${VIEWS.length} views × ${FEATURES} features; load ${load()}\n`);
    await run(['gen', dir, String(ROWS), 'entities.arrow']);
    await run(['gen', dir, String(BASELINE_ROWS), 'baseline.arrow']);
    const stream = last<{ rows: number; seconds: number; maxRssMiB: number }>(await run(['stream', dir]));
    // Checked: the streamed training set has every row, and (on its first batch) the whole-table join's values.
    let checked = 0;
    for await (const c of readDatasetChunks(join(dir, 'out.arrow'))) {
      if (c.columns.length !== 3 + refs.length) throw new Error(`the training set has ${c.columns.length} columns, not ${3 + refs.length}`);
      checked += c.rows;
    }
    if (checked !== ROWS) throw new Error(`the training set has ${checked} rows, not ${ROWS}`);
    process.stdout.write(
      `streamed step: ${ROWS} rows in ${stream.seconds.toFixed(1)} s, peak RSS ${stream.maxRssMiB.toFixed(0)} MiB (output ${(statSync(join(dir, 'out.arrow')).size / 2 ** 20).toFixed(0)} MiB); load ${load()}\n`,
    );
    const whole = last<{ rows: number; seconds: number; maxRssMiB: number }>(await run(['whole', dir]));
    process.stdout.write(
      `whole-table join (before): ${BASELINE_ROWS} rows in ${whole.seconds.toFixed(1)} s, peak RSS ${whole.maxRssMiB.toFixed(0)} MiB; load ${load()}\n`,
    );
    process.stdout.write(
      `${JSON.stringify({
        rows: ROWS,
        views: VIEWS.length,
        featuresPerView: FEATURES,
        streamPeakRssMiB: Math.round(stream.maxRssMiB),
        withinOneGiB: stream.maxRssMiB <= 1024,
        streamSeconds: Number(stream.seconds.toFixed(1)),
        baselineRows: BASELINE_ROWS,
        wholeTablePeakRssMiB: Math.round(whole.maxRssMiB),
        wholeTableSeconds: Number(whole.seconds.toFixed(1)),
        load: loadavg().map((x) => Number(x.toFixed(2))),
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
