import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from '../../controllers/runtime/queue.ts';

test('a key is queued once and never handed to two workers at a time', async () => {
  const q = new WorkQueue();
  q.add('a');
  q.add('a');
  q.add('b');
  assert.equal(q.depth, 2);
  const k1 = await q.get();
  assert.equal(k1, 'a');
  q.add('a'); // while processing: marked dirty, not queued
  assert.equal(q.depth, 1);
  assert.equal(await q.get(), 'b');
  q.done('a'); // re-queued now
  assert.equal(await q.get(), 'a');
  q.done('a');
  q.done('b');
  q.shutdown();
  assert.equal(await q.get(), undefined);
});

test('rate-limited retries back off exponentially per key, capped, forget resets', () => {
  // random 0.999…: the top of each jitter range, i.e. the exponential ceiling itself.
  const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50, random: () => 1 - Number.EPSILON });
  assert.deepEqual([q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')], [10, 20, 40, 50]);
  assert.equal(q.addRateLimited('b'), 10);
  q.forget('a');
  assert.equal(q.addRateLimited('a'), 10);
  q.shutdown();
});

test('rate-limited retries are jittered: the bottom of the range is a tenth of the ceiling', () => {
  const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
  assert.deepEqual([q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')], [10, 20, 40, 80, 100]);
  q.shutdown();
});

test('addAfter delivers after the delay; the earlier of two delays wins', async () => {
  const q = new WorkQueue();
  const keepAlive = setTimeout(() => {}, 5000); // the queue's timers are unref'd, as in the operator
  const t0 = Date.now();
  q.addAfter('x', 3000);
  q.addAfter('x', 30);
  assert.equal(await q.get(), 'x');
  const dt = Date.now() - t0;
  clearTimeout(keepAlive);
  assert.ok(dt >= 25 && dt < 2500, `took ${dt} ms`);
  q.shutdown();
});
