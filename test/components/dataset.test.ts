import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cellAt, datasetDigest, datasetFromColumns, decodeDataset, encodeDataset, readDataset, takeRows, writeDataset, type Dataset } from '../../components/dataset/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-ds-'));

function sample(): Dataset {
  return datasetFromColumns({
    amount: { type: 'numeric', cells: [1.5, null, -3, 1e300] },
    country: { type: 'categorical', cells: ['FR', 'US', null, 'FR'] },
    fraud: { type: 'boolean', cells: [true, false, null, true] },
    note: { type: 'string', cells: ['a "quoted" ü', null, '', 'x\ny'] },
  });
}

describe('GTDS dataset format', () => {
  test('round-trips every column type and missing values', async () => {
    const ds = sample();
    const p = join(dir, 'a.gtds');
    const digest = await writeDataset(p, ds);
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await datasetDigest(p), digest);
    const back = await readDataset(p);
    assert.equal(back.rows, 4);
    for (let c = 0; c < ds.columns.length; c++) {
      assert.equal(back.columns[c].name, ds.columns[c].name);
      assert.equal(back.columns[c].type, ds.columns[c].type);
      for (let r = 0; r < 4; r++) assert.deepEqual(cellAt(back.columns[c], r), cellAt(ds.columns[c], r));
    }
    assert.deepEqual((back.columns[1] as unknown as { categories: string[] }).categories, ['FR', 'US']);
  });

  test('equal data gives equal bytes (content-addressable), different data different bytes', () => {
    const a = encodeDataset(sample());
    const b = encodeDataset(sample());
    assert.ok(a.equals(b));
    const c = encodeDataset(takeRows(sample(), [1, 0, 2, 3]));
    assert.ok(!a.equals(c));
  });

  test('column blocks are 8-byte aligned', () => {
    const buf = encodeDataset(sample());
    const hlen = buf.readUInt32LE(8);
    const header = JSON.parse(buf.subarray(12, 12 + hlen).toString()) as { columns: { offset: number }[] };
    for (const c of header.columns) assert.equal(c.offset % 8, 0);
  });

  test('a file that is not GTDS, or is truncated, is named in the error', async () => {
    const p = join(dir, 'bad.gtds');
    writeFileSync(p, 'amount,country\n1,FR\n');
    await assert.rejects(readDataset(p), { message: `${p}: not a ghosteam dataset (GTDS v1) file; produce it with the ingest component or writeDataset()` });
    const good = encodeDataset(sample());
    assert.throws(() => decodeDataset(good.subarray(0, good.length - 40), 'cut.gtds'), { message: "cut.gtds: column 'note' runs past the end of the file (truncated?)" });
    await assert.rejects(readDataset(join(dir, 'missing.gtds')), { message: `cannot read dataset ${join(dir, 'missing.gtds')}: ENOENT` });
  });

  test('rejects inconsistent datasets', () => {
    assert.throws(
      () => encodeDataset({ rows: 3, columns: [{ name: 'a', type: 'numeric', values: new Float64Array(2) }] }),
      { message: "column 'a' has 2 values but the dataset has 3 rows" },
    );
    assert.throws(
      () => encodeDataset({ rows: 1, columns: [{ name: 'a', type: 'numeric', values: new Float64Array(1) }, { name: 'a', type: 'string', values: ['x'] }] }),
      { message: "dataset has two columns named 'a'; column names must be unique" },
    );
  });

  test('100k rows × 20 numeric columns write and read quickly', async () => {
    const cols: Record<string, { type: 'numeric'; cells: number[] }> = {};
    for (let j = 0; j < 20; j++) cols[`f${j}`] = { type: 'numeric', cells: Array.from({ length: 100_000 }, (_, i) => i * j) };
    const ds = datasetFromColumns(cols);
    const p = join(dir, 'big.gtds');
    const t0 = performance.now();
    await writeDataset(p, ds);
    const back = await readDataset(p);
    const ms = performance.now() - t0;
    assert.equal(back.rows, 100_000);
    assert.equal(cellAt(back.columns[7], 99_999), 99_999 * 7);
    assert.equal(readFileSync(p).length > 100_000 * 20 * 8, true);
    // Generous bound for a shared machine; typical is well under 100 ms.
    assert.ok(ms < 2000, `took ${ms} ms`);
  });
});
