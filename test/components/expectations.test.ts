/**
 * Expectations (components/validate/expectations.ts), table-tested: each type's pass/fail, counts,
 * observed values and `mostly`; GE's semantics for missing cells, keep=False uniqueness and pair
 * rows; the ghosteam-only freshness, row-count change and row predicates; and suite errors that
 * name the place. The same semantics against the real Great Expectations: expectations-gx.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { datasetFromColumns } from '../../components/dataset/index.ts';
import { checkSuite, evaluateExpectation, evaluateSuite, parseDuration, quantileNearest, type Expectation } from '../../components/validate/expectations.ts';

const ds = datasetFromColumns({
  id: { type: 'numeric', cells: [1, 2, 3, 4, 4, null] },
  a: { type: 'numeric', cells: [5, 2, null, 7, 1, null] },
  b: { type: 'numeric', cells: [1, 3, 1, null, 0, null] },
  email: { type: 'string', cells: ['x@y.fr', 'bad', null, 'z@q.com', 'w@e.de', 'ünï@x.io'] },
  country: { type: 'categorical', cells: ['FR', 'US', null, 'FR', 'DE', 'FR'] },
  seen: { type: 'string', cells: ['2026-01-01T00:00:00Z', '2026-01-02T12:00:00Z', null, '2026-01-01T06:00:00Z', '2025-12-31T00:00:00Z', null] },
});

const cases: { e: Expectation; success: boolean; unexpected?: number; missing?: number; index?: number[]; observed?: unknown }[] = [
  { e: { type: 'expect_column_to_exist', kwargs: { column: 'email' } }, success: true },
  { e: { type: 'expect_table_row_count_to_be_between', kwargs: { min_value: 1, max_value: 5 } }, success: false, observed: 6 },
  { e: { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'a' } }, success: false, unexpected: 2, index: [2, 5] },
  { e: { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'a', mostly: 0.66 } }, success: true, unexpected: 2 },
  { e: { type: 'expect_column_values_to_be_between', kwargs: { column: 'a', min_value: 2 } }, success: false, unexpected: 1, missing: 2, index: [4] },
  { e: { type: 'expect_column_values_to_be_between', kwargs: { column: 'a', min_value: 2, strict_min: true, mostly: 0.5 } }, success: true, unexpected: 2 },
  {
    e: { type: 'expect_column_values_to_be_in_set', kwargs: { column: 'country', value_set: ['FR', 'DE'] } },
    success: false,
    unexpected: 1,
    missing: 1,
    index: [1],
  },
  { e: { type: 'expect_column_values_to_be_in_set', kwargs: { column: 'id', value_set: [1, 2, 3, 4] } }, success: true, unexpected: 0 },
  { e: { type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '@' } }, success: false, unexpected: 1, missing: 1, index: [1] },
  { e: { type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '@', mostly: 0.8 } }, success: true },
  { e: { type: 'expect_column_value_lengths_to_be_between', kwargs: { column: 'email', max_value: 6 } }, success: false, unexpected: 2, index: [3, 5] },
  // Code points, as Python counts: 'ünï@x.io' is 8, not more.
  { e: { type: 'expect_column_value_lengths_to_be_between', kwargs: { column: 'email', min_value: 3, max_value: 8 } }, success: true },
  // keep=False: both rows holding 4 are unexpected.
  { e: { type: 'expect_column_values_to_be_unique', kwargs: { column: 'id' } }, success: false, unexpected: 2, missing: 1, index: [3, 4] },
  { e: { type: 'expect_column_mean_to_be_between', kwargs: { column: 'a', min_value: 3.75, max_value: 3.75 } }, success: true, observed: 3.75 },
  { e: { type: 'expect_column_stdev_to_be_between', kwargs: { column: 'id', max_value: 1 } }, success: false, observed: Math.sqrt(1.7) },
  {
    e: {
      type: 'expect_column_quantile_values_to_be_between',
      kwargs: {
        column: 'a',
        quantile_ranges: {
          quantiles: [0, 0.5, 1],
          value_ranges: [
            [1, 1],
            [null, 2],
            [7, null],
          ],
        },
      },
    },
    success: false,
    observed: { quantiles: [0, 0.5, 1], values: [1, 5, 7] },
  },
  { e: { type: 'expect_column_proportion_of_unique_values_to_be_between', kwargs: { column: 'id', min_value: 0.9 } }, success: false, observed: 0.8 },
  { e: { type: 'expect_column_unique_value_count_to_be_between', kwargs: { column: 'country', min_value: 3, max_value: 3 } }, success: true, observed: 3 },
  // Rows: (5,1) ok, (2,3) bad, (null,1) bad, (7,null) bad, (1,0) ok, (null,null) ignored.
  {
    e: { type: 'expect_column_pair_values_a_to_be_greater_than_b', kwargs: { column_A: 'a', column_B: 'b' } },
    success: false,
    unexpected: 3,
    missing: 1,
    index: [1, 2, 3],
  },
  { e: { type: 'expect_column_pair_values_a_to_be_greater_than_b', kwargs: { column_A: 'a', column_B: 'b', mostly: 0.4 } }, success: true },
  { e: { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['id', 'country'] } }, success: true, unexpected: 0 },
  { e: { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['country'] } }, success: false, unexpected: 3, missing: 1, index: [0, 3, 5] },
  { e: { type: 'expect_column_newest_value_to_be_within', kwargs: { column: 'seen', max_age: '24h' } }, success: true, observed: '2026-01-02T12:00:00.000Z' },
  { e: { type: 'expect_column_newest_value_to_be_within', kwargs: { column: 'seen', max_age: '11h' } }, success: false },
  { e: { type: 'expect_table_row_count_change_to_be_between', kwargs: { min_value: 0.9, max_value: 1.1 } }, success: false, observed: 1.2 },
  {
    e: { type: 'expect_row_predicate', kwargs: { name: 'b below a', predicate: (r) => r.b === null || r.a === null || (r.b as number) < (r.a as number) } },
    success: false,
    unexpected: 1,
    index: [1],
  },
];

describe('expectations, one type at a time', () => {
  for (const c of cases) {
    test(`${c.e.type} ${JSON.stringify(c.e.kwargs)} → ${c.success ? 'pass' : 'fail'}`, () => {
      const r = evaluateExpectation(ds, c.e, { now: Date.parse('2026-01-03T00:00:00Z'), previousRows: 5 });
      assert.equal(r.success, c.success, r.message);
      if (c.unexpected !== undefined) assert.equal(r.result.unexpected_count, c.unexpected);
      if (c.missing !== undefined) assert.equal(r.result.missing_count, c.missing);
      if (c.index !== undefined) assert.deepEqual(r.result.partial_unexpected_index_list, c.index);
      if (c.observed !== undefined) {
        if (typeof c.observed === 'number')
          assert.ok(Math.abs((r.result.observed_value as number) - c.observed) < 1e-12, `${String(r.result.observed_value)} vs ${c.observed}`);
        else assert.deepEqual(r.result.observed_value, c.observed);
      }
      if (!r.success) assert.match(r.message, /\S/);
    });
  }

  test('a failure message names the column and the 1-based rows', () => {
    const r = evaluateExpectation(ds, { type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '@' } });
    assert.match(r.message, /column 'email'.*1 of 5 rows fail.*rows 2 \(1-based\)/);
    assert.deepEqual(r.result.partial_unexpected_list, ['bad']);
    assert.equal(r.result.unexpected_percent, 20);
    assert.equal(r.result.unexpected_percent_total, (1 / 6) * 100);
  });

  test('a missing column fails that expectation, naming the columns there are', () => {
    const r = evaluateExpectation(ds, { type: 'expect_column_mean_to_be_between', kwargs: { column: 'amount', min_value: 0 } });
    assert.equal(r.success, false);
    assert.match(r.message, /column 'amount' is missing; the dataset's columns are id, a, b/);
  });

  test('a range on a non-numeric column fails with the column type', () => {
    const r = evaluateExpectation(ds, { type: 'expect_column_values_to_be_between', kwargs: { column: 'email', min_value: 0 } });
    assert.match(r.message, /column 'email': is string; a value range needs a numeric column/);
  });

  test('row-count change passes without a previous run and says so', () => {
    const r = evaluateExpectation(ds, { type: 'expect_table_row_count_change_to_be_between', kwargs: { min_value: 0.9 } });
    assert.equal(r.success, true);
    assert.equal(r.result.details?.previous_rows, null);
  });

  test('a column of nothing but missing cells passes a map expectation vacuously (as GE)', () => {
    const empty = datasetFromColumns({ x: { type: 'numeric', cells: [null, null] } });
    const r = evaluateExpectation(empty, { type: 'expect_column_values_to_be_between', kwargs: { column: 'x', min_value: 0 } });
    assert.equal(r.success, true);
    assert.equal(r.result.unexpected_percent, null);
  });

  test('a throwing row predicate names the predicate and the row', () => {
    assert.throws(
      () =>
        evaluateExpectation(ds, {
          type: 'expect_row_predicate',
          kwargs: {
            name: 'boom',
            predicate: (r) => {
              if (r.id === 3) throw new Error('no');
              return true;
            },
          },
        }),
      /row predicate 'boom' threw on row 3: no/,
    );
  });

  test('a suite result carries GE statistics', () => {
    const r = evaluateSuite(ds, { name: 's', expectations: cases.slice(0, 4).map((c) => c.e) });
    assert.deepEqual(r.statistics, { evaluated_expectations: 4, successful_expectations: 2, unsuccessful_expectations: 2, success_percent: 50 });
    assert.equal(r.success, false);
    assert.equal(r.suite_name, 's');
  });
});

describe('quantiles and durations', () => {
  test('numpy "nearest" rounds half to even', () => {
    const v = [1, 2, 5];
    assert.equal(quantileNearest(v, 0.25), 1); // pos 0.5 → 0
    assert.equal(quantileNearest(v, 0.75), 5); // pos 1.5 → 2
    assert.equal(quantileNearest([1, 2, 3, 4], 0.5), 3); // pos 1.5 → 2
    assert.equal(quantileNearest([1, 2, 3, 4, 5, 6], 0.5), 3); // pos 2.5 → 2
  });
  test('durations', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.throws(
      () => parseDuration('soon', 'suite.expectations[0].kwargs.max_age'),
      /suite.expectations\[0\]\.kwargs\.max_age: 'soon' is not a duration; .*24h/,
    );
  });
});

describe('suite errors name the place and the fix', () => {
  const bad: [unknown, RegExp][] = [
    [[], /suite: must be an object/],
    [{ expectations: {} }, /suite\.expectations: must be a list/],
    [
      { expectations: [{ type: 'expect_column_values_to_be_odd', kwargs: { column: 'a' } }] },
      /suite\.expectations\[0\]\.type: 'expect_column_values_to_be_odd' is not an expectation.*expect_column_values_to_match_regex/,
    ],
    [
      { expectations: [{ type: 'expect_column_values_to_match_regex', kwargs: { column: 'a', regexp: 'x' } }] },
      /suite\.expectations\[0\]\.kwargs: .* has no kwarg 'regexp'; its kwargs are column, mostly, regex/,
    ],
    [
      { expectations: [{ type: 'expect_column_values_to_match_regex', kwargs: { column: 'a', regex: '(' } }] },
      /suite\.expectations\[0\]\.kwargs\.regex: Invalid regular expression/,
    ],
    [{ expectations: [{ type: 'expect_column_values_to_not_be_null', kwargs: { column: 'a', mostly: 95 } }] }, /kwargs\.mostly: 95 is outside \[0, 1\]/],
    [{ expectations: [{ type: 'expect_column_values_to_not_be_null', kwargs: {} }] }, /needs 'column'/],
    [{ expectations: [{ type: 'expect_column_values_to_be_between', kwargs: { column: 'a' } }] }, /needs min_value or max_value/],
    [
      { expectations: [{ type: 'expect_column_sum_to_be_between', kwargs: { column: 'a', min_value: null } }] },
      /\[0\]\.kwargs: 'expect_column_sum_to_be_between' needs min_value or max_value/,
    ],
    [
      { expectations: [{ type: 'expect_column_values_to_not_match_regex', kwargs: { column: 'a', regex: '[' } }] },
      /\[0\]\.kwargs\.regex: Invalid regular expression/,
    ],
    [{ expectations: [{ type: 'expect_table_column_count_to_equal', kwargs: { value: 2.5 } }] }, /\[0\]\.kwargs\.value: must be a whole number ≥ 0/],
    [{ expectations: [{ type: 'expect_column_value_lengths_to_equal', kwargs: { column: 'a' } }] }, /needs 'value'/],
    [
      { expectations: [{ type: 'expect_column_values_to_match_regex_list', kwargs: { column: 'a', regex_list: ['x', '('] } }] },
      /\[0\]\.kwargs\.regex_list\[1\]: Invalid regular expression/,
    ],
    [
      { expectations: [{ type: 'expect_column_values_to_match_regex_list', kwargs: { column: 'a', regex_list: ['x'], match_on: 'most' } }] },
      /\[0\]\.kwargs\.match_on: 'most' is not 'any' or 'all'/,
    ],
    [
      { expectations: [{ type: 'expect_table_columns_to_match_set', kwargs: { column_set: [] } }] },
      /kwargs\.column_set: must be a non-empty list of column names/,
    ],
    [
      { expectations: [{ type: 'expect_column_distinct_values_to_be_in_set', kwargs: { column: 'a', value_set: [{}] } }] },
      /kwargs\.value_set: must be a list of strings, numbers or booleans/,
    ],
    [
      { expectations: [{ type: 'expect_row_predicate', kwargs: { name: 'x', predicate: 'r.a > 0' } }] },
      /kwargs\.predicate: must be a function .* declared in TypeScript, not JSON/,
    ],
    [
      {
        expectations: [
          { type: 'expect_column_quantile_values_to_be_between', kwargs: { column: 'a', quantile_ranges: { quantiles: [0.5], value_ranges: [] } } },
        ],
      },
      /one range per quantile/,
    ],
    [{ expectations: [], expectation_suite_nam: 'x' }, /suite: unknown key 'expectation_suite_nam'/],
  ];
  for (const [input, re] of bad) test(re.source, () => assert.throws(() => checkSuite(input), re));

  test("a suite Great Expectations serialised loads (meta, id, notes, GE 0.x's expectation_type)", () => {
    const s = checkSuite({
      name: 'orders',
      id: 'abc',
      meta: { great_expectations_version: '1.24.1' },
      notes: null,
      expectations: [
        { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'id' }, meta: {}, id: 'x', rendered_content: [], severity: 'critical' },
        { expectation_type: 'expect_column_values_to_be_unique', kwargs: { column: 'id', result_format: 'SUMMARY' } },
      ],
    });
    assert.equal(s.name, 'orders');
    assert.deepEqual(
      s.expectations.map((e) => [e.type, e.kwargs]),
      [
        ['expect_column_values_to_not_be_null', { column: 'id' }],
        ['expect_column_values_to_be_unique', { column: 'id' }],
      ],
    );
  });

  test('a suite GE 0.x serialised loads (expectation_suite_name, ge_cloud_id, data_asset_type)', () => {
    // ExpectationSuite.to_json_dict() of GE 0.18: the suite's name under expectation_suite_name.
    const s = checkSuite({
      expectation_suite_name: 'orders.warning',
      ge_cloud_id: null,
      data_asset_type: null,
      meta: { great_expectations_version: '0.18.19' },
      expectations: [
        {
          expectation_type: 'expect_column_values_to_be_between',
          kwargs: { column: 'amount', min_value: 0, max_value: null, mostly: 0.95 },
          meta: {},
          ge_cloud_id: null,
        },
      ],
    });
    assert.equal(s.name, 'orders.warning');
    assert.deepEqual(
      s.expectations.map((e) => [e.type, e.kwargs]),
      [['expect_column_values_to_be_between', { column: 'amount', min_value: 0, max_value: null, mostly: 0.95 }]],
    );
  });
});

describe('the validate component with param suite', () => {
  test('fails on a failed expectation with the message, writes GE results in the report, and sets expectationsFailed', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { writeDataset } = await import('../../components/dataset/index.ts');
    const { runComponent } = await import('../../components/run.ts');
    const { validate } = await import('../../components/validate/index.ts');
    const dir = mkdtempSync(join(tmpdir(), 'ghosteam-expect-'));
    const input = join(dir, 'd.arrow');
    await writeDataset(input, ds);
    const report = join(dir, 'report.json');
    const dataReport = join(dir, 'report.html');
    const suite = { expectations: [{ type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '@' } }] };
    const quiet = { log: () => undefined };
    await assert.rejects(
      runComponent(validate, { params: { suite: JSON.stringify(suite) }, inputs: { dataset: input }, outputs: { report, dataReport } }, quiet),
      /validate: FAILED: 0 of 1 expectations met.*\n.*column 'email' values not matching \/@\/: 1 of 5 rows fail/,
    );
    const written = JSON.parse(readFileSync(report, 'utf8'));
    assert.equal(written.passed, false);
    assert.equal(written.expectations.results[0].result.unexpected_count, 1);
    const html = readFileSync(dataReport, 'utf8');
    assert.match(html, /<code>expect_column_values_to_match_regex<\/code><\/td><td>email<\/td><td>1 of 5 non-missing \(20\.00%\)/);
    const loose = { expectations: [{ type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '@', mostly: 0.8 } }] };
    const out = await runComponent(
      validate,
      { params: { suite: JSON.stringify(loose) }, inputs: { dataset: input }, outputs: { report, dataReport }, outputParamsDir: join(dir, 'p') },
      quiet,
    );
    assert.deepEqual(out, { passed: true, violations: 0, failureRate: 0, expectationsFailed: 0 });
    await assert.rejects(
      runComponent(validate, { params: {}, inputs: { dataset: input }, outputs: { report, dataReport } }, quiet),
      /validate: give param 'schema' .* or 'suite'/,
    );
    await assert.rejects(
      runComponent(
        validate,
        { params: { suite: '{"expectations": [{"type": "expect_nothing"}]}' }, inputs: { dataset: input }, outputs: { report, dataReport } },
        quiet,
      ),
      /validate: param suite\.expectations\[0\]\.type: 'expect_nothing' is not an expectation/,
    );
  });
});
