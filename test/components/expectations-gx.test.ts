/**
 * ghosteam's expectations against the real Great Expectations (pinned in test/peers/versions.json,
 * installed in the peers' venv): the same suite on the same Arrow dataset, evaluated by ghosteam
 * (components/validate/expectations.ts) and by GE's pandas engine (great-expectations-oracle.py,
 * reading the file with pandas.read_feather), must give the same pass/fail per expectation and for
 * the suite, the same element/unexpected/missing counts, the same unexpected rows and values, and
 * the same observed values. Only the ghosteam-only types (freshness, row-count change, row
 * predicates) are left out: GE has no counterpart to compare them with.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { datasetFromColumns, writeDataset, type Cell, type Dataset } from '../../components/dataset/index.ts';
import { checkSuite, evaluateSuite, type ExpectationSuite } from '../../components/validate/expectations.ts';
import { usePeers } from '../peers/index.ts';

const peers = await usePeers(['python']);
const oracle = fileURLToPath(new URL('./great-expectations-oracle.py', import.meta.url));

/** Deterministic data with what trips implementations up: missing cells, ties, repeats, non-ASCII. */
function data() {
  let s = 42;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const n = 400;
  const cols: Record<string, Cell[]> = { id: [], amount: [], discount: [], qty: [], email: [], country: [], sku: [], flag: [], json: [], amount2: [] };
  for (let i = 0; i < n; i++) {
    const r = rnd();
    cols.id.push(i % 97 === 5 ? i - 1 : i); // a few repeated ids
    cols.amount.push(r < 0.05 ? null : Math.round(rnd() * 1000) / 10); // ties at one decimal
    cols.discount.push(r > 0.97 ? null : Math.round(rnd() * 300) / 10);
    cols.qty.push(Math.floor(rnd() * 8) - 1);
    cols.email.push(r < 0.03 ? null : r < 0.08 ? `user${i}.example.com` : `üser${i}@example.${i % 3 ? 'com' : 'fr'}`);
    cols.country.push(r > 0.95 ? null : ['FR', 'US', 'DE', 'ES', 'XX'][Math.floor(rnd() * 5)]);
    cols.sku.push(r < 0.02 ? null : `SKU-${Math.floor(rnd() * 300)}`);
    cols.flag.push(rnd() < 0.9);
    cols.json.push(r < 0.04 ? null : r < 0.1 ? `{"a": ${i}` : i % 2 ? `{"a": ${i}, "b": [1, "x"]}` : String(i));
    // amount2: amount, but for a few rows (one side missing, or a different value)
    const am = cols.amount[i];
    cols.amount2.push(i % 31 === 0 ? null : i % 29 === 0 ? 1234.5 : am);
  }
  return datasetFromColumns({
    id: { type: 'numeric', cells: cols.id },
    amount: { type: 'numeric', cells: cols.amount },
    discount: { type: 'numeric', cells: cols.discount },
    qty: { type: 'numeric', cells: cols.qty },
    email: { type: 'string', cells: cols.email },
    country: { type: 'categorical', cells: cols.country },
    sku: { type: 'string', cells: cols.sku },
    flag: { type: 'boolean', cells: cols.flag },
    json: { type: 'string', cells: cols.json },
    amount2: { type: 'numeric', cells: cols.amount2 },
  });
}

const suite = checkSuite({
  name: 'orders',
  expectations: [
    { type: 'expect_table_row_count_to_be_between', kwargs: { min_value: 100, max_value: 10000 } },
    { type: 'expect_table_row_count_to_be_between', kwargs: { max_value: 399 } },
    { type: 'expect_column_to_exist', kwargs: { column: 'sku' } },
    { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'amount' } },
    { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'amount', mostly: 0.9 } },
    { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'qty' } },
    { type: 'expect_column_values_to_be_between', kwargs: { column: 'qty', min_value: 0, max_value: 6 } },
    { type: 'expect_column_values_to_be_between', kwargs: { column: 'qty', min_value: 0, max_value: 6, mostly: 0.7 } },
    { type: 'expect_column_values_to_be_between', kwargs: { column: 'amount', min_value: 0, strict_min: true, max_value: 100, strict_max: true } },
    { type: 'expect_column_values_to_be_in_set', kwargs: { column: 'country', value_set: ['FR', 'US', 'DE', 'ES'] } },
    { type: 'expect_column_values_to_be_in_set', kwargs: { column: 'country', value_set: ['FR', 'US', 'DE', 'ES'], mostly: 0.75 } },
    { type: 'expect_column_values_to_be_in_set', kwargs: { column: 'qty', value_set: [0, 1, 2, 3, 4, 5] } },
    { type: 'expect_column_values_to_be_in_set', kwargs: { column: 'flag', value_set: [true] } },
    { type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '^[^@\\s]+@[^@\\s]+\\.(com|fr)$' } },
    { type: 'expect_column_values_to_match_regex', kwargs: { column: 'email', regex: '@', mostly: 0.9 } },
    { type: 'expect_column_values_to_match_regex', kwargs: { column: 'country', regex: '^[A-Z]{2}$' } },
    { type: 'expect_column_value_lengths_to_be_between', kwargs: { column: 'email', min_value: 20, max_value: 24 } },
    { type: 'expect_column_value_lengths_to_be_between', kwargs: { column: 'sku', max_value: 6, mostly: 0.01 } },
    { type: 'expect_column_values_to_be_unique', kwargs: { column: 'id' } },
    { type: 'expect_column_values_to_be_unique', kwargs: { column: 'sku', mostly: 0.2 } },
    { type: 'expect_column_mean_to_be_between', kwargs: { column: 'amount', min_value: 45, max_value: 55 } },
    { type: 'expect_column_mean_to_be_between', kwargs: { column: 'qty', min_value: 3 } },
    { type: 'expect_column_stdev_to_be_between', kwargs: { column: 'amount', min_value: 25, max_value: 35 } },
    { type: 'expect_column_stdev_to_be_between', kwargs: { column: 'discount', max_value: 5 } },
    {
      type: 'expect_column_quantile_values_to_be_between',
      kwargs: {
        column: 'amount',
        quantile_ranges: {
          quantiles: [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1],
          value_ranges: [
            [0, 5],
            [null, 15],
            [20, 30],
            [45, 55],
            [70, 80],
            [85, null],
            [95, 100],
          ],
        },
      },
    },
    {
      type: 'expect_column_quantile_values_to_be_between',
      kwargs: {
        column: 'qty',
        quantile_ranges: {
          quantiles: [0.33, 0.5],
          value_ranges: [
            [2, 2],
            [3, 3],
          ],
        },
      },
    },
    { type: 'expect_column_proportion_of_unique_values_to_be_between', kwargs: { column: 'sku', min_value: 0.9 } },
    { type: 'expect_column_proportion_of_unique_values_to_be_between', kwargs: { column: 'id', min_value: 0.95, max_value: 1 } },
    { type: 'expect_column_unique_value_count_to_be_between', kwargs: { column: 'country', min_value: 5, max_value: 5 } },
    { type: 'expect_column_unique_value_count_to_be_between', kwargs: { column: 'sku', max_value: 100 } },
    { type: 'expect_column_pair_values_a_to_be_greater_than_b', kwargs: { column_A: 'amount', column_B: 'discount' } },
    { type: 'expect_column_pair_values_a_to_be_greater_than_b', kwargs: { column_A: 'amount', column_B: 'discount', or_equal: true, mostly: 0.6 } },
    { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['country', 'qty'] } },
    { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['id', 'sku'] } },
    { type: 'expect_compound_columns_to_be_unique', kwargs: { column_list: ['country', 'sku'], mostly: 0.9 } },
    { type: 'expect_table_row_count_to_equal', kwargs: { value: 400 } },
    { type: 'expect_table_row_count_to_equal', kwargs: { value: 401 } },
    { type: 'expect_table_column_count_to_equal', kwargs: { value: 10 } },
    { type: 'expect_table_column_count_to_equal', kwargs: { value: 9 } },
    { type: 'expect_table_column_count_to_be_between', kwargs: { min_value: 2, max_value: 10 } },
    { type: 'expect_table_column_count_to_be_between', kwargs: { max_value: 9 } },
    {
      type: 'expect_table_columns_to_match_ordered_list',
      kwargs: { column_list: ['id', 'amount', 'discount', 'qty', 'email', 'country', 'sku', 'flag', 'json', 'amount2'] },
    },
    { type: 'expect_table_columns_to_match_ordered_list', kwargs: { column_list: ['id', 'discount', 'amount', 'qty', 'email', 'country', 'sku', 'flag'] } },
    {
      type: 'expect_table_columns_to_match_set',
      kwargs: { column_set: ['amount2', 'json', 'flag', 'sku', 'country', 'email', 'qty', 'discount', 'amount', 'id'] },
    },
    { type: 'expect_table_columns_to_match_set', kwargs: { column_set: ['id', 'amount', 'qty'], exact_match: false } },
    { type: 'expect_table_columns_to_match_set', kwargs: { column_set: ['id', 'amount', 'qty'] } },
    { type: 'expect_table_columns_to_match_set', kwargs: { column_set: ['id', 'amount', 'price'], exact_match: false } },
    { type: 'expect_column_values_to_be_null', kwargs: { column: 'amount' } },
    { type: 'expect_column_values_to_be_null', kwargs: { column: 'discount', mostly: 0.01 } },
    { type: 'expect_column_values_to_not_be_in_set', kwargs: { column: 'country', value_set: ['XX'] } },
    { type: 'expect_column_values_to_not_be_in_set', kwargs: { column: 'country', value_set: ['XX', 'ZZ'], mostly: 0.7 } },
    { type: 'expect_column_values_to_not_be_in_set', kwargs: { column: 'qty', value_set: [-1] } },
    { type: 'expect_column_values_to_not_be_in_set', kwargs: { column: 'qty', value_set: [99] } },
    { type: 'expect_column_values_to_not_match_regex', kwargs: { column: 'email', regex: '^user' } },
    { type: 'expect_column_values_to_not_match_regex', kwargs: { column: 'email', regex: '\\.fr$', mostly: 0.5 } },
    { type: 'expect_column_value_lengths_to_equal', kwargs: { column: 'country', value: 2 } },
    { type: 'expect_column_value_lengths_to_equal', kwargs: { column: 'sku', value: 7, mostly: 0.5 } },
    { type: 'expect_column_min_to_be_between', kwargs: { column: 'amount', min_value: 0, max_value: 1 } },
    { type: 'expect_column_min_to_be_between', kwargs: { column: 'qty', min_value: 0 } },
    { type: 'expect_column_max_to_be_between', kwargs: { column: 'amount', min_value: 99, max_value: 100 } },
    { type: 'expect_column_max_to_be_between', kwargs: { column: 'discount', max_value: 29 } },
    { type: 'expect_column_median_to_be_between', kwargs: { column: 'amount', min_value: 40, max_value: 60 } },
    { type: 'expect_column_median_to_be_between', kwargs: { column: 'qty', min_value: 3.5, max_value: 3.5 } },
    { type: 'expect_column_median_to_be_between', kwargs: { column: 'discount', max_value: 10 } },
    { type: 'expect_column_sum_to_be_between', kwargs: { column: 'qty', min_value: 0, max_value: 10000 } },
    { type: 'expect_column_sum_to_be_between', kwargs: { column: 'amount', max_value: 1000 } },
    { type: 'expect_column_distinct_values_to_be_in_set', kwargs: { column: 'country', value_set: ['FR', 'US', 'DE', 'ES', 'XX'] } },
    { type: 'expect_column_distinct_values_to_be_in_set', kwargs: { column: 'qty', value_set: [0, 1, 2, 3, 4, 5, 6] } },
    { type: 'expect_column_distinct_values_to_contain_set', kwargs: { column: 'country', value_set: ['FR', 'US'] } },
    { type: 'expect_column_distinct_values_to_contain_set', kwargs: { column: 'country', value_set: ['FR', 'IT'] } },
    { type: 'expect_column_distinct_values_to_equal_set', kwargs: { column: 'country', value_set: ['FR', 'US', 'DE', 'ES', 'XX'] } },
    { type: 'expect_column_distinct_values_to_equal_set', kwargs: { column: 'country', value_set: ['FR', 'US', 'DE', 'ES'] } },
    { type: 'expect_column_most_common_value_to_be_in_set', kwargs: { column: 'flag', value_set: [true] } },
    { type: 'expect_column_most_common_value_to_be_in_set', kwargs: { column: 'country', value_set: ['XX'] } },
    { type: 'expect_column_values_to_match_regex_list', kwargs: { column: 'email', regex_list: ['\\.com$', '\\.fr$'] } },
    { type: 'expect_column_values_to_match_regex_list', kwargs: { column: 'email', regex_list: ['@', '\\.com$'], match_on: 'all', mostly: 0.5 } },
    { type: 'expect_column_values_to_match_regex_list', kwargs: { column: 'email', regex_list: ['@', '\\.com$'], match_on: 'all' } },
    { type: 'expect_column_values_to_not_match_regex_list', kwargs: { column: 'sku', regex_list: ['-1\\d\\d$', '-0$'] } },
    { type: 'expect_column_values_to_not_match_regex_list', kwargs: { column: 'country', regex_list: ['^Z'] } },
    { type: 'expect_column_values_to_be_json_parseable', kwargs: { column: 'sku' } },
    { type: 'expect_column_values_to_be_json_parseable', kwargs: { column: 'json' } },
    { type: 'expect_column_pair_values_to_be_equal', kwargs: { column_A: 'amount', column_B: 'discount' } },
    { type: 'expect_column_pair_values_to_be_equal', kwargs: { column_A: 'amount', column_B: 'amount2', mostly: 0.9 } },
    { type: 'expect_column_values_to_be_increasing', kwargs: { column: 'id' } },
    { type: 'expect_column_values_to_be_increasing', kwargs: { column: 'id', strictly: true } },
    { type: 'expect_column_values_to_be_increasing', kwargs: { column: 'amount', mostly: 0.4 } },
    { type: 'expect_column_values_to_be_decreasing', kwargs: { column: 'amount', strictly: true, mostly: 0.45 } },
    { type: 'expect_column_values_to_be_decreasing', kwargs: { column: 'qty' } },
  ],
});

const close = (a: unknown, b: unknown): boolean =>
  typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)) : JSON.stringify(a) === JSON.stringify(b);

/** Runs GE on the dataset and suite; returns where ghosteam disagrees, and GE's passes and failures. */
async function compare(ds: Dataset, suite: ExpectationSuite): Promise<{ mismatches: string[]; passes: number; failures: number; gx: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ghosteam-gx-'));
  const path = join(dir, 'data.arrow');
  await writeDataset(path, ds);
  const suitePath = join(dir, 'suite.json');
  writeFileSync(suitePath, JSON.stringify(suite));
  let stdout: string;
  try {
    stdout = execFileSync(peers.python, [oracle, path, suitePath], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    if (/No module named 'great_expectations'/.test(e.stderr ?? ''))
      assert.fail(`the peers' venv (${peers.python}) lacks great_expectations: run \`npm run peers:up\`, which installs the pins of test/peers/versions.json`);
    throw new Error(`the Great Expectations oracle failed: ${e.stderr?.slice(-2000) ?? e.message}`);
  }
  const gx = JSON.parse(stdout) as {
    gx: string;
    success: boolean;
    statistics: Record<string, number>;
    results: { type: string; success: boolean; result: Record<string, unknown> }[];
  };
  const ours = evaluateSuite(ds, suite);
  assert.equal(gx.results.length, suite.expectations.length);
  const mismatches: string[] = [];
  let passes = 0;
  let failures = 0;
  for (const [i, g] of gx.results.entries()) {
    const o = ours.results[i];
    const at = `#${i} ${g.type} ${JSON.stringify(suite.expectations[i].kwargs)}`;
    assert.equal(o.expectation_config.type, g.type, at);
    if (g.success) passes++;
    else failures++;
    if (o.success !== g.success) mismatches.push(`${at}: success ours ${o.success}, GE ${g.success} (${o.message})`);
    const keys = [
      'element_count',
      'unexpected_count',
      'missing_count',
      'unexpected_percent',
      'unexpected_percent_total',
      'partial_unexpected_index_list',
      'partial_unexpected_list',
      'partial_missing_list',
      'observed_value',
    ];
    for (const k of keys) {
      if (!(k in g.result)) continue;
      const ov = (o.result as Record<string, unknown>)[k];
      const gv = g.result[k];
      const same =
        k === 'observed_value' && gv !== null && typeof gv === 'object' && !Array.isArray(gv)
          ? (['quantiles', 'values'] as const).every((q) =>
              ((gv as Record<string, number[]>)[q] ?? []).every((x, j) => close(x, (ov as Record<string, number[]> | undefined)?.[q]?.[j])),
            )
          : k === 'partial_unexpected_list' && g.type === 'expect_compound_columns_to_be_unique'
            ? true // GE lists dicts with pandas' own key order; the index list above pins the same rows
            : close(ov, gv);
      if (!same) mismatches.push(`${at}: result.${k} ours ${JSON.stringify(ov)}, GE ${JSON.stringify(gv)}`);
    }
  }
  if (ours.success !== gx.success) mismatches.push(`suite success ours ${ours.success}, GE ${gx.success}`);
  if (ours.statistics.successful_expectations !== gx.statistics.successful_expectations)
    mismatches.push(`successful expectations ours ${ours.statistics.successful_expectations}, GE ${gx.statistics.successful_expectations}`);
  return { mismatches, passes, failures, gx: gx.gx };
}

describe('expectations next to the real Great Expectations (Python peer)', { skip: peers.skip }, () => {
  test('the same suite on the same dataset: same pass/fail, counts, unexpected rows and observed values', async () => {
    const r = await compare(data(), suite);
    assert.deepEqual(r.mismatches, [], `ghosteam and Great Expectations ${r.gx} disagree`);
    // The suite is not trivially green or red: both outcomes are compared.
    assert.ok(r.passes >= 8 && r.failures >= 8, `passes ${r.passes}, failures ${r.failures}`);
  });

  test('edge cases: a column with no values, ties for the most common value, a value set of mixed types', async () => {
    const ds = datasetFromColumns({
      empty: { type: 'numeric', cells: [null, null, null, null] },
      s: { type: 'string', cells: ['a', 'b', 'a', 'b'] },
      n: { type: 'numeric', cells: [3, 1, 2, 2] },
      gaps: { type: 'numeric', cells: [1, null, 0.5, 2] },
    });
    const edge = checkSuite({
      expectations: [
        { type: 'expect_column_min_to_be_between', kwargs: { column: 'empty', min_value: 0 } },
        { type: 'expect_column_max_to_be_between', kwargs: { column: 'empty', max_value: 0 } },
        { type: 'expect_column_sum_to_be_between', kwargs: { column: 'empty', min_value: 0, max_value: 0 } },
        { type: 'expect_column_median_to_be_between', kwargs: { column: 'empty', min_value: 0 } },
        { type: 'expect_column_median_to_be_between', kwargs: { column: 'n', min_value: 2, max_value: 2 } },
        { type: 'expect_column_values_to_be_null', kwargs: { column: 'empty' } },
        { type: 'expect_column_values_to_be_null', kwargs: { column: 'n', mostly: 0 } },
        { type: 'expect_column_most_common_value_to_be_in_set', kwargs: { column: 's', value_set: ['a'] } },
        { type: 'expect_column_most_common_value_to_be_in_set', kwargs: { column: 's', value_set: ['a'], ties_okay: true } },
        { type: 'expect_column_most_common_value_to_be_in_set', kwargs: { column: 'n', value_set: [2] } },
        { type: 'expect_column_values_to_not_be_in_set', kwargs: { column: 's', value_set: ['b', 1] } },
        { type: 'expect_column_distinct_values_to_contain_set', kwargs: { column: 'n', value_set: [1, 2, 4] } },
        { type: 'expect_column_distinct_values_to_be_in_set', kwargs: { column: 'empty', value_set: [1] } },
        { type: 'expect_column_values_to_be_increasing', kwargs: { column: 'n' } },
        { type: 'expect_column_values_to_be_decreasing', kwargs: { column: 'n', mostly: 0.6 } },
        { type: 'expect_column_values_to_be_decreasing', kwargs: { column: 'n', strictly: true, mostly: 0.6 } },
        { type: 'expect_column_values_to_be_increasing', kwargs: { column: 'empty' } },
        { type: 'expect_column_values_to_be_increasing', kwargs: { column: 'gaps' } },
        { type: 'expect_column_values_to_be_decreasing', kwargs: { column: 'gaps', mostly: 0.5 } },
      ],
    });
    const r = await compare(ds, edge);
    assert.deepEqual(r.mismatches, [], `ghosteam and Great Expectations ${r.gx} disagree`);
    assert.ok(r.passes >= 3 && r.failures >= 3, `passes ${r.passes}, failures ${r.failures}`);
  });
});
