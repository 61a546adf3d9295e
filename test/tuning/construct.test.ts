/** The Sweep construct: what it renders, and the exact errors for bad input (thrown when the app loads, at synth). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerComponent, EarlyStopping, Objective, Pipeline, Search, Space, Sweep } from '../../pipelines/index.ts';
import { chart, issuesOf } from '../constructs/helpers.ts';

function app() {
  const { chart: c } = chart();
  const p = new Pipeline(c, 'fraud-train');
  const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') } });
  const train = p.component('train', 'train-tabular', { inputs: { train: split.output('train') }, params: { label: 'is_fraud', epochs: 20 } });
  const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
  return { c, p, ingest, train, evaluate };
}

describe('Sweep construct', () => {
  it('renders the sweep IR with defaults', () => {
    const { c, p, train, evaluate } = app();
    const s = new Sweep(c, 'fraud-tune', {
      pipeline: p,
      trial: train,
      space: {
        learningRate: Space.logUniform(1e-4, 1e-1),
        model: Space.categorical(['logistic', 'mlp']),
        hidden: Space.categorical(['16', '32,16']).when('model', ['mlp']),
      },
      objective: Objective.maximize(evaluate, 'auc'),
      earlyStopping: EarlyStopping.asha(),
    });
    assert.deepEqual(s.toSpec(), {
      name: 'fraud-tune',
      path: 'test/fraud-tune',
      pipeline: 'fraud-train',
      task: 'train',
      space: {
        learningRate: { kind: 'loguniform', low: 1e-4, high: 1e-1 },
        model: { kind: 'categorical', choices: ['logistic', 'mlp'] },
        hidden: { kind: 'categorical', choices: ['16', '32,16'], when: { param: 'model', in: ['mlp'] } },
      },
      objective: { task: 'evaluate', metric: 'auc', direction: 'maximize' },
      algorithm: { kind: 'tpe', seed: 0 },
      earlyStopping: { kind: 'asha', minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 0, metric: 'loss', direction: 'minimize' },
      budget: { trials: 20, parallelism: 1 },
    });
  });

  it('grid search defaults its budget to the grid', () => {
    const { c, p, train, evaluate } = app();
    const s = new Sweep(c, 'g', {
      pipeline: p,
      trial: train,
      space: { learningRate: Space.logUniform(1e-3, 1e-1, { grid: 3 }), epochs: Space.int(5, 15, { step: 5 }) },
      objective: Objective.minimize(evaluate, 'logLoss'),
      algorithm: Search.grid(),
      budget: { parallelism: 2, time: '10m' },
    });
    assert.deepEqual(s.toSpec().budget, { trials: 9, parallelism: 2, timeSeconds: 600 });
  });

  it('bad input: clear errors naming the place and the fix', () => {
    const { c, p, train, evaluate } = app();
    const base = { pipeline: p, trial: train, objective: Objective.maximize(evaluate, 'auc') };
    assert.deepEqual(
      issuesOf(() => new Sweep(c, 'a', { ...base, space: {} })),
      ["test/a: 'space' is empty; give at least one dimension, e.g. { learningRate: Space.logUniform(1e-4, 1e-1) }"],
    );
    assert.deepEqual(
      issuesOf(() => new Sweep(c, 'b', { ...base, space: { dropout: Space.uniform(0, 0.5) } })),
      [
        "test/b: 'space.dropout' is not a param of task 'train' (component 'train-tabular'); it takes task, label, positive, features, model, hidden, epochs, batchSize, learningRate, l2, seed, backend, validationFraction",
      ],
    );
    assert.deepEqual(
      issuesOf(() => new Sweep(c, 'd', { ...base, space: { learningRate: Space.uniform(0, 1) }, objective: Objective.maximize(evaluate, 'accuracy_top5') })),
      [`test/d: 'objective' is metric 'accuracy_top5', which task 'evaluate' does not produce; it produces ${evaluate.outputParamNames.join(', ')}`],
    );
    assert.deepEqual(
      issuesOf(() => new Sweep(c, 'e', { ...base, space: { epochs: Space.uniform(1, 10), model: Space.categorical(['logistic', 'forest']) } })),
      [
        "test/e: 'space.epochs' draws real numbers, but the task's param must be an integer >= 1; use Space.int(1, 10)",
        "test/e: 'space.model' takes \"forest\", but the task's param must be one of logistic, linear, mlp",
      ],
    );
    assert.deepEqual(
      issuesOf(() => new Sweep(c, 'f', { ...base, space: { learningRate: Space.uniform(0.001, 0.1) }, algorithm: Search.grid(), budget: { trials: 0 } })),
      [
        "test/f: 'space.learningRate' is continuous, and grid search needs a finite grid; give its points, e.g. Space.uniform(0.001, 0.1, { grid: 4 }), or use Space.categorical([...])",
        "test/f: 'budget.trials' is 0; give a whole number of trials, at least 1",
      ],
    );
  });

  it("early stopping judges the held-out loss ('valLoss') when the trial task has a validation slice", () => {
    const metricOf = (params: Record<string, number>, es = EarlyStopping.asha(), space: Record<string, ReturnType<typeof Space.uniform>> = {}) => {
      const { chart: c } = chart();
      const p = new Pipeline(c, 'p');
      const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
      const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') } });
      const train = p.component('train', 'train-tabular', { inputs: { train: split.output('train') }, params: { label: 'y', ...params } });
      const evaluate = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
      const s = new Sweep(c, 's', {
        pipeline: p,
        trial: train,
        space: { learningRate: Space.uniform(0.01, 0.1), ...space },
        objective: Objective.minimize(evaluate, 'logLoss'),
        earlyStopping: es,
      });
      return s.toSpec().earlyStopping!.metric;
    };
    assert.equal(metricOf({ validationFraction: 0.2 }), 'valLoss');
    assert.equal(metricOf({ validationFraction: 0.2 }, EarlyStopping.median()), 'valLoss');
    assert.equal(metricOf({}, EarlyStopping.asha(), { validationFraction: Space.uniform(0.1, 0.3) }), 'valLoss', 'a swept share counts');
    assert.equal(metricOf({}), 'loss', 'no slice: the training loss');
    assert.equal(metricOf({ validationFraction: 0.2 }, EarlyStopping.asha({ metric: 'loss' })), 'loss', 'a named metric is kept');
    // The validation input counts too.
    const { chart: c } = chart();
    const p = new Pipeline(c, 'q');
    const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
    const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') } });
    const train = p.component('train', 'train-tabular', {
      inputs: { train: split.output('train'), validation: split.output('test') },
      params: { label: 'y' },
    });
    const s = new Sweep(c, 's', {
      pipeline: p,
      trial: train,
      space: { learningRate: Space.uniform(0.01, 0.1) },
      objective: Objective.minimize(train, 'valLoss'),
      earlyStopping: EarlyStopping.asha(),
    });
    assert.equal(s.toSpec().earlyStopping!.metric, 'valLoss');
    assert.deepEqual(
      issuesOf(() => metricOf({}, EarlyStopping.asha({ metric: 'valLoss' }))),
      [
        "test/s: 'earlyStopping.metric' is 'valLoss', which task 'train' does not report per epoch; it reports loss; give it a validation slice (param validationFraction, e.g. 0.2, or input validation)",
      ],
    );
    assert.deepEqual(
      issuesOf(() => metricOf({}, EarlyStopping.median({ metric: 'accuracy' }))),
      ["test/s: 'earlyStopping.metric' is 'accuracy', which task 'train' does not report per epoch; it reports loss"],
    );
  });

  it('an epoch budget: the trial count defaults to what the budget can start; bad budgets are clear errors', () => {
    const { c, p, train, evaluate } = app();
    const base = { pipeline: p, trial: train, space: { learningRate: Space.logUniform(1e-4, 1e-1) }, objective: Objective.minimize(evaluate, 'logLoss') };
    // ASHA from 1 epoch: a first rung each, so up to 100 trials; without early stopping, whole trials of 20 epochs.
    assert.deepEqual(new Sweep(c, 'b1', { ...base, earlyStopping: EarlyStopping.asha(), budget: { epochs: 100 } }).toSpec().budget, {
      trials: 100,
      parallelism: 1,
      epochs: 100,
    });
    assert.deepEqual(new Sweep(c, 'b2', { ...base, budget: { epochs: 100 } }).toSpec().budget, { trials: 5, parallelism: 1, epochs: 100 });
    assert.deepEqual(new Sweep(c, 'b3', { ...base, budget: { epochs: 100, trials: 3 } }).toSpec().budget, { trials: 3, parallelism: 1, epochs: 100 });
    assert.deepEqual(
      issuesOf(() => new Sweep(c, 'b4', { ...base, budget: { epochs: 2.5 } })),
      ["test/b4: 'budget.epochs' is 2.5; give a whole number of epochs, at least 1"],
    );
    assert.deepEqual(
      issuesOf(() => new Sweep(c, 'b5', { ...base, budget: { epochs: 19 } })),
      ["test/b5: 'budget.epochs' is 19, less than the 20 epochs of a trial's training; give at least 20"],
    );
    assert.deepEqual(
      issuesOf(() => new Sweep(c, 'b6', { ...base, space: { epochs: Space.int(5, 30) }, budget: { epochs: 100 } })),
      ["test/b6: 'space.epochs' is swept, and budget.epochs counts every trial's 'epochs'; leave it out of the space, or give budget.trials instead"],
    );
    assert.deepEqual(
      issuesOf(() => new Sweep(c, 'b7', { ...base, budget: { epochs: 100 }, cluster: 'katib' })),
      ["test/b7: 'budget.epochs' is set, and a Katib Experiment has no epoch budget (maxTrialCount bounds it); give budget.trials, or use cluster 'argo'"],
    );
    const job = ContainerComponent.define({
      name: 'job',
      image: 'x:1',
      command: ['train'],
      params: { lr: { type: 'number', default: 0.1 } },
      outputParams: ['loss'],
    });
    const q = new Pipeline(c, 'container-train');
    const t = q.component('t', job);
    assert.deepEqual(
      issuesOf(
        () =>
          new Sweep(c, 'b8', {
            pipeline: q,
            trial: t,
            space: { lr: Space.uniform(0.01, 1) },
            objective: Objective.minimize(t, 'loss'),
            budget: { epochs: 100 },
          }),
      ),
      [
        "test/b8: 'budget.epochs' needs task 't' to take a literal 'epochs' param (the epochs a trial trains in full); give it, e.g. epochs: 27, or give budget.trials instead",
      ],
    );
  });

  it("Hyperband: maxResource defaults to the trial task's epochs; without one it must be given", () => {
    const { c, p, train, evaluate } = app();
    const s = new Sweep(c, 'hb', {
      pipeline: p,
      trial: train,
      space: { learningRate: Space.logUniform(1e-4, 1e-1) },
      objective: Objective.minimize(evaluate, 'logLoss'),
      earlyStopping: EarlyStopping.hyperband({ reductionFactor: 2 }),
    });
    assert.deepEqual(s.toSpec().earlyStopping, {
      kind: 'hyperband',
      minResource: 1,
      maxResource: 20,
      reductionFactor: 2,
      metric: 'loss',
      direction: 'minimize',
    });
    assert.deepEqual(
      issuesOf(
        () =>
          new Sweep(c, 'hb2', {
            pipeline: p,
            trial: train,
            space: { epochs: Space.int(5, 30) },
            objective: Objective.minimize(evaluate, 'logLoss'),
            earlyStopping: EarlyStopping.hyperband({ minResource: 0 }),
          }),
      ),
      [
        "test/hb2: 'earlyStopping.minResource' is 0; give a whole number of epochs, at least 1",
        "test/hb2: 'earlyStopping.maxResource' is not given, and task 'train' has no literal epochs param to take it from; give maxResource (the epochs a trial trains in full)",
      ],
    );
  });

  it('the objective must be downstream of the trial task', () => {
    const { c, p, ingest, train } = app();
    const s = new Sweep(c, 'up', {
      pipeline: p,
      trial: train,
      space: { learningRate: Space.uniform(0.01, 0.1) },
      objective: Objective.maximize(ingest, 'rows'),
    });
    assert.deepEqual(
      issuesOf(() => s.toSpec()),
      [
        "test/up: 'objective' reads task 'ingest', which does not depend on the trial task 'train'; measure the objective at 'train' or a task downstream of it (e.g. its evaluate step)",
      ],
    );
  });

  it('a container component: its declared params and types', () => {
    const { chart: c } = chart();
    const p = new Pipeline(c, 'x');
    const trainer = ContainerComponent.define({
      name: 'train-xgb',
      image: 'x:1',
      command: ['python', 'train.py'],
      params: { eta: { type: 'number', default: 0.3, min: 0, max: 1 }, booster: { type: 'string', default: 'gbtree' } },
      outputParams: ['auc'],
    });
    const t = p.component('train', trainer);
    assert.deepEqual(
      issuesOf(
        () =>
          new Sweep(c, 's', { pipeline: p, trial: t, space: { eta: Space.uniform(0, 2), depth: Space.int(2, 8) }, objective: Objective.maximize(t, 'auc') }),
      ),
      [
        "test/s: 'space.eta' takes 2, but the task's param must be a number >= 0 <= 1",
        "test/s: 'space.depth' is not a param of task 'train' (component 'train-xgb'); it takes eta, booster",
      ],
    );
    const ok = new Sweep(c, 'ok', {
      pipeline: p,
      trial: t,
      space: { eta: Space.logUniform(0.01, 1), booster: Space.categorical(['gbtree', 'dart']) },
      objective: Objective.maximize(t, 'auc'),
    });
    assert.equal(ok.toSpec().objective.task, 'train');
  });
});
