/**
 * Search algorithms: random, grid, quasi-random (scrambled Halton, as Optuna's QMCSampler) and TPE
 * (the tree-structured Parzen estimator of Bergstra et al. 2011, as Optuna's independent TPESampler
 * does it). Pure functions of (algorithm, space, the trials
 * the proposal may see, trial number): the same seed and history give the same proposal on every
 * machine, so a sweep's sequence of trials is reproducible and a resumed sweep proposes what the
 * interrupted one would have. Values are minimised internally (`sign` flips a maximised objective).
 */
import type { ParamValue } from '../component.ts';
import { mulberry32 } from '../random.ts';
import { dimensionOrder, gridPoints, isActive, type DimensionSpec, type SpaceSpec } from './space.ts';

export type Direction = 'minimize' | 'maximize';

export type TrialState = 'Running' | 'Complete' | 'Pruned' | 'Failed';

/** What an algorithm reads of a trial. */
export interface TrialView {
  readonly number: number;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly state: TrialState;
  /** The objective's value (Complete trials). */
  readonly value?: number;
  /** Intermediate values by step (epoch): `intermediate[step]`; what ASHA and median stopping compare. */
  readonly intermediate?: Readonly<Record<string, number>>;
}

export type AlgorithmSpec =
  | { readonly kind: 'random'; readonly seed: number }
  | {
      readonly kind: 'grid';
      /** Visit the grid in a random order drawn from this seed (as Optuna's GridSampler does) instead of declaration order. */
      readonly seed?: number;
    }
  | {
      /**
       * Quasi-random: trial n is the n-th point of a Halton sequence, one coordinate per dimension of
       * the space, mapped onto each dimension as a random draw would be. The points fill the space
       * evenly where independent draws clump and leave holes, so a small budget covers it better.
       */
      readonly kind: 'qmc';
      readonly seed: number;
      /** Permute each dimension's digits by the seed (scrambled Halton); false: the plain sequence, the same for every seed. @default true */
      readonly scramble?: boolean;
    }
  | {
      readonly kind: 'tpe';
      readonly seed: number;
      /** Random trials before the model is used. @default 10 (Optuna's n_startup_trials) */
      readonly startupTrials?: number;
      /** Candidates drawn from l(x) per parameter. @default 24 (Optuna's n_ei_candidates) */
      readonly candidates?: number;
    };

export const TPE_DEFAULTS = { startupTrials: 10, candidates: 24, priorWeight: 1 } as const;

/** A 32-bit seed per (sweep seed, trial number, stream), mixed so nearby trials get unrelated streams. */
export function trialSeed(seed: number, trial: number, stream = 0): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(trial + 1, 0xc2b2ae35) ^ Math.imul(stream + 7, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** One value of a dimension, drawn uniformly (on its own scale). */
export function sampleDimension(d: DimensionSpec, rand: () => number): ParamValue {
  switch (d.kind) {
    case 'uniform':
      return d.low + rand() * (d.high - d.low);
    case 'loguniform':
      return Math.exp(Math.log(d.low) + rand() * (Math.log(d.high) - Math.log(d.low)));
    case 'int': {
      if (d.log) {
        const v = Math.round(Math.exp(Math.log(d.low - 0.5) + rand() * (Math.log(d.high + 0.5) - Math.log(d.low - 0.5))));
        return Math.min(d.high, Math.max(d.low, v));
      }
      const step = d.step ?? 1;
      const n = Math.floor((d.high - d.low) / step) + 1;
      return d.low + step * Math.min(n - 1, Math.floor(rand() * n));
    }
    case 'categorical':
      return d.choices[Math.min(d.choices.length - 1, Math.floor(rand() * d.choices.length))];
  }
}

function randomParams(space: SpaceSpec, rand: () => number): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const name of dimensionOrder(space)) if (isActive(space[name], out)) out[name] = sampleDimension(space[name], rand);
  return out;
}

/**
 * The params of trial `number`, or undefined when the algorithm has nothing left to propose (a grid
 * that is exhausted). `history`: the trials this proposal may see (see the sweep runner for which).
 */
export function propose(
  alg: AlgorithmSpec,
  space: SpaceSpec,
  history: readonly TrialView[],
  number: number,
  direction: Direction = 'minimize',
  /** How the pruned trials' intermediate values rank (TPE): the early-stopping metric's direction. @default direction */
  intermediateDirection: Direction = direction,
): Record<string, ParamValue> | undefined {
  switch (alg.kind) {
    case 'grid': {
      const points = gridPoints(space);
      if (number >= points.length) return undefined;
      return alg.seed === undefined ? points[number] : points[gridOrder(points.length, alg.seed)[number]];
    }
    case 'random':
      return randomParams(space, mulberry32(trialSeed(alg.seed, number)));
    case 'qmc':
      return qmcParams(space, number, alg.scramble === false ? undefined : alg.seed);
    case 'tpe':
      return proposeTpe(alg, space, history, number, direction, intermediateDirection);
  }
}

/**
 * Trial `number`'s params from point `number` of the Halton sequence: dimension i of the space (in
 * dimensionOrder, inactive conditional ones included, so a dimension keeps its coordinate) takes
 * coordinate i. Each coordinate is used as the uniform draw of sampleDimension.
 */
function qmcParams(space: SpaceSpec, number: number, seed: number | undefined): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  dimensionOrder(space).forEach((name, i) => {
    if (!isActive(space[name], out)) return;
    const u = halton(number, i, seed);
    out[name] = sampleDimension(space[name], () => u);
  });
  return out;
}

/** The n-th prime (0 → 2): Halton's base for dimension n. */
export function nthPrime(n: number): number {
  let count = -1;
  for (let k = 2; ; k++) {
    let prime = true;
    for (let f = 2; f * f <= k; f++)
      if (k % f === 0) {
        prime = false;
        break;
      }
    if (prime && ++count === n) return k;
  }
}

/**
 * Coordinate `dim` of point `index` of the Halton sequence: the radical inverse of `index` in the
 * dim-th prime base b (its base-b digits mirrored behind the point), in [0, 1). Unscrambled it is
 * scipy.stats.qmc.Halton(scramble=False)'s point. With a seed, the digits at each position are
 * relabelled by a permutation of 0..b-1 drawn from (seed, dim, position), over as many positions as
 * a double resolves, the index's leading zeros included (the random digit permutations scipy's
 * scrambled Halton applies): the points keep their stratification and lose the sequence's
 * correlations between dimensions and its corner at 0.
 */
export function halton(index: number, dim: number, seed?: number): number {
  if (!Number.isInteger(index) || index < 0) throw new Error(`halton: index ${index} is not a whole number ≥ 0`);
  const b = nthPrime(dim);
  let n = index;
  let f = 1 / b;
  let v = 0;
  if (seed === undefined) {
    while (n > 0) {
      v += (n % b) * f;
      n = Math.floor(n / b);
      f /= b;
    }
    return v;
  }
  const positions = Math.ceil(53 / Math.log2(b));
  for (let k = 0; k < positions; k++) {
    const perm = gridOrder(b, trialSeed(seed, dim, k + 2));
    v += perm[n % b] * f;
    n = Math.floor(n / b);
    f /= b;
  }
  // Rounding at the last digits can reach 1; the interval is half-open.
  return Math.min(v, 1 - Number.EPSILON / 2);
}

/** A seeded permutation of 0..n-1 (Fisher–Yates): the order a shuffled grid visits its points in. */
export function gridOrder(n: number, seed: number): number[] {
  const rand = mulberry32(trialSeed(seed, 0, 1));
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** How many trials an algorithm can propose at most (the grid's size; Infinity otherwise). */
export function capacity(alg: AlgorithmSpec, space: SpaceSpec): number {
  return alg.kind === 'grid' ? gridPoints(space).length : Infinity;
}

// ---- TPE -----------------------------------------------------------------------------------------

/** Optuna's default gamma: the share of trials modelled as "good". */
export function tpeGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Optuna's default_weights: recent trials weigh fully, older ones ramp down once there are more than 25. */
export function tpeWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return Array.from({ length: n }, () => 1);
  const ramp = Array.from({ length: n - 25 }, (_, i) => (n - 25 === 1 ? 1 / n : 1 / n + (i * (1 - 1 / n)) / (n - 25 - 1)));
  return [...ramp, ...Array.from({ length: 25 }, () => 1)];
}

/** The error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), enough for a density ratio. */
export function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

const normCdf = (z: number): number => 0.5 * (1 + erf(z / Math.SQRT2));

/** A mixture of normals truncated to [low, high]. */
export interface Parzen {
  readonly mus: number[];
  readonly sigmas: number[];
  readonly weights: number[];
  readonly low: number;
  readonly high: number;
}

/**
 * Optuna's univariate Parzen estimator of numeric observations (already on the sampling scale):
 * bandwidth = the larger gap to a neighbour (endpoints excluded, the prior at the middle included),
 * clipped to [range / min(100, 1 + kernels), range]; plus a prior kernel N(mid, range).
 */
export function numericParzen(obs: readonly number[], weights: readonly number[], low: number, high: number, priorWeight = 1): Parzen {
  const range = high - low;
  const prior = 0.5 * (low + high);
  const withPrior = [...obs, prior];
  const idx = withPrior.map((_, i) => i).sort((a, b) => withPrior[a] - withPrior[b] || a - b);
  const sorted = idx.map((i) => withPrior[i]);
  const ends = [low, ...sorted, high];
  const sortedSigmas = sorted.map((_, i) => Math.max(ends[i + 1] - ends[i], ends[i + 2] - ends[i + 1]));
  if (ends.length >= 4) {
    sortedSigmas[0] = ends[2] - ends[1];
    sortedSigmas[sortedSigmas.length - 1] = ends[ends.length - 2] - ends[ends.length - 3];
  }
  const sigmasAll = new Array<number>(withPrior.length);
  idx.forEach((orig, k) => (sigmasAll[orig] = sortedSigmas[k]));
  const minSigma = range / Math.min(100, 1 + obs.length + 1);
  const sigmas = sigmasAll.slice(0, obs.length).map((s) => Math.min(range, Math.max(minSigma, s)));
  const w = [...weights, priorWeight];
  const total = w.reduce((a, b) => a + b, 0);
  return { mus: [...obs, prior], sigmas: [...sigmas, range], weights: w.map((x) => x / total), low, high };
}

/** Each kernel's normaliser (its truncated mass in [low, high]), computed once per estimator, not per candidate. */
const denominators = new WeakMap<Parzen, Float64Array>();
function denominatorsOf(p: Parzen): Float64Array {
  let d = denominators.get(p);
  if (d) return d;
  d = new Float64Array(p.mus.length);
  for (let i = 0; i < p.mus.length; i++) {
    const s = p.sigmas[i];
    const mass = normCdf((p.high - p.mus[i]) / s) - normCdf((p.low - p.mus[i]) / s);
    d[i] = s * Math.sqrt(2 * Math.PI) * Math.max(mass, 1e-12);
  }
  denominators.set(p, d);
  return d;
}

export function parzenLogPdf(p: Parzen, x: number): number {
  const den = denominatorsOf(p);
  let acc = 0;
  for (let i = 0; i < p.mus.length; i++) {
    const z = (x - p.mus[i]) / p.sigmas[i];
    acc += (p.weights[i] * Math.exp(-0.5 * z * z)) / den[i];
  }
  return Math.log(Math.max(acc, 1e-300));
}

function pickKernel(weights: readonly number[], rand: () => number): number {
  let r = rand();
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i];
    if (r <= 0) return i;
  }
  return weights.length - 1;
}

/** A standard normal from two uniforms (Box–Muller). */
function gauss(rand: () => number): number {
  const u = Math.max(rand(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export function parzenSample(p: Parzen, rand: () => number): number {
  const i = pickKernel(p.weights, rand);
  for (let tries = 0; tries < 100; tries++) {
    const x = p.mus[i] + p.sigmas[i] * gauss(rand);
    if (x >= p.low && x <= p.high) return x;
  }
  return Math.min(p.high, Math.max(p.low, p.mus[i]));
}

/** A numeric dimension on TPE's sampling scale: log for log dimensions, ±step/2 around integers. */
function scaleOf(d: Exclude<DimensionSpec, { kind: 'categorical' }>): {
  low: number;
  high: number;
  to: (v: number) => number;
  from: (x: number) => number;
} {
  if (d.kind === 'uniform') return { low: d.low, high: d.high, to: (v) => v, from: (x) => x };
  if (d.kind === 'loguniform') return { low: Math.log(d.low), high: Math.log(d.high), to: Math.log, from: Math.exp };
  if (d.log) {
    return {
      low: Math.log(d.low - 0.5),
      high: Math.log(d.high + 0.5),
      to: Math.log,
      from: (x) => Math.min(d.high, Math.max(d.low, Math.round(Math.exp(x)))),
    };
  }
  const step = d.step ?? 1;
  return {
    low: d.low - step / 2,
    high: d.high + step / 2,
    to: (v) => v,
    from: (x) => Math.min(d.high, Math.max(d.low, d.low + step * Math.round((x - d.low) / step))),
  };
}

function categoricalWeights(obs: readonly number[], weights: readonly number[], n: number, priorWeight: number): number[] {
  // Optuna: one categorical kernel per observation (mass 1 on it, plus priorWeight/kernels smoothing), and a prior kernel.
  if (obs.length === 0) return Array.from({ length: n }, () => 1 / n);
  const kernels = obs.length + 1;
  const w = [...weights, priorWeight];
  const total = w.reduce((a, b) => a + b, 0);
  const probs = new Array<number>(n).fill(0);
  for (let k = 0; k < kernels; k++) {
    const row = Array.from({ length: n }, () => priorWeight / kernels);
    if (k < obs.length) row[obs[k]] += 1;
    const rs = row.reduce((a, b) => a + b, 0);
    for (let c = 0; c < n; c++) probs[c] += (w[k] / total) * (row[c] / rs);
  }
  return probs;
}

function proposeTpe(
  alg: Extract<AlgorithmSpec, { kind: 'tpe' }>,
  space: SpaceSpec,
  history: readonly TrialView[],
  number: number,
  direction: Direction,
  intermediateDirection: Direction,
): Record<string, ParamValue> {
  const rand = mulberry32(trialSeed(alg.seed, number));
  const startup = alg.startupTrials ?? TPE_DEFAULTS.startupTrials;
  const nCand = alg.candidates ?? TPE_DEFAULTS.candidates;
  const sign = direction === 'maximize' ? -1 : 1;
  const complete = history.filter((t) => t.state === 'Complete' && t.value !== undefined && Number.isFinite(t.value));
  const pruned = history.filter((t) => t.state === 'Pruned');
  // As Optuna's TPESampler: complete and pruned trials are the observations (startup counts both;
  // under ASHA most trials are pruned, and a sampler that waited for complete ones stayed random).
  if (complete.length + pruned.length < startup) return randomParams(space, rand);
  // Below: the best gamma(n) observations — complete trials by value first, then pruned trials by
  // how far they got (the last step reported, later is better) and their value there; above: the rest.
  const ranked = [...complete].sort((a, b) => sign * a.value! - sign * b.value! || a.number - b.number);
  const nBelow = tpeGamma(complete.length + pruned.length);
  const iSign = intermediateDirection === 'maximize' ? -1 : 1;
  const lastReport = (t: TrialView): [number, number] => {
    const steps = Object.keys(t.intermediate ?? {})
      .map(Number)
      .filter(Number.isFinite);
    if (!steps.length) return [-Infinity, Infinity];
    const step = Math.max(...steps);
    const v = t.intermediate![String(step)];
    return [step, Number.isNaN(v) ? Infinity : iSign * v];
  };
  const prunedRanked = pruned
    .map((t) => ({ t, r: lastReport(t) }))
    .sort((a, b) => b.r[0] - a.r[0] || a.r[1] - b.r[1] || a.t.number - b.t.number)
    .map((x) => x.t);
  const belowComplete = ranked.slice(0, nBelow);
  const belowPruned = prunedRanked.slice(0, Math.max(0, nBelow - belowComplete.length));
  const byNumber = (a: TrialView, b: TrialView): number => a.number - b.number;
  const below = [...belowComplete, ...belowPruned].sort(byNumber);
  const above = [...ranked.slice(nBelow), ...prunedRanked.slice(belowPruned.length)].sort(byNumber);
  const out: Record<string, ParamValue> = {};
  for (const name of dimensionOrder(space)) {
    const d = space[name];
    if (!isActive(d, out)) continue;
    const has = (t: TrialView): boolean => name in t.params;
    const b = below.filter(has);
    const a = above.filter(has);
    if (d.kind === 'categorical') {
      const index = (v: ParamValue): number => d.choices.findIndex((c) => JSON.stringify(c) === JSON.stringify(v));
      const bo = b.map((t) => index(t.params[name])).filter((i) => i >= 0);
      const ao = a.map((t) => index(t.params[name])).filter((i) => i >= 0);
      const l = categoricalWeights(bo, tpeWeights(bo.length), d.choices.length, TPE_DEFAULTS.priorWeight);
      const g = categoricalWeights(ao, tpeWeights(ao.length), d.choices.length, TPE_DEFAULTS.priorWeight);
      let best = -1;
      let bestScore = -Infinity;
      for (let k = 0; k < nCand; k++) {
        const c = pickKernel(l, rand);
        const score = Math.log(l[c]) - Math.log(g[c]);
        if (score > bestScore) [best, bestScore] = [c, score];
      }
      out[name] = d.choices[best];
      continue;
    }
    const s = scaleOf(d);
    const num = (t: TrialView): number => s.to(Number(t.params[name]));
    const bo = b.map(num);
    const ao = a.map(num);
    const l = numericParzen(bo, tpeWeights(bo.length), s.low, s.high);
    const g = numericParzen(ao, tpeWeights(ao.length), s.low, s.high);
    let best = NaN;
    let bestScore = -Infinity;
    for (let k = 0; k < nCand; k++) {
      const x = parzenSample(l, rand);
      const score = parzenLogPdf(l, x) - parzenLogPdf(g, x);
      if (score > bestScore) [best, bestScore] = [x, score];
    }
    out[name] = s.from(best);
  }
  return out;
}
