// The DuckDB Parquet path of `ghosteam predict` (components/batch/duckdb-reader.ts) against the
// streaming hyparquet path on the same files: the same rows, ids, probabilities and labels, with
// missing feature values read as NaN by both; and the plans it must leave to the streaming path
// (a kept numeric column with missing values, a string feature column) still give the streaming
// path's answers and errors. DuckDB is the real library (a native binary in the npm package).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { predictFile, openReader, openWriter, type ColumnSpec } from '../../components/batch/index.ts';
import { readAhead } from '../../components/batch/predict.ts';
import { openFastParquet, parquetColumnTypes, type MatrixChunk } from '../../components/batch/duckdb-reader.ts';
import { loadWorkerModel } from '../../components/batch/worker-model.ts';
import { denseNetToOnnx } from '../../components/onnx/index.ts';
import { randomDenseNet } from '../../components/onnx/random.ts';
import { tempDir } from '../model-server/fixtures.ts';

const dir = tempDir('ghosteam-batch-duckdb-');
const model = join(dir, 'dense.onnx');
writeFileSync(model, denseNetToOnnx({ ...randomDenseNet([4, 8, 1], 7), featureNames: ['a', 'b', 'c', 'd'], classes: ['ok', 'fraud'] }));

/** A Parquet file by ghosteam's own writer, in row groups of `group` rows. */
async function writeParquet(path: string, specs: ColumnSpec[], n: number, value: (col: string, i: number) => unknown, group = 1000): Promise<void> {
  const w = await openWriter(path, 'parquet', specs);
  for (let s = 0; s < n; s += group) {
    const m = Math.min(group, n - s);
    await w.write({
      rows: m,
      values: specs.map((c) => {
        const v = Array.from({ length: m }, (_, i) => value(c.name, s + i));
        return c.kind === 'int64' && v.every((x) => typeof x === 'bigint') ? BigInt64Array.from(v) : v;
      }),
    });
  }
  await w.finish({});
  await rename(w.tempPath, path);
}

async function readAll(path: string): Promise<Record<string, unknown[]>> {
  const r = await openReader(path, 'parquet', { batchRows: 1 << 16 });
  const cols: Record<string, unknown[]> = Object.fromEntries(r.columns.map((c) => [c, []]));
  for await (const c of r.chunks()) for (const name of r.columns) cols[name].push(...Array.from(c.columns.get(name)!));
  await r.close();
  return cols;
}

/** Both paths over `input`; returns their outputs (which must be equal) and which reader each used. */
async function both(input: string, tag: string, batchRows = 300) {
  const fast = await predictFile({ model, input, output: join(dir, `${tag}-fast.parquet`), batchRows, threads: 2 });
  const slow = await predictFile({ model, input, output: join(dir, `${tag}-slow.parquet`), batchRows, threads: 2, fastParquet: false });
  const a = await readAll(join(dir, `${tag}-fast.parquet`));
  const b = await readAll(join(dir, `${tag}-slow.parquet`));
  return { fast, slow, a, b };
}

const feature = (col: string, i: number): number => ({ a: i / 100, b: (i % 7) / 3, c: Math.sin(i), d: i % 2 })[col]!;

describe('ghosteam predict on Parquet: the DuckDB path equals the streaming path', () => {
  test('int64 ids, a string column, float64 features with missing values (NaN on both paths), batches across row groups', async () => {
    const input = join(dir, 'ids.parquet');
    const n = 2_345;
    await writeParquet(
      input,
      [
        { name: 'id', kind: 'int64' },
        { name: 'a', kind: 'float64' },
        { name: 'b', kind: 'float64' },
        { name: 'note', kind: 'string' },
        { name: 'c', kind: 'float64' },
        { name: 'd', kind: 'int32' },
      ],
      n,
      (col, i) => (col === 'id' ? BigInt(1e12 + i) : col === 'note' ? (i % 5 ? `n${i}` : null) : col === 'c' && i % 11 === 3 ? null : feature(col, i)),
      1000,
    );
    const { fast, slow, a, b } = await both(input, 'ids');
    assert.equal(fast.reader, 'duckdb');
    assert.equal(slow.reader, 'streaming');
    assert.equal(fast.rows, n);
    assert.deepEqual(Object.keys(a), ['id', 'note', 'probability', 'label']);
    assert.deepEqual(a.id, b.id);
    assert.equal(a.id[1234], BigInt(1e12 + 1234));
    assert.deepEqual(a.note, b.note);
    assert.equal(a.note[5], null);
    assert.deepEqual(a.label, b.label);
    assert.deepEqual(a.probability, b.probability, 'bit-identical probabilities: the same float32 inputs');
    assert.ok(new Set(a.label).size === 2, 'both classes occur (the comparison is not vacuous)');
    assert.deepEqual(fast.lineage.output.columns, slow.lineage.output.columns);
    assert.equal(fast.lineage.input.digest, slow.lineage.input.digest);
  });

  test('a kept numeric column with a missing value: left to the streaming path (typed arrays hold no nulls), same output', async () => {
    const input = join(dir, 'null-id.parquet');
    await writeParquet(
      input,
      ['seq', 'a', 'b', 'c', 'd'].map((name) => ({ name, kind: 'float64' as const })),
      500,
      (col, i) => (col === 'seq' ? (i === 77 ? null : i) : feature(col, i)),
    );
    const { fast, a, b } = await both(input, 'null-id');
    assert.equal(fast.reader, 'streaming');
    assert.deepEqual(a, b);
    assert.equal(a.seq[77], null);
  });

  test('a string feature column: left to the streaming path, whose error names the row and the column', async () => {
    const input = join(dir, 'text-feature.parquet');
    await writeParquet(
      input,
      [
        { name: 'a', kind: 'float64' },
        { name: 'b', kind: 'string' },
        { name: 'c', kind: 'float64' },
        { name: 'd', kind: 'float64' },
      ],
      50,
      (col, i) => (col === 'b' ? (i === 42 ? 'oops' : String(i)) : feature(col, i)),
    );
    await assert.rejects(
      predictFile({ model, input, output: join(dir, 'text-feature-out.parquet') }),
      /text-feature\.parquet row 43, column 'b': "oops" is not a number/,
    );
  });
});

test('readAhead yields every item in order, asks for the next one before the consumer is done, and closes the source when the consumer stops', async () => {
  const asked: number[] = [];
  let closed = false;
  async function* src() {
    try {
      for (let i = 0; i < 5; i++) {
        asked.push(i);
        yield i;
      }
    } finally {
      closed = true;
    }
  }
  const got: number[] = [];
  for await (const x of readAhead(src())) {
    got.push(x);
    await new Promise((r) => setImmediate(r));
    if (x < 4) assert.ok(asked.includes(x + 1), `item ${x + 1} is requested while item ${x} is being used`);
    if (x === 3) break;
  }
  assert.deepEqual(got, [0, 1, 2, 3]);
  assert.equal(closed, true);
});

describe('batch buffers: the model worker gives each batch matrix back and the reader fills later batches into it', () => {
  test('the same ArrayBuffers cycle through the worker (real worker thread, real transfer), the values stay right', async () => {
    const input = join(dir, 'recycle.parquet');
    const n = 1_000;
    await writeParquet(
      input,
      [{ name: 'id', kind: 'int64' }, ...['a', 'b', 'c', 'd'].map((name) => ({ name, kind: 'float64' as const }))],
      n,
      (col, i) => (col === 'id' ? BigInt(i) : feature(col, i)),
      250,
    );
    const types = (await parquetColumnTypes(input))!;
    const batch = 100;
    const reader = await openFastParquet(input, types, { features: ['a', 'b', 'c', 'd'], keep: ['id'] }, batch, 1);
    const m = await loadWorkerModel(model, 1);
    try {
      const seen: ArrayBuffer[] = [];
      let reused = 0;
      let rows = 0;
      for await (const chunk of reader.chunks()) {
        const matrix = (chunk as MatrixChunk).matrix!;
        for (let r = 0; r < chunk.rows; r++)
          for (const [j, col] of ['a', 'b', 'c', 'd'].entries()) assert.equal(matrix[r * 4 + j], Math.fround(feature(col, rows + r)), `row ${rows + r} ${col}`);
        assert.deepEqual(
          Array.from(chunk.columns.get('id') as BigInt64Array),
          Array.from({ length: chunk.rows }, (_, r) => BigInt(rows + r)),
        );
        if (seen.includes(matrix.buffer as ArrayBuffer)) reused++;
        const back: ArrayBuffer[] = [];
        const out = await m.run([{ name: 'input', datatype: 'FP32', shape: [chunk.rows, 4], typed: matrix }], {
          transfer: true,
          recycle: (b) => {
            back.push(b);
            reader.recycle!(b);
          },
        });
        assert.equal(out[Object.keys(out)[0]].dims[0], chunk.rows);
        assert.equal(matrix.byteLength, 0, 'moved to the worker, not copied');
        assert.equal(back.length, 1, 'and moved back with the answer');
        seen.push(back[0]);
        reader.recycle!((chunk.columns.get('id') as BigInt64Array).buffer);
        rows += chunk.rows;
      }
      assert.equal(rows, n);
      assert.equal(reused, n / batch - 1, 'every batch after the first is filled into a buffer that came back from the worker');
    } finally {
      await m.release();
      await reader.close();
    }
  });
});
