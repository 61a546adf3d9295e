/**
 * Experiment tracking: a run's params, per-epoch metric history, final metrics and artifacts, in the
 * local run record and — against the real MLflow peer — as an MLflow run that Python's
 * `mlflow.search_runs` and `MlflowClient.get_metric_history` read; the comparison table and curves.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { compareHtml, comparePng, formatTable, mlflowRows, runToRow, sortRows, trackToMlflow } from '../../pipelines/local/experiments.ts';
import { usePeers } from '../peers/index.ts';
import { catalog, comp, lit, out, pipeline, task, tempDir } from '../engine/helpers.ts';

const components = catalog(
  comp(
    'fit',
    async (ctx) => {
      const lr = Number(ctx.params.lr);
      for (let e = 1; e <= 5; e++) {
        ctx.progress({ epoch: e, epochs: 5, loss: 1 / (e * lr) });
        await new Promise((r) => setImmediate(r));
      }
      const { writeFile } = await import('node:fs/promises');
      await writeFile(ctx.outputs.model, JSON.stringify({ lr }));
      ctx.setOutput('score', lr * 10);
    },
    { outputs: [{ name: 'model', kind: 'model' }], outputParams: ['score'] },
  ),
  comp('judge', (ctx) => ctx.setOutput('auc', 0.5 + Number(ctx.params.score) / 100), { outputParams: ['auc'] }),
);
const spec = (lr: number, name = 'exp-toy') =>
  pipeline(name, [
    task('train', { component: { name: 'fit', version: '1' }, params: { lr: lit(lr) }, outputs: { model: { kind: 'model' } }, outputParams: ['score'] }),
    task('evaluate', { component: { name: 'judge', version: '1' }, params: { score: out('train', 'score') }, outputParams: ['auc'] }),
  ]);

describe('experiment tracking, local', () => {
  it('a run record holds params, per-epoch history and final metrics; rows sort best first and compare as table, HTML and PNG', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const a = await runPipeline(spec(0.5), { cwd: dir, components, gitCommit: 'abc123', runId: 'run-a' });
      const b = await runPipeline(spec(2), { cwd: dir, components, gitCommit: 'abc123', runId: 'run-b' });
      assert.deepEqual(a.nodes.train.history, {
        loss: [1, 2, 3, 4, 5].map((e) => ({ step: e, value: 1 / (e * 0.5) })),
      });
      const rows = [runToRow(a), runToRow(b)];
      assert.deepEqual(rows[0].params, { 'train.lr': '0.5' });
      assert.deepEqual(rows[0].metrics, { 'train.score': 5, 'train.loss': 0.4, 'evaluate.auc': 0.55 });
      assert.equal(rows[0].tags['mlflow.source.git.commit'], 'abc123');
      const sorted = sortRows(rows, 'evaluate.auc');
      assert.deepEqual(
        sorted.map((r) => r.runId),
        ['run-b', 'run-a'],
        'auc: higher is better',
      );
      assert.deepEqual(
        sortRows(rows, 'train.loss').map((r) => r.runId),
        ['run-b', 'run-a'],
      );
      assert.equal(
        formatTable(sorted),
        [
          'RUN    STATUS     train.lr  evaluate.auc  train.loss  train.score',
          'run-b  Succeeded  2         0.7000        0.1000      20',
          'run-a  Succeeded  0.5       0.5500        0.4000      5',
        ].join('\n'),
      );
      // A JSON-valued param is cut to 40 characters in the table (whole in --json).
      const schema = JSON.stringify({ columns: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`c${i}`, { nullable: false }])) });
      const wide = formatTable([{ ...rows[0], params: { 'validate.schema': schema } }]).split('\n');
      assert.equal(wide[1].split(/\s{2,}/)[2], `${schema.slice(0, 39)}…`);
      const html = compareHtml(sorted);
      assert.match(html, /<svg[^>]*>[\s\S]*<polyline[^>]*points="[^"]+"[\s\S]*<\/svg>/);
      assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(html), 'self-contained');
      const png = await comparePng(sorted);
      assert.deepEqual([...png.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    } finally {
      await cleanup();
    }
  });

  it('ghosteam experiments --help, and list --json over local runs', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await runPipeline(spec(1), { cwd: dir, components, gitCommit: null, runId: 'run-c' });
      const bin = join(import.meta.dirname, '../../bin/ghosteam.mjs');
      const help = spawnSync(process.execPath, [bin, 'experiments', 'compare', '--help'], { encoding: 'utf8' });
      assert.equal(help.status, 0);
      assert.match(help.stdout, /^Usage:/);
      const env = { ...process.env, MLFLOW_TRACKING_URI: '' };
      const r = spawnSync(process.execPath, [bin, 'experiments', 'list', '--json', '-m', 'evaluate.auc'], { cwd: dir, encoding: 'utf8', env });
      assert.equal(r.status, 0, r.stderr);
      const rows = JSON.parse(r.stdout) as { runId: string; metrics: Record<string, number> }[];
      assert.deepEqual(
        rows.map((x) => [x.runId, x.metrics['evaluate.auc']]),
        [['run-c', 0.6]],
      );
      const bad = spawnSync(process.execPath, [bin, 'experiments', 'list', '-m', 'evaluate.f2'], { cwd: dir, encoding: 'utf8', env });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /no run has metric 'evaluate\.f2'; the runs have evaluate\.auc, train\.loss, train\.score/);
    } finally {
      await cleanup();
    }
  });
});

const peers = await usePeers(['mlflow', 'python']);

describe('experiment tracking in MLflow', { skip: peers.skip }, () => {
  it("a run is an MLflow run: Python's search_runs and get_metric_history see its params, metrics, steps and artifacts", async () => {
    const { dir, cleanup } = await tempDir();
    const pipe = `exp-${randomBytes(3).toString('hex')}`;
    try {
      const rec = await runPipeline(spec(0.5, pipe), {
        cwd: dir,
        components,
        gitCommit: 'abc123',
        runId: `${pipe}-r1`,
        trackingUri: peers.mlflowUrl,
        reason: 'manual',
      });
      assert.equal(rec.tracking?.error, undefined);
      assert.match(rec.tracking!.mlflowRunId!, /^[0-9a-f]{32}$/);
      // Idempotent by run id.
      assert.equal(await trackToMlflow(rec, join(dir, '.ghosteam'), peers.mlflowUrl), rec.tracking!.mlflowRunId);
      const py = execFileSync(
        peers.python,
        [
          '-c',
          `import mlflow, json
from mlflow import MlflowClient
mlflow.set_tracking_uri(${JSON.stringify(peers.mlflowUrl)})
df = mlflow.search_runs(experiment_names=[${JSON.stringify(pipe)}])
r = df.iloc[0]
c = MlflowClient()
h = c.get_metric_history(r['run_id'], 'train.loss')
arts = [a.path for a in c.list_artifacts(r['run_id'], 'train')]
print(json.dumps({'n': len(df), 'lr': r['params.train.lr'], 'auc': r['metrics.evaluate.auc'], 'runId': r['tags.ghosteam.runId'], 'commit': r['tags.mlflow.source.git.commit'], 'reason': r['tags.ghosteam.reason'], 'status': r['status'], 'steps': [m.step for m in sorted(h, key=lambda m: m.step)], 'last': sorted(h, key=lambda m: m.step)[-1].value, 'arts': arts}))`,
        ],
        { encoding: 'utf8' },
      );
      const got = JSON.parse(py.trim().split('\n').pop()!);
      assert.deepEqual(got, {
        n: 1,
        lr: '0.5',
        auc: 0.55,
        runId: `${pipe}-r1`,
        commit: 'abc123',
        reason: 'manual',
        status: 'FINISHED',
        steps: [1, 2, 3, 4, 5],
        last: 0.4,
        arts: ['train/model'],
      });
      const rows = await mlflowRows(peers.mlflowUrl, [pipe], true);
      assert.equal(rows.length, 1);
      assert.deepEqual(
        rows[0].history['train.loss'].map((p) => p.step),
        [1, 2, 3, 4, 5],
      );
      assert.equal(rows[0].metrics['evaluate.auc'], 0.55);
    } finally {
      await cleanup();
    }
  });
});
