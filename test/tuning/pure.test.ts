/**
 * The pure parts of tuning, table-tested: the search space (checks, grid, conditions), the samplers
 * (random, grid, quasi-random, TPE: seeded and reproducible) and the early-stopping rules (ASHA, median).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Space, gridPoints, isActive, spaceIssues, type SpaceSpec } from '../../components/tuning/space.ts';
import {
  erf,
  halton,
  nthPrime,
  numericParzen,
  parzenLogPdf,
  propose,
  sampleDimension,
  tpeGamma,
  tpeWeights,
  trialSeed,
  type TrialView,
} from '../../components/tuning/samplers.ts';
import { ashaRung, decidePrune, hyperbandBrackets, type EarlyStoppingSpec } from '../../components/tuning/pruners.ts';
import { mulberry32 } from '../../components/random.ts';
import { sameFailure, SAME_FAILURE_TRIALS } from '../../components/tuning/controller.ts';

const sp = (o: Record<string, ReturnType<typeof Space.uniform>>): SpaceSpec => Object.fromEntries(Object.entries(o).map(([k, d]) => [k, d.spec]));

describe('search space checks', () => {
  const cases: { name: string; space: SpaceSpec; grid?: boolean; want: string[] }[] = [
    { name: 'empty', space: {}, want: ["x: 'space' is empty; give at least one dimension, e.g. { learningRate: Space.logUniform(1e-4, 1e-1) }"] },
    {
      name: 'low not below high',
      space: sp({ lr: Space.uniform(1, 1) }),
      want: ["x: 'space.lr' has low 1 not below high 1; give low < high (for one fixed value, leave it out of the space)"],
    },
    {
      name: 'log from zero',
      space: sp({ lr: Space.logUniform(0, 1) }),
      want: ["x: 'space.lr' is log-uniform from 0; a log scale needs low > 0 (e.g. 1e-5), or use Space.uniform"],
    },
    { name: 'int with fractions', space: sp({ n: Space.int(1.5, 4) }), want: ["x: 'space.n' is an integer dimension with bounds 1.5..4; give whole numbers"] },
    { name: 'no choices', space: sp({ c: Space.categorical([]) }), want: ["x: 'space.c' has no choices; give at least one value to Space.categorical([...])"] },
    {
      name: 'grid of a continuous dimension',
      space: sp({ lr: Space.logUniform(1e-4, 1e-1) }),
      grid: true,
      want: [
        "x: 'space.lr' is continuous, and grid search needs a finite grid; give its points, e.g. Space.logUniform(0.0001, 0.1, { grid: 4 }), or use Space.categorical([...])",
      ],
    },
    {
      name: 'condition on a missing dimension',
      space: sp({ h: Space.int(1, 4).when('model', ['mlp']) }),
      want: ["x: 'space.h' is conditional on 'model', which is not a dimension of the space; use one of (none)"],
    },
    {
      name: 'condition on a value never taken',
      space: sp({ model: Space.categorical(['a', 'b']), h: Space.int(1, 4).when('model', ['mlp']) }),
      want: ['x: \'space.h\' is conditional on \'model\' being ["mlp"], which it never is; use its choices ["a","b"]'],
    },
    {
      name: 'a good space',
      space: sp({ model: Space.categorical(['a', 'mlp']), h: Space.int(1, 4).when('model', ['mlp']), lr: Space.logUniform(1e-3, 1) }),
      want: [],
    },
  ];
  for (const c of cases)
    it(c.name, () =>
      assert.deepEqual(
        spaceIssues(c.space, 'x', { grid: c.grid }).map((i) => `${i.path}: '${i.field}' ${i.message}`),
        c.want,
      ),
    );
});

describe('grid', () => {
  it('enumerates active dimensions only, the last varying fastest', () => {
    const space = sp({
      model: Space.categorical(['lin', 'mlp']),
      hidden: Space.categorical([8, 16]).when('model', ['mlp']),
      lr: Space.logUniform(0.001, 0.1, { grid: 3 }),
    });
    assert.deepEqual(gridPoints(space), [
      { model: 'lin', lr: 0.001 },
      { model: 'lin', lr: 0.01 },
      { model: 'lin', lr: 0.1 },
      { model: 'mlp', hidden: 8, lr: 0.001 },
      { model: 'mlp', hidden: 8, lr: 0.01 },
      { model: 'mlp', hidden: 8, lr: 0.1 },
      { model: 'mlp', hidden: 16, lr: 0.001 },
      { model: 'mlp', hidden: 16, lr: 0.01 },
      { model: 'mlp', hidden: 16, lr: 0.1 },
    ]);
  });
  it('int steps and uniform grids', () => {
    assert.deepEqual(gridPoints(sp({ n: Space.int(2, 8, { step: 3 }), x: Space.uniform(0, 1, { grid: 2 }) })), [
      { n: 2, x: 0 },
      { n: 2, x: 1 },
      { n: 5, x: 0 },
      { n: 5, x: 1 },
      { n: 8, x: 0 },
      { n: 8, x: 1 },
    ]);
  });
  it('proposes the points in order, then nothing', () => {
    const space = sp({ a: Space.categorical([1, 2]) });
    assert.deepEqual(
      [0, 1, 2].map((n) => propose({ kind: 'grid' }, space, [], n)),
      [{ a: 1 }, { a: 2 }, undefined],
    );
  });
  it('with a seed, visits every point once in a seeded random order', () => {
    const space = sp({ a: Space.categorical([1, 2, 3, 4]), b: Space.categorical(['x', 'y', 'z']) });
    const walk = (seed: number): string[] => Array.from({ length: 12 }, (_, n) => JSON.stringify(propose({ kind: 'grid', seed }, space, [], n)));
    const declared = gridPoints(space).map((p) => JSON.stringify(p));
    assert.deepEqual([...walk(1)].sort(), [...declared].sort(), 'every point once');
    assert.notDeepEqual(walk(1), declared, 'not declaration order');
    assert.deepEqual(walk(1), walk(1), 'the same seed, the same order');
    assert.notDeepEqual(walk(1), walk(2), 'another seed, another order');
    assert.equal(propose({ kind: 'grid', seed: 1 }, space, [], 12), undefined);
  });
});

describe('sampling', () => {
  const rand = mulberry32(1);
  const table = [
    { d: Space.uniform(-2, 3), ok: (v: number) => v >= -2 && v <= 3 },
    { d: Space.logUniform(1e-4, 1e-1), ok: (v: number) => v >= 1e-4 && v <= 1e-1 },
    { d: Space.int(1, 5), ok: (v: number) => Number.isInteger(v) && v >= 1 && v <= 5 },
    { d: Space.int(10, 40, { step: 10 }), ok: (v: number) => [10, 20, 30, 40].includes(v) },
    { d: Space.int(1, 1000, { log: true }), ok: (v: number) => Number.isInteger(v) && v >= 1 && v <= 1000 },
  ];
  for (const [i, c] of table.entries())
    it(`${c.d.spec.kind} #${i} stays in range and covers it`, () => {
      const vs = Array.from({ length: 2000 }, () => sampleDimension(c.d.spec, rand) as number);
      assert.ok(vs.every(c.ok), 'out of range');
      if (c.d.spec.kind === 'int' && !c.d.spec.log) {
        const want = (c.d.spec.high - c.d.spec.low) / (c.d.spec.step ?? 1) + 1;
        assert.equal(new Set(vs).size, want, 'every integer is drawn');
      }
    });
  it('log-uniform is uniform in the logarithm (median near the geometric mean)', () => {
    const vs = Array.from({ length: 4001 }, () => sampleDimension(Space.logUniform(1e-4, 1).spec, rand) as number).sort((a, b) => a - b);
    assert.ok(Math.abs(Math.log10(vs[2000]) + 2) < 0.15, `median ${vs[2000]}`);
  });
  it('a conditional dimension is set only when its parent has the value', () => {
    const space = sp({ model: Space.categorical(['lin', 'mlp']), hidden: Space.int(4, 64).when('model', ['mlp']) });
    for (let n = 0; n < 50; n++) {
      const p = propose({ kind: 'random', seed: 3 }, space, [], n)!;
      assert.equal('hidden' in p, p.model === 'mlp');
    }
    assert.equal(isActive(space.hidden, { model: 'lin' }), false);
  });
  it('seeds: the same seed gives the same sequence, another seed another', () => {
    const space = sp({ x: Space.uniform(0, 1), c: Space.categorical(['a', 'b', 'c']) });
    const seq = (seed: number) => Array.from({ length: 20 }, (_, n) => propose({ kind: 'random', seed }, space, [], n));
    assert.deepEqual(seq(7), seq(7));
    assert.notDeepEqual(seq(7), seq(8));
    assert.notEqual(trialSeed(1, 0), trialSeed(1, 1));
  });
});

describe('quasi-random (Halton)', () => {
  it('bases are the primes, one per dimension', () => {
    assert.deepEqual(
      Array.from({ length: 12 }, (_, i) => nthPrime(i)),
      [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37],
    );
  });
  it('plain: the radical inverse of the index in each base', () => {
    const table: [index: number, dim: number, want: number][] = [
      [0, 0, 0],
      [1, 0, 1 / 2],
      [2, 0, 1 / 4],
      [3, 0, 3 / 4],
      [6, 0, 3 / 8], // 110₂ → 0.011₂
      [1, 1, 1 / 3],
      [5, 1, 7 / 9], // 12₃ → 0.21₃
      [11, 2, 1 / 5 + 2 / 25], // 21₅ → 0.12₅
    ];
    for (const [index, dim, want] of table) assert.ok(Math.abs(halton(index, dim) - want) < 1e-15, `halton(${index}, ${dim})`);
  });
  it('scrambled: every base^m consecutive points from 0 put one point in each of the base^m intervals of every coordinate', () => {
    for (const seed of [0, 1, 7, 123])
      for (const [dim, m] of [
        [0, 6],
        [1, 4],
        [2, 3],
        [5, 2],
      ]) {
        const b = nthPrime(dim);
        const cells = b ** m;
        const seen = new Set(Array.from({ length: cells }, (_, i) => Math.floor(halton(i, dim, seed) * cells)));
        assert.equal(seen.size, cells, `seed ${seed}, dim ${dim}: ${cells} points in ${seen.size} of ${cells} intervals`);
      }
  });
  it('scrambled: in [0, 1), the same for a seed, different across seeds and from the plain sequence', () => {
    const pts = (seed?: number) => Array.from({ length: 50 }, (_, i) => [0, 1, 2, 3].map((d) => halton(i, d, seed)));
    assert.deepEqual(pts(4), pts(4));
    assert.notDeepEqual(pts(4), pts(5));
    assert.notDeepEqual(pts(4), pts());
    assert.ok(
      pts(9)
        .flat()
        .every((u) => u >= 0 && u < 1),
    );
    assert.throws(() => halton(-1, 0), /index -1/);
  });
  it('as a search: trial n is point n on every dimension, conditional ones keeping their coordinate', () => {
    const space = sp({ model: Space.categorical(['lin', 'mlp']), hidden: Space.int(4, 64).when('model', ['mlp']), lr: Space.logUniform(1e-4, 1e-1) });
    for (let n = 0; n < 40; n++) {
      const p = propose({ kind: 'qmc', seed: 2 }, space, [], n)!;
      assert.equal('hidden' in p, p.model === 'mlp');
      assert.equal(p.model, halton(n, 0, 2) < 0.5 ? 'lin' : 'mlp');
      const lr = p.lr as number;
      assert.ok(Math.abs(Math.log(lr / 1e-4) / Math.log(1e3) - halton(n, 2, 2)) < 1e-9, `trial ${n}: lr ${lr}`);
    }
    const plain = propose({ kind: 'qmc', seed: 5, scramble: false }, space, [], 3)!;
    assert.deepEqual(plain, propose({ kind: 'qmc', seed: 6, scramble: false }, space, [], 3), 'the plain sequence ignores the seed');
  });
  it('covers a 6 × 6 grid of categories in fewer trials than random search, over ten seeds', () => {
    const space = sp({ a: Space.categorical([0, 1, 2, 3, 4, 5]), b: Space.categorical([0, 1, 2, 3, 4, 5]) });
    const empty = (kind: 'qmc' | 'random', seed: number): number => {
      const hit = new Set(Array.from({ length: 36 }, (_, n) => JSON.stringify(propose({ kind, seed }, space, [], n))));
      return 36 - hit.size;
    };
    const seeds = Array.from({ length: 10 }, (_, i) => i);
    const q = seeds.map((s) => empty('qmc', s));
    const r = seeds.map((s) => empty('random', s));
    // 36 random draws leave 36·(35/36)^36 ≈ 13 of the 36 cells empty on average.
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(q) < 0.75 * mean(r), `empty cells after 36 trials: qmc ${q.join(' ')}; random ${r.join(' ')}`);
  });
});

describe('TPE', () => {
  it("Optuna's gamma and weights", () => {
    assert.deepEqual([1, 10, 11, 100, 300, 1000].map(tpeGamma), [1, 1, 2, 10, 25, 25]);
    assert.deepEqual(tpeWeights(3), [1, 1, 1]);
    const w = tpeWeights(30);
    assert.equal(w.length, 30);
    assert.ok(Math.abs(w[0] - 1 / 30) < 1e-12 && w[4] === 1 && w[29] === 1 && w[1] > w[0]);
  });
  it('erf matches known values', () => {
    for (const [x, want] of [
      [0, 0],
      [0.5, 0.5204998778],
      [1, 0.8427007929],
      [-2, -0.995322265],
    ])
      assert.ok(Math.abs(erf(x) - want) < 2e-7, `erf(${x})`);
  });
  it('the Parzen estimator is a density on [low, high] that peaks at the observations', () => {
    const p = numericParzen([2, 2.2], [1, 1], 0, 10);
    let mass = 0;
    for (let x = 0; x <= 10; x += 0.001) mass += Math.exp(parzenLogPdf(p, x)) * 0.001;
    assert.ok(Math.abs(mass - 1) < 0.01, `mass ${mass}`);
    assert.ok(parzenLogPdf(p, 2.1) > parzenLogPdf(p, 8));
  });
  it('uses random proposals for the start-up trials, then moves towards the good region', () => {
    const space = sp({ x: Space.uniform(-10, 10) });
    const alg = { kind: 'tpe', seed: 5, startupTrials: 10 } as const;
    const hist: TrialView[] = [];
    for (let n = 0; n < 10; n++) {
      const p = propose(alg, space, hist, n)!;
      assert.deepEqual(p, propose({ kind: 'random', seed: 5 }, space, [], n), 'start-up is random with the same stream');
      hist.push({ number: n, params: p, state: 'Complete', value: ((p.x as number) - 3) ** 2 });
    }
    for (let n = 10; n < 40; n++) {
      const p = propose(alg, space, hist, n)!;
      hist.push({ number: n, params: p, state: 'Complete', value: ((p.x as number) - 3) ** 2 });
    }
    const late = hist.slice(30).map((t) => Math.abs((t.params.x as number) - 3));
    const mean = late.reduce((a, b) => a + b, 0) / late.length;
    assert.ok(mean < 3.5, `TPE's late proposals should lean towards x=3 (uniform draws average 5.45 away), mean distance ${mean}`);
    // Reproducible: the same history and seed give the same proposal.
    assert.deepEqual(propose(alg, space, hist, 40), propose(alg, space, hist, 40));
  });
  it('finds a better best than random search at the same budget, over ten seeds', () => {
    const space = sp({ x: Space.uniform(-10, 10), y: Space.logUniform(1e-3, 10) });
    const f = (p: Record<string, unknown>) => ((p.x as number) - 3) ** 2 + Math.log10(p.y as number) ** 2;
    const bestOf = (kind: 'tpe' | 'random', seed: number) => {
      const hist: TrialView[] = [];
      for (let n = 0; n < 40; n++) {
        const p = propose({ kind, seed }, space, hist, n)!;
        hist.push({ number: n, params: p, state: 'Complete', value: f(p) });
      }
      return Math.min(...hist.map((h) => h.value!));
    };
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const seeds = [...Array(10).keys()];
    const tpe = med(seeds.map((s) => bestOf('tpe', s)));
    const rnd = med(seeds.map((s) => bestOf('random', s)));
    assert.ok(tpe < rnd / 2, `median best: TPE ${tpe}, random ${rnd}`);
  });
  it("learns from pruned trials as Optuna's TPESampler does: they count towards start-up and rank by how far they got", () => {
    // Under ASHA most trials are pruned: 1 complete trial and 29 pruned ones. The pruned trials near
    // x = 3 got to step 9; those far from it stopped at step 1 with lower values (early values are no
    // guide: a later step outranks any value at an earlier one). gamma(30) = 3: the complete trial
    // and the two pruned trials that got furthest are the good ones.
    const space = sp({ x: Space.uniform(-10, 10) });
    const alg = { kind: 'tpe', seed: 5, startupTrials: 10 } as const;
    const hist: TrialView[] = [
      { number: 0, params: { x: 3.2 }, state: 'Complete', value: 0.04 },
      ...Array.from({ length: 29 }, (_, i): TrialView => {
        const near = i % 10 === 0;
        const x = near ? 2.8 + i / 100 : -9.5 + (i * 19) / 29;
        return { number: 1 + i, params: { x }, state: 'Pruned', intermediate: near ? { '1': 5, '3': 3, '9': (x - 3) ** 2 } : { '1': 0.1 } };
      }),
    ];
    const proposals = Array.from({ length: 20 }, (_, k) => propose(alg, space, hist, 30 + k)!);
    assert.notDeepEqual(proposals[0], propose({ kind: 'random', seed: 5 }, space, [], 30), 'past start-up (complete and pruned count): the model is used');
    const mean = proposals.reduce((a, p) => a + Math.abs((p.x as number) - 3), 0) / proposals.length;
    assert.ok(mean < 2.5, `proposals lean towards the trials that got furthest (x≈3): mean distance ${mean}`);
    // The intermediate values rank in the early-stopping metric's direction (maximising flips them).
    const tied: TrialView[] = Array.from({ length: 20 }, (_, n) => ({
      number: n,
      params: { x: n < 10 ? -5 : 5 },
      state: 'Pruned',
      intermediate: { '3': n < 10 ? 1 : 2 },
    }));
    const side = (d: 'minimize' | 'maximize') =>
      Array.from({ length: 20 }, (_, k) => propose(alg, space, tied, 20 + k, 'minimize', d)!.x as number).filter((x) => x > 0).length;
    assert.ok(side('minimize') < 6 && side('maximize') > 14, `${side('minimize')} vs ${side('maximize')} proposals on the x > 0 side`);
  });
  it('maximising flips which trials are good; categorical choices follow the good ones', () => {
    const space = sp({ c: Space.categorical(['bad', 'good', 'meh']) });
    const hist: TrialView[] = Array.from({ length: 30 }, (_, n) => {
      const c = ['bad', 'good', 'meh'][n % 3];
      return { number: n, params: { c }, state: 'Complete', value: c === 'good' ? 10 : 0 };
    });
    const picks = Array.from({ length: 20 }, (_, n) => propose({ kind: 'tpe', seed: 1 }, space, hist, 30 + n, 'maximize')!.c);
    assert.ok(picks.filter((c) => c === 'good').length >= 16, picks.join(','));
  });
});

describe('early stopping', () => {
  const asha: EarlyStoppingSpec = { kind: 'asha', minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 0, metric: 'loss', direction: 'minimize' };
  const median: EarlyStoppingSpec = { kind: 'median', startupTrials: 2, warmupSteps: 1, metric: 'loss', direction: 'minimize' };
  const t = (number: number, intermediate: Record<string, number>, state: TrialView['state'] = 'Complete'): TrialView => ({
    number,
    params: {},
    state,
    intermediate,
  });
  it('ASHA rungs', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 9, 27, 28].map((s) => ashaRung(s, 1, 3, 0)),
      [0, -1, 1, -1, 2, 3, -1],
    );
    assert.deepEqual(
      [2, 4, 6, 8].map((s) => ashaRung(s, 2, 2, 1)),
      [-1, 0, -1, 1],
    );
  });
  const cases: {
    name: string;
    rule: EarlyStoppingSpec;
    step: number;
    value: number;
    own?: Record<string, number>;
    others: TrialView[];
    prune: boolean;
    reason: string;
  }[] = [
    {
      name: 'ASHA: a lone trial goes on',
      rule: asha,
      step: 1,
      value: 5,
      others: [],
      prune: false,
      reason: 'rung 0 (step 1): loss 5 is among the best 1 of 1 (cut 5)',
    },
    {
      name: 'ASHA: the best of three goes on',
      rule: asha,
      step: 1,
      value: 0.2,
      others: [t(0, { 1: 0.5 }), t(1, { 1: 0.9 })],
      prune: false,
      reason: 'rung 0 (step 1): loss 0.2000 is among the best 1 of 3 (cut 0.2000)',
    },
    {
      name: 'ASHA: the second of three stops',
      rule: asha,
      step: 1,
      value: 0.6,
      others: [t(0, { 1: 0.5 }), t(1, { 1: 0.9 })],
      prune: true,
      reason: 'rung 0 (step 1): loss 0.6000 is not among the best 1 of 3 (cut 0.5000)',
    },
    { name: 'ASHA: no rung, no decision', rule: asha, step: 2, value: 100, others: [t(0, { 2: 0.1 })], prune: false, reason: 'step 2 is no rung' },
    {
      name: 'ASHA: maximising keeps the largest',
      rule: { ...asha, metric: 'auc', direction: 'maximize' },
      step: 3,
      value: 0.9,
      others: [t(0, { 3: 0.8 }), t(1, { 3: 0.7 })],
      prune: false,
      reason: 'rung 1 (step 3): auc 0.9000 is among the best 1 of 3 (cut 0.9000)',
    },
    { name: 'median: warm-up', rule: median, step: 1, value: 9, others: [t(0, { 1: 0.1 }), t(1, { 1: 0.1 })], prune: false, reason: 'warm-up (step 1 of 1)' },
    {
      name: 'median: too few complete trials',
      rule: median,
      step: 2,
      value: 9,
      others: [t(0, { 2: 0.1 }), t(1, { 2: 0.1 }, 'Pruned')],
      prune: false,
      reason: '1 of 2 start-up trials complete',
    },
    {
      name: 'median: worse than the median stops',
      rule: median,
      step: 2,
      value: 0.8,
      own: { 1: 0.9 },
      others: [t(0, { 2: 0.3 }), t(1, { 2: 0.5 }), t(2, { 2: 0.7 })],
      prune: true,
      reason: 'step 2: best loss so far 0.8000 is worse than the median 0.5000 of 3 complete trials',
    },
    {
      name: 'median: the best value so far counts',
      rule: median,
      step: 3,
      value: 0.8,
      own: { 2: 0.4 },
      others: [t(0, { 3: 0.3 }), t(1, { 3: 0.6 })],
      prune: false,
      reason: 'step 3: best loss so far 0.4000 is no worse than the median 0.4500 of 2 complete trials',
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const d = decidePrune(c.rule, c.step, c.value, t(99, c.own ?? {}, 'Running'), c.others);
      assert.deepEqual(d, { prune: c.prune, reason: c.reason });
    });

  it('Hyperband: brackets first judge at minResource·η^b, each trial against its own bracket only', () => {
    const hb: EarlyStoppingSpec = { kind: 'hyperband', minResource: 1, maxResource: 27, reductionFactor: 3, metric: 'loss', direction: 'minimize' };
    assert.equal(hyperbandBrackets(1, 27, 3), 4);
    assert.equal(hyperbandBrackets(1, 20, 3), 3);
    assert.equal(hyperbandBrackets(2, 8, 2), 3);
    // Trials 0, 4, 8 are in bracket 0 (rungs 1, 3, 9, 27); 1, 5 in bracket 1 (rungs 3, 9, 27).
    const others = [t(0, { 1: 0.5, 3: 0.4 }), t(4, { 1: 0.9 }), t(1, { 1: 0.1, 3: 0.1 }), t(5, { 3: 0.2 })];
    assert.deepEqual(decidePrune(hb, 1, 0.6, t(8, {}, 'Running'), others), {
      prune: true,
      reason: 'bracket 0 of 4, rung 0 (step 1): loss 0.6000 is not among the best 1 of 3 (cut 0.5000)',
    });
    // Bracket 1 has no rung at step 1; at step 3 it compares with trials 1 and 5 only (not 0's 0.4).
    assert.deepEqual(decidePrune(hb, 1, 99, t(9, {}, 'Running'), others), { prune: false, reason: 'bracket 1 of 4, step 1 is no rung' });
    assert.deepEqual(decidePrune(hb, 3, 0.15, t(9, {}, 'Running'), others), {
      prune: true,
      reason: 'bracket 1 of 4, rung 0 (step 3): loss 0.1500 is not among the best 1 of 3 (cut 0.1000)',
    });
    // Within a bracket, the decision is ASHA's with s = the bracket (Optuna's HyperbandPruner definition).
    const bracket1 = others.filter((x) => x.number % 4 === 1);
    assert.deepEqual(
      decidePrune(hb, 3, 0.15, t(9, {}, 'Running'), others).prune,
      decidePrune(
        { kind: 'asha', minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 1, metric: 'loss', direction: 'minimize' },
        3,
        0.15,
        t(9, {}, 'Running'),
        bracket1,
      ).prune,
    );
  });
});

describe('sameFailure: when the first trials all fail alike, the sweep stops', () => {
  const F = (number: number, message?: string) => ({ number, state: 'Failed', ...(message !== undefined ? { message } : {}) });
  const bug = "train: 'python' exited with code 1; its last error line: KeyError: 'label'";
  const cases: { name: string; trials: { number: number; state: string; message?: string; inSharedStep?: boolean }[]; k?: number; stops: boolean }[] = [
    { name: 'no trials', trials: [], stops: false },
    { name: 'two failed alike (fewer than three)', trials: [F(0, bug), F(1, bug)], stops: false },
    { name: 'three failed alike', trials: [F(0, bug), F(1, bug), F(2, bug)], stops: true },
    { name: 'three alike, finished out of order', trials: [F(2, bug), F(0, bug), F(1, bug)], stops: true },
    { name: 'three alike and a later one too', trials: [F(0, bug), F(1, bug), F(2, bug), F(3, bug)], stops: true },
    { name: 'trial 1 still running', trials: [F(0, bug), { number: 1, state: 'Running' }, F(2, bug), F(3, bug)], stops: false },
    { name: 'trial 1 not finished yet (absent), 2 and 3 alike', trials: [F(0, bug), F(2, bug), F(3, bug)], stops: false },
    { name: 'messages name the params', trials: [F(0, 'x 0.71 diverges'), F(1, 'x 0.93 diverges'), F(2, 'x 0.66 diverges')], stops: false },
    { name: 'one message differs', trials: [F(0, bug), F(1, bug), F(2, 'out of memory')], stops: false },
    { name: 'no messages', trials: [F(0), F(1), F(2)], stops: false },
    { name: 'alike, but in a step every trial shares (its own rule)', trials: [F(0, bug), { ...F(1, bug), inSharedStep: true }, F(2, bug)], stops: false },
    { name: 'a later trial completed', trials: [F(0, bug), F(1, bug), F(2, bug), { number: 3, state: 'Complete' }], stops: false },
    { name: 'a later trial was pruned (it trained)', trials: [F(0, bug), F(1, bug), F(2, bug), { number: 3, state: 'Pruned' }], stops: false },
    { name: 'k = 1: the first failure alone', trials: [F(0, bug)], k: 1, stops: true },
    { name: 'k = 4: three are not enough', trials: [F(0, bug), F(1, bug), F(2, bug)], k: 4, stops: false },
  ];
  for (const c of cases)
    it(c.name, () => {
      const why = sameFailure('apps/tune', c.trials, c.k);
      assert.equal(why !== undefined, c.stops, why);
      if (why) {
        assert.equal(
          why,
          `apps/tune: the first ${c.k ?? SAME_FAILURE_TRIALS} trials all failed the same way and none completed, so the sweep stopped rather than fail every trial alike; fix the trial task and run the sweep again: ${bug}`,
        );
      }
    });
});
