/**
 * Sweeps on the local engine: trials are child runs of the sweep through the real engine and its step
 * cache; the best params run the whole pipeline (its trial steps cache hits, the register step runs);
 * a seed gives the same trials; ASHA stops trials early; an interrupted sweep resumes.
 * Components are defined in the test (fast, deterministic objectives).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSweep, sharedTasks, SweepStore, trialPipeline, type SweepEvent } from '../../pipelines/local/sweep.ts';
import { RunStore } from '../../pipelines/local/store.ts';
import { isHeavy } from '../../pipelines/local/node-runner.ts';
import { formatSweep } from '../../pipelines/local/sweep-report.ts';
import { Space } from '../../components/tuning/space.ts';
import type { SweepSpec } from '../../pipelines/tuning/sweep.ts';
import type { ParamValue } from '../../components/component.ts';
import { DatasetError } from '../../components/dataset/types.ts';
import { writeFile } from 'node:fs/promises';
import { EarlyStopping, Objective, Pipeline, Resources, Search, Sweep } from '../../pipelines/index.ts';
import { catalog, comp, lit, out, pipeline, task, tempDir } from '../engine/helpers.ts';
import { chart } from '../constructs/helpers.ts';

const registered: ParamValue[] = [];
let trainCalls = 0;
const components = catalog(
  comp(
    'data',
    (ctx) => {
      if (ctx.params.broken === 'terminal') throw new DatasetError("data.csv has no column 'label'; its columns are a, b");
      if (ctx.params.broken === 'flaky') throw new Error('the object store reset the connection');
      ctx.setOutput('rows', 100);
    },
    { outputParams: ['rows'] },
  ),
  comp(
    'fit',
    async (ctx) => {
      trainCalls++;
      const x = Number(ctx.params.x);
      const c = String(ctx.params.c ?? 'a');
      const epochs = Number(ctx.params.epochs ?? 9);
      if (ctx.params.failAbove !== undefined && x > Number(ctx.params.failAbove)) throw new Error(`x ${x} diverges`);
      if (ctx.params.bug !== undefined) throw new Error(String(ctx.params.bug));
      const target = (x - 0.3) ** 2 + (c === 'b' ? 0 : 0.5);
      for (let e = 1; e <= epochs; e++) {
        // Loss falls towards the trial's final value; a better trial is better at every epoch.
        ctx.progress({ epoch: e, epochs, loss: target + 1 / e });
        await new Promise((r) => setImmediate(r));
        if (ctx.signal.aborted) throw new Error('stopped');
      }
      ctx.setOutput('score', target);
    },
    { outputParams: ['score'] },
  ),
  comp('judge', (ctx) => ctx.setOutput('err', ctx.params.nullify ? null : ctx.params.score), { outputParams: ['err'] }),
  comp('reg', (ctx) => void registered.push(ctx.params.score)),
);

const spec = pipeline('toy', [
  task('data', { component: { name: 'data', version: '1' }, outputParams: ['rows'] }),
  task('train', {
    component: { name: 'fit', version: '1' },
    params: { rows: out('data', 'rows'), x: lit(0), c: lit('a'), epochs: lit(9) },
    outputParams: ['score'],
  }),
  task('evaluate', { component: { name: 'judge', version: '1' }, params: { score: out('train', 'score') }, outputParams: ['err'] }),
  task('register', { component: { name: 'reg', version: '1' }, params: { score: out('evaluate', 'err') }, cache: { enabled: false } }),
]);

const sweep = (extra: Partial<SweepSpec> = {}): SweepSpec => ({
  name: 'toy-tune',
  path: 'test/toy-tune',
  pipeline: 'toy',
  task: 'train',
  space: { x: Space.uniform(-1, 1).spec, c: Space.categorical(['a', 'b']).spec },
  objective: { task: 'evaluate', metric: 'err', direction: 'minimize' },
  algorithm: { kind: 'random', seed: 11 },
  budget: { trials: 8, parallelism: 1 },
  ...extra,
});

describe('local sweep', () => {
  it('runs trials as child runs, finds the best, and runs the pipeline with it (trial steps cached, register runs)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      registered.length = 0;
      const events: SweepEvent[] = [];
      const rec = await runSweep(spec, sweep(), { cwd: dir, components, gitCommit: null, onSweepEvent: (e) => events.push(e) });
      assert.equal(rec.status, 'Succeeded', rec.message);
      assert.equal(rec.trials.length, 8);
      assert.ok(rec.trials.every((t) => t.state === 'Complete' && t.steps === 9));
      const best = rec.trials.reduce((a, b) => (b.value! < a.value! ? b : a));
      assert.deepEqual(rec.best, { number: best.number, value: best.value, params: best.params, runId: best.runId });
      const runs = new RunStore(`${dir}/.ghosteam`);
      const trialRun = await runs.load(rec.trials[0].runId);
      assert.equal(trialRun.parent, rec.id);
      assert.deepEqual(Object.keys(trialRun.nodes).sort(), ['data', 'evaluate', 'train'], 'a trial runs only what the objective needs');
      assert.ok(trialRun.nodes.data.cached || rec.trials[0].number === 0, 'the data step is shared');
      const fin = await runs.load(rec.finalRunId!);
      assert.equal(fin.parent, rec.id);
      assert.equal(fin.nodes.train.cached, true, "the best trial's training is a cache hit");
      assert.equal(fin.nodes.evaluate.cached, true);
      assert.deepEqual(registered, [best.value], 'register got the best model');
      assert.deepEqual(
        events.map((e) => e.type),
        ['sweep-start', ...Array<string>(8).fill('trial-start,trial-end').join(',').split(','), 'final-start', 'sweep-end'],
      );
    } finally {
      await cleanup();
    }
  });

  it('a seed gives the same trials, whatever the number of cores running them', async () => {
    const a = await tempDir();
    const b = await tempDir();
    try {
      const alg = { kind: 'tpe', seed: 4, startupTrials: 3 } as const;
      const s = sweep({ algorithm: alg, budget: { trials: 9, parallelism: 3 } });
      const r1 = await runSweep(spec, s, { cwd: a.dir, components, gitCommit: null, final: false, trialConcurrency: 3 });
      const r2 = await runSweep(spec, s, { cwd: b.dir, components, gitCommit: null, final: false, trialConcurrency: 1 });
      assert.deepEqual(
        r1.trials.map((t) => t.params),
        r2.trials.map((t) => t.params),
      );
      assert.equal(new Set(r1.trials.map((t) => JSON.stringify(t.params))).size, 9);
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
  });

  it('ASHA stops poor trials early and spends fewer epochs', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const s = sweep({
        budget: { trials: 12, parallelism: 1 },
        earlyStopping: { kind: 'asha', minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 0, metric: 'loss', direction: 'minimize' },
      });
      const rec = await runSweep(spec, s, { cwd: dir, components, gitCommit: null, final: false });
      const pruned = rec.trials.filter((t) => t.state === 'Pruned');
      assert.ok(pruned.length >= 4, `pruned ${pruned.length}`);
      assert.ok(
        pruned.every((t) => t.steps < 9 && /^pruned at step (1|3): rung/.test(t.message!)),
        JSON.stringify(pruned.map((t) => t.message)),
      );
      const epochs = rec.trials.reduce((a, t) => a + t.steps, 0);
      assert.ok(epochs < 12 * 9 * 0.7, `epochs ${epochs}`);
      // The best trial is never stopped: a better trial is better at every rung.
      const full = await runSweep(spec, sweep({ budget: { trials: 12, parallelism: 1 } }), { cwd: dir, components, gitCommit: null, final: false });
      assert.equal(rec.best!.value, full.best!.value);
    } finally {
      await cleanup();
    }
  });

  it('Hyperband stops trials within their brackets and spends fewer epochs than training all', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const s = sweep({
        budget: { trials: 12, parallelism: 1 },
        earlyStopping: { kind: 'hyperband', minResource: 1, maxResource: 9, reductionFactor: 3, metric: 'loss', direction: 'minimize' },
      });
      const rec = await runSweep(spec, s, { cwd: dir, components, gitCommit: null, final: false });
      const pruned = rec.trials.filter((t) => t.state === 'Pruned');
      assert.ok(pruned.length >= 3, `pruned ${pruned.length}`);
      // 3 brackets: trial n in bracket n mod 3, first judged at 1, 3, 9 epochs; bracket 2 never stops a trial.
      for (const t of pruned) {
        const b = t.number % 3;
        assert.notEqual(b, 2, `trial ${t.number} stopped in bracket 2`);
        assert.match(t.message!, new RegExp(`^pruned at step \\d+: bracket ${b} of 3, rung \\d`));
      }
      const epochs = rec.trials.reduce((a, t) => a + t.steps, 0);
      assert.ok(epochs < 12 * 9, `epochs ${epochs}`);
      const full = await runSweep(spec, sweep({ budget: { trials: 12, parallelism: 1 } }), { cwd: dir, components, gitCommit: null, final: false });
      assert.equal(rec.best!.value, full.best!.value);
    } finally {
      await cleanup();
    }
  });

  it('an epoch budget: trials until it is spent, never more (ASHA, Hyperband, median, none; one and three at once)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const rule = (kind: 'asha' | 'hyperband' | 'median' | 'none') =>
        kind === 'asha'
          ? ({ kind, minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 0, metric: 'loss', direction: 'minimize' } as const)
          : kind === 'hyperband'
            ? ({ kind, minResource: 1, maxResource: 9, reductionFactor: 3, metric: 'loss', direction: 'minimize' } as const)
            : kind === 'median'
              ? ({ kind, startupTrials: 2, warmupSteps: 0, metric: 'loss', direction: 'minimize' } as const)
              : undefined;
      // A raw spec (no construct checked it) whose trial task has no epochs: an error before anything is written.
      await assert.rejects(
        runSweep(spec, sweep({ task: 'data', budget: { trials: 5, parallelism: 1, epochs: 40 } }), { cwd: dir, storeDir: 'raw', components, gitCommit: null }),
        /test\/toy-tune: budget.epochs needs task 'data' to take a literal 'epochs' param/,
      );
      assert.deepEqual(await new SweepStore(`${dir}/raw`).list(), []);
      for (const kind of ['asha', 'hyperband', 'median', 'none'] as const)
        for (const parallelism of [1, 3]) {
          const es = rule(kind);
          const s = sweep({ budget: { trials: 1000, parallelism, epochs: 40 }, ...(es ? { earlyStopping: es } : {}) });
          const rec = await runSweep(spec, s, { cwd: dir, storeDir: `store-${kind}-${parallelism}`, components, gitCommit: null, final: false });
          const what = `${kind}, ${parallelism} at once`;
          assert.equal(rec.status, 'Succeeded', `${what}: ${rec.message}`);
          // The epochs the trial runs really reported, each one from the run's own per-epoch history.
          const runs = new RunStore(`${dir}/store-${kind}-${parallelism}`);
          let trained = 0;
          for (const t of rec.trials) trained += (await runs.load(t.runId)).nodes.train.history?.loss?.length ?? 0;
          assert.ok(trained <= 40, `${what}: trained ${trained} epochs of 40`);
          assert.equal(
            rec.trials.reduce((a, t) => a + t.steps, 0),
            trained,
          );
          assert.deepEqual(rec.budget, { epochs: 40, spent: trained, reserved: 0 });
          assert.match(formatSweep(rec), new RegExp(`^epochs spent: ${trained} of a budget of 40$`, 'm'));
          // Spent up to what no next trial could use: a first rung (1 epoch) with ASHA, a whole trial (9) otherwise.
          const unused = kind === 'asha' ? 0 : kind === 'hyperband' ? 8 : 8;
          assert.ok(trained >= 40 - unused, `${what}: ${40 - trained} epochs left unspent`);
          if (kind === 'asha')
            assert.ok(
              rec.trials.some((t) =>
                /^stopped at step \d+: the epoch budget has \d+ of 40 epochs left, and the next rung \(step \d+\) needs \d+$/.test(t.message ?? ''),
              ),
              `${what}: ${JSON.stringify(rec.trials.map((t) => t.message))}`,
            );
        }
    } finally {
      await cleanup();
    }
  });

  it('an epoch budget with a real trial task in a worker thread (cpu 2): trials stop at their rung exactly, never past the budget', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const { generate, toCsv } = await import('../../examples/fraud-detection/data.ts');
      const csv = `${dir}/fraud.csv`;
      await writeFile(csv, toCsv(generate('reference', 600, 3)));
      const { chart: c } = chart();
      const p = new Pipeline(c, 'fraud-w');
      const ingest = p.component('ingest', 'ingest', { params: { path: csv } });
      const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') }, params: { stratify: 'is_fraud', seed: 1 } });
      const train = p.component('train', 'train-tabular', {
        inputs: { train: split.output('train') },
        params: { label: 'is_fraud', epochs: 9, model: 'logistic', backend: 'cpu', validationFraction: 0.2 },
        resources: Resources.of({ cpu: '2', memory: '1Gi' }),
      });
      const s = new Sweep(c, 'w', {
        pipeline: p,
        trial: train,
        space: { learningRate: Space.logUniform(1e-4, 1e-1) },
        objective: Objective.minimize(train, 'valLoss'),
        algorithm: Search.random({ seed: 2 }),
        earlyStopping: EarlyStopping.asha(),
        budget: { epochs: 30 },
      });
      const ps = p.toSpec();
      // The engine runs a step of 2 CPUs or more in a worker thread (isolation 'auto').
      assert.ok(isHeavy(ps.tasks.find((x) => x.name === 'train')!));
      const rec = await runSweep(ps, s.toSpec(), { cwd: dir, gitCommit: null, final: false, isolation: 'auto' });
      assert.equal(rec.status, 'Succeeded', rec.message);
      const runs = new RunStore(`${dir}/.ghosteam`);
      let trained = 0;
      for (const t of rec.trials) {
        const r = await runs.load(t.runId);
        const epochs = r.nodes.train.history?.loss?.length ?? 0;
        trained += epochs;
        // A stopped trial trained exactly to the rung it was stopped at (1, 3: ASHA's rungs below 9).
        if (t.state === 'Pruned') assert.ok([1, 3].includes(epochs) && epochs === t.steps, `trial ${t.number}: ${epochs} epochs, ${t.message}`);
      }
      assert.ok(trained <= 30, `trained ${trained} epochs of 30`);
      assert.deepEqual(rec.budget, { epochs: 30, spent: trained, reserved: 0 });
    } finally {
      await cleanup();
    }
  });

  it('an interrupted sweep resumes with the same trials', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const ctl = new AbortController();
      let ended = 0;
      const first = await runSweep(spec, sweep(), {
        cwd: dir,
        components,
        gitCommit: null,
        signal: ctl.signal,
        onSweepEvent: (e) => {
          if (e.type === 'trial-end' && ++ended === 3) ctl.abort(new Error('interrupted'));
        },
      });
      assert.equal(first.status, 'Cancelled');
      assert.ok(first.trials.filter((t) => t.state === 'Complete').length >= 3);
      const calls = trainCalls;
      const resumed = await runSweep(spec, sweep(), { cwd: dir, components, gitCommit: null, resume: first.id });
      assert.equal(resumed.id, first.id);
      assert.equal(resumed.status, 'Succeeded');
      assert.equal(resumed.trials.length, 8);
      assert.ok(trainCalls - calls <= 5 + 1, `trained ${trainCalls - calls} times on resume`);
      const { dir: d2, cleanup: c2 } = await tempDir();
      try {
        const straight = await runSweep(spec, sweep(), { cwd: d2, components, gitCommit: null, final: false });
        assert.deepEqual(
          resumed.trials.map((t) => t.params),
          straight.trials.map((t) => t.params),
        );
      } finally {
        await c2();
      }
    } finally {
      await cleanup();
    }
  });

  it('a resumed sweep charges its budget the epochs the interrupted trial trained, though that trial runs again', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // No early stopping: 9 epochs a trial, four fit a budget of 40.
      const s = sweep({ budget: { trials: 100, parallelism: 1, epochs: 40 } });
      const ctl = new AbortController();
      let fifth = 0;
      const first = await runSweep(spec, s, {
        cwd: dir,
        components,
        gitCommit: null,
        final: false,
        signal: ctl.signal,
        // Interrupt the third trial after its fifth epoch.
        onEvent: (e) => {
          if (e.type === 'progress' && e.node === 'train' && e.epoch === 5 && ++fifth === 3) ctl.abort(new Error('interrupted'));
        },
      });
      assert.equal(first.status, 'Cancelled');
      assert.deepEqual(
        first.trials.map((t) => [t.state, t.steps]),
        [
          ['Complete', 9],
          ['Complete', 9],
          ['Running', 5],
        ],
      );
      assert.deepEqual(first.budget, { epochs: 40, spent: 23, reserved: 0 });
      const resumed = await runSweep(spec, s, { cwd: dir, components, gitCommit: null, final: false, resume: first.id });
      assert.equal(resumed.status, 'Succeeded', resumed.message);
      // 9 + 9 + 5 (lost) + 9 (the third again) = 32; a fourth trial's 9 would make 41.
      assert.deepEqual(
        resumed.trials.map((t) => [t.state, t.steps]),
        [
          ['Complete', 9],
          ['Complete', 9],
          ['Complete', 9],
        ],
      );
      assert.deepEqual(resumed.budget, { epochs: 40, spent: 32, reserved: 0, lost: 5 });
    } finally {
      await cleanup();
    }
  });

  it('grid search stops when the grid is exhausted; a non-numeric objective fails the trial with the reason', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const g = await runSweep(
        spec,
        sweep({ space: { c: Space.categorical(['a', 'b']).spec }, algorithm: { kind: 'grid' }, budget: { trials: 10, parallelism: 2 } }),
        {
          cwd: dir,
          components,
          gitCommit: null,
          final: false,
        },
      );
      assert.deepEqual(
        g.trials.map((t) => t.params),
        [{ c: 'a' }, { c: 'b' }],
      );
      const nullSpec = { ...spec, tasks: spec.tasks.map((t) => (t.name === 'evaluate' ? { ...t, params: { ...t.params, nullify: lit(true) } } : t)) };
      const bad = await runSweep(nullSpec, sweep({ budget: { trials: 2, parallelism: 1 } }), { cwd: dir, components, gitCommit: null });
      assert.equal(bad.status, 'Failed');
      assert.equal(bad.trials[0].message, "task 'evaluate' gave objective 'err' as null, not a number");
      assert.equal(
        bad.message,
        "test/toy-tune: every trial failed (2 of 2), so there is no best model; trial 0: task 'evaluate' gave objective 'err' as null, not a number",
      );
    } finally {
      await cleanup();
    }
  });

  it('a failed trial does not fail the sweep: it is recorded with its error, TPE and ASHA go on, the best runs the pipeline', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // Trials with x above 0.25 throw in the training task (a diverging run, a bad combination).
      const failing = { ...spec, tasks: spec.tasks.map((t) => (t.name === 'train' ? { ...t, params: { ...t.params, failAbove: lit(0.25) } } : t)) };
      for (const extra of [{ algorithm: { kind: 'tpe' as const, seed: 3, startupTrials: 4 } }, { earlyStopping: EarlyStopping.asha().spec }]) {
        const before = registered.length;
        const r = await runSweep(failing, sweep({ ...extra, budget: { trials: 12, parallelism: 2 } }), { cwd: dir, components, gitCommit: null });
        const failed = r.trials.filter((t) => t.state === 'Failed');
        assert.ok(failed.length > 0, `some trials failed: ${JSON.stringify(r.trials.map((t) => [t.params.x, t.state, t.message]))}`);
        assert.ok(
          failed.every((t) => Number(t.params.x) > 0.25 && /x [\d.]+ diverges/.test(t.message ?? '')),
          JSON.stringify(failed.map((t) => [t.params, t.message])),
        );
        assert.equal(r.trials.length, 12, 'the sweep proposed on after the failures');
        assert.equal(r.status, 'Succeeded', r.message);
        assert.ok(r.best && Number(r.best.params.x) <= 0.25);
        assert.equal(r.finalStatus, 'Succeeded');
        assert.equal(registered.length, before + 1, 'the best model flowed on to register');
      }
      const all = await runSweep(failing, sweep({ space: { x: Space.uniform(0.6, 1).spec }, budget: { trials: 3, parallelism: 1 } }), {
        cwd: dir,
        components,
        gitCommit: null,
      });
      assert.equal(all.status, 'Failed');
      assert.match(all.message!, /^test\/toy-tune: every trial failed \(3 of 3\), so there is no best model; trial 0: .*x 0\.\d+ diverges/);
      assert.equal(all.finalRunId, undefined, 'no final run without a best trial');
    } finally {
      await cleanup();
    }
  });

  it('the first three trials failing the same way stop the sweep; failures that differ do not', async () => {
    const { dir, cleanup } = await tempDir();
    const withTrainParam = (name: string, v: ParamValue) => ({
      ...spec,
      tasks: spec.tasks.map((t) => (t.name === 'train' ? { ...t, params: { ...t.params, [name]: lit(v) } } : t)),
    });
    try {
      for (const parallelism of [1, 3]) {
        const r = await runSweep(withTrainParam('bug', "KeyError: 'label'"), sweep({ budget: { trials: 20, parallelism } }), {
          cwd: dir,
          components,
          gitCommit: null,
        });
        assert.equal(r.status, 'Failed');
        // Trials 0–2 decide; those already started beside them (parallelism − 1 at most) finish, no more start.
        assert.ok(r.trials.length >= 3 && r.trials.length <= 3 + parallelism - 1, `${r.trials.length} trials ran at parallelism ${parallelism}`);
        assert.ok(r.trials.every((t) => t.state === 'Failed' && t.failedTask === 'train'));
        assert.match(
          r.message!,
          /^test\/toy-tune: the first 3 trials all failed the same way and none completed, so the sweep stopped rather than fail every trial alike; fix the trial task and run the sweep again: .*KeyError: 'label'$/,
        );
        assert.equal(r.finalRunId, undefined);
      }
      // Failures that name their params (x diverges) are no bug every trial repeats: every trial runs.
      const differ = await runSweep(withTrainParam('failAbove', -2), sweep({ budget: { trials: 5, parallelism: 1 } }), {
        cwd: dir,
        components,
        gitCommit: null,
      });
      assert.equal(differ.trials.length, 5);
      assert.match(differ.message!, /every trial failed \(5 of 5\)/);
    } finally {
      await cleanup();
    }
  });

  it('a terminal failure in a step every trial shares stops the sweep at once; a transient one does not', async () => {
    assert.deepEqual([...sharedTasks(spec, sweep())], ['data'], 'no swept param reaches data; train and evaluate take them');
    const { dir, cleanup } = await tempDir();
    try {
      const broken = (how: string) => ({ ...spec, tasks: spec.tasks.map((t) => (t.name === 'data' ? { ...t, params: { broken: lit(how) } } : t)) });
      const stopped = await runSweep(broken('terminal'), sweep({ budget: { trials: 8, parallelism: 2 } }), { cwd: dir, components, gitCommit: null });
      assert.equal(stopped.status, 'Failed');
      assert.ok(stopped.trials.length <= 2, `stopped after the trials already running: ${stopped.trials.length} ran`);
      assert.match(
        stopped.message!,
        /^test\/toy-tune: trial 0 failed in step 'data', which every trial runs unchanged \(no swept param reaches it\), with an error a retry cannot fix, so the sweep stopped rather than fail every trial the same way: .*has no column 'label'/,
      );
      const flaky = await runSweep(broken('flaky'), sweep({ budget: { trials: 4, parallelism: 1 } }), { cwd: dir, components, gitCommit: null });
      assert.equal(flaky.trials.length, 4, 'a transient failure may pass for the next trial: the sweep goes on');
      assert.ok(
        flaky.trials.every((t) => t.failedTask === 'data'),
        'the record names the failed step (a resumed sweep reads it)',
      );
      assert.match(flaky.message!, /every trial failed \(4 of 4\)/);
    } finally {
      await cleanup();
    }
  });

  it("ASHA on the real train-tabular judges the held-out loss ('valLoss') its validation slice reports", async () => {
    const { dir, cleanup } = await tempDir();
    const registry = process.env.GHOSTEAM_REGISTRY_DIR;
    process.env.GHOSTEAM_REGISTRY_DIR = `${dir}/registry`;
    try {
      const { generate, toCsv } = await import('../../examples/fraud-detection/data.ts');
      await writeFile(`${dir}/fraud.csv`, toCsv(generate('reference', 600, 3)));
      const { chart: c } = chart();
      const p = new Pipeline(c, 'fraud');
      const ingest = p.component('ingest', 'ingest', { params: { path: `${dir}/fraud.csv` } });
      const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') }, params: { seed: 1 } });
      const train = p.component('train', 'train-tabular', {
        inputs: { train: split.output('train') },
        params: { label: 'is_fraud', epochs: 3, backend: 'wasm', validationFraction: 0.25 },
      });
      const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
      const s = new Sweep(c, 'tune', {
        pipeline: p,
        trial: train,
        space: { learningRate: Space.logUniform(1e-4, 1e-1, { grid: 6 }) },
        objective: Objective.minimize(evaluate, 'logLoss'),
        algorithm: Search.grid({ seed: 2 }),
        earlyStopping: EarlyStopping.asha({ minResource: 1, reductionFactor: 3 }),
      }).toSpec();
      assert.equal(s.earlyStopping?.metric, 'valLoss');
      const rec = await runSweep(p.toSpec(), s, { cwd: dir, gitCommit: null, final: false });
      assert.equal(rec.trials.length, 6);
      assert.ok(
        rec.trials.every((t) => t.state === 'Complete' || t.state === 'Pruned'),
        JSON.stringify(rec.trials.map((t) => t.message)),
      );
      assert.ok(
        rec.trials.some((t) => t.state === 'Pruned'),
        'some trial is stopped at a rung',
      );
      const runs = new RunStore(`${dir}/.ghosteam`);
      for (const t of rec.trials) {
        const history = (await runs.load(t.runId)).nodes.train.history!;
        const val = Object.fromEntries(history.valLoss.map((h) => [String(h.step), h.value]));
        const lossOnly = Object.fromEntries(history.loss.map((h) => [String(h.step), h.value]));
        // A pruned trial's last value is judged but its run may be cancelled before it is recorded.
        for (const [step, v] of Object.entries(t.intermediate)) if (step in val) assert.equal(v, val[step], `trial ${t.number} step ${step}`);
        assert.notDeepEqual(t.intermediate, lossOnly);
        if (t.state === 'Pruned') assert.match(t.message!, /^pruned at step [13]: rung [01] \(step [13]\): valLoss /);
      }
    } finally {
      if (registry === undefined) delete process.env.GHOSTEAM_REGISTRY_DIR;
      else process.env.GHOSTEAM_REGISTRY_DIR = registry;
      await cleanup();
    }
  });

  it('a trial pipeline keeps only what the objective needs and sets the swept params as literals', () => {
    const t = trialPipeline(spec, sweep(), { x: 0.5 });
    assert.deepEqual(
      t.tasks.map((x) => x.name),
      ['data', 'train', 'evaluate'],
    );
    assert.deepEqual(t.tasks[1].params.x, { kind: 'literal', value: 0.5 });
    assert.deepEqual(t.tasks[1].params.rows, { kind: 'taskOutput', task: 'data', output: 'rows' });
  });
});
