import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Bool, Dictionary, Float32, Int8, Int64, LargeUtf8, makeData, makeVector, Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import {
  cellAt,
  datasetDigest,
  datasetFromColumns,
  datasetSchema,
  decodeDataset,
  encodeDataset,
  readDataset,
  takeRows,
  writeDataset,
  type Dataset,
} from '../../components/dataset/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-ds-'));

function sample(): Dataset {
  return datasetFromColumns({
    amount: { type: 'numeric', cells: [1.5, null, -3, 1e300] },
    country: { type: 'categorical', cells: ['FR', 'US', null, 'FR'] },
    fraud: { type: 'boolean', cells: [true, false, null, true] },
    note: { type: 'string', cells: ['a "quoted" ü', null, '', 'x\ny'] },
  });
}

function assertSameCells(a: Dataset, b: Dataset): void {
  assert.equal(a.rows, b.rows);
  assert.deepEqual(datasetSchema(a), datasetSchema(b));
  for (let c = 0; c < a.columns.length; c++)
    for (let r = 0; r < a.rows; r++) assert.deepEqual(cellAt(a.columns[c], r), cellAt(b.columns[c], r), `column ${a.columns[c].name} row ${r}`);
}

const buf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

describe('dataset artifacts (Apache Arrow IPC / Feather v2)', () => {
  test('round-trips every column type and missing values', async () => {
    const ds = sample();
    const p = join(dir, 'a.arrow');
    const digest = await writeDataset(p, ds);
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await datasetDigest(p), digest);
    const back = await readDataset(p);
    assertSameCells(back, ds);
    assert.deepEqual((back.columns[1] as unknown as { categories: string[] }).categories, ['FR', 'US']);
  });

  test('is an Arrow IPC file that apache-arrow itself reads with the declared types', () => {
    const bytes = buf(encodeDataset(sample()));
    assert.equal(bytes.subarray(0, 6).toString(), 'ARROW1');
    assert.equal(bytes.subarray(bytes.length - 6).toString(), 'ARROW1');
  });

  test('equal data gives equal bytes (content-addressable), different data different bytes', () => {
    const a = buf(encodeDataset(sample()));
    // A dictionary built in between must not shift ids (apache-arrow numbers them process-wide).
    new Dictionary(new Utf8(), new Int8());
    const b = buf(encodeDataset(sample()));
    assert.ok(a.equals(b));
    // Different NaN payloads in a missing value give the same bytes.
    const s = sample();
    const f = new Float64Array(new BigInt64Array([0x7ff8000000000001n]).buffer)[0];
    (s.columns[0] as { values: Float64Array }).values[1] = f;
    assert.ok(a.equals(buf(encodeDataset(s))));
    assert.ok(!a.equals(buf(encodeDataset(takeRows(sample(), [1, 0, 2, 3])))));
  });

  test('reads what other Arrow writers produce: int64, int8, float32, large strings, several batches, int8 dictionaries', () => {
    const t1 = new Table({
      n: makeVector(BigInt64Array.from([1n, -2n])),
      small: makeVector(Int8Array.from([3, 4])),
      f: makeVector(Float32Array.from([0.5, 1.5])),
      s: vectorFromArray(['a', null], new LargeUtf8()),
      b: vectorFromArray([true, null], new Bool()),
      c: makeVector(
        makeData({
          type: new Dictionary(new Utf8(), new Int8(), 7),
          length: 2,
          nullCount: 0,
          data: Int8Array.from([1, 0]),
          dictionary: vectorFromArray(['lo', 'hi'], new Utf8()),
        }),
      ),
    });
    const t = t1.concat(t1);
    const ds = decodeDataset(tableToIPC(t, 'stream'), 'x.arrow');
    assert.equal(ds.rows, 4);
    assert.deepEqual(datasetSchema(ds), [
      { name: 'n', type: 'numeric' },
      { name: 'small', type: 'numeric' },
      { name: 'f', type: 'numeric' },
      { name: 's', type: 'string' },
      { name: 'b', type: 'boolean' },
      { name: 'c', type: 'categorical', categories: ['lo', 'hi'] },
    ]);
    assert.deepEqual(
      [0, 1, 2, 3].map((r) => ds.columns.map((c) => cellAt(c, r))),
      [
        [1, 3, 0.5, 'a', true, 'hi'],
        [-2, 4, 1.5, null, null, 'lo'],
        [1, 3, 0.5, 'a', true, 'hi'],
        [-2, 4, 1.5, null, null, 'lo'],
      ],
    );
    void Float32;
    void Int64;
  });

  test('a GTDS file, a file that is not Arrow, a truncated one and a type we do not hold are named in the error', async () => {
    const p = join(dir, 'bad.arrow');
    writeFileSync(p, 'amount,country\n1,FR\n');
    await assert.rejects(readDataset(p), {
      message: `${p}: not an Apache Arrow IPC (Feather v2) file; produce it with the ingest component, writeDataset(), or pandas' df.to_feather(path)`,
    });
    const old = join(dir, 'old.gtds');
    writeFileSync(old, Buffer.from('GTDS\x00\x01\x00\x00\x02\x00\x00\x00{}'));
    await assert.rejects(readDataset(old), (e: Error) =>
      e.message.startsWith(`${old}: is a GTDS dataset, the format ghosteam used before Apache Arrow; re-run the step that wrote it`),
    );
    const good = encodeDataset(sample());
    assert.throws(
      () => decodeDataset(good.subarray(0, good.length - 40), 'cut.arrow'),
      (e: Error) => e.message.startsWith('cut.arrow: the Arrow file is corrupt or truncated ('),
    );
    await assert.rejects(readDataset(join(dir, 'missing.arrow')), { message: `cannot read dataset ${join(dir, 'missing.arrow')}: ENOENT` });
    const lists = tableToIPC(new Table({ l: vectorFromArray([[1], [2]]) }), 'file');
    assert.throws(
      () => decodeDataset(lists, 'l.arrow'),
      (e: Error) => e.message.startsWith("l.arrow: column 'l' has Arrow type List<"),
    );
  });

  test('rejects inconsistent datasets', () => {
    assert.throws(() => encodeDataset({ rows: 3, columns: [{ name: 'a', type: 'numeric', values: new Float64Array(2) }] }), {
      message: "column 'a' has 2 values but the dataset has 3 rows",
    });
    assert.throws(
      () =>
        encodeDataset({
          rows: 1,
          columns: [
            { name: 'a', type: 'numeric', values: new Float64Array(1) },
            { name: 'a', type: 'string', values: ['x'] },
          ],
        }),
      { message: "dataset has two columns named 'a'; column names must be unique" },
    );
  });

  test('an empty dataset and one with no rows round-trip', () => {
    assert.deepEqual(decodeDataset(encodeDataset({ rows: 0, columns: [] })), { rows: 0, columns: [] });
    // (apache-arrow writes an empty dictionary for a batch of no rows, so categories need a row.)
    const none = takeRows(
      datasetFromColumns({ a: { type: 'numeric', cells: [1] }, b: { type: 'string', cells: ['x'] }, c: { type: 'boolean', cells: [true] } }),
      [],
    );
    assertSameCells(decodeDataset(encodeDataset(none)), none);
  });
});
