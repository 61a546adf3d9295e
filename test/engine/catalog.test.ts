// The engine with the real component catalog (components/index.ts): inline and in worker threads,
// and the example fraud pipeline end to end on a small slice of its synthetic data.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { isHeavy } from '../../pipelines/local/node-runner.ts';
import { loadPipelines } from '../../pipelines/local/load.ts';
import { collect, lit, out, pipeline, task, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

test('heavy steps are those asking for a GPU or at least 2 CPUs', () => {
  const r = (cpu: string, gpu = false) => task('t', { resources: { cpu, memory: '1Gi', ...(gpu ? { gpu: { count: 1 } } : {}) } });
  assert.deepEqual([isHeavy(r('500m')), isHeavy(r('1999m')), isHeavy(r('2')), isHeavy(r('4')), isHeavy(r('100m', true))], [false, false, true, true, true]);
});

describe('catalog components', () => {
  // ingest (CSV) -> gate on a metrics file written by a command: real components, both isolations.
  const spec = (csv: string) =>
    pipeline('cat', [
      task('ingest', {
        component: { name: 'ingest', version: '3' },
        params: { path: lit(csv) },
        outputs: { dataset: { kind: 'dataset' } },
        outputParams: ['rows', 'columns', 'digest', 'kafkaOffsets'],
      }),
      task('rows', {
        command: ['sh', '-c', 'echo "{\\"rows\\": {{inputs.parameters.n}}}" > {{outputs.artifacts.metrics.path}}'],
        params: { n: out('ingest', 'rows') },
        outputs: { metrics: { kind: 'metrics' } },
      }),
    ]);
  for (const isolation of ['inline', 'worker'] as const) {
    test(`ingest runs ${isolation} and its output params flow downstream`, async () => {
      const csv = join(dir, `d-${isolation}.csv`);
      await writeFile(csv, 'a,b\n1,x\n2,y\n3,z\n');
      const ev = collect();
      const rec = await runPipeline(spec(csv), { storeDir: join(dir, isolation), isolation, cache: false, onEvent: ev.onEvent, runId: `cat-${isolation}` });
      assert.equal(rec.status, 'Succeeded', JSON.stringify(rec.nodes, null, 1));
      assert.equal(rec.nodes.ingest.outputParams.rows, 3);
      assert.equal(rec.nodes.ingest.outputParams.columns, 2);
      assert.match(String(rec.nodes.ingest.outputParams.digest), /^sha256:[0-9a-f]{64}$/);
      const log = await readFile(join(dir, isolation, 'runs', `cat-${isolation}`, 'logs', 'ingest.log'), 'utf8');
      assert.match(log, /^read 3 rows × 2 columns from /);
      assert.ok(
        ev.events.some((e) => e.type === 'log' && e.node === 'ingest'),
        'worker logs reach the event stream',
      );
    });
  }
  test("a file param resolves against the run's cwd, and the file's content keys the cache: an edit re-runs the task and what reads it", async () => {
    const work = join(dir, 'filecwd');
    await mkdir(join(work, 'data'), { recursive: true });
    const csv = join(work, 'data', 'rows.csv');
    await writeFile(csv, 'a,b\n1,x\n2,y\n');
    const opts = { cwd: work, storeDir: '.ghosteam', isolation: 'inline' as const };
    const first = await runPipeline(spec('data/rows.csv'), opts);
    assert.equal(first.status, 'Succeeded', JSON.stringify(first.nodes, null, 1));
    assert.equal(first.nodes.ingest.outputParams.rows, 2);
    assert.ok(existsSync(join(work, '.ghosteam', 'cache', 'files.json')));
    const same = await runPipeline(spec('data/rows.csv'), opts);
    assert.deepEqual(
      same.order.filter((id) => !same.nodes[id].cached),
      [],
      'unchanged file: all cached',
    );
    // New content under the old mtime: the memo of digests keys on (inode, size, mtime), so it misses, and the cache key follows the content.
    const { mtime } = await stat(csv);
    await writeFile(csv, 'a,b\n1,x\n3,z\n4,w\n');
    await utimes(csv, mtime, mtime);
    const edited = await runPipeline(spec('data/rows.csv'), opts);
    assert.deepEqual(
      edited.order.filter((id) => !edited.nodes[id].cached),
      ['ingest', 'rows'],
    );
    assert.equal(edited.nodes.ingest.outputParams.rows, 3);
    // Written back byte for byte (a new mtime): the same content is a cache hit again.
    await writeFile(csv, 'a,b\n1,x\n2,y\n');
    const restored = await runPipeline(spec('data/rows.csv'), opts);
    assert.deepEqual(
      restored.order.filter((id) => !restored.nodes[id].cached),
      [],
    );
    assert.equal(restored.nodes.ingest.outputParams.rows, 2);
  });
  test('a component error in a worker fails the task with its message', async () => {
    const rec = await runPipeline(spec(join(dir, 'missing.csv')), { storeDir: join(dir, 'werr'), isolation: 'worker', cache: false });
    assert.equal(rec.nodes.ingest.state, 'Failed');
    assert.match(rec.nodes.ingest.message!, /missing\.csv/);
  });
  test('cancelling stops a component in a worker', async () => {
    const csv = join(dir, 'c.csv');
    await writeFile(csv, 'a\n1\n');
    const ctl = new AbortController();
    const ev = collect();
    const p = runPipeline(spec(csv), {
      storeDir: join(dir, 'wcancel'),
      isolation: 'worker',
      cache: false,
      signal: ctl.signal,
      onEvent: ev.onEvent,
      killGraceMs: 200,
    });
    while (!ev.events.some((e) => e.type === 'node' && e.state === 'Running')) await new Promise((r) => setTimeout(r, 5));
    ctl.abort();
    const rec = await p;
    assert.equal(rec.status, 'Cancelled');
    assert.equal(rec.nodes.ingest.state, 'Cancelled');
  });
});

const exampleApp = fileURLToPath(new URL('../../examples/fraud-detection/app.ts', import.meta.url));
describe('the example fraud pipeline, end to end', { skip: existsSync(exampleApp) ? false : 'examples/fraud-detection/app.ts is not there yet' }, () => {
  test('trains, gates, exports and registers; a re-run is cached except the uncached register', async () => {
    const { generate, toCsv } = await import('../../examples/fraud-detection/data.ts');
    const csv = join(dir, 'fraud.csv');
    await writeFile(csv, toCsv(generate('reference', 3000, 3)));
    process.env.GHOSTEAM_REGISTRY_DIR = join(dir, 'registry');
    delete process.env.MLFLOW_TRACKING_URI;
    const spec = (await loadPipelines(exampleApp)).find((p) => p.name === 'fraud-train');
    assert.ok(spec, 'the example defines fraud-train');
    const params = { data: csv, epochs: 2, gate: { rocAuc: '>= 0.5' } };
    const ev = collect();
    const rec = await runPipeline(spec, { storeDir: join(dir, 'ex'), params, gitCommit: 'feedbeef', onEvent: ev.onEvent });
    const bad = rec.order.filter((id) => rec.nodes[id].state !== 'Succeeded').map((id) => `${id}: ${rec.nodes[id].state} ${rec.nodes[id].message}`);
    assert.equal(rec.status, 'Succeeded', bad.join('\n'));
    assert.ok(
      ev.events.some((e) => e.type === 'progress' && e.node === 'train' && e.epochs === 2),
      'training reports epochs',
    );
    const again = await runPipeline(spec, { storeDir: join(dir, 'ex'), params, gitCommit: 'feedbeef' });
    assert.deepEqual(
      again.order.filter((id) => !again.nodes[id].cached),
      ['register'],
    );
  });
});

describe('an invalid param value is terminal: no retry, in a worker thread or inline (api/failure.ts)', () => {
  // ingest's format is one of auto/csv/jsonl/parquet: 'xlsx' fails the same way on every attempt.
  for (const isolation of ['inline', 'worker'] as const) {
    test(`ingest format=xlsx with retry Always×3 runs once (${isolation})`, async () => {
      const csv = join(dir, `bad-${isolation}.csv`);
      await writeFile(csv, 'a\n1\n');
      const sleeps: number[] = [];
      const rec = await runPipeline(
        pipeline('bad', [
          task('ingest', {
            component: { name: 'ingest', version: '3' },
            params: { path: lit(csv), format: lit('xlsx') },
            outputs: { dataset: { kind: 'dataset' } },
            outputParams: ['rows', 'columns', 'digest', 'kafkaOffsets'],
            retry: { limit: 3, policy: 'Always', backoff: { durationSeconds: 1, factor: 2 } },
          }),
        ]),
        { storeDir: join(dir, `bad-${isolation}`), isolation, cache: false, sleep: async (ms) => void sleeps.push(ms) },
      );
      const n = rec.nodes.ingest;
      assert.equal(rec.status, 'Failed');
      assert.deepEqual(
        n.attempts.map((a) => [a.attempt, a.outcome, a.reason, a.terminal]),
        [[1, 'Failed', 'InvalidParam', true]],
      );
      assert.deepEqual(sleeps, [], 'no back-off wait: nothing to wait for');
      assert.match(
        n.message!,
        /^ingest: param 'format' must be one of auto, csv, jsonl, parquet, got 'xlsx'; not retried: InvalidParam cannot change on retry$/,
      );
      assert.deepEqual([n.reason, n.terminal, rec.reason, rec.terminal], ['InvalidParam', true, 'InvalidParam', true]);
    });
  }
});
