import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { bar, createReporter, formatDuration, renderLine } from '../../pipelines/local/progress.ts';

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

test('durations read naturally', () => {
  assert.deepEqual([formatDuration(12), formatDuration(1500), formatDuration(61_000), formatDuration(3_599_000)], ['12ms', '1.5s', '1m01s', '59m59s']);
});

test('a training task shows a bar of epochs with the loss', () => {
  const line = plain(renderLine('train', { state: 'Running', startedAt: 0, epoch: 5, epochs: 20, loss: 0.123456 }, 8, 2500));
  assert.equal(line, `  ⠋ train     Running      2.5s  ${bar(0.25)} epoch 5/20 loss 0.1235`);
  assert.equal(bar(0.25, 8), '██░░░░░░');
});

test('finished lines say cached, and failed ones their error', () => {
  assert.equal(plain(renderLine('ingest', { state: 'Succeeded', startedAt: 0, endedAt: 3, cached: true }, 6, 99)), '  ✓ ingest  Succeeded     3ms  cached');
  assert.equal(plain(renderLine('eval', { state: 'Failed', startedAt: 0, endedAt: 2000, note: 'exit 3' }, 6, 99)), '  ✗ eval    Failed       2.0s  exit 3');
  assert.equal(plain(renderLine('deploy', { state: 'Running', startedAt: 0, attempt: 2 }, 6, 10)), '  ⠋ deploy  Running      10ms  attempt 2');
});

test('json mode writes one event per line; quiet mode only the summary', () => {
  let text = '';
  const sink = new Writable({
    write(c, _e, cb) {
      text += String(c);
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  const j = createReporter('json', sink);
  j.onEvent({ type: 'log', runId: 'r', node: 'a', line: 'hi', time: 't' });
  j.onEvent({ type: 'run-end', runId: 'r', status: 'Succeeded', time: 't', durationMs: 1200 });
  assert.deepEqual(
    text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).type),
    ['log', 'run-end'],
  );
  text = '';
  const q = createReporter('quiet', sink);
  q.onEvent({ type: 'log', runId: 'r', node: 'a', line: 'hi', time: 't' });
  q.onEvent({ type: 'run-end', runId: 'r', status: 'Failed', time: 't', durationMs: 1200 });
  assert.equal(text, 'run r Failed in 1.2s\n');
});

test('the TTY view redraws in place: one line per task, fan-out instances under their task', () => {
  let text = '';
  const sink = new Writable({
    write(c, _e, cb) {
      text += String(c);
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  (sink as { rows?: number }).rows = 40;
  const r = createReporter('tty', sink);
  const t = new Date().toISOString();
  r.onEvent({ type: 'run-start', runId: 'r1', pipeline: 'p', time: t, nodes: ['a', 'b'], resumed: false });
  r.onEvent({ type: 'node', runId: 'r1', node: 'a', path: 'x/a', state: 'Running', time: t, attempt: 1 });
  r.onEvent({ type: 'progress', runId: 'r1', node: 'a', time: t, epoch: 2, epochs: 4, loss: 0.5 });
  r.onEvent({ type: 'node', runId: 'r1', node: 'b(0)', path: 'x/b', state: 'Running', time: t });
  r.onEvent({ type: 'node', runId: 'r1', node: 'a', path: 'x/a', state: 'Succeeded', time: new Date(Date.parse(t) + 1500).toISOString() });
  r.onEvent({ type: 'run-end', runId: 'r1', status: 'Succeeded', time: t, durationMs: 1500 });
  r.stop();
  // The last frame, after the final cursor-up: header, a, b, b(0).
  const frames = text.split(/\x1b\[\d+A/);
  const last = plain(frames[frames.length - 1])
    .split('\n')
    .filter(Boolean);
  assert.deepEqual(
    last.slice(0, 4).map((l) => l.trim().split(/\s+/).slice(0, 3).join(' ')),
    ['running p run', '✓ a Succeeded', '· b Pending', `${last[3].trim()[0]} b(0) Running`],
  );
  assert.equal(last.at(-1), 'Succeeded in 1.5s');
});
