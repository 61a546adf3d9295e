import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ParamSpec } from '../../pipelines/spec.ts';
import {
  cacheKey,
  checkSpec,
  evaluateCondition,
  fanOutItems,
  parseParamArgs,
  PipelineError,
  resolveParams,
  retryDelayMs,
  topoOrder,
} from '../../pipelines/local/plan.ts';
import { item, lit, out, param, pipeline, task } from './helpers.ts';

const scope = {
  params: { n: 5, s: 'abc' },
  outputs: (t: string, o: string) => (t === 'gate' && o === 'verdict' ? 'pass' : t === 'eval' && o === 'auc' ? '0.93' : undefined),
};

describe('params', () => {
  const specs: ParamSpec[] = [
    { name: 'epochs', type: 'number', default: 10 },
    { name: 'model', type: 'string', enum: ['logistic', 'dense'], default: 'dense' },
    { name: 'shuffle', type: 'boolean', default: true },
    { name: 'cols', type: 'list', default: [] },
    { name: 'cfg', type: 'json', default: { a: 1 } },
    { name: 'data', type: 'string' },
  ];
  test('text values are typed per the ParamSpec, defaults fill the rest', () => {
    const r = resolveParams(specs, { epochs: '3', shuffle: 'false', cols: 'a, b', cfg: '{"x":[1]}', data: 'd.csv' });
    assert.deepEqual(r, { epochs: 3, model: 'dense', shuffle: false, cols: ['a', 'b'], cfg: { x: [1] }, data: 'd.csv' });
    assert.deepEqual(resolveParams(specs, { data: 'x', cols: '["p",2]' }).cols, ['p', 2]);
  });
  test('type errors name the param and the bad value', () => {
    assert.throws(() => resolveParams(specs, { data: 'x', epochs: 'ten' }), { message: "param 'epochs': expects a number, got 'ten'" });
    assert.throws(() => resolveParams(specs, { data: 'x', shuffle: 'yes' }), { message: "param 'shuffle': expects true or false, got 'yes'" });
    assert.throws(() => resolveParams(specs, { data: 'x', model: 'tree' }), { message: "param 'model': must be one of 'logistic', 'dense'; got 'tree'" });
    assert.throws(() => resolveParams(specs, { data: 'x', epochs: true }), { message: "param 'epochs': expects a number, got boolean true" });
    assert.throws(() => resolveParams(specs, { data: 'x', cfg: '{bad' }), /^PipelineError: param 'cfg': expects JSON; '\{bad' is not valid JSON/);
  });
  test('missing required and unknown params are errors that say what to do', () => {
    assert.throws(() => resolveParams(specs, {}, 'fraud'), {
      message: "param 'data': is required by pipeline 'fraud' and has no default; pass --param data=<string>",
    });
    assert.throws(() => resolveParams(specs, { data: 'x', epoch: '1' }, 'fraud'), {
      message: "param 'epoch': is not a parameter of pipeline 'fraud'; it declares: epochs, model, shuffle, cols, cfg, data",
    });
  });
  test('--param parsing keeps everything after the first =', () => {
    assert.deepEqual(parseParamArgs(['a=1', 'q=x=y', 'e=']), { a: '1', q: 'x=y', e: '' });
    assert.throws(() => parseParamArgs(['oops']), { message: '--param oops: expects NAME=VALUE, e.g. --param epochs=10' });
  });
});

describe('conditions and values', () => {
  test('numbers (and numeric strings) compare as numbers, others by text', () => {
    const ev = (left: any, op: any, right: any) => evaluateCondition({ left, op, right }, scope, 't').holds;
    assert.equal(ev(out('eval', 'auc'), '>=', lit(0.9)), true);
    assert.equal(ev(out('eval', 'auc'), '<', lit(0.9)), false);
    assert.equal(ev(lit('10'), '>', lit(9)), true); // text comparison would say false
    assert.equal(ev(out('gate', 'verdict'), '==', lit('pass')), true);
    assert.equal(ev(out('gate', 'verdict'), '!=', lit('pass')), false);
    assert.equal(ev(lit(true), '==', lit('true')), true);
    assert.equal(ev(param('n'), '<=', lit(5)), true);
    assert.throws(() => ev(param('s'), '>', lit('b')), { message: 't: when: cannot order non-numbers ("abc" > "b"); use == or != or compare numbers' });
  });
  test('a missing output parameter is an error naming the task', () => {
    assert.throws(() => evaluateCondition({ left: out('gate', 'nope'), op: '==', right: lit(1) }, scope, 'p/t'), {
      message: "p/t when.left: task 'gate' did not set output parameter 'nope'",
    });
  });
  test('fan-out lists: a list or a JSON list in a string', () => {
    assert.deepEqual(fanOutItems([1, 2], 'x'), [1, 2]);
    assert.deepEqual(fanOutItems('[{"a":1}]', 'x'), [{ a: 1 }]);
    assert.throws(() => fanOutItems('a,b', 'p/t'), { message: 'p/t: parallelFor.items must be a list (or a JSON list), got "a,b"' });
  });
});

describe('retry back-off', () => {
  const r = { limit: 3, policy: 'OnFailure' as const, backoff: { durationSeconds: 1, factor: 2 } };
  test('exponential delays up to the limit', () => {
    assert.deepEqual(
      [2, 3, 4, 5].map((n) => retryDelayMs(r, n, 'failure', 0)),
      [1000, 2000, 4000, null],
    );
  });
  test('the policy decides which failures are retried', () => {
    assert.equal(retryDelayMs(r, 2, 'error', 0), null);
    assert.equal(retryDelayMs({ ...r, policy: 'OnError' }, 2, 'error', 0), 1000);
    assert.equal(retryDelayMs({ ...r, policy: 'OnError' }, 2, 'failure', 0), null);
    assert.equal(retryDelayMs({ ...r, policy: 'Always' }, 2, 'failure', 0), 1000);
    assert.equal(retryDelayMs({ limit: 1, policy: 'Always' }, 2, 'error', 0), 0);
    assert.equal(retryDelayMs(undefined, 2, 'failure', 0), null);
  });
  test('maxDuration bounds the time since the first attempt (Argo), cutting the last delay', () => {
    const m = { ...r, backoff: { ...r.backoff, maxDurationSeconds: 5 } };
    assert.equal(retryDelayMs(m, 3, 'failure', 4000), 1000);
    assert.equal(retryDelayMs(m, 3, 'failure', 5000), null);
  });
});

describe('spec checks', () => {
  test('order puts dependencies first', () => {
    const s = pipeline('p', [task('c', { after: ['b'] }), task('a'), task('b', { after: ['a'] })]);
    assert.deepEqual(topoOrder(s), ['a', 'b', 'c']);
  });
  test('errors name the task path and the fix', () => {
    assert.throws(() => checkSpec(pipeline('p', [task('a'), task('a')])), {
      message: "test/a: task name 'a' is used twice in pipeline 'p'; names must be unique",
    });
    assert.throws(() => checkSpec(pipeline('p', [task('a', { after: ['x'] })])), { message: "test/a: dependsOn names task 'x', which is not in pipeline 'p'" });
    assert.throws(() => checkSpec(pipeline('p', [task('a', { params: { x: param('nope') } })])), {
      message: "test/a: 'params.x' refers to pipeline parameter 'nope', which is not declared; declare it in the pipeline's params",
    });
    assert.throws(() => checkSpec(pipeline('p', [task('a', { outputParams: ['v'] }), task('b', { params: { x: out('a', 'w') } })])), {
      message: "test/b: 'params.x' refers to output parameter 'w' of task 'a', which declares only [v]",
    });
    assert.throws(() => checkSpec(pipeline('p', [task('a', { params: { x: item() } })])), {
      message: "test/a: 'params.x' uses the parallelFor item, but the task has no parallelFor",
    });
    assert.throws(() => checkSpec(pipeline('p', [task('a', { after: ['b'] }), task('b', { after: ['a'] })])), {
      message: 'test/p: dependency cycle: a -> b -> a',
    });
    assert.throws(
      () =>
        checkSpec(pipeline('p', [task('a', { outputs: { m: { kind: 'model' } } }), task('b', { inputs: { d: { task: 'a', output: 'm', kind: 'dataset' } } })])),
      {
        message: "test/b: 'inputs.d' expects a dataset but 'a.m' is a model",
      },
    );
    assert.ok(new PipelineError('x', 'y') instanceof Error);
  });
});

describe('cache keys', () => {
  const base = {
    task: task('t', { image: 'i', params: { a: lit(1) } }),
    params: { a: 1 },
    inputs: { d: 'sha256:aa' },
    componentVersion: '1',
    upstream: { u: 'k1' },
  };
  test('stable for equal input, whatever the key order', () => {
    assert.equal(cacheKey(base), cacheKey({ ...base, params: { ...base.params } }));
    assert.match(cacheKey(base), /^[0-9a-f]{64}$/);
  });
  test('any input that can change the result changes the key', () => {
    const k = cacheKey(base);
    assert.notEqual(cacheKey({ ...base, params: { a: 2 } }), k);
    assert.notEqual(cacheKey({ ...base, inputs: { d: 'sha256:bb' } }), k);
    assert.notEqual(cacheKey({ ...base, componentVersion: '2' }), k);
    assert.notEqual(cacheKey({ ...base, upstream: { u: 'k2' } }), k);
    assert.notEqual(cacheKey({ ...base, task: { ...base.task, image: 'j' } }), k);
    assert.notEqual(cacheKey({ ...base, item: 3 }), k);
  });
  test('fields that cannot change the result keep the key', () => {
    const k = cacheKey(base);
    assert.equal(
      cacheKey({
        ...base,
        task: { ...base.task, path: 'elsewhere', timeoutSeconds: 9, retry: { limit: 2, policy: 'Always' }, resources: { cpu: '4', memory: '8Gi' } },
      }),
      k,
    );
  });
});
