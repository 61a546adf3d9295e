// Streaming ingest, validate and split: chunked results equal the whole-file ones (types inferred
// over the whole file even when a late chunk changes them), the dataset file is cut into fixed
// record batches whatever the chunking, and bad input (a ragged CSV row, a byte that is not UTF-8,
// a truncated Parquet file) is an error naming the file and the line or byte, with no output left.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { DatasetWriter, datasetDigest, encodeDataset, readDataset, readDatasetChunks, writeDataset, type Dataset } from '../../components/dataset/index.ts';
import { ingest, ingestFile, ingestToFile } from '../../components/ingest/index.ts';
import { typeTable, parseCsv } from '../../components/ingest/parse.ts';
import { runComponent } from '../../components/run.ts';
import { splitFile, splitIndices } from '../../components/split/index.ts';
import { evaluateSuite, SuiteEvaluator, checkSuite } from '../../components/validate/expectations.ts';
import { profileDataset, Profiler, HyperLogLog } from '../../components/validate/profile.ts';
import { sliceDataset, takeRows } from '../../components/dataset/index.ts';
import { BufferPool, batchBuffers } from '../../components/dataset/pool.ts';
import { WRITE_SYSCALL_BYTES, writeGroups } from '../../components/dataset/stream.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-stream-'));
const quiet = { log: () => undefined };

/** A CSV whose 'code' column looks numeric for the first 3000 rows, then gets 'n/a' (so a late chunk changes the type), and a categorical column. */
function csvText(rows: number, lateText = true): string {
  const lines = ['id,amount,code,country,flag,note'];
  for (let i = 0; i < rows; i++) {
    const code = lateText && i === rows - 5 ? 'x-late' : String(i % 97);
    lines.push(`${i},${(i * 1.5) % 1000},${code},${['FR', 'US', 'DE'][i % 3]},${i % 2 === 0},"note ${i}, with comma"`);
  }
  return lines.join('\n') + '\n';
}

describe('streaming ingest', () => {
  test('small chunks give the same dataset (and bytes) as whole-file typing, also when a late row changes an inferred type', async () => {
    for (const late of [false, true]) {
      const p = join(dir, `s${late}.csv`);
      const text = csvText(4000, late);
      writeFileSync(p, text);
      const whole = typeTable(parseCsv(text, p));
      const chunked = await ingestFile(p, { chunkBytes: 4096 });
      assert.deepEqual(
        chunked.columns.map((c) => c.type),
        whole.columns.map((c) => c.type),
      );
      assert.equal(whole.columns[2].type, late ? 'categorical' : 'numeric');
      assert.deepEqual(encodeDataset(chunked), encodeDataset(whole));
      const out = join(dir, `s${late}.arrow`);
      const r = await ingestToFile(p, out, { chunkBytes: 4096 });
      assert.equal(r.passes, late ? 2 : 1, 'a late type change costs a second pass, no more');
      assert.deepEqual(readFileSync(out), Buffer.from(encodeDataset(whole)));
    }
  });

  test('a dataset over one batch is cut into fixed batches: the same bytes whether written whole or in odd chunks, and read back batch by batch', async () => {
    const p = join(dir, 'b.csv');
    writeFileSync(p, csvText(2500, false));
    const ds = await ingestFile(p);
    const whole = join(dir, 'whole.arrow');
    const w1 = new DatasetWriter(whole, 1000);
    w1.write(ds);
    const d1 = await w1.close();
    const odd = join(dir, 'odd.arrow');
    const w2 = new DatasetWriter(odd, 1000);
    for (let s = 0; s < ds.rows; s += 333) w2.write(sliceDataset(ds, s, Math.min(ds.rows, s + 333)));
    assert.equal(await w2.close(), d1);
    assert.equal(await datasetDigest(odd), d1);
    const sizes: number[] = [];
    for await (const c of readDatasetChunks(whole)) sizes.push(c.rows);
    assert.deepEqual(sizes, [1000, 1000, 500]);
    assert.deepEqual(encodeDataset(await readDataset(whole)), encodeDataset(ds));
  });

  test("a dataset far over the writer's write queue: the same bytes whether chunks are copied or given away, and an abort mid-write leaves no file and no open descriptor", async () => {
    const rows = 150_000;
    const columns = Array.from({ length: 32 }, (_, k) => {
      const values = new Float64Array(rows);
      for (let i = 0; i < rows; i++) values[i] = (i * (k + 1)) % 7 === 3 ? NaN : i * 0.25 + k;
      return { name: `f${k}`, type: 'numeric' as const, values };
    });
    const codes = Int32Array.from({ length: rows }, (_, i) => (i % 11 === 0 ? -1 : i % 3));
    const ds: Dataset = { rows, columns: [...columns, { name: 'c', type: 'categorical', categories: ['a', 'b', 'c'], codes }] };
    const copied = join(dir, 'big-copied.arrow');
    const w1 = new DatasetWriter(copied);
    for (let s = 0; s < rows; s += 40_000) w1.write(sliceDataset(ds, s, Math.min(rows, s + 40_000)));
    const d1 = await w1.close();
    assert.ok(readFileSync(copied).length > 32 << 20, 'over the 32 MiB the writer queues before it writes synchronously');
    assert.ok(Number.isNaN(columns[0].values[3]) && codes[0] === -1, 'chunks that were not given away are left as they were');
    const given = join(dir, 'big-given.arrow');
    const w2 = new DatasetWriter(given);
    for (let s = 0; s < rows; s += 30_001) {
      const part = sliceDataset(ds, s, Math.min(rows, s + 30_001));
      // A copy the writer may rewrite in place.
      w2.write(
        {
          rows: part.rows,
          columns: part.columns.map((c) =>
            c.type === 'numeric' ? { ...c, values: c.values.slice() } : c.type === 'categorical' ? { ...c, codes: c.codes.slice() } : c,
          ),
        },
        true,
      );
    }
    assert.equal(await w2.close(), d1);
    assert.equal(await datasetDigest(given), d1);
    assert.deepEqual(encodeDataset(await readDataset(given)), encodeDataset(await readDataset(copied)));
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const aborted = join(dir, 'big-aborted.arrow');
    const w3 = new DatasetWriter(aborted);
    w3.write(ds);
    w3.abort();
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!existsSync(aborted), 'no output');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('big-aborted')),
      [],
      'no temporary file',
    );
    assert.equal(fds(), before, 'its descriptor is closed once the write in flight ends');
    await assert.rejects(w3.close(), /closed twice|aborted/);
  });

  test('write groups: in order, none over its byte or buffer limit, each full but the last, views of the input, not copies', () => {
    let seed = 7;
    const rnd = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    for (let round = 0; round < 400; round++) {
      const maxBytes = 1 + rnd(64);
      const maxIov = 1 + rnd(6);
      const bufs = Array.from({ length: rnd(12) }, () => Uint8Array.from({ length: rnd(3) === 0 ? 0 : 1 + rnd(200) }, () => rnd(256)));
      const groups = writeGroups(bufs, maxBytes, maxIov);
      const flat = (xs: Uint8Array[]) => Buffer.concat(xs.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength)));
      assert.deepEqual(flat(groups.flat()), flat(bufs), `round ${round}: the groups hold the input's bytes in order`);
      groups.forEach((g, k) => {
        const bytes = g.reduce((a, b) => a + b.byteLength, 0);
        assert.ok(bytes <= maxBytes && g.length <= maxIov && g.length > 0, `round ${round}, group ${k}: ${bytes} bytes in ${g.length} buffers`);
        assert.ok(
          g.every((b) => b.byteLength > 0),
          `round ${round}, group ${k}: no empty piece`,
        );
        if (k < groups.length - 1) assert.ok(bytes === maxBytes || g.length === maxIov, `round ${round}, group ${k} is not full`);
      });
      // Pieces are the input's own memory (whole buffers or views of them), never copies.
      const inputs = new Set<ArrayBufferLike>(bufs.map((b) => b.buffer));
      assert.ok(
        groups.flat().every((x) => inputs.has(x.buffer)),
        `round ${round}: a piece that is not a view of an input buffer`,
      );
    }
    // The default cap: a 3 MiB buffer goes out in 512 KiB writes.
    const big = new Uint8Array(3 << 20);
    assert.deepEqual(
      writeGroups([big]).map((g) => g.reduce((a, b) => a + b.byteLength, 0)),
      new Array(6).fill(WRITE_SYSCALL_BYTES),
    );
  });

  test("batch buffers: the pool takes back only what it lent, once; the writer returns whole pooled buffers once written, never a view or a caller's array", async () => {
    const pool = new BufferPool(3 * 4096);
    const a = pool.take(4096);
    pool.give(new ArrayBuffer(4096));
    assert.notEqual(pool.take(4096), a, 'a buffer the pool did not lend is not taken back');
    pool.give(a);
    pool.give(a);
    assert.equal(pool.take(4096), a, 'a returned buffer is lent again');
    assert.notEqual(pool.take(4096), a, 'returned twice, lent once');
    assert.equal(pool.reused, 1);
    const big = [pool.take(8192), pool.take(8192)];
    for (const b of big) pool.give(b);
    assert.equal(pool.take(8192), big[0], 'what fits under the cap is kept');
    assert.notEqual(pool.take(8192), big[1], 'beyond maxFreeBytes a returned buffer is dropped');

    // The writer: 3 batches of 20,000 rows (80 KB of codes, over the size the sink copies).
    const rows = 20_000;
    const mk = (i: number) => {
      const pooled = batchBuffers.float64(rows);
      const own = new Float64Array(rows);
      const codes = batchBuffers.int32(rows);
      for (let r = 0; r < rows; r++) {
        pooled[r] = r % 13 === 0 ? NaN : r * 0.5 + i;
        own[r] = r + i;
        codes[r] = r % 7 === 0 ? -1 : r % 3;
      }
      return { pooled, own, codes };
    };
    const parts = [0, 1, 2].map(mk);
    const dataset = (p: (typeof parts)[number], n = rows): Dataset => ({
      rows: n,
      columns: [
        { name: 'p', type: 'numeric', values: n === rows ? p.pooled : p.pooled.subarray(0, n) },
        { name: 'o', type: 'numeric', values: p.own },
        { name: 'c', type: 'categorical', categories: ['a', 'b', 'c'], codes: p.codes },
      ],
    });
    // The same data, copied: the reference bytes.
    const copy = (d: Dataset): Dataset => ({
      rows: d.rows,
      columns: d.columns.map((c) =>
        c.type === 'numeric' ? { ...c, values: c.values.slice() } : c.type === 'categorical' ? { ...c, codes: c.codes.slice() } : c,
      ),
    });
    const ref = join(dir, 'pool-ref.arrow');
    const w0 = new DatasetWriter(ref, rows);
    w0.write(copy(dataset(parts[0])));
    w0.write(copy(dataset(parts[1])));
    w0.write(copy(dataset(parts[2], rows - 1)));
    const d0 = await w0.close();
    const out = join(dir, 'pool.arrow');
    const w = new DatasetWriter(out, rows);
    for (const [i, p] of parts.entries()) w.write(dataset(p, i === 2 ? rows - 1 : rows), true);
    assert.equal(await w.close(), d0, 'the same bytes as writing copies');
    const back = new Set<ArrayBufferLike>();
    for (let k = 0; k < 16; k++) back.add(batchBuffers.take(rows * 8)).add(batchBuffers.take(rows * 4));
    for (const p of parts.slice(0, 2)) {
      assert.ok(back.has(p.pooled.buffer), 'a whole pooled column buffer comes back once written');
      assert.ok(back.has(p.codes.buffer), 'pooled codes written in place come back too');
    }
    assert.ok(!back.has(parts[2].pooled.buffer), 'a view on part of a buffer (the last, shorter batch) does not');
    for (const p of parts) assert.ok(!back.has(p.own.buffer), "a caller's own array never does");
  });

  test('validation and the profile over chunks equal the one-chunk results; split streams the same rows as splitIndices', async () => {
    const p = join(dir, 'v.csv');
    writeFileSync(p, csvText(3000, false));
    const ds = await ingestFile(p);
    const suite = checkSuite({
      expectations: [
        { type: 'expect_column_values_to_be_unique', kwargs: { column: 'code' } },
        { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['country', 'flag'] } },
        { type: 'expect_column_values_to_be_between', kwargs: { column: 'amount', min_value: 10 } },
        { type: 'expect_column_stdev_to_be_between', kwargs: { column: 'amount', min_value: 0 } },
        { type: 'expect_column_quantile_values_to_be_between', kwargs: { column: 'id', quantile_ranges: { quantiles: [0.5], value_ranges: [[0, 3000]] } } },
        { type: 'expect_column_unique_value_count_to_be_between', kwargs: { column: 'country', min_value: 3, max_value: 3 } },
      ],
    });
    const one = evaluateSuite(ds, suite);
    const ev = new SuiteEvaluator(ds, suite);
    const prof = new Profiler(ds);
    for (let s = 0; s < ds.rows; s += 257) {
      const c = sliceDataset(ds, s, Math.min(ds.rows, s + 257));
      ev.update(c);
      prof.update(c);
    }
    assert.deepEqual(ev.finish(), one);
    assert.equal(one.results[0].result.unexpected_count, 3000, 'every row of a repeated value, the first too');
    assert.deepEqual(
      one.results[0].result.partial_unexpected_index_list,
      Array.from({ length: 20 }, (_, i) => i),
    );
    // Equal except the histogram's bins, which start from the first chunk's range (a dataset file's
    // batches are fixed, so one file gives one profile); its counts are exact either way.
    const noBins = (x: ReturnType<typeof profileDataset>) => x.columns.map((c) => ({ ...c, histogram: c.histogram?.reduce((a, b) => a + b.count, 0) }));
    assert.deepEqual(noBins(prof.finish()), noBins(profileDataset(ds)));
    const input = join(dir, 'v.arrow');
    await writeDataset(input, ds);
    const tr = join(dir, 'train.arrow');
    const te = join(dir, 'test.arrow');
    await splitFile(input, tr, te, { testFraction: 0.25, seed: 7, stratify: 'country' });
    const { train, test: tst } = splitIndices(ds, { testFraction: 0.25, seed: 7, stratify: 'country' });
    assert.deepEqual(readFileSync(tr), Buffer.from(encodeDataset(takeRows(ds, train))));
    assert.deepEqual(readFileSync(te), Buffer.from(encodeDataset(takeRows(ds, tst))));
  });

  test('the profile: exact below its limits, HyperLogLog within its bound above them', () => {
    const n = 50_000;
    const ds: Dataset = { rows: n, columns: [{ name: 'x', type: 'numeric', values: Float64Array.from({ length: n }, (_, i) => (i % 2 ? i : NaN)) }] };
    const p = profileDataset(ds).columns[0];
    assert.equal(p.missing, n / 2);
    assert.equal(p.distinctExact, false);
    assert.ok(Math.abs(p.distinct - n / 2) / (n / 2) < 0.025, `distinct ${p.distinct} within 2.5% of ${n / 2}`);
    assert.equal(p.min, 1);
    assert.equal(p.max, n - 1);
    assert.equal(
      p.histogram!.reduce((a, b) => a + b.count, 0),
      n / 2,
      'histogram counts are exact',
    );
    const median = p.quantiles!.find((q) => q.q === 0.5)!.value;
    assert.ok(Math.abs(median - n / 2) / n < 0.017, `sampled median ${median} within 1.7% of rank`);
    const h = new HyperLogLog();
    for (let i = 0; i < 1000; i++) h.add(`k${i}`);
    assert.ok(Math.abs(h.estimate() - 1000) < 25);
  });
});

test("the profile's reservoir past its 8,192 values: the same sample however the column is chunked, every quantile within its rank bound", () => {
  const n = 200_000;
  // 0..n-1 in order: a value's rank is its place in the stream, so a sample that favours early or
  // late places shows in its quantiles.
  const values = Float64Array.from({ length: n }, (_, i) => i);
  const ds: Dataset = { rows: n, columns: [{ name: 'x', type: 'numeric', values }] };
  const whole = profileDataset(ds).columns[0];
  const chunked = new Profiler(ds);
  for (let s = 0; s < n; s += 999) chunked.update(sliceDataset(ds, s, Math.min(n, s + 999)));
  assert.deepEqual(chunked.finish().columns[0].quantiles, whole.quantiles);
  assert.equal(whole.quantilesExact, false);
  for (const { q, value } of whole.quantiles!) assert.ok(Math.abs(value / n - q) < 0.017, `quantile ${q}: ${value} is rank ${(value / n).toFixed(4)}`);
  // Another seed's profiler (another column) draws another sample.
  const two: Dataset = { rows: n, columns: [ds.columns[0], { ...ds.columns[0], name: 'y' }] };
  const [a, b] = profileDataset(two).columns;
  assert.notDeepEqual(a.quantiles, b.quantiles);
});

describe('bad input names the file and the place, and leaves no output', () => {
  const noLeftovers = (d: string) => assert.deepEqual(readdirSync(d), [], 'no dataset or temp file left');

  test('a ragged CSV row, past the first chunk: the line', async () => {
    const p = join(dir, 'ragged.csv');
    const text = csvText(3000, false).split('\n');
    text[2500] = '2499,1.5,3';
    writeFileSync(p, text.join('\n'));
    const outDir = mkdtempSync(join(dir, 'o-'));
    await assert.rejects(ingestToFile(p, join(outDir, 'ds'), { chunkBytes: 4096 }), {
      message: `${p}:2501: expected 6 fields (as in the header) but found 3`,
    });
    noLeftovers(outDir);
  });

  test('a byte that is not UTF-8: its offset and line', async () => {
    const p = join(dir, 'latin1.csv');
    const head = Buffer.from(csvText(2000, false));
    const bad = Buffer.concat([head, Buffer.from('2000,1,2,FR,true,caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
    writeFileSync(p, bad);
    const outDir = mkdtempSync(join(dir, 'o-'));
    await assert.rejects(ingestToFile(p, join(outDir, 'ds'), { chunkBytes: 4096 }), (e: Error) => {
      assert.equal(e.message, `${p}: byte ${head.length + 20} (line 2002): 0xe9 is not valid UTF-8; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)`);
      return true;
    });
    noLeftovers(outDir);
  });

  test('a truncated Parquet file: its length and the missing footer; the component fails without writing its dataset', async () => {
    const buf = parquetWriteBuffer({ columnData: [{ name: 'x', data: [1, 2, 3], type: 'DOUBLE' }] });
    const p = join(dir, 'cut.parquet');
    writeFileSync(p, Buffer.from(buf).subarray(0, buf.byteLength - 10));
    const outDir = mkdtempSync(join(dir, 'o-'));
    const out = join(outDir, 'ds');
    await assert.rejects(runComponent(ingest, { params: { path: p }, inputs: {}, outputs: { dataset: out } }, quiet), {
      message: `${p}: not a readable Parquet file (truncated: its ${buf.byteLength - 10} bytes do not end with the footer magic 'PAR1' at byte ${buf.byteLength - 14}); copy or download it again`,
    });
    assert.equal(existsSync(out), false);
    noLeftovers(outDir);
  });

  test('a nested Parquet column is an error naming the row and the column, not a crash; nothing is written', async () => {
    // Written by DuckDB (a LIST column and a STRUCT column beside a scalar one). The JavaScript
    // engine's cell check runs inside hyparquet's chunk callback, from a promise hyparquet does not
    // return: an error thrown there was an uncaught exception that killed the process.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const p = join(dir, 'nested.parquet');
    await con.run(`COPY (SELECT i AS id, [i, i + 1] AS lst FROM range(3) t(i)) TO '${p}' (FORMAT parquet)`);
    const ps = join(dir, 'struct.parquet');
    await con.run(`COPY (SELECT i AS id, {'a': i} AS st FROM range(3) t(i)) TO '${ps}' (FORMAT parquet)`);
    con.closeSync();
    for (const engine of ['auto', 'js'] as const) {
      await assert.rejects(ingestFile(p, { engine }), {
        message: `${p} row 1 (column 'lst'): nested values are not supported; flatten it into scalar columns`,
      });
      await assert.rejects(ingestFile(ps, { engine }), /struct\.parquet row 1 \(column 'st'\): nested values are not supported/);
    }
    const outDir = mkdtempSync(join(dir, 'o-'));
    const out = join(outDir, 'ds');
    await assert.rejects(runComponent(ingest, { params: { path: p }, inputs: {}, outputs: { dataset: out } }, quiet), /nested values are not supported/);
    assert.equal(existsSync(out), false);
    noLeftovers(outDir);
  });
});
