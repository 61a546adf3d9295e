/**
 * npm run bench:drift
 *  (1) KS on 1e6 vs 1e6 rows of one column: ghosteam (sort + ks2samp) vs scipy.stats.ks_2samp, same run.
 *  (2) full `auto` report over 1e6 rows × 100 numeric columns (reference > 1000 rows → normed Wasserstein;
 *      Jensen-Shannon for low-cardinality columns), worker threads, peak RSS; plus `--tests ks` on the
 *      same data, and scipy's ks_2samp on 10 of the columns (×10 = its estimate for 100).
 *  (3) streaming summaries over 10,000,000 logged rows × 20 columns read as payload-log JSON Lines
 *      (rows/s, RSS sampled per window).
 * Sizes scale with DRIFT_BENCH_SCALE (default 1). Python comes from the peers harness (or PEERS_PYTHON);
 * without it the scipy baselines are reported as null. Ends with one line of JSON.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../components/random.ts';
import { buildReferenceSummary, detectDriftParallel, ks2samp, sortNumeric, summarizePayloadLog, type ColumnData } from '../components/drift/index.ts';
import { usePeers } from '../test/peers/index.ts';

const scale = Number(process.env.DRIFT_BENCH_SCALE ?? '1');
const N1 = Math.round(1_000_000 * scale);
const ROWS2 = Math.round(1_000_000 * scale);
const COLS2 = 100;
const ROWS3 = Math.round(10_000_000 * scale);
const COLS3 = 20;

const rand = mulberry32(42);
const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const dir = mkdtempSync(join(tmpdir(), 'bench-drift-'));
const mb = (b: number) => Math.round(b / 1048576);
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
/** Process CPU seconds (all threads): on a shared machine this is steadier than wall time. */
const cpuSec = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const loadAvg = () => Number(loadavg()[0].toFixed(1));

let python: string | null = null;
try {
  const peers = await usePeers(['python']);
  python = peers.skip ? (process.env.PEERS_PYTHON ?? null) : peers.python;
} catch {
  python = process.env.PEERS_PYTHON ?? null;
}
if (!python) console.log('no python peer (npm run peers:up, or PEERS_PYTHON): scipy baselines skipped');

function writeF64(path: string, arrays: Float64Array[]): void {
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const buf = new Float64Array(total);
  let o = 0;
  for (const a of arrays) {
    buf.set(a, o);
    o += a.length;
  }
  writeFileSync(path, Buffer.from(buf.buffer));
}

/** scipy.stats.ks_2samp over `cols` column pairs: wall seconds (CPU seconds are in scipyCpu). */
let scipyCpu = 0;
function scipyKs(cols: number, rows1: number, rows2: number, file: string): number | null {
  if (!python) return null;
  const code = `
import sys, time, numpy as np
from scipy import stats
d = np.fromfile(sys.argv[1], dtype='<f8')
cols, n1, n2 = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = time.perf_counter()
c0 = time.process_time()
off = 0
for c in range(cols):
    a = d[off:off+n1]; off += n1
    b = d[off:off+n2]; off += n2
    stats.ks_2samp(a, b)
print(time.perf_counter() - t, time.process_time() - c0)
`;
  const out = execFileSync(python, ['-c', code, file, String(cols), String(rows1), String(rows2)], { encoding: 'utf8' });
  const [wall, cpu] = out.trim().split(/\s+/).map(Number);
  scipyCpu = cpu;
  return wall;
}

// ---------------------------------------------------------------- (1) KS 1e6 vs 1e6
const a = Float64Array.from({ length: N1 }, normal);
const b = Float64Array.from({ length: N1 }, () => normal() * 1.01 + 0.002);
let best = Infinity;
let ksCpu = Infinity;
let ks = ks2samp(new Float64Array([0]), new Float64Array([1]));
for (let rep = 0; rep < 5; rep++) {
  const t = performance.now();
  const c = cpuSec();
  ks = ks2samp(sortNumeric(a).sorted, sortNumeric(b).sorted);
  best = Math.min(best, performance.now() - t);
  ksCpu = Math.min(ksCpu, cpuSec() - c);
}
const ksFile = join(dir, 'ks.f64');
writeF64(ksFile, [a, b]);
let scipyBest: number | null = null;
let scipyBestCpu: number | null = null;
if (python) {
  for (let rep = 0; rep < 5; rep++) {
    const s = scipyKs(1, N1, N1, ksFile)! * 1000;
    scipyBest = scipyBest === null ? s : Math.min(scipyBest, s);
    scipyBestCpu = scipyBestCpu === null ? scipyCpu * 1000 : Math.min(scipyBestCpu, scipyCpu * 1000);
  }
}
rmSync(ksFile);
const ksRatio = scipyBest === null ? null : scipyBest / best;
console.log(
  `(1) KS ${N1} vs ${N1}: ghosteam ${best.toFixed(0)} ms (D=${ks.statistic.toPrecision(4)}, p=${ks.pValue.toPrecision(4)}), scipy ${scipyBest === null ? 'n/a' : `${scipyBest.toFixed(0)} ms`}${ksRatio ? `, ghosteam ${ksRatio.toFixed(2)}x faster` : ''}; CPU time ${(ksCpu * 1000).toFixed(0)} ms vs ${scipyBestCpu === null ? 'n/a' : `${scipyBestCpu.toFixed(0)} ms`}`,
);

// ---------------------------------------------------------------- (2) auto report, 1e6 × 100
const refCols: ColumnData[] = [];
const curCols: ColumnData[] = [];
for (let j = 0; j < COLS2; j++) {
  const lowCard = j % 10 === 9; // every tenth column has 4 distinct values → Jensen-Shannon
  const gen = (shift: number) => Float64Array.from({ length: ROWS2 }, () => (lowCard ? Math.floor(rand() * 4) : normal() + shift + (j % 7)));
  refCols.push({ name: `f${j}`, type: 'numeric', values: gen(0) });
  curCols.push({ name: `f${j}`, type: 'numeric', values: gen(j % 3 === 0 ? 0.2 : 0) });
}
const rssBefore2 = process.memoryUsage().rss;
let t = performance.now();
let c0 = cpuSec();
const auto = await detectDriftParallel(refCols, curCols, { histograms: true });
const autoMs = performance.now() - t;
const autoCpu = cpuSec() - c0;
const tests = [...new Set(auto.columns.map((c) => c.test))];
console.log(
  `(2) auto report ${ROWS2} rows × ${COLS2} columns: ${(autoMs / 1000).toFixed(2)} s (${tests.join(' + ')}; ${auto.driftedColumns} drifted), RSS ${mb(process.memoryUsage().rss)} MiB (inputs ${mb(COLS2 * ROWS2 * 16)} MiB), peak RSS ${peakRssMb()} MiB; ${autoCpu.toFixed(1)} CPU-s over ${availableParallelism()} cores (load average ${loadAvg()})`,
);
t = performance.now();
await detectDriftParallel(refCols, curCols, { tests: 'ks', histograms: false });
const ksAllMs = performance.now() - t;
let scipy10: number | null = null;
let scipy10Cpu: number | null = null;
if (python) {
  const f = join(dir, 'wide.f64');
  const parts: Float64Array[] = [];
  for (let j = 0; j < 10; j++) parts.push(refCols[j].values as Float64Array, curCols[j].values as Float64Array);
  writeF64(f, parts);
  scipy10 = scipyKs(10, ROWS2, ROWS2, f);
  scipy10Cpu = scipyCpu;
  rmSync(f);
}
const scipy100 = scipy10 === null ? null : scipy10 * 10;
console.log(
  `    same data, --tests ks on all columns: ${(ksAllMs / 1000).toFixed(2)} s; scipy ks_2samp on 10 columns ${scipy10 === null ? 'n/a' : `${scipy10.toFixed(2)} s → ~${scipy100!.toFixed(1)} s for 100 (ghosteam auto ${(scipy100! / (autoMs / 1000)).toFixed(1)}x, ks ${(scipy100! / (ksAllMs / 1000)).toFixed(1)}x faster; scipy CPU ~${(scipy10Cpu! * 10).toFixed(1)} s for 100)`}`,
);
const rssAfter2 = process.memoryUsage().rss;
refCols.length = 0;
curCols.length = 0;

// ---------------------------------------------------------------- (3) streaming summaries over a payload log
const refStream: ColumnData[] = Array.from({ length: COLS3 }, (_, j) => ({
  name: `x${j}`,
  type: 'numeric' as const,
  values: Float64Array.from({ length: 200_000 }, () => normal() + j),
}));
const summary = buildReferenceSummary(refStream);
const features = refStream.map((c) => c.name);
refStream.length = 0;
const ROWS_PER_RECORD = 1000;
const RECORDS_PER_CHUNK = 100;
const chunkLines: string[] = [];
for (let r = 0; r < RECORDS_PER_CHUNK; r++) {
  const data: number[] = new Array(ROWS_PER_RECORD * COLS3);
  for (let i = 0; i < ROWS_PER_RECORD; i++) for (let j = 0; j < COLS3; j++) data[i * COLS3 + j] = Math.fround(normal() + j + 0.05);
  chunkLines.push(
    JSON.stringify({
      ts: new Date(Date.UTC(2026, 10, 23, 0, 0, r)).toISOString(),
      model: 'fraud',
      version: '2',
      id: `req-${r}`,
      inputs: { input: { shape: [ROWS_PER_RECORD, COLS3], datatype: 'FP32', data } },
      outputs: { score: { shape: [ROWS_PER_RECORD, 1], datatype: 'FP32', data: new Array(ROWS_PER_RECORD).fill(0.5) } },
    }),
  );
}
const chunk = chunkLines.join('\n') + '\n';
const repeats = Math.ceil(ROWS3 / (ROWS_PER_RECORD * RECORDS_PER_CHUNK));
const rssSamples: number[] = [];
async function* logStream(): AsyncGenerator<string> {
  for (let i = 0; i < repeats; i++) {
    if (i % Math.max(1, Math.floor(repeats / 10)) === 0) rssSamples.push(process.memoryUsage().rss);
    yield chunk;
  }
}
t = performance.now();
c0 = cpuSec();
const res = await summarizePayloadLog(logStream(), summary, { features, window: { count: 1_000_000 } });
const streamMs = performance.now() - t;
const streamCpu = cpuSec() - c0;
const streamedRows = res.windows.reduce((s, w) => s + w.rows, 0);
const rowsPerSec = streamedRows / (streamMs / 1000);
const summaryBytes = JSON.stringify(res.windows[0].summary).length;
console.log(
  `(3) streaming ${streamedRows} logged rows × ${COLS3} columns (${((chunk.length * repeats) / 1e9).toFixed(2)} GB of JSON Lines): ${(streamMs / 1000).toFixed(1)} s, ${Math.round(rowsPerSec).toLocaleString('en-US')} rows/s; ${res.windows.length} windows of 1e6 rows, ${Math.round(summaryBytes / 1024)} KiB per window summary; RSS while streaming ${mb(Math.min(...rssSamples))}–${mb(Math.max(...rssSamples))} MiB; ${streamCpu.toFixed(1)} CPU-s (${Math.round(streamedRows / streamCpu).toLocaleString('en-US')} rows per CPU-s)`,
);
rmSync(dir, { recursive: true, force: true });

console.log(
  JSON.stringify({
    bench: 'drift',
    scale,
    loadAverage: loadAvg(),
    ks1e6: {
      ghosteamMs: Math.round(best),
      ghosteamCpuMs: Math.round(ksCpu * 1000),
      scipyMs: scipyBest === null ? null : Math.round(scipyBest),
      scipyCpuMs: scipyBestCpu === null ? null : Math.round(scipyBestCpu),
      ratio: ksRatio === null ? null : Number(ksRatio.toFixed(2)),
    },
    autoReport: {
      rows: ROWS2,
      columns: COLS2,
      seconds: Number((autoMs / 1000).toFixed(2)),
      cpuSeconds: Number(autoCpu.toFixed(1)),
      tests,
      ksAllSeconds: Number((ksAllMs / 1000).toFixed(2)),
      scipyKs100EstimateSeconds: scipy100 === null ? null : Number(scipy100.toFixed(1)),
      scipyKs100EstimateCpuSeconds: scipy10Cpu === null ? null : Number((scipy10Cpu * 10).toFixed(1)),
      rssBeforeMiB: mb(rssBefore2),
      rssAfterMiB: mb(rssAfter2),
      peakRssMiB: peakRssMb(),
    },
    streaming: {
      rows: streamedRows,
      columns: COLS3,
      seconds: Number((streamMs / 1000).toFixed(1)),
      cpuSeconds: Number(streamCpu.toFixed(1)),
      rowsPerSec: Math.round(rowsPerSec),
      rowsPerCpuSec: Math.round(streamedRows / streamCpu),
      rssMinMiB: mb(Math.min(...rssSamples)),
      rssMaxMiB: mb(Math.max(...rssSamples)),
      windowSummaryKiB: Math.round(summaryBytes / 1024),
    },
  }),
);
