import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cellAt, datasetFromColumns, getColumn, readDataset, writeDataset } from '../../components/dataset/index.ts';
import { runComponent } from '../../components/run.ts';
import { split, splitIndices } from '../../components/split/index.ts';
import { checkSchema, validate, validateDataset } from '../../components/validate/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghosteam-vs-'));
const quiet = { log: () => undefined };

const ds = datasetFromColumns({
  id: { type: 'numeric', cells: [1, 2, 2, 4, 5, 6] },
  amount: { type: 'numeric', cells: [10, -1, 50, null, 2000, 7] },
  country: { type: 'categorical', cells: ['FR', 'US', 'XX', 'FR', null, 'US'] },
});

describe('validate', () => {
  const schema = checkSchema({
    columns: {
      id: { unique: true },
      amount: { nullable: false, min: 0, max: 1000 },
      country: { allowed: ['FR', 'US'] },
    },
    rows: { min: 1 },
  });

  test('reports each violation with counts and 1-based row numbers', () => {
    const r = validateDataset(ds, schema);
    assert.deepEqual(
      r.violations.map((v) => [v.column, v.check, v.count, v.rows]),
      [
        ['id', 'unique', 1, [3]],
        ['amount', 'not-null', 1, [4]],
        ['amount', 'min', 1, [2]],
        ['amount', 'max', 1, [5]],
        ['country', 'allowed', 1, [3]],
      ],
    );
    assert.equal(r.failingRows, 4);
    assert.equal(r.failureRate, 4 / 6);
    assert.equal(r.passed, false);
    assert.equal(r.violations[2].message, "1 rows of 'amount' are below the minimum 0");
  });

  test('passes under the threshold; dataset-level problems always fail', () => {
    assert.equal(validateDataset(ds, schema, 0.7).passed, true);
    assert.equal(validateDataset(ds, schema, 0.6).passed, false);
    const r = validateDataset(ds, { rows: { min: 10 }, columns: { nope: {}, id: { type: 'string' } } }, 1);
    assert.equal(r.passed, false);
    assert.deepEqual(
      r.violations.map((v) => v.message),
      ['dataset has 6 rows; expected 10..∞', "column 'nope' is missing", "column 'id' is numeric; expected string"],
    );
  });

  test('schema typos and misplaced ranges are errors', () => {
    assert.throws(() => checkSchema({ columns: { a: { nullabel: false } } }), {
      message: "validate: schema.columns.a has unknown rule 'nullabel'; use type, nullable, min, max, allowed, unique",
    });
    assert.throws(() => checkSchema({ colums: {} }), { message: "validate: schema has unknown key 'colums'; use 'columns' and 'rows'" });
    assert.throws(() => validateDataset(ds, { columns: { country: { min: 1 } } }), {
      message: 'validate: schema.columns.country sets min/max, but the column is categorical; ranges apply to numeric columns',
    });
  });

  test('the component writes the report, sets output params, and fails past the threshold', async () => {
    const input = join(dir, 'v.arrow');
    await writeDataset(input, ds);
    const report = join(dir, 'report.json');
    const dataReport = join(dir, 'report.html');
    await assert.rejects(
      runComponent(validate, { params: { schema: JSON.stringify(schema) }, inputs: { dataset: input }, outputs: { report, dataReport } }, quiet),
      (e: Error) => e.message.startsWith('validate: FAILED: 4 of 6 rows violate the schema (66.67%, allowed 0.00%)'),
    );
    assert.equal(JSON.parse(readFileSync(report, 'utf8')).failingRows, 4);
    // The HTML data report of the failed run: the verdict, the failing rows, the profile; nothing fetched from outside.
    const html = readFileSync(dataReport, 'utf8');
    assert.match(html, /class="verdict fail">FAILED/);
    assert.match(html, /Sample failing rows/);
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//);
    assert.equal(JSON.parse(readFileSync(report, 'utf8')).profile.rows, 6);
    const out = await runComponent(
      validate,
      {
        params: { schema: JSON.stringify(schema), maxFailureRate: '0.7' },
        inputs: { dataset: input },
        outputs: { report, dataReport },
        outputParamsDir: join(dir, 'params'),
      },
      quiet,
    );
    assert.deepEqual(out, { passed: true, violations: 5, failureRate: 4 / 6, expectationsFailed: 0 });
    assert.equal(readFileSync(join(dir, 'params', 'passed'), 'utf8'), 'true');
  });
});

describe('split', () => {
  const n = 1000;
  const big = datasetFromColumns({
    x: { type: 'numeric', cells: Array.from({ length: n }, (_, i) => i) },
    y: { type: 'boolean', cells: Array.from({ length: n }, (_, i) => i % 10 === 0) },
  });

  test('partitions the rows, keeps class shares when stratified, and is seeded', () => {
    const a = splitIndices(big, { testFraction: 0.2, seed: 7, stratify: 'y' });
    assert.equal(a.train.length + a.test.length, n);
    assert.equal(new Set([...a.train, ...a.test]).size, n);
    const pos = (idx: number[]) => idx.filter((i) => i % 10 === 0).length;
    assert.equal(pos(a.test), 20);
    assert.equal(pos(a.train), 80);
    assert.deepEqual(splitIndices(big, { testFraction: 0.2, seed: 7, stratify: 'y' }), a);
    assert.notDeepEqual(splitIndices(big, { testFraction: 0.2, seed: 8, stratify: 'y' }).test, a.test);
    assert.throws(() => splitIndices(big, { testFraction: 1, seed: 1 }), { message: 'split: testFraction must be between 0 and 1 (exclusive), got 1' });
    assert.throws(() => splitIndices(big, { testFraction: 0.2, seed: 1, stratify: 'z' }), { message: "dataset has no column 'z'; its columns are: x, y" });
  });

  test('the component writes both sets', async () => {
    const input = join(dir, 'big.arrow');
    await writeDataset(input, big);
    const out = await runComponent(
      split,
      { params: { testFraction: 0.25, seed: 1, stratify: 'y' }, inputs: { dataset: input }, outputs: { train: join(dir, 'tr'), test: join(dir, 'te') } },
      quiet,
    );
    assert.deepEqual(out, { trainRows: 750, testRows: 250 });
    const te = await readDataset(join(dir, 'te'));
    const y = getColumn(te, 'y');
    let p = 0;
    for (let i = 0; i < te.rows; i++) if (cellAt(y, i) === true) p++;
    assert.equal(p, 25);
  });
});
