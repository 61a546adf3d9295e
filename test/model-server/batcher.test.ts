import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher, planDispatch, type BatchInput, type RawOutput, type QueueState } from '../../components/model-server/batcher.ts';

describe('planDispatch (adaptive batching policy)', () => {
  const base: QueueState = { queuedJobs: 1, queuedRows: 1, running: 0, maxBatchSize: 8, maxConcurrentRuns: 1 };
  const cases: Array<[string, Partial<QueueState>, ReturnType<typeof planDispatch>]> = [
    ['nothing queued, idle', { queuedJobs: 0, queuedRows: 0 }, 'none'],
    ['nothing queued, busy', { queuedJobs: 0, queuedRows: 0, running: 1 }, 'none'],
    ['idle model: run at the end of this turn, never wait for company', {}, 'end-of-turn'],
    ['idle model with a full batch queued', { queuedJobs: 8, queuedRows: 8 }, 'end-of-turn'],
    ['idle model, several slots', { maxConcurrentRuns: 2 }, 'end-of-turn'],
    ['every slot busy: the finishing run plans again', { running: 1 }, 'none'],
    ['every slot busy even with a full batch queued', { queuedJobs: 9, queuedRows: 9, running: 1 }, 'none'],
    ['a run in flight, a free slot, a partial batch: wait for more rows', { running: 1, maxConcurrentRuns: 2, queuedJobs: 3, queuedRows: 3 }, 'after-delay'],
    ['a run in flight, a free slot, a full batch: run now', { running: 1, maxConcurrentRuns: 2, queuedJobs: 8, queuedRows: 8 }, 'end-of-turn'],
    ['a run in flight, a free slot, one oversized job', { running: 1, maxConcurrentRuns: 2, queuedJobs: 1, queuedRows: 20 }, 'end-of-turn'],
    ['two of two slots busy', { running: 2, maxConcurrentRuns: 2, queuedJobs: 3, queuedRows: 3 }, 'none'],
  ];
  for (const [name, over, want] of cases) {
    test(name, () => assert.equal(planDispatch({ ...base, ...over }), want));
  }
});

describe('Batcher dispatch (injected run)', () => {
  const outputs = [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 1] }];
  const job = (vals: number[]): BatchInput[] => [{ name: 'x', datatype: 'FP32', shape: [vals.length, 1], typed: Float32Array.from(vals) }];

  /** A run that records each call's rows and time, and finishes only when released. */
  function gatedRun() {
    const calls: Array<{ rows: number; at: number; release: () => void }> = [];
    const run = (inputs: readonly BatchInput[]): Promise<Record<string, RawOutput>> =>
      new Promise((resolve) => {
        const x = inputs[0].typed as Float32Array;
        calls.push({ rows: inputs[0].shape[0], at: performance.now(), release: () => resolve({ y: { data: x.map((v) => v * 2), dims: [x.length, 1] } }) });
      });
    return { calls, run };
  }
  const until = async (cond: () => boolean, ms = 2000) => {
    const end = performance.now() + ms;
    while (!cond()) {
      if (performance.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 1));
    }
  };

  test('an idle model runs a request at once, however long the queue delay', async () => {
    const { calls, run } = gatedRun();
    const b = new Batcher(run, outputs, { maxQueueDelayMs: 10_000 });
    const t0 = performance.now();
    const p = b.submit(job([3]));
    await until(() => calls.length === 1);
    assert.ok(calls[0].at - t0 < 1000, `ran after ${calls[0].at - t0} ms`);
    assert.equal(calls[0].rows, 1);
    calls[0].release();
    assert.deepEqual(Array.from((await p).y.data as Float32Array), [6]);
  });

  test('requests that reach an idle model in the same turn share one run', async () => {
    const { calls, run } = gatedRun();
    const b = new Batcher(run, outputs, {});
    const ps = [b.submit(job([1])), b.submit(job([2, 3])), b.submit(job([4]))];
    await until(() => calls.length === 1);
    assert.equal(calls[0].rows, 4);
    calls[0].release();
    const out = await Promise.all(ps);
    assert.deepEqual(
      out.map((o) => Array.from(o.y.data as Float32Array)),
      [[2], [4, 6], [8]],
    );
    assert.deepEqual(
      out.map((o) => o.y.dims),
      [
        [1, 1],
        [2, 1],
        [1, 1],
      ],
    );
  });

  test('a busy model batches what arrives during the run and runs it as soon as the run ends', async () => {
    const { calls, run } = gatedRun();
    const b = new Batcher(run, outputs, { maxQueueDelayMs: 10_000 });
    const first = b.submit(job([1]));
    await until(() => calls.length === 1);
    const later = [b.submit(job([10])), b.submit(job([20, 21]))];
    await new Promise((r) => setTimeout(r, 20));
    const third = b.submit(job([30]));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls.length, 1, 'nothing else runs while the only slot is busy');
    assert.equal(b.pending, 4);
    const released = performance.now();
    calls[0].release();
    await until(() => calls.length === 2);
    assert.equal(calls[1].rows, 4, 'everything queued during the run goes in the next one');
    assert.ok(calls[1].at - released < 1000, 'the next run does not wait for the queue delay');
    calls[1].release();
    assert.deepEqual(Array.from((await first).y.data as Float32Array), [2]);
    const out = await Promise.all([...later, third]);
    assert.deepEqual(
      out.map((o) => Array.from(o.y.data as Float32Array)),
      [[20], [40, 42], [60]],
    );
    assert.equal(b.pending, 0);
  });

  test('with a free slot beside a running batch, a partial batch waits maxQueueDelayMs for company', async () => {
    const { calls, run } = gatedRun();
    const b = new Batcher(run, outputs, { maxConcurrentRuns: 2, maxQueueDelayMs: 40, maxBatchSize: 8 });
    void b.submit(job([1]));
    await until(() => calls.length === 1);
    const t0 = performance.now();
    const p1 = b.submit(job([5]));
    await new Promise((r) => setTimeout(r, 5));
    const p2 = b.submit(job([6]));
    await until(() => calls.length === 2);
    assert.ok(calls[1].at - t0 >= 35, `second run after ${calls[1].at - t0} ms, before the queue delay`);
    assert.equal(calls[1].rows, 2);
    calls[1].release();
    assert.deepEqual([Array.from((await p1).y.data as Float32Array), Array.from((await p2).y.data as Float32Array)], [[10], [12]]);
    calls[0].release();
  });

  test('a full batch beside a running one does not wait for the queue delay', async () => {
    const { calls, run } = gatedRun();
    const b = new Batcher(run, outputs, { maxConcurrentRuns: 2, maxQueueDelayMs: 10_000, maxBatchSize: 2 });
    void b.submit(job([1]));
    await until(() => calls.length === 1);
    void b.submit(job([2]));
    void b.submit(job([3]));
    await until(() => calls.length === 2);
    assert.equal(calls[1].rows, 2);
    for (const c of calls) c.release();
  });

  test('requests whose non-batch dimensions differ never share a run', async () => {
    const { calls, run } = gatedRun();
    const b = new Batcher(run, outputs, {});
    const wide: BatchInput[] = [{ name: 'x', datatype: 'FP32', shape: [1, 2], typed: Float32Array.from([7, 8]) }];
    const ps = [b.submit(job([1])), b.submit(wide), b.submit(job([2]))];
    await until(() => calls.length === 1);
    assert.equal(calls[0].rows, 2, 'the two [n,1] requests share the first run');
    calls[0].release();
    await until(() => calls.length === 2);
    assert.equal(calls[1].rows, 1);
    calls[1].release();
    const out = await Promise.all(ps);
    assert.deepEqual(
      out.map((o) => Array.from(o.y.data as Float32Array)),
      [[2], [14, 16], [4]],
    );
  });
});
