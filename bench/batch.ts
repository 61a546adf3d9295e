/**
 * bench:batch: `ghosteam predict` against its limit and against what users write today, in one run,
 * on the same model (the fraud MLP 16 → 64 → 64 → 1, a ghosteam binary classifier) and the same file.
 *
 *   (a) raw onnxruntime-node `session.run` in-process on pre-built [batch, 16] float32 batches (the
 *       limit: no file, no parsing, no output), as many rows as the file has
 *   (b) `ghosteam predict` (the CLI, in a child process) streaming the file into an output of the same
 *       format: kept id, probability, label; atomic write, lineage; peak RSS of that process (VmHWM)
 *       and its CPU seconds (all threads: DuckDB's decoding, onnxruntime's, the JavaScript thread)
 *   (c) a pandas + onnxruntime loop in Python (bench/py/batch_loop.py): pyarrow iter_batches (or
 *       read_csv chunksize) → float32 matrix → InferenceSession.run → ParquetWriter (or to_csv)
 *   and a check that (b)'s and (c)'s outputs agree on the first rows (ids, probabilities, labels).
 *
 * Same intra-op threads and batch size everywhere. The input is written by pyarrow (1M-row groups,
 * as pandas writes them), float64 features: 10M rows are ~1.4 GB of Parquet, larger than the 1 GiB
 * RSS goal, so the peak RSS says whether predict streams.
 *
 * BENCH_ROWS (default 10,000,000), BENCH_FORMAT parquet|csv (default parquet), BENCH_BATCH (65536),
 * BENCH_THREADS (default: the number of cores), BENCH_KEEP=1 keeps the temp directory. Python comes
 * from $GHOSTEAM_PYTHON or the peers' venv (npm run peers:up); without it (c) is null and the input
 * is written by ghosteam's own writer. Prints the load average beside every phase (the machine is
 * shared; a ratio measured under load is only as good as its neighbours). Ends with one JSON line.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { denseNetToOnnx } from '../components/onnx/index.ts';
import { randomDenseNet, seededRandom } from '../components/onnx/random.ts';
import { openWriter } from '../components/batch/index.ts';
import { venvDir, venvPython, VENV_COMPLETE_MARKER } from '../test/peers/config.ts';
// @ts-expect-error a plain .mjs module without type declarations
import { buildIsFresh } from '../bin/build-state.mjs';

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000_000);
const FORMAT = (process.env.BENCH_FORMAT ?? 'parquet') as 'parquet' | 'csv';
const BATCH = Number(process.env.BENCH_BATCH ?? 65536);
const THREADS = Number(process.env.BENCH_THREADS ?? availableParallelism());
const K = 16;
const FEATURES = Array.from({ length: K }, (_, j) => `f${j}`);
const BIN = fileURLToPath(new URL('../bin/ghosteam.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const LOOP = fileURLToPath(new URL('./py/batch_loop.py', import.meta.url));
if (!['parquet', 'csv'].includes(FORMAT)) throw new Error(`BENCH_FORMAT must be parquet or csv; got ${FORMAT}`);

const log = (s: string) => process.stdout.write(s + '\n');
const load = () => loadavg().map((x) => Number(x.toFixed(1)));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function findPython(): string | undefined {
  const peers = existsSync(join(venvDir(), VENV_COMPLETE_MARKER)) ? venvPython() : undefined;
  return [process.env.GHOSTEAM_PYTHON, peers].find((p): p is string => !!p && existsSync(p));
}

/** Runs a command; resolves with stdout, the seconds it took, its peak RSS (VmHWM) and CPU seconds (utime + stime of all its threads), polled from /proc. */
function runChild(cmd: string, args: string[]): Promise<{ stdout: string; seconds: number; peakRssMb: number; cpuSeconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    let ticks = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
        // /proc/PID/stat: fields 14 and 15 (after the parenthesised name) are utime and stime in clock ticks (100 Hz)
        const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
          .replace(/^.*\) /s, '')
          .split(' ');
        ticks = Math.max(ticks, Number(f[11]) + Number(f[12]));
      } catch {
        // exited between polls
      }
    }, 20);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${stderr.slice(-4000)}`));
      else resolve({ stdout, seconds: (performance.now() - t0) / 1000, peakRssMb: peakKb / 1024, cpuSeconds: ticks / 100 });
    });
  });
}

/** The input without Python: ghosteam's own writer, a batch at a time. */
async function makeInputNode(path: string): Promise<void> {
  const rnd = seededRandom(1);
  const w = await openWriter(path, FORMAT, [{ name: 'id', kind: 'int64' }, ...FEATURES.map((name) => ({ name, kind: 'float64' as const }))]);
  for (let s = 0; s < ROWS; s += 1 << 20) {
    const m = Math.min(1 << 20, ROWS - s);
    const id = BigInt64Array.from({ length: m }, (_, i) => BigInt(s + i));
    const cols = FEATURES.map(() => Float64Array.from({ length: m }, () => Math.sqrt(-2 * Math.log(rnd() || 1e-12)) * Math.cos(2 * Math.PI * rnd())));
    await w.write({ rows: m, values: [id, ...cols] });
  }
  await w.finish({});
  const { rename } = await import('node:fs/promises');
  await rename(w.tempPath, path);
}

/** (a) raw session.run over pre-built batches: ROWS rows, cycling 8 distinct batches. */
async function rawRuntime(modelPath: string): Promise<{ rowsPerSec: number; cpuSeconds: number }> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: THREADS, interOpNumThreads: 1 });
  const rnd = seededRandom(2);
  const full = Array.from(
    { length: 8 },
    () =>
      new ort.Tensor(
        'float32',
        Float32Array.from({ length: BATCH * K }, () => rnd() * 2 - 1),
        [BATCH, K],
      ),
  );
  const lastRows = ROWS % BATCH;
  const last = lastRows
    ? new ort.Tensor(
        'float32',
        Float32Array.from({ length: lastRows * K }, () => rnd() * 2 - 1),
        [lastRows, K],
      )
    : undefined;
  const name = session.inputNames[0];
  await session.run({ [name]: full[0] }); // warm-up
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let i = 0;
  for (let done = 0; done < ROWS; i++) {
    const t = ROWS - done >= BATCH ? full[i % 8] : last!;
    await session.run({ [name]: t });
    done += t.dims[0];
  }
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  await session.release();
  return { rowsPerSec: ROWS / seconds, cpuSeconds: (c.user + c.system) / 1e6 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-bench-batch-'));
  const python = findPython();
  const input = join(dir, `in.${FORMAT}`);
  const modelPath = join(dir, 'fraud.onnx');
  writeFileSync(modelPath, denseNetToOnnx({ ...randomDenseNet([K, 64, 64, 1], 3), featureNames: FEATURES, classes: ['ok', 'fraud'] }));
  log(
    `bench:batch — ${fmt(ROWS)} rows × ${K} float64 features + int64 id, ${FORMAT}; fraud MLP ${K} → 64 → 64 → 1; batch ${BATCH}, ${THREADS} intra-op threads`,
  );
  log(`cores ${availableParallelism()}, load average ${load().join(' ')}`);

  let t0 = performance.now();
  if (python) await runChild(python, [LOOP, 'make', input, String(ROWS), String(K)]);
  else await makeInputNode(input);
  const inputMb = statSync(input).size / 2 ** 20;
  log(
    `input: ${inputMb.toFixed(0)} MiB written by ${python ? 'pyarrow' : "ghosteam's writer (no Python)"} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // (a) the limit
  let la = load();
  const raw = await rawRuntime(modelPath);
  const rawRowsPerSec = raw.rowsPerSec;
  log(
    `(a) raw onnxruntime-node session.run, pre-built batches: ${fmt(rawRowsPerSec)} rows/s, ${raw.cpuSeconds.toFixed(1)} CPU s   [load ${la[0]} → ${load()[0]}]`,
  );

  // (b) ghosteam predict, the CLI in its own process, as installed: the compiled build (npm install
  // makes it; bin/ghosteam.mjs would otherwise transpile every module through tsx at start).
  if (!buildIsFresh(ROOT)) {
    const tb = performance.now();
    await runChild(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--quiet']);
    log(`build/ was older than the sources: rebuilt (npm run build) in ${((performance.now() - tb) / 1000).toFixed(1)} s, not counted`);
  }
  la = load();
  const out = join(dir, `out-ghosteam.${FORMAT}`);
  const g = await runChild(process.execPath, [
    BIN,
    'predict',
    '--model',
    modelPath,
    '--input',
    input,
    '--output',
    out,
    '--batch-size',
    String(BATCH),
    '--threads',
    String(THREADS),
    '--no-progress',
  ]);
  const lineage = JSON.parse(readFileSync(`${out}.lineage.json`, 'utf8')) as { input: { rows: number }; startedAt: string; finishedAt: string };
  if (lineage.input.rows !== ROWS) throw new Error(`ghosteam predict wrote ${lineage.input.rows} rows; expected ${ROWS}`);
  // rows/s over the whole command (process start, model load, input digest and the atomic commit included)
  const rowsPerSec = ROWS / g.seconds;
  log(
    `(b) ghosteam predict (CLI, whole command): ${fmt(rowsPerSec)} rows/s in ${g.seconds.toFixed(1)} s, ${g.cpuSeconds.toFixed(1)} CPU s, peak RSS ${g.peakRssMb.toFixed(0)} MiB   [load ${la[0]} → ${load()[0]}]`,
  );

  // (c) the pandas + onnxruntime loop
  let pythonRowsPerSec: number | null = null;
  let pythonPeakRssMb: number | null = null;
  let pythonCpuSeconds: number | null = null;
  let agreement: unknown = null;
  if (python) {
    la = load();
    const pout = join(dir, `out-python.${FORMAT}`);
    const t1 = performance.now();
    const p = await runChild(python, [LOOP, 'loop', modelPath, input, pout, String(BATCH), String(THREADS), JSON.stringify(FEATURES)]);
    const seconds = (performance.now() - t1) / 1000; // the whole command too, interpreter start and imports included
    const r = JSON.parse(p.stdout.trim().split('\n').pop()!) as { rows: number; seconds: number; peakRssMb: number };
    if (r.rows !== ROWS) throw new Error(`the Python loop read ${r.rows} rows; expected ${ROWS}`);
    pythonRowsPerSec = ROWS / seconds;
    pythonPeakRssMb = r.peakRssMb;
    pythonCpuSeconds = p.cpuSeconds;
    log(
      `(c) pandas + onnxruntime loop (Python, whole command): ${fmt(pythonRowsPerSec)} rows/s in ${seconds.toFixed(1)} s (loop alone ${fmt(ROWS / r.seconds)} rows/s), ${p.cpuSeconds.toFixed(1)} CPU s, peak RSS ${r.peakRssMb.toFixed(0)} MiB   [load ${la[0]} → ${load()[0]}]`,
    );
    const c = await runChild(python, [LOOP, 'compare', out, pout, String(Math.min(ROWS, 100_000))]);
    const cmp = JSON.parse(c.stdout.trim()) as { rows: number; maxProbabilityDiff: number; labelMismatches: number; idMismatches: number };
    agreement = cmp;
    log(
      `    outputs agree on the first ${fmt(cmp.rows)} rows: ids ${cmp.idMismatches} apart, labels ${cmp.labelMismatches} apart, max |Δp| ${cmp.maxProbabilityDiff.toExponential(2)}`,
    );
    if (cmp.idMismatches || cmp.labelMismatches || cmp.maxProbabilityDiff > 1e-5)
      throw new Error(`ghosteam's and the Python loop's outputs differ: ${JSON.stringify(cmp)}`);
  } else log('(c) skipped: no Python with pandas and onnxruntime (set GHOSTEAM_PYTHON or run npm run peers:up)');

  const vsRawRuntime = rowsPerSec / rawRowsPerSec;
  const vsPythonLoop = pythonRowsPerSec ? rowsPerSec / pythonRowsPerSec : null;
  log(
    `ghosteam predict: ${vsRawRuntime.toFixed(2)}× raw session.run (goal ≥ 0.8), ${vsPythonLoop === null ? 'n/a' : vsPythonLoop.toFixed(2) + '×'} the Python loop (goal ≥ 3), peak RSS ${g.peakRssMb.toFixed(0)} MiB on a ${inputMb.toFixed(0)} MiB file (goal < 1024)`,
  );
  // CPU seconds per row hold up better than wall time on a shared machine (the wall-clock ratios
  // above are only as good as the neighbours' load); printed beside, not judged.
  const cpuVsRaw = raw.cpuSeconds / g.cpuSeconds;
  const cpuVsPython = pythonCpuSeconds ? pythonCpuSeconds / g.cpuSeconds : null;
  log(
    `CPU seconds for the ${fmt(ROWS)} rows: raw ${raw.cpuSeconds.toFixed(1)}, ghosteam predict ${g.cpuSeconds.toFixed(1)} (${cpuVsRaw.toFixed(2)}× raw's rows per CPU second), Python loop ${pythonCpuSeconds === null ? 'n/a' : pythonCpuSeconds.toFixed(1) + ` (ghosteam ${cpuVsPython!.toFixed(2)}× its rows per CPU second)`}`,
  );
  log(`load average at the end ${load().join(' ')}`);
  if (process.env.BENCH_KEEP === '1') log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  log(
    JSON.stringify({
      bench: 'batch',
      rows: ROWS,
      format: FORMAT,
      batchRows: BATCH,
      threads: THREADS,
      inputMb: Math.round(inputMb),
      rowsPerSec: Math.round(rowsPerSec),
      rawRowsPerSec: Math.round(rawRowsPerSec),
      pythonRowsPerSec: pythonRowsPerSec === null ? null : Math.round(pythonRowsPerSec),
      vsRawRuntime: Number(vsRawRuntime.toFixed(3)),
      vsPythonLoop: vsPythonLoop === null ? null : Number(vsPythonLoop.toFixed(3)),
      peakRssMb: Math.round(g.peakRssMb),
      pythonPeakRssMb: pythonPeakRssMb === null ? null : Math.round(pythonPeakRssMb),
      cpuSeconds: {
        raw: Number(raw.cpuSeconds.toFixed(2)),
        ghosteam: Number(g.cpuSeconds.toFixed(2)),
        python: pythonCpuSeconds === null ? null : Number(pythonCpuSeconds.toFixed(2)),
      },
      cpuVsRawRuntime: Number(cpuVsRaw.toFixed(3)),
      cpuVsPythonLoop: cpuVsPython === null ? null : Number(cpuVsPython.toFixed(3)),
      agreement,
      cores: availableParallelism(),
      loadAverage: load(),
    }),
  );
}

await main();
