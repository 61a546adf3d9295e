/**
 * bench:tuning's real tuning task, shared with bench:tuning-replay: train-tabular (TensorFlow.js,
 * logistic) on the fraud example's synthetic data, a 6 × 6 grid of learning rate × batch size,
 * 27 epochs each, 20% of the training rows held out as a validation slice; the objective is that
 * held-out loss at the last epoch (train.valLoss). See bench/tuning.ts for what is measured.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { Pipeline } from '../pipelines/pipeline.ts';
import type { PipelineSpec } from '../pipelines/spec.ts';
import { runSweep, type SweepRecord, type SweepOptions } from '../pipelines/local/sweep.ts';
import { Space } from '../components/tuning/space.ts';
import { EarlyStopping, Objective, Search, Sweep, type SweepSpec } from '../pipelines/tuning/sweep.ts';

export const EPOCHS = 27;
export const ROWS = 3000;

export const ASHA_BUDGET_SHARE = 0.25;

export async function fraudTuning(
  root: string,
  sampledSeeds: readonly number[],
): Promise<{
  pipeline: PipelineSpec;
  grid: SweepSpec;
  asha: SweepSpec;
  hyperband: SweepSpec;
  sampled: (epochs: number) => { random: SweepSpec[]; qmc: SweepSpec[]; tpe: SweepSpec[] };
  plain: (seed: number) => SweepSpec;
  intermediate: string;
}> {
  const { generate, toCsv } = await import('../examples/fraud-detection/data.ts');
  const csv = join(root, 'fraud.csv');
  await writeFile(csv, toCsv(generate('reference', ROWS, 7)));
  const chart = new Chart(new App(), 'bench');
  const p = new Pipeline(chart, 'fraud-train');
  const ingest = p.component('ingest', 'ingest', { params: { path: csv } });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') }, params: { stratify: 'is_fraud', seed: 1 } });
  const train = p.component('train', 'train-tabular', {
    inputs: { train: split.output('train') },
    params: { label: 'is_fraud', epochs: EPOCHS, model: 'logistic', backend: 'wasm', validationFraction: 0.2 },
  });
  // The test split is kept for an evaluate step after selection; the sweeps never read it.
  p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
  const space = {
    learningRate: Space.logUniform(1e-4, 1e-1, { grid: 6 }),
    batchSize: Space.categorical([32, 64, 128, 256, 512, 1024]),
  };
  // Model selection on the held-out validation slice.
  const objective = Objective.minimize(train, 'valLoss');
  const grid = new Sweep(chart, 'grid', { pipeline: p, trial: train, space, objective, algorithm: Search.grid() });
  // The grid's points in a seeded random order, poor ones stopped early.
  const overGrid = (name: string, earlyStopping: EarlyStopping): Sweep =>
    new Sweep(chart, name, { pipeline: p, trial: train, space, objective, algorithm: Search.grid({ seed: 3 }), earlyStopping });
  const asha = overGrid('asha', EarlyStopping.asha({ minResource: 1, reductionFactor: 3 }));
  const hyperband = overGrid('hyperband', EarlyStopping.hyperband({ minResource: 1, reductionFactor: 3 }));
  // ASHA as it is meant to be used (Li et al., 2020): sampling the space — the learning rate from its
  // whole log-uniform range, not the grid's six points — until a budget of epochs is spent.
  const sampledSpace = { learningRate: Space.logUniform(1e-4, 1e-1), batchSize: space.batchSize };
  const sampled = (kind: 'random' | 'qmc' | 'tpe', epochs: number): SweepSpec[] =>
    sampledSeeds.map((seed) =>
      new Sweep(chart, `asha-${kind}-${seed}`, {
        pipeline: p,
        trial: train,
        space: sampledSpace,
        objective,
        algorithm: kind === 'random' ? Search.random({ seed }) : kind === 'qmc' ? Search.qmc({ seed }) : Search.tpe({ seed }),
        earlyStopping: EarlyStopping.asha({ minResource: 1, reductionFactor: 3 }),
        budget: { epochs },
      }).toSpec(),
    );
  // The same random proposals, trained in full, one after another: which is the first that beats the grid.
  const plain = (seed: number): SweepSpec =>
    new Sweep(chart, `random-full-${seed}`, {
      pipeline: p,
      trial: train,
      space: sampledSpace,
      objective,
      algorithm: Search.random({ seed }),
      budget: { trials: FIRST_BEATING_CAP },
    }).toSpec();
  const ashaSpec = asha.toSpec();
  if (ashaSpec.earlyStopping?.metric !== 'valLoss') throw new Error(`ASHA judges '${ashaSpec.earlyStopping?.metric}', not the held-out 'valLoss'`);
  return {
    pipeline: p.toSpec(),
    grid: grid.toSpec(),
    asha: ashaSpec,
    hyperband: hyperband.toSpec(),
    sampled: (epochs) => ({ random: sampled('random', epochs), qmc: sampled('qmc', epochs), tpe: sampled('tpe', epochs) }),
    plain,
    intermediate: ashaSpec.earlyStopping.metric,
  };
}

/** Proposals a seed's plain random search trains in full, at most, looking for one that beats the grid. */
export const FIRST_BEATING_CAP = 150;

/**
 * The number of the first proposal of a random search (trained in full, one at a time, no early
 * stopping) whose objective is at least as good as `target`, or null within FIRST_BEATING_CAP: random
 * proposals depend on the seed and the trial number only, so ASHA with the same seed proposes the same
 * points, and none can reach the target before it has started this one.
 */
export async function firstBeating(root: string, pipeline: PipelineSpec, sweep: SweepSpec, target: number): Promise<number | null> {
  const stop = new AbortController();
  let first: number | null = null;
  let failed: string | undefined;
  await runSweep(pipeline, sweep, {
    cwd: root,
    storeDir: join(root, sweep.name),
    gitCommit: null,
    final: false,
    signal: stop.signal,
    onSweepEvent: (e) => {
      if (e.type === 'trial-end' && e.state === 'Failed') failed ??= `sweep ${sweep.name}: trial ${e.number} failed: ${e.message}`;
      if (e.type === 'trial-end' && e.state === 'Complete' && first === null && e.value! <= target + 1e-9) {
        first = e.number;
        stop.abort(new Error('found'));
      }
    },
  });
  if (failed) throw new Error(failed);
  return first;
}

export async function timedSweep(
  root: string,
  pipeline: PipelineSpec,
  sweep: SweepSpec,
  opts: Pick<SweepOptions, 'onEvent'> = {},
): Promise<{ rec: SweepRecord; seconds: number; epochs: number }> {
  const t0 = performance.now();
  const rec = await runSweep(pipeline, sweep, { cwd: root, storeDir: join(root, sweep.name), gitCommit: null, final: false, ...opts });
  const seconds = (performance.now() - t0) / 1000;
  if (!rec.best) throw new Error(`sweep ${sweep.name}: ${rec.status} ${rec.message ?? ''}`);
  const failed = rec.trials.filter((t) => t.state === 'Failed');
  if (failed.length) throw new Error(`sweep ${sweep.name}: trial ${failed[0].number} failed: ${failed[0].message}`);
  return { rec, seconds, epochs: rec.trials.reduce((a, t) => a + t.steps, 0) };
}
