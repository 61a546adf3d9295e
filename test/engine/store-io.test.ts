/**
 * The engine's per-run file I/O, trimmed for short runs (a sweep's trials): records are written
 * without a mkdir before every write (a missing folder is made on the first ENOENT), the logs folder
 * appears with the first log line, and a sweep settles its trials' scratch-folder removals before it
 * returns — nothing a caller reads afterwards is missing or left behind.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../pipelines/local/store.ts';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { runSweep } from '../../pipelines/local/sweep.ts';
import { Space } from '../../components/tuning/space.ts';
import { catalog, comp, lit, pipeline, task, tempDir } from './helpers.ts';

const components = catalog(
  comp('quiet', (ctx) => ctx.setOutput('v', Number(ctx.params.x ?? 0) ** 2), { outputParams: ['v'] }),
  comp(
    'chatty',
    (ctx) => {
      ctx.log('hello from the task');
      ctx.setOutput('v', 1);
    },
    { outputParams: ['v'] },
  ),
);

describe('engine file I/O', () => {
  it('writeFileAtomic makes a missing folder only when asked, and leaves no temporary file', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const f = join(dir, 'a', 'b', 'record.json');
      await assert.rejects(writeFileAtomic(f, '{}'), /ENOENT/);
      assert.equal(existsSync(join(dir, 'a')), false);
      await writeFileAtomic(f, '{"x":1}', { mkdirs: true });
      assert.equal(readFileSync(f, 'utf8'), '{"x":1}');
      await writeFileAtomic(f, '{"x":2}', { mkdirs: true });
      assert.equal(readFileSync(f, 'utf8'), '{"x":2}');
      assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['record.json']);
    } finally {
      await cleanup();
    }
  });

  it('a run writes its record, a logs folder only when a task logs, and removes its scratch folder before it returns', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const quiet = await runPipeline(pipeline('q', [task('a', { component: { name: 'quiet', version: '1' }, outputParams: ['v'] })]), {
        cwd: dir,
        components,
        gitCommit: null,
        runId: 'quiet-1',
      });
      assert.equal(quiet.status, 'Succeeded');
      const runDir = join(dir, '.ghosteam', 'runs', 'quiet-1');
      assert.equal(JSON.parse(readFileSync(join(runDir, 'record.json'), 'utf8')).status, 'Succeeded');
      assert.equal(existsSync(join(runDir, 'logs')), false, 'no task logged: no logs folder');
      assert.equal(existsSync(join(dir, '.ghosteam', 'work', 'quiet-1')), false);
      const chatty = await runPipeline(pipeline('c', [task('a', { component: { name: 'chatty', version: '1' }, outputParams: ['v'] })]), {
        cwd: dir,
        components,
        gitCommit: null,
        runId: 'chatty-1',
      });
      assert.equal(chatty.status, 'Succeeded');
      assert.match(readFileSync(join(dir, '.ghosteam', 'runs', 'chatty-1', chatty.nodes.a.log!), 'utf8'), /hello from the task/);
    } finally {
      await cleanup();
    }
  });

  it("a sweep returns with every trial's scratch folder removed and its record holding every trial", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const spec = pipeline('p', [task('t', { component: { name: 'quiet', version: '1' }, params: { x: lit(0) }, outputParams: ['v'] })]);
      const rec = await runSweep(
        spec,
        {
          name: 'io',
          path: 'test/io',
          pipeline: 'p',
          task: 't',
          space: { x: Space.uniform(-1, 1).spec },
          objective: { task: 't', metric: 'v', direction: 'minimize' },
          algorithm: { kind: 'random', seed: 3 },
          budget: { trials: 12, parallelism: 2 },
        },
        { cwd: dir, components, gitCommit: null, final: false },
      );
      assert.equal(rec.status, 'Succeeded', rec.message);
      const work = join(dir, '.ghosteam', 'work');
      assert.deepEqual(existsSync(work) ? readdirSync(work) : [], []);
      const saved = JSON.parse(readFileSync(join(dir, '.ghosteam', 'sweeps', `${rec.id}.json`), 'utf8'));
      assert.equal(saved.trials.length, 12);
      assert.ok(saved.trials.every((t: { state: string }) => t.state === 'Complete'));
    } finally {
      await cleanup();
    }
  });
});
