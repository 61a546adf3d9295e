/**
 * Optuna (the peers' Python venv, pinned in test/peers/versions.json) as the oracle for the search
 * algorithms:
 *  - early stopping: the same learning curves are reported, trial after trial, to Optuna's
 *    SuccessiveHalvingPruner / MedianPruner and to ghosteam's decidePrune; every trial must stop at
 *    the same step in both (ties, both directions, other rung settings included);
 *  - TPE: on held-out functions (Branin, a noisy quadratic, a logistic-regression training task;
 *    bench/tuning-functions.ts, mirrored in bench/py/optuna_oracle.py), ghosteam's TPE over 10 seeds
 *    must reach a median best within the spread of Optuna's TPE over 10 seeds at the same budget
 *    (no worse than Optuna's worst seed), and beat random search (its own and Optuna's);
 *  - quasi-random search: the plain Halton sequence is scipy.stats.qmc.Halton(scramble=False)'s, and
 *    the scrambled one is as even as scipy's scrambled Halton (centred L2 discrepancy, scipy's
 *    function) and more even than uniform random points.
 * All requests go to bench/py/optuna_oracle.py, one Python process per request.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { usePeers } from '../peers/index.ts';
import { mulberry32 } from '../../components/random.ts';
import { decidePrune, type EarlyStoppingSpec } from '../../components/tuning/pruners.ts';
import type { TrialView } from '../../components/tuning/samplers.ts';
import { halton } from '../../components/tuning/samplers.ts';
import { heldOutFunctions, logreg, logregData, noisyQuadratic, branin, searchBest } from '../../bench/tuning-functions.ts';

const peers = await usePeers(['python']);
const ORACLE = fileURLToPath(new URL('../../bench/py/optuna_oracle.py', import.meta.url));

function oracle<T>(request: unknown): T {
  const out = execFileSync(peers.python, [ORACLE], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out) as T;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Learning curves: each trial falls towards its own floor, with noise; a few share values exactly (ties). */
function curves(n: number, steps: number, seed: number, rising = false): number[][] {
  const r = mulberry32(seed);
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    if (i > 3 && r() < 0.15) {
      out.push([...out[Math.floor(r() * out.length)]]);
      continue;
    }
    const floor = r();
    const scale = 0.2 + r();
    const c = Array.from({ length: steps }, (_, s) => Number((floor + scale / (s + 1) + 0.05 * (r() - 0.5)).toFixed(4)));
    out.push(rising ? c.map((v) => Number((2 - v).toFixed(4))) : c);
  }
  return out;
}

/** ghosteam's decisions on the curves, trials one after another (each sees every earlier trial): the step each stopped at. */
function ours(rule: EarlyStoppingSpec, cs: readonly number[][]): (number | null)[] {
  const done: TrialView[] = [];
  return cs.map((c, number) => {
    const intermediate: Record<string, number> = {};
    let at: number | null = null;
    for (let i = 0; i < c.length; i++) {
      const step = i + 1;
      const d = decidePrune(rule, step, c[i], { number, params: {}, state: 'Running', intermediate: { ...intermediate } }, done);
      intermediate[String(step)] = c[i];
      if (d.prune) {
        at = step;
        break;
      }
    }
    done.push({ number, params: {}, state: at === null ? 'Complete' : 'Pruned', intermediate, ...(at === null ? { value: c[c.length - 1] } : {}) });
    return at;
  });
}

describe('Optuna as the oracle', { skip: peers.skip }, () => {
  describe('early stopping decides as Optuna does on the same reported values', () => {
    const asha = (o: Partial<Extract<EarlyStoppingSpec, { kind: 'asha' }>>): EarlyStoppingSpec => ({
      kind: 'asha',
      minResource: 1,
      reductionFactor: 3,
      minEarlyStoppingRate: 0,
      metric: 'loss',
      direction: 'minimize',
      ...o,
    });
    const med = (o: Partial<Extract<EarlyStoppingSpec, { kind: 'median' }>>): EarlyStoppingSpec => ({
      kind: 'median',
      startupTrials: 5,
      warmupSteps: 0,
      metric: 'loss',
      direction: 'minimize',
      ...o,
    });
    const cases: { name: string; rule: EarlyStoppingSpec; steps: number; n: number; seed: number }[] = [
      { name: 'ASHA η=3 (SuccessiveHalvingPruner(1, 3, 0))', rule: asha({}), steps: 27, n: 60, seed: 1 },
      { name: 'ASHA η=2, min resource 2, s=1', rule: asha({ minResource: 2, reductionFactor: 2, minEarlyStoppingRate: 1 }), steps: 32, n: 50, seed: 2 },
      { name: 'ASHA η=4, maximising', rule: asha({ reductionFactor: 4, direction: 'maximize', metric: 'auc' }), steps: 16, n: 50, seed: 3 },
      { name: 'median (MedianPruner(5, 0))', rule: med({}), steps: 12, n: 40, seed: 4 },
      { name: 'median, 3 start-up trials, 4 warm-up steps', rule: med({ startupTrials: 3, warmupSteps: 4 }), steps: 12, n: 40, seed: 5 },
      { name: 'median, maximising', rule: med({ direction: 'maximize', metric: 'auc' }), steps: 10, n: 40, seed: 6 },
    ];
    for (const c of cases)
      it(c.name, () => {
        const cs = curves(c.n, c.steps, c.seed, c.rule.direction === 'maximize');
        const mine = ours(c.rule, cs);
        const { stoppedAt } = oracle<{ stoppedAt: (number | null)[] }>({
          cmd: 'prune',
          pruner: c.rule,
          direction: c.rule.direction,
          curves: cs,
          // ghosteam's steps are epochs from 1, and `warmupSteps` is the epochs a trial always gets;
          // Optuna's MedianPruner counts steps from 0 (it may prune once step >= n_warmup_steps).
          // ASHA's rungs are at minResource·η^k epochs in both.
          stepOffset: c.rule.kind === 'median' ? -1 : 0,
        });
        assert.deepEqual(mine, stoppedAt);
        // Not vacuous: some trials stop, some run to the end.
        assert.ok(mine.some((s) => s !== null) && mine.some((s) => s === null), `stopped at: ${JSON.stringify(mine)}`);
      });
  });

  describe('TPE', () => {
    it('the objective functions are the same in both languages', () => {
      const data = logregData();
      const points: { name: string; p: Record<string, number>; f: (p: Record<string, number>) => number }[] = [
        { name: 'branin', p: { x1: -Math.PI, x2: 12.275 }, f: branin },
        { name: 'branin', p: { x1: 9.5, x2: 2.3 }, f: branin },
        { name: 'noisy-quadratic', p: { x0: 0.4, x1: -0.2, x2: 1, x3: 0.3 }, f: noisyQuadratic },
        { name: 'logreg', p: { learningRate: 0.7, l2: 0.001, epochs: 23 }, f: (p) => logreg(data, p) },
      ];
      const { values } = oracle<{ values: number[] }>({
        cmd: 'evaluate',
        points: points.map((x) => ({ function: x.name, params: x.p })),
        data,
      });
      points.forEach((x, i) => assert.ok(Math.abs(x.f(x.p) - values[i]) < 1e-9, `${x.name}: ${x.f(x.p)} vs Optuna's side ${values[i]}`));
      assert.ok(Math.abs(branin({ x1: -Math.PI, x2: 12.275 }) - 0.397887) < 1e-6, "Branin's known minimum");
    });

    it("reaches a best within the spread of Optuna's TPE over 10 seeds, and beats random search", () => {
      const seeds = Array.from({ length: 10 }, (_, i) => i);
      const trials = 40;
      const fns = heldOutFunctions();
      const { best } = oracle<{ best: Record<string, Record<'tpe' | 'random', number[]>> }>({
        cmd: 'search',
        functions: fns.map((f) => ({ name: f.name, space: f.space, ...(f.data ? { data: f.data } : {}) })),
        samplers: ['tpe', 'random'],
        seeds,
        trials,
      });
      for (const fn of fns) {
        const mine = seeds.map((s) => searchBest({ kind: 'tpe', seed: s }, fn, trials));
        const random = seeds.map((s) => searchBest({ kind: 'random', seed: s }, fn, trials));
        const o = best[fn.name];
        const why = `${fn.name}: ghosteam TPE median ${median(mine)}, Optuna TPE ${JSON.stringify(o.tpe.map((v) => +v.toFixed(4)))}, random medians ${median(random)} (ghosteam) ${median(o.random)} (Optuna)`;
        assert.ok(median(mine) <= Math.max(...o.tpe), `outside Optuna's spread — ${why}`);
        assert.ok(median(mine) < median(random) && median(mine) < median(o.random), `does not beat random search — ${why}`);
      }
    });
  });
});

describe("quasi-random search against scipy's Halton (peers' Python)", { skip: peers.skip }, () => {
  it("the plain sequence is scipy's point for point; scrambled, as even as scipy's scrambled Halton and more even than random", () => {
    const d = 5;
    const n = 128;
    const seeds = 10;
    const points = (seed?: number) => Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => halton(i, j, seed)));
    const r = oracle<{ plain: number[][]; ours: number[]; scipyScrambled: number[]; random: number[] }>({
      cmd: 'qmc',
      d,
      n,
      seeds,
      points: Array.from({ length: seeds }, (_, s) => points(s)),
    });
    const plain = points();
    r.plain.forEach((row, i) =>
      row.forEach((v, j) => assert.ok(Math.abs(plain[i][j] - v) < 1e-12, `point ${i}, dimension ${j}: ${plain[i][j]} vs scipy's ${v}`)),
    );
    const why = `discrepancy: ours ${median(r.ours).toExponential(3)} (median of ${seeds} seeds), scipy's scrambled ${JSON.stringify(r.scipyScrambled.map((v) => +v.toExponential(3)))}, random ${JSON.stringify(r.random.map((v) => +v.toExponential(3)))}`;
    assert.ok(median(r.ours) <= Math.max(...r.scipyScrambled), `less even than scipy's scrambled Halton — ${why}`);
    assert.ok(Math.max(...r.ours) < Math.min(...r.random), `not more even than random points — ${why}`);
  });
});
