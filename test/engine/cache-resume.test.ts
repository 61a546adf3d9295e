// Step caching, resume, cancellation and the on-disk records.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { ArtifactStore, effectiveStatus, RunStore } from '../../pipelines/local/store.ts';
import { catalog, collect, comp, delay, lit, param, pipeline, task, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

const C = (name: string, version = '1') => ({ component: { name, version } });

/**
 * ingest -> train -> evaluate, and an independent `profile` off ingest. Each component counts its
 * runs and writes an output derived from its inputs and params.
 */
function fixture() {
  const calls: Record<string, number> = {};
  const count = (n: string) => (calls[n] = (calls[n] ?? 0) + 1);
  const body = async (name: string, ctx: Parameters<Parameters<typeof comp>[1]>[0]) => {
    count(name);
    let text = `${name}:${JSON.stringify(Object.fromEntries(Object.entries(ctx.params).filter(([k]) => !k.startsWith('ghosteam.'))))}`;
    for (const p of Object.values(ctx.inputs)) text += '|' + (await readFile(p, 'utf8'));
    for (const p of Object.values(ctx.outputs)) await writeFile(p, text);
  };
  const comps = ['ingest', 'train', 'evaluate', 'profile'].map((n) => comp(n, (ctx) => body(n, ctx)));
  const spec = (o: { lr?: number; trainVersion?: string; profileImage?: string } = {}) =>
    pipeline(
      'cp',
      [
        task('ingest', { ...C('ingest'), params: { rows: param('rows') }, outputs: { data: { kind: 'dataset' } } }),
        task('train', {
          ...C('train', o.trainVersion),
          params: { lr: lit(o.lr ?? 0.1) },
          inputs: { data: { task: 'ingest', output: 'data', kind: 'dataset' } },
          outputs: { model: { kind: 'model' } },
        }),
        task('evaluate', { ...C('evaluate'), inputs: { model: { task: 'train', output: 'model', kind: 'model' } }, outputs: { metrics: { kind: 'metrics' } } }),
        task('profile', {
          ...C('profile'),
          image: o.profileImage ?? 'img',
          inputs: { data: { task: 'ingest', output: 'data', kind: 'dataset' } },
          outputs: { report: { kind: 'metrics' } },
        }),
      ],
      { params: [{ name: 'rows', type: 'number', default: 100 }] },
    );
  return { calls, comps, spec };
}

let n = 0;
/** A store of its own, so one test's cache does not serve another's. */
const fresh = () => `${dir}/s${++n}`;

describe('step cache', () => {
  test('an unchanged re-run is all cache hits and runs nothing', async () => {
    const sd = fresh();
    const f = fixture();
    const first = await runPipeline(f.spec(), { storeDir: sd, components: catalog(...f.comps) });
    assert.deepEqual(f.calls, { ingest: 1, train: 1, evaluate: 1, profile: 1 });
    const second = await runPipeline(f.spec(), { storeDir: sd, components: catalog(...f.comps) });
    assert.deepEqual(f.calls, { ingest: 1, train: 1, evaluate: 1, profile: 1 });
    assert.ok(second.order.every((n) => second.nodes[n].cached && second.nodes[n].state === 'Succeeded'));
    for (const n of first.order) assert.deepEqual(second.nodes[n].outputs, first.nodes[n].outputs);
  });

  test('changing one task re-runs exactly it and what is downstream of it', async () => {
    const sd = fresh();
    const f = fixture();
    await runPipeline(f.spec(), { storeDir: sd, components: catalog(...f.comps) });
    const base = { ...f.calls };
    const r = await runPipeline(f.spec({ lr: 0.2 }), { storeDir: sd, components: catalog(...f.comps) });
    assert.deepEqual(Object.fromEntries(Object.keys(base).map((k) => [k, f.calls[k] - base[k]])), { ingest: 0, train: 1, evaluate: 1, profile: 0 });
    assert.deepEqual(
      r.order.filter((n) => !r.nodes[n].cached),
      ['train', 'evaluate'],
    );
  });

  test('a new component version or image invalidates that task and downstream; a param change invalidates its users', async () => {
    const sd = fresh();
    const f = fixture();
    await runPipeline(f.spec(), { storeDir: sd, components: catalog(...f.comps) });
    const v2 = await runPipeline(f.spec({ trainVersion: '2' }), { storeDir: sd, components: catalog(...f.comps) });
    assert.deepEqual(
      v2.order.filter((n) => !v2.nodes[n].cached),
      ['train', 'evaluate'],
    );
    const img = await runPipeline(f.spec({ profileImage: 'img:2' }), { storeDir: sd, components: catalog(...f.comps) });
    assert.deepEqual(
      img.order.filter((n) => !img.nodes[n].cached),
      ['profile'],
    );
    const rows = await runPipeline(f.spec(), { storeDir: sd, components: catalog(...f.comps), params: { rows: 5 } });
    assert.deepEqual(
      rows.order.filter((n) => !rows.nodes[n].cached),
      ['ingest', 'train', 'evaluate', 'profile'],
    );
  });

  test('--no-cache runs everything; a task with cache disabled always runs', async () => {
    const sd = fresh();
    const f = fixture();
    await runPipeline(f.spec(), { storeDir: sd, components: catalog(...f.comps) });
    const before = { ...f.calls };
    const r = await runPipeline(f.spec(), { storeDir: sd, components: catalog(...f.comps), cache: false });
    assert.ok(r.order.every((n) => !r.nodes[n].cached));
    assert.deepEqual(
      Object.keys(before).map((k) => f.calls[k] - before[k]),
      [1, 1, 1, 1],
    );
    let ticks = 0;
    const tick = comp('tick', () => void ticks++);
    const s = pipeline('nc', [task('t', { ...C('tick'), cache: { enabled: false } })]);
    await runPipeline(s, { storeDir: sd, components: catalog(tick) });
    await runPipeline(s, { storeDir: sd, components: catalog(tick) });
    assert.equal(ticks, 2);
  });

  test('maxAgeSeconds: an older entry is not reused', async () => {
    const sd = fresh();
    let ticks = 0;
    const tick = comp('tick', () => void ticks++);
    const s = (age: number) => pipeline('age', [task('t', { ...C('tick'), cache: { enabled: true, maxAgeSeconds: age } })]);
    await runPipeline(s(3600), { storeDir: sd, components: catalog(tick) });
    await runPipeline(s(3600), { storeDir: sd, components: catalog(tick) });
    assert.equal(ticks, 1);
    await delay(1100);
    await runPipeline(s(1), { storeDir: sd, components: catalog(tick) });
    assert.equal(ticks, 2);
  });

  test('stored artifacts are read-only and shared by content', async () => {
    const sd = fresh();
    const f = fixture();
    const r = await runPipeline(f.spec(), { storeDir: sd, components: catalog(...f.comps) });
    const st = await stat(new ArtifactStore(sd).pathOf(r.nodes.train.outputs.model.digest));
    assert.equal(st.mode & 0o222, 0);
  });
});

describe('run records and resume', () => {
  test('the record on disk has status, timings, digests and the commit', async () => {
    const f = fixture();
    const r = await runPipeline(f.spec(), { storeDir: dir, components: catalog(...f.comps), gitCommit: 'c0ffee', runId: 'rec-1', cache: false });
    const disk = await new RunStore(dir).load('rec-1');
    assert.equal(disk.status, 'Succeeded');
    assert.equal(disk.gitCommit, 'c0ffee');
    assert.deepEqual(disk.params, { rows: 100 });
    assert.equal(disk.nodes.train.outputs.model.digest, r.nodes.train.outputs.model.digest);
    assert.ok(disk.nodes.train.durationMs! >= 0 && disk.nodes.train.startedAt && disk.nodes.train.finishedAt);
    assert.equal(effectiveStatus(disk), 'Succeeded');
    assert.ok((await new RunStore(dir).list()).some((x) => x.id === 'rec-1'));
    await assert.rejects(new RunStore(dir).load('nope'), { message: `run 'nope' not found in ${dir}/runs; list runs with 'ghosteam runs list'` });
  });

  test('--resume continues a failed run without redoing finished tasks, under the same id', async () => {
    const f = fixture();
    let broken = true;
    const evaluate = comp('evaluate', async (ctx) => {
      f.calls.evaluate = (f.calls.evaluate ?? 0) + 1;
      if (broken) throw new Error('metrics service down');
      await writeFile(ctx.outputs.metrics, 'm');
    });
    const comps = [...f.comps.filter((c) => c.name !== 'evaluate'), evaluate];
    const failed = await runPipeline(f.spec(), { storeDir: dir, components: catalog(...comps), cache: false, runId: 'res-1' });
    assert.equal(failed.status, 'Failed');
    assert.equal(failed.nodes.evaluate.state, 'Failed');
    broken = false;
    const before = { ...f.calls };
    const ev = collect();
    const resumed = await runPipeline(f.spec(), { storeDir: dir, components: catalog(...comps), cache: false, resume: 'res-1', onEvent: ev.onEvent });
    assert.equal(resumed.id, 'res-1');
    assert.equal(resumed.status, 'Succeeded');
    assert.deepEqual(Object.fromEntries(Object.keys(before).map((k) => [k, f.calls[k] - before[k]])), { ingest: 0, train: 0, profile: 0, evaluate: 1 });
    assert.ok(resumed.nodes.train.resumed && !resumed.nodes.evaluate.resumed);
    assert.equal(resumed.resumedAt?.length, 1);
    assert.equal((await new RunStore(dir).load('res-1')).status, 'Succeeded');
    assert.deepEqual(ev.events[0], { ...ev.events[0], type: 'run-start', resumed: true });
  });

  test('resume refuses a run of another pipeline', async () => {
    const f = fixture();
    await runPipeline(f.spec(), { storeDir: dir, components: catalog(...f.comps), runId: 'res-2' });
    await assert.rejects(runPipeline(pipeline('other', []), { storeDir: dir, resume: 'res-2' }), {
      message: "--resume res-2: that run is of pipeline 'cp', not 'other'",
    });
  });
});

describe('cancellation', () => {
  test('aborting stops running tasks (components and processes); the record says Cancelled', async () => {
    const ctl = new AbortController();
    let componentStopped = false;
    const wait = comp('wait', async (ctx) => {
      await delay(30_000, ctx.signal).catch((e) => {
        componentStopped = true;
        throw e;
      });
    });
    const noop = comp('noop', () => {});
    const spec = pipeline('cx', [
      task('c', C('wait')),
      task('p', { command: ['sh', '-c', 'echo $$ > "$GHOSTEAM_WORK_DIR/../pid"; sleep 30'] }),
      task('later', { ...C('noop'), after: ['c'] }),
    ]);
    const ev = collect();
    const started = runPipeline(spec, {
      storeDir: dir,
      components: catalog(wait, noop),
      cache: false,
      runId: 'cx-1',
      signal: ctl.signal,
      onEvent: ev.onEvent,
      killGraceMs: 500,
    });
    while (ev.events.filter((e) => e.type === 'node' && e.state === 'Running').length < 2) await delay(10);
    await delay(150);
    const pid = Number(await readFile(`${dir}/work/cx-1/p/1/pid`, 'utf8'));
    const t0 = Date.now();
    ctl.abort();
    const rec = await started;
    assert.ok(Date.now() - t0 < 2000, 'cancel is prompt');
    assert.equal(rec.status, 'Cancelled');
    assert.deepEqual([rec.nodes.c.state, rec.nodes.p.state, rec.nodes.later.state], ['Cancelled', 'Cancelled', 'Omitted']);
    assert.ok(componentStopped);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the sleep process is gone');
    assert.equal((await new RunStore(dir).load('cx-1')).status, 'Cancelled');
  });

  test('a killed engine leaves a Running record that reads as Interrupted, and resume finishes it', async () => {
    // A real engine process, killed with SIGKILL mid-run.
    const script = `
      import { runPipeline } from ${JSON.stringify(new URL('../../pipelines/local/engine.ts', import.meta.url).pathname)};
      const t = (name, cmd, after = []) => ({ name, path: 'k/' + name, image: 'sh', command: ['sh', '-c', cmd], params: {}, inputs: {}, outputs: {}, outputParams: [], env: {}, resources: { cpu: '1', memory: '1Mi' }, cache: { enabled: false }, dependsOn: after });
      await runPipeline({ name: 'kp', path: 'kp', params: [], tasks: [t('fast', 'echo fast >> "$MARK"'), t('slow', 'sleep 30', ['fast'])] }, { storeDir: ${JSON.stringify(dir)}, runId: 'kill-1' });
    `;
    const mark = `${dir}/mark`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, MARK: mark }, stdio: 'ignore' });
    const store = new RunStore(dir);
    for (let i = 0; i < 200; i++) {
      const r = await store.load('kill-1').catch(() => undefined);
      if (r?.nodes.slow?.state === 'Running') break;
      await delay(50);
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const left = await store.load('kill-1');
    assert.equal(left.status, 'Running');
    assert.equal(effectiveStatus(left), 'Interrupted');
    assert.equal(left.nodes.fast.state, 'Succeeded');
    const t = (name: string, cmd: string, after: string[] = []) =>
      task(name, { image: 'sh', command: ['sh', '-c', cmd], cache: { enabled: false }, after, path: `k/${name}` });
    const rec = await runPipeline(pipeline('kp', [t('fast', 'echo fast >> "$MARK"'), t('slow', 'true', ['fast'])]), { storeDir: dir, resume: 'kill-1' });
    assert.equal(rec.status, 'Succeeded');
    assert.equal(await readFile(mark, 'utf8'), 'fast\n', 'fast ran once, not again on resume');
  });
});
