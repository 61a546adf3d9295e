/**
 * Held-out objective functions for the search algorithms, the same formulas as
 * bench/py/optuna_oracle.py (so ghosteam's samplers and Optuna's search the same function):
 *  - branin: the Branin–Hoo function on [-5, 10] × [0, 15] (minimum 0.397887 at three points);
 *  - noisy-quadratic: a 4-d quadratic bowl plus a deterministic, rugged ±0.1 "noise" term (a hash of
 *    the point), minimum about -0.1 near (0.5, -0.3, 1.1, 0);
 *  - logreg: a real training task: logistic regression by full-batch gradient descent on a fixed
 *    synthetic dataset (learning rate, L2 penalty, epochs); the objective is the held-out log loss.
 * Also the pure sequential search loop (one trial at a time, each proposal sees every earlier trial),
 * which is how Optuna's study.optimize runs them.
 */
import type { ParamValue } from '../components/component.ts';
import { mulberry32 } from '../components/random.ts';
import { Space, type SpaceSpec } from '../components/tuning/space.ts';
import { propose, type AlgorithmSpec, type TrialView } from '../components/tuning/samplers.ts';

export interface LogregData {
  readonly x: number[][];
  readonly y: number[];
  readonly xTest: number[][];
  readonly yTest: number[];
}

export interface HeldOutFunction {
  readonly name: 'branin' | 'noisy-quadratic' | 'logreg';
  readonly space: SpaceSpec;
  readonly f: (p: Readonly<Record<string, ParamValue>>) => number;
  /** Data the function reads (sent to the Python oracle as is). */
  readonly data?: LogregData;
}

export function branin(p: Readonly<Record<string, ParamValue>>): number {
  const x1 = Number(p.x1);
  const x2 = Number(p.x2);
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

const QUAD_CENTRE = [0.5, -0.3, 1.1, 0.0];

function pseudoNoise(xs: readonly number[]): number {
  const z = Math.sin(12.9898 * xs[0] + 78.233 * xs[1] + 37.719 * xs[2] + 4.581 * xs[3]) * 43758.5453;
  return 0.2 * (z - Math.floor(z)) - 0.1;
}

export function noisyQuadratic(p: Readonly<Record<string, ParamValue>>): number {
  const xs = [p.x0, p.x1, p.x2, p.x3].map(Number);
  return xs.reduce((a, x, i) => a + (x - QUAD_CENTRE[i]) ** 2, 0) + pseudoNoise(xs);
}

/** 240 training rows and 400 held-out rows, 5 features, labels from a noisy logistic model. */
export function logregData(seed = 5): LogregData {
  const r = mulberry32(seed);
  const w = [1.5, -2, 0.7, 0, 3];
  const gen = (n: number): { x: number[][]; y: number[] } => {
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const row = w.map((_, j) => (r() * 2 - 1) * (j + 1));
      const z = row.reduce((a, v, j) => a + v * w[j], -0.5);
      x.push(row);
      y.push(r() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
    }
    return { x, y };
  };
  const tr = gen(240);
  const te = gen(400);
  return { x: tr.x, y: tr.y, xTest: te.x, yTest: te.y };
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-Math.max(-30, Math.min(30, z))));

export function logreg(data: LogregData, p: Readonly<Record<string, ParamValue>>): number {
  const k = data.x[0].length;
  const w = new Array<number>(k).fill(0);
  let b = 0;
  const lr = Number(p.learningRate);
  const l2 = Number(p.l2);
  const epochs = Math.trunc(Number(p.epochs));
  const n = data.x.length;
  for (let e = 0; e < epochs; e++) {
    const gw = new Array<number>(k).fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const row = data.x[i];
      let z = b;
      for (let j = 0; j < k; j++) z += w[j] * row[j];
      const err = sigmoid(z) - data.y[i];
      for (let j = 0; j < k; j++) gw[j] += err * row[j];
      gb += err;
    }
    for (let j = 0; j < k; j++) w[j] -= lr * (gw[j] / n + l2 * w[j]);
    b -= (lr * gb) / n;
  }
  let loss = 0;
  for (let i = 0; i < data.xTest.length; i++) {
    const row = data.xTest[i];
    let z = b;
    for (let j = 0; j < k; j++) z += w[j] * row[j];
    const q = Math.min(1 - 1e-12, Math.max(1e-12, sigmoid(z)));
    loss -= data.yTest[i] * Math.log(q) + (1 - data.yTest[i]) * Math.log(1 - q);
  }
  return loss / data.xTest.length;
}

export function heldOutFunctions(): HeldOutFunction[] {
  const data = logregData();
  return [
    { name: 'branin', space: { x1: Space.uniform(-5, 10).spec, x2: Space.uniform(0, 15).spec }, f: branin },
    {
      name: 'noisy-quadratic',
      space: Object.fromEntries(['x0', 'x1', 'x2', 'x3'].map((n) => [n, Space.uniform(-2, 2).spec])),
      f: noisyQuadratic,
    },
    {
      name: 'logreg',
      space: { learningRate: Space.logUniform(1e-3, 10).spec, l2: Space.logUniform(1e-6, 1).spec, epochs: Space.int(1, 40).spec },
      f: (p) => logreg(data, p),
      data,
    },
  ];
}

/** The best value a sequential search (each proposal sees every earlier trial) finds in `trials` trials. */
export function searchBest(alg: AlgorithmSpec, fn: HeldOutFunction, trials: number): number {
  const history: TrialView[] = [];
  let best = Infinity;
  for (let n = 0; n < trials; n++) {
    const params = propose(alg, fn.space, history, n, 'minimize');
    if (!params) break;
    const value = fn.f(params);
    history.push({ number: n, params, state: 'Complete', value });
    best = Math.min(best, value);
  }
  return best;
}
