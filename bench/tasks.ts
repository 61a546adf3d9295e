/**
 * train-tabular training time per task on the same 20k rows × 16 features, 5 epochs, 32-16 MLP
 * (anomaly: an 8-unit autoencoder), on the backend `auto` picks. Part of `npm run bench:engine`.
 */
import { mulberry32 } from '../components/random.ts';
import { trainDenseNet, type TrainOptions } from '../components/train-tabular/index.ts';

export async function runTaskBench(rows = 20_000, k = 16, epochs = 5) {
  const r = mulberry32(9);
  const x = new Float32Array(rows * k);
  const yb = new Float32Array(rows);
  const yc = new Float32Array(rows);
  const yr = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    let z = 0;
    for (let j = 0; j < k; j++) {
      const v = r() * 4 - 2;
      x[i * k + j] = v;
      z += ((j % 3) - 1) * v;
    }
    yb[i] = z > 0 ? 1 : 0;
    yc[i] = z < -1 ? 0 : z < 1 ? 1 : 2;
    yr[i] = 3 * z + r();
  }
  const names = Array.from({ length: k }, (_, j) => `f${j}`);
  const base: TrainOptions = { kind: 'mlp', hidden: [32, 16], epochs, batchSize: 256, learningRate: 0.01, seed: 1 };
  const time = async (y: Float32Array, opts: Partial<TrainOptions>) => {
    const res = await trainDenseNet(x, y, rows, names, { ...base, ...opts });
    return { ms: Math.round(res.durationMs), backend: res.backend };
  };
  const binary = await time(yb, { task: 'binary' });
  const multiclass = await time(yc, { task: 'multiclass', classes: ['0', '1', '2'] });
  const regression = await time(yr, { task: 'regression' });
  const anomaly = await time(new Float32Array(0), { task: 'anomaly', hidden: [8] });
  return {
    rows,
    features: k,
    epochs,
    classes: 3,
    backend: binary.backend,
    binaryMs: binary.ms,
    multiclassMs: multiclass.ms,
    regressionMs: regression.ms,
    anomalyMs: anomaly.ms,
  };
}
