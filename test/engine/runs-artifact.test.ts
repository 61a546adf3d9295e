// `ghosteam runs artifact`: a real pipeline (ingest → split → train-tabular → evaluate) on data
// written here, then its artifacts read back through the CLI: a dataset's preview, the dataset
// written as CSV, JSON Lines and Parquet (read back by DuckDB, an independent reader), metrics
// printed as JSON, a model copied byte for byte, and the errors a user meets.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { App, Chart } from 'cdk8s';
import { DuckDBInstance } from '@duckdb/node-api';
import { Pipeline } from '../../pipelines/pipeline.ts';
import { runPipeline } from '../../pipelines/local/engine.ts';
import { ArtifactStore } from '../../pipelines/local/index.ts';
import type { RunRecord } from '../../pipelines/local/types.ts';
import { tempDir } from './helpers.ts';

const bin = fileURLToPath(new URL('../../bin/ghosteam.mjs', import.meta.url));
let dir: string;
let cleanup: () => Promise<void>;
let run: RunRecord;
const ROWS = 200;
// Seeded rows with a categorical column, a boolean one, text with a comma and a quote, and missing values.
const rows = Array.from({ length: ROWS }, (_, i) => {
  const x = ((i * 7919) % 1000) / 100;
  return {
    id: `c${i}`,
    x: i % 17 === 3 ? '' : String(x),
    plan: ['basic', 'pro', 'team'][i % 3],
    active: i % 5 === 0 ? 'true' : 'false',
    note: i % 9 === 0 ? 'a, "b"' : 'n',
    y: x > 5 ? 1 : 0,
  };
});

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const csv = join(dir, 'data.csv');
  const q = (s: string) => (/[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  writeFileSync(csv, 'id,x,plan,active,note,y\n' + rows.map((r) => [r.id, r.x, r.plan, r.active, q(r.note), r.y].join(',')).join('\n') + '\n');
  const p = new Pipeline(new Chart(new App(), 'art'), 'art');
  const ingest = p.component('ingest', 'ingest', { params: { path: csv } });
  const split = p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') }, params: { seed: 1 } });
  const train = p.component('train', 'train-tabular', {
    inputs: { train: split.output('train') },
    params: { label: 'y', features: 'x', epochs: 2, backend: 'wasm' },
  });
  p.component('evaluate', 'evaluate', { inputs: { model: train.output('model'), test: split.output('test') } });
  run = await runPipeline(p.toSpec(), { cwd: dir, storeDir: join(dir, '.ghosteam'), gitCommit: null });
  assert.equal(run.status, 'Succeeded', run.message);
});
after(() => cleanup());

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, 'runs', 'artifact', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('ghosteam runs artifact', () => {
  test('a dataset: rows, columns with types, and the first rows as ingest read them', () => {
    const r = cli(run.id, 'ingest.dataset', '--head', '3');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^ingest\.dataset {2}dataset {2}sha256:[0-9a-f]{64} {2}[\d,]+ B$/m);
    assert.match(
      r.out,
      new RegExp(
        `^${ROWS} rows × 6 columns: id \\(string\\), x \\(numeric\\), plan \\(categorical\\), active \\(boolean\\), note \\(\\w+\\), y \\(numeric\\)$`,
        'm',
      ),
    );
    const lines = r.out.split('\n');
    const header = lines.findIndex((l) => /^id\s+x\s+plan\s+active\s+note\s+y$/.test(l));
    assert.ok(header > 0, r.out);
    for (let i = 0; i < 3; i++) {
      const cells = lines[header + 1 + i].trim().split(/\s{2,}/);
      assert.deepEqual(cells.slice(0, 4), [rows[i].id, String(Number(rows[i].x)), rows[i].plan, rows[i].active]);
    }
    assert.match(r.out, new RegExp(`^… ${ROWS - 3} more rows`, 'm'));
    const j = JSON.parse(cli(run.id, 'split.train', '--json', '--head', '2').out) as {
      rows: number;
      columns: { name: string }[];
      head: unknown[];
      kind: string;
    };
    assert.equal(j.kind, 'dataset');
    assert.equal(j.rows, run.nodes.split.outputParams.trainRows);
    assert.ok(j.rows > 0 && j.rows < ROWS);
    assert.equal(j.head.length, 2);
  });

  test('--out writes the whole dataset as CSV, JSON Lines and Parquet, the same values as the input', async () => {
    const csv = join(dir, 'out.csv');
    const r = cli(run.id, 'ingest.dataset', '--out', csv);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^wrote .*out\\.csv \\(${ROWS} rows × 6 columns\\)`));
    const text = readFileSync(csv, 'utf8').trimEnd().split('\n');
    assert.equal(text[0], 'id,x,plan,active,note,y');
    assert.equal(text.length, ROWS + 1);
    assert.equal(text[1 + 9], `c9,${Number(rows[9].x)},${rows[9].plan},false,"a, ""b""",${rows[9].y}`);
    assert.equal(text[1 + 3].split(',')[1], '', 'a missing number is an empty cell');

    const jsonl = join(dir, 'out.jsonl');
    assert.equal(cli(run.id, 'ingest.dataset', '--out', jsonl).code, 0);
    const recs = readFileSync(jsonl, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(recs[3], { id: 'c3', x: null, plan: 'basic', active: false, note: 'n', y: rows[3].y });

    const pq = join(dir, 'out.parquet');
    assert.equal(cli(run.id, 'ingest.dataset', '--out', pq).code, 0);
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const got = (
      await con.runAndReadAll(`SELECT id, x, plan, active, note, y FROM read_parquet('${pq}') ORDER BY CAST(substr(id, 2) AS INT)`)
    ).getRowObjectsJson();
    con.closeSync();
    assert.equal(got.length, ROWS);
    for (const [i, g] of got.entries()) {
      assert.deepEqual(
        { ...g, x: g.x === null ? null : Number(g.x) },
        {
          id: rows[i].id,
          x: rows[i].x === '' ? null : Number(rows[i].x),
          plan: rows[i].plan,
          active: rows[i].active === 'true',
          note: rows[i].note,
          y: rows[i].y,
        },
      );
    }
  });

  test('metrics print as JSON; a model is copied byte for byte', () => {
    const m = cli(run.id, 'evaluate.metrics');
    assert.equal(m.code, 0, m.err);
    const body = JSON.parse(m.out.slice(m.out.indexOf('\n') + 1)) as Record<string, unknown>;
    assert.equal(typeof body, 'object');
    assert.ok(Object.keys(body).length > 0);
    const out = join(dir, 'model.onnx');
    const c = cli(run.id, 'train.model', '--out', out);
    assert.equal(c.code, 0, c.err);
    const stored = new ArtifactStore(join(dir, '.ghosteam')).pathOf(run.nodes.train.outputs.model.digest);
    assert.deepEqual(readFileSync(out), readFileSync(stored));
  });

  test("a step's failure names its input, not the input's path in the store, and a missing column is terminal", async () => {
    const p = new Pipeline(new Chart(new App(), 'art'), 'art-bad');
    const ingest = p.component('ingest', 'ingest', { params: { path: join(dir, 'data.csv') } });
    p.component('split', 'split', { inputs: { dataset: ingest.output('dataset') }, params: { stratify: 'nope', seed: 1 } });
    const bad = await runPipeline(p.toSpec(), { cwd: dir, storeDir: join(dir, '.ghosteam'), gitCommit: null });
    assert.equal(bad.status, 'Failed');
    assert.match(bad.nodes.split.message ?? '', /input 'dataset' \(ingest\.dataset\) has no column 'nope'; its columns are: id, x, plan, active, note, y/);
    assert.doesNotMatch(bad.nodes.split.message ?? '', /store\/sha256/);
    assert.equal(bad.nodes.split.terminal, true);
    assert.equal(bad.nodes.split.attempts.length, 1);
  });

  test('errors: an unknown artifact lists the run’s, an existing --out is kept, a dataset needs a table extension', () => {
    const none = cli(run.id, 'train.nope');
    assert.equal(none.code, 1);
    assert.match(
      none.err,
      /has no artifact 'train\.nope'; its artifacts are ingest\.dataset \(dataset\), split\.train \(dataset\), split\.test \(dataset\), train\.model \(model\)/,
    );
    const keep = join(dir, 'keep.csv');
    writeFileSync(keep, 'mine');
    const ex = cli(run.id, 'ingest.dataset', '--out', keep);
    assert.equal(ex.code, 1);
    assert.match(ex.err, /keep\.csv already exists; pass --overwrite/);
    assert.equal(readFileSync(keep, 'utf8'), 'mine');
    assert.equal(cli(run.id, 'ingest.dataset', '--out', keep, '--overwrite').code, 0);
    assert.notEqual(readFileSync(keep, 'utf8'), 'mine');
    const bad = cli(run.id, 'ingest.dataset', '--out', join(dir, 'x.txt'));
    assert.equal(bad.code, 1);
    assert.match(bad.err, /a dataset is written as \.csv, \.tsv, \.jsonl, \.parquet or \.arrow/);
    assert.ok(!existsSync(join(dir, 'x.txt')));
    assert.match(cli('nope', 'a.b').err, /run 'nope' not found/);
  });
});
