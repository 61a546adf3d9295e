// The node runner (pipelines/local/node-runner.ts) on its own: one node through inputs, the step
// cache, resume, retries, cancellation and fail-fast, with a RunContext built here (no DAG, no
// scheduler). Real stores on disk; components defined in the test.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Component, ParamValue } from '../../components/component.ts';
import { runNode, Semaphore, type Result, type RunContext } from '../../pipelines/local/node-runner.ts';
import { ArtifactStore, FileDigests, StepCache } from '../../pipelines/local/store.ts';
import type { EngineEvent, NodeRecord, NodeState, RunRecord } from '../../pipelines/local/types.ts';
import type { TaskSpec } from '../../pipelines/spec.ts';
import { comp, lit, pipeline, task, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

let seq = 0;

/** A RunContext over a fresh store; `over` replaces any part. */
async function context(components: Component[], over: Partial<RunContext> = {}) {
  const root = join(dir, `s${++seq}`);
  const runId = over.runId ?? `run-${seq}`;
  const runDir = join(root, 'runs', runId);
  await mkdir(join(runDir, 'logs'), { recursive: true });
  const events: EngineEvent[] = [];
  const states: [string, NodeState, string | undefined][] = [];
  const byName = new Map(components.map((c) => [c.name, c]));
  const params: Record<string, ParamValue> = {};
  const ctx: RunContext = {
    spec: pipeline('p', []),
    runId,
    runDir,
    workRoot: join(root, 'work', runId),
    root,
    cwd: dir,
    gitCommit: null,
    store: new ArtifactStore(root),
    cache: new StepCache(root),
    fileDigests: new FileDigests(root),
    useCache: true,
    isolation: 'inline',
    killGraceMs: 1000,
    signal: new AbortController().signal,
    sleep: async () => {},
    results: new Map<string, Result>(),
    failed: () => false,
    componentOf: async (name) => byName.get(name),
    fileParamsOf: async () => [],
    scopeOf: (item) => ({ params, outputs: () => undefined, ...(item !== undefined ? { item } : {}) }),
    setState: (n, state, extra) => {
      n.state = state;
      if (extra?.message !== undefined) n.message = extra.message;
      states.push([n.id, state, extra?.message]);
    },
    emit: (e) => events.push(e),
    ...over,
  };
  return { ctx, events, states, root };
}

const node = (t: TaskSpec): NodeRecord => ({ id: t.name, task: t.name, path: t.path, state: 'Pending', attempts: [], outputs: {}, outputParams: {} });
const C = { component: { name: 'write', version: '1' } };

/** Writes `text` (its param) to its `out` artifact and `len` as an output param; counts its runs. */
function writer(fails = 0) {
  let runs = 0;
  const c = comp(
    'write',
    async (x) => {
      runs++;
      if (runs <= fails) throw new Error(`flaky run ${runs}`);
      await writeFile(x.outputs.out, String(x.params.text));
      x.setOutput('len', String(x.params.text).length);
    },
    { outputs: [{ name: 'out', kind: 'dataset' }], outputParams: ['len'] },
  );
  return { c, runs: () => runs };
}

const writeTask = (over: Partial<TaskSpec> = {}) =>
  task('w', { ...C, params: { text: lit('hello') }, outputs: { out: { kind: 'dataset' } }, outputParams: ['len'], ...over });

describe('runNode', () => {
  test('runs a component: stores the output by digest, records the attempt, and a second run is a cache hit', async () => {
    const w = writer();
    const { ctx, states } = await context([w.c]);
    const t = writeTask();
    const n = node(t);
    const r = await runNode(ctx, t, n, undefined, [new Semaphore(1)], {}, true);
    assert.equal(r.state, 'Succeeded');
    assert.equal(await readFile(ctx.store.pathOf(r.outputs.out.digest), 'utf8'), 'hello');
    assert.deepEqual(r.outputParams, { len: 5 });
    assert.equal(n.attempts.length, 1);
    assert.equal(n.attempts[0].outcome, 'Succeeded');
    assert.deepEqual(
      states.map(([, s]) => s),
      ['Running', 'Succeeded'],
    );
    const again = node(t);
    const r2 = await runNode({ ...ctx, runId: 'later' }, t, again, undefined, [new Semaphore(1)], {}, true);
    assert.equal(w.runs(), 1);
    assert.equal(r2.key, r.key);
    assert.equal(again.cached, true);
    assert.equal(again.message, `cached (from run ${ctx.runId})`);
  });

  test('a node of the run being resumed is reused when its cache key matches; cache off means it runs', async () => {
    const w = writer();
    const { ctx } = await context([w.c], { useCache: false });
    const t = writeTask();
    const first = node(t);
    await runNode(ctx, t, first, undefined, [new Semaphore(1)], {}, true);
    const prev = { nodes: { w: { ...first } } } as unknown as RunRecord;
    const resumed = node(t);
    const r = await runNode({ ...ctx, prev }, t, resumed, undefined, [new Semaphore(1)], {}, true);
    assert.equal(r.state, 'Succeeded');
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.message, 'finished in the resumed run');
    assert.equal(w.runs(), 1);
    // Another param: another key, so the resumed node is not reused, and with the cache off it runs.
    const changed = writeTask({ params: { text: lit('bye') } });
    await runNode({ ...ctx, prev }, changed, node(changed), undefined, [new Semaphore(1)], {}, true);
    assert.equal(w.runs(), 2);
  });

  test('retries per the retry policy, waiting the back-off through the injected sleep', async () => {
    const w = writer(2);
    const waits: number[] = [];
    const { ctx, events } = await context([w.c], { sleep: async (ms) => void waits.push(ms) });
    const t = writeTask({ retry: { limit: 3, policy: 'Always', backoff: { durationSeconds: 1, factor: 2 } } });
    const n = node(t);
    const r = await runNode(ctx, t, n, undefined, [new Semaphore(1)], {}, true);
    assert.equal(r.state, 'Succeeded');
    assert.deepEqual(
      n.attempts.map((a) => a.outcome),
      ['Failed', 'Failed', 'Succeeded'],
    );
    assert.equal(n.message, 'succeeded on attempt 3');
    assert.deepEqual(waits, [1000, 2000]);
    assert.deepEqual(
      events.filter((e) => e.type === 'retry').map((e) => (e as { attempt: number }).attempt),
      [2, 3],
    );
  });

  test('fails with the error and the attempts when retries run out', async () => {
    const w = writer(5);
    const { ctx } = await context([w.c]);
    const t = writeTask({ retry: { limit: 1, policy: 'Always' } });
    const n = node(t);
    const r = await runNode(ctx, t, n, undefined, [new Semaphore(1)], {}, true);
    assert.equal(r.state, 'Failed');
    assert.match(n.message ?? '', /flaky run 2 \(after 2 attempts\)$/);
  });

  test('not started when the run was cancelled or an earlier task failed (fail-fast); an exit handler still runs', async () => {
    const w = writer();
    const aborted = new AbortController();
    aborted.abort();
    const a = await context([w.c], { signal: aborted.signal });
    const t = writeTask();
    const n1 = node(t);
    assert.equal((await runNode(a.ctx, t, n1, undefined, [new Semaphore(1)], {}, true)).state, 'Omitted');
    assert.equal(n1.message, 'not started: the run was cancelled');
    const b = await context([w.c], { failed: () => true });
    const n2 = node(t);
    assert.equal((await runNode(b.ctx, t, n2, undefined, [new Semaphore(1)], {}, true)).state, 'Omitted');
    assert.equal(n2.message, 'not started: an earlier task failed');
    const exit = { ...node(t), isExitHandler: true };
    assert.equal((await runNode(b.ctx, t, exit, undefined, [new Semaphore(1)], {}, false)).state, 'Succeeded');
    assert.equal(w.runs(), 1);
  });

  test('an input the upstream task did not produce is an Error naming the input; a component version mismatch names the fix', async () => {
    const w = writer();
    const { ctx } = await context([w.c]);
    const t = writeTask({ inputs: { data: { task: 'up', output: 'data', kind: 'dataset' } } });
    const n = node(t);
    assert.equal((await runNode(ctx, t, n, undefined, [new Semaphore(1)], {}, true)).state, 'Error');
    assert.match(n.message ?? '', /input 'data': task 'up' produced no artifact 'data'/);
    const old = writeTask({ component: { name: 'write', version: '0' } });
    const n2 = node(old);
    await runNode(ctx, old, n2, undefined, [new Semaphore(1)], {}, true);
    assert.match(n2.message ?? '', /built for component 'write' version 0, but the catalog has version 1/);
    assert.equal(w.runs(), 0);
  });
});
