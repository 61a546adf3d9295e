import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parquetWriteFile } from 'hyparquet-writer';
import { cellAt, readDataset, type Dataset } from '../../components/dataset/index.ts';
import { ingest, ingestFile } from '../../components/ingest/index.ts';
import { inferType, parseCsv } from '../../components/ingest/parse.ts';
import { unusedSourceParams } from '../../components/ingest/sources.ts';
import { runComponent } from '../../components/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-ingest-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const cells = (ds: Dataset, name: string) => {
  const c = ds.columns.find((x) => x.name === name)!;
  return Array.from({ length: ds.rows }, (_, i) => cellAt(c, i));
};
const types = (ds: Dataset) => Object.fromEntries(ds.columns.map((c) => [c.name, c.type]));

describe('CSV', () => {
  test('quotes, doubled quotes, embedded newlines, CRLF, BOM and missing values', async () => {
    const p = file('a.csv', '\ufeffid,amount,flag,note\r\n1,2.5,true,"say ""hi"", ok"\r\n2,,FALSE,"two\r\nlines"\r\n3,NA,,plain\r\n');
    const ds = await ingestFile(p);
    assert.deepEqual(types(ds), { id: 'numeric', amount: 'numeric', flag: 'boolean', note: 'string' });
    assert.deepEqual(cells(ds, 'amount'), [2.5, null, null]);
    assert.deepEqual(cells(ds, 'flag'), [true, false, null]);
    assert.deepEqual(cells(ds, 'note'), ['say "hi", ok', 'two\r\nlines', 'plain']);
  });

  test('infers categorical for repeated values, string for free text', () => {
    assert.equal(inferType(['US', 'FR', 'US', 'FR', 'US', null]), 'categorical');
    assert.equal(inferType(['a', 'b', 'c']), 'string');
    assert.equal(inferType(['1', '2e3', '-.5']), 'numeric');
    assert.equal(inferType(['true', 'False']), 'boolean');
    assert.equal(inferType([null, null]), 'string');
    assert.equal(inferType(['1', 'x', '1', 'x']), 'categorical');
  });

  test('declared types override inference; a bad value names file, line and column', async () => {
    const p = file('b.csv', 'zip,amount\n01234,1\n05678,2\n09999,3\n');
    const ds = await ingestFile(p, { types: { zip: 'categorical' } });
    assert.deepEqual(cells(ds, 'zip'), ['01234', '05678', '09999']);
    const bad = file('c.csv', 'id,amount\n1,3\n2,"multi\nline"\n3,abc\n');
    await assert.rejects(ingestFile(bad, { types: { amount: 'numeric' } }), {
      message: `${bad}:3:2: 'multi\nline' is not a number, but column 'amount' is declared numeric`,
    });
    // Line numbers count the physical lines of earlier multi-line records.
    const later = file('c2.csv', 'id,note,amount\n1,"a\nb\nc",3\n2,x,abc\n');
    await assert.rejects(ingestFile(later, { types: { amount: 'numeric' } }), {
      message: `${later}:5:3: 'abc' is not a number, but column 'amount' is declared numeric`,
    });
    await assert.rejects(ingestFile(file('d.csv', 'id,ok\n1,true\n2,maybe\n'), { types: { ok: 'boolean' } }), {
      message: `${join(dir, 'd.csv')}:3:2: 'maybe' is not a boolean (true/false/1/0), but column 'ok' is declared boolean`,
    });
    await assert.rejects(ingestFile(p, { types: { nope: 'numeric' } }), {
      message: `${p}: 'types' declares column 'nope', which the file doesn't have (it has zip, amount)`,
    });
  });

  test('structural errors: field count, unclosed quote, duplicate header, empty file', () => {
    assert.throws(() => parseCsv('a,b\n1,2\n3\n', 'x.csv'), { message: 'x.csv:3: expected 2 fields (as in the header) but found 1' });
    assert.throws(() => parseCsv('a,b\n1,"open\n', 'x.csv'), { message: `x.csv:2:2: a quoted field is never closed; add the closing '"'` });
    assert.throws(() => parseCsv('a,a\n1,2\n', 'x.csv'), { message: "x.csv:1:2: column name 'a' appears twice (also column 1); rename one" });
    assert.throws(() => parseCsv('', 'x.csv'), { message: 'x.csv: the file is empty; a CSV needs a header line' });
    assert.throws(() => parseCsv('a,b\n"x"y,2\n', 'x.csv'), {
      message: `x.csv:2:1: unexpected 'y' after a closing quote; double a quote inside a quoted field ("")`,
    });
  });

  test('tab-separated by extension', async () => {
    const ds = await ingestFile(file('t.tsv', 'a\tb\n1\tx\n2\ty\n'));
    assert.deepEqual(cells(ds, 'a'), [1, 2]);
  });
});

describe('JSON Lines and Parquet', () => {
  const rows = [
    { id: 1, amount: 10.5, country: 'FR', fraud: false },
    { id: 2, amount: null, country: 'US', fraud: true },
    { id: 3, amount: 7, country: 'FR', fraud: false },
    { id: 4, amount: 1.25, country: 'US', fraud: true },
  ];

  test('JSON Lines: keys become columns; bad lines name the line', async () => {
    const p = file('a.jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n\n');
    const ds = await ingestFile(p);
    assert.deepEqual(types(ds), { id: 'numeric', amount: 'numeric', country: 'categorical', fraud: 'boolean' });
    assert.deepEqual(cells(ds, 'amount'), [10.5, null, 7, 1.25]);
    const bad = file('b.jsonl', '{"a":1}\n{"a":2\n');
    await assert.rejects(ingestFile(bad), (e: Error) => e.message.startsWith(`${bad}:2: not valid JSON (`));
    await assert.rejects(ingestFile(file('c.jsonl', '{"a":{"b":1}}\n')), {
      message: `${join(dir, 'c.jsonl')}:1 (column 'a'): nested object values are not supported; flatten it into scalar columns`,
    });
    await assert.rejects(ingestFile(file('d.jsonl', '[1,2]\n')), {
      message: `${join(dir, 'd.jsonl')}:1: each line must be a JSON object ({"column": value, ...})`,
    });
  });

  test('Parquet gives the same dataset as JSON Lines', async () => {
    const p = join(dir, 'a.parquet');
    parquetWriteFile({
      filename: p,
      columnData: [
        { name: 'id', data: rows.map((r) => r.id), type: 'INT32' },
        { name: 'amount', data: rows.map((r) => r.amount), type: 'DOUBLE', nullable: true },
        { name: 'country', data: rows.map((r) => r.country), type: 'STRING' },
        { name: 'fraud', data: rows.map((r) => r.fraud), type: 'BOOLEAN' },
      ],
    });
    const fromParquet = await ingestFile(p);
    const fromJsonl = await ingestFile(file('same.jsonl', rows.map((r) => JSON.stringify(r)).join('\n')));
    assert.deepEqual(types(fromParquet), types(fromJsonl));
    for (const c of fromJsonl.columns) assert.deepEqual(cells(fromParquet, c.name), cells(fromJsonl, c.name));
    await assert.rejects(ingestFile(file('not.parquet', 'hello')), (e: Error) =>
      e.message.startsWith(`${join(dir, 'not.parquet')}: not a readable Parquet file (`),
    );
  });

  test('unknown extension asks for the format', async () => {
    await assert.rejects(ingestFile(file('x.dat', 'a\n1\n')), {
      message: `${join(dir, 'x.dat')}: can't tell the format from the extension '.dat'; name it .csv, .tsv, .jsonl or .parquet, or give the format (csv, jsonl or parquet)`,
    });
    const ds = await ingestFile(join(dir, 'x.dat'), { format: 'csv' });
    assert.equal(ds.rows, 1);
  });
});

test('the ingest component writes the dataset and sets rows, columns, digest', async () => {
  const src = file('comp.csv', 'a,b\n1,x\n2,x\n3,y\n');
  const out = join(dir, 'out', 'ds.arrow');
  const params = await runComponent(ingest, { params: { columns: 'b,a' }, inputs: { source: src }, outputs: { dataset: out } }, { log: () => undefined });
  const ds = await readDataset(out);
  assert.deepEqual(
    ds.columns.map((c) => c.name),
    ['b', 'a'],
  );
  assert.equal(params.rows, 3);
  assert.equal(params.columns, 2);
  assert.match(String(params.digest), /^sha256:[0-9a-f]{64}$/);
});

test('params for another kind of source are reported, not silently dropped', async () => {
  // Every param against every kind: reported exactly when the kind is not the one it applies to.
  const applies: Record<string, string> = { query: 'postgres', headers: 'https', group: 'kafka', from: 'kafka', offsets: 'kafka' };
  for (const kind of ['file', 's3', 'https', 'postgres', 'kafka'] as const)
    for (const [name, k] of Object.entries(applies)) {
      const lines = unusedSourceParams(kind, (p) => p === name);
      assert.equal(lines.length, k === kind ? 0 : 1, `${name} on ${kind}`);
      if (lines.length) assert.match(lines[0], new RegExp(`param '${name}' applies to ${k}:// sources only; ignored: this is (a file|an ${kind}:// source)`));
    }
  assert.deepEqual(
    unusedSourceParams('file', () => false),
    [],
  );
  // Through the component: the run succeeds and its log says what was ignored.
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-ingest-unused-'));
  const src = join(dir, 'a.csv');
  writeFileSync(src, 'a,b\n1,x\n2,y\n');
  const logs: string[] = [];
  const params = await runComponent(
    ingest,
    { params: { path: src, query: 'SELECT 1', headers: '{"Authorization":"env:TOKEN"}' }, inputs: {}, outputs: { dataset: join(dir, 'ds.arrow') } },
    { log: (l: string) => void logs.push(l) },
  );
  assert.equal(params.rows, 2);
  assert.ok(logs.includes("param 'query' applies to postgres:// sources only; ignored: this is a file"), logs.join('\n'));
  assert.ok(logs.includes("param 'headers' applies to https:// sources only; ignored: this is a file"), logs.join('\n'));
  assert.equal(logs.filter((l) => l.startsWith('param ')).length, 2);
});
