/**
 * npm run bench:train — train-tabular's speed: the demo-sized job (20k rows × 16 features,
 * 10 epochs, batch 256) on the wasm backend against the pure-JS cpu backend measured in the same
 * run, for logistic regression and a 32-16 MLP; plus dataset (Arrow IPC) write+read of 100k rows.
 * Reports wall time and this process's CPU time (user+sys): on a shared, loaded machine the CPU
 * time is the closer estimate of the uncontended wall time (training is single-threaded).
 * Ends with one line of JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetFromColumns, readDataset, writeDataset } from '../components/dataset/index.ts';
import { mulberry32 } from '../components/random.ts';
import { trainDenseNet } from '../components/train-tabular/train.ts';

const rows = 20_000;
const k = 16;
const r = mulberry32(1);
const x = new Float32Array(rows * k);
const y = new Float32Array(rows);
for (let i = 0; i < rows; i++) {
  let z = 0;
  for (let j = 0; j < k; j++) {
    const v = r() * 4 - 2;
    x[i * k + j] = v;
    z += ((j % 3) - 1) * v;
  }
  y[i] = r() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
}
const names = Array.from({ length: k }, (_, j) => `f${j}`);

const results: Record<string, number> = {};
for (const kind of ['logistic', 'mlp'] as const) {
  for (const backend of ['wasm', 'cpu'] as const) {
    // One warm-up epoch (backend init, kernel compilation), then the measured run.
    await trainDenseNet(x, y, rows, names, { kind, epochs: 1, batchSize: 256, learningRate: 0.01, seed: 1, backend });
    const c0 = process.cpuUsage();
    const t = await trainDenseNet(x, y, rows, names, { kind, hidden: [32, 16], epochs: 10, batchSize: 256, learningRate: 0.01, seed: 1, backend });
    const c = process.cpuUsage(c0);
    const cpuS = (c.user + c.system) / 1e6;
    results[`${kind}_${backend}_wall_s`] = +(t.durationMs / 1000).toFixed(3);
    results[`${kind}_${backend}_cpu_s`] = +cpuS.toFixed(3);
    console.log(
      `${kind.padEnd(8)} ${backend.padEnd(4)} ${rows} rows × ${k} features, 10 epochs: wall ${(t.durationMs / 1000).toFixed(2)} s, cpu ${cpuS.toFixed(2)} s (final loss ${t.losses[9].toFixed(4)})`,
    );
  }
  results[`${kind}_speedup_wasm_vs_cpu`] = +(results[`${kind}_cpu_cpu_s`] / results[`${kind}_wasm_cpu_s`]).toFixed(2);
  console.log(`${kind}: wasm is ${results[`${kind}_speedup_wasm_vs_cpu`]}x the pure-JS cpu backend (by CPU time)`);
}

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-bench-'));
const cols: Record<string, { type: 'numeric'; cells: number[] }> = {};
for (let j = 0; j < 20; j++) cols[`f${j}`] = { type: 'numeric', cells: Array.from({ length: 100_000 }, () => r()) };
const ds = datasetFromColumns(cols);
const t0 = performance.now();
await writeDataset(join(dir, 'd.arrow'), ds);
const t1 = performance.now();
await readDataset(join(dir, 'd.arrow'));
const t2 = performance.now();
const jsonT0 = performance.now();
const text = JSON.stringify(Object.fromEntries(ds.columns.map((c) => [c.name, Array.from((c as { values: Float64Array }).values)])));
JSON.parse(text);
const jsonT1 = performance.now();
rmSync(dir, { recursive: true, force: true });
results.gtds_write_100k_ms = +(t1 - t0).toFixed(1);
results.gtds_read_100k_ms = +(t2 - t1).toFixed(1);
results.json_roundtrip_100k_ms = +(jsonT1 - jsonT0).toFixed(1);
console.log(
  `dataset (Arrow IPC) 100k rows × 20 numeric: write ${results.gtds_write_100k_ms} ms, read ${results.gtds_read_100k_ms} ms (plain JSON stringify+parse baseline: ${results.json_roundtrip_100k_ms} ms)`,
);
console.log(JSON.stringify(results));
