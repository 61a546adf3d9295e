/**
 * The epoch budget (components/tuning/budget.ts), table-tested: a trial's rungs, the ledger that
 * never promises more than the budget, the trial count a budget can start, and the cluster
 * controller's plan of successive halving within it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EpochLedger, fullResource, nextRung, rungSteps, trialsWithin } from '../../components/tuning/budget.ts';
import type { EarlyStoppingSpec } from '../../components/tuning/pruners.ts';
import { plannedEpochs, type ControllerSpec } from '../../components/tuning/controller.ts';

const asha = (minResource = 1, reductionFactor = 3, minEarlyStoppingRate = 0): EarlyStoppingSpec => ({
  kind: 'asha',
  minResource,
  reductionFactor,
  minEarlyStoppingRate,
  metric: 'loss',
  direction: 'minimize',
});
const hyperband: EarlyStoppingSpec = { kind: 'hyperband', minResource: 1, maxResource: 27, reductionFactor: 3, metric: 'loss', direction: 'minimize' };
const median: EarlyStoppingSpec = { kind: 'median', startupTrials: 5, warmupSteps: 0, metric: 'loss', direction: 'minimize' };

describe('rung steps of a trial', () => {
  const cases: { name: string; es?: EarlyStoppingSpec; max: number; n: number; want: number[] }[] = [
    { name: 'no early stopping: the full epochs', max: 27, n: 0, want: [27] },
    { name: 'median stopping may stop at any step: the full epochs', es: median, max: 27, n: 4, want: [27] },
    { name: 'ASHA η=3 from 1', es: asha(), max: 27, n: 0, want: [1, 3, 9, 27] },
    { name: 'ASHA, full epochs off the geometric series', es: asha(), max: 20, n: 0, want: [1, 3, 9, 20] },
    { name: 'ASHA η=2 from 2', es: asha(2, 2), max: 16, n: 5, want: [2, 4, 8, 16] },
    { name: 'ASHA with early-stopping rate 1', es: asha(1, 3, 1), max: 27, n: 0, want: [3, 9, 27] },
    { name: 'ASHA whose first rung is the full epochs', es: asha(30), max: 27, n: 0, want: [27] },
    { name: 'Hyperband bracket 0 (trial 0)', es: hyperband, max: 27, n: 0, want: [1, 3, 9, 27] },
    { name: 'Hyperband bracket 2 (trial 6)', es: hyperband, max: 27, n: 6, want: [9, 27] },
    { name: 'Hyperband bracket 3 trains in full (trial 7)', es: hyperband, max: 27, n: 7, want: [27] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(rungSteps(c.es, c.max, c.n), c.want));

  it('the next rung after a step', () => {
    assert.equal(nextRung([1, 3, 9, 27], 1), 3);
    assert.equal(nextRung([1, 3, 9, 27], 4), 9);
    assert.equal(nextRung([1, 3, 9, 27], 27), undefined);
  });
});

describe('full resource of the trial task', () => {
  const cases: { name: string; task: Parameters<typeof fullResource>[0]; want: number | undefined }[] = [
    { name: 'a literal epochs', task: { params: { epochs: { kind: 'literal', value: 27 } } }, want: 27 },
    { name: "train-tabular's default", task: { params: {}, component: { name: 'train-tabular' } }, want: 20 },
    {
      name: 'epochs from another step',
      task: { params: { epochs: { kind: 'output', value: undefined } }, component: { name: 'train-tabular' } },
      want: undefined,
    },
    { name: 'a container without epochs', task: { params: {} }, want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(fullResource(c.task), c.want));
});

describe('the epoch ledger', () => {
  type Op = ['start', number, number] | ['extend', number, number] | ['trained', number, number] | ['finish', number, number];
  const cases: { name: string; total: number; ops: Op[]; want: (boolean | undefined)[]; status: { spent: number; reserved: number }; left: number }[] = [
    {
      name: 'starts while the first rung fits, then refuses',
      total: 3,
      ops: [
        ['start', 0, 1],
        ['start', 1, 1],
        ['start', 2, 1],
        ['start', 3, 1],
      ],
      want: [true, true, true, false],
      status: { spent: 0, reserved: 3 },
      left: 0,
    },
    {
      name: 'a promotion needs the extra epochs of the next rung, not the whole rung',
      total: 10,
      ops: [
        ['start', 0, 1],
        ['trained', 0, 1],
        ['extend', 0, 3],
        ['trained', 0, 3],
        ['extend', 0, 9],
        ['trained', 0, 9],
        ['extend', 0, 27],
      ],
      want: [true, undefined, true, undefined, true, undefined, false],
      status: { spent: 9, reserved: 0 },
      left: 1,
    },
    {
      name: "a stopped trial gives back the rest of its promise; others' promises hold",
      total: 12,
      ops: [
        ['start', 0, 9],
        ['start', 1, 3],
        ['trained', 0, 2],
        ['finish', 0, 2],
        ['start', 2, 9],
        ['start', 3, 1],
      ],
      want: [true, true, undefined, undefined, false, true],
      status: { spent: 2, reserved: 4 },
      left: 6,
    },
    {
      name: 'a step-cache hit costs nothing',
      total: 9,
      ops: [
        ['start', 0, 9],
        ['finish', 0, 0],
        ['start', 1, 9],
      ],
      want: [true, undefined, true],
      status: { spent: 0, reserved: 9 },
      left: 0,
    },
    {
      name: 'a trial past its promise (a worker that trained on) is charged what it trained',
      total: 5,
      ops: [
        ['start', 0, 3],
        ['trained', 0, 4],
        ['start', 1, 1],
        ['start', 2, 1],
      ],
      want: [true, undefined, true, false],
      status: { spent: 4, reserved: 1 },
      left: 0,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const l = new EpochLedger(c.total);
      const got = c.ops.map(([op, n, e]) => (op === 'start' ? l.start(n, e) : op === 'extend' ? l.extend(n, e) : void l[op](n, e)));
      assert.deepEqual(got, c.want);
      assert.deepEqual(l.status(), { epochs: c.total, ...c.status });
      assert.equal(l.left(), c.left);
    });

  it('refuses a budget that is no whole number of epochs, and a trial started twice or never', () => {
    assert.throws(() => new EpochLedger(0), /at least 1 \(got 0\)/);
    assert.throws(() => new EpochLedger(2.5), /whole number/);
    const l = new EpochLedger(5);
    l.start(0, 1);
    assert.throws(() => l.start(0, 1), /trial 0 was already started/);
    assert.throws(() => l.extend(4, 3), /trial 4 was never started/);
  });
});

describe('trials an epoch budget can start', () => {
  const cases: { name: string; epochs: number; es?: EarlyStoppingSpec; max: number; want: number }[] = [
    { name: 'no early stopping: whole trials', epochs: 100, max: 27, want: 3 },
    { name: 'ASHA: a first rung each', epochs: 243, es: asha(), max: 27, want: 243 },
    { name: 'ASHA from 3 epochs', epochs: 10, es: asha(3), max: 27, want: 3 },
    // Brackets in turn, first rungs 1, 3, 9, 27: 40 epochs per four trials.
    { name: 'Hyperband: the brackets’ first rungs in turn', epochs: 80, es: hyperband, max: 27, want: 8 },
    { name: 'less than one first rung', epochs: 5, max: 9, want: 0 },
    { name: 'Hyperband, a partial cycle: 40 + 1 + 3', epochs: 45, es: hyperband, max: 27, want: 6 },
    { name: 'a large budget, without counting trial by trial', epochs: 10_000_000, es: asha(), max: 27, want: 10_000_000 },
  ];
  for (const c of cases) it(c.name, () => assert.equal(trialsWithin(c.epochs, c.es, c.max), c.want));
});

describe("the cluster controller's plan of successive halving", () => {
  const spec = (es: EarlyStoppingSpec): ControllerSpec => ({
    sweep: {
      path: 't',
      space: {},
      objective: { metric: 'v', direction: 'minimize' },
      algorithm: { kind: 'random', seed: 0 },
      earlyStopping: es,
      budget: { trials: 99, parallelism: 1 },
    },
    resource: { param: 'epochs', max: 27 },
  });
  const cases: { name: string; es: EarlyStoppingSpec; n: number; want: number }[] = [
    { name: 'ASHA, 27 trials: 27×1 + 9×3 + 3×9 + 1×27', es: asha(), n: 27, want: 108 },
    { name: 'ASHA, 1 trial: every rung from the start', es: asha(), n: 1, want: 1 + 3 + 9 + 27 },
    { name: 'ASHA, 5 trials: 5×1 + 1×3 + 1×9 + 1×27', es: asha(), n: 5, want: 44 },
    { name: 'Hyperband, 8 trials: two per bracket', es: hyperband, n: 8, want: 2 + 3 + 9 + 27 + (6 + 9 + 27) + (18 + 27) + 54 },
  ];
  for (const c of cases) it(c.name, () => assert.equal(plannedEpochs(spec(c.es), c.n), c.want));
});
