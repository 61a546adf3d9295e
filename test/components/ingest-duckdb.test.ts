// ingest's DuckDB engine (components/ingest/duckdb.ts) against the JavaScript engine, the reference:
// the dataset file's bytes (its content address) must not depend on which engine read the source,
// including where DuckDB alone would read the text differently ('1_000', 'inf', a late non-number,
// quoted newlines, null tokens, CRLF, a BOM, blank lines), and bad input still gets the reference's
// error naming the file and the line, byte or footer, with no output left.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ingestToFile, type IngestOptions } from '../../components/ingest/index.ts';
import { ingestDuckdb, NotForDuckdb } from '../../components/ingest/duckdb.ts';
import type { Dataset } from '../../components/dataset/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-duckdb-'));
let n = 0;

/** Ingests `file` with both engines; asserts equal digests and returns the auto engine's result. */
async function same(file: string, opts: IngestOptions = {}) {
  const js = await ingestToFile(file, join(dir, `js-${++n}.arrow`), { ...opts, engine: 'js' });
  const auto = await ingestToFile(file, join(dir, `auto-${n}.arrow`), { ...opts, engine: 'auto' });
  assert.equal(
    auto.digest,
    js.digest,
    `${file}: the same bytes from both engines (auto read it with ${auto.engine}${auto.fallback ? `: ${auto.fallback}` : ''})`,
  );
  assert.deepEqual(auto.schema, js.schema);
  assert.equal(auto.rows, js.rows);
  return auto;
}

function write(name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Rows past DuckDB's sniffing sample and past one record batch (65,536 rows). */
const MANY = 70_000;

describe('the DuckDB engine gives the bytes the JavaScript engine gives', () => {
  test('CSV: numbers in every form the rule takes, categories, booleans, quoted text with commas and newlines, null tokens, CRLF, a BOM, blank lines, trimmed header names', async () => {
    const nums = ['1', '-2.5', '+3', '.5', '5.', '1e3', '-1.5E-3', '9007199254740993', '-0', '0.1'];
    const lines = ['\ufeffid, amount ,country,flag,note,maybe'];
    for (let i = 0; i < 3000; i++) {
      const note = i % 7 === 0 ? `"line one\r\nline two, ""quoted"" ${i}"` : i % 11 === 0 ? ` padded ${i} ` : `n${i}`;
      const maybe = ['NA', '', 'null', 'N/A', 'NaN', 'nan', 'NULL'][i % 7];
      lines.push(`${i},${nums[i % nums.length]},${['FR', 'US', 'DE'][i % 3]},${['true', 'False', 'TRUE'][i % 3]},${note},${i % 2 ? maybe : String(i)}`);
      if (i % 500 === 0) lines.push('');
    }
    const r = await same(write('mixed.csv', lines.join('\r\n') + '\r\n'));
    assert.equal(r.engine, 'duckdb', 'DuckDB read it');
    assert.deepEqual(
      r.schema.map((c) => c.type),
      ['numeric', 'numeric', 'categorical', 'boolean', 'string', 'numeric'],
    );
  });

  test('CSV: a categorical column that gains a category after the first batch (two passes) and a numeric column read as DOUBLE across many batches', async () => {
    const lines = ['id,x,cat,y'];
    for (let i = 0; i < MANY; i++) lines.push(`${i},${(i * 0.37) % 101},${i < MANY - 10 ? ['a', 'b'][i % 2] : 'late'},${i % 13 === 0 ? '' : i % 3}`);
    const r = await same(write('late-cat.csv', lines.join('\n') + '\n'));
    assert.equal(r.engine, 'duckdb');
    assert.equal(r.passes, 2, 'a category after the first batch costs a second pass');
  });

  test("CSV: numbers DuckDB's cast takes and the rule does not ('1_000', '+-1', 'inf', 'NAN'), and a non-number after DuckDB's sample, fall back to the JavaScript engine", async () => {
    for (const odd of ['1_000', '+-1', 'inf', '-Infinity', 'NAN', 'n/a']) {
      const lines = ['a,b'];
      for (let i = 0; i < MANY; i++) lines.push(`${i === MANY - 3 ? odd : i},${i % 4}`);
      const r = await same(write(`odd-${n}.csv`, lines.join('\n') + '\n'));
      assert.equal(r.engine, 'js', `'${odd}' is not a number to ingest: read by the reference`);
      assert.match(r.fallback ?? '', /.+/, 'the reason DuckDB was not used is kept');
    }
    // A '_' elsewhere in the file (a text column) makes DuckDB cast the numbers in SQL with the check; still DuckDB, still the same bytes.
    const text = ['id,name,x'];
    for (let i = 0; i < 3000; i++) text.push(`${i},user_${i % 50},${(i * 1.25) % 17}`);
    const t = await same(write('underscore.csv', text.join('\n') + '\n'));
    assert.equal(t.engine, 'duckdb');
    // A huge exponent is Infinity to the rule too: DuckDB's engine gives up on any non-finite value, the bytes are the same.
    const lines = ['a,b', '1e400,1', '2,2', '-1e400,3'];
    const r = await same(write('huge.csv', lines.join('\n') + '\n'));
    assert.ok(r.schema[0].type === 'numeric');
  });

  test('CSV: declared types, a column subset, and a TSV', async () => {
    const lines = ['id,code,amount,country'];
    for (let i = 0; i < 2000; i++) lines.push(`${i},${i % 9},${i * 2},${['FR', 'US'][i % 2]}`);
    const p = write('declared.csv', lines.join('\n') + '\n');
    await same(p, { types: { code: 'categorical', amount: 'numeric', id: 'string' } });
    const sub = await same(p, { columns: ['country', 'amount'] });
    assert.deepEqual(
      sub.schema.map((c) => c.name),
      ['country', 'amount'],
    );
    const r = await same(write('t.tsv', lines.join('\n').replace(/,/g, '\t') + '\n'));
    assert.equal(r.engine, 'duckdb');
  });

  test('Parquet: int32, int64, doubles with NaN and nulls, strings with nulls, booleans with nulls; an unmapped type falls back', async () => {
    const rows = 5000;
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'i32', data: Array.from({ length: rows }, (_, i) => i - 100), type: 'INT32' },
        { name: 'i64', data: Array.from({ length: rows }, (_, i) => BigInt(i) * 3000000000n), type: 'INT64' },
        { name: 'f', data: Array.from({ length: rows }, (_, i) => (i % 10 === 0 ? null : i % 17 === 0 ? NaN : i / 7)), type: 'DOUBLE' },
        {
          name: 's',
          data: Array.from({ length: rows }, (_, i) => (i % 9 === 0 ? null : ['x', 'y', 'zé', 'a string longer than twelve bytes'][i % 4])),
          type: 'STRING',
        },
        { name: 'u', data: Array.from({ length: rows }, (_, i) => `unique-${i}`), type: 'STRING' },
        { name: 'b', data: Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : i % 2 === 0)), type: 'BOOLEAN' },
      ],
    });
    const r = await same(write('typed.parquet', Buffer.from(buf)));
    assert.equal(r.engine, 'duckdb');
    assert.deepEqual(
      r.schema.map((c) => c.type),
      ['numeric', 'numeric', 'numeric', 'categorical', 'string', 'boolean'],
    );
    const dated = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: [1, 2, 3], type: 'INT32' },
        { name: 'at', data: [new Date(0), new Date(86400000), null], type: 'TIMESTAMP' },
      ],
    });
    const d = await same(write('dated.parquet', Buffer.from(dated)));
    assert.equal(d.engine, 'js', 'a timestamp column is read by the reference');
  });
});

describe("batches that start inside DuckDB's 2,048-row chunks", () => {
  /** Every numeric column's values, batch after batch (copied: the batch buffers go back to a pool). */
  async function numbers(file: string, format: 'csv' | 'parquet', batchRows: number): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    await ingestDuckdb(
      file,
      format,
      { batchRows },
      {
        write(chunk: Dataset) {
          for (const c of chunk.columns) if (c.type === 'numeric') out.set(c.name, [...(out.get(c.name) ?? []), ...c.values]);
        },
        reset() {
          out.clear();
        },
      },
    );
    return out;
  }
  // Nulls and NaNs at every offset of a validity byte; batch sizes that cut chunks at odd rows.
  const rows = 9_000;
  const expected = Array.from({ length: rows }, (_, i) => (i % 37 === 3 || i % 53 === 0 || (i >= 4100 && i < 4133) ? null : i % 11 === 5 ? NaN : i * 0.25 - 7));

  test('Parquet: every value, missing value and NaN lands in its row, whatever the batch size', async () => {
    const file = write('cut.parquet', Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'x', data: expected, type: 'DOUBLE' }] })));
    for (const batchRows of [65_536, 1_000, 333, 2_048, 7]) {
      const got = (await numbers(file, 'parquet', batchRows)).get('x')!;
      assert.equal(got.length, rows, `batch ${batchRows}`);
      for (let i = 0; i < rows; i++) assert.ok(Object.is(got[i], expected[i] ?? NaN), `batch ${batchRows}, row ${i + 1}: ${got[i]}, expected ${expected[i]}`);
    }
  });

  test("CSV: the same, and an 'inf' after a batch boundary still hands the file to the reference", async () => {
    const text = (vals: (number | string | null)[]) =>
      ['x,y', ...vals.map((v, i) => `${v === null || (typeof v === 'number' && Number.isNaN(v)) ? '' : v},${i}`)].join('\n') + '\n';
    const file = write('cut.csv', text(expected));
    for (const batchRows of [65_536, 1_000, 333]) {
      const got = (await numbers(file, 'csv', batchRows)).get('x')!;
      for (let i = 0; i < rows; i++)
        assert.ok(Object.is(got[i], expected[i] === null || Number.isNaN(expected[i]) ? NaN : expected[i]), `batch ${batchRows}, row ${i + 1}`);
    }
    const odd = write('cut-inf.csv', text(expected.map((v, i) => (i === 5_000 ? 'inf' : v))));
    for (const batchRows of [65_536, 1_000, 333])
      await assert.rejects(numbers(odd, 'csv', batchRows), (e: Error) => e instanceof NotForDuckdb && /non-finite/.test(e.message));
  });
});

describe('bad input: the reference error, with the source and the place, and no output', () => {
  const noLeftovers = (d: string) => assert.deepEqual(readdirSync(d), [], 'no dataset or temp file left');
  async function sameError(file: string): Promise<string> {
    const messages: string[] = [];
    for (const engine of ['js', 'auto'] as const) {
      const outDir = mkdtempSync(join(dir, 'o-'));
      await assert.rejects(ingestToFile(file, join(outDir, 'ds'), { engine }), (e: Error) => {
        messages.push(e.message);
        return true;
      });
      noLeftovers(outDir);
    }
    assert.equal(messages[1], messages[0]);
    return messages[0];
  }

  test('a ragged row far into the file: the line', async () => {
    const lines = ['a,b,c'];
    for (let i = 0; i < MANY; i++) lines.push(i === MANY - 7 ? '1,2' : `${i},${i % 3},x${i % 4}`);
    const p = write('ragged.csv', lines.join('\n') + '\n');
    assert.equal(await sameError(p), `${p}:${MANY - 7 + 2}: expected 3 fields (as in the header) but found 2`);
  });

  test('a byte that is not UTF-8: its offset', async () => {
    const head = Buffer.from('a,b\n1,x\n2,caf');
    const p = write('latin1.csv', Buffer.concat([head, Buffer.from([0xe9]), Buffer.from('\n3,y\n')]));
    assert.match(await sameError(p), new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: byte ${head.length} \\(line 3\\): 0xe9 is not valid UTF-8`));
  });

  test('a truncated Parquet file: its length and the missing footer', async () => {
    const buf = Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'x', data: [1, 2, 3], type: 'DOUBLE' }] }));
    const p = write('cut.parquet', buf.subarray(0, buf.byteLength - 10));
    assert.match(await sameError(p), /truncated: its \d+ bytes do not end with the footer magic 'PAR1'/);
  });
});
