// The one failure classification (api/failure.ts) the engine, the operator and watch share: table tests.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  asFailureReason,
  backoffMs,
  classifyExit,
  classifyFailure,
  exitCodeFor,
  TerminalFailure,
  type FailureClass,
  type FailureReason,
} from '../../api/failure.ts';
import { ParamError, Params } from '../../components/params.ts';
import { DatasetError } from '../../components/dataset/types.ts';
import { nameInputs } from '../../pipelines/local/node-runner.ts';
import { ValidationError } from '../../api/errors.ts';
import { PipelineError } from '../../pipelines/local/plan.ts';
import { ARGO_RETRY_EXPRESSION } from '../../pipelines/argo.ts';
import { failureFromWorkflow } from '../../controllers/planners/training-run.ts';

const T = (reason: FailureReason): FailureClass => ({ terminal: true, reason });
const R = (reason: FailureReason): FailureClass => ({ terminal: false, reason });
const errno = (code: string, message = code) => Object.assign(new Error(message), { code });

/** What the built-in Params reader throws for a bad value. */
function paramErrorOf(params: Record<string, unknown>, read: (p: Params) => unknown): unknown {
  try {
    read(new Params('train-tabular', { params: params as never, inputs: {}, outputs: {} }));
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('classifyFailure', () => {
  const table: Array<[string, unknown, FailureClass]> = [
    // terminal: the same input fails the same way every time
    ['epochs: -5 (Params.number with min 1)', paramErrorOf({ epochs: -5 }, (p) => p.number('epochs', 20, { min: 1, integer: true })), T('InvalidParam')],
    [
      '--param epochs=1.5 (a string that is not an integer)',
      paramErrorOf({ epochs: '1.5' }, (p) => p.number('epochs', 20, { min: 1, integer: true })),
      T('InvalidParam'),
    ],
    ['a missing input by contract', paramErrorOf({}, (p) => p.input('train')), T('MissingInput')],
    ['a ParamError', new ParamError('x'), T('InvalidParam')],
    ['a ParamError after a structured clone (worker thread: only name and message survive)', { name: 'ParamError', message: 'x' }, T('InvalidParam')],
    ['a ValidationError (spec)', new ValidationError([{ path: 'app/p', field: 'f', message: 'bad' }]), T('InvalidSpec')],
    ['a PipelineError (bad reference)', new PipelineError('p/t', 'no such output'), T('InvalidSpec')],
    ['data failing validation', new TerminalFailure('InvalidInput', 'validate: 3 rows violate'), T('InvalidInput')],
    ['a schema mismatch', new TerminalFailure('SchemaMismatch', 'column amount is string'), T('SchemaMismatch')],
    ['terminal fields from another process', { terminal: true, reason: 'GateRejected', message: 'x' }, T('GateRejected')],
    ['terminal with an unknown reason', { terminal: true, reason: 'Nope' }, T('Terminal')],
    ['terminal with a transient reason is still terminal', { terminal: true, reason: 'Network' }, T('Terminal')],
    ['a dataset without the column a step needs', new DatasetError("input 'dataset' has no column 'cultivar'"), T('InvalidInput')],
    ['a DatasetError after a structured clone', { name: 'DatasetError', message: 'x' }, T('InvalidInput')],
    ['a feature key of the wrong type', Object.assign(new Error('driver_id must be an integer'), { name: 'FeaturesError' }), T('InvalidInput')],
    ['npm E404 (no such package)', errno('E404'), T('DependencyNotFound')],
    ['npm ETARGET (no such version)', errno('ETARGET'), T('DependencyNotFound')],
    ['HTTP 400', Object.assign(new Error('bad'), { status: 400 }), T('RequestRejected')],
    ['HTTP 422 (AWS SDK $metadata)', Object.assign(new Error('bad'), { $metadata: { httpStatusCode: 422 } }), T('RequestRejected')],
    // transient: may pass on retry
    ['ECONNREFUSED', errno('ECONNREFUSED'), R('Network')],
    ['ECONNRESET', errno('ECONNRESET'), R('Network')],
    ['EAI_AGAIN (DNS)', errno('EAI_AGAIN'), R('Network')],
    ['fetch failed (undici: the code is on the cause)', new TypeError('fetch failed', { cause: errno('UND_ERR_SOCKET') }), R('Network')],
    ['npm ECONNREFUSED', errno('ECONNREFUSED', 'npm ci failed'), R('Network')],
    ['ENOSPC', errno('ENOSPC'), R('NoSpace')],
    ['EDQUOT', errno('EDQUOT'), R('NoSpace')],
    ['HTTP 503', Object.assign(new Error('unavailable'), { statusCode: 503 }), R('ServerError')],
    ['HTTP 500 in a response', Object.assign(new Error('x'), { response: { status: 500 } }), R('ServerError')],
    ['HTTP 429', Object.assign(new Error('slow down'), { status: 429 }), R('ServerError')],
    ['a timeout', Object.assign(new Error('t'), { name: 'TimeoutError' }), R('Timeout')],
    ['a dataset read that hit a full disk keeps its cause', new DatasetError('cannot read dataset x', undefined, { cause: errno('ENOSPC') }), R('NoSpace')],
    ['a network error wrapped twice', new Error('register failed', { cause: new Error('upload', { cause: errno('ETIMEDOUT') }) }), R('Network')],
    // unknown: transient, so a flake is not lost (a real bug costs the retry limit)
    ['a plain Error', new Error('something'), R('Unknown')],
    ['HTTP 404 (may appear later)', Object.assign(new Error('x'), { status: 404 }), R('Unknown')],
    ['a string', 'boom', R('Unknown')],
    ['null', null, R('Unknown')],
    [
      'a self-referencing cause',
      (() => {
        const e = new Error('loop') as Error & { cause?: unknown };
        e.cause = e;
        return e;
      })(),
      R('Unknown'),
    ],
  ];
  for (const [name, e, want] of table) test(name, () => assert.deepEqual(classifyFailure(e), want));
});

describe('exit codes carry the class across a process', () => {
  const table: Array<[number | null, string | null, FailureClass]> = [
    [64, null, T('InvalidParam')],
    [65, null, T('InvalidInput')],
    [78, null, T('Terminal')],
    [1, null, R('Unknown')],
    [2, null, R('Unknown')],
    [137, null, R('Killed')],
    [143, null, R('Killed')],
    [null, 'SIGKILL', R('Killed')],
    [64, 'SIGTERM', R('Killed')],
  ];
  for (const [code, sig, want] of table) test(`exit ${code} signal ${sig}`, () => assert.deepEqual(classifyExit(code, sig), want));

  test('exitCodeFor is classifyExit’s inverse for every terminal reason', () => {
    for (const r of ['InvalidParam', 'InvalidSpec', 'InvalidInput', 'SchemaMismatch', 'MissingInput', 'GateRejected', 'DependencyNotFound'] as const) {
      const back = classifyExit(exitCodeFor(T(r)));
      assert.equal(back.terminal, true, r);
    }
    assert.equal(exitCodeFor(R('Network')), 1);
    assert.equal(classifyExit(exitCodeFor(T('InvalidParam'))).reason, 'InvalidParam');
  });

  test("the Argo template's retry expression names exactly the terminal codes", () => {
    assert.equal(ARGO_RETRY_EXPRESSION, "lastRetry.exitCode not in ['64', '65', '78']");
  });

  test('an Argo Workflow is terminal only when every failed pod exited with a terminal code', () => {
    const pod = (phase: string, exitCode?: string) => ({ type: 'Pod', phase, ...(exitCode !== undefined ? { outputs: { exitCode } } : {}) });
    assert.deepEqual(failureFromWorkflow({ nodes: { a: pod('Succeeded', '0'), b: pod('Failed', '64') } }), T('InvalidParam'));
    assert.deepEqual(failureFromWorkflow({ nodes: { a: pod('Failed', '64'), b: pod('Failed', '137') } }), R('Killed'));
    assert.deepEqual(failureFromWorkflow({ nodes: { a: pod('Error') } }), R('Unknown'));
    assert.equal(failureFromWorkflow({ nodes: { a: pod('Succeeded', '0') } }), undefined);
    assert.equal(failureFromWorkflow(undefined), undefined);
  });

  test('a reason read back from status: known, or Unknown', () => {
    assert.equal(asFailureReason('InvalidParam'), 'InvalidParam');
    assert.equal(asFailureReason('toString'), 'Unknown');
    assert.equal(asFailureReason(undefined), 'Unknown');
  });
});

describe('backoffMs: exponential, full jitter, capped', () => {
  test('the ceiling doubles and stops at the cap; the floor is a tenth of it', () => {
    const top = (n: number) => backoffMs(n, { baseMs: 1000, capMs: 10_000, random: () => 1 - Number.EPSILON });
    const bottom = (n: number) => backoffMs(n, { baseMs: 1000, capMs: 10_000, random: () => 0 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(top), [1000, 2000, 4000, 8000, 10_000, 10_000]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(bottom), [100, 200, 400, 800, 1000, 1000]);
  });
  test('jittered delays spread over the range (two retries of the same attempt differ)', () => {
    const seq = [0.1, 0.9];
    const a = backoffMs(3, { baseMs: 1000, capMs: 60_000, random: () => seq.shift()! });
    const b = backoffMs(3, { baseMs: 1000, capMs: 60_000, random: () => seq.shift() ?? 0 });
    assert.deepEqual([a, b], [760, 3640]);
  });
});

describe('nameInputs', () => {
  const store = '/w/.ghosteam/store/sha256/ab/ab12';
  const inputs = { dataset: { task: 'ingest', output: 'dataset' } };
  test("an input's store path in a failure reads as the input's name and where it came from", () => {
    const r = nameInputs({ ok: false, kind: 'failure', message: `split: ${store}: has no column 'y' (read ${store} twice)` }, { dataset: store }, inputs);
    assert.deepEqual(r, {
      ok: false,
      kind: 'failure',
      message: "split: input 'dataset' (ingest.dataset) has no column 'y' (read input 'dataset' (ingest.dataset) twice)",
    });
  });
  test('a message without a store path, and a success, are returned as they are', () => {
    const failed = { ok: false as const, kind: 'failure' as const, message: 'no path here' };
    assert.equal(nameInputs(failed, { dataset: store }, inputs), failed);
    const ok = { ok: true as const, outputs: {}, outputParams: {} };
    assert.equal(nameInputs(ok, { dataset: store }, inputs), ok);
  });
});
