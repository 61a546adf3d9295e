// Batch prediction (`ghosteam predict`) against real parts: scikit-learn, XGBoost and LightGBM
// models exported by their converters (the peers' Python, test/model-server/py/frameworks.py) are
// run over CSV files, and the written label and probability columns must match the frameworks' own
// predict / predict_proba; a ghosteam model over CSV, JSON Lines, Parquet and Arrow files written
// by pandas must match onnxruntime's Python package, and pandas/pyarrow must read every output
// (with the lineage in Parquet/Arrow metadata). Bad input, an existing output and a kill -9 in the
// middle of a run leave no half-written output.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { usePeers } from '../peers/index.ts';
import { predictFile, BatchPredictError, lineagePathFor, openReader, type PredictLineage } from '../../components/batch/index.ts';
import { chunkPartName, diffResumeState, resumeStateDir, type ResumeIdentity } from '../../components/batch/resume.ts';
import { LocalRegistry } from '../../components/registry/index.ts';
import { denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet } from '../../components/onnx/random.ts';
import { readPayloadLog } from '../../components/drift/payload-log.ts';
import { tempDir } from '../model-server/fixtures.ts';

const run = promisify(execFile);
const peers = await usePeers(['python']);
const BIN = join(import.meta.dirname, '../../bin/ghosteam.mjs');
const TABLES = join(import.meta.dirname, 'py/tables.py');

interface Case {
  name: string;
  path: string;
  rows: unknown[];
  inputs: 'columns' | null;
  expect: { label?: (number | string)[]; proba?: number[][]; classes?: (number | string)[]; value?: number[]; scores?: number[] };
}

async function py<T>(...args: string[]): Promise<T> {
  const { stdout } = await run(peers.python, [TABLES, ...args], { timeout: 120_000, maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as T;
}

interface Table {
  columns: string[];
  dtypes: Record<string, string>;
  rows: Record<string, unknown>[];
  metadata: Record<string, string>;
}

function csvOf(header: string[], rows: unknown[][]): string {
  const cell = (v: unknown) => (v === null ? '' : typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
  return [header.join(','), ...rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';
}

function close(got: readonly unknown[], want: readonly number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} values, want ${want.length}`);
  got.forEach((g, i) => assert.ok(Math.abs(Number(g) - want[i]) <= tol * Math.max(1, Math.abs(want[i])), `${what}[${i}]: ${String(g)} vs ${want[i]}`));
}

/** A ghosteam binary classifier over a, b, c, d with classes and feature names in its metadata. */
function writeDenseModel(dir: string): string {
  const path = join(dir, 'dense.onnx');
  writeFileSync(path, denseNetToOnnx({ ...randomDenseNet([4, 8, 1], 7), featureNames: ['a', 'b', 'c', 'd'], classes: ['ok', 'fraud'] }));
  return path;
}

function writeDenseCsv(path: string, n: number): void {
  let s = 'id,a,b,c,d,note\n';
  for (let i = 0; i < n; i++) s += `id-${i},${(i / 100).toFixed(2)},${((i % 7) / 3).toFixed(4)},${Math.sin(i).toFixed(5)},${i % 2},"x, ${i}"\n`;
  writeFileSync(path, s);
}

describe('ghosteam predict: framework exports over CSV match the frameworks', { skip: peers.skip }, () => {
  const dir = tempDir('ghosteam-batch-fw-');
  let cases: Case[] = [];
  before(
    async () => {
      await run(peers.python, [join(import.meta.dirname, '../model-server/py/frameworks.py'), 'train', dir], { timeout: 300_000, maxBuffer: 16 << 20 });
      cases = (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { cases: Case[] }).cases;
    },
    { timeout: 330_000 },
  );

  test('labels exact, probabilities / values / scores to 1e-4; ids kept in order; batches of 4 rows', async () => {
    for (const c of cases) {
      let features: string[] | undefined;
      let csv: string;
      if (c.inputs === 'columns') {
        const recs = c.rows as Record<string, unknown>[];
        const keys = Object.keys(recs[0]);
        csv = csvOf(
          ['row_id', ...keys],
          recs.map((r, i) => [`r${i}`, ...keys.map((k) => r[k])]),
        );
      } else {
        const rows = c.rows as (number | null)[][];
        features = rows[0].map((_, j) => `f${j}`);
        csv = csvOf(
          ['row_id', ...features],
          rows.map((r, i) => [`r${i}`, ...r]),
        );
      }
      const input = join(dir, `${c.name}.csv`);
      writeFileSync(input, csv);
      const output = join(dir, `${c.name}.out.csv`);
      const r = await predictFile({ model: c.path, input, output, features, batchRows: 4, threads: 1 });
      assert.equal(r.rows, c.rows.length, c.name);
      const t = await py<Table>('read', output);
      assert.deepEqual(
        t.rows.map((x) => x.row_id),
        c.rows.map((_, i) => `r${i}`),
        `${c.name}: ids`,
      );
      // The outputs follow the kept columns, in the model's output order: [label, probabilities] for classifiers.
      const outs = t.columns.filter((x) => x !== 'row_id');
      const col = (name: string) => t.rows.map((x) => x[name]);
      if (c.expect.label) assert.deepEqual(col(outs[0]).map(String), c.expect.label.map(String), `${c.name}: labels`);
      if (c.expect.proba) {
        const classes = c.expect.classes!;
        assert.equal(outs.length, 1 + classes.length, `${c.name}: ${outs.join(', ')}`);
        classes.forEach((cl, j) => {
          // ZipMap outputs are named by class label; zipmap=False outputs by column index.
          assert.ok(outs[1 + j].endsWith(`_${String(cl)}`) || outs[1 + j].endsWith(`_${j}`), `${c.name}: ${outs[1 + j]}`);
          close(
            col(outs[1 + j]),
            c.expect.proba!.map((p) => p[j]),
            1e-4,
            `${c.name} ${outs[1 + j]}`,
          );
        });
      }
      if (c.expect.value) close(col(outs[0]), c.expect.value, 1e-4, `${c.name} values`);
      if (c.expect.scores) close(col(outs[1]), c.expect.scores, 1e-4, `${c.name} scores`);
    }
  });

  test('a [N, k] model without recorded feature names asks for --features, naming the columns', async () => {
    const c = cases.find((x) => x.name === 'logreg')!;
    await assert.rejects(
      predictFile({ model: c.path, input: join(dir, 'logreg.csv'), output: join(dir, 'nofeat.csv') }),
      (e: Error) =>
        e instanceof BatchPredictError &&
        /model input 'X' \[-1, 4\] takes 4 columns but the model doesn't name them .*pass --features.*'row_id', 'f0'/.test(e.message),
    );
    assert.equal(existsSync(join(dir, 'nofeat.csv')), false);
  });
});

describe('ghosteam predict: every format, against onnxruntime Python and pandas', { skip: peers.skip }, () => {
  const dir = tempDir('ghosteam-batch-fmt-');
  const model = writeDenseModel(dir);
  const csv = join(dir, 'in.csv');
  writeDenseCsv(csv, 500);
  let oracle: { probability: { data: number[][] } };
  before(async () => {
    oracle = await py('oracle', model, csv, JSON.stringify(['a', 'b', 'c', 'd']));
    for (const f of ['parquet', 'arrow', 'jsonl']) await run(peers.python, [TABLES, 'convert', csv, join(dir, `in.${f}`)], { timeout: 120_000 });
  });

  for (const inFmt of ['csv', 'jsonl', 'parquet', 'arrow'])
    test(`${inFmt} in (written by pandas) → csv, jsonl, parquet, arrow out: ids kept, probability and label as onnxruntime Python`, async () => {
      const want = oracle.probability.data.map((r) => r[0]);
      for (const outFmt of ['csv', 'jsonl', 'parquet', 'arrow']) {
        const output = join(dir, `from-${inFmt}.${outFmt}`);
        const r = await predictFile({ model, input: join(dir, `in.${inFmt}`), output, batchRows: 64, threads: 1 });
        assert.equal(r.rows, 500);
        const t = await py<Table>('read', output);
        assert.deepEqual(t.columns, ['id', 'note', 'probability', 'label'], `${inFmt}→${outFmt}`);
        assert.deepEqual(
          t.rows.map((x) => x.id),
          Array.from({ length: 500 }, (_, i) => `id-${i}`),
        );
        assert.equal(t.rows[7].note, 'x, 7');
        close(
          t.rows.map((x) => x.probability),
          want,
          1e-6,
          `${inFmt}→${outFmt} probability`,
        );
        assert.deepEqual(
          t.rows.map((x) => x.label),
          want.map((p) => (p >= 0.5 ? 'fraud' : 'ok')),
        );
        const lineage = JSON.parse(readFileSync(lineagePathFor(output), 'utf8')) as PredictLineage;
        assert.equal(lineage.input.rows, 500);
        assert.match(lineage.input.digest, /^sha256:[0-9a-f]{64}$/);
        assert.equal(lineage.output.digest, r.lineage.output.digest);
        if (outFmt === 'parquet') assert.equal(JSON.parse(t.metadata['ghosteam.lineage']).input.digest, lineage.input.digest);
        if (outFmt === 'arrow') assert.equal(JSON.parse(t.metadata['ghosteam.model']).digest, lineage.model.digest);
        if (outFmt === 'parquet' || outFmt === 'arrow') assert.equal(t.dtypes.probability, 'float');
      }
    });
});

describe('ghosteam predict: registry references, payload log, bad input, atomic output', () => {
  const dir = tempDir('ghosteam-batch-');
  const model = writeDenseModel(dir);
  const csv = join(dir, 'in.csv');
  writeDenseCsv(csv, 300);

  test('fraud@champion resolves through the local registry; the lineage names the version and its digest', async () => {
    const reg = new LocalRegistry({ dir: join(dir, 'registry') });
    await reg.registerVersion('fraud', { artifactPath: model });
    const v2 = await reg.registerVersion('fraud', { artifactPath: model, tags: { n: '2' } });
    await reg.setAlias('fraud', 'champion', v2.version);
    const output = join(dir, 'reg.csv');
    const r = await predictFile({ model: 'fraud@champion', registry: reg, input: csv, output, threads: 1 });
    assert.equal(r.lineage.model.name, 'fraud');
    assert.equal(r.lineage.model.version, String(v2.version));
    assert.equal(r.lineage.model.digest, v2.digest);
  });

  test('--payload-log writes batches the drift reader reads back (one record per batch, every row)', async () => {
    const log = join(dir, 'payloads.jsonl');
    await predictFile({ model, input: csv, output: join(dir, 'logged.csv'), payloadLog: log, batchRows: 100, threads: 1 });
    let rows = 0;
    let records = 0;
    for await (const b of readPayloadLog(log, { features: ['a', 'b', 'c', 'd'], model: 'dense' })) {
      rows += b.rows;
      records++;
      assert.equal(b.width, 4);
    }
    assert.deepEqual({ rows, records }, { rows: 300, records: 3 });
  });

  test('a missing feature column is named with the columns the file has', async () => {
    writeFileSync(join(dir, 'missing.csv'), 'id,a,b,c\n1,1,2,3\n');
    await assert.rejects(
      predictFile({ model, input: join(dir, 'missing.csv'), output: join(dir, 'o1.csv') }),
      /missing\.csv has no column 'd' \(feature 4 of 4 of model input 'input'\); its columns are 'id', 'a', 'b', 'c'/,
    );
  });

  test('a wrong type names the file, line and column; nothing is written, not even a temp file', async () => {
    const lines = ['id,a,b,c,d', ...Array.from({ length: 250 }, (_, i) => `${i},1,2,3,4`)];
    lines[201] = '200,1,2,three,4';
    writeFileSync(join(dir, 'bad.csv'), lines.join('\n') + '\n');
    const output = join(dir, 'sub', 'o2.parquet');
    mkdirSync(join(dir, 'sub'));
    await assert.rejects(
      predictFile({ model, input: join(dir, 'bad.csv'), output, batchRows: 50 }),
      /bad\.csv:202, column 'c': "three" is not a number \(model input 'input' is FP32\)/,
    );
    assert.deepEqual(readdirSync(join(dir, 'sub')), []);
  });

  test('an existing output is refused unless --overwrite, which replaces it whole', async () => {
    const output = join(dir, 'exists.csv');
    writeFileSync(output, 'old\n');
    await assert.rejects(predictFile({ model, input: csv, output }), /exists\.csv already exists; pass --overwrite to replace it/);
    assert.equal(readFileSync(output, 'utf8'), 'old\n');
    await predictFile({ model, input: csv, output, overwrite: true, threads: 1 });
    assert.equal(readFileSync(output, 'utf8').split('\n')[0], 'id,note,probability,label');
  });

  test('CLI: --help, and kill -9 in the middle of a run leaves no output (only its temp file, never the output name)', { timeout: 120_000 }, async () => {
    const help = await run(process.execPath, [BIN, 'predict', '--help']);
    assert.match(help.stdout, /^Usage: ghosteam predict \[options\]/);
    const big = join(dir, 'big.csv');
    writeDenseCsv(big, 400_000);
    const output = join(dir, 'killed.parquet');
    const child = spawn(process.execPath, [BIN, 'predict', '-m', model, '-i', big, '-o', output, '--batch-size', '20000', '--threads', '1'], { stdio: 'pipe' });
    // Wait until the run is writing (its temp file exists), then kill -9.
    for (let i = 0; i < 600 && !readdirSync(dir).some((f) => f.startsWith('.killed.parquet.')); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(
      readdirSync(dir).some((f) => f.startsWith('.killed.parquet.')),
      'the run started writing',
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(existsSync(output), false);
    assert.equal(existsSync(lineagePathFor(output)), false);
    // SIGTERM: stops after the batch in flight and removes its temp file.
    const term = spawn(process.execPath, [BIN, 'predict', '-m', model, '-i', big, '-o', output, '--batch-size', '20000', '--threads', '1'], { stdio: 'pipe' });
    let err = '';
    term.stderr.on('data', (d: Buffer) => (err += d.toString()));
    for (let i = 0; i < 600 && readdirSync(dir).filter((f) => f.startsWith('.killed.parquet.')).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    term.kill('SIGTERM');
    const code = await new Promise((r) => term.once('exit', r));
    assert.equal(code, 1, err);
    assert.match(err, /stopped; nothing was written/);
    assert.equal(existsSync(output), false);
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('.killed.parquet.')).length, 1, 'only the kill -9 run left its temp file');
    assert.ok(statSync(big).size > 0);
  });
});

describe('ghosteam predict --resume: a stopped or killed run continues by chunk, output identical to an uninterrupted run', () => {
  const dir = tempDir('ghosteam-batch-resume-');
  const model = writeDenseModel(dir);

  async function readAll(path: string, format: 'parquet' | 'arrow'): Promise<Record<string, unknown[]>> {
    const r = await openReader(path, format, { batchRows: 1 << 16 });
    const cols: Record<string, unknown[]> = Object.fromEntries(r.columns.map((c) => [c, []]));
    for await (const c of r.chunks()) for (const name of r.columns) cols[name].push(...Array.from(c.columns.get(name)!));
    await r.close();
    return cols;
  }

  for (const format of ['parquet', 'arrow'] as const)
    test(`${format}: stopped after 3 chunks, resumed: the finished chunks are reused, the rest computed, the rows equal an uninterrupted run's`, async () => {
      const csv = join(dir, `in-${format}.csv`);
      writeDenseCsv(csv, 10_000);
      const whole = join(dir, `whole.${format}`);
      await predictFile({ model, input: csv, output: whole, batchRows: 500, threads: 1 });
      const output = join(dir, `resumed.${format}`);
      const ac = new AbortController();
      await assert.rejects(
        predictFile({
          model,
          input: csv,
          output,
          batchRows: 500,
          threads: 1,
          resume: true,
          chunkRows: 1500,
          signal: ac.signal,
          onProgress: (p) => p.rows >= 5000 && ac.abort(),
        }),
        /stopped; the output was not written; finished chunks are kept in .*: run again with --resume to continue/,
      );
      assert.equal(existsSync(output), false);
      const state = resumeStateDir(output);
      assert.deepEqual(
        readdirSync(state).sort(),
        [0, 1, 2].map((i) => chunkPartName(i, format)).concat('state.json'),
        'three finished chunks of 1,500 rows; the fourth (rows 4,501–5,000 done) was not kept',
      );
      const said: string[] = [];
      let computedFrom = -1;
      const r = await predictFile({
        model,
        input: csv,
        output,
        batchRows: 500,
        threads: 1,
        resume: true,
        chunkRows: 1500,
        onResume: (m) => said.push(m),
        onProgress: (p) => void (computedFrom < 0 && p.rows > 4500 && (computedFrom = p.rows)),
      });
      assert.equal(r.rows, 10_000);
      assert.match(said.join('\n'), /^resuming: 3 finished chunks of 1,500 rows in .*\.resumed\.\w+\.predict reused$/);
      assert.equal(existsSync(state), false, 'the state folder is removed once the output is written');
      assert.deepEqual(await readAll(output, format), await readAll(whole, format));
    });

  test(
    'CSV through the CLI: kill -9 midway, run again with --resume: byte-identical output; another model is refused, naming the difference',
    { timeout: 300_000 },
    async () => {
      const csv = join(dir, 'big.csv');
      writeDenseCsv(csv, 300_000); // 30 chunks: a fast machine is still midway when the second lands
      const whole = join(dir, 'whole.csv');
      await run(process.execPath, [BIN, 'predict', '-m', model, '-i', csv, '-o', whole, '--batch-size', '2000', '--threads', '1']);
      const output = join(dir, 'resumed.csv');
      const state = resumeStateDir(output);
      const args = [BIN, 'predict', '-m', model, '-i', csv, '-o', output, '--batch-size', '2000', '--threads', '1', '--resume', '--chunk-rows', '10000'];
      const child = spawn(process.execPath, args, { stdio: 'pipe' });
      for (let i = 0; i < 1200 && !(existsSync(state) && readdirSync(state).includes(chunkPartName(1, 'csv'))); i++)
        await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      assert.equal(existsSync(output), false);
      const parts = readdirSync(state).filter((f) => f.startsWith('part-'));
      assert.ok(parts.length >= 2 && parts.length < 30, `finished chunks when killed: ${parts.join(', ')}`);
      // Another model: refused, the parts kept.
      const other = join(dir, 'other.onnx');
      writeFileSync(other, denseNetToOnnx({ ...randomDenseNet([4, 8, 1], 8), featureNames: ['a', 'b', 'c', 'd'], classes: ['ok', 'fraud'] }));
      const refused = await run(process.execPath, [...args.slice(0, 2), '-m', other, ...args.slice(4)]).then(
        () => '',
        (e: { stderr: string }) => e.stderr,
      );
      assert.match(
        refused,
        /can't resume from .*\.resumed\.csv\.predict: what its finished chunks were computed from differs: the model \(sha256:\w+ then, sha256:\w+ now\); remove .* to start over/,
      );
      const { stderr } = await run(process.execPath, args);
      assert.match(stderr, new RegExp(`resuming: ${parts.length} finished chunks of 10,000 rows`));
      assert.equal(readFileSync(output, 'utf8'), readFileSync(whole, 'utf8'));
      assert.equal(existsSync(state), false);
    },
  );

  test('diffResumeState names the first difference', () => {
    const base: ResumeIdentity = {
      modelDigest: 'sha256:a',
      input: { path: '/in.csv', size: 10, mtimeMs: 0 },
      format: 'csv',
      batchRows: 10,
      chunkRows: 100,
      features: null,
      keep: null,
      delimiter: null,
    };
    const cases: [Partial<ResumeIdentity>, string | undefined][] = [
      [{}, undefined],
      [{ modelDigest: 'sha256:b' }, 'the model (sha256:a then, sha256:b now)'],
      [
        { input: { path: '/in.csv', size: 11, mtimeMs: 0 } },
        "the input file's contents (10 bytes modified 1970-01-01T00:00:00.000Z then, 11 bytes modified 1970-01-01T00:00:00.000Z now)",
      ],
      [{ input: { path: '/other.csv', size: 10, mtimeMs: 0 } }, 'the input file (/in.csv then, /other.csv now)'],
      [{ batchRows: 20 }, 'batchRows (10 then, 20 now)'],
      [{ keep: ['id'] }, 'keep (null then, ["id"] now)'],
    ];
    for (const [change, want] of cases) assert.equal(diffResumeState(base, { ...base, ...change }), want, JSON.stringify(change));
  });
});
