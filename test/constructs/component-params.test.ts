import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Chart } from 'cdk8s';
import type { ParamDecl, ParamValue } from '../../components/component.ts';
import { Params } from '../../components/params.ts';
import { BUILTIN_COMPONENTS } from '../../pipelines/catalog.ts';
import { checkParamValues, checkPipelineSpec, paramWant } from '../../pipelines/check.ts';
import { ContainerComponent } from '../../pipelines/container-component.ts';
import { Pipeline } from '../../pipelines/pipeline.ts';
import { validateObjects, type UncheckedObject } from '../../charts/validate.ts';
import { formatIssue } from '../../api/errors.ts';
import { chart, synth } from './helpers.ts';

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
      "c/train/train: 'params.tsk' passes param 'tsk', which component 'train-tabular' does not take; remove it or use one of task, label, positive, features, model, hidden, epochs, batchSize, learningRate, l2, seed, backend, validationFraction",
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

  test("validate's expectation suite is checked at synth time, naming the expectation and the fix", () => {
    const withSuite = (suite: unknown) => {
      const p = new Pipeline(new Chart(new App(), 'c'), 'dq');
      const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
      p.component('validate', 'validate', { inputs: { dataset: ingest.output('dataset') }, params: { suite: suite as ParamValue } });
      return p.toSpec();
    };
    const ok = withSuite({ expectations: [{ type: 'expect_column_values_to_not_be_null', kwargs: { column: 'id' } }] });
    assert.deepEqual(checkPipelineSpec(ok), []);
    assert.throws(
      () => withSuite({ expectations: [{ type: 'expect_column_values_to_not_be_nul', kwargs: { column: 'id' } }] }),
      /c\/dq\/validate: 'params\.suite' suite\.expectations\[0\]\.type: 'expect_column_values_to_not_be_nul' is not an expectation ghosteam evaluates; use one of /,
    );
    assert.throws(
      () => withSuite({ expectations: [{ type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regexp: '@' } }] }),
      /c\/dq\/validate: 'params\.suite' suite\.expectations\[0\]\.kwargs: 'expect_column_values_to_match_regex' has no kwarg 'regexp'/,
    );
    // A suite fed by a pipeline param: its default is checked, and the message says so.
    const p = new Pipeline(new Chart(new App(), 'c'), 'dq2');
    const suite = p.param('suite', { type: 'json', default: { expectations: [{ type: 'expect_column_values_to_be_between', kwargs: { column: 'a' } }] } });
    const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
    assert.throws(() => {
      p.component('validate', 'validate', { inputs: { dataset: ingest.output('dataset') }, params: { suite } });
      p.toSpec();
    }, /c\/dq2\/validate: 'params\.suite' pipeline param 'suite' \(default\)\.expectations\[0\]\.kwargs: 'expect_column_values_to_be_between' needs min_value or max_value/);
  });

  test('--param values are checked against the component params they feed, before a run', () => {
    const spec = build({});
    assert.deepEqual(checkParamValues(spec, { epochs: '1.5' }), [
      "--param epochs=1.5: c/train/train passes it to param 'epochs' of 'train-tabular', which must be an integer >= 1",
    ]);
    assert.deepEqual(checkParamValues(spec, { epochs: '3' }), []);
  });
});

/** A stand-in upstream step with one output of each kind, so any built-in's inputs can be wired. */
const source = ContainerComponent.define({
  name: 'source',
  version: '1',
  image: 'example.com/source:1',
  command: ['true'],
  outputs: { dataset: 'dataset', model: 'model', metrics: 'metrics', file: 'file' },
});

/** One task of built-in `name` with `params`, its inputs wired to `source`; the synth error, or '' when it synthesizes. */
function synthError(name: string, params: Record<string, ParamValue>): string {
  const p = new Pipeline(new Chart(new App(), 'c'), 'p');
  const src = p.component('src', source);
  const inputs = Object.fromEntries(BUILTIN_COMPONENTS[name].inputs.map((i) => [i.name, src.output(i.kind)]));
  try {
    p.component('t', name, { inputs, params });
    p.toSpec();
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

/** A value each declaration refuses, with what the error says it must be. */
function badValues(d: ParamDecl): { value: ParamValue; want: string }[] {
  const out: { value: ParamValue; want: string }[] = [];
  if (d.enum) out.push({ value: 'not-a-choice', want: `one of ${d.enum.join(', ')}` });
  if (d.type === 'boolean') out.push({ value: 'maybe', want: 'a boolean' });
  if (d.type === 'number') {
    out.push({ value: 'ten', want: paramWant(d) });
    if (d.integer) out.push({ value: (d.min ?? 0) + 1.5, want: paramWant(d) });
    if (d.min !== undefined) out.push({ value: d.min - 1, want: paramWant(d) });
    if (d.max !== undefined) out.push({ value: d.max + 1, want: paramWant(d) });
  }
  return out;
}

describe('every built-in declares its params, and synth checks them all', () => {
  for (const [name, c] of Object.entries(BUILTIN_COMPONENTS)) {
    test(`${name}: an undeclared param and each value a declared one refuses are synth-time errors`, () => {
      assert.ok(Object.keys(c.params).length > 0, `${name} declares no params`);
      assert.equal(
        synthError(name, { definitelyNotAParam: 1 }),
        `c/p/t: 'params.definitelyNotAParam' passes param 'definitelyNotAParam', which component '${name}' does not take; remove it or use one of ${Object.keys(c.params).join(', ')}`,
      );
      for (const [k, d] of Object.entries(c.params)) {
        for (const { value, want } of badValues(d)) {
          assert.equal(
            synthError(name, { [k]: value }),
            `c/p/t: 'params.${k}' passes ${JSON.stringify(value)} to param '${k}' of '${name}', which must be ${want}; fix the value`,
          );
        }
      }
    });
  }

  test('a component reading a param it does not declare fails while it runs (the declaration keeps up with the code)', () => {
    const ctx = { params: { a: 1, 'ghosteam.runId': 'r1' }, inputs: {}, outputs: {} };
    const p = new Params('demo', ctx, { b: { type: 'string' } });
    assert.throws(() => p.number('a', 0), {
      message: "demo reads param 'a', which its params declaration lacks; add it to the component's params (built-ins: components/param-decls.ts)",
    });
    assert.equal(p.string('b', 'x'), 'x');
    assert.equal(p.string('ghosteam.runId'), 'r1', "the engine's reserved params need no declaration");
    assert.equal(new Params('free', ctx).number('a'), 1, 'without a declaration anything is read');
  });
});

describe('ghosteam validate checks component param values in YAML, as synth does (#24)', () => {
  // The WorkflowTemplate synth writes for build(), read back as YAML would be, then edited by hand.
  const template = (): { object: UncheckedObject; source: string } => {
    const { app, chart: c } = chart();
    const p = new Pipeline(c, 'train');
    const epochs = p.param('epochs', { type: 'number', default: 3 });
    const ingest = p.component('ingest', 'ingest', { params: { path: 'data.csv' } });
    p.component('train', 'train-tabular', { inputs: { train: ingest.output('dataset') }, params: { label: 'target', epochs, seed: 3 } });
    const wt = synth(app).objects.find((o) => o.kind === 'WorkflowTemplate')!;
    return { object: JSON.parse(JSON.stringify(wt)) as UncheckedObject, source: 'train.yaml:1' };
  };
  type Wt = {
    spec: {
      arguments: { parameters: { name: string; value: string }[] };
      templates: { dag?: { tasks: { name: string; arguments: { parameters: { name: string; value: string }[] } }[] } }[];
    };
  };
  const edit = (o: UncheckedObject, f: (wt: Wt) => void) => (f(o as unknown as Wt), o);
  const trainingRun = (params: Record<string, string>) => ({
    object: {
      apiVersion: 'ghosteam.io/v1alpha1',
      kind: 'TrainingRun',
      metadata: { name: 'manual-1', namespace: 'ml' },
      spec: { pipeline: 'train', reason: 'manual', specHash: `sha256:${'0'.repeat(64)}`, params },
    },
    source: 'run.yaml:1',
  });

  test('what synth wrote is valid; a default, a literal or a TrainingRun value the component refuses is an issue naming it', () => {
    assert.deepEqual(validateObjects([template()]).map(formatIssue), []);
    const wt = template();
    edit(wt.object, (w) => (w.spec.arguments.parameters.find((x) => x.name === 'epochs')!.value = '-5'));
    assert.deepEqual(validateObjects([wt]).map(formatIssue), [
      `test/train/train: 'params.epochs' pipeline param 'epochs' (default "-5") feeds param 'epochs' of 'train-tabular', which must be an integer >= 1; change the default of 'epochs'`,
    ]);
    const lit = template();
    edit(lit.object, (w) => {
      const t = w.spec.templates.flatMap((x) => x.dag?.tasks ?? []).find((x) => x.name === 'train')!;
      t.arguments.parameters.find((x) => x.name === 'seed')!.value = 'three';
    });
    assert.deepEqual(validateObjects([lit]).map(formatIssue), [
      `test/train/train: 'params.seed' passes "three" to param 'seed' of 'train-tabular', which must be an integer; fix the value`,
    ]);
    assert.deepEqual(validateObjects([template(), trainingRun({ epochs: '1.5' })]).map(formatIssue), [
      `run.yaml:1#TrainingRun/manual-1: 'spec.params.epochs' ("1.5") feeds param 'epochs' of 'train-tabular' (test/train/train in pipeline 'train'), which must be an integer >= 1; the run would fail on it without a retry, so fix the value`,
    ]);
    assert.deepEqual(validateObjects([template(), trainingRun({ epochs: '4' })]).map(formatIssue), []);
  });
});
