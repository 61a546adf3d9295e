import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Chart } from 'cdk8s';
import { checkParamValues, checkPipelineSpec } from '../../pipelines/check.ts';
import { Pipeline } from '../../pipelines/pipeline.ts';
import type { ParamValue } from '../../components/component.ts';

function build(opts: { trainParams?: Record<string, unknown>; gate?: Record<string, string>; epochsDefault?: number }) {
  const p = new Pipeline(new Chart(new App(), 'c'), 'train');
  const epochs = p.param('epochs', { type: 'number', default: opts.epochsDefault ?? 10 });
  const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
  const train = p.component('train', 'train-tabular', {
    inputs: { train: ingest.output('dataset') },
    params: { label: 'target', epochs, ...(opts.trainParams as Record<string, ParamValue>) },
  });
  const ev = p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: ingest.output('dataset') } });
  p.component('gate', 'gate', { inputs: { metrics: ev.output('metrics') }, params: { gate: opts.gate ?? { accuracy: '>= 0.9' } } });
  return p.toSpec();
}
const fails = (opts: Parameters<typeof build>[0], message: string) =>
  assert.throws(
    () => build(opts),
    (e: Error) => {
      assert.equal(e.message, message);
      return true;
    },
  );

describe('synth-time checks of component params and gate metrics', () => {
  test('a valid pipeline has no issues', () => {
    assert.deepEqual(checkPipelineSpec(build({ trainParams: { task: 'multiclass' }, gate: { macroF1: '>= 0.8' } })), []);
    // Task not declared: any metric some task produces passes.
    assert.deepEqual(checkPipelineSpec(build({ gate: { rocAuc: '>= 0.8' } })), []);
  });

  test('a param the component does not take is an error naming it and the params it takes', () => {
    fails(
      { trainParams: { tsk: 'multiclass' } },
      "c/train/train: 'params.tsk' passes param 'tsk', which component 'train-tabular' does not take; remove it or use one of task, label, positive, features, model, hidden, epochs, batchSize, learningRate, l2, seed, backend",
    );
  });

  test('a value outside what the param takes, literal or a pipeline param default', () => {
    fails(
      { trainParams: { task: 'clustering', learningRate: -1 } },
      `2 validation errors:
  c/train/train: 'params.learningRate' passes -1 to param 'learningRate' of 'train-tabular', which must be a number >= 0; fix the value
  c/train/train: 'params.task' passes "clustering" to param 'task' of 'train-tabular', which must be one of binary, multiclass, regression, anomaly; fix the value`,
    );
    fails(
      { epochsDefault: -5 },
      "c/train/train: 'params.epochs' pipeline param 'epochs' (default -5) feeds param 'epochs' of 'train-tabular', which must be an integer >= 1; change the default of 'epochs'",
    );
  });

  test('a gate on a metric the task does not produce names the metrics it does', () => {
    fails(
      { trainParams: { task: 'multiclass' }, gate: { rmse: '<= 3' } },
      "c/train/gate: 'params.gate' gates on metric 'rmse', which evaluate task 'evaluate' does not produce for a multiclass model; use one of accuracy, macroF1, logLoss",
    );
    assert.throws(
      () => build({ gate: { rocauc: '>= 0.8' } }),
      /gates on metric 'rocauc', which evaluate task 'evaluate' does not produce; use one of accuracy, .*set train-tabular's param task so the check knows which/,
    );
  });

  test('--param values are checked against the component params they feed, before a run', () => {
    const spec = build({});
    assert.deepEqual(checkParamValues(spec, { epochs: '1.5' }), [
      "--param epochs=1.5: c/train/train passes it to param 'epochs' of 'train-tabular', which must be an integer >= 1",
    ]);
    assert.deepEqual(checkParamValues(spec, { epochs: '3' }), []);
  });
});
