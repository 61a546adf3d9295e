/**
 * bench:optimize: ghosteam's INT8 dynamic quantization against onnxruntime's own
 * (`onnxruntime.quantization.quantize_dynamic`, PyPI, in the peers' venv) on the same model, in one run.
 *
 * The model: a scikit-learn MLPClassifier (BENCH_K features → BENCH_H1 → BENCH_H2 → 2; default
 * 64 → 512 → 256 → 2) exported by skl2onnx (MatMul + Add + ZipMap), trained on make_classification,
 * with a held-out validation table (4,000 rows). Three files: the original, `ghosteam optimize --int8`'s
 * and quantize_dynamic's. For each:
 *   - size on disk;
 *   - latency at batch 1 and 64: median `session.run` in onnxruntime-node (1 intra-op thread, as the
 *     report measures), the three models interleaved round by round (BENCH_ROUNDS, default 10) so a
 *     neighbour's load falls on all of them alike; and the same in onnxruntime Python, as a cross-check
 *     that the comparison is about the models, not the runtime;
 *   - ROC AUC on the validation table scored by onnxruntime Python (scikit-learn's roc_auc_score), and
 *     the delta against the original.
 * Goals (issue #21): ghosteam's INT8 model within 5% of onnxruntime's in latency (ours ≤ 1.05× theirs
 * at both batch sizes), and its metric drop no larger than theirs.
 *
 * Needs the peers' Python (npm run peers:up) or $GHOSTEAM_PYTHON with onnxruntime, skl2onnx and
 * scikit-learn. Prints the load average beside each phase. Ends with one JSON line.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { optimizeModel } from '../components/optimize/index.ts';
import { latencyMs } from '../components/optimize/evaluate.ts';
import { venvDir, venvPython, VENV_COMPLETE_MARKER } from '../test/peers/config.ts';

const run = promisify(execFile);
const K = Number(process.env.BENCH_K ?? 64);
const H1 = Number(process.env.BENCH_H1 ?? 512);
const H2 = Number(process.env.BENCH_H2 ?? 256);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const ORACLE = fileURLToPath(new URL('./py/optimize_oracle.py', import.meta.url));

const log = (s: string) => process.stdout.write(s + '\n');
const load = () => loadavg().map((x) => Number(x.toFixed(1)));
const r3 = (x: number) => Number(x.toPrecision(3));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function findPython(): string {
  const peers = existsSync(join(venvDir(), VENV_COMPLETE_MARKER)) ? venvPython() : undefined;
  const py = [process.env.GHOSTEAM_PYTHON, process.env.PEERS_PYTHON, peers].find((p): p is string => !!p && existsSync(p));
  if (!py) throw new Error('bench:optimize needs Python with onnxruntime and skl2onnx: run `npm run peers:up` (or set GHOSTEAM_PYTHON)');
  return py;
}

async function py<T>(python: string, ...args: string[]): Promise<T> {
  const { stdout } = await run(python, [ORACLE, ...args], { timeout: 900_000, maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as T;
}

async function main(): Promise<void> {
  const python = findPython();
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-bench-optimize-'));
  try {
    log(`bench:optimize  MLP ${K} → ${H1} → ${H2} → 2 (scikit-learn, skl2onnx), load ${load().join(' ')}`);
    const made = await py<{ trainSeconds: number; quantizeSeconds: number }>(python, 'make', dir, String(K), String(H1), String(H2));
    const original = join(dir, 'mlp.onnx');
    const theirs = join(dir, 'mlp.ort-int8.onnx');
    const ours = join(dir, 'mlp.int8.onnx');
    const valid = join(dir, 'valid.csv');
    const features = Array.from({ length: K }, (_, i) => `f${i}`);

    const t0 = performance.now();
    const report = await optimizeModel({ model: original, out: ours, int8: true, noLatency: true });
    const oursSeconds = (performance.now() - t0) / 1000;
    log(`quantize: ghosteam ${r3(oursSeconds)} s (in-process, graph + int8 + load check), onnxruntime quantize_dynamic ${r3(made.quantizeSeconds)} s`);
    log(`  ghosteam quantized ${report.int8!.quantized.length} MatMul weights; ${report.int8!.skipped.length} left in float`);

    const size = { original: statSync(original).size, ghosteam: statSync(ours).size, onnxruntime: statSync(theirs).size };
    log(
      `size:     original ${size.original.toLocaleString('en-US')} B, ghosteam ${size.ghosteam.toLocaleString('en-US')} B (${r3(size.ghosteam / size.original)}×), onnxruntime ${size.onnxruntime.toLocaleString('en-US')} B (${r3(size.onnxruntime / size.original)}×)`,
    );

    // Latency in onnxruntime-node: the three models interleaved, round by round.
    const files = { original, ghosteam: ours, onnxruntime: theirs } as const;
    const bytes = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, new Uint8Array(readFileSync(f))])) as Record<keyof typeof files, Uint8Array>;
    const samples: Record<string, number[]> = {};
    const loads: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      loads.push(loadavg()[0]);
      for (const name of Object.keys(files) as (keyof typeof files)[])
        for (const b of [1, 64]) (samples[`${name}/${b}`] ??= []).push(await latencyMs(bytes[name], b, { runs: RUNS, threads: 1 }));
    }
    const lat = (name: keyof typeof files) => ({ batch1: median(samples[`${name}/1`]), batch64: median(samples[`${name}/64`]) });
    const node = { original: lat('original'), ghosteam: lat('ghosteam'), onnxruntime: lat('onnxruntime') };
    log(
      `latency (onnxruntime-node, 1 thread, median of ${ROUNDS} interleaved rounds × ${RUNS} runs; load ${r3(Math.min(...loads))}–${r3(Math.max(...loads))}):`,
    );
    for (const [k, v] of Object.entries(node)) log(`  ${k.padEnd(12)} batch 1 ${r3(v.batch1 * 1000)} µs   batch 64 ${r3(v.batch64 * 1000)} µs`);
    const ratio = { batch1: node.ghosteam.batch1 / node.onnxruntime.batch1, batch64: node.ghosteam.batch64 / node.onnxruntime.batch64 };
    log(
      `  ghosteam / onnxruntime: batch 1 ${r3(ratio.batch1)}×, batch 64 ${r3(ratio.batch64)}×   (INT8 vs float32: batch 64 ${r3(node.original.batch64 / node.ghosteam.batch64)}× faster)`,
    );

    const pyLat = await py<{ model: string; batch1: number; batch64: number }[]>(python, 'latency', String(RUNS * ROUNDS), original, ours, theirs);
    const [pyO, pyG, pyT] = pyLat;
    log(`latency (onnxruntime Python, same settings, load ${load()[0]}):`);
    for (const [k, v] of [
      ['original', pyO],
      ['ghosteam', pyG],
      ['onnxruntime', pyT],
    ] as const)
      log(`  ${k.padEnd(12)} batch 1 ${r3(v.batch1 * 1000)} µs   batch 64 ${r3(v.batch64 * 1000)} µs`);
    const pyRatio = { batch1: pyG.batch1 / pyT.batch1, batch64: pyG.batch64 / pyT.batch64 };
    log(`  ghosteam / onnxruntime: batch 1 ${r3(pyRatio.batch1)}×, batch 64 ${r3(pyRatio.batch64)}×`);

    const scored = await py<{ model: string; auc: number }[]>(python, 'score', valid, original, ours, theirs);
    const [aO, aG, aT] = scored.map((s) => s.auc);
    const delta = { ghosteam: aG - aO, onnxruntime: aT - aO };
    log(
      `ROC AUC on 4,000 held-out rows (onnxruntime Python + scikit-learn): original ${aO.toFixed(6)}, ghosteam ${aG.toFixed(6)} (delta ${delta.ghosteam.toExponential(2)}), onnxruntime ${aT.toFixed(6)} (delta ${delta.onnxruntime.toExponential(2)})`,
    );
    // ghosteam's own report figure, on the same table through onnxruntime-node.
    const own = await optimizeModel({
      model: original,
      out: join(dir, 'mlp.int8.check.onnx'),
      int8: true,
      noLatency: true,
      validation: { file: valid, label: 'y', features },
    });
    log(
      `  ghosteam's report (onnxruntime-node): roc_auc ${own.validation!.original!.toFixed(6)} → ${own.validation!.optimized!.toFixed(6)} (delta ${own.validation!.delta!.toExponential(2)})`,
    );

    const latencyMet = ratio.batch1 <= 1.05 && ratio.batch64 <= 1.05;
    const metricMet = -delta.ghosteam <= -delta.onnxruntime + 1e-9;
    log(
      `goals: latency within 5% of onnxruntime's INT8 ${latencyMet ? 'met' : 'NOT met'} (${r3(ratio.batch1)}×, ${r3(ratio.batch64)}×); metric drop no larger than theirs ${metricMet ? 'met' : 'NOT met'} (${r3(-delta.ghosteam)} vs ${r3(-delta.onnxruntime)})`,
    );
    const us = (v: { batch1: number; batch64: number }) => ({ batch1: r3(v.batch1 * 1000), batch64: r3(v.batch64 * 1000) });
    log(
      JSON.stringify({
        bench: 'optimize',
        model: { kind: 'sklearn-mlp', layers: [K, H1, H2, 2] },
        sizeBytes: size,
        latencyUs: { original: us(node.original), ghosteam: us(node.ghosteam), onnxruntime: us(node.onnxruntime) },
        latencyUsPython: { original: us(pyO), ghosteam: us(pyG), onnxruntime: us(pyT) },
        vsOnnxruntimeLatency: { batch1: r3(ratio.batch1), batch64: r3(ratio.batch64) },
        vsOnnxruntimeLatencyPython: { batch1: r3(pyRatio.batch1), batch64: r3(pyRatio.batch64) },
        rocAuc: { original: aO, ghosteam: aG, onnxruntime: aT },
        metricDelta: { ghosteam: delta.ghosteam, onnxruntime: delta.onnxruntime },
        quantizeSeconds: { ghosteam: r3(oursSeconds), onnxruntime: r3(made.quantizeSeconds) },
        goals: { latencyWithin5pct: latencyMet, metricDropWithinTheirs: metricMet },
        load: load(),
      }),
    );
  } finally {
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}

await main();
