/**
 * `ghosteam watch` polls until stopped: each wait between polls adds one abort listener to the stop
 * signal and removes it when the wait ends. Before, every poll left one behind, and after ten polls
 * Node printed MaxListenersExceededWarning (#24). 40 polls here, with the poll itself stubbed (the
 * loop is what is under test; test/gitops/watch.test.ts runs real polls on real repositories).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { RepoWatcher, type WatchRuntime } from '../../gitops/watch.ts';

test('40 polls leave no abort listener behind and raise no MaxListenersExceededWarning', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    const w = new RepoWatcher({ source: '/nonexistent', stateDir: '/nonexistent', runtime: {} as WatchRuntime });
    const ctl = new AbortController();
    let polls = 0;
    const during: number[] = [];
    w.pollOnce = () => {
      during.push(getEventListeners(ctl.signal, 'abort').length);
      if (++polls === 40) ctl.abort();
      return Promise.resolve([]);
    };
    await w.run(ctl.signal, 1);
    assert.equal(polls, 40);
    assert.ok(
      during.every((n) => n === 0),
      `abort listeners seen at each poll: ${during.join(',')}`,
    );
    assert.equal(getEventListeners(ctl.signal, 'abort').length, 0);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      warnings.filter((x) => x.includes('MaxListeners')),
      [],
    );
  } finally {
    process.off('warning', onWarning);
  }
});
